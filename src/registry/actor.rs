//! The repository actor: the single writer of one repository's state.
//!
//! Every state change (upload sessions, blob links, manifests, tags) is a message handled
//! with an [`AtomicResponse`], so changes of one repository never interleave: a tag cannot
//! move between a policy check and its write, and a manifest's references cannot vanish
//! between the check and the insert. The work itself lives in [`RepoCore`]; the actor only
//! orders it. Reads never come here (see [`super::ImageState`]).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::core::RepoCore;
use super::messages::*;

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

/// Implements a handler that runs `RepoCore::$method` to completion before the next
/// message of this actor starts.
macro_rules! serialized {
    ($msg:ty => $method:ident) => {
        impl Handler<$msg> for RepositoryActor {
            type Result = AtomicResponse<Self, <$msg as Message>::Result>;

            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) -> Self::Result {
                let core = self.core.clone();
                AtomicResponse::new(Box::pin(
                    async move { core.$method(msg).await }.into_actor(self),
                ))
            }
        }
    };
}

serialized!(LoadImage => load_image);
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
