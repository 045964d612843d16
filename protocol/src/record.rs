//! The signed record: envelope, signed bytes, id, parsing, verification and signing.
//!
//! The only way to a [`VerifiedRecord`] is [`UnverifiedRecord::verify`] (or
//! [`sign`], which goes through the same path), so code that holds one knows the
//! bytes parsed strictly, every field is well-formed and every signature verified
//! with the strict rule. Signed bytes are defined by `specs/protocol.md`, not by
//! serde: they are the domain tag followed by the JCS form of the parsed JSON.

use crate::body::{Approval, Body, Kind};
use crate::code::RecordCode;
use crate::fields::{Coded, FieldError, Hash32, Timestamp};
use crate::json::{self, JsonError};
use crate::keys::{Did, KeyError, SecretKey, Signature};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A valid did used only as a stand-in while checking draft actions.
const PLACEHOLDER_DID: &str = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

/// Record format version.
pub const VERSION: u64 = 1;
/// Largest accepted record, in bytes of its JSON text. JCS never lengthens a parsed
/// record, so the canonical form of an accepted record is within it too; `sign`
/// checks its output through the same parser.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Domain-separation tag in front of the canonical record in the signed bytes.
pub const RECORD_TAG: &[u8] = b"kx-record-v1\0";
/// Domain-separation tag in front of the canonical action in approval signatures.
pub const ACTION_TAG: &[u8] = b"kx-action-v1\0";

const FIELDS: [&str; 9] = [
    "v",
    "federation",
    "kind",
    "author",
    "seq",
    "prev",
    "issued_at",
    "body",
    "sig",
];

/// Why a record was not accepted on its own (before any registry state is
/// consulted). `code()` is stable and listed in `specs/protocol.md`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("record is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error("{path}: {message}")]
    Field {
        code: RecordCode,
        path: String,
        message: String,
    },
    #[error("record format version {found} is not supported (this node reads v = {VERSION})")]
    UnsupportedVersion { found: i64 },
    #[error("unknown record kind {kind:?}")]
    UnknownKind { kind: String },
    #[error("body is not in canonical form: {reason}")]
    NonCanonical { reason: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("approval by {steward} does not verify")]
    BadApproval { steward: String },
    #[error("genesis federation field {found} does not match its action digest {expected}")]
    FederationMismatch { found: String, expected: String },
    #[error("record belongs to federation {found}, this registry is {expected}")]
    WrongFederation { found: String, expected: String },
}

impl RecordError {
    /// Stable error code.
    pub fn code(&self) -> RecordCode {
        match self {
            RecordError::TooLarge { .. } => RecordCode::TooLarge,
            RecordError::Json(e) => e.code(),
            RecordError::Field { code, .. } => *code,
            RecordError::UnsupportedVersion { .. } => RecordCode::UnsupportedVersion,
            RecordError::UnknownKind { .. } => RecordCode::UnknownKind,
            RecordError::NonCanonical { .. } => RecordCode::NoncanonicalBody,
            RecordError::Key(e) => e.code(),
            RecordError::BadApproval { .. } => RecordCode::BadApproval,
            RecordError::FederationMismatch { .. } => RecordCode::FederationMismatch,
            RecordError::WrongFederation { .. } => RecordCode::WrongFederation,
        }
    }

    fn field(path: impl Into<String>, e: &dyn Coded) -> RecordError {
        RecordError::Field {
            code: e.code(),
            path: path.into(),
            message: e.to_string(),
        }
    }

