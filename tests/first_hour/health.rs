//! Item 3: the container image's HEALTHCHECK, run as the Dockerfile writes it, against a
//! live server and against a port nobody serves.

use std::process::Command;

use crate::common::*;
use crate::repo_file;

/// The exec-form command of the Dockerfile's HEALTHCHECK, with the image's binary path
/// replaced by the binary under test.
fn healthcheck_command() -> Vec<String> {
    let dockerfile = std::fs::read_to_string(repo_file("Dockerfile")).unwrap();
    let line = dockerfile
        .lines()
        .find(|l| l.starts_with("HEALTHCHECK"))
        .expect("the Dockerfile has a HEALTHCHECK");
    let json = &line[line.find("CMD [").expect("exec form") + 4..];
    let argv: Vec<String> = serde_json::from_str(json).unwrap();
    assert_eq!(argv[0], "/usr/local/bin/berth", "{argv:?}");
    let mut argv = argv;
    argv[0] = env!("CARGO_BIN_EXE_berth").to_string();
    argv
}

async fn run_healthcheck(listen: &str) -> std::process::Output {
    let argv = healthcheck_command();
    let listen = listen.to_string();
    tokio::task::spawn_blocking(move || {
        let cwd = tempfile::tempdir().unwrap();
        Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(cwd.path())
            // As the image sets it.
            .env("BERTH_LISTEN", listen)
            .env_remove("BERTH_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_dockerfile_healthcheck_passes_against_a_live_server_even_with_security_on() {
    let app = spawn_app_with(&[
        "BERTH_SECURITY__ENABLED=true",
        "BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=Health-Pw-1",
    ])
    .await;
    // The image listens on 0.0.0.0: the probe must reach it through loopback.
    let port = app.addr.rsplit(':').next().unwrap();
    let out = run_healthcheck(&format!("0.0.0.0:{port}")).await;
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test]
async fn the_dockerfile_healthcheck_fails_when_nothing_answers() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let out = run_healthcheck(&addr).await;
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach berth"), "{stderr}");
}
