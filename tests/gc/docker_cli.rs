//! The Docker Engine end to end: three images sharing layers pushed into two repositories,
//! one repository deleted, a collection frees exactly what only it referenced, and the
//! other repository's images still pull with `docker pull`.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Digests of an image as stored: manifest, config, layers.
async fn stored_digests(app: &TestApp, name: &str, tag: &str) -> BTreeSet<String> {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/{tag}"))
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    let mut out = BTreeSet::from([sha256(&bytes)]);
    out.insert(m["config"]["digest"].as_str().unwrap().to_string());
    for l in m["layers"].as_array().unwrap() {
        out.insert(l["digest"].as_str().unwrap().to_string());
    }
    out
}

#[tokio::test]
async fn docker_images_of_the_remaining_repository_pull_after_gc_freed_the_deleted_one() {
    if !docker_present() {
        return;
    }
    // Arrange: build three images over shared layers and push them with docker.
    let (app, _cfg) = spawn_gc_app().await;
    let host = app.addr.clone();
    let unique = format!(
        "gc-{}-{}",
        host.rsplit(':').next().unwrap(),
        std::process::id()
    );
    let ctx = tempfile::tempdir().unwrap();
    for f in ["shared", "x", "a", "b1", "b2"] {
        std::fs::write(ctx.path().join(f), format!("{f} {unique}\n")).unwrap();
    }
    let specs = [
        ("a", "team-a", "1", vec!["shared", "x", "a"]),
        ("b1", "team-b", "1", vec!["shared", "b1"]),
        ("b2", "team-b", "2", vec!["shared", "x", "b2"]),
    ];
    let mut locals = LocalImages(Vec::new());
    let mut ids = Vec::new();
    for (label, repo, tag, files) in &specs {
        let mut dockerfile = String::from("FROM scratch\n");
        for f in files {
            dockerfile.push_str(&format!("COPY {f} /{f}\n"));
        }
        dockerfile.push_str("CMD [\"/shared\"]\n");
        let file = ctx.path().join(format!("Dockerfile.{label}"));
        std::fs::write(&file, dockerfile).unwrap();
        let reference = format!("{host}/repository/{repo}/{unique}:{tag}");
        locals.0.push(reference.clone());
        docker(&[
            "build",
            "--force-rm",
            "-f",
            file.to_str().unwrap(),
            "-t",
            &reference,
            ctx.path().to_str().unwrap(),
        ]);
        docker(&["push", &reference]);
        ids.push(image_id(&reference));
    }
    let a = stored_digests(&app, &format!("repository/team-a/{unique}"), "1").await;
    let mut b = stored_digests(&app, &format!("repository/team-b/{unique}"), "1").await;
    b.extend(stored_digests(&app, &format!("repository/team-b/{unique}"), "2").await);
    let expected: BTreeSet<String> = a.difference(&b).cloned().collect();
    let expected_bytes: u64 = expected
        .iter()
        .map(|d| std::fs::metadata(app.blob_path(d)).unwrap().len())
        .sum();
    let (files_before, bytes_before) = on_disk(&app);
    // Act
    let r = app
        .req(Method::DELETE, "/service/rest/v1/repositories/team-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    set_clock(&app, 2 * 3600).await;
    let report = collect(&app).await;
    for reference in &locals.0 {
        docker(&["rmi", reference]);
    }
    let b1 = format!("{host}/repository/team-b/{unique}:1");
    let b2 = format!("{host}/repository/team-b/{unique}:2");
    let pulled = [docker(&["pull", &b1]), docker(&["pull", &b2])];
    // Assert
    assert_eq!(
        expected.len(),
        3,
        "a's own layer, its config, its manifest: {expected:?}"
    );
    let (files_after, bytes_after) = on_disk(&app);
    let gone: BTreeSet<String> = files_before.difference(&files_after).cloned().collect();
    assert_eq!(gone, expected);
    assert_eq!(bytes_before - bytes_after, expected_bytes);
    assert_eq!(report["bytesFreed"], expected_bytes, "{report}");
    for p in &pulled {
        assert!(p.contains("Downloaded"), "{p}");
    }
    assert_eq!(image_id(&b1), ids[1]);
    assert_eq!(image_id(&b2), ids[2]);
}
