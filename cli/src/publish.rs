//! Commands that sign a record locally and submit it to a node (or write it to a
//! file with `--out`): admissions, profiles, offers, withdrawals.
//!
//! The key never leaves this process. The node is asked only for public facts:
//! the federation id, the author's last record (seq and id) and the governance head.

use crate::args::OutArgs;
use crate::client::Client;
use crate::error::Refused;
use crate::offline::{now, write_new};
use crate::secret::read_key;
use anyhow::{Context, Result, bail};
use kx_api::OfferQuery;
use kx_api::views::{AuthorView, SubmitStatus};
use kx_protocol::author::LogWriter;
use kx_protocol::body::Kind;
use kx_protocol::fields::OfferId;
use kx_protocol::{Body, Did, RecordCode, SecretKey, VerifiedRecord, taxonomy};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;

/// A writer positioned at the end of `key`'s log on the node.
pub(crate) fn writer(client: &Client, key: SecretKey) -> Result<(LogWriter, AuthorView)> {
    let federation = client.status()?.federation;
    let author = client.author(key.did())?;
    let head = author.head.map(|h| (h.seq, h.id));
    Ok((LogWriter::new(key, federation, head), author))
}

/// Submits the record, or writes it to `--out`.
pub(crate) fn deliver(
    client: &Client,
    rec: &VerifiedRecord,
    out: &OutArgs,
    json: bool,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Some(path) = &out.out {
        let mut text = rec.canonical_json().to_vec();
        text.push(b'\n');
        write_new(path, &text, false)?;
        if json {
            writeln!(
                stdout,
                "{}",
                json!({"id": rec.id().to_hex(), "written": path.display().to_string()})
            )?;
        } else {
            writeln!(
                stdout,
                "signed {} {} written to {}",
                rec.record().kind(),
                rec.id(),
                path.display()
            )?;
        }
        return Ok(());
    }
    let answer = client.submit(rec.canonical_json())?;
    if json {
        writeln!(stdout, "{}", serde_json::to_string(&answer)?)?;
    } else {
        writeln!(
            stdout,
            "{} {} {}",
            answer.status,
            rec.record().kind(),
            rec.id()
        )?;
        if answer.status == SubmitStatus::Held {
            writeln!(
                stdout,
                "note: the node holds it until the record before it arrives"
            )?;
        }
    }
    Ok(())
}

/// Converts a TOML document into the JSON a record body uses. Floats are refused
/// (amounts are in cents, percentages in basis points); a TOML date becomes the
/// start of that day in UTC.
pub fn toml_to_json(v: toml::Value, path: &str) -> Result<Value> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => bail!(Refused::new(
            RecordCode::FloatNotAllowed,
            format!(
                "{path} = {f}: records hold integers only (money in cents, percentages in basis points)"
            ),
        )),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => {
            let s = d.to_string();
            match (d.date.is_some(), d.time.is_some(), d.offset.is_some()) {
                (true, false, false) => Value::String(format!("{s}T00:00:00Z")),
                (true, true, true) => Value::String(s),
                _ => bail!(Refused::new(
                    RecordCode::MalformedTimestamp,
                    format!(
                        "{path} = {s}: give a date (2026-01-31) or a UTC time (2026-01-31T12:00:00Z)"
                    ),
                )),
            }
        }
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, x)| toml_to_json(x, &format!("{path}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        toml::Value::Table(t) => {
            let mut m = Map::new();
            for (k, x) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                m.insert(k, toml_to_json(x, &p)?);
            }
            Value::Object(m)
        }
    })
}

pub(crate) fn read_toml(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let v: toml::Value =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    match toml_to_json(v, "")? {
        Value::Object(m) => Ok(m),
        _ => bail!("{} must be a TOML table", path.display()),
    }
}

fn body(kind: Kind, v: Map<String, Value>, file: &Path) -> Result<Body> {
    Body::from_json(kind, Value::Object(v))
        .map_err(Refused::from)
        .with_context(|| format!("{} is not a valid {kind}", file.display()))
}

/// Warns about slugs that are well-formed but not in the taxonomy.
fn warn_unknown(field: &str, slug: &str, known: Vec<&str>) {
    if !known.contains(&slug) {
        let near = taxonomy::nearest(slug, known.into_iter(), 3);
        eprintln!(
            "warning: {field} {slug:?} is not in the KX taxonomy; nearest known: {}",
            near.join(", ")
        );
    }
}

fn standard_slugs() -> Vec<&'static str> {
    taxonomy::standards()
        .iter()
        .map(|s| s.slug.as_str())
        .collect()
}

pub fn profile(client: &Client, key: &Path, file: &Path, out: OutArgs, json: bool) -> Result<()> {
    let key = read_key(key)?;
    let v = read_toml(file)?;
    let b = body(Kind::ProviderProfile, v, file)?;
    if let Body::ProviderProfile(p) = &b {
        for c in &p.certifications {
            warn_unknown("certification", c.as_str(), standard_slugs());
        }
    }
    let (mut w, _) = writer(client, key)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)
}

