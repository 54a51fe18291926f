//! State survives a restart of the server on the same data directory: tags, manifests
//! (bytes and content types), blobs, blob links per image, referrers, deletions. Upload
//! sessions are the one thing that does not survive.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn tags_manifests_and_blobs_survive_a_restart() {
    // Arrange
    let mut app = spawn_app().await;
    let first = push_known_image(&app, "keep/one", "v1", "one").await;
    let second = push_known_image(&app, "keep/two/nested", "latest", "two").await;
    // Act
    app.restart().await;
    // Assert
    assert_intact(&app, &first).await;
    assert_intact(&app, &second).await;
    assert_eq!(tags_of(&app, "keep/one").await, vec!["v1"]);
    let r = app.req(Method::GET, "/v2/_catalog").send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        strings(&body["repositories"]),
        vec!["keep/one", "keep/two/nested"]
    );
}

#[tokio::test]
async fn manifest_content_types_survive_a_restart() {
    // Arrange
    let mut app = spawn_app().await;
    let image = push_known_image(&app, "keep/types", "oci", "a").await;
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{}]}}"#,
        descriptor(OCI_MANIFEST, &image.digest, image.manifest.len())
    );
    let r = app
        .put_manifest("keep/types", "list", DOCKER_LIST, list.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    // Act
    app.restart().await;
    // Assert
    for (tag, media_type, bytes) in [
        ("oci", OCI_MANIFEST, image.manifest.clone()),
        ("list", DOCKER_LIST, list.into_bytes()),
    ] {
        let r = app
            .req(Method::GET, &format!("/v2/keep/types/manifests/{tag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), media_type);
        assert_eq!(r.bytes().await.unwrap(), bytes);
    }
}

#[tokio::test]
async fn referrers_survive_a_restart() {
    // Arrange
    let mut app = spawn_app().await;
    let image = push_known_image(&app, "keep/refs", "v1", "subject").await;
    push_empty_config(&app, "keep/refs").await;
    let layer = app.push_blob("keep/refs", b"sig").await;
    let sig = artifact_manifest(
        "application/vnd.example.sig",
        (&layer, 3),
        Some((&image.digest, image.manifest.len())),
        Some("persisted"),
    );
    let digest = sha256(sig.as_bytes());
    let r = app
        .put_manifest("keep/refs", &digest, OCI_MANIFEST, sig.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    // Act
    app.restart().await;
    // Assert
    let path = format!(
        "/v2/keep/refs/referrers/{}?artifactType=application/vnd.example.sig",
        image.digest
    );
    let r = app.req(Method::GET, &path).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "oci-filters-applied"), "artifactType");
    let body: serde_json::Value = r.json().await.unwrap();
    let entries = body["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["digest"], digest.as_str());
    assert_eq!(entries[0]["artifactType"], "application/vnd.example.sig");
    assert_eq!(entries[0]["annotations"]["org.example.note"], "persisted");
}

#[tokio::test]
async fn deletions_and_blob_isolation_survive_a_restart() {
    // Arrange
    let mut app = spawn_app().await;
    let kept = push_known_image(&app, "keep/del", "kept", "kept").await;
    let gone = push_known_image(&app, "keep/del", "gone", "gone").await;
    let r = app
        .req(
            Method::DELETE,
            &format!("/v2/keep/del/manifests/{}", gone.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let (blob, _) = &gone.blobs[1];
    let r = app
        .req(Method::DELETE, &format!("/v2/keep/del/blobs/{blob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Act
    app.restart().await;
    // Assert
    assert_intact(&app, &kept).await;
    assert_eq!(tags_of(&app, "keep/del").await, vec!["kept"]);
    let manifest = format!("/v2/keep/del/manifests/{}", gone.digest);
    assert_eq!(head_status(&app, &manifest).await, 404);
    assert_eq!(
        head_status(&app, &format!("/v2/keep/del/blobs/{blob}")).await,
        404
    );
    let stranger = format!("/v2/keep/other/blobs/{}", kept.blobs[0].0);
    assert_eq!(head_status(&app, &stranger).await, 404);
}

#[tokio::test]
async fn an_upload_session_does_not_survive_a_restart() {
    // Arrange
    let mut app = spawn_app().await;
    let location = app.start_upload("keep/upload").await;
    let r = patch_chunk(&app, &location, b"half", None).await;
    assert_eq!(r.status(), 202);
    // Act
    app.restart().await;
    // Assert
    let r = upload_status(&app, &location).await;
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
}
