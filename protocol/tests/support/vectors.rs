//! Test-vector generator: builds every case in `specs/vectors/` from fixed seeds.
//!
//! Shared by `examples/gen_vectors.rs` (writes the files) and `tests/vectors.rs`
//! (fails when the committed files differ from what this produces). Every expected
//! outcome is asserted here while generating, so a change in behaviour cannot slip
//! into the vectors unnoticed.

#![allow(dead_code)]

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

fn positive(
    name: &str,
    desc: &str,
    author: &SecretKey,
    rec: &VerifiedRecord,
    approvers: &[(u8, &SecretKey)],
) -> Case {
    let unverified = kx_protocol::UnverifiedRecord::parse(rec.canonical_json()).expect("parse");
    let mut j = json!({
        "desc": desc,
        "type": "record",
        "secret_key_seed": hex(&author.seed()),
        "did": author.did().as_str(),
        "record": record_value(rec),
        "input": String::from_utf8(rec.canonical_json().to_vec()).expect("utf8"),
        "signed_bytes_hex": hex(unverified.signed_bytes()),
        "id": rec.id().to_hex(),
        "expected": {"result": "accept"},
    });
    if rec.record().kind().is_governance() {
        let ab = action_bytes(rec.record().kind(), &rec.record().body);
        j["action_bytes_hex"] = json!(hex(&ab));
        j["action_digest"] = json!(sha256(&ab).to_hex());
        j["approver_seeds"] = json!(
            approvers
                .iter()
                .map(|(_, k)| hex(&k.seed()))
                .collect::<Vec<_>>()
        );
    }
    Case {
        name: format!("record-ok-{name}"),
        json: j,
    }
}

fn negative(name: &str, desc: &str, input: Input, code: &str, context: Option<Hash32>) -> Case {
    let bytes = match &input {
        Input::Text(t) => t.as_bytes().to_vec(),
        Input::Hex(b) => b.clone(),
    };
    let got = kx_protocol::VerifiedRecord::from_bytes(&bytes).and_then(|r| match context {
        Some(f) => r.check_federation(&f).map(|_| r),
        None => Ok(r),
    });
    match got {
        Ok(_) => panic!("vector {name}: expected {code}, record was accepted"),
        Err(e) => assert_eq!(e.code(), code, "vector {name}: {e}"),
    }
    let mut j = json!({
        "desc": desc,
        "type": "record",
        "expected": {"result": "reject", "error": code},
    });
    match input {
        Input::Text(t) => j["input"] = json!(t),
        Input::Hex(b) => j["input_hex"] = json!(hex(&b)),
    }
    if let Some(f) = context {
        j["context"] = json!({"federation": f.to_hex()});
    }
    Case {
        name: format!("record-err-{name}"),
        json: j,
    }
}

enum Input {
    Text(String),
    Hex(Vec<u8>),
}

