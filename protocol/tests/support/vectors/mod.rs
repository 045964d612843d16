//! Test-vector generator: builds every case in `specs/vectors/` from fixed seeds.
//!
//! Shared by `examples/gen_vectors.rs` (writes the files) and `tests/vectors.rs`
//! (fails when the committed files differ from what this produces). Every expected
//! outcome is asserted here while generating, so a change in behaviour cannot slip
//! into the vectors unnoticed.
//!
//! `records.rs`: one accepted record per kind and one rejected record per error
//! code; `state.rs`: scripted federations through the gate and the fold;
//! `exchange.rs`: the exchange's state vectors; `standards.rs`: the stewards'
//! standards and an offer's terms for one buyer (cost, contact);
//! `sync.rs`: one reconciliation on the wire; `keyfiles.rs`: encrypted key files. This file: the shared helpers.

#![allow(dead_code)]

mod checkpoints;
mod exchange;
mod keyfiles;
mod records;
mod standards;
mod state;
mod sync;
#[allow(unused_imports)] // used by tests/vectors.rs, not by the generator
pub use sync::message_json;

use kx_protocol::body::{Body, Kind};
use kx_protocol::fields::{Hash32, Timestamp};
use kx_protocol::record::{self, RECORD_TAG, action_bytes, sha256};
use kx_protocol::registry::{Admitted, Registry};
use kx_protocol::{Did, SecretKey, VerifiedRecord, json};
use serde_json::{Value, json};

/// One vector file: `name` without `.json`, and its content.
pub struct Case {
    pub name: String,
    pub json: Value,
}

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32]).expect("test seed")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub const T0: &str = "2026-01-15T09:00:00Z";

pub fn body(kind: Kind, v: Value) -> Body {
    Body::from_json(kind, v).expect("valid sample body")
}

/// A complete offer body as JSON.
pub fn offer_json(offer_id: &str, version: u64) -> Value {
    json!({
        "offer_id": offer_id,
        "version": version,
        "title": "Einwohnermeldewesen als Fachverfahrensbetrieb",
        "summary": "Betrieb des Meldewesens im kommunalen Rechenzentrum, inkl. XMeld-Anbindung.",
        "description": "Hosting, Updates und Fachadministration des Einwohnermeldeverfahrens.\nAnbindung an OSCI/XTA über DataClearing NRW.",
        "category": "einwohnerwesen",
        "ozg_ids": ["10124"],
        "leika_keys": ["99115005104000", "99115005070000"],
        "regions": ["05158", "05162"],
        "delivery": "hosting",
        "sla": {
            "availability_bp": 9950,
            "support_hours": "Mo-Fr 07:30-16:30",
            "response_minutes": 60,
            "resolution_hours": 8
        },
        "pricing": {
            "model": "per_inhabitant_per_year",
            "amount_cents": 42,
            "currency": "EUR",
            "notes": "Mindestens 5.000 EUR pro Jahr."
        },
        "capacity": 12,
        "certifications": ["iso27001-grundschutz"],
        "standards": ["xmeld"],
        "contacts": [
            {"customer_group": "kommunen", "name": "Vertrieb Kommunen", "email": "kommunen@example.org"}
        ],
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2027-12-31T23:59:59Z",
        "legal_basis": {"kind": "inter_municipal", "text": "Interkommunale Zusammenarbeit nach § 108 Abs. 6 GWB"}
    })
}

pub fn offer(offer_id: &str, version: u64) -> Body {
    body(Kind::Offer, offer_json(offer_id, version))
}

pub fn profile(name: &str, short: &str) -> Body {
    body(
        Kind::ProviderProfile,
        json!({
            "name": name,
            "short_name": short,
            "description": "Kommunaler IT-Dienstleister in Nordrhein-Westfalen.",
            "website": "https://example.org",
            "regions": ["05158", "05162"],
            "members": ["05162"],
            "certifications": ["iso27001-grundschutz"],
            "nodes": [],
            "contacts": [{"customer_group": "kommunen", "name": "Kundenservice", "phone": "+49 2131 0000"}]
        }),
    )
}

/// A complete request body as JSON: `offer` (a record id) from `start`, for
/// one year.
pub fn request_json(offer: &Hash32, start: &str) -> Value {
    json!({
        "offer": offer.to_hex(),
        "quantity": 42000,
        "start": start,
        "term_months": 12,
        "legal_basis": {"kind": "inter_municipal", "reference": "Öffentlich-rechtliche Vereinbarung vom 1. Dezember 2025"},
        "on_behalf_of": [],
        "note": "Ablösung des bisherigen Verfahrens zum Jahreswechsel.",
        "contact": {"role": "Vergabestelle", "mailbox": "vergabe@example.org"}
    })
}

pub fn request(offer: &Hash32, start: &str) -> Body {
    body(Kind::Request, request_json(offer, start))
}

