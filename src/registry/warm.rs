//! Pre-warming a proxy: a list of image references (one per line) is resolved through a
//! proxy or a group, each manifest (an index and the chosen platforms' manifests) cached,
//! and every blob they list downloaded into the cache, with bounded concurrency and
//! progress. A dry run resolves the manifests (they are needed to know what to fetch, and
//! are cached) and reports the blobs that are missing and their size, downloading none.
//!
//! List format: `name[:tag|@digest] [os/arch[/variant],…]`; blank lines and `#` comments are
//! skipped; a name without tag means `latest`; the platforms on a line (or, if none, those
//! of the request) filter an index's children; no filter takes them all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::proxied::{self, BlobFetch};
use super::{read, Hosted, RegistryError};
use crate::oci::{Digest, ImageName, Reference};

/// One line of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmImage {
    pub name: ImageName,
    pub reference: Reference,
    pub platforms: Vec<String>,
}

/// A parsed list, or the first line that could not be read (1-based).
pub fn parse_list(text: &str) -> Result<Vec<WarmImage>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_line(line).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<WarmImage, String> {
    let mut parts = line.split_whitespace();
    let image = parts.next().unwrap_or_default();
    let platforms = parts
        .flat_map(|p| p.split(','))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let (name, reference) = match image.split_once('@') {
        Some((n, d)) => (n, d),
        // A `:` after the last `/` separates the tag (a registry port has a `/` after it).
        None => match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((n, t)) => (n, t),
            None => (image, "latest"),
        },
    };
    Ok(WarmImage {
        name: ImageName::parse(name).map_err(|e| format!("{name:?}: {e}"))?,
        reference: Reference::parse(reference).map_err(|e| format!("{reference:?}: {e}"))?,
        platforms,
    })
}

/// What a warm run did (or, dry, would do); also its progress while it runs.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WarmReport {
    pub dry_run: bool,
    pub images: usize,
    pub images_done: usize,
    pub manifests: usize,
    /// Distinct blobs the images list.
    pub blobs: usize,
    pub blobs_cached_before: usize,
    /// Blobs downloaded (dry run: that would be).
    pub blobs_fetched: usize,
    pub bytes_fetched: u64,
    pub bytes_per_sec: u64,
    pub seconds: f64,
    /// `image: problem`, for the images or blobs that failed.
    pub errors: Vec<String>,
}

/// Where a run publishes its progress (called after each image and blob).
pub type ProgressSink = Arc<dyn Fn(&WarmReport) + Send + Sync>;

#[derive(Deserialize)]
struct Listed {
    #[serde(default)]
    manifests: Vec<Child>,
    #[serde(default)]
    config: Option<Blob>,
    #[serde(default)]
    layers: Vec<Blob>,
}

#[derive(Deserialize)]
struct Child {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize, Clone)]
struct Blob {
    digest: String,
    size: u64,
}

impl Platform {
    fn matches(&self, wanted: &[String]) -> bool {
        let short = format!("{}/{}", self.os, self.architecture);
        let long = self
            .variant
            .as_ref()
            .map(|v| format!("{short}/{v}"))
            .unwrap_or_else(|| short.clone());
        wanted.iter().any(|w| *w == short || *w == long)
    }
}

