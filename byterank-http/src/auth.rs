//! Secrets: device tokens, user API keys and the operator key.
//!
//! A secret is `<key id>.<secret>`: 8 random bytes naming the key and 16 random
//! bytes (128 bits) proving it, both in hex. The service stores only the key id and
//! the SHA-256 of the secret, so a leaked journal or snapshot holds no usable
//! credential; a presented secret is hashed and compared in constant time.

use std::fmt;

use rand::rngs::OsRng;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What the service keeps of a secret: its key id and the hash of its secret part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Names the key (16 hex digits); not secret.
    pub kid: String,
    /// SHA-256 of the secret part, hex.
    pub hash: String,
}

/// A freshly made secret, shown once to whoever it was made for.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret and the record to keep of it.
    pub fn generate() -> (Secret, KeyRecord) {
        let mut bytes = [0u8; 24];
        OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
        let kid = hex(&bytes[..8]);
        let secret = hex(&bytes[8..]);
        let record = KeyRecord { kid: kid.clone(), hash: hash_hex(&secret) };
        (Secret(format!("{kid}.{secret}")), record)
    }

    /// The secret as the client presents it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A presented secret split into key id and secret part; `None` if malformed.
pub fn split(presented: &str) -> Option<(&str, &str)> {
    let (kid, secret) = presented.split_once('.')?;
    let hexish = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexish(kid, 16) && hexish(secret, 32)).then_some((kid, secret))
}

/// Whether the secret part matches the record, compared in constant time.
pub fn verify(record: &KeyRecord, secret: &str) -> bool {
    let presented = Sha256::digest(secret.as_bytes());
    let Some(stored) = unhex32(&record.hash) else { return false };
    bool::from(presented.as_slice().ct_eq(&stored))
}

/// The operator's key, held as its hash.
#[derive(Clone)]
pub struct OperatorKey([u8; 32]);

impl fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OperatorKey(..)")
    }
}

impl OperatorKey {
    /// The shortest operator key accepted, bytes.
    pub const MIN_LEN: usize = 16;

    /// Holds `key`, which must be at least [`MIN_LEN`](Self::MIN_LEN) bytes.
    pub fn new(key: &str) -> Result<OperatorKey, String> {
        let key = key.trim();
        if key.len() < Self::MIN_LEN {
            return Err(format!(
                "the operator key is {} bytes; use at least {} (e.g. 32 random hex digits)",
                key.len(),
                Self::MIN_LEN
            ));
        }
        Ok(OperatorKey(Sha256::digest(key.as_bytes()).into()))
    }

    /// Whether `presented` is the operator key, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(Sha256::digest(presented.as_bytes()).as_slice().ct_eq(&self.0))
    }
}

fn hash_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_verifies_and_a_changed_one_does_not() {
        let (secret, record) = Secret::generate();
        let (kid, part) = split(secret.expose()).expect("well formed");
        assert_eq!(kid, record.kid);
        assert!(verify(&record, part));
        let mut wrong = part.to_string();
        let last = if wrong.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(31..32, last);
        assert!(!verify(&record, &wrong));
        assert_eq!(record.hash.len(), 64);
        assert!(!record.hash.contains(part), "only the hash is kept");
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in ["", ".", "abc.def", "0123456789abcdef", "0123456789abcdeg.0123456789abcdef0123456789abcdef"] {
            assert!(split(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_operator_key_matches_only_itself() {
        assert!(OperatorKey::new("short").is_err());
        let k = OperatorKey::new("0123456789abcdef0123").unwrap();
        assert!(k.matches("0123456789abcdef0123"));
        assert!(!k.matches("0123456789abcdef0124"));
    }
}
