//! Dropping what the stewards cut off (`specs/protocol.md` 7.2): the records
//! of a revoked identity under its revocation cut, those of a key the
//! stewards replaced (`member.rekey`) from its `from_seq` on, and those of the
//! keys that such records rotated to (and no identity holds), can never count
//! while the governance chain stands, so a node removes
//! them from its set (and its store), and its reconciliation set no longer
//! names them. A stolen key's flood thus leaves nothing behind once the
//! stewards revoke or replace the key from before it.
//!
//! The state does not change: it is a function of the records that count, and
//! none of these do (6.6.2 condition 1 and 5 give a request naming a removed
//! offer the same effect as one naming an offer that does not count).
//! Governance records are never removed: they count by the chain, not by
//! their author's standing.

use super::Registry;
use super::held::{IdList, What};
use super::trust::{Derived, under_revocation};
use crate::fields::Hash32;
use crate::keys::Did;

impl IdList {
    fn remove(&mut self, id: &Hash32) {
        match self {
            IdList::One(x) if x == id => *self = IdList::Empty,
            IdList::Many(v) => {
                if let Ok(i) = v.binary_search(id) {
                    v.remove(i);
                }
                if let [only] = v.as_slice() {
                    *self = IdList::One(*only);
                }
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, IdList::Empty)
    }
}

/// Removes `id` from the list under `key` in `map`, and the entry if it empties.
fn unlist<K: Ord>(map: &mut std::collections::BTreeMap<K, IdList>, key: &K, id: &Hash32) {
    if let Some(list) = map.get_mut(key) {
        list.remove(id);
        if list.is_empty() {
            map.remove(key);
        }
    }
}

/// True if what cuts records off may have changed: revocations, steward
/// rotations, or the keys of an identity.
pub(super) fn cuts_changed(old: &Derived, new: &Derived) -> bool {
    old.revocations != new.revocations
        || old.rekeys != new.rekeys
        || old.identities != new.identities
}

/// True if position `seq` of `key`'s log is cut off (7.2): under its
/// identity's revocation cut, or at or after the `from_seq` of a steward
/// rotation of the key.
pub(super) fn cut_off_at(d: &Derived, key: &Did, seq: u64) -> bool {
    let Some(info) = d.keys.get(key) else {
        return false;
    };
    under_revocation(d, key, seq)
        || d.rekeys
            .iter()
            .any(|(p, k, from, _)| k == key && *p == info.identity && *from <= seq)
}

impl Registry {
    /// Removes every cut-off record from the set (governance records aside)
    /// and returns their ids, for the node to delete from its store. Cheap
    /// when nothing was cut off since the last call.
    pub fn prune(&mut self) -> Vec<Hash32> {
        if !std::mem::take(&mut self.prune_due) {
            return Vec::new();
        }
        let gone = self.cut_off();
        for id in &gone {
            self.remove(id);
        }
        gone
    }

    /// The records [`Registry::prune`] would remove.
    pub fn cut_off(&self) -> Vec<Hash32> {
        let d = &self.derived;
        let cut_identities = d.revocations.keys().chain(d.rekeys.iter().map(|(p, ..)| p));
        let keys: std::collections::BTreeSet<&Did> = cut_identities
            .filter_map(|identity| d.identities.get(identity))
            .flatten()
            .collect();
        let mut gone = Vec::new();
        for key in keys {
            self.log_where(key, |seq| cut_off_at(d, key, seq), &mut gone);
        }
        // Keys that only cut-off rotations name (and that no identity holds,
        // so nothing of theirs can count): a thief who rotated the stolen key
        // to one of its own and flooded with that. A key that another
        // rotation in the set names stays: that rotation may count one day.
        let rotations = self.rotations_by_new_key();
        let mut orphans: std::collections::BTreeSet<&Did> = std::collections::BTreeSet::new();
        let mut checked = 0;
        while checked < gone.len() {
            let cut: std::collections::BTreeSet<Hash32> = gone.iter().copied().collect();
            let named: Vec<&Did> = gone[checked..]
                .iter()
                .filter_map(
                    |id| match self.records[id].whole().map(|r| &r.record().body) {
                        Some(crate::body::Body::KeyRotate(b)) => Some(&b.new_key),
                        _ => None,
                    },
                )
                .filter(|k| !d.keys.contains_key(*k) && !d.stewards.contains(*k))
                .filter(|k| {
                    rotations
                        .get(*k)
                        .is_none_or(|ids| ids.iter().all(|id| cut.contains(*id)))
                })
                .collect();
            checked = gone.len();
            for key in named {
                if orphans.insert(key) {
                    self.log_where(key, |_| true, &mut gone);
                }
            }
        }
        gone
    }

    /// Every `key.rotate` record in the set, by the key it names.
    fn rotations_by_new_key(&self) -> std::collections::BTreeMap<&Did, Vec<&Hash32>> {
        let mut by: std::collections::BTreeMap<&Did, Vec<&Hash32>> = Default::default();
        for id in self.misc.values().flat_map(|l| l.iter()) {
            if let Some(crate::body::Body::KeyRotate(b)) =
                self.records[id].whole().map(|r| &r.record().body)
            {
                by.entry(&b.new_key).or_default().push(id);
            }
        }
        by
    }

    /// Appends to `out` the non-governance records of `key`'s log at the
    /// positions `cut` names.
    fn log_where(&self, key: &Did, cut: impl Fn(u64) -> bool, out: &mut Vec<Hash32>) {
        let Some(log) = self.logs.get(key) else {
            return;
        };
        for (seq, ids) in &log.by_seq {
            if cut(*seq) {
                out.extend(
                    ids.iter()
                        .filter(|id| !self.records[*id].kind().is_governance()),
                );
            }
        }
    }

    /// Takes one record out of the set and every index that names it.
    fn remove(&mut self, id: &Hash32) {
        let Some(held) = self.records.remove(id) else {
            return;
        };
        self.sums.remove(id);
        let author: Did = self.authors[held.author as usize].clone();
        if let Some(log) = self.logs.get_mut(&author) {
            let seq = held.seq;
            unlist(&mut log.by_seq, &seq, id);
            if log.by_seq.get(&seq).is_none_or(|l| l.len() < 2) {
                self.multi.remove(&(author.clone(), seq));
            }
            if log.canonical.get(seq as usize - 1) == Some(id) {
                log.canonical.truncate(seq as usize - 1);
            }
        }
        match &held.what {
            What::Offer(offer_id, _) | What::Withdraw(offer_id, _) => {
                if let Some(offers) = self.offers.get_mut(&author) {
                    unlist(offers, offer_id, id);
                    if offers.is_empty() {
                        self.offers.remove(&author);
                    }
                }
            }
            What::Demand(demand_id, _) | What::DemandWithdraw(demand_id, _) => {
                if let Some(demands) = self.demands.get_mut(&author) {
                    unlist(demands, demand_id, id);
                    if demands.is_empty() {
                        self.demands.remove(&author);
                    }
                }
            }
            What::Request(f) => {
                unlist(&mut self.requests, &author, id);
                unlist(&mut self.requests_by_offer, &f.offer, id);
            }
            What::RequestWithdraw(r)
            | What::Answer { request: r, .. }
            | What::End { request: r, .. } => unlist(&mut self.about, r, id),
            What::Consolidate(c) => {
                unlist(
                    &mut self.consolidations,
                    &(c.provider.clone(), c.offer_id.clone()),
                    id,
                );
            }
            What::Whole(_) => unlist(&mut self.misc, &author, id),
        }
    }
}
