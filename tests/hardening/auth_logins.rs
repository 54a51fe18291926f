//! Hostile logins (issue 13 items 1, 6, 7): a crowd of wrong passwords must not exhaust
//! memory nor shut the right password out, nobody can lock another client out, and the
//! failure limit holds under concurrency. Attackers come from their own loopback addresses
//! (127.0.X.Y), the legitimate client from 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Client, Method};

use crate::common::*;
use crate::security_support::*;

const MIB: u64 = 1024 * 1024;

/// A client whose connections come from `127.0.x.y`.
fn client_from(x: u8, y: u8) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, x, y)))
        .build()
        .unwrap()
}

/// `GET /v2/` with Basic credentials from `client`; the status.
async fn v2_status(app: &TestApp, client: &Client, user: &str, password: &str) -> u16 {
    client
        .get(app.url("/v2/"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Samples the server's RSS every 20 ms until `stop`; the highest value seen.
fn sample_rss(app: &TestApp, stop: Arc<AtomicBool>) -> Arc<AtomicU64> {
    let peak = Arc::new(AtomicU64::new(app.rss_bytes()));
    let pid = app.pid();
    let out = peak.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let kib = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
            out.fetch_max(kib * 1024, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    peak
}

#[tokio::test]
async fn five_hundred_concurrent_wrong_passwords_keep_rss_under_200_mib_and_right_ones_get_in() {
    // Arrange: admin has logged in from 127.0.0.1 before; "ci" never has. Creating "ci"
    // changes the model, which empties the verified-password memory: both logins below
    // need a real check.
    let app = spawn_secure(&[]).await;
    assert_eq!(status(&app, &admin(), Method::GET, "/v2/").await, 200);
    create_hosted(&app, "flood", true, None).await;
    create_user_with(&app, "ci", "ci-pw-1", "flood", &["read"]).await;
    let before = app.rss_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = sample_rss(&app, stop.clone());
    // Act: 500 distinct users from 500 distinct addresses, all at once...
    let flood: Vec<_> = (0..500u32)
        .map(|i| {
            let client = client_from(1 + (i / 250) as u8, 1 + (i % 250) as u8);
            let url = app.url("/v2/");
            tokio::spawn(async move {
                client
                    .get(url)
                    .basic_auth(format!("user{i}"), Some("wrong"))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            })
        })
        .collect();
    // ...while the known client logs in once, and the new one as clients do on a 429:
    // again after the `Retry-After` second.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let known = status(&app, &admin(), Method::GET, "/v2/").await;
    let started = Instant::now();
    let mut new = 0;
    while started.elapsed() < Duration::from_secs(60) {
        new = status(&app, &basic("ci", "ci-pw-1"), Method::GET, "/v2/").await;
        if new != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let waited = started.elapsed();
    let mut statuses = Vec::new();
    for f in flood {
        statuses.push(f.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let peak = peak.load(Ordering::Relaxed);
    let after = app.rss_bytes();
    println!(
        "RSS before {} MiB, peak {} MiB, after {} MiB; new client in after {waited:?}; \
         401: {}, 429: {}",
        before / MIB,
        peak / MIB,
        after / MIB,
        statuses.iter().filter(|s| **s == 401).count(),
        statuses.iter().filter(|s| **s == 429).count(),
    );
    // Assert
    assert_eq!(known, 200, "a known client gets in at the first attempt");
    assert_eq!(new, 200, "a new client gets in during the flood");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "every wrong login is refused as such: {statuses:?}"
    );
    assert!(peak < 200 * MIB, "peak RSS {} MiB", peak / MIB);
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_out_the_right_password_from_another() {
    // Arrange: an attacker at 127.0.0.2 uses up admin's failures there.
    let app = spawn_secure(&["BERTH_SECURITY__LOGIN_FAILURES_MAX=3"]).await;
    let attacker = client_from(0, 2);
    let mut attacked = Vec::new();
    for _ in 0..6 {
        attacked.push(v2_status(&app, &attacker, "admin", "guess").await);
    }
    // Act: the operator, at 127.0.0.1, with the right password.
    let v2 = status(&app, &admin(), Method::GET, "/v2/").await;
    let (token, _) = token(&app, &admin(), "/v2/token", "").await;
    let rest = status(&app, &admin(), Method::GET, &format!("{SECURITY}/users")).await;
    let attacker_right = v2_status(&app, &attacker, "admin", ADMIN_PW).await;
    // Assert
    assert_eq!(attacked, [401, 401, 401, 429, 429, 429]);
    assert_eq!(
        (v2, token, rest),
        (200, 200, 200),
        "/v2/, /v2/token, admin API"
    );
    assert_eq!(
        attacker_right, 429,
        "the client that failed waits out its window"
    );
}

#[tokio::test]
async fn parallel_wrong_passwords_from_one_address_get_only_the_allowed_number_of_checks() {
    // Arrange
    let app = spawn_secure(&["BERTH_SECURITY__LOGIN_FAILURES_MAX=5"]).await;
    let attacker = client_from(0, 3);
    // Act: 100 wrong passwords for admin at once from one address.
    let tries: Vec<_> = (0..100)
        .map(|i| {
            let (client, url) = (attacker.clone(), app.url("/v2/"));
            tokio::spawn(async move {
                client
                    .get(url)
                    .basic_auth("admin", Some(format!("guess-{i}")))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    // Assert: a 401 is a real check; the rest were refused before any.
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 95), "{statuses:?}");
    assert_eq!(app.log().matches("login failed").count(), 5);
}
