//! The fold: filing a record and bringing the visible state up to date
//! incrementally, and the from-scratch state it is tested against.

use super::Registry;
use super::held::{Held, What, extend_canonical};
use super::state::{OfferEntry, OfferHistory, ProviderState, State, succession_of};
use super::trust::{Derived, GovAction, Standing, identity_view};
use crate::body::{Body, Kind};
use crate::fields::{Hash32, OfferId};
use crate::keys::Did;
use crate::record::VerifiedRecord;
use std::collections::{BTreeMap, BTreeSet};

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
pub(super) struct Filed {
    /// Governance or key rotations may have changed: recompute the derived data.
    pub(super) derive: bool,
    /// Records left the counted chain of a log: recompute the whole state.
    pub(super) rebuild: bool,
    /// Records that newly count in their author's log.
    pub(super) counted: Vec<Hash32>,
    /// The record filled an (author, seq) position already taken.
    pub(super) second: bool,
}

impl Registry {
    /// Files a record into the indexes and says what the state update must do.
    pub(super) fn file(&mut self, rec: VerifiedRecord) -> Filed {
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
    pub(super) fn update_state(&mut self, rec: &VerifiedRecord, filed: &Filed) {
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
