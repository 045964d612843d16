//! The registry: a grow-only set of verified records and the visible state that is a
//! deterministic function of that set.
//!
//! Nothing here depends on arrival order. Which records *count* (canonical in their
//! author's log, author an admitted and unsuspended member at that position, action
//! on the governance chain) is a function of the whole set. [`Registry::add`] files a
//! record and brings the [`State`] up to date incrementally: a record that only
//! extends its author's log changes the entry of its own offer, demand or
//! request (or the providers); a governance action or key rotation recomputes
//! the derived trust data and then only the offers of the identities whose
//! trust data changed, and the exchange. So two registries
//! holding the same set have the same [`State`] and the same [`State::digest`],
//! whatever order the records came in, and the same as a full recomputation
//! (both property-tested in `tests/fold.rs`).
//!
//! [`Registry::admit`] is the ingest gate used by nodes for records from peers:
//! it rejects a record that cannot count given what is already known, judged by
//! the record, its author and the governance chain, with a stable reason code.
//! [`Registry::submit`] is the gate for a record its author submits: also the
//! exchange's rules against the current state.
//!
//! The code follows the fold's parts: `held.rs` (what is kept of each record and
//! each author's log), `trust.rs` (the governance chain walk, keys and
//! standing), `gate.rs` (the gates' refusals), `fold.rs` (filing a record and
//! the incremental and from-scratch state), `exchange.rs` (the exchange's
//! fold), `state.rs` (the visible state and what it answers at an instant),
//! `agreements.rs` (agreements and capacity at an instant) and `digest.rs`
//! (its canonical digest).

mod agreements;
mod digest;
mod exchange;
mod fold;
mod frontier;
mod gate;
mod held;
mod prune;
mod state;
mod trust;

pub use agreements::{AgreementStatus, Capacity};
pub use digest::STATE_TAG;
pub use fold::Changes;
pub use frontier::Inconsistency;
pub use gate::Rejection;
pub use held::Held;
pub use state::{
    AgreementEnd, Answer, Consolidation, DemandEntry, DemandVersion, MunicipalityState, OfferEntry,
    OfferHistory, OfferStatus, OfferVersion, ProviderState, RequestEntry, RequestStatus,
    StandardEntry, State, SuccessionTerms, Taker, succession_of,
};
pub use trust::Standing;

use crate::body::{Body, Kind};
use crate::code::GateCode;
use crate::fields::{DemandId, Hash32, OfferId};
use crate::keys::Did;
use crate::record::{RecordError, VerifiedRecord};
use crate::sync::{IdSet, PrefixSums};
use held::{IdList, Log};
use std::collections::{BTreeMap, BTreeSet};
use trust::{Derived, GovAction};

/// What [`Registry::admit`] did with an acceptable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// New and counting.
    Stored,
    /// Already held.
    Known,
    /// New, but waiting for its `prev` (or `prev_action`) to arrive.
    Held,
    /// New, and a second record for an (author, seq) already held, or a second
    /// governance action on the same predecessor: kept as evidence; the fold
    /// decides deterministically which one counts.
    Equivocation,
}

/// The registry of one federation.
#[derive(Debug, Clone)]
pub struct Registry {
    genesis: VerifiedRecord,
    federation: Hash32,
    records: BTreeMap<Hash32, Held>,
    logs: BTreeMap<Did, Log>,
    /// Every author key by its number (`Log::no`, `Held::author`).
    authors: Vec<Did>,
    actions: BTreeMap<Hash32, GovAction>,
    /// author key -> offer id -> offer and withdraw records
    offers: BTreeMap<Did, BTreeMap<OfferId, IdList>>,
    /// author key -> profile, succession, accept and rotate records
    misc: BTreeMap<Did, IdList>,
    /// author key -> demand id -> demand and demand withdraw records
    demands: BTreeMap<Did, BTreeMap<DemandId, IdList>>,
    /// author key -> its requests
    requests: BTreeMap<Did, IdList>,
    /// offer record id -> the requests naming it
    requests_by_offer: BTreeMap<Hash32, IdList>,
    /// request id -> the withdrawals, answers and ends naming it
    about: BTreeMap<Hash32, IdList>,
    /// (provider as named, offer id) -> the consolidations naming it
    consolidations: BTreeMap<(Did, OfferId), IdList>,
    /// (author, seq) positions holding more than one record
    multi: BTreeSet<(Did, u64)>,
    derived: Derived,
    /// The visible state, kept up to date by `add`.
    state: State,
    /// What changed in `state` since the last `take_changes` (when tracked).
    changes: Option<Changes>,
    /// Records may be cut off by a revocation: `prune` has work.
    prune_due: bool,
    /// Count and sum of the ids under each short prefix, for reconciliation.
    sums: PrefixSums,
}

