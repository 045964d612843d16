//! The exchange: requests and agreements (filters → entries of the state →
//! views), demand, and an offer's uptake. The state decides what counts
//! (`kx_protocol::registry`, protocol 6.6); the bodies shown (quantity, legal
//! basis, reasons, the offer's price) are read from the store.

use super::Loaded;
use super::offers::provider_ref;
use crate::node::Node;
use kx_api::exchange::{
    AgreementView, AgreementsPage, AgreementsQuery, AnswerView, DemandQuery, DemandStatus,
    DemandView, DemandsPage, EndView, ExchangeFilters, ListQuery, ListStatus, OfferRef, ReasonView,
    RequestView, RequestsPage, RequestsQuery,
};
use kx_api::query::{DemandKey, OfferCursor};
use kx_api::views::{BuyerKind, BuyerRef, TakerView, UptakeView};
use kx_protocol::fields::{DemandId, OfferId};
use kx_protocol::registry::{AgreementStatus, DemandEntry, RequestEntry, RequestStatus, Taker};
use kx_protocol::{Body, Did, Hash32, Registry, State, Timestamp, geo, taxonomy};

/// A buyer by did: a municipality with its AGS, or a provider.
pub(crate) fn buyer_ref(state: &State, did: &Did) -> BuyerRef {
    match state.municipalities.get(did) {
        Some(m) => BuyerRef {
            did: did.clone(),
            name: m.name.clone(),
            kind: BuyerKind::Municipality,
            ags: Some(m.ags.to_string()),
        },
        None => BuyerRef {
            did: did.clone(),
            name: state.provider_name(did),
            kind: BuyerKind::Provider,
            ags: None,
        },
    }
}

/// A taker: a municipality by AGS (named from the NRW list, else from its
/// admission), or a provider.
pub(crate) fn taker_view(state: &State, t: &Taker) -> TakerView {
    match t {
        Taker::Municipality(ags) => TakerView {
            name: geo::name_of(ags.as_str())
                .map(str::to_owned)
                .or_else(|| state.municipality_of(ags.as_str()).map(|m| m.name.clone()))
                .unwrap_or_else(|| ags.to_string()),
            ags: Some(ags.to_string()),
            did: None,
        },
        Taker::Provider(did) => TakerView {
            name: state.provider_name(did),
            ags: None,
            did: Some(did.clone()),
        },
    }
}

/// How far `provider`'s offer `offer_id` is taken at `at`.
pub(crate) fn uptake(
    state: &State,
    provider: &Did,
    offer_id: &OfferId,
    at: Timestamp,
) -> UptakeView {
    let cap = state.capacity(provider, offer_id, at);
    let mut takers = Vec::new();
    let mut buyers: Vec<BuyerRef> = Vec::new();
    for id in &cap.within {
        let Some(r) = state.requests.get(id) else {
            continue;
        };
        if r.start > at {
            continue;
        }
        takers.extend(r.takers.iter().map(|t| taker_view(state, t)));
        if !buyers.iter().any(|b| b.did == r.buyer) {
            buyers.push(buyer_ref(state, &r.buyer));
        }
    }
    UptakeView {
        declared: cap.declared,
        taken: cap.taken,
        remaining: cap.remaining(),
        takers,
        buyers,
    }
}

/// The identity a did names (itself, or the identity of one of its keys).
fn identity(r: &Registry, did: &Did) -> Did {
    r.identity_of(did).cloned().unwrap_or_else(|| did.clone())
}

/// The filters with dids resolved to identities.
struct Resolved {
    buyer: Option<Did>,
    provider: Option<Did>,
    offer: Option<(Did, OfferId)>,
}

fn resolve(r: &Registry, f: &ExchangeFilters) -> Resolved {
    Resolved {
        buyer: f.buyer.as_ref().map(|d| identity(r, d)),
        provider: f.provider.as_ref().map(|d| identity(r, d)),
        offer: f
            .offer
            .as_ref()
            .map(|o| (identity(r, &o.provider), o.offer_id.clone())),
    }
}

/// True if request `e` passes the filters that need no record body.
fn passes(state: &State, f: &ExchangeFilters, ids: &Resolved, e: &RequestEntry) -> bool {
    if ids.buyer.as_ref().is_some_and(|b| *b != e.buyer) {
        return false;
    }
    if let Some(a) = &f.ags {
        let covered = e.takers.iter().any(|t| match t {
            Taker::Municipality(x) => a.covers(x.as_str()),
            Taker::Provider(_) => false,
        });
        if !covered {
            return false;
        }
    }
    if let Some(p) = &ids.provider
        && *p != e.provider
    {
        // Only a provider something passed to answers for others' offers.
        let successor = state
            .providers
            .get(p)
            .is_some_and(|x| !x.predecessors.is_empty());
        if !successor || !state.responders(&e.provider, &e.offer_id).contains(p) {
            return false;
        }
    }
    if let Some(o) = &ids.offer {
        let own = e.provider == o.0 && e.offer_id == o.1;
        if !own && (!e.is_agreement() || state.agreement_offer(e) != *o) {
            return false;
        }
    }
    true
}

