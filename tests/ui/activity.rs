//! Who pushed and who pulls, in a real browser: a tag's "pushed by" and "last pulled" after
//! a real `docker push` by a user and a pull, and the usage center's most pulled lists.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::browser::*;
use crate::common::docker::*;
use crate::common::*;

pub const ADMIN_PW: &str = "Initial-Admin-Pw-1";

pub async fn spawn_secure() -> TestApp {
    spawn_app_with(&[
        "BERTH_SECURITY__ENABLED=true",
        "BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=Initial-Admin-Pw-1",
    ])
    .await
}

/// An admin REST call that must succeed (on a new connection, see [`push_as_admin`]).
pub async fn admin_json(app: &TestApp, method: Method, path: &str, body: serde_json::Value) {
    let r = reqwest::Client::new()
        .request(method, app.url(path))
        .basic_auth("admin", Some(ADMIN_PW))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{path}: {}",
        r.text().await.unwrap()
    );
}

/// Signs `user` in through the sign-in page.
pub async fn browser_sign_in(b: &Browser, app: &TestApp, user: &str, password: &str) {
    b.goto(&app.url("/ui/login")).await;
    b.fill("#username", user).await;
    b.fill("#password", password).await;
    b.navigate_by("#sign-in").await;
}

/// Waits until the text of `css` contains `needle` (the page may still be loading).
pub async fn wait_text(b: &Browser, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match b.client.find(fantoccini::Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {needle:?}; last: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn docker_in(config: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "docker {args:?}: {text}");
    text
}

/// The cells of each row of table `css`, top to bottom.
async fn rows(b: &Browser, css: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for row in b
        .client
        .find_all(fantoccini::Locator::Css(&format!("{css} tbody tr")))
        .await
        .unwrap()
    {
        let mut cells = Vec::new();
        for cell in row.find_all(fantoccini::Locator::Css("td")).await.unwrap() {
            cells.push(cell.text().await.unwrap());
        }
        out.push(cells);
    }
    out
}

#[tokio::test]
async fn a_docker_push_by_a_user_and_pulls_show_as_pushed_by_last_pulled_and_top_pulls() {
    if !browser_present() || !docker_present() {
        return;
    }
    // Arrange: security on, the token realm, a user who may push to docker-hosted.
    let app = spawn_secure().await;
    let security = "/service/rest/v1/security";
    admin_json(
        &app,
        Method::PUT,
        &format!("{security}/realms/active"),
        json!([
            "NexusAuthenticatingRealm",
            "NexusAuthorizingRealm",
            "DockerToken"
        ]),
    )
    .await;
    let privileges: Vec<String> = ["add", "edit", "read", "browse"]
        .iter()
        .map(|a| format!("nx-repository-view-docker-docker-hosted-{a}"))
        .collect();
    admin_json(
        &app,
        Method::POST,
        &format!("{security}/roles"),
        json!({"id": "pushers", "name": "pushers", "privileges": privileges, "roles": []}),
    )
    .await;
    admin_json(
        &app,
        Method::POST,
        &format!("{security}/users"),
        json!({"userId": "ci-pusher", "firstName": "C", "lastName": "I",
               "emailAddress": "ci@example.org", "password": "Ci-Pusher-Pw-1",
               "status": "active", "roles": ["pushers"]}),
    )
    .await;

    // Act: docker login + push as that user, then a docker pull of the same tag.
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let host = app.addr.clone();
    let unique = format!(
        "act-{}-{}",
        host.rsplit(':').next().unwrap(),
        std::process::id()
    );
    let build = format!("berth-ui-act-{unique}:latest");
    let pushed = format!("{host}/{unique}:1");
    let mut images = LocalImages(Vec::new());
    images.add(&build);
    images.add(&pushed);
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("a.txt"), format!("a {unique}\n")).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY a.txt /a.txt\n",
    )
    .unwrap();
    let ctx = context.path().to_str().unwrap();
    docker_in(cfg, &["build", "-q", "-t", &build, ctx]);
    docker_in(cfg, &["tag", &build, &pushed]);
    let out = login(cfg, &host, "ci-pusher", "Ci-Pusher-Pw-1");
    assert!(out.status.success(), "{out:?}");
    docker_in(cfg, &["push", &pushed]);
    docker_in(cfg, &["rmi", &pushed]);
    docker_in(cfg, &["pull", &pushed]);
    // A second image pushed by the admin over the API and pulled five times over HTTP:
    // it must top the list.
    push_as_admin(&app, "popular/app", "v1").await;
    let c = reqwest::Client::new();
    for _ in 0..5 {
        let r = c
            .get(app.url("/v2/popular/app/manifests/v1"))
            .basic_auth("admin", Some(ADMIN_PW))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // Assert: the tags pages say who pushed and when it was last pulled.
    let mut b = Browser::start().await;
    browser_sign_in(&b, &app, "admin", ADMIN_PW).await;
    b.goto(&app.url(&format!("/ui/browse/docker-hosted/tags?image={unique}")))
        .await;
    assert_eq!(b.text("#tags .pushed-by").await, "ci-pusher");
    let pulled = b.text("#tags .last-pulled").await;
    assert!(pulled.ends_with("UTC"), "a pull time: {pulled}");
    b.goto(&app.url("/ui/browse/docker-hosted/tags?image=popular/app"))
        .await;
    assert_eq!(b.text("#tags .pushed-by").await, "admin");

    // The usage center ranks them: popular/app (5 pulls) above the docker-pulled image.
    b.goto(&app.url("/ui/usage")).await;
    let top = rows(&b, "#top-images").await;
    assert_eq!(top[0][0], "popular/app", "{top:?}");
    assert_eq!(top[0][2], "5", "{top:?}");
    assert_eq!(top[1][0], unique, "{top:?}");
    assert!(top[1][2].parse::<u64>().unwrap() >= 1, "{top:?}");
    let repos = rows(&b, "#top-repositories").await;
    assert_eq!(repos[0][0], "docker-hosted", "{repos:?}");
    assert!(repos[0][1].parse::<u64>().unwrap() >= 6, "{repos:?}");
    b.click("#daily-details summary").await;
    let today = b.text("#daily-history tbody tr:first-child").await;
    assert!(today.contains(&chrono_today()), "{today}");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.finish().await;
}

/// Pushes a one-layer image as the admin over the registry API (Basic).
pub async fn push_as_admin(app: &TestApp, name: &str, tag: &str) -> String {
    // A new client: the shared one's pooled connection may have idled out during the
    // docker steps, and a request sent on it as the server closes it fails.
    let c = reqwest::Client::new();
    let config = format!("{{\"image\":\"{name}:{tag}\"}}");
    let layer = format!("layer of {name}:{tag}");
    for blob in [&config, &layer] {
        let r = c
            .post(app.url(&format!(
                "/v2/{name}/blobs/uploads/?digest={}",
                sha256(blob.as_bytes())
            )))
            .basic_auth("admin", Some(ADMIN_PW))
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "blob: {}", r.text().await.unwrap());
    }
    let manifest = oci_manifest(
        (&sha256(config.as_bytes()), config.len()),
        &[(&sha256(layer.as_bytes()), layer.len())],
    );
    let r = c
        .put(app.url(&format!("/v2/{name}/manifests/{tag}")))
        .basic_auth("admin", Some(ADMIN_PW))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "manifest: {}", r.text().await.unwrap());
    sha256(manifest.as_bytes())
}

/// Today's date (UTC) as the history writes it.
fn chrono_today() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
