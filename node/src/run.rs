//! `kx-node init` and `kx-node run`: set up a data directory, then start the
//! store, the registry, the swarm and the HTTP server, and stop them cleanly.

use crate::config::Config;
use crate::ctx::Ctx;
use crate::http::router;
use crate::node::Node;
use crate::p2p;
use crate::store::SledStore;
use anyhow::{Context, Result, bail};
use kx_protocol::{Registry, VerifiedRecord};
use libp2p::Multiaddr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Flags that override the configuration file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub http: Option<SocketAddr>,
    pub listen: Vec<String>,
    pub bootstrap: Vec<String>,
    /// Run (or initialise) as an observer.
    pub observer: bool,
    /// The configuration file, if not `DIR/config.toml`.
    pub config: Option<PathBuf>,
}

/// Reads and checks a genesis file.
pub fn read_genesis(path: &Path) -> Result<VerifiedRecord> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let rec = VerifiedRecord::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {}: {e}", path.display(), e.code()))?;
    Registry::new(rec.clone())
        .map_err(|e| anyhow::anyhow!("{}: {}: {e}", path.display(), e.code()))?;
    Ok(rec)
}

/// `kx-node init`: writes `DIR/config.toml`, copies the genesis and creates the
/// node key. Returns the peer id.
pub fn init(dir: &Path, genesis: &Path, ov: Overrides) -> Result<String> {
    let rec = read_genesis(genesis)?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let cfg_path = dir.join("config.toml");
    if cfg_path.exists() {
        bail!(
            "{} exists: this directory is already initialised",
            cfg_path.display()
        );
    }
    let mut cfg = Config::default();
    apply(&mut cfg, ov);
    cfg.check()?;
    let mut text = rec.canonical_json().to_vec();
    text.push(b'\n');
    std::fs::write(dir.join(&cfg.genesis), text).context("write genesis copy")?;
    std::fs::write(&cfg_path, cfg.to_toml()).context("write config.toml")?;
    let key = p2p::load_or_create_key(&dir.join("node.key"))?;
    Ok(key.public().to_peer_id().to_string())
}

fn apply(cfg: &mut Config, ov: Overrides) {
    if let Some(h) = ov.http {
        cfg.http = h;
    }
    if !ov.listen.is_empty() {
        cfg.listen = ov.listen;
    }
    if !ov.bootstrap.is_empty() {
        cfg.bootstrap = ov.bootstrap;
    }
    cfg.observer |= ov.observer;
}

fn multiaddrs(list: &[String]) -> Result<Vec<Multiaddr>> {
    list.iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("{a:?} is not a multiaddr"))
        })
        .collect()
}

/// What a started node reports (also written to `DIR/node.json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoints {
    pub http: String,
    pub peer_id: String,
    pub listen: Vec<String>,
}

