//! Item 8: start-up errors name the address, path or key and say what to do; every
//! configuration error at once; no Debug dump or backtrace even with `RUST_BACKTRACE`;
//! stray top-level `BERTH_…` variables are warned about, unknown nested ones refused.

use std::process::{Command, Output};
use std::time::Duration;

use crate::common::*;

/// `berth serve` with exactly these arguments and environment; must exit by itself.
async fn serve_failing(args: &[&str], env: &[(&str, &str)]) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(cwd.path())
        .arg("serve")
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || {
            let out = cmd.output().unwrap();
            drop(cwd);
            out
        }),
    )
    .await
    .expect("berth should refuse to start")
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
    assert!(!stderr.contains("Error {"), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_port_in_use_is_named_with_the_setting_and_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let stderr = serve_failing(
        &[
            "--listen",
            &addr,
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("--listen"), "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[tokio::test]
async fn a_data_directory_that_is_a_file_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let stderr = serve_failing(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("data_dir"), "{stderr}");
    assert!(stderr.contains("point data_dir at a directory"), "{stderr}");
}

#[tokio::test]
async fn every_configuration_error_is_reported_at_once() {
    let stderr = serve_failing(
        &["--listen", "127.0.0.1:0"],
        &[
            ("BERTH_LIMITS__PAGE_MAX", "0"),
            ("BERTH_LIMITS__MANIFEST_MAX_BYTES", "10"),
        ],
    )
    .await;
    assert!(stderr.contains("limits.page_max"), "{stderr}");
    assert!(stderr.contains("limits.manifest_max_bytes"), "{stderr}");
}

#[tokio::test]
async fn an_unknown_nested_variable_is_refused_by_name() {
    let stderr = serve_failing(
        &["--listen", "127.0.0.1:0"],
        &[("BERTH_LOGG__LEVEL", "debug")],
    )
    .await;
    assert!(stderr.contains("BERTH_LOGG__LEVEL"), "{stderr}");
}

#[tokio::test]
async fn a_stray_top_level_variable_is_warned_about_and_berth_starts() {
    let app = spawn_app_with(&["BERTH_BIN=/usr/local/bin/berth"]).await;
    let r = app.req(reqwest::Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let log = app.log();
    assert!(
        log.contains("BERTH_BIN is not a Berth setting and is ignored"),
        "{log}"
    );
}
