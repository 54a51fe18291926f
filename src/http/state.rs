//! What the HTTP layer (and the UI) serve from, built by `crate::startup`, the composition
//! root, and registered on every port's app. `Registry` keeps repositories, stores and
//! caches; the other services sit beside it here rather than behind it.

use std::net::IpAddr;

use actix_web::{web, HttpRequest};

use crate::auth::Security;
use crate::config::Limits;
use crate::registry::Registry;
use crate::tasks::TaskService;
use crate::usage::Usage;

#[derive(Clone)]
pub struct AppState {
    pub registry: web::Data<Registry>,
    /// Usage thresholds (requests per day, components).
    pub usage: web::Data<Usage>,
    /// The task catalogue and run states (the scheduler runs from the same one).
    pub tasks: web::Data<TaskService>,
    pub security: web::Data<Security>,
    pub limits: web::Data<Limits>,
    pub admin: web::Data<AdminAllowList>,
}

/// Client addresses allowed to call the admin REST API (`admin_allowed_from`), which the UI's
/// administration pages apply too.
pub struct AdminAllowList(pub Vec<IpAddr>);

impl AdminAllowList {
    /// Whether the request's client is on the list. The client, not the TCP peer: behind a
    /// proxy on the same host every peer is loopback, which the default list admits, so
    /// the peer would let the whole world through the proxy. Behind a trusted proxy the
    /// client is the address it forwarded for (`client_addr`); from anyone else, the peer.
    pub fn admits(req: &HttpRequest) -> bool {
        let Some(list) = req.app_data::<web::Data<AdminAllowList>>() else {
            return false;
        };
        super::client_addr::client_ip(req).is_some_and(|ip| list.0.contains(&ip))
    }
}
