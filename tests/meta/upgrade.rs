//! A data directory written by an earlier build opens: its migration table (versions and
//! checksums recorded when the migrations lived in `./migrations`) matches the moved files,
//! and its records read back through the traits.

use berth::meta::{DocKind, Meta, SecurityTable};
use berth::oci::ImageName;
use sqlx::{Connection, Executor};

const FIXTURE: &str = include_str!("fixtures/berth-03e2096.sql");
const MANIFEST: &str = "sha256:12232be644547379ec0cb60de100bff53fdbd70b4dbbf65056ecb42b9b03820b";

#[tokio::test]
async fn database_of_commit_03e2096_opens_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    conn.execute(sqlx::raw_sql(FIXTURE)).await.unwrap();
    conn.close().await.unwrap();

    let meta = Meta::connect(&Meta::data_dir_url(dir.path()))
        .await
        .expect("an existing database opens (migration checksums match)");
    let name = ImageName::parse("app").unwrap();
    let id = meta
        .images()
        .find_image("docker-hosted", &name)
        .await
        .unwrap()
        .expect("the pushed image");
    let image = meta.images().load_image(id).await.unwrap();
    assert_eq!(image.tags.len(), 1);
    assert_eq!(
        (image.tags[0].0.as_str(), image.tags[0].1.as_str()),
        ("v1", MANIFEST)
    );
    assert_eq!(image.blobs.len(), 2);
    let repos = meta.load_repositories().await.unwrap();
    assert_eq!(repos.len(), 1);
    assert_eq!(repos[0].name, "docker-hosted");
    assert_eq!(meta.load_blob_stores().await.unwrap().len(), 1);
    let bootstrapped: Option<bool> = meta
        .security()
        .get(SecurityTable::Settings, "bootstrapped")
        .await
        .unwrap();
    assert_eq!(bootstrapped, Some(true));
    assert_eq!(meta.usage().usage_hours(0).await.unwrap().len(), 1);
    assert!(meta
        .gc()
        .live_digests(&["docker-hosted".into()], 0)
        .await
        .unwrap()
        .contains(MANIFEST));
    assert!(meta
        .documents()
        .load_documents(DocKind::Tasks)
        .await
        .unwrap()
        .is_empty());
}