    fn plain(code: RecordCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        RecordError::Field {
            code,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Turns a body's deserialisation error into a record error: its code, and its
/// path below `body`.
fn from_serde(e: serde_path_to_error::Error<crate::de::DeError>) -> RecordError {
    let path = format!("body.{}", e.path());
    let path = path.trim_end_matches('.').to_owned();
    let e = e.into_inner();
    RecordError::plain(e.code, path, e.message)
}

/// The envelope and typed body of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub federation: Hash32,
    pub author: Did,
    pub seq: u64,
    pub prev: Option<Hash32>,
    pub issued_at: Timestamp,
    pub body: Body,
    pub sig: Signature,
}

impl Record {
    /// The record kind (from the body).
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The record as JSON, `sig` included.
    pub fn to_value(&self) -> Value {
        let mut m = self.unsigned_map();
        m.insert("sig".into(), Value::String(self.sig.to_text()));
        Value::Object(m)
    }

    /// The envelope without `body` and `sig`.
    fn envelope_map(&self) -> Map<String, Value> {
        envelope_map(
            &self.federation,
            self.kind(),
            &self.author,
            self.seq,
            self.prev.as_ref(),
            &self.issued_at,
        )
    }

    fn unsigned_map(&self) -> Map<String, Value> {
        let mut m = self.envelope_map();
        m.insert("body".into(), self.body.to_value());
        m
    }
}

fn envelope_map(
    federation: &Hash32,
    kind: Kind,
    author: &Did,
    seq: u64,
    prev: Option<&Hash32>,
    issued_at: &Timestamp,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("v".into(), Value::from(VERSION));
    m.insert("federation".into(), Value::String(federation.to_hex()));
    m.insert("kind".into(), Value::String(kind.as_str().into()));
    m.insert("author".into(), Value::String(author.to_string()));
    m.insert("seq".into(), Value::from(seq));
    m.insert(
        "prev".into(),
        prev.map_or(Value::Null, |p| Value::String(p.to_hex())),
    );
    m.insert("issued_at".into(), Value::String(issued_at.to_string()));
    m
}

/// The bytes a steward signs to approve a governance action:
/// `ACTION_TAG || JCS({"body": body without approvals, "kind": kind})`.
pub fn action_bytes(kind: Kind, body: &Body) -> Vec<u8> {
    let mut b = body.to_value();
    if let Value::Object(m) = &mut b {
        m.remove("approvals");
    }
    let mut action = Map::new();
    action.insert("body".into(), b);
    action.insert("kind".into(), Value::String(kind.as_str().into()));
    let mut out = ACTION_TAG.to_vec();
    // A body built from checked fields holds only strings and safe integers.
    out.extend(json::canonical(&Value::Object(action)).unwrap_or_default());
    out
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(bytes).into())
}

/// A record that parsed and passed every stateless check except signatures.
#[derive(Debug, Clone)]
pub struct UnverifiedRecord {
    record: Record,
    signed_bytes: Vec<u8>,
}

impl UnverifiedRecord {
    /// Parses a record from its JSON text: size limit, strict JSON, exact envelope,
    /// typed body in canonical form, body rules.
    pub fn parse(bytes: &[u8]) -> Result<UnverifiedRecord, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                len: bytes.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        let v = json::parse(bytes)?;
        UnverifiedRecord::from_value(v)
    }

