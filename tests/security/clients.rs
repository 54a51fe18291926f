//! Real clients against Berth with security on and the DockerToken realm active: the
//! seeds' workflow with the docker CLI (login right and wrong, push where allowed and
//! refused elsewhere, anonymous pull where enabled, logout), and skopeo with `--creds`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::*;
use crate::support::*;

pub fn present(available: bool, what: &str, skip: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var(skip).as_deref() == Ok("1") {
        eprintln!("SKIPPED: {what} is not available and {skip}=1");
        return false;
    }
    panic!("{what} is not available: run scripts/install-test-deps.sh (or set {skip}=1)");
}

/// `docker --config <dir> args…` (a private config dir: logins never touch the user's).
pub fn docker_in(config: &Path, args: &[&str]) -> Output {
    Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start docker {args:?}: {e}"))
}

pub fn ok(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn failed(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{what} should have failed:\n{text}");
    text
}

pub use crate::common::docker::login;

/// Local images removed on drop.
pub struct LocalImages(pub std::path::PathBuf, pub Vec<String>);

impl Drop for LocalImages {
    fn drop(&mut self) {
        for r in &self.1 {
            let _ = docker_in(&self.0, &["rmi", "-f", r]);
        }
    }
}

#[tokio::test]
async fn docker_follows_the_seeds_workflow_with_the_token_realm() {
    if !present(docker_available(), "docker", "BERTH_SKIP_DOCKER") {
        return;
    }
    // Arrange: realm on, anonymous on, "public" allows anonymous pull, "ci" may push to
    // docker-hosted (add+edit+read+browse) and nothing else.
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    set_anonymous(&app, true).await;
    create_hosted(&app, "public", false, None).await;
    create_user_with(
        &app,
        "ci",
        "ci-Pw-123",
        "docker-hosted",
        &["add", "edit", "read", "browse"],
    )
    .await;
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let host = app.addr.clone();
    let unique = format!(
        "sec-{}-{}",
        app.addr.rsplit(':').next().unwrap(),
        std::process::id()
    );
    let build = format!("berth-build-{unique}:latest");
    let own = format!("{host}/{unique}:1");
    let other = format!("{host}/repository/public/{unique}:1");
    let mut images = LocalImages(
        cfg.to_path_buf(),
        vec![build.clone(), own.clone(), other.clone()],
    );
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("hello.txt"),
        format!("hello {unique}\n"),
    )
    .unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .unwrap();
    ok(
        docker_in(
            cfg,
            &[
                "build",
                "-q",
                "-t",
                &build,
                context.path().to_str().unwrap(),
            ],
        ),
        "build",
    );
    ok(docker_in(cfg, &["tag", &build, &own]), "tag");
    ok(docker_in(cfg, &["tag", &build, &other]), "tag");

    // Act + Assert: login wrong then right.
    let wrong = failed(
        login(cfg, &host, "ci", "not-it"),
        "login with a wrong password",
    );
    assert!(wrong.to_lowercase().contains("unauthorized"), "{wrong}");
    assert!(ok(login(cfg, &host, "ci", "ci-Pw-123"), "login").contains("Login Succeeded"));
    let saved = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    assert!(
        saved.contains("identitytoken"),
        "docker keeps a refresh token, not the password:\n{saved}"
    );

    // Push where allowed, refused elsewhere.
    let pushed = ok(docker_in(cfg, &["push", &own]), "push to docker-hosted");
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    let refused = failed(docker_in(cfg, &["push", &other]), "push to public");
    assert!(
        refused.contains("denied") || refused.contains("unauthorized"),
        "{refused}"
    );

    // The admin fills "public"; then, logged out, anonymous pulls work only there.
    ok(docker_in(cfg, &["logout", &host]), "logout");
    ok(login(cfg, &host, "admin", ADMIN_PW), "admin login");
    ok(docker_in(cfg, &["push", &other]), "admin push to public");
    ok(docker_in(cfg, &["logout", &host]), "logout");
    ok(docker_in(cfg, &["rmi", &own, &other]), "rmi");
    let anonymous = ok(
        docker_in(cfg, &["pull", &other]),
        "anonymous pull from public",
    );
    assert!(
        anonymous.contains("Downloaded") || anonymous.contains("Pull complete"),
        "{anonymous}"
    );
    let private = failed(
        docker_in(cfg, &["pull", &own]),
        "anonymous pull from docker-hosted",
    );
    assert!(
        private.contains("unauthorized") || private.contains("denied"),
        "{private}"
    );
    // Logged in again, the pusher pulls its own image.
    ok(login(cfg, &host, "ci", "ci-Pw-123"), "login");
    ok(docker_in(cfg, &["pull", &own]), "pull as ci");
    images.1.push(own);
}

