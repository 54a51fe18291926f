//! The ways of addressing a repository on the main port: plain `/v2/<image>` (the default
//! repository), `/v2/repository/<repo>/<image>/…` (what `docker pull host/repository/<repo>/…`
//! sends) and `/repository/<repo>/v2/<image>/…`. Every URL and name the server hands back
//! echoes the form the client used.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn plain_names_go_to_the_default_repository_which_path_routing_reaches_too() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let (digest, _) = app.push_image("library/app", "v1", "plain").await;
    // Assert
    assert_eq!(digest_of(&app, "library/app", "v1").await, digest);
    assert_eq!(
        digest_of(&app, "repository/docker-hosted/library/app", "v1").await,
        digest
    );
    let (status, digest2, _) = get_manifest_at(
        &app,
        "/repository/docker-hosted/v2/library/app/manifests/v1",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(digest2, digest);
}

#[tokio::test]
async fn a_configured_default_repository_serves_plain_names() {
    // Arrange
    let config = format!("default_repository = \"docker-group\"\n{GROUP_CONFIG}");
    let (app, _config) = spawn_with_config(&config).await;
    let (in_other, _) = app
        .push_image("repository/other-hosted/app", "v1", "other")
        .await;
    // Act
    let (pushed, _) = app.push_image("app", "v2", "plain").await;
    // Assert
    assert_eq!(
        digest_of(&app, "app", "v1").await,
        in_other,
        "read via the group"
    );
    assert_eq!(
        digest_of(&app, "repository/docker-hosted/app", "v2").await,
        pushed,
        "written to the group's writable member"
    );
}

#[tokio::test]
async fn path_routing_urls_echo_the_v2_repository_prefix() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    let name = "repository/docker-hosted/team/app";
    // Act
    let start = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let location = header(&start, "location");
    let image = app.push_blobs_of(name, Image::seeded("routed")).await;
    let put = app.put_image(name, "v1", &image).await;
    app.put_image(name, "v2", &image).await;
    let r = app
        .req(Method::GET, &format!("/v2/{name}/tags/list?n=1"))
        .send()
        .await
        .unwrap();
    let link = header(&r, "link");
    let tags: serde_json::Value = r.json().await.unwrap();
    // Assert
    assert_eq!(start.status(), 202);
    assert!(
        location.starts_with("/v2/repository/docker-hosted/team/app/blobs/uploads/"),
        "Location: {location}"
    );
    let status = app.req(Method::GET, &location).send().await.unwrap();
    assert_eq!(status.status(), 204, "the Location must work as given");
    assert_eq!(put.status(), 201);
    assert_eq!(
        header(&put, "location"),
        format!("/v2/{name}/manifests/{}", image.digest)
    );
    assert_eq!(tags["name"], name);
    assert_eq!(strings(&tags["tags"]), ["v1"]);
    assert!(
        link.starts_with(&format!("</v2/{name}/tags/list?n=1&last=v1>")),
        "Link: {link}"
    );
    let plain = app
        .req(Method::GET, "/v2/team/app/manifests/v1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.status(),
        200,
        "docker-hosted is the default repository"
    );
}

