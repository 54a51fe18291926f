//! Manifests the registry must refuse: too large (413), not JSON, schema version 1,
//! references to missing blobs or child manifests, a `Content-Type` that contradicts the
//! body, a digest reference the body does not hash to. Every refusal is aimed at the tag of
//! an existing image, which must still point at the same bytes afterwards.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const LIMIT: usize = 4 << 20;

/// An image tagged `v1` under `name`, plus a PUT of `body` to that same tag.
async fn put_over_v1(
    app: &TestApp,
    name: &str,
    content_type: &str,
    body: &[u8],
) -> (Pushed, reqwest::Response) {
    let image = push_known_image(app, name, "v1", "kept").await;
    let r = app.put_manifest(name, "v1", content_type, body).await;
    (image, r)
}

/// A valid image manifest over the blobs of `image`, padded with an annotation to `size`.
fn padded_manifest(image: &Pushed, size: usize) -> Vec<u8> {
    let (config, layer) = (&image.blobs[0], &image.blobs[1]);
    let plain = oci_manifest_with(
        (&config.0, config.1.len()),
        &[(&layer.0, layer.1.len())],
        r#","annotations":{"pad":""}"#,
    );
    let pad = size - plain.len();
    plain
        .replace(r#""pad":"""#, &format!(r#""pad":"{}""#, "p".repeat(pad)))
        .into_bytes()
}

#[tokio::test]
async fn manifest_over_4_mib_with_content_length_returns_413() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "big/sized", "v1", "kept").await;
    let body = padded_manifest(&image, LIMIT + 1);
    // Act
    let r = app
        .put_manifest("big/sized", "v1", OCI_MANIFEST, &body)
        .await;
    // Assert
    assert_oci_error(r, 413, "MANIFEST_INVALID").await;
    assert_intact(&app, &image).await;
    let by_digest = format!("/v2/big/sized/manifests/{}", sha256(&body));
    assert_eq!(head_status(&app, &by_digest).await, 404);
}

#[tokio::test]
async fn manifest_over_4_mib_streamed_without_content_length_returns_413() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "big/streamed", "v1", "kept").await;
    let body = padded_manifest(&image, LIMIT + 1);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    // Act
    let r = app
        .req(Method::PUT, "/v2/big/streamed/manifests/v1")
        .header("Content-Type", OCI_MANIFEST)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 413, "MANIFEST_INVALID").await;
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn manifest_of_exactly_4_mib_is_accepted() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "big/limit", "v1", "kept").await;
    let body = padded_manifest(&image, LIMIT);
    // Act
    let r = app
        .put_manifest("big/limit", "max", OCI_MANIFEST, &body)
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    let (status, stored) = get_bytes(&app, "/v2/big/limit/manifests/max").await;
    assert_eq!(status, 200);
    assert!(stored == body, "4 MiB manifest changed");
}

#[tokio::test]
async fn malformed_json_manifest_returns_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    for body in [&b"{not json"[..], b"blablabla", b"", b"[]", b"null"] {
        // Act
        let (image, r) = put_over_v1(&app, "badm/json", OCI_MANIFEST, body).await;
        // Assert
        assert_oci_error(r, 400, "MANIFEST_INVALID").await;
        assert_intact(&app, &image).await;
    }
}

#[tokio::test]
async fn manifest_with_schema_version_1_returns_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let v1 = r#"{"schemaVersion":1,"name":"badm/v1","tag":"v1","architecture":"amd64","fsLayers":[],"history":[]}"#;
    let schema1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    for content_type in [schema1, "application/json", OCI_MANIFEST] {
        // Act
        let (image, r) = put_over_v1(&app, "badm/v1", content_type, v1.as_bytes()).await;
        // Assert
        assert_oci_error(r, 400, "MANIFEST_INVALID").await;
        assert_intact(&app, &image).await;
    }
}

