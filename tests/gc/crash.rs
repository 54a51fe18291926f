//! `kill -9` in the middle of a collection, restart, collect again: nothing referenced is
//! lost, the garbage is gone, and the store's byte count matches the files on disk.

use std::time::Duration;

use reqwest::Method;

use crate::support::*;

#[tokio::test]
async fn a_crash_during_gc_then_a_rerun_loses_no_referenced_blob() {
    // Arrange: live images and many unreferenced blobs, old enough to collect.
    let (mut app, _cfg) = spawn_gc_app().await;
    let name = "repository/team-a/app";
    for i in 0..3 {
        let blobs = [
            blob(&format!("cfg {i}")),
            blob("shared"),
            blob(&format!("own {i}")),
        ];
        push_layers(&app, name, &format!("v{i}"), &blobs).await;
    }
    let mut garbage = Vec::new();
    for i in 0..150 {
        garbage.push(
            app.push_blob("repository/team-b/junk", &blob(&format!("junk {i}")))
                .await,
        );
    }
    set_clock(&app, 2 * 3600).await;
    // Act: start a collection and kill the server while it sweeps.
    let r = app
        .req(
            Method::POST,
            "/service/rest/v1/tasks/blobstore.compact-default/run",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(Duration::from_millis(40)).await;
    app.kill9();
    let left_by_crash = garbage.iter().filter(|d| app.blob_path(d).exists()).count();
    app.restart().await;
    set_clock(&app, 2 * 3600).await;
    let report = collect(&app).await;
    // Assert
    eprintln!("garbage left by the crash: {left_by_crash} of 150; rerun: {report}");
    for d in &garbage {
        assert!(!app.blob_path(d).exists(), "garbage {d} survived the rerun");
    }
    for i in 0..3 {
        pull_verified(&app, name, &format!("v{i}")).await;
    }
    let (_, bytes) = on_disk(&app);
    assert_eq!(
        store_total(&app).await,
        bytes,
        "store accounting matches the disk"
    );
}
