//! The registry: a grow-only set of verified records and the visible state that is a
//! deterministic function of that set.
//!
//! Nothing here depends on arrival order. Which records *count* (canonical in their
//! author's log, author an admitted and unsuspended member at that position, action
//! on the governance chain) is a function of the whole set. [`Registry::add`] files a
//! record and brings the [`State`] up to date incrementally: a record that only
//! extends its author's log changes the entry of its own offer (or the providers);
//! a governance action or key rotation recomputes the derived trust data and then
//! only the offers of the identities whose trust data changed. So two registries
//! holding the same set have the same [`State`] and the same [`State::digest`],
//! whatever order the records came in, and the same as a full recomputation
//! (both property-tested in `tests/fold.rs`).
//!
//! [`Registry::admit`] is the ingest gate used by nodes: it rejects a record that
//! cannot count given what is already known, with a stable reason code.

use crate::body::{Body, Kind, ProfileBody};
use crate::fields::{Hash32, OfferId, Timestamp};
use crate::json;
use crate::keys::Did;
use crate::record::{RecordError, VerifiedRecord};
use crate::sync::IdSet;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Domain tag in front of the canonical state summary hashed into the digest.
pub const STATE_TAG: &[u8] = b"kx-state-v1\0";

/// Standing of a key at a position of its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// Not admitted (yet), or not a provider key at all.
    NotMember,
    Active,
    Suspended,
    Revoked,
    /// The key was rotated away before this position.
    KeyRotated,
}

impl Standing {
    /// Lowercase name used in the digest and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::NotMember => "not_member",
            Standing::Active => "active",
            Standing::Suspended => "suspended",
            Standing::Revoked => "revoked",
            Standing::KeyRotated => "key_rotated",
        }
    }
}

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
    Invalid { code: &'static str, reason: String },
}

impl Rejection {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Record(e) => e.code(),
            Rejection::NotMember { .. } => "not_member",
            Rejection::Suspended { .. } => "member_suspended",
            Rejection::Revoked { .. } => "member_revoked",
            Rejection::KeyRotated { .. } => "key_rotated",
            Rejection::BadPrev { .. } => "invalid_prev",
            Rejection::NotSteward { .. } => "not_steward",
            Rejection::BelowThreshold { .. } => "below_threshold",
            Rejection::Invalid { code, .. } => code,
        }
    }

    fn invalid(code: &'static str, reason: impl Into<String>) -> Rejection {
        Rejection::Invalid {
            code,
            reason: reason.into(),
        }
    }
}

/// Every code [`Registry::admit`] adds to the record codes.
pub const REJECTION_CODES: &[&str] = &[
    "not_member",
    "member_suspended",
    "member_revoked",
    "key_rotated",
    "invalid_prev",
    "not_steward",
    "below_threshold",
    "already_member",
    "already_suspended",
    "not_suspended",
    "unexpected_genesis",
];

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

/// A small sorted set of record ids. Nearly all hold a single id, which is kept
/// inline (no allocation); more go to a vector.
#[derive(Debug, Default, Clone)]
enum IdList {
    #[default]
    Empty,
    One(Hash32),
    Many(Vec<Hash32>),
}

impl IdList {
    fn insert(&mut self, id: Hash32) {
        match self {
            IdList::Empty => *self = IdList::One(id),
            IdList::One(x) if *x == id => {}
            IdList::One(x) => {
                let x = *x;
                *self = IdList::Many(if x < id { vec![x, id] } else { vec![id, x] });
            }
            IdList::Many(v) => {
                if let Err(i) = v.binary_search(&id) {
                    v.insert(i, id);
                }
            }
        }
    }

