//! The external origin of a request — the scheme and host a client used to reach Berth —
//! for every URL Berth hands back: the token realm (`gate`), the admin API's `url` and
//! `downloadUrl` fields, and the web UI's `docker pull` commands.
//!
//! One rule, the one `client_addr` applies to `X-Forwarded-For`: forwarded headers count
//! only when the TCP peer is in `security.trusted_proxies`. From anyone else they are
//! ignored and the `Host` header is used, so a client cannot make the URLs Berth shows
//! another user (an admin reading the UI) point at a host of its choosing. actix's
//! `connection_info()` believes `Forwarded` and `X-Forwarded-*` from any peer: not used.
//!
//! From a trusted proxy, `X-Forwarded-Proto`/`-Host`, else RFC 7239 `Forwarded`'s
//! `proto=`/`host=`, and of either the *right-most* value. A proxy that appends (as
//! `X-Forwarded-For` is appended to) puts its own value last, after whatever the client
//! sent; the left-most value may be the client's. A proxy that sets the header leaves one
//! value, the same either way. Behind a chain of proxies the value used is therefore the
//! one the last proxy wrote: make the edge proxy set the header and the inner ones pass it
//! on. A forwarded value that is not a plausible scheme or host is ignored.

use actix_web::http::header::{HeaderMap, FORWARDED, HOST};
use actix_web::HttpRequest;

use super::client_addr;

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// Scheme and host (`registry.example`, `10.0.0.5:8081`, `[::1]:8081`) of this request as
/// its client addressed the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
}

impl Origin {
    /// The origin of `req`, by the rule in the module header.
    pub fn of(req: &HttpRequest) -> Origin {
        let own = Origin::own(req);
        if !client_addr::peer_is_trusted_proxy(req) {
            return own;
        }
        let headers = req.headers();
        let scheme = forwarded(headers, X_FORWARDED_PROTO, "proto")
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| s == "http" || s == "https");
        let host = forwarded(headers, X_FORWARDED_HOST, "host").filter(|h| plausible_host(h));
        Origin {
            scheme: scheme.unwrap_or(own.scheme),
            host: host.map(str::to_string).unwrap_or(own.host),
        }
    }

    /// The origin without forwarded headers: the connection's scheme and the `Host` header
    /// (or the HTTP/2 authority, or the server's configured host name).
    fn own(req: &HttpRequest) -> Origin {
        let scheme = if req.app_config().secure() {
            "https"
        } else {
            "http"
        };
        let host = req
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or_else(|| req.uri().authority().map(|a| a.to_string()))
            .unwrap_or_else(|| req.app_config().host().to_string());
        Origin {
            scheme: scheme.into(),
            host,
        }
    }

    /// `<scheme>://<host>`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The host without its port (`[::1]` keeps its brackets).
    pub fn hostname(&self) -> &str {
        let host = self.host.as_str();
        match host.strip_prefix('[') {
            Some(rest) => rest.find(']').map_or(host, |end| &host[..end + 2]),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        }
    }
}

/// The right-most value of `x_header`, else of parameter `param` in `Forwarded`.
fn forwarded<'a>(headers: &'a HeaderMap, x_header: &str, param: &str) -> Option<&'a str> {
    right_most(headers, x_header)
        .filter(|v| !v.is_empty())
        .or_else(|| forwarded_param(right_most(headers, FORWARDED.as_str())?, param))
}

/// The last comma-separated entry of the last field named `name`, trimmed. A field that
/// is not text counts as empty: nothing is read past it.
fn right_most<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let field = headers.get_all(name).next_back()?;
    let entry = field.to_str().unwrap_or_default().rsplit(',').next()?;
    Some(entry.trim())
}

/// `param`'s value in one `Forwarded` element (`for=…;proto=https;host="a.example"`).
fn forwarded_param<'a>(element: &'a str, param: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (key.trim().eq_ignore_ascii_case(param) && !value.is_empty()).then_some(value)
    })
}

/// A host name or address with an optional port: nothing that could end a quoted header
/// value, start a path or carry credentials.
fn plausible_host(host: &str) -> bool {
    host.len() <= 261
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn host(fields: &[(&str, &str)]) -> Option<String> {
        forwarded(&headers(fields), X_FORWARDED_HOST, "host").map(str::to_string)
    }

    #[test]
    fn the_right_most_value_is_the_one_the_nearest_proxy_wrote() {
        let appended = [("x-forwarded-host", "evil.example, registry.example")];
        assert_eq!(host(&appended).as_deref(), Some("registry.example"));
        let two_fields = [
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-host", "registry.example"),
        ];
        assert_eq!(host(&two_fields).as_deref(), Some("registry.example"));
    }

    #[test]
    fn forwarded_is_read_when_x_forwarded_host_is_absent() {
        let fields = [(
            "forwarded",
            "host=evil.example, for=192.0.2.7;proto=https;HOST=\"registry.example:8443\"",
        )];
        assert_eq!(host(&fields).as_deref(), Some("registry.example:8443"));
        let h = headers(&fields);
        assert_eq!(forwarded(&h, X_FORWARDED_PROTO, "proto"), Some("https"));
        let both = [
            ("forwarded", "host=other.example"),
            ("x-forwarded-host", "registry.example"),
        ];
        assert_eq!(host(&both).as_deref(), Some("registry.example"));
        let without_host = [("forwarded", "host=evil.example, for=192.0.2.7")];
        assert_eq!(host(&without_host), None);
    }

    #[test]
    fn implausible_hosts_are_refused() {
        for bad in [
            "",
            "a\"b",
            "a b",
            "evil.example/x",
            "user@evil.example",
            "a,b",
        ] {
            assert!(!plausible_host(bad), "{bad:?}");
        }
        for good in [
            "registry.example",
            "10.0.0.5:8081",
            "[::1]:8081",
            "xn--bcher-kva.example",
        ] {
            assert!(plausible_host(good), "{good:?}");
        }
    }

    #[test]
    fn hostname_drops_the_port_and_keeps_ipv6_brackets() {
        let name = |host: &str| {
            let origin = Origin {
                scheme: "http".into(),
                host: host.into(),
            };
            origin.hostname().to_string()
        };
        assert_eq!(name("registry.example:8081"), "registry.example");
        assert_eq!(name("registry.example"), "registry.example");
        assert_eq!(name("[::1]:8081"), "[::1]");
        assert_eq!(name("[::1]"), "[::1]");
    }
}
