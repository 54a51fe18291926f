//! The manifest page of a sparse index (`docker.sparseManifests`): which platforms this
//! repository holds (`present`) and which the index only lists.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

/// The `<tr>` of table `id` in `html` whose text contains `needle`.
fn row_with<'a>(html: &'a str, id: &str, needle: &str) -> &'a str {
    let table = &html[html.find(&format!("id=\"{id}\"")).expect("the table")..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr>")
        .find(|row| row.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle} in {table}"))
}

#[tokio::test]
async fn a_sparse_index_shows_which_platforms_are_present_and_which_are_not() {
    // Arrange: docker-hosted accepts sparse indexes; amd64 pushed, arm64 only listed.
    let app = spawn_app().await;
    let body = json!({"name": "docker-hosted", "online": true,
        "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
        "docker": {"forceBasicAuth": true, "sparseManifests": true}});
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
    let (amd64, amd64_bytes) = app.push_image("sparse/app", "amd64-only", "amd64").await;
    let arm64_config = b"{\"architecture\":\"arm64\"}";
    let config = app.push_blob("sparse/app", arm64_config).await;
    let arm64_manifest = oci_manifest((&config, arm64_config.len()), &[]);
    let arm64 = sha256(arm64_manifest.as_bytes());
    let child = |digest: &str, size: usize, arch: &str| {
        json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
               "platform": {"architecture": arch, "os": "linux"}})
    };
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        child(&amd64, amd64_bytes.len(), "amd64"),
        child(&arm64, arm64_manifest.len(), "arm64")]})
    .to_string();
    let r = app
        .put_manifest("sparse/app", "multi", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // Act
    let html = app
        .req(
            Method::GET,
            "/ui/browse/docker-hosted/manifest?image=sparse/app&ref=multi",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // Assert
    let amd = row_with(&html, "children", "linux/amd64");
    assert!(amd.contains(&amd64) && amd.contains(">present<"), "{amd}");
    let arm = row_with(&html, "children", "linux/arm64");
    assert!(arm.contains(&arm64) && arm.contains("not present"), "{arm}");
    assert!(
        html.contains("Sparse indexes are allowed here"),
        "the page says why"
    );
}