/// A complete demand body as JSON.
pub fn demand_json(demand_id: &str, version: u64) -> Value {
    json!({
        "demand_id": demand_id,
        "version": version,
        "title": "Elektronische Akte für die Kernverwaltung",
        "category": "e-akte",
        "ozg_ids": [],
        "leika_keys": [],
        "quantity": {"users": 180, "sites": 3},
        "wanted_from": "2026-07-01T00:00:00Z",
        "wanted_until": "2031-06-30T23:59:59Z",
        "note": "Ausschreibungsfreie Lösung über einen kommunalen Dienstleister bevorzugt.",
        "contact": {"role": "Digitalisierungsbeauftragte", "mailbox": "digital@example.org"}
    })
}

pub fn demand(demand_id: &str, version: u64) -> Body {
    body(Kind::Demand, demand_json(demand_id, version))
}

/// A body that names a request (`request.accept`, `.withdraw`, `.decline`,
/// `agreement.end`).
pub fn about(kind: Kind, request: &Hash32) -> Body {
    let v = match kind {
        Kind::RequestAccept => json!({"request": request.to_hex()}),
        Kind::AgreementEnd => {
            json!({"request": request.to_hex(), "effective_at": "2026-09-30T23:59:59Z", "reason": "Wechsel zum Nachfolgeverfahren"})
        }
        _ => json!({"request": request.to_hex(), "reason": "Bedarf entfallen"}),
    };
    body(kind, v)
}

/// A governance body with approvals by `approvers`.
pub fn action(kind: Kind, v: Value, approvers: &[&SecretKey]) -> Body {
    let mut v = v;
    v["approvals"] = json!([]);
    let mut b = body_unchecked(kind, v);
    for k in approvers {
        record::approve(&mut b, k);
    }
    b
}

/// Like `body` but without the non-empty approvals rule (drafts before approval).
fn body_unchecked(kind: Kind, mut v: Value) -> Body {
    // A placeholder approval lets the draft pass the body rules; it is replaced by
    // the real approvals, which sign the body without the approvals field.
    let placeholder = json!([{"steward": key(250).did().as_str(), "sig": "A".repeat(86)}]);
    v["approvals"] = placeholder;
    let mut b = Body::from_json(kind, v).expect("valid action body");
    if let Some(list) = b.approvals_mut() {
        list.clear();
    }
    b
}

pub fn genesis(stewards: &[&SecretKey], threshold: u64) -> VerifiedRecord {
    kx_protocol::author::genesis(
        "KDN Testföderation".parse().expect("name"),
        stewards.iter().map(|k| k.did().clone()).collect(),
        threshold,
        stewards[0],
        stewards,
        ts(T0),
    )
    .expect("genesis")
}

fn sign(key: &SecretKey, fed: Hash32, seq: u64, prev: Option<Hash32>, b: Body) -> VerifiedRecord {
    record::sign(
        key,
        record::Draft {
            federation: fed,
            seq,
            prev,
            issued_at: ts(T0),
            body: b,
        },
    )
    .expect("sign")
}

fn record_value(rec: &VerifiedRecord) -> Value {
    json::parse(rec.canonical_json()).expect("canonical json parses")
}

/// Signs an arbitrary record object (for negative vectors whose only defect is
/// elsewhere): sets `sig` over `RECORD_TAG || JCS(value without sig)`.
fn resign(key: &SecretKey, mut v: Value) -> Value {
    let obj = v.as_object_mut().expect("object");
    obj.remove("sig");
    let mut bytes = RECORD_TAG.to_vec();
    bytes.extend(json::canonical(&Value::Object(obj.clone())).expect("canonical"));
    obj.insert("sig".into(), Value::String(key.sign(&bytes).to_text()));
    v
}

fn mutate_sig(base: &Value, sig: &str) -> String {
    let mut v = base.clone();
    v["sig"] = json!(sig);
    text(&v)
}

fn text(v: &Value) -> String {
    String::from_utf8(json::canonical(v).expect("canonical")).expect("utf8")
}

/// Every vector, in the order the files are listed.
pub fn generate() -> Vec<Case> {
    let mut cases = records::cases();
    cases.extend(state::cases());
    cases.push(state::edges());
    cases.push(state::cut_off());
    cases.extend(exchange::cases());
    cases.push(standards::state_case());
    cases.push(standards::terms_case());
    cases.push(sync::case());
    cases.push(sync::lists_case());
    cases.push(sync::governance_case());
    cases.push(sync::respond_case());
    cases.push(sync::messages());
    cases.extend(keyfiles::cases());
    cases.extend(checkpoints::cases());
    cases.push(checkpoints::cosigned());
    cases
}

/// The file form of a vector: pretty JSON with a final newline.
pub fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("json");
    s.push('\n');
    s
}
