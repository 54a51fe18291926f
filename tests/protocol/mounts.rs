//! Cross-repository blob mounts (spec "Mounting a blob from another repository"): 201 with
//! the blob's Location when `from` has the blob, or, without `from`, when any image of the
//! repository has it (automatic cross-mount); otherwise an ordinary upload session (202).

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const BYTES: &[u8] = b"a layer shared between images";

async fn mount(app: &TestApp, target: &str, query: &str) -> reqwest::Response {
    app.req(
        Method::POST,
        &format!("/v2/{target}/blobs/uploads/?{query}"),
    )
    .send()
    .await
    .unwrap()
}

/// Asserts a fallback: 202 with an upload session Location under `target`.
async fn assert_session(app: &TestApp, r: reqwest::Response, target: &str) {
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    assert!(
        location.starts_with(&format!("/v2/{target}/blobs/uploads/")),
        "{location}"
    );
    assert_eq!(upload_status(app, &location).await.status(), 204);
}

#[tokio::test]
async fn mount_from_an_image_that_has_the_blob_returns_201_with_the_exact_location() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("mount/source", BYTES).await;
    // Act
    let r = mount(
        &app,
        "mount/target",
        &format!("mount={digest}&from=mount/source"),
    )
    .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/mount/target/blobs/{digest}")
    );
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let (status, body) = get_bytes(&app, &format!("/v2/mount/target/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, BYTES));
    let (status, body) = get_bytes(&app, &format!("/v2/mount/source/blobs/{digest}")).await;
    assert_eq!(
        (status, body.as_slice()),
        (200, BYTES),
        "source keeps its blob"
    );
}

#[tokio::test]
async fn mount_with_a_url_encoded_from_works() {
    // Arrange: clients encode the slash of `from` as %2F in the query string.
    let app = spawn_app().await;
    let digest = app.push_blob("mount/enc/source", BYTES).await;
    let query = format!(
        "mount={}&from=mount%2Fenc%2Fsource",
        digest.replace(':', "%3A")
    );
    // Act
    let r = mount(&app, "mount/enc/target", &query).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/mount/enc/target/blobs/{digest}")
    );
}

#[tokio::test]
async fn a_mounted_blob_can_be_used_by_a_manifest_in_the_target() {
    // Arrange
    let app = spawn_app().await;
    let source = push_known_image(&app, "mount/base", "v1", "base").await;
    for (digest, _) in &source.blobs {
        let r = mount(
            &app,
            "mount/derived",
            &format!("mount={digest}&from=mount/base"),
        )
        .await;
        assert_eq!(r.status(), 201);
    }
    // Act
    let r = app
        .put_manifest("mount/derived", "v1", OCI_MANIFEST, &source.manifest)
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    let derived = Pushed {
        name: "mount/derived".into(),
        tag: "v1".into(),
        digest: source.digest.clone(),
        manifest: source.manifest.clone(),
        blobs: source.blobs.clone(),
    };
    assert_intact(&app, &derived).await;
}

#[tokio::test]
async fn mount_from_an_image_without_the_blob_falls_back_to_a_202_session() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("mount/has", BYTES).await;
    app.push_blob("mount/lacks", b"other").await;
    // Act
    let r = mount(
        &app,
        "mount/want",
        &format!("mount={digest}&from=mount/lacks"),
    )
    .await;
    // Assert
    assert_session(&app, r, "mount/want").await;
    assert_eq!(
        head_status(&app, &format!("/v2/mount/want/blobs/{digest}")).await,
        404
    );
}

#[tokio::test]
async fn mount_from_an_unknown_image_falls_back_to_a_202_session() {
    // Arrange
    let app = spawn_app().await;
    let digest = sha256(BYTES);
    // Act
    let r = mount(
        &app,
        "mount/orphan",
        &format!("mount={digest}&from=mount/ghost"),
    )
    .await;
    // Assert
    assert_session(&app, r, "mount/orphan").await;
}

