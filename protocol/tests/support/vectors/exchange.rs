//! The exchange's state vector: municipalities admitted, demand, requests,
//! answers, ends, a succession and a consolidation, each refusal of the
//! ingest and the submission gate, and agreements and capacity read at two
//! instants.

use super::state::Script;
use super::*;

/// An offer body like `offer` but with its own capacity.
fn offer_with_capacity(offer_id: &str, capacity: u64) -> Body {
    let mut v = offer_json(offer_id, 1);
    v["capacity"] = json!(capacity);
    body(Kind::Offer, v)
}

pub(super) fn case() -> Case {
    let s1 = key(1);
    let s2 = key(2);
    let a = key(10); // ITK Rheinland
    let b = key(11); // KRZN
    let c = key(12); // GKD Paderborn
    let d = key(13); // OWL-IT
    let e = key(14); // suspended below
    let f = key(15); // revoked below
    let pb = key(60); // Paderborn
    let bu = key(61); // Büren
    let ne = key(62); // Neuss
    let gns = genesis(&[&s1, &s2], 2);
    let mut sc = Script::new(&gns);
    let both: [&SecretKey; 2] = [&s1, &s2];
    for (k, name) in [
        (&a, "ITK Rheinland"),
        (&b, "KRZN"),
        (&c, "GKD Paderborn"),
        (&d, "Ostwestfalen-Lippe-IT"),
        (&e, "Provider E"),
        (&f, "Provider F"),
    ] {
        sc.act(
            &format!("admit {name}"),
            &s1,
            Kind::MemberAdmit,
            json!({"provider": k.did().as_str(), "name": name}),
            &both,
            "stored",
        );
    }
    let town = |k: &SecretKey, ags: &str, name: &str| json!({"ags": ags, "member": k.did().as_str(), "name": name});
    let towns = |list: Vec<Value>| json!({"municipalities": list});
    sc.act(
        "admit Paderborn and Büren in one action",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![
            town(&pb, "05774032", "Paderborn"),
            town(&bu, "05774016", "Büren"),
        ]),
        &both,
        "stored",
    );
    sc.act(
        "admit a second key for Paderborn's AGS",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&ne, "05774032", "Paderborn")]),
        &both,
        "ags_taken",
    );
    sc.act(
        "admit Paderborn's key again, for another AGS",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&pb, "05162024", "Neuss")]),
        &both,
        "already_member",
    );
    sc.act(
        "admit a provider's key as a municipality",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&a, "05162024", "Neuss")]),
        &both,
        "already_member",
    );
    sc.act(
        "admit Neuss",
        &s2,
        Kind::MunicipalityAdmit,
        towns(vec![town(&ne, "05162024", "Neuss")]),
        &both,
        "stored",
    );
    // Profiles list Kreis Neuss (05162) as members.
    sc.publish(
        "profile of ITK Rheinland",
        &a,
        profile("Zweckverband IT-Kooperation Rheinland", "ITK Rheinland"),
        "stored",
    );
    let b_profile = sc.publish(
        "profile of KRZN",
        &b,
        profile("Kommunales Rechenzentrum Niederrhein", "KRZN"),
        "stored",
    );
    let hosting = sc.publish(
        "ITK Rheinland offers hosting (capacity 12)",
        &a,
        offer("meldewesen-hosting", 1),
        "stored",
    );
    let soc = sc.publish(
        "ITK Rheinland offers a SOC (capacity 2)",
        &a,
        offer_with_capacity("soc", 2),
        "stored",
    );
    let eakte = sc.publish(
        "ITK Rheinland offers an e-file service",
        &a,
        offer("e-akte", 1),
        "stored",
    );
    sc.publish(
        "and withdraws it",
        &a,
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "e-akte", "version": 1, "reason": "Eingestellt"}),
        ),
        "stored",
    );
    let konto = sc.publish(
        "GKD Paderborn offers a service account",
        &c,
        offer("servicekonto", 1),
        "stored",
    );
    let gis = sc.publish("GKD Paderborn offers GIS", &c, offer("gis", 1), "stored");
    sc.publish(
        "OWL-IT offers its own service account",
        &d,
        offer("servicekonto-owl", 1),
        "stored",
    );
    let scan = sc.publish("provider E offers scanning", &e, offer("scan", 1), "stored");
    let druck = sc.publish(
        "provider F offers printing",
        &f,
        offer("druck", 1),
        "stored",
    );
    let cut = |k: &SecretKey| json!({"provider": k.did().as_str(), "key": k.did().as_str(), "from_seq": 2, "reason": "Prüfung"});
    sc.act(
        "suspend provider E after its offer",
        &s1,
        Kind::MemberSuspend,
        cut(&e),
        &both,
        "stored",
    );
    sc.act(
        "revoke provider F after its offer",
        &s1,
        Kind::MemberRevoke,
        cut(&f),
        &both,
        "stored",
    );

    // --- the ingest gate: what a record and its author's identity decide ------
    sc.publish(
        "a municipality publishes an offer",
        &pb,
        offer("stadt", 1),
        "not_a_provider",
    );
    let mut for_others = request_json(&hosting.id(), "2026-02-01T00:00:00Z");
    for_others["on_behalf_of"] = json!(["05774032"]);
    sc.publish(
        "a municipality requests for another",
        &bu,
        body(Kind::Request, for_others),
        "on_behalf_not_allowed",
    );
    sc.publish(
        "Paderborn states a demand",
        &pb,
        demand("e-akte-2027", 1),
        "stored",
    );
    sc.publish(
        "and a second version of it",
        &pb,
        demand("e-akte-2027", 2),
        "stored",
    );
    sc.publish("Büren states a demand", &bu, demand("dms", 1), "stored");
    sc.publish(
        "and withdraws it",
        &bu,
        body(
            Kind::DemandWithdraw,
            json!({"demand_id": "dms", "version": 1, "reason": "Anders gelöst"}),
        ),
        "stored",
    );
    sc.publish(
        "KRZN, a provider, states a demand",
        &b,
        demand("soc-24x7", 1),
        "stored",
    );

    // --- the submission gate: the fold's rules against the state --------------
    sc.submitting = true;
    let start = "2026-02-01T00:00:00Z";
    let r1 = sc.publish(
        "Paderborn requests hosting",
        &pb,
        request(&hosting.id(), start),
        "stored",
    );
    sc.submit("the same request again", r1.clone(), "known", false);
    sc.publish(
        "ITK Rheinland requests its own offer",
        &a,
        request(&soc.id(), start),
        "own_offer",
    );
    let mut bundle = request_json(&hosting.id(), start);
    bundle["on_behalf_of"] = json!(["05774032"]);
    sc.publish(
        "KRZN requests for a municipality its profile does not list",
        &b,
        body(Kind::Request, bundle.clone()),
        "not_a_member_municipality",
    );
    sc.publish(
        "Büren requests a start before the offer is valid",
        &bu,
        request(&hosting.id(), "2025-12-01T00:00:00Z"),
        "start_before_offer",
    );
    sc.publish(
        "Büren requests a start after the offer expires",
        &bu,
        request(&hosting.id(), "2028-01-01T00:00:00Z"),
        "offer_expired",
    );
    sc.publish(
        "Büren requests a profile",
        &bu,
        request(&b_profile.id(), start),
        "not_an_offer",
    );
    sc.publish(
        "Büren requests a record nobody holds",
        &bu,
        request(&Hash32([0xab; 32]), start),
        "unknown_record",
    );
    sc.publish(
        "Büren requests a withdrawn offer",
        &bu,
        request(&eakte.id(), start),
        "offer_withdrawn",
    );
    sc.publish(
        "Neuss requests a suspended provider's offer",
        &ne,
        request(&scan.id(), start),
        "provider_suspended",
    );
    sc.publish(
        "Neuss requests a revoked provider's offer",
        &ne,
        request(&druck.id(), start),
        "provider_revoked",
    );
    let r2 = sc.publish(
        "Büren requests hosting",
        &bu,
        request(&hosting.id(), start),
        "stored",
    );
    let r3 = sc.publish(
        "KRZN, a provider, requests the SOC",
        &b,
        request(&soc.id(), start),
        "stored",
    );
    bundle["on_behalf_of"] = json!(["05162024"]);
    let r4 = sc.publish(
        "KRZN requests hosting for its member Neuss",
        &b,
        body(Kind::Request, bundle),
        "stored",
    );
    let r5 = sc.publish(
        "Neuss requests the SOC",
        &ne,
        request(&soc.id(), start),
        "stored",
    );
    let r6 = sc.publish(
        "Paderborn requests the SOC",
        &pb,
        request(&soc.id(), start),
        "stored",
    );
    let r7 = sc.publish(
        "Paderborn requests GKD's service account",
        &pb,
        request(&konto.id(), start),
        "stored",
    );
    let r8 = sc.publish(
        "Büren requests GKD's GIS",
        &bu,
        request(&gis.id(), start),
        "stored",
    );
    let r9 = sc.publish(
        "Neuss requests hosting",
        &ne,
        request(&hosting.id(), start),
        "stored",
    );
    sc.publish(
        "GKD Paderborn accepts ITK Rheinland's request",
        &c,
        about(Kind::RequestAccept, &r1.id()),
        "not_responder",
    );
    let answer = |sc: &mut Script,
                  note: &str,
                  k: &SecretKey,
                  kind: Kind,
                  r: &VerifiedRecord,
                  at: &str,
                  expect: &str| {
        let rec = sc.make_at(k, about(kind, &r.id()), at);
        let ok = expect == "stored";
        sc.submit(note, rec, expect, ok)
    };
    answer(
        &mut sc,
        "ITK Rheinland accepts Paderborn's request",
        &a,
        Kind::RequestAccept,
        &r1,
        "2026-01-16T09:00:00Z",
        "stored",
    );
    let late = sc.make_at(
        &a,
        about(Kind::RequestDecline, &r1.id()),
        "2026-01-16T10:00:00Z",
    );
    sc.submit(
        "and declines it afterwards",
        late.clone(),
        "already_answered",
        false,
    );
    sc.submitting = false;
    sc.submit(
        "the same decline from a peer: stored, without effect (the first answer stands)",
        late,
        "stored",
        true,
    );
    sc.submitting = true;
    sc.publish(
        "Büren withdraws its request",
        &bu,
        about(Kind::RequestWithdraw, &r2.id()),
        "stored",
    );
    answer(
        &mut sc,
        "ITK Rheinland accepts the withdrawn request",
        &a,
        Kind::RequestAccept,
        &r2,
        "2026-01-16T11:00:00Z",
        "request_withdrawn",
    );
    sc.publish(
        "Paderborn withdraws its accepted request",
        &pb,
        about(Kind::RequestWithdraw, &r1.id()),
        "already_answered",
    );
    sc.publish(
        "Büren withdraws Paderborn's request",
        &bu,
        about(Kind::RequestWithdraw, &r1.id()),
        "not_a_party",
    );
    answer(
        &mut sc,
        "ITK Rheinland accepts an offer",
        &a,
        Kind::RequestAccept,
        &hosting,
        "2026-01-16T12:00:00Z",
        "not_a_request",
    );
    // Capacity 2: acceptances count in the order of their issued_at.
    answer(
        &mut sc,
        "ITK Rheinland accepts KRZN's SOC request",
        &a,
        Kind::RequestAccept,
        &r3,
        "2026-01-20T09:00:00Z",
        "stored",
    );
    answer(
        &mut sc,
        "then Paderborn's",
        &a,
        Kind::RequestAccept,
        &r6,
        "2026-01-21T09:00:00Z",
        "stored",
    );
    answer(
        &mut sc,
        "then Neuss's, over the capacity",
        &a,
        Kind::RequestAccept,
        &r5,
        "2026-01-22T09:00:00Z",
        "stored",
    );
    answer(
        &mut sc,
        "ITK Rheinland accepts KRZN's bundled request",
        &a,
        Kind::RequestAccept,
        &r4,
        "2026-01-22T10:00:00Z",
        "stored",
    );
    // GKD Paderborn merges into OWL-IT.
    let handover = sc.publish(
        "GKD Paderborn hands its portfolio to OWL-IT",
        &c,
        body(Kind::Succession, json!({"successor": d.did().as_str(), "effective_at": "2026-03-01T00:00:00Z", "offer_ids": []})),
        "stored",
    );
    sc.publish(
        "OWL-IT accepts",
        &d,
        body(
            Kind::SuccessionAccept,
            json!({"succession": handover.id().to_hex()}),
        ),
        "stored",
    );
    answer(
        &mut sc,
        "GKD Paderborn accepts Paderborn's request",
        &c,
        Kind::RequestAccept,
        &r7,
        "2026-01-23T09:00:00Z",
        "stored",
    );
    answer(
        &mut sc,
        "OWL-IT, the successor, accepts Büren's GIS request",
        &d,
        Kind::RequestAccept,
        &r8,
        "2026-01-23T10:00:00Z",
        "stored",
    );
    let merge = json!({"provider": c.did().as_str(), "offer_id": "servicekonto", "replacement": "servicekonto-owl", "reason": "Doppeltes Angebot nach der Fusion"});
    sc.publish(
        "KRZN consolidates GKD's offer",
        &b,
        body(Kind::OfferConsolidate, merge.clone()),
        "not_a_successor",
    );
    sc.publish(
        "OWL-IT consolidates GKD's service account into its own",
        &d,
        body(Kind::OfferConsolidate, merge),
        "stored",
    );
    sc.publish(
        "Büren requests the consolidated offer",
        &bu,
        request(&konto.id(), start),
        "offer_withdrawn",
    );
    sc.publish(
        "GKD Paderborn ends ITK Rheinland's agreement",
        &c,
        about(Kind::AgreementEnd, &r1.id()),
        "not_a_party",
    );
    sc.publish(
        "Neuss ends a request nobody accepted",
        &ne,
        about(Kind::AgreementEnd, &r9.id()),
        "not_an_agreement",
    );
    let end = |at: &str| json!({"request": r3.id().to_hex(), "effective_at": at, "reason": "Eigener SOC aufgebaut"});
    sc.publish(
        "KRZN ends its SOC agreement from July",
        &b,
        body(Kind::AgreementEnd, end("2026-06-30T23:59:59Z")),
        "stored",
    );
    sc.publish(
        "Paderborn ends its hosting agreement",
        &pb,
        about(Kind::AgreementEnd, &r1.id()),
        "stored",
    );
    sc.submitting = false;

    let state = sc.reg.state();
    let at = |t: &str| {
        let t = ts(t);
        let agreements: Vec<Value> = state
            .requests
            .keys()
            .filter_map(|id| Some((id, state.agreement_status(id, t)?)))
            .map(|(id, s)| json!({"request": id.to_hex(), "status": s.as_str()}))
            .collect();
        let capacity: Vec<Value> = [(&a, "soc"), (&a, "meldewesen-hosting"), (&d, "servicekonto-owl")]
            .iter()
            .map(|(k, o)| {
                let cap = state.capacity(k.did(), &o.parse().expect("offer id"), t);
                json!({"provider": k.did().as_str(), "offer_id": o, "declared": cap.declared, "taken": cap.taken, "remaining": cap.remaining()})
            })
            .collect();
        json!({"t": t.to_string(), "agreements": agreements, "capacity": capacity})
    };
    let instants = vec![at("2026-04-01T00:00:00Z"), at("2026-07-01T00:00:00Z")];
    // The instants show what the rules decide: the SOC's third acceptance is
    // over capacity until KRZN's agreement ends, the consolidated service
    // account's agreement counts against OWL-IT's own offer.
    let status = |v: &Value, r: &VerifiedRecord| {
        v["agreements"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["request"] == json!(r.id().to_hex())))
            .map(|x| x["status"].clone())
    };
    assert_eq!(status(&instants[0], &r5), Some(json!("over_capacity")));
    assert_eq!(status(&instants[1], &r5), Some(json!("active")));
    assert_eq!(status(&instants[1], &r3), Some(json!("ended")));
    assert_eq!(status(&instants[0], &r2), None);
    assert_eq!(instants[0]["capacity"][2]["taken"], json!(1));
    assert_eq!(status(&instants[0], &r7), Some(json!("active")));
    Case {
        name: "state-exchange".into(),
        json: json!({
            "desc": "the exchange: municipalities admitted, demand, requests (also by a provider, and for members), answers, a succession with an answer by the successor, a consolidation, ends; every refusal of the ingest gate and of the submission gate (steps with \"via\": \"submit\"); agreements and capacity at two instants",
            "type": "state",
            "genesis": record_value(&gns),
            "steps": sc.steps,
            "expected": {"summary": state.summary(), "digest": state.digest().to_hex(), "at": instants},
        }),
    }
}

