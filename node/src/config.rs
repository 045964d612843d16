//! Node configuration: `DIR/config.toml`, written by `kx-node init`, read by
//! `kx-node run`; command-line flags override the file.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default HTTP address: loopback only; put a reverse proxy in front to publish it.
pub const DEFAULT_HTTP: &str = "127.0.0.1:7300";
/// Default libp2p listen address.
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/7301";

/// The node configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Genesis file of the federation, relative to the data directory.
    #[serde(default = "default_genesis")]
    pub genesis: PathBuf,
    /// HTTP API and catalog address. Port 0 picks a free port.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// libp2p listen addresses (multiaddrs). Port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Peers to connect to at start (multiaddrs ending in /p2p/PEER_ID).
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// Largest request body accepted by the HTTP API, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Most records written to disk in one group commit.
    #[serde(default = "default_batch")]
    pub max_batch: usize,
    /// Seconds between reconciliations with each connected peer.
    #[serde(default = "default_sync_interval")]
    pub sync_interval_secs: u64,
    /// Gossipsub heartbeat in milliseconds.
    #[serde(default = "default_heartbeat")]
    pub gossip_heartbeat_ms: u64,
    /// Invalid records or messages from a peer before it is disconnected and banned.
    #[serde(default = "default_ban_threshold")]
    pub ban_threshold: u32,
    /// How long a banned peer is kept away, in seconds.
    #[serde(default = "default_ban_secs")]
    pub ban_secs: u64,
    /// Peers to keep connected (discovery stops dialling beyond it).
    #[serde(default = "default_max_peers")]
    pub max_peers: usize,
    /// Closed federation: only bootstrap peers and the nodes admitted providers
    /// declare in their signed profiles may stay connected.
    #[serde(default)]
    pub closed: bool,
    /// Observer: holds and verifies the full replica and serves the API and
    /// catalog, but accepts no submissions over HTTP (403 `observer`).
    #[serde(default)]
    pub observer: bool,
    /// Submissions (`POST /v1/records`) per second and client; a client may
    /// burst four times as many. 0: no limit.
    #[serde(default = "default_rate_submits")]
    pub rate_limit_submits_per_sec: u32,
    /// Other requests (searches, pages, records) per second and client, with
    /// a burst of four times as many; health, readiness, metrics and static
    /// files are not counted. 0: no limit.
    #[serde(default = "default_rate_queries")]
    pub rate_limit_queries_per_sec: u32,
    /// Count clients by the last address in `X-Forwarded-For` (set by the
    /// reverse proxy in front) instead of the connection's address.
    #[serde(default)]
    pub forwarded_for: bool,
    /// Seconds a request may take until its answer starts (503 `timeout`);
    /// health, readiness and metrics are exempt. 0: no limit.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Check every stored record's signature again at start (else each is
    /// parsed and checked against its position's id only).
    #[serde(default)]
    pub verify_store_at_start: bool,
}

fn default_request_timeout() -> u64 {
    30
}

fn default_rate_submits() -> u32 {
    50
}

fn default_rate_queries() -> u32 {
    100
}

fn default_sync_interval() -> u64 {
    30
}

fn default_heartbeat() -> u64 {
    1000
}

fn default_ban_threshold() -> u32 {
    20
}

fn default_ban_secs() -> u64 {
    600
}

fn default_max_peers() -> usize {
    32
}

fn default_genesis() -> PathBuf {
    PathBuf::from("genesis.json")
}

fn default_http() -> SocketAddr {
    // A constant that parses; the fallback is never taken.
    DEFAULT_HTTP
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 7300)))
}

fn default_listen() -> Vec<String> {
    vec![DEFAULT_LISTEN.to_owned()]
}

fn default_max_body() -> usize {
    // A record is at most 64 KiB; leave room for whitespace in hand-written JSON.
    128 * 1024
}

fn default_batch() -> usize {
    512
}

impl Default for Config {
    fn default() -> Config {
        Config {
            genesis: default_genesis(),
            http: default_http(),
            listen: default_listen(),
            bootstrap: Vec::new(),
            max_body_bytes: default_max_body(),
            max_batch: default_batch(),
            sync_interval_secs: default_sync_interval(),
            gossip_heartbeat_ms: default_heartbeat(),
            ban_threshold: default_ban_threshold(),
            ban_secs: default_ban_secs(),
            max_peers: default_max_peers(),
            closed: false,
            observer: false,
            rate_limit_submits_per_sec: default_rate_submits(),
            rate_limit_queries_per_sec: default_rate_queries(),
            forwarded_for: false,
            request_timeout_secs: default_request_timeout(),
            verify_store_at_start: false,
        }
    }
}

impl Config {
    /// Reads `DIR/config.toml`.
    pub fn load(dir: &Path) -> Result<Config> {
        Config::load_for(dir, None)
    }

