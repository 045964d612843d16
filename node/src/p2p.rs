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

use crate::node::{IngestError, Node, Source};
use anyhow::{Context, Result};
use futures::StreamExt;
use kx_protocol::registry::Admitted;
use kx_protocol::sync::{
    MAX_ADDRS, MAX_FETCH, MAX_PEERS, MAX_RANGES, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MAX_ROUNDS,
    PeerAddr, SyncRequest, SyncResponse,
};
use kx_protocol::{Did, Hash32, VerifiedRecord};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, gossipsub, identify, noise, ping,
    tcp, yamux,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
/// Largest gossip message and record answer element: one record.
pub const MAX_GOSSIP_BYTES: usize = 70 * 1024;

/// The `/kx/sync/2` wire: one binary message per stream each way
/// (`kx_protocol::sync` encodes and decodes; `specs/sync.md` 3.1). A message
/// that does not decode fails the stream, which the peer sees as an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

async fn read_message<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    use futures::AsyncReadExt as _;
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "sync message too large",
        ));
    }
    Ok(buf)
}

fn invalid(e: kx_protocol::sync::WireError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<SyncRequest> {
        let bytes = read_message(io, MAX_REQUEST_BYTES).await?;
        SyncRequest::decode(&bytes).map_err(invalid)
    }

    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<SyncResponse> {
        let bytes = read_message(io, MAX_RESPONSE_BYTES).await?;
        SyncResponse::decode(&bytes).map_err(invalid)
    }

    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> std::io::Result<()> {
        use futures::AsyncWriteExt as _;
        io.write_all(&req.encode()).await
    }

    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: SyncResponse,
    ) -> std::io::Result<()> {
        use futures::AsyncWriteExt as _;
        io.write_all(&resp.encode()).await
    }
}

/// Orders records for the gate: governance first (admissions before the offers
/// of the admitted), then each author's log in seq order.
fn ingest_order(recs: &mut [VerifiedRecord]) {
    fn key(r: &VerifiedRecord) -> (bool, &Did, u64) {
        let rr = r.record();
        (!rr.kind().is_governance(), &rr.author, rr.seq)
    }
    recs.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// The gossipsub topic of a federation.
pub fn topic(federation: &Hash32) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("kx/1/{federation}/records"))
}

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

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
}

/// The last reconciliation with a peer.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// When it finished (RFC 3339).
    pub at: String,
    /// Records fetched and stored.
    pub received: usize,
    /// True if it ran to the end (no range left open).
    pub complete: bool,
}

/// A connected peer, as reported by `/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub address: String,
    pub agent: Option<String>,
    pub last_sync: Option<SyncReport>,
}

/// Network counters for `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
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
        stats: NetStats::default(),
    };
    tokio::spawn(task.run(rx, shutdown));
    Ok((handle, bound))
}

#[derive(Debug, Default)]
struct PeerState {
    address: String,
    agent: Option<String>,
    listen: Vec<Multiaddr>,
    invalid: u32,
    last_sync: Option<SyncReport>,
    asked_peers: bool,
}

/// One reconciliation with one peer.
#[derive(Debug)]
struct Session {
    rounds: usize,
    to_fetch: VecDeque<Hash32>,
    ranges_open: bool,
    /// Ranges still to ask about (sent at most MAX_RANGES per request).
    open: VecDeque<kx_protocol::sync::Summary>,
    /// The ranges of the reconcile request in flight: only answers about these
    /// are taken.
    asked: Vec<kx_protocol::sync::Summary>,
    /// Fetch requests sent and not answered yet.
    fetch_in_flight: usize,
    received: usize,
    retry: Vec<VerifiedRecord>,
    ingesting: usize,
}

enum Outbound {
    Reconcile,
    Fetch,
    Peers,
}

