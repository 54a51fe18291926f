//! Real clients against Berth with security on and the DockerToken realm active: the
//! seeds' workflow with the docker CLI (login right and wrong, push where allowed and
//! refused elsewhere, anonymous pull where enabled, logout), and skopeo with `--creds`.

use std::process::Command;

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn docker_follows_the_seeds_workflow_with_the_token_realm() {
    if !docker_present() {
        return;
    }
    // Arrange: realm on, anonymous on, "public" allows anonymous pull, "ci" may push to
    // docker-hosted (add+edit+read+browse) and nothing else.
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    set_anonymous(&app, true).await;
    create_hosted(&app, "public", false, None).await;
    create_ci_pusher(&app, "ci-Pw-123").await;
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let host = app.addr.clone();
    let unique = unique("sec", &app.addr);
    let build = format!("berth-build-{unique}:latest");
    let own = format!("{host}/{unique}:1");
    let other = format!("{host}/repository/public/{unique}:1");
    let mut images = LocalImages(vec![build.clone(), own.clone(), other.clone()]);
    build_text_image(&build, &format!("hello {unique}\n"));
    output_ok(docker_in(cfg, &["tag", &build, &own]), "tag");
    output_ok(docker_in(cfg, &["tag", &build, &other]), "tag");

    // Act + Assert: login wrong then right.
    let wrong = output_failed(
        login(cfg, &host, "ci", "not-it"),
        "login with a wrong password",
    );
    assert!(wrong.to_lowercase().contains("unauthorized"), "{wrong}");
    assert!(output_ok(login(cfg, &host, "ci", "ci-Pw-123"), "login").contains("Login Succeeded"));
    let saved = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    assert!(
        saved.contains("identitytoken"),
        "docker keeps a refresh token, not the password:\n{saved}"
    );

    // Push where allowed, refused elsewhere.
    let pushed = output_ok(docker_in(cfg, &["push", &own]), "push to docker-hosted");
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    let refused = output_failed(docker_in(cfg, &["push", &other]), "push to public");
    assert!(
        refused.contains("denied") || refused.contains("unauthorized"),
        "{refused}"
    );

    // The admin fills "public"; then, logged out, anonymous pulls work only there.
    output_ok(docker_in(cfg, &["logout", &host]), "logout");
    output_ok(login(cfg, &host, "admin", ADMIN_PW), "admin login");
    output_ok(docker_in(cfg, &["push", &other]), "admin push to public");
    output_ok(docker_in(cfg, &["logout", &host]), "logout");
    output_ok(docker_in(cfg, &["rmi", &own, &other]), "rmi");
    let anonymous = output_ok(
        docker_in(cfg, &["pull", &other]),
        "anonymous pull from public",
    );
    assert!(
        anonymous.contains("Downloaded") || anonymous.contains("Pull complete"),
        "{anonymous}"
    );
    let private = output_failed(
        docker_in(cfg, &["pull", &own]),
        "anonymous pull from docker-hosted",
    );
    assert!(
        private.contains("unauthorized") || private.contains("denied"),
        "{private}"
    );
    // Logged in again, the pusher pulls its own image.
    output_ok(login(cfg, &host, "ci", "ci-Pw-123"), "login");
    output_ok(docker_in(cfg, &["pull", &own]), "pull as ci");
    images.add(&own);
}

#[tokio::test]
async fn skopeo_uses_creds_through_the_token_realm() {
    if !skopeo_present() {
        return;
    }
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_ci_pusher(&app, "ci-Pw-123").await;
    assert_eq!(try_push(&app, &admin(), "src/app", "1").await, 201);
    let skopeo = skopeo_output;
    let src = format!("docker://{}/src/app:1", app.addr);
    let dst = format!("docker://{}/copy/app:1", app.addr);
    let good = "ci:ci-Pw-123";
    output_ok(
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
    output_failed(
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
    output_failed(
        skopeo(&["inspect", "--raw", "--tls-verify=false", &src]),
        "no creds",
    );
    output_ok(
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
    if !client_present(have("podman"), "podman", "BERTH_SKIP_PODMAN") {
        return;
    }
    let app = spawn_secure(&[]).await;
    activate_token_realm(&app).await;
    create_user_with(&app, "ci", "ci-Pw-123", "docker-hosted", &["read"]).await;
    let auth_file = tempfile::tempdir().unwrap();
    let podman = |password: &str| {
        output_with_stdin(
            Command::new("podman")
                .args(["login", "--tls-verify=false", "--authfile"])
                .arg(auth_file.path().join("auth.json"))
                .args(["-u", "ci", "--password-stdin", &app.addr]),
            password,
        )
    };
    output_failed(podman("wrong"), "podman login with a wrong password");
    assert!(output_ok(podman("ci-Pw-123"), "podman login").contains("Login Succeeded"));
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
