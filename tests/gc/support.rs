//! Helpers: a server with the test clock, two hosted repositories, tasks run to completion,
//! images with chosen layers, and what the blob store holds on disk.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

/// Two hosted repositories sharing the default blob store.
pub const TWO_REPOS: &str = r#"
[[repositories]]
name = "team-a"
type = "hosted"

[[repositories]]
name = "team-b"
type = "hosted"

[gc]
test_clock = true
grace_secs = 3600
"#;

/// A Berth with [`TWO_REPOS`] (and `docker-hosted`, the default repository).
pub async fn spawn_gc_app() -> (TestApp, ConfigFile) {
    spawn_with_config(&format!(
        "{TWO_REPOS}\n[[repositories]]\nname = \"docker-hosted\"\ntype = \"hosted\"\n"
    ))
    .await
}

/// Moves Berth's clock `secs` ahead of real time.
pub async fn set_clock(app: &TestApp, secs: i64) {
    let r = app
        .req(Method::PUT, "/service/rest/v1/berth/clock")
        .json(&serde_json::json!({ "offsetSeconds": secs }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "clock: {}", r.text().await.unwrap());
}

/// Starts task `id` and waits until it is no longer running; returns the task JSON. If the
/// scheduler happens to be running the same task (409), waits for that run and starts again.
pub async fn run_task(app: &TestApp, id: &str) -> Value {
    loop {
        let r = app
            .req(Method::POST, &format!("/service/rest/v1/tasks/{id}/run"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status == 204 || status == 409,
            "run {id}: {}",
            r.text().await.unwrap()
        );
        let task = wait_idle(app, id).await;
        if status == 204 {
            return task;
        }
    }
}

async fn wait_idle(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let task = app
            .get_json_ok(&format!("/service/rest/v1/tasks/{id}"))
            .await;
        if task["currentState"] == "WAITING" {
            return task;
        }
        assert!(Instant::now() < deadline, "task {id} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the compaction (garbage collection) of the default blob store; returns its report.
pub async fn collect(app: &TestApp) -> Value {
    let task = run_task(app, "blobstore.compact-default").await;
    assert_eq!(task["lastRunResult"], "OK", "{task}");
    task["lastRunReport"][0].clone()
}

/// Pushes `blobs` (skipping those the image already has, as clients do after a `HEAD`)
/// and a manifest over them (the first is the config); returns the manifest digest.
pub async fn push_layers(app: &TestApp, name: &str, tag: &str, blobs: &[Vec<u8>]) -> String {
    let image = Image::oci(blobs[0].clone(), blobs[1..].to_vec());
    app.push_missing(name, tag, &image).await
}

/// Deletes a manifest by digest.
pub async fn delete_manifest(app: &TestApp, name: &str, digest: &str) {
    let r = app
        .req(Method::DELETE, &format!("/v2/{name}/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "delete {name}@{digest}");
}

/// Pulls `name:tag` over HTTP and checks every blob against its digest; returns the digests
/// (manifest, config, layers).
pub async fn pull_verified(app: &TestApp, name: &str, tag: &str) -> Vec<String> {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/{tag}"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "manifest {name}:{tag}");
    let bytes = r.bytes().await.unwrap();
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    let mut digests = vec![sha256(&bytes)];
    let config = manifest["config"]["digest"].as_str().unwrap().to_string();
    digests.push(config);
    for l in manifest["layers"].as_array().unwrap() {
        digests.push(l["digest"].as_str().unwrap().to_string());
    }
    for d in &digests[1..] {
        let r = app
            .req(Method::GET, &format!("/v2/{name}/blobs/{d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "blob {d} of {name}:{tag}");
        assert_eq!(&sha256(&r.bytes().await.unwrap()), d, "content of {d}");
    }
    digests
}

/// Digests of the blob files on disk and their total size (what `du` would count).
pub fn on_disk(app: &TestApp) -> (BTreeSet<String>, u64) {
    let mut digests = BTreeSet::new();
    let mut bytes = 0;
    let root = app.store_root().join("blobs/sha256");
    for fan in std::fs::read_dir(root).unwrap() {
        for f in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            let f = f.unwrap();
            bytes += f.metadata().unwrap().len();
            digests.insert(format!("sha256:{}", f.file_name().to_string_lossy()));
        }
    }
    (digests, bytes)
}

/// `totalSizeInBytes` of the default blob store in the admin API.
pub async fn store_total(app: &TestApp) -> u64 {
    let stores = app.get_json_ok("/service/rest/v1/blobstores").await;
    stores
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "default")
        .unwrap()["totalSizeInBytes"]
        .as_u64()
        .unwrap()
}

/// A blob with recognisable, unique content.
pub fn blob(label: &str) -> Vec<u8> {
    format!("{label} {}", "x".repeat(100 + label.len() * 7)).into_bytes()
}
