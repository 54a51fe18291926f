//! Content discovery, tags (spec "Listing tags"): lexical order, `n` and `last`, and the
//! `Link: <…>; rel="next"` header that walks the pages.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

/// Tags every test pushes, deliberately not in lexical order.
const TAGS: [&str; 7] = ["v2", "latest", "V1", "10", "9", "a_b", "a-b"];

/// Pushes one image and tags it with every name of `TAGS`.
async fn tagged_image(app: &TestApp, name: &str) -> Vec<String> {
    let image = push_known_image(app, name, TAGS[0], "tags").await;
    for tag in &TAGS[1..] {
        let r = app
            .put_manifest(name, tag, OCI_MANIFEST, &image.manifest)
            .await;
        assert_eq!(r.status(), 201);
    }
    let mut sorted: Vec<String> = TAGS.iter().map(|t| t.to_string()).collect();
    sorted.sort();
    sorted
}

/// GETs a tag list page (asserting 200); returns its `Link` header ("" if none) and tags.
async fn list(app: &TestApp, path: &str) -> (String, Vec<String>) {
    let r = app.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let link = header(&r, "link");
    let body: serde_json::Value = r.json().await.unwrap();
    (link, strings(&body["tags"]))
}

#[tokio::test]
async fn tag_list_returns_the_name_and_every_tag_in_lexical_order() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/all").await;
    // Act
    let r = app
        .req(Method::GET, "/v2/tags/all/tags/list")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("application/json"));
    assert_eq!(header(&r, "link"), "", "one page, no Link");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["name"], "tags/all");
    assert_eq!(strings(&body["tags"]), sorted);
}

#[tokio::test]
async fn n_limits_the_page_and_a_link_header_points_to_the_next_one() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/page").await;
    // Act
    let (link, tags) = list(&app, "/v2/tags/page/tags/list?n=3").await;
    // Assert
    assert_eq!(tags, sorted[..3]);
    let next = next_link(&link);
    assert!(next.starts_with("/v2/tags/page/tags/list?"), "{next}");
    assert!(next.contains("n=3"), "{next}");
    assert!(next.contains(&format!("last={}", sorted[2])), "{next}");
}

#[tokio::test]
async fn following_link_headers_visits_every_tag_once_in_order() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/walk").await;
    let mut seen = Vec::new();
    let mut path = "/v2/tags/walk/tags/list?n=2".to_string();
    // Act
    for _ in 0..TAGS.len() {
        let (link, tags) = list(&app, &path).await;
        assert!(tags.len() <= 2);
        seen.extend(tags);
        if link.is_empty() {
            break;
        }
        path = next_link(&link);
    }
    // Assert
    assert_eq!(seen, sorted);
}

#[tokio::test]
async fn last_starts_the_page_after_the_given_tag() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/last").await;
    // Act
    let (_, after) = list(&app, &format!("/v2/tags/last/tags/list?last={}", sorted[1])).await;
    let (_, page) = list(
        &app,
        &format!("/v2/tags/last/tags/list?n=2&last={}", sorted[1]),
    )
    .await;
    let (link, end) = list(
        &app,
        &format!("/v2/tags/last/tags/list?n=2&last={}", sorted[6]),
    )
    .await;
    // Assert
    assert_eq!(after, sorted[2..]);
    assert_eq!(page, sorted[2..4]);
    assert!(end.is_empty());
    assert_eq!(link, "");
}

#[tokio::test]
async fn last_need_not_be_an_existing_tag() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/between").await;
    // Act: "b" sorts after "a_b" and before "latest".
    let (_, tags) = list(&app, "/v2/tags/between/tags/list?last=b").await;
    // Assert
    let expected: Vec<String> = sorted.into_iter().filter(|t| t.as_str() > "b").collect();
    assert_eq!(tags, expected);
}

#[tokio::test]
async fn n_larger_than_the_tag_count_returns_everything_without_a_link() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/big").await;
    // Act
    let (link, tags) = list(&app, "/v2/tags/big/tags/list?n=1000").await;
    // Assert
    assert_eq!(tags, sorted);
    assert_eq!(link, "");
}

#[tokio::test]
async fn n_equal_to_the_tag_count_has_no_next_page() {
    // Arrange
    let app = spawn_app().await;
    let sorted = tagged_image(&app, "tags/exact").await;
    // Act
    let (link, tags) = list(&app, &format!("/v2/tags/exact/tags/list?n={}", TAGS.len())).await;
    // Assert
    assert_eq!(tags, sorted);
    assert_eq!(link, "");
}

#[tokio::test]
async fn a_non_numeric_n_is_refused() {
    // Arrange
    let app = spawn_app().await;
    tagged_image(&app, "tags/badn").await;
    for n in ["abc", "-1", "1.5"] {
        // Act
        let r = app
            .req(Method::GET, &format!("/v2/tags/badn/tags/list?n={n}"))
            .send()
            .await
            .unwrap();
        // Assert
        assert_oci_error(r, 400, "SIZE_INVALID").await;
    }
}

#[tokio::test]
async fn tag_list_of_an_unknown_image_returns_404_name_unknown() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let r = app
        .req(Method::GET, "/v2/tags/ghost/tags/list")
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 404, "NAME_UNKNOWN").await;
}

#[tokio::test]
async fn an_image_with_blobs_but_no_tags_lists_an_empty_tag_array() {
    // Arrange
    let app = spawn_app().await;
    app.push_blob("tags/none", b"just a blob").await;
    // Act
    let r = app
        .req(Method::GET, "/v2/tags/none/tags/list")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn tags_of_one_image_do_not_leak_into_another() {
    // Arrange
    let app = spawn_app().await;
    push_known_image(&app, "tags/left", "only-left", "l").await;
    push_known_image(&app, "tags/right", "only-right", "r").await;
    // Act
    let left = tags_of(&app, "tags/left").await;
    let right = tags_of(&app, "tags/right").await;
    // Assert
    assert_eq!(left, vec!["only-left"]);
    assert_eq!(right, vec!["only-right"]);
}

#[tokio::test]
async fn n_zero_returns_an_empty_list_without_a_link() {
    // Arrange
    let app = spawn_app().await;
    tagged_image(&app, "tags/zero").await;
    // Act
    let (link, tags) = list(&app, "/v2/tags/zero/tags/list?n=0").await;
    // Assert
    assert!(tags.is_empty(), "{tags:?}");
    assert_eq!(link, "");
}
