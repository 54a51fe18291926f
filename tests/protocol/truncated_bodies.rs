//! Bodies shorter than their declared `Content-Length` (the client announces 1000 bytes,
//! sends 10 and shuts down its write side), sent over a raw TCP socket. Nothing cut short
//! may become visible; a PATCH keeps what actually arrived so the client can resume.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const DECLARED: usize = 1000;
const SENT: &[u8] = b"0123456789";

/// Request head with `Content-Length: 1000` followed by only 10 bytes of body.
fn truncated(app: &TestApp, method: &str, path: &str, content_type: &str) -> Vec<u8> {
    let mut request = raw_head(
        app,
        method,
        path,
        &[
            ("Content-Type", content_type.to_string()),
            ("Content-Length", DECLARED.to_string()),
        ],
    );
    request.extend_from_slice(SENT);
    request
}

/// A full-length body whose digest the truncated request claims.
fn full_blob() -> Vec<u8> {
    let mut full = SENT.to_vec();
    full.resize(DECLARED, b'x');
    full
}

/// The server answers a cut-off body with 400 and the OCI error `code`.
fn assert_refused(response: Option<RawResponse>, code: &str) {
    let r = response.expect("the server answers a truncated request");
    assert_eq!(r.status, 400, "{}", r.head);
    assert!(r.header("content-type").starts_with("application/json"));
    assert_eq!(raw_error_codes(&r), vec![code.to_string()]);
}

#[tokio::test]
async fn truncated_patch_keeps_exactly_the_bytes_received_and_the_session_resumes() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("trunc/patch").await;
    // Act
    let response = raw_http(&app, &truncated(&app, "PATCH", &location, OCTET), true).await;
    // Assert
    assert_refused(response, "BLOB_UPLOAD_INVALID");
    let status = upload_status(&app, &location).await;
    assert_eq!(status.status(), 204);
    assert_eq!(header(&status, "range"), format!("0-{}", SENT.len() - 1));
    let rest = b"abcdef";
    let r = patch_chunk(&app, &location, rest, Some((SENT.len(), SENT.len() + 5))).await;
    assert_eq!(r.status(), 202, "resume at the reported offset");
    let whole = [SENT, rest].concat();
    let digest = sha256(&whole);
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (code, body) = get_bytes(&app, &format!("/v2/trunc/patch/blobs/{digest}")).await;
    assert_eq!((code, body), (200, whole));
}

#[tokio::test]
async fn truncated_monolithic_post_does_not_store_the_blob() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "trunc/post", "v1", "kept").await;
    let claimed = sha256(&full_blob());
    let path = format!("/v2/trunc/post/blobs/uploads/?digest={claimed}");
    // Act
    let response = raw_http(&app, &truncated(&app, "POST", &path, OCTET), true).await;
    // Assert
    assert_refused(response, "BLOB_UPLOAD_INVALID");
    let blob = format!("/v2/trunc/post/blobs/{claimed}");
    assert_eq!(head_status(&app, &blob).await, 404);
    let partial = format!("/v2/trunc/post/blobs/{}", sha256(SENT));
    assert_eq!(head_status(&app, &partial).await, 404);
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn truncated_completing_put_does_not_store_the_blob() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "trunc/put", "v1", "kept").await;
    let location = app.start_upload("trunc/put").await;
    let claimed = sha256(&full_blob());
    let path = with_digest(&location, &claimed);
    // Act
    let response = raw_http(&app, &truncated(&app, "PUT", &path, OCTET), true).await;
    // Assert
    assert_refused(response, "BLOB_UPLOAD_INVALID");
    let blob = format!("/v2/trunc/put/blobs/{claimed}");
    assert_eq!(head_status(&app, &blob).await, 404);
    let status = upload_status(&app, &location).await;
    assert_oci_error(status, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn truncated_manifest_put_stores_nothing_and_leaves_the_tag_alone() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "trunc/manifest", "v1", "kept").await;
    let path = "/v2/trunc/manifest/manifests/v1";
    // Act
    let response = raw_http(&app, &truncated(&app, "PUT", path, OCI_MANIFEST), true).await;
    // Assert
    assert_refused(response, "MANIFEST_INVALID");
    assert_intact(&app, &image).await;
    assert_eq!(tags_of(&app, "trunc/manifest").await, vec!["v1"]);
}