#[tokio::test]
async fn repository_prefixed_urls_echo_the_repository_base() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    let base = "/repository/other-hosted/v2";
    // Act
    let start = app
        .req(Method::POST, &format!("{base}/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let location = header(&start, "location");
    let layer = b"through the repository base";
    let patch = app
        .req(Method::PATCH, &location)
        .header("Content-Type", "application/octet-stream")
        .body(layer.to_vec())
        .send()
        .await
        .unwrap();
    let next = header(&patch, "location");
    let sep = if next.contains('?') { '&' } else { '?' };
    let done = app
        .req(Method::PUT, &format!("{next}{sep}digest={}", sha256(layer)))
        .send()
        .await
        .unwrap();
    let config = b"{}";
    let r = app
        .req(
            Method::POST,
            &format!("{base}/app/blobs/uploads/?digest={}", sha256(config)),
        )
        .body(config.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let manifest = oci_manifest(
        (&sha256(config), config.len()),
        &[(&sha256(layer), layer.len())],
    );
    let put = app
        .req(Method::PUT, &format!("{base}/app/manifests/v1"))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    let (_, tags) = get_json(&app, &format!("{base}/app/tags/list")).await;
    // Assert
    assert_eq!(start.status(), 202);
    assert!(
        location.starts_with("/repository/other-hosted/v2/app/blobs/uploads/"),
        "Location: {location}"
    );
    assert_eq!(patch.status(), 202);
    assert!(next.starts_with("/repository/other-hosted/v2/app/blobs/uploads/"));
    assert_eq!(done.status(), 201);
    assert_eq!(
        header(&done, "location"),
        format!("{base}/app/blobs/{}", sha256(layer))
    );
    assert_eq!(put.status(), 201);
    let digest = sha256(manifest.as_bytes());
    assert_eq!(
        header(&put, "location"),
        format!("{base}/app/manifests/{digest}")
    );
    assert_eq!(tags["name"], "app");
    assert_eq!(
        digest_of(&app, "repository/other-hosted/app", "v1").await,
        digest
    );
    let (status, _, _) = get_manifest(&app, "app", "v1").await;
    assert_eq!(status, 404, "not in the default repository");
}

#[tokio::test]
async fn an_unknown_repository_under_the_repository_base_is_name_unknown() {
    // Arrange
    let app = spawn_app().await;
    app.push_image("app", "v1", "x").await;
    // Act
    let manifest = app
        .req(Method::GET, "/repository/nope/v2/app/manifests/v1")
        .send()
        .await
        .unwrap();
    let upload = app
        .req(Method::POST, "/repository/nope/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let base = app
        .req(Method::GET, "/repository/nope/v2/")
        .send()
        .await
        .unwrap();
    // Assert
    let body = assert_oci_error(manifest, 404, "NAME_UNKNOWN").await;
    assert!(message(&body).contains("nope"), "{body}");
    assert_oci_error(upload, 404, "NAME_UNKNOWN").await;
    assert_eq!(base.status(), 404);
}

#[tokio::test]
async fn the_api_base_answers_under_every_form_of_address() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    // Act + Assert
    for path in [
        "/v2/",
        "/repository/docker-hosted/v2/",
        "/repository/docker-group/v2/",
    ] {
        let r = app.req(Method::GET, path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            header(&r, "docker-distribution-api-version"),
            "registry/2.0",
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_offline_repository_answers_unavailable() {
    // Arrange
    let config = format!(
        "{GROUP_CONFIG}
[[repositories]]
name = \"asleep\"
type = \"hosted\"
online = false
"
    );
    let (app, _config) = spawn_with_config(&config).await;
    // Act
    let read = app
        .req(Method::GET, "/v2/repository/asleep/app/manifests/v1")
        .send()
        .await
        .unwrap();
    let write = app
        .req(Method::POST, "/repository/asleep/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(read, 503, "UNAVAILABLE").await;
    assert_oci_error(write, 503, "UNAVAILABLE").await;
}

/// GET of a manifest at a full path; returns (status, Docker-Content-Digest, body).
async fn get_manifest_at(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let r = app
        .req(Method::GET, path)
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let digest = header(&r, "docker-content-digest");
    (status, digest, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_api_base_answers_even_when_the_default_repository_does_not_exist() {
    // Arrange: the default name (docker-hosted) is not among the declared repositories.
    let (app, _config) = spawn_with_config(
        r#"
[[repositories]]
name = "team-hosted"
type = "hosted"
"#,
    )
    .await;
    // Act
    let base = app.req(Method::GET, "/v2/").send().await.unwrap();
    let plain = app
        .req(Method::GET, "/v2/app/manifests/v1")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(base.status(), 200, "clients ping /v2/ before anything else");
    assert_oci_error(plain, 404, "NAME_UNKNOWN").await;
    let (digest, _) = app
        .push_image("repository/team-hosted/app", "v1", "team")
        .await;
    assert_eq!(
        digest_of(&app, "repository/team-hosted/app", "v1").await,
        digest
    );
}

#[tokio::test]
async fn a_cross_image_mount_under_path_routing_names_the_source_as_the_client_does() {
    // Arrange: the client names images with the `repository/<repo>/` prefix it pushes to,
    // so that is how `from` arrives (docker sends it this way on a second push).
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    let layer = b"a layer shared by two images";
    let digest = app.push_blob("repository/docker-hosted/base", layer).await;
    // Act
    let r = app
        .req(
            Method::POST,
            &format!(
                "/v2/repository/docker-hosted/derived/blobs/uploads/?mount={digest}&from=repository/docker-hosted/base"
            ),
        )
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 201, "mounted rather than a new upload session");
    assert_eq!(
        header(&r, "location"),
        format!("/v2/repository/docker-hosted/derived/blobs/{digest}")
    );
    let path = format!("/v2/repository/docker-hosted/derived/blobs/{digest}");
    assert_eq!(status_of(&app, &path).await, 200);
}

#[tokio::test]
async fn a_push_to_an_unknown_repository_under_path_routing_is_refused_not_redirected() {
    let app = crate::common::spawn_app().await;
    let r = app
        .req(
            reqwest::Method::POST,
            "/v2/repository/typo/app/blobs/uploads/",
        )
        .send()
        .await
        .unwrap();
    crate::common::assert_oci_error(r, 404, "NAME_UNKNOWN").await;
    let catalog: serde_json::Value = app
        .req(reqwest::Method::GET, "/v2/_catalog")
        .json_body()
        .await;
    assert_eq!(catalog["repositories"], serde_json::json!([]));
}
