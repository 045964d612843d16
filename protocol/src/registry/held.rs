//! What the registry keeps of each record, and each author's log with its
//! counted chain.

use super::state::OfferVersion;
use crate::body::{Body, Kind};
use crate::fields::{AgsPrefix, DemandId, Hash32, OfferId, Timestamp};
use crate::keys::Did;
use crate::record::VerifiedRecord;
use std::collections::BTreeMap;

/// A small sorted set of record ids. Nearly all hold a single id, which is kept
/// inline (no allocation); more go to a vector.
#[derive(Debug, Default, Clone)]
pub(super) enum IdList {
    #[default]
    Empty,
    One(Hash32),
    Many(Vec<Hash32>),
}

impl IdList {
    pub(super) fn insert(&mut self, id: Hash32) {
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

    pub(super) fn as_slice(&self) -> &[Hash32] {
        match self {
            IdList::Empty => &[],
            IdList::One(x) => std::slice::from_ref(x),
            IdList::Many(v) => v,
        }
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, Hash32> {
        self.as_slice().iter()
    }

    pub(super) fn len(&self) -> usize {
        self.as_slice().len()
    }
}

#[derive(Debug, Default, Clone)]
pub(super) struct Log {
    /// The author's number: its index in `Registry::authors`.
    pub(super) no: u32,
    pub(super) by_seq: BTreeMap<u64, IdList>,
    /// `canonical[i]` is the counted record at seq i + 1.
    pub(super) canonical: Vec<Hash32>,
}

/// What the registry keeps of a record. Offers, withdrawals, demands, requests,
/// answers and ends, nearly all of a registry, are kept as the few fields the
/// fold needs (their bodies stay in the node's store); every other kind is kept
/// whole.
#[derive(Debug, Clone)]
pub struct Held {
    /// The author's number (`Registry::author`): 4 bytes rather than a did
    /// for each of the registry's records.
    pub(super) author: u32,
    pub(super) seq: u64,
    pub(super) prev: Option<Hash32>,
    pub(super) what: What,
}

#[derive(Debug, Clone)]
pub(super) enum What {
    Offer(OfferId, OfferFacts),
    /// A withdrawal and the version it withdraws up to.
    Withdraw(OfferId, u64),
    Demand(DemandId, DemandFacts),
    /// A demand's withdrawal and the version it withdraws up to.
    DemandWithdraw(DemandId, u64),
    Request(Box<RequestFacts>),
    /// A request's withdrawal by its buyer.
    RequestWithdraw(Hash32),
    /// An acceptance (true) or a decline of a request, and when its author
    /// says it answered.
    Answer {
        request: Hash32,
        accept: bool,
        issued_at: Timestamp,
    },
    /// The end of the agreement formed on a request.
    End {
        request: Hash32,
        effective_at: Timestamp,
    },
    Consolidate(Box<ConsolidateFacts>),
    Whole(VerifiedRecord),
}

/// What the state needs of a demand record besides its id.
#[derive(Debug, Clone)]
pub(super) struct DemandFacts {
    pub(super) version: u64,
    pub(super) wanted_from: Timestamp,
    pub(super) wanted_until: Option<Timestamp>,
}

/// What the fold needs of a request.
#[derive(Debug, Clone)]
pub(super) struct RequestFacts {
    pub(super) offer: Hash32,
    pub(super) start: Timestamp,
    pub(super) stop: Option<Timestamp>,
    pub(super) on_behalf_of: Vec<AgsPrefix>,
    /// When the buyer signed it: a request is void on an offer that had
    /// expired by then.
    pub(super) issued_at: Timestamp,
}

/// What the fold needs of an `offer.consolidate`.
#[derive(Debug, Clone)]
pub(super) struct ConsolidateFacts {
    pub(super) provider: Did,
    pub(super) offer_id: OfferId,
    pub(super) replacement: Option<OfferId>,
}

/// What the state needs of an offer record besides its id. Kept for every
/// offer, so compact: `valid_until` as seconds, `i64::MAX` when open-ended
/// (no timestamp reaches it).
#[derive(Debug, Clone)]
pub(super) struct OfferFacts {
    pub(super) version: u64,
    pub(super) valid_from: Timestamp,
    valid_until: i64,
    pub(super) capacity: u64,
}

impl OfferFacts {
    pub(super) fn new(
        version: u64,
        valid_from: Timestamp,
        valid_until: Option<Timestamp>,
        capacity: u64,
    ) -> OfferFacts {
        OfferFacts {
            version,
            valid_from,
            valid_until: valid_until.map_or(i64::MAX, Timestamp::unix),
            capacity,
        }
    }

    pub(super) fn valid_until(&self) -> Option<Timestamp> {
        (self.valid_until != i64::MAX)
            .then(|| Timestamp::from_unix(self.valid_until))
            .flatten()
    }

    pub(super) fn of(&self, record: Hash32) -> OfferVersion {
        OfferVersion {
            record,
            version: self.version,
            valid_from: self.valid_from,
            until: self.valid_until,
            capacity: self.capacity,
        }
    }
}

impl Held {
    pub(super) fn of(rec: &VerifiedRecord) -> Held {
        let r = rec.record();
        let what = match &r.body {
            Body::Offer(b) => What::Offer(
                b.offer_id.clone(),
                OfferFacts::new(b.version, b.valid_from, b.valid_until, b.capacity),
            ),
            Body::OfferWithdraw(w) => What::Withdraw(w.offer_id.clone(), w.version),
            Body::Demand(b) => What::Demand(
                b.demand_id.clone(),
                DemandFacts {
                    version: b.version,
                    wanted_from: b.wanted_from,
                    wanted_until: b.wanted_until,
                },
            ),
            Body::DemandWithdraw(w) => What::DemandWithdraw(w.demand_id.clone(), w.version),
            Body::Request(b) => What::Request(Box::new(RequestFacts {
                offer: b.offer,
                start: b.start,
                stop: b.stop(),
                on_behalf_of: b.on_behalf_of.clone(),
                issued_at: r.issued_at,
            })),
            Body::RequestWithdraw(b) => What::RequestWithdraw(b.request),
            Body::RequestAccept(b) => What::Answer {
                request: b.request,
                accept: true,
                issued_at: r.issued_at,
            },
            Body::RequestDecline(b) => What::Answer {
                request: b.request,
                accept: false,
                issued_at: r.issued_at,
            },
            Body::AgreementEnd(b) => What::End {
                request: b.request,
                effective_at: b.effective_at,
            },
            Body::OfferConsolidate(b) => What::Consolidate(Box::new(ConsolidateFacts {
                provider: b.provider.clone(),
                offer_id: b.offer_id.clone(),
                replacement: b.replacement.clone(),
            })),
            _ => What::Whole(rec.clone()),
        };
        Held {
            author: u32::MAX,
            seq: r.seq,
            prev: r.prev,
            what,
        }
    }

    pub(super) fn whole(&self) -> Option<&VerifiedRecord> {
        match &self.what {
            What::Whole(rec) => Some(rec),
            _ => None,
        }
    }

    pub(super) fn kind_is(&self, kind: Kind) -> bool {
        self.kind() == kind
    }

    /// The record's kind.
    pub(super) fn kind(&self) -> Kind {
        match &self.what {
            What::Offer(..) => Kind::Offer,
            What::Withdraw(..) => Kind::OfferWithdraw,
            What::Demand(..) => Kind::Demand,
            What::DemandWithdraw(..) => Kind::DemandWithdraw,
            What::Request(_) => Kind::Request,
            What::RequestWithdraw(_) => Kind::RequestWithdraw,
            What::Answer { accept: true, .. } => Kind::RequestAccept,
            What::Answer { accept: false, .. } => Kind::RequestDecline,
            What::End { .. } => Kind::AgreementEnd,
            What::Consolidate(_) => Kind::OfferConsolidate,
            What::Whole(rec) => rec.record().kind(),
        }
    }
}

/// Extends a log's counted chain from its current end: at each next seq, the lowest
/// id among the records whose `prev` is the counted record before it.
pub(super) fn extend_canonical(log: &mut Log, records: &BTreeMap<Hash32, Held>) {
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