/// Every vector, in a fixed order.
pub fn generate() -> Vec<Case> {
    let s1 = key(1);
    let s2 = key(2);
    let a = key(10);
    let b = key(11);
    let gns = genesis(&[&s1, &s2], 2);
    let fed = gns.record().federation;
    let mut cases = Vec::new();

    // --- one accepted record per kind -------------------------------------------
    cases.push(positive(
        "genesis",
        "genesis with two stewards, threshold 2; federation = action digest",
        &s1,
        &gns,
        &[(1, &s1), (2, &s2)],
    ));
    let admit_body = action(
        Kind::MemberAdmit,
        json!({"prev_action": fed.to_hex(), "provider": a.did().as_str(), "name": "ITK Rheinland"}),
        &[&s1, &s2],
    );
    let admit = sign(&s1, fed, 2, Some(gns.id()), admit_body);
    cases.push(positive(
        "member-admit",
        "admission of a provider, approved by both stewards",
        &s1,
        &admit,
        &[(1, &s1), (2, &s2)],
    ));
    let head = admit.action().expect("action");
    let reinstate = action(
        Kind::MemberReinstate,
        json!({"prev_action": head.to_hex(), "provider": a.did().as_str(), "reason": "Prüfung abgeschlossen"}),
        &[&s1, &s2],
    );
    let rec = sign(&s2, fed, 1, None, reinstate);
    cases.push(positive(
        "member-reinstate",
        "member.reinstate lifts a suspension",
        &s2,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    for (kind, name) in [
        (Kind::MemberSuspend, "member-suspend"),
        (Kind::MemberRevoke, "member-revoke"),
    ] {
        let bd = action(
            kind,
            json!({"prev_action": head.to_hex(), "provider": a.did().as_str(), "key": a.did().as_str(), "from_seq": 4, "reason": "Prüfung durch die Geschäftsstelle"}),
            &[&s1, &s2],
        );
        let rec = sign(&s2, fed, 1, None, bd);
        cases.push(positive(
            name,
            &format!("{kind} from seq 4 of the provider's key"),
            &s2,
            &rec,
            &[(1, &s1), (2, &s2)],
        ));
    }
    let stw = action(
        Kind::FederationStewards,
        json!({"prev_action": head.to_hex(), "stewards": [s1.did().as_str(), s2.did().as_str(), key(3).did().as_str()], "threshold": 2}),
        &[&s1, &s2],
    );
    let rec = sign(&s1, fed, 3, Some(admit.id()), stw);
    cases.push(positive(
        "federation-stewards",
        "steward set changed to three keys, threshold 2",
        &s1,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));

    let rk = action(
        Kind::MemberRekey,
        json!({"prev_action": head.to_hex(), "provider": a.did().as_str(), "key": a.did().as_str(), "from_seq": 6, "new_key": key(21).did().as_str(), "reason": "Schlüssel verloren"}),
        &[&s1, &s2],
    );
    let rec = sign(&s1, fed, 4, Some(admit.id()), rk);
    cases.push(positive(
        "member-rekey",
        "stewards replace a provider's lost key from seq 6 of it",
        &s1,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    let ms = action(
        Kind::MemberSuccession,
        json!({"prev_action": head.to_hex(), "provider": a.did().as_str(), "successor": b.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": [], "reason": "Fusion; Schlüssel des Vorgängers verloren"}),
        &[&s1, &s2],
    );
    let rec = sign(&s2, fed, 2, Some(Hash32([3; 32])), ms);
    cases.push(positive(
        "member-succession",
        "stewards hand a provider's portfolio to a successor",
        &s2,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    let profile_rec = sign(
        &a,
        fed,
        1,
        None,
        profile("Zweckverband IT-Kooperation Rheinland", "ITK Rheinland"),
    );
    cases.push(positive(
        "provider-profile",
        "capability statement of a provider",
        &a,
        &profile_rec,
        &[],
    ));
    let offer_rec = sign(
        &a,
        fed,
        2,
        Some(profile_rec.id()),
        offer("meldewesen-hosting", 1),
    );
    cases.push(positive(
        "offer",
        "complete offer with validity window and legal basis",
        &a,
        &offer_rec,
        &[],
    ));
    let wd = sign(
        &a,
        fed,
        3,
        Some(offer_rec.id()),
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "meldewesen-hosting", "version": 1, "reason": ""}),
        ),
    );
    cases.push(positive(
        "offer-withdraw",
        "withdrawal of versions up to 1",
        &a,
        &wd,
        &[],
    ));
    let rot = sign(
        &a,
        fed,
        4,
        Some(wd.id()),
        body(Kind::KeyRotate, json!({"new_key": key(20).did().as_str()})),
    );
    cases.push(positive(
        "key-rotate",
        "provider moves to a new key",
        &a,
        &rot,
        &[],
    ));
    let succ = sign(
        &a,
        fed,
        5,
        Some(rot.id()),
        body(
            Kind::Succession,
            json!({"successor": b.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": []}),
        ),
    );
    cases.push(positive(
        "succession",
        "whole portfolio handed to a successor",
        &a,
        &succ,
        &[],
    ));
    let acc = sign(
        &b,
        fed,
        1,
        None,
        body(
            Kind::SuccessionAccept,
            json!({"succession": succ.id().to_hex()}),
        ),
    );
    cases.push(positive(
        "succession-accept",
        "successor accepts",
        &b,
        &acc,
        &[],
    ));

    // --- negative vectors ---------------------------------------------------------
    let base = record_value(&offer_rec);
    let base_text = text(&base);
    let mutate = |f: &dyn Fn(&mut Value)| -> String {
        let mut v = base.clone();
        f(&mut v);
        text(&resign(&a, v))
    };
    let t = Input::Text;
    let mut neg = |name: &str, desc: &str, input: Input, code: &str| {
        cases.push(negative(name, desc, input, code, None));
    };
    let big = mutate(&|v| {
        // Every field valid; only the total size is over the limit.
        v["body"]["description"] = json!("x".repeat(8000));
        let contact = json!({"customer_group": "kommunen", "name": "K".repeat(200), "email": "e".repeat(200)});
        v["body"]["contacts"] = json!(vec![contact; 200]);
    });
    neg(
        "too-large",
        "record over 65536 bytes with every field valid",
        t(big),
        "too_large",
    );
    let mut bad_utf8 = base_text.clone().into_bytes();
    let pos = base_text.find("Einwohner").expect("title");
    bad_utf8[pos] = 0xff;
    neg(
        "invalid-utf8",
        "a byte that is not UTF-8 inside a string",
        Input::Hex(bad_utf8),
        "invalid_utf8",
    );
    neg(
        "malformed-json",
        "truncated JSON",
        t(base_text[..base_text.len() - 1].to_owned()),
        "malformed_json",
    );
    neg(
        "malformed-json-trailing-comma",
        "trailing comma in an object",
        t(base_text.replacen("\"v\":1}", "\"v\":1,}", 1)),
        "malformed_json",
    );
    neg(
        "duplicate-key",
        "the envelope field seq twice",
        t(base_text.replacen("\"seq\":2,", "\"seq\":2,\"seq\":2,", 1)),
        "duplicate_key",
    );
    neg(
        "float",
        "capacity written as 12.0",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":12.0", 1)),
        "float_not_allowed",
    );
    neg(
        "float-exponent",
        "capacity written as 1.2e1",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":1.2e1", 1)),
        "float_not_allowed",
    );
    neg(
        "integer-out-of-range",
        "capacity of 2^53",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":9007199254740992", 1)),
        "integer_out_of_range",
    );
    // The record is level 1 and the body level 2, so 31 arrays make 33 levels.
    let nest = |n: usize| {
        base_text.replacen(
            "\"capacity\":12",
            &format!("\"capacity\":{}12{}", "[".repeat(n), "]".repeat(n)),
            1,
        )
    };
    neg("too-deep", "33 levels of nesting", t(nest(31)), "too_deep");
    neg(
        "depth-32",
        "32 levels of nesting parse (the array is then the wrong type)",
        t(nest(30)),
        "invalid_type",
    );
    neg(
        "not-an-object",
        "a JSON array",
        t("[1,2,3]".into()),
        "not_an_object",
    );
    neg(
        "unknown-field-envelope",
        "an extra envelope field",
        t(mutate(&|v| v["extra"] = json!(1))),
        "unknown_field",
    );
    neg(
        "unknown-field-body",
        "an extra body field",
        t(mutate(&|v| v["body"]["discount"] = json!(5))),
        "unknown_field",
    );
    neg(
        "missing-field",
        "no issued_at",
        t(mutate(&|v| {
            v.as_object_mut().expect("obj").remove("issued_at");
        })),
        "missing_field",
    );
    neg(
        "missing-field-body",
        "offer without category",
        t(mutate(&|v| {
            v["body"].as_object_mut().expect("obj").remove("category");
        })),
        "missing_field",
    );
    neg(
        "invalid-type",
        "seq as a string",
        t(mutate(&|v| v["seq"] = json!("2"))),
        "invalid_type",
    );
    neg(
        "invalid-type-body",
        "capacity as a string",
        t(mutate(&|v| v["body"]["capacity"] = json!("12"))),
        "invalid_type",
    );
    neg(
        "invalid-value",
        "availability above 10000 basis points",
        t(mutate(&|v| {
            v["body"]["sla"]["availability_bp"] = json!(10001)
        })),
        "invalid_value",
    );
    neg(
        "invalid-value-enum",
        "unknown delivery model",
        t(mutate(&|v| v["body"]["delivery"] = json!("cloud"))),
        "invalid_value",
    );
    neg(
        "invalid-value-negative",
        "negative amount",
        t(mutate(&|v| {
            v["body"]["pricing"]["amount_cents"] = json!(-1)
        })),
        "invalid_value",
    );
    neg(
        "unsupported-version",
        "v = 2",
        t(mutate(&|v| v["v"] = json!(2))),
        "unsupported_version",
    );
    neg(
        "unknown-kind",
        "kind offer.delete",
        t(mutate(&|v| v["kind"] = json!("offer.delete"))),
        "unknown_kind",
    );
    neg(
        "invalid-seq",
        "seq 0",
        t(mutate(&|v| {
            v["seq"] = json!(0);
            v["prev"] = Value::Null;
        })),
        "invalid_seq",
    );
    neg(
        "invalid-prev",
        "seq 2 without prev",
        t(mutate(&|v| v["prev"] = Value::Null)),
        "invalid_prev",
    );
    neg(
        "malformed-hash",
        "prev in upper case",
        t(mutate(&|v| {
            v["prev"] = json!(v["prev"].as_str().expect("prev").to_uppercase())
        })),
        "malformed_hash",
    );
    neg(
        "malformed-did",
        "author with a did:web",
        t(mutate(&|v| v["author"] = json!("did:web:example.org"))),
        "malformed_did",
    );
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut raw = vec![0xed, 0x01];
    raw.extend_from_slice(&identity);
    let weak = format!("did:key:z{}", bs58_encode(&raw));
    neg(
        "weak-key",
        "author is the identity point (small order)",
        t(mutate(&|v| v["author"] = json!(weak))),
        "weak_key",
    );
    identity[31] = 0x80;
    let mut raw = vec![0xed, 0x01];
    raw.extend_from_slice(&identity);
    let signed_zero = format!("did:key:z{}", bs58_encode(&raw));
    neg(
        "malformed-did-x0-sign",
        "identity point with the sign bit set for x = 0 (not a canonical encoding)",
        t(mutate(&|v| v["author"] = json!(signed_zero))),
        "malformed_did",
    );
    neg(
        "malformed-timestamp",
        "issued_at with an offset",
        t(mutate(&|v| {
            v["issued_at"] = json!("2026-01-15T10:00:00+01:00")
        })),
        "malformed_timestamp",
    );
    neg(
        "malformed-timestamp-body",
        "valid_from not a date",
        t(mutate(&|v| {
            v["body"]["valid_from"] = json!("2026-02-30T00:00:00Z")
        })),
        "malformed_timestamp",
    );
    neg(
        "malformed-ags",
        "region of 4 digits",
        t(mutate(&|v| v["body"]["regions"][0] = json!("0515"))),
        "malformed_ags",
    );
    neg(
        "malformed-slug",
        "category with capitals",
        t(mutate(&|v| v["body"]["category"] = json!("Einwohnerwesen"))),
        "malformed_slug",
    );
    neg(
        "malformed-offer-id",
        "offer id with a space",
        t(mutate(&|v| v["body"]["offer_id"] = json!("melde wesen"))),
        "malformed_offer_id",
    );
    neg(
        "malformed-ozg-id",
        "OZG id with letters",
        t(mutate(&|v| v["body"]["ozg_ids"][0] = json!("OZG-10124"))),
        "malformed_ozg_id",
    );
    neg(
        "malformed-leika-key",
        "LeiKa key of 13 digits",
        t(mutate(&|v| {
            v["body"]["leika_keys"][0] = json!("9911500510400")
        })),
        "malformed_leika_key",
    );
    neg(
        "malformed-currency",
        "currency in lower case",
        t(mutate(&|v| v["body"]["pricing"]["currency"] = json!("eur"))),
        "malformed_currency",
    );
    neg(
        "invalid-length",
        "empty title",
        t(mutate(&|v| v["body"]["title"] = json!(""))),
        "invalid_length",
    );
    neg(
        "invalid-text",
        "title with trailing space",
        t(mutate(&|v| v["body"]["title"] = json!("Meldewesen "))),
        "invalid_text",
    );
    neg(
        "duplicate-entry",
        "the same region twice",
        t(mutate(&|v| {
            v["body"]["regions"] = json!(["05158", "05158"])
        })),
        "duplicate_entry",
    );
    neg(
        "invalid-validity",
        "valid_until before valid_from",
        t(mutate(&|v| {
            v["body"]["valid_until"] = json!("2025-12-31T23:59:59Z")
        })),
        "invalid_validity",
    );
    neg(
        "noncanonical-body",
        "optional field present as null",
        t(mutate(&|v| v["body"]["legal_basis"] = Value::Null)),
        "noncanonical_body",
    );
    let sig_text = base["sig"].as_str().expect("sig").to_owned();
    neg(
        "malformed-signature",
        "signature with base64 padding",
        t(mutate_sig(&base, &format!("{sig_text}=="))),
        "malformed_signature",
    );
    let mut last_bits = sig_text.clone();
    last_bits.pop();
    last_bits.push('B');
    neg(
        "malformed-signature-trailing-bits",
        "last base64url character leaves non-zero unused bits",
        t(mutate_sig(&base, &last_bits)),
        "malformed_signature",
    );
    neg(
        "bad-signature-tampered",
        "body changed after signing",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":13", 1)),
        "bad_signature",
    );
    let mut wrong_key = base.clone();
    wrong_key["author"] = json!(b.did().as_str());
    neg(
        "bad-signature-wrong-key",
        "signed by the key of another provider",
        t(text(&wrong_key)),
        "bad_signature",
    );
    // S + L: the same signature with a non-reduced scalar (malleability).
    let sig: kx_protocol::Signature = base["sig"].as_str().expect("sig").parse().expect("sig");
    let malleable = add_l(&sig.0);
    let mut mall = base.clone();
    mall["sig"] = json!(kx_protocol::Signature(malleable).to_text());
    neg(
        "bad-signature-malleable",
        "signature with S + L (non-canonical scalar)",
        t(text(&mall)),
        "bad_signature",
    );
    let mixed = mixed_order_signature(&a, &base);
    let mut mx = base.clone();
    mx["sig"] = json!(kx_protocol::Signature(mixed).to_text());
    neg(
        "bad-signature-mixed-order-r",
        "R = rB + T with T of order 8: the cofactored (batch) equation accepts it, the strict rule rejects it",
        t(text(&mx)),
        "bad_signature",
    );
    let mut small_r = [0u8; 64];
    small_r[0] = 1; // R = identity point, S = 0
    let mut smr = base.clone();
    smr["sig"] = json!(kx_protocol::Signature(small_r).to_text());
    neg(
        "bad-signature-small-order-r",
        "R is the identity point and S = 0",
        t(text(&smr)),
        "bad_signature",
    );
    // A governance record whose approval was made for another body.
    let mut adm = record_value(&admit);
    adm["body"]["name"] = json!("Irgendwer");
    let adm = text(&resign(&s1, adm));
    neg(
        "bad-approval",
        "approvals signed a different action",
        t(adm),
        "bad_approval",
    );
    let mut gv = record_value(&gns);
    gv["federation"] = json!("00".repeat(32));
    let gv = text(&resign(&s1, gv));
    neg(
        "federation-mismatch",
        "genesis whose federation is not its action digest",
        t(gv),
        "federation_mismatch",
    );
    let mut th = record_value(&gns);
    th["body"]["threshold"] = json!(3);
    neg(
        "invalid-threshold",
        "threshold above the number of stewards",
        t(text(&resign(&s1, th))),
        "invalid_threshold",
    );
    cases.push(negative(
        "wrong-federation",
        "a valid record of another federation",
        t(base_text.clone()),
        "wrong_federation",
        Some(Hash32([7; 32])),
    ));

    cases.push(Case {
        name: "secret-key-file".into(),
        json: json!({
            "desc": "the secret-key file of seed 0a x 32",
            "type": "secret-key-file",
            "secret_key_seed": hex(&a.seed()),
            "did": a.did().as_str(),
            "file": a.to_file_text(),
        }),
    });
    cases.extend(state_cases());
    cases.push(state_edges());
    cases.push(sync_case());
    cases
}

