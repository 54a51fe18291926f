//! Pre-warming: `berth warm <proxy-or-group> <list>` (and the `repository.docker.proxy-warm`
//! task behind it) caches each listed image — an index and its chosen platforms' manifests
//! and every blob they list — so the first real pull is a cache hit; a dry run reports what
//! would be fetched and its size without downloading blobs; a scheduled warm re-checks tags.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Pushes one single-layer image per platform and an index `name:tag` over them; returns
/// each platform's layer digest and size.
async fn push_multi_arch(
    upstream: &Upstream,
    name: &str,
    tag: &str,
    platforms: &[(&str, &str)],
) -> Vec<(String, usize)> {
    let mut children = Vec::new();
    let mut layers = Vec::new();
    for (i, (os, arch)) in platforms.iter().enumerate() {
        let layer = noise(60 + i as u64, 30_000 + i * 1000);
        layers.push((sha256(&layer), layer.len()));
        let child_tag = format!("{tag}-{arch}");
        let digest = upstream.push_image(name, &child_tag, &[layer]).await;
        let size = reqwest::Client::new()
            .get(format!("{}/v2/{name}/manifests/{digest}", upstream.url()))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
        children.push(
            json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
            "platform": {"os": os, "architecture": arch}}),
        );
    }
    let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": children});
    let r = reqwest::Client::new()
        .put(format!("{}/v2/{name}/manifests/{tag}", upstream.url()))
        .header("content-type", INDEX)
        .body(index.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "push index");
    layers
}

/// Runs `berth warm <args> --listen <app>`; returns success, the JSON report, stderr.
async fn warm(app: &TestApp, args: Vec<String>) -> (bool, Value, String) {
    let app_addr = app.addr.clone();
    let out = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("warm")
            .args(&refs)
            .args(["--listen", &app_addr])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), report, stderr)
}

