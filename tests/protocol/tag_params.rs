//! Tags on a push by digest (distribution-spec main branch, "Pushing Manifests"):
//! `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b` stores the manifest once, points every
//! listed tag at it (all or none) and names each tag set in an `OCI-Tag` response header.

use reqwest::{Method, Response};
use serde_json::json;

use crate::common::*;
use crate::support::*;

/// Pushes the blobs of an image and returns (manifest bytes, sha256 digest).
async fn image_manifest(app: &TestApp, name: &str, seed: &str) -> (String, String) {
    let config = format!("{{\"seed\":\"{seed}\"}}");
    let layer = format!("layer of {seed}");
    let c = app.push_blob(name, config.as_bytes()).await;
    let l = app.push_blob(name, layer.as_bytes()).await;
    let manifest = oci_manifest((&c, config.len()), &[(&l, layer.len())]);
    let digest = sha256(manifest.as_bytes());
    (manifest, digest)
}

/// `PUT <prefix>/<name>/manifests/<digest>?<query>`.
async fn put_with_query(app: &TestApp, path: &str, query: &str, manifest: &str) -> Response {
    app.req(Method::PUT, &format!("{path}?{query}"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.to_string())
        .send()
        .await
        .unwrap()
}

fn tag_query(tags: &[&str]) -> String {
    let parts: Vec<String> = tags.iter().map(|t| format!("tag={t}")).collect();
    parts.join("&")
}

/// Every tag named by the `OCI-Tag` headers (each may carry a comma-separated list).
fn oci_tags(r: &Response) -> Vec<String> {
    r.headers()
        .get_all("oci-tag")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|t| t.trim().to_string())
        .collect()
}

