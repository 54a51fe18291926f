//! Helpers for the admin API tests: Nexus request bodies, validation errors, and a
//! snapshot of every definition to prove a refused change left nothing behind.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::common::*;

pub const REPOS: &str = "/service/rest/v1/repositories";
pub const HOSTED: &str = "/service/rest/v1/repositories/docker/hosted";
pub const GROUP: &str = "/service/rest/v1/repositories/docker/group";
pub const STORES: &str = "/service/rest/v1/blobstores";

/// A Nexus docker-hosted body as Terraform's provider sends it (every field present).
pub fn hosted_body(name: &str, store: &str, port: Option<u16>) -> Value {
    json!({
        "name": name,
        "online": true,
        "storage": {"blobStoreName": store, "strictContentTypeValidation": true,
                    "writePolicy": "ALLOW", "latestPolicy": false},
        "cleanup": null,
        "component": {"proprietaryComponents": false},
        "docker": {"v1Enabled": false, "forceBasicAuth": true, "httpPort": port,
                   "httpsPort": null, "subdomain": null},
    })
}

/// A Nexus docker-group body.
pub fn group_body(
    name: &str,
    members: &[&str],
    writable: Option<&str>,
    port: Option<u16>,
) -> Value {
    let mut group = json!({ "memberNames": members });
    if let Some(w) = writable {
        group["writableMember"] = json!(w);
    }
    json!({
        "name": name,
        "online": true,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": true},
        "group": group,
        "docker": {"v1Enabled": false, "forceBasicAuth": true, "httpPort": port,
                   "httpsPort": null, "subdomain": null},
    })
}

/// Creates a repository of `kind` ("hosted" / "group"), asserting 201.
pub async fn create(app: &TestApp, kind: &str, body: &Value) {
    let path = format!("{REPOS}/docker/{kind}");
    let r = app.send_json(Method::POST, &path, body).await;
    assert_eq!(
        r.status(),
        201,
        "create {body}: {}",
        r.text().await.unwrap()
    );
}

/// Creates a group of `members` on the default store, without a writable member or port.
pub async fn create_group(app: &TestApp, name: &str, members: &[&str]) {
    create(app, "group", &group_body(name, members, None, None)).await;
}

/// Creates a file blob store, asserting 204.
pub async fn create_store(app: &TestApp, name: &str) {
    let body = json!({"name": name, "path": name});
    let r = app
        .send_json(Method::POST, &format!("{STORES}/file"), &body)
        .await;
    assert_eq!(r.status(), 204, "create store: {}", r.text().await.unwrap());
}

/// Asserts a Nexus validation error: 400 with `[{"id","message"}]` whose first id is `id`;
/// returns the first message.
pub async fn assert_invalid(r: Response, id: &str) -> String {
    assert_eq!(r.status(), 400, "status");
    let body: Value = r.json().await.expect("JSON error body");
    let first = &body.as_array().expect("a list of errors")[0];
    assert_eq!(first["id"], id, "error id in {body}");
    first["message"].as_str().expect("a message").to_string()
}

/// Every repository definition (full GET of each) and blob store name, for before/after
/// comparisons.
pub async fn snapshot(app: &TestApp) -> Value {
    let (_, repos) = app.get_json(REPOS).await;
    let mut details = Vec::new();
    for repo in repos.as_array().unwrap() {
        let path = format!(
            "{REPOS}/docker/{}/{}",
            repo["type"].as_str().unwrap(),
            repo["name"].as_str().unwrap()
        );
        details.push(app.get_json(&path).await.1);
    }
    let (_, stores) = app.get_json(STORES).await;
    let names: Vec<Value> = stores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    json!({ "repositories": details, "stores": names })
}

/// Status of `GET /v2/` on a connector port, or `None` if the connection is refused.
pub async fn v2_status(port: u16) -> Option<u16> {
    // A fresh client each time: a pooled keep-alive connection would outlive a closed port.
    match reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v2/"))
        .send()
        .await
    {
        Ok(r) => Some(r.status().as_u16()),
        Err(e) if e.is_connect() => None,
        Err(e) => panic!("GET /v2/ on port {port}: {e}"),
    }
}