#[tokio::test]
async fn berth_warm_caches_a_multi_arch_list_for_the_chosen_platforms_after_a_dry_run() {
    let upstream = Upstream::start().await;
    let front = Front::start(&upstream.url(), None);
    let layers = push_multi_arch(
        &upstream,
        "multi",
        "v1",
        &[("linux", "amd64"), ("linux", "arm64")],
    )
    .await;
    let plain = noise(70, 50_000);
    upstream
        .push_image("plain", "v1", std::slice::from_ref(&plain))
        .await;
    let (app, cfg) = spawn_proxy(&front.url, "").await;
    let list = cfg.dir().join("images.txt");
    std::fs::write(&list, "# CI base images\nmulti:v1 linux/amd64\nplain\n").unwrap();
    // `plain` means `plain:latest`: tag it so.
    upstream
        .push_image("plain", "latest", std::slice::from_ref(&plain))
        .await;
    let args = |extra: &[&str]| {
        let mut a = vec!["docker-group".to_string(), list.display().to_string()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let (dry_ok, dry, dry_err) = warm(&app, args(&["--dry-run"])).await;
    let blob_gets_after_dry = front.count("GET", "/blobs/");
    let (ok, report, err) = warm(&app, args(&["--concurrency", "2"])).await;
    let blob_gets_after_warm = front.count("GET", "/blobs/");
    let (again_ok, again, _) = warm(&app, args(&[])).await;

    assert!(dry_ok, "{dry_err}");
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["images"], 2);
    // multi (index + amd64) and plain: 3 manifests; blobs: 2 configs + 2 layers.
    assert_eq!(dry["manifests"], 3, "{dry}");
    assert_eq!(dry["blobs"], 4, "{dry}");
    assert_eq!(dry["blobsFetched"], 4);
    assert_eq!(blob_gets_after_dry, 0, "a dry run downloads no blob");
    assert!(dry["bytesFetched"].as_u64().unwrap() > (layers[0].1 + plain.len()) as u64);
    assert!(ok, "{err}");
    assert!(err.contains("images 2/2"), "progress lines: {err}");
    assert_eq!(report["blobsFetched"], 4, "{report}");
    assert_eq!(report["bytesFetched"], dry["bytesFetched"]);
    assert_eq!(blob_gets_after_warm, 4);
    assert!(again_ok);
    assert_eq!(again["blobsCachedBefore"], 4, "{again}");
    // The first real pull is a cache hit; the unchosen platform was not fetched.
    let amd64 = get(&app, &format!("/v2/multi/blobs/{}", layers[0].0)).await;
    assert_eq!(header(&amd64, "x-berth-cache"), "hit");
    assert_eq!(front.count("GET", &format!("/blobs/{}", layers[1].0)), 0);
}

#[tokio::test]
async fn a_scheduled_warm_task_rechecks_its_tags_on_each_run() {
    let upstream = Upstream::start().await;
    let front = Front::start(&upstream.url(), None);
    upstream.push_image("app", "v1", &[noise(80, 1000)]).await;
    let (app, _cfg) = spawn_proxy(&front.url, "").await;
    let template = json!({
        "type": "repository.docker.proxy-warm", "name": "keep CI images warm",
        "frequency": {"schedule": "cron", "cronExpression": "0 0 * * * ?"},
        "properties": {"repositoryName": "hub", "images": "app:v1\n"}
    });
    let r = app
        .req(Method::POST, "/service/rest/v1/tasks")
        .header("content-type", "application/json")
        .body(template.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let task: Value = r.json().await.unwrap();
    let id = task["id"].as_str().unwrap().to_string();
    assert!(task["nextRun"].is_string(), "{task}");
    let run = |id: String| {
        let app = &app;
        async move {
            let r = app
                .req(Method::POST, &format!("/service/rest/v1/tasks/{id}/run"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let t: Value = app
                    .req(Method::GET, &format!("/service/rest/v1/tasks/{id}"))
                    .json_body()
                    .await;
                if t["currentState"] == "WAITING" {
                    return t;
                }
            }
        }
    };

    let first = run(id.clone()).await;
    let moved = upstream.push_image("app", "v1", &[noise(81, 1000)]).await;
    let second = run(id.clone()).await;

    assert_eq!(first["lastRunResult"], "OK", "{first}");
    assert_eq!(second["lastRunResult"], "OK", "{second}");
    // The new layer; the config (same content) was cached already.
    assert_eq!(second["lastRunReport"]["blobsFetched"], 1, "{second}");
    assert_eq!(second["lastRunReport"]["blobsCachedBefore"], 1, "{second}");
    assert_eq!(
        front.count("GET", "/manifests/v1"),
        2,
        "each run asked where v1 points"
    );
    let r = get(&app, "/repository/hub/v2/app/manifests/v1").await;
    assert_eq!(header(&r, "docker-content-digest"), moved);
    assert_eq!(header(&r, "x-berth-cache"), "hit");
}

#[tokio::test]
async fn a_warm_task_for_a_hosted_repository_or_with_a_bad_list_is_refused() {
    let upstream = Upstream::start().await;
    let (app, _cfg) = spawn_proxy(&upstream.url(), "").await;
    for (props, field) in [
        (
            json!({"repositoryName": "docker-hosted", "images": "a\n"}),
            "repositoryName",
        ),
        (
            json!({"repositoryName": "hub", "images": "Not An Image\n"}),
            "images",
        ),
        (
            json!({"repositoryName": "hub", "images": "a\n", "concurrency": "0"}),
            "concurrency",
        ),
    ] {
        let template = json!({"type": "repository.docker.proxy-warm", "name": "w",
            "frequency": {"schedule": "manual"}, "properties": props});
        let r = app
            .req(Method::POST, "/service/rest/v1/tasks")
            .header("content-type", "application/json")
            .body(template.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{props}");
        let body = r.text().await.unwrap();
        assert!(body.contains(field), "{body}");
    }
}
