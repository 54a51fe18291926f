//! The usage figures as Prometheus gauges (refreshed at scrape time) and the refusal counter.

use metrics::{counter, gauge};

use super::{Action, Metric, Usage};
use crate::metrics as m;

/// Recounts and sets every usage gauge; called by the scrape handler.
pub async fn export_metrics(usage: &Usage) {
    let readings = match usage.refresh().await {
        Ok(readings) => readings,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count components for usage metrics");
            usage.readings()
        }
    };
    for r in readings {
        let metric = r.metric.as_str();
        let l = &r.settings;
        gauge!(m::USAGE_VALUE, "metric" => metric).set(r.value as f64);
        gauge!(m::USAGE_LIMIT, "metric" => metric).set(l.limit as f64);
        gauge!(m::USAGE_WARNING, "metric" => metric).set(l.warn_ratio * l.limit as f64);
        gauge!(m::USAGE_STATE, "metric" => metric).set(f64::from(r.level.as_number()));
        let enforced = if l.action == Action::Enforce {
            1.0
        } else {
            0.0
        };
        gauge!(m::USAGE_ENFORCED, "metric" => metric).set(enforced);
        gauge!(m::USAGE_ACTION, "metric" => metric, "action" => l.action.as_str()).set(1.0);
        // Present from the first scrape on, so rate() and alerts see a zero, not a gap.
        counter!(m::USAGE_REFUSED, "metric" => metric).increment(0);
    }
    gauge!(m::USAGE_UNAUTHORIZED).set(usage.totals().unauthorized as f64);
}

/// Counts one refused write.
pub fn refused(metric: Metric) {
    counter!(m::USAGE_REFUSED, "metric" => metric.as_str()).increment(1);
}