    /// Parses a record from an already strictly parsed JSON value.
    pub fn from_value(v: Value) -> Result<UnverifiedRecord, RecordError> {
        let Value::Object(mut m) = v else {
            return Err(RecordError::plain(
                RecordCode::NotAnObject,
                "",
                "a record is a JSON object",
            ));
        };
        for k in m.keys() {
            if !FIELDS.contains(&k.as_str()) {
                return Err(RecordError::plain(
                    RecordCode::UnknownField,
                    k.chars().take(64).collect::<String>(),
                    "not an envelope field",
                ));
            }
        }
        for f in FIELDS {
            if !m.contains_key(f) {
                return Err(RecordError::plain(RecordCode::MissingField, f, "required"));
            }
        }
        let mut take = |f: &str| m.remove(f).unwrap_or(Value::Null);
        let v = match take("v") {
            Value::Number(n) => n.as_i64().unwrap_or(-1),
            _ => {
                return Err(RecordError::plain(
                    RecordCode::InvalidType,
                    "v",
                    "must be an integer",
                ));
            }
        };
        if v != VERSION as i64 {
            return Err(RecordError::UnsupportedVersion { found: v });
        }
        let federation: Hash32 = string(take("federation"), "federation")?
            .parse()
            .map_err(|e: FieldError| RecordError::field("federation", &e))?;
        let kind_text = string(take("kind"), "kind")?;
        let kind = Kind::parse(&kind_text).ok_or_else(|| RecordError::UnknownKind {
            kind: kind_text.chars().take(64).collect(),
        })?;
        let author: Did = string(take("author"), "author")?
            .parse()
            .map_err(|e: KeyError| RecordError::field("author", &e))?;
        let seq = match take("seq") {
            Value::Number(n) => n.as_i64().unwrap_or(0),
            _ => {
                return Err(RecordError::plain(
                    RecordCode::InvalidType,
                    "seq",
                    "must be an integer",
                ));
            }
        };
        if seq < 1 {
            return Err(RecordError::plain(
                RecordCode::InvalidSeq,
                "seq",
                "must be 1 or more",
            ));
        }
        let seq = seq as u64;
        let prev = match take("prev") {
            Value::Null => None,
            Value::String(s) => Some(
                s.parse::<Hash32>()
                    .map_err(|e| RecordError::field("prev", &e))?,
            ),
            _ => {
                return Err(RecordError::plain(
                    RecordCode::InvalidType,
                    "prev",
                    "must be a record id or null",
                ));
            }
        };
        if (seq == 1) != prev.is_none() {
            return Err(RecordError::plain(
                RecordCode::InvalidPrev,
                "prev",
                "must be null at seq 1 and a record id after it",
            ));
        }
        let issued_at: Timestamp = string(take("issued_at"), "issued_at")?
            .parse()
            .map_err(|e: FieldError| RecordError::field("issued_at", &e))?;
        let sig: Signature = string(take("sig"), "sig")?
            .parse()
            .map_err(RecordError::Key)?;
        let (body, body_json) = Body::from_json_keep(kind, take("body"))?;
        if let Body::AgreementEnd(e) = &body
            && e.effective_at < issued_at
        {
            return Err(RecordError::plain(
                RecordCode::BackdatedEnd,
                "body.effective_at",
                format!(
                    "an agreement cannot end at {} before the record ending it was issued ({issued_at})",
                    e.effective_at
                ),
            ));
        }
        let record = Record {
            federation,
            author,
            seq,
            prev,
            issued_at,
            body,
            sig,
        };
        let mut signed_bytes = RECORD_TAG.to_vec();
        // The body's JSON is its typed form already (checked above): no need to
        // serialise the body again.
        let mut unsigned = record.envelope_map();
        unsigned.insert("body".into(), body_json);
        let canonical = json::canonical(&Value::Object(unsigned))
            .map_err(|e| RecordError::plain(RecordCode::InvalidValue, "", e.to_string()))?;
        signed_bytes.extend(canonical);
        Ok(UnverifiedRecord {
            record,
            signed_bytes,
        })
    }

    /// The parsed record (signatures not yet checked).
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// `RECORD_TAG || JCS(record without sig)`.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed_bytes
    }

    /// Checks the author's signature and every steward approval with strict ed25519,
    /// and, for a genesis, that its federation id is its own action digest.
    pub fn verify(self) -> Result<VerifiedRecord, RecordError> {
        let r = &self.record;
        r.author.verify(&self.signed_bytes, &r.sig)?;
        let action = match r.body.approvals() {
            None => None,
            Some(list) => {
                let bytes = action_bytes(r.kind(), &r.body);
                for a in list {
                    a.steward
                        .verify(&bytes, &a.sig)
                        .map_err(|_| RecordError::BadApproval {
                            steward: a.steward.to_string(),
                        })?;
                }
                Some(sha256(&bytes))
            }
        };
        if let (Body::Genesis(_), Some(digest)) = (&r.body, action)
            && r.federation != digest
        {
            return Err(RecordError::FederationMismatch {
                found: r.federation.to_hex(),
                expected: digest.to_hex(),
            });
        }
        Ok(self.verified(action))
    }

    /// The id the record has: SHA-256 of its signed bytes.
    pub fn id(&self) -> Hash32 {
        sha256(&self.signed_bytes)
    }

    /// Takes the record as verified without checking signatures again. Only for
    /// a record this process verified before and kept under its id: the caller
    /// compares that id with the result's id, which binds everything but
    /// `sig` (the id hashes the signed bytes) to the record verified. So the
    /// signature of the result is only as good as the storage it came from; a
    /// node reads offers back this way to show and index them, never to pass
    /// them on.
    pub fn assume_verified(self) -> VerifiedRecord {
        let r = &self.record;
        let action = r
            .body
            .approvals()
            .map(|_| sha256(&action_bytes(r.kind(), &r.body)));
        self.verified(action)
    }

    fn verified(self, action: Option<Hash32>) -> VerifiedRecord {
        let id = self.id();
        let canonical = with_sig(&self.signed_bytes[RECORD_TAG.len()..], &self.record.sig);
        VerifiedRecord(Arc::new(Inner {
            record: self.record,
            id,
            action,
            canonical,
        }))
    }
}

