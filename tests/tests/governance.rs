//! Federation governance with the real binaries on two nodes: stewards act by
//! threshold (collecting approvals in a draft), suspension and reinstatement,
//! revocation, key rotation, and the OWL-IT merger of 1 January 2024 replayed with
//! real names. Every attack is refused with its code on both nodes and stores
//! nothing. Plus a closed federation that keeps undeclared nodes out.

use kx_protocol::body::AdmitBody;
use kx_protocol::{Body, Hash32, record};
use kx_tests::records::{key, t0};
use kx_tests::{
    NodeProc, TempDir, assert_refused, get, init_fast, kx, kx_json, kx_ok, post, status, wait_for,
};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

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

/// Both nodes hold the same records.
fn same(a: &str, b: &str) -> u64 {
    wait_for("both nodes to agree", WAIT, || {
        let (x, y) = (status(a), status(b));
        (x["state_digest"] == y["state_digest"] && x["records"] == y["records"])
            .then(|| x["records"].as_u64())
            .flatten()
    })
}

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

#[test]
fn stewards_members_rotation_and_the_owl_it_merger() {
    let t = TempDir::new("gov");
    let d = t.path();
    for k in ["kdn1", "kdn2", "outsider", "owl2"] {
        kx_ok(d, "", &["key", "gen", "--out", &format!("{k}.key")]);
    }
    let gkd = kx_ok(d, "", &["key", "gen", "--out", "gkd.key"])
        .trim()
        .to_owned();
    let krz = kx_ok(d, "", &["key", "gen", "--out", "krz.key"])
        .trim()
        .to_owned();
    let owl = kx_ok(d, "", &["key", "gen", "--out", "owl.key"])
        .trim()
        .to_owned();
    kx_ok(
        d,
        "",
        &[
            "federation",
            "init",
            "--name",
            "KDN",
            "--steward-key",
            "kdn1.key",
            "--steward-key",
            "kdn2.key",
            "--threshold",
            "2",
            "--out",
            "genesis.json",
        ],
    );
    let g = kx_protocol::VerifiedRecord::from_bytes(
        &std::fs::read(d.join("genesis.json")).expect("read"),
    )
    .expect("genesis");
    init_fast(&d.join("a"), &g, &[]);
    let a = NodeProc::start(&d.join("a"), &[]);
    init_fast(&d.join("b"), &g, &[a.listen[0].clone()]);
    let b = NodeProc::start(&d.join("b"), &[]);
    let (ua, ub) = (a.http.clone(), b.http.clone());
    same(&ua, &ub);

    // Threshold 2: one steward writes a draft and says who is missing; nothing
    // is submitted until the second approves.
    let first = kx_ok(
        d,
        &ua,
        &[
            "federation",
            "admit",
            "--genesis",
            "genesis.json",
            "--provider",
            &gkd,
            "--name",
            "GKD Paderborn",
            "--steward-key",
            "kdn1.key",
            "--draft",
            "gkd.json",
        ],
    );
    assert!(first.contains("1 of 2 approvals"), "{first}");
    assert_eq!(status(&ua)["records"], 1);
    let done = kx_ok(
        d,
        &ub,
        &[
            "federation",
            "cosign",
            "gkd.json",
            "--steward-key",
            "kdn2.key",
        ],
    );
    assert!(done.starts_with("stored member.admit"), "{done}");
    for (p, n) in [(&krz, "krz"), (&owl, "Ostwestfalen-Lippe-IT")] {
        kx_ok(
            d,
            &ua,
            &[
                "federation",
                "admit",
                "--genesis",
                "genesis.json",
                "--provider",
                p,
                "--name",
                n,
                "--steward-key",
                "kdn1.key",
                "--steward-key",
                "kdn2.key",
            ],
        );
    }
    let base = same(&ua, &ub);

    // Attacks on admission, straight at the API: a non-steward, and below threshold.
    let fed = g.record().federation;
    let head: Hash32 = status(&ua)["governance_head"]
        .as_str()
        .expect("head")
        .parse()
        .expect("hash");
    let forged_admit = |approvers: &[&kx_protocol::SecretKey], author: &kx_protocol::SecretKey| {
        let mut body = Body::MemberAdmit(AdmitBody {
            prev_action: head,
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
                federation: fed,
                seq: 1,
                prev: None,
                issued_at: t0(),
                body,
            },
        )
        .expect("sign")
    };
    let kdn1 = kx_protocol::SecretKey::from_file_text(
        &std::fs::read_to_string(d.join("kdn1.key")).expect("k"),
    )
    .expect("k");
    let outsider = kx_protocol::SecretKey::from_file_text(
        &std::fs::read_to_string(d.join("outsider.key")).expect("k"),
    )
    .expect("k");
    for (url, rec, code) in [
        (&ua, forged_admit(&[&outsider], &outsider), "not_steward"),
        (
            &ub,
            forged_admit(&[&outsider, &kdn1], &outsider),
            "not_steward",
        ),
        (&ua, forged_admit(&[&kdn1], &kdn1), "below_threshold"),
        (&ub, forged_admit(&[&kdn1], &kdn1), "below_threshold"),
    ] {
        let r = post(url, "/v1/records", rec.canonical_json());
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (422, Some(code))
        );
    }
    // Replay of a record into another federation.
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
    let og = kx_protocol::VerifiedRecord::from_bytes(
        &std::fs::read(other.path().join("g.json")).expect("r"),
    )
    .expect("g");
    init_fast(&other.path().join("n"), &og, &[]);
    let on = NodeProc::start(&other.path().join("n"), &[]);
    let any_id = get(&ua, "/v1/records?limit=2").json()["records"][1].clone();
    let r = post(
        &on.http,
        "/v1/records",
        serde_json::to_string(&any_id).expect("json").as_bytes(),
    );
    assert_eq!(r.json()["error"]["code"], "wrong_federation");
    on.stop();
    assert_eq!(same(&ua, &ub), base, "nothing stored");

    // The providers publish.
    for (k, id, title) in [
        ("gkd.key", "kfz", "Kfz-Zulassung Paderborn"),
        ("krz.key", "melde", "Meldewesen Lippe"),
        ("owl.key", "gis", "GIS OWL"),
    ] {
        std::fs::write(d.join(format!("{id}.toml")), offer_toml(id, title)).expect("w");
        kx_ok(
            d,
            &ub,
            &["offer", "publish", "--key", k, &format!("{id}.toml")],
        );
    }
    same(&ua, &ub);

    // Suspension hides krz's offers and refuses its records on both nodes;
    // reinstatement brings them back.
    kx_ok(
        d,
        &ua,
        &[
            "federation",
            "suspend",
            "--provider",
            &krz,
            "--reason",
            "Prüfung",
            "--steward-key",
            "kdn1.key",
            "--steward-key",
            "kdn2.key",
        ],
    );
    same(&ua, &ub);
    for url in [&ua, &ub] {
        assert_eq!(offers_of(url, &krz).len(), 0, "hidden while suspended");
        let out = kx(
            d,
            url,
            &["offer", "publish", "--key", "krz.key", "melde.toml"],
        );
        assert_refused(&out, "member_suspended");
    }
    kx_ok(
        d,
        &ub,
        &[
            "federation",
            "reinstate",
            "--provider",
            &krz,
            "--reason",
            "geklärt",
            "--steward-key",
            "kdn2.key",
            "--steward-key",
            "kdn1.key",
        ],
    );
    same(&ua, &ub);
    assert_eq!(offers_of(&ub, &krz).len(), 1);
    kx_ok(
        d,
        &ua,
        &["offer", "publish", "--key", "krz.key", "melde.toml"],
    );

    // Key rotation: OWL-IT moves to a new key; the old one is refused afterwards.
    kx_ok(
        d,
        &ua,
        &["key", "rotate", "--key", "owl.key", "--new-key", "owl2.key"],
    );
    same(&ua, &ub);
    let old = kx(
        d,
        &ub,
        &["offer", "publish", "--key", "owl.key", "gis.toml"],
    );
    assert_refused(&old, "key_rotated");
    kx_ok(
        d,
        &ub,
        &["offer", "publish", "--key", "owl2.key", "gis.toml"],
    );
    let gis = kx_json(d, &ua, &["offer", "show", &format!("{owl}/gis")]);
    assert_eq!(gis["version"], 2);

    // The merger: GKD Paderborn and krz hand their portfolios to OWL-IT from
    // 1 January 2024. Without OWL-IT's acceptance nothing moves.
    let out = kx_json(
        d,
        &ua,
        &[
            "provider",
            "succession",
            "--key",
            "gkd.key",
            "--successor",
            &owl,
            "--effective-at",
            "2024-01-01",
        ],
    );
    let gkd_succ = out["id"].as_str().expect("id").to_owned();
    same(&ua, &ub);
    let kfz = kx_json(d, &ub, &["offer", "show", &format!("{gkd}/kfz")]);
    assert!(kfz.get("shown_under").is_none(), "not accepted yet");
    let out = kx_json(
        d,
        &ua,
        &[
            "provider",
            "succession",
            "--key",
            "krz.key",
            "--successor",
            &owl,
            "--effective-at",
            "2024-01-01",
        ],
    );
    let krz_succ = out["id"].as_str().expect("id").to_owned();
    for s in [&gkd_succ, &krz_succ] {
        kx_ok(d, &ub, &["provider", "accept", "--key", "owl2.key", s]);
    }
    same(&ua, &ub);
    for url in [&ua, &ub] {
        let kfz = get(url, &format!("/v1/offers/{gkd}/kfz")).json();
        assert_eq!(kfz["shown_under"]["did"], owl.as_str());
        let under_owl = offers_of(url, &owl);
        assert_eq!(
            under_owl.len(),
            3,
            "OWL-IT's own and both predecessors' offers"
        );
        let p = get(url, &format!("/v1/providers/{gkd}")).json();
        assert_eq!(p["successor"]["did"], owl.as_str());
        assert_eq!(p["successor"]["effective_at"], "2024-01-01T00:00:00Z");
        let o = get(url, &format!("/v1/providers/{owl}")).json();
        assert_eq!(o["predecessors"].as_array().map(Vec::len), Some(2));
    }
    let page = String::from_utf8(get(&ua, &format!("/anbieter/{gkd}")).body).expect("html");
    assert!(page.contains("Portfolio übergegangen an"), "{page}");

    // Revocation: krz's later records are refused, its history stays, marked.
    kx_ok(
        d,
        &ub,
        &[
            "federation",
            "revoke",
            "--provider",
            &krz,
            "--reason",
            "Fusion vollzogen",
            "--steward-key",
            "kdn1.key",
            "--steward-key",
            "kdn2.key",
        ],
    );
    let before = same(&ua, &ub);
    for url in [&ua, &ub] {
        let out = kx(d, url, &["offer", "withdraw", "--key", "krz.key", "melde"]);
        assert_refused(&out, "member_revoked");
        let melde = get(url, &format!("/v1/offers/{krz}/melde?history=true")).json();
        assert_eq!(melde["status"], "provider_revoked");
        assert_eq!(melde["history"].as_array().map(Vec::len), Some(2));
    }
    assert_eq!(same(&ua, &ub), before, "nothing stored");

    // The stewards replace themselves by the same threshold: kdn2 leaves, kdn3
    // joins, threshold 1. kdn2's approvals no longer count.
    let kdn3 = kx_ok(d, "", &["key", "gen", "--out", "kdn3.key"])
        .trim()
        .to_owned();
    let kdn1_did = kdn1.did().to_string();
    kx_ok(
        d,
        &ua,
        &[
            "federation",
            "stewards",
            "--set",
            &kdn1_did,
            "--set",
            &kdn3,
            "--threshold",
            "1",
            "--steward-key",
            "kdn1.key",
            "--steward-key",
            "kdn2.key",
        ],
    );
    same(&ua, &ub);
    let st = status(&ub);
    assert_eq!(st["threshold"], 1);
    assert!(
        st["stewards"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == kdn3.as_str()))
    );
    let extra = kx_ok(d, "", &["key", "gen", "--out", "extra.key"])
        .trim()
        .to_owned();
    kx_ok(
        d,
        &ub,
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
    let kdn2 = kx_protocol::SecretKey::from_file_text(
        &std::fs::read_to_string(d.join("kdn2.key")).expect("k"),
    )
    .expect("k");
    let head: Hash32 = status(&ua)["governance_head"]
        .as_str()
        .expect("head")
        .parse()
        .expect("hash");
    let mut body = Body::MemberAdmit(AdmitBody {
        prev_action: head,
        provider: key(98).did().clone(),
        name: "Ehemals".parse().expect("name"),
        approvals: Vec::new(),
    });
    record::approve(&mut body, &kdn2);
    let by_former = record::sign(
        &kdn2,
        record::Draft {
            federation: fed,
            seq: 9,
            prev: Some(Hash32([1; 32])),
            issued_at: t0(),
            body,
        },
    )
    .expect("sign");
    let r = post(&ua, "/v1/records", by_former.canonical_json());
    assert_eq!(r.json()["error"]["code"], "not_steward");
    same(&ua, &ub);

    // regio iT loses its key: the stewards give it a new one, and later hand its
    // portfolio to OWL-IT because nobody at regio iT can sign the succession.
    std::fs::write(d.join("regio.toml"), offer_toml("regio-cms", "CMS Aachen")).expect("w");
    kx_ok(
        d,
        &ua,
        &["offer", "publish", "--key", "extra.key", "regio.toml"],
    );
    let extra2 = kx_ok(d, "", &["key", "gen", "--out", "extra2.key"])
        .trim()
        .to_owned();
    kx_ok(
        d,
        &ua,
        &[
            "federation",
            "rekey",
            "--provider",
            &extra,
            "--new-key",
            &extra2,
            "--reason",
            "Schlüssel verloren",
            "--steward-key",
            "kdn3.key",
        ],
    );
    same(&ua, &ub);
    let lost = kx(
        d,
        &ub,
        &["offer", "publish", "--key", "extra.key", "regio.toml"],
    );
    assert_refused(&lost, "key_rotated");
    kx_ok(
        d,
        &ub,
        &["offer", "publish", "--key", "extra2.key", "regio.toml"],
    );
    let handover = kx_json(
        d,
        &ua,
        &[
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
            "--steward-key",
            "kdn3.key",
        ],
    );
    kx_ok(
        d,
        &ua,
        &[
            "provider",
            "accept",
            "--key",
            "owl2.key",
            handover["id"].as_str().expect("id"),
        ],
    );
    same(&ua, &ub);
    let cms = get(&ub, &format!("/v1/offers/{extra}/regio-cms")).json();
    assert_eq!(cms["version"], 2);
    assert_eq!(cms["shown_under"]["did"], owl.as_str());
    a.stop();
    b.stop();
}