/// `kx-node run`: runs until `shutdown` turns true (or SIGINT/SIGTERM in the
/// binary). `ready` receives the endpoints once everything listens.
pub async fn run(
    dir: PathBuf,
    ov: Overrides,
    mut shutdown: watch::Receiver<bool>,
    ready: Option<tokio::sync::oneshot::Sender<Endpoints>>,
) -> Result<()> {
    let mut cfg = Config::load_for(&dir, ov.config.as_deref())?;
    apply(&mut cfg, ov);
    cfg.check()?;
    let genesis = read_genesis(&dir.join(&cfg.genesis))?;
    let federation = genesis.record().federation;
    let store = Arc::new(
        SledStore::open(&dir.join("db"), &federation)
            .with_context(|| format!("open store in {}", dir.join("db").display()))?,
    );
    let node = Node::start(
        genesis,
        store.clone(),
        cfg.max_batch,
        cfg.verify_store_at_start,
    )?;
    let key = p2p::load_or_create_key(&dir.join("node.key"))?;
    let checkpoint_key = Arc::new(p2p::checkpoint_key(&key)?);
    let checkpoints = Arc::new(crate::checkpoints::Checkpoints::open(Some(&dir))?);
    let net = p2p::NetConfig {
        listen: multiaddrs(&cfg.listen)?,
        bootstrap: multiaddrs(&cfg.bootstrap)?,
        sync_interval: Duration::from_secs(cfg.sync_interval_secs),
        heartbeat: Duration::from_millis(cfg.gossip_heartbeat_ms),
        ban_threshold: cfg.ban_threshold,
        ban_duration: Duration::from_secs(cfg.ban_secs),
        max_peers: cfg.max_peers,
        closed: cfg.closed,
    };
    let (p2p, listen) = p2p::start(
        key,
        node.clone(),
        net,
        (checkpoints.clone(), checkpoint_key.clone()),
        shutdown.clone(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(cfg.http)
        .await
        .with_context(|| format!("bind HTTP on {}", cfg.http))?;
    let http_addr = listener.local_addr()?;
    let endpoints = Endpoints {
        http: format!("http://{http_addr}"),
        peer_id: p2p.peer_id().to_string(),
        listen: listen.iter().map(ToString::to_string).collect(),
    };
    let tmp = dir.join("node.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&endpoints)?)?;
    std::fs::rename(&tmp, dir.join("node.json"))?;
    tracing::info!(http = %endpoints.http, peer_id = %endpoints.peer_id, "node running");
    notify_systemd(&format!("READY=1\nSTATUS=serving {}", endpoints.http));
    if let Some(r) = ready {
        let _ = r.send(endpoints);
    }
    if cfg.observer {
        tracing::info!("observer: submissions over HTTP are refused");
    }
    let limits = Arc::new(crate::http::limits::Limits::new(
        cfg.rate_limit_submits_per_sec,
        cfg.rate_limit_queries_per_sec,
        cfg.forwarded_for,
    ));
    let app = router(Ctx {
        node: node.clone(),
        p2p,
        max_body: cfg.max_body_bytes,
        observer: cfg.observer,
        alone: cfg.bootstrap.is_empty(),
        sync_interval: Duration::from_secs(cfg.sync_interval_secs),
        limits: limits.clone(),
        request_timeout: (cfg.request_timeout_secs > 0)
            .then(|| Duration::from_secs(cfg.request_timeout_secs)),
        checkpoint_key,
        checkpoints,
    });
    // Quiet clients are forgotten every minute.
    let mut stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => limits.forget_quiet(),
                _ = stop.changed() => break,
            }
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    })
    .await
    .context("HTTP server")?;
    notify_systemd("STOPPING=1");
    use crate::store::Store;
    store.flush()?;
    tracing::info!("stopped");
    Ok(())
}

/// Tells systemd (`Type=notify`) how the node is doing, when it runs under
/// it: a datagram to `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). Elsewhere it does nothing.
fn notify_systemd(state: &str) {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
        let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
            return;
        };
        let target = target.to_string_lossy().into_owned();
        let addr = match target.strip_prefix('@') {
            Some(name) => UnixAddr::from_abstract_name(name.as_bytes()),
            None => UnixAddr::from_pathname(&target),
        };
        let sent = addr.and_then(|a| {
            UnixDatagram::unbound().and_then(|s| s.send_to_addr(state.as_bytes(), &a))
        });
        if let Err(e) = sent {
            tracing::warn!(error = %e, socket = %target, "cannot notify systemd");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = state;
}

/// The configuration of the node in `dir` (or `config`) and its genesis.
fn config_and_genesis(dir: &Path, config: Option<&Path>) -> Result<(Config, VerifiedRecord)> {
    let cfg = Config::load_for(dir, config)?;
    let genesis = read_genesis(&dir.join(&cfg.genesis))?;
    Ok((cfg, genesis))
}

/// The store of the node in `dir`, or `None` while a running node holds it
/// (sled: one process per store).
fn open_unless_running(dir: &Path, genesis: &VerifiedRecord) -> Result<Option<SledStore>> {
    match SledStore::open(&dir.join("db"), &genesis.record().federation) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_locked() => Ok(None),
        Err(e) => Err(e).with_context(|| format!("open store in {}", dir.join("db").display())),
    }
}

