//! Trust data derived from governance and key rotations: the governance chain
//! walk (forks resolved by reach, then digest), membership cuts, key rotations
//! and the standing of a key at a position of its log.

use super::Registry;
use super::gate::{check_action, check_approvals};
use super::state::StandardEntry;
use crate::body::Body;
use crate::fields::{AgsPrefix, Hash32, Slug};
use crate::keys::Did;
use crate::record::VerifiedRecord;
use std::collections::{BTreeMap, BTreeSet};

crate::text_enum! {
    /// Standing of a key at a position of its log (text: the digest's and the
    /// APIs' names).
    pub enum Standing {
        /// Not admitted (yet), or not a provider key at all.
        NotMember = "not_member",
        Active = "active",
        Suspended = "suspended",
        Revoked = "revoked",
        /// The key was rotated away before this position.
        KeyRotated = "key_rotated",
    }
}

#[derive(Debug, Clone)]
pub(super) struct GovAction {
    pub(super) prev: Hash32,
    /// Wrapping records (the same action may be submitted by several stewards).
    pub(super) records: BTreeSet<Hash32>,
}

#[derive(Debug, Clone)]
pub(super) struct KeyInfo {
    pub(super) identity: Did,
    /// Position in the identity's rotation order (0: the identity key itself).
    pub(super) index: usize,
    /// Seq of the counted `key.rotate` in this key's log.
    pub(super) rotated_at: Option<u64>,
    /// Positions of the identity's log before this key's seq 1: the sum of
    /// the cuts of the keys before it (`specs/protocol.md` 6.4).
    pub(super) offset: u64,
}

/// A cut named by a suspension or revocation: from `from_seq` of `key`'s log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cut {
    key: Did,
    from_seq: u64,
}

/// Everything derived from governance and rotations; recomputed when either changes.
#[derive(Debug, Clone, Default)]
pub(super) struct Derived {
    pub(super) chain: Vec<Hash32>,
    /// The counted wrapping record of each action on the chain.
    pub(super) chain_records: BTreeSet<Hash32>,
    pub(super) head: Option<Hash32>,
    pub(super) stewards: BTreeSet<Did>,
    pub(super) threshold: u64,
    /// provider identity -> name from its admission
    pub(super) members: BTreeMap<Did, String>,
    /// municipality identity -> its AGS and name, from its admission
    pub(super) municipalities: BTreeMap<Did, (AgsPrefix, String)>,
    /// AGS -> the municipality identity admitted for it last
    pub(super) ags_holders: BTreeMap<AgsPrefix, Did>,
    /// identity -> standing set by its last membership action on the chain
    pub(super) chain_standing: BTreeMap<Did, Standing>,
    /// identity -> the cut of its current suspension
    pub(super) suspensions: BTreeMap<Did, Cut>,
    /// identity -> the cut of its revocation
    pub(super) revocations: BTreeMap<Did, Cut>,
    /// Key replacements by the stewards: (provider, lost key, from_seq, new key).
    pub(super) rekeys: Vec<(Did, Did, u64, Did)>,
    /// Counted records of steward successions.
    pub(super) steward_successions: Vec<Hash32>,
    /// The standards defined on the chain, by id.
    pub(super) standards: BTreeMap<Slug, StandardEntry>,
    /// The observer nodes of the last `federation.observers`, by peer id.
    pub(super) observers: Vec<crate::body::Observer>,
    /// identity -> the allowance its last `member.allowance` set
    pub(super) allowances: BTreeMap<Did, u64>,
    /// The witnesses of the last `federation.witnesses`, by name, and their quorum.
    pub(super) witnesses: Vec<crate::body::Witness>,
    pub(super) quorum: u64,
    pub(super) keys: BTreeMap<Did, KeyInfo>,
    /// identity -> its keys in rotation order
    pub(super) identities: BTreeMap<Did, Vec<Did>>,
}

