//! The web catalog for municipalities: server-rendered HTML in German, usable
//! without JavaScript but for the offer page's request form. Search (by
//! municipality, category tree, OZG service, certification, provider, free
//! text, tender-free), offer, provider and compare pages, municipalities and
//! requests.
//!
//! Each page is a route that reads the German form (`form.rs`), asks the read
//! model (`view/`) and fills an askama template (`node/templates/`), which
//! escapes every value it prints. `format.rs` writes values in German. Styles
//! are one static asset; every page is sent with a Content-Security-Policy
//! that allows nothing but this node's stylesheet and forms, and the offer
//! page also this node's one script (the request form) and its API.
//!
//! Pages: `search.rs`, `offer.rs`, `provider.rs`, `compare.rs`,
//! `municipality.rs` (`/gemeinden`, `/gemeinde/{ags}`), `requests.rs`
//! (`/anbieter/{did}/abrufe`, `/abruf/{id}`), `transition.rs` (`/uebergang`,
//! with the map of `map.rs`), `standards.rs` (`/standards`, the stewards'
//! standard portfolio). Unknown paths outside `/v1` get a German error page
//! when the client asks for HTML ([`not_found_page`]).

mod compare;
mod form;
mod format;
mod map;
mod municipality;
mod offer;
mod provider;
mod requests;
mod search;
mod standards;
mod terms;
mod transition;

use crate::ctx::Ctx;
use askama::Template;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The pages' Content-Security-Policy: no scripts, no inline styles, no
/// frames; styles, images and form targets from this node only.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The offer page's policy: as [`CSP`], plus this node's request-form script
/// and its API (the form reads the author's log head and submits the record).
pub const CSP_FORM: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                            style-src 'self'; img-src 'self'; form-action 'self'; \
                            base-uri 'none'; frame-ancestors 'none'";

/// The stylesheet, served at `/static/kx.css`.
const STYLESHEET: &str = include_str!("../../static/kx.css");

/// The request form's script, served at `/static/abruf.js`.
const REQUEST_SCRIPT: &str = include_str!("../../static/abruf.js");

/// Routes of the catalog.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/", get(search::page))
        .route("/angebot/{provider}/{offer_id}", get(offer::page))
        .route("/anbieter/{did}", get(provider::page))
        .route("/vergleich", get(compare::page))
        .route("/gemeinden", get(municipality::index))
        .route("/gemeinde/{ags}", get(municipality::page))
        .route("/anbieter/{did}/abrufe", get(requests::incoming))
        .route("/abruf/{id}", get(requests::page))
        .route("/uebergang", get(transition::page))
        .route("/standards", get(standards::page))
        .route("/static/kx.css", get(stylesheet))
        .route("/static/abruf.js", get(script))
}

/// A rendered page with the catalog's headers.
fn html(status: StatusCode, page: &impl Template) -> Response {
    html_with(status, page, CSP)
}

/// A rendered page with the catalog's headers and the policy `csp`.
fn html_with(status: StatusCode, page: &impl Template, csp: &'static str) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a catalog page did not render");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("same-origin"),
    );
    r
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// A page that says what went wrong, with a way back to the search.
fn error_page(status: StatusCode, message: &str) -> Response {
    html(status, &ErrorPage { message })
}

/// The page for a path the catalog does not have (the API answers JSON).
pub fn not_found_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Diese Seite gibt es nicht. Angebote finden Sie über die Suche.",
    )
}

async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

async fn script() -> Response {
    asset(REQUEST_SCRIPT, "text/javascript; charset=utf-8")
}

/// A static asset with its type, cached for an hour.
fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut r = text.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The provider a page's `{did}` path names (its identity or one of its
/// keys), or the error page that says why there is none. (The page is large
/// for an `Err`, but it is returned once per request, straight to axum.)
#[allow(clippy::result_large_err)]
fn provider_of(
    ctx: &Ctx,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<(kx_api::views::ProviderRef, kx_api::views::ProviderSummary), Response> {
    let Ok(axum::extract::Path(did)) = path else {
        return Err(error_page(StatusCode::BAD_REQUEST, "Ungültige Adresse."));
    };
    let Ok(did) = did.parse::<kx_protocol::Did>() else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Unbekannte Anbieterkennung.",
        ));
    };
    crate::view::providers::summary_of(&ctx.node, &did)
        .ok_or_else(|| error_page(StatusCode::NOT_FOUND, "Diesen Anbieter gibt es hier nicht."))
}

/// One option of a choice list.
#[derive(Debug, Clone)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// The options `(value, label)` of a choice list, `chosen` selected.
fn choices(options: Vec<(String, String)>, chosen: Option<&str>) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: Some(value.as_str()) == chosen,
            value,
            label,
        })
        .collect()
}

/// A link with its text.
#[derive(Debug, Clone)]
struct Link {
    href: String,
    name: String,
}

/// Whether a municipality may take an offer without a tender, as a badge.
#[derive(Debug, Clone)]
struct Badge {
    municipality: String,
    /// `free` or `tender` (the stylesheet's colours).
    class: &'static str,
    title: String,
    label: String,
}

impl Badge {
    fn of(p: &kx_api::views::ProcurementView) -> Badge {
        Badge {
            municipality: p.municipality.name.clone(),
            class: if p.tender_free { "free" } else { "tender" },
            title: format!("Vergabe für {}", p.municipality.name),
            label: p.label.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_pages_carry_the_policy() {
        let r = error_page(StatusCode::NOT_FOUND, "<script>alert(1)</script> & \"x\"");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            r.headers().get(header::CONTENT_SECURITY_POLICY),
            Some(&HeaderValue::from_static(CSP))
        );
        let body = ErrorPage {
            message: "<script>alert(1)</script> & \"x\"",
        }
        .render()
        .unwrap_or_default();
        assert!(!body.contains("<script>"), "{body}");
        assert!(body.contains("&#60;script&#62;"), "{body}");
        assert!(!body.contains("style="), "no inline styles: {body}");
    }
}
