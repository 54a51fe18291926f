//! Walks one hosted repository on the source through its registry API — catalog → tags →
//! manifests → index children — and records what copying it involves: every manifest (small:
//! kept in memory, to be put on the target byte for byte) and every blob with its size
//! (never fetched here). The plan is also the dry run's answer and the progress total.

use std::collections::{BTreeMap, HashMap};

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::error::ImportError;
use super::registry::{Manifest, RegistryClient};
use crate::oci::manifest::ParsedManifest;

/// One tag: its manifest, the manifests under it (children before parents) and its blobs.
pub struct TagPlan {
    pub tag: String,
    pub top: Manifest,
    pub children: Vec<Manifest>,
    pub blobs: Vec<(String, u64)>,
}

pub struct ImagePlan {
    pub name: String,
    pub tags: Vec<TagPlan>,
}

/// A repository's content.
#[derive(Default)]
pub struct RepoPlan {
    pub name: String,
    pub images: Vec<ImagePlan>,
    /// Distinct blobs and their sizes.
    pub blobs: BTreeMap<String, u64>,
    pub manifests: u64,
    pub errors: Vec<String>,
}

impl RepoPlan {
    pub fn tags(&self) -> u64 {
        self.images.iter().map(|i| i.tags.len() as u64).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.blobs.values().sum()
    }
}

/// Plans `repository`, reading up to `concurrency` images at once. A tag that cannot be
/// read is recorded as an error and left out; the rest of the repository is still planned.
pub async fn plan_repository(
    source: &RegistryClient,
    repository: &str,
    concurrency: usize,
) -> Result<RepoPlan, ImportError> {
    let catalog = source.catalog().await?;
    let results: Vec<(ImagePlan, Vec<String>)> = stream::iter(catalog)
        .map(|image| plan_image(source, image))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut plan = RepoPlan {
        name: repository.to_string(),
        ..RepoPlan::default()
    };
    for (image, errors) in results {
        plan.errors.extend(errors);
        for tag in &image.tags {
            plan.manifests += 1 + tag.children.len() as u64;
            for (digest, size) in &tag.blobs {
                plan.blobs.insert(digest.clone(), *size);
            }
        }
        if !image.tags.is_empty() {
            plan.images.push(image);
        }
    }
    plan.images.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(plan)
}

async fn plan_image(source: &RegistryClient, image: String) -> (ImagePlan, Vec<String>) {
    let mut errors = Vec::new();
    let mut tags = Vec::new();
    let tag_names = match source.tags(&image).await {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("{image}: tags: {e}"));
            Vec::new()
        }
    };
    // Tags of one image often share index children: fetch each digest once.
    let mut seen: HashMap<String, Manifest> = HashMap::new();
    for tag in tag_names {
        match plan_tag(source, &image, &tag, &mut seen).await {
            Ok(t) => tags.push(t),
            Err(e) => errors.push(format!("{image}:{tag}: {e}")),
        }
    }
    (ImagePlan { name: image, tags }, errors)
}

async fn plan_tag(
    source: &RegistryClient,
    image: &str,
    tag: &str,
    seen: &mut HashMap<String, Manifest>,
) -> Result<TagPlan, ImportError> {
    let top = complete(source.get_manifest(image, tag).await?)?;
    let mut children = Vec::new();
    let mut blobs = Vec::new();
    // Depth-first; a child is listed before the index that names it.
    let mut stack = vec![(top.clone(), false)];
    while let Some((manifest, expanded)) = stack.pop() {
        if expanded {
            if manifest.digest != top.digest {
                children.push(manifest);
            }
            continue;
        }
        let parsed = ParsedManifest::parse(&manifest.bytes, Some(&manifest.media_type))
            .map_err(|e| ImportError::Malformed(format!("manifest {}: {e}", manifest.digest)))?;
        blobs.extend(blob_sizes(&manifest.bytes, &parsed));
        stack.push((manifest, true));
        for child in parsed.children {
            let digest = child.as_str().to_string();
            let fetched = match seen.get(&digest) {
                Some(m) => m.clone(),
                None => complete(source.get_manifest(image, &digest).await?)?,
            };
            seen.insert(digest, fetched.clone());
            stack.push((fetched, false));
        }
    }
    Ok(TagPlan {
        tag: tag.to_string(),
        top,
        children,
        blobs,
    })
}

/// Fills in the media type from the manifest itself when the server sent none (or a
/// generic one).
fn complete(mut m: Manifest) -> Result<Manifest, ImportError> {
    if !m.media_type.contains("manifest") && !m.media_type.contains("index") {
        let parsed = ParsedManifest::parse(&m.bytes, None)
            .map_err(|e| ImportError::Malformed(format!("manifest {}: {e}", m.digest)))?;
        m.media_type = parsed.media_type;
    }
    Ok(m)
}

/// The (digest, size) of each blob the manifest references (config and layers; foreign
/// layers are left out by the parser, as the registry does not hold them).
fn blob_sizes(bytes: &[u8], parsed: &ParsedManifest) -> Vec<(String, u64)> {
    let raw: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let mut sizes: HashMap<&str, u64> = HashMap::new();
    let layers = raw["layers"].as_array().into_iter().flatten();
    for d in std::iter::once(&raw["config"]).chain(layers) {
        if let (Some(digest), Some(size)) = (d["digest"].as_str(), d["size"].as_u64()) {
            sizes.insert(digest, size);
        }
    }
    parsed
        .blobs
        .iter()
        .map(|d| {
            (
                d.as_str().to_string(),
                sizes.get(d.as_str()).copied().unwrap_or(0),
            )
        })
        .collect()
}
