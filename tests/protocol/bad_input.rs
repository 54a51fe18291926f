//! Bad input to upload sessions: chunks out of order or overlapping, malformed
//! `Content-Range`, unknown session ids, a session used under another image name, and
//! digest mismatches on completion. Each gets its OCI error and leaves stored data (and,
//! where the spec says so, the session) intact.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// Asserts a 416 whose `Range` reports `received` bytes and whose body is an OCI error.
async fn assert_416(r: reqwest::Response, received: usize) {
    let range = header(&r, "range");
    assert_oci_error(r, 416, "BLOB_UPLOAD_INVALID").await;
    assert_eq!(range, format!("0-{}", received.saturating_sub(1)));
}

/// Starts a session and PATCHes `0-9`; returns its Location.
async fn session_with_ten_bytes(app: &TestApp, name: &str) -> String {
    let location = app.start_upload(name).await;
    let r = patch_chunk(app, &location, b"0123456789", Some((0, 9))).await;
    assert_eq!(r.status(), 202);
    location
}

/// Finishes a session that holds `0123456789` with `abcdef` and checks the blob.
async fn assert_session_still_usable(app: &TestApp, name: &str, location: &str) {
    let status = upload_status(app, location).await;
    assert_eq!(status.status(), 204);
    assert_eq!(
        header(&status, "range"),
        "0-9",
        "a refused chunk was appended"
    );
    let r = patch_chunk(app, location, b"abcdef", Some((10, 15))).await;
    assert_eq!(r.status(), 202);
    let digest = sha256(b"0123456789abcdef");
    let r = at(app, Method::PUT, &with_digest(location, &digest))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (code, body) = get_bytes(app, &format!("/v2/{name}/blobs/{digest}")).await;
    assert_eq!((code, body.as_slice()), (200, &b"0123456789abcdef"[..]));
}

#[tokio::test]
async fn patch_with_out_of_order_content_range_returns_416_and_keeps_the_session() {
    // Arrange
    let app = spawn_app().await;
    let location = session_with_ten_bytes(&app, "bad/order").await;
    // Act
    let r = patch_chunk(&app, &location, b"later", Some((20, 24))).await;
    // Assert
    assert_416(r, 10).await;
    assert_session_still_usable(&app, "bad/order", &location).await;
}

#[tokio::test]
async fn first_patch_not_starting_at_zero_returns_416() {
    // Arrange
    let app = spawn_app().await;
    let location = app.start_upload("bad/first").await;
    // Act
    let r = patch_chunk(&app, &location, b"tail", Some((22, 25))).await;
    // Assert
    assert_416(r, 0).await;
    let status = upload_status(&app, &location).await;
    assert_eq!(status.status(), 204);
}

#[tokio::test]
async fn patch_with_overlapping_content_range_returns_416_and_keeps_the_session() {
    // Arrange
    let app = spawn_app().await;
    let location = session_with_ten_bytes(&app, "bad/overlap").await;
    // Act
    let retry = patch_chunk(&app, &location, b"0123456789", Some((0, 9))).await;
    let overlap = patch_chunk(&app, &location, b"56789abc", Some((5, 12))).await;
    // Assert
    assert_416(retry, 10).await;
    assert_416(overlap, 10).await;
    assert_session_still_usable(&app, "bad/overlap", &location).await;
}

#[tokio::test]
async fn patch_with_malformed_content_range_returns_416_and_keeps_the_session() {
    // Arrange
    let app = spawn_app().await;
    let location = session_with_ten_bytes(&app, "bad/range").await;
    // Act + Assert
    for bad in ["garbage", "10-", "-5", "12-10", "a-b", "10-15-20"] {
        let r = at(&app, Method::PATCH, &location)
            .header("Content-Type", OCTET)
            .header("Content-Range", bad)
            .body(b"abcdef".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 416, "Content-Range {bad:?}");
        assert_416(r, 10).await;
    }
    assert_session_still_usable(&app, "bad/range", &location).await;
}

#[tokio::test]
async fn content_range_that_disagrees_with_content_length_returns_416() {
    // Arrange
    let app = spawn_app().await;
    let location = session_with_ten_bytes(&app, "bad/length").await;
    // Act: claims 10..19 (10 bytes) but sends 6.
    let r = patch_chunk(&app, &location, b"abcdef", Some((10, 19))).await;
    // Assert
    assert_416(r, 10).await;
    assert_session_still_usable(&app, "bad/length", &location).await;
}

