//! The shipped deployment files agree with each other and with Berth's settings: the
//! compose file validates, its node ids are the ones the nginx config routes by, and bad
//! cluster settings stop a node at start with a message naming them.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

fn repo_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_cluster_compose_file_validates_and_its_node_ids_are_the_ones_nginx_routes_by() {
    if !client_present(
        have("docker-compose"),
        "docker-compose",
        "BERTH_SKIP_DOCKER",
    ) {
        return;
    }
    let out = Command::new("docker-compose")
        .args(["-f", "docker-compose.cluster.yml", "config"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BERTH_S3_ACCESS_KEY", "GK0123456789abcdef01234567")
        .env("BERTH_S3_SECRET_KEY", "0".repeat(64))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "docker-compose config failed:\n{text}"
    );
    for needle in [
        "dockerfile: Dockerfile",
        "packaging/nginx/berth-cluster.conf:/etc/nginx/conf.d/default.conf",
        "packaging/cluster/berth.toml:/etc/berth/berth.toml",
        "packaging/cluster/garage.toml:/etc/garage.toml",
        "BERTH_SECRETS_KEY_FILE: /keys/secrets.key",
        "BERTH_SECURITY__TOKEN_KEY_FILE: /keys/token.key",
        "BERTH_META__URL: postgres://berth@postgres:5432/berth",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Whitespace-insensitive: one space between words.
    let nginx = repo_file("packaging/nginx/berth-cluster.conf")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for node in ["berth1", "berth2", "berth3"] {
        assert!(
            text.contains(&format!("BERTH_CLUSTER__NODE_ID: {node}")),
            "compose has no node {node}"
        );
        assert!(
            nginx.contains(&format!("/blobs/uploads/{node}\\.\" berth_{node};")),
            "nginx routes no sessions of {node}"
        );
        assert!(
            nginx.contains(&format!("upstream berth_{node} {{ server {node}:8081")),
            "nginx's upstream berth_{node} does not prefer {node}"
        );
    }
    // Without the S3 key pair the file refuses to render rather than run with a default.
    let out = Command::new("docker-compose")
        .args(["-f", "docker-compose.cluster.yml", "config"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BERTH_S3_ACCESS_KEY")
        .env_remove("BERTH_S3_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success(), "compose rendered without S3 keys");
    assert!(String::from_utf8_lossy(&out.stderr).contains("BERTH_S3_ACCESS_KEY"));
}

#[tokio::test]
async fn a_bad_node_id_or_a_missing_shared_key_file_stops_the_node_at_start() {
    let err = start_failure(&["BERTH_CLUSTER__NODE_ID=Node.1"], Duration::from_secs(30)).await;
    assert!(err.contains("cluster.node_id \"Node.1\""), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.key");
    for setting in ["BERTH_SECRETS_KEY_FILE", "BERTH_SECURITY__TOKEN_KEY_FILE"] {
        let env = format!("{setting}={}", missing.display());
        let err = start_failure(&[env.as_str()], Duration::from_secs(30)).await;
        assert!(
            err.contains(&missing.display().to_string()),
            "{setting}: {err}"
        );
        assert!(
            !missing.exists(),
            "{setting}: a shared key file was generated"
        );
    }
}

#[tokio::test]
async fn upload_sessions_carry_the_node_id_and_none_without_one() {
    let app = spawn_app_with(&["BERTH_CLUSTER__NODE_ID=edge-7"]).await;
    let location = app.start_upload("ids/app").await;
    let id = location_path(&location)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (node, uuid) = id.split_once('.').expect("node prefix");
    assert_eq!(node, "edge-7");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{id}");
    let digest = app.push_chunks(location, b"with a node id", 5).await;
    let r = app
        .req(reqwest::Method::GET, &format!("/v2/ids/app/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let plain = spawn_app().await;
    let location = plain.start_upload("ids/app").await;
    let id = location_path(&location)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}
