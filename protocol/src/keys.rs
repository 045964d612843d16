//! Ed25519 keys, `did:key` identifiers, signatures and the secret-key file format.
//!
//! A `Did` is only ever built from bytes that decode to a canonical, non-weak ed25519
//! point, so code holding one never re-checks it. Signing takes a 32-byte seed that
//! the caller supplies: this crate has no randomness of its own.

use crate::code::RecordCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

/// A bounded memo of a pure, costly function (parsing a did, decompressing a
/// key), shared by all threads: records of one author repeat, so each key is
/// decoded once instead of once per record. Only successful results are kept;
/// when full it starts over.
struct Memo<K, V>(OnceLock<Mutex<HashMap<K, V>>>);

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    const LIMIT: usize = 4096;

    const fn new() -> Memo<K, V> {
        Memo(OnceLock::new())
    }

    fn get_or_try<Q, E>(&self, key: &Q, f: impl FnOnce() -> Result<(K, V), E>) -> Result<V, E>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let map = self.0.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(v) = map.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Ok(v);
        }
        let (k, v) = f()?;
        if let Ok(mut m) = map.lock() {
            if m.len() >= Self::LIMIT {
                m.clear();
            }
            m.insert(k, v.clone());
        }
        Ok(v)
    }
}

static PARSED_DIDS: Memo<String, Did> = Memo::new();
static VERIFYING_KEYS: Memo<[u8; 32], VerifyingKey> = Memo::new();

/// Multicodec prefix of an ed25519 public key (`ed25519-pub`, 0xed, as varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
const DID_PREFIX: &str = "did:key:z";

/// Why a key, identifier or signature could not be read. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("malformed did:key {did:?}: {reason}")]
    MalformedDid { did: String, reason: &'static str },
    #[error("did:key {did} is a weak (small-order) ed25519 key")]
    WeakKey { did: String },
    #[error("malformed signature: {reason}")]
    MalformedSignature { reason: &'static str },
    #[error("signature does not verify (strict ed25519) for {did}")]
    BadSignature { did: String },
    #[error("malformed secret key file: {reason}")]
    MalformedSecretKey { reason: String },
}

impl KeyError {
    /// Stable error code, as listed in `specs/protocol.md`.
    pub fn code(&self) -> RecordCode {
        match self {
            KeyError::MalformedDid { .. } => RecordCode::MalformedDid,
            KeyError::WeakKey { .. } => RecordCode::WeakKey,
            KeyError::MalformedSignature { .. } => RecordCode::MalformedSignature,
            KeyError::BadSignature { .. } => RecordCode::BadSignature,
            KeyError::MalformedSecretKey { .. } => RecordCode::MalformedSecretKey,
        }
    }
}

impl crate::fields::Coded for KeyError {
    fn code(&self) -> RecordCode {
        KeyError::code(self)
    }
}

/// A provider's or steward's public key as a W3C `did:key` (ed25519, base58btc).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did(Arc<DidInner>);

/// Shared: a registry holds the same did in many places.
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DidInner {
    text: String,
    key: [u8; 32],
}

impl Did {
    /// Builds the did of a public key, checking it the same way as a parsed one.
    pub fn from_public_key(key: [u8; 32]) -> Result<Did, KeyError> {
        let mut raw = Vec::with_capacity(34);
        raw.extend_from_slice(&ED25519_MULTICODEC);
        raw.extend_from_slice(&key);
        let text = format!("{DID_PREFIX}{}", bs58::encode(raw).into_string());
        check_point(&key, &text)?;
        Ok(Did(Arc::new(DidInner { text, key })))
    }

    /// The did string, e.g. `did:key:z6Mk...`.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The raw 32-byte ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.0.key
    }

    /// Short form for logs: the last 8 characters.
    pub fn short(&self) -> &str {
        &self.0.text[self.0.text.len() - 8..]
    }

    /// Strict ed25519 verification (RFC 8032 with canonical S, no small-order R or A;
    /// `verify_strict`). This is the only acceptance rule: batch verification uses the
    /// cofactored equation and may accept what this rejects.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), KeyError> {
        let vk = VERIFYING_KEYS.get_or_try(&self.0.key, || {
            VerifyingKey::from_bytes(&self.0.key)
                .map(|vk| (self.0.key, vk))
                .map_err(|_| KeyError::MalformedDid {
                    did: self.0.text.to_string(),
                    reason: "not a point on the curve",
                })
        })?;
        let s = ed25519_dalek::Signature::from_bytes(&sig.0);
        vk.verify_strict(msg, &s)
            .map_err(|_| KeyError::BadSignature {
                did: self.0.text.to_string(),
            })
    }
}

