//! `kx demo`: a local demo federation with real NRW data.
//!
//! Starts one `kx-node` process per provider on loopback (ITK Rheinland, KRZN,
//! citeq, Südwestfalen-IT, OWL-IT, regio iT), with KDN as steward. Every record is
//! signed here with keys generated for the run and submitted over HTTP, so it takes
//! the normal ingest and replication paths: admissions, profiles with the regions
//! and members each provider really has (`cli/demo/`, copied from the KDN reference
//! data; `data.rs` reads them), about 180 offers across the taxonomy with real OZG ids and LeiKa keys, and
//! the OWL-IT merger of 1 January 2024 (GKD Paderborn and krz hand their portfolios
//! to Ostwestfalen-Lippe-IT). Then the exchange (`market.rs`): the
//! municipalities of four Kreise admitted as buyers, their demand, a few hundred
//! requests and agreements, providers buying from providers, and OWL-IT
//! consolidating what it inherited. The CLI links no node internals: it runs the
//! `kx-node` binary that sits next to it.

mod data;
mod market;

use crate::args::DemoArgs;
use crate::client::Client;
use crate::offline::now;
use anyhow::{Context, Result, bail};
use data::{MERGED, NODES, Offers, QUORUM, WITNESSES};
use kx_protocol::author::{LogWriter, genesis};
use kx_protocol::body::{AdmitBody, Kind};
use kx_protocol::{Body, Hash32, SecretKey, VerifiedRecord, record};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A node process of the demo.
struct DemoNode {
    name: String,
    child: Child,
    /// The write end of the node's standard input: the node runs with
    /// `--stop-with-stdin`, so when this process ends, however it ends (even
    /// by SIGKILL), the pipe closes and the node stops.
    _lifeline: Option<std::process::ChildStdin>,
    http: String,
}

fn node_binary() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name(format!("kx-node{}", std::env::consts::EXE_SUFFIX)));
    match beside {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("kx-node"),
    }
}

