//! File blob stores over REST: create, read, update, delete, usage and quota status.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

async fn store_entry(app: &TestApp, name: &str) -> Value {
    let (status, list) = app.get_json(STORES).await;
    assert_eq!(status, 200);
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no store {name} in {list}"))
        .clone()
}

#[tokio::test]
async fn a_file_blob_store_can_be_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let quota = json!({"type": "spaceUsedQuota", "limit": 107_374_182_400u64});
    let body = json!({"name": "docker", "path": "docker-files", "softQuota": quota});

    let r = app
        .send_json(Method::POST, &format!("{STORES}/file"), &body)
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

    let (status, got) = app.get_json(&format!("{STORES}/file/docker")).await;
    assert_eq!(status, 200);
    assert_eq!(got["path"], "docker-files");
    assert_eq!(got["softQuota"], quota);
    assert_eq!(got["hardQuota"], json!(null));
    assert!(got.get("name").is_none(), "Nexus's GET has no name: {got}");
    assert!(app
        .data_dir()
        .join("blobstores/docker-files/blobs")
        .is_dir());

    let update = json!({"path": "docker-files", "softQuota": null, "hardQuota": {"limit": 5000}});
    let r = app
        .send_json(Method::PUT, &format!("{STORES}/file/docker"), &update)
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (_, got) = app.get_json(&format!("{STORES}/file/docker")).await;
    assert_eq!(got["softQuota"], json!(null));
    assert_eq!(got["hardQuota"], json!({"limit": 5000}));

    assert_eq!(app.delete(&format!("{STORES}/docker")).await, 204);
    assert_eq!(app.get_json(&format!("{STORES}/file/docker")).await.0, 404);
    assert_eq!(app.delete(&format!("{STORES}/docker")).await, 404);
}

#[tokio::test]
async fn the_blob_store_list_reports_type_usage_and_available_space() {
    let app = spawn_app().await;
    app.push_image("app", "1", "usage").await;

    let entry = store_entry(&app, "default").await;

    assert_eq!(entry["type"], "File");
    assert_eq!(entry["unavailable"], false);
    assert_eq!(entry["softQuota"], json!(null));
    // Config, layer and manifest.
    assert_eq!(entry["blobCount"], 3, "{entry}");
    assert!(entry["totalSizeInBytes"].as_u64().unwrap() > 0, "{entry}");
    assert!(
        entry["availableSpaceInBytes"].as_u64().unwrap() > 0,
        "{entry}"
    );
}

#[tokio::test]
async fn a_duplicate_blob_store_name_is_refused_ignoring_case() {
    let app = spawn_app().await;
    create_store(&app, "docker").await;
    for name in ["docker", "Docker"] {
        let body = json!({"name": name, "path": "elsewhere"});
        let r = app
            .send_json(Method::POST, &format!("{STORES}/file"), &body)
            .await;
        let message = assert_invalid(r, "name").await;
        assert!(message.contains("already used"), "{message}");
    }
    assert_eq!(
        app.get_json(&format!("{STORES}/file/docker")).await.1["path"],
        "docker"
    );
}

#[tokio::test]
async fn bad_blob_store_definitions_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({"path": "p"}), "name"),
        (json!({"name": "a/b", "path": "p"}), "name"),
        (json!({"name": "s", "path": "../escape"}), "path"),
        (
            json!({"name": "s", "softQuota": {"type": "spaceRemainingQuota", "limit": 10}}),
            "softQuota.type",
        ),
        (
            json!({"name": "s", "softQuota": {"type": "spaceUsedQuota", "limit": 0}}),
            "softQuota.limit",
        ),
    ];
    for (body, id) in cases {
        let r = app
            .send_json(Method::POST, &format!("{STORES}/file"), &body)
            .await;
        assert_invalid(r, id).await;
    }
    let (_, list) = app.get_json(STORES).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn a_blob_stores_path_cannot_change() {
    let app = spawn_app().await;
    create_store(&app, "docker").await;
    let r = app
        .send_json(
            Method::PUT,
            &format!("{STORES}/file/docker"),
            &json!({"path": "moved"}),
        )
        .await;
    let message = assert_invalid(r, "*").await;
    assert!(message.contains("path cannot change"), "{message}");
    let r = app
        .send_json(
            Method::PUT,
            &format!("{STORES}/file/ghost"),
            &json!({"path": "x"}),
        )
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_blob_store_in_use_cannot_be_deleted() {
    let app = spawn_app().await;
    create_store(&app, "docker").await;
    create(&app, "hosted", &hosted_body("h", "docker", None)).await;

    let r = app
        .req(Method::DELETE, &format!("{STORES}/docker"))
        .send()
        .await
        .unwrap();

    let message = assert_invalid(r, "*").await;
    assert!(message.contains("used by repository h"), "{message}");
    assert_eq!(app.get_json(&format!("{STORES}/file/docker")).await.0, 200);
    // Once the repository is gone, the store can go.
    assert_eq!(app.delete(&format!("{REPOS}/h")).await, 204);
    assert_eq!(app.delete(&format!("{STORES}/docker")).await, 204);
}

#[tokio::test]
async fn the_quota_status_reports_a_soft_quota_violation() {
    let app = spawn_app().await;
    let path = format!("{STORES}/default/quota-status");
    let (status, ok) = app.get_json(&path).await;
    assert_eq!(status, 200);
    assert_eq!(ok["isViolation"], false);
    assert_eq!(ok["blobStoreName"], "default");

    let tiny = json!({"path": "default", "softQuota": {"type": "spaceUsedQuota", "limit": 10}});
    let r = app
        .send_json(Method::PUT, &format!("{STORES}/file/default"), &tiny)
        .await;
    assert_eq!(r.status(), 204);
    app.push_image("app", "1", "over the soft quota").await;

    let (_, over) = app.get_json(&path).await;
    assert_eq!(over["isViolation"], true, "{over}");
    assert!(
        over["message"]
            .as_str()
            .unwrap()
            .contains("limit of 10 bytes"),
        "{over}"
    );
    assert_eq!(
        app.get_json(&format!("{STORES}/ghost/quota-status"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn updating_a_file_store_keeps_the_uploads_in_progress_on_it() {
    // Arrange: a chunked upload half done on the default store.
    let app = spawn_app().await;
    let first = noise(1, 64 * 1024);
    let second = noise(2, 64 * 1024);
    let location = app.start_upload("keep/app").await;
    let location = app.patch_upload(&location, &first).await;

    // Act: an admin changes the store's quota while the client is between chunks.
    let update = json!({"path": "default", "softQuota": {"type": "spaceUsedQuota", "limit": 1_000_000_000u64}});
    let r = app
        .send_json(Method::PUT, &format!("{STORES}/file/default"), &update)
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let location = app.patch_upload(&location, &second).await;
    let whole = [first, second].concat();
    let digest = sha256(&whole);
    let r = app.finish_upload(&location, &digest).await;

    // Assert: the upload completed with every byte of both chunks.
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let got = app
        .req(Method::GET, &format!("/v2/keep/app/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), whole.as_slice());
}
