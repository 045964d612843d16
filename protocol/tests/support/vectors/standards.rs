//! The stewards' standard portfolio and an offer's terms for one buyer:
//! the records of `standard.define` and `standard.retire`, an offer with price
//! components, declared standards and regional contacts, their defects, a state
//! vector in which offers meet a standard or fail it for stated reasons, and the
//! read rules for cost and contact (protocol 6.9).

use super::state::Script;
use super::*;
use kx_protocol::terms::{self, Quantities};

fn define_json(id: &str, category: &str) -> Value {
    json!({
        "standard_id": id,
        "title": "E-Akte Basis",
        "description": "Aussonderung nach DMS-Richtlinie; Schulungsangebot für Anwender.",
        "category": category,
        "certifications": ["iso27001-grundschutz"],
        "standards": ["xdomea"],
        "delivery": ["saas", "hosting"],
        "min_sla": {"availability_bp": 9900, "response_minutes": 120},
    })
}

/// An offer with every optional member of this round: price components,
/// declared standards and a contact for one Kreis.
pub(super) fn offer_terms_json() -> Value {
    let mut v = offer_json("meldewesen-hosting", 2);
    v["price_components"] = json!([
        {"label": "Einführung", "charge": "once", "unit": "flat", "amount_cents": 1_500_000, "optional": false},
        {"label": "Betrieb", "charge": "yearly", "unit": "inhabitant", "amount_cents": 35, "optional": false},
        {"label": "Anbindung", "charge": "yearly", "unit": "site", "amount_cents": 120_000, "optional": false},
        {"label": "Lizenzen", "charge": "monthly", "unit": "user", "amount_cents": 900, "optional": false},
        {"label": "Zusatzmodul Statistik", "charge": "yearly", "unit": "flat", "amount_cents": 50_000, "optional": true}
    ]);
    v["conforms_to"] = json!(["meldewesen-standard"]);
    v["contacts"] = json!([
        {"customer_group": "kommunen", "name": "Vertrieb Kommunen", "email": "kommunen@example.org"},
        {"customer_group": "kommunen", "name": "Kundenbetreuung Kreis Paderborn", "email": "paderborn@example.org", "regions": ["05774"]}
    ]);
    v
}

