//! Per-client limits behind a reverse proxy: when the peer (here 127.0.0.1) is in
//! `security.trusted_proxies`, the client is the right-most untrusted `X-Forwarded-For`
//! address, so clients behind one proxy get their own upload caps, login throttles, admin
//! allow-list decision and access-log line; from an untrusted peer the header changes
//! nothing, and a client cannot pick its address by writing the left of the header.

use std::time::Duration;

use reqwest::Method;

use crate::common::*;
use crate::security_support::*;
use crate::support::path_of;

const TRUST_LOOPBACK: &str = "BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\", \"10.0.0.0/8\"]";
const TRUST_OTHERS: &str = "BERTH_SECURITY__TRUSTED_PROXIES=[\"10.0.0.0/8\", \"fd00::/8\"]";
const CAP_TWO: &str = "BERTH_LIMITS__UPLOAD_SESSIONS_PER_CLIENT=2";

/// `POST /v2/<name>/blobs/uploads/` with `X-Forwarded-For: forwarded_for`; the status.
async fn open_session_for(app: &TestApp, name: &str, forwarded_for: &str) -> u16 {
    let r = app
        .req(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
        .header("X-Forwarded-For", forwarded_for)
        .send()
        .await
        .unwrap();
    if r.status() == 202 {
        assert!(path_of(&header(&r, "location")).contains("/blobs/uploads/"));
    }
    r.status().as_u16()
}

/// `GET /v2/` with Basic credentials and `X-Forwarded-For: forwarded_for`; the status.
async fn login_for(app: &TestApp, forwarded_for: &str, password: &str) -> u16 {
    app.req(Method::GET, "/v2/")
        .header("X-Forwarded-For", forwarded_for)
        .basic_auth("admin", Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `GET /v2/token` (the Docker token realm) with Basic credentials and
/// `X-Forwarded-For: forwarded_for`; the status.
async fn token_for(app: &TestApp, forwarded_for: &str, password: &str) -> u16 {
    app.req(Method::GET, "/v2/token?scope=repository:app:pull")
        .header("X-Forwarded-For", forwarded_for)
        .basic_auth("admin", Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `GET` of an admin endpoint with `X-Forwarded-For: forwarded_for` (none if empty).
async fn admin_status(app: &TestApp, forwarded_for: &str) -> u16 {
    let mut r = app.req(Method::GET, "/service/rest/v1/repositories");
    if !forwarded_for.is_empty() {
        r = r.header("X-Forwarded-For", forwarded_for);
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_gets_its_own_upload_cap() {
    // Arrange: 203.0.113.1 uses up its two sessions through the proxy.
    let app = spawn_app_with(&[TRUST_LOOPBACK, CAP_TWO, "BERTH_LOG__ACCESS=full"]).await;
    let first = [
        open_session_for(&app, "cap/app", "203.0.113.1").await,
        open_session_for(&app, "cap/app", "203.0.113.1").await,
    ];
    // Act
    let first_again = open_session_for(&app, "cap/app", "203.0.113.1").await;
    let second = open_session_for(&app, "cap/app", "203.0.113.2").await;
    let proxy_itself = open_session_for(&app, "cap/app", "10.1.2.3").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Assert
    assert_eq!(first, [202, 202]);
    assert_eq!(first_again, 429, "the client at its cap is refused");
    assert_eq!(second, 202, "another client behind the same proxy is not");
    assert_eq!(
        proxy_itself, 202,
        "a trusted hop (10.0.0.0/8) as the last entry: its bucket is the proxy's own"
    );
    let log = app.log();
    assert!(log.contains("client=203.0.113.1"), "{log}");
    assert!(log.contains("client=203.0.113.2"), "{log}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failed_logins_do_not_throttle_another() {
    // Arrange: an attacker behind the proxy uses up admin's failures.
    let app = spawn_secure(&[TRUST_LOOPBACK, "BERTH_SECURITY__LOGIN_FAILURES_MAX=3"]).await;
    let mut attacked = Vec::new();
    for _ in 0..5 {
        attacked.push(login_for(&app, "198.51.100.66", "guess").await);
    }
    // Act
    let operator = login_for(&app, "198.51.100.7", ADMIN_PW).await;
    let operator_token = token_for(&app, "198.51.100.7", ADMIN_PW).await;
    let attacker_right = login_for(&app, "198.51.100.66", ADMIN_PW).await;
    let attacker_token = token_for(&app, "198.51.100.66", ADMIN_PW).await;
    // Assert
    assert_eq!(attacked, [401, 401, 401, 429, 429]);
    assert_eq!(
        (operator, operator_token),
        (200, 200),
        "another client behind the proxy logs in, on /v2/ and the token realm"
    );
    assert_eq!(
        (attacker_right, attacker_token),
        (429, 429),
        "the failing client waits out its window"
    );
}

#[tokio::test]
async fn from_an_untrusted_peer_x_forwarded_for_changes_no_limit() {
    // Arrange: the trusted proxies are elsewhere; 127.0.0.1 is an ordinary client.
    let app = spawn_secure(&[
        TRUST_OTHERS,
        CAP_TWO,
        "BERTH_SECURITY__LOGIN_FAILURES_MAX=3",
        "BERTH_LOG__ACCESS=full",
    ])
    .await;
    let admin_pw = basic("admin", ADMIN_PW);
    let mut sessions = Vec::new();
    for forwarded_for in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let r = call(&app, &admin_pw, Method::POST, "/v2/cap/app/blobs/uploads/")
            .header("X-Forwarded-For", forwarded_for)
            .send()
            .await
            .unwrap();
        sessions.push(r.status().as_u16());
    }
    // Act: a new address in the header for every wrong password.
    let mut attempts = Vec::new();
    for i in 1..=5 {
        attempts.push(login_for(&app, &format!("198.51.100.{i}"), "guess").await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Assert
    assert_eq!(sessions, [202, 202, 429], "one client, whatever the header");
    assert_eq!(attempts, [401, 401, 401, 429, 429]);
    let log = app.log();
    assert!(log.contains("client=127.0.0.1"), "{log}");
    assert!(!log.contains("client=203.0.113"), "{log}");
    assert!(!log.contains("client=198.51.100"), "{log}");
}

#[tokio::test]
async fn a_spoofed_left_most_forwarded_address_is_not_believed() {
    // Arrange: the client writes an address of its own in front of what the proxy appends.
    let app = spawn_app_with(&[
        "BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]",
        CAP_TWO,
        "BERTH_LOG__ACCESS=full",
    ])
    .await;
    let spoofed = [
        open_session_for(&app, "cap/app", "1.2.3.4, 10.9.9.9").await,
        open_session_for(&app, "cap/app", "5.6.7.8, 10.9.9.9").await,
    ];
    // Act: a third left-most address, and a chain claiming a trusted hop in the middle.
    let third = open_session_for(&app, "cap/app", "9.9.9.9, 10.9.9.9").await;
    let claimed_hop = open_session_for(&app, "cap/app", "9.9.9.9, 127.0.0.1, 10.9.9.9").await;
    let neighbour = open_session_for(&app, "cap/app", "1.2.3.4, 10.9.9.8").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Assert: all of them were 10.9.9.9, the address the trusted proxy saw.
    assert_eq!(spoofed, [202, 202]);
    assert_eq!((third, claimed_hop), (429, 429));
    assert_eq!(neighbour, 202);
    let log = app.log();
    assert!(log.contains("client=10.9.9.9"), "{log}");
    for never in ["1.2.3.4", "5.6.7.8", "9.9.9.9"] {
        assert!(!log.contains(&format!("client={never}")), "{never}: {log}");
    }
}

#[tokio::test]
async fn a_malformed_forwarded_entry_leaves_the_client_in_the_proxys_bucket() {
    // Arrange: garbage where the proxy's entry should be.
    let app = spawn_app_with(&["BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]", CAP_TWO]).await;
    let garbage = [
        open_session_for(&app, "cap/app", "203.0.113.1, unknown").await,
        open_session_for(&app, "cap/app", "203.0.113.2, not-an-address").await,
    ];
    // Act
    let more_garbage = open_session_for(&app, "cap/app", "203.0.113.3, ").await;
    let well_formed = open_session_for(&app, "cap/app", "203.0.113.3").await;
    // Assert: the three malformed ones share the proxy's (127.0.0.1's) cap.
    assert_eq!(garbage, [202, 202]);
    assert_eq!(more_garbage, 429);
    assert_eq!(well_formed, 202);
}

#[tokio::test]
async fn the_admin_allow_list_applies_to_the_forwarded_client_behind_a_trusted_proxy() {
    // Arrange: nginx on the same host would make every peer loopback, which the default
    // allow-list admits.
    let trusting = spawn_app_with(&[TRUST_LOOPBACK]).await;
    let untrusting = spawn_app_with(&[TRUST_OTHERS]).await;
    // Act
    let from_the_world = admin_status(&trusting, "203.0.113.9").await;
    let local_through_proxy = admin_status(&trusting, "127.0.0.1").await;
    let direct = admin_status(&trusting, "").await;
    let header_from_a_client = admin_status(&untrusting, "203.0.113.9").await;
    // Assert
    assert_eq!(
        from_the_world, 403,
        "a remote client through the proxy is refused"
    );
    assert_eq!(local_through_proxy, 200);
    assert_eq!(direct, 200);
    assert_eq!(
        header_from_a_client, 200,
        "an untrusted peer's header is ignored: it is judged by its own address"
    );
}

#[tokio::test]
async fn an_invalid_trusted_proxy_entry_refuses_to_start_and_names_it() {
    let message = start_failure(
        &["BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\", \"10.0.0.0/33\"]"],
        Duration::from_secs(30),
    )
    .await;
    assert!(message.contains("security.trusted_proxies"), "{message}");
    assert!(message.contains("\"10.0.0.0/33\""), "{message}");
}

/// A client whose connections come from `127.0.0.<last>`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
}

/// `POST /v2/<name>/blobs/uploads/` through `front` from `client`; the status.
async fn open_through(
    client: &reqwest::Client,
    front: &str,
    name: &str,
    spoof: Option<&str>,
) -> u16 {
    let mut r = client.post(format!("{front}/v2/{name}/blobs/uploads/"));
    if let Some(address) = spoof {
        r = r.header("X-Forwarded-For", address);
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn through_the_shipped_nginx_config_each_client_gets_its_own_upload_cap() {
    // Arrange: one Berth trusting 127.0.0.1 (nginx's side of the connection) behind
    // packaging/nginx/berth-cluster.conf; clients at 127.0.0.2 and 127.0.0.3.
    let app = spawn_app_with(&[
        "BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]",
        CAP_TWO,
        "BERTH_LOG__ACCESS=full",
    ])
    .await;
    let Some(nginx) = nginx::Nginx::start(&[&app, &app, &app]).await else {
        return;
    };
    let (a, b) = (client_from(2), client_from(3));
    let first = [
        open_through(&a, &nginx.base, "cap/app", None).await,
        open_through(&a, &nginx.base, "cap/app", None).await,
    ];
    // Act: the capped client claims another address; the other client asks too.
    let spoofing = open_through(&a, &nginx.base, "cap/app", Some("127.0.0.9")).await;
    let other = open_through(&b, &nginx.base, "cap/app", None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Assert
    assert_eq!(first, [202, 202]);
    assert_eq!(
        spoofing, 429,
        "nginx appends the real address; the claim is not read"
    );
    assert_eq!(other, 202);
    let log = app.log();
    assert!(log.contains("client=127.0.0.2"), "{log}");
    assert!(log.contains("client=127.0.0.3"), "{log}");
    assert!(!log.contains("client=127.0.0.9"), "{log}");
    let proxied = nginx.access_log();
    assert_eq!(
        proxied
            .matches("\"POST /v2/cap/app/blobs/uploads/ ")
            .count(),
        4,
        "{proxied}"
    );
}