/// The records a request's view reads: the request, its offer version and
/// the records naming it that count.
fn record_ids(e: &RequestEntry, id: &Hash32) -> Vec<Hash32> {
    let mut ids = vec![*id, e.offer_record];
    ids.extend(e.withdrawn);
    ids.extend(e.answer.as_ref().map(|a| a.record));
    ids.extend(e.end.as_ref().map(|x| x.record));
    ids
}

/// The view of request `id` at `at`, from the records in `loaded`.
fn request_view(
    r: &Registry,
    id: &Hash32,
    e: &RequestEntry,
    loaded: &Loaded<'_>,
    at: Timestamp,
) -> Option<RequestView> {
    let reg = r;
    let state = r.state();
    let rec = loaded.get(id)?;
    let Body::Request(b) = &rec.record().body else {
        return None;
    };
    let offer_rec = loaded.get(&e.offer_record)?;
    let Body::Offer(o) = &offer_rec.record().body else {
        return None;
    };
    let reason = |rid: &Hash32| {
        let r = loaded.get(rid)?;
        let text = match &r.record().body {
            Body::RequestWithdraw(x) | Body::RequestDecline(x) => x.reason.to_string(),
            Body::AgreementEnd(x) => x.reason.to_string(),
            _ => String::new(),
        };
        Some((r, text))
    };
    let withdrawal = e.withdrawn.as_ref().and_then(|w| {
        let (r, reason) = reason(w)?;
        Some(ReasonView {
            record: *w,
            issued_at: r.record().issued_at,
            reason,
        })
    });
    let answer = e.answer.as_ref().map(|a| AnswerView {
        record: a.record,
        accepted: a.accepted,
        by: provider_ref(state, &a.responder),
        issued_at: a.issued_at,
        reason: (!a.accepted)
            .then(|| reason(&a.record).map(|(_, t)| t))
            .flatten(),
    });
    let end = e.end.as_ref().and_then(|x| {
        let (r, reason) = reason(&x.record)?;
        let by = identity(reg, &r.record().author);
        Some(EndView {
            record: x.record,
            by,
            effective_at: x.effective_at,
            reason,
        })
    });
    let agreement = state.agreement_status(id, at).map(|status| {
        let (provider, offer_id) = state.agreement_offer(e);
        AgreementView {
            status,
            counts_against: OfferCursor { provider, offer_id },
        }
    });
    Some(RequestView {
        id: *id,
        issued_at: rec.record().issued_at,
        buyer: buyer_ref(state, &e.buyer),
        offer: OfferRef {
            provider: provider_ref(state, &e.provider),
            offer_id: e.offer_id.clone(),
            version: o.version,
            record: e.offer_record,
            title: o.title.to_string(),
            category: o.category.clone(),
            pricing: o.pricing.clone(),
        },
        responder: provider_ref(state, &state.shown_under(&e.provider, &e.offer_id, at)),
        takers: e.takers.iter().map(|t| taker_view(state, t)).collect(),
        quantity: b.quantity,
        start: b.start,
        stop: e.stop,
        term_months: b.term_months,
        legal_basis: b.legal_basis.clone(),
        note: b.note.to_string(),
        contact: b.contact.clone(),
        status: e.status(),
        withdrawal,
        answer,
        end,
        agreement,
    })
}

/// True if the offer record `offer` is in `category` or below it.
fn in_category(loaded: &Loaded<'_>, offer: &Hash32, category: &str) -> bool {
    loaded.get(offer).is_some_and(|r| match &r.record().body {
        Body::Offer(o) => taxonomy::is_within(o.category.as_str(), category),
        _ => false,
    })
}

