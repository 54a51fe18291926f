//! `WWW-Authenticate` challenges (RFC 7235 auth-params), as registries send them:
//! `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull,push"`.
//! Shared by the proxy's upstream client and the `berth-load` generator.

use std::collections::HashMap;

/// Splits a challenge into its scheme and its parameters (names lower-cased; quoted values
/// may contain commas).
pub fn parse(header: &str) -> (String, HashMap<String, String>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_string());
        rest = remaining.trim_start_matches(',').trim();
    }
    (scheme.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn bearer_challenges_parse_with_quoted_commas() {
        let (scheme, p) = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/alpine:pull,push");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn unquoted_values_and_basic_challenges_parse() {
        let (scheme, p) = parse("Basic realm=registry");
        assert_eq!(scheme, "Basic");
        assert_eq!(p["realm"], "registry");
        let (scheme, p) = parse("Bearer realm=r, Service=s");
        assert_eq!(scheme, "Bearer");
        assert_eq!((p["realm"].as_str(), p["service"].as_str()), ("r", "s"));
    }
}
