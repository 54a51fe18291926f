//! The shipped monitoring files against the real thing: every PromQL expression of every
//! Grafana panel and every alert rule (read from `grafana/`, never copied here) returns data
//! from a real Prometheus scraping a real Berth under a small workload; `promtool` checks
//! and unit-tests the rules; `docker-compose config` accepts the compose file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::prometheus::{start_prometheus_with_rules, Prometheus};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every `expr` of every panel of every dashboard under `grafana/dashboards/`.
fn dashboard_expressions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dir = repo_file("grafana/dashboards");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                assert_eq!(
                    target["datasource"]["uid"], "berth-prometheus",
                    "panel {} must use the provisioned datasource",
                    panel["title"]
                );
                let title = panel["title"].as_str().unwrap().to_string();
                out.push((title, target["expr"].as_str().unwrap().to_string()));
            }
        }
    }
    assert!(
        out.len() > 10,
        "dashboards have too few expressions: {out:?}"
    );
    out
}

/// Splits an alert expression `<measure> <op> <number>` into the measure.
fn measure(query: &str) -> &str {
    let query = query.trim();
    for op in [" >= ", " <= ", " == ", " != ", " > ", " < "] {
        if let Some((left, right)) = query.rsplit_once(op) {
            if right.trim().parse::<f64>().is_ok() {
                return left.trim();
            }
        }
    }
    panic!("alert expression does not end in `<op> <number>`: {query}");
}