/// `kx-node export`: every record of the node in `dir` to `out` (a backup,
/// `crate::backup`), from its store, or from the running node's
/// `GET /v1/export` while it holds the store. Returns how many.
pub fn export(dir: &Path, config: Option<&Path>, out: &Path) -> Result<usize> {
    let tmp = out.with_extension("partial");
    let written = export_to(dir, config, &tmp);
    match written {
        Ok(n) => {
            std::fs::rename(&tmp, out).with_context(|| format!("write {}", out.display()))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// [`export`] into `tmp`, which is renamed into place only when whole.
fn export_to(dir: &Path, config: Option<&Path>, tmp: &Path) -> Result<usize> {
    let (_, genesis) = config_and_genesis(dir, config)?;
    let store = open_unless_running(dir, &genesis)?;
    let file = std::fs::File::create(tmp).with_context(|| format!("create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let n = match store {
        Some(s) => crate::backup::write(&s, genesis.record().federation, &mut w)?,
        None => {
            let text = std::fs::read_to_string(dir.join("node.json")).with_context(|| {
                format!(
                    "the store in {} is in use, but {} is missing: is the node running?",
                    dir.display(),
                    dir.join("node.json").display()
                )
            })?;
            let v: serde_json::Value = serde_json::from_str(&text).context("node.json")?;
            let http = v["http"]
                .as_str()
                .context("node.json names no http address")?;
            let url = format!("{http}/v1/export");
            let mut resp = ureq::get(&url)
                .call()
                .with_context(|| format!("the store is in use; GET {url}"))?;
            let mut body = resp.body_mut().with_config().limit(u64::MAX).reader();
            std::io::copy(&mut body, &mut w).with_context(|| format!("read {url}"))?;
            std::io::Write::flush(&mut w)?;
            drop(w);
            // The stream is checked for being whole: header and count.
            let f = std::fs::File::open(tmp)?;
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(f));
            let head: crate::backup::Header =
                serde_json::from_str(&lines.next().context("empty export")??)
                    .context("the node's export has no header")?;
            let got = lines.count();
            if got != head.records {
                bail!(
                    "the node's export ended after {got} of {} records",
                    head.records
                );
            }
            head.records
        }
    };
    Ok(n)
}

/// What `kx-node import` did.
#[derive(Debug)]
pub struct Imported {
    pub records: usize,
    pub digest: kx_protocol::Hash32,
    /// Records the gate refused: line in the file and why.
    pub refused: Vec<(usize, String)>,
}

/// `kx-node import`: reads and verifies the whole backup `file`, then
/// ingests it into the fresh store of the node in `dir` (initialised, never
/// run), through the same gate as every record. A record refused because
/// what it depends on comes later in the file is offered again after the
/// rest, until nothing more is admitted.
pub async fn import(dir: &Path, config: Option<&Path>, file: &Path) -> Result<Imported> {
    let (cfg, genesis) = config_and_genesis(dir, config)?;
    let federation = genesis.record().federation;
    // The whole file is read and verified before the store is touched.
    let input = std::fs::File::open(file).with_context(|| format!("open {}", file.display()))?;
    let (header, records) = crate::backup::read(std::io::BufReader::new(input))
        .with_context(|| format!("{}", file.display()))?;
    if header.federation != federation {
        bail!(
            "{} is a backup of federation {}, {} belongs to {federation}",
            file.display(),
            header.federation,
            dir.display()
        );
    }
    let store = open_unless_running(dir, &genesis)?.with_context(|| {
        format!(
            "the store in {} is in use: stop the node first (import fills a fresh store)",
            dir.display()
        )
    })?;
    use crate::store::Store;
    if store.len() > 1 {
        bail!(
            "{} already holds {} records: import fills a fresh store (kx-node init)",
            dir.display(),
            store.len()
        );
    }
    let node = Node::start(genesis, Arc::new(store), cfg.max_batch, true)?;
    let mut todo: Vec<(usize, VerifiedRecord)> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect();
    let mut refused = Vec::new();
    loop {
        let before = todo.len();
        refused.clear();
        let mut later = Vec::new();
        for chunk in todo.chunks(cfg.max_batch.max(1)) {
            let recs: Vec<VerifiedRecord> = chunk.iter().map(|(_, r)| r.clone()).collect();
            let outcomes = node
                .ingest_many(recs, crate::node::Source::Sync)
                .await
                .wait()
                .await;
            for ((line, rec), outcome) in chunk.iter().zip(outcomes) {
                if let Err(e) = outcome {
                    refused.push((*line, e.to_string()));
                    later.push((*line, rec.clone()));
                }
            }
        }
        todo = later;
        if todo.is_empty() || todo.len() == before {
            break;
        }
    }
    let (records, digest) = node.with_digest(|r, d| (r.len(), d));
    Ok(Imported {
        records,
        digest,
        refused,
    })
}
