//! The ingest gate: which records a node refuses because they cannot count
//! given what it already knows, each with its stable code.

use super::Registry;
use super::trust::Standing;
use crate::body::{Body, Kind};
use crate::code::{GateCode, RecordCode, RejectCode};
use crate::keys::Did;
use crate::record::{RecordError, VerifiedRecord};
use std::collections::{BTreeMap, BTreeSet};

/// Why the ingest gate refused a record. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{author} is not an admitted member at seq {seq}")]
    NotMember { author: String, seq: u64 },
    #[error("{author} is suspended from seq {seq}")]
    Suspended { author: String, seq: u64 },
    #[error("{author} is revoked from seq {seq}")]
    Revoked { author: String, seq: u64 },
    #[error("key {author} was rotated away before seq {seq}")]
    KeyRotated { author: String, seq: u64 },
    #[error("prev {prev} is not the author's record at seq {expected}")]
    BadPrev { prev: String, expected: u64 },
    #[error("{author} is not a steward of the federation")]
    NotSteward { author: String },
    #[error("{valid} valid steward approvals; the threshold is {threshold}")]
    BelowThreshold { valid: usize, threshold: u64 },
    #[error("{reason}")]
    Invalid { code: GateCode, reason: String },
}

impl Rejection {
    /// Stable code.
    pub fn code(&self) -> RejectCode {
        match self {
            Rejection::Record(e) => e.code().into(),
            Rejection::NotMember { .. } => GateCode::NotMember.into(),
            Rejection::Suspended { .. } => GateCode::MemberSuspended.into(),
            Rejection::Revoked { .. } => GateCode::MemberRevoked.into(),
            Rejection::KeyRotated { .. } => GateCode::KeyRotated.into(),
            Rejection::BadPrev { .. } => RecordCode::InvalidPrev.into(),
            Rejection::NotSteward { .. } => GateCode::NotSteward.into(),
            Rejection::BelowThreshold { .. } => GateCode::BelowThreshold.into(),
            Rejection::Invalid { code, .. } => (*code).into(),
        }
    }

    pub(super) fn invalid(code: GateCode, reason: impl Into<String>) -> Rejection {
        Rejection::Invalid {
            code,
            reason: reason.into(),
        }
    }
}

impl Registry {
    pub(super) fn check(&self, rec: &VerifiedRecord) -> Result<(), Rejection> {
        let r = rec.record();
        // A held `prev` must be this author's record one position before.
        if let Some(prev) = &r.prev
            && self.records.contains_key(prev)
            && !self
                .logs
                .get(&r.author)
                .and_then(|l| l.by_seq.get(&(r.seq - 1)))
                .is_some_and(|at| at.as_slice().contains(prev))
        {
            return Err(Rejection::BadPrev {
                prev: prev.to_hex(),
                expected: r.seq - 1,
            });
        }
        if r.kind().is_governance() {
            return self.check_governance(rec);
        }
        let author = r.author.to_string();
        match self.standing(&r.author, r.seq) {
            Standing::Active => {}
            Standing::NotMember => {
                return Err(Rejection::NotMember { author, seq: r.seq });
            }
            Standing::Suspended => return Err(Rejection::Suspended { author, seq: r.seq }),
            Standing::Revoked => return Err(Rejection::Revoked { author, seq: r.seq }),
            Standing::KeyRotated => return Err(Rejection::KeyRotated { author, seq: r.seq }),
        }
        // Rotations to a key in use and accepts of unknown successions are stored
        // and given no effect by the fold rather than refused here: refusing them
        // would depend on arrival order and break the author's log for the records
        // that follow (see specs/protocol.md, "Ingest gate").
        Ok(())
    }

    fn check_governance(&self, rec: &VerifiedRecord) -> Result<(), Rejection> {
        let r = rec.record();
        let Some(prev) = r.body.prev_action() else {
            return Err(Rejection::invalid(
                GateCode::UnexpectedGenesis,
                "a federation has exactly one genesis, given to the node at start",
            ));
        };
        let d = &self.derived;
        // The current stewards must have signed every action, also one whose
        // predecessor is not here yet (held until it arrives), so outsiders
        // cannot fill the store.
        check_approvals(r, &d.stewards, d.threshold)?;
        if *prev == self.governance_head() {
            // The fold applies exactly this rule to the head's children, so a node
            // that holds the record and one that refused it see the same chain.
            check_action(r, &d.chain_standing)?;
        }
        // Otherwise it competes with an action already on the chain, or follows
        // one that does not (yet) count: stored, and the fold decides.
        Ok(())
    }
}

/// Author and approvals of a governance record against a steward set.
pub(super) fn check_approvals(
    r: &crate::record::Record,
    stewards: &BTreeSet<Did>,
    threshold: u64,
) -> Result<(), Rejection> {
    if !stewards.contains(&r.author) {
        return Err(Rejection::NotSteward {
            author: r.author.to_string(),
        });
    }
    let valid = r
        .body
        .approvals()
        .unwrap_or_default()
        .iter()
        .filter(|a| stewards.contains(&a.steward))
        .count();
    if (valid as u64) < threshold {
        return Err(Rejection::BelowThreshold { valid, threshold });
    }
    Ok(())
}

/// Whether a membership action makes sense after the actions before it on the
/// chain (`standing`: the last membership action per provider). Only chain
/// information is used, so every node decides the same.
pub(super) fn check_action(
    r: &crate::record::Record,
    standing: &BTreeMap<Did, Standing>,
) -> Result<(), Rejection> {
    let (provider, from_seq) = match &r.body {
        Body::MemberAdmit(b) => (&b.provider, 1),
        Body::MemberReinstate(b) => (&b.provider, 1),
        Body::MemberSuspend(b) | Body::MemberRevoke(b) => (&b.provider, b.from_seq),
        Body::MemberRekey(b) => (&b.provider, b.from_seq),
        Body::MemberSuccession(b) => {
            // A revoked provider's portfolio may still be handed on.
            return if standing.contains_key(&b.provider) {
                Ok(())
            } else {
                Err(Rejection::NotMember {
                    author: b.provider.to_string(),
                    seq: 1,
                })
            };
        }
        _ => return Ok(()),
    };
    let now = standing.get(provider).copied();
    if now == Some(Standing::Revoked) {
        return Err(Rejection::Revoked {
            author: provider.to_string(),
            seq: from_seq,
        });
    }
    match (r.kind(), now) {
        (Kind::MemberAdmit, Some(s)) => Err(Rejection::invalid(
            GateCode::AlreadyMember,
            format!("{provider} is already admitted ({})", s.as_str()),
        )),
        (Kind::MemberAdmit, None) => Ok(()),
        (_, None) => Err(Rejection::NotMember {
            author: provider.to_string(),
            seq: from_seq,
        }),
        (Kind::MemberReinstate, Some(s)) if s != Standing::Suspended => Err(Rejection::invalid(
            GateCode::NotSuspended,
            format!("{provider} is not suspended"),
        )),
        (Kind::MemberSuspend, Some(Standing::Suspended)) => Err(Rejection::invalid(
            GateCode::AlreadySuspended,
            format!("{provider} is already suspended"),
        )),
        _ => Ok(()),
    }
}
