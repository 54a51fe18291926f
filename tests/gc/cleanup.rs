//! Cleanup policies: the Nexus CRUD and its refusals, each criterion with synthetic times
//! (the test clock), keep-N, the preview against what the `repository.cleanup` task then
//! deletes, last-downloaded times refreshed by pulls, and untagged manifests whose blobs
//! garbage collection then reclaims.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

const DAY: i64 = 86_400;
const POLICIES: &str = "/service/rest/v1/cleanup-policies";

async fn create_policy(app: &TestApp, body: Value) {
    let r = app
        .req(Method::POST, POLICIES)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "create {body}: {}",
        r.text().await.unwrap()
    );
}

/// The `(image, tag)` pairs and manifest digests a preview or a run report lists.
fn listed(report: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let tags = report["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["image"].as_str().unwrap().to_string(),
                t["tag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let manifests = report["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    (tags, manifests)
}

async fn preview(app: &TestApp, policy: &str, repository: &str) -> Value {
    let path = format!("{POLICIES}/{policy}/preview?repository={repository}");
    let r = app.req(Method::POST, &path).send().await.unwrap();
    assert_eq!(r.status(), 200, "preview: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(i, t)| (i.to_string(), t.to_string()))
        .collect()
}

/// Attaches `policies` to hosted repository `repo` through the Nexus repository API.
async fn attach(app: &TestApp, repo: &str, policies: &[&str]) -> reqwest::Response {
    let body = json!({
        "name": repo, "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true, "writePolicy": "ALLOW"},
        "cleanup": {"policyNames": policies},
        "docker": {"v1Enabled": false, "forceBasicAuth": true},
    });
    app.req(
        Method::PUT,
        &format!("/service/rest/v1/repositories/docker/hosted/{repo}"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn status_of(app: &TestApp, method: Method, path: &str) -> u16 {
    app.req(method, path)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn invalid_policy_bodies_are_refused_naming_the_field() {
    let (app, _dir) = spawn_gc_app().await;
    let cases = [
        (json!({"format": "docker", "keepLatest": 1}), "name"),
        (json!({"name": "p", "keepLatest": 1}), "format"),
        (
            json!({"name": "p", "format": "maven2", "keepLatest": 1}),
            "format",
        ),
        (
            json!({"name": "p", "format": "docker", "notes": "nothing set"}),
            "criteria",
        ),
        (
            json!({"name": "p", "format": "docker", "keepLatest": 0}),
            "keepLatest",
        ),
        (
            json!({"name": "p", "format": "docker", "criteriaLastBlobUpdated": "x"}),
            "criteriaLastBlobUpdated",
        ),
        (
            json!({"name": "p", "format": "docker", "criteriaLastDownloaded": -3}),
            "criteriaLastDownloaded",
        ),
        (
            json!({"name": "p", "format": "docker", "untaggedOlderThanHours": 1.5}),
            "untaggedOlderThanHours",
        ),
        (
            json!({"name": "p", "format": "docker", "criteriaAssetRegex": "(unclosed"}),
            "criteriaAssetRegex",
        ),
        (
            json!({"name": "bad name", "format": "docker", "keepLatest": 1}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .req(Method::POST, POLICIES)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let errors: Value = r.json().await.unwrap();
        assert_eq!(errors[0]["id"], field, "{body} → {errors}");
    }
    assert_eq!(app.get_json_ok(POLICIES).await, json!([]), "nothing stored");

    // The CRUD around a valid policy, and attaching it.
    let policy = json!({"name": "weekly", "format": "docker", "notes": "old dev tags",
        "criteriaLastBlobUpdated": 7, "criteriaAssetRegex": "dev-.*", "keepLatest": 2});
    create_policy(&app, policy.clone()).await;
    let r = app
        .req(Method::POST, POLICIES)
        .json(&policy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "duplicate");
    let got = app.get_json_ok(&format!("{POLICIES}/weekly")).await;
    assert_eq!(got["criteriaAssetRegex"], "dev-.*");
    assert_eq!(got["criteriaLastDownloaded"], Value::Null);
    let r = attach(&app, "docker-hosted", &["nope"]).await;
    assert_eq!(r.status(), 400);
    let errors: Value = r.json().await.unwrap();
    assert_eq!(errors[0]["id"], "cleanup.policyNames", "{errors}");
    let r = attach(&app, "docker-hosted", &["weekly"]).await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let repo = app
        .get_json_ok("/service/rest/v1/repositories/docker/hosted/docker-hosted")
        .await;
    assert_eq!(repo["cleanup"]["policyNames"], json!(["weekly"]));
    assert_eq!(
        status_of(&app, Method::DELETE, &format!("{POLICIES}/weekly")).await,
        400,
        "in use"
    );
    let r = app
        .req(Method::PUT, &format!("{POLICIES}/weekly"))
        .json(&json!({"name": "weekly", "format": "docker", "keepLatest": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.get_json_ok(&format!("{POLICIES}/weekly")).await["criteriaAssetRegex"],
        Value::Null
    );
    assert_eq!(attach(&app, "docker-hosted", &[]).await.status(), 204);
    assert_eq!(
        status_of(&app, Method::DELETE, &format!("{POLICIES}/weekly")).await,
        204
    );
    assert_eq!(
        status_of(&app, Method::GET, &format!("{POLICIES}/weekly")).await,
        404
    );
}

#[tokio::test]
async fn each_criterion_and_keep_n_and_the_preview_equals_the_run() {
    let (app, _dir) = spawn_gc_app().await;
    app.push_image("app", "old", "o").await;
    app.push_image("app", "dev-old", "do").await;
    app.push_image("lib", "dev-old", "lo").await;
    set_clock(&app, 10 * DAY).await;
    app.push_image("app", "new", "n").await;
    app.push_image("app", "dev-new", "dn").await;

    create_policy(
        &app,
        json!({"name": "updated", "format": "docker", "criteriaLastBlobUpdated": 5}),
    )
    .await;
    create_policy(
        &app,
        json!({"name": "dev", "format": "docker", "criteriaAssetRegex": "dev-.*"}),
    )
    .await;
    create_policy(
        &app,
        json!({"name": "stale-dev", "format": "docker",
        "criteriaLastBlobUpdated": 5, "criteriaAssetRegex": "dev-.*"}),
    )
    .await;
    create_policy(
        &app,
        json!({"name": "keep2", "format": "docker", "keepLatest": 2}),
    )
    .await;
    create_policy(
        &app,
        json!({"name": "in-app", "format": "docker",
        "criteriaAssetRegex": "/v2/app/manifests/.*", "criteriaLastBlobUpdated": 5}),
    )
    .await;

    let cases: [(&str, &[(&str, &str)]); 5] = [
        (
            "updated",
            &[("app", "dev-old"), ("app", "old"), ("lib", "dev-old")],
        ),
        (
            "dev",
            &[("app", "dev-new"), ("app", "dev-old"), ("lib", "dev-old")],
        ),
        ("stale-dev", &[("app", "dev-old"), ("lib", "dev-old")]),
        // app keeps its two newest; lib has only one tag.
        ("keep2", &[("app", "dev-old"), ("app", "old")]),
        ("in-app", &[("app", "dev-old"), ("app", "old")]),
    ];
    for (policy, expected) in cases {
        let (tags, _) = listed(&preview(&app, policy, "docker-hosted").await);
        assert_eq!(tags, pairs(expected), "policy {policy}");
    }
    // Still everything there: a preview deletes nothing.
    for (image, tag) in [("app", "old"), ("app", "dev-old"), ("lib", "dev-old")] {
        let path = format!("/v2/{image}/manifests/{tag}");
        assert_eq!(status_of(&app, Method::HEAD, &path).await, 200, "{path}");
    }

    // The run deletes exactly what the preview listed: the tags and their manifests.
    let planned = preview(&app, "stale-dev", "docker-hosted").await;
    assert_eq!(
        planned["manifests"].as_array().unwrap().len(),
        2,
        "{planned}"
    );
    assert_eq!(
        attach(&app, "docker-hosted", &["stale-dev"]).await.status(),
        204
    );
    let task = run_task(&app, "repository.cleanup").await;
    assert_eq!(task["lastRunResult"], "OK", "{task}");
    let report = &task["lastRunReport"]["repositories"][0];
    assert_eq!(report["repository"], "docker-hosted", "{task}");
    assert_eq!(
        listed(report),
        listed(&planned),
        "run {report} vs preview {planned}"
    );
    for (image, tag, status) in [
        ("app", "dev-old", 404),
        ("lib", "dev-old", 404),
        ("app", "old", 200),
        ("app", "dev-new", 200),
    ] {
        let path = format!("/v2/{image}/manifests/{tag}");
        assert_eq!(status_of(&app, Method::HEAD, &path).await, status, "{path}");
    }
    for m in planned["manifests"].as_array().unwrap() {
        let path = format!(
            "/v2/{}/manifests/{}",
            m["image"].as_str().unwrap(),
            m["digest"].as_str().unwrap()
        );
        assert_eq!(status_of(&app, Method::HEAD, &path).await, 404, "{path}");
    }
    // A second run finds nothing more.
    let task = run_task(&app, "repository.cleanup").await;
    let (tags, manifests) = listed(&task["lastRunReport"]["repositories"][0]);
    assert!(tags.is_empty() && manifests.is_empty(), "{task}");
}

#[tokio::test]
async fn last_downloaded_counts_pulls_not_heads() {
    let (mut app, _dir) = spawn_gc_app().await;
    app.push_image("app", "pulled", "p").await;
    app.push_image("app", "headed", "h").await;
    app.push_image("app", "idle", "i").await;
    create_policy(
        &app,
        json!({"name": "unused", "format": "docker", "criteriaLastDownloaded": 5}),
    )
    .await;
    set_clock(&app, 10 * DAY).await;
    assert_eq!(
        status_of(&app, Method::GET, "/v2/app/manifests/pulled").await,
        200
    );
    assert_eq!(
        status_of(&app, Method::HEAD, "/v2/app/manifests/headed").await,
        200
    );
    let (tags, _) = listed(&preview(&app, "unused", "docker-hosted").await);
    assert_eq!(tags, pairs(&[("app", "headed"), ("app", "idle")]));
    // The pull's time reached the database (the preview flushed it): it ages like the rest.
    set_clock(&app, 16 * DAY).await;
    let (tags, _) = listed(&preview(&app, "unused", "docker-hosted").await);
    assert_eq!(
        tags,
        pairs(&[("app", "headed"), ("app", "idle"), ("app", "pulled")])
    );
    // Pulled again now: young again. The batched flush writes it without a preview too.
    assert_eq!(
        status_of(&app, Method::GET, "/v2/app/manifests/pulled").await,
        200
    );
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    app.restart_gracefully().await;
    set_clock(&app, 16 * DAY).await;
    let (tags, _) = listed(&preview(&app, "unused", "docker-hosted").await);
    assert_eq!(tags, pairs(&[("app", "headed"), ("app", "idle")]));
}

#[tokio::test]
async fn untagged_manifests_go_after_their_age_and_gc_reclaims_their_blobs() {
    let (app, _dir) = spawn_gc_app().await;
    let unique = blob("only in the first push");
    let first = push_layers(&app, "app", "1", &[blob("config one"), unique.clone()]).await;
    push_layers(
        &app,
        "app",
        "1",
        &[blob("config two"), blob("second layer")],
    )
    .await;
    create_policy(
        &app,
        json!({"name": "untagged", "format": "docker", "untaggedOlderThanHours": 2}),
    )
    .await;
    let (tags, manifests) = listed(&preview(&app, "untagged", "docker-hosted").await);
    assert!(
        tags.is_empty() && manifests.is_empty(),
        "too young: {tags:?} {manifests:?}"
    );
    set_clock(&app, 3 * 3600).await;
    let planned = preview(&app, "untagged", "docker-hosted").await;
    assert_eq!(listed(&planned), (vec![], vec![first.clone()]));
    assert_eq!(
        attach(&app, "docker-hosted", &["untagged"]).await.status(),
        204
    );
    let task = run_task(&app, "repository.cleanup").await;
    assert_eq!(
        listed(&task["lastRunReport"]["repositories"][0]),
        listed(&planned),
        "{task}"
    );
    assert_eq!(
        status_of(&app, Method::HEAD, &format!("/v2/app/manifests/{first}")).await,
        404
    );
    assert_eq!(
        status_of(&app, Method::HEAD, "/v2/app/manifests/1").await,
        200
    );
    assert!(app.blob_path(&sha256(&unique)).exists());
    collect(&app).await;
    assert!(
        !app.blob_path(&sha256(&unique)).exists(),
        "GC reclaims the deleted manifest's layer"
    );
    pull_verified(&app, "app", "1").await;
}

/// GET of a manifest by digest with every media type accepted; returns the parsed body.
async fn manifest_json(app: &TestApp, name: &str, reference: &str) -> Value {
    let r = app
        .req(Method::GET, &format!("/v2/{name}/manifests/{reference}"))
        .header("Accept", format!("{OCI_INDEX}, {OCI_MANIFEST}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "manifest {name}@{reference}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn cleanup_and_gc_keep_children_of_a_tagged_index_and_referrers_of_a_kept_subject() {
    // Arrange (distribution #3178 / #2914): a tagged index over two platform images whose
    // own tags match the policy, and a signature of the index, also tagged to match.
    let (app, _dir) = spawn_gc_app().await;
    let name = "app";
    let amd = push_layers(&app, name, "amd-old", &[blob("cfg amd"), blob("layer amd")]).await;
    let arm = push_layers(&app, name, "arm-old", &[blob("cfg arm"), blob("layer arm")]).await;
    let size_of = |d: &str| std::fs::metadata(app.blob_path(d)).unwrap().len();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{amd}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{arm}","size":{},"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#,
        size_of(&amd),
        size_of(&arm)
    );
    let r = app
        .put_manifest(name, "multi", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let index_digest = sha256(index.as_bytes());
    let sig = blob("index signature");
    let sig_digest = app.push_blob(name, &sig).await;
    let empty = app.push_blob(name, b"{}").await;
    let referrer = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{sig_digest}","size":{}}}],"subject":{{"mediaType":"{OCI_INDEX}","digest":"{index_digest}","size":{}}}}}"#,
        sig.len(),
        index.len()
    );
    let r = app
        .put_manifest(name, "sig-old", OCI_MANIFEST, referrer.as_bytes())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    create_policy(
        &app,
        json!({"name": "olds", "format": "docker", "criteriaAssetRegex": ".*-old",
               "untaggedOlderThanHours": 1}),
    )
    .await;
    assert_eq!(attach(&app, "docker-hosted", &["olds"]).await.status(), 204);
    set_clock(&app, 3 * 3600).await;
    // Act
    let planned = preview(&app, "olds", "docker-hosted").await;
    let task = run_task(&app, "repository.cleanup").await;
    let report = collect(&app).await;
    // Assert
    let (tags, manifests) = listed(&task["lastRunReport"]["repositories"][0]);
    assert_eq!(
        tags,
        pairs(&[(name, "amd-old"), (name, "arm-old"), (name, "sig-old")])
    );
    assert!(manifests.is_empty(), "no manifest goes: {manifests:?}");
    assert_eq!(
        listed(&planned),
        (tags, manifests),
        "the preview was the run"
    );
    assert_eq!(report["blobsDeleted"], 0, "{report}");
    let index = manifest_json(&app, name, "multi").await;
    for child in index["manifests"].as_array().unwrap() {
        let digest = child["digest"].as_str().unwrap();
        let platform = manifest_json(&app, name, digest).await;
        let mut blobs = vec![platform["config"]["digest"].as_str().unwrap().to_string()];
        for l in platform["layers"].as_array().unwrap() {
            blobs.push(l["digest"].as_str().unwrap().to_string());
        }
        for d in blobs {
            let r = app
                .req(Method::GET, &format!("/v2/{name}/blobs/{d}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "blob {d} of {}", child["platform"]);
            assert_eq!(sha256(&r.bytes().await.unwrap()), d);
        }
    }
    let referrers = app
        .get_json_ok(&format!("/v2/{name}/referrers/{index_digest}"))
        .await;
    assert_eq!(
        referrers["manifests"][0]["digest"],
        sha256(referrer.as_bytes()),
        "the kept index keeps its signature: {referrers}"
    );
}
