//! Helpers for the KX integration tests: the real `kx-node` and `kx` binaries in
//! temp dirs on loopback ports chosen by the OS, bounded waits on conditions, an
//! HTTP client and a checker for `specs/http-api.yaml`.

pub mod federation;
pub mod openapi;

use futures::StreamExt;
use libp2p::{Multiaddr, gossipsub, noise, tcp, yamux};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of a workspace binary. `cargo test --workspace` builds `kx` and `kx-node`
/// before any test runs (their crates have integration tests).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// A base port with six free ports after it, for `kx demo` (which takes
/// fixed ports); `n` picks another one for a second demo at the same time.
pub fn free_base_port(n: u16) -> u16 {
    (0..200)
        .map(|i| 20_000 + (std::process::id() as u16 % 2000) * 7 + (i + n * 17) * 13)
        .find(|b| (0..6).all(|i| std::net::TcpListener::bind(("127.0.0.1", b + i)).is_ok()))
        .expect("six free ports")
}

/// The processes whose command line contains `needle` (Linux: /proc).
pub fn processes_with(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(needle).then_some(pid)
        })
        .collect()
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("kx-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `cond` until it returns Some, or panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `kx` in `dir` against `node` (may be empty for offline commands).
pub fn kx(dir: &Path, node: &str, args: &[&str]) -> Output {
    Command::new(bin("kx"))
        .current_dir(dir)
        .env("KX_NODE", node)
        .env("KX_PASSPHRASE", TEST_PASSPHRASE)
        .env_remove("KX_PASSPHRASE_FILE")
        .args(args)
        .output()
        .expect("run kx")
}

/// The passphrase of the key files tests make (`kx` gets it as `KX_PASSPHRASE`).
pub const TEST_PASSPHRASE: &str = "kx-test-passphrase";

/// Runs `kx` and returns stdout, panicking with stderr on failure.
pub fn kx_ok(dir: &Path, node: &str, args: &[&str]) -> String {
    let out = kx(dir, node, args);
    assert!(
        out.status.success(),
        "kx {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

/// Asserts that a `kx` run was refused (exit code 3) with `code` on stderr.
pub fn assert_refused(out: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(code), "{stderr}");
}

/// Runs `kx --json ...` and parses stdout.
pub fn kx_json(dir: &Path, node: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let text = kx_ok(dir, node, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("kx {args:?}: not JSON ({e}): {text}"))
}

/// A running `kx-node` process.
#[derive(Debug)]
pub struct NodeProc {
    pub dir: PathBuf,
    pub child: Child,
    pub http: String,
    pub peer_id: String,
    pub listen: Vec<String>,
}

impl NodeProc {
    /// `kx-node init` in `dir` with loopback port-0 addresses.
    pub fn init(dir: &Path, genesis: &Path, bootstrap: &[String]) {
        let mut cmd = Command::new(bin("kx-node"));
        cmd.args(["init", "--data-dir"])
            .arg(dir)
            .arg("--genesis")
            .arg(genesis)
            .args(["--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"]);
        for b in bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        let out = cmd.output().expect("run kx-node init");
        assert!(
            out.status.success(),
            "kx-node init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `kx-node run` and waits until it has written node.json.
    pub fn start(dir: &Path, extra: &[&str]) -> NodeProc {
        let _ = std::fs::remove_file(dir.join("node.json"));
        let log = std::fs::File::create(dir.join("node.log")).expect("log file");
        let child = Command::new(bin("kx-node"))
            .arg("run")
            .arg("--data-dir")
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn kx-node");
        let info: Value = wait_for("node.json", Duration::from_secs(30), || {
            let text = std::fs::read_to_string(dir.join("node.json")).ok()?;
            serde_json::from_str(&text).ok()
        });
        NodeProc {
            dir: dir.to_owned(),
            child,
            http: info["http"].as_str().expect("http").to_owned(),
            peer_id: info["peer_id"].as_str().expect("peer_id").to_owned(),
            listen: info["listen"]
                .as_array()
                .expect("listen")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = wait_for("kx-node to exit", Duration::from_secs(30), || {
            self.child.try_wait().ok().flatten()
        });
        assert!(
            status.success(),
            "kx-node exited with {status}; log: {}",
            self.log()
        );
    }

    /// Kills the process without warning (SIGKILL).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP response: status, content type, headers, body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    /// Every header, names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The value of the header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Every record a node serves at `/v1/records`, as JSON, page by page in the
/// node's order.
pub fn all_records(base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/records?limit=500&cursor={c}"),
            None => "/v1/records?limit=500".to_owned(),
        };
        let page = get(base, &path).json();
        out.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.expect("HTTP request");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("read body");
    Resp {
        status,
        content_type,
        headers,
        body,
    }
}

/// GET `base + path`.
pub fn get(base: &str, path: &str) -> Resp {
    finish(agent().get(&format!("{base}{path}")).call())
}

/// GET `base + path` as a browser asks: accepting HTML.
pub fn get_html(base: &str, path: &str) -> Resp {
    get_with(
        base,
        path,
        "accept",
        "text/html,application/xhtml+xml,*/*;q=0.8",
    )
}

/// GET `base + path` with one more header.
pub fn get_with(base: &str, path: &str, name: &str, value: &str) -> Resp {
    finish(
        agent()
            .get(&format!("{base}{path}"))
            .header(name, value)
            .call(),
    )
}

/// POST bytes to `base + path`.
pub fn post(base: &str, path: &str, body: &[u8]) -> Resp {
    finish(
        agent()
            .post(&format!("{base}{path}"))
            .header("content-type", "application/json")
            .send(body),
    )
}

/// Any method, any body.
pub fn request(base: &str, method: &str, path: &str, body: &[u8]) -> Resp {
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .body(body.to_vec())
        .expect("request");
    finish(agent().run(req))
}

/// Builders for signed records (test keys from fixed seeds).
pub mod records {
    use kx_protocol::author::{LogWriter, genesis};
    use kx_protocol::body::{AdmitBody, Kind};
    use kx_protocol::{Body, Hash32, SecretKey, Timestamp, VerifiedRecord, record};

    pub fn key(n: u8) -> SecretKey {
        SecretKey::from_seed([n; 32]).expect("key")
    }

    pub fn t0() -> Timestamp {
        "2026-01-15T09:00:00Z".parse().expect("ts")
    }

    /// A genesis with steward key 1, threshold 1.
    pub fn federation(name: &str) -> VerifiedRecord {
        let s = key(1);
        genesis(
            name.parse().expect("name"),
            vec![s.did().clone()],
            1,
            &s,
            &[&s],
            t0(),
        )
        .expect("genesis")
    }

    /// The steward's writer, positioned after the genesis.
    pub fn steward(g: &VerifiedRecord) -> LogWriter {
        LogWriter::new(key(1), g.record().federation, Some((1, g.id())))
    }

    /// An admission of `provider` on governance head `head`.
    pub fn admit(
        w: &mut LogWriter,
        head: Hash32,
        provider: &SecretKey,
        name: &str,
    ) -> VerifiedRecord {
        let mut b = Body::MemberAdmit(AdmitBody {
            prev_action: head,
            provider: provider.did().clone(),
            name: name.parse().expect("name"),
            approvals: Vec::new(),
        });
        record::approve(&mut b, w.key());
        w.write(b, t0()).expect("sign")
    }

    /// A small valid offer body.
    pub fn offer(id: &str, version: u64) -> Body {
        let v = serde_json::json!({
            "offer_id": id, "version": version, "title": format!("Angebot {id}"),
            "summary": "", "description": "", "category": "e-akte", "ozg_ids": [],
            "leika_keys": [], "regions": ["05"], "delivery": "saas",
            "sla": {"availability_bp": 9900, "support_hours": "Mo-Fr",
                    "response_minutes": 60, "resolution_hours": 8},
            "pricing": {"model": "on_request", "amount_cents": 0, "currency": "EUR", "notes": ""},
            "capacity": 1, "certifications": [], "standards": [], "contacts": [],
            "valid_from": "2026-01-01T00:00:00Z"
        });
        Body::from_json(Kind::Offer, v).expect("offer body")
    }
}

/// Writes `genesis` to `dir/genesis.json` and runs `kx-node init` for it, with
/// quick sync and gossip timers for tests.
pub fn init_fast(dir: &Path, genesis: &kx_protocol::VerifiedRecord, bootstrap: &[String]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let g = dir.with_extension("genesis.json");
    std::fs::write(&g, genesis.canonical_json()).expect("write genesis");
    NodeProc::init(dir, &g, bootstrap);
    quicken(dir);
}

/// Two started nodes under `root/a` and `root/b` of one federation, `b`
/// bootstrapping from `a`.
pub fn two_nodes(root: &Path, genesis: &kx_protocol::VerifiedRecord) -> (NodeProc, NodeProc) {
    let (da, db) = (root.join("a"), root.join("b"));
    init_fast(&da, genesis, &[]);
    let a = NodeProc::start(&da, &[]);
    init_fast(&db, genesis, &[a.listen[0].clone()]);
    let b = NodeProc::start(&db, &[]);
    (a, b)
}

/// Shortens the timers in `dir/config.toml` for tests.
pub fn quicken(dir: &Path) {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text
        .replace("sync_interval_secs = 30", "sync_interval_secs = 1")
        .replace("gossip_heartbeat_ms = 1000", "gossip_heartbeat_ms = 100")
        .replace("ban_threshold = 20", "ban_threshold = 5")
        // Tests load and query nodes faster than any one client should.
        .replace(
            "rate_limit_submits_per_sec = 50",
            "rate_limit_submits_per_sec = 0",
        )
        .replace(
            "rate_limit_queries_per_sec = 100",
            "rate_limit_queries_per_sec = 0",
        );
    std::fs::write(path, text).expect("write config");
}

/// `/v1/status` of a node.
pub fn status(http: &str) -> Value {
    get(http, "/v1/status").json()
}

/// A raw libp2p peer that speaks gossipsub on the federation's topic: dials
/// `target`, waits until it subscribed, publishes `payloads`, and keeps going until
/// the node drops it (or 5 s pass).
pub async fn hostile_peer(target: Multiaddr, topic: gossipsub::IdentTopic, payloads: Vec<Vec<u8>>) {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|k| {
            let cfg = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(100))
                .message_id_fn(|m: &gossipsub::Message| {
                    gossipsub::MessageId::from(kx_protocol::record::sha256(&m.data).to_hex())
                })
                .build()
                .expect("config");
            gossipsub::Behaviour::<
                gossipsub::IdentityTransform,
                gossipsub::AllowAllSubscriptionFilter,
            >::new(gossipsub::MessageAuthenticity::Signed(k.clone()), cfg)
            .expect("gossipsub")
        })
        .expect("behaviour")
        .build();
    swarm.behaviour_mut().subscribe(&topic).expect("subscribe");
    swarm.dial(target).expect("dial");
    // Wait until the node has subscribed to us, then flood it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let ev = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .expect("node subscribes in time");
        if let libp2p::swarm::SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) = ev {
            break;
        }
    }
    for p in payloads {
        let _ = swarm.behaviour_mut().publish(topic.clone(), p);
        // Keep the swarm polled so the messages go out.
        let _ = tokio::time::timeout(Duration::from_millis(5), swarm.select_next_some()).await;
    }
    // Drive the connection until the node drops it.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let libp2p::swarm::SwarmEvent::ConnectionClosed { .. } =
                swarm.select_next_some().await
            {
                break;
            }
        }
    })
    .await;
}
