//! Change announcements over PostgreSQL `NOTIFY` on one channel, `berth_changes`.
//!
//! Writers call `pg_notify` inside their write transaction: PostgreSQL delivers a
//! notification only when that transaction commits, in commit order, and drops identical
//! ones of one transaction (a GC batch unlinking many blobs of one image announces it once).
//! The payload is the JSON of [`Announcement`]; names are short (a repository name, an
//! image name of at most a few hundred bytes), well under the 8000-byte payload limit, and
//! an image name that would not fit is replaced by "every image of the repository".
//!
//! The subscription holds one connection for good (a `PgListener` on a pool of its own). When that
//! connection is lost — a database restart, a network cut — announcements made meanwhile
//! are gone, so after listening again it yields [`Change::Resync`]. The queue to the
//! subscriber is bounded ([`ChangeSender`]): a subscriber that falls behind gets one
//! `Resync` for the announcements it could not hold.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{Stream, StreamExt};
use sqlx::postgres::{PgListener, PgNotification};
use sqlx::{PgConnection, PgPool};

use super::PgMeta;
use crate::meta::changes::{
    Announcement, Change, ChangeSender, ChangeStream, Changes, QUEUE_BOUND,
};
use crate::meta::MetaError;

/// The one channel every node listens on.
pub const CHANNEL: &str = "berth_changes";

/// Image names longer than this are announced as "the whole repository" (the payload limit
/// is 8000 bytes; repository names are short, see `model::RepositoryConfig::validate`).
const MAX_NAME: i32 = 4000;

/// Longest wait between attempts to listen again after the connection was lost.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Announces a change of image `image_id` (looked up by id, in the same transaction).
pub(super) async fn image_changed(
    conn: &mut PgConnection,
    node: &str,
    image_id: i64,
) -> Result<(), MetaError> {
    sqlx::query(
        "SELECT pg_notify($1, json_build_object('node', $2::text, 'kind', 'image', \
         'repository', repository, \
         'image', CASE WHEN octet_length(name) <= $3 THEN name END)::text) \
         FROM images WHERE id = $4",
    )
    .bind(CHANNEL)
    .bind(node)
    .bind(MAX_NAME)
    .bind(image_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Announces `change` (built here, so its size is known).
pub(super) async fn announce(
    conn: &mut PgConnection,
    node: &str,
    change: Change,
) -> Result<(), MetaError> {
    let change = match change {
        Change::Image {
            repository,
            image: Some(image),
        } if image.len() > MAX_NAME as usize => Change::Image {
            repository,
            image: None,
        },
        other => other,
    };
    let payload = serde_json::to_string(&Announcement {
        node: node.to_string(),
        change,
    })
    .map_err(|e| MetaError::Corrupt(e.to_string()))?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl Changes for PgMeta {
    fn node_id(&self) -> &str {
        &self.node
    }

    fn shared(&self) -> bool {
        true
    }

    async fn subscribe(&self) -> Result<Option<ChangeStream>, MetaError> {
        let listener = listen(&self.listen_pool).await?;
        let (tx, rx) = ChangeSender::channel(QUEUE_BOUND);
        let pool = self.listen_pool.clone();
        tokio::spawn(forward(pool, listener, self.node.clone(), tx));
        Ok(Some(rx))
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, MetaError> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is re-made by `forward`, which then yields `Resync`.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forwards other nodes' announcements until the receiver is dropped; after a lost
/// connection, listens again (backing off while the database is away) and yields `Resync`.
async fn forward(pool: PgPool, first: PgListener, node: Arc<str>, mut tx: ChangeSender) {
    let mut listener = first;
    loop {
        let Some(lost) = receive(notifications(listener), &node, &mut tx).await else {
            return;
        };
        tracing::warn!(reason = %lost, "change notifications interrupted; listening again");
        // The listener (dropped with its stream) gave its one connection back to the pool.
        let Some(fresh) = relisten(&pool, &tx).await else {
            return;
        };
        listener = fresh;
        if tx.owe_resync().is_err() {
            return;
        }
        tracing::info!("change notifications resumed; reloading cached state");
    }
}

/// The listener's notifications as a stream: `None` items when the connection is lost.
/// A stream keeps the read in progress between polls, so waiting for the next one beside
/// [`ChangeSender::settle`] in a `select!` loses nothing (a dropped `try_recv` future
/// could drop a message half read).
fn notifications(
    listener: PgListener,
) -> impl Stream<Item = Result<Option<PgNotification>, sqlx::Error>> + Unpin {
    Box::pin(futures_util::stream::unfold(
        listener,
        |mut listener| async move {
            let next = listener.try_recv().await;
            Some((next, listener))
        },
    ))
}

/// Forwards announcements until the connection is lost (`Some(why)`) or nobody receives
/// them any more (`None`). A `Resync` owed for a full queue goes out as soon as there is
/// room, even while no announcement comes.
async fn receive(
    mut notifications: impl Stream<Item = Result<Option<PgNotification>, sqlx::Error>> + Unpin,
    node: &str,
    tx: &mut ChangeSender,
) -> Option<String> {
    loop {
        let next = tokio::select! {
            settled = tx.settle() => {
                settled.ok()?;
                continue;
            }
            next = notifications.next() => next,
        };
        let change = match next {
            Some(Ok(Some(notification))) => {
                match serde_json::from_str::<Announcement>(notification.payload()) {
                    // Our own: this node's memory changed with the write.
                    Ok(a) if a.node == node => continue,
                    Ok(a) => a.change,
                    // From a newer Berth, perhaps: reloading everything is always correct.
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable change announcement; resyncing");
                        Change::Resync
                    }
                }
            }
            Some(Ok(None)) | None => return Some("connection lost".to_string()),
            Some(Err(e)) => return Some(e.to_string()),
        };
        tx.send(change).ok()?;
    }
}

/// A fresh listener, retried with a growing pause until the database answers; `None` once
/// nobody receives the changes any more.
async fn relisten(pool: &PgPool, tx: &ChangeSender) -> Option<PgListener> {
    let mut pause = Duration::from_millis(100);
    loop {
        if tx.is_closed() {
            return None;
        }
        match listen(pool).await {
            Ok(listener) => return Some(listener),
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for changes yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
        }
    }
}
