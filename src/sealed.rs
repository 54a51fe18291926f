//! Secrets at rest: values Berth must keep but nobody should read from a copy of the
//! database (today: proxy upstream passwords) are stored sealed with AES-256-GCM (`ring`)
//! under a key kept in `<data>/secrets.key` (0600, generated on first start, beside
//! `token.key`), or in the file `secrets_key_file` names, which nodes sharing one database
//! share. A sealed value is `sealed:v1:` + base64(random 96-bit nonce ‖ ciphertext ‖
//! tag); a backup of `berth.db` alone reveals nothing, and a changed byte fails to open.

use std::path::Path;

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

const PREFIX: &str = "sealed:v1:";

/// The key that seals and opens secrets at rest.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// A sealed value that does not open: another key, or changed bytes.
#[derive(Debug, thiserror::Error)]
#[error("a sealed secret cannot be opened (was secrets.key replaced?)")]
pub struct OpenError;

impl SealKey {
    /// Reads the key file, creating it (32 random bytes, base64, mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let key = random_bytes(32);
            crate::datadir::write_private(path, B64.encode(key).as_bytes())?;
        }
        Self::load(path)
    }

    /// Reads a key file that must exist: a configured shared key (`secrets_key_file`) is
    /// never generated, since nodes each generating their own would each seal secrets the
    /// others cannot open.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the sealing key {}: {e} (create it with `head -c 32 /dev/urandom | base64`)",
                path.display()
            )
        })?;
        // Padded or not: `base64` pads, Berth writes without.
        let bytes = B64
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| anyhow::anyhow!("{} is not a base64 key", path.display()))?;
        Self::from_bytes(&bytes)
            .ok_or_else(|| anyhow::anyhow!("{} must hold 32 bytes", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(SealKey(LessSafeKey::new(key)))
    }

    /// Whether `stored` is a sealed value (else it is a plaintext from before sealing).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    pub fn seal(&self, secret: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] =
            random_bytes(NONCE_LEN).try_into().expect("NONCE_LEN bytes");
        let mut data = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut data,
            )
            .expect("AES-GCM seals any length Berth stores");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn open(&self, stored: &str) -> Result<String, OpenError> {
        let encoded = stored.strip_prefix(PREFIX).ok_or(OpenError)?;
        let mut bytes = B64.decode(encoded).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| OpenError)?;
        let plain = self
            .0
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| OpenError)?;
        String::from_utf8(plain.to_vec()).map_err(|_| OpenError)
    }
}

/// Bytes from the operating system's CSPRNG (ring's `SystemRandom`, so no extra crate): keys, nonces,
/// salts and tokens all come from here.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random generator works");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_unchanged() {
        let key = SealKey::from_bytes(&[1; 32]).unwrap();
        let sealed = key.seal("upstream-pw");
        assert!(SealKey::is_sealed(&sealed) && !sealed.contains("upstream-pw"));
        assert_ne!(sealed, key.seal("upstream-pw"), "random nonce");
        assert_eq!(key.open(&sealed).unwrap(), "upstream-pw");
        let other = SealKey::from_bytes(&[2; 32]).unwrap();
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(key.open(&tampered).is_err() || tampered == sealed);
        assert!(key.open("upstream-pw").is_err());
    }

    #[test]
    fn a_key_file_opens_padded_or_not_and_a_missing_one_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let padded = dir.path().join("padded.key");
        std::fs::write(
            &padded,
            format!(
                "{}\n",
                base64::engine::general_purpose::STANDARD.encode([3u8; 32])
            ),
        )
        .unwrap();
        let sealed = SealKey::load(&padded).unwrap().seal("x");
        let unpadded = dir.path().join("unpadded.key");
        std::fs::write(&unpadded, B64.encode([3u8; 32])).unwrap();
        assert_eq!(
            SealKey::load(&unpadded).unwrap().open(&sealed).unwrap(),
            "x"
        );
        let missing = dir.path().join("missing.key");
        assert!(SealKey::load(&missing).is_err());
        assert!(!missing.exists());
    }
}
