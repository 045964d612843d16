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

pub(super) fn cases() -> Vec<Case> {
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
    let r1_end = sc.publish(
        "Paderborn ends its hosting agreement",
        &pb,
        about(Kind::AgreementEnd, &r1.id()),
        "stored",
    );

    // --- rules the fold and the instants decide (each step below would come
    // out differently under a plausible misreading; see the notes) ----------
    let peer = |sc: &mut Script, note: &str, rec: VerifiedRecord| {
        let was = sc.submitting;
        sc.submitting = false;
        let rec = sc.submit(note, rec, "stored", true);
        sc.submitting = was;
        rec
    };
    // Capacity is first fit in acceptance order, each agreement taking a place
    // per taker: 1 fits, 3 do not (1 + 3 > 3), 2 fit (1 + 2 = 3). The bundle
    // of 3 has the lowest request id, so an order by request id differs.
    let backup = sc.publish(
        "ITK Rheinland offers backup (capacity 3)",
        &a,
        offer_with_capacity("backup", 3),
        "stored",
    );
    let small = sc.publish(
        "Paderborn requests backup",
        &pb,
        request(&backup.id(), start),
        "stored",
    );
    let mut three = request_json(&backup.id(), "2026-09-01T00:00:00Z");
    three["on_behalf_of"] = json!(["05162004", "05162008", "05162012"]);
    let big = (0..)
        .map(|i| {
            three["note"] = json!(format!("Bündelung für drei Kommunen ({i})"));
            sc.make(&b, body(Kind::Request, three.clone()))
        })
        .find(|r| r.id() < small.id())
        .expect("a lower id");
    let big = sc.submit(
        "KRZN requests backup for three members, from September",
        big,
        "stored",
        true,
    );
    let mut two = request_json(&backup.id(), start);
    two["on_behalf_of"] = json!(["05162016", "05162020"]);
    let pair = sc.publish(
        "KRZN requests backup for two members",
        &b,
        body(Kind::Request, two),
        "stored",
    );
    for (note, r, at) in [
        (
            "ITK Rheinland accepts Paderborn's backup request first",
            &small,
            "2026-01-24T09:00:00Z",
        ),
        (
            "then the bundle of three (over capacity)",
            &big,
            "2026-01-24T10:00:00Z",
        ),
        (
            "then the bundle of two (fits)",
            &pair,
            "2026-01-24T11:00:00Z",
        ),
    ] {
        answer(&mut sc, note, &a, Kind::RequestAccept, r, at, "stored");
    }
    // A term in months ends on the same day, or the month's last: 31 January
    // plus one month is 28 February.
    let mut month = request_json(&hosting.id(), "2026-01-31T00:00:00Z");
    month["term_months"] = json!(1);
    let short = sc.publish(
        "Büren requests hosting for one month from 31 January",
        &bu,
        body(Kind::Request, month),
        "stored",
    );
    answer(
        &mut sc,
        "ITK Rheinland accepts it",
        &a,
        Kind::RequestAccept,
        &short,
        "2026-01-25T09:00:00Z",
        "stored",
    );
    let later = sc.publish(
        "Paderborn requests hosting from May",
        &pb,
        request(&hosting.id(), "2026-05-01T00:00:00Z"),
        "stored",
    );
    answer(
        &mut sc,
        "ITK Rheinland accepts it (pending until May)",
        &a,
        Kind::RequestAccept,
        &later,
        "2026-01-25T10:00:00Z",
        "stored",
    );
    // A responder's first answer in its log counts, not its lowest id.
    let twice = sc.publish(
        "Büren requests hosting again",
        &bu,
        request(&hosting.id(), start),
        "stored",
    );
    let (decline, accept) = (0..)
        .map(|i| {
            let d = sc.make_at(
                &a,
                body(Kind::RequestDecline, json!({"request": twice.id().to_hex(), "reason": format!("Kapazität ausgeschöpft ({i})")})),
                "2026-01-26T09:00:00Z",
            );
            let (seq, _) = sc.next(&a);
            let acc = kx_protocol::record::sign(
                &a,
                kx_protocol::record::Draft {
                    federation: sc.fed,
                    seq: seq + 1,
                    prev: Some(d.id()),
                    issued_at: ts("2026-01-26T10:00:00Z"),
                    body: about(Kind::RequestAccept, &twice.id()),
                },
            )
            .expect("sign");
            (d, acc)
        })
        .find(|(d, acc)| acc.id() < d.id())
        .expect("an acceptance with the lower id");
    sc.submit("ITK Rheinland declines it", decline, "stored", true);
    peer(
        &mut sc,
        "and accepts it afterwards, from a peer: the decline stands (first in its log)",
        accept,
    );
    // An acceptance after the responder withdrew the version is void.
    let print = sc.publish(
        "ITK Rheinland offers printing",
        &a,
        offer("print", 1),
        "stored",
    );
    let void = sc.publish(
        "Paderborn requests printing",
        &pb,
        request(&print.id(), start),
        "stored",
    );
    sc.publish(
        "ITK Rheinland withdraws printing",
        &a,
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "print", "version": 1, "reason": "Eingestellt"}),
        ),
        "stored",
    );
    let late_accept = sc.make_at(
        &a,
        about(Kind::RequestAccept, &void.id()),
        "2026-01-27T09:00:00Z",
    );
    sc.submit(
        "and accepts the request afterwards",
        late_accept.clone(),
        "offer_withdrawn",
        false,
    );
    peer(
        &mut sc,
        "the same acceptance from a peer: void, so the request no longer counts",
        late_accept,
    );
    // An acceptance that crossed the buyer's withdrawal makes an agreement.
    sc.publish(
        "Neuss withdraws its hosting request",
        &ne,
        about(Kind::RequestWithdraw, &r9.id()),
        "stored",
    );
    let crossed = sc.make_at(
        &a,
        about(Kind::RequestAccept, &r9.id()),
        "2026-01-27T10:00:00Z",
    );
    sc.submit(
        "ITK Rheinland accepts it",
        crossed.clone(),
        "request_withdrawn",
        false,
    );
    peer(
        &mut sc,
        "the same acceptance from a peer: an agreement (it crossed the withdrawal)",
        crossed,
    );
    // A request on an unavailable offer counts only if accepted.
    let unavailable = sc.make(&ne, request(&eakte.id(), start));
    peer(
        &mut sc,
        "Neuss requests the withdrawn e-file offer, from a peer: it does not count",
        unavailable,
    );
    // A request is void on an offer that had expired when it was issued.
    let mut old = offer_json("alt", 1);
    old["valid_from"] = json!("2025-01-01T00:00:00Z");
    old["valid_until"] = json!("2026-01-10T00:00:00Z");
    let alt = sc.publish(
        "ITK Rheinland's offer that expired on 10 January",
        &a,
        body(Kind::Offer, old),
        "stored",
    );
    sc.publish(
        "Paderborn requests it from 5 January, on 15 January",
        &pb,
        request(&alt.id(), "2026-01-05T00:00:00Z"),
        "offer_expired",
    );
    let mut soon = offer_json("later", 1);
    soon["valid_from"] = json!("2026-05-01T00:00:00Z");
    sc.publish(
        "ITK Rheinland's offer valid from May",
        &a,
        body(Kind::Offer, soon),
        "stored",
    );
    // Every accepted succession makes a responder, for the offers it covers.
    let part = sc.publish(
        "GKD Paderborn also hands GIS alone to KRZN",
        &c,
        body(Kind::Succession, json!({"successor": b.did().as_str(), "effective_at": "2026-06-01T00:00:00Z", "offer_ids": ["gis"]})),
        "stored",
    );
    sc.publish(
        "KRZN accepts",
        &b,
        body(
            Kind::SuccessionAccept,
            json!({"succession": part.id().to_hex()}),
        ),
        "stored",
    );
    let gis2 = sc.publish(
        "Paderborn requests GIS",
        &pb,
        request(&gis.id(), start),
        "stored",
    );
    answer(
        &mut sc,
        "KRZN accepts it, as a responder for GIS",
        &b,
        Kind::RequestAccept,
        &gis2,
        "2026-01-28T09:00:00Z",
        "stored",
    );
    let r7_accept = sc.reg.state().requests[&r7.id()]
        .answer
        .as_ref()
        .expect("answered")
        .record;
    let not_covered = (0..)
        .map(|i| {
            sc.make(&b, body(Kind::RequestDecline, json!({"request": r7.id().to_hex(), "reason": format!("Nicht zuständig ({i})")})))
        })
        .find(|r| r.id() < r7_accept)
        .expect("a lower id");
    sc.submit(
        "KRZN declines Paderborn's service account agreement, which its succession does not cover",
        not_covered.clone(),
        "not_responder",
        false,
    );
    peer(&mut sc, "the same from a peer: no effect", not_covered);
    // Only a successor's consolidation or an agreement's party's end counts.
    let gis_only = json!({"provider": c.did().as_str(), "offer_id": "gis", "reason": "Doppelt"});
    let by_other = sc.make(&a, body(Kind::OfferConsolidate, gis_only.clone()));
    peer(
        &mut sc,
        "ITK Rheinland consolidates GKD's GIS, from a peer: no effect",
        by_other,
    );
    let by_self = sc.make(&c, body(Kind::OfferConsolidate, gis_only));
    peer(
        &mut sc,
        "GKD Paderborn consolidates its own GIS, from a peer: no effect",
        by_self,
    );
    let early = json!({"request": r1.id().to_hex(), "effective_at": "2026-08-01T00:00:00Z", "reason": "Fremd"});
    let foreign_end = sc.make(&b, body(Kind::AgreementEnd, early));
    peer(
        &mut sc,
        "KRZN ends Paderborn's hosting agreement earlier, from a peer: no effect",
        foreign_end,
    );
    let pb_end = sc.publish(
        "Paderborn ends its SOC agreement from November",
        &pb,
        body(Kind::AgreementEnd, json!({"request": r6.id().to_hex(), "effective_at": "2026-10-31T00:00:00Z", "reason": "Landeslösung"})),
        "stored",
    );
    let itk_end = (0..)
        .map(|i| {
            sc.make(&a, body(Kind::AgreementEnd, json!({"request": r6.id().to_hex(), "effective_at": "2026-08-31T00:00:00Z", "reason": format!("Kündigung ({i})")})))
        })
        .find(|r| r.id() > pb_end.id())
        .expect("a higher id");
    let itk_end_id = itk_end.id();
    sc.submit(
        "ITK Rheinland ends it from September: the earlier end counts",
        itk_end,
        "stored",
        true,
    );
    // The submission gate's other checks.
    // Check order: the responder before the answer, membership before
    // availability.
    sc.publish(
        "KRZN accepts Paderborn's accepted hosting request: not a responder comes first",
        &b,
        about(Kind::RequestAccept, &r1.id()),
        "not_responder",
    );
    let mut stranger = request_json(&print.id(), start);
    stranger["on_behalf_of"] = json!(["05774032"]);
    sc.publish(
        "KRZN requests the withdrawn printing offer for a non-member: membership comes first",
        &b,
        body(Kind::Request, stranger),
        "not_a_member_municipality",
    );
    sc.publish(
        "ITK Rheinland accepts a request nobody holds",
        &a,
        about(Kind::RequestAccept, &Hash32([0xcd; 32])),
        "unknown_record",
    );
    let none = json!({"provider": c.did().as_str(), "offer_id": "nichts", "reason": ""});
    sc.publish(
        "OWL-IT consolidates an offer GKD does not have",
        &d,
        body(Kind::OfferConsolidate, none),
        "unknown_record",
    );
    let nope = json!({"provider": c.did().as_str(), "offer_id": "gis", "replacement": "nope", "reason": ""});
    sc.publish(
        "OWL-IT consolidates GIS into an offer it does not have",
        &d,
        body(Kind::OfferConsolidate, nope),
        "not_an_offer",
    );
    // An answer, withdrawal or end on an agreement that crossed a withdrawal:
    // it is accepted.
    sc.publish(
        "Neuss withdraws its accepted hosting request again",
        &ne,
        about(Kind::RequestWithdraw, &r9.id()),
        "already_answered",
    );
    answer(
        &mut sc,
        "ITK Rheinland declines it",
        &a,
        Kind::RequestDecline,
        &r9,
        "2026-01-29T10:00:00Z",
        "already_answered",
    );
    // An acceptance before the provider withdraws the version stands.
    let print2 = sc.publish(
        "ITK Rheinland offers printing again",
        &a,
        offer("print2", 1),
        "stored",
    );
    let kept = sc.publish(
        "Paderborn requests it",
        &pb,
        request(&print2.id(), start),
        "stored",
    );
    answer(
        &mut sc,
        "ITK Rheinland accepts",
        &a,
        Kind::RequestAccept,
        &kept,
        "2026-01-29T11:00:00Z",
        "stored",
    );
    sc.publish(
        "and then withdraws the offer: the agreement stands",
        &a,
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "print2", "version": 1, "reason": "Eingestellt"}),
        ),
        "stored",
    );
    // A withdrawn request keeps a decline that crossed the withdrawal as its
    // answer.
    let gone = sc.publish(
        "Büren requests hosting a third time",
        &bu,
        request(&hosting.id(), start),
        "stored",
    );
    sc.publish(
        "and withdraws it",
        &bu,
        about(Kind::RequestWithdraw, &gone.id()),
        "stored",
    );
    let crossed_decline = sc.make_at(
        &a,
        about(Kind::RequestDecline, &gone.id()),
        "2026-01-29T12:00:00Z",
    );
    peer(
        &mut sc,
        "ITK Rheinland declines it, from a peer: withdrawn, with the decline as answer",
        crossed_decline,
    );
    // Only the buyer's withdrawal counts.
    let still = sc.publish(
        "Paderborn requests hosting once more",
        &pb,
        request(&hosting.id(), start),
        "stored",
    );
    let foreign_wd = sc.make(&bu, about(Kind::RequestWithdraw, &still.id()));
    peer(
        &mut sc,
        "Büren withdraws Paderborn's request, from a peer: no effect",
        foreign_wd,
    );
    // The boundaries of validity: a start or an issue at `valid_until` is
    // too late.
    let at_end = sc.make_at(
        &pb,
        request(&alt.id(), "2026-01-10T00:00:00Z"),
        "2026-01-05T00:00:00Z",
    );
    sc.submit(
        "Paderborn requests the expired offer from the day it ends",
        at_end,
        "offer_expired",
        false,
    );
    let issued_at_end = sc.make_at(
        &pb,
        request(&alt.id(), "2026-01-05T00:00:00Z"),
        "2026-01-10T00:00:00Z",
    );
    sc.submit(
        "Paderborn requests it on the day it ends",
        issued_at_end,
        "offer_expired",
        false,
    );
    // A successor may request what it inherited; the provider may not
    // consolidate its own offer.
    sc.publish(
        "OWL-IT requests GKD's GIS, which it inherited",
        &d,
        request(&gis.id(), start),
        "stored",
    );
    let own = json!({"provider": c.did().as_str(), "offer_id": "gis", "reason": ""});
    sc.publish(
        "GKD Paderborn consolidates its own GIS",
        &c,
        body(Kind::OfferConsolidate, own),
        "not_a_successor",
    );
    // Withdrawn comes before consolidated.
    sc.publish(
        "GKD Paderborn offers a second service",
        &c,
        offer("zwei", 1),
        "stored",
    );
    let into = json!({"provider": c.did().as_str(), "offer_id": "zwei", "replacement": "servicekonto-owl", "reason": "Doppelt"});
    sc.publish(
        "OWL-IT consolidates it",
        &d,
        body(Kind::OfferConsolidate, into),
        "stored",
    );
    sc.publish(
        "GKD Paderborn withdraws it too",
        &c,
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "zwei", "version": 1, "reason": ""}),
        ),
        "stored",
    );
    // Of equal versions the highest id is current; of profiles the newest in
    // the log, whatever its id.
    sc.publish(
        "ITK Rheinland publishes a twin offer",
        &a,
        offer("twin", 1),
        "stored",
    );
    let mut twin_body = offer_json("twin", 1);
    twin_body["summary"] = json!("Die gleiche Version, anders beschrieben.");
    sc.publish(
        "and the same version again",
        &a,
        body(Kind::Offer, twin_body),
        "stored",
    );
    let first_profile = sc.reg.state().providers[a.did()]
        .profile
        .as_ref()
        .expect("profile")
        .id();
    let newer = (0..)
        .map(|i| {
            sc.make(&a, body(Kind::ProviderProfile, json!({
                "name": "Zweckverband IT-Kooperation Rheinland",
                "short_name": "ITK Rheinland",
                "description": format!("Neue Fassung ({i})."),
                "regions": ["05162"], "members": ["05162"], "certifications": [], "nodes": [], "contacts": []
            })))
        })
        .find(|r| r.id() < first_profile)
        .expect("a lower id");
    let newer_id = newer.id();
    sc.submit(
        "ITK Rheinland publishes a newer profile (with a lower id)",
        newer,
        "stored",
        true,
    );
    // A cycle of mergers.
    let g = key(16);
    let h = key(17);
    for (k, name) in [(&g, "Provider G"), (&h, "Provider H")] {
        sc.act(
            &format!("admit {name}"),
            &s1,
            Kind::MemberAdmit,
            json!({"provider": k.did().as_str(), "name": name}),
            &both,
            "stored",
        );
    }
    sc.publish("G offers a service", &g, offer("kreis", 1), "stored");
    for (from, to) in [(&g, &h), (&h, &g)] {
        let s = sc.publish(
            "a succession",
            from,
            body(Kind::Succession, json!({"successor": to.did().as_str(), "effective_at": "2026-01-01T00:00:00Z", "offer_ids": []})),
            "stored",
        );
        sc.publish(
            "accepted",
            to,
            body(
                Kind::SuccessionAccept,
                json!({"succession": s.id().to_hex()}),
            ),
            "stored",
        );
    }
    sc.submitting = false;
    // Municipalities: revocation, a new key for the AGS, no succession.
    let dormagen = key(63);
    sc.act(
        "admit Dormagen",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&dormagen, "05162004", "Dormagen")]),
        &both,
        "stored",
    );
    sc.act(
        "revoke Dormagen's key",
        &s1,
        Kind::MemberRevoke,
        json!({"provider": dormagen.did().as_str(), "key": dormagen.did().as_str(), "from_seq": 1, "reason": "Schlüssel kompromittiert"}),
        &both,
        "stored",
    );
    sc.act(
        "admit the revoked key again",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&dormagen, "05162004", "Dormagen")]),
        &both,
        "member_revoked",
    );
    sc.act(
        "admit Paderborn's key for Büren's AGS: the member is checked first",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&pb, "05774016", "Büren")]),
        &both,
        "already_member",
    );
    sc.act(
        "admit a new key for Dormagen's AGS",
        &s1,
        Kind::MunicipalityAdmit,
        towns(vec![town(&key(64), "05162004", "Dormagen")]),
        &both,
        "stored",
    );
    sc.act(
        "hand a municipality's portfolio on",
        &s1,
        Kind::MemberSuccession,
        json!({"provider": pb.did().as_str(), "successor": a.did().as_str(), "effective_at": "2026-01-01T00:00:00Z", "offer_ids": [], "reason": ""}),
        &both,
        "not_a_provider",
    );
    let stale = action(
        Kind::MunicipalityAdmit,
        json!({"prev_action": sc.fed.to_hex(), "municipalities": [town(&pb, "05774032", "Paderborn")]}),
        &both,
    );
    let stale = sc.make(&s1, stale);
    sc.submit(
        "an admission on an old governance head: stored (it competes), not judged against the current chain",
        stale,
        "equivocation",
        false,
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
        let capacity: Vec<Value> = [
            (&a, "soc"),
            (&a, "meldewesen-hosting"),
            (&a, "backup"),
            (&d, "servicekonto-owl"),
        ]
        .iter()
        .map(|(k, o)| {
            let cap = state.capacity(k.did(), &o.parse().expect("offer id"), t);
            json!({"provider": k.did().as_str(), "offer_id": o, "declared": cap.declared, "taken": cap.taken, "remaining": cap.remaining()})
        })
        .collect();
        let offers: Vec<Value> = [
            (&a, "e-akte"),
            (&a, "alt"),
            (&a, "later"),
            (&a, "backup"),
            (&c, "servicekonto"),
            (&c, "gis"),
            (&e, "scan"),
            (&f, "druck"),
            (&c, "zwei"),
            (&a, "twin"),
            (&g, "kreis"),
        ]
        .iter()
        .map(|(k, o)| {
            let id: kx_protocol::fields::OfferId = o.parse().expect("offer id");
            let entry = &state.offers[&(k.did().clone(), id.clone())];
            let shown = state.shown_under(k.did(), &id, t);
            json!({
                "provider": k.did().as_str(),
                "offer_id": o,
                "status": state.offer_status(k.did(), entry, t).as_str(),
                "shown_under": shown.as_str(),
            })
        })
        .collect();
        json!({"t": t.to_string(), "agreements": agreements, "capacity": capacity, "offers": offers})
    };
    let instants = vec![
        at("2026-01-10T00:00:00Z"),
        at("2026-02-28T00:00:00Z"),
        at("2026-03-01T00:00:00Z"),
        at("2026-04-01T00:00:00Z"),
        at("2026-07-01T00:00:00Z"),
    ];
    // The instants show what the rules decide: the SOC's third acceptance is
    // over capacity until KRZN's agreement ends, the consolidated service
    // account's agreement counts against OWL-IT's own offer.
    let status = |v: &Value, r: &VerifiedRecord| {
        v["agreements"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["request"] == json!(r.id().to_hex())))
            .map(|x| x["status"].clone())
    };
    let offer_at = |v: &Value, id: &str| {
        v["offers"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["offer_id"] == json!(id)))
            .cloned()
            .expect("listed")
    };
    let (january, february) = (&instants[0], &instants[1]);
    let (march, april, july) = (&instants[2], &instants[3], &instants[4]);
    assert_eq!(offer_at(january, "alt")["status"], "expired");
    assert_eq!(status(february, &short), Some(json!("expired")));
    assert_eq!(offer_at(april, "zwei")["status"], "withdrawn");
    assert_eq!(
        offer_at(april, "kreis")["shown_under"],
        json!(h.did().as_str())
    );
    assert_eq!(status(april, &r5), Some(json!("over_capacity")));
    assert_eq!(status(july, &r5), Some(json!("active")));
    assert_eq!(status(july, &r3), Some(json!("ended")));
    assert_eq!(status(april, &r2), None);
    assert_eq!(april["capacity"][3]["taken"], json!(1));
    assert_eq!(status(april, &r7), Some(json!("active")));
    assert_eq!(status(april, &small), Some(json!("active")));
    assert_eq!(status(april, &big), Some(json!("over_capacity")));
    assert_eq!(status(april, &pair), Some(json!("active")));
    assert_eq!(april["capacity"][2]["taken"], json!(3));
    assert_eq!(status(march, &short), Some(json!("expired")));
    assert_eq!(status(april, &later), Some(json!("pending")));
    assert_eq!(status(april, &r9), Some(json!("active")));
    assert_eq!(status(july, &gis2), Some(json!("active")));
    let summary = state.summary();
    let entry = |r: &VerifiedRecord| {
        summary["requests"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["record"] == json!(r.id().to_hex())))
            .cloned()
    };
    assert_eq!(entry(&twice).expect("counts")["status"], "declined");
    assert!(
        entry(&void).is_none(),
        "a void acceptance leaves the request unavailable"
    );
    assert_eq!(
        entry(&r1).expect("counts")["end"],
        json!(r1_end.id().to_hex())
    );
    assert_eq!(
        entry(&r6).expect("counts")["end"],
        json!(itk_end_id.to_hex())
    );
    assert_eq!(entry(&kept).expect("counts")["status"], "accepted");
    assert_eq!(entry(&gone).expect("counts")["status"], "withdrawn");
    assert!(!entry(&gone).expect("counts")["answer"].is_null());
    assert_eq!(entry(&still).expect("counts")["status"], "open");
    let itk = summary["providers"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["did"] == json!(a.did().as_str())))
        .expect("ITK Rheinland");
    assert_eq!(itk["profile"], json!(newer_id.to_hex()));
    // The same records in another order, without the gate, plus what the gate
    // would refuse a municipality and what then has no effect: an offer and an
    // acceptance of a succession in its log.
    let town_offer = sc.make(&pb, offer("stadt", 1));
    let (seq, _) = sc.next(&pb);
    let town_accept = kx_protocol::record::sign(
        &pb,
        kx_protocol::record::Draft {
            federation: sc.fed,
            seq: seq + 1,
            prev: Some(town_offer.id()),
            issued_at: ts(T0),
            body: body(
                Kind::SuccessionAccept,
                json!({"succession": part.id().to_hex()}),
            ),
        },
    )
    .expect("sign");
    let mut set = sc.accepted.clone();
    set.push(town_offer);
    set.push(town_accept);
    let n = set.len();
    for i in 0..n {
        set.swap(i, (i * 11 + 5) % n);
    }
    set.reverse();
    let mut again = Registry::new(gns.clone()).expect("registry");
    for r in &set {
        again.add(r.clone()).expect("add");
    }
    assert_eq!(
        again.state().summary(),
        state.summary(),
        "no effect, any order"
    );
    let set_case = Case {
        name: "state-exchange-set".into(),
        json: json!({
            "desc": "the records state-exchange stored, in another order and without the gate, with a municipality's offer and succession acceptance that have no effect: the same summary and digest",
            "type": "state-set",
            "genesis": record_value(&gns),
            "records": set.iter().map(record_value).collect::<Vec<_>>(),
            "expected": {"summary": state.summary(), "digest": state.digest().to_hex()},
        }),
    };
    let steps_case = Case {
        name: "state-exchange".into(),
        json: json!({
            "desc": "the exchange: municipalities admitted, demand, requests (also by a provider, and for members), answers, a succession with an answer by the successor, a consolidation, ends; every refusal of the ingest gate and of the submission gate (steps with \"via\": \"submit\"); agreements, capacity and offers at five instants",
            "type": "state",
            "genesis": record_value(&gns),
            "steps": sc.steps,
            "expected": {"summary": state.summary(), "digest": state.digest().to_hex(), "at": instants},
        }),
    };
    vec![steps_case, set_case]
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
    // One defect each in the exchange's body rules (5.2, 5.3).
    let mut neg = |name: &str,
                   desc: &str,
                   rec: &VerifiedRecord,
                   author: &SecretKey,
                   edit: &dyn Fn(&mut Value),
                   code: &str| {
        let mut v = record_value(rec);
        edit(&mut v["body"]);
        cases.push(negative(
            name,
            desc,
            Input::Text(text(&resign(author, v))),
            code,
            None,
        ));
    };
    let admit_rec = &rec;
    neg(
        "municipality-region",
        "a municipality admitted for a Kreis (5 digits)",
        admit_rec,
        s2,
        &|b| b["municipalities"][0]["ags"] = json!("05774"),
        "invalid_value",
    );
    neg(
        "municipality-malformed-ags",
        "a municipality's AGS of 4 digits",
        admit_rec,
        s2,
        &|b| b["municipalities"][0]["ags"] = json!("0577"),
        "malformed_ags",
    );
    neg(
        "municipality-twice",
        "the same AGS twice in one admission",
        admit_rec,
        s2,
        &|b| b["municipalities"][1]["ags"] = json!("05774032"),
        "duplicate_entry",
    );
    neg(
        "municipality-none",
        "an admission of no municipality",
        admit_rec,
        s2,
        &|b| b["municipalities"] = json!([]),
        "invalid_value",
    );
    neg(
        "demand-no-quantity",
        "a demand without any quantity",
        &d,
        &pb,
        &|b| b["quantity"] = json!({}),
        "invalid_value",
    );
    neg(
        "demand-no-subject",
        "a demand naming no category, OZG id or LeiKa key",
        &d,
        &pb,
        &|b| {
            b.as_object_mut().expect("body").remove("category");
        },
        "invalid_value",
    );
    neg(
        "demand-validity",
        "wanted_until before wanted_from",
        &d,
        &pb,
        &|b| b["wanted_until"] = json!("2026-06-30T00:00:00Z"),
        "invalid_validity",
    );
    neg(
        "nested-null",
        "an optional member of a nested object as null (contact.mailbox)",
        &d,
        &pb,
        &|b| b["contact"]["mailbox"] = Value::Null,
        "noncanonical_body",
    );
    neg(
        "nested-required-null",
        "a required member of a nested object as null (contact.role)",
        &d,
        &pb,
        &|b| b["contact"]["role"] = Value::Null,
        "invalid_type",
    );
    neg(
        "request-end-and-term",
        "a request with both an end and a term",
        &req,
        &pb,
        &|b| b["end"] = json!("2027-06-30T00:00:00Z"),
        "invalid_value",
    );
    neg(
        "request-term-zero",
        "a term of 0 months",
        &req,
        &pb,
        &|b| b["term_months"] = json!(0),
        "invalid_value",
    );
    neg(
        "request-term-long",
        "a term of 1201 months",
        &req,
        &pb,
        &|b| b["term_months"] = json!(1201),
        "invalid_value",
    );
    neg(
        "request-term-past-9999",
        "a term that ends after 9999-12-31",
        &req,
        &pb,
        &|b| b["start"] = json!("9999-06-01T00:00:00Z"),
        "invalid_value",
    );
    neg(
        "request-end-before-start",
        "an end before the start",
        &req,
        &pb,
        &|b| {
            let o = b.as_object_mut().expect("body");
            o.remove("term_months");
            o.insert("end".into(), json!("2026-01-31T00:00:00Z"));
        },
        "invalid_validity",
    );
    neg(
        "request-for-region",
        "on_behalf_of naming a Kreis",
        &req,
        &pb,
        &|b| b["on_behalf_of"] = json!(["05162"]),
        "invalid_value",
    );
    neg(
        "request-for-twice",
        "on_behalf_of naming a municipality twice",
        &req,
        &pb,
        &|b| b["on_behalf_of"] = json!(["05162024", "05162024"]),
        "duplicate_entry",
    );
    neg(
        "request-quantity-zero",
        "a quantity of 0",
        &req,
        &pb,
        &|b| b["quantity"] = json!(0),
        "invalid_value",
    );
    neg(
        "request-basis-other",
        "a legal basis kind only offers know (other)",
        &req,
        &pb,
        &|b| b["legal_basis"]["kind"] = json!("other"),
        "invalid_value",
    );
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
