//! The HTTP API `/v1` (described in `specs/http-api.yaml`) and `/metrics`.
//!
//! Every error is JSON `{"error": {"code", "message"}}` with a 4xx status (5xx only
//! for storage failure). Request bodies and query strings are parsed here, not by
//! axum's extractors, so that malformed input gets the same error shape as
//! everything else.

use crate::node::{IngestError, Node, Source};
use crate::p2p::P2p;
use crate::search::Load;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kx_protocol::body::{LegalBasisKind, OfferBody};
use kx_protocol::fields::{OfferId, Timestamp};
use kx_protocol::geo::{self, Municipality, Procurement};
use kx_protocol::registry::{Admitted, OfferEntry, OfferHistory, OfferStatus, ProviderState};
use kx_protocol::{Body as RecordBody, Did, Hash32, State, VerifiedRecord};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub node: Arc<Node>,
    pub p2p: P2p,
    pub max_body: usize,
}

/// An API error: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_query(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        json_response(self.status, &body)
    }
}

type ApiResult = Result<Response, ApiError>;

/// Path parameters, with axum's plain-text rejection (e.g. invalid UTF-8 in a
/// percent-encoded segment) turned into a JSON `invalid_path` error.
struct PathArgs<T>(T);

impl<S, T> axum::extract::FromRequestParts<S> for PathArgs<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(PathArgs(v)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                e.body_text(),
            )),
        }
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut resp = raw_json(serde_json::to_vec(v).unwrap_or_default());
    *resp.status_mut() = status;
    resp
}

/// The router.
pub fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/v1/records", get(list_records).post(submit))
        .route("/v1/records/{id}", get(get_record))
        .route("/v1/offers", get(search_offers))
        .route("/v1/offers/{provider}/{offer_id}", get(get_offer))
        .route("/v1/providers", get(list_providers))
        .route("/v1/providers/{did}", get(get_provider))
        .route("/v1/authors/{did}", get(get_author))
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics))
        .merge(crate::catalog::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            count_requests,
        ))
        .with_state(ctx)
}

async fn count_requests(
    AxState(ctx): AxState<Ctx>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    ctx.node
        .metrics()
        .http_requests
        .fetch_add(1, Ordering::Relaxed);
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the API is under /v1")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

/// The current instant as a record timestamp.
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Timestamp::from_unix(secs).unwrap_or(Timestamp::EPOCH)
}

/// Parsed query string: each parameter at most once, only known names.
struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(raw: Option<String>, allowed: &[&str]) -> Result<Query, ApiError> {
        let mut map = BTreeMap::new();
        let raw = raw.unwrap_or_default();
        if raw.len() > 4096 {
            return Err(ApiError::bad_query("query string longer than 4096 bytes"));
        }
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_parameter",
                    format!(
                        "unknown query parameter {:?}; allowed: {}",
                        k.chars().take(40).collect::<String>(),
                        allowed.join(", ")
                    ),
                ));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::bad_query(format!("parameter {k} given twice")));
            }
        }
        Ok(Query(map))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_query(format!(
                    "limit must be a number from 1 to {max}"
                ))),
            },
        }
    }

    fn bool(&self, k: &str) -> Result<bool, ApiError> {
        match self.get(k) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::bad_query(format!("{k} must be true or false"))),
        }
    }

    fn at(&self) -> Result<Timestamp, ApiError> {
        match self.get("at") {
            None => Ok(now()),
            Some(v) => v
                .parse()
                .map_err(|e| ApiError::bad_query(format!("at: {e}"))),
        }
    }
}

fn parse_did(s: &str) -> Result<Did, ApiError> {
    s.parse().map_err(|e: kx_protocol::keys::KeyError| {
        ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    })
}

fn parse_hash(s: &str) -> Result<Hash32, ApiError> {
    s.parse().map_err(|e: kx_protocol::fields::FieldError| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_hash", e.to_string())
    })
}

// ---- records -----------------------------------------------------------------