impl Registry {
    /// A registry founded on `genesis`, which must be a verified genesis record.
    pub fn new(genesis: VerifiedRecord) -> Result<Registry, Rejection> {
        let Body::Genesis(g) = &genesis.record().body else {
            return Err(Rejection::invalid(
                GateCode::UnexpectedGenesis,
                "the genesis file holds a record that is not a genesis",
            ));
        };
        let valid = g
            .approvals
            .iter()
            .filter(|a| g.stewards.contains(&a.steward))
            .count();
        if (valid as u64) < g.threshold {
            return Err(Rejection::BelowThreshold {
                valid,
                threshold: g.threshold,
            });
        }
        if !g.stewards.contains(&genesis.record().author) {
            return Err(Rejection::NotSteward {
                author: genesis.record().author.to_string(),
            });
        }
        let federation = genesis.record().federation;
        let mut reg = Registry {
            genesis: genesis.clone(),
            federation,
            records: BTreeMap::new(),
            logs: BTreeMap::new(),
            authors: Vec::new(),
            actions: BTreeMap::new(),
            offers: BTreeMap::new(),
            misc: BTreeMap::new(),
            demands: BTreeMap::new(),
            requests: BTreeMap::new(),
            requests_by_offer: BTreeMap::new(),
            about: BTreeMap::new(),
            consolidations: BTreeMap::new(),
            multi: BTreeSet::new(),
            derived: Derived::default(),
            state: State {
                federation,
                head: federation,
                stewards: BTreeSet::new(),
                threshold: 0,
                providers: BTreeMap::new(),
                offers: BTreeMap::new(),
                equivocations: BTreeSet::new(),
                municipalities: BTreeMap::new(),
                demands: BTreeMap::new(),
                requests: BTreeMap::new(),
                requests_by_offer: BTreeMap::new(),
                consolidated_into: BTreeMap::new(),
                standards: BTreeMap::new(),
                observers: Vec::new(),
                witnesses: Vec::new(),
                quorum: 0,
            },
            changes: None,
            prune_due: false,
            sums: PrefixSums::default(),
        };
        reg.file(genesis);
        reg.derive();
        reg.state = reg.recomputed_state();
        Ok(reg)
    }

    /// The federation id.
    pub fn federation(&self) -> Hash32 {
        self.federation
    }

    /// The genesis record.
    pub fn genesis(&self) -> &VerifiedRecord {
        &self.genesis
    }

    /// Number of records held (genesis included).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Always false: the genesis is held from the start.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The ids of all held records, in id order.
    pub fn held_ids(&self) -> impl Iterator<Item = &Hash32> {
        self.records.keys()
    }

