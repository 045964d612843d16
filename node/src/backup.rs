//! Backup and restore: a node's records as one file that anyone can check
//! record by record, and that a fresh node imports to the same state.
//!
//! The format (JSON Lines, UTF-8, one value per line ending in `\n`):
//! line 1 is the header `{"kx_backup":1,"federation":"<hex>","records":N}`,
//! then N lines, each one record's canonical JSON exactly as signed, in the
//! order the node stored them: every record comes after the records it
//! depends on (its predecessor in its author's log, the admission of its
//! author, the offer it requests), so an import admits each at once. The
//! genesis is the first record.
//!
//! `kx-node export` writes it from a stopped node's store, or, while the node
//! runs (sled allows one process per store), from `GET /v1/export` of the
//! running node, which streams the same bytes. `kx-node import` reads and
//! verifies the whole file before it writes anything, then ingests it
//! through the same gate as every record.

use crate::store::Store;
use anyhow::{Context, Result, bail};
use kx_protocol::{Hash32, VerifiedRecord};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// The format version this node writes and reads.
pub const FORMAT: u64 = 1;

/// Records read from the store per step.
const STEP: usize = 1000;

/// The first line of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub kx_backup: u64,
    pub federation: Hash32,
    /// How many record lines follow.
    pub records: usize,
}

/// The header line for `records` records of `federation`, with its newline.
pub fn header_line(federation: Hash32, records: usize) -> Vec<u8> {
    let h = Header {
        kx_backup: FORMAT,
        federation,
        records,
    };
    let mut line = serde_json::to_vec(&h).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The next step of at most [`STEP`] records after position `after`, each
/// with its newline; `left` counts down the records still to write. Records
/// stored after the header was written are left out: a backup is the store
/// as it was when it began.
pub fn step(
    store: &dyn Store,
    after: Option<u64>,
    left: &mut usize,
) -> Result<(Vec<u8>, Option<u64>)> {
    let mut out = Vec::new();
    let mut last = after;
    for (pos, json) in store.scan(after, STEP.min(*left))? {
        out.extend_from_slice(&json);
        out.push(b'\n');
        last = Some(pos);
        *left -= 1;
    }
    if out.is_empty() && *left > 0 {
        bail!("the store ended {left} record(s) early");
    }
    Ok((out, last))
}

/// Writes every record of `store` to `out`; returns how many.
pub fn write(store: &dyn Store, federation: Hash32, out: &mut impl Write) -> Result<usize> {
    let total = store.len();
    out.write_all(&header_line(federation, total))?;
    let (mut left, mut after) = (total, None);
    while left > 0 {
        let (bytes, last) = step(store, after, &mut left)?;
        out.write_all(&bytes)?;
        after = last;
    }
    out.flush()?;
    Ok(total)
}

/// Reads a backup: its header and every record, each parsed and verified
/// (signatures included). Any fault names its line.
pub fn read(input: impl BufRead) -> Result<(Header, Vec<VerifiedRecord>)> {
    let mut lines = input.split(b'\n');
    let first = lines
        .next()
        .context("the file is empty")?
        .context("read the header")?;
    let header: Header = serde_json::from_slice(&first)
        .context("line 1 is not a kx backup header ({\"kx_backup\":1,...})")?;
    if header.kx_backup != FORMAT {
        bail!(
            "line 1: backup format {} (this node reads {FORMAT})",
            header.kx_backup
        );
    }
    let mut records = Vec::with_capacity(header.records.min(1 << 20));
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line.with_context(|| format!("read line {n}"))?;
        if line.is_empty() {
            continue;
        }
        let rec = VerifiedRecord::from_bytes(&line)
            .map_err(|e| anyhow::anyhow!("line {n}: {}: {e}", e.code()))?;
        if rec.record().federation != header.federation {
            bail!(
                "line {n}: a record of federation {}, the header says {}",
                rec.record().federation,
                header.federation
            );
        }
        records.push(rec);
    }
    if records.len() != header.records {
        bail!(
            "the header announces {} records, the file holds {}",
            header.records,
            records.len()
        );
    }
    Ok((header, records))
}
