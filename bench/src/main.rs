//! `kx-bench`: measures KX against the limits of the machine it runs on.
//!
//! `kx-bench SCENARIO [--json]` with SCENARIO one of `verify-ceiling`, `sync-bytes`,
//! `submit`, `query`, `catch-up`, `propagation`, `load`, `exchange` (an
//! agreements-heavy data set: searches, the exchange's lists and catch-up on
//! it), or `all`. Node scenarios
//! run real `kx-node` processes (the binary next to this one) on loopback; build
//! both with `cargo build --release`. Every figure is printed with the ceiling it
//! is compared to where there is one, measured in the same run.

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use kx_protocol::author::{LogWriter, genesis};
use kx_protocol::body::{AdmitBody, Kind};
use kx_protocol::sync::{IdSet, SyncRequest, SyncResponse};
use kx_protocol::{Body, Hash32, SecretKey, Timestamp, VerifiedRecord, record};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod germany;
mod scale;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    VerifyCeiling,
    SyncBytes,
    Submit,
    Query,
    CatchUp,
    Propagation,
    Load,
    Exchange,
    Flood,
    /// `--scale germany` only: the Germany figures at 1/100, 1/10 and all of
    /// `--records`, with a plot (`--plot`).
    Growth,
    All,
}

/// The data set node scenarios run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scale {
    /// NRW: offers only (`query`, `catch-up`, `load`) or the exchange's
    /// 396 municipalities (`exchange`); 100,000 records by default.
    Nrw,
    /// Germany (`germany.rs`): every Land, every kind; 1,000,000 records by
    /// default. `query`, `catch-up`, `load` and `exchange` become one run of
    /// every Germany figure (`scale.rs`).
    Germany,
}

/// Benchmarks of KX on this machine.
#[derive(Debug, Parser)]
#[command(name = "kx-bench", version, about)]
struct Cli {
    scenario: Scenario,
    /// Print one JSON object per scenario.
    #[arg(long)]
    json: bool,
    /// The data set.
    #[arg(long, value_enum, default_value_t = Scale::Nrw)]
    scale: Scale,
    /// Records (NRW: offers) of the data set [default: 100000; germany: 1000000].
    #[arg(long)]
    records: Option<usize>,
    /// Seed of the Germany data set.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Nodes for `propagation` [default: 30; germany: 100].
    #[arg(long)]
    nodes: Option<usize>,
    /// Where `growth` writes its plot (SVG).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Seconds for `load`.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

fn key(n: u32) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    seed[31] = 0x5a;
    SecretKey::from_seed(seed).unwrap_or_else(|_| key(n + 1_000_000))
}

fn t0() -> Timestamp {
    Timestamp::from_unix(1_768_467_600).unwrap_or(Timestamp::EPOCH)
}

fn offer(id: &str, i: usize) -> Result<Body> {
    let cats = [
        "einwohnerwesen",
        "e-akte",
        "kfz-zulassung",
        "geodaten-gis",
        "service-desk",
        "soc-siem",
    ];
    let regions = ["05", "05158", "05774", "05315", "05962", "05334"];
    Ok(Body::from_json(
        Kind::Offer,
        json!({
            "offer_id": id, "version": 1,
            "title": format!("Angebot {i} für Kommunen in Nordrhein-Westfalen"),
            "summary": "Betrieb, Einführung und Support aus einer Hand, mit Schnittstellen zu den Fachverfahren.",
            "description": "Hosting im zertifizierten Rechenzentrum, Updates, Datensicherung und Service-Desk. Anbindung an OSCI/XTA über DataClearing NRW, Schulungen für Anwenderinnen und Anwender, Migration aus Altverfahren.",
            "category": cats[i % cats.len()], "ozg_ids": ["10124"], "leika_keys": ["99115005104000"],
            "regions": [regions[i % regions.len()]], "delivery": "saas",
            "sla": {"availability_bp": 9950, "support_hours": "Mo-Fr 07:30-16:30", "response_minutes": 60, "resolution_hours": 8},
            "pricing": {"model": "per_user_per_month", "amount_cents": 1250 + (i % 100) as u64, "currency": "EUR", "notes": ""},
            "capacity": 10, "certifications": ["iso27001-grundschutz"], "standards": ["xmeld"],
            "contacts": [{"customer_group": "kommunen", "name": "Vertrieb", "email": "vertrieb@demo.example"}],
            "valid_from": "2026-01-01T00:00:00Z"
        }),
    )?)
}

/// A federation: genesis, steward and `providers` admitted provider keys, plus
/// `per_provider` offers each, all signed; with the exchange, municipalities
/// admitted, their requests and the providers' answers.
struct Data {
    genesis: VerifiedRecord,
    governance: Vec<VerifiedRecord>,
    providers: Vec<SecretKey>,
    offers: Vec<VerifiedRecord>,
    /// Municipality admissions (governance), their requests, the answers.
    exchange: Vec<Vec<VerifiedRecord>>,
}