async fn submit(AxState(ctx): AxState<Ctx>, body: Body) -> ApiResult {
    let bytes: Bytes = axum::body::to_bytes(body, ctx.max_body)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body over {} bytes", ctx.max_body),
            )
        })?;
    let rec = match VerifiedRecord::from_bytes(&bytes) {
        Ok(r) => r,
        Err(e) => {
            ctx.node.metrics().reject(e.code());
            let status = if e.code() == "too_large" {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(ApiError::new(status, e.code(), e.to_string()));
        }
    };
    let id = rec.id();
    let copy = rec.clone();
    match ctx.node.ingest(rec, Source::Http).await {
        Ok(Admitted::Known) => Ok(json_response(
            StatusCode::OK,
            &json!({"id": id.to_hex(), "status": "known"}),
        )),
        Ok(a) => {
            ctx.p2p.publish(&copy).await;
            let status = match a {
                Admitted::Held => "held",
                Admitted::Equivocation => "equivocation",
                _ => "stored",
            };
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"id": id.to_hex(), "status": status}),
            ))
        }
        Err(IngestError::Rejected(r)) => {
            let status = if r.code() == "wrong_federation" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Err(ApiError::new(status, r.code(), r.to_string()))
        }
        Err(e @ IngestError::FutureDated { .. }) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "future_dated",
            e.to_string(),
        )),
        Err(e @ IngestError::Storage(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_error",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            e.to_string(),
        )),
    }
}

fn raw_json(bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn list_records(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q, &["cursor", "limit"])?;
    let limit = q.limit(100, 1000)?;
    let after = q.get("cursor").map(parse_hash).transpose()?;
    let page = ctx
        .node
        .store()
        .page(after.as_ref(), limit + 1)
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_error",
                e.to_string(),
            )
        })?;
    let more = page.len() > limit;
    let mut out = b"{\"records\":[".to_vec();
    let mut last = None;
    for (i, (id, rec)) in page.into_iter().take(limit).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        last = Some(id);
        out.extend_from_slice(&rec);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    match (more, last) {
        (true, Some(id)) => out.extend_from_slice(format!("\"{id}\"").as_bytes()),
        _ => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    Ok(raw_json(out))
}

async fn get_record(AxState(ctx): AxState<Ctx>, PathArgs(id): PathArgs<String>) -> ApiResult {
    let id = parse_hash(&id)?;
    match ctx.node.store().get(&id) {
        Ok(Some(bytes)) => Ok(raw_json(bytes)),
        Ok(None) => Err(ApiError::not_found(format!("no record {id}"))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_error",
            e.to_string(),
        )),
    }
}

// ---- offers ------------------------------------------------------------------

/// The short name a provider goes by (profile short name, else its admission name).
pub(crate) fn provider_name(state: &State, did: &Did) -> String {
    state
        .providers
        .get(did)
        .map(|p| {
            p.profile_body()
                .map(|b| b.short_name.to_string())
                .unwrap_or_else(|| p.name.clone())
        })
        .unwrap_or_default()
}

/// Resolves the `municipality` parameter (name or AGS).
fn municipality(q: &Query) -> Result<Option<&'static Municipality>, ApiError> {
    let Some(m) = q.get("municipality") else {
        return Ok(None);
    };
    match geo::resolve(m) {
        Ok(m) => Ok(Some(m)),
        Err(candidates) if candidates.is_empty() => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_municipality",
            format!(
                "no NRW municipality is called {:?}",
                m.chars().take(60).collect::<String>()
            ),
        )),
        Err(candidates) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "ambiguous_municipality",
            format!(
                "{:?} matches {}; give the AGS or the full name",
                m.chars().take(60).collect::<String>(),
                candidates
                    .iter()
                    .take(8)
                    .map(|c| format!("{} ({})", c.name, c.ags))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// How `m` may take the offer: judged against the provider that offers it now
/// (the successor, once a merger took effect).
pub fn procurement_of(
    state: &State,
    provider: &Did,
    body: &OfferBody,
    m: &Municipality,
) -> Procurement {
    procurement_by_basis(
        state,
        provider,
        &body.offer_id,
        body.regions.iter().any(|r| r.covers(&m.ags)),
        body.legal_basis.as_ref().map(|l| l.kind),
        m,
    )
}

/// [`procurement_of`] from what the search index keeps of an offer: whether it
/// is delivered in `m` and its stated legal basis (the rule is `geo::procurement`).
pub(crate) fn procurement_by_basis(
    state: &State,
    provider: &Did,
    offer_id: &OfferId,
    delivered: bool,
    basis: Option<LegalBasisKind>,
    m: &Municipality,
) -> Procurement {
    let shown = state.shown_under(provider, offer_id, now());
    let in_house = state
        .providers
        .get(&shown)
        .and_then(|p| p.profile_body())
        .is_some_and(|p| p.members.iter().any(|x| x.covers(&m.ags)));
    geo::procurement_by(in_house, delivered, basis)
}

/// The record ids of the current versions of `keys` in `state`.
fn current_ids<'a>(state: &State, keys: impl Iterator<Item = &'a (Did, OfferId)>) -> Vec<Hash32> {
    keys.filter_map(|k| Some(state.offers.get(k)?.current()?.record))
        .collect()
}

