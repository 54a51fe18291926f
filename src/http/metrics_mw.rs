//! Request metrics: the middleware that records every request, and the scrape endpoints.
//!
//! The middleware puts a [`RouteSlot`] into the request's extensions before the handler
//! runs; [`dispatch`](super::dispatch) fills in the route pattern and repository once it has
//! resolved them. A [`RequestGuard`] records on `Drop`, so a request whose future is dropped
//! midway (client gone, server shutting down) still counts, with status class `cancelled`.
//! Latency is measured to the response head: streaming a large blob body is the client's
//! pace, not Berth's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use metrics::{counter, histogram, Counter, Histogram, SharedString};

use crate::metrics::{self as m, method_label, status_class};
use crate::registry::Registry;
use crate::usage::Usage;

/// The bounded labels a handler learned about its request.
#[derive(Default)]
struct RouteLabels {
    route: Option<&'static str>,
    repository: Option<SharedString>,
}

thread_local! {
    /// Each repository's label, built once per worker thread: labelling a request clones
    /// an `Arc` instead of allocating the name. Keys are configured repository names only
    /// (`dispatch` labels a request once it has resolved the repository), so this stays
    /// as small as the configuration.
    static REPOSITORY_LABELS: RefCell<HashMap<Box<str>, SharedString>> = RefCell::default();
}

fn repository_label(name: &str) -> SharedString {
    REPOSITORY_LABELS.with(|labels| {
        if let Some(label) = labels.borrow().get(name) {
            return label.clone();
        }
        let label = SharedString::from_shared(Arc::<str>::from(name));
        labels.borrow_mut().insert(name.into(), label.clone());
        label
    })
}

/// Shared between the middleware's guard and the handler (one worker thread: `Rc`).
#[derive(Clone, Default)]
struct RouteSlot(Rc<RefCell<RouteLabels>>);

/// Records the route pattern (an [`Endpoint`](super::Endpoint) kind or another fixed
/// name) and/or the repository of `req`, for the request metrics.
pub fn label(req: &HttpRequest, route: Option<&'static str>, repository: Option<&str>) {
    if let Some(slot) = req.extensions().get::<RouteSlot>() {
        let mut labels = slot.0.borrow_mut();
        if route.is_some() {
            labels.route = route;
        }
        if let Some(name) = repository {
            labels.repository = Some(repository_label(name));
        }
    }
}

/// Records one request when dropped.
struct RequestGuard {
    start: Instant,
    method: &'static str,
    /// Route by path prefix, for requests `dispatch` never labels.
    fallback_route: &'static str,
    slot: RouteSlot,
    request_bytes: u64,
    response_bytes: u64,
    status: &'static str,
}

/// The recorder's handles for one combination of a request's labels.
struct RequestHandles {
    requests: Counter,
    duration: Histogram,
    request_bytes: Counter,
    response_bytes: Counter,
}

/// Repository, route, method, status class.
type HandleKey = (SharedString, &'static str, &'static str, &'static str);

thread_local! {
    /// Handles found once per worker and label combination: building the labels' `Key`s
    /// and finding them in the recorder on every request cost ≈ 3.7k of a warm manifest
    /// GET's ≈ 43k instructions (callgrind). The combinations are bounded (configured
    /// repositories × routes × methods × status classes), as the recorder's own are. The
    /// recorder is installed before the workers start and never idles metrics out, so a
    /// handle stays the live one.
    static HANDLES: RefCell<HashMap<HandleKey, Rc<RequestHandles>>> = RefCell::default();
}

fn request_handles(key: HandleKey) -> Rc<RequestHandles> {
    let make = |(repository, route, method, status): HandleKey| {
        Rc::new(RequestHandles {
            requests: counter!(m::HTTP_REQUESTS, "repository" => repository, "route" => route,
                "method" => method, "status_class" => status),
            duration: histogram!(m::HTTP_DURATION, "route" => route, "method" => method),
            request_bytes: counter!(m::HTTP_REQUEST_BYTES, "route" => route),
            response_bytes: counter!(m::HTTP_RESPONSE_BYTES, "route" => route),
        })
    };
    // A guard dropped while its thread's locals are torn down (a worker stopping) still
    // counts, without the cache: `with` would panic inside `Drop`.
    let cached = HANDLES.try_with(|handles| {
        if let Some(found) = handles.borrow().get(&key) {
            return found.clone();
        }
        let made = make(key.clone());
        handles.borrow_mut().insert(key.clone(), made.clone());
        made
    });
    cached.unwrap_or_else(|_| make(key))
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let labels = std::mem::take(&mut *self.slot.0.borrow_mut());
        let route = labels.route.unwrap_or(self.fallback_route);
        let repository = labels.repository.unwrap_or(SharedString::const_str("-"));
        let handles = request_handles((repository, route, self.method, self.status));
        handles.requests.increment(1);
        handles.duration.record(self.start.elapsed().as_secs_f64());
        if self.request_bytes > 0 {
            handles.request_bytes.increment(self.request_bytes);
        }
        if self.response_bytes > 0 {
            handles.response_bytes.increment(self.response_bytes);
        }
    }
}

