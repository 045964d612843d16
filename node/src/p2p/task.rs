//! The swarm task: owns the libp2p `Swarm` and runs its event loop: dials the
//! bootstrap peers, keeps peers and bans, validates gossip off the task,
//! answers sync requests and discovers peers of peers.

use super::session::{Outbound, Session};
use super::{
    Command, NetConfig, NetStats, PeerInfo, SyncCodec, SyncReport, WRONG_FEDERATION,
    protocol_version, topic,
};
use crate::node::{IngestError, Node, Source};
use futures::StreamExt;
use kx_protocol::registry::Admitted;
use kx_protocol::sync::{
    MAX_ADDRS, MAX_FETCH, MAX_PEERS, PeerAddr, SyncCode, SyncRequest, SyncResponse,
};
use kx_protocol::{Hash32, VerifiedRecord};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list, gossipsub, identify, ping};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) identify: identify::Behaviour,
    pub(super) ping: ping::Behaviour,
    pub(super) gossipsub: gossipsub::Behaviour,
    pub(super) sync: request_response::Behaviour<SyncCodec>,
    pub(super) blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
}

#[derive(Debug, Default)]
pub(super) struct PeerState {
    pub(super) address: String,
    pub(super) agent: Option<String>,
    pub(super) listen: Vec<Multiaddr>,
    pub(super) invalid: u32,
    pub(super) last_sync: Option<SyncReport>,
    pub(super) asked_peers: bool,
}

pub(super) struct Task {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) node: Arc<Node>,
    pub(super) federation: Hash32,
    pub(super) cfg: NetConfig,
    pub(super) cmds_tx: mpsc::Sender<Command>,
    pub(super) peers: BTreeMap<PeerId, PeerState>,
    pub(super) banned: BTreeMap<PeerId, Instant>,
    pub(super) outbound: BTreeMap<OutboundRequestId, Outbound>,
    pub(super) sessions: BTreeMap<PeerId, Session>,
    /// Ids some reconciliation has asked for and not yet ingested.
    pub(super) claimed: HashSet<Hash32>,
    pub(super) stats: NetStats,
    pub(super) checkpoints: super::CheckpointKeeping,
}

impl Task {
    pub(super) async fn run(
        mut self,
        mut cmds: mpsc::Receiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
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

    /// In a closed federation: is this peer a bootstrap peer, a node declared in
    /// the profile of an admitted provider in good standing, or an observer node
    /// the stewards admitted?
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
            state.observers.iter().any(|o| o.peer_id.as_str() == text)
                || state.providers.values().any(|p| {
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
        self.announce_checkpoint();
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
            Command::PublishCheckpoint(data) => {
                let t = super::checkpoint_topic(&self.federation);
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(t, data) {
                    tracing::debug!(error = %e, "publish cosignature");
                }
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
                claimed,
            } => {
                self.release(&claimed);
                if invalid > 0 {
                    self.misbehaved(peer, invalid as u32, "invalid records in a sync answer");
                }
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.received += stored;
                    let room = super::MAX_RETRY.saturating_sub(s.retry.len());
                    if retry.len() > room {
                        tracing::debug!(%peer, dropped = retry.len() - room, "retry buffer full");
                    }
                    s.retry.extend(retry.into_iter().take(room));
                    s.ingesting = s.ingesting.saturating_sub(1);
                }
                self.advance(peer);
            }
        }
    }

    pub(super) fn misbehaved(&mut self, peer: PeerId, n: u32, why: &str) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.invalid += n;
        tracing::debug!(%peer, invalid = p.invalid, why, "peer misbehaved");
        if p.invalid >= self.cfg.ban_threshold {
            self.ban(peer, why);
        }
    }

    pub(super) fn ban(&mut self, peer: PeerId, why: &str) {
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
            })) if message.topic == super::checkpoint_topic(&self.federation).hash() => {
                self.checkpoint_gossip(propagation_source, message_id, message);
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
            )) => match self.outbound.remove(&request_id) {
                Some(Outbound::Fetch(ids)) => {
                    self.release(&ids);
                    self.finish(peer, false);
                }
                Some(Outbound::Reconcile | Outbound::Governance) => self.finish(peer, false),
                _ => {}
            },
            _ => {}
        }
    }

    /// Announces the node's checkpoint to the witnesses, unless it is
    /// witnessed already or nobody listens (`specs/checkpoints.md` 7).
    fn announce_checkpoint(&mut self) {
        if self.peers.is_empty() {
            return;
        }
        let (checkpoints, key) = &self.checkpoints;
        let Some(msg) = checkpoints.announcement(&self.node, key, crate::clock::now()) else {
            return;
        };
        if msg.len() > super::MAX_GOSSIP_BYTES {
            tracing::warn!(
                bytes = msg.len(),
                "the checkpoint's frontier is too large to gossip"
            );
            return;
        }
        let t = super::checkpoint_topic(&self.federation);
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(t, msg) {
            tracing::debug!(error = %e, "publish checkpoint");
        }
    }

    /// A message of the checkpoint topic: judged (off the swarm task), a
    /// witness's cosignature published in turn.
    fn checkpoint_gossip(
        &mut self,
        source: PeerId,
        id: gossipsub::MessageId,
        msg: gossipsub::Message,
    ) {
        let node = self.node.clone();
        let (checkpoints, key) = self.checkpoints.clone();
        let tx = self.cmds_tx.clone();
        tokio::task::spawn_blocking(move || {
            let (acceptance, reply) =
                match checkpoints.gossip(&node, &key, &msg.data, crate::clock::now()) {
                    crate::checkpoints::Gossip::Accept(reply) => {
                        (gossipsub::MessageAcceptance::Accept, reply)
                    }
                    crate::checkpoints::Gossip::Ignore => {
                        (gossipsub::MessageAcceptance::Ignore, None)
                    }
                    crate::checkpoints::Gossip::Reject => {
                        (gossipsub::MessageAcceptance::Reject, None)
                    }
                };
            let invalid = acceptance == gossipsub::MessageAcceptance::Reject;
            let _ = tx.blocking_send(Command::Validated {
                id,
                source,
                acceptance,
                invalid,
            });
            if let Some(reply) = reply {
                let _ = tx.blocking_send(Command::PublishCheckpoint(reply));
            }
        });
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
                    Err(IngestError::Rejected(r)) if r.code() == WRONG_FEDERATION => {
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
            | SyncRequest::Governance { federation, .. }
            | SyncRequest::Peers { federation } => *federation,
        };
        if fed != self.federation {
            let _ = self.swarm.behaviour_mut().sync.send_response(
                ch,
                SyncResponse::Error {
                    code: SyncCode::WrongFederation,
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
                            code: SyncCode::TooMany,
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
                SyncRequest::Governance {
                    count, fingerprint, ..
                } => SyncResponse::Governance {
                    ids: kx_protocol::sync::governance_answer(
                        &node.with_registry(|r| r.governance_ids()),
                        count,
                        fingerprint,
                    ),
                },
                SyncRequest::Peers { .. } => SyncResponse::Peers { peers: Vec::new() },
            };
            let _ = tx.blocking_send(Command::Respond(ch, resp));
        });
    }

    pub(super) fn ask_peers(&mut self, peer: PeerId) {
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
    pub(super) fn discovered(&mut self, peers: Vec<PeerAddr>) {
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
