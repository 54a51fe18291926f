//! Components (one per tag) and assets (manifests and blobs), paginated as Nexus does.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::support::*;

const COMPONENTS: &str = "/service/rest/v1/components";
const ASSETS: &str = "/service/rest/v1/assets";

#[tokio::test]
async fn components_list_one_item_per_tag_with_its_manifest_as_the_asset() {
    let app = spawn_app().await;
    let (d1, m1) = app.push_image("team/app", "1.0", "one").await;
    let (d2, _) = app.push_image("team/app", "2.0", "two").await;

    let (status, page) = app
        .get_json(&format!("{COMPONENTS}?repository=docker-hosted"))
        .await;

    assert_eq!(status, 200, "{page}");
    assert_eq!(page["continuationToken"], Value::Null);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    for (item, (tag, digest)) in items.iter().zip([("1.0", &d1), ("2.0", &d2)]) {
        assert_eq!(item["repository"], "docker-hosted");
        assert_eq!(item["format"], "docker");
        assert_eq!(item["name"], "team/app");
        assert_eq!(item["version"], tag);
        let assets = item["assets"].as_array().unwrap();
        assert_eq!(assets.len(), 1);
        let asset = &assets[0];
        assert_eq!(asset["path"], format!("/v2/team/app/manifests/{tag}"));
        assert_eq!(
            asset["checksum"]["sha256"],
            digest.trim_start_matches("sha256:")
        );
        assert_eq!(asset["contentType"], OCI_MANIFEST);
        assert!(asset["lastModified"]
            .as_str()
            .unwrap()
            .ends_with(".000+00:00"));
        assert_eq!(
            asset["downloadUrl"],
            format!(
                "{}/repository/docker-hosted/v2/team/app/manifests/{tag}",
                app.base
            )
        );
    }
    assert_eq!(items[0]["assets"][0]["fileSize"], m1.len());
    // The download URL really serves the manifest.
    let url = items[0]["assets"][0]["downloadUrl"].as_str().unwrap();
    let r = app
        .client
        .get(url)
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), m1);
}

#[tokio::test]
async fn components_of_a_group_are_those_of_its_members() {
    let app = spawn_app().await;
    create_group(&app, "g", &["docker-hosted"]).await;
    app.push_image("app", "1", "through the group").await;

    let (_, page) = app.get_json(&format!("{COMPONENTS}?repository=g")).await;

    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["repository"], "docker-hosted");
    assert_eq!(items[0]["version"], "1");
}

#[tokio::test]
async fn a_missing_repository_parameter_is_422_and_an_unknown_repository_404() {
    let app = spawn_app().await;
    for base in [COMPONENTS, ASSETS] {
        assert_eq!(app.get_json(base).await.0, 422);
        assert_eq!(app.get_json(&format!("{base}?repository=")).await.0, 422);
        let (status, body) = app.get_json(&format!("{base}?repository=ghost")).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Repository not found");
    }
    let (status, _) = app
        .get_json(&format!(
            "{COMPONENTS}?repository=docker-hosted&continuationToken=zz"
        ))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn components_are_paginated_by_100_with_a_continuation_token() {
    let app = spawn_app().await;
    let (_, manifest) = app.push_image("app", "base", "paged").await;
    for i in 0..101 {
        let r = app
            .put_manifest("app", &format!("t{i:03}"), OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(r.status(), 201);
    }

    let (_, first) = app
        .get_json(&format!("{COMPONENTS}?repository=docker-hosted"))
        .await;
    let token = first["continuationToken"]
        .as_str()
        .expect("a token")
        .to_string();
    let (_, second) = app
        .get_json(&format!(
            "{COMPONENTS}?repository=docker-hosted&continuationToken={token}"
        ))
        .await;

    let versions: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter())
        .map(|c| c["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first["items"].as_array().unwrap().len(), 100);
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert_eq!(second["continuationToken"], Value::Null);
    let mut expected: Vec<String> = (0..101).map(|i| format!("t{i:03}")).collect();
    expected.insert(0, "base".into());
    assert_eq!(versions, expected);
}

#[tokio::test]
async fn assets_list_tagged_manifests_manifests_by_digest_and_blobs() {
    let app = spawn_app().await;
    let (digest, _) = app.push_image("app", "1", "assets").await;

    let (status, page) = app
        .get_json(&format!("{ASSETS}?repository=docker-hosted"))
        .await;

    assert_eq!(status, 200);
    let paths: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 4, "{page}");
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.starts_with("/v2/app/blobs/sha256:"))
            .count(),
        2
    );
    assert!(paths.contains(&"/v2/app/manifests/1"), "{paths:?}");
    assert!(
        paths.contains(&format!("/v2/app/manifests/{digest}").as_str()),
        "{paths:?}"
    );
    // Every blob asset's download URL serves the blob.
    for asset in page["items"].as_array().unwrap() {
        let url = asset["downloadUrl"].as_str().unwrap();
        let r = app
            .client
            .request(Method::HEAD, url)
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
    }
}