fn start_node(
    bin: &Path,
    dir: &Path,
    http_port: u16,
    name: &str,
    bootstrap: Option<&str>,
) -> Result<DemoNode> {
    let mut init = Command::new(bin);
    init.args(["init", "--data-dir"])
        .arg(dir)
        .arg("--genesis")
        .arg(dir.with_extension("genesis.json"))
        .args(["--http", &format!("127.0.0.1:{http_port}")])
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"]);
    if let Some(b) = bootstrap {
        init.args(["--bootstrap", b]);
    }
    let out = init.output().with_context(|| {
        format!(
            "cannot run {} (build it with `cargo build --release`)",
            bin.display()
        )
    })?;
    if !out.status.success() {
        bail!(
            "kx-node init for {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Quicker repair than in production, for a demo that starts all at once.
    let cfg = dir.join("config.toml");
    // The demo loads each node with hundreds of records from one client.
    let text = std::fs::read_to_string(&cfg)?
        .replace("sync_interval_secs = 30", "sync_interval_secs = 5")
        .replace(
            "rate_limit_submits_per_sec = 50",
            "rate_limit_submits_per_sec = 0",
        );
    std::fs::write(&cfg, text)?;
    let log = std::fs::File::create(dir.join("node.log"))?;
    let mut child = Command::new(bin)
        .args(["run", "--stop-with-stdin", "--data-dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("start kx-node for {name}"))?;
    let lifeline = child.stdin.take();
    let mut node = DemoNode {
        name: name.to_owned(),
        child,
        _lifeline: lifeline,
        http: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("node.json"))
            && let Ok(v) = serde_json::from_str::<NodeFile>(&text)
        {
            node.http = v.http;
            return Ok(node);
        }
        if let Ok(Some(status)) = node.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
            bail!(
                "kx-node for {name} stopped ({status}); is port {http_port} free? Try --base-port.\n{}",
                log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
            );
        }
        if Instant::now() > deadline {
            bail!("kx-node for {name} did not start within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `kx-node run` writes to `node.json` once it listens.
#[derive(Debug, serde::Deserialize)]
struct NodeFile {
    http: String,
    listen: Vec<String>,
}

fn listen_of(dir: &Path) -> Result<String> {
    let v: NodeFile = serde_json::from_str(&std::fs::read_to_string(dir.join("node.json"))?)?;
    v.listen
        .into_iter()
        .next()
        .context("node.json lists no listen address")
}

/// Shows progress on one terminal line; without a terminal, only new steps.
fn progress(step: &str) {
    use std::io::IsTerminal;
    static LAST: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let mut e = std::io::stderr().lock();
    if e.is_terminal() {
        let _ = write!(e, "\r\x1b[2K{step}");
        let _ = e.flush();
        return;
    }
    // Not a terminal (a log, a pipe): each step once, without the counter.
    let head: String = step.split(" ...").next().unwrap_or(step).trim().to_owned();
    if let Ok(mut last) = LAST.lock()
        && *last != head
        && !head.is_empty()
    {
        let _ = writeln!(e, "{head}");
        *last = head;
    }
}

/// This program as a command the user can type: `kx` where the shell finds
/// this very program under that name, else its path (relative to the working
/// directory when it lies below it, as `target/release/kx` after the
/// README's first line).
fn kx_command() -> String {
    let Ok(exe) = std::env::current_exe().and_then(|e| e.canonicalize()) else {
        return "kx".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .filter_map(|d| d.join("kx").canonicalize().ok())
            .next()
            .is_some_and(|found| found == exe)
    });
    if on_path {
        return "kx".to_owned();
    }
    let shown = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .ok()
        .and_then(|d| exe.strip_prefix(d).ok().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| exe.clone());
    shell_word(&shown.display().to_string())
}

/// `s` quoted for a POSIX shell where it needs quoting.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs the demo until Ctrl-C, SIGTERM or SIGHUP (a closed terminal); its
/// nodes stop with it, also when it is killed (see `DemoNode`).
pub fn run(args: DemoArgs) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("install the handler for Ctrl-C, SIGTERM and SIGHUP")?;
    }
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("kx-demo-{}", std::process::id())),
            true,
        ),
    };
    if dir.join("nodes").exists() {
        bail!("{} already holds a demo; give another --dir", dir.display());
    }
    std::fs::create_dir_all(dir.join("keys"))?;
    std::fs::create_dir_all(dir.join("nodes"))?;
    let mut nodes: Vec<DemoNode> = Vec::new();
    let result = setup(&args, &dir, &mut nodes, &stop);
    let waited = match result {
        Ok(()) if !args.no_wait => {
            while !stop.load(Ordering::SeqCst) {
                for n in &mut nodes {
                    if let Ok(Some(status)) = n.child.try_wait() {
                        eprintln!(
                            "\nthe node of {} stopped ({status}); ending the demo",
                            n.name
                        );
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        }
        other => other,
    };
    eprintln!("\nstopping {} nodes ...", nodes.len());
    for n in &mut nodes {
        let _ = Command::new("kill")
            .args(["-TERM", &n.child.id().to_string()])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for n in &mut nodes {
        while n.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = n.child.kill();
        let _ = n.child.wait();
    }
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    waited
}

/// The passphrase of every demo key: the demo's keys protect nothing, but they
/// are encrypted like real ones so that every command works as it will later.
pub(super) const DEMO_PASSPHRASE: &str = "kx-demo";

/// Writes a demo key file, encrypted with `DEMO_PASSPHRASE` at the lowest cost `kx`
/// writes (the passphrase is public; hundreds of keys are made at start).
pub(super) fn write_key(path: &Path, key: &SecretKey) -> Result<()> {
    let sealing = crate::secret::fresh_sealing(crate::secret::MIN_ITERATIONS)?;
    let text = key.to_encrypted_file_text(DEMO_PASSPHRASE.as_bytes(), sealing)?;
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn setup(args: &DemoArgs, dir: &Path, nodes: &mut Vec<DemoNode>, stop: &AtomicBool) -> Result<()> {
    let bin = node_binary();
    progress("[1/6] keys and genesis ...");
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let kdn = SecretKey::from_seed(seed)?;
    write_key(&dir.join("keys/kdn-steward.key"), &kdn)?;
    let g = genesis(
        "KDN Dienstleistungsaustausch NRW (Demo)"
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        vec![kdn.did().clone()],
        1,
        &kdn,
        &[&kdn],
        now()?,
    )?;
    let fed = g.record().federation;
    let mut genesis_text = g.canonical_json().to_vec();
    genesis_text.push(b'\n');
    std::fs::write(dir.join("genesis.json"), &genesis_text)?;
    let providers = data::providers()?;
    for p in &providers {
        write_key(&dir.join(format!("keys/{}.key", p.id)), &p.key)?;
    }

    progress("[2/6] starting nodes ...");
    let mut first_listen = None;
    for (i, id) in NODES.iter().enumerate() {
        let p = providers
            .iter()
            .find(|p| p.id == *id)
            .context("demo provider data")?;
        let ndir = dir.join("nodes").join(id);
        std::fs::write(ndir.with_extension("genesis.json"), &genesis_text)?;
        let node = start_node(
            &bin,
            &ndir,
            args.base_port + i as u16,
            &p.short,
            first_listen.as_deref(),
        )?;
        if first_listen.is_none() {
            first_listen = Some(listen_of(&ndir)?);
        }
        progress(&format!(
            "[2/6] starting nodes ... {}/{}",
            i + 1,
            NODES.len()
        ));
        nodes.push(node);
        if stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
    }
    let client_of = |id: &str| -> Client {
        let i = NODES.iter().position(|n| *n == id).unwrap_or(4);
        Client::new(&nodes[i].http)
    };

    progress("[3/6] admitting providers ...");
    let kdn_node = client_of("itk-rheinland");
    let mut steward = LogWriter::new(kdn, fed, Some((1, g.id())));
    let mut head: Hash32 = fed;
    let mut submitted = 0usize;
    for p in &providers {
        let mut b = Body::MemberAdmit(AdmitBody {
            prev_action: head,
            provider: p.key.did().clone(),
            name: p.short.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
            approvals: Vec::new(),
        });
        record::approve(&mut b, steward.key());
        let rec = steward.write(b, now()?)?;
        head = rec.action().context("admission is an action")?;
        kdn_node.submit(rec.canonical_json())?;
        submitted += 1;
    }
    // The stewards' standard portfolio.
    for v in data::standards() {
        let mut v = v;
        v["prev_action"] = serde_json::json!(head.to_hex());
        v["approvals"] = serde_json::json!([]);
        let mut b = Body::from_json_draft(kx_protocol::Kind::StandardDefine, v)
            .map_err(|e| anyhow::anyhow!("demo standard: {e}"))?;
        record::approve(&mut b, steward.key());
        let rec = steward.write(b, now()?)?;
        head = rec.action().context("a definition is an action")?;
        kdn_node.submit(rec.canonical_json())?;
        submitted += 1;
    }

    let catalogue = Offers::load()?;
    let total: usize = providers
        .iter()
        .map(|p| catalogue.of(p).map_or(0, |o| o.len()))
        .sum();
    let mut done = 0;
    let mut writers: BTreeMap<String, LogWriter> = BTreeMap::new();
    let mut offered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut published: Vec<(String, VerifiedRecord)> = Vec::new();
    for p in &providers {
        let home = if MERGED.contains(&p.id.as_str()) {
            "owl-it"
        } else {
            p.id.as_str()
        };
        let client = client_of(home);
        let mut w = LogWriter::new(SecretKey::from_seed(p.key.seed())?, fed, None);
        let mut submit = |w: &mut LogWriter, b: Body| -> Result<VerifiedRecord> {
            let rec = w.write(b, now()?)?;
            client.submit(rec.canonical_json())?;
            submitted += 1;
            Ok(rec)
        };
        submit(&mut w, data::profile(p)?)?;
        for b in catalogue.of(p)? {
            if let Body::Offer(o) = &b {
                offered
                    .entry(p.id.clone())
                    .or_default()
                    .push(o.offer_id.to_string());
            }
            let rec = submit(&mut w, b)?;
            published.push((p.id.clone(), rec));
            done += 1;
            progress(&format!("[4/6] publishing offers ... {done}/{total}"));
        }
        writers.insert(p.id.clone(), w);
        if stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
    }

    // The OWL-IT merger: GKD Paderborn and krz hand their portfolios to OWL-IT.
    let owl = providers
        .iter()
        .find(|p| p.id == "owl-it")
        .context("OWL-IT")?;
    let owl_client = client_of("owl-it");
    for m in MERGED {
        let w = writers.get_mut(m).context("merged provider")?;
        let s = w.write(
            Body::from_json(
                Kind::Succession,
                json!({"successor": owl.key.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": []}),
            )?,
            now()?,
        )?;
        owl_client.submit(s.canonical_json())?;
        submitted += 1;
        let ow = writers.get_mut("owl-it").context("OWL-IT writer")?;
        let a = ow.write(
            Body::from_json(
                Kind::SuccessionAccept,
                json!({"succession": s.id().to_hex()}),
            )?,
            now()?,
        )?;
        owl_client.submit(a.canonical_json())?;
        submitted += 1;
    }

    progress("[5/6] the exchange: municipalities, demand, requests, agreements ...");
    let keys = dir.join("keys/municipalities");
    std::fs::create_dir_all(&keys)?;
    let clock = kx_protocol::Timestamp::from_unix(now()?.unix() - 3600).context("clock")?;
    let client_for = |id: &str| client_of(id);
    let mut mk = market::Market {
        fed,
        providers: &providers,
        writers: &mut writers,
        offers: &published,
        client_of: &client_for,
        submitted: &mut submitted,
        clock,
    };
    let mut towns = market::admit(&mut mk, &mut steward, &mut head, &keys)?;
    let made = market::run(&mut mk, &mut towns)?;

    // Two nodes witness the others' checkpoints, so that market surveys
    // (`kx survey export`) carry cosignatures.
    let mut witnesses = Vec::new();
    for id in WITNESSES {
        let note = client_of(id).checkpoint()?.note;
        let cp = kx_protocol::checkpoint::Checkpoint::read(&note)
            .map_err(|e| anyhow::anyhow!("the checkpoint of the {id} node: {e}"))?;
        witnesses.push(json!({"name": format!("zeuge.{id}.demo"), "key": cp.signer.as_str()}));
    }
    let mut b = Body::from_json_draft(
        Kind::FederationWitnesses,
        json!({"prev_action": head.to_hex(), "witnesses": witnesses, "quorum": QUORUM, "approvals": []}),
    )
    .map_err(|e| anyhow::anyhow!("demo witnesses: {e}"))?;
    record::approve(&mut b, steward.key());
    let rec = steward.write(b, now()?)?;
    kdn_node.submit(rec.canonical_json())?;
    submitted += 1;

    progress("[6/6] waiting until every node holds every record ...");
    let deadline = Instant::now() + Duration::from_secs(120);
    let expected_records = 1 + submitted;
    loop {
        let states: Vec<_> = nodes
            .iter()
            .filter_map(|n| Client::new(&n.http).status().ok())
            .collect();
        let ok = states.len() == nodes.len()
            && states
                .iter()
                .all(|s| s.records == expected_records && s.state_digest == states[0].state_digest);
        // ... and the first node's checkpoint of them is witnessed.
        let witnessed = ok
            && Client::new(&nodes[0].http)
                .checkpoint()
                .is_ok_and(|c| c.note.matches("\n\u{2014} zeuge.").count() >= QUORUM);
        if witnessed {
            break;
        }
        if Instant::now() > deadline || stop.load(Ordering::SeqCst) {
            let records: Vec<usize> = states.iter().map(|s| s.records).collect();
            bail!(
                "the nodes did not converge: {expected_records} records expected, the nodes hold {records:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    progress("");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "KX demo federation running: {} nodes, {} providers, {total} offers (federation {}).",
        nodes.len(),
        providers.len(),
        fed.short()
    )?;
    writeln!(
        out,
        "The exchange: {} municipalities of Kreis Paderborn, Rhein-Kreis Neuss, Kreis Mettmann and Kreis Soest admitted; {} demands, {} requests, {} agreements ({} ended), {} declined; OWL-IT consolidated {} inherited offers.",
        made.towns,
        made.demands,
        made.requests,
        made.agreements,
        made.ended,
        made.declined,
        made.consolidated
    )?;
    writeln!(out)?;
    writeln!(out, "Web catalog of each node:")?;
    for n in nodes.iter() {
        writeln!(out, "  {:<14} {}/", n.name, n.http)?;
    }
    let first = &nodes[0].http;
    let owl_did = owl.key.did();
    writeln!(out)?;
    // Commands as they can be typed here: `kx` only where the shell finds
    // this program under that name, else its path.
    let kx = kx_command();
    writeln!(out, "Try:")?;
    writeln!(out, "  export KX_NODE={first}")?;
    writeln!(
        out,
        "  {kx} offer search --municipality Paderborn --category fachverfahren"
    )?;
    writeln!(out, "  {kx} provider show {owl_did}")?;
    let krzn = providers.iter().find(|p| p.id == "krzn").context("KRZN")?;
    let both = offered
        .get("owl-it")
        .into_iter()
        .flatten()
        .find(|o| offered.get("krzn").is_some_and(|k| k.contains(o)));
    if let Some(o) = both {
        writeln!(
            out,
            "  {kx} offer compare {owl_did}/{o} {}/{o} --municipality Paderborn",
            krzn.key.did()
        )?;
    }
    writeln!(out, "  {kx} agreement list --municipality Paderborn")?;
    writeln!(out, "  {kx} request list --incoming --did {owl_did}")?;
    writeln!(out, "  {kx} transition --category e-akte-dms")?;
    writeln!(out, "  {kx} node status")?;
    writeln!(
        out,
        "  {kx} survey export --municipality Paderborn --category fachverfahren --out markterkundung.json && {kx} survey verify markterkundung.json --genesis {}",
        shell_word(&dir.join("genesis.json").display().to_string())
    )?;
    if let Some((_, rec)) = published.iter().find(|(p, _)| p == "owl-it") {
        writeln!(
            out,
            "  {kx} record get {} > offer.json && {kx} record verify offer.json --genesis {}",
            rec.id(),
            shell_word(&dir.join("genesis.json").display().to_string())
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "In a browser: {first}/gemeinde/05774032 (Paderborn: what it takes from whom), {first}/uebergang (the transition on a map)"
    )?;
    if let Some(t) = towns.iter().find(|t| t.m.ags == "05774032") {
        writeln!(
            out,
            "Paderborn's key (for the request form on an offer page, or {kx} request send --key; passphrase {DEMO_PASSPHRASE}): {}",
            keys.join(format!("{}.key", t.m.ags)).display()
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Keys and genesis: {}", dir.display())?;
    writeln!(
        out,
        "The keys are encrypted with the passphrase {DEMO_PASSPHRASE} (export KX_PASSPHRASE={DEMO_PASSPHRASE} to use them without a prompt)."
    )?;
    if !args.no_wait {
        writeln!(out, "Press Ctrl-C to stop.")?;
    }
    out.flush()?;
    Ok(())
}
