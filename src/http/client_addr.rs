//! The client address of a request, for every per-client decision (login throttle, upload
//! session cap, admin allow-list) and for the access log.
//!
//! Behind a reverse proxy every TCP peer is the proxy, so one noisy client would exhaust
//! limits for all. When the peer is in `security.trusted_proxies`, `X-Forwarded-For` is
//! walked from the right — the end the trusted hops appended to — skipping addresses that are
//! themselves trusted proxies; the first untrusted address is the client. Entries to its
//! left were written by the client or by hops nobody vouches for, so they are never read:
//! `X-Forwarded-For: 1.2.3.4` sent through nginx arrives as `1.2.3.4, <real client>`.
//!
//! A malformed entry stops the walk at the last trusted hop: garbage can neither pick an
//! address nor escape the bucket of the proxy that passed it on.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};

use crate::auth::Security;
use crate::model::TrustedProxies;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address: the TCP peer, or, behind a trusted proxy, the address that proxy
/// (and any trusted proxies before it) saw. IPv4-mapped IPv6 is given as IPv4.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(match trusted_proxies(req) {
        Some(trusted) => forwarded_client(peer, req.headers(), trusted),
        None => peer.to_canonical(),
    })
}

/// The walk over every `X-Forwarded-For` field of `headers`.
fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    // Repeated header fields are one list in order (RFC 9110 §5.3): the last is walked first.
    // A value that is not text reads as one empty, hence malformed, entry. No allocation:
    // Basic clients come through here on every request.
    let entries = headers
        .get_all(X_FORWARDED_FOR)
        .rev()
        .flat_map(|v| v.to_str().unwrap_or_default().rsplit(','));
    walk(peer, entries, trusted)
}

/// Whether the TCP peer itself is a trusted proxy, whose forwarded headers are believed
/// (`X-Forwarded-For` here, the forwarded host and scheme in `origin`).
pub fn peer_is_trusted_proxy(req: &HttpRequest) -> bool {
    let peer = req.peer_addr().map(|a| a.ip());
    trusted_proxies(req).is_some_and(|trusted| peer.is_some_and(|ip| trusted.trusts(ip)))
}

fn trusted_proxies(req: &HttpRequest) -> Option<&TrustedProxies> {
    let security = req.app_data::<web::Data<Security>>()?;
    let trusted = &security.settings.trusted_proxies;
    (!trusted.is_empty()).then_some(trusted)
}

/// The walk over `X-Forwarded-For` entries, right-most first.
fn walk<'a>(
    peer: IpAddr,
    entries_from_right: impl Iterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let mut client = peer.to_canonical();
    for entry in entries_from_right {
        if !trusted.trusts(client) {
            break;
        }
        match parse_entry(entry) {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
    }
    client
}

