//! The offer page `/angebot/{provider}/{offer_id}`: the contact of the
//! municipality chosen, terms, SLA, price, the stewards' standards met or not,
//! the cost for the figures entered (`?nutzer=`, `?standorte=`, ...), contacts,
//! validity, legal basis, who takes it and what capacity is left,
//! versions and how to verify the record, and the request form: it signs in
//! the browser with the municipality's key file (`static/abruf.js`, WebCrypto
//! Ed25519; the key never leaves the browser) and shows the equivalent
//! `kx request send`. The only page with a script; it works without one
//! except for the form.

use super::form::Params;
use super::{Badge, Link, error_page, format, terms};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::Figures;
use kx_api::views::OfferView;
use kx_protocol::fields::{OfferId, Slug};
use kx_protocol::{Did, taxonomy};
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferPage {
    title: String,
    /// This node is an observer: no request form, the command only.
    observer: bool,
    /// Back to the search that led here, or to the offers of its category.
    back: Link,
    /// The search that led here (`suche`), kept by the cost form.
    suche: Option<String>,
    /// For the municipality chosen in the search.
    badge: Option<Badge>,
    provider: Link,
    shown_under: Option<Link>,
    status: &'static str,
    summary: String,
    description: Vec<String>,
    category: String,
    /// OZG-Leistungen, each linked to the search for offers of it.
    ozg: Vec<Link>,
    /// LeiKa-Leistungen, each linked to the search for offers of it.
    leika: Vec<Link>,
    regions: String,
    delivery: &'static str,
    price: String,
    sla: String,
    capacity: String,
    /// Who takes it now, linked to their pages.
    takers: Vec<Link>,
    certifications: String,
    standards: String,
    validity: String,
    legal_basis: String,
    contacts: Vec<String>,
    /// For the municipality chosen: its contact, first on the page.
    your_contact: Option<String>,
    /// The standards of the stewards the offer declares, checked.
    standard_lines: Vec<terms::StandardLine>,
    /// The cost for the figures of the page.
    cost: Option<terms::CostTable>,
    /// Whom the cost is for: the municipality and its inhabitants.
    cost_for: String,
    fields: Vec<terms::FigureField>,
    version: u64,
    record: String,
    versions: Vec<VersionLine>,
    /// `did/offer_id`, for `kx request send --offer`.
    reference: String,
    /// The legal basis the form proposes (the municipality's way to take the
    /// offer, else the offer's) and its reference text.
    basis: &'static str,
    basis_text: String,
    /// `?gemeinde=` of the page, kept for the request form's proposal.
    gemeinde: Option<String>,
}

struct VersionLine {
    version: u64,
    date: String,
    short: String,
}

/// A provider's page, keeping the municipality chosen (its contact shows
/// first there).
fn link(r: &kx_api::views::ProviderRef, ags: Option<&str>) -> Link {
    Link {
        href: format::provider_href_for(&r.did, ags),
        name: r.name.clone(),
    }
}

/// An identifier with its name from the catalogue, if it has one there.
fn named(id: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{id} {n}"),
        None => id.to_owned(),
    }
}

/// The catalog's search for offers with `key=value`, for the municipality
/// chosen (`ags`).
fn search_href(key: &str, value: &str, ags: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(a) = ags {
        q.append_pair("gemeinde", a);
    }
    q.append_pair(key, value);
    format!("/?{}", q.finish())
}

