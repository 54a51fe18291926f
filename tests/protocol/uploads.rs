//! Push, blob part (spec "Pushing blobs"): monolithic in one POST or POST + PUT, streamed
//! and chunked uploads with PATCH, upload status, cancel.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// 100 bytes that are not all alike, so a misplaced chunk changes the digest.
fn blob_100() -> Vec<u8> {
    (0..100u8).map(|i| i.wrapping_mul(37)).collect()
}

/// Asserts a successful completion: 201, Location of the blob, Docker-Content-Digest.
fn assert_created(r: &reqwest::Response, name: &str, digest: &str) {
    assert_eq!(r.status(), 201);
    assert_eq!(header(r, "location"), format!("/v2/{name}/blobs/{digest}"));
    assert_eq!(header(r, "docker-content-digest"), digest);
}

async fn assert_blob(app: &TestApp, name: &str, digest: &str, bytes: &[u8]) {
    let (status, body) = get_bytes(app, &format!("/v2/{name}/blobs/{digest}")).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
}

#[tokio::test]
async fn monolithic_post_with_digest_stores_the_blob_and_returns_201() {
    // Arrange
    let app = spawn_app().await;
    let blob = blob_100();
    let digest = sha256(&blob);
    // Act
    let r = app
        .req(
            Method::POST,
            &format!("/v2/up/mono/blobs/uploads/?digest={digest}"),
        )
        .header("Content-Type", OCTET)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/mono", &digest);
    assert_blob(&app, "up/mono", &digest, &blob).await;
}

#[tokio::test]
async fn post_starts_a_session_with_location_range_and_upload_uuid() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let r = app
        .req(Method::POST, "/v2/up/session/blobs/uploads/")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    assert!(
        location.starts_with("/v2/up/session/blobs/uploads/"),
        "{location}"
    );
    let uuid = header(&r, "docker-upload-uuid");
    assert!(
        !uuid.is_empty() && location.ends_with(&uuid),
        "{location} / {uuid}"
    );
    assert_eq!(header(&r, "range"), "0-0");
}

#[tokio::test]
async fn post_then_put_with_the_whole_body_completes_the_upload() {
    // Arrange
    let app = spawn_app().await;
    let blob = blob_100();
    let digest = sha256(&blob);
    let location = app.start_upload("up/put").await;
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .header("Content-Type", OCTET)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/put", &digest);
    assert_blob(&app, "up/put", &digest, &blob).await;
}

#[tokio::test]
async fn streamed_patch_without_content_range_then_put_without_body_completes() {
    // Arrange
    let app = spawn_app().await;
    let blob = blob_100();
    let digest = sha256(&blob);
    let location = app.start_upload("up/stream").await;
    // Act
    let patched = patch_chunk(&app, &location, &blob, None).await;
    assert_eq!(patched.status(), 202);
    assert_eq!(header(&patched, "range"), "0-99");
    let next = header(&patched, "location");
    let r = at(&app, Method::PUT, &with_digest(&next, &digest))
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/stream", &digest);
    assert_blob(&app, "up/stream", &digest, &blob).await;
}

#[tokio::test]
async fn chunked_upload_with_content_ranges_then_put_with_a_final_chunk() {
    // Arrange
    let app = spawn_app().await;
    let blob = blob_100();
    let digest = sha256(&blob);
    let mut location = app.start_upload("up/chunks").await;
    // Act
    for (start, end) in [(0, 29), (30, 59), (60, 79)] {
        let r = patch_chunk(&app, &location, &blob[start..=end], Some((start, end))).await;
        assert_eq!(r.status(), 202, "chunk {start}-{end}");
        assert_eq!(header(&r, "range"), format!("0-{end}"));
        location = header(&r, "location");
    }
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .header("Content-Type", OCTET)
        .header("Content-Range", "80-99")
        .body(blob[80..].to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/chunks", &digest);
    assert_blob(&app, "up/chunks", &digest, &blob).await;
}

#[tokio::test]
async fn chunked_upload_without_content_range_appends_each_patch_in_order() {
    // Arrange
    let app = spawn_app().await;
    let blob = blob_100();
    let digest = sha256(&blob);
    let location = app.start_upload("up/appends").await;
    // Act
    for chunk in blob.chunks(25) {
        let r = patch_chunk(&app, &location, chunk, None).await;
        assert_eq!(r.status(), 202);
    }
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/appends", &digest);
    assert_blob(&app, "up/appends", &digest, &blob).await;
}

#[tokio::test]
async fn the_location_from_post_stays_valid_after_patches() {
    // Arrange
    let app = spawn_app().await;
    let blob = blob_100();
    let first = app.start_upload("up/stable").await;
    // Act
    let r = patch_chunk(&app, &first, &blob[..50], Some((0, 49))).await;
    assert_eq!(r.status(), 202);
    let r = patch_chunk(&app, &first, &blob[50..], Some((50, 99))).await;
    // Assert
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "range"), "0-99");
}

#[tokio::test]
async fn upload_status_returns_204_with_range_location_and_no_body() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("up/status").await;
    let r = patch_chunk(&app, &location, &blob_100()[..42], None).await;
    assert_eq!(r.status(), 202);
    // Act
    let r = upload_status(&app, &location).await;
    // Assert
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "range"), "0-41");
    assert_eq!(header(&r, "location"), location);
    assert!(!header(&r, "docker-upload-uuid").is_empty());
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn cancelling_an_upload_returns_204_and_then_the_session_is_unknown() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("up/cancel").await;
    let r = patch_chunk(&app, &location, b"some bytes", None).await;
    assert_eq!(r.status(), 202);
    // Act
    let r = at(&app, Method::DELETE, &location).send().await.unwrap();
    // Assert
    assert_eq!(r.status(), 204);
    assert_oci_error(
        upload_status(&app, &location).await,
        404,
        "BLOB_UPLOAD_UNKNOWN",
    )
    .await;
    let again = at(&app, Method::DELETE, &location).send().await.unwrap();
    assert_oci_error(again, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let digest = sha256(b"some bytes");
    let put = at(&app, Method::PUT, &with_digest(&location, &digest));
    assert_oci_error(put.send().await.unwrap(), 404, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn a_completed_session_is_gone() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("up/done").await;
    let digest = sha256(b"done");
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .body(b"done".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Act
    let r = patch_chunk(&app, &location, b"more", None).await;
    // Assert
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn an_empty_blob_can_be_uploaded_with_an_empty_put() {
    // Arrange
    let app = spawn_app().await;
    let digest = sha256(b"");
    let location = app.start_upload("up/empty").await;
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/empty", &digest);
    let head = app
        .req(Method::HEAD, &format!("/v2/up/empty/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-length"), "0");
}

#[tokio::test]
async fn uploading_a_blob_that_already_exists_succeeds_again() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("up/twice", b"same bytes").await;
    // Act
    let again = app.push_blob("up/twice", b"same bytes").await;
    // Assert
    assert_eq!(again, digest);
    assert_blob(&app, "up/twice", &digest, b"same bytes").await;
}

#[tokio::test]
async fn a_large_streamed_blob_round_trips_byte_for_byte() {
    // Arrange: bigger than the writer's 1 MiB batches, so several batches are flushed.
    let app = spawn_app().await;
    let blob: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&blob);
    let location = app.start_upload("up/large").await;
    // Act
    let r = patch_chunk(&app, &location, &blob[..2_000_000], None).await;
    assert_eq!(r.status(), 202);
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .body(blob[2_000_000..].to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_created(&r, "up/large", &digest);
    assert_blob(&app, "up/large", &digest, &blob).await;
}