/// The canonical JSON of a whole record from the canonical JSON of the record
/// without `sig`: JCS orders the envelope keys `author, body, federation,
/// issued_at, kind, prev, seq, sig, v`, so `sig` goes right before the final
/// `"v"` member (checked against a full canonicalisation in the tests).
fn with_sig(unsigned: &[u8], sig: &Signature) -> Vec<u8> {
    let tail = format!(",\"v\":{VERSION}}}");
    let Some(head) = unsigned.strip_suffix(tail.as_bytes()) else {
        return Vec::new();
    };
    let sig = sig.to_text();
    let mut out = Vec::with_capacity(unsigned.len() + sig.len() + 9);
    out.extend_from_slice(head);
    out.extend_from_slice(b",\"sig\":\"");
    out.extend_from_slice(sig.as_bytes());
    out.push(b'"');
    out.extend_from_slice(tail.as_bytes());
    out
}

fn string(v: Value, field: &str) -> Result<String, RecordError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(RecordError::plain(
            RecordCode::InvalidType,
            field,
            "must be a string",
        )),
    }
}

#[derive(Debug)]
struct Inner {
    record: Record,
    id: Hash32,
    action: Option<Hash32>,
    canonical: Vec<u8>,
}

/// A record whose signatures verified. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct VerifiedRecord(Arc<Inner>);

impl VerifiedRecord {
    /// Parses and verifies in one step.
    pub fn from_bytes(bytes: &[u8]) -> Result<VerifiedRecord, RecordError> {
        UnverifiedRecord::parse(bytes)?.verify()
    }

    /// Record id: SHA-256 of the signed bytes.
    pub fn id(&self) -> Hash32 {
        self.0.id
    }

    /// The record.
    pub fn record(&self) -> &Record {
        &self.0.record
    }

    /// Digest of the governance action this record carries (None for other kinds).
    pub fn action(&self) -> Option<Hash32> {
        self.0.action
    }

    /// The whole record, `sig` included, in canonical JSON: the form nodes store
    /// and serve.
    pub fn canonical_json(&self) -> &[u8] {
        &self.0.canonical
    }

    /// Checks that the record belongs to `federation`.
    pub fn check_federation(&self, federation: &Hash32) -> Result<(), RecordError> {
        if &self.record().federation != federation {
            return Err(RecordError::WrongFederation {
                found: self.record().federation.to_hex(),
                expected: federation.to_hex(),
            });
        }
        Ok(())
    }
}

impl PartialEq for VerifiedRecord {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for VerifiedRecord {}

/// What an author puts into a record before signing it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub federation: Hash32,
    pub seq: u64,
    pub prev: Option<Hash32>,
    pub issued_at: Timestamp,
    pub body: Body,
}

