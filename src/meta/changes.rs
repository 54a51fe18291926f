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
use tokio::sync::mpsc::{self, error::TrySendError};

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

/// Changes other nodes made, in the order their transactions committed; at most
/// [`QUEUE_BOUND`] wait in it (see [`ChangeSender`]).
pub type ChangeStream = mpsc::Receiver<Change>;

/// Most changes queued for the subscriber. A burst of pushes on other nodes, or a slow
/// reload on this one, fills it; then announcements are dropped and replaced by one
/// [`Change::Resync`], which reloads what they named and more.
pub const QUEUE_BOUND: usize = 4096;

/// The sending side of a [`ChangeStream`]: never waits and never grows beyond its bound.
/// When the queue is full the change is dropped and a [`Change::Resync`] is owed, delivered
/// as soon as there is room (by the next [`ChangeSender::send`], or by
/// [`ChangeSender::settle`] while no change comes). Changes dropped meanwhile are covered:
/// each was committed before the owed `Resync` is queued, so the reload it causes reads them.
#[derive(Debug)]
pub struct ChangeSender {
    tx: mpsc::Sender<Change>,
    owes_resync: bool,
}

/// The subscriber dropped its [`ChangeStream`]: nobody receives changes any more.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsubscribed;

impl ChangeSender {
    /// A sender and its stream, holding at most `bound` changes.
    pub fn channel(bound: usize) -> (ChangeSender, ChangeStream) {
        let (tx, rx) = mpsc::channel(bound);
        let sender = ChangeSender {
            tx,
            owes_resync: false,
        };
        (sender, rx)
    }

    /// Queues `change`, or drops it (and owes a `Resync`) when the queue is full.
    pub fn send(&mut self, change: Change) -> Result<(), Unsubscribed> {
        if self.owes_resync && !self.try_resync()? {
            return Ok(());
        }
        match self.tx.try_send(change) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    bound = self.tx.max_capacity(),
                    "change queue full; dropping announcements, then resyncing"
                );
                self.owes_resync = true;
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(Unsubscribed),
        }
    }

    /// Owes a `Resync` (announcements were lost elsewhere, e.g. with a connection), sent
    /// as soon as there is room.
    pub fn owe_resync(&mut self) -> Result<(), Unsubscribed> {
        self.owes_resync = true;
        self.try_resync().map(|_| ())
    }

    /// Waits until the owed `Resync` is queued; never returns while none is owed. Cancel
    /// safe, for a `select!` beside the source of changes.
    pub async fn settle(&mut self) -> Result<(), Unsubscribed> {
        if !self.owes_resync {
            return std::future::pending().await;
        }
        let permit = self.tx.reserve().await.map_err(|_| Unsubscribed)?;
        self.owes_resync = false;
        permit.send(Change::Resync);
        Ok(())
    }

    /// Whether the subscriber is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues the owed `Resync` if there is room; whether it was queued.
    fn try_resync(&mut self) -> Result<bool, Unsubscribed> {
        match self.tx.try_reserve() {
            Ok(permit) => {
                self.owes_resync = false;
                permit.send(Change::Resync);
                Ok(true)
            }
            Err(TrySendError::Full(())) => Ok(false),
            Err(TrySendError::Closed(())) => Err(Unsubscribed),
        }
    }
}

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

    fn image(n: usize) -> Change {
        Change::Image {
            repository: "hosted".into(),
            image: Some(format!("image-{n}")),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_changes_and_owes_one_resync_sent_with_the_next_change() {
        let (mut tx, mut rx) = ChangeSender::channel(4);
        for n in 0..100 {
            tx.send(image(n)).unwrap();
            assert!(rx.len() <= 4, "queue holds {} after change {n}", rx.len());
        }
        // The first four arrive; the other 96 were dropped.
        for n in 0..4 {
            assert_eq!(rx.recv().await, Some(image(n)));
        }
        assert!(rx.is_empty());
        // With room again, the next change comes after the owed Resync, and only one is owed.
        tx.send(image(100)).unwrap();
        tx.send(image(101)).unwrap();
        assert_eq!(rx.recv().await, Some(Change::Resync));
        assert_eq!(rx.recv().await, Some(image(100)));
        assert_eq!(rx.recv().await, Some(image(101)));
        assert!(rx.is_empty());
    }

    #[tokio::test]
    async fn settle_queues_the_owed_resync_as_soon_as_the_subscriber_makes_room() {
        let (mut tx, mut rx) = ChangeSender::channel(2);
        for n in 0..3 {
            tx.send(image(n)).unwrap();
        }
        assert_eq!(rx.len(), 2);
        // Nothing owed is settled while the queue stays full.
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), tx.settle());
        assert!(waited.await.is_err(), "settled without room");
        let consumer = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(change) = rx.recv().await {
                got.push(change);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            got
        });
        tx.settle().await.unwrap();
        // Nothing more is owed: a second settle waits for good.
        let again = tokio::time::timeout(std::time::Duration::from_millis(50), tx.settle());
        assert!(again.await.is_err(), "a second Resync was owed");
        drop(tx);
        let got = consumer.await.unwrap();
        assert_eq!(got, vec![image(0), image(1), Change::Resync]);
    }

    #[tokio::test]
    async fn a_resync_owed_for_a_lost_connection_waits_for_room_too() {
        let (mut tx, mut rx) = ChangeSender::channel(1);
        tx.send(image(0)).unwrap();
        tx.owe_resync().unwrap();
        assert_eq!(rx.len(), 1);
        assert_eq!(rx.recv().await, Some(image(0)));
        tx.settle().await.unwrap();
        assert_eq!(rx.recv().await, Some(Change::Resync));
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(image(1)), Err(Unsubscribed));
    }
}
