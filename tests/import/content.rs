//! The content half with real clients: Docker schema 2 images pushed by `docker` and a
//! multi-arch OCI index pushed by `skopeo copy --all` into the source; after the import,
//! `docker pull` from the target gives the same image ids and every tag the same digest.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::docker::*;
use crate::common::*;
use crate::support::*;

/// An OCI layout holding a two-platform index tagged `tag`.
fn multi_arch_layout(dir: &std::path::Path, tag: &str) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(dir.join("blobs/sha256").join(&digest[7..]), bytes).unwrap();
        json!({"digest": digest, "size": bytes.len()})
    };
    let mut entries = Vec::new();
    for (i, arch) in ["amd64", "arm64"].iter().enumerate() {
        let layer = put(&format!("layer for {arch} {tag}")
            .repeat(500 + i)
            .into_bytes());
        let config = put(json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).to_string().as_bytes());
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config["digest"], "size": config["size"]},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer["digest"], "size": layer["size"]}]});
        let m = put(manifest.to_string().as_bytes());
        entries.push(
            json!({"mediaType": OCI_MANIFEST, "digest": m["digest"], "size": m["size"],
            "platform": {"architecture": arch, "os": "linux"}}),
        );
    }
    let index =
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).to_string();
    let top = put(index.as_bytes());
    let layout_index = json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX,
        "digest": top["digest"], "size": top["size"],
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(dir.join("index.json"), layout_index.to_string()).unwrap();
}

#[tokio::test]
async fn docker_and_multi_arch_images_pulled_from_the_target_have_the_same_ids_and_digests() {
    if !docker_present() {
        return;
    }
    assert!(
        have("skopeo"),
        "skopeo is needed: run scripts/install-test-deps.sh"
    );
    let source = spawn_app().await;
    let seed = configure_like_seed(&source).await;
    let target = spawn_app().await;
    let unique = format!("{}-{}", seed.hosted_port, std::process::id());
    let mut images = LocalImages(Vec::new());
    let context = tempfile::tempdir().unwrap();

    // Two docker-built images (schema 2), one under two tags, pushed to the hosted port.
    let mut expected = Vec::new();
    for (name, noise_seed) in [("import/app-a", 11u64), ("import/app-b", 12)] {
        let local = images.add(&format!("berth-import-{unique}-{}", &name[7..]));
        let id = build_scratch_image(context.path(), &local, noise_seed, 200_000);
        for tag in ["1", "2"] {
            let remote = images.add(&format!("127.0.0.1:{}/{name}:{tag}", seed.hosted_port));
            docker(&["tag", &local, &remote]);
            docker(&["push", &remote]);
            expected.push((name.to_string(), tag.to_string(), id.clone()));
        }
    }
    // A multi-arch OCI index by skopeo.
    let layout = tempfile::tempdir().unwrap();
    multi_arch_layout(layout.path(), "1");
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", layout.path().display()),
        &format!("docker://127.0.0.1:{}/import/multi:1", seed.hosted_port),
    ]);
    let dir = tempfile::tempdir().unwrap();

    let (success, report, stderr) = run_import(&source, &target, dir.path(), &[]);

    assert!(success, "{report:#}\n{stderr}");
    assert!(
        stderr.contains("import: repositories 1/1"),
        "no progress line:\n{stderr}"
    );
    let hosted = content(&report, "docker-hosted");
    assert_eq!(hosted["tags"], 5, "{hosted}");
    assert_eq!(hosted["tagsCopied"], 5, "{hosted}");
    // app-a:2 and app-b:2 share every blob with their :1: copied once, mounted never
    // needed (same image); the index's children come along.
    assert_eq!(hosted["manifests"], 7, "{hosted}");
    // Every tag: same digest on both sides.
    for (image, tag) in [
        ("import/app-a", "1"),
        ("import/app-a", "2"),
        ("import/app-b", "1"),
        ("import/app-b", "2"),
        ("import/multi", "1"),
    ] {
        let want = digest_of(&source, false, "docker-hosted", image, tag).await;
        assert!(!want.is_empty());
        assert_eq!(
            digest_of(&target, false, "docker-hosted", image, tag).await,
            want,
            "{image}:{tag}"
        );
    }
    // skopeo may re-serialise the layout's index on the way in; what the source holds is
    // what the target must hold.
    let index_digest = digest_of(&source, false, "docker-hosted", "import/multi", "1").await;
    let index: Value = fresh(
        &target,
        Method::GET,
        &format!("/repository/docker-hosted/v2/import/multi/manifests/{index_digest}"),
    )
    .header("Accept", OCI_INDEX)
    .json_body()
    .await;
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
    for child in index["manifests"].as_array().unwrap() {
        let d = child["digest"].as_str().unwrap();
        assert_eq!(
            digest_of(&target, false, "docker-hosted", "import/multi", d).await,
            d
        );
    }
    // docker pull from the target (path routing on its main port): the same image ids.
    let main_port = target.addr.rsplit(':').next().unwrap();
    for (image, tag, id) in expected {
        let pulled = images.add(&format!(
            "127.0.0.1:{main_port}/repository/docker-hosted/{image}:{tag}"
        ));
        docker(&["pull", &pulled]);
        assert_eq!(image_id(&pulled), id, "{pulled}");
    }
}
