//! Offers: searches, one offer with its history, and the catalog's ranking.

use super::{Loaded, current_record};
use crate::index::Load;
use crate::node::Node;
use kx_api::views::{
    ContactView, MunicipalityRef, OfferView, OffersPage, ProcurementView, ProviderRef, VersionView,
    WithdrawalView,
};
use kx_api::{Figures, Filters, OfferCursor};
use kx_protocol::body::OfferBody;
use kx_protocol::fields::{OfferId, OzgId};
use kx_protocol::geo::{self, Municipality, Procurement};
use kx_protocol::registry::{OfferEntry, OfferHistory};
use kx_protocol::terms;
use kx_protocol::{Body, Did, Hash32, Registry, State, Timestamp};

/// A provider by did, with the name it goes by.
pub(crate) fn provider_ref(state: &State, did: &Did) -> ProviderRef {
    ProviderRef {
        did: did.clone(),
        name: state.provider_name(did),
    }
}

/// Whether `m` may take an offer, for the view.
fn procurement_view(p: Procurement, m: &Municipality) -> ProcurementView {
    ProcurementView {
        municipality: MunicipalityRef {
            ags: m.ags.clone(),
            name: m.name.clone(),
        },
        kind: p,
        tender_free: p.tender_free(),
        label: p.label_de().to_owned(),
    }
}

/// The view of the current version of `entry`, an offer of `provider`, at
/// `at`; with `m`, whether that municipality may take it without a tender.
pub(crate) fn offer_view(
    state: &State,
    provider: &Did,
    entry: &OfferEntry,
    load: Load<'_>,
    at: Timestamp,
    m: Option<&Municipality>,
) -> Option<OfferView> {
    let rec = current_record(entry, load)?;
    let r = rec.record();
    let Body::Offer(body) = &r.body else {
        return None;
    };
    let shown = state.shown_under(provider, &body.offer_id, at);
    let contact = m.and_then(|m| contact_view(state, &shown, body, &m.ags));
    Some(OfferView {
        provider: provider_ref(state, provider),
        shown_under: (shown != *provider).then(|| provider_ref(state, &shown)),
        offer_id: body.offer_id.clone(),
        version: body.version,
        record: rec.id(),
        author: r.author.clone(),
        issued_at: r.issued_at,
        status: state.offer_status(provider, entry, at),
        procurement: m.map(|m| procurement_view(state.procurement(provider, body, &m.ags, at), m)),
        body: (**body).clone(),
        history: None,
        withdrawals: None,
        uptake: super::exchange::uptake(state, provider, &body.offer_id, at),
        conformance: terms::conformances(body, &state.standards),
        cost: None,
        contact,
    })
}

/// The contact of the municipality `ags` for an offer shown under `shown`:
/// the offer's, else the profile's of the provider that offers it now.
fn contact_view(state: &State, shown: &Did, body: &OfferBody, ags: &str) -> Option<ContactView> {
    let profile = state.providers.get(shown).and_then(|p| p.profile_body());
    let (contacts, members) = profile.map_or((&[][..], &[][..]), |p| {
        (p.contacts.as_slice(), p.members.as_slice())
    });
    terms::contact_for(&body.contacts, contacts, members, ags).map(|(source, _, c)| ContactView {
        source,
        contact: c.clone(),
    })
}

/// The record ids of the current versions of `keys`.
fn current_ids<'a>(state: &State, keys: impl Iterator<Item = &'a (Did, OfferId)>) -> Vec<Hash32> {
    keys.filter_map(|k| Some(state.offers.get(k)?.current()?.record))
        .collect()
}

/// A page of the offers matching `filters` at `at`, in (provider, offer id)
/// order, after `cursor`.
pub fn search(
    node: &Node,
    filters: &Filters,
    at: Timestamp,
    cursor: Option<&OfferCursor>,
    limit: usize,
) -> OffersPage {
    let after = cursor.map(|c| (c.provider.clone(), c.offer_id.clone()));
    let (found, ids) = node.with_index(|state, index| {
        let found = index.search(state, filters, at, after.as_ref(), limit);
        let ids = current_ids(state, found.keys.iter());
        (found, ids)
    });
    let loaded = Loaded::read(node, ids);
    node.with_state(|state| {
        let offers: Vec<OfferView> = found
            .keys
            .iter()
            .filter_map(|key| {
                let entry = state.offers.get(key)?;
                offer_view(
                    state,
                    &key.0,
                    entry,
                    &loaded.load(),
                    at,
                    filters.municipality,
                )
            })
            .collect();
        let next_cursor =
            found
                .more
                .then(|| found.keys.last())
                .flatten()
                .map(|(provider, offer_id)| OfferCursor {
                    provider: provider.clone(),
                    offer_id: offer_id.clone(),
                });
        OffersPage {
            offers,
            total: found.total,
            next_cursor,
        }
    })
}