/// Reads records with no registry lock held. A record never changes under its
/// id, so a handler learns the ids it needs under the lock, reads them here, and
/// renders under the lock again with the loader this returns (which reads any
/// other id, e.g. of a version that came meanwhile, from the node): store reads
/// never hold up the writer.
fn read_records(node: &Node, ids: Vec<Hash32>) -> impl Fn(&Hash32) -> Option<VerifiedRecord> {
    let recs: std::collections::HashMap<Hash32, VerifiedRecord> = ids
        .into_iter()
        .filter_map(|id| Some((id, node.record(&id)?)))
        .collect();
    move |id| recs.get(id).cloned().or_else(|| node.record(id))
}

/// The current version of an offer, read back through `load`, with its body.
pub(crate) fn current_record(entry: &OfferEntry, load: Load<'_>) -> Option<VerifiedRecord> {
    let rec = load(&entry.current()?.record)?;
    matches!(rec.record().body, RecordBody::Offer(_)).then_some(rec)
}

/// The offer body of a record (None for other kinds).
pub(crate) fn offer_body(rec: &VerifiedRecord) -> Option<&OfferBody> {
    match &rec.record().body {
        RecordBody::Offer(b) => Some(b),
        _ => None,
    }
}

fn offer_json(
    state: &State,
    provider: &Did,
    entry: &OfferEntry,
    load: Load<'_>,
    at: Timestamp,
    m: Option<&Municipality>,
) -> Option<Value> {
    let rec = current_record(entry, load)?;
    let body = offer_body(&rec)?;
    let status = state.offer_status(provider, entry, at);
    let shown = state.shown_under(provider, &body.offer_id, at);
    let mut v = json!({
        "provider": {"did": provider.as_str(), "name": provider_name(state, provider)},
        "offer_id": body.offer_id.as_str(),
        "version": body.version,
        "record": rec.id().to_hex(),
        "author": rec.record().author.as_str(),
        "issued_at": rec.record().issued_at.to_string(),
        "status": status.as_str(),
        "body": rec.record().body.to_value(),
    });
    if shown != *provider {
        v["shown_under"] = json!({"did": shown.as_str(), "name": provider_name(state, &shown)});
    }
    if let Some(m) = m {
        let p = procurement_of(state, provider, body, m);
        v["procurement"] = json!({
            "municipality": {"ags": m.ags, "name": m.name},
            "kind": p.as_str(),
            "tender_free": p.tender_free(),
            "label": p.label_de(),
        });
    }
    Some(v)
}

/// Search filters, parsed and checked.
/// Search filters, shared by the API and the web catalog.
#[derive(Debug)]
pub(crate) struct Filters {
    pub(crate) municipality: Option<&'static Municipality>,
    /// With `municipality`: `tender_free` or a procurement kind.
    pub(crate) procurement: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) ozg: Option<String>,
    pub(crate) leika: Option<String>,
    pub(crate) cert: Option<String>,
    pub(crate) provider: Option<Did>,
    /// Lowercase words that must all occur in title, summary or description.
    pub(crate) words: Vec<String>,
    pub(crate) include: Vec<OfferStatus>,
    pub(crate) at: Timestamp,
}

impl Filters {
    /// No filter: active offers at `at`.
    pub(crate) fn active_at(at: Timestamp) -> Filters {
        Filters {
            municipality: None,
            procurement: None,
            region: None,
            category: None,
            ozg: None,
            leika: None,
            cert: None,
            provider: None,
            words: Vec::new(),
            include: vec![OfferStatus::Active],
            at,
        }
    }

