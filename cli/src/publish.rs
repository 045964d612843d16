//! Commands that sign a record locally and submit it to a node (or write it to a
//! file with `--out`): admissions, profiles, offers, withdrawals.
//!
//! The key never leaves this process. The node is asked only for public facts:
//! the federation id, the author's last record (seq and id) and the governance head.

use crate::client::Client;
use crate::commands::{AdmitArgs, OutArgs, Rejected};
use crate::offline::{now, read_genesis, read_key, write_new};
use anyhow::{Context, Result, bail};
use kx_protocol::author::LogWriter;
use kx_protocol::body::{AdmitBody, Kind};
use kx_protocol::{Body, Did, Hash32, SecretKey, VerifiedRecord, record, taxonomy};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;

/// A writer positioned at the end of `key`'s log on the node.
fn writer(client: &Client, key: SecretKey) -> Result<(LogWriter, Value)> {
    let status = client.get("/v1/status")?;
    let fed: Hash32 = status["federation"]
        .as_str()
        .context("node status without federation")?
        .parse()
        .map_err(|e| anyhow::anyhow!("node status: {e}"))?;
    let author = client.get(&format!("/v1/authors/{}", key.did()))?;
    let head = match &author["head"] {
        Value::Null => None,
        h => Some((
            h["seq"].as_u64().context("author head without seq")?,
            h["id"]
                .as_str()
                .context("author head without id")?
                .parse()
                .map_err(|e| anyhow::anyhow!("author head: {e}"))?,
        )),
    };
    Ok((LogWriter::new(key, fed, head), author))
}

/// Submits the record, or writes it to `--out`.
fn deliver(client: &Client, rec: &VerifiedRecord, out: &OutArgs, json: bool) -> Result<()> {
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
        writeln!(stdout, "{answer}")?;
    } else {
        let status = answer["status"].as_str().unwrap_or("?");
        writeln!(stdout, "{status} {} {}", rec.record().kind(), rec.id())?;
        if status == "held" {
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
        toml::Value::Float(f) => bail!(Rejected {
            code: "float_not_allowed".into(),
            message: format!(
                "{path} = {f}: records hold integers only (money in cents, percentages in basis points)"
            ),
        }),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => {
            let s = d.to_string();
            match (d.date.is_some(), d.time.is_some(), d.offset.is_some()) {
                (true, false, false) => Value::String(format!("{s}T00:00:00Z")),
                (true, true, true) => Value::String(s),
                _ => bail!(Rejected {
                    code: "malformed_timestamp".into(),
                    message: format!(
                        "{path} = {s}: give a date (2026-01-31) or a UTC time (2026-01-31T12:00:00Z)"
                    ),
                }),
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

fn read_toml(path: &Path) -> Result<Map<String, Value>> {
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
        .map_err(Rejected::from)
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

pub fn admit(client: &Client, args: AdmitArgs, json: bool) -> Result<()> {
    let genesis = read_genesis(&args.genesis)?;
    let keys: Vec<SecretKey> = args
        .steward_keys
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<_>>()?;
    let status = client.get("/v1/status")?;
    let fed = genesis.record().federation.to_hex();
    if status["federation"].as_str() != Some(fed.as_str()) {
        bail!(
            "the node serves federation {}, the genesis file is {fed}",
            status["federation"].as_str().unwrap_or("?")
        );
    }
    let head: Hash32 = status["governance_head"]
        .as_str()
        .context("node status without governance_head")?
        .parse()
        .map_err(|e| anyhow::anyhow!("governance head: {e}"))?;
    let provider: Did = args
        .provider
        .parse()
        .map_err(|e: kx_protocol::keys::KeyError| Rejected {
            code: e.code().into(),
            message: format!("--provider: {e}"),
        })?;
    let name = args
        .name
        .parse()
        .map_err(|e: kx_protocol::fields::FieldError| Rejected {
            code: "invalid_length".into(),
            message: format!("--name: {e}"),
        })?;
    let mut b = Body::MemberAdmit(AdmitBody {
        prev_action: head,
        provider,
        name,
        approvals: Vec::new(),
    });
    for k in &keys {
        record::approve(&mut b, k);
    }
    let mut keys = keys.into_iter();
    let author = keys.next().context("at least one --steward-key")?;
    let (mut w, _) = writer(client, author)?;
    let threshold = status["threshold"].as_u64().unwrap_or(1);
    if (b.approvals().map_or(0, <[_]>::len) as u64) < threshold && !json {
        eprintln!(
            "warning: {} approval(s), the federation needs {threshold}; the node will refuse it",
            b.approvals().map_or(0, <[_]>::len)
        );
    }
    let rec = w.write(b, now()?).map_err(Rejected::from)?;
    deliver(client, &rec, &args.out, json)
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
    let rec = w.write(b, now()?).map_err(Rejected::from)?;
    deliver(client, &rec, &out, json)
}

/// The identity a key publishes for (itself, or the provider it was rotated into).
fn identity(author: &Value, key: &SecretKey) -> String {
    author["identity"]
        .as_str()
        .map_or_else(|| key.did().to_string(), str::to_owned)
}

/// The current version of an offer on the node, if any.
fn current_version(client: &Client, identity: &str, offer_id: &str) -> Result<Option<u64>> {
    match client.get(&format!("/v1/offers/{identity}/{offer_id}?history=true")) {
        Ok(v) => Ok(v["history"]
            .as_array()
            .and_then(|h| h.iter().filter_map(|x| x["version"].as_u64()).max())),
        Err(e)
            if e.downcast_ref::<Rejected>()
                .is_some_and(|r| r.code == "not_found") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub fn offer(client: &Client, key: &Path, file: &Path, out: OutArgs, json: bool) -> Result<()> {
    let key = read_key(key)?;
    let mut v = read_toml(file)?;
    let offer_id = v
        .get("offer_id")
        .and_then(Value::as_str)
        .with_context(|| format!("{} has no offer_id", file.display()))?
        .to_owned();
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
    let rec = w.write(b, now()?).map_err(Rejected::from)?;
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
    let (mut w, author) = writer(client, key)?;
    let id = identity(&author, w.key());
    let Some(version) = current_version(client, &id, offer_id)? else {
        bail!(Rejected {
            code: "not_found".into(),
            message: format!("the node has no offer {offer_id} of {id}"),
        });
    };
    let b = Body::from_json(
        Kind::OfferWithdraw,
        json!({"offer_id": offer_id, "version": version, "reason": reason}),
    )
    .map_err(Rejected::from)?;
    let rec = w.write(b, now()?).map_err(Rejected::from)?;
    deliver(client, &rec, &out, json)
}
