//! The metadata conformance suite: one set of tests every metadata backend must pass, run
//! over the traits of `berth::meta` (the way the storage suite runs over every blob store).
//! Each backend is instantiated with one `conformance!` line naming how to open an empty
//! database.

mod conformance;
mod upgrade;

use berth::meta::Meta;

/// An empty SQLite database in a fresh temporary directory (kept alive by the guard).
async fn open_sqlite() -> (Box<dyn std::any::Any>, Meta) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = Meta::data_dir_url(dir.path());
    let meta = Meta::connect(&url).await.expect("open sqlite");
    (Box::new(dir), meta)
}

mod sqlite {
    crate::conformance!(crate::open_sqlite());
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
