//! One reconciliation with one peer: the ranges still open, the fetches in
//! flight, the batches being verified and committed, and the records to offer
//! again at the end.

use super::WRONG_FEDERATION;
use super::task::Task;
use super::{BATCHES_INGESTING, Command, FETCHES_IN_FLIGHT, P2p, RETRY_JOB, SyncReport};
use crate::node::{IngestError, Source};
use kx_protocol::registry::Admitted;
use kx_protocol::sync::{MAX_FETCH, MAX_RANGES, MAX_ROUNDS, SyncCode, SyncRequest, SyncResponse};
use kx_protocol::{Did, Hash32, VerifiedRecord};
use libp2p::PeerId;
use libp2p::request_response::OutboundRequestId;
use std::collections::VecDeque;

/// of the admitted), then each author's log in seq order.
pub(super) fn ingest_order(recs: &mut [VerifiedRecord]) {
    fn key(r: &VerifiedRecord) -> (bool, &Did, u64) {
        let rr = r.record();
        (!rr.kind().is_governance(), &rr.author, rr.seq)
    }
    recs.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// Where a reconciliation stands (`specs/sync.md` 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The `governance` request is out.
    Governance,
    /// The governance records the node lacked are fetched and ingested before
    /// anything else, so that no record is refused for an admission still on
    /// its way.
    GovernanceFetch,
    /// Ranges are compared (while `ranges_open`) and their records fetched.
    Ranges,
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) phase: Phase,
    pub(super) rounds: usize,
    pub(super) to_fetch: VecDeque<Hash32>,
    pub(super) ranges_open: bool,
    /// Ranges still to ask about (sent at most MAX_RANGES per request).
    pub(super) open: VecDeque<kx_protocol::sync::Summary>,
    /// The ranges of the reconcile request in flight: only answers about these
    /// are taken.
    pub(super) asked: Vec<kx_protocol::sync::Summary>,
    /// Fetch requests sent and not answered yet.
    pub(super) fetch_in_flight: usize,
    pub(super) received: usize,
    /// Records the gate refused, offered once more at the end (at most
    /// `MAX_RETRY`; the next reconciliation finds the rest).
    pub(super) retry: Vec<VerifiedRecord>,
    pub(super) ingesting: usize,
}

pub(super) enum Outbound {
    Governance,
    Reconcile,
    /// The ids it claimed (`Task::claimed`) until they are ingested.
    Fetch(Vec<Hash32>),
    Peers,
}

impl Task {
    pub(super) fn start_session(&mut self, peer: PeerId) {
        if self.sessions.contains_key(&peer) || !self.peers.contains_key(&peer) {
            return;
        }
        let (count, fingerprint) = self
            .node
            .with_registry(|r| kx_protocol::sync::fingerprint(&r.governance_ids()));
        self.sessions.insert(
            peer,
            Session {
                phase: Phase::Governance,
                rounds: 0,
                to_fetch: VecDeque::new(),
                ranges_open: true,
                open: VecDeque::new(),
                asked: Vec::new(),
                fetch_in_flight: 0,
                received: 0,
                retry: Vec::new(),
                ingesting: 0,
            },
        );
        self.stats.reconciliations += 1;
        let id = self.swarm.behaviour_mut().sync.send_request(
            &peer,
            SyncRequest::Governance {
                federation: self.federation,
                count,
                fingerprint,
            },
        );
        self.outbound.insert(id, Outbound::Governance);
    }

    /// Compares the whole id space (the governance records are in by now).
    fn start_ranges(&mut self, peer: PeerId) {
        let ranges = self.node.with_registry(|r| r.id_set().initial());
        let Some(s) = self.sessions.get_mut(&peer) else {
            return;
        };
        s.phase = Phase::Ranges;
        s.rounds = 1;
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

    pub(super) fn answer(&mut self, peer: PeerId, id: OutboundRequestId, resp: SyncResponse) {
        let Some(kind) = self.outbound.remove(&id) else {
            return;
        };
        if let (Outbound::Fetch(ids), false) = (&kind, matches!(resp, SyncResponse::Records { .. }))
        {
            self.release(ids);
        }
        if let SyncResponse::Error { code, message } = &resp {
            tracing::info!(%peer, code = code.as_str(), message, "sync refused");
            if *code == SyncCode::WrongFederation {
                self.ban(peer, "another federation");
            } else {
                self.finish(peer, false);
            }
            return;
        }
        match (kind, resp) {
            (Outbound::Peers, SyncResponse::Peers { peers }) => self.discovered(peers),
            (Outbound::Governance, SyncResponse::Governance { ids }) => {
                let lacking: Vec<Hash32> = self.node.with_registry(|r| {
                    let set = r.id_set();
                    ids.into_iter().filter(|i| !set.contains(i)).collect()
                });
                let Some(s) = self.sessions.get_mut(&peer) else {
                    return;
                };
                s.phase = Phase::GovernanceFetch;
                s.to_fetch.extend(lacking);
                self.advance(peer);
            }
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
            (Outbound::Fetch(claimed), SyncResponse::Records { records }) => {
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.fetch_in_flight = s.fetch_in_flight.saturating_sub(1);
                    s.ingesting += 1;
                }
                let bytes: u64 = records.iter().map(|r| r.len() as u64).sum();
                self.stats.sync_bytes_in += bytes;
                self.ingest_batch(peer, records, claimed);
                // Ask for the next batch while this one is verified.
                self.advance(peer);
            }
            _ => self.misbehaved(peer, 1, "answer of the wrong type"),
        }
    }

