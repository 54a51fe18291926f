//! The data directory (issue 13 items 9, 10): private to its owner, upstream passwords
//! sealed at rest, and one server at a time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::*;

const PROXY: &str = "/service/rest/v1/repositories/docker/proxy";
const UPSTREAM_PW: &str = "Upstream-Pw-7f3c9a";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// (file, mode) for the data directory and every secret-holding file in it that exists.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(".".to_string(), mode(dir))];
    for name in [
        "berth.db",
        "berth.db-wal",
        "berth.db-shm",
        "token.key",
        "secrets.key",
        "admin.password",
    ] {
        if dir.join(name).exists() {
            out.push((name.to_string(), mode(&dir.join(name))));
        }
    }
    out
}

fn private(modes: &[(String, u32)]) -> bool {
    modes
        .iter()
        .all(|(name, m)| *m == if name == "." { 0o700 } else { 0o600 })
}

#[tokio::test]
async fn the_data_directory_and_its_secret_files_are_private_also_on_an_existing_install() {
    // Arrange: security on with a generated admin password (admin.password is written).
    let mut app = spawn_app_with(&["BERTH_SECURITY__ENABLED=true"]).await;
    let dir = app.data_dir();
    let fresh = modes(&dir);
    // Act: an install from before the rule (world-readable), started again.
    app.stop();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, _) in &fresh[1..] {
        let loose = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(dir.join(name), loose).unwrap();
    }
    app.restart().await;
    let fixed = modes(&dir);
    // Assert
    assert!(
        fresh.iter().any(|(n, _)| n == "admin.password"),
        "{fresh:?}"
    );
    assert!(fresh.iter().any(|(n, _)| n == "berth.db-wal"), "{fresh:?}");
    assert!(private(&fresh), "fresh install: {fresh:?}");
    assert!(private(&fixed), "fixed at start: {fixed:?}");
}

fn proxy_body(name: &str) -> serde_json::Value {
    json!({
        "name": name, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "proxy": {"remoteUrl": "http://127.0.0.1:9", "contentMaxAge": -1, "metadataMaxAge": 30},
        "negativeCache": {"enabled": true, "timeToLive": 5},
        "httpClient": {"blocked": false, "autoBlock": true,
            "authentication": {"type": "username", "username": "svc", "password": UPSTREAM_PW}},
        "docker": {"v1Enabled": false, "forceBasicAuth": false},
        "dockerProxy": {"indexType": "REGISTRY"}
    })
}

/// Every byte Berth keeps under its data directory's top level (database, WAL, keys, log).
fn stored_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for dir in [app.data_dir(), app.data.path().to_path_buf()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                all.extend(std::fs::read(path).unwrap_or_default());
            }
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The stored proxy password of repository `name`, read the way an operator's `sqlite3` would.
async fn stored_password(app: &TestApp, name: &str) -> String {
    let url = format!(
        "sqlite://{}?mode=ro",
        app.data_dir().join("berth.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let config: String = sqlx::query_scalar("SELECT config FROM repositories WHERE name = ?")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["proxy"]["password"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_proxy_upstream_password_is_sealed_at_rest_and_plaintext_rows_are_sealed_at_start() {
    // Arrange
    let mut app = spawn_app().await;
    let r = app
        .req(Method::POST, PROXY)
        .json(&proxy_body("up"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (sealed, everything) = (stored_password(&app, "up").await, stored_bytes(&app));
    let shown = app
        .req(Method::GET, &format!("{PROXY}/up"))
        .text_body()
        .await;
    // Act: a row written in plain text by an older Berth, then a start.
    app.stop();
    let url = format!("sqlite://{}", app.data_dir().join("berth.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let config: String = sqlx::query_scalar("SELECT config FROM repositories WHERE name = 'up'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["proxy"]["password"] = json!(UPSTREAM_PW);
    sqlx::query("UPDATE repositories SET config = ? WHERE name = 'up'")
        .bind(config.to_string())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    app.restart().await;
    let migrated = stored_password(&app, "up").await;
    // Assert
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
    assert!(
        !contains(&everything, UPSTREAM_PW),
        "plaintext found at rest"
    );
    assert!(!shown.contains(UPSTREAM_PW), "never returned: {shown}");
    assert!(migrated.starts_with("sealed:v1:"), "{migrated}");
    assert!(!app.log().contains(UPSTREAM_PW), "never logged");
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_refuses_to_start_naming_the_first() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let log = start_failure_in(app.data.path(), &[], Duration::from_secs(60)).await;
    // Assert
    assert!(log.contains("in use"), "{log}");
    assert!(log.contains(&format!("pid {}", app.pid())), "{log}");
    let r = app.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200, "the first server serves on");
}
