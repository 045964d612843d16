//! Providers: the list, one provider with its offers, its portfolio as the
//! catalog lists it, and the end of an author's log.

use super::Loaded;
use super::offers::{offer_view, provider_ref};
use crate::index::Load;
use crate::node::Node;
use kx_api::views::{
    AuthorView, LogHead, OfferView, ProfileView, ProviderDetail, ProviderRef, ProviderSummary,
    ProviderView, ProvidersList, SuccessorView,
};
use kx_protocol::fields::OfferId;
use kx_protocol::registry::{OfferStatus, ProviderState, succession_of};
use kx_protocol::{Body, Did, Registry, State, Timestamp};

/// A provider with `offers` (their number, or their views).
fn provider_view<O>(state: &State, p: &ProviderState, offers: O) -> ProviderView<O> {
    let successor = p.successor.as_ref().and_then(|s| {
        let b = succession_of(s)?;
        Some(SuccessorView {
            did: b.successor.clone(),
            name: state.provider_name(b.successor),
            effective_at: b.effective_at,
            offer_ids: b.offer_ids.to_vec(),
            record: s.id(),
        })
    });
    let profile = p.profile.as_ref().and_then(|r| match &r.record().body {
        Body::ProviderProfile(b) => Some(ProfileView {
            record: r.id(),
            body: b.clone(),
        }),
        _ => None,
    });
    ProviderView {
        did: p.identity.clone(),
        name: p.name.clone(),
        standing: p.standing,
        keys: p.keys.clone(),
        profile,
        offers,
        successor,
        predecessors: p
            .predecessors
            .iter()
            .map(|d| provider_ref(state, d))
            .collect(),
    }
}

fn summary(state: &State, p: &ProviderState) -> ProviderSummary {
    provider_view(state, p, state.offers_of(&p.identity).count())
}

/// Every admitted provider, by did.
pub fn list(node: &Node) -> ProvidersList {
    node.with_state(|state| ProvidersList {
        providers: state
            .providers
            .values()
            .map(|p| summary(state, p))
            .collect(),
    })
}

/// Every admitted provider by did and name (for choice lists).
pub fn names(node: &Node) -> Vec<ProviderRef> {
    node.with_state(|state| {
        state
            .providers
            .keys()
            .map(|d| provider_ref(state, d))
            .collect()
    })
}

/// The provider identity a did names (itself, or the identity of a key).
fn identity(r: &Registry, did: &Did) -> Did {
    r.identity_of(did).cloned().unwrap_or_else(|| did.clone())
}

/// One provider (by its identity or any of its keys) without its offers, and
/// the name it goes by.
pub fn summary_of(node: &Node, did: &Did) -> Option<(ProviderRef, ProviderSummary)> {
    node.with_registry(|r| {
        let identity = identity(r, did);
        let p = r.state().providers.get(&identity)?;
        Some((provider_ref(r.state(), &identity), summary(r.state(), p)))
    })
}

/// One provider (by its identity or any of its keys) with its own offers at
/// `at`.
pub fn detail(node: &Node, did: &Did, at: Timestamp) -> Option<ProviderDetail> {
    let ids: Vec<_> = node.with_registry(|r| {
        let identity = identity(r, did);
        r.state()
            .offers_of(&identity)
            .filter_map(|(_, e)| Some(e.current()?.record))
            .collect()
    });
    let loaded = Loaded::read(node, ids);
    node.with_registry(|r| {
        let state = r.state();
        let identity = identity(r, did);
        let p = state.providers.get(&identity)?;
        let load: Load<'_> = &loaded.load();
        let offers: Vec<OfferView> = state
            .offers_of(&identity)
            .filter_map(|(_, e)| offer_view(state, &identity, e, load, at, None))
            .collect();
        Some(provider_view(state, p, offers))
    })
}

/// One offer in a provider's portfolio.
#[derive(Debug, Clone)]
pub struct PortfolioItem {
    /// The provider that published it: the provider itself, or a predecessor
    /// whose portfolio passed to it.
    pub owner: ProviderRef,
    pub offer_id: OfferId,
    pub title: String,
    /// Its category's slug (from the index).
    pub category: Option<&'static str>,
    pub status: OfferStatus,
    /// Published by a predecessor.
    pub inherited: bool,
}

/// The offers a provider shows at `at`: its own, then its predecessors'
/// (titles from the index: no record is read).
pub fn portfolio(node: &Node, identity: &Did, at: Timestamp) -> Vec<PortfolioItem> {
    node.with_index(|state, index| {
        let Some(p) = state.providers.get(identity) else {
            return Vec::new();
        };
        std::iter::once(identity)
            .chain(&p.predecessors)
            .flat_map(|owner| state.offers_of(owner).map(move |(o, e)| (owner, o, e)))
            .filter(|(owner, offer_id, _)| {
                *owner == identity || state.responders(owner, offer_id).contains(identity)
            })
            .filter_map(|(owner, offer_id, entry)| {
                let key = (owner.clone(), offer_id.clone());
                let (title, _) = index.title_and_basis(&key)?;
                Some(PortfolioItem {
                    owner: provider_ref(state, owner),
                    offer_id: offer_id.clone(),
                    title: title.to_owned(),
                    category: index.category_of(&key).map(|c| c.slug.as_str()),
                    status: state.offer_status(owner, entry, at),
                    inherited: owner != identity,
                })
            })
            .collect()
    })
}

/// The end of `did`'s log and its standing there: what a signer needs.
pub fn author(node: &Node, did: &Did) -> AuthorView {
    node.with_registry(|r| {
        let head = r.head(did);
        let next = head.map_or(1, |(s, _)| s + 1);
        let (stewards, _) = r.stewards();
        AuthorView {
            did: did.clone(),
            head: head.map(|(seq, id)| LogHead { seq, id }),
            identity: r.identity_of(did).cloned(),
            current_key: r.identity_of(did).and_then(|i| r.current_key(i)).cloned(),
            standing: r.standing(did, next),
            steward: stewards.contains(did),
            allowance: r.identity_of(did).map(|i| r.allowance(i)),
            next_position: r.identity_position(did, next),
        }
    })
}