fn federation(providers: usize, per_provider: usize) -> Result<Data> {
    let s = key(1);
    let g = genesis(
        "KX Bench".parse().map_err(|e| anyhow::anyhow!("{e}"))?,
        vec![s.did().clone()],
        1,
        &s,
        &[&s],
        t0(),
    )?;
    let fed = g.record().federation;
    let mut sw = LogWriter::new(key(1), fed, Some((1, g.id())));
    let mut head: Hash32 = fed;
    let mut governance = Vec::new();
    let mut keys = Vec::new();
    for p in 0..providers {
        let k = key(100 + p as u32);
        let mut b = Body::MemberAdmit(AdmitBody {
            prev_action: head,
            provider: k.did().clone(),
            name: format!("Anbieter {p}")
                .parse()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            approvals: Vec::new(),
        });
        record::approve(&mut b, sw.key());
        let rec = sw.write(b, t0())?;
        head = rec.action().context("action")?;
        governance.push(rec);
        keys.push(k);
    }
    // Sign on all cores: each provider's log is independent.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = keys.len().div_ceil(threads).max(1);
    let offers: Vec<VerifiedRecord> = std::thread::scope(|sc| {
        let hs: Vec<_> = keys
            .chunks(chunk)
            .map(|ks| {
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for k in ks {
                        let mut w = LogWriter::new(SecretKey::from_seed(k.seed()).ok()?, fed, None);
                        for i in 0..per_provider {
                            out.push(w.write(offer(&format!("o{i}"), i).ok()?, t0()).ok()?);
                        }
                    }
                    Some(out)
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().ok().flatten().unwrap_or_default())
            .collect()
    });
    Ok(Data {
        genesis: g,
        governance,
        providers: keys,
        offers,
        exchange: Vec::new(),
    })
}

/// `data` plus the exchange: the 396 NRW municipalities admitted in one
/// action, each requesting `per_town` offers spread over all of them, and each
/// provider accepting the requests for its offers while capacity lasts and
/// declining the rest. In three phases that must be submitted in order.
fn with_exchange(mut data: Data, per_town: usize) -> Result<Data> {
    let fed = data.genesis.record().federation;
    let towns = kx_protocol::geo::municipalities();
    let keys: Vec<SecretKey> = (0..towns.len()).map(|i| key(10_000 + i as u32)).collect();
    let head = data
        .governance
        .last()
        .and_then(VerifiedRecord::action)
        .unwrap_or(fed);
    let entries: Vec<Value> = towns
        .iter()
        .zip(&keys)
        .map(|(m, k)| json!({"ags": m.ags, "member": k.did().as_str(), "name": m.name}))
        .collect();
    let mut b = Body::MunicipalityAdmit(serde_json::from_value(json!({
        "prev_action": head.to_hex(), "municipalities": entries, "approvals": []
    }))?);
    let mut sw = LogWriter::new(
        key(1),
        fed,
        Some((
            1 + data.governance.len() as u64,
            data.governance
                .last()
                .map_or(data.genesis.id(), VerifiedRecord::id),
        )),
    );
    record::approve(&mut b, sw.key());
    let admission = sw.write(b, t0())?;
    // Requests: municipality i asks for offers i, i + step, ... (spread).
    let n = data.offers.len();
    let step = (n / per_town.max(1)).max(1);
    let offers = &data.offers;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = keys.len().div_ceil(threads).max(1);
    let requests: Vec<VerifiedRecord> = std::thread::scope(|sc| {
        let hs: Vec<_> = keys
            .chunks(chunk)
            .enumerate()
            .map(|(c, ks)| {
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for (j, k) in ks.iter().enumerate() {
                        let i = c * chunk + j;
                        let mut w = LogWriter::new(SecretKey::from_seed(k.seed()).ok()?, fed, None);
                        for r in 0..per_town {
                            let offer = &offers[(i * 7 + r * step) % n];
                            let b = Body::from_json(
                                Kind::Request,
                                json!({
                                    "offer": offer.id().to_hex(), "quantity": 40,
                                    "start": "2026-02-01T00:00:00Z", "term_months": 24,
                                    "legal_basis": {"kind": "inter_municipal", "reference": "Öffentlich-rechtliche Vereinbarung"},
                                    "on_behalf_of": [], "note": "", "contact": {"role": "Vergabestelle"}
                                }),
                            )
                            .ok()?;
                            out.push(w.write(b, t0()).ok()?);
                        }
                    }
                    Some(out)
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().ok().flatten().unwrap_or_default())
            .collect()
    });
    // Answers: by the offer's author, in request order, while capacity lasts.
    let mut by_provider: std::collections::BTreeMap<String, Vec<(&VerifiedRecord, bool)>> =
        Default::default();
    let mut left: std::collections::HashMap<Hash32, u64> = std::collections::HashMap::new();
    let author_of: std::collections::HashMap<Hash32, String> = offers
        .iter()
        .map(|o| (o.id(), o.record().author.to_string()))
        .collect();
    for r in &requests {
        let Body::Request(b) = &r.record().body else {
            continue;
        };
        let places = left.entry(b.offer).or_insert(10);
        let accept = *places > 0;
        *places = places.saturating_sub(1);
        if let Some(a) = author_of.get(&b.offer) {
            by_provider.entry(a.clone()).or_default().push((r, accept));
        }
    }
    let mut answers = Vec::new();
    let heads: std::collections::HashMap<String, (u64, Hash32)> = offers
        .iter()
        .map(|o| (o.record().author.to_string(), (o.record().seq, o.id())))
        .fold(Default::default(), |mut m, (a, h)| {
            let e = m.entry(a).or_insert(h);
            if h.0 > e.0 {
                *e = h;
            }
            m
        });
    for k in &data.providers {
        let Some(list) = by_provider.get(k.did().as_str()) else {
            continue;
        };
        let mut w = LogWriter::new(
            SecretKey::from_seed(k.seed())?,
            fed,
            heads.get(k.did().as_str()).copied(),
        );
        for (r, accept) in list {
            let b = if *accept {
                Body::from_json(Kind::RequestAccept, json!({"request": r.id().to_hex()}))?
            } else {
                Body::from_json(
                    Kind::RequestDecline,
                    json!({"request": r.id().to_hex(), "reason": "Kapazität ausgeschöpft"}),
                )?
            };
            answers.push(w.write(b, t0())?);
        }
    }
    data.exchange = vec![vec![admission], requests, answers];
    Ok(data)
}

fn report(json: bool, name: &str, v: Value) {
    if json {
        println!("{}", json!({"scenario": name, "result": v}));
    } else {
        println!("== {name}");
        if let Some(o) = v.as_object() {
            for (k, x) in o {
                println!("   {k:<28} {x}");
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Strict verification per second on one core and on all cores.
fn verify_ceiling() -> Result<(f64, f64, Value)> {
    let data = federation(8, 2500)?;
    let items: Vec<(Vec<u8>, kx_protocol::Did, kx_protocol::Signature)> = data
        .offers
        .iter()
        .map(|r| {
            let u = kx_protocol::UnverifiedRecord::parse(r.canonical_json())
                .map_err(anyhow::Error::from)?;
            Ok((
                u.signed_bytes().to_vec(),
                r.record().author.clone(),
                r.record().sig,
            ))
        })
        .collect::<Result<_>>()?;
    let start = Instant::now();
    for (m, d, s) in &items {
        d.verify(m, s)?;
    }
    let one = items.len() as f64 / start.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|sc| {
        for part in items.chunks(chunk) {
            sc.spawn(move || {
                for (m, d, s) in part {
                    let _ = d.verify(m, s);
                }
            });
        }
    });
    let all = items.len() as f64 / start.elapsed().as_secs_f64();
    Ok((
        one,
        all,
        json!({"signatures": items.len(), "one_core_per_s": one.round(), "all_cores_per_s": all.round(), "cores": threads}),
    ))
}

/// Reconciliation traffic for d missing records out of `n`.
fn sync_bytes(n: usize) -> Result<Value> {
    let fed = Hash32([0; 32]);
    let common: Vec<Hash32> = (0..n)
        .map(|i| record::sha256(format!("common-{i}").as_bytes()))
        .collect();
    let data = federation(10, 100)?;
    let mean = data
        .offers
        .iter()
        .map(|r| r.canonical_json().len())
        .sum::<usize>() as f64
        / data.offers.len() as f64;
    let mut rows = serde_json::Map::new();
    for d in [0usize, 10, 1000] {
        let missing: Vec<&VerifiedRecord> = data.offers.iter().take(d).collect();
        let a = IdSet::new(common.iter().copied());
        let b = IdSet::new(common.iter().copied().chain(missing.iter().map(|r| r.id())));
        let mut bytes = 0usize;
        let mut open = a.initial();
        let mut fetch = Vec::new();
        let mut rounds = 0;
        while !open.is_empty() && rounds < kx_protocol::sync::MAX_ROUNDS {
            rounds += 1;
            let n = open.len().min(kx_protocol::sync::MAX_RANGES);
            let ranges: Vec<_> = open.drain(..n).collect();
            bytes += SyncRequest::Reconcile {
                federation: fed,
                ranges: ranges.clone(),
            }
            .encode()
            .len();
            let answers = b.respond(&ranges);
            bytes += SyncResponse::Reconcile {
                answers: answers.clone(),
            }
            .encode()
            .len();
            let (f, next) = a.process(&ranges, &answers);
            fetch.extend(f);
            open.extend(next);
        }
        for ids in fetch.chunks(kx_protocol::sync::MAX_FETCH) {
            bytes += SyncRequest::Fetch {
                federation: fed,
                ids: ids.to_vec(),
            }
            .encode()
            .len();
            let records: Vec<Vec<u8>> = ids
                .iter()
                .filter_map(|id| missing.iter().find(|r| r.id() == *id))
                .map(|r| r.canonical_json().to_vec())
                .collect();
            bytes += SyncResponse::Records { records }.encode().len();
        }
        if fetch.len() != d {
            bail!("reconciliation found {} of {d} differences", fetch.len());
        }
        let ratio = if d == 0 {
            Value::Null
        } else {
            json!(((bytes as f64) / (d as f64 * mean) * 100.0).round() / 100.0)
        };
        rows.insert(
            format!("d={d}"),
            json!({"bytes": bytes, "rounds": rounds, "fetched": fetch.len(), "ratio_to_d_x_mean_record": ratio}),
        );
    }
    rows.insert("records".into(), json!(n));
    rows.insert("mean_record_bytes".into(), json!(mean.round()));
    Ok(Value::Object(rows))
}

struct NodeProc {
    child: Child,
    http: String,
    listen: String,
    dir: PathBuf,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name("kx-node"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("kx-node"))
}

fn start_node(dir: &Path, genesis: &VerifiedRecord, bootstrap: Option<&str>) -> Result<NodeProc> {
    init_node(dir, genesis, bootstrap.as_slice())?;
    run_node(dir)
}

/// `kx-node init` in `dir`, with the benchmark's settings (short sync interval,
/// no rate limits).
fn init_node(dir: &Path, genesis: &VerifiedRecord, bootstrap: &[&str]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let g = dir.with_extension("genesis.json");
    std::fs::write(&g, genesis.canonical_json())?;
    let mut init = Command::new(node_bin());
    init.args(["init", "--data-dir"])
        .arg(dir)
        .arg("--genesis")
        .arg(&g)
        .args(["--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    for b in bootstrap {
        init.args(["--bootstrap", b]);
    }
    let out = init
        .output()
        .context("run kx-node (build it with cargo build --release)")?;
    // init copied it into the data directory.
    let _ = std::fs::remove_file(&g);
    if !out.status.success() {
        bail!("kx-node init: {}", String::from_utf8_lossy(&out.stderr));
    }
    let cfg = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg)?
        .replace("sync_interval_secs = 30", "sync_interval_secs = 2")
        .replace("gossip_heartbeat_ms = 1000", "gossip_heartbeat_ms = 200")
        .replace("max_batch = 512", "max_batch = 2048")
        // Benchmarks measure capacity, not a client's allowance.
        .replace(
            "rate_limit_submits_per_sec = 50",
            "rate_limit_submits_per_sec = 0",
        )
        .replace(
            "rate_limit_queries_per_sec = 100",
            "rate_limit_queries_per_sec = 0",
        );
    std::fs::write(&cfg, text)?;
    Ok(())
}

/// Runs `kx-node` on an initialised data directory and waits until it serves.
fn run_node(dir: &Path) -> Result<NodeProc> {
    let _ = std::fs::remove_file(dir.join("node.json"));
    // KX_BENCH_NODE_LOG=debug (a RUST_LOG filter) keeps each node's log in
    // DIR/node.log, for profiling a scenario.
    let log = std::env::var("KX_BENCH_NODE_LOG").ok();
    let stderr = match &log {
        Some(_) => Stdio::from(std::fs::File::create(dir.join("node.log"))?),
        None => Stdio::null(),
    };
    let child = Command::new(node_bin())
        .args(["run", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", log.as_deref().unwrap_or("warn"))
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()?;
    let mut node = NodeProc {
        child,
        http: String::new(),
        listen: String::new(),
        dir: dir.to_owned(),
    };
    // A node writes node.json once it has verified its store and serves: at
    // a million records that takes minutes, so the wait is for the process
    // (ended: an error at once), bounded only against a hung start.
    let deadline = Instant::now() + Duration::from_secs(30 * 60);
    loop {
        if let Some(v) = std::fs::read_to_string(dir.join("node.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            node.http = v["http"].as_str().unwrap_or("").to_owned();
            node.listen = v["listen"][0].as_str().unwrap_or("").to_owned();
            return Ok(node);
        }
        if let Some(status) = node.child.try_wait()? {
            bail!(
                "kx-node ended before it served ({status}) in {}",
                dir.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "kx-node did not start within 30 minutes in {}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, http: &str, rec: &VerifiedRecord) -> Result<u16> {
    let mut r = agent
        .post(&format!("{http}/v1/records"))
        .send(rec.canonical_json())?;
    // Reading the answer to the end gives the connection back to the agent's
    // pool; dropping it unread would close it and open a new one per submit.
    r.body_mut().read_to_string()?;
    Ok(r.status().as_u16())
}

fn get_json(agent: &ureq::Agent, url: &str) -> Result<Value> {
    let mut r = agent.get(url).call()?;
    Ok(serde_json::from_str(
        &r.body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()?,
    )?)
}

/// A minimal HTTP/1.1 keep-alive client for submits: the load generator shares
/// the machine with the node, so it should cost as little CPU as possible
/// (a general client spent about half as much CPU per submit as the node).
struct Submitter {
    host: String,
    conn: std::io::BufReader<std::net::TcpStream>,
}

impl Submitter {
    fn connect(http: &str) -> Result<Submitter> {
        let host = http
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stream = std::net::TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        Ok(Submitter {
            host,
            conn: std::io::BufReader::new(stream),
        })
    }

    /// POSTs a record to /v1/records; returns the status.
    fn submit(&mut self, rec: &VerifiedRecord) -> Result<u16> {
        use std::io::{BufRead, Read, Write};
        let body = rec.canonical_json();
        let head = format!(
            "POST /v1/records HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let s = self.conn.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut line = String::new();
        self.conn.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .context("HTTP status line")?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.conn.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut answer = vec![0u8; length];
        self.conn.read_exact(&mut answer)?;
        Ok(status)
    }
}

/// Submits records over HTTP from `clients` threads; returns records/s.
fn submit_all(http: &str, records: &[VerifiedRecord], clients: usize) -> Result<f64> {
    // One log per thread keeps each author's records in order.
    let mut by_author: std::collections::BTreeMap<String, Vec<&VerifiedRecord>> =
        Default::default();
    for r in records {
        by_author
            .entry(r.record().author.to_string())
            .or_default()
            .push(r);
    }
    let logs: Vec<Vec<&VerifiedRecord>> = by_author.into_values().collect();
    let next = AtomicUsize::new(0);
    let errors = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|sc| {
        for _ in 0..clients {
            sc.spawn(|| {
                let Ok(mut client) = Submitter::connect(http) else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(log) = logs.get(i) else { return };
                    for r in log {
                        if !matches!(client.submit(r), Ok(201 | 200)) {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let e = errors.load(Ordering::Relaxed);
    if e > 0 {
        bail!("{e} submits failed");
    }
    Ok(records.len() as f64 / secs)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("kx-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn populated_node(dir: &Path, n: usize) -> Result<(NodeProc, Data, f64)> {
    let providers = (n / 1000).clamp(8, 200);
    let data = federation(providers, n.div_ceil(providers))?;
    let node = start_node(dir, &data.genesis, None)?;
    let a = agent();
    for g in &data.governance {
        post(&a, &node.http, g)?;
    }
    let rate = submit_all(&node.http, &data.offers, 8)?;
    Ok((node, data, rate))
}

/// The filter mixes the searches of `query` and `exchange` use.
const FILTERS: [&str; 6] = [
    "region=05774032",
    "region=05158004&category=fachverfahren",
    "category=e-akte",
    "q=rechenzentrum%20schulungen",
    "ozg=10124&cert=iso27001-grundschutz",
    "municipality=Paderborn&procurement=tender_free",
];

fn query(n: usize) -> Result<(Value, NodeProc, Data)> {
    let (node, data, _) = populated_node(&tmp("query"), n)?;
    let a = agent();
    let filters = FILTERS;
    let _ = get_json(&a, &format!("{}/v1/offers?limit=20", node.http))?; // warm the state cache
    let mut times = Vec::new();
    let mut by_filter: Vec<Vec<f64>> = vec![Vec::new(); filters.len()];
    for i in 0..200 {
        let start = Instant::now();
        let v = get_json(
            &a,
            &format!(
                "{}/v1/offers?limit=20&{}",
                node.http,
                filters[i % filters.len()]
            ),
        )?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        by_filter[i % filters.len()].push(start.elapsed().as_secs_f64() * 1000.0);
        if v.get("offers").is_none() {
            bail!("search failed: {v}");
        }
    }
    times.sort_by(f64::total_cmp);
    let rss = rss_kib(node.child.id());
    // The same node restarted on its store: its memory after a start (which
    // reads and verifies the whole store) and how long the start takes.
    let dir = node.dir.clone();
    drop(node);
    let started = Instant::now();
    let node = run_node(&dir)?;
    let restart_s = started.elapsed().as_secs_f64();
    let status = get_json(&a, &format!("{}/v1/status", node.http))?;
    let _ = get_json(
        &a,
        &format!("{}/v1/offers?limit=20&{}", node.http, filters[0]),
    )?;
    let rss_restarted = rss_kib(node.child.id());
    let by_filter: serde_json::Map<String, Value> = filters
        .iter()
        .zip(by_filter.iter_mut())
        .map(|(f, t)| {
            t.sort_by(f64::total_cmp);
            (
                f.to_string(),
                json!((percentile(t, 0.5) * 100.0).round() / 100.0),
            )
        })
        .collect();
    Ok((
        json!({"offers": data.offers.len(), "searches": times.len(), "p50_ms_by_filter": by_filter, "p50_ms": (percentile(&times, 0.5) * 100.0).round() / 100.0, "p99_ms": (percentile(&times, 0.99) * 100.0).round() / 100.0, "node_rss_mib": rss / 1024, "node_rss_mib_after_restart": rss_restarted / 1024, "restart_s": (restart_s * 10.0).round() / 10.0, "records_after_restart": status["records"], "target": "p50 <= 2 ms, p99 <= 10 ms, RSS <= 150 MiB"}),
        node,
        data,
    ))
}

/// The agreements-heavy data set: searches (each offer view computing its
/// uptake), the exchange's lists, memory, and a fresh node catching up.
fn exchange(offers: usize, per_town: usize, ceiling: f64) -> Result<Value> {
    let providers = (offers / 100).clamp(8, 200);
    let data = with_exchange(federation(providers, offers.div_ceil(providers))?, per_town)?;
    let node = start_node(&tmp("exchange"), &data.genesis, None)?;
    let a = agent();
    for g in &data.governance {
        post(&a, &node.http, g)?;
    }
    submit_all(&node.http, &data.offers, 8)?;
    let mut rates = Vec::new();
    for phase in &data.exchange {
        rates.push(submit_all(&node.http, phase, 8)?.round());
    }
    let status = get_json(&a, &format!("{}/v1/status", node.http))?;
    let searches: Vec<String> = FILTERS
        .iter()
        .map(|f| format!("/v1/offers?limit=20&{f}"))
        .collect();
    let _ = get_json(&a, &format!("{}{}", node.http, searches[0]))?;
    let (q50, q99) = scale::timed(&node, &searches, 200)?;
    let provider = data.providers[0].did().to_string();
    let lists: Vec<String> = vec![
        "/v1/agreements?ags=05774&limit=100".into(),
        format!("/v1/requests?provider={provider}&status=open&limit=100"),
        format!("/v1/agreements?offer={provider}/o1"),
        "/v1/municipalities/Paderborn".into(),
        "/v1/demand?limit=100".into(),
    ];
    let (l50, l99) = scale::timed(&node, &lists, 100)?;
    let mut by_list = serde_json::Map::new();
    for l in &lists {
        let (p50, p99) = scale::timed(&node, std::slice::from_ref(l), 20)?;
        by_list.insert(l.clone(), json!([p50, p99]));
    }
    let rss = rss_kib(node.child.id());
    let catch = catch_up(&node, &data, ceiling)?;
    let exchange_records: usize = data.exchange.iter().map(Vec::len).sum();
    let agreements = data.exchange.get(2).map_or(0, |ans| {
        ans.iter()
            .filter(|r| r.record().kind() == Kind::RequestAccept)
            .count()
    });
    let _ = std::fs::remove_dir_all(&node.dir);
    Ok(json!({
        "offers": data.offers.len(),
        "municipalities": kx_protocol::geo::municipalities().len(),
        "requests": data.exchange.get(1).map_or(0, Vec::len),
        "agreements": agreements,
        "records": status["records"],
        "exchange_submits_per_s": rates,
        "exchange_records": exchange_records,
        "search_p50_ms": q50, "search_p99_ms": q99,
        "lists_p50_ms": l50, "lists_p99_ms": l99,
        "lists_p50_p99_ms_by_list": by_list,
        "node_rss_mib": rss / 1024,
        "catch_up": catch,
        "target": "search p50 <= 2 ms, p99 <= 10 ms; catch-up as for offers",
    }))
}

fn catch_up(source: &NodeProc, data: &Data, ceiling: f64) -> Result<Value> {
    let want = scale::records_of(source)?;
    let start = Instant::now();
    let fresh = start_node(&tmp("catchup"), &data.genesis, Some(&source.listen))?;
    loop {
        let have = scale::records_of(&fresh)?;
        if have >= want {
            break;
        }
        if start.elapsed() > Duration::from_secs(1800) {
            bail!("catch-up did not finish in 30 minutes ({have}/{want})");
        }
        // A status call after a change computes the state digest under the
        // registry's read lock, which holds up the writer for a few ms: poll often
        // enough to see the end, rarely enough not to slow what is measured.
        std::thread::sleep(Duration::from_millis(250));
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = want as f64 / secs;
    Ok(
        json!({"records": want, "seconds": (secs * 10.0).round() / 10.0, "records_per_s": rate.round(), "all_core_verify_ceiling_per_s": ceiling.round(), "ratio_to_ceiling": (rate / ceiling * 100.0).round() / 100.0, "target": "ratio >= 0.6"}),
    )
}

fn propagation(nodes: usize) -> Result<Value> {
    let data = federation(1, 0)?;
    let base = tmp("prop");
    let first = start_node(&base.join("n0"), &data.genesis, None)?;
    let boot = first.listen.clone();
    let mut all = vec![first];
    for i in 1..nodes {
        all.push(start_node(
            &base.join(format!("n{i}")),
            &data.genesis,
            Some(&boot),
        )?);
    }
    let a = agent();
    // Wait until the mesh formed: everyone has peers.
    let deadline = Instant::now() + Duration::from_secs(120);
    while all.iter().any(|n| {
        get_json(&a, &format!("{}/v1/status", n.http))
            .map(|v| v["peers"].as_array().is_none_or(|p| p.len() < 2))
            .unwrap_or(true)
    }) {
        if Instant::now() > deadline {
            bail!("the {nodes} nodes did not connect");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3)); // let gossipsub build its mesh
    for g in &data.governance {
        post(&a, &all[0].http, g)?;
    }
    let fed = data.genesis.record().federation;
    let mut w = LogWriter::new(SecretKey::from_seed(data.providers[0].seed())?, fed, None);
    let mut lat = Vec::new();
    for i in 0..20 {
        let rec = w.write(offer(&format!("p{i}"), i)?, t0())?;
        let origin = i % nodes;
        let start = Instant::now();
        post(&a, &all[origin].http, &rec)?;
        let mut seen = vec![false; nodes];
        while seen.iter().any(|s| !s) {
            for (j, n) in all.iter().enumerate() {
                if !seen[j]
                    && a.get(&format!("{}/v1/records/{}", n.http, rec.id()))
                        .call()
                        .is_ok_and(|r| r.status().as_u16() == 200)
                {
                    seen[j] = true;
                    lat.push(start.elapsed().as_secs_f64() * 1000.0);
                }
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("record {i} did not reach every node in 60 s");
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    Ok(
        json!({"nodes": nodes, "records": 20, "p50_ms": percentile(&lat, 0.5).round(), "p99_ms": percentile(&lat, 0.99).round(), "target": "p99 <= 300 ms"}),
    )
}

fn submit() -> Result<Value> {
    let data = federation(16, 1500)?;
    let node = start_node(&tmp("submit"), &data.genesis, None)?;
    let a = agent();
    for g in &data.governance {
        post(&a, &node.http, g)?;
    }
    let rate = submit_all(&node.http, &data.offers, 16)?;
    let m = a
        .get(&format!("{}/metrics", node.http))
        .call()?
        .body_mut()
        .read_to_string()?;
    let commits = m
        .lines()
        .find(|l| l.starts_with("kx_commits_total "))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or("?")
        .to_owned();
    Ok(
        json!({"records": data.offers.len(), "clients": 16, "durable_submits_per_s": rate.round(), "group_commits": commits, "target": ">= 5000/s"}),
    )
}

fn load(node: &NodeProc, data: &Data, seconds: u64) -> Result<Value> {
    let fed = data.genesis.record().federation;
    let searches = AtomicU64::new(0);
    let submits = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let end = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|sc| {
        for t in 0..4usize {
            let (searches, errors) = (&searches, &errors);
            sc.spawn(move || {
                let a = agent();
                let mut i = t;
                while Instant::now() < end {
                    let q = [
                        "region=05774032",
                        "category=e-akte",
                        "q=hosting",
                        "municipality=Köln",
                    ][i % 4];
                    match get_json(&a, &format!("{}/v1/offers?limit=20&{q}", node.http)) {
                        Ok(v) if v.get("offers").is_some() => {
                            searches.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            });
        }
        for t in 0..2u32 {
            let (submits, errors) = (&submits, &errors);
            sc.spawn(move || {
                let a = agent();
                let Some(k) = data.providers.get(t as usize) else {
                    return;
                };
                let head = get_json(&a, &format!("{}/v1/authors/{}", node.http, k.did())).ok();
                let head = head.and_then(|h| {
                    Some((
                        h["head"]["seq"].as_u64()?,
                        h["head"]["id"].as_str()?.parse().ok()?,
                    ))
                });
                let Ok(key) = SecretKey::from_seed(k.seed()) else {
                    return;
                };
                let mut w = LogWriter::new(key, fed, head);
                let mut i = 0;
                while Instant::now() < end {
                    let ok = offer(&format!("load-{i}"), i)
                        .ok()
                        .and_then(|b| w.write(b, t0()).ok())
                        .map(|r| post(&a, &node.http, &r));
                    match ok {
                        Some(Ok(201)) => submits.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            });
        }
    });
    Ok(
        json!({"seconds": seconds, "searches": searches.load(Ordering::Relaxed), "submits": submits.load(Ordering::Relaxed), "errors": errors.load(Ordering::Relaxed), "target": "0 errors"}),
    )
}

/// Searches by two clients while a third floods the node with submissions that
/// look valid but are badly signed, all behind a reverse proxy (clients told
/// apart by `X-Forwarded-For`) with the shipped rate limits. The flood must not
/// starve the searches: their p99 under the flood against the same searches
/// before it.
fn flood(n: usize, seconds: u64) -> Result<Value> {
    let (node, data, _) = populated_node(&tmp("flood"), n)?;
    let dir = node.dir.clone();
    drop(node);
    // Back to the shipped limits, counted per forwarded client.
    let cfg = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg)?
        .replace(
            "rate_limit_submits_per_sec = 0",
            "rate_limit_submits_per_sec = 50",
        )
        .replace(
            "rate_limit_queries_per_sec = 0",
            "rate_limit_queries_per_sec = 100",
        )
        .replace("forwarded_for = false", "forwarded_for = true");
    std::fs::write(&cfg, text)?;
    let node = run_node(&dir)?;
    let search = |client: &str, i: usize, a: &ureq::Agent| -> Result<(f64, u16)> {
        let url = format!(
            "{}/v1/offers?limit=20&{}",
            node.http,
            FILTERS[i % FILTERS.len()]
        );
        let start = Instant::now();
        let mut r = a.get(&url).header("x-forwarded-for", client).call()?;
        r.body_mut().read_to_string()?;
        Ok((start.elapsed().as_secs_f64() * 1000.0, r.status().as_u16()))
    };
    // Each searcher stays within its allowance: 40 searches a second.
    let searches = |stop: &AtomicUsize| -> Result<(Vec<f64>, usize)> {
        let mut times = Vec::new();
        let mut refused = 0;
        std::thread::scope(|sc| {
            let workers: Vec<_> = ["198.51.100.1", "198.51.100.2"]
                .into_iter()
                .map(|client| {
                    sc.spawn(move || -> Result<(Vec<f64>, usize)> {
                        let a = agent();
                        let (mut t, mut refused) = (Vec::new(), 0);
                        let mut i = 0;
                        while stop.load(Ordering::Relaxed) == 0 && t.len() < 400 {
                            let started = Instant::now();
                            let (ms, status) = search(client, i, &a)?;
                            if status == 200 {
                                t.push(ms);
                            } else {
                                refused += 1;
                            }
                            i += 1;
                            if let Some(rest) =
                                Duration::from_millis(25).checked_sub(started.elapsed())
                            {
                                std::thread::sleep(rest);
                            }
                        }
                        Ok((t, refused))
                    })
                })
                .collect();
            for w in workers {
                let (t, r) = w
                    .join()
                    .map_err(|_| anyhow::anyhow!("searcher panicked"))??;
                times.extend(t);
                refused += r;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        times.sort_by(f64::total_cmp);
        Ok((times, refused))
    };
    let never = AtomicUsize::new(0);
    let (before, _) = searches(&never)?;
    // The flood: one client, eight connections, each sending records signed by
    // an admitted provider's key but altered after signing.
    let fed = data.genesis.record().federation;
    let k = data.providers.first().context("no provider")?;
    let key = SecretKey::from_seed(k.seed())?;
    let mut w = LogWriter::new(key, fed, None);
    let mut forged = Vec::new();
    for i in 0..64 {
        let rec = w.write(offer(&format!("flood-{i}"), i)?, t0())?;
        let text = String::from_utf8(rec.canonical_json().to_vec())?;
        forged.push(text.replacen("\"capacity\":", "\"capacity\":1", 1));
    }
    let (sent, limited) = (AtomicU64::new(0), AtomicU64::new(0));
    let stop = AtomicUsize::new(0);
    let end = Instant::now() + Duration::from_secs(seconds);
    let (during, refused) = std::thread::scope(|sc| {
        for t in 0..8 {
            let (forged, sent, limited, stop, http) = (&forged, &sent, &limited, &stop, &node.http);
            sc.spawn(move || {
                let a = agent();
                let mut i = t;
                while stop.load(Ordering::Relaxed) == 0 {
                    let r = a
                        .post(&format!("{http}/v1/records"))
                        .header("x-forwarded-for", "203.0.113.66")
                        .send(forged[i % forged.len()].as_bytes());
                    if let Ok(mut r) = r {
                        let _ = r.body_mut().read_to_string();
                        sent.fetch_add(1, Ordering::Relaxed);
                        if r.status().as_u16() == 429 {
                            limited.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
            });
        }
        // Let the flood use up its burst before measuring.
        std::thread::sleep(Duration::from_secs(2));
        let measured = searches(&never);
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(1, Ordering::Relaxed);
        measured
    })?;
    let flood_s = seconds.max(1) as f64;
    let ms = |t: &[f64], p| (percentile(t, p) * 100.0).round() / 100.0;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "offers": data.offers.len(),
        "searches_before": before.len(),
        "p50_ms_before": ms(&before, 0.5),
        "p99_ms_before": ms(&before, 0.99),
        "searches_during": during.len(),
        "searches_refused_during": refused,
        "p50_ms_during": ms(&during, 0.5),
        "p99_ms_during": ms(&during, 0.99),
        "flood_requests_per_s": (sent.load(Ordering::Relaxed) as f64 / flood_s).round(),
        "flood_rate_limited_share": ((limited.load(Ordering::Relaxed) as f64
            / sent.load(Ordering::Relaxed).max(1) as f64) * 1000.0).round() / 1000.0,
        "target": "no search refused; p99 during the flood <= 10 ms"
    }))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.scale == Scale::Germany {
        return germany_main(&cli);
    }
    if cli.scenario == Scenario::Growth {
        bail!("growth runs with --scale germany");
    }
    let records = cli.records.unwrap_or(100_000);
    let nodes = cli.nodes.unwrap_or(30);
    let s = cli.scenario;
    let all = s == Scenario::All;
    let mut ceiling = None;
    if all
        || matches!(
            s,
            Scenario::VerifyCeiling | Scenario::CatchUp | Scenario::Exchange
        )
    {
        let (_, c, v) = verify_ceiling()?;
        report(cli.json, "verify-ceiling", v);
        ceiling = Some(c);
    }
    if all || s == Scenario::SyncBytes {
        report(cli.json, "sync-bytes", sync_bytes(100_000)?);
    }
    if all || s == Scenario::Submit {
        report(cli.json, "submit", submit()?);
    }
    if all || matches!(s, Scenario::Query | Scenario::CatchUp | Scenario::Load) {
        let (v, node, data) = query(records)?;
        if all || s == Scenario::Query {
            report(cli.json, "query", v);
        }
        if all || s == Scenario::CatchUp {
            report(
                cli.json,
                "catch-up",
                catch_up(&node, &data, ceiling.unwrap_or(1.0))?,
            );
        }
        if all || s == Scenario::Load {
            report(cli.json, "load", load(&node, &data, cli.seconds)?);
        }
        let _ = std::fs::remove_dir_all(&node.dir);
    }
    if all || s == Scenario::Propagation {
        report(cli.json, "propagation", propagation(nodes)?);
    }
    if all || s == Scenario::Flood {
        report(
            cli.json,
            "flood",
            flood((records / 5).max(1000), cli.seconds.min(30))?,
        );
    }
    if all || s == Scenario::Exchange {
        report(
            cli.json,
            "exchange",
            exchange(records / 5, 100, ceiling.unwrap_or(1.0))?,
        );
    }
    Ok(())
}

/// `--scale germany`: the ceiling, reconciliation bytes, submits and every
/// figure of `scale::run`, and propagation over 100 nodes; `growth` (and
/// `all`) at 1/100 and 1/10 of the records as well.
fn germany_main(cli: &Cli) -> Result<()> {
    let s = cli.scenario;
    let all = s == Scenario::All;
    let records = cli.records.unwrap_or(1_000_000);
    let sizes: Vec<usize> = if all || s == Scenario::Growth {
        vec![records / 100, records / 10, records]
    } else {
        vec![records]
    };
    let (_, ceiling, v) = verify_ceiling()?;
    report(cli.json, "verify-ceiling", v);
    if all || s == Scenario::SyncBytes {
        for n in &sizes {
            report(cli.json, &format!("sync-bytes {n}"), sync_bytes(*n)?);
        }
    }
    if all || s == Scenario::Submit {
        report(cli.json, "submit", submit()?);
    }
    let node_scenario = matches!(
        s,
        Scenario::All
            | Scenario::Growth
            | Scenario::Query
            | Scenario::CatchUp
            | Scenario::Load
            | Scenario::Exchange
    );
    if node_scenario {
        let mut rows = Vec::new();
        for n in &sizes {
            let v = scale::run(*n, cli.seed, ceiling)?;
            report(cli.json, &format!("germany {n}"), v.clone());
            rows.push(v);
        }
        if rows.len() > 1 {
            let table = scale::growth_table(&rows);
            println!("{table}");
            if let Some(p) = &cli.plot {
                std::fs::write(p, scale::growth_svg(&rows))?;
                println!("plot written to {}", p.display());
            }
        }
    }
    if all || s == Scenario::Propagation {
        report(
            cli.json,
            "propagation",
            propagation(cli.nodes.unwrap_or(100))?,
        );
    }
    Ok(())
}