    /// Lowercase words of a free-text query.
    pub(crate) fn words_of(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_lowercase).collect()
    }

    fn parse(q: &Query) -> Result<Filters, ApiError> {
        let region = q.get("region").map(str::to_owned);
        if let Some(r) = &region
            && (!r.bytes().all(|b| b.is_ascii_digit()) || ![2, 3, 5, 8].contains(&r.len()))
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_ags",
                "region must be an AGS of 2, 3, 5 or 8 digits (Land, Regierungsbezirk, Kreis, Gemeinde)",
            ));
        }
        let mut include = vec![OfferStatus::Active];
        if let Some(list) = q.get("include") {
            for token in list.split(',') {
                include.push(match token.trim() {
                    "withdrawn" => OfferStatus::Withdrawn,
                    "expired" => OfferStatus::Expired,
                    "not_yet_valid" => OfferStatus::NotYetValid,
                    other => {
                        return Err(ApiError::bad_query(format!(
                            "include: unknown value {:?}; allowed: withdrawn, expired, not_yet_valid",
                            other.chars().take(40).collect::<String>()
                        )));
                    }
                });
            }
        }
        let municipality = municipality(q)?;
        let procurement = q.get("procurement").map(str::to_owned);
        if let Some(p) = &procurement {
            if ![
                "tender_free",
                "in_house",
                "inter_municipal",
                "framework_agreement",
                "tender",
            ]
            .contains(&p.as_str())
            {
                return Err(ApiError::bad_query(
                    "procurement: one of tender_free, in_house, inter_municipal, framework_agreement, tender",
                ));
            }
            if municipality.is_none() {
                return Err(ApiError::bad_query("procurement needs a municipality"));
            }
        }
        let words = q.get("q").map(Filters::words_of).unwrap_or_default();
        Ok(Filters {
            municipality,
            procurement,
            region,
            category: q.get("category").map(str::to_owned),
            ozg: q.get("ozg").map(str::to_owned),
            leika: q.get("leika").map(str::to_owned),
            cert: q.get("cert").map(str::to_owned),
            provider: q.get("provider").map(parse_did).transpose()?,
            words,
            include,
            at: q.at()?,
        })
    }

    /// True if the current version of `entry` passes every filter: the
    /// definition that the search index (`search.rs`) is tested against.
    #[cfg(test)]
    pub(crate) fn matches(
        &self,
        state: &State,
        provider: &Did,
        entry: &OfferEntry,
        b: &OfferBody,
    ) -> bool {
        if !self
            .include
            .contains(&state.offer_status(provider, entry, self.at))
        {
            return false;
        }
        if let Some(p) = &self.provider {
            let shown = state.shown_under(provider, &b.offer_id, self.at);
            if p != provider && *p != shown {
                return false;
            }
        }
        if let Some(m) = self.municipality {
            if !b.regions.iter().any(|r| r.covers(&m.ags)) {
                return false;
            }
            if let Some(want) = &self.procurement {
                let got = procurement_of(state, provider, b, m);
                let ok = match want.as_str() {
                    "tender_free" => got.tender_free(),
                    w => got.as_str() == w,
                };
                if !ok {
                    return false;
                }
            }
        }
        self.matches_body(b)
    }

    #[cfg(test)]
    fn matches_body(&self, b: &OfferBody) -> bool {
        if let Some(r) = &self.region
            && !b.regions.iter().any(|p| p.covers(r))
        {
            return false;
        }
        if let Some(c) = &self.category
            && !kx_protocol::taxonomy::is_within(b.category.as_str(), c)
        {
            return false;
        }
        if let Some(o) = &self.ozg
            && !b.ozg_ids.iter().any(|x| x.as_str() == o)
        {
            return false;
        }
        if let Some(l) = &self.leika
            && !b.leika_keys.iter().any(|x| x.as_str() == l)
        {
            return false;
        }
        if let Some(c) = &self.cert
            && !b.certifications.iter().any(|x| x.as_str() == c)
        {
            return false;
        }
        if !self.words.is_empty() {
            let text = format!("{} {} {}", b.title, b.summary, b.description).to_lowercase();
            if !self.words.iter().all(|w| text.contains(w.as_str())) {
                return false;
            }
        }
        true
    }
}

/// Query parameters of `GET /v1/offers`.
const SEARCH_PARAMS: &[&str] = &[
    "municipality",
    "procurement",
    "region",
    "category",
    "ozg",
    "leika",
    "cert",
    "provider",
    "q",
    "include",
    "limit",
    "cursor",
    "at",
];

/// A parsed search request.
struct Search {
    filters: Filters,
    limit: usize,
    cursor: Option<(Did, OfferId)>,
}

