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

#[derive(Debug)]
pub(super) struct Session {
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
    pub(super) retry: Vec<VerifiedRecord>,
    pub(super) ingesting: usize,
}

pub(super) enum Outbound {
    Reconcile,
    Fetch,
    Peers,
}

impl Task {
    pub(super) fn start_session(&mut self, peer: PeerId) {
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

    pub(super) fn answer(&mut self, peer: PeerId, id: OutboundRequestId, resp: SyncResponse) {
        let Some(kind) = self.outbound.remove(&id) else {
            return;
        };
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
                })
                .await;
        });
    }

    /// Moves a session on: next fetch, or the end.
    pub(super) fn advance(&mut self, peer: PeerId) {
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
