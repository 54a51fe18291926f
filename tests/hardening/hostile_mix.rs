//! The issue's proof scenario: Berth under `ulimit -n 512` with security on takes a hostile
//! mix for a bounded time (a wrong-password login flood from many addresses, hundreds of
//! idle upload sessions, stalled bodies, manifests with 1 MiB of annotations, many
//! referrers GETs), and afterwards a normal push and pull succeed, its memory stays under
//! 256 MiB, and no read got a 5xx. The chunked proxy upstream of the issue is left out here
//! (it needs a fake upstream; the proxy suite covers upstream limits).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Client, Method};
use serde_json::Value;

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

const ADMIN_PW: &str = "Hostile-Mix-Admin-1";
const IMAGE: &str = "hostile/app";
const RSS_CEILING: u64 = 256 << 20;
const ANNOTATION_BYTES: usize = 1 << 20;

struct Mix<'a> {
    app: &'a TestApp,
    token: String,
    /// The attacker's client, on its own loopback address (the per-client session cap is
    /// what keeps it from taking every session of the repository).
    hostile: Client,
    /// Statuses of reads (GETs of stored content) taken during the mix.
    reads: Mutex<Vec<(String, u16, String)>>,
}

impl Mix<'_> {
    fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.req(method, path).bearer_auth(&self.token)
    }

    fn attack(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.hostile
            .request(method, self.app.url(path))
            .bearer_auth(&self.token)
    }

    async fn read(&self, path: &str) {
        let (status, error) = match self.authed(Method::GET, path).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                // Read the body: a response cut off mid-body is a failure too.
                match r.bytes().await {
                    Ok(_) => (status, String::new()),
                    Err(e) => (599, format!("{e:?}")),
                }
            }
            Err(e) => (599, format!("{e:?}")),
        };
        self.reads
            .lock()
            .unwrap()
            .push((path.to_string(), status, error));
    }
}

async fn admin_token(app: &TestApp, scope: &str) -> String {
    let r = app
        .req(
            Method::GET,
            &format!("/v2/token?service=berth&scope={scope}"),
        )
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// 400 wrong-password requests from 100 loopback addresses, 64 at a time.
async fn login_flood(app: &TestApp) {
    futures_util::stream::iter(0..400u32)
        .for_each_concurrent(64, |i| async move {
            let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % 100) as u8));
            let client = Client::builder().local_address(from).build().unwrap();
            let _ = client
                .get(app.url("/v2/"))
                .basic_auth(format!("u{i}"), Some("wrong"))
                .send()
                .await;
        })
        .await;
}

/// 300 upload sessions opened and left idle, and 20 PATCHes whose bodies stall.
async fn idle_and_stalled_uploads(mix: &Mix<'_>) {
    futures_util::stream::iter(0..300)
        .for_each_concurrent(16, |_| async move {
            let _ = mix
                .attack(Method::POST, &format!("/v2/{IMAGE}/blobs/uploads/"))
                .send()
                .await;
        })
        .await;
    futures_util::stream::iter(0..20)
        .for_each_concurrent(20, |_| async move {
            let r = mix
                .attack(Method::POST, &format!("/v2/{IMAGE}/blobs/uploads/"))
                .send()
                .await;
            let Ok(r) = r else { return };
            if r.status() != 202 {
                return;
            }
            let session = path_of(&header(&r, "location"));
            let (body, release) = stalled_body(b"a few bytes, then nothing");
            let patch = mix.attack(Method::PATCH, &session).body(body).send();
            // The server cuts it after its body timeout; give up waiting long after that.
            let _ = tokio::time::timeout(Duration::from_secs(60), patch).await;
            drop(release);
        })
        .await;
}

/// Pushes a base image, then `count` manifests that refer to it, each with 1 MiB of
/// annotations; returns the base manifest's digest.
async fn annotated_referrers(mix: &Mix<'_>, count: usize) -> String {
    let config = br#"{"hostile":"config"}"#.to_vec();
    let layer = b"hostile layer".to_vec();
    let mut descs = Vec::new();
    for bytes in [&config, &layer] {
        let digest = sha256(bytes);
        let r = mix
            .authed(
                Method::POST,
                &format!("/v2/{IMAGE}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        descs.push((digest, bytes.len()));
    }
    let base = oci_manifest((&descs[0].0, descs[0].1), &[(&descs[1].0, descs[1].1)]);
    put_manifest(mix, "base", base.as_bytes()).await;
    let base_digest = sha256(base.as_bytes());
    let filler = "x".repeat(ANNOTATION_BYTES);
    futures_util::stream::iter(0..count)
        .for_each_concurrent(4, |i| {
            let (descs, base_digest, filler, base_len) =
                (&descs, &base_digest, &filler, base.len());
            async move {
                let body = format!(
                    r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.note","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{OCI_LAYER}","digest":"{}","size":{}}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{base_digest}","size":{base_len}}},"annotations":{{"n":"{i}","filler":"{filler}"}}}}"#,
                    descs[0].0, descs[0].1, descs[1].0, descs[1].1
                );
                put_manifest(mix, &format!("note-{i}"), body.as_bytes()).await;
            }
        })
        .await;
    base_digest
}

