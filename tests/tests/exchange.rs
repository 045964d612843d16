//! The exchange with the real binaries on two nodes (`exchange_federation`:
//! stewards kdn1 and kdn2 with threshold 2; ITK Rheinland, KRZN, GKD
//! Paderborn and Ostwestfalen-Lippe-IT admitted; Paderborn, Büren and
//! Delbrück admitted as buyers). Each test is one behaviour: the whole flow
//! from demand to the end of an agreement, every refusal over HTTP, the same
//! records over gossip (refused by what they carry, else with the effect the
//! fold gives them), capacity contention on two nodes, and a merger that
//! carries agreements.

use kx_protocol::author::LogWriter;
use kx_protocol::body::Kind;
use kx_protocol::{Body, Hash32, SecretKey, Timestamp, VerifiedRecord};
use kx_tests::federation::{Federation, example};
use kx_tests::{assert_refused, get, post, status, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);
const PADERBORN: &str = "05774032";
const BUEREN: &str = "05774016";
const DELBRUECK: &str = "05774020";

/// An offer in TOML with a capacity and the inter-municipal legal basis.
fn offer_toml(id: &str, title: &str, category: &str, capacity: u64) -> String {
    format!(
        r#"offer_id = "{id}"
title = "{title}"
summary = "Test"
description = ""
category = "{category}"
ozg_ids = []
leika_keys = []
regions = ["05"]
delivery = "saas"
capacity = {capacity}
certifications = []
standards = []
contacts = []
valid_from = 2026-01-01
[sla]
availability_bp = 9900
support_hours = "Mo-Fr"
response_minutes = 60
resolution_hours = 8
[pricing]
model = "per_user_per_month"
amount_cents = 450
currency = "EUR"
notes = ""
[legal_basis]
kind = "inter_municipal"
text = "Interkommunale Zusammenarbeit nach § 108 Abs. 6 GWB"
"#
    )
}

/// Two nodes, four providers, three municipalities of Kreis Paderborn (one
/// admitted alone, two from a CSV file in one action), and offers: ITK
/// Rheinland's `soc` (capacity 2) and `dms` (capacity 5), GKD Paderborn's
/// `servicekonto` and OWL-IT's `servicekonto-owl`.
fn exchange_federation() -> Federation {
    let mut f = Federation::new(
        "KDN",
        &["kdn1", "kdn2"],
        2,
        2,
        &[
            ("itk", "ITK Rheinland"),
            ("krzn", "KRZN"),
            ("gkd", "GKD Paderborn"),
            ("owl", "Ostwestfalen-Lippe-IT"),
        ],
    );
    for m in ["paderborn", "bueren", "delbrueck"] {
        f.key(m);
    }
    f.admit_municipality("paderborn", PADERBORN);
    f.write(
        "kreis.csv",
        &format!(
            "ags,did,name\n{BUEREN},{},Büren\n{DELBRUECK},{},\"Delbrück, Stadt\"\n",
            f.did("bueren"),
            f.did("delbrueck")
        ),
    );
    let mut args = vec![
        "federation",
        "admit-municipality",
        "--genesis",
        "genesis.json",
        "--csv",
        "kreis.csv",
    ];
    args.extend(f.steward_args());
    let out = f.kx_ok(0, &args);
    assert!(out.starts_with("stored municipality.admit"), "{out}");
    for (k, id, title, cat, cap) in [
        ("itk", "soc", "Security Operations Center", "soc-siem", 2),
        ("itk", "dms", "Dokumentenmanagement", "e-akte", 5),
        (
            "gkd",
            "servicekonto",
            "Servicekonto GKD",
            "servicekonto",
            10,
        ),
        (
            "owl",
            "servicekonto-owl",
            "Servicekonto OWL",
            "servicekonto",
            10,
        ),
    ] {
        f.write(&format!("{id}.toml"), &offer_toml(id, title, cat, cap));
        f.kx_ok(
            0,
            &[
                "offer",
                "publish",
                "--key",
                &format!("{k}.key"),
                &format!("{id}.toml"),
            ],
        );
    }
    f.same();
    f
}

/// `PROVIDER_DID/OFFER_ID` of a key's offer.
fn offer_ref(f: &Federation, key: &str, id: &str) -> String {
    format!("{}/{id}", f.did(key))
}

/// `kx request send` by `buyer` on node `i`; the request id it prints.
fn send(f: &Federation, i: usize, buyer: &str, offer: &str, extra: &[&str]) -> String {
    let key = format!("{buyer}.key");
    let mut args = vec![
        "request",
        "send",
        "--key",
        &key,
        "--offer",
        offer,
        "--quantity",
        "40",
        "--start",
        "2027-01-01",
        "--term-months",
        "24",
        "--contact-mailbox",
        "vergabe@example.org",
    ];
    args.extend_from_slice(extra);
    let out = f.kx_ok(i, &args);
    out.lines()
        .find_map(|l| l.strip_prefix("request id "))
        .unwrap_or_else(|| panic!("no request id in {out}"))
        .trim()
        .to_owned()
}

