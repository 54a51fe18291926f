//! The local-filesystem blob store: the [`BlobStore`] backend of every store today.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{
    BlobBody, BlobStat, BlobStore, ByteRange, Committed, DigestWriter, OpenedBlob, StagedBlob,
    StagedTail, StorageError, StoredBlob,
};
use crate::oci::{Algorithm, Digest};

/// A named, content-addressed store in one directory (see the module layout in `storage`).
#[derive(Debug)]
pub struct FileStore {
    name: String,
    root: PathBuf,
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
        };
        let removed = store.purge_dir("uploads")? + store.purge_dir("tmp")?;
        if removed > 0 {
            tracing::info!(store = name, removed, "removed stale upload files");
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives once committed.
    pub(super) fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
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

    async fn put_file(&self, digest: &Digest, bytes: Bytes) -> Result<bool, StorageError> {
        let dest = self.blob_path(digest);
        if tokio::fs::try_exists(&dest).await? {
            return Ok(false);
        }
        let tmp = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
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
        publish_file(tmp, dest).await
    }
}

impl BlobStore for FileStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn stage<'a>(
        &'a self,
        id: &'a str,
        algorithm: Algorithm,
    ) -> BoxFuture<'a, Result<Box<dyn StagedBlob>, StorageError>> {
        Box::pin(async move {
            let writer = DigestWriter::create(self.root.join("uploads").join(id), algorithm)?;
            let staged: Box<dyn StagedBlob> = Box::new(FileStaged {
                id: id.to_string(),
                writer,
            });
            Ok(staged)
        })
    }

    fn commit<'a>(
        &'a self,
        staged: Box<dyn StagedBlob>,
        expected: &'a Digest,
    ) -> BoxFuture<'a, Result<Committed, StorageError>> {
        Box::pin(async move {
            let staged = staged.into_any().downcast::<FileStaged>().map_err(|_| {
                StorageError::Io(io::Error::other("upload staged by another store"))
            })?;
            let (tmp, mut actual, size) = staged.writer.finish().await?;
            if actual.algorithm() != expected.algorithm() {
                // Sessions hash with sha256 unless the first request named another algorithm.
                // A client that completes with, say, a sha512 digest costs one re-read; this is
                // the only place a stored file is hashed again.
                actual = match rehash(&tmp, expected.algorithm()).await {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = tokio::fs::remove_file(&tmp).await;
                        return Err(e);
                    }
                };
            }
            if &actual != expected {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(StorageError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
            let new = publish_file(tmp, self.blob_path(expected)).await?;
            Ok(Committed { size, new })
        })
    }

    fn put_bytes<'a>(
        &'a self,
        digest: &'a Digest,
        bytes: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move { self.put_file(digest, bytes).await })
    }

    fn read_bytes<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            match tokio::fs::read(self.blob_path(digest)).await {
                Ok(v) => Ok(Bytes::from(v)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(StorageError::NotFound(digest.clone()))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn open<'a>(
        &'a self,
        digest: &'a Digest,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<OpenedBlob, StorageError>> {
        Box::pin(async move {
            let file = match tokio::fs::File::open(self.blob_path(digest)).await {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StorageError::NotFound(digest.clone()))
                }
                Err(e) => return Err(e.into()),
            };
            let size = file.metadata().await?.len();
            let (offset, len) = super::clamp_range(range, size)?;
            let file = file.into_std().await;
            Ok(OpenedBlob {
                size,
                body: BlobBody::File { file, offset, len },
            })
        })
    }

    fn stat<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<BlobStat>, StorageError>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.blob_path(digest)).await {
                Ok(m) => Ok(Some(BlobStat {
                    size: m.len(),
                    modified: super::listing::modified_secs(&m),
                })),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredBlob>, StorageError>> {
        Box::pin(async move { Ok(self.list_blobs().await?) })
    }

    fn delete<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move { Ok(self.remove_blob(digest).await?) })
    }

    /// Removes files in `uploads/` that belong to no live upload session and were last
    /// written at least `min_age_secs` ago.
    fn purge_staged<'a>(
        &'a self,
        live: &'a HashSet<String>,
        min_age_secs: u64,
    ) -> BoxFuture<'a, Result<usize, StorageError>> {
        Box::pin(async move {
            let dir = self.root.join("uploads");
            let live = live.clone();
            let min_age = std::time::Duration::from_secs(min_age_secs);
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
        })
    }

    /// Creates and removes a small file, proving the store accepts writes, and checks that
    /// its filesystem has at least `min_free` bytes available (0: no check): a store that
    /// takes a 5-byte probe but not the next layer is not ready for pushes.
    fn check_writable(&self, min_free: u64) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            if min_free > 0 {
                let free = self.free_bytes().await?.unwrap_or(u64::MAX);
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
        })
    }

    /// Bytes an unprivileged writer may still use on the store's filesystem (`statvfs`).
    fn free_bytes(&self) -> BoxFuture<'_, Result<Option<u64>, StorageError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let free = tokio::task::spawn_blocking(move || available_bytes(&root))
                .await
                .map_err(io::Error::other)??;
            Ok(Some(free))
        })
    }
}

