//! The compare page `/vergleich?o=DID/OFFER&o=...`: two to four offers side by
//! side, differences marked, with the tender-free assessment and the cost for
//! a municipality (`gemeinde`, and the figures `nutzer`, `standorte`, ...),
//! cheapest over five years first.

use super::form::Params;
use super::{error_page, format, html, terms};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::views::OfferView;
use kx_protocol::Did;
use kx_protocol::fields::OfferId;
use kx_protocol::geo::Municipality;

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    /// `Name (AGS)` of the municipality the assessment is for.
    municipality: Option<String>,
    /// The municipality as entered, for the figures form.
    gemeinde: String,
    /// The offers chosen, for the figures form.
    chosen: Vec<String>,
    /// The search that led here (`suche`): a link back, kept by the form.
    suche: Option<String>,
    back: Option<String>,
    fields: Vec<terms::FigureField>,
    columns: Vec<Column>,
    rows: Vec<Row>,
}

struct Column {
    href: String,
    title: String,
}

struct Row {
    label: &'static str,
    differs: bool,
    values: Vec<String>,
}

/// An offer as the comparison reads it: the view, its cost table (worked out
/// once) and the titles of the standards it meets.
struct Shown<'a> {
    v: &'a OfferView,
    cost: Option<terms::CostTable>,
    met: Vec<String>,
}

/// The rows of the comparison, each with one value per offer; rows empty for
/// every offer are left out.
fn rows(offers: &[Shown], m: Option<&Municipality>) -> Vec<Row> {
    type Cell = fn(&Shown) -> String;
    let mut cells: Vec<(&'static str, Cell)> = vec![
        ("Anbieter", |s| match &s.v.shown_under {
            Some(u) => format!("{} (vormals {})", u.name, s.v.provider.name),
            None => s.v.provider.name.clone(),
        }),
        ("Kategorie", |s| {
            format::category(s.v.body.category.as_str())
        }),
        ("Status", |s| format::status(s.v.status).into()),
        ("Bereitstellung", |s| {
            format::delivery(s.v.body.delivery).into()
        }),
        ("Preis", |s| format::price(&s.v.body.pricing)),
        ("Verfügbarkeit", |s| {
            format::percent(s.v.body.sla.availability_bp)
        }),
        ("Supportzeiten", |s| s.v.body.sla.support_hours.to_string()),
        ("Reaktionszeit", |s| {
            format!("{} Minuten", s.v.body.sla.response_minutes)
        }),
        ("Lösungszeit", |s| {
            format!("{} Stunden", s.v.body.sla.resolution_hours)
        }),
        ("Kapazität", |s| format!("{} Kommunen", s.v.body.capacity)),
        ("Liefergebiet", |s| format::regions(&s.v.body.regions)),
        ("Zertifizierungen", |s| {
            format::standard_names(&s.v.body.certifications)
        }),
        ("Standards", |s| format::standard_names(&s.v.body.standards)),
        ("KDN-Standards", |s| {
            if s.v.conformance.is_empty() {
                String::new()
            } else if s.met.is_empty() {
                "erklärt, nicht erfüllt".into()
            } else {
                format!("erfüllt: {}", s.met.join(", "))
            }
        }),
        ("Kosten erstes Jahr", |s| {
            s.cost.as_ref().map_or(String::new(), |c| c.first.clone())
        }),
        ("Kosten fünf Jahre", |s| {
            s.cost.as_ref().map_or(String::new(), |c| c.five.clone())
        }),
        ("Kostenbestandteile", |s| {
            s.cost.as_ref().map_or(String::new(), |t| {
                let mut parts: Vec<String> = t
                    .rows
                    .iter()
                    .map(|r| {
                        let opt = if r.optional { " (optional)" } else { "" };
                        format!("{}{opt}: {}", r.label, r.first)
                    })
                    .collect();
                parts.extend(t.missing.clone());
                parts.join("; ")
            })
        }),
        ("Gültig bis", |s| {
            s.v.body.valid_until.map_or("offen".into(), |u| u.date())
        }),
        ("Rechtsgrundlage", |s| {
            s.v.body
                .legal_basis
                .as_ref()
                .map_or("keine angegeben".into(), |l| l.text.to_string())
        }),
    ];
    if m.is_some() {
        cells.push(("Vergabe", |s| {
            s.v.procurement
                .as_ref()
                .map_or(String::new(), |p| p.label.clone())
        }));
    }
    cells
        .into_iter()
        .map(|(label, cell)| {
            let values: Vec<String> = offers.iter().map(cell).collect();
            Row {
                label,
                differs: values.iter().any(|v| *v != values[0]),
                values,
            }
        })
        .filter(|r| r.values.iter().any(|v| !v.is_empty()))
        .collect()
}

/// `GET /vergleich`.
pub(super) async fn page(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let refs = p.all("o");
    if !(2..=4).contains(&refs.len()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bitte wählen Sie zwei bis vier Angebote zum Vergleich aus.",
        );
    }
    let m = p.municipality();
    let f = terms::figures(&p, m);
    let at = clock::now();
    let mut offers = Vec::with_capacity(refs.len());
    for r in &refs {
        let Some((provider, offer_id)) = r.rsplit_once('/') else {
            return error_page(StatusCode::BAD_REQUEST, "Ungültige Auswahl.");
        };
        let Ok(did) = provider.parse::<Did>() else {
            return error_page(StatusCode::BAD_REQUEST, "Unbekannte Anbieterkennung.");
        };
        let Ok(offer_id) = offer_id.parse::<OfferId>() else {
            return error_page(StatusCode::BAD_REQUEST, "Ungültige Angebotskennung.");
        };
        match view::offers::offer(&ctx.node, &did, &offer_id, at, m, Some(&f), false) {
            Some(v) => offers.push(v),
            None => {
                return error_page(StatusCode::NOT_FOUND, "Dieses Angebot gibt es hier nicht.");
            }
        }
    }
    // Cheapest over five years first; offers without a total (a figure
    // missing, on request) after them, in the order chosen.
    offers.sort_by_key(OfferView::cost_order);
    let titles = view::standards::titles(&ctx.node);
    let shown: Vec<Shown> = offers
        .iter()
        .map(|v| Shown {
            v,
            cost: v.cost.as_ref().map(terms::cost_table),
            met: terms::met(v, &titles)
                .into_iter()
                .map(|m| m.title)
                .collect(),
        })
        .collect();
    let page = ComparePage {
        municipality: m.map(|m| format!("{} ({})", m.name, m.ags)),
        gemeinde: m.map_or_else(String::new, |m| m.name.clone()),
        chosen: refs.iter().map(|r| r.to_string()).collect(),
        suche: p.get("suche").map(str::to_owned),
        back: p.back_to_search(),
        fields: terms::figure_fields(&f),
        columns: offers
            .iter()
            .map(|v| Column {
                href: format::with_search(
                    format::offer_href(&v.provider.did, &v.offer_id, m),
                    p.get("suche").unwrap_or(""),
                ),
                title: v.body.title.to_string(),
            })
            .collect(),
        rows: rows(&shown, m),
    };
    html(StatusCode::OK, &page)
}
