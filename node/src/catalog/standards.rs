//! `/standards`: the stewards' standard portfolio. Each standard with what it
//! requires (category, certifications, standards, delivery, minimum service
//! level), how many active offers declare it and how many meet it, and a link
//! to the search for those that meet it. The same list as `GET /v1/standards`
//! and `kx standards`.

use super::{format, html};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::views::StandardView;

#[derive(Template)]
#[template(path = "standards.html")]
struct Page {
    standards: Vec<Entry>,
}

struct Entry {
    id: String,
    title: String,
    description: String,
    retired: bool,
    /// What an offer must show, one line per criterion.
    criteria: Vec<(&'static str, String)>,
    /// "4 Angebote erklären ihn, 2 erfüllen ihn."
    uptake: String,
    search_href: String,
    record_href: String,
}

fn entry(s: &StandardView) -> Entry {
    let b = &s.body;
    let names = |slugs: &[kx_protocol::fields::Slug]| {
        if slugs.is_empty() {
            "keine".to_owned()
        } else {
            format::standard_names(slugs)
        }
    };
    let delivery = if b.delivery.is_empty() {
        "beliebig".to_owned()
    } else {
        b.delivery
            .iter()
            .map(|d| format::delivery(*d))
            .collect::<Vec<_>>()
            .join(" oder ")
    };
    let mut sla = Vec::new();
    if let Some(a) = b.min_sla.availability_bp {
        sla.push(format!("Verfügbarkeit mindestens {}", format::percent(a)));
    }
    if let Some(m) = b.min_sla.response_minutes {
        sla.push(format!("Reaktionszeit höchstens {m} Minuten"));
    }
    if let Some(h) = b.min_sla.resolution_hours {
        sla.push(format!("Lösungszeit höchstens {h} Stunden"));
    }
    let sla = if sla.is_empty() {
        "keine Vorgabe".to_owned()
    } else {
        sla.join(", ")
    };
    Entry {
        id: s.standard_id.to_string(),
        title: b.title.to_string(),
        description: b.description.to_string(),
        retired: s.retired.is_some(),
        criteria: vec![
            ("Kategorie", format::category(b.category.as_str())),
            ("Zertifizierungen", names(&b.certifications)),
            ("Standards", names(&b.standards)),
            ("Bereitstellung", delivery),
            ("Mindest-Service-Level", sla),
        ],
        uptake: format!(
            "{} {}, {} {} ihn.",
            s.declared,
            if s.declared == 1 {
                "Angebot erklärt ihn"
            } else {
                "Angebote erklären ihn"
            },
            s.met,
            if s.met == 1 { "erfüllt" } else { "erfüllen" }
        ),
        search_href: format!("/?standard={}", format::url_enc(s.standard_id.as_str())),
        record_href: format!("/v1/records/{}", s.record),
    }
}

/// `GET /standards`.
pub(super) async fn page(AxState(ctx): AxState<Ctx>) -> Response {
    let list = view::standards::list(&ctx.node, clock::now());
    let page = Page {
        standards: list.standards.iter().map(entry).collect(),
    };
    html(StatusCode::OK, &page)
}
