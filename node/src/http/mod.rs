//! The HTTP API `/v1` (described in `specs/http-api.yaml`) and `/metrics`, and
//! the router that serves them with the web catalog.
//!
//! Handlers are routes plus (de)serialisation: requests are parsed by `kx_api`'s
//! types, answers come from the read model (`view/`) and are serialised as
//! `kx_api` views. Every error is JSON `{"error": {"code", "message"}}` with a
//! 4xx status (5xx only for storage failure and shutdown); bodies, query strings
//! and path segments are read by hand rather than by axum's extractors, so that
//! malformed input gets the same error shape as everything else.
//!
//! - `records.rs`: submit, list and get signed records;
//! - `reads.rs`: offers, providers, authors and the node's status;
//! - `exchange.rs`: demand, requests, agreements, municipalities, transition;
//! - `metrics.rs`: the Prometheus exposition.

mod exchange;
pub mod limits;
mod metrics;
mod reads;
mod records;

use crate::ctx::Ctx;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kx_api::{ApiCode, ApiError, ErrorBody, ErrorCode, RecordCode};
use serde::Serialize;
use std::sync::atomic::Ordering;

/// An API error and the status it is answered with.
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    error: ApiError,
}

impl HttpError {
    /// `error` with a status other than its code's usual one.
    fn with_status(status: StatusCode, error: ApiError) -> HttpError {
        HttpError { status, error }
    }
}

/// The usual status of an error code: 413 for records too large, 400 for
/// other faults of the request or record, 422 for the gate's refusals and
/// `future_dated`, 404, 405, and 503 when the node cannot write.
pub fn status_of(code: &ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Record(RecordCode::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Gate(_) | ErrorCode::Api(ApiCode::FutureDated) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ErrorCode::Api(ApiCode::NotFound) => StatusCode::NOT_FOUND,
        ErrorCode::Api(ApiCode::MethodNotAllowed) => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Api(
            ApiCode::StorageError
            | ApiCode::ShuttingDown
            | ApiCode::NotReady
            | ApiCode::Timeout
            | ApiCode::NotWitnessed,
        ) => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Api(ApiCode::Observer) => StatusCode::FORBIDDEN,
        ErrorCode::Api(ApiCode::RateLimited) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> HttpError {
        HttpError {
            status: status_of(&error.code),
            error,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        json(self.status, &ErrorBody { error: self.error })
    }
}

type ApiResult = Result<Response, HttpError>;

/// `value` as a JSON answer.
fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = raw_json(bytes);
            *resp.status_mut() = status;
            resp
        }
        // The views hold strings and integers only.
        Err(e) => {
            tracing::error!(error = %e, "an answer did not serialise");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Bytes that are JSON already (records exactly as signed).
fn raw_json(bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Path parameters, with axum's plain-text rejection (e.g. invalid UTF-8 in a
/// percent-encoded segment) turned into a JSON `invalid_path` error.
struct PathArgs<T>(T);

impl<S, T> axum::extract::FromRequestParts<S> for PathArgs<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, HttpError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(PathArgs(v)),
            Err(e) => Err(ApiError::new(ApiCode::InvalidPath, e.body_text()).into()),
        }
    }
}

/// The node's router: the API, `/metrics` and the web catalog.
pub fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/v1/records", get(records::list).post(records::submit))
        .route("/v1/records/{id}", get(records::get))
        .route("/v1/export", get(records::export))
        .route("/v1/offers", get(reads::search))
        .route("/v1/offers/{provider}/{offer_id}", get(reads::offer))
        .route("/v1/providers", get(reads::providers))
        .route("/v1/providers/{did}", get(reads::provider))
        .route("/v1/standards", get(reads::standards))
        .route("/v1/authors/{did}", get(reads::author))
        .route("/v1/status", get(reads::status))
        .route("/v1/checkpoint", get(reads::checkpoint))
        .route("/v1/survey", get(reads::survey))
        .route(
            "/v1/checkpoints",
            axum::routing::post(reads::judge_checkpoint),
        )
        .route("/v1/demand", get(exchange::demand))
        .route("/v1/requests", get(exchange::requests))
        .route("/v1/requests/{id}", get(exchange::request))
        .route("/v1/agreements", get(exchange::agreements))
        .route("/v1/municipalities", get(exchange::municipalities))
        .route(
            "/v1/municipalities/{ags}",
            get(exchange::municipality_detail),
        )
        .route("/v1/transition", get(exchange::transition))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(reads::healthz))
        .route("/readyz", get(reads::readyz))
        .merge(crate::catalog::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), timeout))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            limits::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            count_requests,
        ))
        .with_state(ctx)
}

/// The endpoints supervisors and monitoring call: neither rate-limited nor
/// timed out, so that they answer whatever clients do.
fn operational(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Answers 503 `timeout` when a request's answer has not started within
/// `request_timeout_secs` (a streamed body, once started, is not cut).
async fn timeout(
    AxState(ctx): AxState<Ctx>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match ctx.request_timeout {
        Some(limit) if !operational(req.uri().path()) => {
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => HttpError::from(ApiError::new(
                    ApiCode::Timeout,
                    format!("no answer within {} s", limit.as_secs()),
                ))
                .into_response(),
            }
        }
        _ => next.run(req).await,
    }
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

/// An unknown path: the catalog's German error page for a browser (a client
/// that accepts HTML, outside `/v1`), else the API's JSON error.
async fn not_found(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !uri.path().starts_with("/v1") {
        return crate::catalog::not_found_page();
    }
    HttpError::from(ApiError::not_found(
        "no such endpoint; the API is under /v1",
    ))
    .into_response()
}

async fn method_not_allowed() -> HttpError {
    ApiError::new(
        ApiCode::MethodNotAllowed,
        "method not allowed on this endpoint",
    )
    .into()
}

/// Parses the query string of `GET /v1/offers` exactly as the endpoint does, for
/// fuzzing: `Ok`, or the status and stable code of the error the API would answer.
pub fn check_search_query(raw: &str) -> Result<(), (u16, String)> {
    kx_api::SearchQuery::parse(raw).map(|_| ()).map_err(|e| {
        let e = HttpError::from(e);
        (e.status.as_u16(), e.error.code.to_string())
    })
}