    /// Verifies records on all cores, orders them so that governance and earlier
    /// log positions come first, and hands them to the writer.
    /// `claimed` are the ids asked for, released when the batch is in.
    fn ingest_batch(&self, peer: PeerId, records: Vec<Vec<u8>>, claimed: Vec<Hash32>) {
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
            let mut recs: Vec<VerifiedRecord> = Vec::with_capacity(parsed.len());
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
                    Err(IngestError::Rejected(r)) if r.code() == WRONG_FEDERATION => invalid += 1,
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
                    claimed,
                })
                .await;
        });
    }

    /// Moves a session on: next fetch, the ranges once the governance records
    /// are in, or the end.
    pub(super) fn advance(&mut self, peer: PeerId) {
        // Keep several fetches in flight, so that the next batches travel while
        // earlier ones are verified and committed.
        let mut sent = false;
        loop {
            let (mut ids, share): (Vec<Hash32>, bool) = {
                let Some(s) = self.sessions.get_mut(&peer) else {
                    return;
                };
                if s.fetch_in_flight >= FETCHES_IN_FLIGHT
                    || s.ingesting >= BATCHES_INGESTING
                    || s.to_fetch.is_empty()
                {
                    break;
                }
                let n = s.to_fetch.len().min(MAX_FETCH);
                (s.to_fetch.drain(..n).collect(), s.phase == Phase::Ranges)
            };
            // Not what another reconciliation has asked for and not yet
            // ingested, nor what it has brought in meanwhile: two peers'
            // sessions share the work instead of doing it twice. (Not the few
            // governance records: each session waits until it has them in.)
            if share {
                ids.retain(|i| !self.claimed.contains(i));
            }
            self.node.with_registry(|r| {
                let set = r.id_set();
                ids.retain(|i| !set.contains(i));
            });
            if ids.is_empty() {
                continue;
            }
            if share {
                self.claimed.extend(ids.iter().copied());
            }
            if let Some(s) = self.sessions.get_mut(&peer) {
                s.fetch_in_flight += 1;
            }
            let id = self.swarm.behaviour_mut().sync.send_request(
                &peer,
                SyncRequest::Fetch {
                    federation: self.federation,
                    ids: ids.clone(),
                },
            );
            self.outbound
                .insert(id, Outbound::Fetch(if share { ids } else { Vec::new() }));
            sent = true;
        }
        let Some(s) = self.sessions.get_mut(&peer) else {
            return;
        };
        if sent || s.fetch_in_flight > 0 || s.ingesting > 0 {
            return;
        }
        match s.phase {
            Phase::Governance => return,
            Phase::GovernanceFetch => return self.start_ranges(peer),
            Phase::Ranges if s.ranges_open => return,
            Phase::Ranges => {}
        }
        // Records refused on arrival (e.g. after a gap in their author's log)
        // are offered once more at the end, when the rest of the batch is in.
        if !s.retry.is_empty() {
            let retry = std::mem::take(&mut s.retry);
            s.ingesting += 1;
            self.ingest_retry(peer, retry);
            return;
        }
        self.finish(peer, true);
    }

    /// Ids asked for by a fetch that is answered and ingested, or failed.
    pub(super) fn release(&mut self, ids: &[Hash32]) {
        for i in ids {
            self.claimed.remove(i);
        }
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
                    claimed: Vec::new(),
                })
                .await;
        });
    }

    pub(super) fn finish(&mut self, peer: PeerId, complete: bool) {
        let Some(s) = self.sessions.remove(&peer) else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&peer) {
            p.last_sync = Some(SyncReport {
                at: crate::clock::now(),
                received: s.received,
                complete,
            });
        }
        if s.received > 0 {
            tracing::info!(%peer, received = s.received, complete, "reconciled");
        }
    }
}