/// A page of the requests passing `q` that are `member`s of the list (all,
/// or the agreements), by request id after its cursor; `status_of` gives an
/// entry's status for the status filter, and is called only with one.
fn page<S: ListStatus + PartialEq>(
    node: &Node,
    q: &ListQuery<S>,
    at: Timestamp,
    member: impl Fn(&RequestEntry) -> bool,
    status_of: impl Fn(&State, &Hash32, &RequestEntry) -> Option<S>,
) -> (Vec<RequestView>, Option<Hash32>) {
    // The candidates without bodies; then the category, which needs the
    // offers' bodies; then the page. A municipality's requests come from the
    // index (a superset, checked against the state like any candidate).
    let taken_in = q
        .filters
        .ags
        .as_ref()
        .map(|a| node.with_index(|_, index| index.requests_taken_in(a)));
    let candidates: Vec<(Hash32, Hash32)> = node.with_registry(|r| {
        let state = r.state();
        let ids = resolve(r, &q.filters);
        let keep = |id: &Hash32, e: &RequestEntry| {
            member(e)
                && passes(state, &q.filters, &ids, e)
                && q.status
                    .is_none_or(|want| status_of(state, id, e) == Some(want))
        };
        let after = |id: &Hash32| q.cursor.is_none_or(|c| *id > c);
        // Without a category filter the page is the first `limit` (and one to
        // see whether more follow).
        let enough = if q.filters.category.is_none() {
            q.limit + 1
        } else {
            usize::MAX
        };
        match &ids.offer {
            // An offer's requests, and those of the offers consolidated into
            // it, from the state's index.
            Some(key) => {
                let mut sources = vec![key.clone()];
                let mut i = 0;
                while i < sources.len() && sources.len() <= state.offers.len() {
                    for s in state
                        .consolidated_into
                        .get(&sources[i])
                        .into_iter()
                        .flatten()
                    {
                        if !sources.contains(s) {
                            sources.push(s.clone());
                        }
                    }
                    i += 1;
                }
                let mut found: Vec<Hash32> = sources
                    .iter()
                    .filter_map(|s| state.requests_by_offer.get(s))
                    .flatten()
                    .copied()
                    .filter(|id| after(id))
                    .collect();
                found.sort();
                found
                    .into_iter()
                    .filter_map(|id| Some((id, state.requests.get(&id)?)))
                    .filter(|(id, e)| keep(id, e))
                    .take(enough)
                    .map(|(id, e)| (id, e.offer_record))
                    .collect()
            }
            None => match &taken_in {
                Some(found) => found
                    .iter()
                    .filter(|id| after(id))
                    .filter_map(|id| Some((id, state.requests.get(id)?)))
                    .filter(|(id, e)| keep(id, e))
                    .take(enough)
                    .map(|(id, e)| (*id, e.offer_record))
                    .collect(),
                None => {
                    let from = q
                        .cursor
                        .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
                    state
                        .requests
                        .range((from, std::ops::Bound::Unbounded))
                        .filter(|(id, e)| keep(id, e))
                        .take(enough)
                        .map(|(id, e)| (*id, e.offer_record))
                        .collect()
                }
            },
        }
    });
    let mut chosen = Vec::new();
    let mut more = false;
    match &q.filters.category {
        None => {
            more = candidates.len() > q.limit;
            chosen.extend(candidates.iter().take(q.limit).map(|(id, _)| *id));
        }
        Some(c) => {
            let offers = Loaded::read(node, candidates.iter().map(|(_, o)| *o));
            for (id, offer) in &candidates {
                if in_category(&offers, offer, c.as_str()) {
                    if chosen.len() == q.limit {
                        more = true;
                        break;
                    }
                    chosen.push(*id);
                }
            }
        }
    }
    let ids: Vec<Hash32> = node.with_state(|state| {
        chosen
            .iter()
            .filter_map(|id| Some(record_ids(state.requests.get(id)?, id)))
            .flatten()
            .collect()
    });
    let loaded = Loaded::read(node, ids);
    let views = node.with_registry(|r| {
        chosen
            .iter()
            .filter_map(|id| request_view(r, id, r.state().requests.get(id)?, &loaded, at))
            .collect::<Vec<_>>()
    });
    let next = more.then(|| chosen.last().copied()).flatten();
    (views, next)
}

/// `GET /v1/requests`: a page of requests, any status unless asked.
pub fn requests(node: &Node, q: &RequestsQuery, at: Timestamp) -> RequestsPage {
    let (requests, next_cursor) = page(node, q, at, |_| true, |_, _, e| Some(e.status()));
    RequestsPage {
        requests,
        next_cursor,
    }
}

/// `GET /v1/agreements`: a page of agreements by their status at `at`.
pub fn agreements(node: &Node, q: &AgreementsQuery, at: Timestamp) -> AgreementsPage {
    let (agreements, next_cursor) =
        page(node, q, at, RequestEntry::is_agreement, |state, id, _| {
            state.agreement_status(id, at)
        });
    AgreementsPage {
        agreements,
        next_cursor,
    }
}

/// One request at `at`, if it counts.
pub fn request(node: &Node, id: &Hash32, at: Timestamp) -> Option<RequestView> {
    let ids = node.with_state(|state| Some(record_ids(state.requests.get(id)?, id)))?;
    let loaded = Loaded::read(node, ids);
    node.with_registry(|r| request_view(r, id, r.state().requests.get(id)?, &loaded, at))
}

/// A demand's status at `at`.
pub(crate) fn demand_status(e: &DemandEntry, at: Timestamp) -> Option<DemandStatus> {
    let cur = e.current()?;
    Some(if e.withdrawn() {
        DemandStatus::Withdrawn
    } else if cur.wanted_until.is_some_and(|u| u <= at) {
        DemandStatus::Expired
    } else {
        DemandStatus::Open
    })
}

