//! Checkpoints (`specs/checkpoints.md`): a set's frontier (the end of every
//! author's counted chain and the governance head) hashed into a root, and the
//! C2SP checkpoint and signed-note text forms a node signs it in.

use crate::fields::Hash32;
use crate::keys::{Did, SecretKey, Signature};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The frontier's hash tag.
pub const FRONTIER_TAG: &[u8] = b"kx-frontier-v1\x00";

/// The largest size a checkpoint states (JSON's safe integers).
const MAX_SIZE: u64 = (1 << 53) - 1;

crate::text_enum! {
    /// Why a signed checkpoint was not read (`specs/checkpoints.md` 3).
    pub enum CheckpointCode {
        /// Not a note, or not a KX checkpoint in it (steps 1 and 2).
        Malformed = "malformed_checkpoint",
        /// No signature line of the origin's key (step 3).
        Unsigned = "unsigned_checkpoint",
        /// The origin's signature does not verify (step 4).
        BadSignature = "bad_checkpoint_signature",
    }
}

/// A refused checkpoint: its code and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct CheckpointError {
    pub code: CheckpointCode,
    pub reason: String,
}

fn malformed(reason: impl Into<String>) -> CheckpointError {
    CheckpointError {
        code: CheckpointCode::Malformed,
        reason: reason.into(),
    }
}

/// The end of one author's counted chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEnd {
    pub author: Did,
    /// The length of its counted chain: its last seq.
    pub seq: u64,
    /// The id of the record at `seq` of the chain.
    pub head: Hash32,
}

/// What a set commits to (`specs/checkpoints.md` 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    pub federation: Hash32,
    /// The governance head (the federation id if no action counts).
    pub governance: Hash32,
    /// Sorted by the UTF-8 bytes of the author's did.
    pub logs: Vec<LogEnd>,
}

impl Frontier {
    /// The sum of the logs' lengths.
    pub fn size(&self) -> u64 {
        self.logs.iter().map(|l| l.seq).sum()
    }

    /// The frontier as JSON: `{"federation", "governance", "logs": [[did, n, head]]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "federation": self.federation.to_hex(),
            "governance": self.governance.to_hex(),
            "logs": self.logs.iter().map(|l| json!([l.author.as_str(), l.seq, l.head.to_hex()])).collect::<Vec<_>>(),
        })
    }

    /// Reads the JSON form back, checking every part and the order of `logs`.
    pub fn from_json(v: &Value) -> Result<Frontier, CheckpointError> {
        let hash = |v: &Value, what: &str| -> Result<Hash32, CheckpointError> {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| malformed(format!("frontier: {what} is not a hash")))
        };
        let obj = v.as_object().filter(|o| o.len() == 3).ok_or_else(|| {
            malformed("frontier: not an object of federation, governance and logs")
        })?;
        let logs = obj
            .get("logs")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("frontier: logs is not a list"))?
            .iter()
            .map(|t| match t.as_array().map(Vec::as_slice) {
                Some([did, seq, head]) => Ok(LogEnd {
                    author: did
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| malformed("frontier: a log's author is not a did"))?,
                    seq: seq
                        .as_u64()
                        .filter(|n| (1..=MAX_SIZE).contains(n))
                        .ok_or_else(|| malformed("frontier: a log's length is not a count"))?,
                    head: hash(head, "a log's head")?,
                }),
                _ => Err(malformed("frontier: a log is not [did, n, head]")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if logs
            .windows(2)
            .any(|w| w[0].author.as_str().as_bytes() >= w[1].author.as_str().as_bytes())
        {
            return Err(malformed("frontier: logs are not sorted by did, each once"));
        }
        Ok(Frontier {
            federation: hash(obj.get("federation").unwrap_or(&Value::Null), "federation")?,
            governance: hash(obj.get("governance").unwrap_or(&Value::Null), "governance")?,
            logs,
        })
    }

    /// SHA-256 of the tag and the JCS of [`Frontier::to_json`].
    pub fn root(&self) -> Hash32 {
        let mut bytes = FRONTIER_TAG.to_vec();
        // The value holds strings and small integers only: JCS cannot fail.
        bytes.extend(crate::json::canonical(&self.to_json()).unwrap_or_default());
        crate::record::sha256(&bytes)
    }
}