#[tokio::test]
async fn skopeo_uses_creds_through_the_token_realm() {
    if !present(have("skopeo"), "skopeo", "BERTH_SKIP_SKOPEO") {
        return;
    }
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_user_with(
        &app,
        "ci",
        "ci-Pw-123",
        "docker-hosted",
        &["add", "edit", "read", "browse"],
    )
    .await;
    assert_eq!(try_push(&app, &admin(), "src/app", "1").await, 201);
    let skopeo = |args: &[&str]| {
        Command::new("skopeo")
            .arg("--insecure-policy")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let src = format!("docker://{}/src/app:1", app.addr);
    let dst = format!("docker://{}/copy/app:1", app.addr);
    let good = "ci:ci-Pw-123";
    ok(
        skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            good,
            &src,
        ]),
        "inspect",
    );
    failed(
        skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "ci:wrong",
            &src,
        ]),
        "bad creds",
    );
    failed(
        skopeo(&["inspect", "--raw", "--tls-verify=false", &src]),
        "no creds",
    );
    ok(
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            good,
            "--dest-creds",
            good,
            &src,
            &dst,
        ]),
        "copy",
    );
    assert_eq!(
        status(
            &app,
            &admin(),
            reqwest::Method::GET,
            "/v2/copy/app/manifests/1"
        )
        .await,
        200
    );
}

#[tokio::test]
async fn podman_logs_in_only_with_the_right_password() {
    if !present(have("podman"), "podman", "BERTH_SKIP_PODMAN") {
        return;
    }
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_user_with(&app, "ci", "ci-Pw-123", "docker-hosted", &["read"]).await;
    let auth_file = tempfile::tempdir().unwrap();
    let podman = |password: &str| {
        use std::io::Write;
        let mut child = Command::new("podman")
            .args(["login", "--tls-verify=false", "--authfile"])
            .arg(auth_file.path().join("auth.json"))
            .args(["-u", "ci", "--password-stdin", &app.addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    failed(podman("wrong"), "podman login with a wrong password");
    assert!(ok(podman("ci-Pw-123"), "podman login").contains("Login Succeeded"));
}

#[tokio::test]
async fn oci_client_pushes_and_pulls_through_the_token_flow() {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    use oci_client::secrets::RegistryAuth;
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_user_with(
        &app,
        "ci",
        "ci-Pw-123",
        "docker-hosted",
        &["add", "edit", "read"],
    )
    .await;
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let reference: oci_client::Reference = format!("{}/ocic/app:1", app.addr).parse().unwrap();
    let layers = vec![ImageLayer::new(
        b"layer".to_vec(),
        "application/vnd.oci.image.layer.v1.tar".into(),
        None,
    )];
    let config = Config::oci_v1(br#"{"architecture":"amd64","os":"linux"}"#.to_vec(), None);
    let ci = RegistryAuth::Basic("ci".into(), "ci-Pw-123".into());
    client
        .push(&reference, &layers, config, &ci, None)
        .await
        .expect("push with credentials");
    let media = vec!["application/vnd.oci.image.layer.v1.tar"];
    let anonymous = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    })
    .pull(&reference, &RegistryAuth::Anonymous, media.clone())
    .await;
    assert!(anonymous.is_err(), "anonymous pull of a private repository");
    let fresh = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let pulled = fresh
        .pull(&reference, &ci, media)
        .await
        .expect("pull with credentials");
    assert_eq!(&pulled.layers[0].data[..], b"layer");
}