/// The accepted records of the two kinds and of the extended offer, and one
/// rejected record per new rule.
pub(super) fn records(gns: &VerifiedRecord, s1: &SecretKey, s2: &SecretKey) -> Vec<Case> {
    let fed = gns.record().federation;
    let mut cases = Vec::new();
    let mut def = define_json("e-akte-basis", "e-akte");
    def["prev_action"] = json!(fed.to_hex());
    let define = sign(
        s1,
        fed,
        2,
        Some(gns.id()),
        action(Kind::StandardDefine, def.clone(), &[s1, s2]),
    );
    cases.push(super::records::positive(
        "standard-define",
        "the stewards define a standard service: category, certifications, standards, delivery and minimum service levels",
        s1,
        &define,
        &[(1, s1), (2, s2)],
    ));
    let head = define.action().expect("action");
    let retire = sign(
        s1,
        fed,
        3,
        Some(define.id()),
        action(
            Kind::StandardRetire,
            json!({"prev_action": head.to_hex(), "standard_id": "e-akte-basis", "reason": "Ersetzt durch E-Akte Plus"}),
            &[s1, s2],
        ),
    );
    cases.push(super::records::positive(
        "standard-retire",
        "the stewards retire a standard",
        s1,
        &retire,
        &[(1, s1), (2, s2)],
    ));
    let a = key(10);
    let offer_rec = sign(&a, fed, 1, None, body(Kind::Offer, offer_terms_json()));
    cases.push(super::records::positive(
        "offer-terms",
        "offer with price components (one a optional extra), a declared standard and a contact for one Kreis",
        &a,
        &offer_rec,
        &[],
    ));

    // One defect each, in an otherwise valid record.
    let t = super::records::Input::Text;
    let offer_base = record_value(&offer_rec);
    let offer_with = |f: &dyn Fn(&mut Value)| -> String {
        let mut v = offer_base.clone();
        f(&mut v);
        text(&resign(&a, v))
    };
    let define_base = record_value(&define);
    let define_with = |f: &dyn Fn(&mut Value)| -> String {
        let mut v = define_base.clone();
        f(&mut v);
        text(&resign(s1, v))
    };
    let neg = |name: &str, desc: &str, input: String, code: &str| {
        super::records::negative(name, desc, t(input), code, None)
    };
    cases.push(neg(
        "invalid-value-price-components-empty",
        "price_components present but empty (absent is how to say none)",
        offer_with(&|v| v["body"]["price_components"] = json!([])),
        "invalid_value",
    ));
    cases.push(neg(
        "invalid-value-price-unit",
        "a price component counted in an unknown unit",
        offer_with(&|v| v["body"]["price_components"][1]["unit"] = json!("citizen")),
        "invalid_value",
    ));
    cases.push(neg(
        "missing-field-price-optional",
        "a price component without its optional flag",
        offer_with(&|v| {
            if let Some(o) = v["body"]["price_components"][0].as_object_mut() {
                o.remove("optional");
            }
        }),
        "missing_field",
    ));
    cases.push(neg(
        "invalid-type-price-optional",
        "a price component whose optional flag is not a boolean",
        offer_with(&|v| v["body"]["price_components"][0]["optional"] = json!("nein")),
        "invalid_type",
    ));
    cases.push(neg(
        "invalid-value-price-charge",
        "a price component charged in an unknown rhythm",
        offer_with(&|v| v["body"]["price_components"][0]["charge"] = json!("weekly")),
        "invalid_value",
    ));
    cases.push(neg(
        "malformed-slug-conforms-to",
        "conforms_to naming something that is no slug",
        offer_with(&|v| v["body"]["conforms_to"] = json!(["Meldewesen Standard"])),
        "malformed_slug",
    ));
    cases.push(neg(
        "invalid-value-standard-delivery",
        "a standard allowing a delivery that does not exist",
        define_with(&|v| v["body"]["delivery"] = json!(["cloud"])),
        "invalid_value",
    ));
    cases.push(neg(
        "missing-field-min-sla",
        "a standard without min_sla (it is required; {} sets no minimum)",
        define_with(&|v| {
            if let Some(b) = v["body"].as_object_mut() {
                b.remove("min_sla");
            }
        }),
        "missing_field",
    ));
    cases.push(neg(
        "invalid-value-conforms-to-empty",
        "conforms_to present but empty",
        offer_with(&|v| v["body"]["conforms_to"] = json!([])),
        "invalid_value",
    ));
    cases.push(neg(
        "null-list-entry",
        "null as an entry of an optional list (no list entry is optional)",
        offer_with(&|v| v["body"]["conforms_to"] = json!(["meldewesen-standard", null])),
        "invalid_type",
    ));
    cases.push(neg(
        "duplicate-entry-conforms-to",
        "conforms_to names a standard twice",
        offer_with(&|v| {
            v["body"]["conforms_to"] = json!(["meldewesen-standard", "meldewesen-standard"])
        }),
        "duplicate_entry",
    ));
    cases.push(neg(
        "invalid-value-contact-regions-empty",
        "a contact whose regions are present but empty",
        offer_with(&|v| v["body"]["contacts"][1]["regions"] = json!([])),
        "invalid_value",
    ));
    cases.push(neg(
        "duplicate-entry-contact-regions",
        "a contact naming a region twice",
        offer_with(&|v| v["body"]["contacts"][1]["regions"] = json!(["05774", "05774"])),
        "duplicate_entry",
    ));
    cases.push(neg(
        "malformed-ags-contact-regions",
        "a contact region that is no AGS prefix",
        offer_with(&|v| v["body"]["contacts"][1]["regions"] = json!(["5774"])),
        "malformed_ags",
    ));
    cases.push(neg(
        "invalid-value-min-availability",
        "a standard requiring more than 10000 basis points",
        define_with(&|v| v["body"]["min_sla"]["availability_bp"] = json!(10001)),
        "invalid_value",
    ));
    cases.push(neg(
        "duplicate-entry-standard-delivery",
        "a standard allowing one delivery twice",
        define_with(&|v| v["body"]["delivery"] = json!(["saas", "saas"])),
        "duplicate_entry",
    ));
    cases.push(neg(
        "noncanonical-body-min-sla-null",
        "a minimum service level given as null instead of left out",
        define_with(&|v| v["body"]["min_sla"]["resolution_hours"] = Value::Null),
        "noncanonical_body",
    ));
    cases
}

