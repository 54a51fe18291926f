//! Access tokens already verified, so a client that sends the same bearer token on every
//! request (every Docker client) pays for the HMAC and the claims' JSON once per token, not
//! once per request.
//!
//! What is cached is exactly what [`TokenKeys::verify`](super::token::TokenKeys::verify)
//! concluded from the token's bytes alone (signature, algorithm, issuer, use, `nbf`), which
//! cannot change while the signing key stays; the entry dies at the token's `exp`. Everything
//! that depends on the live model (the realm switched off, the user disabled or deleted, a
//! privilege taken away) is still checked on every request, against
//! [`Resolved`](super::resolved::Resolved), so a cached token loses nothing it would lose
//! today. Entries are found by the token's signature and must then match the signed part
//! byte for byte (compared in constant time): a tampered payload with a copied signature
//! is a miss, and is refused by the full check.

use std::sync::Arc;

use dashmap::DashMap;

use super::token::Claims;

/// Tokens remembered at most: only verified ones are, so this bounds memory (a few MiB),
/// not attackers. A full cache is swept of expired tokens; if that frees nothing, new
/// tokens are verified in full every time until some expire.
const MAX_TOKENS: usize = 4096;
/// Longer tokens (claims with many scopes) are not kept: they would make the bound above
/// a large amount of memory.
const MAX_TOKEN_LEN: usize = 2048;
/// An HMAC-SHA256 tag in unpadded base64url: the cache is keyed by the signature's text,
/// which saves decoding it on every request (≈ 500 instructions of a cached lookup's 1.4k).
const SIGNATURE_TEXT_LEN: usize = 43;

struct Entry {
    /// `header.payload`, to tell the cached token from one that copies its signature.
    signed: Box<[u8]>,
    claims: Arc<Claims>,
}

/// Equality without an early exit at the first difference (the time taken tells nothing of
/// how much of the cached token matched). Measured: `subtle`'s per-byte `ct_eq` cost more
/// than the rest of the cache lookup; this loop vectorises.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[derive(Default)]
pub struct TokenCache {
    entries: DashMap<[u8; SIGNATURE_TEXT_LEN], Entry>,
}

/// A token split at its last dot, with the signature's text as the key. Any other length
/// is not a signature of ours: not cached, and refused by the full check.
fn split(token: &str) -> Option<(&str, [u8; SIGNATURE_TEXT_LEN])> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (signed, signature) = token.rsplit_once('.')?;
    let key = signature.as_bytes().try_into().ok()?;
    Some((signed, key))
}

impl TokenCache {
    /// The claims of `token` if it was verified before and has not expired at `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Arc<Claims>> {
        let (signed, key) = split(token)?;
        let entry = self.entries.get(&key)?;
        let same = same_bytes(&entry.signed, signed.as_bytes());
        (same && entry.claims.exp > now).then(|| entry.claims.clone())
    }

    /// Remembers a token that [`TokenKeys::verify`](super::token::TokenKeys::verify)
    /// accepted as an access token.
    pub fn insert(&self, token: &str, claims: &Arc<Claims>, now: i64) {
        let Some((signed, key)) = split(token) else {
            return;
        };
        if self.entries.len() >= MAX_TOKENS {
            self.entries.retain(|_, e| e.claims.exp > now);
        }
        if self.entries.len() < MAX_TOKENS {
            let signed = signed.as_bytes().into();
            let claims = claims.clone();
            self.entries.insert(key, Entry { signed, claims });
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::token::{TokenKeys, Use, ISSUER};
    use super::*;

    fn claims(jti: &str, exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: Some("u".into()),
            aud: "svc".into(),
            exp,
            nbf: 0,
            iat: 0,
            jti: jti.into(),
            access: vec![],
            usage: Use::Access,
            generation: None,
        }
    }

    /// Verifies `token` at time 50 and caches it, as `Security::access_token` does.
    fn remember(cache: &TokenCache, keys: &TokenKeys, token: &str) {
        let verified = Arc::new(keys.verify(token, Use::Access, 50).unwrap());
        cache.insert(token, &verified, 50);
    }

    #[test]
    fn same_bytes_is_equality() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
        assert!(same_bytes(b"", b""));
    }

    #[test]
    fn a_cached_token_is_found_until_it_expires() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let cache = TokenCache::default();
        let token = keys.sign(&claims("a", 100));
        assert!(cache.get(&token, 50).is_none());
        remember(&cache, &keys, &token);
        assert_eq!(cache.get(&token, 99).unwrap().jti, "a");
        assert!(cache.get(&token, 100).is_none(), "expired");
    }

    #[test]
    fn a_copied_signature_on_other_claims_is_a_miss() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let cache = TokenCache::default();
        let token = keys.sign(&claims("a", 100));
        remember(&cache, &keys, &token);
        let (_, signature) = token.rsplit_once('.').unwrap();
        let other = keys.sign(&claims("b", 100));
        let (other_signed, _) = other.rsplit_once('.').unwrap();
        assert!(cache
            .get(&format!("{other_signed}.{signature}"), 50)
            .is_none());
        let (signed, _) = token.rsplit_once('.').unwrap();
        let truncated = &signed[..signed.len() - 1];
        assert!(cache.get(&format!("{truncated}.{signature}"), 50).is_none());
    }

    #[test]
    fn another_spelling_of_the_signature_is_a_miss() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let cache = TokenCache::default();
        let token = keys.sign(&claims("a", 100));
        remember(&cache, &keys, &token);
        assert!(cache.get(&format!("{token}="), 50).is_none(), "padded");
        let mut other_last = token.clone().into_bytes();
        let last = other_last.last_mut().unwrap();
        *last = if *last == b'A' { b'B' } else { b'A' };
        let other_last = String::from_utf8(other_last).unwrap();
        assert!(
            cache.get(&other_last, 50).is_none(),
            "one character changed"
        );
    }

    #[test]
    fn the_cache_is_bounded_and_sweeps_expired_tokens_when_full() {
        let keys = TokenKeys::from_secret(&[7; 32]);
        let cache = TokenCache::default();
        let sign = |i: usize, exp| {
            let token = keys.sign(&claims(&i.to_string(), exp));
            let verified = Arc::new(keys.verify(&token, Use::Access, 0).unwrap());
            (token, verified)
        };
        for i in 0..MAX_TOKENS {
            let (token, verified) = sign(i, 10);
            cache.insert(&token, &verified, 0);
        }
        let (late, verified) = sign(MAX_TOKENS, 100);
        cache.insert(&late, &verified, 5);
        assert!(
            cache.get(&late, 5).is_none(),
            "full of live tokens: not kept"
        );
        assert_eq!(cache.len(), MAX_TOKENS);
        cache.insert(&late, &verified, 20);
        assert_eq!(cache.len(), 1, "the expired ones were swept");
        assert!(cache.get(&late, 20).is_some());
    }
}
