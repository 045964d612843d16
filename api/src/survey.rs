//! Market-survey bundles (`specs/checkpoints.md` 8): one file that shows what
//! a municipality could take at an instant, and that nothing else was on
//! offer then, checkable offline by anyone who has the federation's genesis.
//!
//! A bundle holds a node's checkpoint with its witnesses' cosignatures, the
//! frontier it commits to, every record that frontier names, and the node's
//! signed statement of the query, the instant and the result. [`verify`]
//! checks each part in the order of the spec and re-derives the result with
//! the full-scan search definition ([`Filters::matches`]) over a registry
//! built from the bundle's records alone; a node builds the bundle it serves
//! with [`assemble`], which runs the same steps.

use crate::query::SurveyQuery;
use crate::views::ProviderRef;
use crate::{ApiError, Filters};
use kx_protocol::body::OfferBody;
use kx_protocol::checkpoint::{Checkpoint, CheckpointCode, Frontier};
use kx_protocol::fields::OfferId;
use kx_protocol::geo::Procurement;
use kx_protocol::registry::OfferStatus;
use kx_protocol::{Admitted, Body, Did, Hash32, Registry, SecretKey, Timestamp, VerifiedRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

kx_protocol::text_enum! {
    /// Why a market-survey bundle does not verify (`specs/checkpoints.md` 8.4);
    /// a record's own fault, a gate refusal and a checkpoint's fault keep
    /// their codes.
    pub enum SurveyCode {
        /// Not JSON, not the bundle's members and types, not exactly its
        /// canonical form and one line feed, or records not in id order.
        MalformedBundle = "malformed_bundle",
        /// The frontier is not the one the checkpoint states (root or size).
        RootMismatch = "root_mismatch",
        /// The frontier names a record the bundle does not hold.
        MissingRecord = "missing_record",
        /// The bundle holds a record the frontier does not name.
        UnexpectedRecord = "unexpected_record",
        /// The records do not end where the frontier says.
        InconsistentCheckpoint = "inconsistent_checkpoint",
        /// A signature line on the checkpoint that is neither the node's nor
        /// a valid cosignature of a named witness.
        BadCosignature = "bad_cosignature",
        /// Fewer witnesses cosigned than the quorum the bundle's governance
        /// sets.
        BelowQuorum = "below_quorum",
        /// The statement is not the statement text, or not about this
        /// checkpoint.
        MalformedStatement = "malformed_statement",
        /// The statement is not signed by the checkpoint's node.
        BadStatementSignature = "bad_statement_signature",
        /// The result re-derived from the records is not the one stated.
        ResultMismatch = "result_mismatch",
    }
}

/// The `format` member of a bundle, and the first line of its statement.
pub const FORMAT: &str = "kx-survey-v1";

fn fail(code: impl Into<crate::ErrorCode>, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// The node's signed statement (8.2): which checkpoint, which query, which
/// instant, and the result in the catalog's order (record ids of the offers'
/// current versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The checkpoint's origin, `kx/<federation>/<node did>`.
    pub origin: String,
    pub root: Hash32,
    pub at: Timestamp,
    /// The query string in canonical form ([`SurveyQuery::to_query_string`]
    /// without `at`).
    pub query: String,
    pub result: Vec<Hash32>,
}

impl Statement {
    /// The statement's text, each line ending in a line feed.
    pub fn text(&self) -> String {
        let mut t = format!(
            "{FORMAT}\n{}\n{}\n{}\n{}\n{}\n",
            self.origin,
            self.root.to_hex(),
            self.at,
            self.query,
            self.result.len()
        );
        for id in &self.result {
            t.push_str(&id.to_hex());
            t.push('\n');
        }
        t
    }

    /// Reads a statement signed by `cp`'s node about `cp` (8.4 step 7).
    fn read(note: &str, cp: &Checkpoint) -> Result<(Statement, SurveyQuery), ApiError> {
        let text = kx_protocol::checkpoint::note_text(note, &cp.origin(), &cp.signer).map_err(
            |e| match e.code {
                CheckpointCode::Malformed => fail(SurveyCode::MalformedStatement, e.reason),
                _ => fail(
                    SurveyCode::BadStatementSignature,
                    format!("the statement: {}", e.reason),
                ),
            },
        )?;
        let bad = |what: &str| fail(SurveyCode::MalformedStatement, what.to_owned());
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text does not end in a line feed"))?
            .split('\n')
            .collect();
        let [format, origin, root, at, query, n, ids @ ..] = lines.as_slice() else {
            return Err(bad("fewer than six lines"));
        };
        if *format != FORMAT {
            return Err(bad("the first line is not kx-survey-v1"));
        }
        if *origin != cp.origin() || *root != cp.root.to_hex() {
            return Err(bad("it is not about the bundle's checkpoint"));
        }
        let at: Timestamp = at
            .parse()
            .ok()
            .filter(|t: &Timestamp| t.to_string() == *at)
            .ok_or_else(|| bad("the instant is not a timestamp in its canonical form"))?;
        let parsed =
            SurveyQuery::parse(query).map_err(|e| bad(&format!("the query: {}", e.message)))?;
        if parsed.at.is_some() || parsed.filters.to_query_string() != *query {
            return Err(bad("the query is not in its canonical form"));
        }
        let count: usize = n
            .parse()
            .ok()
            .filter(|c: &usize| c.to_string() == *n && *c == ids.len())
            .ok_or_else(|| bad("the count is not the number of result lines"))?;
        let result = ids
            .iter()
            .map(|id| {
                id.parse::<Hash32>()
                    .ok()
                    .filter(|h| h.to_hex() == *id)
                    .ok_or_else(|| bad("a result line is not a record id in lowercase hex"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        debug_assert_eq!(result.len(), count);
        let query = SurveyQuery {
            filters: parsed.filters,
            at: Some(at),
        };
        Ok((
            Statement {
                origin: cp.origin(),
                root: cp.root,
                at,
                query: query.filters.to_query_string(),
                result,
            },
            query,
        ))
    }
}

/// One offer of the result, as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyRow {
    /// The record of the offer's current version.
    pub record: Hash32,
    pub provider: ProviderRef,
    /// The provider that offers it at the instant, after a merger.
    pub shown_under: Option<ProviderRef>,
    pub offer_id: OfferId,
    pub version: u64,
    pub status: OfferStatus,
    /// How the municipality may take it.
    pub procurement: Procurement,
    pub body: OfferBody,
}

/// The result of `filters` at `at` over `reg` in the catalog's order (8.3):
/// by how the municipality may take the offer (in-house, inter-municipal, a
/// framework agreement, a tender), then by title (UTF-8 bytes), then by
/// provider did and offer id. `record` reads a record of the registry by id.
pub fn derive(
    reg: &Registry,
    record: &dyn Fn(&Hash32) -> Option<VerifiedRecord>,
    filters: &Filters,
    at: Timestamp,
) -> Vec<SurveyRow> {
    let state = reg.state();
    let ags = filters.municipality.map(|m| m.ags.as_str());
    let mut rows: Vec<SurveyRow> = state
        .offers
        .iter()
        .filter_map(|((provider, offer_id), entry)| {
            let id = entry.current()?.record;
            let rec = record(&id)?;
            let Body::Offer(body) = &rec.record().body else {
                return None;
            };
            if !filters.matches(state, provider, entry, body, at) {
                return None;
            }
            let shown = state.shown_under(provider, offer_id, at);
            let provider_ref = |did: &Did| ProviderRef {
                did: did.clone(),
                name: state.provider_name(did),
            };
            Some(SurveyRow {
                record: id,
                provider: provider_ref(provider),
                shown_under: (shown != *provider).then(|| provider_ref(&shown)),
                offer_id: offer_id.clone(),
                version: body.version,
                status: state.offer_status(provider, entry, at),
                procurement: match ags {
                    Some(ags) => state.procurement(provider, body, ags, at),
                    None => Procurement::Tender,
                },
                body: (**body).clone(),
            })
        })
        .collect();
    // `state.offers` is in (provider, offer id) order; the sort is stable.
    rows.sort_by(|a, b| {
        (a.procurement, a.body.title.as_str().as_bytes())
            .cmp(&(b.procurement, b.body.title.as_str().as_bytes()))
    });
    rows
}

/// [`derive`] over a registry of `records`, reading bodies from them.
fn derive_over(
    reg: &Registry,
    records: &[VerifiedRecord],
    filters: &Filters,
    at: Timestamp,
) -> Vec<SurveyRow> {
    let by_id: BTreeMap<Hash32, &VerifiedRecord> = records.iter().map(|r| (r.id(), r)).collect();
    derive(reg, &|id| by_id.get(id).map(|r| (*r).clone()), filters, at)
}

/// A registry of `genesis` and the bundle's `records` through the ingest
/// gate, and that they are exactly what `frontier` names (8.4 steps 4-5).
pub fn rebuild(
    genesis: &VerifiedRecord,
    records: &[VerifiedRecord],
    frontier: &Frontier,
) -> Result<Registry, ApiError> {
    let mut reg = Registry::new(genesis.clone())?;
    for r in records {
        r.check_federation(&reg.federation())?;
    }
    // Offered by seq, so that predecessors and admissions usually come
    // first; the gate is offered what it refused until nothing changes.
    let mut pending: Vec<&VerifiedRecord> = records.iter().collect();
    pending.sort_by_key(|r| (r.record().seq, r.id()));
    let mut refused: BTreeMap<Hash32, kx_protocol::Rejection> = BTreeMap::new();
    loop {
        let before = pending.len();
        refused.clear();
        pending.retain(|r| match reg.admit((*r).clone()) {
            Ok(Admitted::Stored | Admitted::Known | Admitted::Held | Admitted::Equivocation) => {
                false
            }
            Err(e) => {
                refused.insert(r.id(), e);
                true
            }
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    let cut = reg.prune();
    if !reg.holds(&Frontier {
        logs: Vec::new(),
        ..frontier.clone()
    }) {
        return Err(fail(
            SurveyCode::MissingRecord,
            format!(
                "the governance chain of the bundle does not reach the frontier's head {}",
                frontier.governance
            ),
        ));
    }
    // A log that ends early: the gate refused its next record, or it is
    // missing.
    let held = reg.frontier();
    let ends: BTreeMap<&Did, u64> = held.logs.iter().map(|l| (&l.author, l.seq)).collect();
    let refusal = |id: &Hash32, e: &kx_protocol::Rejection| {
        ApiError::new(e.code(), format!("record {id}: {e}"))
    };
    for l in &frontier.logs {
        let n = ends.get(&l.author).copied().unwrap_or(0);
        if n < l.seq {
            let next = records.iter().find(|r| {
                r.record().author == l.author
                    && r.record().seq == n + 1
                    && refused.contains_key(&r.id())
            });
            if let Some(r) = next {
                return Err(refusal(&r.id(), &refused[&r.id()]));
            }
            return Err(fail(
                SurveyCode::MissingRecord,
                format!(
                    "the frontier names {} records of {}; the bundle's records form {n}",
                    l.seq, l.author
                ),
            ));
        }
    }
    if let Some((id, e)) = refused.iter().next() {
        return Err(refusal(id, e));
    }
    if let Some(id) = cut.first() {
        return Err(fail(
            SurveyCode::UnexpectedRecord,
            format!("record {id} is cut off (protocol 7.2)"),
        ));
    }
    if held != *frontier {
        return Err(fail(
            SurveyCode::InconsistentCheckpoint,
            "the bundle's records end elsewhere than the frontier says",
        ));
    }
    let named = reg.named(frontier).ok_or_else(|| {
        fail(
            SurveyCode::InconsistentCheckpoint,
            "the frontier names records the set does not count",
        )
    })?;
    let given: BTreeSet<Hash32> = records.iter().map(VerifiedRecord::id).collect();
    if let Some(id) = given.difference(&named).next() {
        return Err(fail(
            SurveyCode::UnexpectedRecord,
            format!("record {id} is not named by the frontier"),
        ));
    }
    if let Some(id) = named.difference(&given).next() {
        return Err(fail(
            SurveyCode::MissingRecord,
            format!("the frontier names record {id}, which the bundle lacks"),
        ));
    }
    Ok(reg)
}

/// A witness's cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cosigned {
    pub name: String,
    pub key: Did,
    /// POSIX seconds the witness stated.
    pub time: u64,
}

/// The cosignatures on `note` (8.4 step 6): every signature line but the
/// node's must be a verifying cosignature of a distinct witness the set
/// names; at least `quorum` of them.
fn cosignatures(note: &str, cp: &Checkpoint, reg: &Registry) -> Result<Vec<Cosigned>, ApiError> {
    let bad = |m: String| fail(SurveyCode::BadCosignature, m);
    let split = note
        .find("\n\n")
        .ok_or_else(|| bad("no empty line before the signatures".to_owned()))?;
    let (text, lines) = (&note[..=split], &note[split + 2..]);
    let origin = cp.origin();
    let state = reg.state();
    let mut own = 0;
    let mut found: Vec<Cosigned> = Vec::new();
    for line in lines.split_terminator('\n') {
        let name = line
            .strip_prefix("\u{2014} ")
            .and_then(|l| l.split(' ').next())
            .ok_or_else(|| bad(format!("{line:?} is not a signature line")))?;
        if name == origin {
            own += 1;
            continue;
        }
        let w = state
            .witnesses
            .iter()
            .find(|w| w.name.as_str() == name)
            .ok_or_else(|| {
                bad(format!(
                    "a cosignature by {name}, who is not a named witness"
                ))
            })?;
        if found.iter().any(|c| c.name == name) {
            return Err(bad(format!("two cosignatures by {name}")));
        }
        let time = cp
            .cosigned_by(&format!("{text}\n{line}\n"), name, &w.key)
            .ok_or_else(|| bad(format!("the cosignature of {name} does not verify")))?;
        found.push(Cosigned {
            name: name.to_owned(),
            key: w.key.clone(),
            time,
        });
    }
    if own != 1 {
        return Err(bad(format!(
            "{own} signature lines of the node; one is allowed"
        )));
    }
    if (found.len() as u64) < state.quorum {
        return Err(fail(
            SurveyCode::BelowQuorum,
            format!(
                "{} of the {} witnesses cosigned; the quorum is {}",
                found.len(),
                state.witnesses.len(),
                state.quorum
            ),
        ));
    }
    Ok(found)
}

/// A bundle that verified, and what it shows.
#[derive(Debug)]
pub struct Verified {
    pub registry: Registry,
    pub checkpoint: Checkpoint,
    pub cosigned: Vec<Cosigned>,
    pub query: SurveyQuery,
    pub at: Timestamp,
    pub rows: Vec<SurveyRow>,
    /// Records in the bundle.
    pub records: usize,
}

/// The parts of a bundle, read (8.4 steps 1-3).
struct Parts {
    note: String,
    frontier: Frontier,
    statement: String,
    records: Vec<VerifiedRecord>,
    checkpoint: Checkpoint,
}

/// The parts of `bytes`; with `federation`, the checkpoint must be of it.
fn read_parts(bytes: &[u8], federation: Option<&Hash32>) -> Result<Parts, ApiError> {
    let malformed = |m: &str| fail(SurveyCode::MalformedBundle, m.to_owned());
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or_else(|| malformed("the file does not end in one line feed"))?;
    let v = kx_protocol::json::parse(body)
        .map_err(|e| fail(SurveyCode::MalformedBundle, format!("not JSON: {e}")))?;
    if kx_protocol::json::canonical(&v).ok().as_deref() != Some(body) {
        return Err(malformed(
            "not in canonical form (RFC 8785, as records are) followed by one line feed",
        ));
    }
    let obj = v
        .as_object()
        .filter(|o| o.len() == 4)
        .ok_or_else(|| malformed("not an object of checkpoint, format, records, statement"))?;
    if obj.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(malformed("format is not kx-survey-v1"));
    }
    let cpv = obj
        .get("checkpoint")
        .and_then(Value::as_object)
        .filter(|o| o.len() == 2)
        .ok_or_else(|| malformed("checkpoint is not an object of frontier and note"))?;
    let note = cpv
        .get("note")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("checkpoint.note is not a string"))?;
    let statement = obj
        .get("statement")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("statement is not a string"))?;
    let list = obj
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("records is not a list"))?;
    let mut records = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let bytes = kx_protocol::json::canonical(r)
            .map_err(|e| fail(SurveyCode::MalformedBundle, format!("record {i}: {e}")))?;
        let rec = VerifiedRecord::from_bytes(&bytes)
            .map_err(|e| ApiError::new(e.code(), format!("record {i}: {e}")))?;
        records.push(rec);
    }
    if records.windows(2).any(|w| w[0].id() >= w[1].id()) {
        return Err(malformed(
            "records are not in increasing order of id, each once",
        ));
    }
    let checkpoint = Checkpoint::read(note)
        .map_err(|e| ApiError::new(e.code, format!("the checkpoint: {}", e.reason)))?;
    if let Some(federation) = federation
        && checkpoint.federation != *federation
    {
        return Err(ApiError::new(
            kx_protocol::RecordCode::WrongFederation,
            format!(
                "a bundle of federation {}, not of the genesis given ({federation})",
                checkpoint.federation
            ),
        ));
    }
    let frontier = Frontier::from_json(cpv.get("frontier").unwrap_or(&Value::Null))
        .map_err(|e| ApiError::new(e.code, format!("the frontier: {}", e.reason)))?;
    if frontier.federation != checkpoint.federation
        || frontier.root() != checkpoint.root
        || frontier.size() != checkpoint.size
    {
        return Err(fail(
            SurveyCode::RootMismatch,
            "the frontier is not the one the checkpoint states",
        ));
    }
    Ok(Parts {
        note: note.to_owned(),
        frontier,
        statement: statement.to_owned(),
        records,
        checkpoint,
    })
}

/// Verifies a bundle against the federation's `genesis` (8.4): every step,
/// in order, the first failure with its code.
pub fn verify(bytes: &[u8], genesis: &VerifiedRecord) -> Result<Verified, ApiError> {
    verify_parts(
        read_parts(bytes, Some(&genesis.record().federation))?,
        genesis,
    )
}

/// [`verify`] against the genesis the bundle itself holds: that it is whole
/// and sound in itself (a client checks a node's bundle so before keeping
/// it); whether that genesis is the federation's only [`verify`] with the
/// genesis one trusts can say.
pub fn verify_self(bytes: &[u8]) -> Result<Verified, ApiError> {
    let parts = read_parts(bytes, None)?;
    let genesis = parts
        .records
        .iter()
        .find(|r| {
            matches!(r.record().body, Body::Genesis(_))
                && r.record().federation == parts.checkpoint.federation
        })
        .cloned()
        .ok_or_else(|| {
            fail(
                SurveyCode::MissingRecord,
                "the bundle holds no genesis of its federation",
            )
        })?;
    verify_parts(parts, &genesis)
}

/// Steps 4-7 of [`verify`] on parts read.
fn verify_parts(parts: Parts, genesis: &VerifiedRecord) -> Result<Verified, ApiError> {
    let registry = rebuild(genesis, &parts.records, &parts.frontier)?;
    let cosigned = cosignatures(&parts.note, &parts.checkpoint, &registry)?;
    let (statement, query) = Statement::read(&parts.statement, &parts.checkpoint)?;
    let rows = derive_over(&registry, &parts.records, &query.filters, statement.at);
    let derived: Vec<Hash32> = rows.iter().map(|r| r.record).collect();
    if derived != statement.result {
        return Err(fail(
            SurveyCode::ResultMismatch,
            format!(
                "the records give {} offers, the statement {}{}",
                derived.len(),
                statement.result.len(),
                if derived.len() == statement.result.len() {
                    " (others, or in another order)"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(Verified {
        registry,
        checkpoint: parts.checkpoint,
        cosigned,
        query,
        at: statement.at,
        rows,
        records: parts.records.len(),
    })
}

/// Builds the bundle a node serves (8.1): its witnessed checkpoint `note`
/// (with the cosignature lines), the `frontier` it states, the records it
/// names (`records`, any order), and the statement of `query` at `at`
/// signed with the node's checkpoint `key`. Runs the steps of [`verify`]
/// that could fail on the node's side (the records and the quorum), so a
/// node never serves a bundle that would not verify.
pub fn assemble(
    genesis: &VerifiedRecord,
    note: &str,
    frontier: &Frontier,
    mut records: Vec<VerifiedRecord>,
    filters: &Filters,
    at: Timestamp,
    key: &SecretKey,
) -> Result<(Vec<u8>, Vec<SurveyRow>), ApiError> {
    records.sort_by_key(VerifiedRecord::id);
    records.dedup_by_key(|r| r.id());
    let checkpoint = Checkpoint::read(note).map_err(|e| ApiError::new(e.code, e.reason))?;
    let registry = rebuild(genesis, &records, frontier)?;
    cosignatures(note, &checkpoint, &registry)?;
    let rows = derive_over(&registry, &records, filters, at);
    let statement = Statement {
        origin: checkpoint.origin(),
        root: checkpoint.root,
        at,
        query: filters.to_query_string(),
        result: rows.iter().map(|r| r.record).collect(),
    };
    let signed = kx_protocol::checkpoint::sign_note(&statement.text(), &checkpoint.origin(), key);
    let list = records
        .iter()
        .map(|r| serde_json::from_slice::<Value>(r.canonical_json()))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| fail(SurveyCode::MalformedBundle, e.to_string()))?;
    let v = json!({
        "format": FORMAT,
        "checkpoint": {"note": note, "frontier": frontier.to_json()},
        "statement": signed,
        "records": list,
    });
    let mut bytes = kx_protocol::json::canonical(&v)
        .map_err(|e| fail(SurveyCode::MalformedBundle, e.to_string()))?;
    bytes.push(b'\n');
    Ok((bytes, rows))
}
