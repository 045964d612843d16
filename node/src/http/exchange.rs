//! The exchange: demand, requests, agreements, municipalities and the
//! transition view. Each
//! handler parses its request, asks the read model and serialises the view.

use super::{ApiResult, PathArgs, json};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use kx_api::ApiError;
use kx_api::exchange::{AgreementsQuery, DemandQuery, MunicipalitiesQuery, RequestsQuery};
use kx_api::query::{AtQuery, municipality, parse_record_id};
use kx_api::transition::TransitionQuery;

/// `GET /v1/demand`.
pub(super) async fn demand(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = DemandQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    Ok(json(
        StatusCode::OK,
        &view::exchange::demands(&ctx.node, &q, at),
    ))
}

/// `GET /v1/requests`.
pub(super) async fn requests(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = RequestsQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    Ok(json(
        StatusCode::OK,
        &view::exchange::requests(&ctx.node, &q, at),
    ))
}

/// `GET /v1/requests/{id}`.
pub(super) async fn request(
    AxState(ctx): AxState<Ctx>,
    PathArgs(id): PathArgs<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = AtQuery::parse(&q.unwrap_or_default())?;
    let id = parse_record_id(&id)?;
    let at = q.at.unwrap_or_else(clock::now);
    match view::exchange::request(&ctx.node, &id, at) {
        Some(v) => Ok(json(StatusCode::OK, &v)),
        None => Err(ApiError::not_found(format!("no request {id} counts here")).into()),
    }
}

/// `GET /v1/agreements`.
pub(super) async fn agreements(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = AgreementsQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    Ok(json(
        StatusCode::OK,
        &view::exchange::agreements(&ctx.node, &q, at),
    ))
}

/// `GET /v1/municipalities`.
pub(super) async fn municipalities(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = MunicipalitiesQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    let region = q.region.as_ref().map(|r| r.as_str());
    Ok(json(
        StatusCode::OK,
        &view::municipalities::list(&ctx.node, region, false, at),
    ))
}

/// `GET /v1/municipalities/{ags}` (an AGS or a name).
pub(super) async fn municipality_detail(
    AxState(ctx): AxState<Ctx>,
    PathArgs(which): PathArgs<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = AtQuery::parse(&q.unwrap_or_default())?;
    let m = municipality(&which)?;
    let at = q.at.unwrap_or_else(clock::now);
    Ok(json(
        StatusCode::OK,
        &view::municipalities::detail(&ctx.node, m, at),
    ))
}

/// `GET /v1/transition`.
pub(super) async fn transition(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = TransitionQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    Ok(json(
        StatusCode::OK,
        &view::transition::transition(&ctx.node, q.category.as_ref(), at),
    ))
}
