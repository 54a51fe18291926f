//! Group repositories: reads ask the members in order (the first that has a tag wins), lists
//! merge the members, pushes land in the writable member, and groups nest.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const GROUP: &str = "repository/docker-group";
const HOSTED: &str = "repository/docker-hosted";
const OTHER: &str = "repository/other-hosted";

#[tokio::test]
async fn a_tag_in_two_members_is_served_by_the_first_and_a_tag_only_in_the_second_is_found_too() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    let (first, _) = app.push_image(&format!("{HOSTED}/app"), "1", "first").await;
    let (second, _) = app.push_image(&format!("{OTHER}/app"), "1", "second").await;
    let (only, _) = app
        .push_image(&format!("{OTHER}/app"), "only-second", "only")
        .await;
    assert_ne!(first, second);
    // Act
    let served = digest_of(&app, &format!("{GROUP}/app"), "1").await;
    let found = digest_of(&app, &format!("{GROUP}/app"), "only-second").await;
    // Assert
    assert_eq!(served, first, "the first member's tag must win");
    assert_eq!(found, only);
}

#[tokio::test]
async fn manifests_and_blobs_by_digest_resolve_through_any_member() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    let hosted = app
        .push_blobs_of(&format!("{HOSTED}/app"), Image::seeded("in-hosted"))
        .await;
    let r = app.put_image(&format!("{HOSTED}/app"), "1", &hosted).await;
    assert_eq!(r.status(), 201);
    let other = app
        .push_blobs_of(&format!("{OTHER}/app"), Image::seeded("in-other"))
        .await;
    let r = app.put_image(&format!("{OTHER}/app"), "2", &other).await;
    assert_eq!(r.status(), 201);
    // Act + Assert
    for image in [&hosted, &other] {
        let (status, digest, body) =
            get_manifest(&app, &format!("{GROUP}/app"), &image.digest).await;
        assert_eq!(status, 200);
        assert_eq!(digest, image.digest);
        assert_eq!(body, image.manifest);
        for (digest, bytes) in [&image.config, image.layer()] {
            let path = format!("/v2/{GROUP}/app/blobs/{digest}");
            let r = app.req(Method::GET, &path).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(header(&r, "docker-content-digest"), *digest);
            assert_eq!(r.bytes().await.unwrap().to_vec(), *bytes);
            let r = app.req(Method::HEAD, &path).send().await.unwrap();
            assert_eq!(r.status(), 200, "HEAD {path}");
        }
    }
    let missing = sha256(b"in no member");
    let r = app
        .req(Method::GET, &format!("/v2/{GROUP}/app/blobs/{missing}"))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UNKNOWN").await;
}

#[tokio::test]
async fn the_tag_list_of_a_group_merges_its_members_sorted_without_duplicates_and_paginates() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    for tag in ["z", "1", "x"] {
        app.push_image(&format!("{HOSTED}/app"), tag, &format!("h{tag}"))
            .await;
    }
    for tag in ["y", "1", "only-b"] {
        app.push_image(&format!("{OTHER}/app"), tag, &format!("o{tag}"))
            .await;
    }
    let list = format!("/v2/{GROUP}/app/tags/list");
    // Act
    let (link, all) = get_json(&app, &list).await;
    let (link1, page1) = get_json(&app, &format!("{list}?n=2")).await;
    let (link2, page2) = get_json(&app, &format!("{list}?n=2&last=only-b")).await;
    let (link3, page3) = get_json(&app, &format!("{list}?n=2&last=y")).await;
    // Assert
    assert_eq!(all["name"], format!("{GROUP}/app"));
    assert_eq!(strings(&all["tags"]), ["1", "only-b", "x", "y", "z"]);
    assert_eq!(link, "");
    assert_eq!(strings(&page1["tags"]), ["1", "only-b"]);
    assert!(
        link1.contains(&format!("/v2/{GROUP}/app/tags/list?n=2&last=only-b")),
        "Link: {link1}"
    );
    assert_eq!(strings(&page2["tags"]), ["x", "y"]);
    assert!(link2.contains("last=y"), "Link: {link2}");
    assert_eq!(strings(&page3["tags"]), ["z"]);
    assert_eq!(link3, "", "the last page has no Link");
}