/// `1.2.3.4`, `2001:db8::1`, or with a port as some proxies write it (`1.2.3.4:5678`,
/// `[2001:db8::1]:5678`). Anything else (`unknown`, an empty entry, a host name) is `None`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(peer: &str, header: &str, trusted: &str) -> String {
        let trusted: TrustedProxies = trusted.parse().unwrap();
        let entries = header.rsplit(',');
        walk(peer.parse().unwrap(), entries, &trusted).to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(client("192.0.2.7", "10.9.9.9", "127.0.0.1"), "192.0.2.7");
        assert_eq!(
            client("::ffff:192.0.2.7", "10.9.9.9", "127.0.0.1"),
            "192.0.2.7"
        );
    }

    #[test]
    fn a_trusted_peer_names_the_address_it_saw() {
        assert_eq!(client("127.0.0.1", "10.9.9.9", "127.0.0.1"), "10.9.9.9");
        assert_eq!(
            client("::ffff:127.0.0.1", "10.9.9.9", "127.0.0.1"),
            "10.9.9.9"
        );
    }

    #[test]
    fn entries_left_of_the_first_untrusted_address_are_never_believed() {
        assert_eq!(
            client("127.0.0.1", "1.2.3.4, 10.9.9.9", "127.0.0.1"),
            "10.9.9.9"
        );
        assert_eq!(
            client("127.0.0.1", "127.0.0.1, 10.9.9.9", "127.0.0.1"),
            "10.9.9.9",
            "a client claiming to be a trusted proxy is not skipped past"
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_in_cidr_ranges_is_skipped() {
        let trusted = "127.0.0.1, 10.0.0.0/8, fd00::/8";
        assert_eq!(
            client(
                "127.0.0.1",
                "6.6.6.6, 203.0.113.5, fd00::3, 10.1.1.1",
                trusted
            ),
            "203.0.113.5"
        );
        assert_eq!(
            client("fd00::1", "2001:db8::5, 10.0.0.2", trusted),
            "2001:db8::5"
        );
    }

    #[test]
    fn mapped_ipv4_entries_are_given_and_matched_as_ipv4() {
        assert_eq!(
            client(
                "127.0.0.1",
                "::ffff:203.0.113.5, ::ffff:10.0.0.2",
                "127.0.0.1, 10.0.0.0/8"
            ),
            "203.0.113.5"
        );
    }

    #[test]
    fn entries_with_ports_are_read_without_the_port() {
        assert_eq!(
            client("127.0.0.1", "203.0.113.5:4711", "127.0.0.1"),
            "203.0.113.5"
        );
        assert_eq!(
            client("127.0.0.1", "[2001:db8::5]:4711", "127.0.0.1"),
            "2001:db8::5"
        );
    }

    #[test]
    fn a_malformed_entry_stops_at_the_last_trusted_hop() {
        let trusted = "127.0.0.1, 10.0.0.0/8";
        for garbage in [
            "unknown",
            "",
            " ",
            "evil.example",
            "1.2.3.4.5",
            "10.0.0.0/8",
        ] {
            assert_eq!(
                client("127.0.0.1", &format!("6.6.6.6, {garbage}"), trusted),
                "127.0.0.1",
                "{garbage:?}"
            );
            assert_eq!(
                client(
                    "127.0.0.1",
                    &format!("6.6.6.6, {garbage}, 10.0.0.9"),
                    trusted
                ),
                "10.0.0.9",
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn repeated_header_fields_are_one_list_and_a_field_that_is_not_text_stops_the_walk() {
        use actix_web::http::header::{HeaderName, HeaderValue};
        let trusted: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let peer = "127.0.0.1".parse().unwrap();
        let name = HeaderName::from_static(X_FORWARDED_FOR);
        let headers = |values: &[&[u8]]| {
            let mut map = HeaderMap::new();
            for v in values {
                map.append(name.clone(), HeaderValue::from_bytes(v).unwrap());
            }
            map
        };
        let two = headers(&[b"6.6.6.6, 203.0.113.5", b"10.0.0.2, 10.0.0.3"]);
        assert_eq!(
            forwarded_client(peer, &two, &trusted).to_string(),
            "203.0.113.5"
        );
        let binary = headers(&[b"203.0.113.5", b"\xff\xfe", b"10.0.0.3"]);
        assert_eq!(
            forwarded_client(peer, &binary, &trusted).to_string(),
            "10.0.0.3"
        );
        let none = HeaderMap::new();
        assert_eq!(
            forwarded_client(peer, &none, &trusted).to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn without_a_header_or_past_its_end_the_last_trusted_hop_is_the_client() {
        let trusted: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let peer = "127.0.0.1".parse().unwrap();
        assert_eq!(
            walk(peer, std::iter::empty(), &trusted).to_string(),
            "127.0.0.1"
        );
        assert_eq!(
            client("127.0.0.1", "10.0.0.7", "127.0.0.1, 10.0.0.0/8"),
            "10.0.0.7"
        );
    }
}