/// A checkpoint: a frontier's size and root, stated by the node whose key is
/// `signer` (`specs/checkpoints.md` 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub federation: Hash32,
    pub signer: Did,
    pub size: u64,
    pub root: Hash32,
}

/// The signed-note key id of an Ed25519 key under `name` with signature type
/// `kind` (0x01 a note signature, 0x04 a cosignature).
pub fn key_id(name: &str, kind: u8, key: &Did) -> [u8; 4] {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(b'\n');
    bytes.push(kind);
    bytes.extend_from_slice(key.public_key());
    let h = crate::record::sha256(&bytes);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

/// A C2SP signed note of `text` (which ends in a line feed): the text, an
/// empty line and one Ed25519 signature line of `key` under the key name
/// `name` (key id type 0x01).
pub fn sign_note(text: &str, name: &str, key: &SecretKey) -> String {
    let mut sig = key_id(name, 0x01, key.did()).to_vec();
    sig.extend_from_slice(&key.sign(text.as_bytes()).0);
    format!("{text}\n\u{2014} {name} {}\n", STANDARD.encode(sig))
}

/// The text of a signed note that carries exactly one signature line, that of
/// `key` under `name` (key id type 0x01), verified by the strict rule; else
/// why not (`Malformed`: no empty line, or other lines; `Unsigned`: not
/// `name`'s key id; `BadSignature`).
pub fn note_text<'a>(note: &'a str, name: &str, key: &Did) -> Result<&'a str, CheckpointError> {
    let split = note
        .find("\n\n")
        .ok_or_else(|| malformed("no empty line before the signature"))?;
    let (text, line) = (&note[..=split], &note[split + 2..]);
    let b64 = line
        .strip_suffix('\n')
        .filter(|l| !l.contains('\n'))
        .ok_or_else(|| malformed("not exactly one signature line after the empty line"))?
        .strip_prefix(&format!("\u{2014} {name} "))
        .ok_or_else(|| CheckpointError {
            code: CheckpointCode::Unsigned,
            reason: format!("the signature line is not {name}'s"),
        })?;
    let raw = STANDARD
        .decode(b64)
        .ok()
        .filter(|r| STANDARD.encode(r) == b64)
        .ok_or_else(|| malformed("the signature is not canonical base64"))?;
    if raw.len() < 4 || raw[..4] != key_id(name, 0x01, key) {
        return Err(CheckpointError {
            code: CheckpointCode::Unsigned,
            reason: format!("the signature line does not carry the key id of {name}"),
        });
    }
    let bad = |reason: &str| CheckpointError {
        code: CheckpointCode::BadSignature,
        reason: reason.to_owned(),
    };
    let sig: [u8; 64] = raw[4..]
        .try_into()
        .map_err(|_| bad("the signature is not 4 + 64 bytes"))?;
    key.verify(text.as_bytes(), &Signature(sig))
        .map_err(|_| bad("the signature does not verify"))?;
    Ok(text)
}

impl Checkpoint {
    /// The checkpoint of `frontier`, stated by `signer`.
    pub fn of(frontier: &Frontier, signer: &Did) -> Checkpoint {
        Checkpoint {
            federation: frontier.federation,
            signer: signer.clone(),
            size: frontier.size(),
            root: frontier.root(),
        }
    }

    /// Line 1: `kx/<federation>/<signer did>`, also the key name.
    pub fn origin(&self) -> String {
        format!("kx/{}/{}", self.federation.to_hex(), self.signer.as_str())
    }

