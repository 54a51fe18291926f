//! Repository names and tags outside the spec's grammar. Names: `..` and `.` components,
//! `//`, upper case, more than 255 characters, a percent-encoded slash → 400
//! `NAME_INVALID`, and nothing is stored under any name. Tags: over 128 characters or with
//! bad characters → 400 on PUT, 404 on reads.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// Names refused by the grammar, written as they go on the wire.
fn bad_names() -> Vec<String> {
    vec![
        "a//b".into(),
        "Upper/case".into(),
        "a/UPPER".into(),
        "a%2Fb".into(),
        "a%2fb".into(),
        "-lead".into(),
        "trail_".into(),
        "a___b".into(),
        "a/".into(),
        "a".repeat(256),
        format!("{}/{}", "a".repeat(128), "b".repeat(127)),
    ]
}

#[tokio::test]
async fn invalid_names_return_400_name_invalid_on_every_endpoint() {
    // Arrange
    let app = spawn_app().await;
    let digest = sha256(b"x");
    for name in bad_names() {
        let requests = [
            (Method::GET, format!("/v2/{name}/tags/list")),
            (Method::GET, format!("/v2/{name}/manifests/latest")),
            (Method::PUT, format!("/v2/{name}/manifests/latest")),
            (Method::GET, format!("/v2/{name}/blobs/{digest}")),
            (Method::POST, format!("/v2/{name}/blobs/uploads/")),
            (
                Method::POST,
                format!("/v2/{name}/blobs/uploads/?digest={digest}"),
            ),
            (Method::GET, format!("/v2/{name}/referrers/{digest}")),
        ];
        for (method, path) in requests {
            // Act
            let r = app
                .req(method.clone(), &path)
                .body(b"x".to_vec())
                .send()
                .await
                .unwrap();
            // Assert
            assert_eq!(r.status(), 400, "{method} {path}");
            assert_oci_error(r, 400, "NAME_INVALID").await;
        }
    }
}

#[tokio::test]
async fn a_percent_encoded_slash_does_not_reach_the_unescaped_name() {
    // Arrange
    let app = spawn_app().await;
    let digest = sha256(b"smuggled");
    // Act
    let r = app
        .req(
            Method::POST,
            &format!("/v2/a%2Fb/blobs/uploads/?digest={digest}"),
        )
        .body(b"smuggled".to_vec())
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 400, "NAME_INVALID").await;
    assert_eq!(
        head_status(&app, &format!("/v2/a/b/blobs/{digest}")).await,
        404
    );
}

#[tokio::test]
async fn dot_dot_and_dot_components_in_a_name_return_400_name_invalid() {
    // Arrange: sent on a raw socket, since HTTP clients normalise `..` away.
    let app = spawn_app().await;
    let image = push_known_image(&app, "b", "v1", "kept").await;
    let digest = sha256(b"escape");
    for name in ["a/../b", "../b", "a/./b", "..", "a/.."] {
        let paths = [
            ("GET", format!("/v2/{name}/tags/list")),
            ("GET", format!("/v2/{name}/manifests/v1")),
            ("POST", format!("/v2/{name}/blobs/uploads/?digest={digest}")),
        ];
        for (method, path) in paths {
            let mut request = raw_head(&app, method, &path, &[("Content-Length", "6".into())]);
            request.extend_from_slice(b"escape");
            // Act
            let r = raw_http(&app, &request, false).await.expect("an answer");
            // Assert
            assert_eq!(r.status, 400, "{method} {path}: {}", r.head);
            assert_eq!(raw_error_codes(&r), vec!["NAME_INVALID"]);
        }
    }
    assert_eq!(
        head_status(&app, &format!("/v2/b/blobs/{digest}")).await,
        404
    );
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn a_name_of_exactly_255_characters_works() {
    // Arrange
    let app = spawn_app().await;
    let single = "a".repeat(255);
    let nested = format!("{}/{}", "a".repeat(127), "b".repeat(127));
    for name in [single, nested] {
        assert_eq!(name.len(), 255);
        // Act
        let image = push_known_image(&app, &name, "v1", "long").await;
        // Assert
        assert_intact(&app, &image).await;
        assert_eq!(tags_of(&app, &name).await, vec!["v1"]);
    }
}

#[tokio::test]
async fn names_that_contain_endpoint_words_work() {
    // Arrange
    let app = spawn_app().await;
    let name = "blobs/manifests/tags/uploads/referrers";
    // Act
    let image = push_known_image(&app, name, "list", "words").await;
    // Assert
    assert_intact(&app, &image).await;
    assert_eq!(tags_of(&app, name).await, vec!["list"]);
}

#[tokio::test]
async fn a_tag_of_128_characters_is_accepted() {
    // Arrange
    let app = spawn_app().await;
    let tag = format!("T{}", "t".repeat(127));
    // Act
    let image = push_known_image(&app, "tags/long", &tag, "long tag").await;
    // Assert
    assert_intact(&app, &image).await;
    assert_eq!(tags_of(&app, "tags/long").await, vec![tag]);
}

#[tokio::test]
async fn a_tag_of_129_characters_is_refused_on_put_and_not_found_on_reads() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "tags/toolong", "v1", "kept").await;
    let tag = "t".repeat(129);
    let path = format!("/v2/tags/toolong/manifests/{tag}");
    // Act
    let put = app
        .put_manifest("tags/toolong", &tag, OCI_MANIFEST, &image.manifest)
        .await;
    let get = app.req(Method::GET, &path).send().await.unwrap();
    let head = head_status(&app, &path).await;
    let delete = app.req(Method::DELETE, &path).send().await.unwrap();
    // Assert
    assert_oci_error(put, 400, "MANIFEST_INVALID").await;
    assert_oci_error(get, 404, "MANIFEST_UNKNOWN").await;
    assert_eq!(head, 404);
    assert_oci_error(delete, 404, "MANIFEST_UNKNOWN").await;
    assert_eq!(tags_of(&app, "tags/toolong").await, vec!["v1"]);
    assert_intact(&app, &image).await;
}

#[tokio::test]
async fn tags_with_characters_outside_the_grammar_are_refused_on_put() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "tags/chars", "v1", "kept").await;
    for tag in [".hidden", "-dash", "a+b", "a%2Fb", "caf%C3%A9"] {
        // Act
        let put = app
            .put_manifest("tags/chars", tag, OCI_MANIFEST, &image.manifest)
            .await;
        let get = app
            .req(Method::GET, &format!("/v2/tags/chars/manifests/{tag}"))
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(put.status(), 400, "{tag}");
        assert_oci_error(put, 400, "MANIFEST_INVALID").await;
        assert_oci_error(get, 404, "MANIFEST_UNKNOWN").await;
    }
    assert_eq!(tags_of(&app, "tags/chars").await, vec!["v1"]);
}

#[tokio::test]
async fn the_invalid_tag_the_conformance_suite_uses_is_not_found() {
    // Arrange
    let app = spawn_app().await;
    push_known_image(&app, "tags/suite", "v1", "kept").await;
    let path = "/v2/tags/suite/manifests/.INVALID_MANIFEST_NAME";
    // Act
    let get = app
        .req(Method::GET, path)
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    let head = head_status(&app, path).await;
    // Assert
    assert_oci_error(get, 404, "MANIFEST_UNKNOWN").await;
    assert_eq!(head, 404);
}