#[test]
fn a_closed_federation_keeps_undeclared_nodes_out() {
    let t = TempDir::new("closed");
    let d = t.path();
    kx_ok(d, "", &["key", "gen", "--out", "s.key"]);
    let p = kx_ok(d, "", &["key", "gen", "--out", "p.key"])
        .trim()
        .to_owned();
    kx_ok(
        d,
        "",
        &[
            "federation",
            "init",
            "--name",
            "Geschlossen",
            "--steward-key",
            "s.key",
            "--out",
            "g.json",
        ],
    );
    let g = kx_protocol::VerifiedRecord::from_bytes(&std::fs::read(d.join("g.json")).expect("r"))
        .expect("g");
    init_fast(&d.join("a"), &g, &[]);
    let cfg = d.join("a/config.toml");
    let text = std::fs::read_to_string(&cfg)
        .expect("cfg")
        .replace("closed = false", "closed = true");
    std::fs::write(&cfg, text).expect("w");
    let a = NodeProc::start(&d.join("a"), &[]);
    kx_ok(
        d,
        &a.http,
        &[
            "federation",
            "admit",
            "--genesis",
            "g.json",
            "--provider",
            &p,
            "--name",
            "citeq",
            "--steward-key",
            "s.key",
        ],
    );
    // An outsider node of the same federation connects and is dropped.
    init_fast(&d.join("x"), &g, &[a.listen[0].clone()]);
    let x = NodeProc::start(&d.join("x"), &[]);
    wait_for("the closed node to drop the outsider", WAIT, || {
        a.log()
            .contains("closed federation: peer is not a declared node")
            .then_some(())
    });
    assert_eq!(status(&a.http)["peers"].as_array().map(Vec::len), Some(0));
    assert_eq!(status(&x.http)["records"], 1, "the outsider got nothing");
    // Once citeq declares that node in its signed profile, it may connect.
    let profile = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/profile.toml"),
    )
    .expect("profile")
    .replace("nodes = []", &format!("nodes = [\"{}\"]", x.peer_id));
    std::fs::write(d.join("profile.toml"), profile).expect("w");
    kx_ok(
        d,
        &a.http,
        &["profile", "publish", "--key", "p.key", "profile.toml"],
    );
    wait_for(
        "the declared node to catch up",
        Duration::from_secs(120),
        || (status(&x.http)["records"] == status(&a.http)["records"]).then_some(()),
    );
    a.stop();
    x.stop();
}
