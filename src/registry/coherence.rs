//! Keeping this node's memory in step with changes other nodes make to a shared metadata
//! database (see `meta::Changes`): the composition root receives the announcements and
//! calls these.
//!
//! - An image changed: its cached state is forgotten ([`Registry::forget_image`]); the next
//!   read loads it from the database. Warm reads of unchanged images still never query it.
//! - Definitions changed: the repository and blob store definitions are read again and the
//!   difference applied ([`Registry::reload_definitions`]). An unchanged repository keeps its
//!   actor, image states and upload sessions; a changed one keeps them too and only takes
//!   the new settings (as when the admin API changes it on this node).
//! - Announcements may have been lost: both, for everything ([`Registry::forget_all_images`]).

use std::collections::HashSet;

use super::{Registry, RegistryError, Repository};
use crate::oci::ImageName;

impl Registry {
    /// Forgets the cached state of image `image` of `repository` (every image of it with
    /// `None`). Unknown repositories and names that do not parse have nothing cached.
    pub fn forget_image(&self, repository: &str, image: Option<&str>) {
        let Some(Repository::Hosted(hosted)) = self.repository(repository) else {
            return;
        };
        match image.map(ImageName::parse) {
            Some(Ok(name)) => hosted.core.invalidate(Some(&name)),
            Some(Err(_)) => {}
            None => hosted.core.invalidate(None),
        }
    }

    /// Forgets every cached image state (upload sessions stay: they live only here).
    pub fn forget_all_images(&self) {
        let hosted: Vec<_> = self
            .repos
            .iter()
            .filter_map(|r| match r.value() {
                Repository::Hosted(h) => Some(h.clone()),
                Repository::Group(_) => None,
            })
            .collect();
        for h in hosted {
            h.core.invalidate(None);
        }
    }

    /// Reads the repository and blob store definitions from the database and makes this
    /// node's match: new ones installed, changed ones updated in place, deleted ones
    /// dropped. Serialized with this node's own definition changes.
    pub async fn reload_definitions(&self) -> Result<(), RegistryError> {
        let _guard = self.definitions.lock().await;
        let stores = self.meta.load_blob_stores().await?;
        for store in &stores {
            // Opens a new store; an open one keeps its instance and takes the new quotas.
            self.open_store(store).await.map_err(|e| {
                RegistryError::Definition(format!("cannot open blob store {}: {e}", store.name))
            })?;
        }
        let repos = self.meta.load_repositories().await?;
        self.validate_all(&repos)
            .map_err(|e| RegistryError::Definition(e.to_string()))?;
        let names: HashSet<&str> = repos.iter().map(|r| r.name.as_str()).collect();
        for gone in self.repository_configs() {
            if !names.contains(gone.name.as_str()) {
                self.repos.remove(&gone.name);
                tracing::info!(repository = %gone.name, "repository deleted by another node");
            }
        }
        for repo in repos {
            let current = self.repository(&repo.name).map(|r| r.config());
            if current.as_deref() != Some(&repo) {
                tracing::info!(repository = %repo.name, "repository defined by another node");
                self.install(repo)?;
            }
        }
        let store_names: HashSet<&str> = stores.iter().map(|s| s.name.as_str()).collect();
        self.stores
            .retain(|name, _| store_names.contains(name.as_str()));
        Ok(())
    }
}
