//! The municipality pages: `/gemeinden` (who takes part in the exchange) and
//! `/gemeinde/{ags}` (one municipality: what it takes from whom, since when,
//! at what price; its open requests and its demand). Municipalities that were
//! not admitted have a page too: providers may bundle for them.

use super::form::Params;
use super::{error_page, format, html};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::exchange::{MunicipalityView, RequestView};
use kx_api::query::municipality;
use kx_protocol::geo;
use kx_protocol::registry::RequestStatus;

#[derive(Template)]
#[template(path = "municipalities.html")]
struct IndexPage {
    /// The Kreis chosen (`?kreis=`), by name.
    kreis: Option<String>,
    rows: Vec<Row>,
}

struct Row {
    href: String,
    name: String,
    kreis: String,
    admitted: bool,
    agreements: usize,
    open: usize,
    demands: usize,
}

fn row(m: &MunicipalityView) -> Row {
    Row {
        href: format::municipality_href(&m.ags),
        name: m.name.clone(),
        kreis: m.kreis.name.clone(),
        admitted: m.admission.is_some(),
        agreements: m.agreements,
        open: m.open_requests,
        demands: m.demands,
    }
}

/// `GET /gemeinden`: those taking part; `?kreis=AGS`: every municipality of
/// a Kreis or kreisfreie Stadt (where the transition map links to).
pub(super) async fn index(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let kreis = match p.get("kreis") {
        None => None,
        Some(k) => match geo::municipalities().iter().find(|m| m.kreis_ags == k) {
            Some(m) => Some((m.kreis_ags.as_str(), m.kreis_name.clone())),
            None => {
                return error_page(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "„{k}“ ist kein Kreis und keine kreisfreie Stadt in NRW (fünfstelliger AGS, etwa 05774)."
                    ),
                );
            }
        },
    };
    let list = view::municipalities::list(
        &ctx.node,
        kreis.as_ref().map(|(a, _)| *a),
        kreis.is_some(),
        clock::now(),
    );
    let page = IndexPage {
        kreis: kreis.map(|(_, n)| n),
        rows: list.municipalities.iter().map(row).collect(),
    };
    html(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "municipality.html")]
struct DetailPage {
    name: String,
    kreis: String,
    population: String,
    admission: Option<String>,
    agreements: Vec<Line>,
    open: Vec<Line>,
    demands: Vec<DemandLine>,
    search: String,
}

/// One agreement or request in a table.
pub(super) struct Line {
    pub(super) href: String,
    pub(super) offer: String,
    pub(super) offer_href: String,
    pub(super) provider: String,
    pub(super) provider_href: String,
    pub(super) buyer: String,
    pub(super) since: String,
    pub(super) until: String,
    pub(super) price: String,
    pub(super) status: String,
    /// The status class for the stylesheet (`run`, `wait`, `gone`).
    pub(super) class: &'static str,
}

pub(super) fn line(r: &RequestView) -> Line {
    let (status, class) = match &r.agreement {
        Some(a) => {
            let class = match a.status {
                kx_protocol::registry::AgreementStatus::Active => "run",
                kx_protocol::registry::AgreementStatus::Pending
                | kx_protocol::registry::AgreementStatus::OverCapacity => "wait",
                _ => "gone",
            };
            (format::agreement(a.status, r.start), class)
        }
        None => (
            format::request(r.status).to_owned(),
            if r.status == RequestStatus::Open {
                "wait"
            } else {
                "gone"
            },
        ),
    };
    let until = match (&r.end, r.stop) {
        (Some(e), _) => format!("{} (gekündigt)", format::date(e.effective_at)),
        (None, Some(s)) => format::date(s),
        (None, None) => "unbefristet".into(),
    };
    Line {
        href: format::request_href(&r.id),
        offer: r.offer.title.clone(),
        // Where the agreement lives now: a consolidation moves it to the
        // successor's offer.
        offer_href: match &r.agreement {
            Some(a) => {
                format::offer_href(&a.counts_against.provider, &a.counts_against.offer_id, None)
            }
            None => format::offer_href(&r.offer.provider.did, &r.offer.offer_id, None),
        },
        provider: r.responder.name.clone(),
        provider_href: format::provider_href(&r.responder.did),
        buyer: r.buyer.name.clone(),
        since: format::date(r.start),
        until,
        price: format::price(&r.offer.pricing),
        status,
        class,
    }
}

struct DemandLine {
    title: String,
    category: String,
    from: String,
    contact: String,
}

/// `GET /gemeinde/{ags}` (an AGS or a name).
pub(super) async fn page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(which)) = path else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Adresse.");
    };
    let m = match municipality(&which) {
        Ok(m) => m,
        Err(e) => return error_page(StatusCode::NOT_FOUND, &e.message),
    };
    let d = view::municipalities::detail(&ctx.node, m, clock::now());
    let v = &d.municipality;
    let page = DetailPage {
        name: v.name.clone(),
        kreis: v.kreis.name.clone(),
        population: format::thousands(v.population),
        admission: v.admission.as_ref().map(|a| a.did.to_string()),
        agreements: d.agreements.iter().map(line).collect(),
        open: d
            .requests
            .iter()
            .filter(|r| r.status == RequestStatus::Open)
            .map(line)
            .collect(),
        demands: d
            .demands
            .iter()
            .map(|x| DemandLine {
                title: x.body.title.to_string(),
                category: x
                    .body
                    .category
                    .as_ref()
                    .map_or_else(String::new, |c| format::category(c.as_str())),
                from: format::date(x.body.wanted_from),
                contact: match &x.body.contact.mailbox {
                    Some(mb) => format!("{} ({mb})", x.body.contact.role),
                    None => x.body.contact.role.to_string(),
                },
            })
            .collect(),
        search: format!("/?gemeinde={}", m.ags),
    };
    html(StatusCode::OK, &page)
}