async fn put_manifest(mix: &Mix<'_>, tag: &str, body: &[u8]) {
    let r = mix
        .authed(Method::PUT, &format!("/v2/{IMAGE}/manifests/{tag}"))
        .header("Content-Type", OCI_MANIFEST)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "PUT {tag}: {}", r.text().await.unwrap());
}

/// Referrers GETs of the annotated base, 8 at a time, plus reads of stored content.
async fn referrers_and_reads(mix: &Mix<'_>, base: &str) {
    futures_util::stream::iter(0..40)
        .for_each_concurrent(8, |i| async move {
            mix.read(&format!("/v2/{IMAGE}/referrers/{base}")).await;
            mix.read(&format!("/v2/{IMAGE}/manifests/note-{}", i % 10))
                .await;
            mix.read(&format!("/v2/{IMAGE}/manifests/{base}")).await;
        })
        .await;
}

/// A normal push and pull with the docker CLI (login, push, remove, pull).
fn docker_push_and_pull(app: &TestApp) {
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let unique = unique("hardening", &app.addr);
    let build = format!("berth-build-{unique}:latest");
    let pushed = format!("{}/{unique}:1", app.addr);
    let _images = LocalImages(vec![build.clone(), pushed.clone()]);
    build_text_image(&build, &format!("hello {unique}\n"));
    docker(&["tag", &build, &pushed]);
    output_ok(login(cfg, &app.addr, "admin", ADMIN_PW), "docker login");
    docker_in_ok(cfg, &["push", &pushed]);
    docker(&["rmi", &pushed]);
    docker_in_ok(cfg, &["pull", &pushed]);
}

/// The same over HTTP with a token, where no docker daemon is available.
async fn http_push_and_pull(app: &TestApp) {
    let token = admin_token(app, "repository:after/app:push,pull").await;
    let mix = Mix {
        app,
        token,
        hostile: Client::new(),
        reads: Mutex::new(Vec::new()),
    };
    let bytes = b"after the storm".to_vec();
    let digest = sha256(&bytes);
    let r = mix
        .authed(
            Method::POST,
            &format!("/v2/after/app/blobs/uploads/?digest={digest}"),
        )
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = mix
        .authed(Method::GET, &format!("/v2/after/app/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn under_a_hostile_mix_with_ulimit_512_a_normal_push_and_pull_succeed_within_256_mib_and_reads_never_fail(
) {
    // Arrange: security on, the token realm active, stalled bodies cut after 5 s.
    let app = spawn_app_with_nofile(
        512,
        &[
            "BERTH_SECURITY__ENABLED=true",
            &format!("BERTH_SECURITY__INITIAL_ADMIN_PASSWORD={ADMIN_PW}"),
            "BERTH_LIMITS__BODY_READ_TIMEOUT_SECS=5",
        ],
    )
    .await;
    let realms = r#"["NexusAuthenticatingRealm","NexusAuthorizingRealm","DockerToken"]"#;
    let r = app
        .req(Method::PUT, "/service/rest/v1/security/realms/active")
        .basic_auth("admin", Some(ADMIN_PW))
        .header("Content-Type", "application/json")
        .body(realms)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mix = Mix {
        app: &app,
        token: admin_token(&app, &format!("repository:{IMAGE}:push,pull")).await,
        hostile: Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1)))
            .build()
            .unwrap(),
        reads: Mutex::new(Vec::new()),
    };
    let peak = std::sync::atomic::AtomicU64::new(0);
    let pid = app.pid();

    // Act: the hostile mix, all at once, bounded in time.
    let base = annotated_referrers(&mix, 20).await;
    let storm = async {
        tokio::join!(
            login_flood(&app),
            idle_and_stalled_uploads(&mix),
            referrers_and_reads(&mix, &base),
        )
    };
    let sample = async {
        loop {
            peak.fetch_max(rss_kib(pid) * 1024, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(240), async {
        tokio::select! {
            _ = storm => {},
            _ = sample => {},
        }
    })
    .await;

    // Assert
    assert!(
        finished.is_ok(),
        "the hostile mix did not finish within its bound"
    );
    let failed: Vec<_> = mix
        .reads
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, s, _)| *s >= 500)
        .cloned()
        .collect();
    if docker_present() {
        docker_push_and_pull(&app);
    } else {
        http_push_and_pull(&app).await;
    }
    let rss = rss_kib(pid) * 1024;
    let peak = peak.into_inner();
    eprintln!(
        "hostile mix: RSS after {} MiB, peak {} MiB, fds {}",
        rss >> 20,
        peak >> 20,
        open_fds(pid)
    );
    // Both checks are reported together: one failing must not hide the other's figure.
    assert!(
        failed.is_empty() && rss < RSS_CEILING,
        "RSS {} MiB after the mix (ceiling {} MiB, peak {} MiB); reads failed during the mix: {failed:?}",
        rss >> 20,
        RSS_CEILING >> 20,
        peak >> 20
    );
}
