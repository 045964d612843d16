//! Market surveys (`specs/checkpoints.md` 8): `kx survey export` asks a node
//! for the bundle of a search for a municipality and checks it before writing
//! it; `kx survey verify` checks a bundle offline against the federation's
//! genesis and prints the offers it shows.

use crate::args::FilterArgs;
use crate::client::Client;
use crate::error::{RefusalCode, Refused};
use crate::offline::write_new;
use crate::query::{Row, filter_query, known_region, price, print_json, print_rows};
use anyhow::{Context, Result, bail};
use kx_api::survey::{Cosigned, SurveyRow, Verified};
use kx_api::{ApiCode, ErrorCode, SurveyQuery};
use kx_protocol::{Did, Hash32, Timestamp};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a verified bundle shows, for `--json`.
#[derive(Serialize)]
struct Summary<'a> {
    federation: Hash32,
    node: &'a Did,
    size: u64,
    root: Hash32,
    witnesses: &'a [Cosigned],
    quorum: u64,
    query: String,
    at: Timestamp,
    records: usize,
    total: usize,
    offers: &'a [SurveyRow],
}

fn is_not_witnessed(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Refused>()
        .is_some_and(|r| r.code == RefusalCode::Api(ErrorCode::Api(ApiCode::NotWitnessed)))
}

pub fn export(
    client: &Client,
    filters: &FilterArgs,
    at: Option<&str>,
    out: &Path,
    wait: u64,
    json: bool,
) -> Result<()> {
    let extra: Vec<(&str, String)> = at.map(|t| ("at", t.to_owned())).into_iter().collect();
    let query = SurveyQuery::parse(&filter_query(filters, &extra)).map_err(Refused::from)?;
    if let Some(r) = &query.filters.region {
        known_region(r.as_str())?;
    }
    if out.exists() {
        bail!("{} exists already; give another --out", out.display());
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut told = false;
    let bytes = loop {
        match client.survey(&query.to_query_string()) {
            Ok(bytes) => break bytes,
            Err(e) if is_not_witnessed(&e) && Instant::now() < deadline => {
                if !told {
                    eprintln!("waiting for the witnesses to cosign the node's checkpoint ...");
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    };
    // Whether its genesis is the federation's is for `kx survey verify
    // --genesis` to say.
    let v = kx_api::survey::verify_self(&bytes)
        .map_err(Refused::from)
        .context("the node's bundle does not verify")?;
    write_new(out, &bytes, false)?;
    show(&v, json)?;
    if !json {
        let mut o = std::io::stdout().lock();
        writeln!(
            o,
            "\nwritten to {} ({} KiB); check it offline with: kx survey verify {} --genesis GENESIS",
            out.display(),
            bytes.len().div_ceil(1024),
            out.display()
        )?;
    }
    Ok(())
}

pub fn verify(file: &Path, genesis: &Path, json: bool) -> Result<()> {
    let genesis = crate::offline::read_genesis(genesis)?;
    let bytes = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let v = kx_api::survey::verify(&bytes, &genesis)
        .map_err(Refused::from)
        .with_context(|| format!("{} is not a valid market survey", file.display()))?;
    show(&v, json)
}

/// A POSIX time as a timestamp.
fn time(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(Timestamp::from_unix)
        .map_or_else(|| secs.to_string(), |t| t.to_string())
}

fn show(v: &Verified, json: bool) -> Result<()> {
    let state = v.registry.state();
    if json {
        return print_json(&Summary {
            federation: v.checkpoint.federation,
            node: &v.checkpoint.signer,
            size: v.checkpoint.size,
            root: v.checkpoint.root,
            witnesses: &v.cosigned,
            quorum: state.quorum,
            query: v.query.filters.to_query_string(),
            at: v.at,
            records: v.records,
            total: v.rows.len(),
            offers: &v.rows,
        });
    }
    let mut out = std::io::stdout().lock();
    let m = v.query.filters.municipality;
    writeln!(
        out,
        "Markterkundung für {} am {}",
        m.map_or_else(String::new, |m| format!("{} ({})", m.name, m.ags)),
        v.at
    )?;
    writeln!(out, "query: {}", v.query.filters.to_query_string())?;
    writeln!(
        out,
        "checkpoint of node {}: {} records in its logs, root {}",
        v.checkpoint.signer, v.checkpoint.size, v.checkpoint.root
    )?;
    let witnesses: Vec<String> = v
        .cosigned
        .iter()
        .map(|c| format!("{} ({})", c.name, time(c.time)))
        .collect();
    writeln!(
        out,
        "cosigned by {} of {} witnesses (quorum {}){}{}",
        v.cosigned.len(),
        state.witnesses.len(),
        state.quorum,
        if witnesses.is_empty() { "" } else { ": " },
        witnesses.join(", ")
    )?;
    writeln!(
        out,
        "verified offline: {} records, the checkpoint, the cosignatures and the node's statement; the result re-derived from the records\n",
        v.records
    )?;
    writeln!(out, "{} offer(s)", v.rows.len())?;
    if v.rows.is_empty() {
        return Ok(());
    }
    let rows: Vec<Row<'_>> = v
        .rows
        .iter()
        .map(|r| Row {
            provider: match &r.shown_under {
                Some(s) => format!("{} (vorm. {})", s.name, r.provider.name),
                None => r.provider.name.clone(),
            },
            offer_id: r.offer_id.as_str(),
            version: r.version,
            status: r.status.as_str(),
            category: r.body.category.as_str(),
            price: price(&r.body.pricing),
            procurement: Some(r.procurement.label_de()),
            title: r.body.title.as_str(),
        })
        .collect();
    print_rows(&mut out, &rows, true)?;
    Ok(())
}
