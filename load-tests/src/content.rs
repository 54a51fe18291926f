//! Deterministic blob content: the same (seed, id, size) always gives the same bytes, so a
//! seeded image can be pulled and verified later without keeping anything on disk.
//!
//! A blob is a sequence of 1 MiB blocks; block `k` is a pseudo-random base block (derived
//! from seed and id) with `k` written into its first 8 bytes. Producing content is then a
//! memory copy, cheap next to the SHA-256 the registry and the verifier spend on it, so the
//! generator steals little CPU from the server it measures on a shared machine.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

/// Size of the repeated block.
const BLOCK: usize = 1 << 20;

/// The content of one blob.
#[derive(Clone)]
pub struct Content {
    base: Bytes,
    size: u64,
}

impl Content {
    /// Content of `size` bytes identified by `seed` and `id`.
    pub fn new(seed: u64, id: u64, size: u64) -> Self {
        let len = (size as usize).min(BLOCK);
        let mut state = seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ size.rotate_left(17);
        let mut base = Vec::with_capacity(len + 8);
        while base.len() < len {
            base.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        base.truncate(len);
        Content {
            base: Bytes::from(base),
            size,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes from `offset`, at most `len` of them.
    pub fn slice(&self, offset: u64, len: usize) -> Bytes {
        let end = (offset + len as u64).min(self.size);
        let mut out = Vec::with_capacity((end - offset) as usize);
        let mut pos = offset;
        while pos < end {
            let block = pos / BLOCK as u64;
            let within = (pos % BLOCK as u64) as usize;
            let take = ((end - pos) as usize).min(BLOCK - within);
            let start = out.len();
            out.extend_from_slice(&self.base[within..within + take]);
            // Patch the block number over the first 8 bytes of the block, where they fall
            // inside this slice.
            let tag = block.to_le_bytes();
            for (i, b) in tag.iter().enumerate() {
                if i >= within && i < within + take && i < self.base.len() {
                    out[start + i - within] = *b;
                }
            }
            pos += take as u64;
        }
        Bytes::from(out)
    }

    /// All of it, in chunks of `chunk` bytes.
    pub fn chunks(&self, chunk: usize) -> impl Iterator<Item = Bytes> + Send + 'static {
        let this = self.clone();
        let chunk = chunk.max(1) as u64;
        (0..self.size.div_ceil(chunk)).map(move |i| this.slice(i * chunk, chunk as usize))
    }

    /// The whole content in memory (small blobs only).
    pub fn to_bytes(&self) -> Bytes {
        self.slice(0, self.size as usize)
    }

    /// `sha256:<hex>` of the content.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for c in self.chunks(BLOCK) {
            h.update(&c);
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Parses a size such as `4096`, `4K`, `64KiB`, `1M`, `1.5G` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("bad size unit in {s:?}")),
    };
    Ok((n * mult as f64) as u64)
}

/// Parses a comma-separated list of sizes.
pub fn parse_sizes(s: &str) -> Result<Vec<u64>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_size)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_agree_with_the_whole_and_are_deterministic() {
        let c = Content::new(7, 3, 3 * BLOCK as u64 + 123);
        let whole = c.to_bytes();
        assert_eq!(whole.len() as u64, c.size());
        let pieces: Vec<u8> = c.chunks(777_777).flat_map(|b| b.to_vec()).collect();
        assert_eq!(&pieces[..], &whole[..]);
        assert_eq!(Content::new(7, 3, c.size()).digest(), c.digest());
        assert_ne!(Content::new(8, 3, c.size()).digest(), c.digest());
        // Blocks differ from each other.
        assert_ne!(&whole[..BLOCK], &whole[BLOCK..2 * BLOCK]);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(
            parse_sizes("4K,64KiB,1M,1.5G,12").unwrap(),
            vec![4096, 65536, 1 << 20, 3 << 29, 12]
        );
        assert!(parse_size("3X").is_err());
    }
}