#[tokio::test]
async fn final_put_with_a_content_range_not_at_the_offset_returns_416() {
    // Arrange
    let app = spawn_app().await;
    let location = session_with_ten_bytes(&app, "bad/final").await;
    let digest = sha256(b"0123456789abcdef");
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .header("Content-Range", "12-17")
        .body(b"abcdef".to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_416(r, 10).await;
    assert_session_still_usable(&app, "bad/final", &location).await;
}

#[tokio::test]
async fn upload_ids_that_look_like_paths_are_unknown() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "bad/pathid", "v1", "kept").await;
    for id in ["..%2F..%2Fberth.db", "x%00y", "a%2Fb"] {
        let location = format!("/v2/bad/pathid/blobs/uploads/{id}");
        // Act
        let status = upload_status(&app, &location).await;
        let delete = at(&app, Method::DELETE, &location).send().await.unwrap();
        // Assert
        assert_oci_error(status, 404, "BLOB_UPLOAD_UNKNOWN").await;
        assert_oci_error(delete, 404, "BLOB_UPLOAD_UNKNOWN").await;
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn unknown_upload_id_returns_404_blob_upload_unknown_for_every_method() {
    // Arrange
    let app = spawn_app().await;
    let location = "/v2/bad/unknown/blobs/uploads/00000000-0000-0000-0000-000000000000";
    let digest = sha256(b"x");
    // Act + Assert
    let get = upload_status(&app, location).await;
    assert_oci_error(get, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let patch = patch_chunk(&app, location, b"x", None).await;
    assert_oci_error(patch, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let put = at(&app, Method::PUT, &with_digest(location, &digest))
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_oci_error(put, 404, "BLOB_UPLOAD_UNKNOWN").await;
    let delete = at(&app, Method::DELETE, location).send().await.unwrap();
    assert_oci_error(delete, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_eq!(
        head_status(&app, &format!("/v2/bad/unknown/blobs/{digest}")).await,
        404
    );
}

#[tokio::test]
async fn an_upload_id_used_under_another_image_name_is_unknown() {
    // Arrange
    let app = spawn_app().await;
    let location = session_with_ten_bytes(&app, "bad/owner").await;
    let id = location.rsplit('/').next().unwrap();
    let foreign = format!("/v2/bad/thief/blobs/uploads/{id}");
    let digest = sha256(b"0123456789");
    // Act
    let status = upload_status(&app, &foreign).await;
    let patch = patch_chunk(&app, &foreign, b"abcdef", None).await;
    let put = at(&app, Method::PUT, &with_digest(&foreign, &digest))
        .send()
        .await
        .unwrap();
    let delete = at(&app, Method::DELETE, &foreign).send().await.unwrap();
    // Assert
    assert_oci_error(status, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_oci_error(patch, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_oci_error(put, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_oci_error(delete, 404, "BLOB_UPLOAD_UNKNOWN").await;
    assert_eq!(
        head_status(&app, &format!("/v2/bad/thief/blobs/{digest}")).await,
        404
    );
    assert_session_still_usable(&app, "bad/owner", &location).await;
}

#[tokio::test]
async fn monolithic_put_with_a_mismatching_digest_returns_digest_invalid_and_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "bad/mono", "v1", "kept").await;
    let location = app.start_upload("bad/mono").await;
    let claimed = sha256(b"what I claim");
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &claimed))
        .body(b"what I send".to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    for digest in [claimed, sha256(b"what I send")] {
        assert_eq!(
            head_status(&app, &format!("/v2/bad/mono/blobs/{digest}")).await,
            404
        );
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn single_post_with_a_mismatching_digest_returns_digest_invalid_and_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "bad/post", "v1", "kept").await;
    let claimed = sha256(b"what I claim");
    // Act
    let r = app
        .req(
            Method::POST,
            &format!("/v2/bad/post/blobs/uploads/?digest={claimed}"),
        )
        .body(b"what I send".to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    for digest in [claimed, sha256(b"what I send")] {
        assert_eq!(
            head_status(&app, &format!("/v2/bad/post/blobs/{digest}")).await,
            404
        );
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn chunked_upload_with_a_mismatching_digest_returns_digest_invalid_and_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "bad/chunked", "v1", "kept").await;
    let location = session_with_ten_bytes(&app, "bad/chunked").await;
    let r = patch_chunk(&app, &location, b"abcdef", Some((10, 15))).await;
    assert_eq!(r.status(), 202);
    let claimed = sha256(b"0123456789abcdeX");
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &claimed))
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    for digest in [claimed, sha256(b"0123456789abcdef")] {
        let path = format!("/v2/bad/chunked/blobs/{digest}");
        assert_eq!(head_status(&app, &path).await, 404);
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn pushing_over_an_existing_blob_with_wrong_bytes_leaves_the_blob_intact() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "bad/overwrite", "v1", "kept").await;
    let (layer_digest, _) = &image.blobs[1];
    let location = app.start_upload("bad/overwrite").await;
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, layer_digest))
        .body(b"impostor bytes".to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    assert_intact(&app, &image).await;
}
