//! Federation governance with the real binaries on two nodes (`owl_federation`:
//! two stewards with threshold 2, GKD Paderborn, krz and Ostwestfalen-Lippe-IT
//! admitted, one offer each). Each test is one governance behaviour: drafts and
//! cosigning, forged admissions, suspension, rotation, the OWL-IT merger of
//! 1 January 2024, revocation, new stewards, a lost key. Every attack is refused
//! with its code on both nodes and stores nothing. Plus a closed federation that
//! keeps undeclared nodes out.

use kx_protocol::body::AdmitBody;
use kx_protocol::{Body, Hash32, SecretKey, VerifiedRecord, record};
use kx_tests::federation::{CONVERGE, Federation, example};
use kx_tests::records::{key, t0};
use kx_tests::{NodeProc, TempDir, assert_refused, get, init_fast, kx_ok, post, status, wait_for};
use serde_json::Value;
use std::time::Duration;

fn offer_toml(id: &str, title: &str) -> String {
    format!(
        r#"offer_id = "{id}"
title = "{title}"
summary = "Demo"
description = ""
category = "einwohnerwesen"
ozg_ids = ["10124"]
leika_keys = []
regions = ["05774"]
delivery = "hosting"
capacity = 5
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
model = "on_request"
amount_cents = 0
currency = "EUR"
notes = ""
"#
    )
}

