//! Checks `specs/vectors/`: the committed files are exactly what the generator
//! produces, and each file's expectations hold when read back on their own.

mod support;

use kx_protocol::checkpoint::{Checkpoint, Frontier};
use kx_protocol::fields::Hash32;
use kx_protocol::keyfile::KeyFile;
use kx_protocol::record::{UnverifiedRecord, action_bytes, sha256};
use kx_protocol::registry::{Admitted, Registry};
use kx_protocol::{SecretKey, VerifiedRecord, json};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use support::vectors;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors")
}

fn committed() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir()).expect("specs/vectors exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            out.insert(name, std::fs::read_to_string(&path).expect("read"));
        }
    }
    out
}

#[test]
fn committed_vectors_match_the_generator() {
    let files = committed();
    let generated: BTreeMap<String, String> = vectors::generate()
        .into_iter()
        .map(|c| (c.name, vectors::pretty(&c.json)))
        .collect();
    let stale: Vec<&String> = generated
        .iter()
        .filter(|(name, text)| files.get(*name) != Some(*text))
        .map(|(name, _)| name)
        .chain(files.keys().filter(|n| !generated.contains_key(*n)))
        .collect();
    assert!(
        stale.is_empty(),
        "specs/vectors is out of date for {stale:?}; run `cargo run -p kx-protocol --example gen_vectors` and review the diff"
    );
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn input(v: &Value) -> Vec<u8> {
    match (v.get("input"), v.get("input_hex")) {
        (Some(Value::String(t)), _) => t.as_bytes().to_vec(),
        (_, Some(Value::String(h))) => unhex(h),
        _ => panic!("vector without input"),
    }
}

fn record(v: &Value) -> VerifiedRecord {
    VerifiedRecord::from_bytes(&json::canonical(v).expect("canonical")).expect("valid record")
}

fn check_record(name: &str, v: &Value) {
    let bytes = input(v);
    let result = VerifiedRecord::from_bytes(&bytes).and_then(|r| {
        match v.pointer("/context/federation").and_then(Value::as_str) {
            Some(f) => r
                .check_federation(&f.parse::<Hash32>().expect("hash"))
                .map(|_| r),
            None => Ok(r),
        }
    });
    match v["expected"]["result"].as_str() {
        Some("accept") => {
            let rec = result.unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
            let un = UnverifiedRecord::parse(&bytes).expect("parse");
            assert_eq!(
                un.signed_bytes(),
                unhex(v["signed_bytes_hex"].as_str().expect("hex")),
                "{name}"
            );
            assert_eq!(rec.id().to_hex(), v["id"].as_str().expect("id"), "{name}");
            assert_eq!(rec.id(), sha256(un.signed_bytes()), "{name}");
            let seed: [u8; 32] = unhex(v["secret_key_seed"].as_str().expect("seed"))
                .try_into()
                .expect("32 bytes");
            let key = SecretKey::from_seed(seed).expect("key");
            assert_eq!(
                key.did().as_str(),
                v["did"].as_str().expect("did"),
                "{name}"
            );
            assert_eq!(&rec.record().author, key.did(), "{name}");
            if let Some(ab) = v.get("action_bytes_hex") {
                let bytes = action_bytes(rec.record().kind(), &rec.record().body);
                assert_eq!(bytes, unhex(ab.as_str().expect("hex")), "{name}");
                assert_eq!(
                    rec.action().map(|a| a.to_hex()).as_deref(),
                    v["action_digest"].as_str(),
                    "{name}"
                );
            }
        }
        Some("reject") => {
            let err = match result {
                Ok(_) => panic!("{name}: accepted, expected a rejection"),
                Err(e) => e,
            };
            assert_eq!(
                Some(err.code().as_str()),
                v["expected"]["error"].as_str(),
                "{name}: {err}"
            );
        }
        other => panic!("{name}: unknown expected result {other:?}"),
    }
}

fn check_state(name: &str, v: &Value) {
    let mut reg = Registry::new(record(&v["genesis"])).expect("genesis");
    // Offer bodies by record id, for the conformance checks.
    let mut seen = BTreeMap::new();
    if let Some(steps) = v["steps"].as_array() {
        for (i, step) in steps.iter().enumerate() {
            let rec = VerifiedRecord::from_bytes(&json::canonical(&step["record"]).expect("c"))
                .expect("step records are valid on their own");
            seen.insert(rec.id(), rec.clone());
            // From a peer (the ingest gate) unless the step says it is the
            // author's submission.
            let out = match step["via"].as_str() {
                None => reg.admit(rec),
                Some("submit") => reg.submit(rec),
                Some(other) => panic!("{name} step {i}: unknown via {other:?}"),
            };
            let got = match out {
                Ok(Admitted::Stored) => ("stored", None),
                Ok(Admitted::Known) => ("known", None),
                Ok(Admitted::Held) => ("held", None),
                Ok(Admitted::Equivocation) => ("equivocation", None),
                Err(e) => ("reject", Some(e.code().as_str())),
            };
            assert_eq!(
                Some(got.0),
                step["expected"]["result"].as_str(),
                "{name} step {i}: {}",
                step["note"]
            );
            assert_eq!(
                got.1,
                step["expected"]["error"].as_str(),
                "{name} step {i}: {}",
                step["note"]
            );
            // A node removes what the step cut off (7.2).
            if let Some(removed) = step["removed"].as_array() {
                let mut gone: Vec<String> = reg.prune().iter().map(|id| id.to_hex()).collect();
                gone.sort();
                let want: Vec<&str> = removed.iter().filter_map(Value::as_str).collect();
                assert_eq!(gone, want, "{name} step {i}: removed");
            }
        }
    }
    if let Some(records) = v["records"].as_array() {
        for r in records {
            reg.add(record(r)).expect("add");
        }
    }
    if let Some(set) = v["expected"]["in_set"].as_array() {
        let got: Vec<String> = reg.held_ids().map(|id| id.to_hex()).collect();
        let want: Vec<&str> = set.iter().filter_map(Value::as_str).collect();
        assert_eq!(got, want, "{name}: in_set");
    }
    let state = reg.state();
    assert_eq!(state.summary(), v["expected"]["summary"], "{name}");
    // The streamed digest is the hash of the summary's JCS (6.7).
    let mut tagged = kx_protocol::registry::STATE_TAG.to_vec();
    tagged.extend(json::canonical(&state.summary()).expect("jcs"));
    assert_eq!(
        state.digest(),
        sha256(&tagged),
        "{name}: digest of the summary"
    );
    for at in v["expected"]["at"].as_array().into_iter().flatten() {
        check_at(name, state, at);
    }
    for c in v["expected"]["conformance"]
        .as_array()
        .into_iter()
        .flatten()
    {
        check_conformance(name, state, &seen, c);
    }
    assert_eq!(
        state.digest().to_hex(),
        v["expected"]["digest"].as_str().expect("digest"),
        "{name}"
    );
}

/// Agreements and capacity read at an instant (6.8).
fn check_at(name: &str, state: &kx_protocol::State, at: &Value) {
    let t: kx_protocol::fields::Timestamp = at["t"].as_str().expect("t").parse().expect("instant");
    let agreements: Vec<Value> = state
        .requests
        .keys()
        .filter_map(|id| Some((id, state.agreement_status(id, t)?)))
        .map(|(id, s)| serde_json::json!({"request": id.to_hex(), "status": s.as_str()}))
        .collect();
    assert_eq!(Value::from(agreements), at["agreements"], "{name} at {t}");
    for c in at["capacity"].as_array().expect("capacity") {
        let provider: kx_protocol::Did = c["provider"].as_str().expect("did").parse().expect("did");
        let offer_id = c["offer_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("offer id");
        let cap = state.capacity(&provider, &offer_id, t);
        let got = serde_json::json!({"provider": provider.as_str(), "offer_id": c["offer_id"], "declared": cap.declared, "taken": cap.taken, "remaining": cap.remaining()});
        assert_eq!(&got, c, "{name} at {t}");
    }
    for o in at["offers"].as_array().expect("offers") {
        let provider: kx_protocol::Did = o["provider"].as_str().expect("did").parse().expect("did");
        let offer_id: kx_protocol::fields::OfferId = o["offer_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("offer id");
        let entry = &state.offers[&(provider.clone(), offer_id.clone())];
        let got = serde_json::json!({
            "provider": provider.as_str(),
            "offer_id": o["offer_id"],
            "status": state.offer_status(&provider, entry, t).as_str(),
            "shown_under": state.shown_under(&provider, &offer_id, t).as_str(),
        });
        assert_eq!(&got, o, "{name} at {t}");
    }
}

/// Every standard an offer declares, checked against the standards in force
/// (6.9).
fn check_conformance(
    name: &str,
    state: &kx_protocol::State,
    records: &BTreeMap<Hash32, VerifiedRecord>,
    c: &Value,
) {
    let provider: kx_protocol::Did = c["provider"].as_str().expect("did").parse().expect("did");
    let offer_id: kx_protocol::fields::OfferId = c["offer_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("offer id");
    let entry = &state.offers[&(provider, offer_id)];
    let id = entry.current().expect("current").record;
    let rec = &records[&id];
    let kx_protocol::Body::Offer(o) = &rec.record().body else {
        panic!("{name}: not an offer");
    };
    let got =
        serde_json::to_value(kx_protocol::terms::conformances(o, &state.standards)).expect("json");
    assert_eq!(got, c["conformance"], "{name}: {}", c["offer_id"]);
}

/// The read rules of 6.9 on their own: cost and contact.
fn check_terms(name: &str, v: &Value) {
    use kx_protocol::terms;
    for c in v["cost"].as_array().expect("cost") {
        let offer = kx_protocol::Body::from_json(kx_protocol::Kind::Offer, c["offer"].clone())
            .expect("offer body");
        let kx_protocol::Body::Offer(o) = offer else {
            panic!("{name}: not an offer");
        };
        let q: terms::Quantities =
            serde_json::from_value(c["quantities"].clone()).expect("quantities");
        let got = serde_json::to_value(terms::cost(&o, &q)).expect("json");
        assert_eq!(got, c["expected"], "{name}: {}", c["note"]);
    }
    for c in v["contact"].as_array().expect("contact") {
        let list = |k: &str| -> Vec<kx_protocol::body::Contact> {
            serde_json::from_value(c[k].clone()).expect("contacts")
        };
        let members: Vec<kx_protocol::fields::AgsPrefix> =
            serde_json::from_value(c["members"].clone()).expect("members");
        let (offer, profile) = (list("offer_contacts"), list("profile_contacts"));
        let got = terms::contact_for(&offer, &profile, &members, c["ags"].as_str().expect("ags"))
            .map(
                |(source, index, _)| serde_json::json!({"source": source.as_str(), "index": index}),
            );
        assert_eq!(
            got.unwrap_or(Value::Null),
            c["expected"],
            "{name}: {}",
            c["note"]
        );
    }
}

#[test]
fn every_vector_holds() {
    let files = committed();
    assert!(
        files.len() >= 60,
        "expected the full vector set, found {}",
        files.len()
    );
    for (name, text) in &files {
        let v = json::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        match v["type"].as_str() {
            Some("record") => check_record(name, &v),
            Some("state") | Some("state-set") => check_state(name, &v),
            Some("secret-key-file") => {
                let file = v["file"].as_str().expect("file");
                let key = SecretKey::from_file_text(file).expect("key file reads");
                check_key_is_the_vectors(name, &v, &key);
                assert_eq!(key.to_file_text(), file, "{name}");
            }
            Some("secret-key-file-encrypted") => check_encrypted_key_file(name, &v),
            Some("secret-key-file-read") => {
                let file = v["file"].as_str().expect("file");
                let pass = v["passphrase"].as_str().expect("passphrase");
                let got = KeyFile::parse(file)
                    .and_then(|f| f.open(pass.as_bytes()))
                    .map(|k| k.did().as_str().to_owned())
                    .map_err(|e| e.code().as_str());
                let expected = match v["expected"]["error"].as_str() {
                    Some(code) => Err(code),
                    None => Ok(v["expected"]["did"].as_str().expect("did").to_owned()),
                };
                assert_eq!(got, expected, "{name}");
            }
            Some("sync") => check_sync(name, &v),
            Some("sync-messages") => check_sync_messages(name, &v),
            Some("sync-governance") => check_sync_governance(name, &v),
            Some("sync-respond") => check_sync_respond(name, &v),
            Some("checkpoint") => check_checkpoint(name, &v),
            Some("checkpoint-read") => {
                let got = match Checkpoint::read(v["note"].as_str().expect("note")) {
                    Ok(c) => {
                        serde_json::json!({"federation": c.federation.to_hex(), "signer": c.signer.as_str(), "size": c.size, "root": c.root.to_hex()})
                    }
                    Err(e) => serde_json::json!({"error": e.code.as_str()}),
                };
                assert_eq!(got, v["expected"], "{name}");
            }
            Some("checkpoint-consistency") => check_consistency(name, &v),
            Some("checkpoint-cosigned") => {
                let note = v["note"].as_str().expect("note");
                let cp = Checkpoint::read(note).expect("reads");
                for a in v["expected"].as_array().expect("asked") {
                    let did: kx_protocol::Did =
                        a["did"].as_str().expect("did").parse().expect("did");
                    let got = cp.cosigned_by(note, a["name"].as_str().expect("name"), &did);
                    assert_eq!(got, a["time"].as_u64(), "{name}: {a}");
                }
            }
            Some("terms") => check_terms(name, &v),
            other => panic!("{name}: unknown type {other:?}"),
        }
    }
}

/// The key read from a key-file vector has the vector's did and seed.
fn check_key_is_the_vectors(name: &str, v: &Value, key: &SecretKey) {
    assert_eq!(
        key.did().as_str(),
        v["did"].as_str().expect("did"),
        "{name}"
    );
    assert_eq!(
        hex_of(&key.seed()),
        v["secret_key_seed"].as_str().expect("seed"),
        "{name}"
    );
}

/// Opens an encrypted key file with its passphrase, and seals the seed again with
/// the vector's salt, IV and iterations: the same text.
fn check_encrypted_key_file(name: &str, v: &Value) {
    use kx_protocol::keyfile::Sealing;
    let file = v["file"].as_str().expect("file");
    let pass = v["passphrase"].as_str().expect("passphrase").as_bytes();
    let Ok(KeyFile::Encrypted(f)) = KeyFile::parse(file) else {
        panic!("{name}: not read as an encrypted key file");
    };
    let key = f.open(pass).expect("opens");
    check_key_is_the_vectors(name, v, &key);
    let bytes16 = |k: &str| -> [u8; 16] {
        let h = v[k].as_str().expect("hex");
        let raw: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
            .collect();
        raw.try_into().expect("16 bytes")
    };
    let sealing = Sealing {
        iterations: u32::try_from(v["iterations"].as_u64().expect("iterations")).expect("u32"),
        salt: bytes16("salt"),
        iv: bytes16("iv"),
    };
    assert_eq!(
        key.to_encrypted_file_text(pass, sealing).expect("seal"),
        file,
        "{name}"
    );
}

/// The registry of a checkpoint vector's records (the genesis first).
fn registry_of(records: &Value) -> Registry {
    let records = records.as_array().expect("records");
    let mut reg = Registry::new(record(&records[0])).expect("genesis");
    for r in &records[1..] {
        reg.add(record(r)).expect("add");
    }
    reg
}

/// A frontier computed from the records, its root, and the signed note.
fn check_checkpoint(name: &str, v: &Value) {
    let reg = registry_of(&v["records"]);
    let e = &v["expected"];
    let frontier = reg.frontier();
    assert_eq!(frontier.to_json(), e["frontier"], "{name}: frontier");
    assert_eq!(
        String::from_utf8(json::canonical(&frontier.to_json()).expect("jcs")).expect("ascii"),
        e["frontier_jcs"].as_str().expect("jcs"),
        "{name}"
    );
    assert_eq!(
        Frontier::from_json(&e["frontier"]).expect("reads"),
        frontier
    );
    assert_eq!(frontier.size(), e["size"].as_u64().expect("size"), "{name}");
    assert_eq!(
        frontier.root().to_hex(),
        e["root"].as_str().expect("root"),
        "{name}"
    );
    let seed: [u8; 32] = unhex(v["signer_seed"].as_str().expect("seed"))
        .try_into()
        .expect("32 bytes");
    let k = SecretKey::from_seed(seed).expect("seed");
    let cp = Checkpoint::of(&frontier, k.did());
    assert_eq!(
        hex_of(&kx_protocol::checkpoint::key_id(&cp.origin(), 1, k.did())),
        e["key_id"].as_str().expect("key id"),
        "{name}"
    );
    assert_eq!(cp.text(), e["checkpoint"].as_str().expect("text"), "{name}");
    assert_eq!(cp.sign(&k), e["note"].as_str().expect("note"), "{name}");
}

/// Pairs of frontiers judged by the vector's set.
fn check_consistency(name: &str, v: &Value) {
    let mut records = vec![v["genesis"].clone()];
    records.extend(
        v["records"]
            .as_array()
            .expect("records")
            .iter()
            .skip(1)
            .cloned(),
    );
    let reg = registry_of(&Value::Array(records));
    for p in v["pairs"].as_array().expect("pairs") {
        let a = Frontier::from_json(&p["earlier"]).expect("earlier");
        let b = Frontier::from_json(&p["later"]).expect("later");
        let got = match reg.consistent(&a, &b) {
            Ok(()) => Value::Null,
            Err(kx_protocol::registry::Inconsistency::Governance { .. }) => "governance".into(),
            Err(kx_protocol::registry::Inconsistency::Log { author, .. }) => author.as_str().into(),
        };
        assert_eq!(got, p["inconsistent_at"], "{name}: {}", p["name"]);
    }
}

/// Decodes each message of a `sync-messages` vector: what it holds, or that it
/// is malformed; a fetch of more ids than a responder sends is answered
/// `too_many`.
fn check_sync_messages(name: &str, v: &Value) {
    let messages = v["messages"].as_array().expect("messages");
    assert!(messages.len() >= 20, "{name}");
    for m in messages {
        let note = &m["note"];
        let bytes = unhex(m["hex"].as_str().expect("hex"));
        let request = m["direction"] == "request";
        let mut expected = m["expected"].clone();
        let answer = expected.as_object_mut().and_then(|e| e.remove("answer"));
        assert_eq!(
            support::vectors::message_json(request, &bytes),
            expected,
            "{name}: {note}"
        );
        if let Some(answer) = answer {
            assert_eq!(answer["code"], "too_many", "{name}: {note}");
            assert!(expected["ids"].as_array().expect("ids").len() > kx_protocol::sync::MAX_FETCH);
        }
    }
}

/// Replays a sync vector from its id lists alone: every message must encode to
/// the committed bytes and decode back.
fn check_sync(name: &str, v: &Value) {
    use kx_protocol::sync::{IdSet, SyncRequest, SyncResponse, fingerprint};
    let ids = |k: &str| -> Vec<Hash32> {
        v[k].as_array()
            .expect("ids")
            .iter()
            .map(|i| i.as_str().expect("hex").parse().expect("id"))
            .collect()
    };
    let a = IdSet::new(ids("initiator_ids"));
    let b = IdSet::new(ids("responder_ids"));
    let fed: Hash32 = v["federation"].as_str().expect("fed").parse().expect("fed");
    let mut open = a.initial();
    let mut fetch = Vec::new();
    for round in v["rounds"].as_array().expect("rounds") {
        let req = unhex(round["request_hex"].as_str().expect("request"));
        let resp = unhex(round["response_hex"].as_str().expect("response"));
        let Ok(SyncRequest::Reconcile { ranges, federation }) = SyncRequest::decode(&req) else {
            panic!("{name}: request does not decode");
        };
        assert_eq!(federation, fed);
        assert_eq!(ranges, std::mem::take(&mut open), "{name}: request");
        let answers = b.respond(&ranges);
        assert_eq!(
            SyncResponse::Reconcile {
                answers: answers.clone()
            }
            .encode(),
            resp,
            "{name}: response"
        );
        let (f, next) = a.process(&ranges, &answers);
        fetch.extend(f);
        open = next;
    }
    assert!(open.is_empty(), "{name}: ranges left open");
    fetch.sort();
    let want: Vec<Hash32> = v["expected"]["fetch"]
        .as_array()
        .expect("fetch")
        .iter()
        .map(|i| i.as_str().expect("hex").parse().expect("id"))
        .collect();
    assert_eq!(fetch, want, "{name}: fetch");
    if let Some(want) = v["expected"]["fetch_request_hex"].as_str() {
        let fetch_req = SyncRequest::Fetch {
            federation: fed,
            ids: fetch,
        };
        assert_eq!(hex_of(&fetch_req.encode()), want, "{name}");
    }
    for f in v["fingerprints"].as_array().into_iter().flatten() {
        let set: Vec<Hash32> = f["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|i| i.as_str().expect("hex").parse().expect("id"))
            .collect();
        let (count, fp) = fingerprint(set.iter());
        assert_eq!(Some(count), f["count"].as_u64(), "{name}");
        assert_eq!(
            hex_of(&fp.0),
            f["fingerprint"].as_str().expect("fp"),
            "{name}"
        );
    }
}

/// A vector's list of ids as hex.
fn hex_ids(x: &Value) -> Vec<Hash32> {
    x.as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_str().expect("hex").parse().expect("id"))
        .collect()
}

/// Replays a `sync-respond` vector: the responder's answer to each request,
/// and the initiator's fetch and next request after one answer.
fn check_sync_respond(name: &str, v: &Value) {
    use kx_protocol::sync::{IdSet, SyncRequest, SyncResponse};
    let ids = hex_ids;
    let ranges_of = |hex: &str| match SyncRequest::decode(&unhex(hex)) {
        Ok(SyncRequest::Reconcile { ranges, .. }) => ranges,
        other => panic!("{name}: not a reconcile request: {other:?}"),
    };
    let fed: Hash32 = v["federation"].as_str().expect("fed").parse().expect("fed");
    let r = IdSet::new(ids(&v["responder_ids"]));
    for x in v["exchanges"].as_array().expect("exchanges") {
        let ranges = ranges_of(x["request_hex"].as_str().expect("hex"));
        let resp = SyncResponse::Reconcile {
            answers: r.respond(&ranges),
        };
        assert_eq!(
            hex_of(&resp.encode()),
            x["response_hex"].as_str().expect("hex"),
            "{name}: {}",
            x["note"]
        );
    }
    let i = &v["initiator"];
    let a = IdSet::new(ids(&i["initiator_ids"]));
    let asked = ranges_of(i["request_hex"].as_str().expect("hex"));
    let Ok(SyncResponse::Reconcile { answers }) =
        SyncResponse::decode(&unhex(i["response_hex"].as_str().expect("hex")))
    else {
        panic!("{name}: not a reconcile answer");
    };
    let (fetch, next) = a.process(&asked, &answers);
    assert_eq!(fetch, ids(&i["expected"]["fetch"]), "{name}: fetch");
    let next = SyncRequest::Reconcile {
        federation: fed,
        ranges: next,
    };
    assert_eq!(
        hex_of(&next.encode()),
        i["expected"]["next_request_hex"].as_str().expect("hex"),
        "{name}: next request"
    );
}

/// Replays a `sync-governance` vector: each request is the summary of the
/// initiator's governance ids, each answer the responder's rule on it.
fn check_sync_governance(name: &str, v: &Value) {
    use kx_protocol::sync::{SyncRequest, SyncResponse, fingerprint, governance_answer};
    let ids = hex_ids;
    let fed: Hash32 = v["federation"].as_str().expect("fed").parse().expect("fed");
    let own = ids(&v["responder_governance_ids"]);
    for x in v["exchanges"].as_array().expect("exchanges") {
        let (count, fp) = fingerprint(ids(&x["initiator_governance_ids"]).iter());
        let req = SyncRequest::Governance {
            federation: fed,
            count,
            fingerprint: fp,
        };
        assert_eq!(
            hex_of(&req.encode()),
            x["request_hex"].as_str().expect("hex"),
            "{name}"
        );
        let resp = SyncResponse::Governance {
            ids: governance_answer(&own, count, fp),
        };
        assert_eq!(
            hex_of(&resp.encode()),
            x["response_hex"].as_str().expect("hex"),
            "{name}"
        );
    }
}

#[test]
fn every_error_code_has_a_vector() {
    let files = committed();
    let mut seen = std::collections::BTreeSet::new();
    for text in files.values() {
        let v = json::parse(text.as_bytes()).expect("json");
        if let Some(code) = v["expected"]["error"].as_str() {
            seen.insert(code.to_owned());
        }
        for step in v["steps"].as_array().into_iter().flatten() {
            if let Some(code) = step["expected"]["error"].as_str() {
                seen.insert(code.to_owned());
            }
        }
    }
    // Every record, key-file and gate code.
    let missing: Vec<&str> = kx_protocol::RecordCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(kx_protocol::GateCode::ALL.iter().map(|c| c.as_str()))
        .filter(|c| !seen.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a vector: {missing:?}");
}

#[test]
fn every_kind_has_an_accepted_record() {
    let files = committed();
    let missing: Vec<&str> = kx_protocol::body::Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .filter(|k| !files.contains_key(&format!("record-ok-{}", k.replace('.', "-"))))
        .collect();
    assert!(
        missing.is_empty(),
        "kinds without a record-ok vector: {missing:?}"
    );
}