    fn as_slice(&self) -> &[Hash32] {
        match self {
            IdList::Empty => &[],
            IdList::One(x) => std::slice::from_ref(x),
            IdList::Many(v) => v,
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, Hash32> {
        self.as_slice().iter()
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

#[derive(Debug, Default, Clone)]
struct Log {
    by_seq: BTreeMap<u64, IdList>,
    /// `canonical[i]` is the counted record at seq i + 1.
    canonical: Vec<Hash32>,
}

/// What the registry keeps of a record. Offers and withdrawals, nearly all of a
/// registry, are kept as the few fields the fold needs (their bodies stay in the
/// node's store); every other kind is kept whole.
#[derive(Debug, Clone)]
pub struct Held {
    seq: u64,
    prev: Option<Hash32>,
    what: What,
}

#[derive(Debug, Clone)]
enum What {
    Offer(OfferId, OfferFacts),
    /// A withdrawal and the version it withdraws up to.
    Withdraw(OfferId, u64),
    Whole(VerifiedRecord),
}

/// What the state needs of an offer record besides its id.
#[derive(Debug, Clone)]
struct OfferFacts {
    version: u64,
    valid_from: Timestamp,
    valid_until: Option<Timestamp>,
}

impl OfferFacts {
    fn of(&self, record: Hash32) -> OfferVersion {
        OfferVersion {
            record,
            version: self.version,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

impl Held {
    fn of(rec: &VerifiedRecord) -> Held {
        let r = rec.record();
        let what = match &r.body {
            Body::Offer(b) => What::Offer(
                b.offer_id.clone(),
                OfferFacts {
                    version: b.version,
                    valid_from: b.valid_from,
                    valid_until: b.valid_until,
                },
            ),
            Body::OfferWithdraw(w) => What::Withdraw(w.offer_id.clone(), w.version),
            _ => What::Whole(rec.clone()),
        };
        Held {
            seq: r.seq,
            prev: r.prev,
            what,
        }
    }

    fn whole(&self) -> Option<&VerifiedRecord> {
        match &self.what {
            What::Whole(rec) => Some(rec),
            _ => None,
        }
    }

    fn kind_is(&self, kind: Kind) -> bool {
        match &self.what {
            What::Offer(..) => kind == Kind::Offer,
            What::Withdraw(..) => kind == Kind::OfferWithdraw,
            What::Whole(rec) => rec.record().kind() == kind,
        }
    }
}

#[derive(Debug, Clone)]
struct GovAction {
    prev: Hash32,
    /// Wrapping records (the same action may be submitted by several stewards).
    records: BTreeSet<Hash32>,
}

#[derive(Debug, Clone)]
struct KeyInfo {
    identity: Did,
    /// Position in the identity's rotation order (0: the identity key itself).
    index: usize,
    /// Seq of the counted `key.rotate` in this key's log.
    rotated_at: Option<u64>,
}

/// A cut named by a suspension or revocation: from `from_seq` of `key`'s log.
#[derive(Debug, Clone)]
struct Cut {
    key: Did,
    from_seq: u64,
}

/// Everything derived from governance and rotations; recomputed when either changes.
#[derive(Debug, Clone, Default)]
struct Derived {
    chain: Vec<Hash32>,
    /// The counted wrapping record of each action on the chain.
    chain_records: BTreeSet<Hash32>,
    head: Option<Hash32>,
    stewards: BTreeSet<Did>,
    threshold: u64,
    /// identity -> name from its admission
    members: BTreeMap<Did, String>,
    /// identity -> standing set by its last membership action on the chain
    chain_standing: BTreeMap<Did, Standing>,
    /// identity -> the cut of its current suspension
    suspensions: BTreeMap<Did, Cut>,
    /// identity -> the cut of its revocation
    revocations: BTreeMap<Did, Cut>,
    /// Key replacements by the stewards: (provider, lost key, from_seq, new key).
    rekeys: Vec<(Did, Did, u64, Did)>,
    /// Counted records of steward successions.
    steward_successions: Vec<Hash32>,
    keys: BTreeMap<Did, KeyInfo>,
    /// identity -> its keys in rotation order
    identities: BTreeMap<Did, Vec<Did>>,
}

/// The registry of one federation.
#[derive(Debug, Clone)]
pub struct Registry {
    genesis: VerifiedRecord,
    federation: Hash32,
    records: BTreeMap<Hash32, Held>,
    logs: BTreeMap<Did, Log>,
    actions: BTreeMap<Hash32, GovAction>,
    /// author key -> offer id -> offer and withdraw records
    offers: BTreeMap<Did, BTreeMap<OfferId, IdList>>,
    /// author key -> profile, succession, accept and rotate records
    misc: BTreeMap<Did, IdList>,
    /// (author, seq) positions holding more than one record
    multi: BTreeSet<(Did, u64)>,
    derived: Derived,
    /// The visible state, kept up to date by `add`.
    state: State,
    /// What changed in `state` since the last `take_changes` (when tracked).
    changes: Option<Changes>,
}

/// What changed in a registry's [`State`] since the last [`Registry::take_changes`]:
/// for callers that keep their own indexes over the state (a node's search index).
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// Offers whose current version or withdrawal changed, or that appeared or
    /// disappeared.
    pub offers: BTreeSet<(Did, OfferId)>,
}

/// What filing one record did.
#[derive(Debug, Default)]
struct Filed {
    /// Governance or key rotations may have changed: recompute the derived data.
    derive: bool,
    /// Records left the counted chain of a log: recompute the whole state.
    rebuild: bool,
    /// Records that newly count in their author's log.
    counted: Vec<Hash32>,
    /// The record filled an (author, seq) position already taken.
    second: bool,
}

impl Registry {
    /// A registry founded on `genesis`, which must be a verified genesis record.
    pub fn new(genesis: VerifiedRecord) -> Result<Registry, Rejection> {
        let Body::Genesis(g) = &genesis.record().body else {
            return Err(Rejection::invalid(
                "unexpected_genesis",
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
            actions: BTreeMap::new(),
            offers: BTreeMap::new(),
            misc: BTreeMap::new(),
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
            },
            changes: None,
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

    /// The ids of all held records, for set reconciliation, without a copy.
    pub fn id_set(&self) -> IdSet<'_, Held> {
        IdSet::of(&self.records)
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
        Ok(if filed.second {
            Admitted::Equivocation
        } else if self.counts(&rec) {
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

    fn check(&self, rec: &VerifiedRecord) -> Result<(), Rejection> {
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
                "unexpected_genesis",
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

    /// Files a record into the indexes and says what the state update must do.
    fn file(&mut self, rec: VerifiedRecord) -> Filed {
        let id = rec.id();
        let r = rec.record();
        let mut held = Held::of(&rec);
        if let What::Offer(offer_id, _) | What::Withdraw(offer_id, _) = &mut held.what {
            // The registry keeps the offer id for long: one copy per offer, in
            // an allocation of its own rather than amid the parse's garbage
            // (which it would keep from being returned to the system).
            let offers = self.offers.entry(r.author.clone()).or_default();
            let kept = match offers.get_key_value(&*offer_id) {
                Some((k, _)) => k.clone(),
                None => offer_id.detached(),
            };
            *offer_id = kept.clone();
            offers.entry(kept).or_default().insert(id);
        }
        self.records.insert(id, held);
        let mut filed = Filed {
            derive: r.kind().is_governance() && r.kind() != Kind::Genesis,
            ..Filed::default()
        };
        if let (Some(action), Some(prev)) = (rec.action(), r.body.prev_action()) {
            self.actions
                .entry(action)
                .or_insert_with(|| GovAction {
                    prev: *prev,
                    records: BTreeSet::new(),
                })
                .records
                .insert(id);
        }
        if matches!(
            r.kind(),
            Kind::ProviderProfile | Kind::Succession | Kind::SuccessionAccept | Kind::KeyRotate
        ) {
            self.misc.entry(r.author.clone()).or_default().insert(id);
        }
        let log = self.logs.entry(r.author.clone()).or_default();
        let at_seq = log.by_seq.entry(r.seq).or_default();
        at_seq.insert(id);
        if at_seq.len() > 1 {
            filed.second = true;
            self.multi.insert((r.author.clone(), r.seq));
        }
        let seq = r.seq as usize;
        let changed = if seq <= log.canonical.len() {
            // A second record for a filled position: recompute only if it could
            // replace the counted one (same predecessor, lower id).
            let same_prev = seq == 1 || Some(&log.canonical[seq - 2]) == r.prev.as_ref();
            if same_prev && id < log.canonical[seq - 1] {
                log.canonical.truncate(seq - 1);
                // Records dropped from the counted chain may include a rotation,
                // and any offer of theirs: recompute everything.
                filed.derive = true;
                filed.rebuild = true;
                true
            } else {
                false
            }
        } else {
            seq == log.canonical.len() + 1
        };
        if changed {
            let records = &self.records;
            let before = log.canonical.len();
            extend_canonical(log, records);
            filed.counted = log.canonical[before..].to_vec();
            // A newly counted or replaced key.rotate changes which keys are valid.
            filed.derive |= filed
                .counted
                .iter()
                .any(|i| records[i].kind_is(Kind::KeyRotate));
        }
        filed
    }

    /// Brings `self.state` up to date after `rec` was filed.
    fn update_state(&mut self, rec: &VerifiedRecord, filed: &Filed) {
        if filed.derive {
            let old = std::mem::take(&mut self.derived);
            self.derive();
            if filed.rebuild {
                let new = self.recomputed_state();
                let old_state = std::mem::replace(&mut self.state, new);
                if let Some(c) = self.changes.as_mut() {
                    c.offers.extend(old_state.offers.into_keys());
                    c.offers.extend(self.state.offers.keys().cloned());
                }
                return;
            }
            self.refresh_derived(&old);
        } else if filed.second {
            let r = rec.record();
            if self.standing(&r.author, r.seq) == Standing::Active {
                self.state.equivocations.insert((r.author.clone(), r.seq));
            }
        }
        for id in &filed.counted {
            self.refresh_record(&rec.record().author, *id);
        }
    }

    /// After the derived data changed from `old`: the governance fields, the
    /// offers of every identity whose trust data changed, the providers and the
    /// equivocations.
    fn refresh_derived(&mut self, old: &Derived) {
        self.state.head = self.governance_head();
        self.state.stewards = self.derived.stewards.clone();
        self.state.threshold = self.derived.threshold;
        let new = &self.derived;
        let candidates: BTreeSet<&Did> = old
            .members
            .keys()
            .chain(old.identities.keys())
            .chain(new.members.keys())
            .chain(new.identities.keys())
            .collect();
        let mut stale: Vec<(Did, OfferId)> = Vec::new();
        for identity in candidates {
            if identity_view(old, identity) == identity_view(new, identity) {
                continue;
            }
            let keys = old
                .identities
                .get(identity)
                .into_iter()
                .chain(new.identities.get(identity))
                .flatten();
            let offer_ids: BTreeSet<&OfferId> = keys
                .filter_map(|k| self.offers.get(k))
                .flat_map(|m| m.keys())
                .collect();
            stale.extend(offer_ids.into_iter().map(|o| (identity.clone(), o.clone())));
        }
        for (identity, offer_id) in stale {
            self.refresh_offer(&identity, &offer_id);
        }
        self.refresh_providers();
        self.state.equivocations = self.equivocations();
    }

    /// After `id` newly counts in `author`'s log.
    fn refresh_record(&mut self, author: &Did, id: Hash32) {
        let Some(identity) = self.identity_of(author).cloned() else {
            return;
        };
        let held = &self.records[&id];
        if let What::Offer(offer_id, _) | What::Withdraw(offer_id, _) = &held.what {
            let offer_id = offer_id.clone();
            self.refresh_offer(&identity, &offer_id);
        } else if [
            Kind::ProviderProfile,
            Kind::Succession,
            Kind::SuccessionAccept,
        ]
        .iter()
        .any(|k| held.kind_is(*k))
        {
            self.refresh_providers();
        }
    }

    fn refresh_offer(&mut self, identity: &Did, offer_id: &OfferId) {
        let entry = self.offer_entry(identity, offer_id);
        let key = (identity.clone(), offer_id.clone());
        let before = self.state.offers.get(&key);
        let after = entry.current().is_some().then_some(&entry);
        if before == after {
            return;
        }
        if after.is_some() {
            self.state.offers.insert(key.clone(), entry);
        } else {
            self.state.offers.remove(&key);
        }
        if let Some(c) = self.changes.as_mut() {
            c.offers.insert(key);
        }
    }

    fn refresh_providers(&mut self) {
        self.state.providers = self.providers();
    }

    /// Starts recording what changes in the state, for [`Registry::take_changes`].
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Changes::default);
    }

    /// What changed in the state since the last call (nothing unless tracked).
    pub fn take_changes(&mut self) -> Changes {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Recomputes the governance chain, membership actions and key map.
    fn derive(&mut self) {
        let Body::Genesis(g) = &self.genesis.record().body else {
            return;
        };
        let mut d = Derived {
            stewards: g.stewards.iter().cloned().collect(),
            threshold: g.threshold,
            ..Derived::default()
        };
        // Children of each action, for walking the chain from the genesis.
        let mut children: BTreeMap<Hash32, Vec<Hash32>> = BTreeMap::new();
        for (digest, a) in &self.actions {
            children.entry(a.prev).or_default().push(*digest);
        }
        d = self.walk(d, self.federation, &children);
        // Original keys: every admitted identity.
        for id in d.members.keys() {
            d.keys.insert(
                id.clone(),
                KeyInfo {
                    identity: id.clone(),
                    index: 0,
                    rotated_at: None,
                },
            );
            d.identities.insert(id.clone(), vec![id.clone()]);
        }
        // Rotations, in rounds: a key claimed by two rotations, or one already in
        // use, is given to nobody (both old keys stay cut at their rotation).
        let mut frontier: Vec<Did> = d.keys.keys().cloned().collect();
        while !frontier.is_empty() {
            let mut claims: BTreeMap<Did, Vec<(Did, u64)>> = BTreeMap::new();
            for key in &frontier {
                if let Some((seq, new_key)) = self.first_rotation(&d, key) {
                    if let Some(k) = d.keys.get_mut(key) {
                        k.rotated_at = Some(seq);
                    }
                    claims.entry(new_key).or_default().push((key.clone(), seq));
                }
            }
            let mut next = Vec::new();
            for (new_key, by) in claims {
                if by.len() != 1 || d.keys.contains_key(&new_key) || d.stewards.contains(&new_key) {
                    continue;
                }
                let (old, _) = &by[0];
                let identity = d.keys[old].identity.clone();
                let index = d.keys[old].index + 1;
                d.keys.insert(
                    new_key.clone(),
                    KeyInfo {
                        identity: identity.clone(),
                        index,
                        rotated_at: None,
                    },
                );
                d.identities
                    .entry(identity)
                    .or_default()
                    .push(new_key.clone());
                next.push(new_key);
            }
            frontier = next;
        }
        self.derived = d;
    }

    /// Follows the governance chain from `cur`. Where several valid actions follow
    /// one action (a fork), the branch that reaches furthest wins, and among equally
    /// long branches the one whose first action has the lowest digest: an action
    /// signed on an old head cannot undo the actions that came after it.
    fn walk(
        &self,
        mut d: Derived,
        mut cur: Hash32,
        children: &BTreeMap<Hash32, Vec<Hash32>>,
    ) -> Derived {
        loop {
            let valid: Vec<(Hash32, Hash32)> = children
                .get(&cur)
                .into_iter()
                .flatten()
                .filter_map(|digest| {
                    // Of an action's wrapping records, the lowest valid id counts.
                    self.actions[digest]
                        .records
                        .iter()
                        .find(|rid| {
                            self.records[*rid].whole().is_some_and(|rec| {
                                let r = rec.record();
                                check_approvals(r, &d.stewards, d.threshold).is_ok()
                                    && check_action(r, &d.chain_standing).is_ok()
                            })
                        })
                        .map(|rid| (*digest, *rid))
                })
                .collect();
            match valid.as_slice() {
                [] => return d,
                [(digest, rid)] => {
                    self.apply(&mut d, *digest, *rid);
                    cur = *digest;
                }
                forks => {
                    let mut best: Option<Derived> = None;
                    for (digest, rid) in forks {
                        let mut branch = d.clone();
                        self.apply(&mut branch, *digest, *rid);
                        let end = self.walk(branch, *digest, children);
                        if best
                            .as_ref()
                            .is_none_or(|b| end.chain.len() > b.chain.len())
                        {
                            best = Some(end);
                        }
                    }
                    return best.unwrap_or(d);
                }
            }
        }
    }

    /// Applies one governance action to the derived state.
    fn apply(&self, d: &mut Derived, digest: Hash32, rid: Hash32) {
        let body = self.records[&rid].whole().map(|rec| &rec.record().body);
        match body {
            Some(Body::MemberAdmit(b)) => {
                d.chain_standing
                    .insert(b.provider.clone(), Standing::Active);
                d.members.insert(b.provider.clone(), b.name.to_string());
            }
            Some(Body::MemberSuspend(b)) => {
                d.chain_standing
                    .insert(b.provider.clone(), Standing::Suspended);
                d.suspensions.insert(
                    b.provider.clone(),
                    Cut {
                        key: b.key.clone(),
                        from_seq: b.from_seq,
                    },
                );
            }
            Some(Body::MemberReinstate(b)) => {
                d.chain_standing
                    .insert(b.provider.clone(), Standing::Active);
                d.suspensions.remove(&b.provider);
            }
            Some(Body::MemberRevoke(b)) => {
                d.chain_standing
                    .insert(b.provider.clone(), Standing::Revoked);
                d.suspensions.remove(&b.provider);
                d.revocations.insert(
                    b.provider.clone(),
                    Cut {
                        key: b.key.clone(),
                        from_seq: b.from_seq,
                    },
                );
            }
            Some(Body::FederationStewards(b)) => {
                d.stewards = b.stewards.iter().cloned().collect();
                d.threshold = b.threshold;
            }
            Some(Body::MemberRekey(b)) => {
                d.rekeys.push((
                    b.provider.clone(),
                    b.key.clone(),
                    b.from_seq,
                    b.new_key.clone(),
                ));
            }
            Some(Body::MemberSuccession(_)) => d.steward_successions.push(rid),
            _ => {}
        }
        d.chain.push(digest);
        d.chain_records.insert(rid);
        d.head = Some(digest);
    }

    /// The rotation of `key`: the lower cut of its first counted `key.rotate`
    /// (cut at its seq) and of a steward `member.rekey` naming it (cut before
    /// `from_seq`); on a tie, the stewards'.
    fn first_rotation(&self, d: &Derived, key: &Did) -> Option<(u64, Did)> {
        let own = self.own_rotation(d, key);
        let identity = d.keys.get(key).map(|k| &k.identity);
        let by_stewards = d
            .rekeys
            .iter()
            .filter(|(p, k, _, _)| k == key && Some(p) == identity)
            .map(|(_, _, from, new)| (from - 1, new.clone()))
            .min_by(|a, b| a.0.cmp(&b.0));
        match (own, by_stewards) {
            (Some(o), Some(s)) => Some(if o.0 < s.0 { o } else { s }),
            (o, s) => o.or(s),
        }
    }

    fn own_rotation(&self, d: &Derived, key: &Did) -> Option<(u64, Did)> {
        let ids = self.misc.get(key)?;
        let log = self.logs.get(key)?;
        let mut best: Option<(u64, Did)> = None;
        for id in ids.iter() {
            let Some(r) = self.records[id].whole().map(VerifiedRecord::record) else {
                continue;
            };
            let Body::KeyRotate(b) = &r.body else {
                continue;
            };
            let counted = log.canonical.get(r.seq as usize - 1) == Some(id);
            if counted
                && standing_in(d, key, r.seq) == Standing::Active
                && best.as_ref().is_none_or(|(s, _)| r.seq < *s)
            {
                best = Some((r.seq, b.new_key.clone()));
            }
        }
        best
    }

    /// Standing of `key` at position `seq` of its log.
    pub fn standing(&self, key: &Did, seq: u64) -> Standing {
        standing_in(&self.derived, key, seq)
    }

    /// Current standing of a provider identity (of its newest key).
    pub fn current_standing(&self, identity: &Did) -> Standing {
        let d = &self.derived;
        if !d.members.contains_key(identity) {
            Standing::NotMember
        } else if d.revocations.contains_key(identity) {
            Standing::Revoked
        } else if d.suspensions.contains_key(identity) {
            Standing::Suspended
        } else {
            match self.current_key(identity) {
                Some(k) => self.standing(k, u64::MAX),
                None => Standing::NotMember,
            }
        }
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

    /// True if `id`, at `seq` of `author`'s log, is the counted record there and
    /// the author is in good standing at that position.
    fn counts_in_log(&self, author: &Did, seq: u64, id: &Hash32) -> bool {
        let canonical = self
            .logs
            .get(author)
            .and_then(|l| l.canonical.get(seq as usize - 1))
            == Some(id);
        canonical && self.standing(author, seq) == Standing::Active
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

    /// The visible state. Independent of arrival order and of the clock; kept up
    /// to date as records are added.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The visible state computed from scratch: what [`Registry::state`] must
    /// always equal (tests check it does).
    pub fn recomputed_state(&self) -> State {
        let d = &self.derived;
        let mut offers = BTreeMap::new();
        for identity in d.members.keys() {
            let offer_ids: BTreeSet<&OfferId> = d
                .identities
                .get(identity)
                .into_iter()
                .flatten()
                .filter_map(|k| self.offers.get(k))
                .flat_map(|m| m.keys())
                .collect();
            for offer_id in offer_ids {
                let entry = self.offer_entry(identity, offer_id);
                if entry.current().is_some() {
                    offers.insert((identity.clone(), offer_id.clone()), entry);
                }
            }
        }
        State {
            federation: self.federation,
            head: self.governance_head(),
            stewards: d.stewards.clone(),
            threshold: d.threshold,
            providers: self.providers(),
            offers,
            equivocations: self.equivocations(),
        }
    }

    /// The counted offer and withdrawal records of one offer of a provider
    /// identity, across its keys in rotation order.
    fn offer_records<'a>(
        &'a self,
        identity: &Did,
        offer_id: &'a OfferId,
    ) -> impl Iterator<Item = (&'a Hash32, &'a Held)> {
        let keys = self.derived.identities.get(identity).into_iter().flatten();
        keys.filter_map(move |key| Some((key, self.offers.get(key)?.get(offer_id)?)))
            .flat_map(|(key, ids)| self.counted(key, ids))
    }

    /// What the state shows of one offer of a provider identity.
    fn offer_entry(&self, identity: &Did, offer_id: &OfferId) -> OfferEntry {
        let mut entry = OfferEntry::default();
        for (id, held) in self.offer_records(identity, offer_id) {
            match &held.what {
                What::Offer(_, v) => {
                    let better = entry
                        .current()
                        .is_none_or(|c| (v.version, *id) > (c.version, c.record));
                    if better {
                        entry.current = Some(v.of(*id));
                    }
                }
                What::Withdraw(_, version) => entry.withdrawn_to = entry.withdrawn_to.max(*version),
                What::Whole(_) => {}
            }
        }
        entry
    }

    /// Every counted version and withdrawal of one offer of a provider identity
    /// (the state keeps only the current version).
    pub fn offer_history(&self, identity: &Did, offer_id: &OfferId) -> OfferHistory {
        let mut history = OfferHistory::default();
        for (id, held) in self.offer_records(identity, offer_id) {
            match &held.what {
                What::Offer(_, v) => history.versions.push(v.of(*id)),
                What::Withdraw(..) => history.withdrawals.push(*id),
                What::Whole(_) => {}
            }
        }
        history
    }

    /// (author, seq) positions with more than one record, where the author is
    /// in good standing.
    fn equivocations(&self) -> BTreeSet<(Did, u64)> {
        self.multi
            .iter()
            .filter(|(author, seq)| self.standing(author, *seq) == Standing::Active)
            .cloned()
            .collect()
    }

    /// Every admitted provider: standing, keys, profile and successions.
    fn providers(&self) -> BTreeMap<Did, ProviderState> {
        let d = &self.derived;
        let mut providers = BTreeMap::new();
        for (identity, name) in &d.members {
            let keys = d.identities.get(identity).cloned().unwrap_or_default();
            let mut profile: Option<VerifiedRecord> = None;
            let mut successions = Vec::new();
            let mut accepts = Vec::new();
            for key in &keys {
                let Some(ids) = self.misc.get(key) else {
                    continue;
                };
                for rec in self.counted(key, ids).filter_map(|(_, h)| h.whole()) {
                    match &rec.record().body {
                        // Keys are in rotation order and a key's records in seq
                        // order, so the last counted profile is the newest.
                        Body::ProviderProfile(_) => {
                            let newer = profile.as_ref().is_none_or(|p| {
                                p.record().author != rec.record().author
                                    || p.record().seq < rec.record().seq
                            });
                            if newer {
                                profile = Some(rec.clone());
                            }
                        }
                        Body::Succession(_) => successions.push(rec.clone()),
                        Body::SuccessionAccept(_) => accepts.push(rec.clone()),
                        _ => {}
                    }
                }
            }
            providers.insert(
                identity.clone(),
                ProviderState {
                    identity: identity.clone(),
                    name: name.clone(),
                    standing: self.current_standing(identity),
                    keys,
                    profile,
                    successions,
                    accepts,
                    successor: None,
                    predecessors: Vec::new(),
                },
            );
        }
        // Successions the stewards signed for providers that lost their key.
        for rid in &d.steward_successions {
            let Some(rec) = self.records[rid].whole() else {
                continue;
            };
            if let Body::MemberSuccession(b) = &rec.record().body
                && let Some(p) = providers.get_mut(&b.provider)
            {
                p.successions.push(rec.clone());
            }
        }
        // A succession takes effect once a key of the successor accepted it; of
        // several, the lowest record id.
        let mut links = Vec::new();
        for p in providers.values() {
            let mut effective: Option<&VerifiedRecord> = None;
            for s in &p.successions {
                let Some(b) = succession_of(s) else {
                    continue;
                };
                let accepted = providers.get(b.successor).is_some_and(|succ| {
                    succ.accepts.iter().any(|a| {
                        matches!(&a.record().body, Body::SuccessionAccept(x) if x.succession == s.id())
                    })
                });
                if accepted && effective.is_none_or(|e| s.id() < e.id()) {
                    effective = Some(s);
                }
            }
            if let Some(s) = effective
                && let Some(b) = succession_of(s)
            {
                links.push((p.identity.clone(), b.successor.clone(), s.clone()));
            }
        }
        for (pred, succ, rec) in links {
            if let Some(p) = providers.get_mut(&pred) {
                p.successor = Some(rec.clone());
            }
            if let Some(s) = providers.get_mut(&succ) {
                s.predecessors.push(pred);
            }
        }
        providers
    }
}

/// A provider identity's trust data: what decides which of its records count.
/// When it is unchanged by a governance action, so are the identity's offers.
type IdentityView<'a> = (
    Option<&'a String>,
    Option<&'a Standing>,
    Option<(&'a Did, u64)>,
    Option<(&'a Did, u64)>,
    Vec<(&'a Did, Option<(usize, Option<u64>)>)>,
);

fn identity_view<'a>(d: &'a Derived, identity: &Did) -> IdentityView<'a> {
    let cut = |c: &'a Cut| (&c.key, c.from_seq);
    (
        d.members.get(identity),
        d.chain_standing.get(identity),
        d.suspensions.get(identity).map(cut),
        d.revocations.get(identity).map(cut),
        d.identities
            .get(identity)
            .into_iter()
            .flatten()
            .map(|k| (k, d.keys.get(k).map(|i| (i.index, i.rotated_at))))
            .collect(),
    )
}

/// What a succession record says, whether the predecessor (`succession`) or the
/// stewards (`member.succession`) signed it.
#[derive(Debug, Clone, Copy)]
pub struct SuccessionTerms<'a> {
    pub successor: &'a Did,
    pub effective_at: Timestamp,
    pub offer_ids: &'a [OfferId],
}

/// The terms of a succession record (None for other kinds).
pub fn succession_of(rec: &VerifiedRecord) -> Option<SuccessionTerms<'_>> {
    match &rec.record().body {
        Body::Succession(b) => Some(SuccessionTerms {
            successor: &b.successor,
            effective_at: b.effective_at,
            offer_ids: &b.offer_ids,
        }),
        Body::MemberSuccession(b) => Some(SuccessionTerms {
            successor: &b.successor,
            effective_at: b.effective_at,
            offer_ids: &b.offer_ids,
        }),
        _ => None,
    }
}

fn standing_in(d: &Derived, key: &Did, seq: u64) -> Standing {
    let Some(info) = d.keys.get(key) else {
        return Standing::NotMember;
    };
    if info.rotated_at.is_some_and(|n| seq > n) {
        return Standing::KeyRotated;
    }
    // A cut applies from `from_seq` of the key it names, to every position of
    // keys rotated in after that key, and not to keys before it. A cut naming a
    // key the provider does not have cuts nothing at record level.
    let cut = |c: &Cut| match d.keys.get(&c.key) {
        Some(k) if k.identity == info.identity => {
            info.index > k.index || (info.index == k.index && seq >= c.from_seq)
        }
        _ => false,
    };
    if d.revocations.get(&info.identity).is_some_and(cut) {
        return Standing::Revoked;
    }
    if d.suspensions.get(&info.identity).is_some_and(cut) {
        return Standing::Suspended;
    }
    Standing::Active
}

/// Author and approvals of a governance record against a steward set.
fn check_approvals(
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
fn check_action(
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
            "already_member",
            format!("{provider} is already admitted ({})", s.as_str()),
        )),
        (Kind::MemberAdmit, None) => Ok(()),
        (_, None) => Err(Rejection::NotMember {
            author: provider.to_string(),
            seq: from_seq,
        }),
        (Kind::MemberReinstate, Some(s)) if s != Standing::Suspended => Err(Rejection::invalid(
            "not_suspended",
            format!("{provider} is not suspended"),
        )),
        (Kind::MemberSuspend, Some(Standing::Suspended)) => Err(Rejection::invalid(
            "already_suspended",
            format!("{provider} is already suspended"),
        )),
        _ => Ok(()),
    }
}

/// Extends a log's counted chain from its current end: at each next seq, the lowest
/// id among the records whose `prev` is the counted record before it.
fn extend_canonical(log: &mut Log, records: &BTreeMap<Hash32, Held>) {
    loop {
        let next_seq = log.canonical.len() as u64 + 1;
        let Some(ids) = log.by_seq.get(&next_seq) else {
            return;
        };
        let want = log.canonical.last();
        let next = ids
            .iter()
            .find(|id| records[*id].prev.as_ref() == want)
            .copied();
        match next {
            Some(id) => log.canonical.push(id),
            None => return,
        }
    }
}

/// One version of an offer as the state needs it: what decides its status. The
/// body itself is the record's (`record`), read from storage when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferVersion {
    pub record: Hash32,
    pub version: u64,
    pub valid_from: Timestamp,
    pub valid_until: Option<Timestamp>,
}

/// One offer of one provider as the state shows it: the winning version and how
/// far withdrawals reach. [`Registry::offer_history`] gives every version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferEntry {
    current: Option<OfferVersion>,
    /// Highest version named by a counted withdrawal (0: none).
    pub withdrawn_to: u64,
}

/// Every counted version and withdrawal of one offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferHistory {
    /// By key in rotation order, then record id.
    pub versions: Vec<OfferVersion>,
    /// The withdrawal records, in the same order.
    pub withdrawals: Vec<Hash32>,
}

impl OfferEntry {
    /// The winning version: highest `version`, then highest record id.
    pub fn current(&self) -> Option<&OfferVersion> {
        self.current.as_ref()
    }

    /// True if a withdrawal covers the current version.
    pub fn withdrawn(&self) -> bool {
        self.current()
            .is_some_and(|c| c.version <= self.withdrawn_to)
    }
}

/// One admitted provider.
#[derive(Debug, Clone)]
pub struct ProviderState {
    pub identity: Did,
    /// Name from its admission.
    pub name: String,
    pub standing: Standing,
    /// Its keys, oldest first; the last signs now.
    pub keys: Vec<Did>,
    pub profile: Option<VerifiedRecord>,
    successions: Vec<VerifiedRecord>,
    accepts: Vec<VerifiedRecord>,
    /// The accepted succession that hands this provider's portfolio on.
    pub successor: Option<VerifiedRecord>,
    /// Providers whose portfolio passed to this one.
    pub predecessors: Vec<Did>,
}

impl ProviderState {
    /// The profile body, if a profile was published.
    pub fn profile_body(&self) -> Option<&ProfileBody> {
        match self.profile.as_ref().map(|r| &r.record().body) {
            Some(Body::ProviderProfile(b)) => Some(b),
            _ => None,
        }
    }
}

/// Why an offer is or is not shown at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OfferStatus {
    Active,
    NotYetValid,
    Expired,
    Withdrawn,
    ProviderSuspended,
    ProviderRevoked,
}

impl OfferStatus {
    /// Lowercase name used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Active => "active",
            OfferStatus::NotYetValid => "not_yet_valid",
            OfferStatus::Expired => "expired",
            OfferStatus::Withdrawn => "withdrawn",
            OfferStatus::ProviderSuspended => "provider_suspended",
            OfferStatus::ProviderRevoked => "provider_revoked",
        }
    }
}

/// The visible state of a registry.
#[derive(Debug, Clone)]
pub struct State {
    pub federation: Hash32,
    /// Head of the governance chain.
    pub head: Hash32,
    pub stewards: BTreeSet<Did>,
    pub threshold: u64,
    /// Admitted providers by identity.
    pub providers: BTreeMap<Did, ProviderState>,
    /// Offers by (provider identity, offer id).
    pub offers: BTreeMap<(Did, OfferId), OfferEntry>,
    /// (author, seq) positions with more than one record.
    pub equivocations: BTreeSet<(Did, u64)>,
}

impl State {
    /// The offers of one provider identity, by offer id.
    pub fn offers_of<'a>(
        &'a self,
        provider: &Did,
    ) -> impl Iterator<Item = (&'a OfferId, &'a OfferEntry)> + 'a {
        let provider = provider.clone();
        self.offers
            .range((provider.clone(), OfferId::min_bound())..)
            .take_while(move |((d, _), _)| *d == provider)
            .map(|((_, id), e)| (id, e))
    }

