//! The node's status: its registry, its digest and its peers.

use crate::node::Node;
use crate::p2p::PeerInfo;
use kx_api::views::{PeerView, StatusView, SyncView};

/// The status of `node`, whose swarm has `peer_id` and is connected to `peers`.
pub fn status(node: &Node, peer_id: String, peers: Vec<PeerInfo>) -> StatusView {
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
            providers: state.providers.len(),
            offers: state.offers.len(),
            in_sync,
            peers,
        }
    })
}