/// Signs a draft with `key` and returns it verified — through the same parser as
/// any received record, so nothing this returns could be rejected elsewhere for its
/// form.
pub fn sign(key: &SecretKey, draft: Draft) -> Result<VerifiedRecord, RecordError> {
    let mut unsigned = envelope_map(
        &draft.federation,
        draft.body.kind(),
        key.did(),
        draft.seq,
        draft.prev.as_ref(),
        &draft.issued_at,
    );
    unsigned.insert("body".into(), draft.body.to_value());
    let mut bytes = RECORD_TAG.to_vec();
    bytes.extend(
        json::canonical(&Value::Object(unsigned.clone()))
            .map_err(|e| RecordError::plain(RecordCode::InvalidValue, "", e.to_string()))?,
    );
    let sig = key.sign(&bytes);
    let mut full = unsigned;
    full.insert("sig".into(), Value::String(sig.to_text()));
    let text = json::canonical(&Value::Object(full))
        .map_err(|e| RecordError::plain(RecordCode::InvalidValue, "", e.to_string()))?;
    VerifiedRecord::from_bytes(&text)
}

/// Adds `key`'s approval to a governance body (replacing an earlier approval by the
/// same steward). Returns false for bodies that take no approvals.
pub fn approve(body: &mut Body, key: &SecretKey) -> bool {
    let sig = key.sign(&action_bytes(body.kind(), body));
    let Some(list) = body.approvals_mut() else {
        return false;
    };
    list.retain(|a| &a.steward != key.did());
    list.push(Approval {
        steward: key.did().clone(),
        sig,
    });
    true
}

/// The federation id a genesis body produces: its action digest.
pub fn federation_id(genesis: &Body) -> Hash32 {
    sha256(&action_bytes(Kind::Genesis, genesis))
}

impl Body {
    /// Reads a body of `kind` from JSON, with the same checks as a received record
    /// (typed fields, canonical form, body rules). Paths in errors start at `body`.
    pub fn from_json(kind: Kind, v: Value) -> Result<Body, RecordError> {
        Body::from_json_keep(kind, v).map(|(body, _)| body)
    }

    /// [`Body::from_json`], also giving back the JSON, which is then known to be
    /// exactly `body.to_value()`.
    fn from_json_keep(kind: Kind, v: Value) -> Result<(Body, Value), RecordError> {
        if !v.is_object() {
            return Err(RecordError::plain(
                RecordCode::InvalidType,
                "body",
                "must be an object",
            ));
        }
        let body = Body::from_value(kind, &v).map_err(from_serde)?;
        if body.to_value() != v {
            return Err(RecordError::NonCanonical {
                reason: "optional fields must be absent rather than null".into(),
            });
        }
        body.check().map_err(|e| RecordError::field("body", &e))?;
        Ok((body, v))
    }

    /// Like [`Body::from_json`], for a governance action still collecting
    /// approvals: `approvals` may be empty. Every other rule applies.
    pub fn from_json_draft(kind: Kind, mut v: Value) -> Result<Body, RecordError> {
        let approvals = match &mut v {
            Value::Object(m) => m.remove("approvals"),
            _ => None,
        };
        let placeholder = !matches!(&approvals, Some(Value::Array(a)) if !a.is_empty());
        if let Value::Object(m) = &mut v {
            // A well-formed stand-in lets the body rules run; it is removed again.
            let stand_in = serde_json::json!([{"steward": PLACEHOLDER_DID, "sig": "A".repeat(86)}]);
            m.insert(
                "approvals".into(),
                if placeholder {
                    stand_in
                } else {
                    approvals.unwrap_or(Value::Null)
                },
            );
        }
        let mut body = Body::from_json(kind, v)?;
        if placeholder && let Some(list) = body.approvals_mut() {
            list.clear();
        }
        Ok(body)
    }

    /// Steward approvals that verify (strict) for this body's action.
    pub fn valid_approvals(&self) -> Vec<&Did> {
        let bytes = action_bytes(self.kind(), self);
        self.approvals()
            .unwrap_or_default()
            .iter()
            .filter(|a| a.steward.verify(&bytes, &a.sig).is_ok())
            .map(|a| &a.steward)
            .collect()
    }
}