    /// Status of an offer at instant `now`: provider standing, withdrawal, then
    /// validity window. The clock enters here, never into the digest.
    pub fn offer_status(&self, provider: &Did, entry: &OfferEntry, now: Timestamp) -> OfferStatus {
        match self.providers.get(provider).map(|p| p.standing) {
            Some(Standing::Active) => {}
            Some(Standing::Suspended) => return OfferStatus::ProviderSuspended,
            _ => return OfferStatus::ProviderRevoked,
        }
        if entry.withdrawn() {
            return OfferStatus::Withdrawn;
        }
        let Some(b) = entry.current() else {
            return OfferStatus::Withdrawn;
        };
        if now < b.valid_from {
            return OfferStatus::NotYetValid;
        }
        if b.valid_until.is_some_and(|u| now >= u) {
            return OfferStatus::Expired;
        }
        OfferStatus::Active
    }

    /// Who shows an offer at `now`: the successor once an accepted succession that
    /// covers it is effective, else the provider itself.
    pub fn shown_under(&self, provider: &Did, offer_id: &OfferId, now: Timestamp) -> Did {
        let mut cur = provider.clone();
        // Follow chains of mergers (bounded: each step moves to another provider).
        for _ in 0..self.providers.len() {
            let Some(s) = self.providers.get(&cur).and_then(|p| p.successor.as_ref()) else {
                break;
            };
            let Some(b) = succession_of(s) else {
                break;
            };
            let covers = b.offer_ids.is_empty() || b.offer_ids.contains(offer_id);
            if !covers || now < b.effective_at {
                break;
            }
            cur = b.successor.clone();
        }
        cur
    }

