//! The requests pages: `/anbieter/{did}/abrufe` (a provider's incoming
//! requests, open ones first, and its agreements) and `/abruf/{id}` (one
//! request with what became of it, and the commands that answer it).

use super::municipality::{Line, line};
use super::{error_page, format, html, provider_of};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::exchange::{ExchangeFilters, RequestsQuery};
use kx_protocol::Hash32;
use kx_protocol::registry::RequestStatus;

#[derive(Template)]
#[template(path = "incoming.html")]
struct IncomingPage {
    name: String,
    provider_href: String,
    did: String,
    open: Vec<Line>,
    agreements: Vec<Line>,
    others: Vec<Line>,
}

/// `GET /anbieter/{did}/abrufe`.
pub(super) async fn incoming(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let (named, p) = match provider_of(&ctx, path) {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut q = RequestsQuery::new(ExchangeFilters {
        provider: Some(p.did.clone()),
        ..ExchangeFilters::default()
    });
    q.limit = RequestsQuery::MAX_LIMIT;
    let all = view::exchange::requests(&ctx.node, &q, clock::now()).requests;
    let pick = |s: RequestStatus| all.iter().filter(|r| r.status == s).map(line).collect();
    let page = IncomingPage {
        name: named.name,
        provider_href: format::provider_href(&p.did),
        did: p.did.to_string(),
        open: pick(RequestStatus::Open),
        agreements: pick(RequestStatus::Accepted),
        others: all
            .iter()
            .filter(|r| matches!(r.status, RequestStatus::Declined | RequestStatus::Withdrawn))
            .map(line)
            .collect(),
    };
    html(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    id: String,
    line: Line,
    buyer: String,
    takers: String,
    quantity: u64,
    basis: String,
    contact: String,
    note: String,
    version: u64,
    answer: Option<String>,
    withdrawal: Option<String>,
    end: Option<String>,
    open: bool,
    accepted: bool,
}

/// `GET /abruf/{id}`.
pub(super) async fn page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Adresse.");
    };
    let Ok(id) = id.parse::<Hash32>() else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Kennung eines Abrufs.");
    };
    let Some(r) = view::exchange::request(&ctx.node, &id, clock::now()) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Diesen Abruf gibt es hier nicht (oder noch nicht).",
        );
    };
    let page = RequestPage {
        id: r.id.to_hex(),
        line: line(&r),
        buyer: r.buyer.name.clone(),
        takers: r
            .takers
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        quantity: r.quantity,
        basis: format!(
            "{}: {}",
            format::basis(r.legal_basis.kind),
            r.legal_basis.reference
        ),
        contact: match &r.contact.mailbox {
            Some(m) => format!("{} ({m})", r.contact.role),
            None => r.contact.role.to_string(),
        },
        note: r.note.clone(),
        version: r.offer.version,
        answer: r.answer.as_ref().map(|a| {
            let what = if a.accepted {
                "angenommen"
            } else {
                "abgelehnt"
            };
            let why = a
                .reason
                .as_ref()
                .map_or(String::new(), |x| format!(": {x}"));
            format!(
                "{what} von {} am {}{why}",
                a.by.name,
                format::date(a.issued_at)
            )
        }),
        withdrawal: r
            .withdrawal
            .as_ref()
            .map(|w| format!("am {}: {}", format::date(w.issued_at), w.reason)),
        end: r
            .end
            .as_ref()
            .map(|e| format!("zum {}: {}", format::date(e.effective_at), e.reason)),
        open: r.status == RequestStatus::Open,
        accepted: r.status == RequestStatus::Accepted,
    };
    html(StatusCode::OK, &page)
}