/// GKD Paderborn hands its portfolio to OWL-IT from `effective_at` (on node
/// 0), and OWL-IT accepts on node `accept_on`.
fn gkd_merges_into_owl(f: &Federation, effective_at: &str, accept_on: usize) {
    let out = f.kx_ok(
        0,
        &[
            "provider",
            "succession",
            "--key",
            "gkd.key",
            "--successor",
            &f.did("owl"),
            "--effective-at",
            effective_at,
        ],
    );
    let succession = out.split_whitespace().nth(2).expect("id").to_owned();
    let out = f.kx_ok(
        accept_on,
        &["provider", "accept", "--key", "owl.key", &succession],
    );
    assert!(out.starts_with("stored succession.accept"), "{out}");
}

/// The request `id` as node `i` shows it (None while it does not count there).
fn request_on(f: &Federation, i: usize, id: &str) -> Option<Value> {
    let r = get(&f.url(i), &format!("/v1/requests/{id}"));
    (r.status == 200).then(|| r.json())
}

/// Waits until node `i` shows request `id` with `field` equal to `want`.
fn wait_request(f: &Federation, i: usize, id: &str, pointer: &str, want: Value) -> Value {
    wait_for(
        &format!("request {id} {pointer} = {want} on node {i}"),
        WAIT,
        || request_on(f, i, id).filter(|r| r.pointer(pointer) == Some(&want)),
    )
}

#[test]
fn a_municipality_requests_a_provider_accepts_and_both_nodes_see_the_agreement_end() {
    let mut f = exchange_federation();
    // Demand, on node 1; listed on node 0.
    f.kx_ok(
        1,
        &[
            "demand",
            "publish",
            "--key",
            "paderborn.key",
            &example("demand.toml"),
        ],
    );
    let demands = wait_for("the demand on node 0", WAIT, || {
        let v = f.kx_json(0, &["demand", "list", "--region", "05774"]);
        (v["demands"].as_array()?.len() == 1).then_some(v)
    });
    assert_eq!(demands["demands"][0]["buyer"]["name"], "Paderborn");
    assert_eq!(demands["demands"][0]["body"]["demand_id"], "e-akte-2027");

    // Paderborn requests ITK Rheinland's DMS on node 1 ...
    let id = send(&f, 1, "paderborn", &offer_ref(&f, "itk", "dms"), &[]);
    let r = wait_request(&f, 0, &id, "/status", json!("open"));
    assert_eq!(r["buyer"]["ags"], PADERBORN);
    assert_eq!(
        r["legal_basis"]["kind"], "inter_municipal",
        "taken from the offer"
    );
    assert_eq!(
        r["contact"],
        json!({"role": "Vergabestelle", "mailbox": "vergabe@example.org"})
    );
    assert_eq!(r["stop"], "2029-01-01T00:00:00Z");
    // ... ITK Rheinland sees it as incoming on node 0 and accepts it there.
    let incoming = f.kx_json(0, &["request", "list", "--incoming", "--key", "itk.key"]);
    assert_eq!(incoming["requests"][0]["id"], id.as_str());
    let out = f.kx_ok(0, &["request", "accept", "--key", "itk.key", &id]);
    assert!(out.starts_with("stored request.accept"), "{out}");

    // Node 1 shows the agreement: pending until its start, on the offer and the
    // municipality.
    wait_request(&f, 1, &id, "/agreement/status", json!("pending"));
    let list = f.kx_json(1, &["agreement", "list", "--municipality", "Paderborn"]);
    assert_eq!(list["agreements"][0]["id"], id.as_str());
    let offer = get(
        &f.url(1),
        &format!("/v1/offers/{}/dms?at=2027-02-01T00:00:00Z", f.did("itk")),
    )
    .json();
    assert_eq!(offer["uptake"]["taken"], 1);
    assert_eq!(offer["uptake"]["remaining"], 4);
    assert_eq!(offer["uptake"]["takers"][0]["name"], "Paderborn");
    let town = get(&f.url(1), "/v1/municipalities/Paderborn").json();
    assert_eq!(town["municipality"]["agreements"], 1);
    assert_eq!(town["demands"][0]["demand_id"], "e-akte-2027");

    let records = f.same();

    // Restarted, node 1 rebuilds the same state from its store.
    f.restart(1);
    wait_for("node 1 back with the same state", WAIT, || {
        let (a, b) = (status(&f.url(0)), status(&f.url(1)));
        (b["records"].as_u64() == Some(records) && a["state_digest"] == b["state_digest"])
            .then_some(())
    });
    assert_eq!(
        request_on(&f, 1, &id).expect("still there")["status"],
        "accepted"
    );

    // While node 1 is down, Paderborn ends the agreement from mid-2027 on
    // node 0; node 1 catches up when it is back.
    f.restart_after(1, |f| {
        f.kx_ok(
            0,
            &[
                "agreement",
                "end",
                "--key",
                "paderborn.key",
                &id,
                "--effective-at",
                "2027-06-30",
                "--reason",
                "Eigenbetrieb",
            ],
        );
    });
    wait_request(
        &f,
        1,
        &id,
        "/end/effective_at",
        json!("2027-06-30T00:00:00Z"),
    );
    let ended = get(
        &f.url(1),
        &format!("/v1/requests/{id}?at=2027-07-01T00:00:00Z"),
    )
    .json();
    assert_eq!(ended["agreement"]["status"], "ended");
    f.same();
}