/// Warms `images` through `readers` (a proxy, or a group's members).
pub async fn warm(
    readers: Vec<Hosted>,
    images: Vec<WarmImage>,
    dry_run: bool,
    concurrency: usize,
    progress: ProgressSink,
) -> Result<WarmReport, RegistryError> {
    if !readers.iter().any(|r| r.proxy().is_some()) {
        return Err(RegistryError::Definition(
            "pre-warming needs a proxy repository, or a group with one".into(),
        ));
    }
    let started = Instant::now();
    let report = Arc::new(Mutex::new(WarmReport {
        dry_run,
        images: images.len(),
        ..WarmReport::default()
    }));
    let publish = |report: &Mutex<WarmReport>| {
        let mut r = report.lock().unwrap();
        r.seconds = started.elapsed().as_secs_f64();
        r.bytes_per_sec = (r.bytes_fetched as f64 / r.seconds.max(0.001)) as u64;
        progress(&r);
    };
    // Blobs to fetch, by digest (images often share layers), with the image that lists it.
    let mut wanted: BTreeMap<Digest, (ImageName, u64)> = BTreeMap::new();
    for image in &images {
        match resolve(&readers, image).await {
            Ok((manifests, blobs)) => {
                report.lock().unwrap().manifests += manifests;
                for b in blobs {
                    if let Ok(d) = Digest::parse(&b.digest) {
                        wanted.entry(d).or_insert((image.name.clone(), b.size));
                    }
                }
            }
            Err(e) => report
                .lock()
                .unwrap()
                .errors
                .push(format!("{}:{}: {e}", image.name, image.reference)),
        }
        report.lock().unwrap().images_done += 1;
        publish(&report);
    }
    report.lock().unwrap().blobs = wanted.len();
    let jobs = wanted.into_iter().map(|(digest, (name, size))| {
        let (readers, report) = (&readers, report.clone());
        let publish = &publish;
        async move {
            match read::find_blob(readers, &name, &digest).await {
                Ok(_) => report.lock().unwrap().blobs_cached_before += 1,
                Err(_) if dry_run => {
                    let mut r = report.lock().unwrap();
                    r.blobs_fetched += 1;
                    r.bytes_fetched += size;
                }
                Err(_) => match fetch(readers, &name, &digest).await {
                    Ok(bytes) => {
                        let mut r = report.lock().unwrap();
                        r.blobs_fetched += 1;
                        r.bytes_fetched += bytes;
                    }
                    Err(e) => report
                        .lock()
                        .unwrap()
                        .errors
                        .push(format!("{name}@{digest}: {e}")),
                },
            }
            publish(&report);
        }
    });
    futures_util::stream::iter(jobs)
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<()>>()
        .await;
    publish(&report);
    let out = report.lock().unwrap().clone();
    Ok(out)
}

/// Caches an image's manifest (and an index's chosen children); returns how many
/// manifests and the blobs they list.
async fn resolve(
    readers: &[Hosted],
    image: &WarmImage,
) -> Result<(usize, Vec<Blob>), RegistryError> {
    let top = manifest(readers, &image.name, &image.reference).await?;
    if top.manifests.is_empty() {
        return Ok((1, top.config.into_iter().chain(top.layers).collect()));
    }
    let mut count = 1;
    let mut blobs = Vec::new();
    for child in top.manifests {
        let chosen = image.platforms.is_empty()
            || child
                .platform
                .as_ref()
                .is_some_and(|p| p.matches(&image.platforms));
        if !chosen {
            continue;
        }
        let digest = Digest::parse(&child.digest)
            .map_err(|e| RegistryError::Definition(format!("index child: {e}")))?;
        let m = manifest(readers, &image.name, &Reference::Digest(digest)).await?;
        count += 1;
        blobs.extend(m.config.into_iter().chain(m.layers));
    }
    Ok((count, blobs))
}

async fn manifest(
    readers: &[Hosted],
    name: &ImageName,
    reference: &Reference,
) -> Result<Listed, RegistryError> {
    let found = read::find_manifest(readers, name, reference).await?;
    let bytes = found.repo.manifest_bytes(&found.digest).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::Definition(format!("manifest {}: {e}", found.digest)))
}

