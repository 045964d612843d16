//! The libp2p side of the node: one task owns the `Swarm`; the rest of the node
//! talks to it through a cloneable [`P2p`] handle over bounded channels.
//!
//! - transport: TCP + noise + yamux;
//! - identify (protocol version names the federation: peers of another federation
//!   are disconnected and kept away) and ping;
//! - gossipsub on the federation's topic, with manual validation: a message is
//!   forwarded only after its record was verified and stored;
//! - request-response `/kx/sync/2` for anti-entropy (range reconciliation, fetch)
//!   and peer exchange (discovery beyond the bootstrap peers);
//! - a block list for misbehaving peers.
//!
//! `specs/sync.md` describes all of it for other implementations.
//!
//! Files: `codec.rs` (the `/kx/sync/2` wire on a stream), `task.rs` (the swarm
//! task: connections, peers, bans, gossip, answering requests) and `session.rs`
//! (one reconciliation with one peer: ranges, fetches, ingest).

mod codec;
mod session;
mod task;

pub use codec::SyncCodec;

use crate::node::Node;
use anyhow::{Context, Result};
use futures::StreamExt;
use kx_protocol::sync::SyncResponse;
use kx_protocol::{Hash32, RecordCode, RejectCode, VerifiedRecord};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, allow_block_list, gossipsub, identify, noise, ping, tcp,
    yamux,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use task::{Behaviour, Task};
use tokio::sync::{mpsc, oneshot, watch};

/// Stream protocol of anti-entropy and peer exchange.
pub const SYNC_PROTOCOL: &str = "/kx/sync/2";
/// Fetch requests a reconciliation keeps in flight.
pub const FETCHES_IN_FLIGHT: usize = 4;
/// Fetched batches a reconciliation verifies and commits at once; more are not
/// asked for until one is done, so a slow disk holds the peer back.
pub const BATCHES_INGESTING: usize = 4;

/// Records per writer job when refused records are offered again.
const RETRY_JOB: usize = 2048;
/// Refused records a reconciliation keeps to offer again at its end; more are
/// dropped (the next reconciliation fetches them if they can count by then).
const MAX_RETRY: usize = 4096;
/// The refusal of a record of another federation: its sender is not a peer of
/// this federation, and is scored down.
const WRONG_FEDERATION: RejectCode = RejectCode::Record(RecordCode::WrongFederation);

/// Largest gossip message and record answer element: one record.
pub const MAX_GOSSIP_BYTES: usize = 70 * 1024;

/// The gossipsub topic of a federation.
pub fn topic(federation: &Hash32) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("kx/1/{federation}/records"))
}

/// The gossipsub topic of a federation's checkpoints and cosignatures
/// (`specs/checkpoints.md` 7).
pub fn checkpoint_topic(federation: &Hash32) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("kx/1/{federation}/checkpoints"))
}

/// The node's checkpoints, and the key it signs (and, as a witness, cosigns)
/// them with.
pub type CheckpointKeeping = (
    Arc<crate::checkpoints::Checkpoints>,
    Arc<kx_protocol::SecretKey>,
);

/// The identify protocol version of a federation.
pub fn protocol_version(federation: &Hash32) -> String {
    format!("/kx/1/{federation}")
}

/// Network settings (from the node configuration).
#[derive(Debug, Clone)]
pub struct NetConfig {
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub sync_interval: Duration,
    pub heartbeat: Duration,
    pub ban_threshold: u32,
    pub ban_duration: Duration,
    pub max_peers: usize,
    /// Closed federation: only bootstrap peers and nodes declared in admitted
    /// providers' profiles may stay connected.
    pub closed: bool,
}

/// The last reconciliation with a peer.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// When it finished.
    pub at: kx_protocol::Timestamp,
    /// Records fetched and stored.
    pub received: usize,
    /// True if it ran to the end (no range left open).
    pub complete: bool,
}

/// A connected peer (`/v1/status` shows it).
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub peer_id: String,
    pub address: String,
    pub agent: Option<String>,
    pub last_sync: Option<SyncReport>,
}

/// Network counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct NetStats {
    pub peers: usize,
    pub banned: usize,
    pub reconciliations: u64,
    pub sync_bytes_in: u64,
}

enum Command {
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Stats(oneshot::Sender<NetStats>),
    Publish(Vec<u8>),
    /// A message of the checkpoint topic (a witness's cosignature).
    PublishCheckpoint(Vec<u8>),
    Validated {
        id: gossipsub::MessageId,
        source: PeerId,
        acceptance: gossipsub::MessageAcceptance,
        invalid: bool,
    },
    Respond(ResponseChannel<SyncResponse>, SyncResponse),
    Ingested {
        peer: PeerId,
        stored: usize,
        invalid: usize,
        retry: Vec<VerifiedRecord>,
        /// The ids the batch's fetch asked for, released now.
        claimed: Vec<Hash32>,
    },
}