#[test]
fn every_exchange_rule_refuses_over_http_with_its_code() {
    let f = exchange_federation();
    let dms = offer_ref(&f, "itk", "dms");
    // A municipality requests only for itself; it is not a provider.
    let out = f.kx(
        0,
        &[
            "request",
            "send",
            "--key",
            "paderborn.key",
            "--offer",
            &dms,
            "--quantity",
            "1",
            "--start",
            "2027-01-01",
            "--on-behalf-of",
            BUEREN,
        ],
    );
    assert_refused(&out, "on_behalf_not_allowed");
    f.write("stadt.toml", &offer_toml("stadt", "Stadt", "e-akte", 1));
    assert_refused(
        &f.kx(
            0,
            &["offer", "publish", "--key", "paderborn.key", "stadt.toml"],
        ),
        "not_a_provider",
    );
    // A provider bundles only for its members, and not its own offer.
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "send",
                "--key",
                "krzn.key",
                "--offer",
                &dms,
                "--quantity",
                "1",
                "--start",
                "2027-01-01",
                "--on-behalf-of",
                PADERBORN,
            ],
        ),
        "not_a_member_municipality",
    );
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "send",
                "--key",
                "itk.key",
                "--offer",
                &dms,
                "--quantity",
                "1",
                "--start",
                "2027-01-01",
            ],
        ),
        "own_offer",
    );
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "send",
                "--key",
                "bueren.key",
                "--offer",
                &dms,
                "--quantity",
                "1",
                "--start",
                "2025-06-01",
            ],
        ),
        "start_before_offer",
    );
    // Only the offer's provider answers; a withdrawn request is not accepted;
    // a request is answered once.
    let id = send(&f, 0, "paderborn", &dms, &[]);
    assert_refused(
        &f.kx(0, &["request", "accept", "--key", "krzn.key", &id]),
        "not_responder",
    );
    assert_refused(
        &f.kx(0, &["request", "accept", "--key", "paderborn.key", &id]),
        "not_a_provider",
    );
    let other = send(&f, 0, "bueren", &dms, &[]);
    f.kx_ok(
        0,
        &[
            "request",
            "withdraw",
            "--key",
            "bueren.key",
            &other,
            "--reason",
            "entfallen",
        ],
    );
    assert_refused(
        &f.kx(0, &["request", "accept", "--key", "itk.key", &other]),
        "request_withdrawn",
    );
    f.kx_ok(0, &["request", "accept", "--key", "itk.key", &id]);
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "decline",
                "--key",
                "itk.key",
                &id,
                "--reason",
                "doch nicht",
            ],
        ),
        "already_answered",
    );
    assert_refused(
        &f.kx(0, &["request", "withdraw", "--key", "paderborn.key", &id]),
        "already_answered",
    );
    assert_refused(
        &f.kx(0, &["agreement", "end", "--key", "krzn.key", &id]),
        "not_a_party",
    );
    // An end cannot take effect before it was signed.
    assert_refused(
        &f.kx(
            0,
            &[
                "agreement",
                "end",
                "--key",
                "paderborn.key",
                &id,
                "--effective-at",
                "2026-01-01",
            ],
        ),
        "backdated_end",
    );
    // No request on a withdrawn offer or a suspended provider's.
    f.kx_ok(0, &["offer", "withdraw", "--key", "itk.key", "soc"]);
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "send",
                "--key",
                "delbrueck.key",
                "--offer",
                &offer_ref(&f, "itk", "soc"),
                "--quantity",
                "1",
                "--start",
                "2027-01-01",
            ],
        ),
        "offer_withdrawn",
    );
    let did_gkd = f.did("gkd");
    let mut suspend = vec![
        "federation",
        "suspend",
        "--provider",
        &did_gkd,
        "--reason",
        "Prüfung",
    ];
    suspend.extend(f.steward_args());
    f.kx_ok(0, &suspend);
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "send",
                "--key",
                "delbrueck.key",
                "--offer",
                &offer_ref(&f, "gkd", "servicekonto"),
                "--quantity",
                "1",
                "--start",
                "2027-01-01",
            ],
        ),
        "provider_suspended",
    );
    // One key per AGS.
    let mut twice = vec![
        "federation",
        "admit-municipality",
        "--genesis",
        "genesis.json",
        "--ags",
        PADERBORN,
    ];
    let krzn = f.did("krzn");
    twice.extend(["--member", &krzn]);
    twice.extend(f.steward_args());
    let out = f.kx(0, &twice);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.same();
}

