//! Item 4 (and the `docker search` recipe of item 10): what Nexus clients need beyond the
//! REST shapes — `GET /`, a parseable `Server` header, `/service/rest/beta/…`, a clear
//! answer from the Groovy script API — and the community `nexus3-cli` (PyPI, pinned in
//! scripts/install-test-deps.sh) driven against Berth.

use std::path::PathBuf;
use std::process::{Command, Output};

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::security_support::*;

#[tokio::test]
async fn get_slash_answers_a_page_and_every_answer_names_a_nexus_compatible_version() {
    let app = spawn_secure(&[]).await;
    let r = app.req(Method::GET, "/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let server = header(&r, "server");
    assert!(server.starts_with("Nexus/3."), "{server}");
    assert!(server.contains("(COMPATIBLE; Berth/"), "{server}");
    assert!(header(&r, "content-type").starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("Berth"));
    let r = app.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(
        header(&r, "server"),
        server,
        "registry answers carry it too"
    );
}

#[tokio::test]
async fn beta_paths_answer_as_their_v1_endpoints() {
    let app = spawn_secure(&[]).await;
    let v1 = call(
        &app,
        &admin(),
        Method::GET,
        "/service/rest/v1/security/realms/active",
    )
    .text_body()
    .await;
    let r = call(
        &app,
        &admin(),
        Method::GET,
        "/service/rest/beta/security/realms/active",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), v1);
    // The gate sees the rewritten path: no credentials, no answer.
    let anonymous = status(
        &app,
        &Auth::None,
        Method::GET,
        "/service/rest/beta/security/users",
    )
    .await;
    assert_eq!(anonymous, 401);
}

#[tokio::test]
async fn the_script_api_says_it_is_unsupported_and_names_the_rest_endpoint() {
    let app = spawn_app().await;
    let r = app
        .req(Method::POST, "/service/rest/v1/script")
        .header("Content-Type", "application/json")
        .body(r#"{"name":"nexus3-cli-repository-create","type":"groovy","content":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let body: Value = r.json().await.unwrap();
    let message = body[0]["message"].as_str().unwrap();
    assert!(
        message.contains("does not support the Groovy script API"),
        "{message}"
    );
    assert!(message.contains("/service/rest/v1/"), "{message}");
    let head = app
        .req(
            Method::HEAD,
            "/service/rest/v1/script/nexus3-cli-repository-create",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.status(),
        404,
        "so clients go on to the POST that explains"
    );
}

#[tokio::test]
async fn docker_search_gets_404_unsupported_with_a_message_even_with_security_on() {
    let app = spawn_secure(&[]).await;
    let r = app
        .req(Method::GET, "/v1/search?q=alpine&n=25")
        .send()
        .await
        .unwrap();
    let body = assert_oci_error(r, 404, "UNSUPPORTED").await;
    assert!(
        body.to_string().contains("search is not supported"),
        "{body}"
    );
}

/// Where scripts/install-test-deps.sh installs the pinned nexus3-cli.
fn nexus3_cli() -> PathBuf {
    let root = std::env::var("BERTH_TEST_DEPS").unwrap_or_else(|_| {
        format!(
            "{}/.cache/berth-test-deps",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    PathBuf::from(root).join("nexus3-cli/bin/nexus3")
}

async fn nexus3(app: &TestApp, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(nexus3_cli());
    cmd.args(args)
        .env("HOME", home.path())
        .env("NEXUS3_URL", &app.base)
        .env("NEXUS3_USERNAME", "admin")
        .env("NEXUS3_PASSWORD", ADMIN_PW);
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        drop(home);
        out
    })
    .await
    .unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn nexus3_cli_lists_blob_stores_tasks_and_realms_and_explains_script_commands() {
    if !client_present(nexus3_cli().exists(), "nexus3-cli", "BERTH_SKIP_NEXUS3_CLI") {
        return;
    }
    // Arrange
    let app = spawn_secure(&[]).await;
    // Act + Assert: the REST commands work.
    assert!(ok(&nexus3(&app, &["blobstore", "list"]).await).contains("default"));
    assert!(ok(&nexus3(&app, &["task", "list"]).await).contains("Compact blob store"));
    let realms = ok(&nexus3(&app, &["security", "realm", "active"]).await);
    assert!(realms.contains("NexusAuthenticatingRealm"), "{realms}");
    // The command that needs Nexus's Groovy script API fails and says what to use.
    let out = nexus3(
        &app,
        &[
            "repository",
            "create",
            "hosted",
            "docker",
            "made-by-nexus3-cli",
        ],
    )
    .await;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("does not support the Groovy script API"),
        "{all}"
    );
    assert!(
        all.contains("/service/rest/v1/repositories/docker"),
        "{all}"
    );
}
