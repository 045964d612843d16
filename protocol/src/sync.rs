//! Anti-entropy: range-based set reconciliation over record ids, and the sync
//! messages nodes exchange (`specs/sync.md`). Pure functions over sorted id sets;
//! the node does the transport.
//!
//! The initiator describes a range of the id space by (count, fingerprint); the
//! responder compares with its own items there and answers equal ranges with
//! nothing, small ranges with its ids, and large ones with 16 sub-ranges and their
//! fingerprints. The initiator fetches the ids it lacks and asks again about the
//! sub-ranges that still differ. Traffic grows with the number of differing
//! ranges, not with the size of the registry; in-sync peers exchange one message
//! each way.

use crate::fields::Hash32;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Domain tag of range fingerprints.
pub const SYNC_TAG: &[u8] = b"kx-sync-v1\0";
/// A responder lists its ids for a differing range with at most this many items.
pub const MAX_IDS_INLINE: usize = 32;
/// A responder splits a larger differing range into this many sub-ranges.
pub const SPLIT: usize = 16;
/// Most ranges in one reconcile message.
pub const MAX_RANGES: usize = 512;
/// Most ids in one fetch request (and records in one answer).
pub const MAX_FETCH: usize = 256;
/// Most reconcile requests in one reconciliation. The initiator sends its open
/// ranges at most `MAX_RANGES` per request, so one level of the search may take
/// several requests.
pub const MAX_ROUNDS: usize = 1024;

/// 16-byte range fingerprint, as 32 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 16]);

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let s = String::deserialize(d)?;
        let b = s.as_bytes();
        if b.len() != 32 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(serde::de::Error::custom(
                "fingerprint: 32 lowercase hex characters",
            ));
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
            let lo = (pair[1] as char).to_digit(16).unwrap_or(0);
            out[i] = (hi * 16 + lo) as u8;
        }
        Ok(Fingerprint(out))
    }
}

/// A range summary: number of ids and their fingerprint.
///
/// `fingerprint = SHA-256(SYNC_TAG || count as u64 big-endian || sum)[..16]`, where
/// `sum` is the sum of the ids read as 256-bit big-endian integers, modulo 2^256.
/// The sum makes it independent of order and cheap to update.
pub fn fingerprint<'a>(ids: impl IntoIterator<Item = &'a Hash32>) -> (u64, Fingerprint) {
    let mut sum = [0u8; 32];
    let mut count = 0u64;
    for id in ids {
        count += 1;
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let v = u16::from(sum[i]) + u16::from(id.0[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
    }
    let mut h = Sha256::new();
    h.update(SYNC_TAG);
    h.update(count.to_be_bytes());
    h.update(sum);
    let d = h.finalize();
    let mut fp = [0u8; 16];
    fp.copy_from_slice(&d[..16]);
    (count, Fingerprint(fp))
}

/// One range of the id space: `[lower, upper)`; `None` is the start (lower) or
/// the end (upper) of the space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum RangeMsg {
    /// The sender's count and fingerprint of the range.
    Fingerprint {
        lower: Option<Hash32>,
        upper: Option<Hash32>,
        count: u64,
        fingerprint: Fingerprint,
    },
    /// All of the sender's ids in the range.
    Ids {
        lower: Option<Hash32>,
        upper: Option<Hash32>,
        ids: Vec<Hash32>,
    },
}

/// A request on the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncRequest {
    /// Compare these ranges (the initiator's summaries).
    Reconcile {
        federation: Hash32,
        ranges: Vec<RangeMsg>,
    },
    /// Send these records.
    Fetch {
        federation: Hash32,
        ids: Vec<Hash32>,
    },
    /// Which peers do you know?
    Peers { federation: Hash32 },
}

/// A peer and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerAddr {
    pub peer_id: String,
    pub addrs: Vec<String>,
}

/// An answer on the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncResponse {
    /// Ranges that differ, described by the responder.
    Reconcile { ranges: Vec<RangeMsg> },
    /// The records asked for that the responder holds, each as its canonical JSON
    /// text (the receiver parses them strictly).
    Records { records: Vec<String> },
    /// Peers the responder is connected to.
    Peers { peers: Vec<PeerAddr> },
    /// The request was refused (`wrong_federation`, `too_many`).
    Error { code: String, message: String },
}