/// A record of `key` signed at the end of its log as node 0 knows it.
fn next_record(f: &Federation, key: SecretKey, body: Body) -> VerifiedRecord {
    let author = get(&f.url(0), &format!("/v1/authors/{}", key.did())).json();
    let head = author["head"].as_object().map(|h| {
        let seq = h["seq"].as_u64().expect("seq");
        let id: Hash32 = h["id"].as_str().expect("id").parse().expect("hash");
        (seq, id)
    });
    let fed: Hash32 = status(&f.url(0))["federation"]
        .as_str()
        .expect("fed")
        .parse()
        .expect("hash");
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let now = Timestamp::from_unix(secs as i64).expect("now");
    let mut w = LogWriter::new(key, fed, head);
    w.write(body, now).expect("sign")
}

#[test]
fn records_from_peers_are_refused_by_what_they_carry_and_otherwise_folded() {
    let f = exchange_federation();
    let dms = offer_ref(&f, "itk", "dms");
    let id = send(&f, 0, "paderborn", &dms, &[]);
    let withdrawn = send(&f, 0, "bueren", &dms, &[]);
    f.kx_ok(
        0,
        &["request", "withdraw", "--key", "bueren.key", &withdrawn],
    );
    f.same();
    let fed = status(&f.url(1))["federation"]
        .as_str()
        .expect("fed")
        .parse::<Hash32>()
        .expect("hash");
    let about = |kind: Kind, r: &str| Body::from_json(kind, json!({"request": r})).expect("body");
    // A municipality's offer and a municipality's request for another:
    // refused by what they carry, on ingest too.
    let town_offer = next_record(
        &f,
        f.secret("paderborn"),
        kx_tests::records::offer("stadt", 1),
    );
    let dms_record: Hash32 =
        get(&f.url(0), &format!("/v1/offers/{}/dms", f.did("itk"))).json()["record"]
            .as_str()
            .expect("record")
            .parse()
            .expect("hash");
    let for_others = next_record(
        &f,
        f.secret("delbrueck"),
        Body::from_json(
            Kind::Request,
            json!({"offer": dms_record.to_hex(), "quantity": 1, "start": "2027-01-01T00:00:00Z",
                   "legal_basis": {"kind": "tender", "reference": "V-1"}, "on_behalf_of": [PADERBORN],
                   "note": "", "contact": {"role": "Vergabestelle"}}),
        )
        .expect("body"),
    );
    // KRZN accepts ITK Rheinland's request: stored, without effect. ITK
    // Rheinland accepts the withdrawn one: its acceptance crossed the
    // withdrawal, so it makes an agreement (protocol 6.6.2).
    let foreign = next_record(&f, f.secret("krzn"), about(Kind::RequestAccept, &id));
    let late = next_record(&f, f.secret("itk"), about(Kind::RequestAccept, &withdrawn));
    let before = status(&f.url(1))["records"].as_u64().expect("records");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(kx_tests::hostile_peer(
        f.nodes[1].listen[0].parse().expect("multiaddr"),
        kx_node::p2p::topic(&fed),
        vec![
            town_offer.canonical_json().to_vec(),
            for_others.canonical_json().to_vec(),
            foreign.canonical_json().to_vec(),
            late.canonical_json().to_vec(),
        ],
    ));
    let metrics = String::from_utf8(get(&f.url(1), "/metrics").body).expect("utf8");
    for code in ["not_a_provider", "on_behalf_not_allowed"] {
        assert!(
            metrics.contains(&format!("kx_records_rejected_total{{code=\"{code}\"}}")),
            "{code}: {metrics}"
        );
    }
    let records = f.same();
    assert_eq!(
        records,
        before + 2,
        "the two answers are stored (on both nodes)"
    );
    for i in 0..2 {
        assert_eq!(
            request_on(&f, i, &id).expect("counts")["status"],
            "open",
            "node {i}"
        );
        assert_eq!(
            request_on(&f, i, &withdrawn).expect("counts")["status"],
            "accepted",
            "node {i}"
        );
    }
    // Over HTTP the same answers are refused with their codes.
    assert_eq!(
        post(&f.url(0), "/v1/records", foreign.canonical_json()).status,
        200,
        "already held"
    );
    let again = next_record(&f, f.secret("krzn"), about(Kind::RequestAccept, &id));
    let r = post(&f.url(0), "/v1/records", again.canonical_json());
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (422, json!("not_responder"))
    );
}