/// Ids of the sync vector: SHA-256 of `"sync-" + n` in ASCII.
fn sync_ids(range: std::ops::Range<u32>) -> Vec<Hash32> {
    range
        .map(|n| sha256(format!("sync-{n}").as_bytes()))
        .collect()
}

/// One reconciliation on the wire (`sync.md` 3): an initiator that lacks three of
/// the responder's ids (and holds two the responder lacks), every message as hex,
/// and the ids it ends up fetching; plus the fingerprints of two small sets.
fn sync_case() -> Case {
    use kx_protocol::sync::{IdSet, MAX_RANGES, SyncRequest, SyncResponse, fingerprint};
    let fed = sha256(b"sync-federation");
    let initiator: Vec<Hash32> = sync_ids(0..400);
    let responder: Vec<Hash32> = sync_ids(2..403);
    let a = IdSet::new(initiator.iter().copied());
    let b = IdSet::new(responder.iter().copied());
    let mut open = a.initial();
    let mut rounds = Vec::new();
    let mut fetch = Vec::new();
    while !open.is_empty() {
        let n = open.len().min(MAX_RANGES);
        let request = SyncRequest::Reconcile {
            federation: fed,
            ranges: open.drain(..n).collect(),
        };
        let SyncRequest::Reconcile { ranges, .. } = &request else {
            unreachable!()
        };
        let response = SyncResponse::Reconcile {
            answers: b.respond(ranges),
        };
        let SyncResponse::Reconcile { answers } = &response else {
            unreachable!()
        };
        let (f, next) = a.process(ranges, answers);
        fetch.extend(f);
        open.extend(next);
        rounds.push(json!({
            "request_hex": hex(&request.encode()),
            "response_hex": hex(&response.encode()),
        }));
    }
    fetch.sort();
    assert_eq!(fetch, {
        let mut want = sync_ids(400..403);
        want.sort();
        want
    });
    let fetch_request = SyncRequest::Fetch {
        federation: fed,
        ids: fetch.clone(),
    };
    let (empty_count, empty_fp) = fingerprint([]);
    let one = sync_ids(0..1);
    let (one_count, one_fp) = fingerprint(one.iter());
    Case {
        name: "sync-reconcile".into(),
        json: json!({
            "desc": "a reconciliation: the initiator holds ids 0..400, the responder 2..403; each id is SHA-256 of \"sync-<n>\"",
            "type": "sync",
            "federation": fed.to_hex(),
            "initiator_ids": initiator.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
            "responder_ids": responder.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
            "rounds": rounds,
            "expected": {
                "fetch": fetch.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
                "fetch_request_hex": hex(&fetch_request.encode()),
            },
            "fingerprints": [
                {"ids": [], "count": empty_count, "fingerprint": hex(&empty_fp.0)},
                {"ids": [one[0].to_hex()], "count": one_count, "fingerprint": hex(&one_fp.0)},
            ],
        }),
    }
}