fn check_point(key: &[u8; 32], text: &str) -> Result<(), KeyError> {
    // The y coordinate (bit 255 is the sign of x) must be reduced: y < 2^255 - 19.
    // Otherwise two different dids would name one key.
    let mut y = *key;
    y[31] &= 0x7f;
    let p_minus_1_le: [u8; 32] = {
        let mut p = [0xffu8; 32];
        p[0] = 0xec;
        p[31] = 0x7f;
        p
    };
    if y.iter().rev().cmp(p_minus_1_le.iter().rev()) == std::cmp::Ordering::Greater {
        return Err(KeyError::MalformedDid {
            did: text.to_owned(),
            reason: "non-canonical point encoding",
        });
    }
    // x = 0 only for y = 1 and y = -1; with the sign bit set that is a second
    // encoding of the same point (RFC 8032 decoding rejects it).
    let mut one = [0u8; 32];
    one[0] = 1;
    if key[31] & 0x80 != 0 && (y == one || y == p_minus_1_le) {
        return Err(KeyError::MalformedDid {
            did: text.to_owned(),
            reason: "sign bit set for x = 0",
        });
    }
    let vk = VerifyingKey::from_bytes(key).map_err(|_| KeyError::MalformedDid {
        did: text.to_owned(),
        reason: "not a point on the curve",
    })?;
    if vk.is_weak() {
        return Err(KeyError::WeakKey {
            did: text.to_owned(),
        });
    }
    Ok(())
}

impl FromStr for Did {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Did, KeyError> {
        PARSED_DIDS.get_or_try(s, || Did::parse(s).map(|d| (s.to_owned(), d)))
    }
}

impl Did {
    fn parse(s: &str) -> Result<Did, KeyError> {
        let bad = |reason| KeyError::MalformedDid {
            did: s.chars().take(120).collect(),
            reason,
        };
        let rest = s
            .strip_prefix(DID_PREFIX)
            .ok_or(bad("must start with did:key:z"))?;
        if rest.len() > 60 {
            return Err(bad("too long"));
        }
        let raw = bs58::decode(rest)
            .into_vec()
            .map_err(|_| bad("not base58btc"))?;
        if raw.len() != 34 || raw[..2] != ED25519_MULTICODEC {
            return Err(bad("not an ed25519-pub multicodec key"));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[2..]);
        let did = Did::from_public_key(key)?;
        if *did.0.text != *s {
            return Err(bad("non-canonical base58 encoding"));
        }
        Ok(did)
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({})", self.0.text)
    }
}

impl serde::Serialize for Did {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.text)
    }
}

impl<'de> serde::Deserialize<'de> for Did {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Did, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(crate::fields::coded::<D::Error, _>)
    }
}

/// An ed25519 signature, written as unpadded base64url (86 characters).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Unpadded base64url text.
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl FromStr for Signature {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Signature, KeyError> {
        if s.len() != 86 {
            return Err(KeyError::MalformedSignature {
                reason: "must be 86 characters of unpadded base64url",
            });
        }
        // The engine rejects padding and non-zero trailing bits, so the text form is
        // unique: a signature cannot be re-encoded into a second valid string.
        let raw = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| KeyError::MalformedSignature {
                reason: "not canonical unpadded base64url",
            })?;
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw);
        Ok(Signature(sig))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", &self.to_text()[..12])
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(crate::fields::coded::<D::Error, _>)
    }
}

/// An ed25519 signing key, built from a 32-byte seed (RFC 8032 secret key).
pub struct SecretKey {
    inner: SigningKey,
    did: Did,
}

impl SecretKey {
    /// Derives the key from a seed. Fails only if the public key is weak, which for a
    /// real seed happens with negligible probability.
    pub fn from_seed(seed: [u8; 32]) -> Result<SecretKey, KeyError> {
        let inner = SigningKey::from_bytes(&seed);
        let did = Did::from_public_key(inner.verifying_key().to_bytes())?;
        Ok(SecretKey { inner, did })
    }