/// An upload staged in `uploads/<id>`.
#[derive(Debug)]
struct FileStaged {
    id: String,
    writer: DigestWriter,
}

impl StagedBlob for FileStaged {
    fn id(&self) -> &str {
        &self.id
    }

    fn offset(&self) -> u64 {
        self.writer.offset()
    }

    fn progress(&self) -> Arc<AtomicU64> {
        self.writer.progress()
    }

    fn push(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move { self.writer.push(chunk).await })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<u64, StorageError>> {
        Box::pin(async move { self.writer.flush().await })
    }

    fn release(&mut self) {
        self.writer.release_file();
    }

    fn tail(&self) -> Option<Box<dyn StagedTail>> {
        // Opened now, before the commit renames the file: an open file survives the rename.
        let file = std::fs::File::open(self.writer.path()).ok()?;
        Some(Box::new(FileTail {
            file: Arc::new(file),
        }))
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

#[derive(Debug)]
struct FileTail {
    file: Arc<std::fs::File>,
}

impl StagedTail for FileTail {
    fn read_at(&self, offset: u64, len: usize) -> BoxFuture<'_, Result<Bytes, StorageError>> {
        Box::pin(async move {
            let file = self.file.clone();
            let read = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, offset)
                    .map(|_| Bytes::from(buf))
            })
            .await
            .map_err(io::Error::other)??;
            Ok(read)
        })
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

/// Moves `tmp` to `dest` (creating the fan-out directory) and fsyncs the directory so the
/// move itself survives a crash. Returns whether the blob is new.
///
/// A hard link claims the name atomically, so of two concurrent commits of one digest
/// exactly one is "new" (the quota counts it once). If the name is taken, identical content
/// is there, or a damaged file that Berth refuses to serve: the rename then replaces it,
/// which is how a push repairs a damaged blob.
async fn publish_file(tmp: PathBuf, dest: PathBuf) -> Result<bool, StorageError> {
    let result = tokio::task::spawn_blocking(move || -> io::Result<bool> {
        let dir = dest.parent().expect("blob paths have a parent");
        std::fs::create_dir_all(dir)?;
        let new = match std::fs::hard_link(&tmp, &dest) {
            Ok(()) => {
                let _ = std::fs::remove_file(&tmp);
                true
            }
            Err(e) => {
                let new = e.kind() != io::ErrorKind::AlreadyExists && !dest.exists();
                if let Err(e) = std::fs::rename(&tmp, &dest) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
                new
            }
        };
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
        let mut w = store.stage("u1", Algorithm::Sha256).await.unwrap();
        w.push(Bytes::from_static(b"layer bytes")).await.unwrap();
        let digest = Digest::of_bytes(Algorithm::Sha256, b"layer bytes");
        let committed = store.commit(w, &digest).await.unwrap();
        assert_eq!(
            committed,
            Committed {
                size: 11,
                new: true
            }
        );
        assert_eq!(
            &store.read_bytes(&digest).await.unwrap()[..],
            b"layer bytes"
        );
        assert!(!dir.path().join("uploads/u1").exists());
    }

    #[tokio::test]
    async fn a_digest_mismatch_publishes_nothing_and_removes_the_staged_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open("default", dir.path()).unwrap();
        let mut w = store.stage("u2", Algorithm::Sha256).await.unwrap();
        w.push(Bytes::from_static(b"actual")).await.unwrap();
        let claimed = Digest::of_bytes(Algorithm::Sha256, b"claimed");
        let err = store.commit(w, &claimed).await.unwrap_err();
        assert!(matches!(err, StorageError::DigestMismatch { .. }));
        assert_eq!(store.stat(&claimed).await.unwrap(), None);
        assert!(!dir.path().join("uploads/u2").exists());
    }

    #[tokio::test]
    async fn staged_purge_removes_old_files_without_a_session_and_keeps_the_rest() {
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
        assert_eq!(store.purge_staged(&live, 3600).await.unwrap(), 1);
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
