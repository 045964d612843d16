//! The exchange's fold (`specs/protocol.md` 6.6): municipalities, demands,
//! requests with their answers and ends, and consolidations, each a function of
//! the record set. Every rule here looks at log positions and record contents,
//! never at `issued_at` as an order between authors; an acceptance's
//! `issued_at` only orders a provider's own acceptances for capacity.

use super::Registry;
use super::held::{IdList, RequestFacts, What};
use super::state::{
    AgreementEnd, Answer, Consolidation, DemandEntry, MunicipalityState, ProviderState,
    RequestEntry, Taker,
};
use super::trust::Standing;
use crate::fields::{DemandId, Hash32, OfferId};
use crate::keys::Did;
use std::collections::{BTreeMap, BTreeSet};

/// Why a request does not count (protocol 6.6.2). `Unknown`: the offer it
/// names is not in the set (yet), or does not count. A submission is refused
/// with the code of each (`Registry::submit`); on ingest only
/// `OnBehalfNotAllowed`, which the record and its author decide alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Void {
    Unknown,
    NotAnOffer,
    OwnOffer,
    OnBehalfNotAllowed,
    NotAMemberMunicipality,
    StartBeforeOffer,
    OfferExpired,
    OfferWithdrawn,
    ProviderSuspended,
    ProviderRevoked,
}

/// A request's facts resolved against the offer it names.
pub(super) struct Resolved {
    pub(super) buyer: Did,
    pub(super) provider: Did,
    pub(super) offer_id: OfferId,
    pub(super) version: u64,
    pub(super) takers: Vec<Taker>,
}

impl Registry {
    /// Every admitted municipality with its standing and keys.
    pub(super) fn municipality_states(&self) -> BTreeMap<Did, MunicipalityState> {
        let d = &self.derived;
        d.municipalities
            .iter()
            .map(|(identity, (ags, name))| {
                (
                    identity.clone(),
                    MunicipalityState {
                        identity: identity.clone(),
                        ags: ags.clone(),
                        name: name.clone(),
                        standing: self.current_standing(identity),
                        keys: d.identities.get(identity).cloned().unwrap_or_default(),
                    },
                )
            })
            .collect()
    }

    /// (key index, seq): the order of a record among its identity's records.
    pub(super) fn position(&self, key: &Did, seq: u64) -> (usize, u64) {
        let index = self.derived.keys.get(key).map_or(usize::MAX, |k| k.index);
        (index, seq)
    }

    /// The counted demand and demand withdrawal records of one demand of an
    /// identity, across its keys.
    fn demand_entry(&self, identity: &Did, demand_id: &DemandId) -> DemandEntry {
        let mut entry = DemandEntry::default();
        let keys = self.derived.identities.get(identity).into_iter().flatten();
        for key in keys {
            let Some(ids) = self.demands.get(key).and_then(|m| m.get(demand_id)) else {
                continue;
            };
            for (id, held) in self.counted(key, ids) {
                match &held.what {
                    What::Demand(_, f) => {
                        let better = entry
                            .current()
                            .is_none_or(|c| (f.version, *id) > (c.version, c.record));
                        if better {
                            entry.current = Some(super::state::DemandVersion {
                                record: *id,
                                version: f.version,
                                wanted_from: f.wanted_from,
                                wanted_until: f.wanted_until,
                            });
                        }
                    }
                    What::DemandWithdraw(_, v) => entry.withdrawn_to = entry.withdrawn_to.max(*v),
                    _ => {}
                }
            }
        }
        entry
    }

    /// The demand entry of `(identity, demand_id)` if it has a current version.
    pub(super) fn demand(&self, identity: &Did, demand_id: &DemandId) -> Option<DemandEntry> {
        let e = self.demand_entry(identity, demand_id);
        e.current().is_some().then_some(e)
    }

    /// Every (identity, demand id) with a demand record by one of its keys.
    pub(super) fn demand_keys(&self) -> BTreeSet<(Did, DemandId)> {
        self.demands
            .iter()
            .filter_map(|(key, m)| Some((self.identity_of(key)?.clone(), m)))
            .flat_map(|(identity, m)| m.keys().map(move |d| (identity.clone(), d.clone())))
            .collect()
    }

