//! The search page `/`: the form, the results for a municipality with whether
//! it may take each offer without a tender, selection for comparison, pages.

use super::form::{self, Params};
use super::{Badge, Choice, choices, format, html, terms};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use crate::view::offers::Ranked;
use askama::Template;
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::views::OfferView;
use kx_protocol::geo::{self, Municipality};
use kx_protocol::taxonomy;

/// Results per page.
const PAGE: usize = 20;

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    /// What was typed into the municipality field.
    gemeinde: String,
    municipalities: Vec<&'static str>,
    selects: Vec<Select>,
    text: String,
    notice: Option<String>,
    /// The LeiKa-Leistung searched for (from an offer page's link): key and
    /// name; kept in the form.
    leika: Option<(String, String)>,
    /// "Meinten Sie": names close to an unknown one, with their searches.
    suggestions: Vec<(String, String)>,
    heading: String,
    /// The municipality's AGS, passed on to the compare page.
    hidden_ags: Option<String>,
    /// This search as a query string, passed on so that offer and compare
    /// pages lead back to it.
    back: String,
    cards: Vec<Card>,
    pager: Option<Pager>,
    /// With a municipality, once the node has a witnessed checkpoint: the
    /// link to this search's market-survey bundle.
    survey: Option<String>,
    /// Nodes that signed two checkpoints that cannot both be true: what this
    /// node's data says may have been shown differently elsewhere.
    alarms: Vec<String>,
}

/// A choice list of the form.
struct Select {
    name: &'static str,
    label: &'static str,
    options: Vec<Choice>,
}

/// One result.
struct Card {
    href: String,
    title: String,
    /// The provider that offers it now.
    provider: String,
    /// The provider that published it, if it passed to another in a merger.
    formerly: Option<String>,
    category: String,
    price: String,
    availability: String,
    summary: String,
    badge: Option<Badge>,
    /// The stewards' standards it meets.
    standards: Vec<terms::Met>,
    /// How many take it now, and how many places are left.
    uptake: String,
    /// `did/offer_id`, for the compare page.
    value: String,
    /// The checkbox's element id.
    id: String,
}

struct Pager {
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
}

fn select(
    name: &'static str,
    label: &'static str,
    options: Vec<(String, String)>,
    chosen: Option<&str>,
) -> Select {
    Select {
        name,
        label,
        options: choices(options, chosen),
    }
}

/// One result; links keep the municipality searched for.
fn card(
    v: &OfferView,
    m: Option<&Municipality>,
    titles: &std::collections::BTreeMap<kx_protocol::fields::Slug, String>,
    back: &str,
) -> Card {
    let shown = v.offered_by();
    let b = &v.body;
    Card {
        href: format::with_search(format::offer_href(&v.provider.did, &v.offer_id, m), back),
        title: b.title.to_string(),
        provider: shown.name.clone(),
        formerly: v.shown_under.is_some().then(|| v.provider.name.clone()),
        category: format::category(b.category.as_str()),
        price: format::price(&b.pricing),
        availability: format::percent(b.sla.availability_bp),
        summary: b.summary.to_string(),
        badge: v.procurement.as_ref().map(Badge::of),
        standards: terms::met(v, titles),
        uptake: format::uptake(&v.uptake),
        value: format!("{}/{}", v.provider.did, v.offer_id),
        id: format!("v-{}", v.record.short()),
    }
}

/// `GET /`.
pub(super) async fn page(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let f = form::search(&p);
    let at = clock::now();
    let Ranked { total, offers } = if f.nothing {
        Ranked {
            total: 0,
            offers: Vec::new(),
        }
    } else {
        view::offers::ranked(&ctx.node, &f.filters, at, f.page, PAGE)
    };
    let ozg: Vec<(String, String)> = view::offers::ozg_in_use(&ctx.node, at)
        .into_iter()
        .map(|o| {
            let label = format!("{o} {}", taxonomy::ozg_name(o.as_str()).unwrap_or(""));
            (o.to_string(), label)
        })
        .collect();
    let certs: Vec<(String, String)> = taxonomy::standards()
        .iter()
        .filter(|s| s.kind == "certification" || s.kind == "attestation")
        .map(|s| (s.slug.clone(), s.name.clone()))
        .collect();
    let titles = view::standards::titles(&ctx.node);
    let standards: Vec<(String, String)> = view::standards::in_force(&ctx.node)
        .into_iter()
        .map(|(id, title)| (id.to_string(), title))
        .collect();
    let providers: Vec<(String, String)> = view::providers::names(&ctx.node)
        .into_iter()
        .map(|r| (r.did.to_string(), r.name))
        .collect();
    let procurement = [
        ("frei", "ohne Ausschreibung möglich"),
        ("in_house", "Inhouse-Vergabe"),
        ("inter_municipal", "Interkommunale Zusammenarbeit"),
        ("framework_agreement", "Rahmenvertrag"),
        ("tender", "Ausschreibung nötig"),
    ]
    .map(|(v, l)| (v.to_owned(), l.to_owned()))
    .to_vec();
    let m = f.filters.municipality;
    let back = p.search_query();
    let heading = match m {
        Some(m) => format!(
            "{total} Angebote für {} ({}, {})",
            m.name, m.ags, m.kreis_name
        ),
        None => format!("{total} Angebote"),
    };
    let pages = total.div_ceil(PAGE);
    let pager = (pages > 1).then(|| {
        let base = p.without("seite");
        let link = |n: usize| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &base {
                q.append_pair(k, v);
            }
            q.append_pair("seite", &n.to_string());
            format!("/?{}", q.finish())
        };
        Pager {
            page: f.page,
            pages,
            prev: (f.page > 1).then(|| link(f.page - 1)),
            next: (f.page < pages).then(|| link(f.page + 1)),
        }
    });
    let page = SearchPage {
        gemeinde: p.get("gemeinde").unwrap_or("").to_owned(),
        municipalities: geo::municipalities()
            .iter()
            .map(|m| m.name.as_str())
            .collect(),
        selects: vec![
            select(
                "kategorie",
                "Kategorie",
                format::categories(),
                p.get("kategorie"),
            ),
            select("ozg", "OZG-Leistung", ozg, p.get("ozg")),
            select("zertifikat", "Zertifizierung", certs, p.get("zertifikat")),
            select("standard", "KDN-Standard", standards, p.get("standard")),
            select("anbieter", "Anbieter", providers, p.get("anbieter")),
            select(
                "vergabe",
                "Vergabe (mit Gemeinde)",
                procurement,
                p.get("vergabe"),
            ),
        ],
        text: p.get("text").unwrap_or("").to_owned(),
        notice: f.notice,
        suggestions: f.suggestions,
        leika: f.filters.leika.as_ref().map(|k| {
            let key = k.to_string();
            let name = kx_protocol::taxonomy::leika_name(&key)
                .unwrap_or("")
                .to_owned();
            (key, name)
        }),
        heading,
        hidden_ags: m.map(|m| m.ags.clone()),
        cards: offers.iter().map(|v| card(v, m, &titles, &back)).collect(),
        back,
        pager,
        survey: m
            .filter(|_| ctx.checkpoints.has_witnessed(&ctx.node))
            .map(|_| format!("/v1/survey?{}", f.filters.to_query_string())),
        alarms: ctx
            .checkpoints
            .alarms()
            .into_iter()
            .map(|a| a.origin.rsplit('/').next().unwrap_or_default().to_owned())
            .collect(),
    };
    html(StatusCode::OK, &page)
}
