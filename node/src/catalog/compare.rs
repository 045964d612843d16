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

/// The rows of the comparison, each with one value per offer.
fn rows(offers: &[OfferView], m: Option<&Municipality>) -> Vec<Row> {
    type Cell = fn(&OfferView) -> String;
    let mut cells: Vec<(&'static str, Cell)> = vec![
        ("Anbieter", |v| match &v.shown_under {
            Some(s) => format!("{} (vormals {})", s.name, v.provider.name),
            None => v.provider.name.clone(),
        }),
        ("Kategorie", |v| format::category(v.body.category.as_str())),
        ("Status", |v| format::status(v.status).into()),
        ("Bereitstellung", |v| {
            format::delivery(v.body.delivery).into()
        }),
        ("Preis", |v| format::price(&v.body.pricing)),
        ("Verfügbarkeit", |v| {
            format::percent(v.body.sla.availability_bp)
        }),
        ("Supportzeiten", |v| v.body.sla.support_hours.to_string()),
        ("Reaktionszeit", |v| {
            format!("{} Minuten", v.body.sla.response_minutes)
        }),
        ("Lösungszeit", |v| {
            format!("{} Stunden", v.body.sla.resolution_hours)
        }),
        ("Kapazität", |v| format!("{} Kommunen", v.body.capacity)),
        ("Liefergebiet", |v| format::regions(&v.body.regions)),
        ("Zertifizierungen", |v| {
            format::joined(&v.body.certifications)
        }),
        ("Standards", |v| format::joined(&v.body.standards)),
        ("Gültig bis", |v| {
            v.body.valid_until.map_or("offen".into(), |u| u.date())
        }),
        ("Rechtsgrundlage", |v| {
            v.body
                .legal_basis
                .as_ref()
                .map_or("keine angegeben".into(), |l| l.text.to_string())
        }),
    ];
    cells.push(("KDN-Standards", |v| {
        let met: Vec<&str> = v
            .conformance
            .iter()
            .filter(|c| c.met())
            .map(|c| c.standard_id.as_str())
            .collect();
        if v.conformance.is_empty() {
            "keine erklärt".into()
        } else if met.is_empty() {
            "erklärt, nicht erfüllt".into()
        } else {
            format!("erfüllt: {}", met.join(", "))
        }
    }));
    cells.push(("Kosten erstes Jahr", |v| {
        v.cost
            .as_ref()
            .map_or(String::new(), |c| terms::cost_table(c).first)
    }));
    cells.push(("Kosten fünf Jahre", |v| {
        v.cost
            .as_ref()
            .map_or(String::new(), |c| terms::cost_table(c).five)
    }));
    cells.push(("Kostenbestandteile", |v| {
        v.cost.as_ref().map_or(String::new(), |c| {
            let t = terms::cost_table(c);
            let mut parts: Vec<String> = t
                .rows
                .iter()
                .map(|r| {
                    let opt = if r.optional { " (optional)" } else { "" };
                    format!("{}{opt}: {}", r.label, r.first)
                })
                .collect();
            parts.extend(t.missing);
            parts.join("; ")
        })
    }));
    if m.is_some() {
        cells.push(("Vergabe", |v| {
            v.procurement
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
    let page = ComparePage {
        municipality: m.map(|m| format!("{} ({})", m.name, m.ags)),
        gemeinde: m.map_or_else(String::new, |m| m.name.clone()),
        chosen: refs.iter().map(|r| r.to_string()).collect(),
        fields: terms::figure_fields(&f),
        columns: offers
            .iter()
            .map(|v| Column {
                href: format::offer_href(&v.provider.did, &v.offer_id, m),
                title: v.body.title.to_string(),
            })
            .collect(),
        rows: rows(&offers, m),
    };
    html(StatusCode::OK, &page)
}
