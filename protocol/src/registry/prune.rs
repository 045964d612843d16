//! Dropping what the stewards cut off (`specs/protocol.md` 7.2): the records
//! of a revoked identity at positions where its standing is `revoked`, and
//! those of a key the stewards replaced (`member.rekey`) from its `from_seq`
//! on, can never count while the governance chain stands, so a node removes
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
use super::trust::{Derived, Standing, standing_in};
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

/// True if position `seq` of `key`'s log is cut off (7.2): its standing there
/// is `revoked`, or a steward rotation of the key takes effect at or before it.
fn cut_off_at(d: &Derived, key: &Did, seq: u64) -> bool {
    let Some(info) = d.keys.get(key) else {
        return false;
    };
    standing_in(d, key, seq) == Standing::Revoked
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
            let Some(log) = self.logs.get(key) else {
                continue;
            };
            for (seq, ids) in &log.by_seq {
                if cut_off_at(d, key, *seq) {
                    gone.extend(
                        ids.iter()
                            .filter(|id| !self.records[*id].kind().is_governance()),
                    );
                }
            }
        }
        gone
    }

    /// Takes one record out of the set and every index that names it.
    fn remove(&mut self, id: &Hash32) {
        let Some(held) = self.records.remove(id) else {
            return;
        };
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
