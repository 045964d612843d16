//! The gates: which records a node refuses because they cannot count given
//! what it already knows (from peers: by the record, its author and the
//! chain; from their author: also by the state), each with its stable code.

use super::Registry;
use super::exchange::Void;
use super::held::{Held, What};
use super::state::{ProviderState, RequestStatus, Taker};
use super::trust::{Derived, Standing};
use crate::body::{Body, Kind};
use crate::code::{GateCode, RecordCode, RejectCode};
use crate::fields::Hash32;
use crate::keys::Did;
use crate::record::{RecordError, VerifiedRecord};
use std::collections::BTreeSet;

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
        if !self.within_allowance(&r.author, r.seq) {
            let identity = self
                .identity_of(&r.author)
                .cloned()
                .unwrap_or(r.author.clone());
            return Err(Rejection::invalid(
                GateCode::AllowanceExceeded,
                format!(
                    "{identity} has used its allowance of {} records (this would be position {}); \
                     the stewards can raise it with member.allowance",
                    self.allowance(&identity),
                    self.identity_position(&r.author, r.seq).unwrap_or(r.seq),
                ),
            ));
        }
        // Rotations to a key in use and accepts of unknown successions are stored
        // and given no effect by the fold rather than refused here: refusing them
        // would depend on arrival order and break the author's log for the records
        // that follow (see specs/protocol.md, "Ingest gate").
        self.check_exchange(rec)
    }

    /// The exchange's rules on ingest (`specs/protocol.md` 7, step 5): only
    /// what the record, its author's identity and the governance chain decide.
    /// Every rule that looks at another author's records (the offer a request
    /// names, the request an answer names, withdrawals, successions) is the
    /// fold's, and the gate applies it only to submissions
    /// ([`Registry::submit`]): nodes may hold different records of a cut-off
    /// author for ever, and a refusal that depended on them would cut the
    /// refused record's author off on some nodes and not on others.
    fn check_exchange(&self, rec: &VerifiedRecord) -> Result<(), Rejection> {
        let r = rec.record();
        let Some(who) = self.identity_of(&r.author) else {
            return Ok(());
        };
        if !self.derived.municipalities.contains_key(who) {
            return Ok(());
        }
        if r.kind().is_provider_only() {
            return Err(Rejection::invalid(
                GateCode::NotAProvider,
                format!(
                    "{who} is a municipality; {} is signed by providers",
                    r.kind()
                ),
            ));
        }
        match &r.body {
            Body::Request(b) if !b.on_behalf_of.is_empty() => Err(void(Void::OnBehalfNotAllowed)),
            _ => Ok(()),
        }
    }

    /// The exchange's rules for a submitted record (`specs/protocol.md` 7,
    /// step 7): the fold's rules, against the state as it stands, so that the
    /// author hears at once why the record would have no effect.
    pub(super) fn check_current(&self, rec: &VerifiedRecord) -> Result<(), Rejection> {
        let r = rec.record();
        let Some(who) = self.identity_of(&r.author).cloned() else {
            return Ok(());
        };
        let providers = &self.state.providers;
        let held = Held::of(rec);
        match &held.what {
            What::Request(f) => {
                let resolved = self.resolve_static(&r.author, f).map_err(void)?;
                let offer = &self.records[&f.offer];
                if !self.counts_in_log(self.author(offer), offer.seq, &f.offer) {
                    return Err(void(Void::Unknown));
                }
                if resolved
                    .takers
                    .iter()
                    .any(|t| matches!(t, Taker::Municipality(_)))
                    && !self.derived.municipalities.contains_key(&resolved.buyer)
                {
                    let members = providers
                        .get(&resolved.buyer)
                        .and_then(ProviderState::profile_body)
                        .map(|p| p.members.as_slice())
                        .unwrap_or_default();
                    if f.on_behalf_of
                        .iter()
                        .any(|a| !members.iter().any(|m| m.covers(a.as_str())))
                    {
                        return Err(void(Void::NotAMemberMunicipality));
                    }
                }
                match self.unavailable(providers, &resolved) {
                    Some(v) => Err(void(v)),
                    None => Ok(()),
                }
            }
            What::Answer { request, .. } => {
                let (resolved, entry) = self.current_request(request)?;
                let responders =
                    Registry::responders(providers, &resolved.provider, &resolved.offer_id);
                if !responders.contains(&who) {
                    return Err(Rejection::invalid(
                        GateCode::NotResponder,
                        format!(
                            "only {} (or a provider its portfolio passed to) answers requests for its offer {}",
                            resolved.provider, resolved.offer_id
                        ),
                    ));
                }
                // An acceptance that would be void (6.6.2) cannot get here: the
                // withdrawal or consolidation that voids it makes R unavailable,
                // so R is refused above unless it is accepted, and then it is
                // answered.
                if entry.answer.is_some() {
                    return Err(Rejection::invalid(
                        GateCode::AlreadyAnswered,
                        format!("request {request} is already {}", entry.status()),
                    ));
                }
                Ok(())
            }
            What::RequestWithdraw(request) => {
                let (resolved, entry) = self.current_request(request)?;
                if resolved.buyer != who {
                    return Err(not_a_party(request, "only its buyer withdraws it"));
                }
                match entry.answer {
                    Some(_) => Err(Rejection::invalid(
                        GateCode::AlreadyAnswered,
                        format!(
                            "request {request} is already {}; an agreement is ended, not withdrawn",
                            entry.status()
                        ),
                    )),
                    None => Ok(()),
                }
            }
            What::End { request, .. } => {
                let (resolved, entry) = self.current_request(request)?;
                let party = resolved.buyer == who
                    || Registry::responders(providers, &resolved.provider, &resolved.offer_id)
                        .contains(&who);
                if !party {
                    return Err(not_a_party(
                        request,
                        "only its buyer or the offer's provider (or successor) ends it",
                    ));
                }
                if entry.is_agreement() {
                    Ok(())
                } else {
                    Err(Rejection::invalid(
                        GateCode::NotAnAgreement,
                        format!("request {request} is {}, not an agreement", entry.status()),
                    ))
                }
            }
            What::Consolidate(c) => {
                if !self
                    .state
                    .offers
                    .contains_key(&(c.provider.clone(), c.offer_id.clone()))
                {
                    return Err(Rejection::invalid(
                        GateCode::UnknownRecord,
                        format!("{} has no offer {} here", c.provider, c.offer_id),
                    ));
                }
                let successors = Registry::responders(providers, &c.provider, &c.offer_id);
                if who == c.provider || !successors.contains(&who) {
                    return Err(Rejection::invalid(
                        GateCode::NotASuccessor,
                        format!(
                            "{who} is not a provider that {}'s offer {} passed to",
                            c.provider, c.offer_id
                        ),
                    ));
                }
                match &c.replacement {
                    Some(r) if !self.state.offers.contains_key(&(who.clone(), r.clone())) => {
                        Err(Rejection::invalid(
                            GateCode::NotAnOffer,
                            format!("the replacement {r} is not an offer of {who}"),
                        ))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// The request a submitted answer, withdrawal or end names, and its entry
    /// in the state; refused if it is not held, not a request, withdrawn or
    /// does not count (any more), with the reason.
    fn current_request(
        &self,
        request: &Hash32,
    ) -> Result<(super::exchange::Resolved, &super::state::RequestEntry), Rejection> {
        let Some(held) = self.records.get(request) else {
            return Err(Rejection::invalid(
                GateCode::UnknownRecord,
                format!("request {request} is not known here (yet)"),
            ));
        };
        let What::Request(f) = &held.what else {
            return Err(Rejection::invalid(
                GateCode::NotARequest,
                format!("record {request} is a {}, not a request", held.kind()),
            ));
        };
        let resolved = self.resolve_static(self.author(held), f).map_err(void)?;
        match self.state.requests.get(request) {
            Some(e) if e.status() == RequestStatus::Withdrawn => Err(Rejection::invalid(
                GateCode::RequestWithdrawn,
                format!("the buyer withdrew request {request}"),
            )),
            Some(e) => Ok((resolved, e)),
            None => Err(void(
                self.unavailable(&self.state.providers, &resolved)
                    .unwrap_or(Void::Unknown),
            )),
        }
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
            check_action(r, d)?;
        }
        // Otherwise it competes with an action already on the chain, or follows
        // one that does not (yet) count: stored, and the fold decides.
        Ok(())
    }
}

/// The refusal for a request that cannot count.
fn void(v: Void) -> Rejection {
    let (code, why) = match v {
        Void::Unknown => (
            GateCode::UnknownRecord,
            "the offer it names is not known here (yet), or does not count",
        ),
        Void::NotAnOffer => (
            GateCode::NotAnOffer,
            "the record a request names must be a provider's offer",
        ),
        Void::OwnOffer => (
            GateCode::OwnOffer,
            "a provider does not request its own offer",
        ),
        Void::OnBehalfNotAllowed => (
            GateCode::OnBehalfNotAllowed,
            "a municipality requests only for itself",
        ),
        Void::NotAMemberMunicipality => (
            GateCode::NotAMemberMunicipality,
            "a provider requests only for municipalities its profile lists as members",
        ),
        Void::StartBeforeOffer => (
            GateCode::StartBeforeOffer,
            "the start lies before the offer is valid",
        ),
        Void::OfferExpired => (
            GateCode::OfferExpired,
            "the offer had expired when the request was issued, or expires by its start",
        ),
        Void::OfferWithdrawn => (
            GateCode::OfferWithdrawn,
            "the offer version is withdrawn or consolidated",
        ),
        Void::ProviderSuspended => (
            GateCode::ProviderSuspended,
            "the offer's provider is suspended",
        ),
        Void::ProviderRevoked => (GateCode::ProviderRevoked, "the offer's provider is revoked"),
    };
    Rejection::invalid(code, why)
}

fn not_a_party(request: &Hash32, who: &str) -> Rejection {
    Rejection::invalid(GateCode::NotAParty, format!("request {request}: {who}"))
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
/// chain (`d`: what the chain set so far, chiefly the last membership action per
/// member). Only chain information is used, so every node decides the same.
pub(super) fn check_action(r: &crate::record::Record, d: &Derived) -> Result<(), Rejection> {
    let standing = &d.chain_standing;
    let (provider, from_seq) = match &r.body {
        Body::MunicipalityAdmit(b) => {
            for m in &b.municipalities {
                match standing.get(&m.member) {
                    Some(Standing::Revoked) => {
                        return Err(Rejection::Revoked {
                            author: m.member.to_string(),
                            seq: 1,
                        });
                    }
                    Some(s) => {
                        return Err(Rejection::invalid(
                            GateCode::AlreadyMember,
                            format!("{} is already admitted ({})", m.member, s.as_str()),
                        ));
                    }
                    None => {}
                }
                if let Some(holder) = d.ags_holders.get(&m.ags)
                    && standing.get(holder) != Some(&Standing::Revoked)
                {
                    return Err(Rejection::invalid(
                        GateCode::AgsTaken,
                        format!(
                            "AGS {} is held by {holder}; revoke it before admitting another key",
                            m.ags
                        ),
                    ));
                }
            }
            return Ok(());
        }
        Body::StandardRetire(b) => {
            return match d.standards.get(&b.standard_id) {
                Some(s) if s.retired.is_none() => Ok(()),
                _ => Err(Rejection::invalid(
                    GateCode::UnknownStandard,
                    format!("standard {} is not in force", b.standard_id),
                )),
            };
        }
        Body::MemberAdmit(b) => (&b.provider, 1),
        Body::MemberReinstate(b) => (&b.provider, 1),
        Body::MemberSuspend(b) | Body::MemberRevoke(b) => (&b.provider, b.from_seq),
        Body::MemberRekey(b) => (&b.provider, b.from_seq),
        Body::MemberAllowance(b) => (&b.provider, 1),
        Body::MemberSuccession(b) => {
            if d.municipalities.contains_key(&b.provider) {
                return Err(Rejection::invalid(
                    GateCode::NotAProvider,
                    format!("{} is a municipality; it has no portfolio", b.provider),
                ));
            }
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
