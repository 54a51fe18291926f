//! `S3Store` itself against Garage: what the storage conformance suite does not cover because
//! it is S3's own (multipart parts, the upload key, pre-signed URLs, an outage).

use std::sync::Arc;

use berth::oci::{Algorithm, Digest};
use berth::storage::{BlobBody, BlobStore, ByteRange, S3Options, S3Store, StorageError};
use bytes::Bytes;
use futures_util::TryStreamExt;

use crate::common::garage::Garage;

pub fn options(garage: &Garage, prefix: &str, redirect_secs: u64) -> S3Options {
    S3Options {
        endpoint: Some(garage.endpoint.clone()),
        region: garage.region.clone(),
        bucket: garage.bucket.clone(),
        prefix: prefix.into(),
        path_style: true,
        access_key_id: Some(garage.access_key.clone()),
        secret_access_key: Some(garage.secret_key.clone()),
        credentials_file: None,
        redirect_secs,
        ..S3Options::default()
    }
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn digest_of(bytes: &[u8]) -> Digest {
    Digest::of_bytes(Algorithm::Sha256, bytes)
}

async fn body_bytes(store: &S3Store, digest: &Digest, range: Option<ByteRange>) -> Vec<u8> {
    match store.open(digest, range).await.unwrap().body {
        BlobBody::Stream { stream, len } => {
            let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
            let all = chunks.concat();
            assert_eq!(all.len() as u64, len, "stream length as announced");
            all
        }
        other => panic!("expected a stream, got {other:?}"),
    }
}

/// Uploads `bytes` in `chunk`-sized pieces and commits them under `expected`.
async fn upload(
    store: &S3Store,
    id: &str,
    bytes: &[u8],
    chunk: usize,
    expected: &Digest,
) -> Result<berth::storage::Committed, StorageError> {
    let mut staged = store.stage(id, Algorithm::Sha256).await.unwrap();
    for piece in bytes.chunks(chunk) {
        staged.push(Bytes::copy_from_slice(piece)).await?;
    }
    assert_eq!(staged.flush().await?, bytes.len() as u64);
    store.commit(staged, expected).await
}

#[tokio::test]
async fn a_large_upload_streams_as_parts_and_reads_back_whole_and_in_ranges() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let store = S3Store::connect("big", &options(&garage, "big", 0)).unwrap();
    // Three parts: two full 8 MiB parts and a short last one.
    let bytes = noise(2 * berth::storage::PART_SIZE + 123_457, 1);
    let digest = digest_of(&bytes);
    let committed = upload(&store, "u1", &bytes, 1 << 20, &digest)
        .await
        .unwrap();
    assert_eq!((committed.size, committed.new), (bytes.len() as u64, true));

    assert_eq!(body_bytes(&store, &digest, None).await, bytes);
    let range = ByteRange {
        start: 8 * 1024 * 1024 - 10,
        len: 20,
    };
    assert_eq!(
        body_bytes(&store, &digest, Some(range)).await,
        bytes[range.start as usize..range.start as usize + 20]
    );
    let stat = store.stat(&digest).await.unwrap().unwrap();
    assert_eq!(stat.size, bytes.len() as u64);
    // The upload key is gone: only the content-addressed object is listed.
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, digest);
    assert_eq!(
        store.purge_staged(&Default::default(), 0).await.unwrap(),
        0,
        "no upload object left behind"
    );

    // The same content again is not new, and costs no second object.
    let again = upload(&store, "u2", &bytes, 4 << 20, &digest)
        .await
        .unwrap();
    assert!(!again.new);
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_digest_mismatch_after_several_parts_leaves_nothing_visible() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let store = S3Store::connect("mismatch", &options(&garage, "mm", 0)).unwrap();
    let bytes = noise(berth::storage::PART_SIZE + 1000, 2);
    let wrong = digest_of(b"something else");
    let err = upload(&store, "u1", &bytes, 1 << 20, &wrong)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(store.stat(&wrong).await.unwrap().is_none());
    assert!(store.stat(&digest_of(&bytes)).await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(store.purge_staged(&Default::default(), 0).await.unwrap(), 0);
}

#[tokio::test]
async fn a_redirect_is_a_presigned_url_that_serves_ranges() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let store = S3Store::connect("redirect", &options(&garage, "r", 60)).unwrap();
    let bytes = noise(100_000, 3);
    let digest = digest_of(&bytes);
    assert!(store
        .put_bytes(&digest, Bytes::from(bytes.clone()))
        .await
        .unwrap());
    let url = match store.open(&digest, None).await.unwrap().body {
        BlobBody::Redirect(url) => url,
        other => panic!("expected a redirect, got {other:?}"),
    };
    assert!(url.starts_with(&garage.endpoint), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(
        !url.contains(&garage.secret_key),
        "the secret never leaves Berth"
    );
    let client = reqwest::Client::new();
    let whole = client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), bytes);
    let part = client
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), bytes[10..20]);
    // A tampered signature is refused by the server: the URL really is signed.
    let forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert_eq!(client.get(&forged).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn a_store_that_is_down_is_unavailable_by_name_and_recovers() {
    let Some(mut garage) = Garage::start().await else {
        return;
    };
    let store = Arc::new(S3Store::connect("flaky", &options(&garage, "f", 0)).unwrap());
    let digest = digest_of(b"kept");
    store
        .put_bytes(&digest, Bytes::from_static(b"kept"))
        .await
        .unwrap();

    garage.stop();
    let started = std::time::Instant::now();
    let err = store.read_bytes(&digest).await.unwrap_err();
    match &err {
        StorageError::Unavailable { store, .. } => assert_eq!(store, "flaky"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        err.to_string().contains("blob store flaky is unavailable"),
        "{err}"
    );
    assert!(
        !err.to_string().contains(&garage.secret_key),
        "no secret in errors"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "an outage is reported quickly, not after minutes of retries ({:?})",
        started.elapsed()
    );
    assert!(store.check_writable(0).await.is_err());

    garage.resume().await;
    assert_eq!(&store.read_bytes(&digest).await.unwrap()[..], b"kept");
    store.check_writable(0).await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_the_store_named() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let mut bad = options(&garage, "x", 0);
    bad.secret_access_key = Some("0".repeat(64));
    let store = S3Store::connect("badkey", &bad).unwrap();
    let err = store.check_writable(0).await.unwrap_err();
    assert!(
        matches!(&err, StorageError::Unavailable { store, .. } if store == "badkey"),
        "{err:?}"
    );
    let shown = format!("{store:?} {bad:?}");
    assert!(
        !shown.contains(&"0".repeat(64)),
        "Debug hides the secret: {shown}"
    );
}
