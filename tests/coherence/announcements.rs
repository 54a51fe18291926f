//! The notification seam itself (`meta::Changes`) against PostgreSQL, without Berth
//! nodes: two handles on one database, as two nodes have. Announcements arrive in commit
//! order, so "X was not announced" is checked without a timeout: the next announcement
//! after X is the marker written after it.

use std::time::Duration;

use berth::meta::{
    Change, ChangeStream, Location, ManifestRecord, Meta, MetaError, NewManifest, PgSettings,
    SecurityTable, TagWrite,
};
use berth::oci::{Digest, ImageName, Tag};

use crate::common::postgres::Postgres;

async fn open(pg: &Postgres) -> Meta {
    Meta::open(Location::Postgres(PgSettings::new(&pg.url())))
        .await
        .expect("open postgres")
}

/// The next change; panics if none comes within seconds.
async fn next(stream: &mut ChangeStream) -> Change {
    tokio::time::timeout(Duration::from_secs(10), stream.recv())
        .await
        .expect("an announcement within 10 s")
        .expect("the stream is open")
}

fn image_change(image: &str) -> Change {
    Change::Image {
        repository: "hosted".into(),
        image: Some(image.into()),
    }
}

fn digest(c: char) -> Digest {
    Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
}

fn manifest(c: char) -> ManifestRecord {
    ManifestRecord {
        digest: digest(c),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: 10,
        artifact_type: None,
        subject: None,
    }
}

/// A marker the reader can tell apart from image changes.
async fn mark(meta: &Meta) {
    meta.security()
        .put_record(SecurityTable::Settings, "marker", "{}")
        .await
        .unwrap();
}

#[tokio::test]
async fn committed_writes_of_another_handle_are_announced_and_own_or_failed_ones_are_not() {
    // Arrange
    let Some(pg) = Postgres::start() else { return };
    let (writer, reader) = (open(&pg).await, open(&pg).await);
    assert_ne!(writer.changes().node_id(), reader.changes().node_id());
    let mut theirs = reader
        .changes()
        .subscribe()
        .await
        .unwrap()
        .expect("postgres subscribes");
    let name = ImageName::parse("team/app").unwrap();
    let tag = Tag::parse("v1").unwrap();

    // A blob link and a manifest with its tag, written by the other handle.
    let id = writer.images().ensure_image("hosted", &name).await.unwrap();
    writer
        .images()
        .link_blob("s", id, &digest('a'), 3)
        .await
        .unwrap();
    assert_eq!(next(&mut theirs).await, image_change("team/app"));
    let first = manifest('b');
    let new = NewManifest {
        record: &first,
        blobs: &[],
        children: &[],
    };
    let tags = [TagWrite::moving(&tag)];
    writer
        .images()
        .put_manifest("s", id, &new, &tags)
        .await
        .unwrap();
    assert_eq!(next(&mut theirs).await, image_change("team/app"));

    // A write refused in its transaction (the tag may not move) announces nothing.
    let second = manifest('c');
    let new = NewManifest {
        record: &second,
        blobs: &[],
        children: &[],
    };
    let refused = writer
        .images()
        .put_manifest("s", id, &new, &[TagWrite::once(&tag)])
        .await;
    assert!(
        matches!(refused, Err(MetaError::TagExists { .. })),
        "{refused:?}"
    );
    mark(&writer).await;
    assert_eq!(next(&mut theirs).await, Change::Security);

    // The subscriber's own writes are not announced to it: after each, the next
    // announcement is the other handle's write of another kind.
    reader.images().delete_tag(id, &tag).await.unwrap();
    mark(&writer).await;
    assert_eq!(next(&mut theirs).await, Change::Security);
    mark(&reader).await;
    writer
        .images()
        .delete_manifest(id, &digest('b'))
        .await
        .unwrap();
    assert_eq!(next(&mut theirs).await, image_change("team/app"));

    // Definitions; a deleted repository also forgets all its images.
    writer.documents().delete_repository("gone").await.unwrap();
    let all_images = Change::Image {
        repository: "gone".into(),
        image: None,
    };
    assert_eq!(next(&mut theirs).await, all_images);
    assert_eq!(next(&mut theirs).await, Change::Definitions);
}

#[tokio::test]
async fn sqlite_has_no_other_writers_to_announce() {
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta::connect(&Meta::data_dir_url(dir.path()))
        .await
        .unwrap();
    assert!(meta.changes().subscribe().await.unwrap().is_none());
}
