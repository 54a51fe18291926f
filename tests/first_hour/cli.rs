//! Item 2: `berth gc` / `berth task` against a running server with security on, the
//! password from the environment or a file (never argv), https with `--ca-cert`, human
//! output by default and `--json`, and the offline `berth admin reset-password`.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::Method;
use serde_json::Value;

use crate::common::certs::make_certs;
use crate::common::*;
use crate::security_support::*;

/// Runs `berth <args>` from an empty directory (so no `berth-data` of the caller is found),
/// with `env` set and any admin password of the caller's environment removed.
async fn berth(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(cwd.path())
        .args(args)
        .env_remove("BERTH_ADMIN_PASSWORD")
        .env_remove("BERTH_ADMIN_USER")
        .env_remove("BERTH_URL")
        .env("RUST_BACKTRACE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        drop(cwd);
        out
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The test app's client, sending admin's Basic credentials on every request.
fn as_admin(app: &mut TestApp) {
    let mut headers = HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!(
        "Basic {}",
        base64_encode(&format!("admin:{ADMIN_PW}"))
    ))
    .unwrap();
    headers.insert(AUTHORIZATION, value);
    app.client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A secured Berth with one deleted image whose 2 blobs and manifest are garbage, aged past
/// the grace window with the test clock.
async fn secured_with_garbage() -> TestApp {
    let mut app = spawn_secure(&["BERTH_GC__TEST_CLOCK=true"]).await;
    as_admin(&mut app);
    let (digest, _) = app.push_image("team/app", "1", "cli-gc").await;
    let r = app
        .req(Method::DELETE, &format!("/v2/team/app/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = app
        .req(Method::PUT, "/service/rest/v1/berth/clock")
        .header("Content-Type", "application/json")
        .body(r#"{"offsetSeconds":172800}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    app
}

fn assert_no_debug_dump(stderr: &str) {
    assert!(!stderr.contains("Stack backtrace"), "{stderr}");
    assert!(!stderr.contains("Error {"), "{stderr}");
}

#[tokio::test]
async fn berth_gc_with_security_on_and_no_credentials_says_how_to_give_them() {
    // Arrange
    let app = spawn_secure(&[]).await;
    // Act
    let out = berth(&["gc", "--url", &app.base], &[]).await;
    // Assert
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("needs credentials"), "{stderr}");
    assert!(stderr.contains("BERTH_ADMIN_PASSWORD"), "{stderr}");
    assert!(stderr.contains("--password-file"), "{stderr}");
    assert_no_debug_dump(&stderr);
}

#[tokio::test]
async fn berth_gc_with_the_password_in_the_environment_collects_and_prints_a_summary() {
    // Arrange
    let app = secured_with_garbage().await;
    // Act
    let out = berth(
        &["gc", "--url", &app.base, "--user", "admin"],
        &[("BERTH_ADMIN_PASSWORD", ADMIN_PW)],
    )
    .await;
    // Assert
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("task blobstore.compact-default: OK"),
        "{stdout}"
    );
    assert!(
        stdout.contains("blob store default: deleted 3 blobs"),
        "{stdout}"
    );
    assert!(!stdout.contains(ADMIN_PW) && !stderr.contains(ADMIN_PW));
}

#[tokio::test]
async fn berth_task_with_a_password_file_prints_json_with_the_final_progress() {
    // Arrange
    let app = secured_with_garbage().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{ADMIN_PW}\n")).unwrap();
    // Act
    let out = berth(
        &[
            "task",
            "blobstore.compact-default",
            "--json",
            "--url",
            &app.base,
            "--user",
            "admin",
            "--password-file",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    // Assert
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let task: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(task["lastRunResult"], "OK");
    assert_eq!(task["lastRunReport"][0]["blobsDeleted"], 3, "{task}");
    let progress = task["berthProgress"].as_str().unwrap();
    assert!(
        progress.contains("sweeping 3/3 candidates, deleted 3"),
        "{progress}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_refused_without_a_backtrace() {
    let app = spawn_secure(&[]).await;
    let out = berth(
        &[
            "task",
            "repository.docker.upload-purge",
            "--url",
            &app.base,
            "-u",
            "admin",
        ],
        &[("BERTH_ADMIN_PASSWORD", "wrong")],
    )
    .await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("refused the user name or password"),
        "{stderr}"
    );
    assert_no_debug_dump(&stderr);
}

#[tokio::test]
async fn the_cli_reaches_an_https_server_when_given_its_ca() {
    // Arrange
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let cert = format!(
        "BERTH_SECURITY__TLS__CERT={}",
        certs.path().join("server.pem").display()
    );
    let key = format!(
        "BERTH_SECURITY__TLS__KEY={}",
        certs.path().join("server.key").display()
    );
    let app = spawn_secure(&[&cert, &key]).await;
    let url = format!("https://{}", app.addr);
    let ca = certs.path().join("ca.pem");
    let pw = [("BERTH_ADMIN_PASSWORD", ADMIN_PW)];
    // Act
    let untrusted = berth(
        &["task", "repository.docker.upload-purge", "--url", &url],
        &pw,
    )
    .await;
    let trusted = berth(
        &[
            "task",
            "repository.docker.upload-purge",
            "--url",
            &url,
            "--ca-cert",
            ca.to_str().unwrap(),
        ],
        &pw,
    )
    .await;
    // Assert
    let (_, stderr) = text(&untrusted);
    assert!(!untrusted.status.success());
    assert!(stderr.contains("--ca-cert"), "{stderr}");
    let (stdout, stderr) = text(&trusted);
    assert!(trusted.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("uploadsRemoved: 0"), "{stdout}");
}

fn read_password(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[tokio::test]
async fn reset_password_works_offline_and_refuses_while_the_server_runs() {
    // Arrange
    let mut app = spawn_secure(&[]).await;
    let data = app.data_dir();
    let data_arg = data.to_str().unwrap().to_string();
    let listen = app.addr.clone();
    // Act 1: the server still runs on the configured address.
    let refused = berth(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            &data_arg,
            "--listen",
            &listen,
        ],
        &[],
    )
    .await;
    // Assert 1
    let (_, stderr) = text(&refused);
    assert!(!refused.status.success());
    assert!(stderr.contains("stop berth first"), "{stderr}");
    // Act 2: stopped.
    app.stop();
    let out = berth(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            &data_arg,
            "--listen",
            &listen,
        ],
        &[],
    )
    .await;
    // Assert 2
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let file = data.join("admin.password");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let password = read_password(&file);
    assert!(!stdout.contains(&password), "the password is not printed");
    app.restart().await;
    let old = status(&app, &admin(), Method::GET, "/service/rest/v1/repositories").await;
    let new = status(
        &app,
        &basic("admin", &password),
        Method::GET,
        "/service/rest/v1/repositories",
    )
    .await;
    assert_eq!((old, new), (401, 200));
}
