//! Item 2: a log that cannot be written never fails a request, a task or a repository.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::support::*;

const PURGE: &str = "repository.docker.upload-purge";

/// Runs the upload-purge task twice and waits for each run to finish: a run whose task was
/// killed by a log write stays RUNNING and the second start gets 409.
async fn run_purge_twice(app: &TestApp) {
    for round in 0..2 {
        let r = app
            .req(Method::POST, &format!("/service/rest/v1/tasks/{PURGE}/run"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "run {round}: {}", r.text().await.unwrap());
        let mut task = Value::Null;
        for _ in 0..200 {
            task = app
                .req(Method::GET, &format!("/service/rest/v1/tasks/{PURGE}"))
                .json_body()
                .await;
            if task["currentState"] != "RUNNING" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(task["currentState"], "WAITING", "{task}");
        assert_eq!(task["lastRunResult"], "OK", "{task}");
    }
}

/// Pushes, pulls, a request that logs an error and a task, on a server whose stderr fails.
async fn everything_works(app: &TestApp) {
    let (digest, manifest) = app.push_image("logs/app", "v1", "logging").await;
    let r = app
        .req(Method::GET, "/v2/logs/app/manifests/v1")
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), manifest);
    // Refusals are logged too; each still gets its answer.
    let unknown = sha256(b"nothing here");
    for _ in 0..20 {
        let r = app
            .req(Method::GET, &format!("/v2/logs/app/blobs/{unknown}"))
            .send()
            .await
            .unwrap();
        assert_oci_error(r, 404, "BLOB_UNKNOWN").await;
    }
    let r = app
        .req(Method::DELETE, &format!("/v2/logs/app/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "delete: {}", r.text().await.unwrap());
    run_purge_twice(app).await;
    // And the repository actor is still there for the next push.
    app.push_image("logs/app", "v2", "logging again").await;
    assert!(
        metric(app, "berth_log_write_errors_total").await > 0.0,
        "lost log lines are counted"
    );
}

#[tokio::test]
async fn a_server_whose_stderr_is_a_full_disk_serves_pushes_pulls_and_tasks() {
    let app = spawn_app_with_stderr(BrokenStderr::DevFull, &[]).await;
    everything_works(&app).await;
}

#[tokio::test]
async fn a_server_whose_stderr_is_a_closed_pipe_serves_pushes_pulls_and_tasks() {
    let app = spawn_app_with_stderr(BrokenStderr::ClosedPipe, &[]).await;
    everything_works(&app).await;
}
