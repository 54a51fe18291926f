//! The usage center (administrators): the same figures `GET /service/rest/v1/usage` and
//! `GET /service/rest/v1/blobstores` answer — their handlers are called in-process — drawn
//! as tables and an hourly SVG chart (attributes, not inline styles, so the CSP holds).

use actix_web::{HttpRequest, HttpResponse};
use minijinja::{context, Value};

use super::admin::call;
use super::render::page;
use super::viewer::{registry, Viewer};
use super::UiError;
use crate::http::admin::blobstores;
use crate::http::usage_api;

/// Chart height in SVG units.
const CHART_HEIGHT: f64 = 100.0;

/// `GET /ui/usage`
pub async fn center(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::for_page(&req)?;
    viewer.require_admin()?;
    let registry = registry(&req);
    let usage = call(async { Ok(usage_api::usage(registry.clone()).await) }).await?;
    let stores = call(blobstores::list(registry.clone())).await?;
    let components = registry
        .component_counts()
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    let mut components: Vec<(String, u64)> = components;
    components.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    page(
        &req,
        &viewer,
        "usage.html",
        context! {
            usage => usage.clone(),
            bars => bars(&usage["hours"], crate::usage::window::WINDOW_HOURS as usize),
            stores => stores,
            components => components,
        },
    )
}

/// One `<rect>` per hour of the window, oldest first (hours without requests are absent
/// from the usage JSON and drawn as empty slots): x, y and height in a 240×100 box.
fn bars(hours: &serde_json::Value, window_hours: usize) -> Vec<Value> {
    let hours = hours.as_array().cloned().unwrap_or_default();
    let count = |start: i64| {
        hours
            .iter()
            .find(|h| h["start"].as_i64() == Some(start))
            .map(|h| {
                let n = |k: &str| h[k].as_u64().unwrap_or(0);
                (n("requests"), n("unauthorized"))
            })
            .unwrap_or((0, 0))
    };
    let now = crate::usage::window::hour_of(crate::clock::now());
    let starts: Vec<i64> = (0..window_hours as i64)
        .rev()
        .map(|back| now - back * 3600)
        .collect();
    let max = starts.iter().map(|s| count(*s).0).max().unwrap_or(0).max(1);
    starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let (requests, unauthorized) = count(*start);
            let height = CHART_HEIGHT * requests as f64 / max as f64;
            let hour = chrono::DateTime::from_timestamp(*start, 0)
                .map(|t| t.format("%H:00").to_string())
                .unwrap_or_default();
            context! {
                x => i * 10 + 1, y => format!("{:.1}", CHART_HEIGHT - height),
                height => format!("{height:.1}"), requests => requests, hour => hour,
                unauthorized => unauthorized,
            }
        })
        .collect()
}
