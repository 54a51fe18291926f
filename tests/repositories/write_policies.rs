//! Nexus deployment policies of hosted repositories: `ALLOW` (tags move), `ALLOW_ONCE`
//! (a tag, once set, stays; `latest` may move with `latest_policy`), `DENY` (read-only).

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const POLICIES: &str = r#"
[[repositories]]
name = "allow"
type = "hosted"
write_policy = "ALLOW"

[[repositories]]
name = "once"
type = "hosted"
write_policy = "ALLOW_ONCE"
latest_policy = true

[[repositories]]
name = "once-strict"
type = "hosted"
write_policy = "ALLOW_ONCE"
latest_policy = false
"#;

#[tokio::test]
async fn allow_lets_a_tag_move_to_another_digest() {
    // Arrange
    let (app, _config) = spawn_with_config(POLICIES).await;
    let name = "repository/allow/app";
    let (old, _) = app.push_image(name, "v1", "old").await;
    let new = app.push_blobs_of(name, Image::seeded("new")).await;
    // Act
    let r = app.put_image(name, "v1", &new).await;
    // Assert
    assert_eq!(r.status(), 201);
    assert_ne!(old, new.digest);
    assert_eq!(digest_of(&app, name, "v1").await, new.digest);
}

#[tokio::test]
async fn allow_once_refuses_moving_a_tag_with_denied_naming_the_policy_and_keeps_the_old_digest() {
    // Arrange
    let (app, _config) = spawn_with_config(POLICIES).await;
    let name = "repository/once/app";
    let (old, _) = app.push_image(name, "v1", "old").await;
    let new = app.push_blobs_of(name, Image::seeded("new")).await;
    // Act
    let r = app.put_image(name, "v1", &new).await;
    // Assert
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(message(&body).contains("ALLOW_ONCE"), "{body}");
    assert_eq!(
        digest_of(&app, name, "v1").await,
        old,
        "the tag must not move"
    );
    let (_, tags) = get_json(&app, &format!("/v2/{name}/tags/list")).await;
    assert_eq!(strings(&tags["tags"]), ["v1"]);
}

#[tokio::test]
async fn allow_once_accepts_the_same_digest_again_new_tags_and_pushes_by_digest() {
    // Arrange
    let (app, _config) = spawn_with_config(POLICIES).await;
    let name = "repository/once-strict/app";
    let (old, manifest) = app.push_image(name, "v1", "old").await;
    let other = app.push_blobs_of(name, Image::seeded("other")).await;
    // Act
    let again = app.put_manifest(name, "v1", OCI_MANIFEST, &manifest).await;
    let new_tag = app.put_manifest(name, "v2", OCI_MANIFEST, &manifest).await;
    let by_digest = app.put_image(name, &other.digest, &other).await;
    let other_tag = app.put_image(name, "v3", &other).await;
    // Assert
    assert_eq!(again.status(), 201, "re-pushing the same digest is fine");
    assert_eq!(new_tag.status(), 201);
    assert_eq!(by_digest.status(), 201);
    assert_eq!(other_tag.status(), 201);
    assert_eq!(digest_of(&app, name, "v1").await, old);
    assert_eq!(digest_of(&app, name, "v2").await, old);
    assert_eq!(digest_of(&app, name, "v3").await, other.digest);
}

#[tokio::test]
async fn allow_once_with_latest_policy_lets_latest_move_but_no_other_tag() {
    // Arrange
    let (app, _config) = spawn_with_config(POLICIES).await;
    let name = "repository/once/app";
    app.push_image(name, "latest", "one").await;
    let (pinned, _) = app.push_image(name, "1.0", "one").await;
    let two = app.push_blobs_of(name, Image::seeded("two")).await;
    // Act
    let latest = app.put_image(name, "latest", &two).await;
    let other = app.put_image(name, "1.0", &two).await;
    // Assert
    assert_eq!(latest.status(), 201);
    assert_eq!(digest_of(&app, name, "latest").await, two.digest);
    assert_oci_error(other, 403, "DENIED").await;
    assert_eq!(digest_of(&app, name, "1.0").await, pinned);
}

#[tokio::test]
async fn allow_once_without_latest_policy_refuses_moving_latest_too() {
    // Arrange
    let (app, _config) = spawn_with_config(POLICIES).await;
    let name = "repository/once-strict/app";
    let (old, _) = app.push_image(name, "latest", "one").await;
    let two = app.push_blobs_of(name, Image::seeded("two")).await;
    // Act
    let r = app.put_image(name, "latest", &two).await;
    // Assert
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(message(&body).contains("ALLOW_ONCE"), "{body}");
    assert_eq!(digest_of(&app, name, "latest").await, old);
}

