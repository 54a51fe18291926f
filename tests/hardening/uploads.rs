//! Items 3 (body timeout), 13 and 16: stalled bodies are cut, a status request never waits
//! behind a stalled PATCH, and a hard-quota refusal leaves no temp file.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

/// Longest any single request of these tests may take before it counts as hung.
const HUNG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_upload_status_request_answers_while_a_patch_on_the_same_session_stalls() {
    // Arrange: a PATCH that sends 3 bytes and then nothing (the body timeout is 60 s).
    let app = spawn_app().await;
    let (_, session) = open_session(&app, "stall/status").await;
    let session = session.expect("session");
    let (body, _release) = stalled_body(b"abc");
    let patch = app.req(Method::PATCH, &session).body(body).send();
    let patch = tokio::spawn(patch);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Act: ask for the session's status while the PATCH holds it.
    let status = tokio::time::timeout(HUNG, app.req(Method::GET, &session).send()).await;

    // Assert: answered at once, from the last committed offset.
    let r = status
        .expect("status request hung behind the stalled PATCH")
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(header(&r, "range").starts_with("0-"), "{:?}", r.headers());
    patch.abort();
}

#[tokio::test]
async fn a_patch_body_that_stalls_is_cut_and_the_upload_resumes_from_what_arrived() {
    // Arrange
    let app = spawn_app_with(&["BERTH_LIMITS__BODY_READ_TIMEOUT_SECS=2"]).await;
    let (_, session) = open_session(&app, "stall/cut").await;
    let session = session.expect("session");
    let (body, _release) = stalled_body(b"hello ");

    // Act: the PATCH stalls after 6 bytes; the server must end it by itself.
    let patch = app.req(Method::PATCH, &session).body(body).send();
    let outcome = tokio::time::timeout(HUNG, patch).await;

    // Assert: an answer (or a closed connection), not a hang; what arrived is kept.
    let outcome = outcome.expect("the stalled PATCH was never cut");
    if let Ok(r) = outcome {
        assert_oci_error(r, 400, "BLOB_UPLOAD_INVALID").await;
    }
    let r = app.req(Method::GET, &session).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "range"),
        "0-5",
        "the 6 bytes that arrived are kept"
    );
    let r = app
        .req(Method::PATCH, &session)
        .header("Content-Range", "6-10")
        .body("world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let digest = sha256(b"hello world");
    let r = app
        .req(Method::PUT, &format!("{session}?digest={digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = app.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200, "the server stays healthy");
    assert!(metric(&app, "berth_uploads_refused_total").await >= 1.0);
}

#[tokio::test]
async fn a_blob_refused_by_the_hard_quota_after_verification_leaves_no_temp_file() {
    // Arrange: a session opened while the store has room, then the store filled by another
    // push, so the completion passes verification and is refused by the hard quota.
    let app = spawn_app().await;
    let quota = json!({"path": "default", "hardQuota": {"limit": 1000}});
    let r = app
        .req(Method::PUT, "/service/rest/v1/blobstores/file/default")
        .json(&quota)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, session) = open_session(&app, "quota/app").await;
    let session = session.expect("session");
    app.push_blob("quota/app", &[7u8; 2000]).await;

    // Act
    let late = b"verified but over quota";
    let r = app
        .req(Method::PUT, &format!("{session}?digest={}", sha256(late)))
        .body(late.to_vec())
        .send()
        .await
        .unwrap();

    // Assert
    assert_oci_error(r, 403, "DENIED").await;
    let uploads = app.data_dir().join("blobstores/default/uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads).unwrap().collect();
    assert!(left.is_empty(), "temp files left in {uploads:?}: {left:?}");
}