/// Handle to the swarm task.
#[derive(Debug, Clone)]
pub struct P2p {
    cmds: mpsc::Sender<Command>,
    peer_id: PeerId,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl P2p {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The currently connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Command::Peers(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Network counters.
    pub async fn stats(&self) -> NetStats {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Command::Stats(tx)).await.is_err() {
            return NetStats::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Publishes a newly stored record on the federation's topic.
    pub async fn publish(&self, rec: &VerifiedRecord) {
        let _ = self
            .cmds
            .send(Command::Publish(rec.canonical_json().to_vec()))
            .await;
    }
}

/// The node key as the key its checkpoints are signed with (the same Ed25519
/// key: `specs/checkpoints.md` 2).
pub fn checkpoint_key(key: &Keypair) -> Result<kx_protocol::SecretKey> {
    let ed = key
        .clone()
        .try_into_ed25519()
        .context("the node key is not an Ed25519 key")?;
    let seed: [u8; 32] = ed
        .secret()
        .as_ref()
        .try_into()
        .context("an Ed25519 secret key of 32 bytes")?;
    kx_protocol::SecretKey::from_seed(seed).context("the node key as a checkpoint key")
}

/// Reads the node key from `path`, or creates it (mode 0600).
pub fn load_or_create_key(path: &Path) -> Result<Keypair> {
    if path.exists() {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        return Keypair::from_protobuf_encoding(&bytes)
            .with_context(|| format!("{} is not a node key", path.display()));
    }
    let key = Keypair::generate_ed25519();
    let bytes = key.to_protobuf_encoding().context("encode node key")?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    Ok(key)
}

fn message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    // The record id would need a parse; the hash of the data names the same bytes.
    gossipsub::MessageId::from(kx_protocol::record::sha256(&m.data).to_hex())
}

/// Starts the swarm, waits until every listen address is bound, and returns the
/// handle and the actual listen addresses (each ending in `/p2p/<peer id>`).
pub async fn start(
    key: Keypair,
    node: Arc<Node>,
    cfg: NetConfig,
    checkpoints: CheckpointKeeping,
    shutdown: watch::Receiver<bool>,
) -> Result<(P2p, Vec<Multiaddr>)> {
    let peer_id = key.public().to_peer_id();
    let federation = node.federation();
    let heartbeat = cfg.heartbeat;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("tcp transport")?
        .with_behaviour(
            |k| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let gcfg = gossipsub::ConfigBuilder::default()
                    .heartbeat_interval(heartbeat)
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    .validate_messages()
                    .message_id_fn(message_id)
                    .max_transmit_size(MAX_GOSSIP_BYTES)
                    .build()?;
                let mut gossipsub = gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(k.clone()),
                    gcfg,
                )?;
                // Peer scoring: every rejected (invalid) message lowers the sender's
                // score, so gossipsub itself stops meshing with a peer that keeps
                // sending garbage. Two default penalties are off: the mesh
                // delivery quota (20 messages per window once a peer is 5 s in
                // the mesh) would graylist every honest peer of a federation that
                // publishes a few offers a day, and the IP colocation penalty would
                // do the same to providers whose nodes share an address (one data
                // centre, NAT, loopback). Membership is decided by the stewards, not
                // by addresses; reconciliation repairs whatever gossip misses.
                let mut params = gossipsub::PeerScoreParams {
                    ip_colocation_factor_weight: 0.0,
                    ..gossipsub::PeerScoreParams::default()
                };
                params.topics.insert(
                    topic(&federation).hash(),
                    gossipsub::TopicScoreParams {
                        topic_weight: 1.0,
                        mesh_message_deliveries_weight: 0.0,
                        mesh_failure_penalty_weight: 0.0,
                        invalid_message_deliveries_weight: -100.0,
                        invalid_message_deliveries_decay: 0.5,
                        ..gossipsub::TopicScoreParams::default()
                    },
                );
                gossipsub.with_peer_score(params, gossipsub::PeerScoreThresholds::default())?;
                let codec = SyncCodec;
                let sync = request_response::Behaviour::with_codec(
                    codec,
                    [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(30)),
                );
                Ok(Behaviour {
                    identify: identify::Behaviour::new(
                        identify::Config::new(protocol_version(&federation), k.public())
                            .with_agent_version(format!("kx-node/{}", env!("CARGO_PKG_VERSION"))),
                    ),
                    ping: ping::Behaviour::default(),
                    gossipsub,
                    sync,
                    blocked: allow_block_list::Behaviour::default(),
                })
            },
        )
        .context("behaviour")?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic(&federation))
        .context("subscribe")?;
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&checkpoint_topic(&federation))
        .context("subscribe")?;
    for addr in &cfg.listen {
        swarm
            .listen_on(addr.clone())
            .with_context(|| format!("listen on {addr}"))?;
    }
    let mut bound: Vec<Multiaddr> = Vec::new();
    let mut pending: usize = cfg.listen.len();
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    while pending > 0 {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::NewListenAddr { address, .. } => {
                    bound.push(address.with(libp2p::multiaddr::Protocol::P2p(peer_id)));
                    pending = pending.saturating_sub(1);
                }
                SwarmEvent::ListenerError { error, .. } => {
                    anyhow::bail!("p2p listener failed: {error}");
                }
                _ => {}
            },
            _ = &mut deadline => anyhow::bail!("p2p listeners did not bind within 10 s"),
        }
    }
    let (tx, rx) = mpsc::channel(1024);
    let handle = P2p {
        cmds: tx.clone(),
        peer_id,
    };
    let task = Task {
        swarm,
        node,
        federation,
        cfg,
        cmds_tx: tx,
        peers: BTreeMap::new(),
        banned: BTreeMap::new(),
        outbound: BTreeMap::new(),
        sessions: BTreeMap::new(),
        claimed: Default::default(),
        stats: NetStats::default(),
        checkpoints,
    };
    tokio::spawn(task.run(rx, shutdown));
    Ok((handle, bound))
}
