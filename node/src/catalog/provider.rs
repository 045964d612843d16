//! The provider page `/anbieter/{did}`: profile, standing, merger and the
//! offers it shows, inherited ones included.

use super::{Link, format, html, provider_of};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_protocol::registry::OfferStatus;

#[derive(Template)]
#[template(path = "provider.html")]
struct ProviderPage {
    name: String,
    profile: Option<Profile>,
    standing: &'static str,
    did: String,
    incoming_href: String,
    successor: Option<Successor>,
    predecessors: Vec<Link>,
    offers: Vec<Offer>,
    /// Inherited offers retired in favour of its own (not listed).
    consolidated: usize,
}

struct Profile {
    name: String,
    description: String,
    regions: String,
    members: String,
    certifications: String,
    website: Option<String>,
}

struct Successor {
    href: String,
    name: String,
    date: String,
}

struct Offer {
    href: String,
    title: String,
    status: &'static str,
    /// The predecessor that published it.
    formerly: Option<String>,
}

/// `GET /anbieter/{did}`.
pub(super) async fn page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let (named, p) = match provider_of(&ctx, path) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let offers = view::providers::portfolio(&ctx.node, &p.did, clock::now());
    let page = ProviderPage {
        name: named.name,
        profile: p.profile.as_ref().map(|pr| {
            let b = &pr.body;
            Profile {
                name: b.name.to_string(),
                description: b.description.to_string(),
                regions: format::regions(&b.regions),
                members: format::regions(&b.members),
                certifications: format::joined(&b.certifications),
                website: b.website.as_ref().map(ToString::to_string),
            }
        }),
        standing: format::standing(p.standing),
        did: p.did.to_string(),
        incoming_href: format!("{}/abrufe", format::provider_href(&p.did)),
        successor: p.successor.as_ref().map(|s| Successor {
            href: format::provider_href(&s.did),
            name: s.name.clone(),
            date: s.effective_at.date(),
        }),
        predecessors: p
            .predecessors
            .iter()
            .map(|r| Link {
                href: format::provider_href(&r.did),
                name: r.name.clone(),
            })
            .collect(),
        consolidated: offers
            .iter()
            .filter(|o| o.inherited && o.status == OfferStatus::Consolidated)
            .count(),
        offers: offers
            .into_iter()
            .filter(|o| !(o.inherited && o.status == OfferStatus::Consolidated))
            .map(|o| Offer {
                href: format::offer_href(&o.owner.did, &o.offer_id, None),
                title: o.title,
                status: format::status(o.status),
                formerly: o.inherited.then_some(o.owner.name),
            })
            .collect(),
    };
    html(StatusCode::OK, &page)
}
