//! The node's shared core: the registry in memory, the store, the ingest writer
//! with group commit, and counters.
//!
//! Ingest path: parse → verify (callers, see `ingest_bytes`) → `Registry::admit`
//! (the trust gate) → sled batch (under the registry lock, so a reader that sees
//! a record in the state can read it from the store) → flush → reply. One writer
//! thread owns all writes; it takes every submit that queued up while the
//! previous flush ran and commits them with one flush (group commit), so
//! concurrent submitters share the cost of durability. A submit is answered only
//! after its flush.

use crate::index::SearchIndex;
use crate::store::{Store, StoreError};
use kx_api::{ApiCode, ErrorCode};
use kx_protocol::registry::{Admitted, Changes, Rejection};
use kx_protocol::{Hash32, Registry, State, VerifiedRecord};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};

/// Why a record was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("{0}")]
    Storage(String),
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error(
        "issued_at {issued_at} is more than {MAX_CLOCK_SKEW_SECS} s ahead of this node's clock ({now}); offer it again later"
    )]
    FutureDated { issued_at: String, now: String },
}

/// How far ahead of the node's clock a record's `issued_at` may be.
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

impl IngestError {
    /// Stable error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            IngestError::Rejected(r) => r.code().into(),
            IngestError::Storage(_) => ApiCode::StorageError.into(),
            IngestError::ShuttingDown => ApiCode::ShuttingDown.into(),
            IngestError::FutureDated { .. } => ApiCode::FutureDated.into(),
        }
    }
}

/// Records read from the store per round at start: bounds the memory a start
/// takes beyond what the registry keeps. What a round allocates and frees stays
/// with the allocator: with 100,000 offers the node held 163 MiB after a start
/// with rounds of 4,096, 148 MiB with 1,024 and 146 MiB with 512, in the same
/// start time.
const START_CHUNK: usize = 512;

/// Records read back from the store that are kept parsed (about 2-4 KB each):
/// the offers of popular searches and pages are served without a store read.
const RECENT_RECORDS: usize = 2048;

/// A bounded cache of parsed records by id, in two generations: a hit moves to
/// the young one; when the young one is full the old one is dropped. Records
/// never change under an id, so nothing here is ever stale.
#[derive(Default)]
struct Recent {
    young: std::collections::HashMap<Hash32, VerifiedRecord>,
    old: std::collections::HashMap<Hash32, VerifiedRecord>,
}

impl Recent {
    fn get(&mut self, id: &Hash32) -> Option<VerifiedRecord> {
        if let Some(r) = self.young.get(id) {
            return Some(r.clone());
        }
        let r = self.old.remove(id)?;
        self.put(r.clone());
        Some(r)
    }

    fn put(&mut self, rec: VerifiedRecord) {
        if self.young.len() >= RECENT_RECORDS / 2 {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(rec.id(), rec);
    }
}

/// Where a record came from: for metrics, and an `Http` record is its author's
/// submission, checked against the state too (`Registry::submit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Http,
    Gossip,
    Sync,
}

/// Records for the writer, answered together. A batch from one reconciliation
/// fetch is one job, so it shares one commit instead of racing the writer one
/// record at a time.
struct Job {
    recs: Vec<VerifiedRecord>,
    source: Source,
    reply: oneshot::Sender<Vec<Result<Admitted, IngestError>>>,
}

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub received_http: AtomicU64,
    pub received_gossip: AtomicU64,
    pub received_sync: AtomicU64,
    pub stored: AtomicU64,
    pub known: AtomicU64,
    pub commits: AtomicU64,
    pub http_requests: AtomicU64,
    /// Requests refused over a client's rate limit.
    pub rate_limited: AtomicU64,
    /// Records dropped because the stewards cut them off (protocol 7.2).
    pub pruned: AtomicU64,
    /// Origins found to have signed two checkpoints that cannot both be true.
    pub checkpoint_alarms: AtomicU64,
    /// Checkpoints this node cosigned as a witness.
    pub checkpoints_cosigned: AtomicU64,
    /// Rejections by code.
    pub rejected: Mutex<std::collections::BTreeMap<ErrorCode, u64>>,
}