/// The digest `name:tag` resolves to, or the status if it does not.
async fn resolve(app: &TestApp, name: &str, tag: &str) -> Result<String, u16> {
    let r = app
        .req(Method::HEAD, &format!("/v2/{name}/manifests/{tag}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => Ok(header(&r, "docker-content-digest")),
        s => Err(s),
    }
}

#[tokio::test]
async fn a_push_by_digest_with_twelve_tag_parameters_sets_each_and_names_each_in_oci_tag() {
    // Arrange
    let app = spawn_app().await;
    let (manifest, digest) = image_manifest(&app, "tp/many", "many").await;
    let tags: Vec<String> = (1..=12).map(|i| format!("v{i}")).collect();
    let refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    // Act
    let path = format!("/v2/tp/many/manifests/{digest}");
    let r = put_with_query(&app, &path, &tag_query(&refs), &manifest).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(header(&r, "location"), path);
    assert_eq!(oci_tags(&r), tags);
    for tag in &tags {
        assert_eq!(resolve(&app, "tp/many", tag).await, Ok(digest.clone()));
    }
    let mut listed = tags_of(&app, "tp/many").await;
    listed.sort();
    let mut expected = tags.clone();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn a_repeated_tag_parameter_is_set_once_and_named_once() {
    // Arrange
    let app = spawn_app().await;
    let (manifest, digest) = image_manifest(&app, "tp/dup", "dup").await;
    // Act
    let path = format!("/v2/tp/dup/manifests/{digest}");
    let r = put_with_query(&app, &path, "tag=a&tag=b&tag=a", &manifest).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(oci_tags(&r), ["a", "b"]);
}

#[tokio::test]
async fn a_push_by_digest_without_tag_parameters_sends_no_oci_tag_and_sets_no_tag() {
    let app = spawn_app().await;
    let (manifest, digest) = image_manifest(&app, "tp/none", "none").await;
    let r = app
        .put_manifest("tp/none", &digest, OCI_MANIFEST, manifest.as_bytes())
        .await;
    assert_eq!(r.status(), 201);
    assert!(oci_tags(&r).is_empty());
    assert!(tags_of(&app, "tp/none").await.is_empty());
}

#[tokio::test]
async fn tag_parameters_move_existing_tags_to_the_pushed_manifest() {
    // Arrange: `stable` points at an older manifest.
    let app = spawn_app().await;
    let (old, old_digest) = image_manifest(&app, "tp/move", "old").await;
    assert_eq!(
        app.put_manifest("tp/move", "stable", OCI_MANIFEST, old.as_bytes())
            .await
            .status(),
        201
    );
    let (new, new_digest) = image_manifest(&app, "tp/move", "new").await;
    // Act
    let path = format!("/v2/tp/move/manifests/{new_digest}");
    let r = put_with_query(&app, &path, "tag=stable&tag=2.0", &new).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(
        resolve(&app, "tp/move", "stable").await,
        Ok(new_digest.clone())
    );
    assert_eq!(resolve(&app, "tp/move", "2.0").await, Ok(new_digest));
    let (status, _) = get_bytes(&app, &format!("/v2/tp/move/manifests/{old_digest}")).await;
    assert_eq!(status, 200, "the old manifest stays, untagged");
}

#[tokio::test]
async fn an_invalid_tag_parameter_refuses_the_push_and_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    let (manifest, digest) = image_manifest(&app, "tp/bad", "bad").await;
    let long = "x".repeat(129);
    for query in [
        "tag=ok&tag=-dash".to_string(),
        "tag=ok&tag=".to_string(),
        format!("tag=ok&tag={long}"),
        "tag=ok&tag=a%2Fb".to_string(),
    ] {
        // Act
        let path = format!("/v2/tp/bad/manifests/{digest}");
        let r = put_with_query(&app, &path, &query, &manifest).await;
        // Assert
        assert_oci_error(r, 400, "MANIFEST_INVALID").await;
    }
    assert_eq!(resolve(&app, "tp/bad", "ok").await, Err(404));
    let (status, _) = get_bytes(&app, &format!("/v2/tp/bad/manifests/{digest}")).await;
    assert_eq!(status, 404, "the manifest was not stored either");
}

#[tokio::test]
async fn tag_parameters_on_a_push_by_tag_are_refused() {
    let app = spawn_app().await;
    let (manifest, _) = image_manifest(&app, "tp/bytag", "bytag").await;
    let r = put_with_query(&app, "/v2/tp/bytag/manifests/v1", "tag=v2", &manifest).await;
    assert_oci_error(r, 400, "UNSUPPORTED").await;
    assert_eq!(resolve(&app, "tp/bytag", "v1").await, Err(404));
    assert_eq!(resolve(&app, "tp/bytag", "v2").await, Err(404));
}

#[tokio::test]
async fn more_than_a_hundred_tag_parameters_get_414_and_set_nothing() {
    let app = spawn_app().await;
    let (manifest, digest) = image_manifest(&app, "tp/lots", "lots").await;
    let tags: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    let path = format!("/v2/tp/lots/manifests/{digest}");
    let r = put_with_query(&app, &path, &tag_query(&refs), &manifest).await;
    assert_oci_error(r, 414, "UNSUPPORTED").await;
    assert!(tags_of_or_empty(&app, "tp/lots").await.is_empty());
}

/// Tags of `name`, or none if the image is unknown.
async fn tags_of_or_empty(app: &TestApp, name: &str) -> Vec<String> {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/tags/list"))
        .send()
        .await
        .unwrap();
    if r.status() == 404 {
        return Vec::new();
    }
    let body: serde_json::Value = r.json().await.unwrap();
    strings(&body["tags"])
}

#[tokio::test]
async fn tag_parameters_work_with_a_sha512_digest() {
    // Arrange: non-canonical digests can only be tagged with tag parameters.
    let app = spawn_app().await;
    let (manifest, _) = image_manifest(&app, "tp/sha512", "sha512").await;
    let digest = format!(
        "sha512:{}",
        hex::encode(<sha2::Sha512 as sha2::Digest>::digest(manifest.as_bytes()))
    );
    // Act
    let path = format!("/v2/tp/sha512/manifests/{digest}");
    let r = put_with_query(&app, &path, "tag=sha512-a&tag=sha512-b", &manifest).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(oci_tags(&r), ["sha512-a", "sha512-b"]);
    assert_eq!(resolve(&app, "tp/sha512", "sha512-b").await, Ok(digest));
}

#[tokio::test]
async fn under_allow_once_a_push_whose_tags_would_move_one_sets_none_of_them() {
    // Arrange: redeploy disabled, `1.0` already set.
    let app = spawn_app().await;
    let body = json!({"name": "docker-hosted", "online": true,
        "storage": {"blobStoreName": "default", "writePolicy": "ALLOW_ONCE"}});
    let r = app
        .req(
            Method::PUT,
            "/service/rest/v1/repositories/docker/hosted/docker-hosted",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (first, first_digest) = image_manifest(&app, "tp/once", "first").await;
    let path = format!("/v2/tp/once/manifests/{first_digest}");
    assert_eq!(
        put_with_query(&app, &path, "tag=1.0", &first)
            .await
            .status(),
        201
    );
    let (second, second_digest) = image_manifest(&app, "tp/once", "second").await;
    // Act
    let path = format!("/v2/tp/once/manifests/{second_digest}");
    let r = put_with_query(&app, &path, "tag=1.1&tag=1.0&tag=latest", &second).await;
    // Assert
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(body.to_string().contains("1.0"), "{body}");
    assert_eq!(resolve(&app, "tp/once", "1.0").await, Ok(first_digest));
    assert_eq!(resolve(&app, "tp/once", "1.1").await, Err(404));
    assert_eq!(resolve(&app, "tp/once", "latest").await, Err(404));
}

#[tokio::test]
async fn tag_parameters_work_through_path_routing_into_a_groups_writable_member() {
    // Arrange: a group whose pushes land in docker-hosted.
    let app = spawn_app().await;
    let group = json!({"name": "docker-group", "online": true,
        "storage": {"blobStoreName": "default"},
        "group": {"memberNames": ["docker-hosted"], "writableMember": "docker-hosted"}});
    let r = app
        .req(Method::POST, "/service/rest/v1/repositories/docker/group")
        .json(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let prefix = "/v2/repository/docker-group/tp/grouped";
    let config = b"{\"seed\":\"grouped\"}";
    let layer = b"layer of grouped";
    let mut digests = Vec::new();
    for bytes in [&config[..], &layer[..]] {
        let digest = sha256(bytes);
        let r = app
            .req(
                Method::POST,
                &format!("{prefix}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        digests.push(digest);
    }
    let manifest = oci_manifest((&digests[0], config.len()), &[(&digests[1], layer.len())]);
    let digest = sha256(manifest.as_bytes());
    // Act
    let path = format!("{prefix}/manifests/{digest}");
    let r = put_with_query(&app, &path, "tag=g1&tag=g2", &manifest).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_eq!(oci_tags(&r), ["g1", "g2"]);
    assert_eq!(header(&r, "location"), path);
    for tag in ["g1", "g2"] {
        let (status, body) = get_bytes(&app, &format!("{prefix}/manifests/{tag}")).await;
        assert_eq!((status, body), (200, manifest.clone().into_bytes()));
        assert_eq!(
            resolve(&app, "tp/grouped", tag).await,
            Ok(digest.clone()),
            "stored in the writable member, which serves plain /v2/ names"
        );
    }
}