/// Governance edge cases: held actions, equal-length forks, actions on revoked or
/// unknown providers, void rotations, a succession to a non-member.
fn state_edges() -> Case {
    let s1 = key(1);
    let s2 = key(2);
    let p: Vec<SecretKey> = (60..68).map(key).collect();
    let gns = genesis(&[&s1, &s2], 1);
    let fed = gns.record().federation;
    let mut sc = Script {
        reg: Registry::new(gns.clone()).expect("registry"),
        fed,
        steps: Vec::new(),
        accepted: vec![gns.clone()],
        heads: [(s1.did().clone(), (1, gns.id()))].into_iter().collect(),
    };
    let adm = |k: &SecretKey, n: &str| json!({"provider": k.did().as_str(), "name": n});
    let cut = |k: &SecretKey, from: u64| json!({"provider": k.did().as_str(), "key": k.did().as_str(), "from_seq": from, "reason": ""});
    sc.act(
        "admit P0",
        &s1,
        Kind::MemberAdmit,
        adm(&p[0], "P0"),
        &[&s1],
        "stored",
    );
    sc.act(
        "suspend a provider never admitted",
        &s1,
        Kind::MemberSuspend,
        cut(&p[7], 1),
        &[&s1],
        "not_member",
    );
    // An action whose predecessor has not arrived is held, and counts once it has.
    let head = sc.reg.governance_head();
    let first = action(
        Kind::MemberAdmit,
        json!({"prev_action": head.to_hex(), "provider": p[1].did().as_str(), "name": "P1"}),
        &[&s2],
    );
    let first_digest = sha256(&action_bytes(Kind::MemberAdmit, &first));
    let second = action(
        Kind::MemberAdmit,
        json!({"prev_action": first_digest.to_hex(), "provider": p[2].did().as_str(), "name": "P2"}),
        &[&s2],
    );
    let first_rec = sign(&s2, fed, 1, None, first);
    let second_rec = sign(&s2, fed, 2, Some(first_rec.id()), second);
    sc.submit(
        "an action after one that has not arrived: held",
        second_rec.clone(),
        "held",
        false,
    );
    sc.submit("the missing action arrives", first_rec, "stored", false);
    sc.heads.insert(s2.did().clone(), (2, second_rec.id()));
    // Two actions on the same head, equally long: the lower digest counts.
    let head = sc.reg.governance_head().to_hex();
    let a3 = action(
        Kind::MemberAdmit,
        json!({"prev_action": head, "provider": p[3].did().as_str(), "name": "P3"}),
        &[&s1],
    );
    let a4 = action(
        Kind::MemberAdmit,
        json!({"prev_action": head, "provider": p[4].did().as_str(), "name": "P4"}),
        &[&s1],
    );
    let d3 = sha256(&action_bytes(Kind::MemberAdmit, &a3));
    let d4 = sha256(&action_bytes(Kind::MemberAdmit, &a4));
    let r3 = sc.make(&s1, a3);
    sc.submit("admit P3", r3, "stored", true);
    let r4 = sc.make(&s1, a4);
    let expect = if d4 < d3 { "stored" } else { "equivocation" };
    sc.submit(
        "admit P4 on the same head: a fork of equal length",
        r4,
        expect,
        true,
    );
    let winner = if d4 < d3 { &p[4] } else { &p[3] };
    sc.act(
        "revoke the fork's winner",
        &s1,
        Kind::MemberRevoke,
        cut(winner, 1),
        &[&s1],
        "stored",
    );
    sc.act(
        "admit a revoked provider again",
        &s1,
        Kind::MemberAdmit,
        adm(winner, "again"),
        &[&s1],
        "member_revoked",
    );
    sc.act(
        "suspend a revoked provider",
        &s1,
        Kind::MemberSuspend,
        cut(winner, 1),
        &[&s1],
        "member_revoked",
    );
    sc.act(
        "admit P5",
        &s1,
        Kind::MemberAdmit,
        adm(&p[5], "P5"),
        &[&s1],
        "stored",
    );
    sc.act(
        "admit P6",
        &s1,
        Kind::MemberAdmit,
        adm(&p[6], "P6"),
        &[&s1],
        "stored",
    );
    // Two providers rotate to one key: it goes to nobody; both old keys stay cut.
    let shared = key(70);
    let rotate_to = |k: &SecretKey| body(Kind::KeyRotate, json!({"new_key": k.did().as_str()}));
    sc.publish("P0 rotates to a key", &p[0], rotate_to(&shared), "stored");
    sc.publish(
        "P1 rotates to the same key",
        &p[1],
        rotate_to(&shared),
        "stored",
    );
    sc.publish(
        "the contested key publishes",
        &shared,
        offer("x", 1),
        "not_member",
    );
    sc.publish(
        "P2 rotates to a steward's key: void",
        &p[2],
        rotate_to(&s1),
        "stored",
    );
    sc.publish(
        "P5 hands its portfolio to a non-member: no effect",
        &p[5],
        body(
            Kind::Succession,
            json!({"successor": p[7].did().as_str(), "effective_at": "2025-01-01T00:00:00Z", "offer_ids": []}),
        ),
        "stored",
    );
    sc.publish("P6 publishes an offer", &p[6], offer("gis", 1), "stored");
    // The stewards replace P6's lost key and hand P5's portfolio to P6.
    let p6_new = key(71);
    let (p6_next, _) = sc.next(&p[6]);
    sc.act(
        "the stewards replace P6's lost key",
        &s1,
        Kind::MemberRekey,
        json!({"provider": p[6].did().as_str(), "key": p[6].did().as_str(), "from_seq": p6_next, "new_key": p6_new.did().as_str(), "reason": "Schlüssel verloren"}),
        &[&s1],
        "stored",
    );
    sc.publish(
        "the lost key signs again",
        &p[6],
        offer("gis", 2),
        "key_rotated",
    );
    sc.publish(
        "the new key publishes version 2",
        &p6_new,
        offer("gis", 2),
        "stored",
    );
    let handover = sc.act(
        "the stewards hand P5's portfolio to P6",
        &s1,
        Kind::MemberSuccession,
        json!({"provider": p[5].did().as_str(), "successor": p[6].did().as_str(), "effective_at": "2025-01-01T00:00:00Z", "offer_ids": [], "reason": "Fusion"}),
        &[&s1],
        "stored",
    );
    sc.publish(
        "P6 accepts with its new key",
        &p6_new,
        body(
            Kind::SuccessionAccept,
            json!({"succession": handover.id().to_hex()}),
        ),
        "stored",
    );
    let state = sc.reg.state();
    Case {
        name: "state-governance-edges".into(),
        json: json!({
            "desc": "held and forked governance actions, actions on revoked or unknown providers, void rotations, a succession to a non-member",
            "type": "state",
            "genesis": record_value(&gns),
            "steps": sc.steps,
            "expected": {"summary": state.summary(), "digest": state.digest().to_hex()},
        }),
    }
}

