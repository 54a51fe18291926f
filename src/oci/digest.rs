//! Content digests (`algorithm:hex`) and the incremental hasher that produces them.
//!
//! Only `sha256` (required by the spec) and `sha512` are accepted. A digest that matches the
//! spec's general grammar but names another algorithm is reported as unsupported, which the
//! HTTP layer maps to `DIGEST_INVALID`, as the spec asks.

use std::fmt;

use sha2::Digest as _;

/// Hash algorithms Berth can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest. Stored as its canonical string so display and map keys are free.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    text: Box<str>,
    algorithm: Algorithm,
}

/// Why a digest string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest is not of the form algorithm:hex")]
    Malformed,
    #[error("digest algorithm {0:?} is not supported (use sha256 or sha512)")]
    Unsupported(String),
    #[error("digest hex part has the wrong length or characters")]
    BadHex,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (algo, hex) = s.split_once(':').ok_or(DigestError::Malformed)?;
        if !algorithm_grammar_ok(algo) || hex.is_empty() {
            return Err(DigestError::Malformed);
        }
        let algorithm = match algo {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => return Err(DigestError::Unsupported(other.to_string())),
        };
        let hex_ok = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok {
            return Err(DigestError::BadHex);
        }
        Ok(Digest {
            text: s.into(),
            algorithm,
        })
    }

    /// Digest of a byte slice, for manifests (small, already in memory).
    pub fn of_bytes(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The hex part, used to build content-addressed file paths.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.as_str().len() + 1..]
    }
}

/// The spec's grammar for the algorithm part: `[a-z0-9]+([+._-][a-z0-9]+)*`.
fn algorithm_grammar_ok(algo: &str) -> bool {
    let mut prev_sep = true;
    for b in algo.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => prev_sep = false,
            b'+' | b'.' | b'_' | b'-' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Incremental hasher. `Clone` so a chunked upload can keep its state between PATCHes.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The digest of everything fed so far, without consuming the hasher.
    pub fn peek(&self) -> Digest {
        self.clone().finish()
    }

    pub fn finish(self) -> Digest {
        let (algorithm, raw) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        let text = format!("{}:{}", algorithm.as_str(), hex::encode(raw));
        Digest {
            text: text.into(),
            algorithm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_of_empty_input_matches_the_well_known_value() {
        assert_eq!(Digest::of_bytes(Algorithm::Sha256, b"").as_str(), EMPTY);
    }

    #[test]
    fn valid_digests_parse_and_round_trip() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.hex().len(), 64);
        let d512 = Digest::of_bytes(Algorithm::Sha512, b"x");
        assert_eq!(Digest::parse(d512.as_str()).unwrap(), d512);
    }

    #[test]
    fn malformed_and_unsupported_digests_are_refused() {
        assert_eq!(Digest::parse("sha256:xyz"), Err(DigestError::BadHex));
        assert_eq!(Digest::parse("nocolon"), Err(DigestError::Malformed));
        assert_eq!(Digest::parse("sha256:"), Err(DigestError::Malformed));
        assert_eq!(Digest::parse(":abc"), Err(DigestError::Malformed));
        assert!(matches!(
            Digest::parse("md5:d41d8cd98f00b204e9800998ecf8427e"),
            Err(DigestError::Unsupported(_))
        ));
        let upper = EMPTY.to_uppercase().replacen("SHA256", "sha256", 1);
        assert_eq!(Digest::parse(&upper), Err(DigestError::BadHex));
        assert_eq!(
            Digest::parse("sha256:../../etc/passwd"),
            Err(DigestError::BadHex)
        );
    }

    #[test]
    fn hasher_state_survives_clone_between_chunks() {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"hello ");
        let snapshot = h.clone();
        h.update(b"world");
        let mut again = snapshot;
        again.update(b"world");
        assert_eq!(h.finish(), again.finish());
    }
}
