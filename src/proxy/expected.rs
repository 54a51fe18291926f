//! Sizes the cached manifests announce for blobs not downloaded yet, so a download whose
//! upstream sends no `Content-Length` (a chunked body) can still be cut off at the
//! descriptor's size instead of filling the disk.

use dashmap::DashMap;
use serde::Deserialize;

use crate::oci::Digest;

/// Entries kept at most (about 100 bytes each); past it the map is emptied and refilled by
/// the next manifests fetched. Losing an entry only loses the early cut-off, since the
/// digest check still refuses a wrong blob.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct ExpectedSizes(DashMap<Digest, u64>);

#[derive(Deserialize)]
struct Sized {
    digest: String,
    size: i64,
}

#[derive(Deserialize)]
struct Blobs {
    #[serde(default)]
    config: Option<Sized>,
    #[serde(default)]
    layers: Vec<Sized>,
}

impl ExpectedSizes {
    /// Remembers the sizes of the config and layers an image manifest lists (an index or an
    /// unparsable body adds nothing).
    pub fn note_manifest(&self, bytes: &[u8]) {
        let Ok(blobs) = serde_json::from_slice::<Blobs>(bytes) else {
            return;
        };
        if self.0.len() > MAX_ENTRIES {
            self.0.clear();
        }
        for d in blobs.config.into_iter().chain(blobs.layers) {
            if let (Ok(digest), Ok(size)) = (Digest::parse(&d.digest), u64::try_from(d.size)) {
                self.0.insert(digest, size);
            }
        }
    }

    pub fn get(&self, digest: &Digest) -> Option<u64> {
        self.0.get(digest).map(|s| *s)
    }

    /// Forgets a blob once it is cached.
    pub fn forget(&self, digest: &Digest) {
        self.0.remove(digest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_and_config_sizes_are_remembered_and_junk_is_ignored() {
        let d1 = Digest::of_bytes(crate::oci::Algorithm::Sha256, b"a");
        let d2 = Digest::of_bytes(crate::oci::Algorithm::Sha256, b"b");
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{d1}","size":5}},"layers":[{{"digest":"{d2}","size":7}}]}}"#
        );
        let sizes = ExpectedSizes::default();
        sizes.note_manifest(m.as_bytes());
        sizes.note_manifest(b"not json");
        assert_eq!(sizes.get(&d1), Some(5));
        assert_eq!(sizes.get(&d2), Some(7));
        sizes.forget(&d1);
        assert_eq!(sizes.get(&d1), None);
    }
}
