//! The composition root: binds the listener first (so tests can ask for port 0 and learn the
//! real port), opens metadata, usage, the registry, security and the connector ports, starts
//! the task scheduler, hands every layer what it uses, then runs until a shutdown signal.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, HttpServer};

use crate::app::build_app;
use crate::auth::Security;
use crate::config::Settings;
use crate::connectors::Connectors;
use crate::http::{self, ports::Ports, state::AdminAllowList, state::AppState};
use crate::registry::Registry;
use crate::tasks::TaskService;
use crate::usage::Usage;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    connectors: Arc<Connectors>,
    settings: Settings,
    /// This process's exclusive hold on the data directory, for as long as it serves.
    _data_lock: crate::datadir::DataDirLock,
}

/// The metadata database (`[meta] url`, else the data directory's SQLite file; created and
/// migrated if needed), sealing secrets in definitions with the data directory's key.
async fn open_meta(settings: &Settings) -> anyhow::Result<crate::meta::Meta> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let secrets = match &settings.secrets_key_file {
        Some(shared) => crate::sealed::SealKey::load(shared)?,
        None => crate::sealed::SealKey::load_or_create(
            &settings.data_dir.join(crate::datadir::SECRETS_KEY_FILE),
        )?,
    };
    let location = crate::meta::Location::of(settings)?;
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
        http::scrape::init();
        http::access_log::configure(settings.log.access, settings.log.access_sample);
        http::scrape::spawn_upkeep();
        let listener = crate::preflight::bind(settings.listen)?;
        crate::preflight::data_dir(&settings.data_dir)?;
        let data_lock = crate::datadir::prepare(&settings.data_dir, settings.meta.url.is_none())?;
        let meta = open_meta(&settings).await?;
        // Before anything is loaded: a change committed during the loads is then announced
        // to this node too (see `coherence`).
        let changes = meta.changes().subscribe().await?;
        let usage = Arc::new(Usage::open(settings.usage.clone(), meta.usage().clone()).await?);
        usage.clone().spawn_upkeep();
        let registry = web::Data::new(Registry::open(&settings, meta.clone()).await?);
        let security = web::Data::new(
            Security::open(
                &settings.security,
                &settings.data_dir,
                meta.security().clone(),
            )
            .await?,
        );
        let tasks =
            web::Data::new(TaskService::open(registry.clone(), meta, settings.gc.clone()).await?);
        if !security.enabled() {
            tracing::warn!(
                "security disabled: anyone who can reach this port can push and delete; \
                 set security.enabled = true"
            );
        }
        let state = AppState {
            registry: registry.clone(),
            usage: web::Data::from(usage),
            tasks: tasks.clone(),
            security,
            limits: web::Data::new(settings.limits.clone()),
            admin: web::Data::new(AdminAllowList(settings.admin_allowed_from.clone())),
        };
        let connectors = Arc::new(Connectors::new(settings.listen.ip(), state.clone()));
        connectors.open_configured().await?;
        if let Some(changes) = changes {
            crate::coherence::Coherence {
                registry: registry.clone(),
                security: state.security.clone(),
                connectors: connectors.clone(),
                tasks: tasks.clone(),
            }
            .spawn(changes);
        }
        crate::tasks::spawn_scheduler(tasks);
        crate::registry::spawn_download_flusher(registry);
        Ok(Application {
            listener,
            state,
            connectors,
            settings,
            _data_lock: data_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let state = self.state.clone();
        let ports: web::Data<dyn Ports> =
            web::Data::from(Arc::new(self.connectors.clone()) as Arc<dyn Ports>);
        let addr = self.listener.local_addr()?;
        let tls = self.state.security.tls.clone();
        let server = HttpServer::new(move || build_app(state.clone(), ports.clone(), None));
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
        if let Err(e) = self.state.usage.flush().await {
            tracing::error!(error = %e, "cannot write usage counters at shutdown");
        }
        tracing::info!("berth stopped");
        Ok(())
    }
}