    /// The canonical summary that the digest hashes (see `specs/protocol.md`).
    pub fn summary(&self) -> Value {
        let providers: Vec<Value> = self
            .providers
            .values()
            .map(|p| {
                json!({
                    "did": p.identity.as_str(),
                    "name": p.name,
                    "standing": p.standing.as_str(),
                    "keys": p.keys.iter().map(Did::as_str).collect::<Vec<_>>(),
                    "profile": p.profile.as_ref().map(|r| r.id().to_hex()),
                    "successor": p.successor.as_ref().map(|r| r.id().to_hex()),
                })
            })
            .collect();
        let offers: Vec<Value> = self
            .offers
            .iter()
            .filter_map(|((provider, offer_id), e)| {
                let cur = e.current()?;
                Some(json!({
                    "provider": provider.as_str(),
                    "offer_id": offer_id.as_str(),
                    "record": cur.record.to_hex(),
                    "withdrawn": e.withdrawn(),
                }))
            })
            .collect();
        let equivocations: Vec<Value> = self
            .equivocations
            .iter()
            .map(|(a, s)| json!({"author": a.as_str(), "seq": s}))
            .collect();
        json!({
            "federation": self.federation.to_hex(),
            "governance": {
                "head": self.head.to_hex(),
                "stewards": self.stewards.iter().map(Did::as_str).collect::<Vec<_>>(),
                "threshold": self.threshold,
            },
            "providers": providers,
            "offers": offers,
            "equivocations": equivocations,
        })
    }