#[tokio::test]
async fn the_catalog_of_a_group_merges_the_image_names_of_its_members() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    app.push_image(&format!("{HOSTED}/shared"), "1", "a").await;
    app.push_image(&format!("{HOSTED}/only-hosted"), "1", "b")
        .await;
    app.push_image(&format!("{OTHER}/shared"), "1", "c").await;
    app.push_image(&format!("{OTHER}/only-other"), "1", "d")
        .await;
    // Act
    let (_, catalog) = get_json(&app, "/repository/docker-group/v2/_catalog").await;
    let (link, page) = get_json(&app, "/repository/docker-group/v2/_catalog?n=2").await;
    let (_, hosted) = get_json(&app, "/repository/docker-hosted/v2/_catalog").await;
    // Assert
    assert_eq!(
        strings(&catalog["repositories"]),
        ["only-hosted", "only-other", "shared"]
    );
    assert_eq!(
        strings(&page["repositories"]),
        ["only-hosted", "only-other"]
    );
    assert!(
        link.contains("/repository/docker-group/v2/_catalog?n=2&last=only-other"),
        "Link: {link}"
    );
    assert_eq!(
        strings(&hosted["repositories"]),
        ["only-hosted", "shared"],
        "a member lists only its own images"
    );
}

#[tokio::test]
async fn the_referrers_of_a_group_merge_those_of_its_members() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    let (subject, manifest) = app.push_image(&format!("{HOSTED}/app"), "1", "s").await;
    let subject = (subject.as_str(), manifest.len());
    let sig = push_referrer(&app, &format!("{HOSTED}/app"), "application/x.sig", subject).await;
    let sbom = push_referrer(&app, &format!("{OTHER}/app"), "application/x.sbom", subject).await;
    // Act
    let (_, index) = get_json(&app, &format!("/v2/{GROUP}/app/referrers/{}", subject.0)).await;
    // Assert
    let mut digests: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    digests.sort();
    let mut expected = vec![sig, sbom];
    expected.sort();
    assert_eq!(digests, expected);
}

