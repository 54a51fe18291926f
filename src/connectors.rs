//! Connector ports (Nexus "HTTP connector"): a repository with `http_port` answers `/v2/…`
//! on a port of its own, as `docker push host:8082/app:1` expects.
//!
//! Ports open at start and whenever the admin API creates or changes a repository, and
//! close when it is deleted; no restart is needed. A port is bound *before* the definition
//! change is committed ([`Connectors::bind`]), so "port already in use" refuses the change
//! with nothing half-created.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpServer};

use crate::app::build_app;
use crate::http::ports::{PortFuture, Ports};
use crate::http::state::AppState;
use crate::http::Connector;

/// HTTP workers per connector port; the main port has one per core.
const CONNECTOR_WORKERS: usize = 2;

pub struct Connectors {
    ip: IpAddr,
    state: AppState,
    /// Repository name → (port, running server).
    running: Mutex<HashMap<String, (u16, ServerHandle)>>,
}

impl Connectors {
    pub fn new(ip: IpAddr, state: AppState) -> Self {
        Connectors {
            ip,
            state,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Binds `port` on the main port's address, or says why it cannot. A port this server
    /// already serves for `repo` counts as available for it.
    pub fn bind(&self, repo: &str, port: u16) -> Result<Option<TcpListener>, String> {
        if self.port_of(repo) == Some(port) {
            return Ok(None);
        }
        TcpListener::bind(SocketAddr::new(self.ip, port))
            .map(Some)
            .map_err(|e| format!("port {port} cannot be opened: {e}"))
    }

    /// The port currently served for `repo`.
    pub fn port_of(&self, repo: &str) -> Option<u16> {
        self.running.lock().unwrap().get(repo).map(|(p, _)| *p)
    }

    /// Starts serving `repo` on an already bound listener (replacing an older port).
    pub async fn start(self: &Arc<Self>, repo: &str, listener: TcpListener) -> std::io::Result<()> {
        let port = listener.local_addr()?.port();
        let state = self.state.clone();
        let ports: web::Data<dyn Ports> = web::Data::from(Arc::new(self.clone()) as Arc<dyn Ports>);
        let marker = Connector(repo.to_string());
        let tls = self.state.security.tls.clone();
        let server =
            HttpServer::new(move || build_app(state.clone(), ports.clone(), Some(marker.clone())));
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, (*config).clone())?,
            None => server.listen(listener)?,
        };
        let server = server
            .workers(CONNECTOR_WORKERS)
            .disable_signals()
            .shutdown_timeout(30)
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        tracing::info!(repository = repo, port, "connector port open");
        let old = self
            .running
            .lock()
            .unwrap()
            .insert(repo.to_string(), (port, handle));
        if let Some((_, old)) = old {
            old.stop(true).await;
        }
        Ok(())
    }

    /// Stops serving `repo`'s port, if it has one (in-flight requests finish first).
    pub async fn stop(&self, repo: &str) {
        let old = self.running.lock().unwrap().remove(repo);
        if let Some((port, handle)) = old {
            handle.stop(true).await;
            tracing::info!(repository = repo, port, "connector port closed");
        }
    }

    /// Opens the ports of every repository that has one (at start).
    pub async fn open_configured(self: &Arc<Self>) -> anyhow::Result<()> {
        for config in self.state.registry.repository_configs() {
            if let Some(port) = config.http_port {
                let listener = self
                    .bind(&config.name, port)
                    .map_err(|e| anyhow::anyhow!("repository {}: {e}", config.name))?;
                if let Some(listener) = listener {
                    self.start(&config.name, listener).await?;
                }
            }
        }
        Ok(())
    }

    /// Makes the open ports match the definitions after another node changed them: ports of
    /// deleted repositories (or moved ports) close, new ones open. A port that cannot be
    /// opened here (another process holds it) is logged, not fatal: the definition was
    /// accepted where it was made.
    pub async fn sync(self: &Arc<Self>) {
        let wanted: HashMap<String, u16> = self
            .state
            .registry
            .repository_configs()
            .into_iter()
            .filter_map(|c| c.http_port.map(|p| (c.name, p)))
            .collect();
        let running: Vec<(String, u16)> = {
            let running = self.running.lock().unwrap();
            running.iter().map(|(n, (p, _))| (n.clone(), *p)).collect()
        };
        for (name, port) in running {
            if wanted.get(&name) != Some(&port) {
                self.stop(&name).await;
            }
        }
        for (name, port) in wanted {
            let opened = match self.bind(&name, port) {
                Ok(Some(listener)) => self.start(&name, listener).await.map_err(|e| e.to_string()),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = opened {
                tracing::warn!(repository = %name, error = %e, "connector port not opened");
            }
        }
    }

    /// Stops every connector port (at shutdown).
    pub async fn stop_all(&self) {
        let names: Vec<String> = self.running.lock().unwrap().keys().cloned().collect();
        for name in names {
            self.stop(&name).await;
        }
    }
}

/// The admin API's view of the connector ports (`Arc` because a started port's server
/// holds the set too: its own app can change repositories).
impl Ports for Arc<Connectors> {
    fn bind(&self, repo: &str, port: u16) -> Result<Option<TcpListener>, String> {
        Connectors::bind(self, repo, port)
    }

    fn start<'a>(
        &'a self,
        repo: &'a str,
        listener: TcpListener,
    ) -> PortFuture<'a, std::io::Result<()>> {
        Box::pin(Connectors::start(self, repo, listener))
    }

    fn stop<'a>(&'a self, repo: &'a str) -> PortFuture<'a, ()> {
        Box::pin(Connectors::stop(self, repo))
    }
}
