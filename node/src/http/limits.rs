//! Per-client rate limits (governor's keyed GCRA limiters): one for
//! submissions, one for every other request but health, readiness, metrics
//! and static files. A client is the connection's IP address, or with
//! `forwarded_for` the last address in `X-Forwarded-For` (the one the
//! reverse proxy in front appended). Over its limit a client gets 429
//! `rate_limited` with `Retry-After`; other clients are not affected.

use super::HttpError;
use crate::ctx::Ctx;
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use kx_api::{ApiCode, ApiError};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;

/// The node's limiters.
#[derive(Debug)]
pub struct Limits {
    submits: Option<DefaultKeyedRateLimiter<IpAddr>>,
    queries: Option<DefaultKeyedRateLimiter<IpAddr>>,
    forwarded_for: bool,
}

fn limiter(per_sec: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    let rate = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(per_sec.saturating_mul(4)).unwrap_or(rate);
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl Limits {
    /// Limits of `submits` and `queries` per second and client (0: none).
    pub fn new(submits: u32, queries: u32, forwarded_for: bool) -> Limits {
        Limits {
            submits: limiter(submits),
            queries: limiter(queries),
            forwarded_for,
        }
    }

    /// Forgets clients that have been quiet long enough to be back at their
    /// full allowance, so that the tables stay as small as the set of active
    /// clients.
    pub fn forget_quiet(&self) {
        for l in [&self.submits, &self.queries].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let forwarded = self
            .forwarded_for
            .then(|| headers.get("x-forwarded-for")?.to_str().ok())
            .flatten()
            .and_then(|v| v.rsplit(',').next()?.trim().parse().ok());
        forwarded
            .or(peer)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// The middleware: counts the request against its client's limit.
pub(super) async fn limit(AxState(ctx): AxState<Ctx>, req: Request, next: Next) -> Response {
    let limits = &ctx.limits;
    let path = req.uri().path();
    let which = if req.method() == Method::POST && path == "/v1/records" {
        limits.submits.as_ref()
    } else if super::operational(path) || path.starts_with("/static/") {
        None
    } else {
        limits.queries.as_ref()
    };
    if let Some(l) = which {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client = limits.client(peer, req.headers());
        if let Err(not_until) = l.check_key(&client) {
            ctx.node
                .metrics()
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            let mut resp = HttpError::from(ApiError::new(
                ApiCode::RateLimited,
                format!("too many requests from {client}; try again in {secs} s"),
            ))
            .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return resp;
        }
    }
    next.run(req).await
}
