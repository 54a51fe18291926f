//! Docker registry bearer tokens: compact JWTs signed with HMAC-SHA256 (`HS256`) using
//! `ring` directly. Berth is both the issuer and the only verifier, so a symmetric key kept
//! in `<data>/token.key` (0600, generated on first start) is enough, and doing it by hand
//! keeps the accepted shape tiny: exactly `{"alg":"HS256"}` headers, a constant-time
//! signature check before the claims are even parsed, `alg: none` and every other algorithm
//! refused.
//!
//! The `access` claim is Docker's (`[{"type":"repository","name":…,"actions":[…]}]`) with one
//! addition per entry: `repository`, the Berth repository the name was resolved in, so a
//! token for `app` on one connector port is worthless on another.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::password::write_private;
use super::AuthError;

pub const ISSUER: &str = "berth";
/// Clock skew tolerated on `nbf`.
const LEEWAY_SECS: i64 = 30;

/// One granted scope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
    /// The Berth repository `name` resolves in (empty for `registry:catalog:*`).
    #[serde(default)]
    pub repository: String,
}

/// Whether a token is for API calls or for getting new tokens (OAuth2 refresh).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Use {
    Access,
    Refresh,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user; absent for anonymous tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<Access>,
    #[serde(rename = "use")]
    pub usage: Use,
    /// The subject's credential generation when issued; the token is void once it changes.
    #[serde(default, rename = "gen", skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
}

impl Claims {
    /// Whether the token grants `action` (`pull`, `push`, `delete`) on `name` as resolved in
    /// `repository`.
    pub fn grants(&self, repository: &str, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == "repository"
                && a.name == name
                && a.repository == repository
                && a.actions.iter().any(|x| x == action || x == "*")
        })
    }

    pub fn grants_catalog(&self, repository: &str) -> bool {
        self.access
            .iter()
            .any(|a| a.kind == "registry" && a.name == "catalog" && a.repository == repository)
    }
}

pub struct TokenKeys {
    key: hmac::Key,
}

/// Borrowed from the decoded bytes: the header we issue has no escapes, anything else is
/// refused anyway.
#[derive(Deserialize)]
struct Header<'a> {
    alg: &'a str,
}

/// Large enough for the header and signature Berth issues; a longer part is refused.
const SMALL_PART: usize = 64;
/// Claims up to this size decode on the stack; larger ones (many `access` entries) on the heap.
const CLAIMS_ON_STACK: usize = 1024;

impl TokenKeys {
    /// Reads the signing key, creating it (32 random bytes, mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let secret = super::password::random_secret(32);
            write_private(path, secret.as_bytes())?;
        }
        Self::load(path)
    }

    /// Reads a signing key that must exist: a configured shared key
    /// (`security.token_key_file`) is never generated, since nodes each generating their own
    /// would refuse each other's tokens.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the token signing key {}: {e} (create it with `head -c 32 /dev/urandom | base64`)",
                path.display()
            )
        })?;
        if bytes.len() < 32 {
            anyhow::bail!("{} is too short to be a signing key", path.display());
        }
        Ok(TokenKeys::from_secret(&bytes))
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        TokenKeys {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let signed = format!("{header}.{payload}");
        let tag = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", B64.encode(tag.as_ref()))
    }

    /// Verifies signature, algorithm, issuer, lifetime and use; returns the claims.
    pub fn verify(&self, token: &str, usage: Use, now: i64) -> Result<Claims, AuthError> {
        let bad = || AuthError::BadCredentials;
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        // Every request with a token comes here: header and signature decode into stack
        // buffers, and so do the claims unless they are unusually large.
        let mut header_buf = [0u8; SMALL_PART];
        let n = B64.decode_slice(h, &mut header_buf).map_err(|_| bad())?;
        let header: Header = serde_json::from_slice(&header_buf[..n]).map_err(|_| bad())?;
        if header.alg != "HS256" {
            return Err(bad());
        }
        let mut signature = [0u8; SMALL_PART];
        let n = B64.decode_slice(s, &mut signature).map_err(|_| bad())?;
        let signed_len = h.len() + 1 + p.len();
        hmac::verify(&self.key, &token.as_bytes()[..signed_len], &signature[..n])
            .map_err(|_| bad())?;
        let mut claims_buf = [0u8; CLAIMS_ON_STACK];
        let claims_vec;
        let claims_bytes = match B64.decode_slice(p, &mut claims_buf) {
            Ok(n) => &claims_buf[..n],
            Err(_) => {
                claims_vec = B64.decode(p).map_err(|_| bad())?;
                &claims_vec[..]
            }
        };
        let claims: Claims = serde_json::from_slice(claims_bytes).map_err(|_| bad())?;
        let live = claims.exp > now && claims.nbf <= now + LEEWAY_SECS;
        if claims.iss != ISSUER || !live || claims.usage != usage {
            return Err(bad());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: Some("u".into()),
            aud: "svc".into(),
            exp,
            nbf: 0,
            iat: 0,
            jti: "j".into(),
            access: vec![],
            usage: Use::Access,
            generation: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_tampering_does_not() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let token = keys.sign(&claims(100));
        assert!(keys.verify(&token, Use::Access, 50).is_ok());
        assert!(keys.verify(&token, Use::Refresh, 50).is_err());
        assert!(keys.verify(&token, Use::Access, 100).is_err(), "expired");
        let other = TokenKeys::from_secret(&[8; 32]);
        assert!(other.verify(&token, Use::Access, 50).is_err(), "other key");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = B64.encode(serde_json::to_vec(&claims(10_000)).unwrap());
        parts[1] = &forged;
        assert!(keys.verify(&parts.join("."), Use::Access, 50).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let header = B64.encode(br#"{"alg":"none"}"#);
        let payload = B64.encode(serde_json::to_vec(&claims(100)).unwrap());
        assert!(keys
            .verify(&format!("{header}.{payload}."), Use::Access, 50)
            .is_err());
    }

    #[test]
    fn claims_too_large_for_the_stack_buffer_still_verify() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let mut big = claims(100);
        big.access = (0..40)
            .map(|i| Access {
                kind: "repository".into(),
                name: format!("team/image-{i}"),
                actions: vec!["pull".into(), "push".into()],
                repository: "docker-hosted".into(),
            })
            .collect();
        let token = keys.sign(&big);
        assert!(token.split('.').nth(1).unwrap().len() > CLAIMS_ON_STACK * 4 / 3);
        let verified = keys.verify(&token, Use::Access, 50).unwrap();
        assert!(verified.grants("docker-hosted", "team/image-39", "push"));
    }

    #[test]
    fn an_oversized_header_or_signature_is_refused() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let token = keys.sign(&claims(100));
        let parts: Vec<&str> = token.split('.').collect();
        let long = B64.encode([b'x'; SMALL_PART + 1]);
        let padded_header = B64.encode(format!(r#"{{"alg":"HS256","x":"{}"}}"#, "y".repeat(80)));
        for forged in [
            format!("{}.{}.{long}", parts[0], parts[1]),
            format!("{padded_header}.{}.{}", parts[1], parts[2]),
        ] {
            assert!(keys.verify(&forged, Use::Access, 50).is_err());
        }
    }
}
