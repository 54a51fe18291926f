//! `kill -9` while a large blob is being pushed: after a restart nothing partial is visible,
//! the half-written temp file is gone, earlier images are intact, and the push can be
//! redone from scratch.

use std::time::Duration;

use reqwest::Method;
use tokio::sync::oneshot;

use crate::common::*;
use crate::support::*;

const NAME: &str = "durability/app";
/// 256 MiB, sent in 1 MiB chunks.
const BIG_CHUNKS: usize = 256;
/// The body pauses after this many chunks (half), so the kill lands mid-push however fast
/// or slow the machine is.
const GATE_CHUNKS: usize = BIG_CHUNKS / 2;
/// Kill once the server's temp file holds more than this.
const KILL_AFTER: u64 = 100 << 20;
/// Generous: "half sent" on a loaded debug build, never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_a_256_mib_push_leaves_nothing_partial() {
    let mut app = spawn_app().await;
    let (_, manifest) = app.push_image(NAME, "v1", "before the crash").await;
    let big = Pattern::new(0xB16_B10B, BIG_CHUNKS);
    let big_digest = big.digest();

    // A chunked upload: one session, one streamed PATCH (chunked transfer encoding).
    let (session, id) = start_session(&app, NAME).await;
    let temp_file = app.store_root().join("uploads").join(&id);
    let (gate, gate_rx) = oneshot::channel::<()>();
    let patch = app
        .req(Method::PATCH, &session)
        .header("Content-Type", "application/octet-stream")
        .body(big.gated_body(GATE_CHUNKS, gate_rx))
        .send();
    let patch = tokio::spawn(patch);

    wait_until(
        "the server's upload temp file to pass 100 MiB",
        PATIENCE,
        || patch.is_finished() || file_len(&temp_file) > KILL_AFTER,
    )
    .await;
    assert!(
        !patch.is_finished(),
        "the PATCH ended before the kill: {:?}",
        patch.await
    );
    app.kill9();
    assert!(
        file_len(&temp_file) > KILL_AFTER,
        "the crash should leave a partial temp file behind"
    );
    drop(gate);
    let outcome = tokio::time::timeout(PATIENCE, patch)
        .await
        .expect("the client notices the dead server")
        .unwrap();
    assert!(
        outcome.is_err() || !outcome.unwrap().status().is_success(),
        "a PATCH cut off by a crash cannot have succeeded"
    );

    app.restart().await;

    // Nothing of the interrupted push is visible or left on disk.
    assert_eq!(blob_status(&app, NAME, &big_digest).await, 404);
    assert!(!app.blob_path(&big_digest).exists());
    let r = app.req(Method::GET, &session).send().await.unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let r = app
        .req(Method::PUT, &with_digest(&session, &big_digest))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_eq!(files_in(&app, "uploads"), Vec::<String>::new());
    assert_eq!(files_in(&app, "tmp"), Vec::<String>::new());

    // What was pushed before the crash is intact, by tag and by digest.
    assert_image_intact(&app, NAME, "v1", &manifest).await;
    assert_image_intact(&app, NAME, &sha256(&manifest), &manifest).await;

    // The same push again, from scratch, succeeds and reads back bit for bit.
    let (session, _) = start_session(&app, NAME).await;
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Type", "application/octet-stream")
        .body(big.body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "PATCH: {}", r.text().await.unwrap());
    assert_eq!(range_len(&header(&r, "range")), big.len());
    let r = app
        .req(Method::PUT, &with_digest(&session, &big_digest))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "PUT: {}", r.text().await.unwrap());
    assert_eq!(header(&r, "docker-content-digest"), big_digest);

    let r = app
        .req(Method::HEAD, &format!("/v2/{NAME}/blobs/{big_digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), big.len().to_string());
    assert_blob_reads_back(&app, NAME, &big_digest, big.len()).await;
    assert_eq!(files_in(&app, "uploads"), Vec::<String>::new());
}

/// A session that holds data but has no request running when the server dies.
#[tokio::test]
async fn kill_9_between_chunks_forgets_the_session_and_its_temp_file() {
    let mut app = spawn_app().await;
    let (_, manifest) = app.push_image(NAME, "v1", "between chunks").await;
    let data = Pattern::new(7, 3);
    let (session, id) = start_session(&app, NAME).await;
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Range", format!("0-{}", 2 * MIB - 1))
        .body(data.range(0, 2 * MIB))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "PATCH: {}", r.text().await.unwrap());
    assert!(app.store_root().join("uploads").join(&id).exists());

    app.restart().await;

    let r = app.req(Method::GET, &session).send().await.unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Range", format!("{}-{}", 2 * MIB, 3 * MIB - 1))
        .body(data.range(2 * MIB, 3 * MIB))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_eq!(files_in(&app, "uploads"), Vec::<String>::new());
    assert_eq!(blob_status(&app, NAME, &data.digest()).await, 404);
    assert_image_intact(&app, NAME, "v1", &manifest).await;
}

/// What a 201 acknowledged survives a `kill -9` right after it: blobs and manifests are
/// fsynced and renamed (and the directory fsynced) before the response.
#[tokio::test]
async fn an_acknowledged_push_survives_an_immediate_kill_9() {
    let mut app = spawn_app().await;
    let layer = Pattern::new(11, 8);
    let layer_digest = app
        .push_blob(NAME, &layer.range(0, layer.len() as usize))
        .await;
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = app.push_blob(NAME, config).await;
    let manifest = oci_manifest(
        (&config_digest, config.len()),
        &[(&layer_digest, layer.len() as usize)],
    );
    let r = app
        .put_manifest(NAME, "latest", OCI_MANIFEST, manifest.as_bytes())
        .await;
    assert_eq!(r.status(), 201);

    app.restart().await;

    assert_image_intact(&app, NAME, "latest", manifest.as_bytes()).await;
    assert_eq!(layer.digest(), layer_digest);
}