/// The identity a key publishes for (itself, or the provider it was rotated into).
fn identity(author: &AuthorView, key: &SecretKey) -> Did {
    author.identity.clone().unwrap_or_else(|| key.did().clone())
}

/// The current version of an offer on the node, if any.
fn current_version(client: &Client, identity: &Did, offer_id: &OfferId) -> Result<Option<u64>> {
    let q = OfferQuery {
        history: true,
        ..OfferQuery::default()
    };
    match client.offer(identity, offer_id, &q) {
        Ok(v) => Ok(v.history.iter().flatten().map(|h| h.version).max()),
        Err(e)
            if e.downcast_ref::<Refused>()
                .is_some_and(Refused::is_not_found) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub fn offer(client: &Client, key: &Path, file: &Path, out: OutArgs, json: bool) -> Result<()> {
    let key = read_key(key)?;
    let mut v = read_toml(file)?;
    let offer_id: OfferId = v
        .get("offer_id")
        .and_then(Value::as_str)
        .with_context(|| format!("{} has no offer_id", file.display()))?
        .parse()
        .map_err(|e| Refused::new(RecordCode::MalformedOfferId, format!("offer_id: {e}")))?;
    let (mut w, author) = writer(client, key)?;
    if !v.contains_key("version") {
        let id = identity(&author, w.key());
        let next = current_version(client, &id, &offer_id)?.map_or(1, |n| n + 1);
        v.insert("version".into(), json!(next));
    }
    let b = body(Kind::Offer, v, file)?;
    if let Body::Offer(o) = &b {
        warn_unknown(
            "category",
            o.category.as_str(),
            taxonomy::categories()
                .iter()
                .map(|c| c.slug.as_str())
                .collect(),
        );
        for c in o.certifications.iter().chain(&o.standards) {
            warn_unknown("certification/standard", c.as_str(), standard_slugs());
        }
    }
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)
}

pub fn withdraw(
    client: &Client,
    key: &Path,
    offer_id: &str,
    reason: &str,
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let key = read_key(key)?;
    let offer_id: OfferId = offer_id
        .parse()
        .map_err(|e| Refused::new(RecordCode::MalformedOfferId, format!("offer id: {e}")))?;
    let (mut w, author) = writer(client, key)?;
    let id = identity(&author, w.key());
    let Some(version) = current_version(client, &id, &offer_id)? else {
        bail!(Refused::new(
            kx_api::ApiCode::NotFound,
            format!("the node has no offer {offer_id} of {id}"),
        ));
    };
    let b = Body::from_json(
        Kind::OfferWithdraw,
        json!({"offer_id": offer_id.as_str(), "version": version, "reason": reason}),
    )
    .map_err(Refused::from)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)
}

/// `kx key rotate`: the provider moves to a new key; signed with the old one.
pub fn rotate(client: &Client, key: &Path, new_key: &Path, out: OutArgs, json: bool) -> Result<()> {
    let old = read_key(key)?;
    let new = read_key(new_key)?;
    let b = Body::from_json(Kind::KeyRotate, json!({"new_key": new.did().as_str()}))
        .map_err(Refused::from)?;
    let (mut w, _) = writer(client, old)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)
}

/// `kx provider succession`: the predecessor hands its portfolio (or some offers)
/// to a successor from a cut-over date; it takes effect once the successor accepts.
pub fn succession(
    client: &Client,
    key: &Path,
    successor: &str,
    effective_at: &str,
    offers: &[String],
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let k = read_key(key)?;
    let at = cut_over_timestamp(effective_at);
    let b = Body::from_json(
        Kind::Succession,
        json!({"successor": successor, "effective_at": at, "offer_ids": offers}),
    )
    .map_err(Refused::from)?;
    let (mut w, _) = writer(client, k)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)?;
    if !json && out.out.is_none() {
        println!(
            "the successor accepts with: kx provider accept --key <successor key> {}",
            rec.id()
        );
    }
    Ok(())
}

/// `kx provider accept`: the successor accepts a succession record.
pub fn accept(
    client: &Client,
    key: &Path,
    succession: &str,
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let k = read_key(key)?;
    let b = Body::from_json(Kind::SuccessionAccept, json!({"succession": succession}))
        .map_err(Refused::from)?;
    let (mut w, _) = writer(client, k)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)
}

/// A cut-over given as a bare date (`2027-01-01`) means midnight UTC of that day;
/// a full timestamp passes through unchanged for the record check to judge.
pub(crate) fn cut_over_timestamp(effective_at: &str) -> String {
    if effective_at.len() == 10 {
        format!("{effective_at}T00:00:00Z")
    } else {
        effective_at.to_owned()
    }
}