impl Metrics {
    /// Counts a rejection under its stable code.
    pub fn reject(&self, code: impl Into<ErrorCode>) {
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry(code.into()).or_default() += 1;
        }
    }
}

/// The registry and the search index over its state, changed together by the
/// writer under one lock.
struct Db {
    registry: Registry,
    index: SearchIndex,
}

/// What the writer thread and the readers share.
struct Core {
    federation: Hash32,
    db: RwLock<Db>,
    /// The state digest, computed on demand and kept until the next change.
    digest: Mutex<Option<Hash32>>,
    store: Arc<dyn Store>,
    /// Offers read back from the store lately.
    recent: Mutex<Recent>,
    failed: AtomicBool,
    metrics: Metrics,
}

/// The node core shared by the HTTP API and the network. Dropping it stops the
/// writer thread once it has committed what it holds.
pub struct Node {
    core: Arc<Core>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("federation", &self.core.federation)
            .finish()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop after the queue is drained.
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Node {
    /// Loads every stored record into a registry founded on `genesis` and starts
    /// the writer thread. Stored records are parsed on all cores, a chunk at a
    /// time, and each must be the record its position names (its id's `by_id`
    /// entry): a damaged value is skipped and logged. Their signatures are
    /// checked again only with `verify_signatures` (config
    /// `verify_store_at_start`): the node wrote nothing it had not verified,
    /// sled checks its pages against CRCs, and whoever can write the store can
    /// also replace the node's binary and key (ARCHITECTURE.md, "Trusting the
    /// store"). Peers never take a stored record on trust: they verify what
    /// they fetch.
    pub fn start(
        genesis: VerifiedRecord,
        store: Arc<dyn Store>,
        max_batch: usize,
        verify_signatures: bool,
    ) -> anyhow::Result<Arc<Node>> {
        let mut registry = Registry::new(genesis.clone())
            .map_err(|e| anyhow::anyhow!("genesis: {}: {e}", e.code()))?;
        let federation = registry.federation();
        let (mut bad, taken) = load_store(
            store.as_ref(),
            &mut registry,
            verify_signatures,
            &BTreeSet::new(),
        )?;
        let misplaced = misplaced(store.as_ref(), taken)?;
        if !misplaced.is_empty() {
            // Damage: load again without them, so that nothing depends on them.
            tracing::error!(
                records = misplaced.len(),
                "stored records are not the records the store indexes at their positions; loading again without them"
            );
            registry = Registry::new(genesis.clone())
                .map_err(|e| anyhow::anyhow!("genesis: {}: {e}", e.code()))?;
            bad = misplaced.len() + load_store(store.as_ref(), &mut registry, false, &misplaced)?.0;
        }
        if bad > 0 {
            tracing::warn!(bad, "records in the store failed verification");
        }
        // A store written before a cut arrived, or by a run that stopped
        // between dropping records and deleting them, may hold records the
        // stewards cut off (protocol 7.2).
        let gone = registry.prune();
        if !gone.is_empty() {
            store.remove(&gone)?;
            store.flush()?;
            tracing::info!(records = gone.len(), "dropped records the stewards cut off");
        }
        if store.get(&genesis.id())?.is_none() {
            store.put(std::slice::from_ref(&genesis))?;
            store.flush()?;
        }
        tracing::info!(records = registry.len(), federation = %federation.short(), "registry loaded");
        let index = index_of(registry.state(), store.as_ref());
        registry.track_changes();
        let (tx, rx) = mpsc::channel(4096);
        let core = Arc::new(Core {
            federation,
            db: RwLock::new(Db { registry, index }),
            digest: Mutex::new(None),
            store,
            recent: Mutex::new(Recent::default()),
            failed: AtomicBool::new(false),
            metrics: Metrics::default(),
        });
        let writer_core = core.clone();
        let writer = std::thread::Builder::new()
            .name("kx-writer".into())
            .spawn(move || writer_core.write_loop(rx, max_batch.max(1)))?;
        Ok(Arc::new(Node {
            core,
            jobs: Some(tx),
            writer: Some(writer),
        }))
    }

    /// The federation id.
    pub fn federation(&self) -> Hash32 {
        self.core.federation
    }

    /// Counters exported at `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }

    /// The store failed a write: the node takes no more until restarted.
    pub fn storage_failed(&self) -> bool {
        self.core.failed.load(Ordering::Relaxed)
    }

    /// Runs `f` with read access to the registry.
    pub fn with_registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        self.core.with_registry(f)
    }

