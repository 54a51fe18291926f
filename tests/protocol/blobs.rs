//! Pulling blobs (spec "Pulling blobs", "Checking if content exists"): GET and HEAD, byte
//! ranges, isolation between image names.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const BYTES: &[u8] = b"0123456789abcdefghij";

#[tokio::test]
async fn get_of_a_pushed_blob_returns_its_bytes_length_and_digest() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/get", BYTES).await;
    // Act
    let r = app
        .req(Method::GET, &format!("/v2/blob/get/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(header(&r, "content-length"), BYTES.len().to_string());
    assert_eq!(header(&r, "content-type"), OCTET);
    assert_eq!(r.bytes().await.unwrap(), BYTES);
}

#[tokio::test]
async fn head_of_a_pushed_blob_returns_length_and_digest_with_an_empty_body() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/head", BYTES).await;
    let path = format!("/v2/blob/head/blobs/{digest}");
    // Act: on a raw socket, to see that nothing follows the headers.
    let r = raw_http(&app, &raw_head(&app, "HEAD", &path, &[]), false)
        .await
        .expect("an answer");
    // Assert
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), BYTES.len().to_string());
    assert_eq!(r.header("docker-content-digest"), digest);
    assert!(r.body.is_empty(), "HEAD sent a body");
}

#[tokio::test]
async fn unknown_blobs_return_404_blob_unknown() {
    // Arrange: the conformance suite's never-pushed digest, in an image that exists.
    let app = spawn_app().await;
    app.push_blob("blob/unknown", BYTES).await;
    let missing = "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    let path = format!("/v2/blob/unknown/blobs/{missing}");
    // Act
    let get = app.req(Method::GET, &path).send().await.unwrap();
    let head = head_status(&app, &path).await;
    let nobody = app
        .req(Method::GET, &format!("/v2/blob/nobody/blobs/{missing}"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(get, 404, "BLOB_UNKNOWN").await;
    assert_eq!(head, 404);
    assert_eq!(nobody.status(), 404);
}

#[tokio::test]
async fn range_get_returns_206_with_content_range_and_the_slice() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/range", BYTES).await;
    // Act
    let r = app
        .req(Method::GET, &format!("/v2/blob/range/blobs/{digest}"))
        .header("Range", "bytes=5-9")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 5-9/20");
    assert_eq!(header(&r, "content-length"), "5");
    assert_eq!(r.bytes().await.unwrap(), &BYTES[5..10]);
}

#[tokio::test]
async fn open_ended_range_returns_the_rest_of_the_blob() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/open", BYTES).await;
    // Act
    let r = app
        .req(Method::GET, &format!("/v2/blob/open/blobs/{digest}"))
        .header("Range", "bytes=15-")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 15-19/20");
    assert_eq!(r.bytes().await.unwrap(), &BYTES[15..]);
}

#[tokio::test]
async fn suffix_range_returns_the_last_n_bytes() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/suffix", BYTES).await;
    // Act
    let r = app
        .req(Method::GET, &format!("/v2/blob/suffix/blobs/{digest}"))
        .header("Range", "bytes=-4")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 16-19/20");
    assert_eq!(r.bytes().await.unwrap(), &BYTES[16..]);
}

#[tokio::test]
async fn unsatisfiable_range_returns_416_with_an_oci_error() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/unsat", BYTES).await;
    for range in ["bytes=20-30", "bytes=100-", "bytes=-0"] {
        // Act
        let r = app
            .req(Method::GET, &format!("/v2/blob/unsat/blobs/{digest}"))
            .header("Range", range)
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(header(&r, "content-range"), "bytes */20", "{range}");
        assert!(header(&r, "content-type").starts_with("application/json"));
        assert_oci_error(r, 416, "RANGE_INVALID").await;
    }
}

#[tokio::test]
async fn a_blob_of_one_image_is_not_visible_through_another_name() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("blob/owner", BYTES).await;
    app.push_blob("blob/stranger", b"something else").await;
    let path = format!("/v2/blob/stranger/blobs/{digest}");
    // Act
    let get = app.req(Method::GET, &path).send().await.unwrap();
    let head = head_status(&app, &path).await;
    let delete = app.req(Method::DELETE, &path).send().await.unwrap();
    // Assert
    assert_oci_error(get, 404, "BLOB_UNKNOWN").await;
    assert_eq!(head, 404);
    assert_oci_error(delete, 404, "BLOB_UNKNOWN").await;
    let (status, body) = get_bytes(&app, &format!("/v2/blob/owner/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, BYTES));
}

#[tokio::test]
async fn the_same_blob_pushed_to_two_images_is_served_by_both() {
    // Arrange
    let app = spawn_app().await;
    let first = app.push_blob("blob/one", BYTES).await;
    // Act
    let second = app.push_blob("blob/two", BYTES).await;
    // Assert
    assert_eq!(first, second);
    for name in ["blob/one", "blob/two"] {
        let (status, body) = get_bytes(&app, &format!("/v2/{name}/blobs/{first}")).await;
        assert_eq!((status, body.as_slice()), (200, BYTES), "{name}");
    }
}

#[tokio::test]
async fn head_of_an_unknown_blob_returns_404_without_a_body() {
    // Arrange
    let app = spawn_app().await;
    app.push_blob("blob/headmiss", BYTES).await;
    let path = format!("/v2/blob/headmiss/blobs/{}", sha256(b"missing"));
    // Act
    let r = raw_http(&app, &raw_head(&app, "HEAD", &path, &[]), false)
        .await
        .expect("an answer");
    // Assert
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty(), "HEAD sent a body");
}
