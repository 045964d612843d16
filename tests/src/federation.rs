//! One federation set up the way a user does it, shared by the end-to-end tests:
//! keys from `kx key gen`, a genesis from `kx federation init`, nodes from
//! `kx-node init` and `run` (quick timers, the others bootstrapping from the
//! first), providers admitted with `kx federation admit` by every steward.

use crate::{NodeProc, TempDir, init_fast, kx, kx_json, kx_ok, status, wait_for};
use kx_protocol::{SecretKey, VerifiedRecord};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// How long nodes may take to agree.
pub const CONVERGE: Duration = Duration::from_secs(90);

/// A running federation in a temp dir.
#[derive(Debug)]
pub struct Federation {
    pub genesis: VerifiedRecord,
    pub nodes: Vec<NodeProc>,
    dids: BTreeMap<String, String>,
    stewards: Vec<String>,
    // Last, so that the nodes stop before their directories go.
    dir: TempDir,
}

/// The path of a file in `examples/`.
pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

impl Federation {
    /// A federation named `name` of the stewards `stewards` (key names), who
    /// approve with `threshold`; `nodes` nodes; `providers` (key name, name)
    /// admitted by all stewards.
    pub fn new(
        name: &str,
        stewards: &[&str],
        threshold: u64,
        nodes: usize,
        providers: &[(&str, &str)],
    ) -> Federation {
        let dir = TempDir::new(&name.to_lowercase().replace(' ', "-"));
        let mut dids = BTreeMap::new();
        for s in stewards {
            dids.insert((*s).to_owned(), gen_key(dir.path(), s));
        }
        let stewards: Vec<String> = stewards.iter().map(|s| format!("{s}.key")).collect();
        let mut args = vec!["federation", "init", "--name", name];
        for s in &stewards {
            args.extend(["--steward-key", s.as_str()]);
        }
        let threshold = threshold.to_string();
        args.extend(["--threshold", &threshold, "--out", "genesis.json"]);
        kx_ok(dir.path(), "", &args);
        let genesis = VerifiedRecord::from_bytes(
            &std::fs::read(dir.path().join("genesis.json")).expect("read genesis"),
        )
        .expect("genesis");
        let mut fed = Federation {
            genesis,
            nodes: Vec::new(),
            dids,
            stewards,
            dir,
        };
        for i in 0..nodes {
            let data = fed.node_dir(i);
            let bootstrap: Vec<String> = fed
                .nodes
                .first()
                .map(|n| n.listen[0].clone())
                .into_iter()
                .collect();
            init_fast(&data, &fed.genesis, &bootstrap);
            fed.nodes.push(NodeProc::start(&data, &[]));
        }
        for (key, name) in providers {
            let did = fed.key(key);
            fed.admit(&did, name);
        }
        if nodes > 1 {
            fed.same();
        }
        fed
    }

