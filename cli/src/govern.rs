//! Governance from the command line: admissions, suspensions, reinstatements,
//! revocations, steward changes and the standard portfolio need the stewards'
//! threshold of approvals.
//!
//! Approvals sign the action, not the record, so they can be collected one steward
//! at a time: a command run with fewer approvals than the threshold writes a draft
//! file and says who still has to approve; `kx federation cosign DRAFT` adds an
//! approval, and the steward whose approval completes the threshold signs the
//! record and submits it. Key rotation and mergers are the providers' own records.

use crate::args::{GovArgs, GovCommand, OutArgs};
use crate::client::Client;
use crate::error::{CliCode, Refused};
use crate::offline::{now, read_genesis, write_new};
use crate::publish::{cut_over_timestamp, deliver, writer};
use crate::secret::read_key;
use anyhow::{Context, Result, bail};
use kx_protocol::body::Kind;
use kx_protocol::{Body, Did, Hash32, SecretKey, record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

fn parse_did(s: &str, flag: &str) -> Result<Did> {
    s.parse().map_err(|e: kx_protocol::keys::KeyError| {
        Refused::new(e.code(), format!("{flag}: {e}")).into()
    })
}

/// The node's federation, governance head, stewards and threshold.
struct Gov {
    federation: Hash32,
    head: Hash32,
    stewards: Vec<Did>,
    threshold: u64,
}

fn governance(client: &Client) -> Result<Gov> {
    let st = client.status()?;
    Ok(Gov {
        federation: st.federation,
        head: st.governance_head,
        stewards: st.stewards,
        threshold: st.threshold,
    })
}

/// The position a cut names by default: the next seq of the provider's current key.
fn next_position(client: &Client, provider: &Did) -> Result<(Did, u64)> {
    let key = client
        .author(provider)?
        .current_key
        .with_context(|| format!("{provider} is not an admitted provider on this node"))?;
    let next = client.author(&key)?.head.map_or(1, |h| h.seq + 1);
    Ok((key, next))
}

/// A governance action still collecting approvals, as written to a file for the
/// next steward (`kx federation cosign`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    /// Always `kx-action-draft`.
    #[serde(rename = "type")]
    kind_of_file: String,
    /// Format version of the draft file (1).
    v: u64,
    federation: Hash32,
    kind: String,
    body: Value,
    stewards: Vec<Did>,
    threshold: u64,
}