/// One accepted record of each exchange kind, and the record-level codes the
/// exchange adds. `offer` is the offer of the record vectors, by ITK Rheinland
/// (seed 10), which rotated to seed 20 and handed its portfolio to KRZN
/// (seed 11).
pub(super) fn records(
    gns: &VerifiedRecord,
    s1: &SecretKey,
    s2: &SecretKey,
    offer: &VerifiedRecord,
) -> Vec<Case> {
    use super::records::{Input, negative, positive};
    let fed = gns.record().federation;
    let pb = key(60);
    let itk = key(20);
    let krzn = key(11);
    let mut cases = Vec::new();
    let admit = action(
        Kind::MunicipalityAdmit,
        json!({"prev_action": fed.to_hex(), "municipalities": [
            {"ags": "05774032", "member": pb.did().as_str(), "name": "Paderborn"},
            {"ags": "05774016", "member": key(61).did().as_str(), "name": "Büren"}
        ]}),
        &[s1, s2],
    );
    let rec = sign(s2, fed, 1, None, admit);
    cases.push(positive(
        "municipality-admit",
        "two municipalities admitted as buyers in one action, each key bound to its AGS",
        s2,
        &rec,
        &[(1, s1), (2, s2)],
    ));
    let mut log: Vec<VerifiedRecord> = Vec::new();
    let next = |k: &SecretKey, b: Body, log: &mut Vec<VerifiedRecord>| {
        let mine: Vec<&VerifiedRecord> = log
            .iter()
            .filter(|r| r.record().author == *k.did())
            .collect();
        let rec = sign(
            k,
            fed,
            mine.len() as u64 + 1,
            mine.last().map(|r| r.id()),
            b,
        );
        log.push(rec.clone());
        rec
    };
    let d = next(&pb, demand("e-akte-2027", 1), &mut log);
    cases.push(positive(
        "demand",
        "a municipality's demand for an e-file service",
        &pb,
        &d,
        &[],
    ));
    let dw = next(
        &pb,
        body(
            Kind::DemandWithdraw,
            json!({"demand_id": "e-akte-2027", "version": 1, "reason": "Bedarf gedeckt"}),
        ),
        &mut log,
    );
    cases.push(positive(
        "demand-withdraw",
        "the demand withdrawn up to version 1",
        &pb,
        &dw,
        &[],
    ));
    let req = next(&pb, request(&offer.id(), "2026-02-01T00:00:00Z"), &mut log);
    cases.push(positive(
        "request",
        "a municipality requests one offer version for a 12-month term",
        &pb,
        &req,
        &[],
    ));
    let wd = next(&pb, about(Kind::RequestWithdraw, &req.id()), &mut log);
    cases.push(positive(
        "request-withdraw",
        "the buyer withdraws its request",
        &pb,
        &wd,
        &[],
    ));
    let acc = next(&itk, about(Kind::RequestAccept, &req.id()), &mut log);
    cases.push(positive(
        "request-accept",
        "the offer's provider accepts, with its current key",
        &itk,
        &acc,
        &[],
    ));
    let dec = next(&itk, about(Kind::RequestDecline, &req.id()), &mut log);
    cases.push(positive(
        "request-decline",
        "a decline with its reason",
        &itk,
        &dec,
        &[],
    ));
    let end = next(&pb, about(Kind::AgreementEnd, &req.id()), &mut log);
    cases.push(positive(
        "agreement-end",
        "the buyer ends the agreement from a date after the record's issued_at",
        &pb,
        &end,
        &[],
    ));
    let cons = next(
        &krzn,
        body(
            Kind::OfferConsolidate,
            json!({"provider": key(10).did().as_str(), "offer_id": "meldewesen-hosting", "replacement": "meldewesen", "reason": "Doppeltes Angebot nach der Fusion"}),
        ),
        &mut log,
    );
    cases.push(positive(
        "offer-consolidate",
        "the successor retires an inherited offer in favour of its own",
        &krzn,
        &cons,
        &[],
    ));
    let mut bad = record_value(&d);
    bad["body"]["demand_id"] = json!("E-Akte 2027");
    cases.push(negative(
        "malformed-demand-id",
        "demand id with capitals and a space",
        Input::Text(text(&resign(&pb, bad))),
        "malformed_demand_id",
        None,
    ));
    let mut back = record_value(&end);
    back["body"]["effective_at"] = json!("2026-01-01T00:00:00Z");
    cases.push(negative(
        "backdated-end",
        "an agreement ended from a date before the record was issued",
        Input::Text(text(&resign(&pb, back))),
        "backdated_end",
        None,
    ));
    cases
}