#[test]
fn concurrent_acceptances_over_capacity_converge_to_one_outcome_on_both_nodes() {
    let f = exchange_federation();
    let konto = offer_ref(&f, "gkd", "servicekonto");
    // GKD Paderborn hands its portfolio to OWL-IT; both may answer for it.
    gkd_merges_into_owl(&f, "2027-06-01", 0);
    // Capacity 1 from now on: a new version of the offer.
    f.write(
        "servicekonto.toml",
        &offer_toml("servicekonto", "Servicekonto GKD", "servicekonto", 1),
    );
    f.kx_ok(
        0,
        &["offer", "publish", "--key", "gkd.key", "servicekonto.toml"],
    );
    let a = send(&f, 0, "paderborn", &konto, &[]);
    let b = send(&f, 0, "bueren", &konto, &[]);
    f.same();
    // The predecessor accepts one on node 0 while the successor accepts the
    // other on node 1.
    let dir = f.dir().to_owned();
    let (u0, u1) = (f.url(0), f.url(1));
    let t0 = std::thread::spawn(move || {
        kx_tests::kx_ok(&dir, &u0, &["request", "accept", "--key", "gkd.key", &a])
    });
    let dir = f.dir().to_owned();
    let t1 = std::thread::spawn(move || {
        kx_tests::kx_ok(&dir, &u1, &["request", "accept", "--key", "owl.key", &b])
    });
    t0.join().expect("accept on node 0");
    t1.join().expect("accept on node 1");
    f.same();
    let at = "at=2027-02-01T00:00:00Z";
    let statuses = |i: usize| -> Vec<(String, String)> {
        get(&f.url(i), &format!("/v1/agreements?offer={konto}&{at}")).json()["agreements"]
            .as_array()
            .expect("agreements")
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().expect("id").to_owned(),
                    r["agreement"]["status"]
                        .as_str()
                        .expect("status")
                        .to_owned(),
                )
            })
            .collect()
    };
    let (s0, s1) = (statuses(0), statuses(1));
    assert_eq!(s0, s1, "both nodes decide alike");
    let mut kinds: Vec<&str> = s0.iter().map(|(_, s)| s.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["active", "over_capacity"], "{s0:?}");
    let offer = get(
        &f.url(1),
        &format!("/v1/offers/{}/servicekonto?{at}", f.did("gkd")),
    )
    .json();
    assert_eq!(
        (
            offer["uptake"]["taken"].clone(),
            offer["uptake"]["remaining"].clone()
        ),
        (json!(1), json!(0))
    );
}

#[test]
fn a_merger_carries_agreements_and_a_consolidation_moves_them_to_the_successors_offer() {
    let f = exchange_federation();
    let id = send(
        &f,
        0,
        "delbrueck",
        &offer_ref(&f, "gkd", "servicekonto"),
        &[],
    );
    f.kx_ok(0, &["request", "accept", "--key", "gkd.key", &id]);
    gkd_merges_into_owl(&f, "2026-01-01", 1);
    // OWL-IT carries the agreement ...
    let carried = wait_for("OWL-IT to carry the agreement", WAIT, || {
        let v = f.kx_json(0, &["agreement", "list", "--provider", &f.did("owl")]);
        (v["agreements"].as_array()?.len() == 1).then_some(v)
    });
    assert_eq!(
        carried["agreements"][0]["responder"]["name"],
        "Ostwestfalen-Lippe-IT"
    );
    // ... and retires GKD's service account in favour of its own.
    assert_refused(
        &f.kx(
            0,
            &[
                "offer",
                "consolidate",
                "--key",
                "krzn.key",
                &offer_ref(&f, "gkd", "servicekonto"),
                "--replacement",
                "x",
            ],
        ),
        "not_a_successor",
    );
    f.kx_ok(
        1,
        &[
            "offer",
            "consolidate",
            "--key",
            "owl.key",
            &offer_ref(&f, "gkd", "servicekonto"),
            "--replacement",
            "servicekonto-owl",
            "--reason",
            "Doppelt nach der Fusion",
        ],
    );
    let moved = wait_request(
        &f,
        0,
        &id,
        "/agreement/counts_against",
        json!(offer_ref(&f, "owl", "servicekonto-owl")),
    );
    assert_eq!(moved["status"], "accepted");
    let gkd = get(
        &f.url(0),
        &format!("/v1/offers/{}/servicekonto", f.did("gkd")),
    )
    .json();
    assert_eq!(gkd["status"], "consolidated");
    let owl = get(
        &f.url(0),
        &format!(
            "/v1/offers/{}/servicekonto-owl?at=2027-02-01T00:00:00Z",
            f.did("owl")
        ),
    )
    .json();
    assert_eq!(owl["uptake"]["takers"][0]["name"], "Delbrück");
    assert_refused(
        &f.kx(
            0,
            &[
                "request",
                "send",
                "--key",
                "paderborn.key",
                "--offer",
                &offer_ref(&f, "gkd", "servicekonto"),
                "--quantity",
                "1",
                "--start",
                "2027-01-01",
            ],
        ),
        "offer_withdrawn",
    );
    f.same();
}