const DRAFT_TYPE: &str = "kx-action-draft";

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
            let v = json!({"provider": p.as_str(), "key": key.as_str(), "from_seq": from_seq.unwrap_or(next), "new_key": n.as_str(), "reason": reason});
            act(client, Kind::MemberRekey, v, gov, json)
        }
        GovCommand::Allowance {
            provider,
            records,
            reason,
            gov,
        } => {
            let p = parse_did(&provider, "--provider")?;
            let v = json!({"provider": p.as_str(), "allowance": records, "reason": reason});
            act(client, Kind::MemberAllowance, v, gov, json)
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
        GovCommand::DefineStandard { file, gov } => {
            let v = Value::Object(crate::publish::read_toml(&file)?);
            act(client, Kind::StandardDefine, v, gov, json)
        }
        GovCommand::RetireStandard {
            standard,
            reason,
            gov,
        } => {
            let v = json!({"standard_id": standard, "reason": reason});
            act(client, Kind::StandardRetire, v, gov, json)
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
        GovCommand::Observers {
            add,
            names,
            remove,
            gov,
        } => {
            if add.len() != names.len() {
                bail!(
                    "give one --name for each --add ({} --add, {} --name)",
                    add.len(),
                    names.len()
                );
            }
            if add.is_empty() && remove.is_empty() {
                bail!("give --add PEER_ID --name NAME or --remove PEER_ID");
            }
            const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
            for peer in &add {
                if !(40..=100).contains(&peer.len()) || !peer.chars().all(|c| BASE58.contains(c)) {
                    bail!(
                        "--add {peer:?} is not a libp2p peer id (base58, like 12D3KooW...; `kx node status` on the observer shows it)"
                    );
                }
            }
            let current = client.status()?.observers;
            for r in &remove {
                if !current.iter().any(|o| o.peer_id.as_str() == r) {
                    bail!("--remove {r}: not an observer of this federation");
                }
            }
            let mut list: Vec<Value> = current
                .into_iter()
                .filter(|o| !remove.iter().any(|r| r == o.peer_id.as_str()))
                .filter(|o| !add.iter().any(|a| a == o.peer_id.as_str()))
                .map(|o| json!({"peer_id": o.peer_id.as_str(), "name": o.name.as_str()}))
                .collect();
            for (peer, name) in add.iter().zip(&names) {
                list.push(json!({"peer_id": peer, "name": name}));
            }
            act(
                client,
                Kind::FederationObservers,
                json!({"observers": list}),
                gov,
                json,
            )
        }
        GovCommand::Witnesses {
            add,
            keys,
            remove,
            quorum,
            gov,
        } => {
            if add.len() != keys.len() {
                bail!(
                    "give one --key for each --add ({} --add, {} --key)",
                    add.len(),
                    keys.len()
                );
            }
            let status = client.status()?;
            for r in &remove {
                if !status.witnesses.iter().any(|w| w.name.as_str() == r) {
                    bail!("--remove {r}: not a witness of this federation");
                }
            }
            let mut list: Vec<Value> = status
                .witnesses
                .into_iter()
                .filter(|w| !remove.iter().any(|r| r == w.name.as_str()))
                .filter(|w| !add.iter().any(|a| a == w.name.as_str()))
                .map(|w| json!({"name": w.name.as_str(), "key": w.key.as_str()}))
                .collect();
            for (name, key) in add.iter().zip(&keys) {
                let k = parse_did(key, "--key")?;
                list.push(json!({"name": name, "key": k.as_str()}));
            }
            let n = list.len() as u64;
            let quorum = quorum.unwrap_or(if n == 0 { 0 } else { n / 2 + 1 });
            act(
                client,
                Kind::FederationWitnesses,
                json!({"witnesses": list, "quorum": quorum}),
                gov,
                json,
            )
        }
        GovCommand::Cosign {
            draft,
            steward_keys,
            genesis,
            out,
        } => cosign(client, &draft, &steward_keys, genesis.as_deref(), out, json),
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
    let v = json!({"provider": p.as_str(), "key": key.as_str(), "from_seq": from_seq.unwrap_or(next), "reason": reason});
    act(client, kind, v, gov, json)
}

/// Admission, used by `kx federation admit`.
pub fn admit(client: &Client, provider: &str, name: &str, gov: GovArgs, json: bool) -> Result<()> {
    let p = parse_did(provider, "--provider")?;
    act(
        client,
        Kind::MemberAdmit,
        json!({"provider": p.as_str(), "name": name}),
        gov,
        json,
    )
}

/// `kx federation admit-municipality`: one municipality (`--ags`,
/// `--member`) or all rows of a CSV file (`ags,did[,name]`) in one action.
pub fn admit_municipalities(
    client: &Client,
    args: crate::args::AdmitMunicipalityArgs,
    json: bool,
) -> Result<()> {
    let rows = match (&args.csv, &args.ags, &args.member) {
        (Some(path), _, _) => municipality_rows(path)?,
        (None, Some(ags), Some(member)) => vec![(ags.clone(), member.clone(), args.name.clone())],
        _ => bail!("give --ags and --member, or --csv"),
    };
    let mut entries = Vec::with_capacity(rows.len());
    for (ags, member, name) in rows {
        let did = parse_did(&member, "did")?;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => kx_protocol::geo::name_of(&ags)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Refused::new(
                        kx_api::ApiCode::UnknownMunicipality,
                        format!("{ags} is not the AGS of an NRW municipality; give its name"),
                    )
                })?,
        };
        entries.push(json!({"ags": ags, "member": did.as_str(), "name": name}));
    }
    act(
        client,
        Kind::MunicipalityAdmit,
        json!({"municipalities": entries}),
        args.gov,
        json,
    )
}

/// The rows of an admission CSV: a header naming `ags` and `did` (and
/// optionally `name`), then one municipality per row.
fn municipality_rows(path: &Path) -> Result<Vec<(String, String, Option<String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("read {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(ags), Some(did)) = (col("ags"), col("did")) else {
        bail!(
            "{}: the header must name the columns ags and did (and optionally name)",
            path.display()
        );
    };
    let name = col("name");
    let mut rows = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{} row {}", path.display(), i + 2))?;
        let field = |c: usize| row.get(c).unwrap_or("").to_owned();
        rows.push((field(ags), field(did), name.map(field)));
    }
    if rows.is_empty() {
        bail!("{}: no municipalities in it", path.display());
    }
    Ok(rows)
}