/// Two nodes; stewards kdn1 and kdn2 (threshold 2); GKD Paderborn (`gkd`, offer
/// `kfz`), krz (`krz`, offer `melde`) and Ostwestfalen-Lippe-IT (`owl`, offer
/// `gis`) admitted and published; both nodes agree.
fn owl_federation() -> Federation {
    let f = Federation::new(
        "KDN",
        &["kdn1", "kdn2"],
        2,
        2,
        &[
            ("gkd", "GKD Paderborn"),
            ("krz", "krz"),
            ("owl", "Ostwestfalen-Lippe-IT"),
        ],
    );
    for (k, id, title) in [
        ("gkd", "kfz", "Kfz-Zulassung Paderborn"),
        ("krz", "melde", "Meldewesen Lippe"),
        ("owl", "gis", "GIS OWL"),
    ] {
        f.write(&format!("{id}.toml"), &offer_toml(id, title));
        f.kx_ok(
            1,
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

/// The offers a node shows under `provider` (withdrawn and expired included).
fn offers_of(url: &str, provider: &str) -> Vec<Value> {
    get(
        url,
        &format!("/v1/offers?provider={provider}&include=withdrawn,expired"),
    )
    .json()["offers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Both stewards' keys, for a threshold-2 action.
const BOTH: [&str; 4] = ["--steward-key", "kdn1.key", "--steward-key", "kdn2.key"];

/// `args` followed by both stewards' keys.
fn with_both<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(BOTH);
    all
}

/// The governance head node 0 reports.
fn head(f: &Federation) -> Hash32 {
    status(&f.url(0))["governance_head"]
        .as_str()
        .expect("head")
        .parse()
        .expect("hash")
}

/// An admission of a new key signed by `author`, approved by `approvers`, on
/// the current head (or an explicit log position for a steward that signed
/// before).
fn forged_admit(
    f: &Federation,
    approvers: &[&SecretKey],
    author: &SecretKey,
    position: (u64, Option<Hash32>),
) -> VerifiedRecord {
    let mut body = Body::MemberAdmit(AdmitBody {
        prev_action: head(f),
        provider: key(99).did().clone(),
        name: "Eindringling".parse().expect("name"),
        approvals: Vec::new(),
    });
    for k in approvers {
        record::approve(&mut body, k);
    }
    record::sign(
        author,
        record::Draft {
            federation: f.genesis.record().federation,
            seq: position.0,
            prev: position.1,
            issued_at: t0(),
            body,
        },
    )
    .expect("sign")
}

#[test]
fn one_steward_writes_a_draft_and_the_second_completes_it_on_the_other_node() {
    let mut f = owl_federation();
    let regio = f.key("regio");
    let before = f.same();
    let first = f.kx_ok(
        0,
        &[
            "federation",
            "admit",
            "--genesis",
            "genesis.json",
            "--provider",
            &regio,
            "--name",
            "regio iT",
            "--steward-key",
            "kdn1.key",
            "--draft",
            "regio.json",
        ],
    );
    assert!(first.contains("1 of 2 approvals"), "{first}");
    assert!(
        first.contains(&f.did("kdn2")),
        "names who is missing: {first}"
    );
    assert_eq!(f.same(), before, "nothing submitted below the threshold");
    // The draft travels between stewards: it holds no key material, neither the
    // encrypted key file's text nor the seed inside it.
    let draft = std::fs::read_to_string(f.dir().join("regio.json")).expect("draft");
    let key_file = std::fs::read_to_string(f.dir().join("kdn1.key")).expect("key");
    assert!(key_file.contains("ENCRYPTED PRIVATE KEY"), "{key_file}");
    for line in key_file.lines().skip(2).filter(|l| l.len() > 16) {
        assert!(!draft.contains(line), "the draft holds key text: {line}");
    }
    std::fs::copy(f.dir().join("kdn1.key"), f.dir().join("kdn1-plain.key")).expect("copy");
    f.kx_ok(0, &["key", "decrypt", "kdn1-plain.key"]);
    let plain: Value = serde_json::from_str(
        &std::fs::read_to_string(f.dir().join("kdn1-plain.key")).expect("plain key"),
    )
    .expect("json");
    assert!(!draft.contains(plain["seed"].as_str().expect("seed")));
    let done = f.kx_ok(
        1,
        &[
            "federation",
            "cosign",
            "regio.json",
            "--steward-key",
            "kdn2.key",
        ],
    );
    assert!(done.starts_with("stored member.admit"), "{done}");
    assert_eq!(f.same(), before + 1);
    for i in 0..2 {
        let p = get(&f.url(i), &format!("/v1/providers/{regio}")).json();
        assert_eq!(p["standing"], "active");
    }
}

#[test]
fn a_key_that_is_no_steward_and_a_genesis_of_another_federation_are_refused() {
    let mut f = owl_federation();
    let regio = f.key("regio");
    f.key("outsider");
    f.kx_ok(
        0,
        &[
            "federation",
            "init",
            "--name",
            "Andere",
            "--steward-key",
            "outsider.key",
            "--out",
            "other.json",
        ],
    );
    let gkd = f.did("gkd");
    let before = f.same();
    // Every steward command takes the same flags; none writes a draft that
    // could never be completed.
    for args in [
        vec![
            "federation",
            "admit",
            "--provider",
            &regio,
            "--name",
            "regio iT",
        ],
        vec![
            "federation",
            "suspend",
            "--provider",
            &gkd,
            "--reason",
            "Prüfung",
        ],
        vec![
            "federation",
            "revoke",
            "--provider",
            &gkd,
            "--reason",
            "Ende",
        ],
    ] {
        let mut with_key = args.clone();
        with_key.extend(["--steward-key", "outsider.key", "--draft", "never.json"]);
        let out = f.kx(0, &with_key);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("not_a_steward") && err.contains("is not a steward"),
            "{args:?}: {err}"
        );
        assert!(!f.dir().join("never.json").exists(), "{args:?}: no draft");
        // --genesis checks the node's federation for every one of them.
        let mut with_genesis = args.clone();
        with_genesis.extend(["--steward-key", "kdn1.key", "--genesis", "other.json"]);
        let out = f.kx(0, &with_genesis);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains("other_federation"), "{args:?}: {err}");
    }
    assert_eq!(f.same(), before, "nothing submitted");
}

#[test]
fn forged_admissions_are_refused_on_both_nodes_and_store_nothing() {
    let mut f = owl_federation();
    f.key("outsider");
    let base = f.same();
    let (kdn1, outsider) = (f.secret("kdn1"), f.secret("outsider"));
    let first = (1, None);
    for (i, rec, code) in [
        (
            0,
            forged_admit(&f, &[&outsider], &outsider, first),
            "not_steward",
        ),
        (
            1,
            forged_admit(&f, &[&outsider, &kdn1], &outsider, first),
            "not_steward",
        ),
        (
            0,
            forged_admit(&f, &[&kdn1], &kdn1, first),
            "below_threshold",
        ),
        (
            1,
            forged_admit(&f, &[&kdn1], &kdn1, first),
            "below_threshold",
        ),
    ] {
        let r = post(&f.url(i), "/v1/records", rec.canonical_json());
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (422, Some(code))
        );
    }
    assert_eq!(f.same(), base, "nothing stored");
}

#[test]
fn a_record_replayed_into_another_federation_is_refused() {
    let f = owl_federation();
    let other = TempDir::new("gov-other");
    kx_ok(other.path(), "", &["key", "gen", "--out", "s.key"]);
    kx_ok(
        other.path(),
        "",
        &[
            "federation",
            "init",
            "--name",
            "Andere",
            "--steward-key",
            "s.key",
            "--out",
            "g.json",
        ],
    );
    let og = VerifiedRecord::from_bytes(&std::fs::read(other.path().join("g.json")).expect("r"))
        .expect("g");
    init_fast(&other.path().join("n"), &og, &[]);
    let on = NodeProc::start(&other.path().join("n"), &[]);
    let any = get(&f.url(0), "/v1/records?limit=2").json()["records"][1].clone();
    let r = post(
        &on.http,
        "/v1/records",
        serde_json::to_string(&any).expect("json").as_bytes(),
    );
    assert_eq!(r.json()["error"]["code"], "wrong_federation");
    assert_eq!(status(&on.http)["records"], 1);
    on.stop();
}

#[test]
fn suspension_hides_offers_and_refuses_records_until_reinstated() {
    let f = owl_federation();
    let krz = f.did("krz");
    f.kx_ok(
        0,
        &with_both(&[
            "federation",
            "suspend",
            "--provider",
            &krz,
            "--reason",
            "Prüfung",
        ]),
    );
    f.same();
    for i in 0..2 {
        assert_eq!(
            offers_of(&f.url(i), &krz).len(),
            0,
            "hidden while suspended"
        );
        let out = f.kx(i, &["offer", "publish", "--key", "krz.key", "melde.toml"]);
        assert_refused(&out, "member_suspended");
    }
    f.kx_ok(
        1,
        &with_both(&[
            "federation",
            "reinstate",
            "--provider",
            &krz,
            "--reason",
            "geklärt",
        ]),
    );
    f.same();
    assert_eq!(offers_of(&f.url(1), &krz).len(), 1);
    f.kx_ok(0, &["offer", "publish", "--key", "krz.key", "melde.toml"]);
}

#[test]
fn a_rotated_key_is_refused_and_the_provider_continues_under_the_new_one() {
    let mut f = owl_federation();
    f.key("owl2");
    f.kx_ok(
        0,
        &["key", "rotate", "--key", "owl.key", "--new-key", "owl2.key"],
    );
    f.same();
    let old = f.kx(1, &["offer", "publish", "--key", "owl.key", "gis.toml"]);
    assert_refused(&old, "key_rotated");
    f.kx_ok(1, &["offer", "publish", "--key", "owl2.key", "gis.toml"]);
    let gis = f.kx_json(0, &["offer", "show", &format!("{}/gis", f.did("owl"))]);
    assert_eq!(gis["version"], 2);
}

#[test]
fn the_owl_it_merger_moves_both_portfolios_once_owl_it_accepts() {
    let f = owl_federation();
    let (gkd, owl) = (f.did("gkd"), f.did("owl"));
    let succession = |k: &str| {
        let out = f.kx_json(
            0,
            &[
                "provider",
                "succession",
                "--key",
                k,
                "--successor",
                &owl,
                "--effective-at",
                "2024-01-01",
            ],
        );
        out["id"].as_str().expect("id").to_owned()
    };
    let gkd_succ = succession("gkd.key");
    f.same();
    let kfz = f.kx_json(1, &["offer", "show", &format!("{gkd}/kfz")]);
    assert!(kfz.get("shown_under").is_none(), "not accepted yet");
    let krz_succ = succession("krz.key");
    for s in [&gkd_succ, &krz_succ] {
        f.kx_ok(1, &["provider", "accept", "--key", "owl.key", s]);
    }
    f.same();
    for i in 0..2 {
        let url = f.url(i);
        let kfz = get(&url, &format!("/v1/offers/{gkd}/kfz")).json();
        assert_eq!(kfz["shown_under"]["did"], owl.as_str());
        assert_eq!(
            offers_of(&url, &owl).len(),
            3,
            "OWL-IT's own and both predecessors' offers"
        );
        let p = get(&url, &format!("/v1/providers/{gkd}")).json();
        assert_eq!(p["successor"]["did"], owl.as_str());
        assert_eq!(p["successor"]["effective_at"], "2024-01-01T00:00:00Z");
        let o = get(&url, &format!("/v1/providers/{owl}")).json();
        assert_eq!(o["predecessors"].as_array().map(Vec::len), Some(2));
    }
    let page = String::from_utf8(get(&f.url(0), &format!("/anbieter/{gkd}")).body).expect("html");
    assert!(page.contains("Portfolio übergegangen an"), "{page}");
    let page = String::from_utf8(get(&f.url(0), &format!("/anbieter/{owl}")).body).expect("html");
    assert!(
        page.contains("übernommen von krz"),
        "inherited offers are marked: {page}"
    );
}

#[test]
fn revocation_refuses_later_records_and_keeps_the_history_marked() {
    let f = owl_federation();
    let krz = f.did("krz");
    f.kx_ok(0, &["offer", "publish", "--key", "krz.key", "melde.toml"]);
    f.kx_ok(
        1,
        &with_both(&[
            "federation",
            "revoke",
            "--provider",
            &krz,
            "--reason",
            "Fusion vollzogen",
        ]),
    );
    let before = f.same();
    for i in 0..2 {
        let url = f.url(i);
        let out = f.kx(i, &["offer", "withdraw", "--key", "krz.key", "melde"]);
        assert_refused(&out, "member_revoked");
        let melde = get(&url, &format!("/v1/offers/{krz}/melde?history=true")).json();
        assert_eq!(melde["status"], "provider_revoked");
        assert_eq!(melde["history"].as_array().map(Vec::len), Some(2));
    }
    assert_eq!(f.same(), before, "nothing stored");
}

#[test]
fn new_stewards_replace_the_old_and_a_former_steward_no_longer_counts() {
    let mut f = owl_federation();
    let kdn3 = f.key("kdn3");
    let kdn1 = f.did("kdn1");
    f.kx_ok(
        0,
        &with_both(&[
            "federation",
            "stewards",
            "--set",
            &kdn1,
            "--set",
            &kdn3,
            "--threshold",
            "1",
        ]),
    );
    f.same();
    let st = status(&f.url(1));
    assert_eq!(st["threshold"], 1);
    assert!(
        st["stewards"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == kdn3.as_str()))
    );
    let extra = f.key("extra");
    f.kx_ok(
        1,
        &[
            "federation",
            "admit",
            "--genesis",
            "genesis.json",
            "--provider",
            &extra,
            "--name",
            "regio iT",
            "--steward-key",
            "kdn3.key",
        ],
    );
    let kdn2 = f.secret("kdn2");
    let by_former = forged_admit(&f, &[&kdn2], &kdn2, (9, Some(Hash32([1; 32]))));
    let r = post(&f.url(0), "/v1/records", by_former.canonical_json());
    assert_eq!(r.json()["error"]["code"], "not_steward");
    f.same();
}

