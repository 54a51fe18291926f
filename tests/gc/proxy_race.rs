//! The proxy cache publishes what it downloads under the same GC protocol as a push: blobs
//! and manifests pulled through a proxy repository while collections run back to back are
//! all still there afterwards. (The cache once committed without the store's reference
//! lock: a sweep between a download's publish and its link deleted the file, leaving a link
//! to nothing.)

use std::cell::Cell;

use reqwest::Method;

use crate::common::*;
use crate::support::*;

const IMAGES: usize = 24;
const PULLERS: usize = 4;

/// A proxy repository `cache` in front of `remote`, with the gc suite's clock and grace.
fn proxy_config(remote: &str) -> String {
    format!(
        r#"
[[repositories]]
name = "docker-hosted"
type = "hosted"

[[repositories]]
name = "cache"
type = "proxy"

[repositories.proxy]
remote_url = "{remote}"
index_type = "REGISTRY"

[gc]
test_clock = true
grace_secs = 3600
"#
    )
}

/// One image on the upstream: its manifest digest and its blobs (config first).
struct Image {
    name: String,
    blobs: Vec<String>,
}

#[tokio::test]
async fn blobs_and_manifests_cached_by_a_proxy_while_gc_runs_repeatedly_are_never_lost() {
    // Arrange: an upstream Berth with many small images, a Berth proxying it whose clock
    // makes everything older than the grace window, so only the protocol protects a fresh
    // download.
    let upstream = spawn_app().await;
    let mut images = Vec::new();
    for i in 0..IMAGES {
        let name = format!("race/img{i}");
        let blobs: Vec<Vec<u8>> = (0..4).map(|j| blob(&format!("proxied {i} {j}"))).collect();
        push_layers(&upstream, &name, "v1", &blobs).await;
        let blobs = blobs.iter().map(|b| sha256(b)).collect();
        images.push(Image { name, blobs });
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, proxy_config(&format!("http://{}", upstream.addr))).unwrap();
    let app = spawn_app_with(&["--config", config.to_str().unwrap()]).await;
    set_clock(&app, 2 * 3600).await;
    let done = Cell::new(0);
    // Act: pullers fetch blobs by digest (no manifest names them yet, so only the lock
    // protects them between publish and link), then the manifest; meanwhile collections
    // run back to back.
    let puller = |worker: usize| {
        let (app, images, done) = (&app, &images, &done);
        async move {
            for image in images.iter().skip(worker).step_by(PULLERS) {
                let path = format!("repository/cache/{}", image.name);
                for d in &image.blobs {
                    let r = get(app, &format!("/v2/{path}/blobs/{d}")).await;
                    assert_eq!(r.status(), 200, "first pull of {d}");
                    assert_eq!(&sha256(&r.bytes().await.unwrap()), d);
                }
                let r = get(app, &format!("/v2/{path}/manifests/v1")).await;
                assert_eq!(r.status(), 200, "first pull of {path}:v1");
            }
            done.set(done.get() + 1);
        }
    };
    let collector = async {
        let mut runs = 0;
        while done.get() < PULLERS {
            collect(&app).await;
            runs += 1;
        }
        runs
    };
    let pulls = futures_util::future::join_all((0..PULLERS).map(puller));
    let ((), runs) = tokio::join!(
        async {
            pulls.await;
        },
        collector
    );
    collect(&app).await;
    // Assert: every cached blob and manifest is still served. A link the cache recorded
    // after a sweep deleted its file would answer 404 (the cache trusts its own link and
    // does not fetch again).
    assert!(runs >= 2, "collections ran during the pulls: {runs}");
    for image in &images {
        let path = format!("repository/cache/{}", image.name);
        for d in &image.blobs {
            let r = get(&app, &format!("/v2/{path}/blobs/{d}")).await;
            assert_eq!(
                r.status(),
                200,
                "cached blob {d} of {path} after the collections"
            );
            assert_eq!(&sha256(&r.bytes().await.unwrap()), d);
        }
        let r = get(&app, &format!("/v2/{path}/manifests/v1")).await;
        assert_eq!(
            r.status(),
            200,
            "cached manifest {path}:v1 after the collections"
        );
    }
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.req(Method::GET, path)
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
}
