//! Agreements at an instant (`specs/protocol.md` 6.8): which offer an
//! agreement counts against, whether it is pending, active, ended, expired or
//! over the offer's capacity, and what is left of that capacity. Like an
//! offer's status, this is read at an instant the caller gives and never enters
//! the digest.

use super::state::{RequestEntry, State};
use crate::fields::{Hash32, OfferId, Timestamp};
use crate::keys::Did;
use std::collections::{BTreeSet, HashMap};

crate::text_enum! {
    /// An agreement at an instant.
    pub enum AgreementStatus {
        /// Within capacity, starting later.
        Pending = "pending",
        Active = "active",
        /// A party ended it (`agreement.end`) at or before the instant.
        Ended = "ended",
        /// Its own end or term has passed.
        Expired = "expired",
        /// Accepted after the offer's capacity was taken by earlier acceptances
        /// that still run.
        OverCapacity = "over_capacity",
    }
}

/// An offer's capacity at an instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    /// The capacity its current version declares.
    pub declared: u64,
    /// Places taken: the takers of the agreements within capacity that have
    /// not ended or expired (pending ones reserve theirs).
    pub taken: u64,
    /// Those agreements (request ids).
    pub within: BTreeSet<Hash32>,
    /// Takers of the agreements within capacity that are active.
    pub active_takers: usize,
}

impl Capacity {
    /// Places left.
    pub fn remaining(&self) -> u64 {
        self.declared.saturating_sub(self.taken)
    }
}

impl State {
    /// The offer an agreement on `r` counts against: the one it was made on, or,
    /// once a successor consolidated that offer into a replacement of its own,
    /// the replacement, followed until an offer without one or one already
    /// passed (a cycle of consolidations stops where it closes).
    pub fn agreement_offer(&self, r: &RequestEntry) -> (Did, OfferId) {
        let mut key = (r.provider.clone(), r.offer_id.clone());
        let mut seen = BTreeSet::new();
        loop {
            seen.insert(key.clone());
            let next = self
                .offers
                .get(&key)
                .and_then(|e| e.consolidated.as_ref())
                .and_then(|c| Some((c.by.clone(), c.replacement.clone()?)))
                .filter(|k| self.offers.contains_key(k) && !seen.contains(k));
            match next {
                Some(k) => key = k,
                None => return key,
            }
        }
    }

    /// The agreements that count against the offer `key`: its own and those
    /// moved to it by consolidations, each an accepted request.
    fn agreements_against(&self, key: &(Did, OfferId)) -> Vec<(&Hash32, &RequestEntry)> {
        let mut sources = vec![key.clone()];
        let mut i = 0;
        while i < sources.len() && sources.len() <= self.offers.len() {
            if let Some(into) = self.consolidated_into.get(&sources[i]) {
                for s in into {
                    if !sources.contains(s) {
                        sources.push(s.clone());
                    }
                }
            }
            i += 1;
        }
        sources
            .iter()
            .filter_map(|s| self.requests_by_offer.get(s))
            .flatten()
            .filter_map(|id| Some((id, self.requests.get(id)?)))
            .filter(|(_, r)| r.is_agreement() && self.agreement_offer(r) == *key)
            .collect()
    }

    /// The capacity of `provider`'s offer `offer_id` at `t`. Agreements that
    /// have not ended or expired by `t` take places in the order of their
    /// acceptance (its `issued_at`, then its record id), each as many as it has
    /// takers, as long as places are left; one that does not fit is over
    /// capacity and takes none.
    pub fn capacity(&self, provider: &Did, offer_id: &OfferId, t: Timestamp) -> Capacity {
        let key = (provider.clone(), offer_id.clone());
        let declared = self
            .offers
            .get(&key)
            .and_then(|e| e.current())
            .map_or(0, |c| c.capacity);
        let mut running: Vec<(&Hash32, &RequestEntry)> = self
            .agreements_against(&key)
            .into_iter()
            .filter(|(_, r)| !ended(r, t) && !expired(r, t))
            .collect();
        running.sort_by_key(|(id, r)| (r.answer.as_ref().map(|a| (a.issued_at, a.record)), **id));
        let mut cap = Capacity {
            declared,
            ..Capacity::default()
        };
        for (id, r) in running {
            let places = r.takers.len() as u64;
            if cap.taken + places <= declared {
                cap.taken += places;
                cap.within.insert(*id);
                if r.start <= t {
                    cap.active_takers += r.takers.len();
                }
            }
        }
        cap
    }

    /// The status at `t` of the agreement formed on request `id` (None if the
    /// request is not an agreement).
    pub fn agreement_status(&self, id: &Hash32, t: Timestamp) -> Option<AgreementStatus> {
        self.status_with(id, t, &mut HashMap::new())
    }

    /// [`State::agreement_status`] of many agreements at `t`: each offer's
    /// capacity is computed once, not once per agreement.
    pub fn agreement_statuses(&self, ids: &[Hash32], t: Timestamp) -> Vec<Option<AgreementStatus>> {
        let mut capacities = HashMap::new();
        ids.iter()
            .map(|id| self.status_with(id, t, &mut capacities))
            .collect()
    }

    fn status_with(
        &self,
        id: &Hash32,
        t: Timestamp,
        capacities: &mut HashMap<(Did, OfferId), Capacity>,
    ) -> Option<AgreementStatus> {
        let r = self.requests.get(id).filter(|r| r.is_agreement())?;
        if ended(r, t) {
            return Some(AgreementStatus::Ended);
        }
        if expired(r, t) {
            return Some(AgreementStatus::Expired);
        }
        let key = self.agreement_offer(r);
        let cap = capacities
            .entry(key)
            .or_insert_with_key(|(provider, offer_id)| self.capacity(provider, offer_id, t));
        if !cap.within.contains(id) {
            return Some(AgreementStatus::OverCapacity);
        }
        Some(if t < r.start {
            AgreementStatus::Pending
        } else {
            AgreementStatus::Active
        })
    }
}

fn ended(r: &RequestEntry, t: Timestamp) -> bool {
    r.end.as_ref().is_some_and(|e| e.effective_at <= t)
}

fn expired(r: &RequestEntry, t: Timestamp) -> bool {
    r.stop.is_some_and(|s| s <= t)
}