    /// Runs `f` with read access to the current visible state.
    pub fn with_state<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.core.read(|db| f(db.registry.state()))
    }

    /// Runs `f` with read access to the state and its search index.
    pub fn with_index<T>(&self, f: impl FnOnce(&State, &SearchIndex) -> T) -> T {
        self.core.read(|db| f(db.registry.state(), &db.index))
    }

    /// Runs `f` with the registry and its state digest, under one read lock (the
    /// digest is computed once per change, on demand).
    pub fn with_digest<T>(&self, f: impl FnOnce(&Registry, Hash32) -> T) -> T {
        self.core.read(|db| {
            let digest = {
                let mut cache = match self.core.digest.lock() {
                    Ok(c) => c,
                    Err(p) => p.into_inner(),
                };
                // Filled under the read lock, so no write can slip in between.
                *cache.get_or_insert_with(|| db.registry.state().digest())
            };
            f(&db.registry, digest)
        })
    }

    /// The store (read access for the API).
    pub fn store(&self) -> &dyn Store {
        self.core.store.as_ref()
    }

    /// A record the registry holds, read back from the store (offers are not
    /// kept in memory). None if it is not stored, or if the store fails (logged).
    /// Only for ids taken from the registry: see `store::load`.
    pub(crate) fn record(&self, id: &Hash32) -> Option<VerifiedRecord> {
        self.core.load(id)
    }

    /// Queues a verified record and returns at once; [`Pending::wait`] gives the
    /// outcome. Queue many, then wait: they share group commits.
    pub async fn ingest_nowait(&self, rec: VerifiedRecord, source: Source) -> Pending {
        Pending(self.ingest_many(vec![rec], source).await)
    }

    /// Queues records as one batch (one commit for all, in this order) and
    /// returns at once; [`PendingMany::wait`] gives the outcomes in order.
    pub async fn ingest_many(&self, recs: Vec<VerifiedRecord>, source: Source) -> PendingMany {
        let m = &self.core.metrics;
        match source {
            Source::Http => &m.received_http,
            Source::Gossip => &m.received_gossip,
            Source::Sync => &m.received_sync,
        }
        .fetch_add(recs.len() as u64, Ordering::Relaxed);
        let mut pre: Vec<Option<IngestError>> = Vec::with_capacity(recs.len());
        let mut queued = Vec::with_capacity(recs.len());
        let failed = self.core.failed.load(Ordering::Relaxed);
        let now = crate::clock::now();
        for rec in recs {
            if failed {
                pre.push(Some(IngestError::Storage(
                    "storage failed earlier; the node takes no more writes until restarted".into(),
                )));
            } else if rec.record().issued_at.unix() > now.unix() + MAX_CLOCK_SKEW_SECS {
                // A refusal by the clock is temporary: the record is taken when
                // offered again later, so the state never depends on when it came.
                m.reject(ApiCode::FutureDated);
                pre.push(Some(IngestError::FutureDated {
                    issued_at: rec.record().issued_at.to_string(),
                    now: now.to_string(),
                }));
            } else {
                pre.push(None);
                queued.push(rec);
            }
        }
        if queued.is_empty() {
            return PendingMany { rx: None, pre };
        }
        let Some(jobs) = self.jobs.as_ref() else {
            return PendingMany {
                rx: None,
                pre: pre
                    .into_iter()
                    .map(|p| p.or(Some(IngestError::ShuttingDown)))
                    .collect(),
            };
        };
        let (reply, rx) = oneshot::channel();
        let rx = match jobs
            .send(Job {
                recs: queued,
                source,
                reply,
            })
            .await
        {
            Ok(()) => Some(rx),
            Err(_) => None,
        };
        PendingMany { rx, pre }
    }

    /// Submits a verified record and waits until it is durable or refused.
    pub async fn ingest(
        &self,
        rec: VerifiedRecord,
        source: Source,
    ) -> Result<Admitted, IngestError> {
        self.ingest_nowait(rec, source).await.wait().await
    }
}

