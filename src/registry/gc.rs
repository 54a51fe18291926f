//! Online garbage collection of one blob store: deletes blob files that no manifest of any
//! repository in the store references, while pushes and pulls continue.
//!
//! # What is live
//! A digest is live if, in any image of any hosted repository using the store, it is a
//! manifest (tagged, untagged, index child or referrer: all are manifest rows), or a
//! manifest references it (config, layers, index children), or it is linked to an image
//! (uploaded or mounted) at or after the *cutoff* = now − grace window. The grace window
//! protects layers of a push in progress, which are uploaded before the manifest that
//! names them. A deleted repository's images are gone from the metadata, so what only it
//! referenced stops being live.
//!
//! # Protocol
//! 1. **Mark**, without any lock: read the live set from the metadata (one query).
//! 2. **Candidates**: blobs the store lists and inventory rows of the store that are not in the
//!    live set, whose file is older than the cutoff (a file just published but not yet
//!    linked is young) and that no client asked about (`HEAD`) since the cutoff.
//! 3. **Sweep** in small batches. Each batch holds the store's reference lock exclusively
//!    (see `storage::gate`, kept by `storage::ManagedStore` whatever the backend). Every
//!    operation that creates a reference — publish + link of an upload or of a proxy
//!    download, a mount, storing a pushed or cached manifest with its record — holds that
//!    lock shared from before it looks at the store until its metadata is committed. They
//!    all go through the repository handle (`Hosted::push_blob`, `cache_blob`,
//!    `mount_blob`, `push_manifest`, `cache_manifest`), the only code that takes the lock
//!    shared; HTTP handlers and the proxy cache call those and never publish themselves. So under the exclusive
//!    lock each such operation is either committed (and the re-check below sees it) or has
//!    not looked yet (and will see the blob gone: an upload writes the file again, a mount
//!    falls back to an upload, a manifest naming it is refused with `MANIFEST_BLOB_UNKNOWN`
//!    — never accepted with a missing blob).
//!    For each candidate the batch re-checks liveness in the database, the `HEAD` touch and
//!    the file age; then deletes the metadata of the batch's dead blobs (inventory rows and
//!    stale links) in one transaction, drops the links from the in-memory image states, and
//!    only then unlinks the files. Image states being loaded concurrently re-read if a batch overlapped them
//!    (the gate's epoch), so no stale link survives in memory.
//! 4. A crash between the metadata commit and the unlink leaves an unreferenced file with no
//!    row: the next run deletes it. Nothing referenced is ever touched, so a crash at any
//!    point loses nothing.
//!
//! Across nodes sharing one metadata database the reference lock is also a cluster lock
//! (`storage::gate`: a PostgreSQL advisory lock, shared for writers, exclusive per batch),
//! so the protocol holds when the sweep runs on one node and the writes land on another.
//!
//! Only one collection runs per store at a time, in the whole cluster (the lease
//! `gc-run:<store>`). Progress is logged per batch and exported
//! as metrics; the run returns what it freed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{Registry, RegistryError, Repository};
use crate::clock::now;
use crate::oci::{Digest, ImageName};
use crate::storage::{ManagedStore, RunRefused};

/// Candidates re-checked and deleted under one hold of the exclusive lock: small, so pushes
/// wait at most a few milliseconds.
const SWEEP_BATCH: usize = 64;

/// What one collection did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    pub blob_store: String,
    /// Blob files found on disk when the run started.
    pub blobs_scanned: u64,
    /// Digests that looked dead after the mark.
    pub candidates: u64,
    /// Candidates found live (or young) again on re-check.
    pub kept_on_recheck: u64,
    pub blobs_deleted: u64,
    pub bytes_freed: u64,
    pub duration_ms: u64,
}

/// A digest that looked dead, with what the scan knew of it.
struct Candidate {
    digest: Digest,
}

impl Registry {
    /// Collects garbage in blob store `store`, protecting anything linked within the last
    /// `grace_secs` seconds. Refused while another collection of the store runs.
    pub async fn collect_garbage(
        &self,
        store_name: &str,
        grace_secs: u64,
    ) -> Result<GcReport, RegistryError> {
        self.collect_garbage_reporting(store_name, grace_secs, &|_| {})
            .await
    }