    /// The three lines.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin(),
            self.size,
            STANDARD.encode(self.root.0)
        )
    }

    /// The signed note: the text, an empty line and the signer's signature line.
    /// `key` must be the signer's.
    pub fn sign(&self, key: &SecretKey) -> String {
        sign_note(&self.text(), &self.origin(), key)
    }

    /// Reads a signed checkpoint and checks its signer's signature (3, steps 1-4).
    pub fn read(note: &str) -> Result<Checkpoint, CheckpointError> {
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("no empty line before the signatures"))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        let cp = Checkpoint::parse(text)?;
        let origin = cp.origin();
        let want = key_id(&origin, 0x01, &cp.signer);
        let prefix = format!("\u{2014} {origin} ");
        let line = sigs
            .split_terminator('\n')
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .find(|raw| raw.len() >= 4 && raw[..4] == want)
            .ok_or_else(|| CheckpointError {
                code: CheckpointCode::Unsigned,
                reason: format!("no signature of {origin}"),
            })?;
        let bad = |reason: &str| CheckpointError {
            code: CheckpointCode::BadSignature,
            reason: reason.to_owned(),
        };
        let sig: [u8; 64] = line[4..]
            .try_into()
            .map_err(|_| bad("the signature is not 4 + 64 bytes"))?;
        cp.signer
            .verify(text.as_bytes(), &Signature(sig))
            .map_err(|_| bad("the signer's signature does not verify"))?;
        Ok(cp)
    }

    /// Reads the three lines (step 2).
    fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(malformed("the checkpoint does not end in a line feed"));
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(malformed(format!(
                "{} lines; a KX checkpoint has exactly 3",
                lines.len()
            )));
        };
        let rest = origin
            .strip_prefix("kx/")
            .ok_or_else(|| malformed("the origin does not start with kx/"))?;
        let (fed, did) = rest
            .split_once('/')
            .ok_or_else(|| malformed("the origin is not kx/<federation>/<did>"))?;
        if fed.len() != 64 || !fed.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(malformed("the origin's federation is not 64 lowercase hex"));
        }
        let federation: Hash32 = fed.parse().map_err(|_| malformed("federation"))?;
        let signer: Did = did
            .parse()
            .map_err(|e| malformed(format!("the origin's did: {e}")))?;
        let n: u64 = size
            .parse()
            .ok()
            .filter(|n: &u64| *n <= MAX_SIZE && n.to_string() == *size)
            .ok_or_else(|| malformed("the size is not a decimal count without leading zeros"))?;
        let raw = STANDARD
            .decode(root)
            .ok()
            .filter(|r| r.len() == 32 && STANDARD.encode(r) == *root)
            .ok_or_else(|| malformed("the root is not canonical base64 of 32 bytes"))?;
        let mut h = [0u8; 32];
        h.copy_from_slice(&raw);
        Ok(Checkpoint {
            federation,
            signer,
            size: n,
            root: Hash32(h),
        })
    }
}

/// The largest cosignature time (C2SP tlog-cosignature: a POSIX time below 2^63).
const MAX_TIME: u64 = (1 << 63) - 1;

/// The message a witness signs (`specs/checkpoints.md` 5): the header line, the
/// time line and the checkpoint text.
fn cosigned_message(text: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

impl Checkpoint {
    /// A witness's cosignature line for this checkpoint at POSIX time `time`,
    /// under the witness's key name `name` (C2SP tlog-cosignature v1, Ed25519).
    pub fn cosign(&self, name: &str, key: &SecretKey, time: u64) -> String {
        let mut sig = key_id(name, 0x04, key.did()).to_vec();
        sig.extend_from_slice(&time.min(MAX_TIME).to_be_bytes());
        sig.extend_from_slice(
            &key.sign(&cosigned_message(&self.text(), time.min(MAX_TIME)))
                .0,
        );
        format!("\u{2014} {name} {}\n", STANDARD.encode(sig))
    }

    /// The time of `witness`'s cosignature in `note` (a note of this checkpoint),
    /// if it has one that verifies: a line under the witness's name with its
    /// key id, of 4 + 8 + 64 bytes, a time below 2^63 and an Ed25519 signature
    /// that verifies by the strict rule. Other lines are skipped.
    pub fn cosigned_by(&self, note: &str, name: &str, witness: &Did) -> Option<u64> {
        let sigs = &note[note.rfind("\n\n")? + 2..];
        let want = key_id(name, 0x04, witness);
        let prefix = format!("\u{2014} {name} ");
        sigs.split_terminator('\n')
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() == 76 && raw[..4] == want)
            .find_map(|raw| {
                let time = u64::from_be_bytes(raw[4..12].try_into().ok()?);
                let sig: [u8; 64] = raw[12..].try_into().ok()?;
                (time <= MAX_TIME
                    && witness
                        .verify(&cosigned_message(&self.text(), time), &Signature(sig))
                        .is_ok())
                .then_some(time)
            })
    }
}