fn range<'a, V>(
    set: &'a BTreeMap<Hash32, V>,
    lower: &Option<Hash32>,
    upper: &Option<Hash32>,
) -> impl Iterator<Item = &'a Hash32> + 'a {
    let lo = match lower {
        Some(l) => Bound::Included(*l),
        None => Bound::Unbounded,
    };
    let hi = match upper {
        Some(u) => Bound::Excluded(*u),
        None => Bound::Unbounded,
    };
    // An inverted range (lower > upper) would panic in BTreeMap::range.
    let valid = match (lower, upper) {
        (Some(l), Some(u)) => l < u,
        _ => true,
    };
    let iter = if valid {
        Some(set.range((lo, hi)).map(|(k, _)| k))
    } else {
        None
    };
    iter.into_iter().flatten()
}

/// A sorted set of ids to reconcile: either its own, or the keys of a map it
/// borrows (a registry's records), so a node need not copy its ids per round.
#[derive(Debug, Clone, Default)]
pub struct IdSet<'a, V: Clone = ()> {
    ids: Cow<'a, BTreeMap<Hash32, V>>,
}

impl IdSet<'static, ()> {
    /// The set of `ids`.
    pub fn new(ids: impl IntoIterator<Item = Hash32>) -> Self {
        IdSet {
            ids: Cow::Owned(ids.into_iter().map(|i| (i, ())).collect()),
        }
    }
}