fn bs58_encode(raw: &[u8]) -> String {
    // Minimal base58btc for the one weak-key vector (the library refuses to build
    // such a did, as it should).
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = vec![0];
    for &byte in raw {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = raw.iter().take_while(|b| **b == 0).count();
    let mut s: String = "1".repeat(zeros);
    s.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
    s
}

/// Adds the group order L to the S half of a signature (little-endian).
fn add_l(sig: &[u8; 64]) -> [u8; 64] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = *sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// A scripted federation: each step is a record submitted to `Registry::admit` and
/// its expected outcome.
struct Script {
    reg: Registry,
    fed: Hash32,
    steps: Vec<Value>,
    accepted: Vec<VerifiedRecord>,
    heads: std::collections::BTreeMap<Did, (u64, Hash32)>,
}

impl Script {
    fn next(&self, k: &SecretKey) -> (u64, Option<Hash32>) {
        match self.heads.get(k.did()) {
            None => (1, None),
            Some((s, id)) => (s + 1, Some(*id)),
        }
    }

    fn make(&self, k: &SecretKey, b: Body) -> VerifiedRecord {
        let (seq, prev) = self.next(k);
        sign(k, self.fed, seq, prev, b)
    }

    /// Submits; `advance` moves the author's head past the record.
    fn submit(
        &mut self,
        note: &str,
        rec: VerifiedRecord,
        expect: &str,
        advance: bool,
    ) -> VerifiedRecord {
        let got = match self.reg.admit(rec.clone()) {
            Ok(Admitted::Stored) => "stored".to_owned(),
            Ok(Admitted::Known) => "known".to_owned(),
            Ok(Admitted::Held) => "held".to_owned(),
            Ok(Admitted::Equivocation) => "equivocation".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        assert_eq!(got, expect, "state step {:?}", note);
        if advance {
            self.heads
                .insert(rec.record().author.clone(), (rec.record().seq, rec.id()));
        }
        if matches!(expect, "stored" | "held" | "equivocation") {
            self.accepted.push(rec.clone());
        }
        let outcome = match expect {
            "stored" | "known" | "held" | "equivocation" => json!({"result": expect}),
            code => json!({"result": "reject", "error": code}),
        };
        self.steps
            .push(json!({"note": note, "record": record_value(&rec), "expected": outcome}));
        rec
    }

    fn act(
        &mut self,
        note: &str,
        by: &SecretKey,
        kind: Kind,
        v: Value,
        approvers: &[&SecretKey],
        expect: &str,
    ) -> VerifiedRecord {
        let mut v = v;
        v["prev_action"] = json!(self.reg.governance_head().to_hex());
        let b = action(kind, v, approvers);
        let rec = self.make(by, b);
        let ok = expect == "stored";
        self.submit(note, rec, expect, ok)
    }

    fn publish(&mut self, note: &str, by: &SecretKey, b: Body, expect: &str) -> VerifiedRecord {
        let rec = self.make(by, b);
        let ok = expect == "stored";
        self.submit(note, rec, expect, ok)
    }
}

fn state_cases() -> Vec<Case> {
    let s1 = key(1);
    let s2 = key(2);
    let a = key(10); // ITK Rheinland
    let b = key(11); // KRZN
    let c = key(12); // GKD Paderborn
    let d = key(13); // OWL-IT
    let a2 = key(20);
    let x = key(30); // outsider
    let gns = genesis(&[&s1, &s2], 2);
    let fed = gns.record().federation;
    let mut sc = Script {
        reg: Registry::new(gns.clone()).expect("registry"),
        fed,
        steps: Vec::new(),
        accepted: vec![gns.clone()],
        heads: [(s1.did().clone(), (1, gns.id()))].into_iter().collect(),
    };
    let adm = |did: &Did, name: &str| json!({"provider": did.as_str(), "name": name});
    sc.act(
        "admit ITK Rheinland",
        &s1,
        Kind::MemberAdmit,
        adm(a.did(), "ITK Rheinland"),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "admission with one of two approvals",
        &s1,
        Kind::MemberAdmit,
        adm(b.did(), "KRZN"),
        &[&s1],
        "below_threshold",
    );
    sc.act(
        "admission wrapped by an outsider",
        &x,
        Kind::MemberAdmit,
        adm(b.did(), "KRZN"),
        &[&s1, &s2],
        "not_steward",
    );
    sc.act(
        "admit KRZN, wrapped by the second steward",
        &s2,
        Kind::MemberAdmit,
        adm(b.did(), "KRZN"),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "admit GKD Paderborn",
        &s1,
        Kind::MemberAdmit,
        adm(c.did(), "GKD Paderborn"),
        &[&s2, &s1],
        "stored",
    );
    sc.act(
        "admit Ostwestfalen-Lippe-IT",
        &s1,
        Kind::MemberAdmit,
        adm(d.did(), "Ostwestfalen-Lippe-IT"),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "admit ITK Rheinland a second time",
        &s1,
        Kind::MemberAdmit,
        adm(a.did(), "ITK Rheinland"),
        &[&s1, &s2],
        "already_member",
    );
    // An action on a superseded head.
    let stale = action(
        Kind::MemberAdmit,
        json!({"prev_action": fed.to_hex(), "provider": x.did().as_str(), "name": "Outsider"}),
        &[&s1, &s2],
    );
    let rec = sc.make(&s1, stale);
    sc.submit(
        "action signed on an old governance head: kept, but the longer chain wins",
        rec,
        "equivocation",
        false,
    );
    sc.publish(
        "profile of ITK Rheinland",
        &a,
        profile("Zweckverband IT-Kooperation Rheinland", "ITK Rheinland"),
        "stored",
    );
    let o1 = sc.publish(
        "offer version 1",
        &a,
        offer("meldewesen-hosting", 1),
        "stored",
    );
    sc.publish(
        "offer version 2",
        &a,
        offer("meldewesen-hosting", 2),
        "stored",
    );
    sc.publish("record of a non-member", &x, offer("x", 1), "not_member");
    // KRZN's seq 2 arrives before its seq 1.
    let b1 = sc.make(&b, offer("e-akte", 1));
    let b2 = sign(&b, fed, 2, Some(b1.id()), offer("scan", 1));
    sc.submit("seq 2 before seq 1: held", b2.clone(), "held", false);
    sc.submit("seq 1 arrives: both count", b1, "stored", true);
    sc.heads.insert(b.did().clone(), (2, b2.id()));
    sc.publish(
        "offer to be withdrawn",
        &a,
        offer("wahlen-2026", 1),
        "stored",
    );
    sc.publish(
        "withdraw it",
        &a,
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "wahlen-2026", "version": 1, "reason": "Eingestellt"}),
        ),
        "stored",
    );
    let (bseq, _) = sc.next(&b);
    let mem = |did: &Did, key: &Did, from: u64| json!({"provider": did.as_str(), "key": key.as_str(), "from_seq": from, "reason": "Prüfung"});
    sc.act(
        "suspend KRZN from its next seq",
        &s1,
        Kind::MemberSuspend,
        mem(b.did(), b.did(), bseq),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "suspend KRZN again",
        &s2,
        Kind::MemberSuspend,
        mem(b.did(), b.did(), bseq),
        &[&s1, &s2],
        "already_suspended",
    );
    let held_back = sc.make(&b, offer("e-akte", 2));
    sc.submit(
        "KRZN publishes while suspended",
        held_back,
        "member_suspended",
        false,
    );
    let rein = |did: &Did| json!({"provider": did.as_str(), "reason": "Geklärt"});
    sc.act(
        "reinstate ITK Rheinland, which is not suspended",
        &s1,
        Kind::MemberReinstate,
        rein(a.did()),
        &[&s1, &s2],
        "not_suspended",
    );
    sc.act(
        "reinstate KRZN",
        &s1,
        Kind::MemberReinstate,
        rein(b.did()),
        &[&s1, &s2],
        "stored",
    );
    sc.publish(
        "KRZN publishes after reinstatement",
        &b,
        offer("e-akte", 2),
        "stored",
    );
    let old = sc.publish(
        "ITK Rheinland rotates its key",
        &a,
        body(Kind::KeyRotate, json!({"new_key": a2.did().as_str()})),
        "stored",
    );
    sc.publish(
        "old key signs after the rotation",
        &a,
        offer("meldewesen-hosting", 3),
        "key_rotated",
    );
    let _ = old;
    sc.publish(
        "new key publishes version 3",
        &a2,
        offer("meldewesen-hosting", 3),
        "stored",
    );
    let succ = sc.publish(
        "GKD Paderborn hands its portfolio to OWL-IT",
        &c,
        body(Kind::Succession, json!({"successor": d.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": []})),
        "stored",
    );
    sc.publish(
        "accept of an unknown succession: stored, without effect",
        &d,
        body(
            Kind::SuccessionAccept,
            json!({"succession": "ab".repeat(32)}),
        ),
        "stored",
    );
    sc.publish(
        "OWL-IT accepts",
        &d,
        body(
            Kind::SuccessionAccept,
            json!({"succession": succ.id().to_hex()}),
        ),
        "stored",
    );
    // OWL-IT signs two different records for one seq.
    let e1 = sc.make(&d, offer("ozg-antrag", 1));
    let e2 = sc.make(&d, offer("ozg-antrag", 2));
    sc.submit("OWL-IT seq 2", e1, "stored", true);
    sc.submit(
        "a second record for the same seq",
        e2,
        "equivocation",
        false,
    );
    let (cseq, _) = sc.next(&c);
    sc.act(
        "revoke GKD Paderborn from its next seq",
        &s2,
        Kind::MemberRevoke,
        mem(c.did(), c.did(), cseq),
        &[&s1, &s2],
        "stored",
    );
    sc.publish(
        "GKD Paderborn signs after revocation",
        &c,
        offer("late", 1),
        "member_revoked",
    );
    sc.submit("the same offer again", o1.clone(), "known", false);
    let foreign_prev = sign(&b, fed, 5, Some(o1.id()), offer("e-akte", 9));
    sc.submit(
        "prev names another author's record",
        foreign_prev,
        "invalid_prev",
        false,
    );
    sc.submit(
        "genesis of another federation",
        genesis(&[&s1], 1),
        "wrong_federation",
        false,
    );
    let again = sign(&s2, fed, 1, None, gns.record().body.clone());
    sc.submit(
        "the genesis action wrapped again by the other steward",
        again,
        "unexpected_genesis",
        false,
    );

    let state = sc.reg.state();
    let summary = state.summary();
    let digest = state.digest();
    let mut steps_case = json!({
        "desc": "a federation's life: admissions by threshold, publishing, held records, suspension, rotation, succession, equivocation, revocation; each step through the ingest gate in order",
        "type": "state",
        "genesis": record_value(&gns),
        "steps": sc.steps,
        "expected": {"summary": summary, "digest": digest.to_hex()},
    });
    steps_case["stewards_seeds"] = json!([hex(&s1.seed()), hex(&s2.seed())]);

    // The same accepted set in another order, without the gate: the same digest.
    let mut shuffled = sc.accepted.clone();
    let n = shuffled.len();
    for i in 0..n {
        let j = (i * 7 + 3) % n;
        shuffled.swap(i, j);
    }
    shuffled.reverse();
    let mut reg2 = Registry::new(gns.clone()).expect("registry");
    for r in &shuffled {
        reg2.add(r.clone()).expect("add");
    }
    assert_eq!(reg2.state().digest(), digest, "order independence");
    let set_case = json!({
        "desc": "the records accepted above, in another order and without the ingest gate: the state is a function of the set",
        "type": "state-set",
        "genesis": record_value(&gns),
        "records": shuffled.iter().map(record_value).collect::<Vec<_>>(),
        "expected": {"summary": summary, "digest": digest.to_hex()},
    });
    vec![
        Case {
            name: "state-lifecycle".into(),
            json: steps_case,
        },
        Case {
            name: "state-set-order".into(),
            json: set_case,
        },
    ]
}

/// The file form of a vector: pretty JSON with a final newline.
pub fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("json");
    s.push('\n');
    s
}

/// A signature on `record` by `key` whose R has a small-order component:
/// `R = rB + T`, `S = r + k·a`, with `k = H(R || A || M)`. It satisfies the
/// cofactored equation `[8]SB = [8]R + [8]kA` (checked here) but not the strict one.
fn mixed_order_signature(key: &SecretKey, record: &Value) -> [u8; 64] {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    let mut unsigned = record.clone();
    unsigned.as_object_mut().expect("object").remove("sig");
    let mut msg = RECORD_TAG.to_vec();
    msg.extend(json::canonical(&unsigned).expect("canonical"));
    let h = Sha512::digest(key.seed());
    let mut clamped = [0u8; 32];
    clamped.copy_from_slice(&h[..32]);
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let a = Scalar::from_bytes_mod_order(clamped);
    let big_a = a * B;
    assert_eq!(big_a.compress().to_bytes(), *key.did().public_key());
    let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(b"kx mixed-order vector").into());
    let big_r = r * B + EIGHT_TORSION[1];
    let mut kh = Sha512::new();
    kh.update(big_r.compress().to_bytes());
    kh.update(big_a.compress().to_bytes());
    kh.update(&msg);
    let k = Scalar::from_bytes_mod_order_wide(&kh.finalize().into());
    let s = r + k * a;
    let lhs = (s * B).mul_by_cofactor();
    let rhs = (big_r + k * big_a).mul_by_cofactor();
    assert_eq!(lhs, rhs, "the cofactored equation holds");
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r.compress().to_bytes());
    sig[32..].copy_from_slice(&s.to_bytes());
    sig
}