fn parse_search(raw: Option<String>) -> Result<Search, ApiError> {
    let q = Query::parse(raw, SEARCH_PARAMS)?;
    let filters = Filters::parse(&q)?;
    let limit = q.limit(50, 500)?;
    let cursor = match q.get("cursor") {
        None => None,
        Some(c) => {
            let (did, id) = c
                .split_once('/')
                .ok_or_else(|| ApiError::bad_query("cursor is not one this node returned"))?;
            let did = parse_did(did)?;
            let id: OfferId = id
                .parse()
                .map_err(|_| ApiError::bad_query("cursor is not one this node returned"))?;
            Some((did, id))
        }
    };
    Ok(Search {
        filters,
        limit,
        cursor,
    })
}

/// Parses the query string of `GET /v1/offers` exactly as the endpoint does, for
/// fuzzing: `Ok`, or the status and stable code of the error the API would answer.
pub fn check_search_query(raw: &str) -> Result<(), (u16, &'static str)> {
    parse_search(Some(raw.to_owned()))
        .map(|_| ())
        .map_err(|e| (e.status.as_u16(), e.code))
}

async fn search_offers(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let Search {
        filters,
        limit,
        cursor,
    } = parse_search(q)?;
    let (found, ids) = ctx.node.with_index(|state, index| {
        let found = index.search(state, &filters, cursor.as_ref(), limit);
        let ids = current_ids(state, found.keys.iter());
        (found, ids)
    });
    let load = read_records(&ctx.node, ids);
    let body = ctx.node.with_state(|state| {
        let page: Vec<Value> = found
            .keys
            .iter()
            .filter_map(|(provider, offer_id)| {
                let entry = state.offers.get(&(provider.clone(), offer_id.clone()))?;
                offer_json(
                    state,
                    provider,
                    entry,
                    &load,
                    filters.at,
                    filters.municipality,
                )
            })
            .collect();
        let next = found
            .more
            .then(|| found.keys.last())
            .flatten()
            .map(|(d, o)| format!("{d}/{o}"));
        json!({"offers": page, "total": found.total, "next_cursor": next})
    });
    Ok(json_response(StatusCode::OK, &body))
}

async fn get_offer(
    AxState(ctx): AxState<Ctx>,
    PathArgs((provider, offer_id)): PathArgs<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q, &["history", "at", "municipality"])?;
    let history = q.bool("history")?;
    let at = q.at()?;
    let m = municipality(&q)?;
    let did = parse_did(&provider)?;
    let id: OfferId = offer_id
        .parse()
        .map_err(|e: kx_protocol::fields::FieldError| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_offer_id", e.to_string())
        })?;
    // The records this page shows, read with no lock held.
    let ids = ctx.node.with_registry(|r| {
        let identity = r.identity_of(&did).unwrap_or(&did);
        let mut ids = current_ids(r.state(), [(identity.clone(), id.clone())].iter());
        if history {
            let h = r.offer_history(identity, &id);
            ids.extend(h.versions.iter().map(|v| v.record));
            ids.extend(h.withdrawals);
        }
        ids
    });
    let load = read_records(&ctx.node, ids);
    ctx.node.with_registry(|r| {
        let state = r.state();
        let identity = r.identity_of(&did).cloned().unwrap_or(did);
        let entry = state
            .offers
            .get(&(identity.clone(), id.clone()))
            .ok_or_else(|| ApiError::not_found(format!("no offer {id} of {identity}")))?;
        let history = history.then(|| r.offer_history(&identity, &id));
        offer_page(state, &identity, entry, &load, at, m, history)
            .ok_or_else(|| ApiError::not_found(format!("no offer {id} of {identity}")))
    })
}

/// One offer as `GET /v1/offers/{provider}/{offer_id}` shows it.
fn offer_page(
    state: &State,
    identity: &Did,
    entry: &OfferEntry,
    load: Load<'_>,
    at: Timestamp,
    m: Option<&Municipality>,
    history: Option<OfferHistory>,
) -> Option<Response> {
    let mut v = offer_json(state, identity, entry, load, at, m)?;
    if let Some(history) = history {
        let mut versions: Vec<VerifiedRecord> = history
            .versions
            .iter()
            .filter_map(|h| load(&h.record))
            .collect();
        versions.sort_by_key(|r| match &r.record().body {
            RecordBody::Offer(b) => (b.version, r.id()),
            _ => (0, r.id()),
        });
        v["history"] = versions
            .into_iter()
            .map(|r| {
                json!({
                    "record": r.id().to_hex(),
                    "version": match &r.record().body { RecordBody::Offer(b) => b.version, _ => 0 },
                    "issued_at": r.record().issued_at.to_string(),
                    "body": r.record().body.to_value(),
                })
            })
            .collect();
        v["withdrawals"] = history
            .withdrawals
            .iter()
            .filter_map(load)
            .map(|r| json!({"record": r.id().to_hex(), "body": r.record().body.to_value()}))
            .collect();
    }
    Some(json_response(StatusCode::OK, &v))
}