impl<'a, V: Clone> IdSet<'a, V> {
    /// The keys of `map`, borrowed.
    pub fn of(map: &'a BTreeMap<Hash32, V>) -> Self {
        IdSet {
            ids: Cow::Borrowed(map),
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// True if `id` is in the set.
    pub fn contains(&self, id: &Hash32) -> bool {
        self.ids.contains_key(id)
    }

    fn summary(&self, lower: Option<Hash32>, upper: Option<Hash32>) -> RangeMsg {
        let (count, fp) = fingerprint(range(&*self.ids, &lower, &upper));
        RangeMsg::Fingerprint {
            lower,
            upper,
            count,
            fingerprint: fp,
        }
    }

    /// The first request of a reconciliation: the whole id space.
    pub fn initial(&self) -> Vec<RangeMsg> {
        vec![self.summary(None, None)]
    }

    /// The responder's answer to the initiator's ranges.
    pub fn respond(&self, ranges: &[RangeMsg]) -> Vec<RangeMsg> {
        let mut out = Vec::new();
        for r in ranges.iter().take(MAX_RANGES) {
            let RangeMsg::Fingerprint {
                lower,
                upper,
                count,
                fingerprint: fp,
            } = r
            else {
                continue;
            };
            let own: Vec<&Hash32> = range(&*self.ids, lower, upper).collect();
            let (c, f) = fingerprint(own.iter().copied());
            if c == *count && f == *fp {
                continue;
            }
            if own.len() <= MAX_IDS_INLINE {
                out.push(RangeMsg::Ids {
                    lower: *lower,
                    upper: *upper,
                    ids: own.into_iter().copied().collect(),
                });
                continue;
            }
            let chunk = own.len().div_ceil(SPLIT);
            let starts: Vec<Hash32> = own.iter().step_by(chunk).map(|h| **h).collect();
            for (i, start) in starts.iter().enumerate() {
                let lo = if i == 0 { *lower } else { Some(*start) };
                let hi = starts.get(i + 1).copied().or(*upper);
                out.push(self.summary(lo, hi));
            }
        }
        out
    }

    /// The initiator's step: ids to fetch, and the ranges to ask about next.
    pub fn process(&self, answer: &[RangeMsg]) -> (Vec<Hash32>, Vec<RangeMsg>) {
        let mut fetch = Vec::new();
        let mut next = Vec::new();
        // Every range of the answer is handled; the caller sends the next ranges
        // at most MAX_RANGES per request.
        for r in answer.iter().take(MAX_RANGES * SPLIT) {
            match r {
                RangeMsg::Ids { ids, .. } => {
                    fetch.extend(ids.iter().filter(|i| !self.contains(i)).copied());
                }
                RangeMsg::Fingerprint {
                    lower,
                    upper,
                    count,
                    fingerprint: fp,
                } => {
                    let own = self.summary(*lower, *upper);
                    if let RangeMsg::Fingerprint {
                        count: c,
                        fingerprint: f,
                        ..
                    } = &own
                        && (c != count || f != fp)
                    {
                        next.push(own);
                    }
                }
            }
        }
        fetch.sort();
        fetch.dedup();
        (fetch, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(seed: u64, n: usize) -> Vec<Hash32> {
        (0..n)
            .map(|i| crate::record::sha256(format!("{seed}-{i}").as_bytes()))
            .collect()
    }

    /// Runs a reconciliation; returns the ids fetched, rounds and bytes both ways.
    fn reconcile(a: &IdSet, b: &IdSet) -> (Vec<Hash32>, usize, usize) {
        let fed = Hash32([0; 32]);
        let mut fetched = Vec::new();
        let mut bytes = 0;
        let mut open = a.initial();
        let mut rounds = 0;
        while !open.is_empty() && rounds < MAX_ROUNDS {
            rounds += 1;
            let n = open.len().min(MAX_RANGES);
            let ranges: Vec<RangeMsg> = open.drain(..n).collect();
            let req = SyncRequest::Reconcile {
                federation: fed,
                ranges: ranges.clone(),
            };
            bytes += serde_json::to_vec(&req).map_or(0, |v| v.len());
            let answer = b.respond(&ranges);
            let resp = SyncResponse::Reconcile {
                ranges: answer.clone(),
            };
            bytes += serde_json::to_vec(&resp).map_or(0, |v| v.len());
            let (f, next) = a.process(&answer);
            fetched.extend(f);
            open.extend(next);
        }
        fetched.sort();
        (fetched, rounds, bytes)
    }

    #[test]
    fn finds_exactly_the_missing_ids() {
        let common = ids(1, 5000);
        for missing in [0usize, 1, 10, 300] {
            let extra = ids(2, missing);
            let a = IdSet::new(common.iter().copied());
            let b = IdSet::new(common.iter().chain(&extra).copied());
            let (fetched, rounds, bytes) = reconcile(&a, &b);
            let mut want = extra.clone();
            want.sort();
            assert_eq!(fetched, want, "missing {missing}");
            if missing == 0 {
                assert_eq!(rounds, 1);
                assert!(bytes < 400, "{bytes} bytes when in sync");
            }
            assert!(rounds <= 5, "{rounds} rounds");
        }
    }

    #[test]
    fn many_differences_take_several_requests_but_all_are_found() {
        let common = ids(5, 20_000);
        let extra = ids(6, 3000);
        let a = IdSet::new(common.iter().copied());
        let b = IdSet::new(common.iter().chain(&extra).copied());
        let (fetched, rounds, _) = reconcile(&a, &b);
        assert_eq!(fetched.len(), 3000);
        assert!(rounds > 3, "{rounds}");
        let empty = IdSet::default();
        let (all, _, _) = reconcile(&empty, &b);
        assert_eq!(all.len(), 23_000);
    }

    #[test]
    fn works_both_ways_and_on_empty_sets() {
        let a = IdSet::new(ids(3, 100));
        let empty = IdSet::default();
        let (fetched, _, _) = reconcile(&empty, &a);
        assert_eq!(fetched.len(), 100);
        let (fetched, _, _) = reconcile(&a, &empty);
        assert!(fetched.is_empty());
    }

    #[test]
    fn hostile_ranges_do_not_panic() {
        let a = IdSet::new(ids(4, 50));
        let inverted = RangeMsg::Fingerprint {
            lower: Some(Hash32([9; 32])),
            upper: Some(Hash32([1; 32])),
            count: 5,
            fingerprint: Fingerprint([0; 16]),
        };
        let out = a.respond(&[inverted]);
        assert_eq!(out.len(), 1);
        let msg: Result<SyncRequest, _> =
            serde_json::from_str(r#"{"type":"reconcile","federation":"00","ranges":[]}"#);
        assert!(msg.is_err());
    }
}