    /// The public identifier of this key.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// The 32-byte seed (for writing the key file).
    pub fn seed(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    /// Signs `msg` (deterministic, RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.inner.sign(msg).to_bytes())
    }

    /// The secret-key file: one JSON object
    /// `{"type":"kx-secret-key","v":1,"did":"did:key:...","seed":"<base64url>"}`
    /// plus a newline. The did is redundant and checked on read, so a corrupted or
    /// swapped file is caught before anything is signed with it.
    pub fn to_file_text(&self) -> String {
        format!(
            "{{\"type\":\"kx-secret-key\",\"v\":1,\"did\":\"{}\",\"seed\":\"{}\"}}\n",
            self.did,
            URL_SAFE_NO_PAD.encode(self.seed())
        )
    }

    /// Reads the secret-key file format written by [`SecretKey::to_file_text`].
    pub fn from_file_text(text: &str) -> Result<SecretKey, KeyError> {
        let bad = |reason: &str| KeyError::MalformedSecretKey {
            reason: reason.to_owned(),
        };
        let v = crate::json::parse(text.as_bytes()).map_err(|e| bad(&e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        if obj.len() != 4 {
            return Err(bad("expected exactly the fields type, v, did, seed"));
        }
        if obj.get("type").and_then(|t| t.as_str()) != Some("kx-secret-key") {
            return Err(bad("type is not \"kx-secret-key\""));
        }
        if obj.get("v").and_then(|t| t.as_i64()) != Some(1) {
            return Err(bad("unsupported version (expected v = 1)"));
        }
        let seed_text = obj
            .get("seed")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad("missing seed"))?;
        let raw = URL_SAFE_NO_PAD
            .decode(seed_text)
            .map_err(|_| bad("seed is not unpadded base64url"))?;
        let seed: [u8; 32] = raw.try_into().map_err(|_| bad("seed must be 32 bytes"))?;
        let key = SecretKey::from_seed(seed)?;
        if obj.get("did").and_then(|t| t.as_str()) != Some(key.did.as_str()) {
            return Err(bad("did does not match the seed"));
        }
        Ok(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.did)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_round_trips_and_rejects_garbage() {
        let key = SecretKey::from_seed([7; 32]).expect("key");
        let did: Did = key.did().as_str().parse().expect("parse");
        assert_eq!(&did, key.did());
        assert!(did.as_str().starts_with("did:key:z6Mk"));
        for bad in ["did:key:", "did:web:x", "did:key:z0OIl", "did:key:zzzzzzzz"] {
            assert_eq!(
                bad.parse::<Did>().map_err(|e| e.code()),
                Err(RecordCode::MalformedDid)
            );
        }
    }

    #[test]
    fn weak_keys_are_rejected() {
        // The identity point (y = 1) has order 1.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert_eq!(
            Did::from_public_key(id).map_err(|e| e.code()),
            Err(RecordCode::WeakKey)
        );
        id[31] = 0x80;
        assert_eq!(
            Did::from_public_key(id).map_err(|e| e.code()),
            Err(RecordCode::MalformedDid)
        );
    }

    #[test]
    fn secret_key_file_round_trips() {
        let key = SecretKey::from_seed([9; 32]).expect("key");
        let back = SecretKey::from_file_text(&key.to_file_text()).expect("read");
        assert_eq!(back.did(), key.did());
        let tampered = key.to_file_text().replace("did:key:z6Mk", "did:key:z6Mj");
        assert!(SecretKey::from_file_text(&tampered).is_err());
    }

    #[test]
    fn signatures_verify_strictly() {
        let key = SecretKey::from_seed([3; 32]).expect("key");
        let sig = key.sign(b"hello");
        key.did().verify(b"hello", &sig).expect("valid");
        assert_eq!(
            key.did().verify(b"hellO", &sig).map_err(|e| e.code()),
            Err(RecordCode::BadSignature)
        );
        let text = sig.to_text();
        assert_eq!(text.parse::<Signature>().expect("parse"), sig);
        assert!(format!("{text}=").parse::<Signature>().is_err());
    }
}