#[test]
fn the_stewards_replace_a_lost_key_and_hand_its_portfolio_on() {
    let mut f = owl_federation();
    let extra = f.key("extra");
    f.admit(&extra, "regio iT");
    f.write("regio.toml", &offer_toml("regio-cms", "CMS Aachen"));
    f.kx_ok(0, &["offer", "publish", "--key", "extra.key", "regio.toml"]);
    let extra2 = f.key("extra2");
    f.kx_ok(
        0,
        &with_both(&[
            "federation",
            "rekey",
            "--provider",
            &extra,
            "--new-key",
            &extra2,
            "--reason",
            "Schlüssel verloren",
        ]),
    );
    f.same();
    let lost = f.kx(1, &["offer", "publish", "--key", "extra.key", "regio.toml"]);
    assert_refused(&lost, "key_rotated");
    f.kx_ok(
        1,
        &["offer", "publish", "--key", "extra2.key", "regio.toml"],
    );
    let owl = f.did("owl");
    let handover = f.kx_json(
        0,
        &with_both(&[
            "federation",
            "succession",
            "--provider",
            &extra,
            "--successor",
            &owl,
            "--effective-at",
            "2025-01-01",
            "--reason",
            "Fusion",
        ]),
    );
    f.kx_ok(
        0,
        &[
            "provider",
            "accept",
            "--key",
            "owl.key",
            handover["id"].as_str().expect("id"),
        ],
    );
    f.same();
    let cms = get(&f.url(1), &format!("/v1/offers/{extra}/regio-cms")).json();
    assert_eq!(cms["version"], 2);
    assert_eq!(cms["shown_under"]["did"], owl.as_str());
}