    /// The ids of all held records, for set reconciliation, without a copy.
    pub fn id_set(&self) -> IdSet<'_, Held> {
        IdSet::with_sums(&self.records, &self.sums)
    }

    /// The ids of the governance records in the set (the genesis left out),
    /// ascending: what a node answers a `governance` sync request with
    /// (`specs/sync.md` 3.3).
    pub fn governance_ids(&self) -> Vec<Hash32> {
        let mut ids: Vec<Hash32> = self
            .actions
            .values()
            .flat_map(|a| a.records.iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The id of the last counted record in `author`'s log, and its seq.
    pub fn head(&self, author: &Did) -> Option<(u64, Hash32)> {
        let log = self.logs.get(author)?;
        log.canonical
            .last()
            .map(|id| (log.canonical.len() as u64, *id))
    }

    /// The current head of the governance chain (the genesis action at first).
    pub fn governance_head(&self) -> Hash32 {
        self.derived.head.unwrap_or(self.federation)
    }

    /// Current stewards and threshold.
    pub fn stewards(&self) -> (&BTreeSet<Did>, u64) {
        (&self.derived.stewards, self.derived.threshold)
    }

    /// The identity (first key) a key belongs to, if it is a provider key.
    pub fn identity_of(&self, key: &Did) -> Option<&Did> {
        self.derived.keys.get(key).map(|k| &k.identity)
    }

    /// The key a provider identity currently signs with.
    pub fn current_key(&self, identity: &Did) -> Option<&Did> {
        self.derived.identities.get(identity).and_then(|k| k.last())
    }

    /// Adds a verified record of this federation without the trust gate. The state
    /// decides what counts; this is what a rebuild from storage uses.
    pub fn add(&mut self, rec: VerifiedRecord) -> Result<Admitted, RecordError> {
        rec.check_federation(&self.federation)?;
        if self.records.contains_key(&rec.id()) {
            return Ok(Admitted::Known);
        }
        let filed = self.file(rec.clone());
        self.update_state(&rec, &filed);
        if let Some(prev) = rec.record().body.prev_action() {
            // A governance action: counted, competing for a filled chain position,
            // or waiting for its predecessor.
            return Ok(if self.counts(&rec) {
                Admitted::Stored
            } else if *prev == self.federation || self.derived.chain.contains(prev) {
                Admitted::Equivocation
            } else {
                Admitted::Held
            });
        }
        let counts = self.counts(&rec);
        if !counts && self.standing(&rec.record().author, rec.record().seq) != Standing::Active {
            // Only `add` (a rebuild from storage, an import) files such a
            // record: the gate refuses it.
            self.prune_due = true;
        }
        Ok(if filed.second {
            Admitted::Equivocation
        } else if counts {
            Admitted::Stored
        } else {
            Admitted::Held
        })
    }

    /// The ingest gate: adds `rec` if it can count given what is known, or says
    /// why not. Records waiting for an unknown predecessor are held, not refused.
    pub fn admit(&mut self, rec: VerifiedRecord) -> Result<Admitted, Rejection> {
        rec.check_federation(&self.federation)?;
        if self.records.contains_key(&rec.id()) {
            return Ok(Admitted::Known);
        }
        self.check(&rec)?;
        Ok(self.add(rec)?)
    }

    /// The ingest gate for a record its author submits (`specs/protocol.md` 7,
    /// step 6): [`Registry::admit`], and before it the exchange's rules that
    /// depend on what else arrived (a withdrawal, an answer, a suspension).
    /// Those are checked only here: a peer may have stored the same record
    /// before it learned what refuses it, and refusing it on ingest would cut
    /// the author's later records off on some nodes and not on others. The fold
    /// gives such a record no effect instead.
    pub fn submit(&mut self, rec: VerifiedRecord) -> Result<Admitted, Rejection> {
        rec.check_federation(&self.federation)?;
        if self.records.contains_key(&rec.id()) {
            return Ok(Admitted::Known);
        }
        self.check(&rec)?;
        self.check_current(&rec)?;
        Ok(self.add(rec)?)
    }

    /// True if the record counts for the state.
    pub fn counts(&self, rec: &VerifiedRecord) -> bool {
        let r = rec.record();
        if r.kind() == Kind::Genesis {
            return rec.id() == self.genesis.id();
        }
        if r.kind().is_governance() {
            return self.derived.chain_records.contains(&rec.id());
        }
        self.counts_in_log(&r.author, r.seq, &rec.id())
    }

    /// The author key of a record in the set.
    pub(super) fn author(&self, h: &Held) -> &Did {
        &self.authors[h.author as usize]
    }

    /// True if `id`, at `seq` of `author`'s log, is the counted record there,
    /// the author is in good standing at that position and it lies within its
    /// identity's allowance.
    fn counts_in_log(&self, author: &Did, seq: u64, id: &Hash32) -> bool {
        let canonical = self
            .logs
            .get(author)
            .and_then(|l| l.canonical.get(seq as usize - 1))
            == Some(id);
        canonical
            && self.standing(author, seq) == Standing::Active
            && self.within_allowance(author, seq)
    }

    /// The records of `author` among `ids` that count.
    fn counted<'a>(
        &'a self,
        author: &'a Did,
        ids: &'a IdList,
    ) -> impl Iterator<Item = (&'a Hash32, &'a Held)> {
        ids.iter()
            .map(|id| (id, &self.records[id]))
            .filter(|(id, h)| self.counts_in_log(author, h.seq, id))
    }
}