// ---- providers ---------------------------------------------------------------

/// A provider; with `load`, also its offers (read back through it).
fn provider_json(state: &State, p: &ProviderState, at: Timestamp, load: Option<Load<'_>>) -> Value {
    let offers: Vec<(&OfferId, &OfferEntry)> = state.offers_of(&p.identity).collect();
    let successor = p.successor.as_ref().and_then(|s| {
        let b = kx_protocol::registry::succession_of(s)?;
        Some(json!({
            "did": b.successor.as_str(),
            "name": provider_name(state, b.successor),
            "effective_at": b.effective_at.to_string(),
            "offer_ids": b.offer_ids.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            "record": s.id().to_hex(),
        }))
    });
    let mut v = json!({
        "did": p.identity.as_str(),
        "name": p.name,
        "standing": p.standing.as_str(),
        "keys": p.keys.iter().map(Did::as_str).collect::<Vec<_>>(),
        "profile": p.profile.as_ref().map(|r| json!({"record": r.id().to_hex(), "body": r.record().body.to_value()})),
        "offers": offers.len(),
        "successor": successor,
        "predecessors": p.predecessors.iter().map(|d| json!({"did": d.as_str(), "name": provider_name(state, d)})).collect::<Vec<_>>(),
    });
    if let Some(load) = load {
        v["offers"] = offers
            .into_iter()
            .filter_map(|(_, e)| offer_json(state, &p.identity, e, load, at, None))
            .collect();
    }
    v
}

async fn list_providers(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q, &["at"])?;
    let at = q.at()?;
    let list: Vec<Value> = ctx.node.with_state(|state| {
        state
            .providers
            .values()
            .map(|p| provider_json(state, p, at, None))
            .collect()
    });
    Ok(json_response(StatusCode::OK, &json!({"providers": list})))
}

async fn get_provider(
    AxState(ctx): AxState<Ctx>,
    PathArgs(did): PathArgs<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q, &["at"])?;
    let at = q.at()?;
    let did = parse_did(&did)?;
    let ids = ctx.node.with_registry(|r| {
        let identity = r.identity_of(&did).unwrap_or(&did);
        r.state()
            .offers_of(identity)
            .filter_map(|(_, e)| Some(e.current()?.record))
            .collect()
    });
    let load = read_records(&ctx.node, ids);
    ctx.node.with_registry(|r| {
        let identity = r.identity_of(&did).cloned().unwrap_or(did);
        let p = r.state().providers.get(&identity).ok_or_else(|| {
            ApiError::not_found(format!("{identity} is not an admitted provider"))
        })?;
        Ok(json_response(
            StatusCode::OK,
            &provider_json(r.state(), p, at, Some(&load)),
        ))
    })
}

async fn get_author(AxState(ctx): AxState<Ctx>, PathArgs(did): PathArgs<String>) -> ApiResult {
    let did = parse_did(&did)?;
    let v = ctx.node.with_registry(|r| {
        let head = r.head(&did);
        let next = head.map_or(1, |(s, _)| s + 1);
        let (stewards, _) = r.stewards();
        json!({
            "did": did.as_str(),
            "head": head.map(|(seq, id)| json!({"seq": seq, "id": id.to_hex()})),
            "identity": r.identity_of(&did).map(Did::as_str),
            "current_key": r.identity_of(&did).and_then(|i| r.current_key(i)).map(Did::as_str),
            "standing": r.standing(&did, next).as_str(),
            "steward": stewards.contains(&did),
        })
    });
    Ok(json_response(StatusCode::OK, &v))
}

// ---- status and metrics ------------------------------------------------------