#[test]
fn a_closed_federation_keeps_undeclared_nodes_out() {
    let mut f = Federation::new("Geschlossen", &["s"], 1, 0, &[]);
    let citeq = f.key("p");
    init_fast(&f.node_dir(0), &f.genesis, &[]);
    let cfg = f.node_dir(0).join("config.toml");
    let text = std::fs::read_to_string(&cfg)
        .expect("cfg")
        .replace("closed = false", "closed = true");
    std::fs::write(&cfg, text).expect("w");
    f.nodes.push(NodeProc::start(&f.node_dir(0), &[]));
    f.admit(&citeq, "citeq");
    let a = f.url(0);
    // An outsider node of the same federation connects and is dropped.
    let xdir = f.dir().join("outsider");
    init_fast(&xdir, &f.genesis, &[f.nodes[0].listen[0].clone()]);
    let x = NodeProc::start(&xdir, &[]);
    wait_for("the closed node to drop the outsider", CONVERGE, || {
        f.nodes[0]
            .log()
            .contains("closed federation: peer is not a declared node")
            .then_some(())
    });
    assert_eq!(status(&a)["peers"].as_array().map(Vec::len), Some(0));
    assert_eq!(status(&x.http)["records"], 1, "the outsider got nothing");
    // Once citeq declares that node in its signed profile, it may connect.
    let profile = std::fs::read_to_string(example("profile.toml"))
        .expect("profile")
        .replace("nodes = []", &format!("nodes = [\"{}\"]", x.peer_id));
    f.write("profile.toml", &profile);
    f.kx_ok(0, &["profile", "publish", "--key", "p.key", "profile.toml"]);
    wait_for(
        "the declared node to catch up",
        Duration::from_secs(120),
        || (status(&x.http)["records"] == status(&a)["records"]).then_some(()),
    );
    x.stop();

    // An observer node (KDN's, say) is dropped until the stewards admit it,
    // then catches up; removed again, it is disconnected.
    let odir = f.dir().join("observer");
    init_fast(&odir, &f.genesis, &[f.nodes[0].listen[0].clone()]);
    let ocfg = odir.join("config.toml");
    let text = std::fs::read_to_string(&ocfg)
        .expect("cfg")
        .replace("observer = false", "observer = true");
    std::fs::write(&ocfg, text).expect("w");
    let o = NodeProc::start(&odir, &[]);
    wait_for("the closed node to drop the observer", CONVERGE, || {
        (f.nodes[0]
            .log()
            .matches("closed federation: peer is not a declared node")
            .count()
            >= 2)
            .then_some(())
    });
    assert_eq!(
        status(&o.http)["records"],
        1,
        "the observer got nothing yet"
    );
    let mut args = vec![
        "federation",
        "observers",
        "--add",
        o.peer_id.as_str(),
        "--name",
        "KDN Prüfstelle",
    ];
    args.extend(f.steward_args());
    let out = f.kx_ok(0, &args);
    assert!(out.starts_with("stored federation.observers"), "{out}");
    assert_eq!(status(&a)["observers"][0]["peer_id"], o.peer_id.as_str());
    assert_eq!(status(&a)["observers"][0]["name"], "KDN Prüfstelle");
    wait_for(
        "the admitted observer to catch up",
        Duration::from_secs(120),
        || (status(&o.http)["records"] == status(&a)["records"]).then_some(()),
    );
    // A peer id that is not one is refused before anything is signed.
    let mut bad = vec![
        "federation",
        "observers",
        "--add",
        "not-a-peer",
        "--name",
        "X",
    ];
    bad.extend(f.steward_args());
    assert!(!f.kx(0, &bad).status.success());
    let mut args = vec!["federation", "observers", "--remove", o.peer_id.as_str()];
    args.extend(f.steward_args());
    f.kx_ok(0, &args);
    assert_eq!(status(&a)["observers"], serde_json::json!([]));
    wait_for("the removed observer to be disconnected", CONVERGE, || {
        f.nodes[0]
            .log()
            .contains("closed federation: peer no longer declared; disconnecting")
            .then_some(())
    });
    o.stop();
}

