//! Item 9: the access log. Errors are logged by default with who, what and how long — never
//! a password or token — and successful requests are sampled; `log.access = "full"` logs
//! every request, `off` none.

use reqwest::Method;

use crate::common::*;
use crate::security_support::*;

fn access_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("berth::access"))
        .collect()
}

#[tokio::test]
async fn errors_are_logged_by_default_with_route_repository_status_client_and_user() {
    // Arrange
    let app = spawn_secure(&[]).await;
    // Act: a wrong password, then an admin asking for a manifest that does not exist.
    let wrong = basic("admin", "Not-The-Password-9");
    status(&app, &wrong, Method::GET, "/v2/team/app/manifests/1").await;
    status(&app, &admin(), Method::GET, "/v2/team/app/manifests/1").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Assert
    let log = app.log();
    let lines = access_lines(&log);
    let not_found = lines
        .iter()
        .find(|l| l.contains("status=404"))
        .unwrap_or_else(|| panic!("no 404 line in:\n{log}"));
    for field in [
        "method=\"GET\"",
        "route=\"manifest\"",
        "repository=\"docker-hosted\"",
        "user=\"admin\"",
        "client=127.0.0.1",
        "duration_ms=",
        "bytes=",
    ] {
        assert!(not_found.contains(field), "{field} missing: {not_found}");
    }
    assert!(lines.iter().any(|l| l.contains("status=401")), "{log}");
    assert!(!log.contains("Not-The-Password-9") && !log.contains(ADMIN_PW));
    assert!(
        !log.contains("Basic "),
        "no Authorization header in the log"
    );
}

#[tokio::test]
async fn successful_requests_are_sampled_by_default_and_all_logged_when_full() {
    // Arrange
    let sampled = spawn_app_with(&["BERTH_LOG__ACCESS_SAMPLE=1000"]).await;
    let full = spawn_app_with(&["BERTH_LOG__ACCESS=full"]).await;
    // Act
    for app in [&sampled, &full] {
        for _ in 0..20 {
            app.req(Method::GET, "/v2/").send().await.unwrap();
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Assert
    let count = |app: &TestApp| {
        access_lines(&app.log())
            .iter()
            .filter(|l| l.contains("route=\"base\"") && l.contains("status=200"))
            .count()
    };
    assert_eq!(count(&full), 20);
    assert!(count(&sampled) <= 1, "{}", sampled.log());
}
