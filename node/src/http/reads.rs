//! Reading the registry: offers, providers, standards, authors and the node's
//! status.
//! Each handler parses its request, asks the read model and serialises the
//! view.

use super::{ApiResult, PathArgs, json};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use kx_api::query::{AtQuery, parse_did, parse_offer_id};
use kx_api::views::HealthView;
use kx_api::{ApiCode, ApiError, OfferQuery, SearchQuery};

/// `GET /v1/offers`.
pub(super) async fn search(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = SearchQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    let page = view::offers::search(&ctx.node, &q.filters, at, q.cursor.as_ref(), q.limit);
    Ok(json(StatusCode::OK, &page))
}

/// `GET /v1/offers/{provider}/{offer_id}`.
pub(super) async fn offer(
    AxState(ctx): AxState<Ctx>,
    PathArgs((provider, offer_id)): PathArgs<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = OfferQuery::parse(&q.unwrap_or_default())?;
    let did = parse_did(&provider)?;
    let offer_id = parse_offer_id(&offer_id)?;
    let at = q.at.unwrap_or_else(clock::now);
    match view::offers::offer(
        &ctx.node,
        &did,
        &offer_id,
        at,
        q.municipality,
        q.wants_cost().then_some(&q.figures),
        q.history,
    ) {
        Some(v) => Ok(json(StatusCode::OK, &v)),
        None => Err(ApiError::not_found(format!("no offer {offer_id} of {did}")).into()),
    }
}

/// `GET /v1/providers`.
pub(super) async fn providers(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    AtQuery::parse(&q.unwrap_or_default())?;
    Ok(json(StatusCode::OK, &view::providers::list(&ctx.node)))
}

/// `GET /v1/standards`.
pub(super) async fn standards(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    let q = AtQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    Ok(json(StatusCode::OK, &view::standards::list(&ctx.node, at)))
}

/// `GET /v1/providers/{did}`.
pub(super) async fn provider(
    AxState(ctx): AxState<Ctx>,
    PathArgs(did): PathArgs<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = AtQuery::parse(&q.unwrap_or_default())?;
    let did = parse_did(&did)?;
    let at = q.at.unwrap_or_else(clock::now);
    match view::providers::detail(&ctx.node, &did, at) {
        Some(v) => Ok(json(StatusCode::OK, &v)),
        None => Err(ApiError::not_found(format!("{did} is not an admitted provider")).into()),
    }
}

/// `GET /v1/authors/{did}`.
pub(super) async fn author(
    AxState(ctx): AxState<Ctx>,
    PathArgs(did): PathArgs<String>,
) -> ApiResult {
    let did = parse_did(&did)?;
    Ok(json(
        StatusCode::OK,
        &view::providers::author(&ctx.node, &did),
    ))
}

/// `GET /v1/checkpoint`.
pub(super) async fn checkpoint(AxState(ctx): AxState<Ctx>) -> ApiResult {
    Ok(json(
        StatusCode::OK,
        &view::status::checkpoint(&ctx.node, &ctx.checkpoints, &ctx.checkpoint_key),
    ))
}

/// `GET /v1/survey`: a market-survey bundle, as a file to keep.
pub(super) async fn survey(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> ApiResult {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let q = kx_api::SurveyQuery::parse(&q.unwrap_or_default())?;
    let at = q.at.unwrap_or_else(clock::now);
    let ags = q
        .filters
        .municipality
        .map(|m| m.ags.clone())
        .unwrap_or_default();
    let made = tokio::task::spawn_blocking(move || {
        view::survey::bundle(
            &ctx.node,
            &ctx.checkpoints,
            &ctx.checkpoint_key,
            &q.filters,
            at,
        )
    })
    .await
    .map_err(|e| ApiError::new(ApiCode::ShuttingDown, e.to_string()))?;
    let (bytes, _) = match made {
        Ok(made) => made,
        Err(e) => {
            let mut resp = super::HttpError::from(e).into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return Ok(resp);
        }
    };
    let mut resp = super::raw_json(bytes);
    let day: String = at.to_string().chars().take(10).collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"markterkundung-{ags}-{day}.json\""
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Largest body of `POST /v1/checkpoints` (a frontier names every log).
const MAX_CHECKPOINT_BODY: usize = 16 * 1024 * 1024;

/// `POST /v1/checkpoints`: judges another node's signed checkpoint.
pub(super) async fn judge_checkpoint(
    AxState(ctx): AxState<Ctx>,
    body: axum::body::Body,
) -> ApiResult {
    use kx_api::views::{CheckpointStatus, CheckpointSubmit, CheckpointVerdictView};
    use kx_protocol::checkpoint::CheckpointCode;
    let bytes = axum::body::to_bytes(body, MAX_CHECKPOINT_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                kx_api::RecordCode::TooLarge,
                format!("request body over {MAX_CHECKPOINT_BODY} bytes"),
            )
        })?;
    let malformed = |m: String| ApiError::new(CheckpointCode::Malformed, m);
    let submit: CheckpointSubmit = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("not {{\"note\", \"frontier\"}}: {e}")))?;
    let (cp, frontier) =
        crate::checkpoints::read_handed(&ctx.node, &submit.note, &submit.frontier)?;
    let verdict = ctx
        .checkpoints
        .judge(&ctx.node, &cp, &submit.note, frontier, clock::now());
    use crate::checkpoints::Verdict;
    let (status, reason) = match verdict {
        Verdict::Recorded => (CheckpointStatus::Recorded, None),
        Verdict::Known => (CheckpointStatus::Known, None),
        Verdict::Older => (CheckpointStatus::Older, None),
        Verdict::NotHeld => (CheckpointStatus::NotHeld, None),
        Verdict::Alarm(r) => (CheckpointStatus::Alarm, Some(r)),
    };
    Ok(json(
        StatusCode::OK,
        &CheckpointVerdictView { status, reason },
    ))
}

/// `GET /v1/status`.
pub(super) async fn status(AxState(ctx): AxState<Ctx>) -> ApiResult {
    let peers = ctx.p2p.peers().await;
    let v = view::status::status(
        &ctx.node,
        ctx.p2p.peer_id().to_string(),
        peers,
        ctx.observer,
        ctx.checkpoints.alarms(),
    );
    Ok(json(StatusCode::OK, &v))
}

/// `GET /healthz`: the process serves HTTP.
pub(super) async fn healthz() -> ApiResult {
    Ok(json(StatusCode::OK, &HealthView { alive: true }))
}

/// `GET /readyz`: the store is open (the node runs on it) and the node is
/// caught up with its peers: each reconciled to the end with nothing new
/// within three sync intervals (at least 30 s).
pub(super) async fn readyz(AxState(ctx): AxState<Ctx>) -> ApiResult {
    match ready(&ctx).await {
        Ok(v) => Ok(json(StatusCode::OK, &v)),
        Err(why) => Err(ApiError::new(ApiCode::NotReady, why).into()),
    }
}

/// The readiness `/readyz` answers and `/metrics` exports.
pub(super) async fn ready(ctx: &Ctx) -> Result<kx_api::views::ReadyView, String> {
    let peers = ctx.p2p.peers().await;
    let bound = (ctx.sync_interval * 3).max(std::time::Duration::from_secs(30));
    view::status::readiness(&ctx.node, &peers, ctx.alone, clock::now(), bound)
}
