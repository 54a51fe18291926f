//! Item 5 of issue 14: Prometheus scrapes a Berth with security on using the shipped
//! `grafana/prometheus/prometheus.yml` as it is (only the target address and the scrape
//! interval changed), with the scrape user's password in the file the config names.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::prometheus::start_prometheus_with_config;
use crate::security_support::*;

fn shipped(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("grafana/prometheus").join(path)).unwrap()
}

#[tokio::test]
async fn prometheus_scrapes_a_secured_berth_with_the_shipped_config_and_a_read_only_user() {
    if !client_present(have("prometheus"), "prometheus", "BERTH_SKIP_PROMETHEUS") {
        return;
    }
    // Arrange: the README's scrape user (a role holding only nx-metrics-all).
    let app = spawn_secure(&[]).await;
    let r = send_json(
        &app,
        Method::POST,
        &format!("{SECURITY}/roles"),
        &json!({"id": "metrics-scrape", "name": "metrics-scrape",
                "privileges": ["nx-metrics-all"], "roles": []}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = send_json(
        &app,
        Method::POST,
        &format!("{SECURITY}/users"),
        &json!({"userId": "metrics", "firstName": "Prometheus", "lastName": "Scraper",
                "emailAddress": "metrics@example.org", "password": "Scrape-Pw-1",
                "status": "active", "roles": ["metrics-scrape"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let config = shipped("prometheus.yml");
    assert!(
        config.contains("password_file: berth-metrics.password"),
        "{config}"
    );
    let config = config
        .replace("'berth:8081'", &format!("'{}'", app.addr))
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
    // Act
    let prometheus = start_prometheus_with_config(
        &config,
        &[
            ("berth-metrics.password", "Scrape-Pw-1\n"),
            ("berth-alerts.yml", &shipped("berth-alerts.yml")),
        ],
    );
    // Assert: the target is up and Berth's series arrive.
    let wait = Duration::from_secs(90);
    prometheus
        .wait_for(&app, "up{job=\"berth\"} == 1", wait)
        .await;
    let series = prometheus.wait_for(&app, "berth_usage_action", wait).await;
    assert!(
        series.iter().all(|s| s["metric"]["action"] == "observe"),
        "{series:?}"
    );
}
