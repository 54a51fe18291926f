//! Scraping `/metrics` and reading values out of the text exposition format.

use reqwest::Method;

use super::{header, TestApp};

/// The text of `GET path` (asserting 200 and the Prometheus text content type).
pub async fn scrape_at(app: &TestApp, path: &str) -> String {
    let r = app.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    assert!(
        header(&r, "content-type").starts_with("text/plain; version=0.0.4"),
        "content type of {path}: {}",
        header(&r, "content-type")
    );
    r.text().await.unwrap()
}

pub async fn scrape(app: &TestApp) -> String {
    scrape_at(app, "/metrics").await
}

/// The value of the series `name` whose labels include every `key="value"` pair in `labels`
/// (summed over the series that match, `None` if none does).
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, v)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let wanted = labels.iter().all(|(k, want)| {
            series_labels
                .split(',')
                .any(|p| p == format!("{k}=\"{want}\""))
        });
        if wanted {
            *total.get_or_insert(0.0) += v.parse::<f64>().unwrap();
        }
    }
    total
}

/// Number of series (lines) of metric `name`.
pub fn series_count(text: &str, name: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .count()
}