struct Task {
    swarm: Swarm<Behaviour>,
    node: Arc<Node>,
    federation: Hash32,
    cfg: NetConfig,
    cmds_tx: mpsc::Sender<Command>,
    peers: BTreeMap<PeerId, PeerState>,
    banned: BTreeMap<PeerId, Instant>,
    outbound: BTreeMap<OutboundRequestId, Outbound>,
    sessions: BTreeMap<PeerId, Session>,
    stats: NetStats,
}

fn now_text() -> String {
    crate::http::now().to_string()
}

impl Task {
    async fn run(mut self, mut cmds: mpsc::Receiver<Command>, mut shutdown: watch::Receiver<bool>) {
        let bootstrap: Vec<(Multiaddr, Option<PeerId>)> = self
            .cfg
            .bootstrap
            .iter()
            .map(|a| {
                let id = a.iter().find_map(|p| match p {
                    libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                    _ => None,
                });
                (a.clone(), id)
            })
            .collect();
        let mut backoff = Duration::from_millis(250);
        let mut redial = tokio::time::interval(backoff);
        let mut sync_tick = tokio::time::interval(self.cfg.sync_interval);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = redial.tick() => {
                    let mut dialled = false;
                    for (addr, id) in &bootstrap {
                        let connected = id.is_some_and(|id| self.swarm.is_connected(&id));
                        let banned = id.is_some_and(|id| self.banned.contains_key(&id));
                        if !connected && !banned {
                            dialled = true;
                            if let Err(e) = self.swarm.dial(addr.clone()) {
                                tracing::debug!(%addr, error = %e, "dial failed");
                            }
                        }
                    }
                    // Back off while bootstrap peers stay unreachable, up to a minute.
                    backoff = if dialled { (backoff * 2).min(Duration::from_secs(60)) } else { Duration::from_millis(250) };
                    redial = tokio::time::interval_at(tokio::time::Instant::now() + backoff, backoff);
                }
                _ = sync_tick.tick() => self.tick(),
                cmd = cmds.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                ev = self.swarm.select_next_some() => self.event(ev),
            }
        }
        tracing::debug!("swarm stopped");
    }

    /// In a closed federation: is this peer a bootstrap peer or a node declared in
    /// the profile of an admitted provider in good standing?
    fn allowed(&self, peer: &PeerId) -> bool {
        if !self.cfg.closed {
            return true;
        }
        let is_bootstrap = self.cfg.bootstrap.iter().any(|a| {
            a.iter()
                .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(id) if id == *peer))
        });
        if is_bootstrap {
            return true;
        }
        let text = peer.to_string();
        self.node.with_state(|state| {
            state.providers.values().any(|p| {
                p.standing == kx_protocol::Standing::Active
                    && p.profile_body()
                        .is_some_and(|b| b.nodes.iter().any(|n| n.as_str() == text))
            })
        })
    }

    /// Periodic work: lift expired bans, reconcile with every peer, find peers.
    fn tick(&mut self) {
        if self.cfg.closed {
            let gone: Vec<PeerId> = self
                .peers
                .keys()
                .filter(|p| !self.allowed(p))
                .copied()
                .collect();
            for p in gone {
                tracing::info!(peer = %p, "closed federation: peer no longer declared; disconnecting");
                let _ = self.swarm.disconnect_peer_id(p);
                self.peers.remove(&p);
                self.sessions.remove(&p);
            }
        }
        let now = Instant::now();
        let expired: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in expired {
            self.banned.remove(&p);
            self.swarm.behaviour_mut().blocked.unblock_peer(p);
            tracing::info!(peer = %p, "ban lifted");
        }
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for p in peers {
            self.start_session(p);
            if self.peers.len() < self.cfg.max_peers {
                self.ask_peers(p);
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Peers(reply) => {
                let list = self
                    .peers
                    .iter()
                    .map(|(id, p)| PeerInfo {
                        peer_id: id.to_string(),
                        address: p.address.clone(),
                        agent: p.agent.clone(),
                        last_sync: p.last_sync.clone(),
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Command::Stats(reply) => {
                let mut s = self.stats.clone();
                s.peers = self.peers.len();
                s.banned = self.banned.len();
                let _ = reply.send(s);
            }
            // Alone, there is nobody to tell: skip building and signing a message.
            Command::Publish(_) if self.peers.is_empty() => {}
            Command::Publish(data) => {
                let t = topic(&self.federation);
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(t, data) {
                    tracing::debug!(error = %e, "publish");
                }
            }
            Command::Validated {
                id,
                source,
                acceptance,
                invalid,
            } => {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&id, &source, acceptance);
                if invalid {
                    self.misbehaved(source, 1, "invalid record by gossip");
                }
            }
            Command::Respond(ch, resp) => {
                let _ = self.swarm.behaviour_mut().sync.send_response(ch, resp);
            }
            Command::Ingested {
                peer,
                stored,
                invalid,
                retry,
            } => {
                if invalid > 0 {
                    self.misbehaved(peer, invalid as u32, "invalid records in a sync answer");
                }
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.received += stored;
                    s.retry.extend(retry);
                    s.ingesting = s.ingesting.saturating_sub(1);
                }
                self.advance(peer);
            }
        }
    }

    fn misbehaved(&mut self, peer: PeerId, n: u32, why: &str) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.invalid += n;
        tracing::debug!(%peer, invalid = p.invalid, why, "peer misbehaved");
        if p.invalid >= self.cfg.ban_threshold {
            self.ban(peer, why);
        }
    }

    fn ban(&mut self, peer: PeerId, why: &str) {
        tracing::warn!(%peer, why, "banning peer");
        self.banned
            .insert(peer, Instant::now() + self.cfg.ban_duration);
        self.swarm.behaviour_mut().blocked.block_peer(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        self.peers.remove(&peer);
        self.sessions.remove(&peer);
    }

    fn event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if !self.allowed(&peer_id) {
                    tracing::info!(peer = %peer_id, "closed federation: peer is not a declared node; disconnecting");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                let st = self.peers.entry(peer_id).or_default();
                st.address = endpoint.get_remote_address().to_string();
                tracing::info!(peer = %peer_id, "connected");
                self.start_session(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %peer_id, "disconnected");
                self.peers.remove(&peer_id);
                self.sessions.remove(&peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if info.protocol_version != protocol_version(&self.federation) {
                    self.ban(peer_id, "another federation");
                    return;
                }
                let first = self.peers.get(&peer_id).is_some_and(|p| !p.asked_peers);
                if let Some(p) = self.peers.get_mut(&peer_id) {
                    p.agent = Some(info.agent_version);
                    p.listen = info.listen_addrs;
                }
                if first {
                    self.ask_peers(peer_id);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.serve(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.answer(peer, request_id, response),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    peer, request_id, ..
                },
            )) => {
                if let Some(Outbound::Reconcile | Outbound::Fetch) =
                    self.outbound.remove(&request_id)
                {
                    self.finish(peer, false);
                }
            }
            _ => {}
        }
    }

    fn gossip(&mut self, source: PeerId, id: gossipsub::MessageId, msg: gossipsub::Message) {
        let node = self.node.clone();
        let tx = self.cmds_tx.clone();
        tokio::spawn(async move {
            let (acceptance, invalid) = match VerifiedRecord::from_bytes(&msg.data) {
                Err(e) => {
                    node.metrics().reject(e.code());
                    (gossipsub::MessageAcceptance::Reject, true)
                }
                Ok(rec) => match node.ingest(rec, Source::Gossip).await {
                    Ok(Admitted::Known) => (gossipsub::MessageAcceptance::Ignore, false),
                    Ok(_) => (gossipsub::MessageAcceptance::Accept, false),
                    Err(IngestError::Rejected(r)) if r.code() == "wrong_federation" => {
                        (gossipsub::MessageAcceptance::Reject, true)
                    }
                    // The trust rules depend on what a node knows; an honest peer
                    // may forward a record it could not judge yet.
                    Err(_) => (gossipsub::MessageAcceptance::Ignore, false),
                },
            };
            let _ = tx
                .send(Command::Validated {
                    id,
                    source,
                    acceptance,
                    invalid,
                })
                .await;
        });
    }

    /// Answers a sync request from `peer` (off the swarm task).
    fn serve(&mut self, peer: PeerId, req: SyncRequest, ch: ResponseChannel<SyncResponse>) {
        let fed = match &req {
            SyncRequest::Reconcile { federation, .. }
            | SyncRequest::Fetch { federation, .. }
            | SyncRequest::Peers { federation } => *federation,
        };
        if fed != self.federation {
            let _ = self.swarm.behaviour_mut().sync.send_response(
                ch,
                SyncResponse::Error {
                    code: "wrong_federation".into(),
                    message: format!("this node serves federation {}", self.federation),
                },
            );
            self.ban(peer, "sync request of another federation");
            return;
        }
        if let SyncRequest::Peers { .. } = req {
            let peers = self
                .peers
                .iter()
                .filter(|(id, p)| **id != peer && !p.listen.is_empty())
                .map(|(id, p)| PeerAddr {
                    peer_id: id.to_string(),
                    addrs: p
                        .listen
                        .iter()
                        .take(MAX_ADDRS)
                        .map(ToString::to_string)
                        .collect(),
                })
                .take(MAX_PEERS)
                .collect();
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(ch, SyncResponse::Peers { peers });
            return;
        }
        let node = self.node.clone();
        let tx = self.cmds_tx.clone();
        tokio::task::spawn_blocking(move || {
            let resp = match req {
                SyncRequest::Reconcile { ranges, .. } => SyncResponse::Reconcile {
                    answers: node.with_registry(|r| r.id_set().respond(&ranges)),
                },
                SyncRequest::Fetch { ids, .. } => {
                    if ids.len() > MAX_FETCH {
                        SyncResponse::Error {
                            code: "too_many".into(),
                            message: format!("at most {MAX_FETCH} ids per fetch"),
                        }
                    } else {
                        let records = ids
                            .iter()
                            .filter_map(|id| node.store().get(id).ok().flatten())
                            .collect();
                        SyncResponse::Records { records }
                    }
                }
                SyncRequest::Peers { .. } => SyncResponse::Peers { peers: Vec::new() },
            };
            let _ = tx.blocking_send(Command::Respond(ch, resp));
        });
    }

    fn ask_peers(&mut self, peer: PeerId) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.asked_peers = true;
        }
        let id = self.swarm.behaviour_mut().sync.send_request(
            &peer,
            SyncRequest::Peers {
                federation: self.federation,
            },
        );
        self.outbound.insert(id, Outbound::Peers);
    }

    fn start_session(&mut self, peer: PeerId) {
        if self.sessions.contains_key(&peer) || !self.peers.contains_key(&peer) {
            return;
        }
        let ranges = self.node.with_registry(|r| r.id_set().initial());
        self.sessions.insert(
            peer,
            Session {
                rounds: 1,
                to_fetch: VecDeque::new(),
                ranges_open: true,
                open: VecDeque::new(),
                asked: ranges.clone(),
                fetch_in_flight: 0,
                received: 0,
                retry: Vec::new(),
                ingesting: 0,
            },
        );
        self.stats.reconciliations += 1;
        let id = self.swarm.behaviour_mut().sync.send_request(
            &peer,
            SyncRequest::Reconcile {
                federation: self.federation,
                ranges,
            },
        );
        self.outbound.insert(id, Outbound::Reconcile);
    }

    fn answer(&mut self, peer: PeerId, id: OutboundRequestId, resp: SyncResponse) {
        let Some(kind) = self.outbound.remove(&id) else {
            return;
        };
        if let SyncResponse::Error { code, message } = &resp {
            tracing::info!(%peer, code, message, "sync refused");
            if code == "wrong_federation" {
                self.ban(peer, "another federation");
            } else {
                self.finish(peer, false);
            }
            return;
        }
        match (kind, resp) {
            (Outbound::Peers, SyncResponse::Peers { peers }) => self.discovered(peers),
            (Outbound::Reconcile, SyncResponse::Reconcile { answers }) => {
                let Some(s) = self.sessions.get_mut(&peer) else {
                    return;
                };
                let asked = std::mem::take(&mut s.asked);
                let (fetch, next) = self
                    .node
                    .with_registry(|r| r.id_set().process(&asked, &answers));
                let Some(s) = self.sessions.get_mut(&peer) else {
                    return;
                };
                s.to_fetch.extend(fetch);
                s.open.extend(next);
                if s.open.is_empty() || s.rounds >= MAX_ROUNDS {
                    s.ranges_open = false;
                    s.open.clear();
                } else {
                    s.rounds += 1;
                    let n = s.open.len().min(MAX_RANGES);
                    let ranges: Vec<_> = s.open.drain(..n).collect();
                    s.asked = ranges.clone();
                    let id = self.swarm.behaviour_mut().sync.send_request(
                        &peer,
                        SyncRequest::Reconcile {
                            federation: self.federation,
                            ranges,
                        },
                    );
                    self.outbound.insert(id, Outbound::Reconcile);
                }
                self.advance(peer);
            }
            (Outbound::Fetch, SyncResponse::Records { records }) => {
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.fetch_in_flight = s.fetch_in_flight.saturating_sub(1);
                    s.ingesting += 1;
                }
                let bytes: u64 = records.iter().map(|r| r.len() as u64).sum();
                self.stats.sync_bytes_in += bytes;
                self.ingest_batch(peer, records, Vec::new());
                // Ask for the next batch while this one is verified.
                self.advance(peer);
            }
            _ => self.misbehaved(peer, 1, "answer of the wrong type"),
        }
    }

    /// Verifies records on all cores, orders them so that governance and earlier
    /// log positions come first, and hands them to the writer.
    fn ingest_batch(&self, peer: PeerId, records: Vec<Vec<u8>>, retry: Vec<VerifiedRecord>) {
        let node = self.node.clone();
        let tx = self.cmds_tx.clone();
        let p2p = P2p {
            cmds: self.cmds_tx.clone(),
            peer_id: *self.swarm.local_peer_id(),
        };
        tokio::spawn(async move {
            let parsed = tokio::task::spawn_blocking(move || {
                crate::node::verify_parallel(&records)
                    .into_iter()
                    .map(|r| r.map_err(|e| e.code()))
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            let mut invalid = 0usize;
            let mut recs: Vec<VerifiedRecord> = retry;
            for r in parsed {
                match r {
                    Ok(rec) => recs.push(rec),
                    Err(code) => {
                        invalid += 1;
                        node.metrics().reject(code);
                    }
                }
            }
            ingest_order(&mut recs);
            // One job for the whole batch: one commit, one flush.
            let outcomes = node
                .ingest_many(recs.clone(), Source::Sync)
                .await
                .wait()
                .await;
            let small = recs.len() <= 64;
            let mut stored = 0;
            let mut again = Vec::new();
            for (rec, outcome) in recs.into_iter().zip(outcomes) {
                match outcome {
                    Ok(Admitted::Known) => {}
                    Ok(_) => {
                        stored += 1;
                        // Small batches are news: pass them on. A catch-up of many
                        // records is left to the other nodes' own reconciliation.
                        if small {
                            p2p.publish(&rec).await;
                        }
                    }
                    Err(IngestError::Rejected(r)) if r.code() == "wrong_federation" => invalid += 1,
                    Err(IngestError::Rejected(_)) => again.push(rec),
                    Err(_) => {}
                }
            }
            let _ = tx
                .send(Command::Ingested {
                    peer,
                    stored,
                    invalid,
                    retry: again,
                })
                .await;
        });
    }

    /// Moves a session on: next fetch, or the end.
    fn advance(&mut self, peer: PeerId) {
        let Some(s) = self.sessions.get_mut(&peer) else {
            return;
        };
        // Keep several fetches in flight, so that the next batches travel while
        // earlier ones are verified and committed.
        let mut sent = false;
        while s.fetch_in_flight < FETCHES_IN_FLIGHT
            && s.ingesting < BATCHES_INGESTING
            && !s.to_fetch.is_empty()
        {
            let n = s.to_fetch.len().min(MAX_FETCH);
            let ids: Vec<Hash32> = s.to_fetch.drain(..n).collect();
            s.fetch_in_flight += 1;
            let id = self.swarm.behaviour_mut().sync.send_request(
                &peer,
                SyncRequest::Fetch {
                    federation: self.federation,
                    ids,
                },
            );
            self.outbound.insert(id, Outbound::Fetch);
            sent = true;
        }
        let Some(s) = self.sessions.get_mut(&peer) else {
            return;
        };
        if sent || s.fetch_in_flight > 0 || s.ingesting > 0 || s.ranges_open {
            return;
        }
        // Records refused on arrival (e.g. before their author's admission arrived)
        // are offered once more at the end, when the rest of the batch is in.
        if !s.retry.is_empty() {
            let retry = std::mem::take(&mut s.retry);
            s.ingesting += 1;
            self.ingest_retry(peer, retry);
            return;
        }
        self.finish(peer, true);
    }

    fn ingest_retry(&mut self, peer: PeerId, mut retry: Vec<VerifiedRecord>) {
        // A second refusal ends the retries; the next reconciliation offers them
        // again if they can count by then. One job, so one commit for all.
        let node = self.node.clone();
        let tx = self.cmds_tx.clone();
        tokio::spawn(async move {
            ingest_order(&mut retry);
            // Queued in order as jobs of bounded size, so that no single commit
            // holds the registry lock for long (a catch-up may retry nearly
            // every record it fetched).
            let mut pending = Vec::new();
            for part in retry.chunks(RETRY_JOB) {
                pending.push(node.ingest_many(part.to_vec(), Source::Sync).await);
            }
            let mut stored = 0;
            for p in pending {
                stored += p
                    .wait()
                    .await
                    .iter()
                    .filter(|o| {
                        matches!(
                            o,
                            Ok(Admitted::Stored | Admitted::Held | Admitted::Equivocation)
                        )
                    })
                    .count();
            }
            let _ = tx
                .send(Command::Ingested {
                    peer,
                    stored,
                    invalid: 0,
                    retry: Vec::new(),
                })
                .await;
        });
    }

    fn finish(&mut self, peer: PeerId, complete: bool) {
        let Some(s) = self.sessions.remove(&peer) else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&peer) {
            p.last_sync = Some(SyncReport {
                at: now_text(),
                received: s.received,
                complete,
            });
        }
        if s.received > 0 {
            tracing::info!(%peer, received = s.received, complete, "reconciled");
        }
    }

    fn discovered(&mut self, peers: Vec<PeerAddr>) {
        let me = *self.swarm.local_peer_id();
        let known: BTreeSet<PeerId> = self.peers.keys().copied().collect();
        for p in peers.into_iter().take(MAX_PEERS) {
            if self.peers.len() >= self.cfg.max_peers {
                break;
            }
            let Ok(id) = p.peer_id.parse::<PeerId>() else {
                continue;
            };
            if id == me || known.contains(&id) || self.banned.contains_key(&id) {
                continue;
            }
            for a in p.addrs.iter().take(MAX_ADDRS) {
                let Ok(addr) = a.parse::<Multiaddr>() else {
                    continue;
                };
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(id)
                    .addresses(vec![addr])
                    .build();
                if self.swarm.dial(opts).is_ok() {
                    tracing::debug!(peer = %id, "dialling a discovered peer");
                }
            }
        }
    }
}