/// A queued record's outcome.
#[derive(Debug)]
pub struct Pending(PendingMany);

impl Pending {
    /// Waits until the record is durable or refused.
    pub async fn wait(self) -> Result<Admitted, IngestError> {
        self.0
            .wait()
            .await
            .into_iter()
            .next()
            .unwrap_or(Err(IngestError::ShuttingDown))
    }
}

/// The outcomes of a queued batch.
#[derive(Debug)]
pub struct PendingMany {
    rx: Option<oneshot::Receiver<Vec<Result<Admitted, IngestError>>>>,
    /// Per record: refused before queueing (Some), or queued (None).
    pre: Vec<Option<IngestError>>,
}

impl PendingMany {
    /// Waits until the batch is durable or refused; one outcome per record, in
    /// the order given.
    pub async fn wait(self) -> Vec<Result<Admitted, IngestError>> {
        let mut queued = match self.rx {
            Some(rx) => rx.await.unwrap_or_default().into_iter(),
            None => Vec::new().into_iter(),
        };
        self.pre
            .into_iter()
            .map(|p| match p {
                Some(e) => Err(e),
                None => queued.next().unwrap_or(Err(IngestError::ShuttingDown)),
            })
            .collect()
    }
}

impl Core {
    fn read<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        match self.db.read() {
            Ok(r) => f(&r),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn with_registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        self.read(|db| f(&db.registry))
    }

    fn load(&self, id: &Hash32) -> Option<VerifiedRecord> {
        let recent = || match self.recent.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        if let Some(rec) = recent().get(id) {
            return Some(rec);
        }
        let rec = read_back(self.store.as_ref(), id)?;
        recent().put(rec.clone());
        Some(rec)
    }

