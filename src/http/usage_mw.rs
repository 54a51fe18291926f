//! Counts requests toward the usage window. Requests answered 401 are tallied apart and
//! never count toward the request limit, so a flood of failed logins cannot lock a
//! registry. A request cancelled midway counts as a request (drop guard), like in the
//! request metrics.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use super::Connector;
use crate::registry::Registry;
use crate::usage::{Counted, Usage};

/// Whether a request to `path` counts under `counted`; connector ports serve only `/v2/`.
pub fn is_counted(counted: Counted, path: &str, on_connector: bool) -> bool {
    match counted {
        Counted::All => true,
        Counted::Repository => {
            on_connector
                || path == "/v2"
                || path.starts_with("/v2/")
                || path.starts_with("/repository/")
        }
    }
}

/// Records one request into the window when dropped.
struct Tally {
    usage: Arc<Usage>,
    unauthorized: bool,
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.usage.record(self.unauthorized);
    }
}

/// The middleware (`actix_web::middleware::from_fn(count)`).
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let on_connector = req.app_data::<Connector>().is_some();
    let mut tally = req
        .app_data::<web::Data<Registry>>()
        .map(|r| r.usage().clone())
        .filter(|u| is_counted(u.settings().counted, req.path(), on_connector))
        .map(|usage| Tally {
            usage,
            unauthorized: false,
        });
    let result = next.call(req).await;
    if let Some(tally) = tally.as_mut() {
        let status = match &result {
            Ok(res) => res.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        tally.unauthorized = status == actix_web::http::StatusCode::UNAUTHORIZED;
    }
    result
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{test as actix_test, App, HttpResponse};

    use super::*;
    use crate::config::Settings;

    #[test]
    fn only_repository_traffic_counts_unless_all_is_configured() {
        use Counted::*;
        assert!(is_counted(Repository, "/v2/", false));
        assert!(is_counted(Repository, "/v2/a/manifests/x", false));
        assert!(is_counted(
            Repository,
            "/repository/r/v2/a/tags/list",
            false
        ));
        assert!(is_counted(Repository, "/anything", true));
        assert!(!is_counted(Repository, "/metrics", false));
        assert!(!is_counted(Repository, "/v2x", false));
        assert!(is_counted(All, "/metrics", false));
    }

    /// Authentication does not exist yet; this stands in for its 401s: whatever answers
    /// 401, the middleware must tally it apart from the requests the limit applies to.
    #[test]
    fn responses_with_status_401_are_tallied_apart_from_counted_requests() {
        actix_rt::System::new().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let settings = Settings {
                data_dir: dir.path().to_path_buf(),
                ..Settings::default()
            };
            let registry = web::Data::new(
                Registry::open(
                    &settings,
                    crate::meta::Meta::open_data_dir(&settings.data_dir)
                        .await
                        .unwrap(),
                )
                .await
                .unwrap(),
            );
            let app = App::new()
                .app_data(registry.clone())
                .wrap(from_fn(count))
                .route(
                    "/v2/denied",
                    web::get().to(|| async { HttpResponse::Unauthorized().finish() }),
                )
                .route(
                    "/v2/",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                );
            let service = actix_test::init_service(app).await;
            for path in ["/v2/denied", "/v2/denied", "/v2/", "/metrics"] {
                let req = actix_test::TestRequest::get().uri(path).to_request();
                actix_test::call_service(&service, req).await;
            }
            let totals = registry.usage().totals();
            assert_eq!(totals.unauthorized, 2);
            assert_eq!(totals.requests, 1, "/metrics is not repository traffic");
        });
    }
}
