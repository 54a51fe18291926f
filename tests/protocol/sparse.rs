//! Sparse manifests (the conformance suite's "sparse" data): with a hosted repository's
//! `docker.sparseManifests` on, an index may list platforms whose manifests were never
//! pushed and an image may name layers that are absent (mirrors that copy part of an
//! image). Off by default: then every reference must exist. Absent content pulls as 404.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

const REPO_PATH: &str = "/service/rest/v1/repositories/docker/hosted/docker-hosted";

/// Sets docker-hosted's `docker.sparseManifests`.
async fn set_sparse(app: &TestApp, on: bool) {
    let body = json!({"name": "docker-hosted", "online": true,
        "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
        "docker": {"forceBasicAuth": true, "sparseManifests": on}});
    let r = app
        .req(Method::PUT, REPO_PATH)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

async fn repository_json(app: &TestApp) -> Value {
    let r = app.req(Method::GET, REPO_PATH).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A sparse index: a pushed amd64 image and an arm64 image manifest whose bytes exist
/// only here (its config blob is pushed, the manifest not).
struct SparseIndex {
    index: String,
    amd64: String,
    arm64: String,
    arm64_manifest: String,
}

async fn sparse_index(app: &TestApp, name: &str) -> SparseIndex {
    let (amd64, amd64_bytes) = app.push_image(name, "amd64-only", "amd64").await;
    let config_bytes = b"{\"architecture\":\"arm64\"}";
    let config = app.push_blob(name, config_bytes).await;
    let arm64_manifest = oci_manifest((&config, config_bytes.len()), &[]);
    let arm64 = sha256(arm64_manifest.as_bytes());
    let child = |digest: &str, size: usize, arch: &str| {
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{},{}]}}"#,
        child(&amd64, amd64_bytes.len(), "amd64"),
        child(&arm64, arm64_manifest.len(), "arm64")
    );
    SparseIndex {
        index,
        amd64,
        arm64,
        arm64_manifest,
    }
}

#[tokio::test]
async fn an_index_with_an_absent_child_is_refused_while_the_setting_is_off() {
    // Arrange: the default.
    let app = spawn_app().await;
    let s = sparse_index(&app, "sparse/off").await;
    // Act
    let r = app
        .put_manifest("sparse/off", "multi", OCI_INDEX, s.index.as_bytes())
        .await;
    // Assert
    let body = assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert!(body.to_string().contains(&s.arm64), "{body}");
    let config = repository_json(&app).await;
    assert_eq!(config["docker"]["sparseManifests"], false);
}

#[tokio::test]
async fn a_sparse_repository_takes_an_index_with_an_absent_child_which_pulls_as_manifest_unknown() {
    // Arrange
    let app = spawn_app().await;
    set_sparse(&app, true).await;
    let s = sparse_index(&app, "sparse/on").await;
    // Act
    let r = app
        .put_manifest("sparse/on", "multi", OCI_INDEX, s.index.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (status, body) = get_bytes(&app, "/v2/sparse/on/manifests/multi").await;
    assert_eq!((status, body), (200, s.index.into_bytes()));
    let (status, _) = get_bytes(&app, &format!("/v2/sparse/on/manifests/{}", s.amd64)).await;
    assert_eq!(status, 200, "the present platform pulls");
    let r = app
        .req(Method::GET, &format!("/v2/sparse/on/manifests/{}", s.arm64))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "MANIFEST_UNKNOWN").await;
}

#[tokio::test]
async fn a_sparse_repository_takes_an_image_with_an_absent_layer_which_pulls_as_blob_unknown() {
    // Arrange: the config is pushed, one of the two layers is not.
    let app = spawn_app().await;
    set_sparse(&app, true).await;
    let config = app.push_blob("sparse/layer", b"{\"os\":\"linux\"}").await;
    let present = app.push_blob("sparse/layer", b"present layer").await;
    let absent = sha256(b"absent layer");
    let manifest = oci_manifest((&config, 14), &[(&present, 13), (&absent, 12)]);
    // Act
    let r = app
        .put_manifest("sparse/layer", "partial", OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = app
        .req(Method::GET, &format!("/v2/sparse/layer/blobs/{absent}"))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UNKNOWN").await;
    let (status, _) = get_bytes(&app, &format!("/v2/sparse/layer/blobs/{present}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_browse_api_shows_which_platforms_of_an_index_are_present() {
    // Arrange: a sparse index is pushed first, its arm64 manifest afterwards.
    let app = spawn_app().await;
    set_sparse(&app, true).await;
    let s = sparse_index(&app, "sparse/browse").await;
    let r = app
        .put_manifest("sparse/browse", "multi", OCI_INDEX, s.index.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    // Act
    let before = platforms(&app, "multi").await;
    let r = app
        .put_manifest(
            "sparse/browse",
            &s.arm64,
            OCI_MANIFEST,
            s.arm64_manifest.as_bytes(),
        )
        .await;
    assert_eq!(r.status(), 201);
    let after = platforms(&app, "multi").await;
    // Assert
    let entry = |arch: &str, digest: &str, present| (arch.to_string(), digest.to_string(), present);
    assert_eq!(
        before,
        [
            entry("amd64", &s.amd64, true),
            entry("arm64", &s.arm64, false)
        ]
    );
    assert_eq!(
        after,
        [
            entry("amd64", &s.amd64, true),
            entry("arm64", &s.arm64, true)
        ]
    );
    let (status, body) = get_bytes(&app, &format!("/v2/sparse/browse/manifests/{}", s.arm64)).await;
    assert_eq!((status, body), (200, s.arm64_manifest.into_bytes()));
}

/// `(architecture, digest, present)` of the index component `image:tag` in the components
/// API's `berthPlatforms`.
async fn platforms(app: &TestApp, tag: &str) -> Vec<(String, String, bool)> {
    let r = app
        .req(
            Method::GET,
            "/service/rest/v1/components?repository=docker-hosted",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let item = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["version"] == tag)
        .unwrap_or_else(|| panic!("no component {tag}: {body}"));
    item["berthPlatforms"]
        .as_array()
        .unwrap_or_else(|| panic!("no berthPlatforms: {item}"))
        .iter()
        .map(|p| {
            (
                p["platform"]["architecture"].as_str().unwrap().to_string(),
                p["digest"].as_str().unwrap().to_string(),
                p["present"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_sparse_setting_survives_a_restart_and_is_refused_on_a_group() {
    // Arrange
    let mut app = spawn_app().await;
    set_sparse(&app, true).await;
    // Act
    app.restart().await;
    let group = json!({"name": "g", "online": true, "storage": {"blobStoreName": "default"},
        "group": {"memberNames": ["docker-hosted"]}, "docker": {"sparseManifests": true}});
    let r = app
        .req(Method::POST, "/service/rest/v1/repositories/docker/group")
        .json(&group)
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(
        repository_json(&app).await["docker"]["sparseManifests"],
        true
    );
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("docker.sparseManifests"), "{body}");
}
