//! A small federation and its market-survey bundle, from fixed seeds and
//! times, and the survey vectors of `specs/vectors/survey/` (one bundle that
//! verifies, one per failure code). Shared by `tests/survey.rs` and
//! `examples/gen_survey_vectors.rs`.

#![allow(dead_code)]

use kx_api::SurveyQuery;
use kx_api::survey::{self, Statement};
use kx_protocol::author::{LogWriter, genesis};
use kx_protocol::checkpoint::{Checkpoint, Frontier, sign_note};
use kx_protocol::{Body, Hash32, Kind, Registry, SecretKey, Timestamp, VerifiedRecord, record};
use serde_json::{Value, json};

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32]).expect("test seed")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// The instant of the survey.
pub const AT: &str = "2026-06-01T12:00:00Z";
/// The witnesses' cosignature time (POSIX seconds of 2026-06-01T12:00:05Z).
pub const COSIGNED: u64 = 1_780_315_205;
/// The survey's query.
pub const QUERY: &str = "municipality=Paderborn";

/// An offer body: `regions` where it is delivered, an optional legal basis;
/// its category from its id (`kfz`, `wahlen`, else `einwohnerwesen`), OZG
/// service 10124 for `meldewesen` only.
fn offer(id: &str, title: &str, regions: &[&str], basis: Option<&str>) -> Body {
    let category = match id {
        "kfz" => "kfz-zulassung",
        "wahlen" => "wahlen",
        _ => "einwohnerwesen",
    };
    let ozg: &[&str] = if id == "meldewesen" { &["10124"] } else { &[] };
    let mut v = json!({
        "offer_id": id,
        "version": 1,
        "title": title,
        "summary": "Betrieb im kommunalen Rechenzentrum.",
        "description": "Hosting, Updates und Fachadministration.",
        "category": category,
        "ozg_ids": ozg,
        "leika_keys": [],
        "regions": regions,
        "delivery": "hosting",
        "sla": {"availability_bp": 9950, "support_hours": "Mo-Fr 07:30-16:30", "response_minutes": 60, "resolution_hours": 8},
        "pricing": {"model": "per_inhabitant_per_year", "amount_cents": 42, "currency": "EUR", "notes": ""},
        "capacity": 0,
        "certifications": [],
        "standards": [],
        "contacts": [],
        "valid_from": "2026-01-01T00:00:00Z",
    });
    if let Some(kind) = basis {
        v["legal_basis"] =
            json!({"kind": kind, "text": "Interkommunale Zusammenarbeit nach § 108 Abs. 6 GWB"});
    }
    Body::from_json(Kind::Offer, v).expect("offer body")
}

/// The federation: steward S (seed 1) founds it and admits providers A
/// (seed 2, whose members are Kreis Paderborn) and B (seed 3), names the
/// witnesses W1 (seed 5) and W2 (seed 6) with quorum 2, and admits
/// Paderborn's key (seed 7). A offers `meldewesen` in Kreis Paderborn,
/// `kfz` in Kreis Mettmann and `zz-ausweis` (title "Ausweiswesen") in
/// Paderborn; B offers `wahlen` in all of NRW under
/// inter-municipal cooperation and `alt`, which it withdraws. The node that
/// signs checkpoints has seed 9.
pub struct Fed {
    pub genesis: VerifiedRecord,
    pub records: Vec<VerifiedRecord>,
    pub registry: Registry,
    pub node: SecretKey,
    pub witnesses: [SecretKey; 2],
}

