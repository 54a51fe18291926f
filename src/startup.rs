//! Builds the server: binds the listener first (so tests can ask for port 0 and learn the
//! real port), opens the registry, then runs until a shutdown signal.

use std::net::TcpListener;

use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::http;
use crate::registry::Registry;

pub struct Application {
    listener: TcpListener,
    registry: web::Data<Registry>,
    settings: Settings,
}

impl Application {
    /// Opens storage and binds the main port. Must run inside an actix system.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)?;
        let registry = web::Data::new(Registry::open(&settings).await?);
        Ok(Application {
            listener,
            registry,
            settings,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let registry = self.registry.clone();
        let limits = web::Data::new(self.settings.limits.clone());
        let addr = self.listener.local_addr()?;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(registry.clone())
                .app_data(limits.clone())
                .wrap(tracing_actix_web::TracingLogger::default())
                .configure(http::configure)
        })
        .listen(self.listener)?
        .client_request_timeout(std::time::Duration::from_secs(60))
        .shutdown_timeout(30);
        if self.settings.workers > 0 {
            server = server.workers(self.settings.workers);
        }
        tracing::info!(%addr, "berth listening on http://{addr}");
        server.run().await?;
        tracing::info!("berth stopped");
        Ok(())
    }
}