    /// SHA-256 of `STATE_TAG || JCS(summary)`: equal on every node that holds
    /// the same records. The canonical summary is written straight into the hash,
    /// in JCS key order, without building it as a JSON value (the same bytes as
    /// `json::canonical(&self.summary())`, which a test checks).
    pub fn digest(&self) -> Hash32 {
        let mut w = DigestWriter::new();
        w.push("{\"equivocations\":[");
        for (i, (author, seq)) in self.equivocations.iter().enumerate() {
            w.push(if i > 0 {
                ",{\"author\":"
            } else {
                "{\"author\":"
            });
            w.plain(author.as_str());
            w.push(&format!(",\"seq\":{seq}}}"));
        }
        w.push("],\"federation\":");
        w.hex(&self.federation);
        w.push(",\"governance\":{\"head\":");
        w.hex(&self.head);
        w.push(",\"stewards\":");
        w.plains(self.stewards.iter().map(Did::as_str));
        w.push(&format!(",\"threshold\":{}}},\"offers\":[", self.threshold));
        let mut first = true;
        for ((provider, offer_id), e) in &self.offers {
            let Some(cur) = e.current() else {
                continue;
            };
            w.push(if first {
                "{\"offer_id\":"
            } else {
                ",{\"offer_id\":"
            });
            first = false;
            w.plain(offer_id.as_str());
            w.push(",\"provider\":");
            w.plain(provider.as_str());
            w.push(",\"record\":");
            w.hex(&cur.record);
            w.push(if e.withdrawn() {
                ",\"withdrawn\":true}"
            } else {
                ",\"withdrawn\":false}"
            });
        }
        w.push("],\"providers\":[");
        for (i, p) in self.providers.values().enumerate() {
            w.push(if i > 0 { ",{\"did\":" } else { "{\"did\":" });
            w.plain(p.identity.as_str());
            w.push(",\"keys\":");
            w.plains(p.keys.iter().map(Did::as_str));
            w.push(",\"name\":");
            w.string(&p.name);
            w.push(",\"profile\":");
            w.optional(p.profile.as_ref());
            w.push(",\"standing\":");
            w.plain(p.standing.as_str());
            w.push(",\"successor\":");
            w.optional(p.successor.as_ref());
            w.push("}");
        }
        w.push("]}");
        w.finish()
    }
}