    /// Reads `file`, or `DIR/config.toml` without one (a packaged node keeps
    /// its configuration in `/etc/kx/config.toml` and its data elsewhere).
    pub fn load_for(dir: &Path, file: Option<&Path>) -> Result<Config> {
        let path = file.map_or_else(|| dir.join("config.toml"), Path::to_path_buf);
        let text = std::fs::read_to_string(&path).with_context(|| {
            if file.is_some() {
                format!("read {}", path.display())
            } else {
                format!(
                    "read {} (run `kx-node init --data-dir {}` first)",
                    path.display(),
                    dir.display()
                )
            }
        })?;
        let cfg: Config =
            toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks values that types alone do not.
    pub fn check(&self) -> Result<()> {
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.max_batch == 0 {
            bail!("max_batch must be at least 1");
        }
        if self.sync_interval_secs == 0 || self.gossip_heartbeat_ms < 10 {
            bail!("sync_interval_secs must be at least 1 and gossip_heartbeat_ms at least 10");
        }
        if self.ban_threshold == 0 || self.max_peers == 0 {
            bail!("ban_threshold and max_peers must be at least 1");
        }
        for a in self.listen.iter().chain(&self.bootstrap) {
            a.parse::<libp2p::Multiaddr>()
                .with_context(|| format!("{a:?} is not a multiaddr"))?;
        }
        Ok(())
    }

    /// The configuration file text, with every setting documented.
    pub fn to_toml(&self) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            r#"# kx-node configuration. Flags of `kx-node run` override these values.

# Genesis record of the federation (relative to this directory).
genesis = {genesis:?}

# HTTP API (/v1) and web catalog (/). Default {DEFAULT_HTTP}: loopback only.
# Port 0 picks a free port; the actual address is written to node.json.
http = "{http}"

# libp2p listen addresses. Default ["{DEFAULT_LISTEN}"].
listen = [{listen}]

# Peers to connect to at start: multiaddrs ending in /p2p/<peer id>. Default [].
bootstrap = [{bootstrap}]

# Largest HTTP request body in bytes (records are at most 65536). Default 131072.
max_body_bytes = {body}

# Most records written to disk per group commit. Default 512.
max_batch = {batch}

# Seconds between reconciliations with each connected peer (anti-entropy).
# Default 30.
sync_interval_secs = {sync}

# Gossipsub heartbeat in milliseconds. Default 1000.
gossip_heartbeat_ms = {heartbeat}

# Invalid records or messages a peer may send before it is disconnected and
# banned, and for how many seconds. Defaults 20 and 600.
ban_threshold = {ban_threshold}
ban_secs = {ban_secs}

# Peers to keep connected; discovery stops dialling beyond it. Default 32.
max_peers = {max_peers}

# Closed federation: only the bootstrap peers and the nodes that admitted providers
# declare in their signed profiles (`nodes`) may stay connected. Default false.
closed = {closed}

# Observer: holds and verifies the full replica and serves the API and the
# catalog, but accepts no submissions (POST /v1/records answers 403 observer).
# For municipalities, KDN and auditors. Default false.
observer = {observer}

# Per-client rate limits, per second (a client may burst four times as many);
# over them a client gets 429 rate_limited with Retry-After. 0: no limit.
# Submissions (POST /v1/records). Default 50.
rate_limit_submits_per_sec = {submits}
# Everything else but /healthz, /readyz, /metrics and /static. Default 100.
rate_limit_queries_per_sec = {queries}

# Behind a reverse proxy every request comes from the proxy: count clients by
# the last address in X-Forwarded-For instead. Only with a proxy that sets it.
# Default false.
forwarded_for = {forwarded_for}

# Seconds a request may take until its answer starts; then 503 timeout (health,
# readiness and metrics are exempt). 0: no limit. Default 30.
request_timeout_secs = {timeout}

# At start, check every stored record's signature again. Without it the node
# parses each record and checks it is the one its position names (what the node
# stored was verified before it was written; peers verify whatever they fetch):
# a restart of a million records then takes seconds instead of minutes. Turn it
# on for a store that came from elsewhere or may have been written by others.
# Default false.
verify_store_at_start = {verify_store}
"#,
            genesis = self.genesis.display().to_string(),
            http = self.http,
            listen = list(&self.listen),
            bootstrap = list(&self.bootstrap),
            body = self.max_body_bytes,
            batch = self.max_batch,
            sync = self.sync_interval_secs,
            heartbeat = self.gossip_heartbeat_ms,
            ban_threshold = self.ban_threshold,
            ban_secs = self.ban_secs,
            max_peers = self.max_peers,
            closed = self.closed,
            observer = self.observer,
            submits = self.rate_limit_submits_per_sec,
            queries = self.rate_limit_queries_per_sec,
            forwarded_for = self.forwarded_for,
            timeout = self.request_timeout_secs,
            verify_store = self.verify_store_at_start,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_config_reads_back() {
        let cfg = Config {
            bootstrap: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            ..Config::default()
        };
        let back: Config = toml::from_str(&cfg.to_toml()).expect("parse");
        assert_eq!(back, cfg);
    }

    #[test]
    fn the_packaged_file_is_valid_and_differs_only_in_the_genesis_path() {
        let text = include_str!("../../packaging/config.toml");
        let cfg: Config = toml::from_str(text).expect("packaged config parses");
        cfg.check().expect("packaged config is valid");
        assert_eq!(
            cfg,
            Config {
                genesis: PathBuf::from("/etc/kx/genesis.json"),
                ..Config::default()
            }
        );
    }

    #[test]
    fn example_file_is_valid_and_complete() {
        let text = include_str!("../config.example.toml");
        let cfg: Config = toml::from_str(text).expect("example parses");
        cfg.check().expect("example is valid");
        assert_eq!(cfg, Config::default());
    }
}