    fn write_loop(&self, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
        while let Some(first) = rx.blocking_recv() {
            let mut n = first.recs.len();
            let mut jobs = vec![first];
            while n < max_batch {
                match rx.try_recv() {
                    Ok(j) => {
                        n += j.recs.len();
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            self.commit(jobs);
        }
        tracing::debug!("writer stopped");
    }

    /// Takes dropped records out of the read cache and counts them.
    fn forget(&self, gone: &[Hash32]) {
        let mut recent = match self.recent.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        for id in gone {
            recent.young.remove(id);
            recent.old.remove(id);
        }
        self.metrics
            .pruned
            .fetch_add(gone.len() as u64, Ordering::Relaxed);
        tracing::info!(records = gone.len(), "dropped records the stewards cut off");
    }

    fn commit(&self, jobs: Vec<Job>) {
        let mut outcomes: Vec<Vec<Result<Admitted, kx_protocol::registry::Rejection>>> =
            Vec::with_capacity(jobs.len());
        let mut new = Vec::new();
        let started = std::time::Instant::now();
        let mut timings = [std::time::Duration::ZERO; 3];
        let persisted: Result<(), StoreError> = {
            let mut db = match self.db.write() {
                Ok(r) => r,
                Err(p) => p.into_inner(),
            };
            let Db { registry, index } = &mut *db;
            for job in &jobs {
                let mut outs = Vec::with_capacity(job.recs.len());
                for rec in &job.recs {
                    // The author's own submission is also checked against the
                    // state (protocol 7.1); what peers send only at ingest.
                    let out = match job.source {
                        Source::Http => registry.submit(rec.clone()),
                        Source::Gossip | Source::Sync => registry.admit(rec.clone()),
                    };
                    if let Ok(Admitted::Stored | Admitted::Held | Admitted::Equivocation) = out {
                        new.push(rec.clone());
                    }
                    outs.push(out);
                }
                outcomes.push(outs);
            }
            // What a revocation or a steward rotation in this batch cut off
            // leaves the set, the store and the reconciliation (protocol 7.2);
            // the state does not change.
            let gone = registry.prune();
            if !gone.is_empty() {
                let dropped: std::collections::HashSet<&Hash32> = gone.iter().collect();
                new.retain(|r| !dropped.contains(&r.id()));
            }
            timings[0] = started.elapsed();
            // Written (not yet durable) before readers can see the new state:
            // pages read offer bodies from the store. (If the write fails the
            // state still moves on; the node then takes no more writes.)
            let written = self.store.put(&new);
            timings[1] = started.elapsed();
            if !new.is_empty() {
                let changes = registry.take_changes();
                let fresh: std::collections::HashMap<Hash32, &VerifiedRecord> =
                    new.iter().map(|r| (r.id(), r)).collect();
                // Old versions the index takes out are read past the cache,
                // which keeps what pages show.
                let load = |id: &Hash32| {
                    fresh
                        .get(id)
                        .map(|r| (*r).clone())
                        .or_else(|| read_back(self.store.as_ref(), id))
                };
                index.apply(registry.state(), &changes, &load);
                match self.digest.lock() {
                    Ok(mut cache) => *cache = None,
                    Err(p) => *p.into_inner() = None,
                }
            }
            // Deleted only now: the index read the bodies of offers it took out.
            let written = written.and_then(|()| {
                if gone.is_empty() {
                    return Ok(());
                }
                self.forget(&gone);
                self.store.remove(&gone)
            });
            timings[2] = started.elapsed();
            written
        };
        let persisted = persisted.and_then(|_| self.store.flush());
        tracing::debug!(
            records = jobs.iter().map(|j| j.recs.len()).sum::<usize>(),
            new = new.len(),
            admit_ms = timings[0].as_millis(),
            write_ms = (timings[1] - timings[0]).as_millis(),
            index_ms = (timings[2] - timings[1]).as_millis(),
            flush_ms = (started.elapsed() - timings[2]).as_millis(),
            "committed"
        );
        if let Err(e) = &persisted {
            tracing::error!(error = %e, "storage failed; refusing further writes");
            self.failed.store(true, Ordering::Relaxed);
        } else if !new.is_empty() {
            self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        }
        for (job, outs) in jobs.into_iter().zip(outcomes) {
            let results = job
                .recs
                .iter()
                .zip(outs)
                .map(|(rec, out)| match (&persisted, out) {
                    (Err(e), Ok(Admitted::Stored | Admitted::Held | Admitted::Equivocation)) => {
                        Err(IngestError::Storage(e.to_string()))
                    }
                    (_, Ok(a)) => {
                        match a {
                            Admitted::Known => self.metrics.known.fetch_add(1, Ordering::Relaxed),
                            _ => self.metrics.stored.fetch_add(1, Ordering::Relaxed),
                        };
                        tracing::debug!(record = %rec.id().short(), source = ?job.source, outcome = ?a, "ingested");
                        Ok(a)
                    }
                    (_, Err(r)) => {
                        self.metrics.reject(r.code());
                        Err(IngestError::Rejected(r))
                    }
                })
                .collect();
            let _ = job.reply.send(results);
        }
    }
}

/// Parses and verifies records on all cores, in order (strict rule, one signature
/// at a time: batch verification never decides acceptance).
pub fn verify_parallel<T: AsRef<[u8]> + Sync>(
    items: &[T],
) -> Vec<Result<VerifiedRecord, kx_protocol::RecordError>> {
    parallel_map(items, |b| VerifiedRecord::from_bytes(b.as_ref()))
}

/// Loads the store's records, but those at the positions in `skip`, into
/// `registry`: one thread reads and parses (on all cores) the next chunk while
/// this one files the last. Returns the records that failed and, unless
/// signatures were checked, the id and position of each record taken, for
/// [`misplaced`].
fn load_store(
    store: &dyn Store,
    registry: &mut Registry,
    verify_signatures: bool,
    skip: &BTreeSet<u64>,
) -> anyhow::Result<(usize, Vec<(Hash32, u64)>)> {
    type Chunk = Vec<(u64, Result<VerifiedRecord, String>)>;
    let mut bad = 0usize;
    let mut taken = Vec::new();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk, StoreError>>(2);
        s.spawn(move || {
            let mut after: Option<u64> = None;
            loop {
                let chunk = match store.scan(after, START_CHUNK) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let Some((last, _)) = chunk.last() else {
                    return;
                };
                after = Some(*last);
                let (at, bytes): (Vec<u64>, Vec<Vec<u8>>) = chunk
                    .into_iter()
                    .filter(|(at, _)| !skip.contains(at))
                    .unzip();
                let parsed: Vec<Result<VerifiedRecord, String>> = if verify_signatures {
                    verify_parallel(&bytes)
                        .into_iter()
                        .map(|r| r.map_err(|e| e.to_string()))
                        .collect()
                } else {
                    parallel_map(&bytes, |b| {
                        kx_protocol::UnverifiedRecord::parse(b)
                            .map(kx_protocol::UnverifiedRecord::assume_verified)
                            .map_err(|e| e.to_string())
                    })
                };
                if tx.send(Ok(at.into_iter().zip(parsed).collect())).is_err() {
                    return;
                }
            }
        });
        for chunk in rx {
            for (at, rec) in chunk? {
                let filed = rec.and_then(|r| {
                    let id = r.id();
                    registry.add(r).map(|_| id).map_err(|e| e.to_string())
                });
                match filed {
                    Ok(id) if !verify_signatures => taken.push((id, at)),
                    Ok(_) => {}
                    Err(e) => {
                        bad += 1;
                        tracing::error!(error = %e, "stored record is damaged or does not count; skipped");
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok((bad, taken))
}

/// The positions of the records taken whose id the store does not index at
/// that position (a record changed on disk has another id). A stored record
/// whose signature was not checked again counts only if it passes this
/// (ARCHITECTURE.md, "Trusting the store"). Looked up in id order, so that the
/// index is walked once instead of at random.
fn misplaced(store: &dyn Store, mut taken: Vec<(Hash32, u64)>) -> anyhow::Result<BTreeSet<u64>> {
    taken.sort_unstable();
    let mut out = BTreeSet::new();
    for (id, at) in taken {
        if store.position(&id)? != Some(at) {
            tracing::error!(
                position = at,
                id = %id.to_hex(),
                "the stored record has an id the store does not index at its position"
            );
            out.insert(at);
        }
    }
    Ok(out)
}

/// `f` over `items` on all cores, results in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// `store::load`, with a failure logged: the caller goes on without the record.
fn read_back(store: &dyn Store, id: &Hash32) -> Option<VerifiedRecord> {
    crate::store::load(store, id).unwrap_or_else(|e| {
        tracing::error!(error = %e, "reading a record back from the store failed");
        None
    })
}

/// The search index over `state` at start: the current offers are read back from
/// the store a chunk at a time, parsed on all cores.
fn index_of(state: &State, store: &dyn Store) -> SearchIndex {
    let mut index = SearchIndex::default();
    let mut offers: Vec<(&(kx_protocol::Did, kx_protocol::fields::OfferId), Hash32)> = state
        .offers
        .iter()
        .filter_map(|(k, e)| Some((k, e.current()?.record)))
        .collect();
    // In the order the store keeps them, so each chunk reads neighbouring pages
    // (and sled's cache stays small: `store` module doc).
    offers.sort_by_cached_key(|(_, id)| store.position(id).ok().flatten());
    for chunk in offers.chunks(START_CHUNK) {
        let recs = parallel_map(chunk, |(_, id)| read_back(store, id));
        let loaded: std::collections::HashMap<Hash32, VerifiedRecord> =
            recs.into_iter().flatten().map(|r| (r.id(), r)).collect();
        let changes = Changes {
            offers: chunk.iter().map(|(k, _)| (*k).clone()).collect(),
            ..Changes::default()
        };
        index.apply(state, &changes, &|id| loaded.get(id).cloned());
    }
    index.file_requests(state, state.requests.keys());
    index
}
