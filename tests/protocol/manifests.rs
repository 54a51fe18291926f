//! Pull and push of manifests (spec "Pulling manifests", "Pushing manifests"): PUT by tag
//! and by digest, GET and HEAD by either, byte-exact storage, the content type as stored,
//! tag moves.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// Pushes config + layer for `seed` and returns (manifest JSON, its digest) unpushed.
async fn prepare_manifest(app: &TestApp, name: &str, seed: &str) -> (String, String) {
    let config = format!("{{\"seed\":\"{seed}\"}}");
    let layer = format!("layer of {seed}");
    let c = app.push_blob(name, config.as_bytes()).await;
    let l = app.push_blob(name, layer.as_bytes()).await;
    let manifest = oci_manifest((&c, config.len()), &[(&l, layer.len())]);
    let digest = sha256(manifest.as_bytes());
    (manifest, digest)
}

#[tokio::test]
async fn put_manifest_by_tag_returns_201_with_location_and_digest() {
    // Arrange
    let app = spawn_app().await;
    let (manifest, digest) = prepare_manifest(&app, "man/put", "a").await;
    // Act
    let r = app
        .put_manifest("man/put", "latest", OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/man/put/manifests/{digest}")
    );
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(header(&r, "oci-subject"), "", "no subject, no OCI-Subject");
}

#[tokio::test]
async fn get_by_tag_and_by_digest_returns_the_exact_bytes_type_and_digest() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "man/get", "v1", "a").await;
    for reference in ["v1", image.digest.as_str()] {
        // Act
        let r = app
            .req(Method::GET, &format!("/v2/man/get/manifests/{reference}"))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
        assert_eq!(header(&r, "docker-content-digest"), image.digest);
        assert_eq!(
            header(&r, "content-length"),
            image.manifest.len().to_string()
        );
        assert_eq!(r.bytes().await.unwrap(), image.manifest);
    }
}

#[tokio::test]
async fn head_of_a_manifest_returns_length_digest_and_type_with_an_empty_body() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "man/head", "v1", "a").await;
    for reference in ["v1", image.digest.as_str()] {
        let path = format!("/v2/man/head/manifests/{reference}");
        // Act: on a raw socket, to see that nothing follows the headers.
        let r = raw_http(&app, &raw_head(&app, "HEAD", &path, &[]), false)
            .await
            .expect("an answer");
        // Assert
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), image.manifest.len().to_string());
        assert_eq!(r.header("docker-content-digest"), image.digest);
        assert_eq!(r.header("content-type"), OCI_MANIFEST);
        assert!(r.body.is_empty(), "HEAD sent a body");
    }
}

#[tokio::test]
async fn unknown_manifests_return_404_manifest_unknown() {
    // Arrange
    let app = spawn_app().await;
    push_known_image(&app, "man/unknown", "v1", "a").await;
    let missing = sha256(b"hello world");
    for reference in ["nope", missing.as_str()] {
        let path = format!("/v2/man/unknown/manifests/{reference}");
        // Act
        let get = app.req(Method::GET, &path).send().await.unwrap();
        let head = head_status(&app, &path).await;
        // Assert
        assert_oci_error(get, 404, "MANIFEST_UNKNOWN").await;
        assert_eq!(head, 404);
    }
}

#[tokio::test]
async fn manifests_of_an_unknown_image_return_404_name_unknown() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let r = app
        .req(Method::GET, "/v2/man/nobody/manifests/latest")
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 404, "NAME_UNKNOWN").await;
    assert_eq!(
        head_status(&app, "/v2/man/nobody/manifests/latest").await,
        404
    );
}

#[tokio::test]
async fn put_by_digest_stores_the_manifest_without_tagging_it() {
    // Arrange
    let app = spawn_app().await;
    push_known_image(&app, "man/bydigest", "v1", "tagged").await;
    let (manifest, digest) = prepare_manifest(&app, "man/bydigest", "untagged").await;
    // Act
    let r = app
        .put_manifest("man/bydigest", &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/man/bydigest/manifests/{digest}")
    );
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let (status, body) = get_bytes(&app, &format!("/v2/man/bydigest/manifests/{digest}")).await;
    assert_eq!((status, body), (200, manifest.into_bytes()));
    assert_eq!(tags_of(&app, "man/bydigest").await, vec!["v1"]);
}

