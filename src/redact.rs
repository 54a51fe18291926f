//! Database URLs as they may be shown: in `berth config`, `Debug` output and log lines.

const REDACTED: &str = "<redacted>";

/// The URL with any password replaced: the one in the user info (`user:<redacted>@host`)
/// and a `password=` query parameter. Errs on the side of hiding: everything between the
/// first `:` of the user info and the last `@` goes, so a raw `/` or `@` in a password
/// cannot make it show.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (main, query) = match rest.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (rest, None),
    };
    let main = match main.rfind('@') {
        Some(at) => match main[..at].split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}{}", &main[at..]),
            None => main.to_string(),
        },
        None => main.to_string(),
    };
    let Some(query) = query else {
        return format!("{scheme}://{main}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{scheme}://{main}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        let cases = [
            (
                "postgres://berth:s3cret@db:5432/berth?sslmode=require",
                "postgres://berth:<redacted>@db:5432/berth?sslmode=require",
            ),
            (
                "postgres://berth:p@ss@db/berth",
                "postgres://berth:<redacted>@db/berth",
            ),
            (
                "postgres://berth:pa/ss@db/berth",
                "postgres://berth:<redacted>@db/berth",
            ),
            (
                "postgres://db/berth?user=b&password=s3cret",
                "postgres://db/berth?user=b&password=<redacted>",
            ),
            ("postgres://berth@db/berth", "postgres://berth@db/berth"),
            ("postgres://db/berth", "postgres://db/berth"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