/// Builds the action on the node's governance head, approves it with the given
/// keys, and submits it or writes a draft.
fn act(client: &Client, kind: Kind, mut v: Value, gov: GovArgs, json: bool) -> Result<()> {
    let node = governance(client)?;
    same_federation(&node, gov.genesis.as_deref())?;
    let keys = steward_keys(&node, &gov.steward_keys)?;
    v["prev_action"] = json!(node.head.to_hex());
    let mut body = Body::from_json_draft(kind, v).map_err(Refused::from)?;
    for k in &keys {
        record::approve(&mut body, k);
    }
    let draft = gov.draft.unwrap_or_else(|| {
        PathBuf::from(format!("{}-draft.json", kind.as_str().replace('.', "-")))
    });
    finish(client, &node, body, keys, &draft, &gov.out, json)
}

/// Refuses unless the node serves the federation `genesis` founded.
fn same_federation(node: &Gov, genesis: Option<&Path>) -> Result<()> {
    let Some(path) = genesis else {
        return Ok(());
    };
    let fed = read_genesis(path)?.record().federation;
    if node.federation != fed {
        bail!(Refused::cli(
            CliCode::OtherFederation,
            format!(
                "the node serves federation {}, {} founded {fed}",
                node.federation,
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Reads the key files, refusing any that is not a current steward: its
/// approval could never count.
fn steward_keys(node: &Gov, files: &[PathBuf]) -> Result<Vec<SecretKey>> {
    let mut keys = Vec::with_capacity(files.len());
    for path in files {
        let k = read_key(path)?;
        if !node.stewards.contains(k.did()) {
            let stewards: Vec<&str> = node.stewards.iter().map(Did::as_str).collect();
            bail!(Refused::cli(
                CliCode::NotASteward,
                format!(
                    "{} ({}) is not a steward of federation {}; its stewards are {}",
                    path.display(),
                    k.did(),
                    node.federation,
                    stewards.join(", ")
                ),
            ));
        }
        keys.push(k);
    }
    Ok(keys)
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
    let approved: Vec<&Did> = body
        .valid_approvals()
        .into_iter()
        .filter(|d| node.stewards.contains(d))
        .collect();
    let mut stdout = std::io::stdout().lock();
    if (approved.len() as u64) < node.threshold {
        let missing: Vec<&Did> = node
            .stewards
            .iter()
            .filter(|s| !approved.contains(s))
            .collect();
        let file = Draft {
            kind_of_file: DRAFT_TYPE.into(),
            v: 1,
            federation: node.federation,
            kind: body.kind().as_str().into(),
            body: body.to_value(),
            stewards: node.stewards.clone(),
            threshold: node.threshold,
        };
        let _ = std::fs::remove_file(draft);
        let text = serde_json::to_string_pretty(&file)?;
        write_new(draft, format!("{text}\n").as_bytes(), false)?;
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
        .find(|k| node.stewards.contains(k.did()))
        .context("none of the given keys is a current steward")?;
    let (mut w, _) = writer(client, author)?;
    let rec = w.write(body, now()?).map_err(Refused::from)?;
    deliver(client, &rec, out, json)?;
    let _ = std::fs::remove_file(draft);
    Ok(())
}

fn cosign(
    client: &Client,
    draft: &Path,
    key_files: &[PathBuf],
    genesis: Option<&Path>,
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let text =
        std::fs::read_to_string(draft).with_context(|| format!("read {}", draft.display()))?;
    let v: Draft = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a kx action draft", draft.display()))?;
    if v.kind_of_file != DRAFT_TYPE {
        bail!("{} is not a kx action draft", draft.display());
    }
    let kind = Kind::parse(&v.kind).context("draft without a known kind")?;
    let mut body = Body::from_json_draft(kind, v.body).map_err(Refused::from)?;
    let node = governance(client)?;
    same_federation(&node, genesis)?;
    if v.federation != node.federation {
        bail!(
            "the draft is for federation {}, the node serves {}",
            v.federation,
            node.federation
        );
    }
    if body.prev_action() != Some(&node.head) {
        bail!(Refused::cli(
            CliCode::StaleAction,
            "the federation's governance moved on since this draft was made; create the action again",
        ));
    }
    let keys = steward_keys(&node, key_files)?;
    for k in &keys {
        record::approve(&mut body, k);
    }
    finish(client, &node, body, keys, draft, &out, json)
}
