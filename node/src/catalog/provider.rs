//! The provider page `/anbieter/{did}`: for the municipality of
//! `?gemeinde=` its contact first, then profile (with its contacts),
//! standing, merger and the offers it shows, inherited ones included.

use super::form::Params;
use super::{Link, format, html, provider_of, terms};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::views::ContactView;
use kx_protocol::registry::OfferStatus;
use kx_protocol::taxonomy;

#[derive(Template)]
#[template(path = "provider.html")]
struct ProviderPage {
    name: String,
    /// For the municipality of `?gemeinde=`: its contact at this provider.
    your_contact: Option<String>,
    gemeinde: Option<String>,
    profile: Option<Profile>,
    standing: &'static str,
    did: String,
    incoming_href: String,
    successor: Option<Successor>,
    predecessors: Vec<Link>,
    /// The offers by area of the taxonomy (German name), in its order.
    groups: Vec<(String, Vec<Offer>)>,
    /// How many offers are listed.
    listed: usize,
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
    contacts: Vec<String>,
}

struct Successor {
    href: String,
    name: String,
    date: String,
}

struct Offer {
    href: String,
    title: String,
    /// Its category, where it is not the area it is listed under.
    category: Option<String>,
    status: &'static str,
    /// The predecessor that published it.
    formerly: Option<String>,
}

/// `GET /anbieter/{did}`.
pub(super) async fn page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let (named, p) = match provider_of(&ctx, path) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let offers = view::providers::portfolio(&ctx.node, &p.did, clock::now());
    let m = Params::parse(q).municipality();
    let ags = m.map(|m| m.ags.as_str());
    let your_contact = m.and_then(|m| {
        let b = &p.profile.as_ref()?.body;
        let (source, _, c) = kx_protocol::terms::contact_for(&[], &b.contacts, &b.members, &m.ags)?;
        Some(terms::your_contact(&ContactView {
            source,
            contact: c.clone(),
        }))
    });
    // By area of the taxonomy (its top-level categories, in its order), each
    // by category and title; inherited offers marked with the predecessor
    // that published them.
    let position = |slug: &str| {
        taxonomy::categories()
            .iter()
            .position(|c| c.slug == slug)
            .unwrap_or(usize::MAX)
    };
    let root = |slug: &'static str| {
        let mut cur = slug;
        for _ in 0..16 {
            match taxonomy::category(cur).and_then(|c| c.parent.as_deref()) {
                Some(parent) => cur = parent,
                None => break,
            }
        }
        cur
    };
    let mut listed: Vec<_> = offers
        .iter()
        .filter(|o| !(o.inherited && o.status == OfferStatus::Consolidated))
        .map(|o| {
            let leaf = o.category.unwrap_or("");
            let area = o.category.map(root).unwrap_or("");
            (
                (position(area), position(leaf), o.title.as_str()),
                area,
                leaf,
                o,
            )
        })
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut shown: Vec<(String, Vec<Offer>)> = Vec::new();
    for (_, area, leaf, o) in listed {
        let name = if area.is_empty() {
            "Ohne Kategorie".to_owned()
        } else {
            format::category(area)
        };
        let offer = Offer {
            href: format::offer_href(&o.owner.did, &o.offer_id, m),
            title: o.title.clone(),
            category: (leaf != area).then(|| format::category(leaf)),
            status: format::status(o.status),
            formerly: o.inherited.then(|| o.owner.name.clone()),
        };
        match shown.last_mut() {
            Some((last, list)) if *last == name => list.push(offer),
            _ => shown.push((name, vec![offer])),
        }
    }
    let page = ProviderPage {
        name: named.name,
        your_contact,
        gemeinde: m.map(|m| m.name.clone()),
        profile: p.profile.as_ref().map(|pr| {
            let b = &pr.body;
            Profile {
                name: b.name.to_string(),
                description: b.description.to_string(),
                regions: format::regions(&b.regions),
                members: format::regions(&b.members),
                certifications: format::standard_names(&b.certifications),
                website: b.website.as_ref().map(ToString::to_string),
                contacts: b.contacts.iter().map(terms::contact_line).collect(),
            }
        }),
        standing: format::standing(p.standing),
        did: p.did.to_string(),
        incoming_href: format!("{}/abrufe", format::provider_href(&p.did)),
        successor: p.successor.as_ref().map(|s| Successor {
            href: format::provider_href_for(&s.did, ags),
            name: s.name.clone(),
            date: s.effective_at.date(),
        }),
        predecessors: p
            .predecessors
            .iter()
            .map(|r| Link {
                href: format::provider_href_for(&r.did, ags),
                name: r.name.clone(),
            })
            .collect(),
        consolidated: offers
            .iter()
            .filter(|o| o.inherited && o.status == OfferStatus::Consolidated)
            .count(),
        listed: shown.iter().map(|(_, list)| list.len()).sum(),
        groups: shown,
    };
    html(StatusCode::OK, &page)
}
