//! A registry's frontier and the consistency of two checkpoints
//! (`specs/checkpoints.md` 1 and 4).

use super::Registry;
use super::prune::cut_off_at;
use crate::checkpoint::{Frontier, LogEnd};
use crate::fields::Hash32;
use crate::keys::Did;
use std::collections::{BTreeMap, BTreeSet};

/// Why a later frontier does not follow from an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    #[error("the governance chain went back: {before} actions, then {after}")]
    Governance { before: String, after: String },
    #[error("the log of {author} does not follow: {reason}")]
    Log { author: Did, reason: String },
}

impl Registry {
    /// What this registry's set commits to.
    pub fn frontier(&self) -> Frontier {
        let mut logs: Vec<LogEnd> = self
            .logs
            .iter()
            .filter_map(|(author, log)| {
                log.canonical.last().map(|head| LogEnd {
                    author: author.clone(),
                    seq: log.canonical.len() as u64,
                    head: *head,
                })
            })
            .collect();
        logs.sort_by(|a, b| {
            a.author
                .as_str()
                .as_bytes()
                .cmp(b.author.as_str().as_bytes())
        });
        Frontier {
            federation: self.federation,
            governance: self.governance_head(),
            logs,
        }
    }

    /// Whether this set holds every record `frontier` names
    /// (`specs/checkpoints.md` 5): its federation, each triple's head at its
    /// seq of the key's counted chain, and its governance head on this set's
    /// governance chain (or the federation id).
    pub fn holds(&self, frontier: &Frontier) -> bool {
        frontier.federation == self.federation
            && (frontier.governance == self.federation
                || self.derived.chain.contains(&frontier.governance))
            && frontier.logs.iter().all(|l| {
                self.logs
                    .get(&l.author)
                    .and_then(|log| log.canonical.get(l.seq as usize - 1))
                    == Some(&l.head)
            })
    }

    /// The ids of the records `frontier` names (`specs/checkpoints.md` 8.1):
    /// each triple's key's counted chain from seq 1 to its n, and the counted
    /// record of every action on the governance chain up to its head; None if
    /// this set does not hold them all (see [`Registry::holds`]).
    pub fn named(&self, frontier: &Frontier) -> Option<BTreeSet<Hash32>> {
        if !self.holds(frontier) {
            return None;
        }
        let mut ids = BTreeSet::new();
        for l in &frontier.logs {
            let log = self.logs.get(&l.author)?;
            ids.extend(log.canonical.get(..l.seq as usize)?.iter().copied());
        }
        let d = &self.derived;
        if frontier.governance != self.federation {
            let end = d.chain.iter().position(|a| *a == frontier.governance)?;
            for action in &d.chain[..=end] {
                let wrapped = &self.actions.get(action)?.records;
                ids.insert(*wrapped.intersection(&d.chain_records).next()?);
            }
        }
        Some(ids)
    }

    /// Number of actions from the federation id to `head`, following
    /// `prev_action` through the actions in the set; None if one is missing.
    fn actions_to(&self, head: &Hash32) -> Option<usize> {
        let mut n = 0;
        let mut cur = *head;
        while cur != self.federation {
            cur = self.actions.get(&cur)?.prev;
            n += 1;
            if n > self.actions.len() {
                return None;
            }
        }
        Some(n)
    }

    /// The ids of the chain ending at `head`, by seq (index 0 is seq 1); None
    /// if a record on it is not in the set.
    fn chain_to(&self, head: &Hash32) -> Option<Vec<Hash32>> {
        let mut ids = vec![*head];
        let mut cur = self.records.get(head)?;
        let seq = cur.seq;
        while let Some(prev) = cur.prev {
            cur = self.records.get(&prev)?;
            ids.push(prev);
            if ids.len() as u64 > seq {
                return None;
            }
        }
        ids.reverse();
        (ids.len() as u64 == seq).then_some(ids)
    }

    /// Whether `later` follows from `earlier`, judged by this set
    /// (`specs/checkpoints.md` 4).
    pub fn consistent(&self, earlier: &Frontier, later: &Frontier) -> Result<(), Inconsistency> {
        let count = |h: &Hash32| self.actions_to(h);
        match (count(&earlier.governance), count(&later.governance)) {
            (Some(a), Some(b)) if a <= b => {}
            (a, b) => {
                let show = |n: Option<usize>| n.map_or("unknown".to_owned(), |n| n.to_string());
                return Err(Inconsistency::Governance {
                    before: show(a),
                    after: show(b),
                });
            }
        }
        let later_logs: BTreeMap<&Did, &LogEnd> =
            later.logs.iter().map(|l| (&l.author, l)).collect();
        for a in &earlier.logs {
            let b = later_logs.get(&a.author).copied();
            if b.is_some_and(|b| self.extends_or_replaces(a, b)) || self.dropped_rightly(a, b) {
                continue;
            }
            let reason = match b {
                None => format!("its {} records are gone and were not cut off", a.seq),
                Some(b) => format!(
                    "seq {} ({}) is not on the later chain ending at seq {} ({})",
                    a.seq,
                    a.head.short(),
                    b.seq,
                    b.head.short()
                ),
            };
            return Err(Inconsistency::Log {
                author: a.author.clone(),
                reason,
            });
        }
        Ok(())
    }

    /// *extends* or *equivocation* of 4.2.
    fn extends_or_replaces(&self, a: &LogEnd, b: &LogEnd) -> bool {
        // What the later frontier added beyond the earlier one was cut off
        // since (and removed): the earlier head must be on this set's chain.
        if b.seq > a.seq
            && (a.seq + 1..=b.seq).all(|s| cut_off_at(&self.derived, &a.author, s))
            && self
                .logs
                .get(&a.author)
                .and_then(|l| l.canonical.get(a.seq as usize - 1))
                == Some(&a.head)
        {
            return true;
        }
        let Some(later) = self.chain_to(&b.head) else {
            return false;
        };
        if b.seq >= a.seq && later.get(a.seq as usize - 1) == Some(&a.head) {
            return true;
        }
        let Some(earlier) = self.chain_to(&a.head) else {
            return false;
        };
        // The first seq where the chains differ, within both.
        match earlier.iter().zip(&later).position(|(x, y)| x != y) {
            Some(i) => later[i] < earlier[i],
            None => false,
        }
    }

    /// *cut* of 4.2: the positions `b` no longer has cannot count.
    fn dropped_rightly(&self, a: &LogEnd, b: Option<&LogEnd>) -> bool {
        let d = &self.derived;
        if !d.keys.contains_key(&a.author) && !d.stewards.contains(&a.author) {
            return true;
        }
        let from = b.map_or(0, |b| b.seq) + 1;
        from <= a.seq && (from..=a.seq).all(|s| cut_off_at(d, &a.author, s))
    }
}