    /// The working directory: key files, genesis, TOML files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory of node `i`.
    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.dir().join(format!("node{i}"))
    }

    /// The HTTP base URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].http.clone()
    }

    /// Creates `NAME.key` with `kx key gen` and returns its did.
    pub fn key(&mut self, name: &str) -> String {
        let did = gen_key(self.dir(), name);
        self.dids.insert(name.to_owned(), did.clone());
        did
    }

    /// The did of the key `name`.
    pub fn did(&self, name: &str) -> String {
        self.dids
            .get(name)
            .unwrap_or_else(|| panic!("no key {name}"))
            .clone()
    }

    /// The secret key `name`, for records built by hand.
    pub fn secret(&self, name: &str) -> SecretKey {
        let text =
            std::fs::read_to_string(self.dir().join(format!("{name}.key"))).expect("key file");
        kx_protocol::keyfile::KeyFile::parse(&text)
            .and_then(|f| f.open(crate::TEST_PASSPHRASE.as_bytes()))
            .expect("key")
    }

    /// Admits `did` as `name` on node 0, approved by every steward.
    pub fn admit(&self, did: &str, name: &str) {
        let mut args = vec![
            "federation",
            "admit",
            "--genesis",
            "genesis.json",
            "--provider",
            did,
            "--name",
            name,
        ];
        for s in &self.stewards {
            args.extend(["--steward-key", s.as_str()]);
        }
        let out = self.kx_ok(0, &args);
        assert!(out.starts_with("stored member.admit"), "{out}");
    }

    /// Admits the key `key` as the municipality `ags` on node 0, approved by
    /// every steward (`kx federation admit-municipality`).
    pub fn admit_municipality(&self, key: &str, ags: &str) {
        let did = self.did(key);
        let mut args = vec![
            "federation",
            "admit-municipality",
            "--genesis",
            "genesis.json",
            "--ags",
            ags,
            "--member",
            &did,
        ];
        for s in &self.stewards {
            args.extend(["--steward-key", s.as_str()]);
        }
        let out = self.kx_ok(0, &args);
        assert!(out.starts_with("stored municipality.admit"), "{out}");
    }

    /// Every steward's key file as `--steward-key` arguments.
    pub fn steward_args(&self) -> Vec<&str> {
        self.stewards
            .iter()
            .flat_map(|s| ["--steward-key", s.as_str()])
            .collect()
    }

    /// `kx` against node `i`, in the working directory.
    pub fn kx(&self, i: usize, args: &[&str]) -> Output {
        kx(self.dir(), &self.url(i), args)
    }

    /// `kx` against node `i`; its stdout, or a panic with its stderr.
    pub fn kx_ok(&self, i: usize, args: &[&str]) -> String {
        kx_ok(self.dir(), &self.url(i), args)
    }

    /// `kx --json` against node `i`, parsed.
    pub fn kx_json(&self, i: usize, args: &[&str]) -> Value {
        kx_json(self.dir(), &self.url(i), args)
    }

    /// Writes `text` to `name` in the working directory.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir().join(name), text).expect("write file");
    }

    /// Waits until every node holds the same records and state; their number.
    pub fn same(&self) -> u64 {
        wait_for("the nodes to agree", CONVERGE, || {
            let all: Vec<Value> = self.nodes.iter().map(|n| status(&n.http)).collect();
            all.iter()
                .all(|s| {
                    s["state_digest"] == all[0]["state_digest"] && s["records"] == all[0]["records"]
                })
                .then(|| all[0]["records"].as_u64())
                .flatten()
        })
    }

    /// Stops node `i` cleanly (SIGTERM) and starts it again on its store.
    pub fn restart(&mut self, i: usize) {
        let node = self.nodes.remove(i);
        node.stop();
        self.nodes
            .insert(i, NodeProc::start(&self.node_dir(i), &[]));
    }

    /// Stops node `i` (the last one), runs `meanwhile` with the others, and
    /// starts it again on its store: it catches up by itself.
    pub fn restart_after(&mut self, i: usize, meanwhile: impl FnOnce(&Federation)) {
        assert_eq!(i + 1, self.nodes.len(), "only the last node can be away");
        let node = self.nodes.remove(i);
        node.stop();
        meanwhile(self);
        self.nodes.push(NodeProc::start(&self.node_dir(i), &[]));
    }

    /// Kills node `i` (SIGKILL) and starts it again on its store.
    pub fn kill_and_restart(&mut self, i: usize) {
        let node = self.nodes.remove(i);
        node.kill();
        self.nodes
            .insert(i, NodeProc::start(&self.node_dir(i), &[]));
    }
}

/// `kx key gen --out NAME.key` in `dir` (encrypted with `TEST_PASSPHRASE`, at the
/// lowest cost `kx` writes); the did.
fn gen_key(dir: &Path, name: &str) -> String {
    kx_ok(
        dir,
        "",
        &[
            "key",
            "gen",
            "--out",
            &format!("{name}.key"),
            "--iterations",
            "1000",
        ],
    )
    .trim()
    .to_owned()
}
