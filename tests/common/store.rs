//! Where the file blob store keeps blobs on disk (the layout `berth::storage` documents), for
//! tests that corrupt, count or remove blob files behind the server's back. One place to
//! change if that layout changes.

use std::path::{Path, PathBuf};

use super::TestApp;

/// Where a store rooted at `store_root` keeps the blob `digest` (`<algorithm>:<hex>`).
pub fn blob_file(store_root: &Path, digest: &str) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex digest");
    store_root
        .join("blobs")
        .join(algorithm)
        .join(&hex[..2])
        .join(hex)
}

impl TestApp {
    /// Root of the blob store `name` in the server's data directory.
    pub fn store_path(&self, name: &str) -> PathBuf {
        self.data_dir().join("blobstores").join(name)
    }

    /// Root of the `default` blob store.
    pub fn store_root(&self) -> PathBuf {
        self.store_path("default")
    }

    /// Where the `default` store keeps the blob `digest`.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        blob_file(&self.store_root(), digest)
    }
}