#[tokio::test]
async fn manifest_bytes_are_stored_exactly_including_whitespace_and_unknown_fields() {
    // Arrange: tab-indented like the conformance suite, with `data`, an unknown field and null.
    let app = spawn_app().await;
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    let c = app.push_blob("man/exact", config).await;
    let l = app.push_blob("man/exact", b"layer").await;
    let manifest = format!(
        "{{\n\t\"schemaVersion\": 2,\n\t\"mediaType\": \"{OCI_MANIFEST}\",\n\t\"config\": {{\n\t\t\"mediaType\": \"{OCI_CONFIG}\",\n\t\t\"digest\": \"{c}\",\n\t\t\"size\": {},\n\t\t\"data\": \"e30=\",\n\t\t\"newUnspecifiedField\": \"aGVsbG8gd29ybGQ=\"\n\t}},\n\t\"layers\": [\n\t\t{{\n\t\t\t\"mediaType\": \"{OCI_LAYER}\",\n\t\t\t\"size\": 5,\n\t\t\t\"digest\": \"{l}\",\n\t\t\t\"newUnspecifiedField\": null\n\t\t}}\n\t]\n}}",
        config.len()
    );
    // Act
    let r = app
        .put_manifest("man/exact", "v1", OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    let digest = sha256(manifest.as_bytes());
    assert_eq!(header(&r, "docker-content-digest"), digest);
    for reference in ["v1", digest.as_str()] {
        let path = format!("/v2/man/exact/manifests/{reference}");
        let (status, body) = get_bytes(&app, &path).await;
        assert_eq!((status, body), (200, manifest.clone().into_bytes()));
    }
}

#[tokio::test]
async fn manifest_without_media_type_is_served_with_the_type_it_was_pushed_with() {
    // Arrange: like the suite's "empty layer" manifest: no mediaType member, no layers.
    let app = spawn_app().await;
    let c = app.push_blob("man/notype", b"{}").await;
    let manifest = format!(
        r#"{{"schemaVersion":2,"config":{},"layers":[]}}"#,
        descriptor(OCI_CONFIG, &c, 2)
    );
    // Act
    let r = app
        .put_manifest(
            "man/notype",
            "emptylayer",
            OCI_MANIFEST,
            manifest.as_bytes(),
        )
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    let got = app
        .req(Method::GET, "/v2/man/notype/manifests/emptylayer")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&got, "content-type"), OCI_MANIFEST);
    assert_eq!(got.bytes().await.unwrap(), manifest.as_bytes());
}

#[tokio::test]
async fn content_type_parameters_are_ignored_when_matching_the_media_type() {
    // Arrange
    let app = spawn_app().await;
    let (manifest, digest) = prepare_manifest(&app, "man/params", "a").await;
    // Act
    let r = app
        .put_manifest(
            "man/params",
            "v1",
            &format!("{OCI_MANIFEST}; charset=utf-8"),
            manifest.as_bytes(),
        )
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    let got = app
        .req(Method::GET, &format!("/v2/man/params/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&got, "content-type"), OCI_MANIFEST);
}

#[tokio::test]
async fn pushing_to_an_existing_tag_moves_it_and_keeps_the_old_manifest_by_digest() {
    // Arrange
    let app = spawn_app().await;
    let old = push_known_image(&app, "man/move", "latest", "old").await;
    // Act
    let new = push_known_image(&app, "man/move", "latest", "new").await;
    // Assert
    assert_ne!(old.digest, new.digest);
    assert_intact(&app, &new).await;
    let path = format!("/v2/man/move/manifests/{}", old.digest);
    let (status, body) = get_bytes(&app, &path).await;
    assert_eq!((status, body), (200, old.manifest));
    assert_eq!(tags_of(&app, "man/move").await, vec!["latest"]);
}

#[tokio::test]
async fn one_manifest_can_carry_several_tags() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "man/multi", "v1", "a").await;
    // Act
    for tag in ["v1.0", "stable"] {
        let r = app
            .put_manifest("man/multi", tag, OCI_MANIFEST, &image.manifest)
            .await;
        assert_eq!(r.status(), 201);
        assert_eq!(header(&r, "docker-content-digest"), image.digest);
    }
    // Assert
    assert_eq!(
        tags_of(&app, "man/multi").await,
        vec!["stable", "v1", "v1.0"]
    );
    for tag in ["v1", "v1.0", "stable"] {
        let r = app
            .req(Method::HEAD, &format!("/v2/man/multi/manifests/{tag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&r, "docker-content-digest"), image.digest, "{tag}");
    }
}

#[tokio::test]
async fn the_same_manifest_pushed_twice_is_accepted_idempotently() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "man/twice", "v1", "a").await;
    // Act
    let r = app
        .put_manifest("man/twice", "v1", OCI_MANIFEST, &image.manifest)
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn manifests_are_not_visible_through_another_image_name() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "man/mine", "v1", "a").await;
    push_known_image(&app, "man/yours", "other", "b").await;
    // Act
    let by_digest = format!("/v2/man/yours/manifests/{}", image.digest);
    let r = app.req(Method::GET, &by_digest).send().await.unwrap();
    // Assert
    assert_oci_error(r, 404, "MANIFEST_UNKNOWN").await;
    assert_eq!(head_status(&app, "/v2/man/yours/manifests/v1").await, 404);
}

#[tokio::test]
async fn put_by_a_sha512_digest_stores_and_serves_under_that_digest() {
    // Arrange
    let app = spawn_app().await;
    let (manifest, _) = prepare_manifest(&app, "man/sha512", "a").await;
    let hash = <sha2::Sha512 as sha2::Digest>::digest(manifest.as_bytes());
    let digest = format!("sha512:{}", hex::encode(hash));
    // Act
    let r = app
        .put_manifest("man/sha512", &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let got = app
        .req(Method::GET, &format!("/v2/man/sha512/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(header(&got, "docker-content-digest"), digest);
    assert_eq!(got.bytes().await.unwrap(), manifest.as_bytes());
}