/// Writes canonical JSON text into a SHA-256 in chunks.
struct DigestWriter {
    hasher: Sha256,
    buf: String,
}

impl DigestWriter {
    fn new() -> DigestWriter {
        let mut hasher = Sha256::new();
        hasher.update(STATE_TAG);
        DigestWriter {
            hasher,
            buf: String::with_capacity(1 << 16),
        }
    }

    fn drain(&mut self) {
        if self.buf.len() >= 1 << 15 {
            self.hasher.update(self.buf.as_bytes());
            self.buf.clear();
        }
    }

    fn push(&mut self, text: &str) {
        self.buf.push_str(text);
        self.drain();
    }

    fn string(&mut self, s: &str) {
        json::write_string(s, &mut self.buf);
        self.drain();
    }

    /// A string that needs no escaping (dids, offer ids, codes).
    fn plain(&mut self, s: &str) {
        debug_assert!(!s.contains(['"', '\\']) && !s.contains(|c: char| c < ' '));
        self.buf.push('"');
        self.buf.push_str(s);
        self.buf.push('"');
        self.drain();
    }

    fn plains<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        self.buf.push('[');
        for (i, s) in items.enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.plain(s);
        }
        self.buf.push(']');
    }

    fn hex(&mut self, h: &Hash32) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.buf.push('"');
        for b in h.0 {
            self.buf.push(char::from(DIGITS[usize::from(b >> 4)]));
            self.buf.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        self.buf.push('"');
        self.drain();
    }

    /// A record id in hex, or null.
    fn optional(&mut self, rec: Option<&VerifiedRecord>) {
        match rec {
            Some(r) => self.hex(&r.id()),
            None => self.push("null"),
        }
    }

    fn finish(mut self) -> Hash32 {
        self.hasher.update(self.buf.as_bytes());
        Hash32(self.hasher.finalize().into())
    }
}