/// The provider identity a did names (itself, or the identity of a key).
fn identity(r: &Registry, did: &Did) -> Did {
    r.identity_of(did).cloned().unwrap_or_else(|| did.clone())
}

/// One offer of the provider `did` (its identity or any of its keys) at `at`,
/// with its cost for `figures` and its history if asked; None if there is no
/// such offer.
pub fn offer(
    node: &Node,
    did: &Did,
    offer_id: &OfferId,
    at: Timestamp,
    m: Option<&Municipality>,
    figures: Option<&Figures>,
    history: bool,
) -> Option<OfferView> {
    let ids = node.with_registry(|r| {
        let identity = identity(r, did);
        let mut ids = current_ids(r.state(), [(identity.clone(), offer_id.clone())].iter());
        if history {
            let h = r.offer_history(&identity, offer_id);
            ids.extend(h.versions.iter().map(|v| v.record));
            ids.extend(h.withdrawals);
        }
        ids
    });
    let loaded = Loaded::read(node, ids);
    node.with_registry(|r| {
        let identity = identity(r, did);
        let entry = r
            .state()
            .offers
            .get(&(identity.clone(), offer_id.clone()))?;
        let mut view = offer_view(r.state(), &identity, entry, &loaded.load(), at, m)?;
        view.cost = figures.map(|f| terms::cost(&view.body, f));
        if history {
            let (versions, withdrawals) =
                history_views(&r.offer_history(&identity, offer_id), &loaded);
            view.history = Some(versions);
            view.withdrawals = Some(withdrawals);
        }
        Some(view)
    })
}

/// Every version (by version, then record id) and withdrawal of an offer.
fn history_views(h: &OfferHistory, loaded: &Loaded<'_>) -> (Vec<VersionView>, Vec<WithdrawalView>) {
    let mut versions: Vec<VersionView> = h
        .versions
        .iter()
        .filter_map(|v| {
            let rec = loaded.get(&v.record)?;
            let Body::Offer(b) = &rec.record().body else {
                return None;
            };
            Some(VersionView {
                record: rec.id(),
                version: b.version,
                issued_at: rec.record().issued_at,
                body: (**b).clone(),
            })
        })
        .collect();
    versions.sort_by_key(|v| (v.version, v.record));
    let withdrawals = h
        .withdrawals
        .iter()
        .filter_map(|id| {
            let rec = loaded.get(id)?;
            let Body::OfferWithdraw(b) = &rec.record().body else {
                return None;
            };
            Some(WithdrawalView {
                record: rec.id(),
                body: b.clone(),
            })
        })
        .collect();
    (versions, withdrawals)
}

/// One page of the catalog's results, and how many matched in all.
#[derive(Debug)]
pub struct Ranked {
    pub total: usize,
    pub offers: Vec<OfferView>,
}

/// The offers matching `filters` at `at` in the catalog's order: those the
/// searched municipality may take without a tender first (in-house, then
/// inter-municipal, then a framework agreement), then by title; page `page`
/// (from 1) of `per_page`.
pub fn ranked(
    node: &Node,
    filters: &Filters,
    at: Timestamp,
    page: usize,
    per_page: usize,
) -> Ranked {
    let m = filters.municipality;
    let (total, keys, ids) = node.with_index(|state, index| {
        // Title and stated legal basis are kept by the index, so only the
        // page's records are read.
        let mut hits: Vec<(Option<Procurement>, &str, (Did, OfferId))> = index
            .search(state, filters, at, None, usize::MAX)
            .keys
            .into_iter()
            .filter_map(|key| {
                let (title, basis) = index.title_and_basis(&key)?;
                // The municipality filter means the offer is delivered there.
                let rank = m.map(|m| {
                    geo::procurement_by(state.in_house(&key.0, &key.1, &m.ags, at), true, basis)
                });
                Some((rank, title, key))
            })
            .collect();
        hits.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let total = hits.len();
        let keys: Vec<(Did, OfferId)> = hits
            .into_iter()
            .skip(page.saturating_sub(1) * per_page)
            .take(per_page)
            .map(|(_, _, key)| key)
            .collect();
        let ids = current_ids(state, keys.iter());
        (total, keys, ids)
    });
    let loaded = Loaded::read(node, ids);
    let offers = node.with_state(|state| {
        keys.iter()
            .filter_map(|key| {
                let entry = state.offers.get(key)?;
                offer_view(state, &key.0, entry, &loaded.load(), at, m)
            })
            .collect()
    });
    Ranked { total, offers }
}

/// The OZG services that active offers name at `at`, by id.
pub fn ozg_in_use(node: &Node, at: Timestamp) -> Vec<OzgId> {
    node.with_index(|state, index| {
        index
            .active_ozg_ids(state, at)
            .into_iter()
            .filter_map(|id| id.parse().ok())
            .collect()
    })
}