#[tokio::test]
async fn manifest_with_an_unsupported_media_type_returns_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/type", "v1", "kept").await;
    let body = String::from_utf8(image.manifest.clone())
        .unwrap()
        .replace(OCI_MANIFEST, "text/plain");
    // Act
    let r = app
        .put_manifest("badm/type", "v1", "text/plain", body.as_bytes())
        .await;
    // Assert
    assert_oci_error(r, 400, "MANIFEST_INVALID").await;
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn manifest_missing_config_or_layers_returns_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/shape", "v1", "kept").await;
    let (config, size) = (&image.blobs[0].0, image.blobs[0].1.len());
    let no_config = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[]}}"#);
    let no_layers = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{}}}"#,
        descriptor(OCI_CONFIG, config, size)
    );
    let bad_layer_digest = oci_manifest((config, size), &[("sha256:nothex", 3)]);
    for body in [no_config, no_layers, bad_layer_digest] {
        // Act
        let r = app
            .put_manifest("badm/shape", "v1", OCI_MANIFEST, body.as_bytes())
            .await;
        // Assert
        assert_oci_error(r, 400, "MANIFEST_INVALID").await;
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn manifest_referencing_a_missing_blob_returns_manifest_blob_unknown() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/blob", "v1", "kept").await;
    let (config, size) = (&image.blobs[0].0, image.blobs[0].1.len());
    let missing = sha256(b"never pushed");
    let missing_layer = oci_manifest((config, size), &[(&missing, 12)]);
    let missing_config = oci_manifest((&missing, 12), &[]);
    for body in [missing_layer, missing_config] {
        // Act
        let r = app
            .put_manifest("badm/blob", "v1", OCI_MANIFEST, body.as_bytes())
            .await;
        // Assert
        assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
        let path = format!("/v2/badm/blob/manifests/{}", sha256(body.as_bytes()));
        assert_eq!(head_status(&app, &path).await, 404);
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn manifest_referencing_a_blob_of_another_image_returns_manifest_blob_unknown() {
    // Arrange
    let app = spawn_app().await;
    let other = push_known_image(&app, "badm/owner", "v1", "theirs").await;
    let image = push_known_image(&app, "badm/borrower", "v1", "mine").await;
    let (layer, size) = (&other.blobs[1].0, other.blobs[1].1.len());
    let (config, csize) = (&image.blobs[0].0, image.blobs[0].1.len());
    let body = oci_manifest((config, csize), &[(layer, size)]);
    // Act
    let r = app
        .put_manifest("badm/borrower", "v1", OCI_MANIFEST, body.as_bytes())
        .await;
    // Assert
    assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert_intact(&app, &image).await;
    assert_intact(&app, &other).await;
}

#[tokio::test]
async fn index_referencing_a_missing_child_manifest_returns_manifest_blob_unknown() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/index", "v1", "kept").await;
    let missing = sha256(b"no such manifest");
    let body = oci_index(
        &[
            (OCI_MANIFEST, &image.digest, image.manifest.len()),
            (OCI_MANIFEST, &missing, 100),
        ],
        "",
    );
    // Act
    let r = app
        .put_manifest("badm/index", "v1", OCI_INDEX, body.as_bytes())
        .await;
    // Assert
    assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn content_type_contradicting_the_body_media_type_returns_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/ctype", "v1", "kept").await;
    for content_type in [DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST] {
        // Act
        let r = app
            .put_manifest("badm/ctype", "v1", content_type, &image.manifest)
            .await;
        // Assert
        assert_oci_error(r, 400, "MANIFEST_INVALID").await;
    }
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn index_body_sent_as_an_image_manifest_returns_manifest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/shape2", "v1", "kept").await;
    let index = oci_index(&[(OCI_MANIFEST, &image.digest, image.manifest.len())], "")
        .replace(&format!(r#""mediaType":"{OCI_INDEX}","#), "");
    // Act
    let r = app
        .put_manifest("badm/shape2", "v1", OCI_MANIFEST, index.as_bytes())
        .await;
    // Assert
    assert_oci_error(r, 400, "MANIFEST_INVALID").await;
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn put_by_digest_whose_body_hashes_differently_returns_digest_invalid() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "badm/digest", "v1", "kept").await;
    let mut other = image.manifest.clone();
    other.push(b'\n');
    let wrong = sha256(&other);
    // Act: the body is the stored manifest, the URL names the digest of other bytes.
    let r = app
        .put_manifest("badm/digest", &wrong, OCI_MANIFEST, &image.manifest)
        .await;
    // Assert
    assert_oci_error(r, 400, "DIGEST_INVALID").await;
    let path = format!("/v2/badm/digest/manifests/{wrong}");
    assert_eq!(head_status(&app, &path).await, 404);
    assert_intact(&app, &image).await;
}