/// Downloads one blob into the first proxy that has it; returns its size.
async fn fetch(
    readers: &[Hosted],
    name: &ImageName,
    digest: &Digest,
) -> Result<u64, RegistryError> {
    let mut last = RegistryError::BlobUnknown(digest.clone());
    for repo in readers.iter().filter(|r| r.proxy().is_some()) {
        match proxied::fetch_blob(repo, name, digest).await {
            Ok(BlobFetch::Cached) => {
                return read::find_blob(std::slice::from_ref(repo), name, digest)
                    .await
                    .map(|(_, size)| size)
            }
            Ok(BlobFetch::Streaming { mut body, .. }) => {
                let mut size = 0u64;
                while let Some(chunk) = body.recv().await {
                    size += chunk
                        .map_err(|e| RegistryError::Unavailable(e.to_string()))?
                        .len() as u64;
                }
                return Ok(size);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Concurrent blob downloads of a warm run unless its task says otherwise.
const DEFAULT_CONCURRENCY: usize = 4;
/// The most a task may ask for (each holds an upstream connection).
const MAX_CONCURRENCY: usize = 32;

/// Checks a warm task's properties: `repositoryName` (a proxy or a group), `images` (the
/// list), optional `platforms` (comma-separated), `dryRun` (`true`/`false`) and
/// `concurrency` (1 to 32). Returns the offending field and why.
pub fn check_properties(
    registry: &super::Registry,
    props: &BTreeMap<String, String>,
) -> Result<(), (&'static str, String)> {
    let repo = props
        .get("repositoryName")
        .ok_or(("repositoryName", "is required".to_string()))?;
    let repository = registry
        .repository(repo)
        .ok_or(("repositoryName", "repository not found".to_string()))?;
    if !registry
        .readers(&repository)
        .is_ok_and(|r| r.iter().any(|h| h.proxy().is_some()))
    {
        return Err((
            "repositoryName",
            "must be a proxy repository or a group with one".into(),
        ));
    }
    parse_list(props.get("images").map_or("", String::as_str)).map_err(|e| ("images", e))?;
    if let Some(c) = props.get("concurrency") {
        c.trim()
            .parse::<usize>()
            .ok()
            .filter(|c| (1..=MAX_CONCURRENCY).contains(c))
            .ok_or(("concurrency", format!("must be 1 to {MAX_CONCURRENCY}")))?;
    }
    if props
        .get("dryRun")
        .is_some_and(|v| v != "true" && v != "false")
    {
        return Err(("dryRun", "must be true or false".into()));
    }
    Ok(())
}

impl super::Registry {
    /// Runs a `repository.docker.proxy-warm` task, publishing its progress in the task's
    /// run state; returns the report.
    pub async fn warm_task(
        &self,
        def: &crate::model::task::TaskDef,
        state: Arc<std::sync::Mutex<crate::model::task::RunState>>,
    ) -> Result<serde_json::Value, RegistryError> {
        let props = &def.properties;
        check_properties(self, props)
            .map_err(|(field, e)| RegistryError::Definition(format!("{field}: {e}")))?;
        let repo = self
            .repository(&props["repositoryName"])
            .ok_or_else(|| RegistryError::RepositoryUnknown(props["repositoryName"].clone()))?;
        let mut images = parse_list(props.get("images").map_or("", String::as_str))
            .map_err(RegistryError::Definition)?;
        let platforms: Vec<String> = props
            .get("platforms")
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for image in images.iter_mut().filter(|i| i.platforms.is_empty()) {
            image.platforms = platforms.clone();
        }
        let dry_run = props.get("dryRun").is_some_and(|v| v == "true");
        let concurrency = props
            .get("concurrency")
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(DEFAULT_CONCURRENCY);
        let readers = self.readers(&repo)?;
        if !dry_run {
            // "Keep these warm": a scheduled run asks the upstream where each tag points now.
            for proxy in readers.iter().filter_map(|r| r.proxy()) {
                for image in &images {
                    if let Reference::Tag(tag) = &image.reference {
                        proxy.forget_fresh(image.name.as_str(), tag.as_str());
                    }
                }
            }
        }
        let sink: ProgressSink = Arc::new(move |r: &WarmReport| {
            state.lock().unwrap().progress = serde_json::to_value(r).ok();
        });
        let report = warm(readers, images, dry_run, concurrency, sink).await?;
        tracing::info!(
            task = %def.id,
            images = report.images,
            blobs_fetched = report.blobs_fetched,
            bytes = report.bytes_fetched,
            errors = report.errors.len(),
            "proxy warm finished"
        );
        if !report.errors.is_empty() && report.images_done > 0 && report.manifests == 0 {
            return Err(RegistryError::Definition(format!(
                "no image could be resolved: {}",
                report.errors.join("; ")
            )));
        }
        Ok(serde_json::to_value(report).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_lines_name_tags_digests_and_platforms() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!(
            "# base images\nalpine\n\nlibrary/debian:12 linux/amd64,linux/arm64/v8\nteam/app@{d}  # pinned\n"
        );
        let list = parse_list(&text).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].reference.to_string(), "latest");
        assert_eq!(list[1].name.as_str(), "library/debian");
        assert_eq!(list[1].platforms, vec!["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(list[2].reference.to_string(), d);
        assert!(parse_list("ok\nBad Name\n")
            .unwrap_err()
            .starts_with("line 2"));
    }
}
