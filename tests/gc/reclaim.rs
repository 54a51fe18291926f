//! What a collection frees: exactly the blobs nothing live references, with the files gone
//! and the byte counts (on disk, in the store's accounting, in the run's report) agreeing.

use std::collections::BTreeSet;

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const HOUR: i64 = 3600;

#[tokio::test]
async fn deleting_a_repository_then_collecting_frees_exactly_the_blobs_only_it_referenced() {
    // Arrange: three images over shared layers in two repositories of one store.
    let (app, _cfg) = spawn_gc_app().await;
    let (a, b) = ("repository/team-a/app", "repository/team-b/app");
    let (s, w, x, y, z) = (blob("S"), blob("W"), blob("X"), blob("Y"), blob("Z"));
    let (ca, cb1, cb2) = (blob("config a"), blob("config b1"), blob("config b2"));
    let ma = push_layers(&app, a, "1", &[ca.clone(), s.clone(), x.clone(), w.clone()]).await;
    push_layers(&app, b, "1", &[cb1, s.clone(), y]).await;
    push_layers(&app, b, "2", &[cb2, s, z, x]).await;
    let manifest_a = app
        .req(Method::GET, &format!("/v2/{a}/manifests/1"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let expected: BTreeSet<String> = [sha256(&ca), sha256(&w), ma.clone()].into();
    let expected_bytes = (ca.len() + w.len() + manifest_a.len()) as u64;
    let (files_before, bytes_before) = on_disk(&app);
    let total_before = store_total(&app).await;
    // Act
    let r = app
        .req(Method::DELETE, "/service/rest/v1/repositories/team-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let nothing_yet = collect(&app).await;
    set_clock(&app, 2 * HOUR).await;
    let report = collect(&app).await;
    // Assert
    assert_eq!(
        nothing_yet["blobsDeleted"], 0,
        "fresh files are inside the grace window: {nothing_yet}"
    );
    assert_eq!(report["blobsDeleted"], 3, "{report}");
    assert_eq!(report["bytesFreed"], expected_bytes, "{report}");
    let (files_after, bytes_after) = on_disk(&app);
    let gone: BTreeSet<String> = files_before.difference(&files_after).cloned().collect();
    assert_eq!(
        gone, expected,
        "exactly the blobs only team-a referenced go"
    );
    assert!(files_after.is_subset(&files_before));
    assert_eq!(bytes_before - bytes_after, expected_bytes, "bytes on disk");
    assert_eq!(
        total_before - store_total(&app).await,
        expected_bytes,
        "store accounting"
    );
    for d in &expected {
        assert!(!app.blob_path(d).exists(), "{d} is still on disk");
    }
    pull_verified(&app, b, "1").await;
    pull_verified(&app, b, "2").await;
}

#[tokio::test]
async fn an_unreferenced_upload_is_kept_within_the_grace_window_and_freed_after_it() {
    // Arrange: an image whose manifest was deleted, and a layer pushed but never referenced.
    let (app, _cfg) = spawn_gc_app().await;
    let name = "repository/team-b/app";
    let (c, l1, l2) = (blob("c"), blob("L1"), blob("L2"));
    let m1 = push_layers(&app, name, "1", &[c.clone(), l1.clone()]).await;
    delete_manifest(&app, name, &m1).await;
    let l2_digest = app.push_blob(name, &l2).await;
    // Act
    let within_grace = collect(&app).await;
    set_clock(&app, 2 * HOUR).await;
    let after_grace = collect(&app).await;
    // Assert
    assert_eq!(within_grace["blobsDeleted"], 0, "{within_grace}");
    assert_eq!(after_grace["blobsDeleted"], 4, "{after_grace}");
    for d in [m1, sha256(&c), sha256(&l1), l2_digest.clone()] {
        assert!(!app.blob_path(&d).exists(), "{d} is still on disk");
    }
    let head = app
        .req(Method::HEAD, &format!("/v2/{name}/blobs/{l2_digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404, "a collected blob is no longer served");
    let manifest = oci_manifest((&l2_digest, l2.len()), &[]);
    let r = app
        .put_manifest(name, "late", OCI_MANIFEST, manifest.as_bytes())
        .await;
    assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN").await;
}

#[tokio::test]
async fn index_children_configs_and_referrers_stay_while_anything_reaches_them() {
    // Arrange: an index over two images, tagged; a referrer of the index.
    let (app, _cfg) = spawn_gc_app().await;
    let name = "repository/team-a/multi";
    let amd = push_layers(&app, name, "amd", &[blob("cfg amd"), blob("layer amd")]).await;
    let arm = push_layers(&app, name, "arm", &[blob("cfg arm"), blob("layer arm")]).await;
    let size_of = |app: &TestApp, d: &str| std::fs::metadata(app.blob_path(d)).unwrap().len();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{amd}","size":{}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{arm}","size":{}}}]}}"#,
        size_of(&app, &amd),
        size_of(&app, &arm)
    );
    let r = app
        .put_manifest(name, "multi", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    for tag in ["amd", "arm"] {
        let r = app
            .req(Method::DELETE, &format!("/v2/{name}/manifests/{tag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "untag {tag}");
    }
    let sig = blob("signature");
    let sig_digest = app.push_blob(name, &sig).await;
    let empty = app.push_blob(name, b"{}").await;
    let referrer = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{sig_digest}","size":{}}}],"subject":{{"mediaType":"{OCI_INDEX}","digest":"{}","size":{}}}}}"#,
        sig.len(),
        sha256(index.as_bytes()),
        index.len()
    );
    let r = app
        .put_manifest(
            name,
            &sha256(referrer.as_bytes()),
            OCI_MANIFEST,
            referrer.as_bytes(),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (files_before, _) = on_disk(&app);
    // Act
    set_clock(&app, 2 * HOUR).await;
    let report = collect(&app).await;
    // Assert
    assert_eq!(report["blobsDeleted"], 0, "{report}");
    assert_eq!(on_disk(&app).0, files_before);
    for digest in [&amd, &arm] {
        let r = app
            .req(Method::GET, &format!("/v2/{name}/manifests/{digest}"))
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "child {digest}");
    }
}
