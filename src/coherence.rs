//! Several nodes, one truth: applies other nodes' changes (announced by the metadata
//! backend, `meta::Changes`) to what this node keeps in memory — image states, repository
//! and blob store definitions (and their connector ports), the security model.
//!
//! One task, started by `startup`, receives the announcements in commit order. Image changes
//! are applied at once (forgetting a map entry); definition and security changes, which
//! reload from the database, are coalesced: whatever queued up meanwhile is drained first,
//! so a burst of changes costs one reload. A reload that fails (the database is away) is
//! retried every [`RETRY`] until it succeeds. `Resync` (announcements may have been lost)
//! forgets every image state and reloads definitions and security.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::auth::Security;
use crate::connectors::Connectors;
use crate::meta::{Change, ChangeStream};
use crate::registry::Registry;
use crate::tasks::TaskService;

/// Pause before retrying a reload that failed.
const RETRY: Duration = Duration::from_secs(1);

/// What the task works on.
pub struct Coherence {
    pub registry: web::Data<Registry>,
    pub security: web::Data<Security>,
    pub connectors: Arc<Connectors>,
    /// Created tasks: the scheduler runs on the leader node whichever node created them.
    pub tasks: web::Data<TaskService>,
}

/// Reloads still to do.
#[derive(Default)]
struct Pending {
    definitions: bool,
    security: bool,
}

impl Coherence {
    /// Applies `changes` until the stream ends. Runs on the actix system (connector ports
    /// are started there).
    pub fn spawn(self, changes: ChangeStream) {
        actix_web::rt::spawn(self.run(changes));
    }

    async fn run(self, mut changes: ChangeStream) {
        let mut pending = Pending::default();
        loop {
            let next = if pending.definitions || pending.security {
                tokio::time::timeout(RETRY, changes.recv()).await
            } else {
                Ok(changes.recv().await)
            };
            match next {
                Ok(None) => return,
                Ok(Some(change)) => self.note(change, &mut pending),
                Err(_elapsed) => {}
            }
            while let Ok(change) = changes.try_recv() {
                self.note(change, &mut pending);
            }
            self.reload(&mut pending).await;
        }
    }

    /// Applies an image change now; records a reload for the others.
    fn note(&self, change: Change, pending: &mut Pending) {
        tracing::debug!(?change, "change from another node");
        match change {
            Change::Image { repository, image } => {
                self.registry.forget_image(&repository, image.as_deref())
            }
            Change::Definitions => pending.definitions = true,
            Change::Security => pending.security = true,
            Change::Resync => {
                self.registry.forget_all_images();
                pending.definitions = true;
                pending.security = true;
            }
        }
    }

    async fn reload(&self, pending: &mut Pending) {
        if pending.definitions {
            let reloaded = match self.registry.reload_definitions().await {
                Ok(()) => self.tasks.reload().await,
                Err(e) => Err(e),
            };
            match reloaded {
                Ok(()) => {
                    pending.definitions = false;
                    self.connectors.sync().await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot reload definitions; retrying"),
            }
        }
        if pending.security {
            match self.security.refresh().await {
                Ok(()) => pending.security = false,
                Err(e) => tracing::warn!(error = %e, "cannot reload the security model; retrying"),
            }
        }
    }
}