fn demand_view(
    state: &State,
    buyer: &Did,
    e: &DemandEntry,
    loaded: &Loaded<'_>,
    at: Timestamp,
) -> Option<DemandView> {
    let cur = e.current()?;
    let rec = loaded.get(&cur.record)?;
    let Body::Demand(b) = &rec.record().body else {
        return None;
    };
    Some(DemandView {
        buyer: buyer_ref(state, buyer),
        demand_id: b.demand_id.clone(),
        version: b.version,
        record: cur.record,
        issued_at: rec.record().issued_at,
        status: demand_status(e, at)?,
        body: (**b).clone(),
    })
}

/// `GET /v1/demand`: a page of demands by (buyer, demand id).
pub fn demands(node: &Node, q: &DemandQuery, at: Timestamp) -> DemandsPage {
    let candidates: Vec<((Did, DemandId), Hash32)> = node.with_registry(|r| {
        let state = r.state();
        let buyer = q.buyer.as_ref().map(|d| identity(r, d));
        let after = q
            .cursor
            .as_ref()
            .map(|c| (c.buyer.clone(), c.demand_id.clone()));
        state
            .demands
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .filter(|((b, _), e)| {
                buyer.as_ref().is_none_or(|x| x == b)
                    && demand_status(e, at) == Some(q.status)
                    && q.ags.as_ref().is_none_or(|a| {
                        state
                            .municipalities
                            .get(b)
                            .is_some_and(|m| a.covers(m.ags.as_str()))
                    })
            })
            .filter_map(|(k, e)| Some((k.clone(), e.current()?.record)))
            .collect()
    });
    let needs_body = q.category.is_some() || q.ozg.is_some() || q.leika.is_some();
    let loaded = Loaded::read(
        node,
        candidates.iter().filter(|_| needs_body).map(|(_, r)| *r),
    );
    let body_passes = |record: &Hash32| {
        if !needs_body {
            return true;
        }
        loaded.get(record).is_some_and(|r| match &r.record().body {
            Body::Demand(b) => {
                q.category.as_ref().is_none_or(|c| {
                    b.category
                        .as_ref()
                        .is_some_and(|x| taxonomy::is_within(x.as_str(), c.as_str()))
                }) && q.ozg.as_ref().is_none_or(|o| b.ozg_ids.contains(o))
                    && q.leika.as_ref().is_none_or(|l| b.leika_keys.contains(l))
            }
            _ => false,
        })
    };
    let mut chosen = Vec::new();
    let mut more = false;
    for (key, record) in &candidates {
        if body_passes(record) {
            if chosen.len() == q.limit {
                more = true;
                break;
            }
            chosen.push((key.clone(), *record));
        }
    }
    let loaded = Loaded::read(node, chosen.iter().map(|(_, r)| *r));
    node.with_state(|state| {
        let demands = chosen
            .iter()
            .filter_map(|((buyer, id), _)| {
                let e = state.demands.get(&(buyer.clone(), id.clone()))?;
                demand_view(state, buyer, e, &loaded, at)
            })
            .collect();
        let next_cursor = more
            .then(|| chosen.last())
            .flatten()
            .map(|((buyer, demand_id), _)| DemandKey {
                buyer: buyer.clone(),
                demand_id: demand_id.clone(),
            });
        DemandsPage {
            demands,
            next_cursor,
        }
    })
}

/// The demands of `buyer` with `status` at `at`, by demand id.
pub(crate) fn demands_of(
    node: &Node,
    buyer: &Did,
    status: DemandStatus,
    at: Timestamp,
) -> Vec<DemandView> {
    let q = DemandQuery {
        buyer: Some(buyer.clone()),
        status,
        at: Some(at),
        limit: DemandQuery::MAX_LIMIT,
        ..DemandQuery::new()
    };
    demands(node, &q, at).demands
}

/// The requests (any status) with `ags` among their takers, by id.
pub(crate) fn requests_for(node: &Node, ags: &str, at: Timestamp) -> Vec<RequestView> {
    let Ok(ags) = ags.parse() else {
        return Vec::new();
    };
    let mut q = RequestsQuery::new(ExchangeFilters {
        ags: Some(ags),
        ..ExchangeFilters::default()
    });
    q.limit = RequestsQuery::MAX_LIMIT;
    requests(node, &q, at).requests
}

/// True for an agreement that runs at the instant or will.
pub(crate) fn runs(status: AgreementStatus) -> bool {
    matches!(status, AgreementStatus::Active | AgreementStatus::Pending)
}

/// True for a request still waiting for an answer.
pub(crate) fn is_open(status: RequestStatus) -> bool {
    status == RequestStatus::Open
}
