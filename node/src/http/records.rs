//! Signed records: submit one, list all by id, get one exactly as signed.

use super::{ApiResult, HttpError, json, raw_json};
use crate::ctx::Ctx;
use crate::http::PathArgs;
use crate::node::{IngestError, Source};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use kx_api::query::{RecordsQuery, parse_record_id};
use kx_api::views::{RecordsPage, SubmitResult, SubmitStatus};
use kx_api::{ApiCode, ApiError, RecordCode};
use kx_protocol::VerifiedRecord;
use kx_protocol::registry::{Admitted, Rejection};
use serde_json::value::RawValue;

fn storage(e: impl std::fmt::Display) -> HttpError {
    ApiError::new(ApiCode::StorageError, e.to_string()).into()
}

/// `POST /v1/records`: parse, verify, gate, store durably, then gossip.
pub(super) async fn submit(AxState(ctx): AxState<Ctx>, body: Body) -> ApiResult {
    if ctx.observer {
        return Err(ApiError::new(
            ApiCode::Observer,
            "this node is an observer: it serves the registry but accepts no submissions; \
             submit to a provider's node",
        )
        .into());
    }
    let bytes: Bytes = axum::body::to_bytes(body, ctx.max_body)
        .await
        .map_err(|_| {
            ApiError::new(
                RecordCode::TooLarge,
                format!("request body over {} bytes", ctx.max_body),
            )
        })?;
    let rec = VerifiedRecord::from_bytes(&bytes).map_err(|e| {
        ctx.node.metrics().reject(e.code());
        ApiError::from(e)
    })?;
    let id = rec.id();
    let copy = rec.clone();
    let status = match ctx.node.ingest(rec, Source::Http).await {
        Ok(Admitted::Known) => {
            let known = SubmitResult {
                id,
                status: SubmitStatus::Known,
            };
            return Ok(json(StatusCode::OK, &known));
        }
        Ok(Admitted::Held) => SubmitStatus::Held,
        Ok(Admitted::Equivocation) => SubmitStatus::Equivocation,
        Ok(Admitted::Stored) => SubmitStatus::Stored,
        // A record of another federation is the request's fault; the gate's
        // other refusals are judgements on a well-formed record.
        Err(IngestError::Rejected(r @ Rejection::Record(_))) => {
            return Err(ApiError::from(r).into());
        }
        Err(IngestError::Rejected(r)) => {
            return Err(HttpError::with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                r.into(),
            ));
        }
        Err(e) => return Err(ApiError::new(e.code(), e.to_string()).into()),
    };
    ctx.p2p.publish(&copy).await;
    Ok(json(StatusCode::CREATED, &SubmitResult { id, status }))
}

/// `GET /v1/records`: a page of records by id, exactly as stored.
pub(super) async fn list(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = RecordsQuery::parse(&q.unwrap_or_default())?;
    let page = ctx
        .node
        .store()
        .page(q.cursor.as_ref(), q.limit + 1)
        .map_err(storage)?;
    let more = page.len() > q.limit;
    let mut records = Vec::with_capacity(q.limit.min(page.len()));
    let mut last = None;
    for (id, bytes) in page.into_iter().take(q.limit) {
        let text = String::from_utf8(bytes).map_err(storage)?;
        records.push(RawValue::from_string(text).map_err(storage)?);
        last = Some(id);
    }
    let next_cursor = if more { last } else { None };
    Ok(json(
        StatusCode::OK,
        &RecordsPage {
            records,
            next_cursor,
        },
    ))
}

/// `GET /v1/records/{id}`: one record exactly as signed.
pub(super) async fn get(AxState(ctx): AxState<Ctx>, PathArgs(id): PathArgs<String>) -> ApiResult {
    let id = parse_record_id(&id)?;
    match ctx.node.store().get(&id) {
        Ok(Some(bytes)) => Ok(raw_json(bytes)),
        Ok(None) => Err(ApiError::not_found(format!("no record {id}")).into()),
        Err(e) => Err(storage(e)),
    }
}

/// `GET /v1/export`: every record in the order the node stored them, as a
/// backup file (`crate::backup`), streamed step by step.
pub(super) async fn export(
    AxState(ctx): AxState<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<axum::response::Response, HttpError> {
    kx_api::query::Params::parse(&q.unwrap_or_default(), &[])?;
    let node = ctx.node.clone();
    let total = node.store().len();
    let head = Bytes::from(crate::backup::header_line(node.federation(), total));
    let steps = futures::stream::unfold(
        (Some(head), None, total, node),
        |(head, after, mut left, node)| async move {
            if let Some(h) = head {
                return Some((Ok(h), (None, after, left, node)));
            }
            if left == 0 {
                return None;
            }
            match crate::backup::step(node.store(), after, &mut left) {
                Ok((bytes, last)) => Some((Ok(Bytes::from(bytes)), (None, last, left, node))),
                Err(e) => {
                    tracing::error!(error = %e, "export failed");
                    Some((
                        Err(std::io::Error::other(e.to_string())),
                        (None, after, 0, node),
                    ))
                }
            }
        },
    );
    let mut resp = axum::response::Response::new(Body::from_stream(steps));
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"kx-backup.jsonl\""),
    );
    Ok(resp)
}