async fn status(AxState(ctx): AxState<Ctx>) -> ApiResult {
    let peers = ctx.p2p.peers().await;
    // In sync: every connected peer was reconciled to the end and had nothing new.
    let in_sync = peers.iter().all(|p| {
        p.last_sync
            .as_ref()
            .is_some_and(|s| s.complete && s.received == 0)
    });
    // Digest, counts and head from one read of the registry.
    let v = ctx.node.with_digest(|r, digest| {
        let state = r.state();
        json!({
            "federation": ctx.node.federation().to_hex(),
            "peer_id": ctx.p2p.peer_id().to_string(),
            "records": r.len(),
            "state_digest": digest.to_hex(),
            "governance_head": r.governance_head().to_hex(),
            "stewards": state.stewards.iter().map(Did::as_str).collect::<Vec<_>>(),
            "threshold": state.threshold,
            "providers": state.providers.len(),
            "offers": state.offers.len(),
            "in_sync": in_sync,
            "peers": peers,
        })
    });
    Ok(json_response(StatusCode::OK, &v))
}

async fn metrics(AxState(ctx): AxState<Ctx>) -> Response {
    let m = ctx.node.metrics();
    let net = ctx.p2p.stats().await;
    let peers = net.peers;
    let (records, providers, offers) = ctx
        .node
        .with_registry(|r| (r.len(), r.state().providers.len(), r.state().offers.len()));
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, samples: Vec<(String, u64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in samples {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    line(
        "kx_records_received_total",
        "Records received, by source.",
        "counter",
        vec![
            ("{source=\"http\"}".into(), get(&m.received_http)),
            ("{source=\"gossip\"}".into(), get(&m.received_gossip)),
            ("{source=\"sync\"}".into(), get(&m.received_sync)),
        ],
    );
    line(
        "kx_records_stored_total",
        "New records stored.",
        "counter",
        vec![(String::new(), get(&m.stored))],
    );
    line(
        "kx_records_known_total",
        "Records received that were already held.",
        "counter",
        vec![(String::new(), get(&m.known))],
    );
    let rejected: Vec<(String, u64)> = m
        .rejected
        .lock()
        .map(|r| {
            r.iter()
                .map(|(c, n)| (format!("{{code=\"{c}\"}}"), *n))
                .collect()
        })
        .unwrap_or_default();
    line(
        "kx_records_rejected_total",
        "Records refused, by error code.",
        "counter",
        rejected,
    );
    line(
        "kx_commits_total",
        "Group commits (one flush each).",
        "counter",
        vec![(String::new(), get(&m.commits))],
    );
    line(
        "kx_http_requests_total",
        "HTTP requests served.",
        "counter",
        vec![(String::new(), get(&m.http_requests))],
    );
    line(
        "kx_records",
        "Records held.",
        "gauge",
        vec![(String::new(), records as u64)],
    );
    line(
        "kx_providers",
        "Admitted providers.",
        "gauge",
        vec![(String::new(), providers as u64)],
    );
    line(
        "kx_offers",
        "Offers (current versions).",
        "gauge",
        vec![(String::new(), offers as u64)],
    );
    line(
        "kx_peers_banned",
        "Peers currently banned for misbehaviour.",
        "gauge",
        vec![(String::new(), net.banned as u64)],
    );
    line(
        "kx_reconciliations_total",
        "Reconciliations started with peers.",
        "counter",
        vec![(String::new(), net.reconciliations)],
    );
    line(
        "kx_sync_record_bytes_total",
        "Bytes of records received by anti-entropy.",
        "counter",
        vec![(String::new(), net.sync_bytes_in)],
    );
    line(
        "kx_peers",
        "Connected peers.",
        "gauge",
        vec![(String::new(), peers as u64)],
    );
    let mut resp = Response::new(Body::from(out));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::check_search_query;

    #[test]
    fn search_queries_parse_or_fail_with_a_4xx_code() {
        assert_eq!(
            check_search_query("region=05158004&category=e-akte&limit=5"),
            Ok(())
        );
        assert_eq!(
            check_search_query("municipality=Paderborn&procurement=tender_free"),
            Ok(())
        );
        assert_eq!(check_search_query("region=5"), Err((400, "malformed_ags")));
        assert_eq!(
            check_search_query("bogus=1"),
            Err((400, "unknown_parameter"))
        );
        assert_eq!(
            check_search_query("municipality=Atlantis"),
            Err((400, "unknown_municipality"))
        );
        assert_eq!(
            check_search_query("cursor=%ff"),
            Err((400, "invalid_query"))
        );
    }
}