fn offer_body(id: &str, f: impl Fn(&mut Value)) -> Body {
    let mut v = offer_json(id, 1);
    f(&mut v);
    body(Kind::Offer, v)
}

/// The state vector: standards defined, redefined and retired; offers that
/// meet them, fail them, or name one that does not exist.
pub(super) fn state_case() -> Case {
    let s1 = key(1);
    let s2 = key(2);
    let a = key(10);
    let b = key(11);
    let gns = genesis(&[&s1, &s2], 2);
    let mut sc = Script::new(&gns);
    let both: [&SecretKey; 2] = [&s1, &s2];
    for (k, name) in [(&a, "ITK Rheinland"), (&b, "KRZN")] {
        sc.act(
            &format!("admit {name}"),
            &s1,
            Kind::MemberAdmit,
            json!({"provider": k.did().as_str(), "name": name}),
            &both,
            "stored",
        );
    }
    sc.act(
        "define e-akte-basis",
        &s1,
        Kind::StandardDefine,
        define_json("e-akte-basis", "e-akte"),
        &both,
        "stored",
    );
    let mut melde = define_json("meldewesen-standard", "einwohnerwesen");
    melde["title"] = json!("Meldewesen Standard");
    melde["certifications"] = json!([]);
    melde["standards"] = json!(["xmeld"]);
    melde["delivery"] = json!([]);
    melde["min_sla"] = json!({"resolution_hours": 8});
    sc.act(
        "define meldewesen-standard",
        &s2,
        Kind::StandardDefine,
        melde.clone(),
        &both,
        "stored",
    );
    let mut old = define_json("alt-standard", "e-akte");
    old["title"] = json!("Alter Standard");
    sc.act(
        "define alt-standard",
        &s1,
        Kind::StandardDefine,
        old,
        &both,
        "stored",
    );
    sc.act(
        "define with one approval of two",
        &s1,
        Kind::StandardDefine,
        define_json("e-akte-plus", "e-akte"),
        &[&s1],
        "below_threshold",
    );
    sc.act(
        "retire a standard never defined",
        &s1,
        Kind::StandardRetire,
        json!({"standard_id": "gibt-es-nicht", "reason": "Tippfehler"}),
        &both,
        "unknown_standard",
    );
    sc.act(
        "retire alt-standard",
        &s1,
        Kind::StandardRetire,
        json!({"standard_id": "alt-standard", "reason": "Abgelöst"}),
        &both,
        "stored",
    );
    sc.act(
        "retire alt-standard again",
        &s2,
        Kind::StandardRetire,
        json!({"standard_id": "alt-standard", "reason": "Doppelt"}),
        &both,
        "unknown_standard",
    );
    let mut revived = define_json("alt-standard", "e-akte");
    revived["title"] = json!("Alter Standard, erneuert");
    sc.act(
        "define alt-standard again: in force once more",
        &s1,
        Kind::StandardDefine,
        revived,
        &both,
        "stored",
    );
    sc.act(
        "retire alt-standard once more: it was in force again",
        &s2,
        Kind::StandardRetire,
        json!({"standard_id": "alt-standard", "reason": "Endgültig abgelöst"}),
        &both,
        "stored",
    );
    sc.publish(
        "an e-akte offer meeting every criterion",
        &a,
        offer_body("akte-a", |v| {
            v["category"] = json!("e-akte");
            v["standards"] = json!(["xdomea"]);
            v["delivery"] = json!("saas");
            v["sla"]["response_minutes"] = json!(60);
            v["conforms_to"] = json!(["e-akte-basis"]);
        }),
        "stored",
    );
    sc.publish(
        "an e-akte offer failing certification, delivery, availability and response",
        &a,
        offer_body("akte-b", |v| {
            v["category"] = json!("e-akte");
            v["certifications"] = json!([]);
            v["standards"] = json!(["xdomea"]);
            v["delivery"] = json!("on_premise");
            v["sla"]["availability_bp"] = json!(9800);
            v["sla"]["response_minutes"] = json!(240);
            v["conforms_to"] = json!(["e-akte-basis"]);
        }),
        "stored",
    );
    sc.publish(
        "version 2 of akte-b: now delivered as SaaS, still without the certification",
        &a,
        body(Kind::Offer, {
            let mut v = offer_json("akte-b", 2);
            v["category"] = json!("e-akte");
            v["certifications"] = json!([]);
            v["standards"] = json!(["xdomea"]);
            v["delivery"] = json!("saas");
            v["sla"]["availability_bp"] = json!(9800);
            v["sla"]["response_minutes"] = json!(240);
            v["conforms_to"] = json!(["e-akte-basis"]);
            v
        }),
        "stored",
    );
    sc.publish(
        "an e-akte offer exactly at the minimum availability and the longest response",
        &a,
        offer_body("akte-c", |v| {
            v["category"] = json!("e-akte");
            v["standards"] = json!(["xdomea"]);
            v["delivery"] = json!("hosting");
            v["sla"]["availability_bp"] = json!(9900);
            v["sla"]["response_minutes"] = json!(120);
            v["conforms_to"] = json!(["e-akte-basis"]);
        }),
        "stored",
    );
    sc.publish(
        "an offer declaring no standard (not listed in expected.conformance)",
        &a,
        offer_body("ohne", |_| {}),
        "stored",
    );
    sc.publish(
        "a Meldewesen offer declaring three standards: one met, one of another category, one undefined",
        &b,
        offer_body("melde", |v| {
            v["conforms_to"] = json!(["meldewesen-standard", "e-akte-basis", "gibt-es-nicht"]);
        }),
        "stored",
    );
    sc.publish(
        "an offer declaring the retired standard",
        &b,
        offer_body("akte-alt", |v| {
            v["category"] = json!("e-akte");
            v["standards"] = json!(["xdomea"]);
            v["conforms_to"] = json!(["alt-standard"]);
        }),
        "stored",
    );
    melde["min_sla"] = json!({"resolution_hours": 8, "availability_bp": 9990});
    sc.act(
        "redefine meldewesen-standard with a higher availability",
        &s2,
        Kind::StandardDefine,
        melde,
        &both,
        "stored",
    );
    let state = sc.reg.state();
    let conformance: Vec<Value> = state
        .offers
        .iter()
        .filter_map(|((provider, offer_id), e)| {
            let current = e.current()?.record;
            let rec = sc.accepted.iter().find(|r| r.id() == current)?;
            let Body::Offer(o) = &rec.record().body else {
                return None;
            };
            o.conforms_to.as_ref()?;
            Some(json!({
                "provider": provider.as_str(),
                "offer_id": offer_id.as_str(),
                "conformance": terms::conformances(o, &state.standards),
            }))
        })
        .collect();
    let mut statuses: Vec<String> = conformance
        .iter()
        .flat_map(|c| c["conformance"].as_array().cloned().unwrap_or_default())
        .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "met",
            "met",
            "not_met",
            "not_met",
            "not_met",
            "retired",
            "undefined"
        ],
        "every outcome"
    );
    Case {
        name: "state-standards".into(),
        json: json!({
            "desc": "the stewards' standards: defined, redefined, retired; refusals of a retirement of a standard not in force; offers that meet a standard, fail it criterion by criterion, declare one of another category, an undefined and a retired one",
            "type": "state",
            "genesis": record_value(&gns),
            "steps": sc.steps,
            "expected": {
                "summary": state.summary(),
                "digest": state.digest().to_hex(),
                "conformance": conformance,
            },
        }),
    }
}

