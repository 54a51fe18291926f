//! The lock trait on PostgreSQL, two handles on one database standing for two nodes; and
//! SQLite, where there is one process and every lock is granted.

use std::time::Duration;

use berth::meta::{Location, Meta, PgSettings};

use crate::common::postgres::Postgres;

async fn two_nodes(pg: &Postgres) -> (Meta, Meta) {
    let open = || Meta::open(Location::Postgres(PgSettings::new(&pg.url())));
    (open().await.unwrap(), open().await.unwrap())
}

/// True if `fut` completes within half a second: used only to show that a lock is *not*
/// granted while it must not be (a broken lock is granted at once, so it fails the test).
async fn granted_soon<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(Duration::from_millis(500), fut)
        .await
        .ok()
}

#[tokio::test]
async fn shared_holders_coexist_and_the_exclusive_lock_waits_for_all_of_them() {
    // Arrange
    let Some(pg) = Postgres::start() else { return };
    let (a, b) = two_nodes(&pg).await;
    let first = a.locks().lock_shared("gc-gate:s").await.unwrap();
    let second = b.locks().lock_shared("gc-gate:s").await.unwrap();
    // Act
    let while_shared = granted_soon(b.locks().lock_exclusive("gc-gate:s")).await;
    let other_name = granted_soon(b.locks().lock_exclusive("gc-gate:t")).await;
    drop(first);
    let with_one_left = granted_soon(b.locks().lock_exclusive("gc-gate:s")).await;
    drop(second);
    let exclusive = b.locks().lock_exclusive("gc-gate:s").await.unwrap();
    let shared_meanwhile = granted_soon(a.locks().lock_shared("gc-gate:s")).await;
    drop(exclusive);
    let shared_after = a.locks().lock_shared("gc-gate:s").await;
    // Assert
    assert!(
        while_shared.is_none(),
        "exclusive granted beside two shared holders"
    );
    assert!(
        other_name.is_some_and(|r| r.is_ok()),
        "another name is independent"
    );
    assert!(
        with_one_left.is_none(),
        "exclusive granted beside a shared holder"
    );
    assert!(
        shared_meanwhile.is_none(),
        "shared granted beside the exclusive holder"
    );
    assert!(shared_after.is_ok());
}

#[tokio::test]
async fn a_lease_has_one_holder_in_the_cluster_until_it_is_dropped() {
    // Arrange
    let Some(pg) = Postgres::start() else { return };
    let (a, b) = two_nodes(&pg).await;
    // Act
    let held = a.locks().try_lease("gc-run:s").await.unwrap();
    let same_node = a.locks().try_lease("gc-run:s").await.unwrap();
    let other_node = b.locks().try_lease("gc-run:s").await.unwrap();
    drop(held);
    // The connection is cleared on its way back to the pool (a spawned task): poll.
    let mut after = None;
    for _ in 0..50 {
        after = b.locks().try_lease("gc-run:s").await.unwrap();
        if after.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Assert
    assert!(same_node.is_none(), "a second holder on the same node");
    assert!(other_node.is_none(), "a second holder on another node");
    assert!(
        after.is_some(),
        "the lease stayed taken after its holder dropped it"
    );
}

#[tokio::test]
async fn a_lease_whose_session_ends_is_free_for_the_others_and_knows_it_is_lost() {
    // Arrange
    let Some(pg) = Postgres::start() else { return };
    let (a, b) = two_nodes(&pg).await;
    let mut held = a.locks().try_lease("tasks-leader").await.unwrap().unwrap();
    assert!(held.still_held().await);
    // Act: end the holder's session from outside, as a node's death does.
    let admin = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    let taken_over = b.locks().try_lease("tasks-leader").await.unwrap();
    // Assert
    assert!(ended >= 1, "no lock session to end");
    assert!(
        taken_over.is_some(),
        "the lease of an ended session is still taken"
    );
    assert!(
        !held.still_held().await,
        "the holder did not notice it lost its lease"
    );
}

#[tokio::test]
async fn sqlite_grants_every_lock_at_once_as_it_has_one_process() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta::open_data_dir(dir.path()).await.unwrap();
    // Act
    let _exclusive = meta.locks().lock_exclusive("gc-gate:s").await.unwrap();
    let shared = granted_soon(meta.locks().lock_shared("gc-gate:s")).await;
    let lease = meta.locks().try_lease("gc-run:s").await.unwrap();
    // Assert
    assert!(shared.is_some_and(|r| r.is_ok()));
    assert!(lease.is_some());
}
