//! Berth with its metadata in PostgreSQL (`[meta] url`), seen from outside: a private
//! server per test (`common::postgres`), Berth started against it, images pushed and read
//! back across a restart; the database stopped (a clear 503, no hang) and started again
//! (recovery without restarting Berth); two nodes racing on one `ALLOW_ONCE` tag.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::postgres::Postgres;
use common::*;
use reqwest::Method;

/// Environment pointing Berth at `pg`, the password in a file next to the data, not in
/// the URL (how a container secret is passed).
fn meta_env(pg: &Postgres, secrets: &tempfile::TempDir) -> Vec<String> {
    let file = secrets.path().join("pg-password");
    std::fs::write(&file, format!("{}\n", pg.password())).unwrap();
    vec![
        format!("BERTH_META__URL={}", pg.url_without_password()),
        format!("BERTH_META__PASSWORD_FILE={}", file.display()),
        "BERTH_META__ACQUIRE_TIMEOUT_SECS=2".to_string(),
    ]
}

async fn spawn_on(pg: &Postgres, secrets: &tempfile::TempDir, extra: &[&str]) -> TestApp {
    let env = meta_env(pg, secrets);
    let mut args: Vec<&str> = env.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

async fn tag_digest(app: &TestApp, name: &str, tag: &str) -> (u16, String) {
    let r = app
        .req(Method::HEAD, &format!("/v2/{name}/manifests/{tag}"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), header(&r, "docker-content-digest"))
}

#[tokio::test]
async fn images_live_in_postgres_across_a_restart_and_no_sqlite_file_is_written() {
    // Arrange
    let Some(pg) = Postgres::start() else { return };
    let secrets = tempfile::tempdir().unwrap();
    let mut app = spawn_on(&pg, &secrets, &[]).await;
    let image = Image::seeded("pg-restart");
    let digest = app.push("demo/app", "v1", &image).await;
    // Act
    app.restart().await;
    // Assert
    assert_eq!(tag_digest(&app, "demo/app", "v1").await, (200, digest));
    let tags = app.get_json_ok("/v2/demo/app/tags/list").await;
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    let catalog = app.get_json_ok("/v2/_catalog").await;
    assert_eq!(catalog["repositories"], serde_json::json!(["demo/app"]));
    // No SQLite database exists beside the PostgreSQL one, not even an empty file.
    let sqlite = app.data_dir().join("berth.db");
    assert!(
        !sqlite.exists(),
        "a berth.db was created in the data directory under [meta] url"
    );
    let log = app.log();
    assert!(log.contains("PostgreSQL"), "{log}");
    assert!(
        !log.contains(pg.password()),
        "the database password was logged"
    );
}

#[tokio::test]
async fn postgres_stopped_gives_a_quick_503_and_its_restart_recovers_without_restarting_berth() {
    // Arrange
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let app = spawn_on(&pg, &secrets, &[]).await;
    let before = app.push("demo/app", "v1", &Image::seeded("before")).await;
    let later = app.push_blobs_of("demo/app", Image::seeded("during")).await;
    // Act
    pg.stop();
    let started = Instant::now();
    let put = app.put_image("demo/app", "v2", &later).await;
    let answered_in = started.elapsed();
    let bytes = b"pushed while the database is down".to_vec();
    let blob = app
        .req(
            Method::POST,
            &format!("/v2/demo/app/blobs/uploads/?digest={}", sha256(&bytes)),
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    // Assert: a clear, retryable error, quickly; the server is still up.
    let body = assert_oci_error(put, 503, "UNAVAILABLE").await;
    assert!(body.to_string().contains("metadata database"), "{body}");
    assert!(
        answered_in < Duration::from_secs(15),
        "took {answered_in:?}"
    );
    assert_oci_error(blob, 503, "UNAVAILABLE").await;
    // Warm reads come from memory and keep working.
    assert_eq!(tag_digest(&app, "demo/app", "v1").await, (200, before));
    // Act: the database comes back; Berth reconnects on its own.
    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let r = app.put_image("demo/app", "v2", &later).await;
        let status = r.status().as_u16();
        if status == 201 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Assert
    assert_eq!(status, 201, "push after the database restarted");
    assert_eq!(
        tag_digest(&app, "demo/app", "v2").await,
        (200, later.digest.clone())
    );
    assert!(
        !app.log().contains(pg.password()),
        "the database password was logged"
    );
    let log = app.log();
    assert!(log.contains("metadata database unavailable"), "{log}");
}

const ALLOW_ONCE: &str = r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"
write_policy = "ALLOW_ONCE"
"#;

#[tokio::test]
async fn two_nodes_racing_on_one_allow_once_tag_give_one_winner_and_one_clear_refusal() {
    // Arrange: two nodes, one database, each with its own blob store holding its image.
    let Some(pg) = Postgres::start() else { return };
    let secrets = tempfile::tempdir().unwrap();
    let config = ConfigFile::new(ALLOW_ONCE);
    let a = spawn_on(&pg, &secrets, &config.args()).await;
    let b = spawn_on(&pg, &secrets, &config.args()).await;
    for round in 0..5 {
        let tag = format!("r{round}");
        let on_a = a
            .push_blobs_of("race/app", Image::seeded(&format!("a{round}")))
            .await;
        let on_b = b
            .push_blobs_of("race/app", Image::seeded(&format!("b{round}")))
            .await;
        // Act
        let (ra, rb) = tokio::join!(
            a.put_image("race/app", &tag, &on_a),
            b.put_image("race/app", &tag, &on_b)
        );
        // Assert: exactly one wins; the other is refused, never silently overwritten.
        let (won, lost, winner) = match (ra.status().as_u16(), rb.status().as_u16()) {
            (201, _) => (ra, rb, &on_a),
            (_, 201) => (rb, ra, &on_b),
            (x, y) => panic!("round {round}: nobody won ({x}, {y})"),
        };
        assert_eq!(won.status(), 201);
        let body = assert_oci_error(lost, 403, "DENIED").await;
        assert!(body.to_string().contains("ALLOW_ONCE"), "{body}");
        let winner_node = if std::ptr::eq(winner, &on_a) { &a } else { &b };
        assert_eq!(
            tag_digest(winner_node, "race/app", &tag).await,
            (200, winner.digest.clone())
        );
    }
}

/// `meta_env` with `query` appended to the database URL (`sslmode`, `sslrootcert`).
fn meta_env_with(pg: &Postgres, secrets: &tempfile::TempDir, query: &str) -> Vec<String> {
    let mut env = meta_env(pg, secrets);
    env[0] = format!("BERTH_META__URL={}?{query}", pg.url_without_password());
    env
}

#[tokio::test]
async fn a_url_asking_for_verified_tls_gets_it_and_a_wrong_ca_is_refused_at_start() {
    // Arrange: a server with a certificate from its own CA, and an unrelated CA.
    let Some(pg) = Postgres::start_with_tls() else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let stranger = tempfile::tempdir().unwrap();
    common::certs::make_certs(stranger.path());

    // Act 1: verify-full against the wrong CA.
    let wrong = meta_env_with(
        &pg,
        &secrets,
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            stranger.path().join("ca.pem").display()
        ),
    );
    let args: Vec<&str> = wrong.iter().map(String::as_str).collect();
    let refusal = start_failure(&args, Duration::from_secs(60)).await;

    // Assert 1: Berth does not start on an unverified server, and says why.
    assert!(
        refusal.to_lowercase().contains("certificate") || refusal.to_lowercase().contains("tls"),
        "{refusal}"
    );
    assert!(!refusal.contains(pg.password()), "password in: {refusal}");

    // Act 2: the right CA.
    let right = meta_env_with(
        &pg,
        &secrets,
        &format!("sslmode=verify-full&sslrootcert={}", pg.tls_ca().display()),
    );
    let args: Vec<&str> = right.iter().map(String::as_str).collect();
    let app = spawn_app_with(&args).await;
    let (digest, _) = app.push_image("tls/app", "v1", "over-tls").await;

    // Assert 2: it works, and every connection Berth holds is encrypted.
    assert_eq!(tag_digest(&app, "tls/app", "v1").await, (200, digest));
    let (encrypted, plain) = pg.connections_by_tls("berth");
    assert!(encrypted > 0, "no TLS connection from Berth");
    assert_eq!(plain, 0, "Berth holds unencrypted connections");
}
