//! Real clients through the proxy: skopeo and the Docker Engine pull through Berth from the
//! upstream, and pull again from the cache alone; an upstream that wants Bearer tokens is
//! served with the proxy's credentials.
//!
//! A daemon configured with `registry-mirrors` is not tested: that needs dockerd restarted
//! with a new daemon.json, which a test cannot do to the machine's daemon.

use std::process::Command;

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

fn skopeo_copy(from: &str, to: &str) {
    skopeo(&["copy", "--src-tls-verify=false", from, to]);
}

#[tokio::test]
async fn skopeo_pulls_through_the_proxy_and_again_from_the_cache_alone() {
    assert!(have("skopeo"), "skopeo is not installed");
    let upstream = Upstream::start().await;
    let front = Front::start(&upstream.url(), None);
    upstream
        .push_image("team/app", "v1", &[noise(11, 300_000), noise(12, 7000)])
        .await;
    let (app, _cfg) = spawn_proxy(&front.url, "").await;
    let out = tempfile::tempdir().unwrap();
    let source = format!("docker://{}/repository/hub/team/app:v1", app.addr);

    skopeo_copy(
        &source,
        &format!("oci:{}:v1", out.path().join("a").display()),
    );
    let after_first = front.total();
    assert!(front.count("GET", "/blobs/") >= 3, "{:?}", front.requests());
    skopeo_copy(
        &source,
        &format!("oci:{}:v1", out.path().join("b").display()),
    );
    assert_eq!(
        front.total(),
        after_first,
        "the second pull reached the upstream: {:?}",
        front.requests()
    );
}

#[tokio::test]
async fn the_docker_engine_pulls_through_the_group_and_again_from_the_cache_alone() {
    if !docker_present() {
        return;
    }
    let upstream = Upstream::start().await;
    let front = Front::start(&upstream.url(), None);
    let (app, _cfg) = spawn_proxy(&front.url, "").await;
    let name = format!(
        "proxytest-{}-{}",
        std::process::id(),
        upstream.addr.replace([':', '.'], "-")
    );
    let pushed = format!("{}/{name}:v1", upstream.addr);
    let pulled = format!("{}/{name}:v1", app.addr);
    let _cleanup = LocalImages(vec![pushed.clone(), pulled.clone()]);
    let context = tempfile::tempdir().unwrap();
    let id = build_scratch_files(
        context.path(),
        &pushed,
        &[("data.bin", noise(13, 1 << 20))],
        "",
    );
    docker(&["push", &pushed]);
    docker(&["rmi", "-f", &pushed]);

    docker(&["pull", &pulled]);
    let got = image_id(&pulled);
    assert_eq!(got, id);
    let after_first = front.total();
    docker(&["rmi", "-f", &pulled]);
    docker(&["pull", &pulled]);
    assert_eq!(
        front.total(),
        after_first,
        "the second pull reached the upstream: {:?}",
        front.requests()
    );
}

#[tokio::test]
async fn an_upstream_behind_a_token_server_is_pulled_with_the_proxys_credentials() {
    let upstream = Upstream::start().await;
    let front = Front::start(&upstream.url(), Some(("svc", "s3cret-pw")));
    let digest = upstream
        .push_image("team/app", "v1", &[noise(14, 50_000)])
        .await;
    let (app, cfg) = spawn_proxy(&front.url, "username = \"svc\"\npassword = \"s3cret-pw\"").await;
    let r = get(&app, "/repository/hub/v2/team/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let manifest: serde_json::Value = r.json().await.unwrap();
    for layer in [&manifest["config"], &manifest["layers"][0]] {
        let d = layer["digest"].as_str().unwrap();
        let r = get(&app, &format!("/repository/hub/v2/team/app/blobs/{d}")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(sha256(&r.bytes().await.unwrap()), d);
    }
    assert_eq!(
        front.count("GET", "/token"),
        1,
        "one token, reused until it expires: {:?}",
        front.requests()
    );

    // The password never shows: not in the log, the admin API or `berth config`.
    let (_, detail) = app
        .get_json("/service/rest/v1/repositories/docker/proxy/hub")
        .await;
    assert_eq!(detail["httpClient"]["authentication"]["username"], "svc");
    assert!(!detail.to_string().contains("s3cret-pw"));
    assert!(!app.log().contains("s3cret-pw"));
    let dump = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["config", "--config"])
            .arg(cfg.path()),
    );
    assert!(
        dump.contains("remote_url") && !dump.contains("s3cret-pw"),
        "{dump}"
    );

    // Wrong credentials: a clear error naming the token server's refusal.
    let (wrong, _cfg) = spawn_proxy(&front.url, "username = \"svc\"\npassword = \"nope\"").await;
    let r = get(&wrong, "/repository/hub/v2/team/app/manifests/v1").await;
    let body = assert_oci_error(r, 503, "UNAVAILABLE").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("refused"), "{message}");
}
