//! Password hashing (argon2id, the crate's defaults: memory-hard, salted) and generated
//! secrets. Checking a password is `super::verifier`'s job (bounded, memory reused).

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use base64::Engine;

/// Hashes `password` into a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes(16)).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 accepts any password with a generated salt")
        .to_string()
}

/// A hash of a random password, verified against when the user does not exist so a wrong
/// user name costs as much time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&random_secret(16)))
}

/// `bytes` random bytes from the OS, URL-safe base64 without padding.
pub fn random_secret(bytes: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

pub use crate::datadir::write_private;
pub use crate::sealed::random_bytes;
