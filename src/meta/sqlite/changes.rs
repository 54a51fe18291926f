//! No change announcements: one process owns a SQLite file (the data directory is locked),
//! so no other node can change what this one caches.

use async_trait::async_trait;

use super::SqliteMeta;
use crate::meta::{ChangeStream, Changes, MetaError};

#[async_trait]
impl Changes for SqliteMeta {
    fn node_id(&self) -> &str {
        "local"
    }

    fn shared(&self) -> bool {
        false
    }

    async fn subscribe(&self) -> Result<Option<ChangeStream>, MetaError> {
        Ok(None)
    }
}
