//! Governance from the command line: admissions, suspensions, reinstatements,
//! revocations and steward changes need the stewards' threshold of approvals.
//!
//! Approvals sign the action, not the record, so they can be collected one steward
//! at a time: a command run with fewer approvals than the threshold writes a draft
//! file and says who still has to approve; `kx federation cosign DRAFT` adds an
//! approval, and the steward whose approval completes the threshold signs the
//! record and submits it. Key rotation and mergers are the providers' own records.

use crate::client::Client;
use crate::commands::{OutArgs, Rejected};
use crate::offline::{now, read_genesis, read_key, write_new};
use crate::publish::{cut_over_timestamp, deliver, writer};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use kx_protocol::body::Kind;
use kx_protocol::{Body, Did, Hash32, SecretKey, record};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options every governance command shares.
#[derive(Debug, Args)]
pub struct GovArgs {
    /// Steward key file; repeat to add several approvals. The first steward signs
    /// the record once the threshold is reached.
    #[arg(long = "steward-key", required = true)]
    pub steward_keys: Vec<PathBuf>,
    /// Where to write the draft while approvals are missing
    /// (default: <kind>-draft.json).
    #[arg(long)]
    pub draft: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutArgs,
}

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Suspend a provider: its offers are hidden and its records from the next one
    /// on are refused until it is reinstated.
    Suspend {
        /// The provider's did.
        #[arg(long)]
        provider: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        /// Cut from this seq of the provider's current key (default: its next).
        #[arg(long)]
        from_seq: Option<u64>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Lift a provider's suspension.
    Reinstate {
        /// The provider's did.
        #[arg(long)]
        provider: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Revoke a provider for good: its records from the cut on are refused; its
    /// history stays and is marked.
    Revoke {
        /// The provider's did.
        #[arg(long)]
        provider: String,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        /// Cut from this seq of the provider's current key (default: its next).
        #[arg(long)]
        from_seq: Option<u64>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Replace a provider's lost key: its records under the old key from the cut
    /// on no longer count; it continues under the new key.
    Rekey {
        /// The provider's did.
        #[arg(long)]
        provider: String,
        /// The provider's new key (did, from `kx key gen` on the provider's side).
        #[arg(long)]
        new_key: String,
        /// Cut the lost key from this seq (default: its next).
        #[arg(long)]
        from_seq: Option<u64>,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Hand a provider's portfolio to a successor when the provider cannot sign
    /// any more; takes effect once the successor accepts (`kx provider accept`).
    Succession {
        /// The predecessor's did.
        #[arg(long)]
        provider: String,
        /// The successor's did.
        #[arg(long)]
        successor: String,
        /// Cut-over date (2024-01-01) or UTC time.
        #[arg(long)]
        effective_at: String,
        /// Only this offer (repeat); default: the whole portfolio.
        #[arg(long = "offer")]
        offers: Vec<String>,
        /// Why (for the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Replace the steward set and threshold.
    Stewards {
        /// A steward of the new set (repeat).
        #[arg(long = "set", required = true)]
        set: Vec<String>,
        /// Approvals needed from the new set.
        #[arg(long)]
        threshold: u64,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Add approvals to a draft; submits it once the threshold is reached.
    Cosign {
        /// The draft file.
        draft: PathBuf,
        /// Steward key file (repeat for several).
        #[arg(long = "steward-key", required = true)]
        steward_keys: Vec<PathBuf>,
        #[command(flatten)]
        out: OutArgs,
    },
}

fn parse_did(s: &str, flag: &str) -> Result<Did> {
    s.parse().map_err(|e: kx_protocol::keys::KeyError| {
        Rejected {
            code: e.code().into(),
            message: format!("{flag}: {e}"),
        }
        .into()
    })
}

/// The node's federation, governance head, stewards and threshold.
struct Gov {
    federation: Hash32,
    head: Hash32,
    stewards: Vec<String>,
    threshold: u64,
}

fn governance(client: &Client) -> Result<Gov> {
    let st = client.get("/v1/status")?;
    let hash = |k: &str| -> Result<Hash32> {
        st[k]
            .as_str()
            .with_context(|| format!("node status without {k}"))?
            .parse()
            .map_err(|e| anyhow::anyhow!("{k}: {e}"))
    };
    Ok(Gov {
        federation: hash("federation")?,
        head: hash("governance_head")?,
        stewards: st["stewards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        threshold: st["threshold"].as_u64().unwrap_or(1),
    })
}

/// The position a cut names by default: the next seq of the provider's current key.
fn next_position(client: &Client, provider: &Did) -> Result<(String, u64)> {
    let a = client.get(&format!("/v1/authors/{provider}"))?;
    let key = a["current_key"]
        .as_str()
        .with_context(|| format!("{provider} is not an admitted provider on this node"))?
        .to_owned();
    let k = client.get(&format!("/v1/authors/{key}"))?;
    let next = k["head"]["seq"].as_u64().map_or(1, |s| s + 1);
    Ok((key, next))
}

pub fn run(client: &Client, cmd: GovCommand, json: bool) -> Result<()> {
    match cmd {
        GovCommand::Suspend {
            provider,
            reason,
            from_seq,
            gov,
        } => cut(
            client,
            Kind::MemberSuspend,
            &provider,
            &reason,
            from_seq,
            gov,
            json,
        ),
        GovCommand::Revoke {
            provider,
            reason,
            from_seq,
            gov,
        } => cut(
            client,
            Kind::MemberRevoke,
            &provider,
            &reason,
            from_seq,
            gov,
            json,
        ),
        GovCommand::Reinstate {
            provider,
            reason,
            gov,
        } => {
            let p = parse_did(&provider, "--provider")?;
            let v = json!({"provider": p.as_str(), "reason": reason});
            act(client, Kind::MemberReinstate, v, gov, json)
        }
        GovCommand::Rekey {
            provider,
            new_key,
            from_seq,
            reason,
            gov,
        } => {
            let p = parse_did(&provider, "--provider")?;
            let n = parse_did(&new_key, "--new-key")?;
            let (key, next) = next_position(client, &p)?;
            let v = json!({"provider": p.as_str(), "key": key, "from_seq": from_seq.unwrap_or(next), "new_key": n.as_str(), "reason": reason});
            act(client, Kind::MemberRekey, v, gov, json)
        }
        GovCommand::Succession {
            provider,
            successor,
            effective_at,
            offers,
            reason,
            gov,
        } => {
            let p = parse_did(&provider, "--provider")?;
            let s = parse_did(&successor, "--successor")?;
            let at = cut_over_timestamp(&effective_at);
            let v = json!({"provider": p.as_str(), "successor": s.as_str(), "effective_at": at, "offer_ids": offers, "reason": reason});
            act(client, Kind::MemberSuccession, v, gov, json)
        }
        GovCommand::Stewards {
            set,
            threshold,
            gov,
        } => {
            let dids: Vec<String> = set
                .iter()
                .map(|s| parse_did(s, "--set").map(|d| d.to_string()))
                .collect::<Result<_>>()?;
            let v = json!({"stewards": dids, "threshold": threshold});
            act(client, Kind::FederationStewards, v, gov, json)
        }
        GovCommand::Cosign {
            draft,
            steward_keys,
            out,
        } => cosign(client, &draft, &steward_keys, out, json),
    }
}

fn cut(
    client: &Client,
    kind: Kind,
    provider: &str,
    reason: &str,
    from_seq: Option<u64>,
    gov: GovArgs,
    json: bool,
) -> Result<()> {
    let p = parse_did(provider, "--provider")?;
    let (key, next) = next_position(client, &p)?;
    let v = json!({"provider": p.as_str(), "key": key, "from_seq": from_seq.unwrap_or(next), "reason": reason});
    act(client, kind, v, gov, json)
}

/// Admission, used by `kx federation admit`.
pub fn admit(
    client: &Client,
    genesis: &Path,
    provider: &str,
    name: &str,
    gov: GovArgs,
    json: bool,
) -> Result<()> {
    let g = read_genesis(genesis)?;
    let fed = g.record().federation;
    let node = governance(client)?;
    if node.federation != fed {
        bail!(
            "the node serves federation {}, the genesis file is {fed}",
            node.federation
        );
    }
    let p = parse_did(provider, "--provider")?;
    act(
        client,
        Kind::MemberAdmit,
        json!({"provider": p.as_str(), "name": name}),
        gov,
        json,
    )
}

/// Builds the action on the node's governance head, approves it with the given
/// keys, and submits it or writes a draft.
fn act(client: &Client, kind: Kind, mut v: Value, gov: GovArgs, json: bool) -> Result<()> {
    let node = governance(client)?;
    v["prev_action"] = json!(node.head.to_hex());
    let mut body = Body::from_json_draft(kind, v).map_err(Rejected::from)?;
    let keys: Vec<SecretKey> = gov
        .steward_keys
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<_>>()?;
    for k in &keys {
        record::approve(&mut body, k);
    }
    let draft = gov.draft.unwrap_or_else(|| {
        PathBuf::from(format!("{}-draft.json", kind.as_str().replace('.', "-")))
    });
    finish(client, &node, body, keys, &draft, &gov.out, json)
}

/// Submits when the threshold is reached, else writes the draft.
fn finish(
    client: &Client,
    node: &Gov,
    body: Body,
    keys: Vec<SecretKey>,
    draft: &Path,
    out: &OutArgs,
    json: bool,
) -> Result<()> {
    let approved: Vec<String> = body
        .valid_approvals()
        .into_iter()
        .map(|d| d.to_string())
        .filter(|d| node.stewards.contains(d))
        .collect();
    let mut stdout = std::io::stdout().lock();
    if (approved.len() as u64) < node.threshold {
        let missing: Vec<&String> = node
            .stewards
            .iter()
            .filter(|s| !approved.contains(s))
            .collect();
        let text = json!({
            "type": "kx-action-draft",
            "v": 1,
            "federation": node.federation.to_hex(),
            "kind": body.kind().as_str(),
            "body": body.to_value(),
            "stewards": node.stewards,
            "threshold": node.threshold,
        });
        let _ = std::fs::remove_file(draft);
        write_new(draft, format!("{text:#}\n").as_bytes(), false)?;
        if json {
            writeln!(
                stdout,
                "{}",
                json!({"draft": draft.display().to_string(), "approvals": approved.len(), "threshold": node.threshold, "missing": missing})
            )?;
        } else {
            writeln!(
                stdout,
                "{} of {} approvals for {}; draft written to {}",
                approved.len(),
                node.threshold,
                body.kind(),
                draft.display()
            )?;
            writeln!(
                stdout,
                "still needed from {} of these stewards:",
                node.threshold - approved.len() as u64
            )?;
            for m in missing {
                writeln!(stdout, "  {m}")?;
            }
            writeln!(
                stdout,
                "each runs: kx federation cosign {} --steward-key <their key>",
                draft.display()
            )?;
        }
        return Ok(());
    }
    drop(stdout);
    let author = keys
        .into_iter()
        .find(|k| node.stewards.contains(&k.did().to_string()))
        .context("none of the given keys is a current steward")?;
    let (mut w, _) = writer(client, author)?;
    let rec = w.write(body, now()?).map_err(Rejected::from)?;
    deliver(client, &rec, out, json)?;
    let _ = std::fs::remove_file(draft);
    Ok(())
}

fn cosign(
    client: &Client,
    draft: &Path,
    key_files: &[PathBuf],
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let text =
        std::fs::read_to_string(draft).with_context(|| format!("read {}", draft.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a draft", draft.display()))?;
    if v["type"] != "kx-action-draft" {
        bail!("{} is not a kx action draft", draft.display());
    }
    let kind = v["kind"]
        .as_str()
        .and_then(Kind::parse)
        .context("draft without a known kind")?;
    let mut body = Body::from_json_draft(kind, v["body"].clone()).map_err(Rejected::from)?;
    let node = governance(client)?;
    if v["federation"].as_str() != Some(node.federation.to_hex().as_str()) {
        bail!(
            "the draft is for federation {}, the node serves {}",
            v["federation"],
            node.federation
        );
    }
    if body.prev_action() != Some(&node.head) {
        bail!(Rejected {
            code: "stale_action".into(),
            message: "the federation's governance moved on since this draft was made; create the action again".into(),
        });
    }
    let keys: Vec<SecretKey> = key_files
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<_>>()?;
    for k in &keys {
        record::approve(&mut body, k);
    }
    finish(client, &node, body, keys, draft, &out, json)
}