    /// The identities that answer for the offer `offer_id` of `provider`: the
    /// provider, and every provider its portfolio passed to along accepted
    /// successions that cover the offer, transitively (whatever their cut-over
    /// dates, and not only the effective succession: the set only grows as
    /// records arrive, so a refusal by it never turns into an acceptance).
    pub(super) fn responders(
        providers: &BTreeMap<Did, ProviderState>,
        provider: &Did,
        offer_id: &OfferId,
    ) -> Vec<Did> {
        let mut out = vec![provider.clone()];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            i += 1;
            let Some(p) = providers.get(&cur) else {
                continue;
            };
            for s in &p.accepted {
                let Some(terms) = super::state::succession_of(s) else {
                    continue;
                };
                let covers = terms.offer_ids.is_empty() || terms.offer_ids.contains(offer_id);
                if covers && !out.contains(terms.successor) {
                    out.push(terms.successor.clone());
                }
            }
        }
        out
    }

    /// The counted consolidation of `provider`'s offer `offer_id` by a
    /// successor it passed to: of several, the lowest record id.
    pub(super) fn consolidation(
        &self,
        providers: &BTreeMap<Did, ProviderState>,
        provider: &Did,
        offer_id: &OfferId,
    ) -> Option<Consolidation> {
        let ids = self
            .consolidations
            .get(&(provider.clone(), offer_id.clone()))?;
        let successors = Registry::responders(providers, provider, offer_id);
        ids.iter().find_map(|id| {
            let held = &self.records[id];
            let What::Consolidate(c) = &held.what else {
                return None;
            };
            let by = self.identity_of(self.author(held))?;
            let counts = self.counts_in_log(self.author(held), held.seq, id);
            (counts && by != provider && successors.contains(by)).then(|| Consolidation {
                record: *id,
                by: by.clone(),
                replacement: c.replacement.clone(),
            })
        })
    }

    /// A request resolved against the offer it names, or why it cannot count
    /// whatever its answers (the answers' own rules come after). `providers`
    /// gives profiles and standing.
    pub(super) fn resolve(
        &self,
        providers: &BTreeMap<Did, ProviderState>,
        id: &Hash32,
    ) -> Result<Resolved, Void> {
        let held = self.records.get(id).ok_or(Void::Unknown)?;
        let What::Request(f) = &held.what else {
            return Err(Void::NotAnOffer);
        };
        let r = self.resolve_static(self.author(held), f)?;
        let offer = &self.records[&f.offer];
        if !self.counts_in_log(self.author(offer), offer.seq, &f.offer) {
            return Err(Void::Unknown);
        }
        if let Some(Taker::Municipality(_)) = r.takers.first()
            && !self.derived.municipalities.contains_key(&r.buyer)
        {
            let members = providers
                .get(&r.buyer)
                .and_then(ProviderState::profile_body)
                .map(|p| p.members.as_slice())
                .unwrap_or_default();
            for a in &f.on_behalf_of {
                if !members.iter().any(|m| m.covers(a.as_str())) {
                    return Err(Void::NotAMemberMunicipality);
                }
            }
        }
        Ok(r)
    }

    /// Conditions 1 to 4 of protocol 6.6.2: what a request by `author` with
    /// facts `f` carries given the offer record it names (in the set, counted
    /// or not). The fold adds conditions 5 and 6 (`resolve`).
    pub(super) fn resolve_static(&self, author: &Did, f: &RequestFacts) -> Result<Resolved, Void> {
        let buyer = self.identity_of(author).cloned().ok_or(Void::Unknown)?;
        let offer = self.records.get(&f.offer).ok_or(Void::Unknown)?;
        let What::Offer(offer_id, o) = &offer.what else {
            return Err(Void::NotAnOffer);
        };
        let provider = self
            .identity_of(self.author(offer))
            .cloned()
            .ok_or(Void::NotAnOffer)?;
        if !self.derived.members.contains_key(&provider) {
            return Err(Void::NotAnOffer);
        }
        if buyer == provider {
            return Err(Void::OwnOffer);
        }
        let takers = match self.derived.municipalities.get(&buyer) {
            Some(_) if !f.on_behalf_of.is_empty() => return Err(Void::OnBehalfNotAllowed),
            Some((ags, _)) => vec![Taker::Municipality(ags.clone())],
            None if f.on_behalf_of.is_empty() => vec![Taker::Provider(buyer.clone())],
            None => f
                .on_behalf_of
                .iter()
                .cloned()
                .map(Taker::Municipality)
                .collect(),
        };
        if f.start < o.valid_from {
            return Err(Void::StartBeforeOffer);
        }
        if o.valid_until()
            .is_some_and(|u| f.start >= u || f.issued_at >= u)
        {
            return Err(Void::OfferExpired);
        }
        Ok(Resolved {
            buyer,
            provider,
            offer_id: offer_id.clone(),
            version: o.version,
            takers,
        })
    }

    /// Why an open request on this offer does not count now: the offer version
    /// withdrawn or consolidated, or its provider not in good standing.
    pub(super) fn unavailable(
        &self,
        providers: &BTreeMap<Did, ProviderState>,
        r: &Resolved,
    ) -> Option<Void> {
        match providers.get(&r.provider).map(|p| p.standing) {
            Some(Standing::Active) => {}
            Some(Standing::Suspended) => return Some(Void::ProviderSuspended),
            _ => return Some(Void::ProviderRevoked),
        }
        let entry = self.offer_entry(&r.provider, &r.offer_id);
        if entry.withdrawn_to >= r.version
            || self
                .consolidation(providers, &r.provider, &r.offer_id)
                .is_some()
        {
            return Some(Void::OfferWithdrawn);
        }
        None
    }

    /// True if an acceptance by `responder` at `pos` of its log comes after the
    /// responder itself withdrew the requested version or consolidated the
    /// offer (earlier in its own log). What another identity did to the offer
    /// has no order against the acceptance and does not void it: agreements a
    /// predecessor made run on after its successor consolidated the offer.
    pub(super) fn withdrawn_before(
        &self,
        providers: &BTreeMap<Did, ProviderState>,
        r: &Resolved,
        responder: &Did,
        pos: (usize, u64),
    ) -> bool {
        let withdrawn = *responder == r.provider
            && self
                .offer_records(&r.provider, &r.offer_id)
                .any(|(_, h)| match &h.what {
                    What::Withdraw(_, v) => {
                        *v >= r.version && self.position(self.author(h), h.seq) < pos
                    }
                    _ => false,
                });
        let consolidated = self
            .consolidation(providers, &r.provider, &r.offer_id)
            .is_some_and(|c| {
                let h = &self.records[&c.record];
                c.by == *responder && self.position(self.author(h), h.seq) < pos
            });
        withdrawn || consolidated
    }

    /// The records naming request `id` (withdrawals, answers, ends) that count
    /// in their authors' logs, with their authors' identities.
    pub(super) fn counted_about<'a>(
        &'a self,
        id: &Hash32,
    ) -> impl Iterator<Item = (&'a Hash32, &'a super::Held, Did)> + 'a {
        self.about
            .get(id)
            .map(IdList::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(move |a| {
                let h = &self.records[a];
                if !self.counts_in_log(self.author(h), h.seq, a) {
                    return None;
                }
                Some((a, h, self.identity_of(self.author(h))?.clone()))
            })
    }

    /// What the state shows of request `id`, or None if it does not count.
    pub(super) fn request_entry(
        &self,
        providers: &BTreeMap<Did, ProviderState>,
        id: &Hash32,
    ) -> Option<RequestEntry> {
        let held = self.records.get(id)?;
        let What::Request(f) = &held.what else {
            return None;
        };
        if !self.counts_in_log(self.author(held), held.seq, id) {
            return None;
        }
        let r = self.resolve(providers, id).ok()?;
        let withdrawn = self
            .counted_about(id)
            .find(|(_, h, who)| matches!(h.what, What::RequestWithdraw(_)) && *who == r.buyer)
            .map(|(a, _, _)| *a);
        let responders = Registry::responders(providers, &r.provider, &r.offer_id);
        // Each responder's first answer in its log is its answer; of those
        // that hold, the lowest record id decides.
        let mut firsts: BTreeMap<Did, (&Hash32, &super::Held, (usize, u64))> = BTreeMap::new();
        for (a, h, who) in self.counted_about(id) {
            if matches!(h.what, What::Answer { .. }) && responders.contains(&who) {
                let pos = self.position(self.author(h), h.seq);
                let earlier = firsts.get(&who).is_some_and(|(_, _, p)| *p <= pos);
                if !earlier {
                    firsts.insert(who, (a, h, pos));
                }
            }
        }
        // An acceptance makes an agreement even if the buyer's withdrawal
        // crossed it (there is no order between their logs): an agreement is
        // ended, not withdrawn.
        let answer = {
            firsts
                .iter()
                .filter(|(who, (_, h, pos))| match h.what {
                    What::Answer { accept: true, .. } => {
                        !self.withdrawn_before(providers, &r, who, *pos)
                    }
                    _ => true,
                })
                .map(|(who, (a, h, _))| (*a, *h, who))
                .min_by_key(|(a, _, _)| **a)
                .and_then(|(a, h, who)| match h.what {
                    What::Answer {
                        accept, issued_at, ..
                    } => Some(Answer {
                        record: *a,
                        accepted: accept,
                        responder: who.clone(),
                        issued_at,
                    }),
                    _ => None,
                })
        };
        let accepted = answer.as_ref().is_some_and(|a| a.accepted);
        if !accepted && self.unavailable(providers, &r).is_some() {
            return None;
        }
        let end = if accepted {
            self.counted_about(id)
                .filter_map(|(a, h, who)| match h.what {
                    What::End { effective_at, .. }
                        if who == r.buyer || responders.contains(&who) =>
                    {
                        Some(AgreementEnd {
                            record: *a,
                            effective_at,
                        })
                    }
                    _ => None,
                })
                .min_by_key(|e| (e.effective_at, e.record))
        } else {
            None
        };
        Some(RequestEntry {
            buyer: r.buyer,
            provider: r.provider,
            offer_id: r.offer_id,
            offer_record: f.offer,
            start: f.start,
            stop: f.stop,
            takers: r.takers,
            withdrawn,
            answer,
            end,
        })
    }
}