/// The records node `url` holds in its store: its backup (`GET /v1/export`)
/// has a header line and one line per stored record.
fn stored(url: &str) -> usize {
    let body = get(url, "/v1/export").body;
    body.iter().filter(|b| **b == b'\n').count() - 1
}

#[test]
fn a_stolen_key_floods_up_to_its_allowance_and_the_revocation_leaves_nothing_of_it() {
    let mut f = Federation::new("Diebstahl", &["s"], 1, 3, &[("itk", "ITK Rheinland")]);
    let itk = f.did("itk");
    let mut w =
        kx_protocol::author::LogWriter::new(f.secret("itk"), f.genesis.record().federation, None);
    let legit = w
        .write(kx_tests::records::offer("meldewesen", 1), t0())
        .expect("sign");
    assert_eq!(
        post(&f.url(0), "/v1/records", legit.canonical_json()).status,
        201
    );
    // The stewards bound what any key of ITK Rheinland may sign.
    let out = f.kx_ok(
        1,
        &[
            "federation",
            "allowance",
            "--provider",
            &itk,
            "--records",
            "40",
            "--reason",
            "Probebetrieb",
            "--steward-key",
            "s.key",
        ],
    );
    assert!(out.starts_with("stored member.allowance"), "{out}");
    let before = f.same();
    // The thief floods valid offers into node 0: up to the allowance, then
    // every further one is refused, with what to do about it.
    let mut refused = 0;
    for i in 0..60 {
        let rec = w
            .write(kx_tests::records::offer(&format!("flut-{i}"), 1), t0())
            .expect("sign");
        let resp = post(&f.url(0), "/v1/records", rec.canonical_json());
        if resp.status == 201 {
            continue;
        }
        let body = resp.json();
        assert_eq!(resp.status, 422, "{body}");
        assert_eq!(body["error"]["code"], "allowance_exceeded", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("member.allowance")),
            "{body}"
        );
        refused += 1;
    }
    assert_eq!(
        refused, 21,
        "positions 41 to 61 are beyond the allowance of 40"
    );
    let flooded = f.same();
    assert_eq!(flooded, before + 39);
    for i in 0..3 {
        assert_eq!(
            stored(&f.url(i)) as u64,
            flooded,
            "node {i} stored the flood"
        );
    }
    // The stewards revoke the key from before the flood, on another node,
    // while node 2 is away: it comes back holding the flood, and must neither
    // keep it nor hand it back to the others.
    f.restart_after(2, |f| {
        f.kx_ok(
            1,
            &[
                "federation",
                "revoke",
                "--provider",
                &itk,
                "--from-seq",
                "2",
                "--reason",
                "Schlüssel gestohlen",
                "--steward-key",
                "s.key",
            ],
        );
    });
    // Every node drops the flood from its registry and its store, and they
    // agree on the state; the offer from before the theft stays.
    let after = f.same();
    assert_eq!(after, before + 1, "only the revocation is left of it");
    for i in 0..3 {
        let url = f.url(i);
        assert_eq!(stored(&url) as u64, after, "node {i}'s store shrank back");
        let metrics = String::from_utf8(get(&url, "/metrics").body).expect("utf-8");
        assert!(
            metrics.contains("kx_records_pruned_total 39"),
            "node {i}: {metrics}"
        );
        let melde = get(&url, &format!("/v1/offers/{itk}/meldewesen")).json();
        assert_eq!(melde["status"], "provider_revoked", "{melde}");
        let flood = get(&url, &format!("/v1/offers/{itk}/flut-0"));
        assert_eq!(flood.status, 404);
    }
}

