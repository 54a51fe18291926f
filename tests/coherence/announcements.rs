//! The notification seam itself (`meta::Changes`) against PostgreSQL, without Berth
//! nodes: two handles on one database, as two nodes have. Announcements arrive in commit
//! order, so "X was not announced" is checked without a timeout: the next announcement
//! after X is the marker written after it.

use std::time::Duration;

use berth::meta::{
    Change, ChangeStream, Location, ManifestRecord, Meta, MetaError, NewManifest, PgSettings,
    SecurityTable, TagWrite, QUEUE_BOUND,
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

#[tokio::test]
async fn a_subscriber_that_falls_behind_holds_at_most_the_bound_and_is_told_to_resync() {
    // Arrange: a subscriber that reads nothing yet, and another node's burst of 6,000
    // announcements (distinct images, one statement) with a marker after it.
    let Some(pg) = Postgres::start() else { return };
    let (writer, reader) = (open(&pg).await, open(&pg).await);
    let mut theirs = reader.changes().subscribe().await.unwrap().unwrap();
    let burst = 6000;
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    sqlx::query(
        "SELECT pg_notify('berth_changes', json_build_object('node', 'elsewhere', \
         'kind', 'image', 'repository', 'hosted', 'image', 'img-' || i)::text) \
         FROM generate_series(1, $1) i",
    )
    .bind(burst)
    .execute(&pool)
    .await
    .unwrap();

    // Act: wait until the queue is full, give the forwarder time to drop the rest, read
    // until the Resync; then a marker (sent now: one sent during the burst is dropped too).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while theirs.len() < QUEUE_BOUND {
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue at {}",
            theirs.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = Vec::new();
    while !seen.contains(&Change::Resync) {
        assert!(theirs.len() <= QUEUE_BOUND, "queue at {}", theirs.len());
        seen.push(next(&mut theirs).await);
    }
    mark(&writer).await;
    loop {
        match next(&mut theirs).await {
            Change::Security => break,
            change => seen.push(change),
        }
    }

    // Assert: the first QUEUE_BOUND arrived in order; every later one either arrived or is
    // covered by a Resync queued after the last one that did arrive before it.
    let expected: Vec<Change> = (1..=QUEUE_BOUND)
        .map(|i| image_change_in("hosted", &format!("img-{i}")))
        .collect();
    assert_eq!(seen[..QUEUE_BOUND], expected[..]);
    let resyncs = seen.iter().filter(|c| **c == Change::Resync).count();
    assert!(
        resyncs >= 1,
        "nothing told the subscriber it missed announcements"
    );
    let mut covered = true;
    for i in (QUEUE_BOUND + 1)..=burst as usize {
        let change = image_change_in("hosted", &format!("img-{i}"));
        let at = seen.iter().position(|c| *c == change);
        let before = seen
            .iter()
            .rposition(|c| matches!(c, Change::Image { image: Some(n), .. } if n_of(n) < i))
            .unwrap();
        covered &= at.is_some() || seen[before..].contains(&Change::Resync);
    }
    assert!(
        covered,
        "an announcement was dropped without a Resync after it"
    );
    eprintln!(
        "burst of {burst}: {} changes and {resyncs} resync(s) received",
        seen.len() - resyncs
    );
}

fn image_change_in(repository: &str, image: &str) -> Change {
    Change::Image {
        repository: repository.into(),
        image: Some(image.into()),
    }
}

/// The number in an `img-<n>` name.
fn n_of(name: &str) -> usize {
    name.trim_start_matches("img-").parse().unwrap()
}