    /// As [`Registry::collect_garbage`], telling `progress` where the run is (after the mark
    /// and after every sweep batch): what `berth gc` shows while it waits.
    pub async fn collect_garbage_reporting(
        &self,
        store_name: &str,
        grace_secs: u64,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<GcReport, RegistryError> {
        let store = self
            .blob_store(store_name)
            .ok_or_else(|| RegistryError::BlobStoreUnknown(store_name.to_string()))?;
        // One collection per store in the whole cluster (the lease `gc-run:<store>`).
        let running = store.gc.start_run().await.map_err(|e| match e {
            RunRefused::AlreadyRunning(_) => RegistryError::Definition(e.to_string()),
            RunRefused::Meta(e) => RegistryError::Meta(e),
        })?;
        let started = Instant::now();
        metrics::gauge!(crate::metrics::GC_RUNNING, "store" => store_name.to_string()).set(1.0);
        progress(format!("blob store {store_name}: marking live blobs"));
        let result = self.collect(&store, grace_secs, progress).await;
        running.release().await;
        metrics::gauge!(crate::metrics::GC_RUNNING, "store" => store_name.to_string()).set(0.0);
        let mut report = result?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        crate::metrics::gc_finished(
            &report.blob_store,
            report.blobs_deleted,
            report.bytes_freed,
            report.duration_ms,
        );
        tracing::info!(
            store = store_name,
            deleted = report.blobs_deleted,
            bytes_freed = report.bytes_freed,
            kept_on_recheck = report.kept_on_recheck,
            duration_ms = report.duration_ms,
            "garbage collection finished"
        );
        Ok(report)
    }

    async fn collect(
        &self,
        store: &Arc<ManagedStore>,
        grace_secs: u64,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<GcReport, RegistryError> {
        let cutoff = now() - grace_secs as i64;
        let repos = self.repositories_in_store(store.name());
        let mut report = GcReport {
            blob_store: store.name().to_string(),
            ..GcReport::default()
        };
        let live = self.meta.gc().live_digests(&repos, cutoff).await?;
        let files = store.list().await?;
        report.blobs_scanned = files.len() as u64;
        let mut dead: HashMap<String, Candidate> = HashMap::new();
        for f in files {
            if !live.contains(f.digest.as_str()) {
                dead.insert(f.digest.to_string(), Candidate { digest: f.digest });
            }
        }
        for (digest, _) in self.meta.gc().store_blobs(store.name()).await? {
            if live.contains(&digest) || dead.contains_key(&digest) {
                continue;
            }
            if let Ok(d) = Digest::parse(&digest) {
                dead.insert(digest, Candidate { digest: d });
            }
        }
        report.candidates = dead.len() as u64;
        tracing::info!(
            store = store.name(),
            scanned = report.blobs_scanned,
            live = live.len(),
            candidates = report.candidates,
            "garbage collection: mark done"
        );
        let sweeping = |r: &GcReport, checked: usize| {
            format!(
                "blob store {}: marked {} live of {} blobs; sweeping {checked}/{} candidates, \
                 deleted {} ({} bytes freed)",
                r.blob_store,
                live.len(),
                r.blobs_scanned,
                r.candidates,
                r.blobs_deleted,
                r.bytes_freed
            )
        };
        progress(sweeping(&report, 0));
        let candidates: Vec<Candidate> = dead.into_values().collect();
        for (i, batch) in candidates.chunks(SWEEP_BATCH).enumerate() {
            self.sweep_batch(store, &repos, batch, cutoff, &mut report)
                .await?;
            let checked = (i * SWEEP_BATCH + batch.len()).min(candidates.len());
            progress(sweeping(&report, checked));
            if (i + 1) % 16 == 0 {
                tracing::info!(
                    store = store.name(),
                    checked = (i + 1) * SWEEP_BATCH,
                    of = candidates.len(),
                    deleted = report.blobs_deleted,
                    "garbage collection: sweeping"
                );
            }
        }
        store.gc.forget_touches_before(cutoff);
        Ok(report)
    }

    /// Re-checks and deletes one batch under the store's exclusive reference lock.
    async fn sweep_batch(
        &self,
        store: &Arc<ManagedStore>,
        repos: &[String],
        batch: &[Candidate],
        cutoff: i64,
        report: &mut GcReport,
    ) -> Result<(), RegistryError> {
        let _exclusive = store.gc.sweeping().await?;
        let mut dead = Vec::new();
        for c in batch {
            let file = store.stat(&c.digest).await?;
            let young = file.is_some_and(|f| f.modified >= cutoff);
            if young
                || store.gc.touched_since(&c.digest, cutoff)
                || self
                    .meta
                    .gc()
                    .is_live(repos, c.digest.as_str(), cutoff)
                    .await?
            {
                report.kept_on_recheck += 1;
            } else {
                dead.push(&c.digest);
            }
        }
        if dead.is_empty() {
            return Ok(());
        }
        // Metadata first (one transaction for the batch), files after: a crash in between
        // leaves only unreferenced files, which the next run deletes.
        let names: Vec<&str> = dead.iter().map(|d| d.as_str()).collect();
        let linked = self
            .meta
            .gc()
            .forget_blobs(store.name(), repos, &names)
            .await?;
        for (digest, (links, counted)) in dead.into_iter().zip(linked) {
            self.drop_links(&links, digest);
            let freed = store.delete(digest).await?;
            // The used-bytes count is the inventory's (as at start): a file without a row
            // (left by a crash) was never counted, so it is not subtracted.
            store.forget_bytes(counted.unwrap_or(0));
            report.blobs_deleted += 1;
            report.bytes_freed += freed;
        }
        Ok(())
    }

    /// Removes swept links from the loaded image states (unloaded images read the database,
    /// which no longer has them).
    fn drop_links(&self, linked: &[(String, String)], digest: &Digest) {
        for (repository, image) in linked {
            let (Some(Repository::Hosted(h)), Ok(name)) =
                (self.repository(repository), ImageName::parse(image))
            else {
                continue;
            };
            if let Some(state) = h.core.images.get(&name) {
                state.unlink_blob(digest);
                h.core.images.recharge(&state);
            }
        }
    }

    /// Names of the hosted repositories whose blobs live in `store`.
    pub fn repositories_in_store(&self, store: &str) -> Vec<String> {
        self.repos
            .iter()
            .filter_map(|r| match r.value() {
                Repository::Hosted(h) if h.core.store.name() == store => Some(r.key().clone()),
                _ => None,
            })
            .collect()
    }
}
