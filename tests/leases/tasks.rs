//! Scheduled tasks run on one node of a cluster (the holder of the leader lease); when that
//! node is killed, another takes over.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::common::cluster::Cluster;
use crate::{eventually, metric};

const RUNS: &str = "berth_task_runs_total";
const LEADER: &str = "berth_tasks_leader";

/// Creates an upload purge due every 5 seconds (the scheduler looks every 10: it runs at
/// each tick of the leader) on node 0, then starts node 1 (tasks are read at start).
async fn cluster_with_frequent_task() -> Option<(Cluster, String)> {
    let mut cluster = Cluster::start(1, "").await?;
    let r = cluster
        .node(0)
        .req(Method::POST, "/service/rest/v1/tasks")
        .json(&json!({
            "type": "repository.docker.upload-purge", "name": "purge often", "enabled": true,
            "frequency": {"schedule": "cron", "cronExpression": "*/5 * * * * ?"},
            "properties": {}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    cluster.add_node(&[]).await;
    Some((cluster, id))
}

async fn runs(cluster: &Cluster, node: usize, id: &str) -> f64 {
    metric(cluster.node(node), RUNS, &[("task", id)]).await
}

#[tokio::test]
async fn a_scheduled_task_runs_on_one_node_and_another_takes_over_when_it_is_killed() {
    // Arrange
    let Some((mut cluster, id)) = cluster_with_frequent_task().await else {
        return;
    };
    let c = &cluster;
    let leader = eventually(c, Duration::from_secs(60), "a leader", move || async move {
        for i in 0..2 {
            if metric(c.node(i), LEADER, &[]).await == 1.0 {
                return Some(i);
            }
        }
        None
    })
    .await;
    let follower = 1 - leader;
    // Act: three runs on the leader.
    let wanted = "three scheduled runs";
    let task = id.as_str();
    eventually(c, Duration::from_secs(90), wanted, move || async move {
        (runs(c, leader, task).await >= 3.0).then_some(())
    })
    .await;
    let follower_runs = runs(&cluster, follower, &id).await;
    let follower_leads = metric(cluster.node(follower), LEADER, &[]).await;
    cluster.nodes[leader].kill9();
    let killed = Instant::now();
    let c = &cluster;
    let task = id.as_str();
    let taken_over = eventually(
        c,
        Duration::from_secs(60),
        "a takeover",
        move || async move { (runs(c, follower, task).await >= 1.0).then(|| killed.elapsed()) },
    )
    .await;
    // Assert
    assert_eq!(follower_runs, 0.0, "the follower ran the task too");
    assert_eq!(follower_leads, 0.0, "two leaders");
    assert_eq!(metric(cluster.node(follower), LEADER, &[]).await, 1.0);
    eprintln!("the follower ran the task {taken_over:?} after the leader was killed");
}

#[tokio::test]
async fn a_task_created_through_a_follower_is_run_by_the_leader() {
    // Arrange: two nodes, one of them the scheduler's leader.
    let Some(cluster) = Cluster::start(2, "").await else {
        return;
    };
    let c = &cluster;
    let leader = eventually(c, Duration::from_secs(60), "a leader", move || async move {
        for i in 0..2 {
            if metric(c.node(i), LEADER, &[]).await == 1.0 {
                return Some(i);
            }
        }
        None
    })
    .await;
    let follower = 1 - leader;

    // Act: the API call that creates the task reaches the follower.
    let r = cluster
        .node(follower)
        .req(Method::POST, "/service/rest/v1/tasks")
        .json(&json!({
            "type": "repository.docker.upload-purge", "name": "made elsewhere", "enabled": true,
            "frequency": {"schedule": "cron", "cronExpression": "*/5 * * * * ?"},
            "properties": {}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Assert: the leader learns of it and runs it; the leader's task list shows it.
    let task = id.as_str();
    eventually(
        c,
        Duration::from_secs(60),
        "a run on the leader",
        move || async move { (runs(c, leader, task).await >= 1.0).then_some(()) },
    )
    .await;
    assert_eq!(runs(&cluster, follower, &id).await, 0.0);
    let (status, listed) = cluster
        .node(leader)
        .get_json(&format!("/service/rest/v1/tasks/{id}"))
        .await;
    assert_eq!(status, 200, "{listed}");
}
