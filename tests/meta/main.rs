//! The metadata conformance suite: one set of tests every metadata backend must pass, run
//! over the traits of `berth::meta` (the way the storage suite runs over every blob store).
//! Each backend is instantiated with one `conformance!` line naming how to open an empty
//! database.

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod races;
mod upgrade;

use berth::meta::{Location, Meta, PgSettings};
use common::postgres::Postgres;

type Guard = Box<dyn std::any::Any>;

/// An empty SQLite database in a fresh temporary directory (kept alive by the guard).
async fn open_sqlite() -> Option<(Guard, Meta)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = Meta::data_dir_url(dir.path());
    let meta = Meta::connect(&url).await.expect("open sqlite");
    Some((Box::new(dir), meta))
}

/// An empty database on a private PostgreSQL server (stopped when the guard drops); `None`
/// when PostgreSQL is missing and `BERTH_SKIP_POSTGRES=1`.
async fn open_postgres() -> Option<(Guard, Meta)> {
    let server = Postgres::start()?;
    let meta = Meta::open(Location::Postgres(PgSettings::new(&server.url())))
        .await
        .expect("open postgres");
    Some((Box::new(server), meta))
}

mod sqlite {
    crate::conformance!(crate::open_sqlite());
}

mod postgres {
    crate::conformance!(crate::open_postgres());
}

#[tokio::test]
async fn sqlite_allow_once_races_have_one_winner() {
    let (_guard, meta) = open_sqlite().await.unwrap();
    races::allow_once_races_have_one_winner(&meta, &meta.clone()).await;
}

/// Two handles are two nodes: two pools, so the writes race in the database itself.
#[tokio::test]
async fn postgres_allow_once_races_between_nodes_have_one_winner() {
    let Some((guard, a)) = open_postgres().await else {
        return;
    };
    let server = guard.downcast_ref::<Postgres>().unwrap();
    let b = Meta::connect(&server.url()).await.expect("second node");
    races::allow_once_races_have_one_winner(&a, &b).await;
}

/// A second node starting on a migrated database applies nothing and sees the data.
#[tokio::test]
async fn postgres_a_second_node_opens_a_migrated_database() {
    let Some((guard, a)) = open_postgres().await else {
        return;
    };
    let server = guard.downcast_ref::<Postgres>().unwrap();
    a.documents()
        .save_document(berth::meta::DocKind::Tasks, "t", "{}")
        .await
        .unwrap();
    let b = Meta::connect(&server.url()).await.expect("second node");
    let docs = b
        .documents()
        .load_documents(berth::meta::DocKind::Tasks)
        .await
        .unwrap();
    assert_eq!(docs, vec!["{}".to_string()]);
}

/// The database's own schema version table still lists the migrations a data directory of
/// an earlier build applied, with the same checksums (files moved, not changed): reopening
/// one must not fail with "migration was previously applied but has been modified".
#[tokio::test]
async fn sqlite_reopens_its_own_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = Meta::data_dir_url(dir.path());
    let first = Meta::connect(&url).await.unwrap();
    first
        .documents()
        .save_document(berth::meta::DocKind::Tasks, "t", "{}")
        .await
        .unwrap();
    drop(first);
    let again = Meta::connect(&url).await.unwrap();
    let docs = again
        .documents()
        .load_documents(berth::meta::DocKind::Tasks)
        .await
        .unwrap();
    assert_eq!(docs, vec!["{}".to_string()]);
}

#[tokio::test]
async fn unknown_url_scheme_is_refused() {
    let err = Meta::connect("mysql://localhost/berth").await.unwrap_err();
    assert!(err.to_string().contains("mysql://"), "{err}");
}
