//! Helpers for the KX integration tests: the real `kx-node` and `kx` binaries in
//! temp dirs on loopback ports chosen by the OS, bounded waits on conditions, an
//! HTTP client and a checker for `specs/http-api.yaml`.

pub mod openapi;

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
        .args(args)
        .output()
        .expect("run kx")
}

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

/// A plain HTTP response: status, content type, body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Resp {
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
    let body = r
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("read body");
    Resp {
        status,
        content_type,
        body,
    }
}

/// GET `base + path`.
pub fn get(base: &str, path: &str) -> Resp {
    finish(agent().get(&format!("{base}{path}")).call())
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
