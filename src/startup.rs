//! Builds the server: binds the listener first (so tests can ask for port 0 and learn the
//! real port), opens the registry, then runs until a shutdown signal.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpServer};

use crate::auth::Security;
use crate::config::{Limits, Settings};
use crate::connectors::Connectors;
use crate::http::{self, Connector};
use crate::registry::Registry;

pub struct Application {
    listener: TcpListener,
    registry: web::Data<Registry>,
    connectors: Arc<Connectors>,
    limits: web::Data<Limits>,
    security: web::Data<Security>,
    settings: Settings,
    /// This process's exclusive hold on the data directory, for as long as it serves.
    _data_lock: crate::datadir::DataDirLock,
}

/// The application served on the main port (`connector: None`) and on connector ports.
pub fn build_app(
    registry: web::Data<Registry>,
    limits: web::Data<Limits>,
    security: web::Data<Security>,
    connectors: Arc<Connectors>,
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
        .app_data(registry)
        .app_data(limits)
        .app_data(security)
        .app_data(web::Data::from(connectors));
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
        // The request span costs an id, the connection info and its fields on every request:
        // built only when the log level records spans of its level (info).
        .wrap(actix_web::middleware::Condition::new(
            tracing::enabled!(target: "tracing_actix_web", tracing::Level::INFO),
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

/// The metadata database (`[meta] url`, else the data directory's SQLite file; created and
/// migrated if needed), sealing secrets in definitions with the data directory's key.
async fn open_meta(settings: &Settings) -> anyhow::Result<crate::meta::Meta> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let secrets = crate::sealed::SealKey::load_or_create(
        &settings.data_dir.join(crate::datadir::SECRETS_KEY_FILE),
    )?;
    let location = settings.meta_location()?;
    let meta = crate::meta::Meta::open(location)
        .await
        .map_err(|e| match &settings.meta.url {
            Some(url) => anyhow::anyhow!(
                "cannot open the metadata database {} (setting meta.url): {e}",
                crate::meta::redact_url(url)
            ),
            None => e.into(),
        })?;
    Ok(meta.with_secrets(secrets))
}

impl Application {
    /// Opens storage, binds the main port and the connector ports. Must run inside an actix
    /// system.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::metrics::init();
        http::access_log::configure(settings.log.access, settings.log.access_sample);
        crate::metrics::spawn_upkeep();
        let listener = crate::preflight::bind(settings.listen)?;
        crate::preflight::data_dir(&settings.data_dir)?;
        let data_lock = crate::datadir::prepare(&settings.data_dir)?;
        let meta = open_meta(&settings).await?;
        let registry = web::Data::new(Registry::open(&settings, meta.clone()).await?);
        registry.usage().clone().spawn_upkeep();
        let limits = web::Data::new(settings.limits.clone());
        let security = web::Data::new(
            Security::open(
                &settings.security,
                &settings.data_dir,
                meta.security().clone(),
            )
            .await?,
        );
        if !security.enabled() {
            tracing::warn!(
                "security disabled: anyone who can reach this port can push and delete; \
                 set security.enabled = true"
            );
        }
        let connectors = Arc::new(Connectors::new(
            settings.listen.ip(),
            registry.clone(),
            limits.clone(),
            security.clone(),
        ));
        connectors.open_configured().await?;
        crate::tasks::spawn_scheduler(registry.clone());
        crate::registry::spawn_download_flusher(registry.clone());
        Ok(Application {
            listener,
            registry,
            connectors,
            limits,
            security,
            settings,
            _data_lock: data_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (registry, limits, security, connectors) = (
            self.registry.clone(),
            self.limits.clone(),
            self.security.clone(),
            self.connectors.clone(),
        );
        let addr = self.listener.local_addr()?;
        let tls = self.security.tls.clone();
        let server = HttpServer::new(move || {
            build_app(
                registry.clone(),
                limits.clone(),
                security.clone(),
                connectors.clone(),
                None,
            )
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(self.listener, (*config).clone())?,
            None => server.listen(self.listener)?,
        };
        let mut server = server
            .client_request_timeout(std::time::Duration::from_secs(60))
            .shutdown_timeout(30);
        if self.settings.workers > 0 {
            server = server.workers(self.settings.workers);
        }
        tracing::info!(%addr, "berth listening on {scheme}://{addr}");
        server.run().await?;
        self.connectors.stop_all().await;
        if let Err(e) = self.registry.usage().flush().await {
            tracing::error!(error = %e, "cannot write usage counters at shutdown");
        }
        tracing::info!("berth stopped");
        Ok(())
    }
}
