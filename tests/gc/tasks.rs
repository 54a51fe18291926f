//! The Nexus task API: default tasks per repository and blob store, creating a scheduled
//! task, running tasks, refusals, the upload purge, and GC metrics.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_hosted_repository_and_blob_store_has_its_default_tasks() {
    // Arrange
    let (app, _cfg) = spawn_gc_app().await;
    // Act
    let all = app.get_json_ok("/service/rest/v1/tasks").await;
    let gc_only = app
        .get_json_ok("/service/rest/v1/tasks?type=repository.docker.gc")
        .await;
    let compact = app
        .get_json_ok("/service/rest/v1/tasks/blobstore.compact-default")
        .await;
    // Assert
    let all_ids = ids(&all);
    for id in [
        "blobstore.compact-default",
        "repository.docker.gc-team-a",
        "repository.docker.gc-team-b",
        "repository.docker.gc-docker-hosted",
        "repository.docker.upload-purge",
    ] {
        assert!(all_ids.contains(&id.to_string()), "{id} in {all_ids:?}");
    }
    assert_eq!(all["continuationToken"], Value::Null);
    assert_eq!(ids(&gc_only).len(), 3, "{gc_only}");
    assert_eq!(compact["type"], "blobstore.compact");
    assert_eq!(compact["currentState"], "WAITING");
    assert_eq!(compact["schedule"], "cron");
    assert_eq!(compact["properties"]["blobstoreName"], "default");
    assert!(compact["nextRun"].is_string(), "{compact}");
    assert_eq!(compact["lastRun"], Value::Null);
}

#[tokio::test]
async fn a_created_cron_task_is_persisted_runnable_and_deletable_and_bad_ones_are_refused() {
    // Arrange
    let (mut app, _cfg) = spawn_gc_app().await;
    let body = json!({
        "type": "repository.docker.gc", "name": "GC team-a nightly", "enabled": true,
        "notificationCondition": "FAILURE",
        "frequency": {"schedule": "cron", "cronExpression": "0 0 1 * * ?"},
        "properties": {"repositoryName": "team-a", "deployOffset": "1"}
    });
    // Act
    let r = app
        .req(Method::POST, "/service/rest/v1/tasks")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    app.restart().await;
    let ran = run_task(&app, &id).await;
    let bad_cron = app
        .req(Method::POST, "/service/rest/v1/tasks")
        .json(&json!({"type": "blobstore.compact", "name": "x",
            "frequency": {"schedule": "cron", "cronExpression": "every day"},
            "properties": {"blobstoreName": "default"}}))
        .send()
        .await
        .unwrap();
    let bad_type = app
        .req(Method::POST, "/service/rest/v1/tasks")
        .json(&json!({"type": "script", "name": "x", "frequency": {"schedule": "manual"}}))
        .send()
        .await
        .unwrap();
    let unknown_run = app
        .req(Method::POST, "/service/rest/v1/tasks/nope/run")
        .send()
        .await
        .unwrap();
    let deleted = app
        .req(Method::DELETE, &format!("/service/rest/v1/tasks/{id}"))
        .send()
        .await
        .unwrap();
    let after_delete = app
        .req(Method::GET, &format!("/service/rest/v1/tasks/{id}"))
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(created["schedule"], "cron");
    assert!(created["nextRun"].is_string(), "{created}");
    assert_eq!(ran["lastRunResult"], "OK", "{ran}");
    assert!(ran["lastRun"].is_string());
    assert_eq!(ran["lastRunReport"][0]["blobStore"], "default");
    assert_eq!(bad_cron.status(), 400);
    assert_eq!(bad_type.status(), 400);
    assert_eq!(unknown_run.status(), 404);
    assert_eq!(deleted.status(), 204);
    assert_eq!(after_delete.status(), 404);
}

#[tokio::test]
async fn the_upload_purge_task_removes_idle_sessions_and_their_temp_files() {
    // Arrange: an upload session with some bytes, then a day passes.
    let (app, _cfg) = spawn_gc_app().await;
    let name = "repository/team-a/app";
    let r = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    let r = app
        .client
        .patch(app.url(&location))
        .body(vec![7u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let uploads = app.store_root().join("uploads");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 1);
    set_clock(&app, 25 * 3600).await;
    // Act
    let task = run_task(&app, "repository.docker.upload-purge").await;
    // Assert
    assert_eq!(task["lastRunReport"]["uploadsRemoved"], 1, "{task}");
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "temp file removed"
    );
    let r = app
        .client
        .patch(app.url(&location))
        .body(vec![7u8; 10])
        .send()
        .await
        .unwrap();
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn a_collection_is_exported_as_metrics() {
    // Arrange
    let (app, _cfg) = spawn_gc_app().await;
    let name = "repository/team-a/app";
    let m = push_layers(&app, name, "1", &[blob("c"), blob("l")]).await;
    delete_manifest(&app, name, &m).await;
    set_clock(&app, 2 * 3600).await;
    // Act
    let report = collect(&app).await;
    let metrics = scrape(&app).await;
    // Assert
    let freed = report["bytesFreed"].as_u64().unwrap();
    assert!(freed > 0);
    assert!(
        metrics.contains(&format!(
            "berth_gc_bytes_freed_total{{store=\"default\"}} {freed}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("berth_gc_blobs_deleted_total{store=\"default\"} 3"));
    assert!(metrics.contains("berth_gc_runs_total{store=\"default\"} 1"));
}

#[tokio::test]
async fn berth_gc_runs_the_collection_on_the_running_server_and_prints_the_report() {
    // Arrange
    let (app, _cfg) = spawn_gc_app().await;
    let name = "repository/team-a/app";
    let m = push_layers(&app, name, "1", &[blob("c"), blob("l")]).await;
    delete_manifest(&app, name, &m).await;
    set_clock(&app, 2 * 3600).await;
    let addr = app.addr.clone();
    // Act
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["gc", "--store", "default", "--json", "--listen", &addr])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    // Assert
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let task: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(task["lastRunResult"], "OK");
    assert_eq!(task["lastRunReport"][0]["blobsDeleted"], 3, "{task}");
    assert!(!app.blob_path(&m).exists());
}