/// The transition's NRW figures counted straight from the records, for a
/// federation without withdrawals, successions or capacity contention, whose
/// offers are all delivered to all NRW: what `GET /v1/transition` must say.
fn counted(records: &[Value], at: &str, category: Option<&str>) -> Value {
    let within = |c: &str| category.is_none_or(|want| kx_protocol::taxonomy::is_within(c, want));
    let of_kind = |k: &'static str| records.iter().filter(move |r| r["kind"] == k);
    let ags_of: std::collections::HashMap<String, String> = of_kind("municipality.admit")
        .flat_map(|r| {
            r["body"]["municipalities"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|m| {
            (
                m["member"].as_str().unwrap_or("").to_owned(),
                m["ags"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let members: std::collections::HashMap<String, Vec<String>> = of_kind("provider.profile")
        .map(|r| {
            let m = r["body"]["members"].as_array().cloned().unwrap_or_default();
            (
                r["author"].as_str().unwrap_or("").to_owned(),
                m.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
            )
        })
        .collect();
    // Offers: the latest version of each.
    let mut offers: std::collections::BTreeMap<(String, String), &Value> = Default::default();
    for r in of_kind("offer") {
        let key = (
            r["author"].as_str().unwrap_or("").to_owned(),
            r["body"]["offer_id"].as_str().unwrap_or("").to_owned(),
        );
        if offers
            .get(&key)
            .is_none_or(|o| o["body"]["version"].as_u64() < r["body"]["version"].as_u64())
        {
            offers.insert(key, r);
        }
    }
    let record_id = |r: &Value| {
        kx_protocol::VerifiedRecord::from_bytes(r.to_string().as_bytes())
            .expect("record")
            .id()
            .to_hex()
    };
    let offer_by_version: std::collections::HashMap<String, &Value> =
        of_kind("offer").map(|r| (record_id(r), r)).collect();
    let current: Vec<&&Value> = offers
        .values()
        .filter(|o| within(o["body"]["category"].as_str().unwrap_or("")))
        .collect();
    let providers: std::collections::BTreeSet<&str> = current
        .iter()
        .filter_map(|o| o["author"].as_str())
        .collect();
    let demands: Vec<&Value> = of_kind("demand")
        .filter(|d| ags_of.contains_key(d["author"].as_str().unwrap_or("")))
        .filter(|d| d["body"]["wanted_until"].as_str().is_none_or(|u| u > at))
        .filter(|d| d["body"]["category"].as_str().is_some_and(within))
        .collect();
    let gaps: std::collections::BTreeSet<&str> = demands
        .iter()
        .filter(|d| {
            let want = d["body"]["category"].as_str().unwrap_or("");
            !offers.values().any(|o| {
                kx_protocol::taxonomy::is_within(o["body"]["category"].as_str().unwrap_or(""), want)
            })
        })
        .map(|d| ags_of[d["author"].as_str().unwrap_or("")].as_str())
        .collect();
    let accepted: std::collections::BTreeSet<&str> = of_kind("request.accept")
        .filter_map(|a| a["body"]["request"].as_str())
        .collect();
    let ends: std::collections::HashMap<&str, &str> = of_kind("agreement.end")
        .filter_map(|e| {
            Some((
                e["body"]["request"].as_str()?,
                e["body"]["effective_at"].as_str()?,
            ))
        })
        .collect();
    let mut active = 0;
    let mut takers = std::collections::BTreeSet::new();
    let mut exchange = std::collections::BTreeSet::new();
    for r in of_kind("request") {
        let id = record_id(r);
        let offer = offer_by_version[r["body"]["offer"].as_str().unwrap_or("")];
        let runs = accepted.contains(id.as_str())
            && r["body"]["start"].as_str().is_some_and(|s| s <= at)
            && ends.get(id.as_str()).is_none_or(|e| *e > at);
        if !runs || !within(offer["body"]["category"].as_str().unwrap_or("")) {
            continue;
        }
        let ags = ags_of[r["author"].as_str().unwrap_or("")].clone();
        active += 1;
        let provider = offer["author"].as_str().unwrap_or("");
        if !members
            .get(provider)
            .is_some_and(|m| m.iter().any(|p| ags.starts_with(p.as_str())))
        {
            exchange.insert(ags.clone());
        }
        takers.insert(ags);
    }
    json!({
        "municipalities": 396,
        "offers": current.len(),
        "providers": providers.len(),
        "covered": if current.is_empty() { 0 } else { 396 },
        "open_demand": demands.len(),
        "gaps": gaps.len(),
        "active_agreements": active,
        "takers": takers.len(),
        "exchange": exchange.len(),
    })
}

#[test]
fn the_transition_view_equals_a_count_from_the_records_on_both_nodes() {
    let f = exchange_federation();
    // GKD Paderborn's members are the Kreis Paderborn: in-house for them.
    f.write(
        "gkd.toml",
        "name = \"GKD Paderborn\"\nshort_name = \"GKD\"\ndescription = \"\"\nregions = [\"05774\"]\nmembers = [\"05774\"]\ncertifications = []\nnodes = []\ncontacts = []\n",
    );
    f.kx_ok(0, &["profile", "publish", "--key", "gkd.key", "gkd.toml"]);
    // The DMS says it carries itself from one taker on.
    f.write(
        "dms2.toml",
        &offer_toml("dms", "Dokumentenmanagement", "e-akte", 5)
            .replace("[sla]", "break_even = 1\n[sla]"),
    );
    f.kx_ok(0, &["offer", "publish", "--key", "itk.key", "dms2.toml"]);
    // Paderborn asks for an e-akte (answered) and for GIS (a gap).
    f.kx_ok(
        1,
        &[
            "demand",
            "publish",
            "--key",
            "paderborn.key",
            &example("demand.toml"),
        ],
    );
    f.write(
        "gis.toml",
        &std::fs::read_to_string(example("demand.toml"))
            .expect("example")
            .replace("e-akte-2027", "gis-2027")
            .replace("category = \"e-akte\"", "category = \"geodaten-gis\""),
    );
    f.kx_ok(
        1,
        &["demand", "publish", "--key", "paderborn.key", "gis.toml"],
    );
    // Three agreements from 2027-01-01; Paderborn ends its SOC on 2027-01-20.
    let dms = send(&f, 1, "bueren", &offer_ref(&f, "itk", "dms"), &[]);
    let konto = send(
        &f,
        1,
        "delbrueck",
        &offer_ref(&f, "gkd", "servicekonto"),
        &[],
    );
    let soc = send(&f, 1, "paderborn", &offer_ref(&f, "itk", "soc"), &[]);
    for (key, id) in [("itk", &dms), ("gkd", &konto), ("itk", &soc)] {
        wait_request(&f, 0, id, "/status", json!("open"));
        f.kx_ok(
            0,
            &["request", "accept", "--key", &format!("{key}.key"), id],
        );
    }
    wait_request(&f, 1, &soc, "/status", json!("accepted"));
    f.kx_ok(
        1,
        &[
            "agreement",
            "end",
            "--key",
            "paderborn.key",
            &soc,
            "--effective-at",
            "2027-01-20",
            "--reason",
            "Eigenbetrieb",
        ],
    );
    f.same();

    let at = "2027-02-01T00:00:00Z";
    let records = kx_tests::all_records(&f.url(0));
    for category in [None, Some("e-akte-dms"), Some("geodaten-gis")] {
        let q = match category {
            Some(c) => format!("/v1/transition?at={at}&category={c}"),
            None => format!("/v1/transition?at={at}"),
        };
        let views: Vec<Value> = (0..2).map(|i| get(&f.url(i), &q).json()).collect();
        assert_eq!(views[0], views[1], "both nodes agree on {q}");
        let v = &views[0];
        assert_eq!(v["totals"], counted(&records, at, category), "{q}: {v}");
        let paderborn = v["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .find(|r| r["ags"] == "05774")
            .expect("Kreis Paderborn");
        let mut kreis = counted(&records, at, category);
        kreis["municipalities"] = json!(10);
        kreis["covered"] = json!(if v["totals"]["offers"] == 0 { 0 } else { 10 });
        assert_eq!(paderborn["figures"], kreis, "{q}");
        assert_eq!(v["regions"].as_array().map(Vec::len), Some(53));
        let mut args = vec!["transition", "--at", at];
        if let Some(c) = category {
            args.extend(["--category", c]);
        }
        assert_eq!(
            &f.kx_json(1, &args),
            v,
            "kx transition --json equals the API"
        );
    }
    let all = get(&f.url(0), &format!("/v1/transition?at={at}")).json();
    assert_eq!(all["totals"]["gaps"], 1, "GIS: {all}");
    assert_eq!(
        all["totals"]["exchange"], 1,
        "Büren takes from ITK Rheinland, not its own"
    );
    assert_eq!(
        all["regions"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["ags"] == "05774"))
            .map(|r| r["gap_municipalities"].clone()),
        Some(json!([{"ags": PADERBORN, "name": "Paderborn"}]))
    );
    assert_eq!(all["break_even"][0]["offer_id"], "dms");
    assert_eq!(all["break_even"][0]["self_sustaining"], true);
    let jan = all["months"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["month"] == "2027-01"))
        .cloned();
    assert_eq!(
        jan,
        Some(json!({"month": "2027-01", "started": 3, "ended": 1}))
    );
    // The catalog's page shows the same, with the map linking to the Kreis.
    let page = String::from_utf8_lossy(
        &get(&f.url(1), "/uebergang?stichtag=2027-02-01&karte=nutzung").body,
    )
    .into_owned();
    assert!(
        page.contains("href=\"/gemeinden?kreis=05774\""),
        "the map links the Kreis"
    );
    assert!(
        page.contains("Kreis Paderborn: 2 von 10 Gemeinden (20 %)"),
        "take-up on the map"
    );
    assert!(page.contains("<td>1: Paderborn</td>"), "the gap is named");
}

/// An e-akte offer of `key` declaring the stewards' `kdn-e-akte`, priced per
/// inhabitant and year, with or without the certification the standard needs.
fn akte_toml(id: &str, cents: u64, certified: bool) -> String {
    let certs = if certified {
        "certifications = [\"iso27001-grundschutz\"]"
    } else {
        "certifications = []"
    };
    offer_toml(id, &format!("E-Akte {id}"), "e-akte", 5)
        .replace("certifications = []", certs)
        .replace(
            "standards = []",
            "standards = [\"xdomea\"]\nconforms_to = [\"kdn-e-akte\"]",
        )
        .replace("per_user_per_month", "per_inhabitant_per_year")
        .replace("amount_cents = 450", &format!("amount_cents = {cents}"))
}

#[test]
fn a_stewards_standard_shows_met_or_not_with_its_reasons_on_both_nodes_and_compare_sorts_by_cost() {
    let f = exchange_federation();
    let mut define = vec!["federation", "define-standard"];
    let file = example("standard.toml");
    define.push(&file);
    define.extend(f.steward_args());
    let out = f.kx_ok(0, &define);
    assert!(out.starts_with("stored standard.define"), "{out}");
    for (key, id, cents, certified) in [
        ("krzn", "akte-krzn", 30, true),
        ("owl", "akte-owl", 25, false),
    ] {
        f.write(&format!("{id}.toml"), &akte_toml(id, cents, certified));
        f.kx_ok(
            1,
            &[
                "offer",
                "publish",
                "--key",
                &format!("{key}.key"),
                &format!("{id}.toml"),
            ],
        );
    }
    f.same();
    let krzn = offer_ref(&f, "krzn", "akte-krzn");
    let owl = offer_ref(&f, "owl", "akte-owl");
    let read = |i: usize, r: &str| -> Value {
        let resp = get(&f.url(i), &format!("/v1/offers/{r}?municipality=Paderborn"));
        assert_eq!(resp.status, 200);
        serde_json::from_slice(&resp.body).expect("json")
    };
    // Met, and not met for the missing certification alone: the same on both nodes.
    let (met, unmet) = (read(0, &krzn), read(0, &owl));
    assert_eq!(met["conformance"][0]["status"], "met", "{met}");
    assert_eq!(unmet["conformance"][0]["status"], "not_met", "{unmet}");
    let failed: Vec<&Value> = unmet["conformance"][0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["met"] == false)
        .collect();
    assert_eq!(
        failed,
        [
            &json!({"criterion": "certification", "required": "iso27001-grundschutz", "offered": null, "met": false})
        ]
    );
    for r in [&krzn, &owl] {
        assert_eq!(read(0, r)["conformance"], read(1, r)["conformance"], "{r}");
    }
    // The filter by standard, on the other node, through kx.
    let found = f.kx_json(
        1,
        &["offer", "search", "--standard", "kdn-e-akte", "--json"],
    );
    let ids: Vec<&str> = found["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .filter_map(|o| o["offer_id"].as_str())
        .collect();
    assert_eq!(ids, ["akte-krzn"]);
    // Paderborn's yearly cost from its inhabitants in the shipped data.
    let people = kx_protocol::geo::municipalities()
        .iter()
        .find(|m| m.ags == PADERBORN)
        .map(|m| m.population)
        .expect("Paderborn");
    assert_eq!(met["cost"]["first_year_cents"], json!(30 * people), "{met}");
    assert_eq!(
        met["cost"]["five_years_cents"],
        json!(150 * people),
        "{met}"
    );
    assert_eq!(
        met["contact"],
        Value::Null,
        "the test offers name no contact"
    );
    // Compare sorts by cost: OWL-IT's cheaper offer first, in kx and on the page.
    let compared = f.kx_json(
        0,
        &[
            "offer",
            "compare",
            &krzn,
            &owl,
            "--municipality",
            "Paderborn",
            "--json",
        ],
    );
    let order: Vec<&str> = compared
        .as_array()
        .expect("offers")
        .iter()
        .filter_map(|o| o["offer_id"].as_str())
        .collect();
    assert_eq!(order, ["akte-owl", "akte-krzn"]);
    let page = get(
        &f.url(1),
        &format!("/vergleich?o={krzn}&o={owl}&gemeinde=Paderborn"),
    );
    let html = String::from_utf8_lossy(&page.body);
    let (a, b) = (
        html.find("akte-owl?gemeinde").expect("owl column"),
        html.find("akte-krzn?gemeinde").expect("krzn column"),
    );
    assert!(a < b, "the cheaper offer comes first");
    let page = get(&f.url(1), &format!("/angebot/{owl}?gemeinde=Paderborn"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("KDN-Standard nicht erfüllt"), "{html}");
    assert!(
        html.contains(
            "Zertifizierung fehlt: ISO 27001-Zertifizierung auf der Basis von IT-Grundschutz"
        ),
        "{html}"
    );
    let page = get(&f.url(0), &format!("/angebot/{krzn}?gemeinde=Paderborn"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("KDN-Standard erfüllt"), "{html}");
    assert!(
        html.contains(&format!("× {} Einwohner:innen", thousands(people))),
        "{html}"
    );
}

/// `151633` as the catalog writes it: `151.633`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}
