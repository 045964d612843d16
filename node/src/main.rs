//! `kx-node`: the KX provider node.
//!
//! This build checks a federation's genesis file, the first thing an operator does
//! before starting a node (`kx-node genesis FILE`). Storage, the HTTP API and
//! replication follow in the node and replication issues.

use clap::{Parser, Subcommand};
use kx_protocol::{Registry, VerifiedRecord};
use std::path::PathBuf;
use std::process::ExitCode;

/// KX provider node.
#[derive(Debug, Parser)]
#[command(name = "kx-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a genesis file and print the federation it founds.
    Genesis {
        /// The genesis record (JSON), as written by `kx federation init`.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Genesis { file } => {
            let bytes =
                std::fs::read(&file).map_err(|e| format!("read {}: {e}", file.display()))?;
            let rec = VerifiedRecord::from_bytes(&bytes)
                .map_err(|e| format!("{}: {}: {e}", file.display(), e.code()))?;
            let reg =
                Registry::new(rec).map_err(|e| format!("{}: {}: {e}", file.display(), e.code()))?;
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
