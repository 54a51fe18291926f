//! A real Prometheus (the Debian `prometheus` package) scrapes a real Berth every second and
//! answers PromQL over what it scraped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

/// A Prometheus server on a free port with its own data directory; killed on drop.
pub struct Prometheus {
    child: Child,
    pub base: String,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_prometheus(target: &str) -> Prometheus {
    start_prometheus_with_rules(target, None)
}

/// A Prometheus scraping `target` every second and evaluating the rule file `rules`, if any.
pub fn start_prometheus_with_rules(target: &str, rules: Option<&std::path::Path>) -> Prometheus {
    let rule_files = match rules {
        Some(path) => format!("rule_files:\n  - '{}'\n", path.display()),
        None => String::new(),
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         {rule_files}\
         scrape_configs:\n  - job_name: berth\n    metrics_path: /metrics\n    \
         static_configs:\n      - targets: ['{target}']\n"
    );
    start_prometheus_with_config(&config, &[])
}

/// A Prometheus running `config` (YAML), with `files` (name, content) written next to it,
/// where relative paths in the config (rule files, password files) point.
pub fn start_prometheus_with_config(config: &str, files: &[(&str, &str)]) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prometheus {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir,
    }
}

impl Prometheus {
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The `data.result` array of an instant query (empty while Prometheus is not up yet).
    pub async fn query(&self, client: &reqwest::Client, promql: &str) -> Vec<Value> {
        let url = format!("{}/api/v1/query", self.base);
        let Ok(r) = client.get(url).query(&[("query", promql)]).send().await else {
            return Vec::new();
        };
        let body: Value = r.json().await.unwrap_or(Value::Null);
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `promql` (while `app` gets traffic) until it returns data, at most `within`.
    pub async fn wait_for(&self, app: &TestApp, promql: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let _ = app.req(Method::GET, "/v2/").send().await;
            let result = self.query(&app.client, promql).await;
            if !result.is_empty() {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "no data for `{promql}` after {within:?}; prometheus log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test]
async fn a_real_prometheus_scrapes_berth_and_answers_promql() {
    if !client_present(have("prometheus"), "prometheus", "BERTH_SKIP_PROMETHEUS") {
        return;
    }
    let app = spawn_app().await;
    app.push_image("scraped/app", "1", "prometheus").await;
    let prometheus = start_prometheus(&app.addr);
    let wait = Duration::from_secs(90);

    let series = prometheus
        .wait_for(&app, "berth_http_requests_total", wait)
        .await;
    assert!(series
        .iter()
        .all(|s| s["metric"]["job"] == "berth" && s["metric"]["route"].is_string()));

    let rate = "sum by (route) (rate(berth_http_requests_total[30s]))";
    let rates = prometheus.wait_for(&app, rate, wait).await;
    assert!(
        rates.iter().any(|s| s["metric"]["route"] == "base"),
        "{rates:?}"
    );

    let p99 = "histogram_quantile(0.99, sum by (le, route) \
               (rate(berth_http_request_duration_seconds_bucket[30s])))";
    prometheus.wait_for(&app, p99, wait).await;

    let components = prometheus
        .wait_for(&app, "berth_components{repository=\"docker-hosted\"}", wait)
        .await;
    assert_eq!(components[0]["value"][1], "1", "{components:?}");
}
