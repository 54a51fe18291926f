//! The spec's four conformance workflows end to end, in the order and wire shape the
//! official suite uses (request bodies streamed with `Transfer-Encoding: chunked` and no
//! `Content-Length`, the 22 + 20 byte chunked upload, the stale POST Location), so a
//! regression shows up here before the suite is run.

use reqwest::{Body, Method};

use crate::common::*;
use crate::support::*;

/// A body `reqwest` sends chunked, without `Content-Length`, as Go's client does.
fn streamed(bytes: &[u8]) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(16).map(|c| Ok(c.to_vec())).collect();
    Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// The suite's blob push: POST, then PUT to its Location with the (streamed) blob.
async fn suite_push_blob(app: &TestApp, name: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let location = app.start_upload(name).await;
    let r = at(app, Method::PUT, &with_digest(&location, &digest))
        .header("Content-Type", OCTET)
        .body(streamed(bytes))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    digest
}

#[tokio::test]
async fn pull_workflow_reads_what_was_pushed_by_tag_and_by_digest() {
    // Arrange
    let app = spawn_app().await;
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let c = suite_push_blob(&app, "myorg/myrepo", config).await;
    let l = suite_push_blob(&app, "myorg/myrepo", b"layer tar.gz").await;
    let manifest = oci_manifest((&c, config.len()), &[(&l, 12)]);
    let digest = sha256(manifest.as_bytes());
    let r = app
        .req(Method::PUT, "/v2/myorg/myrepo/manifests/tagtest0")
        .header("Content-Type", OCI_MANIFEST)
        .header("Accept", OCI_MANIFEST)
        .body(streamed(manifest.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Act + Assert
    for path in [
        format!("/v2/myorg/myrepo/blobs/{c}"),
        format!("/v2/myorg/myrepo/manifests/{digest}"),
        "/v2/myorg/myrepo/manifests/tagtest0".to_string(),
    ] {
        let head = app.req(Method::HEAD, &path).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        let expected = if path.contains("/blobs/") {
            &c
        } else {
            &digest
        };
        assert_eq!(&header(&head, "docker-content-digest"), expected);
        let (status, _) = get_bytes(&app, &path).await;
        assert_eq!(status, 200, "GET {path}");
    }
    let dummy = sha256(b"hello world");
    assert_eq!(
        head_status(&app, &format!("/v2/myorg/myrepo/blobs/{dummy}")).await,
        404
    );
    let invalid = "/v2/myorg/myrepo/manifests/.INVALID_MANIFEST_NAME";
    assert_eq!(head_status(&app, invalid).await, 404);
}

#[tokio::test]
async fn push_workflow_chunked_upload_with_retry_and_stale_location() {
    // Arrange: testBlobB of the suite, 42 bytes in chunks 0-21 and 22-41.
    let app = spawn_app().await;
    let blob: Vec<u8> = (0..42u8).map(|i| i.wrapping_mul(97)).collect();
    let (chunk1, chunk2) = blob.split_at(22);
    let out_of_order = app.start_upload("myorg/myrepo").await;
    let r = patch_chunk(&app, &out_of_order, chunk2, Some((22, 41))).await;
    assert_eq!(r.status(), 416, "out-of-order chunk");
    let prev = app.start_upload("myorg/myrepo").await;
    // Act
    let first = at(&app, Method::PATCH, &prev)
        .header("Content-Type", OCTET)
        .header("Content-Range", "0-21")
        .body(streamed(chunk1))
        .send()
        .await
        .unwrap();
    let retry = patch_chunk(&app, &prev, chunk1, Some((0, 21))).await;
    let stale = upload_status(&app, &prev).await;
    // Assert
    assert_eq!(first.status(), 202);
    assert_eq!(header(&first, "range"), "0-21");
    assert_eq!(retry.status(), 416, "retried chunk");
    assert_eq!(stale.status(), 204);
    assert_eq!(header(&stale, "range"), "0-21");
    let location = header(&stale, "location");
    let second = patch_chunk(&app, &location, chunk2, Some((22, 41))).await;
    assert_eq!(second.status(), 202);
    let done = at(
        &app,
        Method::PUT,
        &with_digest(&header(&second, "location"), &sha256(&blob)),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(done.status(), 201);
    assert!(!header(&done, "location").is_empty());
}

#[tokio::test]
async fn push_workflow_streamed_patch_monolithic_post_and_cross_mount() {
    // Arrange: testBlobA of the suite, 42 bytes streamed in one PATCH.
    let app = spawn_app().await;
    let blob: Vec<u8> = (0..42u8).map(|i| i.wrapping_mul(31)).collect();
    let digest = sha256(&blob);
    let location = app.start_upload("myorg/myrepo").await;
    // Act
    let patched = at(&app, Method::PATCH, &location)
        .header("Content-Type", OCTET)
        .body(streamed(&blob))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 202);
    let put = at(
        &app,
        Method::PUT,
        &with_digest(&header(&patched, "location"), &digest),
    )
    .header("Content-Type", OCTET)
    .send()
    .await
    .unwrap();
    let config = br#"{"author":"x"}"#;
    let mono = app
        .req(
            Method::POST,
            &format!("/v2/myorg/myrepo/blobs/uploads/?digest={}", sha256(config)),
        )
        .header("Content-Type", OCTET)
        .body(streamed(config))
        .send()
        .await
        .unwrap();
    let no_from = app
        .req(
            Method::POST,
            &format!(
                "/v2/myorg/other/blobs/uploads/?mount={}",
                sha256(b"hello world")
            ),
        )
        .send()
        .await
        .unwrap();
    let mount = app
        .req(
            Method::POST,
            &format!("/v2/myorg/other/blobs/uploads/?mount={digest}&from=myorg/myrepo"),
        )
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(put.status(), 201);
    assert!(!header(&put, "location").is_empty());
    assert_eq!(mono.status(), 201);
    assert!(!header(&mono, "location").is_empty());
    assert_eq!(no_from.status(), 202);
    assert!(!header(&no_from, "location").is_empty());
    assert_eq!(mount.status(), 201);
    assert_eq!(
        header(&mount, "location"),
        format!("/v2/myorg/other/blobs/{digest}")
    );
    let (status, body) = get_bytes(&app, &format!("/v2/myorg/other/blobs/{digest}")).await;
    assert_eq!((status, body), (200, blob));
}

#[tokio::test]
async fn content_management_workflow_deletes_tag_manifest_and_blobs() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "myorg/myrepo", "tagtest0", "mgmt").await;
    push_known_image(&app, "myorg/myrepo", "other", "other").await;
    let before = tags_of(&app, "myorg/myrepo").await;
    // Act
    let by_tag = app
        .req(Method::DELETE, "/v2/myorg/myrepo/manifests/tagtest0")
        .send()
        .await
        .unwrap();
    let manifest = format!("/v2/myorg/myrepo/manifests/{}", image.digest);
    let by_digest = app.req(Method::DELETE, &manifest).send().await.unwrap();
    // Assert
    assert_eq!(by_tag.status(), 202);
    assert_eq!(by_digest.status(), 202);
    assert_eq!(head_status(&app, &manifest).await, 404);
    assert_eq!(tags_of(&app, "myorg/myrepo").await.len(), before.len() - 1);
    for (digest, _) in &image.blobs {
        let path = format!("/v2/myorg/myrepo/blobs/{digest}");
        let r = app.req(Method::DELETE, &path).send().await.unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(get_bytes(&app, &path).await.0, 404);
    }
}
