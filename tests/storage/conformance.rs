//! The storage conformance suite: what every [`BlobStore`] backend must do, written once
//! and run against each backend (`tests/storage/main.rs` runs it for the file store).
//!
//! A backend's test file instantiates it with [`conformance_suite!`], giving an async
//! function that returns a fresh, empty store (and whatever must live as long as it):
//!
//! ```ignore
//! #[macro_use]
//! mod conformance;
//! async fn file_store() -> Fixture { … }
//! conformance_suite!(file_store);
//! ```

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;

use berth::oci::{Algorithm, Digest};
use berth::storage::{BlobBody, BlobStore, ByteRange, StorageError};
use bytes::Bytes;
use futures_util::StreamExt;

/// A fresh, empty store, and what must live as long as it does (a temp dir, a bucket).
pub struct Fixture {
    pub store: Arc<dyn BlobStore>,
    pub _keep: Box<dyn Any + Send>,
}

/// What a fixture function returns: a store, or `None` when the backend's server is absent
/// and the run was told to skip it (the fixture prints that it skipped).
pub trait MaybeFixture {
    fn fixture(self) -> Option<Fixture>;
}

impl MaybeFixture for Fixture {
    fn fixture(self) -> Option<Fixture> {
        Some(self)
    }
}

impl MaybeFixture for Option<Fixture> {
    fn fixture(self) -> Option<Fixture> {
        self
    }
}

/// Generates one `#[tokio::test]` per case, each against a fresh store from `$make`.
/// `known_gaps: [case, …]` names cases a backend is known to fail (each explained where the
/// backend instantiates the suite): those tests pass only while the case still fails, so a
/// gap that gets closed is noticed and taken off the list.
macro_rules! conformance_suite {
    ($make:path) => {
        conformance_suite!($make, known_gaps: []);
    };
    ($make:path, known_gaps: $gaps:tt) => {
        conformance_suite!(@cases $make; $gaps;
            commit_publishes_whole_verified_content_only_at_commit,
            a_digest_mismatch_leaves_nothing_visible,
            concurrent_commits_of_one_digest_all_succeed_and_one_is_new,
            a_staged_upload_resumes_across_requests,
            put_bytes_stores_small_content_once,
            reading_a_missing_blob_is_not_found,
            whole_and_ranged_opens_return_the_right_bytes,
            a_range_starting_at_or_past_the_end_is_refused,
            listing_reports_every_committed_blob_with_its_size_and_age,
            deleting_a_blob_frees_it_and_deleting_a_missing_one_is_ok,
            a_dropped_upload_leaves_nothing_visible,
            crash_leftovers_are_invisible_and_purged,
            a_tail_reads_staged_bytes_while_the_upload_is_written,
        );
    };
    (@cases $make:path; $gaps:tt; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(fixture) = $crate::conformance::MaybeFixture::fixture($make().await)
                else {
                    return; // the fixture said why (a backend's server deliberately absent)
                };
                let store = fixture.store.clone();
                if $crate::conformance::is_known_gap(stringify!($gaps), stringify!($case)) {
                    let run = tokio::spawn($crate::conformance::$case(store)).await;
                    assert!(
                        run.is_err(),
                        "{} is listed as a known gap of this backend but passes: take it off \
                         the list",
                        stringify!($case)
                    );
                    eprintln!("known gap, fails as expected: {}", stringify!($case));
                } else {
                    $crate::conformance::$case(store).await;
                }
                drop(fixture);
            }
        )*
    };
}

/// True if `case` is one of the identifiers in `gaps` (the stringified `[a, b]` list).
pub fn is_known_gap(gaps: &str, case: &str) -> bool {
    gaps.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| word == case)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sha256(bytes: &[u8]) -> Digest {
    Digest::of_bytes(Algorithm::Sha256, bytes)
}

/// Deterministic content of `len` bytes, different per `seed`.
fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Stages `bytes` in chunks and commits them as `expected`.
async fn upload(
    store: &Arc<dyn BlobStore>,
    id: &str,
    bytes: &[u8],
    expected: &Digest,
) -> Result<berth::storage::Committed, StorageError> {
    let mut staged = store.stage(id, Algorithm::Sha256).await?;
    for chunk in bytes.chunks(100_000) {
        staged.push(Bytes::copy_from_slice(chunk)).await?;
    }
    staged.flush().await?;
    store.commit(staged, expected).await
}

/// The bytes of a body; `None` for a redirect (the client would fetch them elsewhere).
async fn body_bytes(body: BlobBody) -> Option<Vec<u8>> {
    match body {
        BlobBody::File { file, offset, len } => {
            let bytes = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; len as usize];
                file.read_exact_at(&mut buf, offset).map(|_| buf)
            })
            .await
            .unwrap()
            .unwrap();
            Some(bytes)
        }
        BlobBody::Stream { len, mut stream } => {
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            assert_eq!(
                out.len() as u64,
                len,
                "a stream sends the length it announces"
            );
            Some(out)
        }
        BlobBody::Redirect(_) => None,
    }
}