#[tokio::test]
async fn a_push_through_the_group_lands_in_its_writable_member() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    // Act
    let r = app
        .req(Method::POST, &format!("/v2/{GROUP}/pushed/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let location = header(&r, "location");
    let (digest, _) = app.push_image(&format!("{GROUP}/pushed"), "v1", "p").await;
    // Assert
    assert_eq!(r.status(), 202);
    assert!(
        location.starts_with(&format!("/v2/{GROUP}/pushed/blobs/uploads/")),
        "Location: {location}"
    );
    assert_eq!(
        digest_of(&app, &format!("{HOSTED}/pushed"), "v1").await,
        digest
    );
    assert_eq!(
        digest_of(&app, &format!("{GROUP}/pushed"), "v1").await,
        digest
    );
    let (status, _, _) = get_manifest(&app, &format!("{OTHER}/pushed"), "v1").await;
    assert_eq!(status, 404, "the other member must not have the image");
}

#[tokio::test]
async fn a_group_without_a_writable_member_refuses_pushes_with_denied() {
    // Arrange
    let config = format!(
        "{GROUP_CONFIG}
[[repositories]]
name = \"read-group\"
type = \"group\"
members = [\"docker-hosted\"]
"
    );
    let (app, _config) = spawn_with_config(&config).await;
    let (digest, manifest) = app.push_image(&format!("{HOSTED}/app"), "1", "a").await;
    let name = "repository/read-group/app";
    // Act
    let start = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let blob = b"refused";
    let monolithic = app
        .req(
            Method::POST,
            &format!("/v2/{name}/blobs/uploads/?digest={}", sha256(blob)),
        )
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    let put = app.put_manifest(name, "2", OCI_MANIFEST, &manifest).await;
    let delete = app
        .req(Method::DELETE, &format!("/v2/{name}/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    // Assert
    for r in [start, monolithic, put, delete] {
        let body = assert_oci_error(r, 403, "DENIED").await;
        assert!(message(&body).contains("writable member"), "{body}");
    }
    assert_eq!(digest_of(&app, name, "1").await, digest, "reads still work");
    let (status, _, _) = get_manifest(&app, &format!("{HOSTED}/app"), "2").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_group_inside_a_group_reads_through_both_levels_and_pushes_to_its_own_writable_member() {
    // Arrange
    let config = format!(
        "{GROUP_CONFIG}
[[repositories]]
name = \"third-hosted\"
type = \"hosted\"

[[repositories]]
name = \"outer-group\"
type = \"group\"
members = [\"docker-group\", \"third-hosted\"]
writable_member = \"third-hosted\"
"
    );
    let (app, _config) = spawn_with_config(&config).await;
    let outer = "repository/outer-group/app";
    let (first, _) = app.push_image(&format!("{HOSTED}/app"), "1", "h").await;
    app.push_image("repository/third-hosted/app", "1", "t")
        .await;
    let (deep, _) = app.push_image(&format!("{OTHER}/app"), "deep", "o").await;
    let (own, _) = app
        .push_image("repository/third-hosted/app", "own", "t2")
        .await;
    // Act
    let (pushed, _) = app.push_image(outer, "pushed", "via-outer").await;
    // Assert
    assert_eq!(
        digest_of(&app, outer, "1").await,
        first,
        "inner group first"
    );
    assert_eq!(digest_of(&app, outer, "deep").await, deep);
    assert_eq!(digest_of(&app, outer, "own").await, own);
    assert_eq!(
        digest_of(&app, "repository/third-hosted/app", "pushed").await,
        pushed
    );
    let (status, _, _) = get_manifest(&app, &format!("{HOSTED}/app"), "pushed").await;
    assert_eq!(status, 404);
    let (_, tags) = get_json(&app, &format!("/v2/{outer}/tags/list")).await;
    assert_eq!(strings(&tags["tags"]), ["1", "deep", "own", "pushed"]);
}

#[tokio::test]
async fn an_image_in_no_member_is_name_unknown_through_the_group() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    app.push_image(&format!("{HOSTED}/app"), "1", "a").await;
    // Act
    let r = app
        .req(Method::GET, &format!("/v2/{GROUP}/nothing/manifests/1"))
        .send()
        .await
        .unwrap();
    let tag = app
        .req(Method::GET, &format!("/v2/{GROUP}/app/manifests/absent"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_oci_error(r, 404, "NAME_UNKNOWN").await;
    assert_oci_error(tag, 404, "MANIFEST_UNKNOWN").await;
}

#[tokio::test]
async fn an_offline_member_is_skipped_and_an_offline_writable_member_refuses_pushes() {
    // Arrange
    let (mut app, config) = spawn_with_config(GROUP_CONFIG).await;
    app.push_image(&format!("{HOSTED}/app"), "1", "hosted")
        .await;
    let (second, _) = app.push_image(&format!("{OTHER}/app"), "1", "other").await;
    config.rewrite(&GROUP_CONFIG.replacen(
        "name = \"docker-hosted\"\ntype = \"hosted\"",
        "name = \"docker-hosted\"\ntype = \"hosted\"\nonline = false",
        1,
    ));
    app.restart().await;
    // Act
    let served = digest_of(&app, &format!("{GROUP}/app"), "1").await;
    let push = app
        .req(Method::POST, &format!("/v2/{GROUP}/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(served, second, "the offline first member is skipped");
    assert_oci_error(push, 503, "UNAVAILABLE").await;
}

#[tokio::test]
async fn a_group_whose_writable_member_is_read_only_refuses_pushes_with_denied() {
    // Arrange
    let config = GROUP_CONFIG.replacen(
        "name = \"docker-hosted\"\ntype = \"hosted\"",
        "name = \"docker-hosted\"\ntype = \"hosted\"\nwrite_policy = \"DENY\"",
        1,
    );
    let (app, _config) = spawn_with_config(&config).await;
    // Act
    let r = app
        .req(Method::POST, &format!("/v2/{GROUP}/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    // Assert
    let body = assert_oci_error(r, 403, "DENIED").await;
    assert!(message(&body).contains("DENY"), "{body}");
}

#[tokio::test]
async fn the_catalog_of_a_group_continues_after_last() {
    // Arrange
    let (app, _config) = spawn_with_config(GROUP_CONFIG).await;
    for (repo, image) in [(HOSTED, "b"), (OTHER, "a"), (OTHER, "c"), (HOSTED, "d")] {
        app.push_image(&format!("{repo}/{image}"), "1", image).await;
    }
    // Act
    let (link, page) = get_json(&app, "/repository/docker-group/v2/_catalog?n=2&last=b").await;
    let (_, rest) = get_json(&app, "/repository/docker-group/v2/_catalog?last=c").await;
    // Assert
    assert_eq!(strings(&page["repositories"]), ["c", "d"]);
    assert_eq!(link, "");
    assert_eq!(strings(&rest["repositories"]), ["d"]);
}