/// The middleware (`actix_web::middleware::from_fn(record)`).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut guard = RequestGuard {
        start: Instant::now(),
        method: method_label(req.method()),
        fallback_route: route_by_path(req.path()),
        slot,
        request_bytes: content_length(&req),
        response_bytes: 0,
        status: "cancelled",
    };
    match next.call(req).await {
        Ok(res) => {
            guard.status = status_class(res.status().as_u16());
            // A HEAD announces a length (even a sized body) but sends nothing; streamed
            // bodies (whole blobs, ranges) announce theirs in the header.
            guard.response_bytes = match res.response().body().size() {
                _ if guard.method == "HEAD" => 0,
                BodySize::Sized(n) => n,
                BodySize::Stream => response_content_length(res.headers()),
                BodySize::None => 0,
            };
            access(&guard, res.request(), res.status().as_u16());
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            guard.status = status_class(status);
            // The request is gone with the error: log without client and user.
            if super::access_log::wanted(status) {
                write_access(&guard, None, None, status);
            }
            Err(e)
        }
    }
}

/// The access log line of a request, if the policy wants one (decided without allocating).
fn access(guard: &RequestGuard, req: &HttpRequest, status: u16) {
    if !super::access_log::wanted(status) {
        return;
    }
    let extensions = req.extensions();
    let principal = extensions.get::<crate::auth::Principal>();
    let client = super::client_addr::client_ip(req);
    write_access(guard, client, principal, status);
}

fn write_access(
    guard: &RequestGuard,
    client: Option<std::net::IpAddr>,
    principal: Option<&crate::auth::Principal>,
    status: u16,
) {
    let labels = guard.slot.0.borrow();
    super::access_log::write(&super::access_log::Entry {
        method: guard.method,
        route: labels.route.unwrap_or(guard.fallback_route),
        repository: labels.repository.as_deref(),
        status,
        bytes: guard.response_bytes,
        duration: guard.start.elapsed(),
        client,
        principal,
    });
}

fn response_content_length(headers: &actix_web::http::header::HeaderMap) -> u64 {
    headers
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn content_length(req: &ServiceRequest) -> u64 {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The route label of requests outside the Distribution API.
fn route_by_path(path: &str) -> &'static str {
    if path == "/metrics" || path.starts_with("/service/metrics") {
        "metrics"
    } else if path == "/healthz" || path == "/readyz" {
        "health"
    } else if path.starts_with("/service/rest/v1/status") {
        "status"
    } else if path.starts_with("/service/rest") {
        "admin"
    } else {
        "other"
    }
}

/// `GET /metrics` and Nexus's `GET /service/metrics/prometheus`, main port only.
/// With security on, the gate lets only users holding `nx-metrics-all` (or `nx-all`) in.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape))
        .route("/service/metrics/prometheus", web::get().to(scrape));
}

async fn scrape(registry: web::Data<Registry>, usage: web::Data<Usage>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(super::scrape::render(&registry, &usage).await)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::dev::Service;
    use actix_web::{middleware::from_fn, test as actix_test, App};
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    /// A handler that never answers, labelled the way `dispatch` labels requests.
    async fn stuck(req: HttpRequest) -> HttpResponse {
        label(&req, Some("upload"), Some("docker-hosted"));
        std::future::pending::<()>().await;
        HttpResponse::Ok().finish()
    }

    #[test]
    fn a_request_dropped_midway_still_counts() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            actix_rt::System::new().block_on(async {
                let app = App::new()
                    .wrap(from_fn(record))
                    .default_service(web::to(stuck));
                let service = actix_test::init_service(app).await;
                let req = actix_test::TestRequest::patch()
                    .uri("/v2/a/blobs/uploads/x")
                    .to_request();
                let call = service.call(req);
                // The client goes away: the request future is dropped unfinished.
                let timed_out = tokio::time::timeout(Duration::from_millis(50), call).await;
                assert!(timed_out.is_err());
            });
        });
        let text = handle.render();
        let want = "berth_http_requests_total{repository=\"docker-hosted\",route=\"upload\",\
                    method=\"PATCH\",status_class=\"cancelled\"} 1";
        assert!(text.contains(want), "{text}");
        assert!(
            text.contains("berth_http_request_duration_seconds"),
            "{text}"
        );
    }

    #[test]
    fn routes_outside_the_api_get_fixed_names() {
        assert_eq!(route_by_path("/metrics"), "metrics");
        assert_eq!(route_by_path("/service/metrics/prometheus"), "metrics");
        assert_eq!(route_by_path("/service/rest/v1/status/writable"), "status");
        assert_eq!(route_by_path("/service/rest/v1/repositories"), "admin");
        assert_eq!(route_by_path("/readyz"), "health");
        assert_eq!(route_by_path("/anything/else"), "other");
    }
}
