//! The local-filesystem blob store.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{DigestWriter, StorageError};
use crate::oci::{Algorithm, Digest};

/// A named, content-addressed store in one directory (see the module layout in `storage`).
#[derive(Debug)]
pub struct FileStore {
    name: String,
    root: PathBuf,
    /// Bytes of committed blobs (from the metadata at start, then counted on publish).
    used: AtomicU64,
    /// 0 means no quota.
    soft_quota: AtomicU64,
    hard_quota: AtomicU64,
    /// Coordination with garbage collection (see `storage::gate`).
    pub gc: super::GcGate,
}

impl FileStore {
    /// Opens (creating if needed) the store at `root` and removes temp files a crash or an
    /// earlier run left behind: upload sessions do not survive a restart.
    pub fn open(name: &str, root: &Path) -> io::Result<Self> {
        for dir in ["blobs", "uploads", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        let store = FileStore {
            name: name.to_string(),
            root: root.to_path_buf(),
            used: AtomicU64::new(0),
            soft_quota: AtomicU64::new(0),
            hard_quota: AtomicU64::new(0),
            gc: super::GcGate::default(),
        };
        let removed = store.purge_dir("uploads")? + store.purge_dir("tmp")?;
        if removed > 0 {
            tracing::info!(store = name, removed, "removed stale upload files");
        }
        Ok(store)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Sets the quotas (`None` = unlimited) and the bytes already stored.
    pub fn set_quota(&self, soft: Option<u64>, hard: Option<u64>, used: u64) {
        self.soft_quota.store(soft.unwrap_or(0), Ordering::Relaxed);
        self.hard_quota.store(hard.unwrap_or(0), Ordering::Relaxed);
        self.used.store(used, Ordering::Relaxed);
    }

    /// Bytes of committed blobs.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `size` bytes off the used count (a blob was deleted).
    pub fn forget_bytes(&self, size: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(size))
            });
    }

    pub fn soft_quota(&self) -> Option<u64> {
        Some(self.soft_quota.load(Ordering::Relaxed)).filter(|q| *q > 0)
    }

    pub fn hard_quota(&self) -> Option<u64> {
        Some(self.hard_quota.load(Ordering::Relaxed)).filter(|q| *q > 0)
    }

    /// True when over the soft quota (reported, nothing refused).
    pub fn over_soft_quota(&self) -> bool {
        self.soft_quota().is_some_and(|q| self.used_bytes() > q)
    }

    /// Refuses new content once the hard quota is reached; reads are never affected.
    pub fn ensure_capacity(&self) -> Result<(), StorageError> {
        match self.hard_quota() {
            Some(limit) if self.used_bytes() >= limit => Err(StorageError::QuotaExceeded {
                store: self.name.clone(),
                used: self.used_bytes(),
                limit,
            }),
            _ => Ok(()),
        }
    }

    /// Where the blob with `digest` lives once committed.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    /// Starts the temp file of upload session `id` (an id Berth generated, never client text).
    pub fn new_upload(&self, id: &str, algorithm: Algorithm) -> io::Result<DigestWriter> {
        DigestWriter::create(self.root.join("uploads").join(id), algorithm)
    }

    /// Verifies a finished upload against `expected` and publishes it: fsync, rename into the
    /// content-addressed place, fsync the directory. Returns the blob size.
    pub async fn commit(
        &self,
        writer: DigestWriter,
        expected: &Digest,
    ) -> Result<u64, StorageError> {
        let (tmp, mut actual, size) = writer.finish().await?;
        if actual.algorithm() != expected.algorithm() {
            // Sessions hash with sha256 unless the first request named another algorithm.
            // A client that completes with, say, a sha512 digest costs one re-read; this is
            // the only place a stored file is hashed again.
            actual = rehash(&tmp, expected.algorithm()).await?;
        }
        if &actual != expected {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StorageError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        // Verified, but refused by the hard quota: the bytes go, not just the request
        // (the file used to stay in `uploads/` until the next restart).
        if let Err(refused) = self.ensure_capacity() {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(refused);
        }
        let dest = self.blob_path(expected);
        self.publish(tmp, dest, size).await?;
        Ok(size)
    }

    /// Stores small content already in memory (manifests) under its digest, durably.
    pub async fn put_bytes(&self, digest: &Digest, bytes: Bytes) -> Result<(), StorageError> {
        let dest = self.blob_path(digest);
        if tokio::fs::try_exists(&dest).await? {
            return Ok(());
        }
        let tmp = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let tmp_len = bytes.len() as u64;
        let tmp_for_write = tmp.clone();
        let written = tokio::task::spawn_blocking(move || -> io::Result<()> {
            let mut f = std::fs::File::create_new(&tmp_for_write)?;
            f.write_all(&bytes)?;
            f.sync_all()
        })
        .await
        .map_err(io::Error::other)?;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        self.publish(tmp, dest, tmp_len).await
    }

    /// Reads a whole blob (manifests only; layers are streamed by the HTTP layer).
    pub async fn read(&self, digest: &Digest) -> Result<Bytes, StorageError> {
        match tokio::fs::read(self.blob_path(digest)).await {
            Ok(v) => Ok(Bytes::from(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(digest.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Size of a stored blob, or `None`.
    pub async fn stat(&self, digest: &Digest) -> Result<Option<u64>, StorageError> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn publish(&self, tmp: PathBuf, dest: PathBuf, size: u64) -> Result<(), StorageError> {
        if publish_file(tmp, dest).await? {
            let before = self.used.fetch_add(size, Ordering::Relaxed);
            if let Some(soft) = self.soft_quota() {
                if before <= soft && before + size > soft {
                    tracing::warn!(store = %self.name, used = before + size, soft_quota = soft, "blob store is over its soft quota");
                }
            }
        }
        Ok(())
    }

    /// Creates and removes a small file, proving the store accepts writes, and checks that
    /// its filesystem has at least `min_free` bytes available (0: no check): a store that
    /// takes a 5-byte probe but not the next layer is not ready for pushes.
    pub async fn check_writable(&self, min_free: u64) -> Result<(), StorageError> {
        if min_free > 0 {
            let free = self.free_bytes().await?;
            if free < min_free {
                return Err(StorageError::NearlyFull {
                    store: self.name.clone(),
                    free,
                    min: min_free,
                });
            }
        }
        let probe = self
            .root
            .join("tmp")
            .join(format!(".probe-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&probe, b"probe").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }

    /// Bytes an unprivileged writer may still use on the store's filesystem (`statvfs`).
    pub async fn free_bytes(&self) -> io::Result<u64> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || available_bytes(&root))
            .await
            .map_err(io::Error::other)?
    }

    /// Removes files in `uploads/` that belong to no live upload session (`live` holds the
    /// session ids of every repository using this store) and were last written at least
    /// `max_idle_secs` ago, never less than [`ORPHAN_MIN_AGE_SECS`]: a monolithic upload
    /// in progress has a file there too, without a session.
    pub async fn purge_orphan_uploads(
        &self,
        live: &std::collections::HashSet<String>,
        max_idle_secs: u64,
    ) -> io::Result<usize> {
        let dir = self.root.join("uploads");
        let live = live.clone();
        let min_age = std::time::Duration::from_secs(max_idle_secs.max(ORPHAN_MIN_AGE_SECS));
        let removed = tokio::task::spawn_blocking(move || -> io::Result<usize> {
            let mut removed = 0;
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let meta = entry.metadata()?;
                let age = meta.modified()?.elapsed().unwrap_or_default();
                if meta.is_file() && !live.contains(&name) && age >= min_age {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(removed)
    }

    fn purge_dir(&self, dir: &str) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join(dir))? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn available_bytes(path: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: statvfs(3) with a NUL-terminated path and a zeroed struct it fills in.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Youngest an upload file without a session may be to count as abandoned.
pub const ORPHAN_MIN_AGE_SECS: u64 = 3600;

async fn rehash(path: &Path, algorithm: Algorithm) -> Result<Digest, StorageError> {
    let path = path.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || -> io::Result<Digest> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut hasher = crate::oci::Hasher::new(algorithm);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(hasher.finish());
            }
            hasher.update(&buf[..n]);
        }
    })
    .await
    .map_err(io::Error::other)??;
    Ok(digest)
}

/// Renames `tmp` to `dest` (creating the fan-out directory) and fsyncs the directory so the
/// rename itself survives a crash. Identical content may already be there: the rename then
/// replaces it with the same bytes, which is harmless. Returns whether the blob is new.
async fn publish_file(tmp: PathBuf, dest: PathBuf) -> Result<bool, StorageError> {
    let result = tokio::task::spawn_blocking(move || -> io::Result<bool> {
        let dir = dest.parent().expect("blob paths have a parent");
        std::fs::create_dir_all(dir)?;
        let new = !dest.exists();
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::File::open(dir)?.sync_all()?;
        Ok(new)
    })
    .await
    .map_err(io::Error::other)?;
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_committed_upload_is_readable_under_its_digest_and_the_temp_file_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open("default", dir.path()).unwrap();
        let mut w = store.new_upload("u1", Algorithm::Sha256).unwrap();
        w.push(Bytes::from_static(b"layer bytes")).await.unwrap();
        let digest = Digest::of_bytes(Algorithm::Sha256, b"layer bytes");
        assert_eq!(store.commit(w, &digest).await.unwrap(), 11);
        assert_eq!(&store.read(&digest).await.unwrap()[..], b"layer bytes");
        assert!(!dir.path().join("uploads/u1").exists());
    }

    #[tokio::test]
    async fn a_digest_mismatch_publishes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open("default", dir.path()).unwrap();
        let mut w = store.new_upload("u2", Algorithm::Sha256).unwrap();
        w.push(Bytes::from_static(b"actual")).await.unwrap();
        let claimed = Digest::of_bytes(Algorithm::Sha256, b"claimed");
        let err = store.commit(w, &claimed).await.unwrap_err();
        assert!(matches!(err, StorageError::DigestMismatch { .. }));
        assert_eq!(store.stat(&claimed).await.unwrap(), None);
        assert!(!dir.path().join("uploads/u2").exists());
    }

    #[tokio::test]
    async fn upload_purge_removes_old_files_without_a_session_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open("default", dir.path()).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for name in ["orphan", "session", "young"] {
            let f = std::fs::File::create(dir.path().join("uploads").join(name)).unwrap();
            if name != "young" {
                f.set_modified(old).unwrap();
            }
        }
        let live = std::collections::HashSet::from(["session".to_string()]);
        assert_eq!(store.purge_orphan_uploads(&live, 0).await.unwrap(), 1);
        assert!(!dir.path().join("uploads/orphan").exists());
        assert!(dir.path().join("uploads/session").exists());
        assert!(dir.path().join("uploads/young").exists());
    }

    #[test]
    fn opening_a_store_removes_stale_upload_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("uploads")).unwrap();
        std::fs::write(dir.path().join("uploads/stale"), b"partial").unwrap();
        FileStore::open("default", dir.path()).unwrap();
        assert!(!dir.path().join("uploads/stale").exists());
    }
}
