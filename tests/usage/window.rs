//! The rolling window is persisted: a restart does not reset it.

use reqwest::Method;

use crate::common::*;
use crate::thresholds::usage;

#[tokio::test]
async fn the_request_window_survives_a_graceful_restart() {
    let mut app = spawn_app().await;
    for _ in 0..20 {
        let r = app.req(Method::GET, "/v2/").send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let before = usage(&app).await["requests"]["value"].as_u64().unwrap();
    assert_eq!(before, 20);

    app.restart_gracefully().await;
    let r = app.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200);

    let after = usage(&app).await;
    assert_eq!(after["requests"]["value"], 21, "{after}");
    let hours = after["hours"].as_array().unwrap();
    assert!(!hours.is_empty() && hours.len() <= 2, "{after}");
}

/// The sum of `usage_hours.requests` in the server's database, read the way an operator's
/// `sqlite3` would (the server keeps running).
async fn persisted_requests(app: &TestApp) -> i64 {
    let url = format!(
        "sqlite://{}?mode=ro",
        app.data_dir().join("berth.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let sum: Option<i64> = sqlx::query_scalar("SELECT SUM(requests) FROM usage_hours")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    sum.unwrap_or(0)
}

#[tokio::test]
async fn counters_written_periodically_survive_a_crash() {
    let mut app = spawn_app_with(&["BERTH_USAGE__FLUSH_SECS=1"]).await;
    for _ in 0..10 {
        app.req(Method::GET, "/v2/").send().await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while persisted_requests(&app).await < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "the counters never reached the database"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    app.restart().await; // SIGKILL: no shutdown flush

    assert_eq!(usage(&app).await["requests"]["value"], 10);
}
