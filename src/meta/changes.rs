//! Change notifications: how one node learns that another changed what it keeps in memory.
//!
//! Every node caches image state, repository and blob store definitions and the security
//! model, and treats them as the read authority (a warm manifest GET never asks the
//! database). With several nodes on one database, a write on one node must reach the
//! others' memory. A backend shared by several processes (PostgreSQL) announces each such
//! write *inside* its transaction, so the announcement is delivered only if, and only once,
//! the write committed; a subscriber forgets or reloads what the announcement names.
//!
//! Announcements are hints, not a log: the database stays the truth. When the subscription
//! may have missed some (its connection was lost and re-made), it yields [`Change::Resync`],
//! and the subscriber reloads everything.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::MetaError;

/// What another node changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Tags, manifests or blob links of one image changed; `image: None` means every image
    /// of the repository (its definition and images were deleted).
    Image {
        repository: String,
        image: Option<String>,
    },
    /// Repository or blob store definitions changed.
    Definitions,
    /// Users, roles, privileges or security settings changed.
    Security,
    /// Announcements may have been lost (the subscription reconnected): reload everything.
    Resync,
}

/// The announcement as it travels: the change and the node that made it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Announcement {
    /// The sending process (random per process), so a node skips its own.
    pub node: String,
    #[serde(flatten)]
    pub change: Change,
}

/// Changes other nodes made, in the order their transactions committed.
pub type ChangeStream = tokio::sync::mpsc::UnboundedReceiver<Change>;

/// Subscribing to other nodes' changes.
#[async_trait]
pub trait Changes: Send + Sync + std::fmt::Debug {
    /// This process's id in its announcements.
    fn node_id(&self) -> &str;
    /// Whether other processes may write this database (then a read that misses in this
    /// node's memory asks the database before answering "unknown").
    fn shared(&self) -> bool;
    /// Starts listening; `None` when no other process can change this database (SQLite:
    /// one process per data directory). Subscribe before loading what the changes are about,
    /// so that nothing committed between the load and the subscription is missed.
    async fn subscribe(&self) -> Result<Option<ChangeStream>, MetaError>;
}

/// A random id for this process's announcements.
pub fn new_node_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_round_trip_as_small_json() {
        let a = Announcement {
            node: "n1".into(),
            change: Change::Image {
                repository: "hosted".into(),
                image: Some("library/redis".into()),
            },
        };
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"node":"n1","kind":"image","repository":"hosted","image":"library/redis"}"#
        );
        let back: Announcement = serde_json::from_str(&text).unwrap();
        assert_eq!(back.change, a.change);
        let d: Announcement = serde_json::from_str(r#"{"node":"x","kind":"definitions"}"#).unwrap();
        assert_eq!(d.change, Change::Definitions);
    }
}
