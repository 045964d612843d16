//! Command-line definitions (clap derive) and the offline commands: keys, the
//! federation genesis, and record verification.
//!
//! Everything here works without a node: keys are made and read locally, records
//! are verified with the same code every node uses.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kx_protocol::fields::{Name, Timestamp};
use kx_protocol::record::RecordError;
use kx_protocol::{Did, Registry, SecretKey, VerifiedRecord};
use std::io::Write;
use std::path::{Path, PathBuf};

/// KX: the service-exchange registry of the municipal IT providers in NRW.
#[derive(Debug, Parser)]
#[command(name = "kx", version, about)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Signing keys (ed25519): create and inspect.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Federation set-up by the stewards.
    #[command(subcommand)]
    Federation(FederationCommand),
    /// Signed records: verify offline.
    #[command(subcommand)]
    Record(RecordCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new key file (mode 0600) and print its did.
    Gen {
        /// Where to write the key; refuses to overwrite an existing file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the did of a key file.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Sign the genesis of a new federation with the steward keys.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Name of the federation, e.g. "KDN Dienstleistungsaustausch NRW".
    #[arg(long)]
    pub name: String,
    /// Key file of a steward; repeat for each steward. All of them approve the
    /// genesis; the first one signs it.
    #[arg(long = "steward-key", required = true)]
    pub steward_keys: Vec<PathBuf>,
    /// How many stewards must approve later governance actions (default: all).
    #[arg(long)]
    pub threshold: Option<u64>,
    /// Where to write the genesis record.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Verify a signed record offline: strict parsing, signatures, federation.
    Verify {
        /// The record (JSON), as served by GET /v1/records/{id}.
        file: PathBuf,
        /// The federation's genesis record.
        #[arg(long)]
        genesis: PathBuf,
    },
}

/// A record failed validation or was rejected (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejected {
    pub code: String,
    pub message: String,
}

impl From<RecordError> for Rejected {
    fn from(e: RecordError) -> Rejected {
        Rejected {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Key(KeyCommand::Gen { out }) => key_gen(&out, json),
        Command::Key(KeyCommand::Show { file }) => {
            let key = read_key(&file)?;
            print_did(key.did(), json)
        }
        Command::Federation(FederationCommand::Init(args)) => federation_init(args, json),
        Command::Record(RecordCommand::Verify { file, genesis }) => verify(&file, &genesis, json),
    }
}

fn print_did(did: &Did, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::json!({ "did": did.as_str() }))?;
    } else {
        writeln!(out, "{did}")?;
    }
    Ok(())
}

fn key_gen(out: &Path, json: bool) -> Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = SecretKey::from_seed(seed).context("derive key")?;
    write_private(out, key.to_file_text().as_bytes())?;
    print_did(key.did(), json)
}

/// Creates `path` with mode 0600; never overwrites.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("write {}", path.display()))
}

/// Reads a key file.
pub fn read_key(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read key file {}", path.display()))?;
    SecretKey::from_file_text(&text).with_context(|| format!("key file {}", path.display()))
}

/// The current time as a record timestamp.
pub fn now() -> Result<Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(Timestamp::from_unix)
        .context("system clock out of range")
}

fn read_record(path: &Path) -> Result<VerifiedRecord> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    VerifiedRecord::from_bytes(&bytes)
        .map_err(Rejected::from)
        .with_context(|| format!("{} is not a valid record", path.display()))
}

fn federation_init(args: InitArgs, json: bool) -> Result<()> {
    let keys: Vec<SecretKey> = args
        .steward_keys
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<_>>()?;
    let threshold = args.threshold.unwrap_or(keys.len() as u64);
    let name: Name = args
        .name
        .parse()
        .map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let stewards: Vec<Did> = keys.iter().map(|k| k.did().clone()).collect();
    let approvers: Vec<&SecretKey> = keys.iter().collect();
    let genesis =
        kx_protocol::author::genesis(name, stewards, threshold, &keys[0], &approvers, now()?)
            .map_err(Rejected::from)
            .context("genesis")?;
    let mut text = genesis.canonical_json().to_vec();
    text.push(b'\n');
    write_new(&args.out, &text)?;
    let fed = genesis.record().federation;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"federation": fed.to_hex(), "genesis": args.out.display().to_string(), "record": genesis.id().to_hex()})
        )?;
    } else {
        writeln!(out, "federation {fed}")?;
        writeln!(
            out,
            "{} steward(s), threshold {threshold}; genesis written to {}",
            keys.len(),
            args.out.display()
        )?;
    }
    Ok(())
}

/// Writes a file that others may read (a genesis), refusing to overwrite.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("write {}", path.display()))
}

fn verify(file: &Path, genesis: &Path, json: bool) -> Result<()> {
    let genesis = read_record(genesis).context("genesis")?;
    if genesis.record().kind() != kx_protocol::Kind::Genesis {
        bail!(Rejected {
            code: "unexpected_genesis".into(),
            message: "the --genesis file holds a record that is not a genesis".into(),
        });
    }
    Registry::new(genesis.clone()).map_err(|e| Rejected {
        code: e.code().into(),
        message: e.to_string(),
    })?;
    let rec = read_record(file)?;
    rec.check_federation(&genesis.record().federation)
        .map_err(Rejected::from)?;
    let r = rec.record();
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "valid": true,
                "id": rec.id().to_hex(),
                "kind": r.kind().as_str(),
                "author": r.author.as_str(),
                "seq": r.seq,
                "federation": r.federation.to_hex(),
            })
        )?;
    } else {
        writeln!(
            out,
            "valid: signature and format check out (strict ed25519)"
        )?;
        writeln!(out, "id         {}", rec.id())?;
        writeln!(out, "kind       {}", r.kind())?;
        writeln!(out, "author     {}", r.author)?;
        writeln!(out, "seq        {}", r.seq)?;
        writeln!(out, "federation {}", r.federation)?;
        writeln!(
            out,
            "note: whether the author was a member at this seq is decided by the registry (kx offer show / GET /v1/records)"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kx").chain(args.iter().copied()))
    }

    #[test]
    fn key_flags() {
        assert!(parse(&["key", "gen", "--out", "k.json"]).is_ok());
        assert!(parse(&["key", "gen"]).is_err());
        assert!(parse(&["key", "show", "k.json", "--json"]).is_ok());
    }

    #[test]
    fn federation_flags() {
        let cli = parse(&[
            "federation",
            "init",
            "--name",
            "KDN",
            "--steward-key",
            "a",
            "--steward-key",
            "b",
            "--threshold",
            "2",
            "--out",
            "g.json",
        ])
        .expect("parse");
        let Command::Federation(FederationCommand::Init(args)) = cli.command else {
            panic!("wrong command");
        };
        assert_eq!(args.steward_keys.len(), 2);
        assert_eq!(args.threshold, Some(2));
        assert!(parse(&["federation", "init", "--name", "KDN", "--out", "g"]).is_err());
    }

    #[test]
    fn record_flags() {
        assert!(parse(&["record", "verify", "r.json", "--genesis", "g.json"]).is_ok());
        assert!(parse(&["record", "verify", "r.json"]).is_err());
    }
}