pub fn federation() -> Fed {
    let t = |m: u32| ts(&format!("2026-05-01T10:{m:02}:00Z"));
    let s = key(1);
    let (a, b) = (key(2), key(3));
    let witnesses = [key(5), key(6)];
    let g = genesis(
        "Markterkundung (Testföderation)".parse().expect("name"),
        vec![s.did().clone()],
        1,
        &s,
        &[&s],
        t(0),
    )
    .expect("genesis");
    let fed = g.record().federation;
    let mut records = vec![g.clone()];
    let mut steward = LogWriter::new(key(1), fed, Some((1, g.id())));
    let mut head = fed;
    let mut act = |kind: Kind, mut v: Value, m: u32, records: &mut Vec<VerifiedRecord>| {
        v["prev_action"] = json!(head.to_hex());
        v["approvals"] = json!([]);
        let mut body = Body::from_json_draft(kind, v).expect("action body");
        record::approve(&mut body, steward.key());
        let rec = steward.write(body, t(m)).expect("action");
        head = rec.action().expect("an action");
        records.push(rec);
    };
    act(
        Kind::MemberAdmit,
        json!({"provider": a.did().as_str(), "name": "OWL-IT"}),
        1,
        &mut records,
    );
    act(
        Kind::MemberAdmit,
        json!({"provider": b.did().as_str(), "name": "citeq"}),
        2,
        &mut records,
    );
    act(
        Kind::FederationWitnesses,
        json!({"witnesses": [
            {"name": "zeuge.example/1", "key": witnesses[0].did().as_str()},
            {"name": "zeuge.example/2", "key": witnesses[1].did().as_str()},
        ], "quorum": 2}),
        3,
        &mut records,
    );
    act(
        Kind::MunicipalityAdmit,
        json!({"municipalities": [{"ags": "05774032", "member": key(7).did().as_str(), "name": "Paderborn"}]}),
        4,
        &mut records,
    );
    let mut wa = LogWriter::new(key(2), fed, None);
    let profile = Body::from_json(
        Kind::ProviderProfile,
        json!({"name": "Ostwestfalen-Lippe-IT", "short_name": "OWL-IT",
               "description": "Kommunaler IT-Dienstleister.", "regions": ["05774"],
               "members": ["05774"], "certifications": [], "nodes": [], "contacts": []}),
    )
    .expect("profile");
    for (body, m) in [
        (profile, 10),
        (
            offer("meldewesen", "Einwohnermeldewesen", &["05774"], None),
            11,
        ),
        (offer("kfz", "Kfz-Zulassung", &["05158"], None), 12),
        (offer("zz-ausweis", "Ausweiswesen", &["05774032"], None), 13),
    ] {
        records.push(wa.write(body, t(m)).expect("A"));
    }
    let mut wb = LogWriter::new(key(3), fed, None);
    records.push(
        wb.write(
            offer("wahlen", "Wahlen", &["05"], Some("inter_municipal")),
            t(20),
        )
        .expect("B"),
    );
    records.push(
        wb.write(offer("alt", "Altverfahren", &["05"], None), t(21))
            .expect("B"),
    );
    let withdraw = Body::from_json(
        Kind::OfferWithdraw,
        json!({"offer_id": "alt", "version": 1, "reason": "Abgekündigt"}),
    )
    .expect("withdrawal");
    records.push(wb.write(withdraw, t(22)).expect("B"));
    let mut registry = Registry::new(g.clone()).expect("registry");
    for r in &records {
        registry.admit(r.clone()).expect("admitted");
    }
    Fed {
        genesis: g,
        records,
        registry,
        node: key(9),
        witnesses,
    }
}

/// The node's checkpoint note of `frontier`, cosigned by `cosigners` (of the
/// two witnesses, by index).
pub fn note(fed: &Fed, frontier: &Frontier, cosigners: &[usize]) -> String {
    let cp = Checkpoint::of(frontier, fed.node.did());
    let mut note = cp.sign(&fed.node);
    for &i in cosigners {
        note.push_str(&cp.cosign(
            &format!("zeuge.example/{}", i + 1),
            &fed.witnesses[i],
            COSIGNED,
        ));
    }
    note
}

/// The bundle of the federation's survey for Paderborn at [`AT`].
pub fn bundle(fed: &Fed) -> Vec<u8> {
    bundle_of(fed, QUERY)
}

