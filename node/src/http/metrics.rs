//! `/metrics`: the node's counters and gauges in the Prometheus text
//! exposition format 0.0.4, all prefixed `kx_`.

use crate::ctx::Ctx;
use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::sync::atomic::Ordering;

pub(super) async fn metrics(AxState(ctx): AxState<Ctx>) -> Response {
    let m = ctx.node.metrics();
    let net = ctx.p2p.stats().await;
    let peers = net.peers;
    let ready = super::reads::ready(&ctx).await.is_ok();
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
                .map(|(c, n)| (format!("{{code=\"{}\"}}", c.as_str()), *n))
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
        "kx_http_rate_limited_total",
        "HTTP requests refused over a client's rate limit (429).",
        "counter",
        vec![(String::new(), get(&m.rate_limited))],
    );
    line(
        "kx_checkpoint_alarms_total",
        "Nodes found to have signed two checkpoints that cannot both be true (a fork).",
        "counter",
        vec![(String::new(), get(&m.checkpoint_alarms))],
    );
    line(
        "kx_checkpoints_cosigned_total",
        "Other nodes' checkpoints this node cosigned as a witness.",
        "counter",
        vec![(String::new(), get(&m.checkpoints_cosigned))],
    );
    line(
        "kx_records_pruned_total",
        "Records dropped because the stewards cut them off (revocation or member.rekey).",
        "counter",
        vec![(String::new(), get(&m.pruned))],
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
    line(
        "kx_ready",
        "1 when caught up with the peers (as GET /readyz), else 0.",
        "gauge",
        vec![(String::new(), u64::from(ready))],
    );
    line(
        "kx_storage_failed",
        "1 after a failed write to the store: no more writes until restarted.",
        "gauge",
        vec![(String::new(), u64::from(ctx.node.storage_failed()))],
    );
    line(
        "kx_observer",
        "1 on an observer node (accepts no submissions).",
        "gauge",
        vec![(String::new(), u64::from(ctx.observer))],
    );
    let mut resp = Response::new(Body::from(out));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}
