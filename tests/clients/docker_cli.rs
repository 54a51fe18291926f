//! The real `docker` CLI builds a multi-layer image offline (`FROM scratch`), pushes it to
//! Berth over plain HTTP on 127.0.0.1 (the daemon treats 127.0.0.0/8 as insecure), removes
//! it locally and pulls it back by tag and by digest.

use std::path::Path;

use reqwest::Method;

use crate::common::docker::*;
use crate::common::*;

/// Several distinct files (one of 3 MiB), each in its own layer of a `FROM scratch` image
/// built as `tag`; returns the image id.
fn build_image(context: &Path, tag: &str, seed: u64) -> String {
    let files = [
        ("hello.txt", format!("hello from {tag}\n").into_bytes()),
        ("config.json", format!("{{\"seed\":{seed}}}\n").into_bytes()),
        ("small.bin", noise(seed, 4096)),
        ("big.bin", noise(seed + 1, 3 << 20)),
    ];
    build_scratch_files(context, tag, &files, "/data")
}

fn layer_count(reference: &str) -> usize {
    docker(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        reference,
    ])
    .trim()
    .parse()
    .unwrap()
}

/// The manifest digest from `docker push` output ("TAG: digest: sha256:… size: N").
fn pushed_digest(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.split("digest: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in push output:\n{output}"))
        .to_string()
}

/// Builds an image for `app` under a unique repository; returns (guard, build tag,
/// registry repository, image id).
fn build_for(app: &TestApp, what: &str, seed: u64) -> (LocalImages, String, String, String) {
    let name = unique(what, &app.addr);
    let mut images = LocalImages(Vec::new());
    let build_tag = format!("berth-build-{name}:latest");
    images.add(&build_tag);
    let context = tempfile::tempdir().unwrap();
    let id = build_image(context.path(), &build_tag, seed);
    let repo = format!("{}/{name}/app", app.addr);
    (images, build_tag, repo, id)
}

#[tokio::test]
async fn an_image_built_with_docker_comes_back_from_berth_with_the_same_image_id() {
    if !docker_present() {
        return;
    }
    let app = spawn_app().await;
    let (mut images, build_tag, repo, id) = build_for(&app, "roundtrip", 11);
    assert!(layer_count(&build_tag) >= 4, "expected a layer per COPY");
    let tagged = format!("{repo}:v1");
    images.add(&tagged);
    docker(&["tag", &build_tag, &tagged]);

    let push = docker(&["push", &tagged]);
    assert!(push.contains("Pushed"), "push output:\n{push}");
    let digest = pushed_digest(&push);

    docker(&["rmi", &tagged, &build_tag]);
    assert!(absent_locally(&id), "image {id} is still present locally");

    let pull = docker(&["pull", &tagged]);
    assert!(pull.contains(&digest), "pull output:\n{pull}");
    assert_eq!(image_id(&tagged), id, "pulled image id differs");

    // The manifest docker pushed is a Docker schema 2 manifest and is served as one.
    let path = format!("/v2/{}/manifests/v1", repo.split_once('/').unwrap().1);
    let r = app
        .req(Method::GET, &path)
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), DOCKER_MANIFEST);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let manifest: serde_json::Value = r.json().await.unwrap();
    assert!(manifest["layers"].as_array().unwrap().len() >= 4);
}

#[tokio::test]
async fn a_second_tag_reuses_layers_and_the_image_can_be_pulled_by_digest() {
    if !docker_present() {
        return;
    }
    let app = spawn_app().await;
    let (mut images, build_tag, repo, id) = build_for(&app, "bydigest", 23);
    let first = format!("{repo}:first");
    let second = format!("{repo}:second");
    images.add(&first);
    images.add(&second);
    docker(&["tag", &build_tag, &first]);
    docker(&["tag", &build_tag, &second]);

    let digest = pushed_digest(&docker(&["push", &first]));
    let push = docker(&["push", &second]);
    assert!(
        !push.contains("Pushed"),
        "the second tag uploaded layers again:\n{push}"
    );
    assert!(
        push.contains("Layer already exists") || push.contains("Mounted from"),
        "push output:\n{push}"
    );
    assert_eq!(pushed_digest(&push), digest, "same image, same manifest");

    // Another repository on the same server gets the layers by cross-repository mount.
    let other_repo = format!("{}-other/app", repo.rsplit_once('/').unwrap().0);
    let other = format!("{other_repo}:v1");
    images.add(&other);
    docker(&["tag", &build_tag, &other]);
    let push = docker(&["push", &other]);
    assert!(!push.contains("Pushed"), "layers uploaded again:\n{push}");

    // HEAD on the manifest agrees with the digest docker printed.
    let name = repo.split_once('/').unwrap().1;
    let r = app
        .req(Method::HEAD, &format!("/v2/{name}/manifests/second"))
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest"), digest);

    docker(&["rmi", &first, &second, &other, &build_tag]);
    assert!(absent_locally(&id), "image {id} is still present locally");

    let by_digest = format!("{repo}@{digest}");
    images.add(&by_digest);
    let pull = docker(&["pull", &by_digest]);
    assert!(pull.contains(&digest), "pull output:\n{pull}");
    assert_eq!(image_id(&by_digest), id, "pulled image id differs");
}
