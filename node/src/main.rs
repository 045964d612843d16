//! `kx-node`: the KX provider node daemon.
//!
//! Exit codes: 0 clean shutdown, 1 error (message on stderr), 2 usage error.

use clap::{Parser, Subcommand};
use kx_node::run::{Overrides, init, read_genesis, run};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// KX provider node: keeps a replica of the federation's registry and serves it.
#[derive(Debug, Parser)]
#[command(name = "kx-node", version, about)]
struct Cli {
    /// Log one JSON object per line (for a log collector) instead of text;
    /// also with KX_LOG_FORMAT=json. Logs go to stderr (the journal under
    /// systemd); RUST_LOG sets the level (default info).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data directory: config.toml, a copy of the genesis, a node key.
    Init {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The federation's genesis record (from `kx federation init`).
        #[arg(long)]
        genesis: PathBuf,
        #[command(flatten)]
        net: NetFlags,
    },
    /// Run the node (until SIGINT or SIGTERM).
    Run {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Also stop when standard input reaches its end: a supervising
        /// process that holds the other end of a pipe ends the node with
        /// itself, however it ends (`kx demo` runs its nodes so).
        #[arg(long)]
        stop_with_stdin: bool,
        #[command(flatten)]
        config: ConfigFlag,
        #[command(flatten)]
        net: NetFlags,
    },
    /// Write every record of the node to a backup file (JSON Lines, in the
    /// order the node stored them); works while the node runs.
    Export {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Fill the fresh store of an initialised node from a backup: every
    /// record is verified first, then ingested; prints the state digest.
    Import {
        /// The node's data directory (after `kx-node init`, never run).
        #[arg(long)]
        data_dir: PathBuf,
        /// The backup file (from `kx-node export` or GET /v1/export).
        file: PathBuf,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Check a genesis file and print the federation it founds.
    Genesis {
        /// The genesis record (JSON).
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct NetFlags {
    /// HTTP address (default 127.0.0.1:7300; port 0 picks a free port).
    #[arg(long)]
    http: Option<SocketAddr>,
    /// libp2p listen multiaddr; repeatable (default /ip4/0.0.0.0/tcp/7301).
    #[arg(long)]
    listen: Vec<String>,
    /// Bootstrap peer multiaddr ending in /p2p/PEER_ID; repeatable.
    #[arg(long)]
    bootstrap: Vec<String>,
    /// An observer: holds and serves the full replica but accepts no
    /// submissions (sets `observer = true` in config.toml at init).
    #[arg(long)]
    observer: bool,
}

/// Where the configuration is, if not in the data directory.
#[derive(Debug, clap::Args)]
struct ConfigFlag {
    /// The configuration file (default: DATA_DIR/config.toml), e.g.
    /// /etc/kx/config.toml of the Debian package.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl From<NetFlags> for Overrides {
    fn from(n: NetFlags) -> Overrides {
        Overrides {
            http: n.http,
            listen: n.listen,
            bootstrap: n.bootstrap,
            observer: n.observer,
            config: None,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    let json = cli.log_json || std::env::var("KX_LOG_FORMAT").is_ok_and(|f| f == "json");
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match main_inner(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn main_inner(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init {
            data_dir,
            genesis,
            net,
        } => {
            let peer = init(&data_dir, &genesis, net.into())?;
            println!("initialised {}", data_dir.display());
            println!("peer id {peer}");
            println!(
                "start it with: kx-node run --data-dir {}",
                data_dir.display()
            );
            Ok(())
        }
        Command::Run {
            data_dir,
            net,
            stop_with_stdin,
            config,
        } => {
            let ov = Overrides {
                config: config.config,
                ..net.into()
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let (tx, rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    if stop_with_stdin {
                        tokio::select! {
                            _ = wait_for_signal() => {}
                            _ = stdin_closed() => tracing::info!("standard input closed"),
                        }
                    } else {
                        wait_for_signal().await;
                    }
                    tracing::info!("shutting down");
                    let _ = tx.send(true);
                });
                run(data_dir, ov, rx, None).await
            })
        }
        Command::Export {
            data_dir,
            out,
            config,
        } => {
            let n = kx_node::run::export(&data_dir, config.config.as_deref(), &out)?;
            println!("exported {n} records to {}", out.display());
            Ok(())
        }
        Command::Import {
            data_dir,
            file,
            config,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let done = rt.block_on(kx_node::run::import(
                &data_dir,
                config.config.as_deref(),
                &file,
            ))?;
            println!("imported: {} records", done.records);
            println!("state digest {}", done.digest);
            if !done.refused.is_empty() {
                for (line, why) in done.refused.iter().take(10) {
                    eprintln!("line {line}: {why}");
                }
                anyhow::bail!(
                    "{} record(s) of {} were refused (the first are listed above)",
                    done.refused.len(),
                    file.display()
                );
            }
            Ok(())
        }
        Command::Genesis { file } => {
            let rec = read_genesis(&file)?;
            let reg = kx_protocol::Registry::new(rec)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            let (stewards, threshold) = reg.stewards();
            println!("federation {}", reg.federation());
            println!("stewards   {} (threshold {threshold})", stewards.len());
            for s in stewards {
                println!("  {s}");
            }
            Ok(())
        }
    }
}

/// Resolves once standard input reaches its end (or fails): what it carries
/// is read and dropped.
async fn stdin_closed() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 256];
        let mut input = std::io::stdin().lock();
        while matches!(std::io::Read::read(&mut input, &mut buf), Ok(n) if n > 0) {}
    })
    .await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
