//! The application every port serves: the main port (`connector: None`: API, metrics, UI)
//! and each repository's connector port. Used by `startup` and `connectors`, the composition
//! layer; it only assembles what the layers below provide.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};

use crate::http::{self, ports::Ports, state::AppState, Connector};

/// The application served on the main port (`connector: None`) and on connector ports.
pub fn build_app(
    state: AppState,
    ports: web::Data<dyn Ports>,
    connector: Option<Connector>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut app = App::new()
        .app_data(state.registry)
        .app_data(state.usage)
        .app_data(state.tasks)
        .app_data(state.limits)
        .app_data(state.security)
        .app_data(state.admin)
        .app_data(ports)
        // First: the pull path should not try every other route before its own.
        .configure(http::configure_registry);
    match connector {
        Some(c) => app = app.app_data(c),
        // Metrics describe the whole server: served on the main port only.
        None => {
            app = app
                .configure(http::metrics_mw::configure)
                .configure(crate::ui::configure)
        }
    }
    // The security gate is innermost: refused requests are still counted and traced.
    app.wrap(actix_web::middleware::from_fn(http::body_timeout::limit))
        .wrap(actix_web::middleware::from_fn(http::gate::gate))
        .wrap(actix_web::middleware::from_fn(http::usage_mw::count))
        .wrap(actix_web::middleware::from_fn(http::metrics_mw::record))
        // The request span (an id, the connection info and a dozen fields, each formatted by
        // the log subscriber when the span opens) cost ≈ 27k instructions per warm manifest
        // GET, +74% (callgrind): built only at `debug`. At the default `info` the access log
        // records requests, and events inside a request carry their own fields.
        .wrap(actix_web::middleware::Condition::new(
            tracing::enabled!(target: "tracing_actix_web", tracing::Level::DEBUG),
            tracing_actix_web::TracingLogger::default(),
        ))
        .wrap(actix_web::middleware::DefaultHeaders::new().add((
            actix_web::http::header::SERVER,
            http::nexus_compat::server_header(),
        )))
        .wrap(actix_web::middleware::from_fn(
            http::nexus_compat::beta_alias,
        ))
        .configure(http::configure)
}
