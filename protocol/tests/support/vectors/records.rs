//! Record vectors: one accepted record per kind (with signed bytes, id and
//! action bytes) and at least one rejected record per error code, each with
//! exactly one defect.

use super::*;

pub(super) fn positive(
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

pub(super) fn negative(
    name: &str,
    desc: &str,
    input: Input,
    code: &str,
    context: Option<Hash32>,
) -> Case {
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
        Err(e) => assert_eq!(e.code().as_str(), code, "vector {name}: {e}"),
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

pub(super) enum Input {
    Text(String),
    Hex(Vec<u8>),
}

/// The record vectors and the secret-key file, in a fixed order.
pub(super) fn cases() -> Vec<Case> {
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
    let al = action(
        Kind::MemberAllowance,
        json!({"prev_action": head.to_hex(), "provider": a.did().as_str(), "allowance": 25000, "reason": "großes Portfolio"}),
        &[&s1, &s2],
    );
    let rec = sign(&s1, fed, 5, Some(admit.id()), al);
    cases.push(positive(
        "member-allowance",
        "stewards raise a provider's allowance to 25,000 log positions",
        &s1,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    let allowance_record = rec;
    // Peer ids are text: two that differ only in case are two entries; one of
    // 100 characters is the longest allowed.
    let observers = json!([
        {"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "KDN Prüfstelle"},
        {"peer_id": "12D3KooWd3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "Kreis Lippe"},
        {"peer_id": "1".repeat(100), "name": "Stadt Paderborn"}
    ]);
    let obs = action(
        Kind::FederationObservers,
        json!({"prev_action": head.to_hex(), "observers": observers}),
        &[&s1, &s2],
    );
    let rec = sign(&s2, fed, 3, Some(Hash32([3; 32])), obs);
    cases.push(positive(
        "federation-observers",
        "the stewards admit three observer nodes to a closed federation (two peer ids differ only in case; one has 100 characters)",
        &s2,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    let observers_record = rec;
    let wit = action(
        Kind::FederationWitnesses,
        json!({"prev_action": head.to_hex(), "witnesses": [
            {"name": "witness.kdn.example/w1", "key": key(0x51).did().as_str()},
            {"name": "pruefstelle.example/kx", "key": key(0x52).did().as_str()},
        ], "quorum": 2}),
        &[&s1, &s2],
    );
    let rec = sign(&s2, fed, 5, Some(Hash32([5; 32])), wit);
    cases.push(positive(
        "federation-witnesses",
        "the stewards name two witnesses, both needed for a checkpoint (quorum 2)",
        &s2,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    let witnesses_record = rec;
    let wit = action(
        Kind::FederationWitnesses,
        json!({"prev_action": head.to_hex(), "witnesses": [
            {"name": "~", "key": key(0x53).did().as_str()},
            {"name": "!a/b~c", "key": key(0x54).did().as_str()},
            {"name": "w".repeat(100), "key": key(0x55).did().as_str()},
        ], "quorum": 1}),
        &[&s1, &s2],
    );
    let rec = sign(&s2, fed, 6, Some(Hash32([6; 32])), wit);
    cases.push(positive(
        "federation-witnesses-names",
        "witness names at the edges: ~ alone, ! and ~ inside, 100 characters; quorum 1 of 3",
        &s2,
        &rec,
        &[(1, &s1), (2, &s2)],
    ));
    let mut most: Vec<Value> = (0..512)
        .map(|i| json!({"peer_id": format!("12D3KooWobserver{i:03}"), "name": format!("Beobachter {i}")}))
        .collect();
    most[0]["name"] = json!("N".repeat(200));
    let obs = action(
        Kind::FederationObservers,
        json!({"prev_action": head.to_hex(), "observers": most}),
        &[&s1, &s2],
    );
    let rec = sign(&s2, fed, 4, Some(Hash32([4; 32])), obs);
    cases.push(positive(
        "federation-observers-512",
        "the longest observer list: 512 entries, the first with a name of 200 characters",
        &s2,
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
    let mut with_break_even = offer_json("meldewesen-hosting", 1);
    with_break_even["break_even"] = json!(5);
    cases.push(positive(
        "offer-break-even",
        "offer declaring its break-even (optional member)",
        &a,
        &sign(
            &a,
            fed,
            2,
            Some(profile_rec.id()),
            body(Kind::Offer, with_break_even),
        ),
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

    cases.extend(super::exchange::records(&gns, &s1, &s2, &offer_rec));
    cases.extend(super::standards::records(&gns, &s1, &s2));

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
    // Strict JSON and text details (3, 5.2), one defect each.
    let title_at = base_text.find("\"title\":\"").expect("title") + "\"title\":\"".len();
    let mut with_bom = vec![0xef, 0xbb, 0xbf];
    with_bom.extend_from_slice(base_text.as_bytes());
    neg(
        "bom",
        "a byte-order mark before the record",
        Input::Hex(with_bom),
        "malformed_json",
    );
    let splice = |s: &str| {
        let mut t = base_text.clone();
        t.insert_str(title_at, s);
        t
    };
    neg(
        "lone-surrogate",
        "a lone UTF-16 surrogate in a \\u escape",
        t(splice("\\ud800")),
        "malformed_json",
    );
    neg(
        "control-character",
        "a raw TAB character inside a string",
        t(splice("\t")),
        "malformed_json",
    );
    neg(
        "unknown-escape",
        "the escape \\q",
        t(splice("\\q")),
        "malformed_json",
    );
    neg(
        "duplicate-key-escaped",
        "the envelope member seq twice, once spelled with an escape",
        t(base_text.replacen("\"seq\":2,", "\"seq\":2,\"s\\u0065q\":2,", 1)),
        "duplicate_key",
    );
    neg(
        "leap-second",
        "issued_at at second 60",
        t(mutate(&|v| v["issued_at"] = json!("2016-12-31T23:59:60Z"))),
        "malformed_timestamp",
    );
    neg(
        "before-1970",
        "issued_at in 1969",
        t(mutate(&|v| v["issued_at"] = json!("1969-12-31T23:59:59Z"))),
        "malformed_timestamp",
    );
    neg(
        "invalid-text-nbsp",
        "title ending in a no-break space (White_Space)",
        t(mutate(&|v| v["body"]["title"] = json!("Meldewesen\u{a0}"))),
        "invalid_text",
    );
    neg(
        "float-empty-exponent",
        "capacity written as 12e (an exponent without digits is still an exponent)",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":12e", 1)),
        "float_not_allowed",
    );
    neg(
        "float-out-of-range",
        "capacity written as 12345678901234567.5 (a fraction decides before the range)",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":12345678901234567.5", 1)),
        "float_not_allowed",
    );
    neg(
        "float-bare-point",
        "capacity written as 12. (a point with no digits is still a fraction)",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":12.", 1)),
        "float_not_allowed",
    );
    neg(
        "leading-zero-fraction",
        "capacity written as 012.5 (a digit after a leading 0 ends the number)",
        t(base_text.replacen("\"capacity\":12", "\"capacity\":012.5", 1)),
        "malformed_json",
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
        "invalid-value-break-even",
        "break_even 0",
        t(mutate(&|v| v["body"]["break_even"] = json!(0))),
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
    // y = p + 1: reduced mod p it would be the identity (weak_key), but an
    // unreduced y is malformed first.
    let mut unreduced = [0xffu8; 32];
    unreduced[0] = 0xee;
    unreduced[31] = 0x7f;
    let mut raw = vec![0xed, 0x01];
    raw.extend_from_slice(&unreduced);
    let y_unreduced = format!("did:key:z{}", bs58_encode(&raw));
    neg(
        "malformed-did-y-unreduced",
        "a key whose y is p + 1 (not reduced mod p; reduced it would be the identity point)",
        t(mutate(&|v| v["author"] = json!(y_unreduced))),
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
    let small_r = small_order_r_signature(&a, &base);
    let mut smr = base.clone();
    smr["sig"] = json!(kx_protocol::Signature(small_r).to_text());
    neg(
        "bad-signature-small-order-r",
        "R is the identity point and S = k·a: the verification equation holds, only the small-order check of R rejects it",
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
    let mut twice = record_value(&admit);
    let first = twice["body"]["approvals"][0].clone();
    twice["body"]["approvals"] = json!([first.clone(), first]);
    neg(
        "duplicate-approval",
        "the same steward's approval twice",
        t(text(&resign(&s1, twice))),
        "duplicate_entry",
    );
    // Observer lists the body rules refuse, each approved as it is: the body
    // rule, not the approvals, refuses them.
    let approved_with = |rec: &VerifiedRecord, field: &str, value: Value| {
        let kind = rec.record().kind();
        let mut v = record_value(rec);
        v["body"][field] = value;
        let mut action = v["body"].clone();
        if let Value::Object(m) = &mut action {
            m.remove("approvals");
        }
        let mut bytes = kx_protocol::record::ACTION_TAG.to_vec();
        bytes.extend(
            kx_protocol::json::canonical(&json!({"body": action, "kind": kind.as_str()}))
                .expect("jcs"),
        );
        v["body"]["approvals"] = json!([
            {"steward": s1.did().as_str(), "sig": s1.sign(&bytes).to_text()},
            {"steward": s2.did().as_str(), "sig": s2.sign(&bytes).to_text()},
        ]);
        let author = if rec.record().author == *s1.did() {
            &s1
        } else {
            &s2
        };
        t(text(&resign(author, v)))
    };
    let observers_with = |list: Value| approved_with(&observers_record, "observers", list);
    let w1 = json!({"name": "witness.kdn.example/w1", "key": key(0x51).did().as_str()});
    let w2 = json!({"name": "pruefstelle.example/kx", "key": key(0x52).did().as_str()});
    neg(
        "invalid-threshold-quorum-0",
        "federation.witnesses with two witnesses and quorum 0, correctly approved",
        approved_with(&witnesses_record, "quorum", json!(0)),
        "invalid_threshold",
    );
    neg(
        "duplicate-entry-witness-name",
        "federation.witnesses naming one name with two keys, correctly approved",
        approved_with(
            &witnesses_record,
            "witnesses",
            json!([w1.clone(), {"name": "witness.kdn.example/w1", "key": key(0x52).did().as_str()}]),
        ),
        "duplicate_entry",
    );
    neg(
        "invalid-value-witness-name-plus",
        "a witness name with a +, correctly approved",
        approved_with(
            &witnesses_record,
            "witnesses",
            json!([{"name": "witness+kdn", "key": key(0x51).did().as_str()}, w2.clone()]),
        ),
        "invalid_value",
    );
    neg(
        "invalid-length-witness-name",
        "a witness name of 101 characters, correctly approved",
        approved_with(
            &witnesses_record,
            "witnesses",
            json!([{"name": "w".repeat(101), "key": key(0x51).did().as_str()}, w2.clone()]),
        ),
        "invalid_length",
    );
    neg(
        "malformed-did-witness-key",
        "a witness key that is not a did, correctly approved",
        approved_with(
            &witnesses_record,
            "witnesses",
            json!([{"name": "witness.kdn.example/w1", "key": "did:web:kdn.example"}, w2.clone()]),
        ),
        "malformed_did",
    );
    let sixty_five: Vec<Value> = (0..65u8)
        .map(|i| json!({"name": format!("w{i}"), "key": key(100 + i).did().as_str()}))
        .collect();
    neg(
        "invalid-value-witnesses-65",
        "federation.witnesses with 65 witnesses (at most 64), correctly approved",
        approved_with(&witnesses_record, "witnesses", json!(sixty_five)),
        "invalid_value",
    );
    neg(
        "invalid-threshold-quorum",
        "federation.witnesses with quorum 3 of two witnesses, correctly approved",
        approved_with(&witnesses_record, "quorum", json!(3)),
        "invalid_threshold",
    );
    neg(
        "duplicate-entry-witness-key",
        "federation.witnesses naming one key under two names, correctly approved",
        approved_with(
            &witnesses_record,
            "witnesses",
            json!([w1.clone(), {"name": "witness.kdn.example/w2", "key": key(0x51).did().as_str()}]),
        ),
        "duplicate_entry",
    );
    neg(
        "invalid-value-witness-name",
        "a witness name with a space, correctly approved",
        approved_with(
            &witnesses_record,
            "witnesses",
            json!([{"name": "witness kdn", "key": key(0x51).did().as_str()}, w1.clone()]),
        ),
        "invalid_value",
    );
    neg(
        "invalid-value-allowance",
        "member.allowance of 0, correctly approved",
        approved_with(&allowance_record, "allowance", json!(0)),
        "invalid_value",
    );
    neg(
        "duplicate-entry-observers",
        "federation.observers naming one peer id twice (with two names), correctly approved",
        observers_with(json!([
            {"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "KDN Prüfstelle"},
            {"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "KDN"}
        ])),
        "duplicate_entry",
    );
    let many: Vec<Value> = (0..513)
        .map(|i| json!({"peer_id": format!("12D3KooWobserver{i:03}"), "name": format!("Beobachter {i}")}))
        .collect();
    neg(
        "observers-513",
        "federation.observers with 513 entries (at most 512)",
        observers_with(json!(many)),
        "invalid_value",
    );
    neg(
        "observers-name-empty",
        "an observer with an empty name",
        observers_with(
            json!([{"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": ""}]),
        ),
        "invalid_length",
    );
    let mut no_prev = record_value(&observers_record);
    if let Value::Object(m) = &mut no_prev["body"] {
        m.remove("prev_action");
    }
    neg(
        "observers-no-prev-action",
        "federation.observers without prev_action",
        t(text(&resign(&s2, no_prev))),
        "missing_field",
    );
    neg(
        "observers-peer-id-length",
        "an observer's peer_id of 101 characters (text(1, 100))",
        observers_with(json!([{"peer_id": "1".repeat(101), "name": "KDN"}])),
        "invalid_length",
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
    cases
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

/// The message `key` signs for `record`, its secret scalar and public point.
fn signing_parts(
    key: &SecretKey,
    record: &Value,
) -> (
    Vec<u8>,
    curve25519_dalek::scalar::Scalar,
    curve25519_dalek::edwards::EdwardsPoint,
) {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
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
    (msg, a, big_a)
}

/// The challenge `k = H(R || A || M)` of RFC 8032.
fn challenge(
    big_r: &curve25519_dalek::edwards::EdwardsPoint,
    big_a: &curve25519_dalek::edwards::EdwardsPoint,
    msg: &[u8],
) -> curve25519_dalek::scalar::Scalar {
    use sha2::{Digest, Sha512};
    let mut kh = Sha512::new();
    kh.update(big_r.compress().to_bytes());
    kh.update(big_a.compress().to_bytes());
    kh.update(msg);
    curve25519_dalek::scalar::Scalar::from_bytes_mod_order_wide(&kh.finalize().into())
}

/// A signature on `record` by `key` with R the identity point and `S = k·a`:
/// `[S]B - [k]A` is the identity, so the verification equation holds (checked
/// here) and only the rule that R must not be of small order rejects it.
fn small_order_r_signature(key: &SecretKey, record: &Value) -> [u8; 64] {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::edwards::EdwardsPoint;
    use curve25519_dalek::traits::Identity;
    let (msg, a, big_a) = signing_parts(key, record);
    let big_r = EdwardsPoint::identity();
    let k = challenge(&big_r, &big_a, &msg);
    let s = k * a;
    assert_eq!(s * B - k * big_a, big_r, "the equation holds");
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r.compress().to_bytes());
    sig[32..].copy_from_slice(&s.to_bytes());
    sig
}

/// A signature on `record` by `key` whose R has a small-order component:
/// `R = rB + T`, `S = r + k·a`, with `k = H(R || A || M)`. It satisfies the
/// cofactored equation `[8]SB = [8]R + [8]kA` (checked here) but not the strict one.
fn mixed_order_signature(key: &SecretKey, record: &Value) -> [u8; 64] {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    let (msg, a, big_a) = signing_parts(key, record);
    let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest(b"kx mixed-order vector").into());
    let big_r = r * B + EIGHT_TORSION[1];
    let k = challenge(&big_r, &big_a, &msg);
    let s = r + k * a;
    let lhs = (s * B).mul_by_cofactor();
    let rhs = (big_r + k * big_a).mul_by_cofactor();
    assert_eq!(lhs, rhs, "the cofactored equation holds");
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r.compress().to_bytes());
    sig[32..].copy_from_slice(&s.to_bytes());
    sig
}