#[tokio::test]
async fn mount_without_from_mounts_the_blob_from_an_image_that_has_it() {
    // Arrange: automatic cross-mount (spec: "MAY treat the from parameter as optional").
    let app = spawn_app().await;
    let digest = app.push_blob("mount/somewhere", BYTES).await;
    // Act
    let r = mount(&app, "mount/nofrom", &format!("mount={digest}")).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/mount/nofrom/blobs/{digest}")
    );
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let (status, body) = get_bytes(&app, &format!("/v2/mount/nofrom/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, BYTES));
}

#[tokio::test]
async fn mount_without_from_of_a_blob_no_image_has_falls_back_to_a_202_session() {
    // Arrange: the blob is nowhere; another blob is.
    let app = spawn_app().await;
    app.push_blob("mount/elsewhere", b"something else").await;
    let digest = sha256(BYTES);
    // Act
    let r = mount(&app, "mount/nowhere", &format!("mount={digest}")).await;
    // Assert
    assert_session(&app, r, "mount/nowhere").await;
}

#[tokio::test]
async fn mount_without_from_does_not_take_a_blob_from_another_repository() {
    // Arrange: the blob is in `other` (same blob store), not in docker-hosted.
    let app = spawn_app().await;
    let other = serde_json::json!({"name": "other", "online": true,
        "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"}});
    let r = app
        .req(Method::POST, "/service/rest/v1/repositories/docker/hosted")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let digest = sha256(BYTES);
    let r = app
        .req(
            Method::POST,
            &format!("/v2/repository/other/mount/there/blobs/uploads/?digest={digest}"),
        )
        .body(BYTES.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Act
    let r = mount(&app, "mount/here", &format!("mount={digest}")).await;
    // Assert
    assert_session(&app, r, "mount/here").await;
}

#[tokio::test]
async fn mount_with_invalid_arguments_falls_back_to_a_202_session() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("mount/valid", BYTES).await;
    for query in [
        "mount=sha256:xyz&from=mount/valid".to_string(),
        format!("mount={digest}&from=Mount//Bad"),
        format!("mount={digest}&from=../mount/valid"),
        format!("mount={digest}&from="),
    ] {
        // Act
        let r = mount(&app, "mount/args", &query).await;
        // Assert
        assert_eq!(r.status(), 202, "{query}");
        assert_session(&app, r, "mount/args").await;
    }
    assert_eq!(
        head_status(&app, &format!("/v2/mount/args/blobs/{digest}")).await,
        404
    );
}

#[tokio::test]
async fn the_fallback_session_of_a_failed_mount_can_upload_the_blob() {
    // Arrange
    let app = spawn_app().await;
    let digest = sha256(BYTES);
    let r = mount(
        &app,
        "mount/upload",
        &format!("mount={digest}&from=mount/ghost"),
    )
    .await;
    let location = header(&r, "location");
    // Act
    let r = at(&app, Method::PUT, &with_digest(&location, &digest))
        .body(BYTES.to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 201);
    let (status, body) = get_bytes(&app, &format!("/v2/mount/upload/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, BYTES));
}

#[tokio::test]
async fn deleting_a_mounted_blob_in_the_target_leaves_the_source_alone() {
    // Arrange
    let app = spawn_app().await;
    let digest = app.push_blob("mount/orig", BYTES).await;
    let r = mount(
        &app,
        "mount/copy",
        &format!("mount={digest}&from=mount/orig"),
    )
    .await;
    assert_eq!(r.status(), 201);
    // Act
    let r = app
        .req(Method::DELETE, &format!("/v2/mount/copy/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 202);
    assert_eq!(
        head_status(&app, &format!("/v2/mount/copy/blobs/{digest}")).await,
        404
    );
    let (status, body) = get_bytes(&app, &format!("/v2/mount/orig/blobs/{digest}")).await;
    assert_eq!((status, body.as_slice()), (200, BYTES));
}