/// The bundle of the search `query` at [`AT`].
pub fn bundle_of(fed: &Fed, query: &str) -> Vec<u8> {
    let frontier = fed.registry.frontier();
    let q = SurveyQuery::parse(query).expect("query");
    survey::assemble(
        &fed.genesis,
        &note(fed, &frontier, &[0, 1]),
        &frontier,
        fed.records.clone(),
        &q.filters,
        ts(AT),
        &fed.node,
    )
    .expect("assemble")
    .0
}

/// The bundle as JSON.
pub fn parts(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("bundle json")
}

/// `v` written back as a bundle (canonical JSON and a line feed).
pub fn write(v: &Value) -> Vec<u8> {
    let mut bytes = kx_protocol::json::canonical(v).expect("canonical");
    bytes.push(b'\n');
    bytes
}

/// The statement of `v` with `change` applied to it, signed by `key`.
pub fn restate(v: &mut Value, key: &SecretKey, change: impl FnOnce(&mut Statement)) {
    let cp = Checkpoint::read(v["checkpoint"]["note"].as_str().expect("note")).expect("cp");
    let text = v["statement"].as_str().expect("statement");
    let body = &text[..text.find("\n\n").expect("empty line") + 1];
    let lines: Vec<&str> = body.lines().collect();
    let mut st = Statement {
        origin: lines[1].to_owned(),
        root: lines[2].parse().expect("root"),
        at: lines[3].parse().expect("at"),
        query: lines[4].to_owned(),
        result: lines[6..].iter().map(|l| l.parse().expect("id")).collect(),
    };
    change(&mut st);
    v["statement"] = json!(sign_note(&st.text(), &cp.origin(), key));
}

/// One survey vector: the genesis, the bundle's bytes as text and what a
/// verifier must answer.
pub struct Case {
    pub name: String,
    pub json: Value,
}

fn case(fed: &Fed, name: &str, about: &str, bytes: &[u8], expected: Value) -> Case {
    Case {
        name: name.to_owned(),
        json: json!({
            "description": about,
            "genesis": String::from_utf8(fed.genesis.canonical_json().to_vec()).expect("utf-8"),
            "bundle": String::from_utf8(bytes.to_vec()).expect("utf-8"),
            "expected": expected,
        }),
    }
}

fn err(fed: &Fed, code: &str, about: &str, bytes: &[u8]) -> Case {
    let got = survey::verify(bytes, &fed.genesis).expect_err(about);
    assert_eq!(got.code.as_str(), code, "{about}: {got}");
    case(
        fed,
        &format!("survey-err-{}", code.replace('_', "-")),
        about,
        bytes,
        json!({"error": code}),
    )
}

