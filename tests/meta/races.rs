//! Races two handles on one database (two nodes) on the same tag: the database decides.

use berth::meta::{ManifestRecord, Meta, MetaError, NewManifest, TagWrite};
use berth::oci::{Digest, ImageName, Tag};

fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", hex::encode([n; 32]))).unwrap()
}

/// Eight writers, alternating between the two handles, each storing its own manifest under
/// one `ALLOW_ONCE` tag at the same moment: exactly one succeeds, every other fails with
/// `TagExists` naming the winner, and the tag points at the winner.
pub async fn allow_once_races_have_one_winner(a: &Meta, b: &Meta) {
    let name = ImageName::parse("race/app").unwrap();
    let id = a
        .images()
        .ensure_image("docker-hosted", &name)
        .await
        .unwrap();
    let tag = Tag::parse("v1").unwrap();
    let writers = (1..=8u8).map(|n| {
        let meta = if n % 2 == 0 { a.clone() } else { b.clone() };
        let tag = tag.clone();
        tokio::spawn(async move {
            let record = ManifestRecord {
                digest: digest(n),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: 100,
                artifact_type: None,
                subject: None,
            };
            let new = NewManifest {
                record: &record,
                blobs: &[],
                children: &[],
            };
            let result = meta
                .images()
                .put_manifest("default", id, &new, &[TagWrite::once(&tag)])
                .await;
            (n, result)
        })
    });
    let results = futures_util::future::join_all(writers).await;
    let mut winners = Vec::new();
    let mut refused_for = Vec::new();
    for joined in results {
        match joined.unwrap() {
            (n, Ok(())) => winners.push(digest(n).to_string()),
            (_, Err(MetaError::TagExists { current, .. })) => refused_for.push(current),
            (n, Err(e)) => panic!("writer {n}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert!(
        refused_for.iter().all(|c| *c == winners[0]),
        "{refused_for:?}"
    );
    let record = b.images().load_image(id).await.unwrap();
    assert_eq!(
        record.tags,
        vec![("v1".to_string(), digest_of(&winners[0]))]
    );
}

fn digest_of(s: &str) -> Digest {
    Digest::parse(s).unwrap()
}
