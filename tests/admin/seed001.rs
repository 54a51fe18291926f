//! Seed 001's Nexus Docker set-up, done the Nexus way but entirely over REST: a `docker`
//! blob store, `docker-hosted` on its own port, `docker-group` over it on another port
//! with `docker-hosted` writable; then the real `docker` CLI pushes to the hosted port,
//! pulls from the group port and by path routing on the main port, and pushes through the
//! group port into `docker-hosted`.

use reqwest::Method;
use serde_json::json;

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn seed_001_docker_hosted_and_group_set_up_over_rest_work_with_the_docker_cli() {
    if !docker_present() {
        return;
    }
    let app = spawn_app().await;
    let main = app.addr.rsplit(':').next().unwrap().to_string();
    let (hosted_port, group_port) = (free_port(), free_port());

    // Blob store `docker`, as the seed creates in the UI.
    create_store(&app, "docker").await;
    // A zero-config Berth already has an empty `docker-hosted` (the default repository, on
    // the `default` store); the seed wants it on `docker` with its own port: update it.
    let mut hosted = hosted_body("docker-hosted", "docker", Some(hosted_port));
    hosted["storage"]["writePolicy"] = json!("allow");
    let r = app
        .req(
            Method::PUT,
            "/service/rest/v1/repositories/docker/hosted/docker-hosted",
        )
        .json(&hosted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let mut group = group_body(
        "docker-group",
        &["docker-hosted"],
        Some("docker-hosted"),
        Some(group_port),
    );
    group["storage"]["blobStoreName"] = json!("docker");
    create(&app, "group", &group).await;

    let mut images = LocalImages(Vec::new());
    let build_tag = images.add(&format!("berth-seed001-{main}:build"));
    let context = tempfile::tempdir().unwrap();
    let id = build_scratch_image(context.path(), &build_tag, 1001, 64 << 10);

    // docker push to the hosted port.
    let on_hosted = images.add(&format!("127.0.0.1:{hosted_port}/app:1"));
    docker(&["tag", &build_tag, &on_hosted]);
    let push = docker(&["push", &on_hosted]);
    assert!(push.contains("digest: sha256:"), "push output:\n{push}");
    docker(&["rmi", &on_hosted, &build_tag]);
    assert!(absent_locally(&id));

    // docker pull from the group port: the same image.
    let on_group = images.add(&format!("127.0.0.1:{group_port}/app:1"));
    docker(&["pull", &on_group]);
    assert_eq!(image_id(&on_group), id);
    docker(&["rmi", &on_group]);

    // docker pull by path routing on the main port.
    let by_path = images.add(&format!("127.0.0.1:{main}/repository/docker-group/app:1"));
    docker(&["pull", &by_path]);
    assert_eq!(image_id(&by_path), id);

    // docker push through the group port lands in docker-hosted.
    let pushed_via_group = images.add(&format!("127.0.0.1:{group_port}/app:2"));
    docker(&["tag", &by_path, &pushed_via_group]);
    docker(&["push", &pushed_via_group]);
    let (status, page) = app
        .get_json("/service/rest/v1/components?repository=docker-hosted")
        .await;
    assert_eq!(status, 200);
    let versions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1", "2"], "{page}");
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] == "app"));

    // The `docker` store holds the content; `default` holds none of it.
    let (_, stores) = app.get_json(STORES).await;
    let count = |name: &str| {
        stores
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["blobCount"]
            .as_u64()
            .unwrap()
    };
    assert!(count("docker") >= 4, "{stores}");
    assert_eq!(count("default"), 0, "{stores}");
}
