//! Writing records: an author's position in its log, and governance actions with
//! collected steward approvals.
//!
//! Used by the CLI to sign records and by tests and the demo to build federations.
//! Time is always an argument; nothing here reads a clock.

use crate::body::{Body, GenesisBody};
use crate::fields::{Hash32, Name, Timestamp};
use crate::keys::SecretKey;
use crate::record::{self, Draft, RecordError, VerifiedRecord};

/// An author key and the end of its log: signs the next record in the chain.
#[derive(Debug)]
pub struct LogWriter {
    key: SecretKey,
    federation: Hash32,
    /// Seq and id of the last record written (None before the first).
    head: Option<(u64, Hash32)>,
}

impl LogWriter {
    /// A writer whose log ends at `head` (None: empty log).
    pub fn new(key: SecretKey, federation: Hash32, head: Option<(u64, Hash32)>) -> LogWriter {
        LogWriter {
            key,
            federation,
            head,
        }
    }

    /// The signing key.
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// Seq and id of the last record.
    pub fn head(&self) -> Option<(u64, Hash32)> {
        self.head
    }

    /// Signs `body` as the next record of the log and advances the head.
    pub fn write(
        &mut self,
        body: Body,
        issued_at: Timestamp,
    ) -> Result<VerifiedRecord, RecordError> {
        let rec = self.peek(body, issued_at)?;
        self.head = Some((rec.record().seq, rec.id()));
        Ok(rec)
    }

    /// Signs `body` as the next record without advancing (e.g. to write a file).
    pub fn peek(&self, body: Body, issued_at: Timestamp) -> Result<VerifiedRecord, RecordError> {
        let (seq, prev) = match self.head {
            None => (1, None),
            Some((s, id)) => (s + 1, Some(id)),
        };
        record::sign(
            &self.key,
            Draft {
                federation: self.federation,
                seq,
                prev,
                issued_at,
                body,
            },
        )
    }
}

/// Builds and signs a genesis record: `author` signs the record (seq 1 of its log),
/// and every key in `approvers` approves it. The federation id is derived from the
/// body, so it is known only here.
pub fn genesis(
    name: Name,
    stewards: Vec<crate::keys::Did>,
    threshold: u64,
    author: &SecretKey,
    approvers: &[&SecretKey],
    issued_at: Timestamp,
) -> Result<VerifiedRecord, RecordError> {
    let mut body = Body::Genesis(GenesisBody {
        name,
        stewards,
        threshold,
        approvals: Vec::new(),
    });
    for k in approvers {
        record::approve(&mut body, k);
    }
    let federation = record::federation_id(&body);
    record::sign(
        author,
        Draft {
            federation,
            seq: 1,
            prev: None,
            issued_at,
            body,
        },
    )
}