/// Cost and contact for one buyer: pure functions of an offer body (6.9).
pub(super) fn terms_case() -> Case {
    let paderborn = Quantities {
        inhabitants: Some(152_531),
        sites: Some(3),
        ..Quantities::default()
    };
    let with_users = Quantities {
        users: Some(40),
        ..paderborn
    };
    let legacy = |model: &str, amount: u64| {
        let mut v = offer_json("o", 1);
        v["pricing"]["model"] = json!(model);
        v["pricing"]["amount_cents"] = json!(amount);
        v
    };
    let mut huge = offer_json("o", 1);
    huge["price_components"] = json!([
        {"label": "Pauschale", "charge": "monthly", "unit": "flat", "amount_cents": terms::MAX_EXACT, "optional": false}
    ]);
    let with_parts = |model: &str, parts: Value| {
        let mut v = offer_json("o", 1);
        v["pricing"]["model"] = json!(model);
        v["price_components"] = parts;
        v
    };
    let part = |charge: &str, unit: &str, amount: u64, optional: bool| json!({"label": format!("{charge} {unit}"), "charge": charge, "unit": unit, "amount_cents": amount, "optional": optional});
    let counted = Quantities {
        inhabitants: Some(152_531),
        cases: Some(1_200),
        hours: Some(40),
        interfaces: Some(2),
        ..Quantities::default()
    };
    let mut cost_inputs: Vec<(&str, Value, Quantities)> = vec![
        (
            "the single price per inhabitant and year",
            legacy("per_inhabitant_per_year", 42),
            paderborn,
        ),
        (
            "components: one user count missing, so no totals",
            offer_terms_json(),
            paderborn,
        ),
        (
            "components with every figure; the optional extra is not summed",
            offer_terms_json(),
            with_users,
        ),
        (
            "the single price per user and month, without a user count",
            legacy("per_user_per_month", 1_250),
            paderborn,
        ),
        ("a price on request", legacy("on_request", 0), paderborn),
        (
            "a price beyond 2^53 - 1 cents in a year",
            huge,
            Quantities::default(),
        ),
    ];
    cost_inputs.extend([
        ("a flat price per year", legacy("flat_per_year", 1_200_000), counted),
        ("a price per case: cases per year", legacy("per_case", 350), counted),
        ("a price per hour: hours per year", legacy("per_hour", 9_500), counted),
        ("a one-time price", legacy("one_time", 2_500_000), counted),
        (
            "a line of exactly 2^53 - 1 cents is still a number",
            with_parts("one_time", json!([part("once", "flat", terms::MAX_EXACT, false)])),
            counted,
        ),
        (
            "two lines that each fit but whose sum does not",
            with_parts(
                "flat_per_year",
                json!([
                    part("yearly", "flat", 1 << 52, false),
                    part("yearly", "flat", 1 << 52, false)
                ]),
            ),
            counted,
        ),
        (
            "missing figures: each unit once, in unit order; an optional line's figure is not needed",
            with_parts(
                "per_user_per_month",
                json!([
                    part("yearly", "site", 48_000, false),
                    part("monthly", "user", 900, false),
                    part("yearly", "case", 200, false),
                    part("once", "user", 5_000, false),
                    part("yearly", "interface", 30_000, false),
                    part("yearly", "hour", 9_000, true)
                ]),
            ),
            Quantities {
                interfaces: Some(2),
                ..Quantities::default()
            },
        ),
        (
            "components are costed even when the model says on_request",
            with_parts("on_request", json!([part("yearly", "interface", 30_000, false)])),
            counted,
        ),
        (
            "only optional lines: the totals are 0",
            with_parts("flat_per_year", json!([part("once", "flat", 180_000, true)])),
            counted,
        ),
    ]);
    let cost: Vec<Value> = cost_inputs
        .into_iter()
        .map(|(note, offer, q)| {
            let Body::Offer(o) = body(Kind::Offer, offer.clone()) else {
                unreachable!("an offer body")
            };
            json!({"note": note, "offer": offer, "quantities": q, "expected": terms::cost(&o, &q)})
        })
        .collect();
    let contact = |group: &str, name: &str, regions: Option<Value>| {
        let mut c = json!({"customer_group": group, "name": name});
        if let Some(r) = regions {
            c["regions"] = r;
        }
        c
    };
    let offer_contacts = json!([
        contact("kommunen", "Vertrieb Kommunen", None),
        contact(
            "kommunen",
            "Kundenbetreuung Kreis Paderborn",
            Some(json!(["05774"]))
        ),
        contact("mitglieder", "Mitgliederbetreuung", None),
        contact("kreise", "Kundenbetreuung Kreise", None)
    ]);
    let profile_contacts = json!([contact("kommunen", "Servicedesk", None)]);
    let contact_inputs: Vec<(&str, Value, Value, Value, &str)> = vec![
        (
            "the contact for the municipality's Kreis before the general one",
            offer_contacts.clone(),
            profile_contacts.clone(),
            json!(["05762"]),
            "05774032",
        ),
        (
            "a member municipality: the member group before the general one",
            offer_contacts.clone(),
            profile_contacts.clone(),
            json!(["05762"]),
            "05762020",
        ),
        (
            "elsewhere: the general contact, the first that fits",
            offer_contacts,
            profile_contacts.clone(),
            json!(["05762"]),
            "05111000",
        ),
        (
            "no offer contact serves municipalities: the profile's",
            json!([contact("kreise", "Kundenbetreuung Kreise", None)]),
            profile_contacts,
            json!([]),
            "05774032",
        ),
        (
            "of two equally fitting contacts the first listed",
            json!([
                contact("kommunen", "Vertrieb Nord", None),
                contact("kommunen", "Vertrieb Süd", None)
            ]),
            json!([]),
            json!([]),
            "05774032",
        ),
        (
            "a member with a contact for its Kreis and a member contact: the Kreis first (reach before group)",
            json!([
                contact("mitglieder", "Mitgliederbetreuung", None),
                contact(
                    "kommunen",
                    "Kundenbetreuung Kreis Paderborn",
                    Some(json!(["05774"]))
                )
            ]),
            json!([]),
            json!(["05774"]),
            "05774032",
        ),
        (
            "reach is the longest covering prefix of a contact's regions",
            json!([
                contact("kommunen", "Regierungsbezirk Detmold", Some(json!(["057"]))),
                contact("kommunen", "Land und Kreis", Some(json!(["05", "05774"])))
            ]),
            json!([]),
            json!([]),
            "05774032",
        ),
        (
            "a non-member gets the non-member group before the general contact",
            json!([
                contact("kommunen", "Vertrieb", None),
                contact("nicht-mitglieder", "Neukunden", None)
            ]),
            json!([]),
            json!(["05762"]),
            "05774032",
        ),
        (
            "a contact for other regions does not fit at all",
            json!([
                contact("mitglieder", "Mitglieder Höxter", Some(json!(["05762"]))),
                contact("kommunen", "Vertrieb", None)
            ]),
            json!([]),
            json!(["05774"]),
            "05774032",
        ),
        (
            "a non-member group does not serve a member; nobody does",
            json!([contact(
                "nicht-mitglieder",
                "Neukunden",
                Some(json!(["05774"]))
            )]),
            json!([]),
            json!(["05774"]),
            "05774032",
        ),
    ];
    let contacts: Vec<Value> = contact_inputs
        .into_iter()
        .map(|(note, offer, profile, members, ags)| {
            let parse = |v: &Value| -> Vec<kx_protocol::body::Contact> {
                serde_json::from_value(v.clone()).expect("contacts")
            };
            let members_list: Vec<kx_protocol::fields::AgsPrefix> =
                serde_json::from_value(members.clone()).expect("members");
            let (o, p) = (parse(&offer), parse(&profile));
            let chosen = terms::contact_for(&o, &p, &members_list, ags)
                .map(|(source, index, _)| json!({"source": source.as_str(), "index": index}));
            json!({"note": note, "offer_contacts": offer, "profile_contacts": profile, "members": members, "ags": ags, "expected": chosen})
        })
        .collect();
    Case {
        name: "terms".into(),
        json: json!({
            "desc": "read rules of 6.9: the first-year and five-year cost of an offer for given figures, and the contact a municipality gets",
            "type": "terms",
            "cost": cost,
            "contact": contacts,
        }),
    }
}
