//! Request counts of every node add up in the usage report of every node.

use std::time::Duration;

use reqwest::Method;

use crate::common::cluster::Cluster;
use crate::common::TestApp;
use crate::eventually;

async fn requests(node: &TestApp) -> u64 {
    let usage = node.get_json_ok("/service/rest/v1/usage").await;
    usage["requests"]["value"].as_u64().unwrap()
}

async fn ping(node: &TestApp, times: usize) {
    for _ in 0..times {
        let r = node.req(Method::GET, "/v2/").send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn requests_on_two_nodes_add_up_in_the_usage_report_of_both() {
    // Arrange: both nodes agree on the count so far (start-up probes included).
    let Some(cluster) = Cluster::start(2, "[usage]\nflush_secs = 1\n").await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let within = Duration::from_secs(30);
    let pg = cluster.pg.url();
    let pg = pg.as_str();
    let before = eventually(&cluster, within, "nodes agreeing", move || async move {
        let (x, y, z) = (requests(a).await, requests(b).await, stored(pg).await);
        (x == y && y == z).then_some(x)
    })
    .await;
    // Act
    ping(a, 7).await;
    ping(b, 5).await;
    // Assert
    for node in [a, b] {
        eventually(
            &cluster,
            within,
            "the sum on every node",
            move || async move { (requests(node).await == before + 12).then_some(()) },
        )
        .await;
    }
    assert_eq!(stored(pg).await, before + 12);
}

/// The requests stored in the database, all nodes together.
async fn stored(url: &str) -> u64 {
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    let sum: Option<i64> = sqlx::query_scalar("SELECT SUM(requests)::BIGINT FROM usage_hours")
        .fetch_one(&admin)
        .await
        .unwrap();
    admin.close().await;
    sum.unwrap_or(0) as u64
}
