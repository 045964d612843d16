//! The fold: filing a record and bringing the visible state up to date
//! incrementally, and the from-scratch state it is tested against.

use super::Registry;
use super::held::{Held, Log, What, extend_canonical};
use super::state::{OfferEntry, OfferHistory, ProviderState, State, succession_of};
use super::trust::{Derived, GovAction, Standing, identity_view};
use crate::body::{Body, Kind};
use crate::fields::{DemandId, Hash32, OfferId};
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
    /// Requests whose entry changed, appeared or disappeared.
    pub requests: BTreeSet<Hash32>,
    /// Demands whose entry changed, appeared or disappeared.
    pub demands: BTreeSet<(Did, DemandId)>,
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
        let next = self.authors.len() as u32;
        let no = self
            .logs
            .entry(r.author.clone())
            .or_insert_with(|| Log {
                no: next,
                ..Log::default()
            })
            .no;
        if no == next {
            self.authors.push(r.author.clone());
        }
        held.author = no;
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
        self.file_exchange(id, &mut held);
        if self.records.insert(id, held).is_none() {
            self.sums.add(&id);
        }
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
        let Some(log) = self.logs.get_mut(&r.author) else {
            return filed;
        };
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

    /// Files an exchange record into the exchange's indexes.
    fn file_exchange(&mut self, id: Hash32, held: &mut Held) {
        let author = self.authors[held.author as usize].clone();
        match &mut held.what {
            What::Demand(demand_id, _) | What::DemandWithdraw(demand_id, _) => {
                let demands = self.demands.entry(author).or_default();
                let kept = match demands.get_key_value(&*demand_id) {
                    Some((k, _)) => k.clone(),
                    None => demand_id.detached(),
                };
                *demand_id = kept.clone();
                demands.entry(kept).or_default().insert(id);
            }
            What::Request(f) => {
                self.requests.entry(author).or_default().insert(id);
                self.requests_by_offer
                    .entry(f.offer)
                    .or_default()
                    .insert(id);
            }
            What::RequestWithdraw(r)
            | What::Answer { request: r, .. }
            | What::End { request: r, .. } => {
                self.about.entry(*r).or_default().insert(id);
            }
            What::Consolidate(c) => {
                self.consolidations
                    .entry((c.provider.clone(), c.offer_id.clone()))
                    .or_default()
                    .insert(id);
            }
            _ => {}
        }
    }

    /// Brings `self.state` up to date after `rec` was filed.
    pub(super) fn update_state(&mut self, rec: &VerifiedRecord, filed: &Filed) {
        if filed.derive {
            let old = std::mem::take(&mut self.derived);
            self.derive();
            self.prune_due |= super::prune::cuts_changed(&old, &self.derived);
            if filed.rebuild {
                let new = self.recomputed_state();
                let old_state = std::mem::replace(&mut self.state, new);
                if let Some(c) = self.changes.as_mut() {
                    c.offers.extend(old_state.offers.into_keys());
                    c.offers.extend(self.state.offers.keys().cloned());
                    c.requests.extend(old_state.requests.into_keys());
                    c.requests.extend(self.state.requests.keys().copied());
                    c.demands.extend(old_state.demands.into_keys());
                    c.demands.extend(self.state.demands.keys().cloned());
                }
                return;
            }
            self.refresh_derived(&old);
        } else if filed.second {
            let r = rec.record();
            if self.standing(&r.author, r.seq) == Standing::Active
                && self.within_allowance(&r.author, r.seq)
            {
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
        self.state.standards = self.derived.standards.clone();
        self.state.observers = self.derived.observers.clone();
        self.state.witnesses = self.derived.witnesses.clone();
        self.state.quorum = self.derived.quorum;
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
        // Standing decides what counts in the exchange too; governance and
        // rotations are rare, so all of it is brought up to date.
        self.state.municipalities = self.municipality_states();
        let demands: BTreeSet<(Did, DemandId)> = self
            .demand_keys()
            .into_iter()
            .chain(self.state.demands.keys().cloned())
            .collect();
        for (identity, demand_id) in demands {
            self.refresh_demand(&identity, &demand_id);
        }
        self.refresh_all_requests();
    }

    /// After `id` newly counts in `author`'s log.
    fn refresh_record(&mut self, author: &Did, id: Hash32) {
        let Some(identity) = self.identity_of(author).cloned() else {
            return;
        };
        let held = &self.records[&id];
        let provider = self.derived.members.contains_key(&identity);
        match &held.what {
            What::Offer(_, _) | What::Withdraw(_, _) if !provider => return,
            What::Offer(offer_id, _) => {
                let offer_id = offer_id.clone();
                self.refresh_offer(&identity, &offer_id);
                for r in self.ids(self.requests_by_offer.get(&id)) {
                    self.refresh_request(r);
                }
                return;
            }
            What::Withdraw(offer_id, _) => {
                let offer_id = offer_id.clone();
                self.refresh_offer(&identity, &offer_id);
                self.refresh_requests_on(&identity, &offer_id);
                return;
            }
            What::Demand(demand_id, _) | What::DemandWithdraw(demand_id, _) => {
                let demand_id = demand_id.clone();
                self.refresh_demand(&identity, &demand_id);
                return;
            }
            What::Request(_) => {
                self.refresh_request(id);
                return;
            }
            What::RequestWithdraw(r)
            | What::Answer { request: r, .. }
            | What::End { request: r, .. } => {
                let r = *r;
                self.refresh_request(r);
                return;
            }
            What::Consolidate(c) => {
                let (provider, offer_id) = (c.provider.clone(), c.offer_id.clone());
                self.refresh_offer(&provider, &offer_id);
                self.refresh_requests_on(&provider, &offer_id);
                return;
            }
            What::Whole(_) => {}
        }
        if [
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

    /// The ids of an optional id list, copied (to refresh while borrowing).
    fn ids(&self, list: Option<&super::held::IdList>) -> Vec<Hash32> {
        list.map(|l| l.as_slice().to_vec()).unwrap_or_default()
    }

    /// Brings every request on any version of an offer up to date.
    fn refresh_requests_on(&mut self, identity: &Did, offer_id: &OfferId) {
        let keys = self
            .derived
            .identities
            .get(identity)
            .cloned()
            .unwrap_or_default();
        let versions: Vec<Hash32> = keys
            .iter()
            .filter_map(|k| self.offers.get(k)?.get(offer_id))
            .flat_map(|ids| ids.as_slice().to_vec())
            .collect();
        for v in versions {
            for r in self.ids(self.requests_by_offer.get(&v)) {
                self.refresh_request(r);
            }
        }
    }

    /// Brings every request and every consolidated offer up to date.
    fn refresh_all_requests(&mut self) {
        let ids: BTreeSet<Hash32> = self
            .requests
            .values()
            .flat_map(|l| l.as_slice().iter().copied())
            .chain(self.state.requests.keys().copied())
            .collect();
        for id in ids {
            self.refresh_request(id);
        }
        let consolidated: Vec<(Did, OfferId)> = self.consolidations.keys().cloned().collect();
        for (provider, offer_id) in consolidated {
            self.refresh_offer(&provider, &offer_id);
        }
    }

    fn refresh_request(&mut self, id: Hash32) {
        let entry = self.request_entry(&self.state.providers, &id);
        let before = self.state.requests.get(&id);
        if before == entry.as_ref() {
            return;
        }
        if let Some(old) = before {
            let key = (old.provider.clone(), old.offer_id.clone());
            if let Some(set) = self.state.requests_by_offer.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    self.state.requests_by_offer.remove(&key);
                }
            }
        }
        match entry {
            Some(e) => {
                self.state
                    .requests_by_offer
                    .entry((e.provider.clone(), e.offer_id.clone()))
                    .or_default()
                    .insert(id);
                self.state.requests.insert(id, e);
            }
            None => {
                self.state.requests.remove(&id);
            }
        }
        if let Some(c) = self.changes.as_mut() {
            c.requests.insert(id);
        }
    }

    fn refresh_demand(&mut self, identity: &Did, demand_id: &DemandId) {
        let entry = self.demand(identity, demand_id);
        let key = (identity.clone(), demand_id.clone());
        if self.state.demands.get(&key) == entry.as_ref() {
            return;
        }
        match entry {
            Some(e) => self.state.demands.insert(key.clone(), e),
            None => self.state.demands.remove(&key),
        };
        if let Some(c) = self.changes.as_mut() {
            c.demands.insert(key);
        }
    }

    /// What the state shows of an offer: its versions and withdrawals, and a
    /// successor's consolidation of it.
    fn offer_state_entry(
        &self,
        providers: &BTreeMap<Did, ProviderState>,
        identity: &Did,
        offer_id: &OfferId,
    ) -> OfferEntry {
        let mut entry = self.offer_entry(identity, offer_id);
        entry.consolidated = self
            .consolidation(providers, identity, offer_id)
            .map(Box::new);
        entry
    }

    fn refresh_offer(&mut self, identity: &Did, offer_id: &OfferId) {
        let entry = self.offer_state_entry(&self.state.providers, identity, offer_id);
        let key = (identity.clone(), offer_id.clone());
        let before = self.state.offers.get(&key);
        let after = entry.current().is_some().then_some(&entry);
        if before == after {
            return;
        }
        let target = |e: Option<&OfferEntry>| {
            let c = e?.consolidated.as_ref()?;
            Some((c.by.clone(), c.replacement.clone()?))
        };
        let (old, new) = (target(before), target(after));
        if old != new {
            if let Some(t) = old
                && let Some(set) = self.state.consolidated_into.get_mut(&t)
            {
                set.remove(&key);
                if set.is_empty() {
                    self.state.consolidated_into.remove(&t);
                }
            }
            if let Some(t) = new {
                self.state
                    .consolidated_into
                    .entry(t)
                    .or_default()
                    .insert(key.clone());
            }
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

    /// After a profile, succession or acceptance: the providers, and what in
    /// the exchange depends on them (answering identities and consolidations
    /// follow successions; a provider's requests for its members follow its
    /// profile).
    fn refresh_providers(&mut self) {
        let new = self.providers();
        let successor = |p: &ProviderState| {
            let ids: Vec<Hash32> = p.accepted.iter().map(VerifiedRecord::id).collect();
            (p.successor.as_ref().map(VerifiedRecord::id), ids)
        };
        let profile = |p: &ProviderState| p.profile.as_ref().map(VerifiedRecord::id);
        let moved = new.len() != self.state.providers.len()
            || new.values().any(|p| {
                self.state.providers.get(&p.identity).map(successor) != Some(successor(p))
            });
        let reprofiled: Vec<Did> = new
            .values()
            .filter(|p| self.state.providers.get(&p.identity).map(profile) != Some(profile(p)))
            .map(|p| p.identity.clone())
            .collect();
        self.state.providers = new;
        if moved {
            self.refresh_all_requests();
            return;
        }
        for identity in reprofiled {
            let keys = self
                .derived
                .identities
                .get(&identity)
                .cloned()
                .unwrap_or_default();
            let ids: Vec<Hash32> = keys
                .iter()
                .flat_map(|k| self.ids(self.requests.get(k)))
                .collect();
            for id in ids {
                self.refresh_request(id);
            }
        }
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
        let providers = self.providers();
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
                let entry = self.offer_state_entry(&providers, identity, offer_id);
                if entry.current().is_some() {
                    offers.insert((identity.clone(), offer_id.clone()), entry);
                }
            }
        }
        let demands = self
            .demand_keys()
            .into_iter()
            .filter_map(|(identity, demand_id)| {
                let entry = self.demand(&identity, &demand_id)?;
                Some(((identity, demand_id), entry))
            })
            .collect();
        let mut consolidated_into: BTreeMap<(Did, OfferId), BTreeSet<(Did, OfferId)>> =
            BTreeMap::new();
        for (key, e) in &offers {
            if let Some(c) = &e.consolidated
                && let Some(r) = &c.replacement
            {
                consolidated_into
                    .entry((c.by.clone(), r.clone()))
                    .or_default()
                    .insert(key.clone());
            }
        }
        let mut requests = BTreeMap::new();
        let mut requests_by_offer: BTreeMap<(Did, OfferId), BTreeSet<Hash32>> = BTreeMap::new();
        for id in self.requests.values().flat_map(|l| l.as_slice()) {
            if let Some(e) = self.request_entry(&providers, id) {
                requests_by_offer
                    .entry((e.provider.clone(), e.offer_id.clone()))
                    .or_default()
                    .insert(*id);
                requests.insert(*id, e);
            }
        }
        State {
            federation: self.federation,
            head: self.governance_head(),
            stewards: d.stewards.clone(),
            threshold: d.threshold,
            providers,
            offers,
            equivocations: self.equivocations(),
            municipalities: self.municipality_states(),
            demands,
            requests,
            requests_by_offer,
            consolidated_into,
            standards: d.standards.clone(),
            observers: d.observers.clone(),
            witnesses: d.witnesses.clone(),
            quorum: d.quorum,
        }
    }

    /// The counted offer and withdrawal records of one offer of a provider
    /// identity, across its keys in rotation order.
    pub(super) fn offer_records<'a>(
        &'a self,
        identity: &Did,
        offer_id: &'a OfferId,
    ) -> impl Iterator<Item = (&'a Hash32, &'a Held)> {
        // Only providers publish offers: a municipality's offer records never count.
        let provider = self.derived.members.contains_key(identity);
        let keys = self
            .derived
            .identities
            .get(identity)
            .filter(|_| provider)
            .into_iter()
            .flatten();
        keys.filter_map(move |key| Some((key, self.offers.get(key)?.get(offer_id)?)))
            .flat_map(|(key, ids)| self.counted(key, ids))
    }

    /// What the state shows of one offer of a provider identity.
    pub(super) fn offer_entry(&self, identity: &Did, offer_id: &OfferId) -> OfferEntry {
        let mut entry = OfferEntry::default();
        for (id, held) in self.offer_records(identity, offer_id) {
            match &held.what {
                What::Offer(_, v) => {
                    let better = entry
                        .current()
                        .is_none_or(|c| (v.version, *id) > (c.version, c.record));
                    if better {
                        entry.current = v.of(*id);
                    }
                }
                What::Withdraw(_, version) => entry.withdrawn_to = entry.withdrawn_to.max(*version),
                _ => {}
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
                _ => {}
            }
        }
        history
    }

    /// (author, seq) positions with more than one record, where the author is
    /// in good standing.
    fn equivocations(&self) -> BTreeSet<(Did, u64)> {
        self.multi
            .iter()
            .filter(|(author, seq)| {
                self.standing(author, *seq) == Standing::Active
                    && self.within_allowance(author, *seq)
            })
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
                    accepted: Vec::new(),
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
        let mut accepted = Vec::new();
        for p in providers.values() {
            let mut effective: Option<&VerifiedRecord> = None;
            let mut all: Vec<VerifiedRecord> = Vec::new();
            for s in &p.successions {
                let Some(b) = succession_of(s) else {
                    continue;
                };
                let accepted = providers.get(b.successor).is_some_and(|succ| {
                    succ.accepts.iter().any(|a| {
                        matches!(&a.record().body, Body::SuccessionAccept(x) if x.succession == s.id())
                    })
                });
                if accepted {
                    all.push(s.clone());
                    if effective.is_none_or(|e| s.id() < e.id()) {
                        effective = Some(s);
                    }
                }
            }
            all.sort_by_key(VerifiedRecord::id);
            accepted.push((p.identity.clone(), all));
            if let Some(s) = effective
                && let Some(b) = succession_of(s)
            {
                links.push((p.identity.clone(), b.successor.clone(), s.clone()));
            }
        }
        for (identity, all) in accepted {
            for s in all.iter().filter_map(succession_of) {
                if let Some(succ) = providers.get_mut(s.successor)
                    && !succ.predecessors.contains(&identity)
                {
                    succ.predecessors.push(identity.clone());
                }
            }
            if let Some(p) = providers.get_mut(&identity) {
                p.accepted = all;
            }
        }
        for (pred, _, rec) in links {
            if let Some(p) = providers.get_mut(&pred) {
                p.successor = Some(rec.clone());
            }
        }
        providers
    }
}