fn offer_page(
    v: &OfferView,
    titles: &BTreeMap<Slug, String>,
    f: &Figures,
    p: &Params,
) -> OfferPage {
    let b = &v.body;
    let ags = v.procurement.as_ref().map(|p| p.municipality.ags.as_str());
    let back = match p.back_to_search() {
        Some(href) => Link {
            href,
            name: "Zurück zur Suche".to_owned(),
        },
        None => Link {
            href: search_href("kategorie", b.category.as_str(), ags),
            name: format!(
                "Weitere Angebote: {}",
                format::category(b.category.as_str())
            ),
        },
    };
    OfferPage {
        observer: false,
        back,
        suche: p.get("suche").map(str::to_owned),
        title: b.title.to_string(),
        badge: v.procurement.as_ref().map(Badge::of),
        provider: link(&v.provider, ags),
        shown_under: v.shown_under.as_ref().map(|s| link(s, ags)),
        status: format::status(v.status),
        summary: b.summary.to_string(),
        description: b.description.as_str().lines().map(str::to_owned).collect(),
        category: format::category(b.category.as_str()),
        ozg: b
            .ozg_ids
            .iter()
            .map(|o| Link {
                href: search_href("ozg", o.as_str(), ags),
                name: named(o.as_str(), taxonomy::ozg_name(o.as_str())),
            })
            .collect(),
        leika: b
            .leika_keys
            .iter()
            .map(|k| Link {
                href: search_href("leika", k.as_str(), ags),
                name: named(k.as_str(), taxonomy::leika_name(k.as_str())),
            })
            .collect(),
        regions: format::regions(&b.regions),
        delivery: format::delivery(b.delivery),
        price: format!("{} {}", format::price(&b.pricing), b.pricing.notes),
        sla: format!(
            "Verfügbarkeit {}, Support {}, Reaktion in {} Minuten, Lösung in {} Stunden",
            format::percent(b.sla.availability_bp),
            b.sla.support_hours,
            b.sla.response_minutes,
            b.sla.resolution_hours
        ),
        capacity: format!(
            "{} von {} Plätzen frei (berechnet aus den laufenden Vereinbarungen)",
            v.uptake.remaining, v.uptake.declared
        ),
        takers: v
            .uptake
            .takers
            .iter()
            .map(|t| Link {
                href: match (&t.ags, &t.did) {
                    (Some(a), _) => format::municipality_href(a),
                    (None, Some(d)) => format::provider_href(d),
                    (None, None) => String::new(),
                },
                name: t.name.clone(),
            })
            .collect(),
        certifications: format::standard_names(&b.certifications),
        standards: format::standard_names(&b.standards),
        validity: format!(
            "ab {}{}",
            b.valid_from.date(),
            b.valid_until
                .map_or(String::new(), |u| format!(" bis {}", u.date()))
        ),
        legal_basis: b
            .legal_basis
            .as_ref()
            .map_or("keine angegeben".into(), |l| l.text.to_string()),
        contacts: b.contacts.iter().map(terms::contact_line).collect(),
        your_contact: v.contact.as_ref().map(terms::your_contact),
        standard_lines: terms::standard_lines(&v.conformance, titles),
        cost: v.cost.as_ref().map(terms::cost_table),
        cost_for: match (&v.procurement, f.inhabitants) {
            (Some(p), Some(n)) => format!(
                "für {} ({} Einwohner:innen)",
                p.municipality.name,
                format::thousands(n)
            ),
            _ => "ohne gewählte Gemeinde (Einwohnerzahl fehlt)".to_owned(),
        },
        fields: terms::figure_fields(f),
        version: b.version,
        record: v.record.to_hex(),
        versions: v
            .history
            .iter()
            .flatten()
            .map(|h| VersionLine {
                version: h.version,
                date: h.issued_at.date(),
                short: h.record.short(),
            })
            .collect(),
        reference: format!("{}/{}", v.provider.did, v.offer_id),
        basis: match (&v.procurement, &b.legal_basis) {
            (Some(p), _) => p.kind.as_str(),
            (None, Some(l)) if l.kind != kx_protocol::body::LegalBasisKind::Other => {
                l.kind.as_str()
            }
            _ => "tender",
        },
        basis_text: b
            .legal_basis
            .as_ref()
            .map_or_else(String::new, |l| l.text.to_string()),
        gemeinde: v.procurement.as_ref().map(|p| p.municipality.name.clone()),
    }
}

/// `GET /angebot/{provider}/{offer_id}`.
pub(super) async fn page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let Ok(Path((provider, offer_id))) = path else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Adresse.");
    };
    let Ok(did) = provider.parse::<Did>() else {
        return error_page(StatusCode::BAD_REQUEST, "Unbekannte Anbieterkennung.");
    };
    let Ok(offer_id) = offer_id.parse::<OfferId>() else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Angebotskennung.");
    };
    let p = Params::parse(q);
    let m = p.municipality();
    let f = terms::figures(&p, m);
    let titles = view::standards::titles(&ctx.node);
    match view::offers::offer(&ctx.node, &did, &offer_id, clock::now(), m, Some(&f), true) {
        Some(v) => {
            let page = OfferPage {
                observer: ctx.observer,
                ..offer_page(&v, &titles, &f, &p)
            };
            // An observer's page has no form, so no script either.
            let csp = if ctx.observer {
                super::CSP
            } else {
                super::CSP_FORM
            };
            super::html_with(StatusCode::OK, &page, csp)
        }
        None => error_page(StatusCode::NOT_FOUND, "Dieses Angebot gibt es hier nicht."),
    }
}
