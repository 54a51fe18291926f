//! The API version check (`/v2/`), the catalog (`/v2/_catalog`, a Docker Registry V2
//! extension clients use), unknown paths and unsupported methods, and the shape every error
//! response shares.

use crate::common::*;
use crate::support::*;
use reqwest::Method;

#[tokio::test]
async fn api_version_check_returns_200_with_the_distribution_header() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "docker-distribution-api-version"),
        "registry/2.0"
    );
}

#[tokio::test]
async fn api_version_check_answers_head_and_the_path_without_a_trailing_slash() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let head = app.req(Method::HEAD, "/v2/").send().await.unwrap();
    let bare = app.req(Method::GET, "/v2").send().await.unwrap();
    // Assert
    assert_eq!(head.status(), 200);
    assert_eq!(bare.status(), 200);
}

#[tokio::test]
async fn error_responses_are_oci_json_with_the_distribution_header() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let r = app
        .req(Method::GET, "/v2/base/none/manifests/latest")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(
        header(&r, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert!(header(&r, "content-type").starts_with("application/json"));
    let body = assert_oci_error(r, 404, "NAME_UNKNOWN").await;
    let error = &body["errors"][0];
    assert!(error["message"].is_string(), "{body}");
}

#[tokio::test]
async fn an_unknown_path_under_v2_returns_404_with_an_oci_error() {
    // Arrange
    let app = spawn_app().await;
    for path in ["/v2/nothing-here", "/v2/a/b/c", "/v2/a/unknown/thing"] {
        // Act
        let r = app.req(Method::GET, path).send().await.unwrap();
        // Assert
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["errors"][0]["code"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn unsupported_methods_return_405_unsupported() {
    // Arrange
    let app = spawn_app().await;
    let image = push_known_image(&app, "base/methods", "v1", "a").await;
    let blob = &image.blobs[0].0;
    let location = app.start_upload("base/methods").await;
    let cases = [
        (Method::POST, "/v2/".to_string()),
        (Method::DELETE, "/v2/_catalog".to_string()),
        (Method::PUT, "/v2/base/methods/tags/list".to_string()),
        (Method::POST, "/v2/base/methods/manifests/v1".to_string()),
        (Method::PATCH, "/v2/base/methods/manifests/v1".to_string()),
        (Method::PUT, format!("/v2/base/methods/blobs/{blob}")),
        (Method::POST, format!("/v2/base/methods/blobs/{blob}")),
        (Method::GET, "/v2/base/methods/blobs/uploads/".to_string()),
        (Method::PUT, "/v2/base/methods/blobs/uploads/".to_string()),
        (Method::POST, location.clone()),
        (
            Method::DELETE,
            format!("/v2/base/methods/referrers/{}", image.digest),
        ),
    ];
    for (method, path) in cases {
        // Act
        let r = app.req(method.clone(), &path).send().await.unwrap();
        // Assert
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_oci_error(r, 405, "UNSUPPORTED").await;
    }
    assert_intact(&app, &image).await;
    assert_eq!(upload_status(&app, &location).await.status(), 204);
}

#[tokio::test]
async fn catalog_lists_images_with_manifests_in_lexical_order() {
    // Arrange
    let app = spawn_app().await;
    for name in ["zeta", "alpha/two", "alpha", "mid/x/y"] {
        push_known_image(&app, name, "v1", name).await;
    }
    // Act
    let r = app.req(Method::GET, "/v2/_catalog").send().await.unwrap();
    // Assert
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "link"), "");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        strings(&body["repositories"]),
        vec!["alpha", "alpha/two", "mid/x/y", "zeta"]
    );
}

#[tokio::test]
async fn catalog_is_paginated_with_n_last_and_link_headers() {
    // Arrange
    let app = spawn_app().await;
    let names = ["a", "b/1", "b/2", "c", "d"];
    for name in names {
        push_known_image(&app, name, "v1", name).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v2/_catalog?n=2".to_string();
    let mut pages = 0;
    // Act
    loop {
        let r = app.req(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let link = header(&r, "link");
        let body: serde_json::Value = r.json().await.unwrap();
        let page = strings(&body["repositories"]);
        assert!(page.len() <= 2, "{path}: {page:?}");
        seen.extend(page);
        pages += 1;
        if link.is_empty() || pages > names.len() {
            break;
        }
        path = next_link(&link);
        assert!(path.starts_with("/v2/_catalog?"), "{path}");
    }
    // Assert
    assert_eq!(seen, names);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn catalog_last_starts_after_the_given_name() {
    // Arrange
    let app = spawn_app().await;
    for name in ["a", "b", "c"] {
        push_known_image(&app, name, "v1", name).await;
    }
    // Act
    let r = app
        .req(Method::GET, "/v2/_catalog?last=a")
        .send()
        .await
        .unwrap();
    // Assert
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(strings(&body["repositories"]), vec!["b", "c"]);
}

#[tokio::test]
async fn catalog_omits_images_whose_manifests_were_all_deleted() {
    // Arrange
    let app = spawn_app().await;
    let gone = push_known_image(&app, "gone", "v1", "g").await;
    push_known_image(&app, "kept", "v1", "k").await;
    let path = format!("/v2/gone/manifests/{}", gone.digest);
    let r = app.req(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(r.status(), 202);
    // Act
    let r = app.req(Method::GET, "/v2/_catalog").send().await.unwrap();
    // Assert
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(strings(&body["repositories"]), vec!["kept"]);
}

#[tokio::test]
async fn catalog_with_n_zero_returns_an_empty_list_without_a_link() {
    // Arrange
    let app = spawn_app().await;
    push_known_image(&app, "a", "v1", "a").await;
    // Act
    let r = app
        .req(Method::GET, "/v2/_catalog?n=0")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "link"), "");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(strings(&body["repositories"]).is_empty());
}
