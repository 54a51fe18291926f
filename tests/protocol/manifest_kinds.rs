//! Every kind of manifest clients push: Docker schema 2 manifests and manifest lists, OCI
//! image indexes, artifacts (`artifactType` with the empty config), foreign layers. Each is
//! stored and returned byte for byte with the content type it was pushed with.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// PUTs `body` as `media_type` under `name:reference`, asserts 201 and that GET by the
/// reference and by digest return the same bytes with the same `Content-Type`.
async fn assert_round_trip(
    app: &TestApp,
    name: &str,
    reference: &str,
    media_type: &str,
    body: &str,
) {
    let r = app
        .put_manifest(name, reference, media_type, body.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let digest = sha256(body.as_bytes());
    for reference in [reference, digest.as_str()] {
        let got = app
            .req(Method::GET, &format!("/v2/{name}/manifests/{reference}"))
            .header("Accept", media_type)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(header(&got, "content-type"), media_type);
        assert_eq!(header(&got, "docker-content-digest"), digest);
        assert_eq!(got.bytes().await.unwrap(), body.as_bytes());
    }
}

/// A Docker schema 2 image manifest over freshly pushed blobs of `seed`.
async fn docker_manifest(app: &TestApp, name: &str, seed: &str) -> String {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let layer = format!("gzip layer of {seed}");
    let c = app.push_blob(name, config.as_bytes()).await;
    let l = app.push_blob(name, layer.as_bytes()).await;
    format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{DOCKER_MANIFEST}\",\n   \"config\": {},\n   \"layers\": [\n      {}\n   ]\n}}",
        descriptor(DOCKER_CONFIG, &c, config.len()),
        descriptor(DOCKER_LAYER, &l, layer.len())
    )
}

/// A platform-specific child descriptor for an index or manifest list.
fn platform_child(media_type: &str, digest: &str, size: usize, arch: &str) -> String {
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
    )
}

#[tokio::test]
async fn docker_schema2_manifest_is_stored_and_returned_byte_for_byte_with_its_type() {
    // Arrange
    let app = spawn_app().await;
    let manifest = docker_manifest(&app, "kind/docker", "a").await;
    // Act + Assert
    assert_round_trip(&app, "kind/docker", "latest", DOCKER_MANIFEST, &manifest).await;
}

#[tokio::test]
async fn docker_manifest_list_is_stored_and_returned_byte_for_byte_with_its_type() {
    // Arrange
    let app = spawn_app().await;
    let amd = docker_manifest(&app, "kind/list", "amd64").await;
    let arm = docker_manifest(&app, "kind/list", "arm64").await;
    for m in [&amd, &arm] {
        let r = app
            .put_manifest(
                "kind/list",
                &sha256(m.as_bytes()),
                DOCKER_MANIFEST,
                m.as_bytes(),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{},{}]}}"#,
        platform_child(DOCKER_MANIFEST, &sha256(amd.as_bytes()), amd.len(), "amd64"),
        platform_child(DOCKER_MANIFEST, &sha256(arm.as_bytes()), arm.len(), "arm64")
    );
    // Act + Assert
    assert_round_trip(&app, "kind/list", "latest", DOCKER_LIST, &list).await;
}

#[tokio::test]
async fn oci_index_over_untagged_children_is_stored_and_returned_byte_for_byte() {
    // Arrange
    let app = spawn_app().await;
    let a = push_known_image(&app, "kind/index", "tmp-a", "amd64").await;
    let b = push_known_image(&app, "kind/index", "tmp-b", "arm64").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{},{}],"annotations":{{"org.opencontainers.image.ref.name":"multi"}}}}"#,
        platform_child(OCI_MANIFEST, &a.digest, a.manifest.len(), "amd64"),
        platform_child(OCI_MANIFEST, &b.digest, b.manifest.len(), "arm64")
    );
    // Act + Assert
    assert_round_trip(&app, "kind/index", "multi", OCI_INDEX, &index).await;
    assert_intact(&app, &a).await;
}

#[tokio::test]
async fn oci_index_without_media_type_member_is_served_as_sent() {
    // Arrange
    let app = spawn_app().await;
    let a = push_known_image(&app, "kind/bare", "a", "a").await;
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        descriptor(OCI_MANIFEST, &a.digest, a.manifest.len())
    );
    // Act + Assert
    assert_round_trip(&app, "kind/bare", "idx", OCI_INDEX, &index).await;
}

#[tokio::test]
async fn nested_index_referencing_another_index_is_accepted() {
    // Arrange
    let app = spawn_app().await;
    let a = push_known_image(&app, "kind/nested", "a", "a").await;
    let inner = oci_index(&[(OCI_MANIFEST, &a.digest, a.manifest.len())], "");
    let r = app
        .put_manifest("kind/nested", "inner", OCI_INDEX, inner.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    let outer = oci_index(&[(OCI_INDEX, &sha256(inner.as_bytes()), inner.len())], "");
    // Act + Assert
    assert_round_trip(&app, "kind/nested", "outer", OCI_INDEX, &outer).await;
}

#[tokio::test]
async fn artifact_manifest_with_artifact_type_and_empty_config_round_trips() {
    // Arrange
    let app = spawn_app().await;
    let empty = push_empty_config(&app, "kind/artifact").await;
    assert_eq!(
        empty,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let payload = b"signature bytes";
    let layer = app.push_blob("kind/artifact", payload).await;
    let artifact = artifact_manifest(
        "application/vnd.example.sig",
        (&layer, payload.len()),
        None,
        Some("x"),
    );
    // Act + Assert
    assert_round_trip(&app, "kind/artifact", "sig", OCI_MANIFEST, &artifact).await;
}

#[tokio::test]
async fn artifact_with_the_empty_descriptor_as_its_only_layer_round_trips() {
    // Arrange
    let app = spawn_app().await;
    let empty = push_empty_config(&app, "kind/emptylayer").await;
    let artifact = artifact_manifest("application/vnd.example.marker", (&empty, 2), None, None)
        .replace(
            r#""mediaType":"application/vnd.example.marker""#,
            &format!(r#""mediaType":"{EMPTY_JSON}""#),
        );
    // Act + Assert
    assert_round_trip(&app, "kind/emptylayer", "marker", OCI_MANIFEST, &artifact).await;
}

#[tokio::test]
async fn foreign_layers_with_urls_need_not_be_pushed() {
    // Arrange
    let app = spawn_app().await;
    let config = br#"{"os":"windows"}"#;
    let c = app.push_blob("kind/foreign", config).await;
    let foreign = sha256(b"windows base layer, hosted elsewhere");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{foreign}","size":36,"urls":["https://example.com/layer"]}}]}}"#,
        descriptor(DOCKER_CONFIG, &c, config.len())
    );
    // Act + Assert
    assert_round_trip(&app, "kind/foreign", "ltsc", DOCKER_MANIFEST, &manifest).await;
}

#[tokio::test]
async fn docker_and_oci_manifests_coexist_in_one_image() {
    // Arrange
    let app = spawn_app().await;
    let docker = docker_manifest(&app, "kind/mixed", "docker").await;
    let oci = push_known_image(&app, "kind/mixed", "oci", "oci").await;
    // Act
    assert_round_trip(&app, "kind/mixed", "docker", DOCKER_MANIFEST, &docker).await;
    // Assert
    assert_intact(&app, &oci).await;
    assert_eq!(tags_of(&app, "kind/mixed").await, vec!["docker", "oci"]);
}
