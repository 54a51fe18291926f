//! The repository actor: the single writer of one repository's state, and its supervisor.
//!
//! Every state change (upload sessions, blob links, manifests, tags) is a message handled
//! with an [`AtomicResponse`], so changes of one repository never interleave: a tag cannot
//! move between a policy check and its write, and a manifest's references cannot vanish
//! between the check and the insert. The work itself lives in [`RepoCore`]; the actor only
//! orders it. Reads never come here (see [`super::ImageState`]).
//!
//! An actor must not die with its repository: once its mailbox closes, every write answers
//! `503` forever. A handler that panics is answered with an error and the in-memory state is
//! dropped (the database, written first, is the truth; images reload on their next use).
//! An actor that stops for any other reason is started again by [`Supervised`] on the next
//! message. Both are logged and counted in [`crate::metrics::ACTOR_RESTARTS`].

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::prelude::*;
use futures_util::FutureExt;

use super::core::RepoCore;
use super::messages::*;
use super::RegistryError;

/// How often idle upload sessions are looked for.
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);

pub struct RepositoryActor {
    core: Arc<RepoCore>,
}

impl RepositoryActor {
    pub fn new(core: Arc<RepoCore>) -> Self {
        RepositoryActor { core }
    }
}

impl Actor for RepositoryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(EXPIRY_SWEEP, |_, ctx| {
            ctx.notify(ExpireUploads);
        });
    }
}

/// What a handler answers when its work panicked.
trait PanicAnswer {
    fn after_panic(repository: &str) -> Self;
}

impl<T> PanicAnswer for Result<T, RegistryError> {
    fn after_panic(repository: &str) -> Self {
        Err(RegistryError::Unavailable(format!(
            "repository {repository} failed on this request and was reset; retry it"
        )))
    }
}

impl PanicAnswer for () {
    fn after_panic(_: &str) -> Self {}
}

/// Runs `work` for the actor; a panic becomes an error answer and a reset of the core.
async fn guarded<F, R>(core: Arc<RepoCore>, work: F) -> R
where
    F: std::future::Future<Output = R>,
    R: PanicAnswer,
{
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(answer) => answer,
        Err(_) => {
            restarted(&core, "a handler panicked");
            R::after_panic(&core.name)
        }
    }
}

/// Logs and counts a restart, and drops the in-memory state so it reloads from the database.
fn restarted(core: &RepoCore, why: &str) {
    tracing::error!(repository = %core.name, why, "repository actor restarted; state reloads from the database");
    metrics::counter!(crate::metrics::ACTOR_RESTARTS, "repository" => core.name.clone())
        .increment(1);
    core.reset();
}

/// Implements a handler that runs `RepoCore::$method` to completion before the next
/// message of this actor starts.
macro_rules! serialized {
    ($msg:ty => $method:ident) => {
        impl Handler<$msg> for RepositoryActor {
            type Result = AtomicResponse<Self, <$msg as Message>::Result>;

            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) -> Self::Result {
                let core = self.core.clone();
                let work = async move { core.$method(msg).await };
                AtomicResponse::new(Box::pin(guarded(self.core.clone(), work).into_actor(self)))
            }
        }
    };
}

serialized!(LoadImage => load_image);
serialized!(ReloadImage => reload_image);
serialized!(StartUpload => start_upload);
serialized!(EndUpload => end_upload);
serialized!(LinkBlob => link_blob);
serialized!(MountBlob => mount_blob);
serialized!(UnlinkBlob => unlink_blob);
serialized!(PutManifest => put_manifest);
serialized!(CacheManifest => cache_manifest);
serialized!(DeleteManifest => delete_manifest);
serialized!(DeleteTag => delete_tag);
serialized!(ExpireUploads => expire_uploads);
serialized!(CleanupTag => cleanup_tag);
serialized!(CleanupManifest => cleanup_manifest);

/// The address of a repository's actor, started again whenever it is found stopped.
pub struct Supervised {
    addr: RwLock<Addr<RepositoryActor>>,
    arbiter: ArbiterHandle,
}

impl Supervised {
    /// Starts the actor of `core` on `arbiter`.
    pub fn start(core: Arc<RepoCore>, arbiter: ArbiterHandle) -> Self {
        let addr = spawn(core, &arbiter);
        Supervised {
            addr: RwLock::new(addr),
            arbiter,
        }
    }

    /// A live address: the current actor, or a new one if it stopped.
    pub fn addr(&self, core: &Arc<RepoCore>) -> Addr<RepositoryActor> {
        let addr = self.addr.read().unwrap().clone();
        if addr.connected() {
            return addr;
        }
        let mut slot = self.addr.write().unwrap();
        // Another request may have restarted it meanwhile.
        if !slot.connected() {
            restarted(core, "its mailbox closed");
            *slot = spawn(core.clone(), &self.arbiter);
        }
        slot.clone()
    }
}

fn spawn(core: Arc<RepoCore>, arbiter: &ArbiterHandle) -> Addr<RepositoryActor> {
    RepositoryActor::start_in_arbiter(arbiter, move |_| RepositoryActor::new(core))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::oci::ImageName;
    use crate::registry::{Registry, Repository};

    /// Test-only: a message whose work panics, as a bug in any handler would.
    #[derive(Message)]
    #[rtype(result = "Result<(), RegistryError>")]
    struct Explode;

    impl Handler<Explode> for RepositoryActor {
        type Result = AtomicResponse<Self, Result<(), RegistryError>>;

        fn handle(&mut self, _: Explode, _: &mut Context<Self>) -> Self::Result {
            let work = async { panic!("injected failure") };
            AtomicResponse::new(Box::pin(guarded(self.core.clone(), work).into_actor(self)))
        }
    }

    /// Test-only: stops the actor, as a panic outside a handler would.
    #[derive(Message)]
    #[rtype(result = "Result<(), RegistryError>")]
    struct Halt;

    impl Handler<Halt> for RepositoryActor {
        type Result = Result<(), RegistryError>;

        fn handle(&mut self, _: Halt, ctx: &mut Context<Self>) -> Self::Result {
            ctx.stop();
            Ok(())
        }
    }

    fn start(name: &ImageName) -> StartUpload {
        StartUpload {
            name: name.clone(),
            client: None,
        }
    }

    #[actix_web::test]
    async fn a_repository_whose_actor_panicked_or_stopped_keeps_taking_writes() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let registry = Registry::open(
            &settings,
            crate::meta::Meta::open_data_dir(&settings.data_dir)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        let Some(Repository::Hosted(repo)) = registry.default_repository() else {
            panic!("the default repository is hosted");
        };
        let name = ImageName::parse("app").unwrap();
        repo.send(start(&name)).await.unwrap();

        // Act + Assert: a panicking handler is answered with an error, the actor lives on.
        assert!(matches!(
            repo.send(Explode).await,
            Err(RegistryError::Unavailable(_))
        ));
        repo.send(start(&name)).await.unwrap();

        // Act + Assert: a stopped actor is started again for the next message.
        let stopped = repo.actor.addr(&repo.core);
        repo.send(Halt).await.unwrap();
        while stopped.connected() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        repo.send(start(&name)).await.unwrap();
        assert_eq!(repo.core.uploads.len(), 3, "sessions survive the restarts");
    }
}
