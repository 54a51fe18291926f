//! `skopeo` copies OCI image layouts made by hand into Berth and back out again: a
//! multi-arch OCI index with `--all`, and a single image converted to Docker schema 2.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A content descriptor: media type, digest and size.
#[derive(Clone, Debug)]
struct Desc {
    media_type: String,
    digest: String,
    size: usize,
}

impl Desc {
    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An OCI image layout directory being written by hand.
struct Layout {
    dir: tempfile::TempDir,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn blob(&self, media_type: &str, bytes: &[u8]) -> Desc {
        let digest = sha256(bytes);
        std::fs::write(blob_path(self.path(), &digest), bytes).unwrap();
        Desc {
            media_type: media_type.to_string(),
            digest,
            size: bytes.len(),
        }
    }

    /// Writes index.json naming `top` as `tag`.
    fn tag(&self, top: &Desc, tag: &str) {
        let mut entry = top.json();
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let index = json!({"schemaVersion": 2, "manifests": [entry]});
        std::fs::write(self.path().join("index.json"), index.to_string()).unwrap();
    }

    /// An image for `arch` with two gzip'd layers; returns (manifest, config, layers).
    fn image(&self, arch: &str, seed: u64) -> (Desc, Desc, Vec<Desc>) {
        let tars = [
            tar(&[
                ("etc/arch", arch.as_bytes()),
                ("etc/seed", &noise(seed, 64)),
            ]),
            tar(&[("data/blob.bin", &noise(seed + 1, 70_000))]),
        ];
        let layers: Vec<Desc> = tars
            .iter()
            .map(|t| self.blob(OCI_LAYER_GZIP, &gzip(t)))
            .collect();
        let diff_ids: Vec<String> = tars.iter().map(|t| sha256(t)).collect();
        let config = json!({
            "architecture": arch, "os": "linux", "config": {"Env": [format!("SEED={seed}")]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob(OCI_CONFIG, config.to_string().as_bytes());
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.json(),
            "layers": layers.iter().map(Desc::json).collect::<Vec<_>>(),
        });
        let manifest = self.blob(OCI_MANIFEST, manifest.to_string().as_bytes());
        (manifest, config, layers)
    }
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// Every blob file of a layout, as (digest, bytes).
fn all_blobs(layout: &Path) -> Vec<(String, Vec<u8>)> {
    let mut blobs: Vec<(String, Vec<u8>)> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (format!("sha256:{name}"), std::fs::read(e.path()).unwrap())
        })
        .collect();
    blobs.sort();
    blobs
}

#[tokio::test]
async fn a_multi_arch_oci_index_copied_with_all_round_trips_byte_for_byte() {
    if !skopeo_present() {
        return;
    }
    let app = spawn_app().await;
    let src = Layout::new();
    let platforms = [("amd64", None), ("arm64", Some("v8"))];
    let mut children = Vec::new();
    for (i, (arch, variant)) in platforms.iter().enumerate() {
        let (manifest, config, layers) = src.image(arch, 100 * (i as u64 + 1));
        let mut entry = manifest.json();
        entry["platform"] = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            entry["platform"]["variant"] = json!(v);
        }
        children.push((entry, manifest, config, layers));
    }
    let index = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": children.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
    });
    let index_bytes = index.to_string().into_bytes();
    let index_desc = src.blob(OCI_INDEX, &index_bytes);
    src.tag(&index_desc, "v1");

    let remote = format!("docker://{}/multi/app:v1", app.addr);
    let source = format!("oci:{}:v1", src.path().display());
    skopeo(&["copy", "--all", "--dest-tls-verify=false", &source, &remote]);

    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &remote]);
    assert_eq!(
        raw.as_bytes(),
        index_bytes,
        "the index changed on the way in"
    );

    let r = app
        .req(Method::GET, "/v2/multi/app/manifests/v1")
        .header("Accept", OCI_INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), OCI_INDEX);
    assert_eq!(header(&r, "docker-content-digest"), index_desc.digest);
    for (_, manifest, config, layers) in &children {
        let path = format!("/v2/multi/app/manifests/{}", manifest.digest);
        let r = app
            .req(Method::GET, &path)
            .header("Accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "child manifest {}", manifest.digest);
        assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
        let body = r.bytes().await.unwrap();
        assert_eq!(sha256(&body), manifest.digest);
        for blob in std::iter::once(config).chain(layers) {
            let path = format!("/v2/multi/app/blobs/{}", blob.digest);
            let r = app.req(Method::GET, &path).send().await.unwrap();
            assert_eq!(r.status(), 200, "blob {}", blob.digest);
            let body = r.bytes().await.unwrap();
            assert_eq!(body.len(), blob.size);
            assert_eq!(sha256(&body), blob.digest);
        }
    }

    let dest = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", dest.path().display());
    skopeo(&["copy", "--all", "--src-tls-verify=false", &remote, &target]);
    let pulled: Value =
        serde_json::from_slice(&std::fs::read(dest.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(pulled["manifests"][0]["digest"], json!(index_desc.digest));
    assert_eq!(
        all_blobs(dest.path()),
        all_blobs(src.path()),
        "the pulled layout must hold exactly the pushed blobs"
    );
}

#[tokio::test]
async fn an_image_converted_to_docker_schema_2_is_served_with_the_docker_media_type() {
    if !skopeo_present() {
        return;
    }
    let app = spawn_app().await;
    let src = Layout::new();
    let (manifest, config, layers) = src.image("amd64", 7);
    src.tag(&manifest, "v1");

    let remote = format!("docker://{}/single/app:v2s2", app.addr);
    let source = format!("oci:{}:v1", src.path().display());
    skopeo(&[
        "copy",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        &source,
        &remote,
    ]);

    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &remote]);
    let pushed: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(pushed["mediaType"], json!(DOCKER_MANIFEST));
    assert_eq!(pushed["config"]["mediaType"], json!(DOCKER_CONFIG));
    assert_eq!(pushed["config"]["digest"], json!(config.digest));
    let pushed_layers: Vec<(&str, &str)> = pushed["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap(),
                l["digest"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(&str, &str)> = layers
        .iter()
        .map(|l| (DOCKER_LAYER_GZIP, l.digest.as_str()))
        .collect();
    assert_eq!(pushed_layers, expected);

    let r = app
        .req(Method::GET, "/v2/single/app/manifests/v2s2")
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), DOCKER_MANIFEST);
    assert_eq!(header(&r, "docker-content-digest"), sha256(raw.as_bytes()));
    assert_eq!(r.bytes().await.unwrap(), raw.as_bytes());

    // Pull into a `dir:` destination, which keeps the manifest exactly as served.
    let dest = tempfile::tempdir().unwrap();
    let target = format!("dir:{}", dest.path().display());
    skopeo(&["copy", "--src-tls-verify=false", &remote, &target]);
    let pulled_manifest = std::fs::read(dest.path().join("manifest.json")).unwrap();
    assert_eq!(pulled_manifest, raw.as_bytes());
    for blob in std::iter::once(&config).chain(&layers) {
        let hex = blob.digest.strip_prefix("sha256:").unwrap();
        let pulled = std::fs::read(dest.path().join(hex))
            .unwrap_or_else(|e| panic!("pulled blob {}: {e}", blob.digest));
        let original = std::fs::read(blob_path(src.path(), &blob.digest)).unwrap();
        assert_eq!(pulled, original, "blob {} differs", blob.digest);
    }
}