pub async fn commit_publishes_whole_verified_content_only_at_commit(store: Arc<dyn BlobStore>) {
    let bytes = content(1, 1_000_000);
    let digest = sha256(&bytes);
    let mut staged = store.stage("c1", Algorithm::Sha256).await.unwrap();
    for chunk in bytes.chunks(64 * 1024) {
        staged.push(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(staged.flush().await.unwrap(), bytes.len() as u64);
    assert!(
        store.stat(&digest).await.unwrap().is_none(),
        "visible before commit"
    );
    assert!(
        store.list().await.unwrap().is_empty(),
        "listed before commit"
    );
    let committed = store.commit(staged, &digest).await.unwrap();
    assert_eq!(committed.size, bytes.len() as u64);
    assert!(committed.new);
    assert_eq!(
        store.stat(&digest).await.unwrap().unwrap().size,
        committed.size
    );
    let opened = store.open(&digest, None).await.unwrap();
    assert_eq!(opened.size, bytes.len() as u64);
    if let Some(read) = body_bytes(opened.body).await {
        assert_eq!(read, bytes);
    }
}

pub async fn a_digest_mismatch_leaves_nothing_visible(store: Arc<dyn BlobStore>) {
    let bytes = content(2, 300_000);
    let claimed = sha256(b"something else");
    let err = upload(&store, "m1", &bytes, &claimed).await.unwrap_err();
    assert!(
        matches!(err, StorageError::DigestMismatch { .. }),
        "mismatch error, got {err}"
    );
    assert!(store.stat(&claimed).await.unwrap().is_none());
    assert!(store.stat(&sha256(&bytes)).await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(
        store.purge_staged(&HashSet::new(), 0).await.unwrap(),
        0,
        "the staged bytes of a refused commit are gone already"
    );
}

pub async fn concurrent_commits_of_one_digest_all_succeed_and_one_is_new(
    store: Arc<dyn BlobStore>,
) {
    let bytes = Arc::new(content(3, 500_000));
    let digest = sha256(&bytes);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, bytes, digest) = (store.clone(), bytes.clone(), digest.clone());
            tokio::spawn(async move { upload(&store, &format!("cc{i}"), &bytes, &digest).await })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        let committed = task.await.unwrap().unwrap();
        assert_eq!(committed.size, bytes.len() as u64);
        new += committed.new as usize;
    }
    assert_eq!(
        new, 1,
        "exactly one commit stores the content for the first time"
    );
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    if let Some(read) = body_bytes(store.open(&digest, None).await.unwrap().body).await {
        assert_eq!(&read, &*bytes);
    }
}

pub async fn a_staged_upload_resumes_across_requests(store: Arc<dyn BlobStore>) {
    let (first, second) = (content(4, 70_000), content(5, 90_000));
    let mut staged = store.stage("r1", Algorithm::Sha256).await.unwrap();
    let progress = staged.progress();
    staged.push(Bytes::from(first.clone())).await.unwrap();
    assert_eq!(staged.flush().await.unwrap(), first.len() as u64);
    staged.release();
    assert_eq!(progress.load(std::sync::atomic::Ordering::Relaxed), 70_000);
    staged.push(Bytes::from(second.clone())).await.unwrap();
    assert_eq!(staged.flush().await.unwrap(), 160_000);
    assert_eq!(staged.offset(), 160_000);
    staged.release();
    let whole = [first, second].concat();
    let committed = store.commit(staged, &sha256(&whole)).await.unwrap();
    assert_eq!(committed.size, 160_000);
}

pub async fn put_bytes_stores_small_content_once(store: Arc<dyn BlobStore>) {
    let bytes = Bytes::from_static(br#"{"schemaVersion":2}"#);
    let digest = sha256(&bytes);
    assert!(store.put_bytes(&digest, bytes.clone()).await.unwrap());
    assert!(!store.put_bytes(&digest, bytes.clone()).await.unwrap());
    assert_eq!(store.read_bytes(&digest).await.unwrap(), bytes);
    assert_eq!(
        store.stat(&digest).await.unwrap().unwrap().size,
        bytes.len() as u64
    );
}

pub async fn reading_a_missing_blob_is_not_found(store: Arc<dyn BlobStore>) {
    let digest = sha256(b"never stored");
    assert!(matches!(
        store.read_bytes(&digest).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.open(&digest, None).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(store.stat(&digest).await.unwrap().is_none());
}

pub async fn whole_and_ranged_opens_return_the_right_bytes(store: Arc<dyn BlobStore>) {
    let bytes = content(6, 200_000);
    let digest = sha256(&bytes);
    upload(&store, "g1", &bytes, &digest).await.unwrap();
    let cases = [
        (0, 1, 0..1),
        (10, 100, 10..110),
        (199_999, 1, 199_999..200_000),
        // Past the end: cut at the end.
        (150_000, 100_000, 150_000..200_000),
    ];
    for (start, len, expected) in cases {
        let opened = store
            .open(&digest, Some(ByteRange { start, len }))
            .await
            .unwrap();
        assert_eq!(opened.size, 200_000, "the whole size, not the range's");
        if let Some(read) = body_bytes(opened.body).await {
            assert_eq!(read, bytes[expected.clone()], "range {start}+{len}");
        }
    }
}

pub async fn a_range_starting_at_or_past_the_end_is_refused(store: Arc<dyn BlobStore>) {
    let bytes = content(7, 1000);
    let digest = sha256(&bytes);
    upload(&store, "p1", &bytes, &digest).await.unwrap();
    for start in [1000, 5000] {
        let err = store
            .open(&digest, Some(ByteRange { start, len: 10 }))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::RangeInvalid { size: 1000 }),
            "start {start}: {err}"
        );
    }
}

pub async fn listing_reports_every_committed_blob_with_its_size_and_age(store: Arc<dyn BlobStore>) {
    let before = unix_now() - 60;
    let mut expected = std::collections::HashMap::new();
    for i in 0..5u8 {
        let bytes = content(10 + i, 1000 * (i as usize + 1));
        let digest = sha256(&bytes);
        upload(&store, &format!("l{i}"), &bytes, &digest)
            .await
            .unwrap();
        expected.insert(digest, bytes.len() as u64);
    }
    let manifest = Bytes::from_static(b"{}");
    expected.insert(sha256(&manifest), 2);
    store.put_bytes(&sha256(&manifest), manifest).await.unwrap();
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
    for blob in listed {
        assert_eq!(
            expected.get(&blob.digest),
            Some(&blob.size),
            "{}",
            blob.digest
        );
        assert!(
            blob.modified >= before && blob.modified <= unix_now() + 60,
            "age of {}: modified {}",
            blob.digest,
            blob.modified
        );
    }
}

pub async fn deleting_a_blob_frees_it_and_deleting_a_missing_one_is_ok(store: Arc<dyn BlobStore>) {
    let bytes = content(20, 4096);
    let digest = sha256(&bytes);
    upload(&store, "d1", &bytes, &digest).await.unwrap();
    assert_eq!(store.delete(&digest).await.unwrap(), 4096);
    assert!(store.stat(&digest).await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(store.delete(&digest).await.unwrap(), 0, "already gone");
    assert_eq!(store.delete(&sha256(b"never")).await.unwrap(), 0);
}

pub async fn a_dropped_upload_leaves_nothing_visible(store: Arc<dyn BlobStore>) {
    let bytes = content(21, 50_000);
    let mut staged = store.stage("x1", Algorithm::Sha256).await.unwrap();
    staged.push(Bytes::from(bytes.clone())).await.unwrap();
    staged.flush().await.unwrap();
    drop(staged);
    assert!(store.stat(&sha256(&bytes)).await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
}

pub async fn crash_leftovers_are_invisible_and_purged(store: Arc<dyn BlobStore>) {
    let bytes = content(22, 50_000);
    for id in ["crashed", "live"] {
        let mut staged = store.stage(id, Algorithm::Sha256).await.unwrap();
        staged.push(Bytes::from(bytes.clone())).await.unwrap();
        staged.flush().await.unwrap();
        staged.release();
        // A crash: the handle never runs its clean-up.
        std::mem::forget(staged);
    }
    assert!(store.stat(&sha256(&bytes)).await.unwrap().is_none());
    assert!(
        store.list().await.unwrap().is_empty(),
        "staged data is listed"
    );
    let live = HashSet::from(["live".to_string()]);
    assert_eq!(
        store.purge_staged(&live, 3600).await.unwrap(),
        0,
        "young leftovers stay"
    );
    assert_eq!(store.purge_staged(&live, 0).await.unwrap(), 1);
    assert_eq!(store.purge_staged(&HashSet::new(), 0).await.unwrap(), 1);
    assert_eq!(store.purge_staged(&HashSet::new(), 0).await.unwrap(), 0);
}

pub async fn a_tail_reads_staged_bytes_while_the_upload_is_written(store: Arc<dyn BlobStore>) {
    let bytes = content(23, 300_000);
    let digest = sha256(&bytes);
    let mut staged = store.stage("t1", Algorithm::Sha256).await.unwrap();
    let Some(tail) = staged.tail() else {
        return; // The backend cannot read staged bytes; followers wait for the commit.
    };
    staged
        .push(Bytes::copy_from_slice(&bytes[..100_000]))
        .await
        .unwrap();
    staged.flush().await.unwrap();
    assert_eq!(
        &tail.read_at(1000, 500).await.unwrap()[..],
        &bytes[1000..1500]
    );
    staged
        .push(Bytes::copy_from_slice(&bytes[100_000..]))
        .await
        .unwrap();
    store.commit(staged, &digest).await.unwrap();
    assert_eq!(
        &tail.read_at(250_000, 50_000).await.unwrap()[..],
        &bytes[250_000..],
        "a tail stays readable after the commit"
    );
}
