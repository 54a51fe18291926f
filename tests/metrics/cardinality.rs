//! Many distinct tags, digests and image names must not grow the number of series.

use reqwest::Method;

use crate::common::*;

const IMAGES: usize = 30;
const TAGS: usize = 1_000;

#[tokio::test]
async fn label_cardinality_stays_bounded_under_distinct_tags_and_digests() {
    let app = spawn_app().await;
    for i in 0..TAGS {
        let name = format!("cardimg{:02}/app", i % IMAGES);
        let tag = format!("cardtag{i:04}");
        // Distinct seeds: 2,000 distinct blobs (config + layer of each image).
        app.push_image(&name, &tag, &format!("seed-{i}")).await;
        if i % 10 == 0 {
            let r = app
                .req(Method::GET, &format!("/v2/{name}/manifests/{tag}"))
                .header("Accept", OCI_MANIFEST)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let missing = sha256(format!("missing {i}").as_bytes());
            let r = app
                .req(Method::HEAD, &format!("/v2/{name}/blobs/{missing}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
        }
    }
    let text = scrape(&app).await;

    let requests = series_count(&text, "berth_http_requests_total");
    assert!(requests < 60, "{requests} request series:\n{text}");
    let total_series = text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(total_series < 400, "{total_series} series in all:\n{text}");
    assert_eq!(
        value(
            &text,
            "berth_components",
            &[("repository", "docker-hosted")]
        ),
        Some(TAGS as f64)
    );
    assert_eq!(
        value(
            &text,
            "berth_blobs_pushed_total",
            &[("repository", "docker-hosted")]
        ),
        Some(2.0 * TAGS as f64)
    );
    // Usage series: one per limited figure, whatever the traffic.
    for usage in [
        "berth_usage_value",
        "berth_usage_state",
        "berth_usage_refused_total",
    ] {
        assert_eq!(series_count(&text, usage), 2, "{usage}:\n{text}");
    }
    for line in text.lines() {
        assert!(!line.contains("sha256:"), "digest in a label: {line}");
        assert!(!line.contains("cardtag"), "tag in a label: {line}");
        assert!(!line.contains("cardimg"), "image name in a label: {line}");
    }
}
