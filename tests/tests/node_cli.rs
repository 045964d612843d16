//! End to end, the way a user works: real `kx-node` and `kx` binaries, temp dirs,
//! loopback ports chosen by the OS. A steward founds a federation and admits two
//! providers; they publish a profile and offers; a municipality searches with
//! every filter; offers are updated and withdrawn; the node restarts (cleanly and
//! after SIGKILL) and still holds everything; bad input is refused with its code.

use kx_tests::{NodeProc, TempDir, assert_refused, get, kx, kx_json, kx_ok, post};
use serde_json::Value;
use std::path::Path;

const KRZN_OFFER: &str = r#"
offer_id = "e-akte-basis"
title = "E-Akte als Service"
summary = "Elektronische Akte nach DMS-Standard, betrieben im KRZN."
description = "Mandantenfähige E-Akte mit Scan-Anbindung und revisionssicherer Ablage."
category = "e-akte"
ozg_ids = []
leika_keys = []
regions = ["05"]
delivery = "saas"
capacity = 30
certifications = ["bsi-c5"]
standards = ["xdomea"]
valid_from = 2026-01-01
[sla]
availability_bp = 9900
support_hours = "Mo-Fr 08:00-16:00"
response_minutes = 120
resolution_hours = 24
[pricing]
model = "per_user_per_month"
amount_cents = 1250
currency = "EUR"
notes = ""
[[contacts]]
customer_group = "kommunen"
name = "Vertrieb"
"#;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn search(d: &Path, url: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["offer", "search"];
    all.extend_from_slice(args);
    let v = kx_json(d, url, &all);
    let mut ids: Vec<String> = v["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .map(|o| o["offer_id"].as_str().expect("offer_id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn code_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn federation_publish_search_withdraw_restart() {
    let t = TempDir::new("e2e");
    let d = t.path();
    kx_ok(d, "", &["key", "gen", "--out", "steward.key"]);
    let itk = kx_ok(d, "", &["key", "gen", "--out", "itk.key"])
        .trim()
        .to_owned();
    let krzn = kx_ok(d, "", &["key", "gen", "--out", "krzn.key"])
        .trim()
        .to_owned();
    kx_ok(d, "", &["key", "gen", "--out", "outsider.key"]);
    kx_ok(
        d,
        "",
        &[
            "federation",
            "init",
            "--name",
            "KDN Test",
            "--steward-key",
            "steward.key",
            "--out",
            "genesis.json",
        ],
    );
    let data = d.join("node");
    NodeProc::init(&data, &d.join("genesis.json"), &[]);
    let node = NodeProc::start(&data, &[]);
    let url = node.http.clone();

    for (did, name) in [(&itk, "ITK Rheinland"), (&krzn, "KRZN")] {
        let out = kx_ok(
            d,
            &url,
            &[
                "federation",
                "admit",
                "--genesis",
                "genesis.json",
                "--steward-key",
                "steward.key",
                "--provider",
                did,
                "--name",
                name,
            ],
        );
        assert!(out.starts_with("stored member.admit"), "{out}");
    }
    kx_ok(
        d,
        &url,
        &[
            "profile",
            "publish",
            "--key",
            "itk.key",
            &example("profile.toml"),
        ],
    );
    kx_ok(
        d,
        &url,
        &[
            "offer",
            "publish",
            "--key",
            "itk.key",
            &example("offer.toml"),
        ],
    );
    std::fs::write(d.join("krzn.toml"), KRZN_OFFER).expect("write");
    kx_ok(
        d,
        &url,
        &["offer", "publish", "--key", "krzn.key", "krzn.toml"],
    );

    // Every filter.
    let both = vec!["e-akte-basis".to_owned(), "meldewesen-hosting".to_owned()];
    assert_eq!(search(d, &url, &[]), both);
    assert_eq!(search(d, &url, &["--region", "05158004"]), both); // Erkrath: Kreis + Land
    assert_eq!(search(d, &url, &["--region", "05315000"]), ["e-akte-basis"]); // Köln: only NRW-wide
    assert_eq!(search(d, &url, &["--region", "05"]), ["e-akte-basis"]);
    assert_eq!(
        search(d, &url, &["--category", "fachverfahren"]),
        ["meldewesen-hosting"]
    );
    assert_eq!(
        search(d, &url, &["--category", "e-akte-dms"]),
        ["e-akte-basis"]
    );
    assert_eq!(search(d, &url, &["--ozg", "10124"]), ["meldewesen-hosting"]);
    assert_eq!(
        search(d, &url, &["--leika", "99115005104000"]),
        ["meldewesen-hosting"]
    );
    assert_eq!(search(d, &url, &["--cert", "bsi-c5"]), ["e-akte-basis"]);
    assert_eq!(search(d, &url, &["--provider", &krzn]), ["e-akte-basis"]);
    assert_eq!(
        search(d, &url, &["--text", "meldeverfahrens xmeld"]),
        ["meldewesen-hosting"]
    );
    assert!(search(d, &url, &["--text", "Friedhof"]).is_empty());
    let table = kx_ok(d, &url, &["offer", "search", "--region", "05158004"]);
    assert!(
        table.contains("2 offer(s)") && table.contains("ITK Rheinland"),
        "{table}"
    );

    // A new version replaces the old one; the history keeps both.
    kx_ok(
        d,
        &url,
        &[
            "offer",
            "publish",
            "--key",
            "itk.key",
            &example("offer.toml"),
        ],
    );
    let offer = kx_json(
        d,
        &url,
        &[
            "offer",
            "show",
            &format!("{itk}/meldewesen-hosting"),
            "--history",
        ],
    );
    assert_eq!(offer["version"], 2);
    assert_eq!(offer["history"].as_array().map(Vec::len), Some(2));
    assert_eq!(offer["provider"]["name"], "ITK Rheinland");

    // Withdrawal hides it from search, unless asked for.
    kx_ok(
        d,
        &url,
        &["offer", "withdraw", "--key", "krzn.key", "e-akte-basis"],
    );
    assert_eq!(search(d, &url, &[]), ["meldewesen-hosting"]);
    assert_eq!(search(d, &url, &["--include", "withdrawn"]), both);

    // Providers.
    let providers = kx_json(d, &url, &["provider", "list"]);
    assert_eq!(providers["providers"].as_array().map(Vec::len), Some(2));
    let p = kx_json(d, &url, &["provider", "show", &itk]);
    assert_eq!(p["standing"], "active");
    assert_eq!(p["profile"]["body"]["short_name"], "ITK Rheinland");

    // Any record verifies offline, exactly as served.
    let id = offer["record"].as_str().expect("record id");
    let raw = kx_ok(d, &url, &["record", "get", id]);
    std::fs::write(d.join("r.json"), raw).expect("write");
    let v = kx_json(
        d,
        "",
        &["record", "verify", "r.json", "--genesis", "genesis.json"],
    );
    assert_eq!(v["id"], id);

    // --out writes the signed record instead of submitting it.
    kx_ok(
        d,
        &url,
        &[
            "offer",
            "publish",
            "--key",
            "itk.key",
            &example("offer.toml"),
            "--out",
            "v3.json",
        ],
    );
    assert_eq!(
        kx_json(
            d,
            &url,
            &["offer", "show", &format!("{itk}/meldewesen-hosting")]
        )["version"],
        2
    );
    let r = post(
        &url,
        "/v1/records",
        &std::fs::read(d.join("v3.json")).expect("read"),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        kx_json(
            d,
            &url,
            &["offer", "show", &format!("{itk}/meldewesen-hosting")]
        )["version"],
        3
    );

    // Refusals, each with its code and exit code 3.
    let outsider = kx(
        d,
        &url,
        &["offer", "publish", "--key", "outsider.key", "krzn.toml"],
    );
    assert_refused(&outsider, "not_member");
    std::fs::write(
        d.join("float.toml"),
        KRZN_OFFER.replace("capacity = 30", "capacity = 30.5"),
    )
    .expect("w");
    let float = kx(
        d,
        &url,
        &["offer", "publish", "--key", "krzn.key", "float.toml"],
    );
    assert_refused(&float, "float_not_allowed");
    std::fs::write(
        d.join("ags.toml"),
        KRZN_OFFER.replace("regions = [\"05\"]", "regions = [\"5158\"]"),
    )
    .expect("w");
    let ags = kx(
        d,
        &url,
        &["offer", "publish", "--key", "krzn.key", "ags.toml"],
    );
    assert_refused(&ags, "malformed_ags");
    let tampered = std::fs::read_to_string(d.join("v3.json"))
        .expect("read")
        .replace("\"capacity\":12", "\"capacity\":99");
    let r = post(&url, "/v1/records", tampered.as_bytes());
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("bad_signature"))
    );
    let r = post(&url, "/v1/records", br#"{"v":1,"v":1}"#);
    assert_eq!(r.json()["error"]["code"], "duplicate_key");
    let r = post(&url, "/v1/records", &vec![b' '; 200_000]);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let r = post(
        &url,
        "/v1/records",
        std::fs::read(d.join("v3.json")).expect("read").as_slice(),
    );
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("known"))
    );
    // A record of another federation.
    let other = TempDir::new("other-fed");
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
    let r = post(
        &url,
        "/v1/records",
        &std::fs::read(other.path().join("g.json")).expect("read"),
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("wrong_federation"))
    );

    // An unknown category publishes with a suggestion.
    std::fs::write(
        d.join("typo.toml"),
        KRZN_OFFER
            .replace("\"e-akte\"", "\"e-akte-x\"")
            .replace("e-akte-basis", "typo"),
    )
    .expect("w");
    let typo = kx(
        d,
        &url,
        &["offer", "publish", "--key", "krzn.key", "typo.toml"],
    );
    assert!(typo.status.success());
    assert!(
        code_of(&typo).contains("nearest known: e-akte"),
        "{}",
        code_of(&typo)
    );

    // Restart cleanly, then after SIGKILL: the same records and state.
    let before = get(&url, "/v1/status").json();
    node.stop();
    let node = NodeProc::start(&data, &[]);
    let after: Value = get(&node.http, "/v1/status").json();
    assert_eq!(after["state_digest"], before["state_digest"]);
    assert_eq!(after["records"], before["records"]);
    assert_eq!(
        search(d, &node.http, &["--include", "withdrawn"]),
        ["e-akte-basis", "meldewesen-hosting", "typo"]
    );
    node.kill();
    let node = NodeProc::start(&data, &[]);
    let again: Value = get(&node.http, "/v1/status").json();
    assert_eq!(again["state_digest"], before["state_digest"]);
    node.stop();
}

#[test]
fn node_refuses_to_start_without_init_and_init_twice() {
    let t = TempDir::new("init");
    let out = std::process::Command::new(kx_tests::bin("kx-node"))
        .args(["run", "--data-dir"])
        .arg(t.path().join("missing"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kx-node init"));
    kx_ok(t.path(), "", &["key", "gen", "--out", "s.key"]);
    kx_ok(
        t.path(),
        "",
        &[
            "federation",
            "init",
            "--name",
            "F",
            "--steward-key",
            "s.key",
            "--out",
            "g.json",
        ],
    );
    NodeProc::init(&t.path().join("n"), &t.path().join("g.json"), &[]);
    let again = std::process::Command::new(kx_tests::bin("kx-node"))
        .args(["init", "--data-dir"])
        .arg(t.path().join("n"))
        .arg("--genesis")
        .arg(t.path().join("g.json"))
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));
}
