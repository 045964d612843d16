//! The libp2p side of the node: one task owns the `Swarm`; the rest of the node
//! talks to it through a cloneable [`P2p`] handle over a bounded channel.
//!
//! Transport: TCP + noise + yamux; behaviours: identify and ping. Bootstrap peers
//! are dialled at start and re-dialled with backoff while disconnected.

use anyhow::{Context, Result};
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify, noise, ping, tcp, yamux};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Protocol name announced by identify.
pub const PROTOCOL_VERSION: &str = "/kx/1.0.0";

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// A connected peer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub address: String,
    pub agent: Option<String>,
}

enum Command {
    Peers(oneshot::Sender<Vec<PeerInfo>>),
}

/// Handle to the swarm task.
#[derive(Debug, Clone)]
pub struct P2p {
    cmds: mpsc::Sender<Command>,
    peer_id: PeerId,
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

/// Starts the swarm, waits until every listen address is bound, and returns the
/// handle and the actual listen addresses (each ending in `/p2p/<peer id>`).
pub async fn start(
    key: Keypair,
    listen: &[Multiaddr],
    bootstrap: Vec<Multiaddr>,
    shutdown: watch::Receiver<bool>,
) -> Result<(P2p, Vec<Multiaddr>)> {
    let peer_id = key.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .context("tcp transport")?
        .with_behaviour(|k| Behaviour {
            identify: identify::Behaviour::new(
                identify::Config::new(PROTOCOL_VERSION.into(), k.public())
                    .with_agent_version(format!("kx-node/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::default(),
        })
        .context("behaviour")?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    for addr in listen {
        swarm
            .listen_on(addr.clone())
            .with_context(|| format!("listen on {addr}"))?;
    }
    // Wait for the first bound address of every listener.
    let mut bound: Vec<Multiaddr> = Vec::new();
    let mut pending: usize = listen.len();
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
    let (tx, rx) = mpsc::channel(64);
    let handle = P2p { cmds: tx, peer_id };
    tokio::spawn(run(swarm, rx, bootstrap, shutdown));
    Ok((handle, bound))
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    mut cmds: mpsc::Receiver<Command>,
    bootstrap: Vec<Multiaddr>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut peers: BTreeMap<PeerId, PeerInfo> = BTreeMap::new();
    let bootstrap_peers: Vec<(Multiaddr, Option<PeerId>)> = bootstrap
        .into_iter()
        .map(|a| {
            let id = a.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            });
            (a, id)
        })
        .collect();
    let mut backoff = Duration::from_millis(500);
    let mut redial = tokio::time::interval(backoff);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = redial.tick() => {
                let mut dialled = false;
                for (addr, id) in &bootstrap_peers {
                    let connected = id.is_some_and(|id| swarm.is_connected(&id));
                    if !connected {
                        dialled = true;
                        if let Err(e) = swarm.dial(addr.clone()) {
                            tracing::debug!(%addr, error = %e, "dial failed");
                        }
                    }
                }
                // Back off while peers stay unreachable, up to a minute.
                backoff = if dialled { (backoff * 2).min(Duration::from_secs(60)) } else { Duration::from_millis(500) };
                redial = tokio::time::interval_at(tokio::time::Instant::now() + backoff, backoff);
            }
            cmd = cmds.recv() => match cmd {
                Some(Command::Peers(reply)) => {
                    let _ = reply.send(peers.values().cloned().collect());
                }
                None => break,
            },
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    tracing::info!(peer = %peer_id, "connected");
                    peers.insert(peer_id, PeerInfo {
                        peer_id: peer_id.to_string(),
                        address: endpoint.get_remote_address().to_string(),
                        agent: None,
                    });
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    tracing::info!(peer = %peer_id, "disconnected");
                    peers.remove(&peer_id);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                    if let Some(p) = peers.get_mut(&peer_id) {
                        p.agent = Some(info.agent_version);
                    }
                }
                _ => {}
            },
        }
    }
    tracing::debug!("swarm stopped");
}
