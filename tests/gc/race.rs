//! Pushes that reuse old layers (including layers of deleted images, which are garbage
//! until a new manifest names them) while collections run back to back: every push
//! succeeds and every pushed image pulls with all its blobs intact.

use std::cell::Cell;

use crate::common::*;
use crate::support::*;

const IMAGES: usize = 40;

#[tokio::test]
async fn pushes_reusing_old_and_garbage_layers_while_gc_runs_repeatedly_lose_nothing() {
    // Arrange: live base layers, and garbage layers (their manifests deleted), all old.
    let (app, _cfg) = spawn_gc_app().await;
    let (base, junk) = ("repository/team-a/base", "repository/team-a/junk");
    let base_layers: Vec<Vec<u8>> = (0..6).map(|i| blob(&format!("base {i}"))).collect();
    let mut base_image = vec![blob("base config")];
    base_image.extend(base_layers.iter().cloned());
    push_layers(&app, base, "base", &base_image).await;
    let garbage: Vec<Vec<u8>> = (0..6).map(|i| blob(&format!("garbage {i}"))).collect();
    for (i, g) in garbage.iter().enumerate() {
        let m = push_layers(
            &app,
            junk,
            "old",
            &[blob(&format!("junk cfg {i}")), g.clone()],
        )
        .await;
        delete_manifest(&app, junk, &m).await;
    }
    set_clock(&app, 2 * 3600).await;
    let done = Cell::new(false);
    let mut pushed = Vec::new();
    // Act
    let pusher = async {
        for i in 0..IMAGES {
            let (name, reused) = if i % 2 == 0 {
                (base, base_layers[i % 6].clone())
            } else {
                (junk, garbage[i % 6].clone())
            };
            let blobs = [
                blob(&format!("config {i}")),
                reused,
                blob(&format!("new {i}")),
            ];
            push_layers(&app, name, &format!("t{i}"), &blobs).await;
            pushed.push((name, format!("t{i}")));
        }
        done.set(true);
    };
    let collector = async {
        let (mut runs, mut deleted) = (0, 0);
        while !done.get() {
            let report = collect(&app).await;
            deleted += report["blobsDeleted"].as_u64().unwrap();
            runs += 1;
        }
        (runs, deleted)
    };
    let ((), (runs, deleted)) = tokio::join!(pusher, collector);
    let last = collect(&app).await;
    // Assert
    assert!(runs >= 2, "collections ran during the pushes: {runs}");
    assert!(
        deleted + last["blobsDeleted"].as_u64().unwrap() >= 12,
        "the deleted images' manifests and configs were collected ({deleted} during, {last} after)"
    );
    pull_verified(&app, base, "base").await;
    for (name, tag) in &pushed {
        pull_verified(&app, name, tag).await;
    }
    if have("skopeo") {
        for (name, tag) in pushed.iter().step_by(5) {
            skopeo_copy(&app, name, tag);
        }
    }
}

/// `skopeo copy` of an image to a directory: skopeo verifies every blob's digest.
fn skopeo_copy(app: &TestApp, name: &str, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/{name}:{tag}", app.addr),
        &format!("dir:{}", dir.path().display()),
    ]);
}

/// A second blob store with its own repository, so pushes there write the database while a
/// collection of the default store holds that store's sweep lock.
const TWO_STORES: &str = r#"
[[blob_stores]]
name = "other"
path = "other"

[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "elsewhere"
type = "hosted"
blob_store = "other"

[gc]
test_clock = true
grace_secs = 3600
"#;

#[tokio::test]
async fn collections_never_fail_with_database_is_locked_while_pushes_and_deletes_go_on() {
    // Arrange
    let (app, _config) = spawn_with_config(TWO_STORES).await;
    set_clock(&app, 2 * 3600).await;
    let done = Cell::new(false);
    let pushed = std::cell::RefCell::new(Vec::new());
    // Act: pushes into the other store, and pushes + deletes (garbage for every
    // collection) in the default store, while the default store is collected again and again.
    let pusher = |worker: usize| {
        let (app, done, pushed) = (&app, &done, &pushed);
        async move {
            let mut i = 0;
            while !done.get() {
                let name = format!("repository/elsewhere/w{worker}");
                let tag = format!("t{i}");
                let blobs = [
                    blob(&format!("cfg {worker} {i}")),
                    blob(&format!("layer {worker} {i}")),
                ];
                push_layers(app, &name, &tag, &blobs).await;
                pushed.borrow_mut().push((name, tag));
                i += 1;
            }
        }
    };
    let churn = async {
        let mut i = 0;
        while !done.get() {
            let blobs = [blob(&format!("churn cfg {i}")), blob(&format!("churn {i}"))];
            let m = push_layers(&app, "churn", &format!("t{i}"), &blobs).await;
            delete_manifest(&app, "churn", &m).await;
            i += 1;
        }
    };
    let collector = async {
        let mut deleted = 0;
        for _ in 0..25 {
            // `collect` asserts each run's result is OK.
            deleted += collect(&app).await["blobsDeleted"].as_u64().unwrap();
        }
        done.set(true);
        deleted
    };
    let (deleted, (), (), ()) = tokio::join!(collector, pusher(0), pusher(1), churn);
    // Assert
    assert!(deleted > 0, "the collections had garbage to sweep");
    for (name, tag) in pushed.take() {
        pull_verified(&app, &name, &tag).await;
    }
}
