//! What every HTTP handler, of the API and of the catalog, is given.

use crate::node::Node;
use crate::p2p::P2p;
use std::sync::Arc;

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub node: Arc<Node>,
    pub p2p: P2p,
    /// Largest request body accepted (`max_body_bytes`).
    pub max_body: usize,
    /// An observer: submissions are refused (`observer` in config.toml).
    pub observer: bool,
    /// No bootstrap peers are configured: ready without a peer.
    pub alone: bool,
    /// Between reconciliations with a peer (`sync_interval_secs`).
    pub sync_interval: std::time::Duration,
    /// Per-client rate limits.
    pub limits: Arc<crate::http::limits::Limits>,
    /// Longest a request may take until its answer starts (`None`: no limit).
    pub request_timeout: Option<std::time::Duration>,
    /// Signs the node's checkpoints: its libp2p identity key (`node.key`).
    pub checkpoint_key: Arc<kx_protocol::SecretKey>,
    /// Other nodes' checkpoints judged so far, and the alarms raised.
    pub checkpoints: Arc<crate::checkpoints::Checkpoints>,
}
