//! Listing and deleting committed blobs, for garbage collection.

use std::io;
use std::time::UNIX_EPOCH;

use super::{FileStore, StoredBlob};
use crate::oci::Digest;

impl FileStore {
    /// Every committed blob file (`blobs/<algorithm>/<xx>/<hex>`). Files whose names are not
    /// digests are skipped, never deleted: only what Berth wrote is Berth's to remove.
    pub(super) async fn list_blobs(&self) -> io::Result<Vec<StoredBlob>> {
        let root = self.root().join("blobs");
        tokio::task::spawn_blocking(move || list_under(&root))
            .await
            .map_err(io::Error::other)?
    }

    /// Unlinks a blob file; returns its size (0 if it was already gone).
    pub(super) async fn remove_blob(&self, digest: &Digest) -> io::Result<u64> {
        let path = self.blob_path(digest);
        let size = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }
}

pub(super) fn modified_secs(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn list_under(root: &std::path::Path) -> io::Result<Vec<StoredBlob>> {
    let mut out = Vec::new();
    for algorithm in std::fs::read_dir(root)? {
        let algorithm = algorithm?;
        let Some(alg) = algorithm.file_name().to_str().map(str::to_string) else {
            continue;
        };
        for fan in std::fs::read_dir(algorithm.path())? {
            for file in std::fs::read_dir(fan?.path())? {
                let file = file?;
                let name = file.file_name();
                let Ok(digest) = Digest::parse(&format!("{alg}:{}", name.to_string_lossy())) else {
                    continue;
                };
                let meta = file.metadata()?;
                if meta.is_file() {
                    out.push(StoredBlob {
                        digest,
                        size: meta.len(),
                        modified: modified_secs(&meta),
                    });
                }
            }
        }
    }
    Ok(out)
}
