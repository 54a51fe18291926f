//! Garbage collection across nodes: the reference protocol holds when the sweep runs on
//! one node and pushes land on another, one collection runs per store in the cluster, and
//! a push while PostgreSQL is down gets a clear 503.

use std::time::{Duration, Instant};

use berth::meta::{Location, Meta, PgSettings};
use reqwest::Method;
use serde_json::Value;

use crate::common::cluster::Cluster;
use crate::common::images::push_with;
use crate::common::*;
use crate::metric;

/// The store's own collection task (every blob store has one).
const COMPACT: &str = "blobstore.compact-s3";
/// Grace window 24 h (the default) and a movable clock, so content can be aged.
const GC_TOML: &str = "[gc]\ntest_clock = true\n";

/// Starts task `id` on `node` and waits until it is no longer running; the task's JSON.
/// Waits for a run of the same task in progress (409) and starts again.
async fn run_task(node: &TestApp, id: &str) -> Value {
    loop {
        let r = node
            .req(Method::POST, &format!("/service/rest/v1/tasks/{id}/run"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(status == 204 || status == 409, "run {id}: {status}");
        let deadline = Instant::now() + Duration::from_secs(120);
        let task = loop {
            let task = node
                .get_json_ok(&format!("/service/rest/v1/tasks/{id}"))
                .await;
            if task["currentState"] == "WAITING" {
                break task;
            }
            assert!(Instant::now() < deadline, "task {id} did not finish");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if status == 204 {
            return task;
        }
    }
}

async fn set_clock(node: &TestApp, secs: i64) {
    let r = node
        .req(Method::PUT, "/service/rest/v1/berth/clock")
        .json(&serde_json::json!({ "offsetSeconds": secs }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// Reads `name:tag` and every blob of it from `node`; panics unless all of it is there.
async fn pull_fully(node: &TestApp, name: &str, tag: &str, image: &Image) {
    let r = node
        .req(Method::GET, &format!("/v2/{name}/manifests/{tag}"))
        .header("Accept", image.media_type)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "manifest of {name}:{tag}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), image.manifest.as_slice());
    for (digest, bytes) in image.blobs() {
        let r = node
            .req(Method::GET, &format!("/v2/{name}/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "blob {digest} of {name}:{tag}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
}

/// Pushes `images` as `<prefix>-<i>:old` on `node`, then deletes their manifests: their
/// blobs become garbage that is still in the store and still linked.
async fn make_garbage(node: &TestApp, prefix: &str, images: &[Image]) {
    for (i, image) in images.iter().enumerate() {
        let name = format!("{prefix}-{i}");
        let digest = node.push(&name, "old", image).await;
        let status = node.delete(&format!("/v2/{name}/manifests/{digest}")).await;
        assert_eq!(status, 202, "delete {name}");
    }
}

#[tokio::test]
async fn gc_on_one_node_while_another_pushes_loses_no_acknowledged_image() {
    // Arrange: garbage on the shared store, aged past the grace window on both nodes'
    // clocks; half of it is pushed again below (the sweep must not delete what a push on
    // the other node re-references), the other half stays garbage.
    let Some(cluster) = Cluster::start(2, GC_TOML).await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let repushed: Vec<Image> = (0..24).map(|i| Image::seeded(&format!("re-{i}"))).collect();
    let dropped: Vec<Image> = (0..8)
        .map(|i| Image::seeded(&format!("gone-{i}")))
        .collect();
    make_garbage(a, "gc/re", &repushed).await;
    make_garbage(a, "gc/gone", &dropped).await;
    for node in [a, b] {
        set_clock(node, 2 * 24 * 3600).await;
    }
    // Act: node A pushes the re-referenced images and fresh ones, 8 at a time, while node
    // B collects over and over until the pushes are done.
    let fresh: Vec<Image> = (0..24)
        .map(|i| Image::seeded(&format!("new-{i}")))
        .collect();
    let mut jobs: Vec<(String, Image)> = Vec::new();
    for (i, image) in repushed.iter().enumerate() {
        jobs.push((format!("gc/re-{i}"), image.clone()));
    }
    for (i, image) in fresh.iter().enumerate() {
        jobs.push((format!("gc/new-{i}"), image.clone()));
    }
    let pushes = {
        let base = a.url("");
        let jobs = jobs.clone();
        tokio::spawn(async move {
            let client = test_client();
            let push = |job: (String, Image)| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let r = push_with(
                        |m, p| client.request(m, format!("{base}{p}")),
                        &format!("/v2/{}", job.0),
                        "new",
                        &job.1,
                    )
                    .await;
                    (job.0, r.status().as_u16())
                }
            };
            use futures_util::StreamExt;
            futures_util::stream::iter(jobs.into_iter().map(push))
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await
        })
    };
    let mut runs = Vec::new();
    while !pushes.is_finished() || runs.is_empty() {
        runs.push(run_task(b, COMPACT).await);
    }
    let outcomes = pushes.await.unwrap();
    // Assert: every acknowledged push reads back completely from both nodes.
    let acknowledged: Vec<&(String, u16)> = outcomes.iter().filter(|(_, s)| *s == 201).collect();
    for (name, _) in &acknowledged {
        let image = &jobs.iter().find(|(n, _)| n == name).unwrap().1;
        for node in [a, b] {
            pull_fully(node, name, "new", image).await;
        }
    }
    assert_eq!(
        acknowledged.len(),
        jobs.len(),
        "pushes refused: {outcomes:?}"
    );
    for run in &runs {
        assert_eq!(run["lastRunResult"], "OK", "{run}");
    }
    let deleted = metric(b, "berth_gc_blobs_deleted_total", &[("store", "s3")]).await;
    assert!(
        deleted >= (2 * dropped.len()) as f64,
        "the garbage was not collected: {deleted}"
    );
    eprintln!(
        "gc runs during the pushes: {}, blobs deleted: {deleted}",
        runs.len()
    );
}

#[tokio::test]
async fn a_collection_running_elsewhere_refuses_another_on_any_node_until_it_ends() {
    // Arrange: a third party (another node, as far as the cluster can tell) holds the
    // store's collection lease.
    let Some(cluster) = Cluster::start(2, "").await else {
        return;
    };
    let other = Meta::open(Location::Postgres(PgSettings::new(&cluster.pg.url())))
        .await
        .unwrap();
    let lease = other.locks().try_lease("gc-run:s3").await.unwrap();
    assert!(lease.is_some(), "the lease was taken before any collection");
    // Act
    let refused: Vec<Value> = vec![
        run_task(cluster.node(0), COMPACT).await,
        run_task(cluster.node(1), "repository.docker.gc-docker-hosted").await,
    ];
    drop(lease);
    let mut after = Value::Null;
    for _ in 0..50 {
        after = run_task(cluster.node(1), COMPACT).await;
        if after["lastRunResult"] == "OK" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Assert
    for task in &refused {
        assert_eq!(task["lastRunResult"], "FAILED", "{task}");
        let error = task["lastRunReport"]["error"].as_str().unwrap_or_default();
        assert_eq!(
            error, "garbage collection of blob store s3 is already running",
            "{task}"
        );
    }
    assert_eq!(after["lastRunResult"], "OK", "{after}");
}

#[tokio::test]
async fn a_push_while_postgresql_is_down_gets_503_not_a_hang() {
    // Arrange
    let Some(mut cluster) = Cluster::start(1, "").await else {
        return;
    };
    let image = Image::seeded("pg-down");
    cluster.node(0).push("down/app", "v1", &image).await;
    // Act
    cluster.pg.stop();
    let started = Instant::now();
    let r = cluster
        .node(0)
        .req(
            Method::POST,
            &format!(
                "/v2/down/app/blobs/uploads/?digest={}",
                sha256(b"while down")
            ),
        )
        .body(b"while down".to_vec())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    // Assert
    assert_eq!(r.status(), 503, "{}", r.text().await.unwrap());
    eprintln!("503 after {waited:?} (acquire timeout 2 s)");
}

#[tokio::test]
async fn a_manifest_naming_a_blob_swept_on_another_node_is_refused_not_accepted() {
    // Arrange: garbage older than the grace window, which a client finds with `HEAD` on
    // node A (A remembers the link and spares it; node B knows nothing of that touch).
    let Some(cluster) = Cluster::start(2, GC_TOML).await else {
        return;
    };
    let (a, b) = (cluster.node(0), cluster.node(1));
    let image = Image::seeded("swept");
    make_garbage(a, "gc/swept", std::slice::from_ref(&image)).await;
    for node in [a, b] {
        set_clock(node, 2 * 24 * 3600).await;
    }
    let layer = &image.layer().0;
    let head = a
        .req(Method::HEAD, &format!("/v2/gc/swept-0/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    // Act: B sweeps it; the client, having seen it, sends only the manifest to A.
    let run = run_task(b, COMPACT).await;
    let refused = a.put_image("gc/swept-0", "again", &image).await;
    // Assert
    assert_eq!(run["lastRunResult"], "OK", "{run}");
    assert_oci_error(refused, 400, "MANIFEST_BLOB_UNKNOWN").await;
    // The client's retry uploads the blobs again and succeeds on either node.
    a.push("gc/swept-0", "again", &image).await;
    for node in [a, b] {
        pull_fully(node, "gc/swept-0", "again", &image).await;
    }
}
