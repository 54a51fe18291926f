//! Deterministic images: a config and layers of given sizes, derived from a seed, and the
//! OCI manifest that lists them. The same seed and sizes always give the same digests.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use crate::content::Content;

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// What `docker pull` sends as `Accept` for a manifest.
pub const PULL_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A blob of the image: its content and digest.
#[derive(Clone)]
pub struct Blob {
    pub content: Content,
    pub digest: String,
}

/// A whole image, ready to push or to check a pull against.
#[derive(Clone)]
pub struct Image {
    pub config: Bytes,
    pub config_digest: String,
    pub layers: Vec<Blob>,
    pub manifest: Bytes,
    pub manifest_digest: String,
}

impl Image {
    /// Image number `id` of `seed` with layers of `sizes` bytes.
    pub fn new(seed: u64, id: u64, sizes: &[u64]) -> Self {
        let layers: Vec<Blob> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let content = Content::new(
                    seed,
                    id.wrapping_mul(1_000_003).wrapping_add(i as u64),
                    size,
                );
                let digest = content.digest();
                Blob { content, digest }
            })
            .collect();
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"berth-load.seed": seed.to_string(), "berth-load.image": id.to_string()}},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>()},
        });
        let config = Bytes::from(serde_json::to_vec(&config).expect("config json"));
        let config_digest = sha256(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config.len()},
            "layers": layers.iter().map(|l| serde_json::json!({
                "mediaType": LAYER_TYPE, "digest": l.digest, "size": l.content.size(),
            })).collect::<Vec<_>>(),
        });
        let manifest = Bytes::from(serde_json::to_vec(&manifest).expect("manifest json"));
        let manifest_digest = sha256(&manifest);
        Image {
            config,
            config_digest,
            layers,
            manifest,
            manifest_digest,
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.config.len() as u64
            + self.manifest.len() as u64
            + self.layers.iter().map(|l| l.content.size()).sum::<u64>()
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The blobs a pulled manifest references: (digest, size) of the config and each layer.
pub fn referenced_blobs(manifest: &[u8]) -> Result<Vec<(String, u64)>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let descriptor = |d: &serde_json::Value| -> Result<(String, u64), String> {
        let digest = d
            .get("digest")
            .and_then(|x| x.as_str())
            .ok_or("descriptor without digest")?;
        let size = d
            .get("size")
            .and_then(|x| x.as_u64())
            .ok_or("descriptor without size")?;
        Ok((digest.to_string(), size))
    };
    let mut out = vec![descriptor(
        v.get("config").ok_or("manifest without config")?,
    )?];
    for l in v
        .get("layers")
        .and_then(|l| l.as_array())
        .ok_or("manifest without layers")?
    {
        out.push(descriptor(l)?);
    }
    Ok(out)
}