impl Registry {
    /// Recomputes the governance chain, membership actions and key map.
    pub(super) fn derive(&mut self) {
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
        let identities: Vec<Did> = d
            .members
            .keys()
            .chain(d.municipalities.keys())
            .cloned()
            .collect();
        for id in &identities {
            d.keys.insert(
                id.clone(),
                KeyInfo {
                    identity: id.clone(),
                    index: 0,
                    rotated_at: None,
                    offset: 0,
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
                let (old, cut) = &by[0];
                let identity = d.keys[old].identity.clone();
                let index = d.keys[old].index + 1;
                let offset = d.keys[old].offset.saturating_add(*cut);
                d.keys.insert(
                    new_key.clone(),
                    KeyInfo {
                        identity: identity.clone(),
                        index,
                        rotated_at: None,
                        offset,
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
                                    && check_action(r, &d).is_ok()
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
            Some(Body::MunicipalityAdmit(b)) => {
                for m in &b.municipalities {
                    d.chain_standing.insert(m.member.clone(), Standing::Active);
                    d.municipalities
                        .insert(m.member.clone(), (m.ags.clone(), m.name.to_string()));
                    d.ags_holders.insert(m.ags.clone(), m.member.clone());
                }
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
            Some(Body::StandardDefine(b)) => {
                d.standards.insert(
                    b.standard_id.clone(),
                    StandardEntry {
                        record: rid,
                        body: std::sync::Arc::new((**b).clone()),
                        retired: None,
                    },
                );
            }
            Some(Body::StandardRetire(b)) => {
                if let Some(s) = d.standards.get_mut(&b.standard_id) {
                    s.retired = Some(rid);
                }
            }
            Some(Body::FederationWitnesses(b)) => {
                d.witnesses = b.witnesses.clone();
                d.witnesses
                    .sort_by(|x, y| x.name.as_str().cmp(y.name.as_str()));
                d.quorum = b.quorum;
            }
            Some(Body::MemberAllowance(b)) => {
                d.allowances.insert(b.provider.clone(), b.allowance);
            }
            Some(Body::FederationObservers(b)) => {
                d.observers = b.observers.clone();
                d.observers.sort_by(|x, y| x.peer_id.cmp(&y.peer_id));
            }
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
                && within_allowance(d, key, r.seq)
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

    /// True if `seq` of `key`'s log lies within its identity's allowance
    /// (`specs/protocol.md` 6.4); false for a key of no identity.
    pub fn within_allowance(&self, key: &Did, seq: u64) -> bool {
        within_allowance(&self.derived, key, seq)
    }

    /// The allowance of an identity: how many positions of its log (over all
    /// its keys) may hold records that count.
    pub fn allowance(&self, identity: &Did) -> u64 {
        allowance_in(&self.derived, identity)
    }

    /// The position in its identity's log of `seq` of `key`'s log: the seq
    /// plus the cuts of the keys before it. None for a key of no identity.
    pub fn identity_position(&self, key: &Did, seq: u64) -> Option<u64> {
        let info = self.derived.keys.get(key)?;
        Some(info.offset.saturating_add(seq))
    }

    /// Current standing of a member identity, provider or municipality (of its
    /// newest key).
    pub fn current_standing(&self, identity: &Did) -> Standing {
        let d = &self.derived;
        if !d.members.contains_key(identity) && !d.municipalities.contains_key(identity) {
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
}

/// A provider identity's trust data: what decides which of its records count.
/// When it is unchanged by a governance action, so are the identity's offers.
type IdentityView<'a> = (
    Option<&'a String>,
    Option<&'a (AgsPrefix, String)>,
    Option<&'a Standing>,
    Option<(&'a Did, u64)>,
    Option<(&'a Did, u64)>,
    u64,
    Vec<(&'a Did, Option<(usize, Option<u64>, u64)>)>,
);

pub(super) fn identity_view<'a>(d: &'a Derived, identity: &Did) -> IdentityView<'a> {
    let cut = |c: &'a Cut| (&c.key, c.from_seq);
    (
        d.members.get(identity),
        d.municipalities.get(identity),
        d.chain_standing.get(identity),
        d.suspensions.get(identity).map(cut),
        d.revocations.get(identity).map(cut),
        allowance_in(d, identity),
        d.identities
            .get(identity)
            .into_iter()
            .flatten()
            .map(|k| (k, d.keys.get(k).map(|i| (i.index, i.rotated_at, i.offset))))
            .collect(),
    )
}

pub(super) fn standing_in(d: &Derived, key: &Did, seq: u64) -> Standing {
    let Some(info) = d.keys.get(key) else {
        return Standing::NotMember;
    };
    if info.rotated_at.is_some_and(|n| seq > n) {
        return Standing::KeyRotated;
    }
    if d.revocations
        .get(&info.identity)
        .is_some_and(|c| cut_covers(d, info, c, seq))
    {
        return Standing::Revoked;
    }
    if d.suspensions
        .get(&info.identity)
        .is_some_and(|c| cut_covers(d, info, c, seq))
    {
        return Standing::Suspended;
    }
    Standing::Active
}

/// Whether a cut of `info`'s identity covers position `seq` of that key's log
/// (6.4 rule 3): from `from_seq` of the key it names, and every position of
/// keys rotated in after that key, not keys before it. A cut naming a key the
/// identity does not have cuts nothing at record level.
fn cut_covers(d: &Derived, info: &KeyInfo, c: &Cut, seq: u64) -> bool {
    match d.keys.get(&c.key) {
        Some(k) if k.identity == info.identity => {
            info.index > k.index || (info.index == k.index && seq >= c.from_seq)
        }
        _ => false,
    }
}

/// Whether position `seq` of `key`'s log is under its identity's revocation
/// cut (the condition of 6.4 rule 3, whatever rules 1 and 2 say).
pub(super) fn under_revocation(d: &Derived, key: &Did, seq: u64) -> bool {
    d.keys.get(key).is_some_and(|info| {
        d.revocations
            .get(&info.identity)
            .is_some_and(|c| cut_covers(d, info, c, seq))
    })
}

fn allowance_in(d: &Derived, identity: &Did) -> u64 {
    d.allowances
        .get(identity)
        .copied()
        .unwrap_or(crate::body::DEFAULT_ALLOWANCE)
}

/// Whether position `seq` of `key`'s log is within its identity's allowance.
pub(super) fn within_allowance(d: &Derived, key: &Did, seq: u64) -> bool {
    d.keys
        .get(key)
        .is_some_and(|k| k.offset.saturating_add(seq) <= allowance_in(d, &k.identity))
}