/// Pushes, pulls, misses, an open upload and enough requests to cross the request limit.
async fn workload(app: &TestApp) {
    for i in 0..6 {
        app.push_image("team/app", &format!("v{i}"), &format!("seed {i}"))
            .await;
    }
    let layer = sha256(b"layer of seed 0");
    for _ in 0..5 {
        for path in [
            "/v2/team/app/manifests/v0".to_string(),
            format!("/v2/team/app/blobs/{layer}"),
            "/v2/team/app/manifests/missing".to_string(),
        ] {
            let r = app
                .req(Method::GET, &path)
                .header("Accept", OCI_MANIFEST)
                .send()
                .await
                .unwrap();
            assert!(r.status() == 200 || r.status() == 404, "{path}");
        }
    }
    let r = app
        .req(Method::POST, "/v2/team/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "an upload left open");
    for _ in 0..30 {
        app.req(Method::GET, "/v2/").send().await.unwrap();
    }
}

/// Puts the default store just over half of a soft quota's worth and near its hard quota,
/// so the quota panels and alerts have data.
async fn set_quotas_around_usage(app: &TestApp) {
    let used = value(
        &scrape(app).await,
        "berth_blob_store_bytes",
        &[("store", "default")],
    )
    .expect("default store bytes") as i64;
    let body = json!({
        "softQuota": {"type": "spaceUsedQuota", "limit": used / 2},
        "hardQuota": {"limit": used + used / 20},
    });
    let r = app
        .req(Method::PUT, "/service/rest/v1/blobstores/file/default")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

/// The alert rules as Prometheus loaded them: (name, query), once each was evaluated.
async fn loaded_alerts(prometheus: &Prometheus, client: &reqwest::Client) -> Vec<(String, String)> {
    let expected = std::fs::read_to_string(repo_file("grafana/prometheus/berth-alerts.yml"))
        .unwrap()
        .matches("- alert:")
        .count();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let url = format!("{}/api/v1/rules?type=alert", prometheus.base);
        let body: Value = match client.get(&url).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let rules: Vec<&Value> = body["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().unwrap().iter())
            .collect();
        let evaluated = rules.iter().all(|r| r["health"] == "ok");
        if rules.len() == expected && evaluated {
            return rules
                .iter()
                .map(|r| {
                    let name = r["name"].as_str().unwrap().to_string();
                    (name, r["query"].as_str().unwrap().to_string())
                })
                .collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rules not loaded and evaluated: {body}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Alerts the workload makes fire: their full expression must return data too. The error
/// rate and p99 alerts stay quiet on a healthy server; `promtool test rules` shows them
/// firing on synthetic series.
const FIRING: &[&str] = &[
    "BerthUsageNearLimit",
    "BerthUsageOverLimit",
    "BerthBlobStoreOverSoftQuota",
    "BerthBlobStoreNearHardQuota",
];

#[tokio::test]
async fn every_dashboard_and_alert_expression_returns_data_from_a_real_prometheus() {
    if !client_present(have("prometheus"), "prometheus", "BERTH_SKIP_PROMETHEUS") {
        return;
    }
    let app = spawn_app_with(&[
        "BERTH_USAGE__REQUESTS__LIMIT=50",
        "BERTH_USAGE__COMPONENTS__LIMIT=8",
    ])
    .await;
    workload(&app).await;
    set_quotas_around_usage(&app).await;
    let rules = repo_file("grafana/prometheus/berth-alerts.yml");
    let prometheus = start_prometheus_with_rules(&app.addr, Some(&rules));
    let wait = Duration::from_secs(90);

    for (title, expr) in dashboard_expressions() {
        let result = prometheus.wait_for(&app, &expr, wait).await;
        assert!(!result.is_empty(), "panel {title}: {expr}");
    }
    let alerts = loaded_alerts(&prometheus, &app.client).await;
    for (name, query) in &alerts {
        prometheus.wait_for(&app, measure(query), wait).await;
        if FIRING.contains(&name.as_str()) {
            prometheus.wait_for(&app, query, wait).await;
        }
    }
    let fired: Vec<&str> = alerts.iter().map(|(n, _)| n.as_str()).collect();
    for name in FIRING {
        assert!(fired.contains(name), "alert {name} is not in the rule file");
    }

    if let Ok(png) = std::env::var("RENDER_DASHBOARD_PNG") {
        render_png(&png).await;
    }
}

/// With `RENDER_DASHBOARD_PNG=<file>`: a Berth of its own (limits sized so the run crosses
/// the warning threshold and the limit) under a mixed workload for `RENDER_DASHBOARD_SECS`
/// (default 540), scraped by its own Prometheus; then `docs/dashboard_png.py` draws the
/// dashboard's panels from that Prometheus with matplotlib.
async fn render_png(png: &str) {
    let secs: u64 = std::env::var("RENDER_DASHBOARD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(540);
    let app = spawn_app_with(&[
        "BERTH_USAGE__REQUESTS__LIMIT=6500",
        "BERTH_USAGE__COMPONENTS__LIMIT=380",
    ])
    .await;
    workload(&app).await;
    let used = value(
        &scrape(&app).await,
        "berth_blob_store_bytes",
        &[("store", "default")],
    )
    .unwrap() as i64;
    let body = json!({"softQuota": {"type": "spaceUsedQuota", "limit": used * 40}});
    let r = app
        .req(Method::PUT, "/service/rest/v1/blobstores/file/default")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let rules = repo_file("grafana/prometheus/berth-alerts.yml");
    let prometheus = start_prometheus_with_rules(&app.addr, Some(&rules));
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    let mut i = 0;
    while std::time::Instant::now() < end {
        i += 1;
        if i % 20 == 0 {
            app.push_image("team/busy", &format!("t{i}"), &format!("busy {i}"))
                .await;
        }
        let layer = format!("/v2/team/app/blobs/{}", sha256(b"layer of seed 1"));
        let path = match i % 7 {
            0 => "/v2/team/app/manifests/nope",
            3 | 5 => &layer,
            _ => "/v2/team/app/manifests/v1",
        };
        app.req(Method::GET, path)
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Debian's python3-matplotlib belongs to the system interpreter, which a pyenv or venv
    // `python3` earlier on PATH would not see.
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| !p.starts_with('/') || Path::new(p).exists())
        .unwrap();
    let status = Command::new(python)
        .arg(repo_file("docs/dashboard_png.py"))
        .arg(&prometheus.base)
        .arg(repo_file("grafana/dashboards/berth-overview.json"))
        .arg(png)
        .status()
        .expect("run python3");
    assert!(status.success(), "dashboard_png.py failed");
}

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

#[test]
fn promtool_checks_and_unit_tests_every_alert_rule() {
    if !client_present(have("promtool"), "promtool", "BERTH_SKIP_PROMETHEUS") {
        return;
    }
    let dir = repo_file("grafana/prometheus");
    run("promtool", &["check", "rules", "berth-alerts.yml"], &dir);
    run("promtool", &["check", "config", "prometheus.yml"], &dir);
    let text = run(
        "promtool",
        &["test", "rules", "berth-alerts.test.yml"],
        &dir,
    );
    assert!(text.contains("SUCCESS"), "{text}");
    // Each alert has at least one case expecting it to fire.
    let rules = std::fs::read_to_string(dir.join("berth-alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("berth-alerts.test.yml")).unwrap();
    for line in rules
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
    {
        let name = line.split(':').nth(1).unwrap().trim();
        let firing = tests
            .split("alertname: ")
            .skip(1)
            .any(|case| case.starts_with(name) && !case.contains("exp_alerts: []"));
        assert!(firing, "no promtool case makes {name} fire");
    }
}

#[test]
fn the_compose_file_validates_and_mounts_the_shipped_monitoring_files() {
    if !client_present(
        have("docker-compose"),
        "docker-compose",
        "BERTH_SKIP_DOCKER",
    ) {
        return;
    }
    let text = run(
        "docker-compose",
        &["-f", "docker-compose.yml", "config"],
        &repo_file(""),
    );
    for needle in [
        "grafana/prometheus",
        "grafana/provisioning",
        "grafana/dashboards",
        "dockerfile: Dockerfile",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let datasource =
        std::fs::read_to_string(repo_file("grafana/provisioning/datasources/berth.yml")).unwrap();
    assert!(datasource.contains("uid: berth-prometheus"));
}
