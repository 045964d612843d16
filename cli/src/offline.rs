//! Commands that need no node: the federation genesis, offline verification.

use crate::args::InitArgs;
use crate::error::Refused;
use crate::secret::read_key;
use anyhow::{Context, Result, bail};
use kx_protocol::fields::{Name, Timestamp};
use kx_protocol::{Did, Registry, SecretKey, VerifiedRecord};
use std::io::Write;
use std::path::Path;

pub fn print_did(did: &Did, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::json!({ "did": did.as_str() }))?;
    } else {
        writeln!(out, "{did}")?;
    }
    Ok(())
}

/// Creates `path` (mode 0600 if `private`); never overwrites.
pub fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("write {}", path.display()))
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

/// Reads and verifies a record file.
pub fn read_record(path: &Path) -> Result<VerifiedRecord> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    VerifiedRecord::from_bytes(&bytes)
        .map_err(Refused::from)
        .with_context(|| format!("{} is not a valid record", path.display()))
}

/// Reads a genesis file and checks it founds a federation.
pub fn read_genesis(path: &Path) -> Result<VerifiedRecord> {
    let genesis = read_record(path).context("genesis")?;
    if genesis.record().kind() != kx_protocol::Kind::Genesis {
        bail!(Refused::new(
            kx_protocol::GateCode::UnexpectedGenesis,
            format!("{} holds a record that is not a genesis", path.display()),
        ));
    }
    Registry::new(genesis.clone()).map_err(Refused::from)?;
    Ok(genesis)
}

pub fn federation_init(args: InitArgs, json: bool) -> Result<()> {
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
            .map_err(Refused::from)
            .context("genesis")?;
    let mut text = genesis.canonical_json().to_vec();
    text.push(b'\n');
    write_new(&args.out, &text, false)?;
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

pub fn verify(file: &Path, genesis: &Path, json: bool) -> Result<()> {
    let genesis = read_genesis(genesis)?;
    let rec = read_record(file)?;
    rec.check_federation(&genesis.record().federation)
        .map_err(Refused::from)?;
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
            "valid: format and signatures check out (strict ed25519)"
        )?;
        writeln!(out, "id         {}", rec.id())?;
        writeln!(out, "kind       {}", r.kind())?;
        writeln!(out, "author     {}", r.author)?;
        writeln!(out, "seq        {}", r.seq)?;
        writeln!(out, "federation {}", r.federation)?;
        writeln!(
            out,
            "whether the author was a member in good standing at this seq is decided by the registry (kx offer show, kx provider show)"
        )?;
    }
    Ok(())
}