#[tokio::test]
async fn allow_once_applies_to_pushes_through_a_group_into_its_writable_member() {
    // Arrange
    let config = format!(
        "{POLICIES}
[[repositories]]
name = \"group\"
type = \"group\"
members = [\"once\"]
writable_member = \"once\"
"
    );
    let (app, _config) = spawn_with_config(&config).await;
    let (old, _) = app.push_image("repository/group/app", "v1", "old").await;
    let new = app
        .push_blobs_of("repository/group/app", Image::seeded("new"))
        .await;
    // Act
    let r = app.put_image("repository/group/app", "v1", &new).await;
    // Assert
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(message(&body).contains("ALLOW_ONCE"), "{body}");
    assert_eq!(digest_of(&app, "repository/once/app", "v1").await, old);
}

const WRITABLE: &str = r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
write_policy = "ALLOW"
"#;

const READ_ONLY: &str = r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
write_policy = "DENY"
"#;

#[tokio::test]
async fn deny_refuses_uploads_manifest_puts_and_deletes_but_serves_existing_content() {
    // Arrange: content pushed while the repository allowed it, then made read-only.
    let (mut app, config) = spawn_with_config(WRITABLE).await;
    let name = "repository/docker-hosted/app";
    let image = app.push_blobs_of(name, Image::seeded("kept")).await;
    let r = app.put_image(name, "v1", &image).await;
    assert_eq!(r.status(), 201);
    config.rewrite(READ_ONLY);
    app.restart().await;
    let blob = b"a new layer";
    let refused = [
        app.req(Method::POST, &format!("/v2/{name}/blobs/uploads/")),
        app.req(
            Method::POST,
            &format!("/v2/{name}/blobs/uploads/?digest={}", sha256(blob)),
        )
        .body(blob.to_vec()),
        app.req(
            Method::POST,
            &format!(
                "/v2/{name}/blobs/uploads/?mount={}&from=repository/docker-hosted/app",
                image.layer().0
            ),
        ),
        app.req(Method::PUT, &format!("/v2/{name}/manifests/v2"))
            .header("Content-Type", OCI_MANIFEST)
            .body(image.manifest.clone()),
        app.req(Method::DELETE, &format!("/v2/{name}/manifests/v1")),
        app.req(
            Method::DELETE,
            &format!("/v2/{name}/manifests/{}", image.digest),
        ),
        app.req(
            Method::DELETE,
            &format!("/v2/{name}/blobs/{}", image.layer().0),
        ),
    ];
    // Act + Assert
    for request in refused {
        let request = request.build().unwrap();
        let what = format!("{} {}", request.method(), request.url().path());
        let r = app.client.execute(request).await.unwrap();
        let body = assert_oci_error(r, 403, "DENIED").await;
        assert!(message(&body).contains("DENY"), "{what}: {body}");
    }
    assert_eq!(digest_of(&app, name, "v1").await, image.digest);
    assert_eq!(digest_of(&app, name, &image.digest).await, image.digest);
    for (digest, bytes) in [&image.config, image.layer()] {
        let r = app
            .req(Method::GET, &format!("/v2/{name}/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().to_vec(), *bytes);
    }
    let (_, tags) = get_json(&app, &format!("/v2/{name}/tags/list")).await;
    assert_eq!(strings(&tags["tags"]), ["v1"]);
    let (status, _, _) = get_manifest(&app, name, "v2").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_read_only_repository_becomes_writable_again_when_its_policy_changes() {
    // Arrange
    let (mut app, config) = spawn_with_config(READ_ONLY).await;
    let name = "repository/docker-hosted/app";
    let r = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 403, "DENIED").await;
    // Act
    config.rewrite(WRITABLE);
    app.restart().await;
    // Assert
    let (digest, _) = app.push_image(name, "v1", "now").await;
    assert_eq!(digest_of(&app, name, "v1").await, digest);
}

/// One blob pushed the way the Docker CLI does: `HEAD`; if missing, a cross-repository
/// mount from `from`; if that falls back to a session, `PATCH` the bytes and `PUT` the digest.
async fn docker_style_blob_push(app: &TestApp, name: &str, from: &str, bytes: &[u8]) {
    let digest = sha256(bytes);
    let head = app
        .req(Method::HEAD, &format!("/v2/{name}/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    if head.status() == 200 {
        return;
    }
    let started = app
        .req(
            Method::POST,
            &format!("/v2/{name}/blobs/uploads/?mount={digest}&from={from}"),
        )
        .send()
        .await
        .unwrap();
    if started.status() == 201 {
        return;
    }
    assert_eq!(started.status(), 202, "start {name} {digest}");
    app.push_chunks(header(&started, "location"), bytes, bytes.len())
        .await;
}

/// Pushes the shared `blobs` (the first is the config) and a manifest over them as `tag`.
async fn docker_style_push(app: &TestApp, name: &str, from: &str, tag: &str, blobs: &[Vec<u8>]) {
    for b in blobs {
        docker_style_blob_push(app, name, from, b).await;
    }
    let image = Image::oci(blobs[0].clone(), blobs[1..].to_vec());
    let r = app.put_image(name, tag, &image).await;
    expect_status(r, 201, &format!("manifest {name}:{tag}")).await;
}

#[tokio::test]
async fn two_clients_pushing_the_same_layers_into_different_images_at_once_under_allow_once_both_succeed(
) {
    // Arrange (Nexus issue 967: the second client's push failed under "disable redeploy").
    let (app, _config) = spawn_with_config(POLICIES).await;
    let (a, b) = (
        "repository/once-strict/team/a",
        "repository/once-strict/team/b",
    );
    for round in 0..5 {
        let blobs: Vec<Vec<u8>> = (0..4)
            .map(|i| format!("round {round} shared blob {i} {}", "z".repeat(4096 * i)).into_bytes())
            .collect();
        let tag = format!("1.0-r{round}");
        // Act
        tokio::join!(
            docker_style_push(&app, a, b, &tag, &blobs),
            docker_style_push(&app, b, a, &tag, &blobs),
        );
        // Assert
        for name in [a, b] {
            let (status, _, body) = get_manifest(&app, name, &format!("1.0-r{round}")).await;
            assert_eq!(status, 200, "{name} round {round}");
            let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
            for layer in manifest["layers"].as_array().unwrap() {
                let d = layer["digest"].as_str().unwrap();
                let r = app
                    .req(Method::GET, &format!("/v2/{name}/blobs/{d}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(sha256(&r.bytes().await.unwrap()), d, "{name} {d}");
            }
        }
    }
}
