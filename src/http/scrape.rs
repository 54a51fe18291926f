//! The Prometheus exporter: installs the recorder, keeps its histograms folded, and renders
//! the text served at `/metrics` (see `metrics_mw::configure`). Metric names and
//! descriptions are `crate::metrics`; the scrape-time gauges (store sizes, quotas, component
//! counts, usage) are read here because only this layer may see the registry and usage.

use std::sync::OnceLock;

use metrics::gauge;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::metrics as m;
use crate::registry::Registry;
use crate::usage::Usage;

/// How often the per-repository blob figures are recomputed: they scan `image_blobs`.
const REPOSITORY_TOTALS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds pending histogram samples into buckets every few seconds. The exporter buffers
/// every sample until upkeep runs; without this, a registry nobody scrapes would grow by
/// one `f64` per request, without bound. Must run inside an actix system.
pub fn spawn_upkeep() {
    let handle = init();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Installs the Prometheus recorder (once per process) and describes every metric.
pub fn init() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(m::HTTP_DURATION.into()), m::LATENCY_BUCKETS)
            .expect("latency buckets are not empty");
        // Another recorder already installed (only possible in unit tests): keep a private
        // one so rendering still works.
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        };
        m::describe();
        crate::proxy::metrics::describe();
        // Present from the first scrape on, not only after the first upload.
        gauge!(m::UPLOADS_IN_PROGRESS).set(0.0);
        gauge!(m::UPLOAD_BYTES_IN_PROGRESS).set(0.0);
        handle
    })
}

/// Refreshes the scrape-time gauges from `registry`, then renders the text exposition format.
pub async fn render(registry: &Registry, usage: &Usage) -> String {
    let handle = init();
    for store in registry.blob_stores() {
        let name = store.name().to_string();
        gauge!(m::BLOB_STORE_BYTES, "store" => name.clone()).set(store.used_bytes() as f64);
        if let Some(q) = store.soft_quota() {
            gauge!(m::BLOB_STORE_SOFT_QUOTA, "store" => name.clone()).set(q as f64);
        }
        if let Some(q) = store.hard_quota() {
            gauge!(m::BLOB_STORE_HARD_QUOTA, "store" => name).set(q as f64);
        }
    }
    // Counted by the database at scrape time rather than kept on the write path: exact after
    // deletes, re-tags and restarts, and one indexed aggregate per scrape is cheap next to
    // a scrape interval of seconds.
    match registry.component_counts().await {
        Ok(counts) => {
            for (repository, count) in counts {
                gauge!(m::COMPONENTS, "repository" => repository).set(count as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count components for metrics"),
    }
    refresh_repository_totals(registry).await;
    crate::usage::export_metrics(usage).await;
    handle.run_upkeep();
    handle.render()
}

/// Per-repository blob figures, recomputed at most every [`REPOSITORY_TOTALS_EVERY`] (the
/// gauges keep their last values between refreshes).
async fn refresh_repository_totals(registry: &Registry) {
    static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < REPOSITORY_TOTALS_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
    }
    match registry.repository_blob_totals().await {
        Ok(totals) => {
            for (repository, blobs, bytes) in totals {
                gauge!(m::REPOSITORY_BLOBS, "repository" => repository.clone()).set(blobs as f64);
                gauge!(m::REPOSITORY_BLOB_BYTES, "repository" => repository).set(bytes as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot total repository blobs for metrics"),
    }
}
