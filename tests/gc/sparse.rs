//! Cleanup and garbage collection with a sparse index (a repository with
//! `docker.sparseManifests`): the index's present children are kept like any index child,
//! its absent children break nothing, and a child pushed later is kept too.

use reqwest::Method;
use serde_json::json;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn cleanup_and_gc_keep_the_present_children_of_a_sparse_index_and_tolerate_absent_ones() {
    // Arrange: docker-hosted is sparse and deletes untagged manifests after 2 hours.
    let (app, _dir) = spawn_gc_app().await;
    let r = app
        .req(Method::POST, "/service/rest/v1/cleanup-policies")
        .json(&json!({"name": "untagged", "format": "docker", "untaggedOlderThanHours": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body = json!({"name": "docker-hosted", "online": true,
        "storage": {"blobStoreName": "default", "writePolicy": "ALLOW"},
        "cleanup": {"policyNames": ["untagged"]},
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
    // The amd64 image is pushed by digest (untagged), the arm64 one not at all.
    let amd64 = push_layers(
        &app,
        "app",
        "tmp",
        &[blob("amd64 config"), blob("amd64 layer")],
    )
    .await;
    let r = app
        .req(Method::DELETE, "/v2/app/manifests/tmp")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let arm64_config = blob("arm64 config");
    let arm64_manifest = oci_manifest((&sha256(&arm64_config), arm64_config.len()), &[]);
    let arm64 = sha256(arm64_manifest.as_bytes());
    let amd64_size = {
        let r = app
            .req(Method::GET, &format!("/v2/app/manifests/{amd64}"))
            .send()
            .await
            .unwrap();
        r.bytes().await.unwrap().len()
    };
    let child = |digest: &str, size: usize, arch: &str| {
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{},{}]}}"#,
        child(&amd64, amd64_size, "amd64"),
        child(&arm64, arm64_manifest.len(), "arm64")
    );
    let r = app
        .put_manifest("app", "multi", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let orphan = blob("a layer nothing references");
    app.push_blob("app", &orphan).await;
    // Act: well past the untagged age and the GC grace window.
    set_clock(&app, 3 * 3600).await;
    let cleanup = run_task(&app, "repository.cleanup").await;
    let report = collect(&app).await;
    // Assert
    assert_eq!(cleanup["lastRunResult"], "OK", "{cleanup}");
    let deleted = &cleanup["lastRunReport"]["repositories"][0]["manifests"];
    assert!(
        !deleted.to_string().contains(&amd64),
        "an index child is no cleanup candidate: {cleanup}"
    );
    assert!(
        !app.blob_path(&sha256(&orphan)).exists(),
        "GC ran and reclaimed the unreferenced layer: {report}"
    );
    let multi = app
        .req(Method::GET, "/v2/app/manifests/multi")
        .send()
        .await
        .unwrap();
    assert_eq!(multi.status(), 200);
    assert_eq!(multi.bytes().await.unwrap(), index.as_bytes());
    pull_verified(&app, "app", &amd64).await;
    let r = app
        .req(Method::GET, &format!("/v2/app/manifests/{arm64}"))
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "MANIFEST_UNKNOWN").await;
    // The absent platform arrives later and survives the next collection too.
    app.push_blob("app", &arm64_config).await;
    let r = app
        .put_manifest("app", &arm64, OCI_MANIFEST, arm64_manifest.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    set_clock(&app, 6 * 3600).await;
    run_task(&app, "repository.cleanup").await;
    collect(&app).await;
    pull_verified(&app, "app", &arm64).await;
    pull_verified(&app, "app", &amd64).await;
}