/// Every survey vector.
pub fn cases() -> Vec<Case> {
    let fed = federation();
    let good = bundle(&fed);
    let ok = survey::verify(&good, &fed.genesis).expect("the bundle verifies");
    let mut out = vec![case(
        &fed,
        "survey-ok",
        "A survey for Paderborn: A's zz-ausweis and meldewesen (in-house: Kreis Paderborn is A's member; by title), then B's wahlen (inter-municipal); not A's kfz (Kreis Mettmann) nor B's withdrawn alt.",
        &good,
        json!({
            "result": ok.rows.iter().map(|r| r.record.to_hex()).collect::<Vec<_>>(),
            "offers": ok.rows.iter().map(|r| format!("{}/{}", r.provider.did, r.offer_id)).collect::<Vec<_>>(),
            "procurement": ok.rows.iter().map(|r| r.procurement.as_str()).collect::<Vec<_>>(),
            "cosigned": ok.cosigned.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "quorum": 2,
            "records": ok.records,
        }),
    )];
    // Other searches over the same records: each filter and the order.
    let b = key(3).did().to_string();
    for (name, query, about) in [
        (
            "in-house",
            "municipality=05774032&procurement=in_house".to_owned(),
            "only what Paderborn may take in-house: zz-ausweis (title Ausweiswesen) before meldewesen (Einwohnermeldewesen), by title, not by offer id",
        ),
        (
            "tender-free",
            "municipality=05774032&procurement=tender_free".to_owned(),
            "tender_free: in-house and inter-municipal offers",
        ),
        (
            "withdrawn",
            "municipality=05774032&include=withdrawn".to_owned(),
            "include=withdrawn adds B's alt (a tender: last)",
        ),
        (
            "provider",
            format!("municipality=05774032&provider={b}"),
            "B's offers only (the did's colons percent-encoded)",
        ),
        (
            "region",
            "municipality=05774032&region=05774".to_owned(),
            "offers delivered in all of Kreis Paderborn: not zz-ausweis (Paderborn only)",
        ),
        (
            "category",
            "municipality=05774032&category=fachverfahren".to_owned(),
            "category fachverfahren includes einwohnerwesen and wahlen below it",
        ),
        (
            "ozg",
            "municipality=05774032&ozg=10124".to_owned(),
            "OZG service 10124: meldewesen only",
        ),
        (
            "words",
            "municipality=05774032&q=WAHLEN".to_owned(),
            "words are lowercased (q=wahlen) and found in the title",
        ),
    ] {
        let q = SurveyQuery::parse(&query).expect("query");
        let bytes = bundle_of(&fed, &query);
        let v = survey::verify(&bytes, &fed.genesis).expect(name);
        assert_eq!(
            v.query.filters.to_query_string(),
            q.filters.to_query_string()
        );
        out.push(case(
            &fed,
            &format!("survey-ok-{name}"),
            about,
            &bytes,
            json!({
                "query": q.filters.to_query_string(),
                "result": v.rows.iter().map(|r| r.record.to_hex()).collect::<Vec<_>>(),
                "offers": v.rows.iter().map(|r| format!("{}/{}", r.provider.did, r.offer_id)).collect::<Vec<_>>(),
            }),
        ));
    }

    let base = parts(&good);
    let mut spaced = good.clone();
    spaced.insert(1, b' ');
    out.push(err(
        &fed,
        "malformed_bundle",
        "a space after the first brace: not the canonical form",
        &spaced,
    ));

    let mut v = base.clone();
    let admit = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .position(|r| r["kind"] == json!("member.admit"))
        .expect("an admission");
    let rec = &mut v["records"][admit]["body"];
    rec["name"] = json!("KRZN");
    out.push(err(
        &fed,
        "bad_signature",
        "a provider's admitted name changed in its admission: the record's signature no longer verifies (checked before its approval)",
        &write(&v),
    ));

    let mut v = base.clone();
    let logs = v["checkpoint"]["frontier"]["logs"]
        .as_array_mut()
        .expect("logs");
    logs.pop();
    out.push(err(
        &fed,
        "root_mismatch",
        "the frontier lost its last log: it is not the one the note states",
        &write(&v),
    ));

    let mut v = base.clone();
    let last = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .position(|r| r["body"]["offer_id"] == json!("alt") && r["kind"] == json!("offer.withdraw"))
        .expect("withdrawal");
    v["records"].as_array_mut().expect("records").remove(last);
    out.push(err(
        &fed,
        "missing_record",
        "B's withdrawal removed: B's log ends one record early",
        &write(&v),
    ));

    // A record the frontier does not name: the frontier and checkpoint of
    // the set before B's withdrawal, with every record.
    let mut earlier = Registry::new(fed.genesis.clone()).expect("registry");
    let withdrawal = fed.records.last().expect("records").id();
    for r in fed.records.iter().filter(|r| r.id() != withdrawal) {
        earlier.admit(r.clone()).expect("admitted");
    }
    let short = earlier.frontier();
    let mut v = base.clone();
    v["checkpoint"] = json!({"note": note(&fed, &short, &[0, 1]), "frontier": short.to_json()});
    restate(&mut v, &fed.node, |st| {
        st.root = short.root();
    });
    out.push(err(
        &fed,
        "inconsistent_checkpoint",
        "the checkpoint names B's log up to seq 2; the bundle holds seq 3 too",
        &write(&v),
    ));

    // An equivocation: a second record at A's seq 3, which the frontier
    // does not name.
    let mut v = base.clone();
    let rec_a2 = fed
        .records
        .iter()
        .find(|r| r.record().author == *key(2).did() && r.record().seq == 2)
        .expect("A seq 2");
    let mut twin = LogWriter::new(
        key(2),
        fed.genesis.record().federation,
        Some((2, rec_a2.id())),
    );
    let other = twin
        .write(
            offer("kfz2", "Kfz-Zulassung", &["05158"], None),
            ts("2026-05-01T10:13:00Z"),
        )
        .expect("twin");
    add_record(&mut v, &other);
    out.push(err(
        &fed,
        "unexpected_record",
        "a second record at A's seq 3, off A's counted chain",
        &write(&v),
    ));

    // A log of a key no steward admitted: the node's set cannot hold it,
    // the gate refuses its record.
    let stranger = LogWriter::new(key(4), fed.genesis.record().federation, None)
        .write(
            offer("fremd", "Fremdangebot", &["05"], None),
            ts("2026-05-01T10:30:00Z"),
        )
        .expect("stranger");
    let mut forged = Registry::new(fed.genesis.clone()).expect("registry");
    for r in fed.records.iter().chain([&stranger]) {
        forged.add(r.clone()).expect("added without the gate");
    }
    let wide = forged.frontier();
    let mut v = base.clone();
    v["checkpoint"] = json!({"note": note(&fed, &wide, &[0, 1]), "frontier": wide.to_json()});
    add_record(&mut v, &stranger);
    restate(&mut v, &fed.node, |st| st.root = wide.root());
    let refused = survey::verify(&write(&v), &fed.genesis).expect_err("a stranger's record");
    let code = refused.code.as_str().to_owned();
    let mut c = err(
        &fed,
        &code,
        "the frontier names the log of a key no steward admitted; the gate refuses its record",
        &write(&v),
    );
    c.name = "survey-err-gate-refusal".to_owned();
    out.push(c);

    let mut v = base.clone();
    let frontier = fed.registry.frontier();
    let mut n = note(&fed, &frontier, &[0, 1]);
    n = n.replacen("— zeuge.example/2", "— zeuge.example/3", 1);
    v["checkpoint"]["note"] = json!(n);
    out.push(err(
        &fed,
        "bad_cosignature",
        "a cosignature line under a name the witness list does not have",
        &write(&v),
    ));

    let mut v = base.clone();
    v["checkpoint"]["note"] = json!(note(&fed, &frontier, &[0]));
    restate(&mut v, &fed.node, |_| {});
    out.push(err(
        &fed,
        "below_quorum",
        "one of the two witnesses cosigned; the quorum is 2",
        &write(&v),
    ));

    let mut v = base.clone();
    restate(&mut v, &fed.node, |st| {
        st.query = "municipality=Paderborn".to_owned()
    });
    out.push(err(
        &fed,
        "malformed_statement",
        "the statement's query names the municipality, not its AGS: not the canonical form",
        &write(&v),
    ));

    let mut v = base.clone();
    restate(&mut v, &key(8), |_| {});
    out.push(err(
        &fed,
        "bad_statement_signature",
        "the statement signed by another key under the node's name",
        &write(&v),
    ));

    let mut v = base.clone();
    restate(&mut v, &fed.node, |st| {
        st.result.pop();
    });
    out.push(err(
        &fed,
        "result_mismatch",
        "the statement leaves out B's wahlen, which matches",
        &write(&v),
    ));

    let mut v = base.clone();
    restate(&mut v, &fed.node, |st| st.result.reverse());
    let mut c = err(
        &fed,
        "result_mismatch",
        "the statement lists the result in another order than the catalog's",
        &write(&v),
    );
    c.name = "survey-err-result-order".to_owned();
    out.push(c);

    let mut v = base.clone();
    let n = v["checkpoint"]["note"].as_str().expect("note").to_owned();
    let sig_line = n
        .lines()
        .find(|l| l.starts_with("— kx/"))
        .expect("node line")
        .to_owned();
    v["checkpoint"]["note"] = json!(n.replacen(&format!("{sig_line}\n"), "", 1));
    out.push(err(
        &fed,
        "unsigned_checkpoint",
        "the node's signature line removed from the checkpoint",
        &write(&v),
    ));

    let mut v = base.clone();
    let n = v["checkpoint"]["note"].as_str().expect("note").to_owned();
    let sig_line = n
        .lines()
        .find(|l| l.starts_with("— kx/"))
        .expect("node line")
        .to_owned();
    let (head, b64) = sig_line.rsplit_once(' ').expect("signature");
    let mut raw = base64_decode(b64);
    raw[10] ^= 1;
    v["checkpoint"]["note"] =
        json!(n.replacen(&sig_line, &format!("{head} {}", base64_encode(&raw)), 1));
    out.push(err(
        &fed,
        "bad_checkpoint_signature",
        "one bit of the node's checkpoint signature flipped",
        &write(&v),
    ));

    let mut v = base.clone();
    let frontier = fed.registry.frontier();
    let cp = Checkpoint::of(&frontier, fed.node.did());
    let lie = Checkpoint {
        size: cp.size + 1,
        ..cp
    };
    let mut n = sign_note(&lie.text(), &lie.origin(), &fed.node);
    for i in 0..2 {
        n.push_str(&lie.cosign(
            &format!("zeuge.example/{}", i + 1),
            &fed.witnesses[i],
            COSIGNED,
        ));
    }
    v["checkpoint"]["note"] = json!(n);
    let mut c = err(
        &fed,
        "root_mismatch",
        "the note states a size one larger than the frontier's, with the frontier's root",
        &write(&v),
    );
    c.name = "survey-err-root-mismatch-size".to_owned();
    out.push(c);

    let mut v = base.clone();
    add_record(&mut v, &stranger);
    let mut c = err(
        &fed,
        &code,
        "a record of a key no steward admitted that the frontier does not name: its refusal, before unexpected_record",
        &write(&v),
    );
    c.name = "survey-err-gate-refusal-unnamed".to_owned();
    out.push(c);

    let other = genesis(
        "Eine andere Föderation".parse().expect("name"),
        vec![key(1).did().clone()],
        1,
        &key(1),
        &[&key(1)],
        ts("2026-05-01T10:00:00Z"),
    )
    .expect("genesis");
    let got = survey::verify(&good, &other).expect_err("another federation");
    assert_eq!(got.code.as_str(), "wrong_federation");
    out.push(Case {
        name: "survey-err-wrong-federation".to_owned(),
        json: json!({
            "description": "a sound bundle checked against the genesis of another federation",
            "genesis": String::from_utf8(other.canonical_json().to_vec()).expect("utf-8"),
            "bundle": String::from_utf8(good.clone()).expect("utf-8"),
            "expected": {"error": "wrong_federation"},
        }),
    });
    out
}

/// `rec` added to the bundle `v`'s records, in id order.
fn add_record(v: &mut Value, rec: &VerifiedRecord) {
    let mut list = v["records"].as_array().expect("records").clone();
    list.push(serde_json::from_slice(rec.canonical_json()).expect("json"));
    list.sort_by_key(|r| {
        VerifiedRecord::from_bytes(&kx_protocol::json::canonical(r).expect("canonical"))
            .expect("record")
            .id()
    });
    v["records"] = json!(list);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The record ids in a bundle, in its order.
pub fn ids(v: &Value) -> Vec<Hash32> {
    v["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            VerifiedRecord::from_bytes(&kx_protocol::json::canonical(r).expect("canonical"))
                .expect("record")
                .id()
        })
        .collect()
}