#[test]
fn the_stewards_name_witnesses_and_their_quorum() {
    let f = Federation::new("Zeugen", &["s"], 1, 1, &[]);
    let url = f.url(0);
    // A witness is named by its node's checkpoint key.
    let note = get(&url, "/v1/checkpoint").json()["note"]
        .as_str()
        .expect("note")
        .to_owned();
    let node_key = kx_protocol::checkpoint::Checkpoint::read(&note)
        .expect("checkpoint")
        .signer;
    let other = f.secret("s").did().clone();
    let out = f.kx_ok(
        0,
        &[
            "federation",
            "witnesses",
            "--add",
            "witness.kdn.example/w1",
            "--key",
            node_key.as_str(),
            "--add",
            "pruefstelle.example/kx",
            "--key",
            other.as_str(),
            "--steward-key",
            "s.key",
        ],
    );
    assert!(out.starts_with("stored federation.witnesses"), "{out}");
    let st = status(&url);
    assert_eq!(st["quorum"], 2, "a majority of two by default");
    assert_eq!(st["witnesses"][0]["name"], "pruefstelle.example/kx");
    assert_eq!(st["witnesses"][1]["key"], node_key.as_str());
    let shown = f.kx_ok(0, &["node", "status"]);
    assert!(
        shown.contains("witnesses    2, a checkpoint needs 2"),
        "{shown}"
    );
    // A quorum above the list is refused before anything is signed.
    let out = f.kx(
        0,
        &[
            "federation",
            "witnesses",
            "--remove",
            "pruefstelle.example/kx",
            "--quorum",
            "2",
            "--steward-key",
            "s.key",
        ],
    );
    assert_refused(&out, "invalid_threshold");
    f.kx_ok(
        0,
        &[
            "federation",
            "witnesses",
            "--remove",
            "pruefstelle.example/kx",
            "--steward-key",
            "s.key",
        ],
    );
    let st = status(&url);
    assert_eq!(st["quorum"], 1);
    assert_eq!(st["witnesses"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_node_that_signs_two_histories_is_caught_by_every_node_it_shows_them_to() {
    use kx_protocol::checkpoint::{Checkpoint, Frontier, LogEnd};
    let f = owl_federation();
    f.same();
    let frontier = Frontier::from_json(&get(&f.url(0), "/v1/checkpoint").json()["frontier"])
        .expect("frontier");
    // A node (its key made up here) signs what the federation holds; then,
    // after gkd published again, a second history with gkd's new offer but
    // without krz's log: it hides krz's offer from someone. (Leaving out a log
    // alone looks like an older checkpoint: staleness is for the witnesses'
    // times to show.)
    f.write("kfz2.toml", &offer_toml("kfz2", "Kfz-Zulassung, Version 2"));
    f.kx_ok(1, &["offer", "publish", "--key", "gkd.key", "kfz2.toml"]);
    f.same();
    let later = Frontier::from_json(&get(&f.url(0), "/v1/checkpoint").json()["frontier"])
        .expect("frontier");
    let x = key(77);
    let sign = |fr: &Frontier| {
        let note = Checkpoint::of(fr, x.did()).sign(&x);
        serde_json::json!({"note": note, "frontier": fr.to_json()}).to_string()
    };
    let mut older = frontier.clone();
    older.logs.retain(|l| l.author.as_str() != f.did("krz"));
    let mut hidden = later.clone();
    hidden.logs.retain(|l| l.author.as_str() != f.did("krz"));
    let mut unknown = frontier.clone();
    unknown.logs.push(LogEnd {
        author: key(78).did().clone(),
        seq: 1,
        head: Hash32([7; 32]),
    });
    unknown
        .logs
        .sort_by(|a, b| a.author.as_str().cmp(b.author.as_str()));
    for i in 0..2 {
        let url = f.url(i);
        let judge = |body: &str| {
            let r = post(&url, "/v1/checkpoints", body.as_bytes());
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            r.json()
        };
        assert_eq!(judge(&sign(&unknown))["status"], "not_held");
        assert_eq!(judge(&sign(&frontier))["status"], "recorded");
        assert_eq!(judge(&sign(&frontier))["status"], "known");
        assert_eq!(judge(&sign(&older))["status"], "older");
        let v = judge(&sign(&hidden));
        assert_eq!(v["status"], "alarm", "{v}");
        assert!(
            v["reason"]
                .as_str()
                .is_some_and(|r| r.contains(&f.did("krz"))),
            "{v}"
        );
        let st = status(&url);
        assert_eq!(st["alarms"].as_array().map(Vec::len), Some(1), "node {i}");
        assert!(
            st["alarms"][0]["origin"]
                .as_str()
                .is_some_and(|o| o.ends_with(x.did().as_str()))
        );
        let metrics = String::from_utf8(get(&url, "/metrics").body).expect("utf-8");
        assert!(
            metrics.contains("kx_checkpoint_alarms_total 1"),
            "{metrics}"
        );
        let page = String::from_utf8(get(&url, "/").body).expect("utf-8");
        assert!(
            page.contains("zwei Prüfpunkte"),
            "the catalog shows the alarm"
        );
        assert!(page.contains(x.did().as_str()));
        // Malformed or forged notes are refused with their codes.
        let forged = sign(&frontier).replace("\\n", "\\n ");
        assert_eq!(post(&url, "/v1/checkpoints", forged.as_bytes()).status, 400);
        let wrong = serde_json::json!({"note": Checkpoint::of(&frontier, x.did()).sign(&x), "frontier": hidden.to_json()});
        let r = post(&url, "/v1/checkpoints", wrong.to_string().as_bytes());
        assert_eq!(
            (r.status, r.json()["error"]["code"].clone()),
            (400, serde_json::json!("malformed_checkpoint"))
        );
    }
}

#[test]
fn two_witnesses_cosign_a_nodes_checkpoint_and_keep_what_they_cosigned() {
    use kx_protocol::checkpoint::Checkpoint;
    let f = Federation::new("Zeugen im Netz", &["s"], 1, 3, &[("itk", "ITK Rheinland")]);
    let node_did = |i: usize| {
        let note = get(&f.url(i), "/v1/checkpoint").json()["note"]
            .as_str()
            .expect("note")
            .to_owned();
        Checkpoint::read(&note).expect("checkpoint").signer
    };
    let (w1, w2) = (node_did(1), node_did(2));
    f.kx_ok(
        0,
        &[
            "federation",
            "witnesses",
            "--add",
            "zeuge.kdn.example/1",
            "--key",
            w1.as_str(),
            "--add",
            "zeuge.kdn.example/2",
            "--key",
            w2.as_str(),
            "--steward-key",
            "s.key",
        ],
    );
    f.same();
    // Node 0 announces its checkpoint; both witnesses hold what it names,
    // cosign, and node 0 serves the note with both lines.
    let url = f.url(0);
    let note = wait_for(
        "both witnesses to cosign node 0's checkpoint",
        CONVERGE,
        || {
            let v = get(&url, "/v1/checkpoint").json();
            let note = v["note"].as_str()?.to_owned();
            let cp = Checkpoint::read(&note).ok()?;
            let t1 = cp.cosigned_by(&note, "zeuge.kdn.example/1", &w1)?;
            let t2 = cp.cosigned_by(&note, "zeuge.kdn.example/2", &w2)?;
            Some((note, t1, t2))
        },
    );
    let cp = Checkpoint::read(&note.0).expect("reads");
    assert_eq!(cp.signer, node_did(0));
    // A market survey on node 0's witnessed checkpoint verifies offline; the
    // same bundle with one cosignature taken out is below the quorum.
    f.kx_ok(
        0,
        &[
            "survey",
            "export",
            "--municipality",
            "Paderborn",
            "--out",
            "survey.json",
        ],
    );
    let shown = f.kx_ok(
        0,
        &[
            "survey",
            "verify",
            "survey.json",
            "--genesis",
            "genesis.json",
        ],
    );
    assert!(
        shown.contains("cosigned by 2 of 2 witnesses (quorum 2)"),
        "{shown}"
    );
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir().join("survey.json")).expect("bundle"))
            .expect("json");
    let full = bundle["checkpoint"]["note"]
        .as_str()
        .expect("note")
        .to_owned();
    let second = full
        .lines()
        .find(|l| l.contains("zeuge.kdn.example/2 "))
        .expect("the second witness's line");
    bundle["checkpoint"]["note"] = full.replacen(&format!("{second}\n"), "", 1).into();
    let mut bytes = kx_protocol::json::canonical(&bundle).expect("canonical");
    bytes.push(b'\n');
    std::fs::write(f.dir().join("short.json"), bytes).expect("write");
    let out = f.kx(
        0,
        &[
            "survey",
            "verify",
            "short.json",
            "--genesis",
            "genesis.json",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("below_quorum"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 1..3 {
        let kept =
            std::fs::read_to_string(f.node_dir(i).join("witness.json")).expect("witness.json");
        assert!(
            kept.contains(&cp.origin()),
            "node {i} keeps what it cosigned: {kept}"
        );
        let m = String::from_utf8(get(&f.url(i), "/metrics").body).expect("utf-8");
        assert!(!m.contains("kx_checkpoints_cosigned_total 0"), "{m}");
    }
}
