//! The node's status: its registry, its digest and its peers.

use crate::node::Node;
use crate::p2p::PeerInfo;
use kx_api::views::{PeerView, ReadyView, StatusView, SyncView};
use kx_protocol::Timestamp;
use std::time::Duration;

/// The status of `node`, whose swarm has `peer_id` and is connected to
/// `peers`; `observer` if it accepts no submissions.
pub fn status(
    node: &Node,
    peer_id: String,
    peers: Vec<PeerInfo>,
    observer: bool,
    alarms: Vec<crate::checkpoints::Alarm>,
) -> StatusView {
    let alarms = alarms
        .into_iter()
        .map(|a| kx_api::views::AlarmView {
            origin: a.origin,
            at: a.at,
            reason: a.reason,
            earlier: a.earlier,
            later: a.later,
        })
        .collect();
    // In sync: every connected peer was reconciled to the end and had nothing new.
    let in_sync = peers.iter().all(|p| {
        p.last_sync
            .as_ref()
            .is_some_and(|s| s.complete && s.received == 0)
    });
    let peers = peers
        .into_iter()
        .map(|p| PeerView {
            peer_id: p.peer_id,
            address: p.address,
            agent: p.agent,
            last_sync: p.last_sync.map(|s| SyncView {
                at: s.at,
                received: s.received,
                complete: s.complete,
            }),
        })
        .collect();
    // Digest, counts and head from one read of the registry.
    node.with_digest(|r, digest| {
        let state = r.state();
        StatusView {
            federation: node.federation(),
            peer_id,
            records: r.len(),
            state_digest: digest,
            governance_head: r.governance_head(),
            stewards: state.stewards.iter().cloned().collect(),
            threshold: state.threshold,
            observers: state.observers.clone(),
            witnesses: state.witnesses.clone(),
            quorum: state.quorum,
            providers: state.providers.len(),
            offers: state.offers.len(),
            in_sync,
            observer,
            peers,
            alarms,
        }
    })
}

/// The node's checkpoint of its set now, signed with `key` (its node key),
/// with the witnesses' cosignatures it has.
pub fn checkpoint(
    node: &Node,
    checkpoints: &crate::checkpoints::Checkpoints,
    key: &kx_protocol::SecretKey,
) -> kx_api::views::CheckpointView {
    let (note, frontier) = checkpoints.current(node, key);
    kx_api::views::CheckpointView {
        note,
        frontier: frontier.to_json(),
    }
}

/// Whether `node` is ready to serve as a replica: its store takes writes,
/// each connected peer was
/// reconciled to the end within `bound` before `now` and had nothing new,
/// and at least one peer is connected unless the node runs `alone` (no
/// bootstrap peers configured). Else why not.
pub fn readiness(
    node: &Node,
    peers: &[PeerInfo],
    alone: bool,
    now: Timestamp,
    bound: Duration,
) -> Result<ReadyView, String> {
    if node.storage_failed() {
        return Err("the store failed a write; restart the node".to_owned());
    }
    if peers.is_empty() && !alone {
        return Err("no peer connected yet".to_owned());
    }
    let since = now.unix() - i64::try_from(bound.as_secs()).unwrap_or(i64::MAX);
    let behind = peers
        .iter()
        .filter(|p| {
            !p.last_sync
                .as_ref()
                .is_some_and(|s| s.complete && s.received == 0 && s.at.unix() >= since)
        })
        .count();
    if behind > 0 {
        return Err(format!(
            "{behind} of {} peers not yet reconciled to the end with nothing new in the last {} s",
            peers.len(),
            bound.as_secs()
        ));
    }
    Ok(ReadyView {
        ready: true,
        records: node.with_registry(|r| r.len()),
        peers: peers.len(),
    })
}
