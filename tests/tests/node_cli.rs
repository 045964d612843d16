//! End to end, the way a user works: real `kx-node` and `kx` binaries, temp dirs,
//! loopback ports chosen by the OS. A steward founds a federation and admits two
//! providers; they publish a profile and offers (`published`). Each test then
//! checks one thing a user relies on: searching with every filter, versions,
//! withdrawal, providers, offline verification, `--out`, refusals with their
//! codes, restarts.

use kx_tests::federation::{Federation, example};
use kx_tests::{
    TempDir, assert_refused, bin, free_base_port, get, kx_ok, post, processes_with, wait_for,
};

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

/// One node; ITK Rheinland (profile and `examples/offer.toml`) and KRZN (an
/// NRW-wide E-Akte) admitted and published; an outsider key nobody admitted.
fn published() -> Federation {
    let mut f = Federation::new(
        "KDN Test",
        &["steward"],
        1,
        1,
        &[("itk", "ITK Rheinland"), ("krzn", "KRZN")],
    );
    f.key("outsider");
    f.kx_ok(
        0,
        &[
            "profile",
            "publish",
            "--key",
            "itk.key",
            &example("profile.toml"),
        ],
    );
    f.kx_ok(
        0,
        &[
            "offer",
            "publish",
            "--key",
            "itk.key",
            &example("offer.toml"),
        ],
    );
    f.write("krzn.toml", KRZN_OFFER);
    f.kx_ok(0, &["offer", "publish", "--key", "krzn.key", "krzn.toml"]);
    f
}

/// The offer ids a search finds, sorted.
fn search(f: &Federation, args: &[&str]) -> Vec<String> {
    let mut all = vec!["offer", "search"];
    all.extend_from_slice(args);
    let v = f.kx_json(0, &all);
    let mut ids: Vec<String> = v["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .map(|o| o["offer_id"].as_str().expect("offer_id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// ITK's next version of its offer, signed with `--out` but not submitted.
fn sign_next_version(f: &Federation) -> Vec<u8> {
    f.kx_ok(
        0,
        &[
            "offer",
            "publish",
            "--key",
            "itk.key",
            &example("offer.toml"),
            "--out",
            "v2.json",
        ],
    );
    std::fs::read(f.dir().join("v2.json")).expect("read")
}

#[test]
fn every_search_filter_finds_its_offers() {
    let f = published();
    let both = vec!["e-akte-basis".to_owned(), "meldewesen-hosting".to_owned()];
    assert_eq!(search(&f, &[]), both);
    assert_eq!(search(&f, &["--region", "05158004"]), both); // Erkrath: Kreis + Land
    assert_eq!(search(&f, &["--region", "05315000"]), ["e-akte-basis"]); // Köln: only NRW-wide
    assert_eq!(search(&f, &["--region", "05"]), ["e-akte-basis"]);
    assert_eq!(
        search(&f, &["--category", "fachverfahren"]),
        ["meldewesen-hosting"]
    );
    assert_eq!(search(&f, &["--category", "e-akte-dms"]), ["e-akte-basis"]);
    assert_eq!(search(&f, &["--ozg", "10124"]), ["meldewesen-hosting"]);
    assert_eq!(
        search(&f, &["--leika", "99115005104000"]),
        ["meldewesen-hosting"]
    );
    assert_eq!(search(&f, &["--cert", "bsi-c5"]), ["e-akte-basis"]);
    assert_eq!(
        search(&f, &["--provider", &f.did("krzn")]),
        ["e-akte-basis"]
    );
    assert_eq!(
        search(&f, &["--text", "meldeverfahrens xmeld"]),
        ["meldewesen-hosting"]
    );
    assert!(search(&f, &["--text", "Friedhof"]).is_empty());
    let table = f.kx_ok(0, &["offer", "search", "--region", "05158004"]);
    assert!(
        table.contains("2 offer(s)") && table.contains("ITK Rheinland"),
        "{table}"
    );
}

#[test]
fn an_unknown_region_and_a_misspelt_municipality_are_named_with_what_was_meant() {
    let f = published();
    // A region no NRW AGS starts with is not "0 offers".
    let out = f.kx(0, &["offer", "search", "--region", "99999"]);
    assert_refused(&out, "unknown_region");
    let out = f.kx(0, &["demand", "list", "--region", "06"]);
    assert_refused(&out, "unknown_region");
    // A near miss gets the name meant, in kx and in the catalog.
    let out = f.kx(0, &["offer", "search", "--municipality", "Paderbron"]);
    assert_refused(&out, "unknown_municipality");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean Paderborn (05774032)?"), "{err}");
    let page = get(&f.url(0), "/?gemeinde=Paderbron&kategorie=fachverfahren");
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains(
            "Meinten Sie <a href=\"/?gemeinde=Paderborn&#38;kategorie=fachverfahren\">Paderborn</a>?"
        ),
        "{html}"
    );
    // Nothing close: no suggestion.
    let out = f.kx(0, &["offer", "search", "--municipality", "Atlantis"]);
    assert_refused(&out, "unknown_municipality");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
}

#[test]
fn offer_and_provider_pages_show_names_links_and_the_way_back() {
    let f = published();
    let itk = f.did("itk").replace(':', "%3A");
    let krzn = f.did("krzn").replace(':', "%3A");
    // From a search, the offer page leads back to it; OZG and LeiKa entries
    // are named and lead to the offers of the same service.
    let search = get(&f.url(0), "/?gemeinde=Erkrath&kategorie=fachverfahren");
    let html = String::from_utf8_lossy(&search.body);
    let href = format!("/angebot/{itk}/meldewesen-hosting?gemeinde=05158004&#38;suche=");
    assert!(html.contains(&href), "{html}");
    let page = get(
        &f.url(0),
        &format!(
            "/angebot/{itk}/meldewesen-hosting?gemeinde=05158004&suche=gemeinde%3DErkrath%26kategorie%3Dfachverfahren"
        ),
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains(
            "<a href=\"/?gemeinde=Erkrath&#38;kategorie=fachverfahren\">← Zurück zur Suche</a>"
        ),
        "{html}"
    );
    assert!(
        html.contains("href=\"/?gemeinde=05158004&#38;ozg=10124\"")
            && html.contains("10124 Wohnsitzmeldungen"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/?gemeinde=05158004&#38;leika=99115005104000\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("/anbieter/{itk}?gemeinde=05158004")),
        "{html}"
    );
    // Without a search before it: the offers of its category.
    let page = get(&f.url(0), &format!("/angebot/{krzn}/e-akte-basis"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("← Weitere Angebote: "), "{html}");
    // Empty rows are left out; certifications by name.
    assert!(
        !html.contains("OZG-Leistungen") && !html.contains("LeiKa"),
        "{html}"
    );
    assert!(html.contains("BSI C5 (Cloud Computing"), "{html}");
    assert!(!html.contains(">bsi-c5<"), "{html}");
    // The search by LeiKa key the link leads to.
    let found = get(&f.url(0), "/?leika=99115005104000");
    let html = String::from_utf8_lossy(&found.body);
    assert!(
        html.contains("Nur Angebote zur LeiKa-Leistung 99115005104000"),
        "{html}"
    );
    assert!(html.contains("1 Angebot"), "{html}");
    // The provider page groups its offers and keeps the municipality.
    let page = get(&f.url(0), &format!("/anbieter/{itk}?gemeinde=Erkrath"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("<h3 id=\"kategorie-1\">Fachverfahren (Fachanwendungen)</h3>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "/angebot/{itk}/meldewesen-hosting?gemeinde=05158004"
        )),
        "{html}"
    );
}

#[test]
fn a_new_version_replaces_the_old_and_the_history_keeps_both() {
    let f = published();
    f.kx_ok(
        0,
        &[
            "offer",
            "publish",
            "--key",
            "itk.key",
            &example("offer.toml"),
        ],
    );
    let reference = format!("{}/meldewesen-hosting", f.did("itk"));
    let offer = f.kx_json(0, &["offer", "show", &reference, "--history"]);
    assert_eq!(offer["version"], 2);
    assert_eq!(offer["history"].as_array().map(Vec::len), Some(2));
    assert_eq!(offer["provider"]["name"], "ITK Rheinland");
}

#[test]
fn a_withdrawn_offer_is_hidden_unless_asked_for() {
    let f = published();
    f.kx_ok(
        0,
        &["offer", "withdraw", "--key", "krzn.key", "e-akte-basis"],
    );
    assert_eq!(search(&f, &[]), ["meldewesen-hosting"]);
    assert_eq!(
        search(&f, &["--include", "withdrawn"]),
        ["e-akte-basis", "meldewesen-hosting"]
    );
}

#[test]
fn providers_are_listed_with_standing_and_profile() {
    let f = published();
    let providers = f.kx_json(0, &["provider", "list"]);
    assert_eq!(providers["providers"].as_array().map(Vec::len), Some(2));
    let p = f.kx_json(0, &["provider", "show", &f.did("itk")]);
    assert_eq!(p["standing"], "active");
    assert_eq!(p["profile"]["body"]["short_name"], "ITK Rheinland");
}

#[test]
fn a_record_verifies_offline_exactly_as_served() {
    let f = published();
    let reference = format!("{}/meldewesen-hosting", f.did("itk"));
    let offer = f.kx_json(0, &["offer", "show", &reference]);
    let id = offer["record"].as_str().expect("record id");
    let raw = f.kx_ok(0, &["record", "get", id]);
    f.write("r.json", &raw);
    let v = f.kx_json(
        0,
        &["record", "verify", "r.json", "--genesis", "genesis.json"],
    );
    assert_eq!(v["id"], id);
}

#[test]
fn out_writes_the_signed_record_instead_of_submitting_it() {
    let f = published();
    let url = f.url(0);
    let signed = sign_next_version(&f);
    let reference = format!("{}/meldewesen-hosting", f.did("itk"));
    assert_eq!(f.kx_json(0, &["offer", "show", &reference])["version"], 1);
    let r = post(&url, "/v1/records", &signed);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(f.kx_json(0, &["offer", "show", &reference])["version"], 2);
    let again = post(&url, "/v1/records", &signed);
    assert_eq!(
        (again.status, again.json()["status"].as_str()),
        (200, Some("known"))
    );
}

#[test]
fn an_outsider_and_malformed_offer_files_are_refused_with_exit_code_3() {
    let f = published();
    let outsider = f.kx(
        0,
        &["offer", "publish", "--key", "outsider.key", "krzn.toml"],
    );
    assert_refused(&outsider, "not_member");
    f.write(
        "float.toml",
        &KRZN_OFFER.replace("capacity = 30", "capacity = 30.5"),
    );
    let float = f.kx(0, &["offer", "publish", "--key", "krzn.key", "float.toml"]);
    assert_refused(&float, "float_not_allowed");
    f.write(
        "ags.toml",
        &KRZN_OFFER.replace("regions = [\"05\"]", "regions = [\"5158\"]"),
    );
    let ags = f.kx(0, &["offer", "publish", "--key", "krzn.key", "ags.toml"]);
    assert_refused(&ags, "malformed_ags");
}

#[test]
fn tampered_duplicate_oversized_and_foreign_records_are_refused_over_http() {
    let f = published();
    let url = f.url(0);
    let tampered = String::from_utf8(sign_next_version(&f))
        .expect("utf8")
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
    let foreign = std::fs::read(other.path().join("g.json")).expect("read");
    let r = post(&url, "/v1/records", &foreign);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("wrong_federation"))
    );
}

#[test]
fn an_unknown_category_publishes_with_a_suggestion() {
    let f = published();
    f.write(
        "typo.toml",
        &KRZN_OFFER
            .replace("\"e-akte\"", "\"e-akte-x\"")
            .replace("e-akte-basis", "typo"),
    );
    let typo = f.kx(0, &["offer", "publish", "--key", "krzn.key", "typo.toml"]);
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(typo.status.success(), "{stderr}");
    assert!(stderr.contains("nearest known: e-akte"), "{stderr}");
}

#[test]
fn the_node_keeps_everything_through_a_clean_restart_and_a_sigkill() {
    let mut f = published();
    f.kx_ok(
        0,
        &["offer", "withdraw", "--key", "krzn.key", "e-akte-basis"],
    );
    let before = get(&f.url(0), "/v1/status").json();
    f.restart(0);
    let after = get(&f.url(0), "/v1/status").json();
    assert_eq!(after["state_digest"], before["state_digest"]);
    assert_eq!(after["records"], before["records"]);
    assert_eq!(
        search(&f, &["--include", "withdrawn"]),
        ["e-akte-basis", "meldewesen-hosting"]
    );
    f.kill_and_restart(0);
    let again = get(&f.url(0), "/v1/status").json();
    assert_eq!(again["state_digest"], before["state_digest"]);
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
    kx_tests::NodeProc::init(&t.path().join("n"), &t.path().join("g.json"), &[]);
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

/// `kx demo` ends its nodes with itself, whatever ends it: SIGTERM (a
/// supervisor; SIGHUP from a closed terminal takes the same path) and
/// SIGKILL (nothing it could handle; its nodes see their standard input
/// close). Two demos at once; each one's nodes must be gone and its ports
/// free afterwards, so that the next `kx demo` starts.
#[test]
fn kx_demo_stops_its_nodes_whatever_ends_it() {
    use std::io::{BufRead, BufReader};
    use std::time::Duration;
    let t = TempDir::new("demo-life");
    let demos: Vec<(&str, u16, std::process::Child)> = ["TERM", "KILL"]
        .into_iter()
        .enumerate()
        .map(|(i, signal)| {
            let base = free_base_port(i as u16 + 1);
            let child = std::process::Command::new(bin("kx"))
                .args(["demo", "--dir"])
                .arg(t.path().join(signal))
                .args(["--base-port", &base.to_string()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start kx demo");
            (signal, base, child)
        })
        .collect();
    let mut demos: Vec<_> = demos
        .into_iter()
        .map(|(signal, base, mut child)| {
            let out = child.stdout.take().expect("stdout");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
            (signal, base, child, rx)
        })
        .collect();
    for (signal, _, _, rx) in &demos {
        wait_for(
            &format!("demo {signal} ready"),
            Duration::from_secs(240),
            || {
                rx.try_iter()
                    .any(|l| l.contains("Press Ctrl-C"))
                    .then_some(())
            },
        );
    }
    for (signal, base, child, _) in &mut demos {
        let dir = t.path().join(*signal).display().to_string();
        let nodes = processes_with(&format!("run --stop-with-stdin --data-dir {dir}/"));
        assert_eq!(nodes.len(), 6, "{signal}: the demo's six nodes");
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill");
        let _ = child.wait();
        wait_for(
            &format!("the nodes of the demo ended by SIG{signal}"),
            Duration::from_secs(60),
            || {
                processes_with(&format!("--data-dir {dir}/"))
                    .is_empty()
                    .then_some(())
            },
        );
        wait_for(
            &format!("ports from {base} free"),
            Duration::from_secs(30),
            || {
                (0..6)
                    .all(|i| std::net::TcpListener::bind(("127.0.0.1", *base + i)).is_ok())
                    .then_some(())
            },
        );
    }
}

/// An observer (`kx-node init --observer`) catches up with a provider's node,
/// serves the same registry and catalog, and refuses submissions with 403;
/// `/healthz` and `/readyz` say alive and caught up.
#[test]
fn an_observer_holds_and_serves_the_replica_but_takes_no_submissions() {
    use std::time::Duration;
    let f = published();
    let url = f.url(0);
    // A node without bootstrap peers is ready on its own.
    assert_eq!(get(&url, "/healthz").json()["alive"], true);
    let ready = get(&url, "/readyz");
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    // The observer, bootstrapping from node 0.
    let t = TempDir::new("observer");
    let dir = t.path().join("obs");
    let g = t.path().join("genesis.json");
    std::fs::write(&g, f.genesis.canonical_json()).expect("genesis");
    let out = std::process::Command::new(bin("kx-node"))
        .args(["init", "--observer", "--data-dir"])
        .arg(&dir)
        .arg("--genesis")
        .arg(&g)
        .args(["--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(["--bootstrap", &f.nodes[0].listen[0]])
        .output()
        .expect("kx-node init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert!(config.contains("\nobserver = true\n"), "{config}");
    kx_tests::quicken(&dir);
    let obs = kx_tests::NodeProc::start(&dir, &[]);
    let records = get(&url, "/v1/status").json()["records"].clone();
    wait_for("the observer to be ready", Duration::from_secs(60), || {
        let r = get(&obs.http, "/readyz");
        (r.status == 200 && r.json()["records"] == records).then_some(())
    });
    let status = get(&obs.http, "/v1/status").json();
    assert_eq!(status["observer"], true);
    assert_eq!(
        status["state_digest"],
        get(&url, "/v1/status").json()["state_digest"]
    );
    // It refuses a record node 0 would take, and its catalog has no form.
    let next = sign_next_version(&f);
    let r = post(&obs.http, "/v1/records", &next);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "observer");
    let itk = f.did("itk").replace(':', "%3A");
    let page = get(&obs.http, &format!("/angebot/{itk}/meldewesen-hosting"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("Dieser Knoten ist ein Beobachter"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    // The record goes in through node 0 and reaches the observer.
    assert_eq!(post(&url, "/v1/records", &next).status, 201);
    wait_for(
        "the new version on the observer",
        Duration::from_secs(30),
        || {
            (get(&obs.http, "/v1/status").json()["state_digest"]
                == get(&url, "/v1/status").json()["state_digest"])
                .then_some(())
        },
    );
    let out = f.kx(0, &["--node", &obs.http, "node", "status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("observer     yes"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A node whose only bootstrap peer cannot be reached is alive, not ready.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let lone = t.path().join("lone");
    kx_tests::init_fast(
        &lone,
        &f.genesis,
        &[format!(
            "/ip4/127.0.0.1/tcp/{port}/p2p/{}",
            f.nodes[0].peer_id
        )],
    );
    let lone = kx_tests::NodeProc::start(&lone, &["--log-json"]);
    assert_eq!(get(&lone.http, "/healthz").status, 200);
    // Its log, asked for as JSON: one object per line.
    let log = std::fs::read_to_string(lone.dir.join("node.log")).expect("log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "node running" && l["level"] == "INFO"),
        "{log}"
    );
    let r = get(&lone.http, "/readyz");
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (503, Some("not_ready")),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        String::from_utf8(get(&lone.http, "/metrics").body)
            .expect("utf8")
            .contains("\nkx_ready 0\n")
    );
    // Metrics: the documented ones exist, the exported ones are documented,
    // and the alert rules use only those.
    let metrics = String::from_utf8(get(&obs.http, "/metrics").body).expect("utf8");
    assert!(
        metrics.contains("\nkx_observer 1\n") && metrics.contains("\nkx_ready 1\n"),
        "{metrics}"
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ops");
    let exported: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    let table = std::fs::read_to_string(root.join("metrics.md")).expect("metrics.md");
    for name in &exported {
        assert!(table.contains(name), "metrics.md does not document {name}");
    }
    for doc in ["metrics.md", "alerts.yml"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("doc");
        for word in text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("kx_"))
        {
            assert!(
                exported.contains(&word),
                "{doc} names {word}, which the node does not export"
            );
        }
    }
}

/// `kx-node export` writes every record (through the API while the node
/// runs); `kx-node import` into a fresh data dir reaches the same state
/// digest, and the import's own export is the same file. A file with one
/// altered signature is refused before anything is written.
#[test]
fn a_backup_restores_the_same_state_and_a_tampered_one_is_refused() {
    let f = published();
    let status = get(&f.url(0), "/v1/status").json();
    let t = TempDir::new("backup");
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(bin("kx-node"))
            .args(args)
            .output()
            .expect("kx-node")
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let backup = t.path().join("backup.jsonl");
    // While node 0 runs and holds its store.
    let out = run(&[
        &os("export"),
        &os("--data-dir"),
        f.node_dir(0).as_os_str(),
        &os("--out"),
        backup.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("exported {} records", status["records"])),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let genesis = t.path().join("genesis.json");
    std::fs::write(&genesis, f.genesis.canonical_json()).expect("genesis");
    let fresh = t.path().join("fresh");
    kx_tests::NodeProc::init(&fresh, &genesis, &[]);
    let out = run(&[
        &os("import"),
        &os("--data-dir"),
        fresh.as_os_str(),
        backup.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains(&format!(
            "state digest {}",
            status["state_digest"].as_str().expect("digest")
        )),
        "{said}"
    );
    // Exported again from the stopped fresh node: the same bytes.
    let again = t.path().join("again.jsonl");
    let out = run(&[
        &os("export"),
        &os("--data-dir"),
        fresh.as_os_str(),
        &os("--out"),
        again.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&backup).expect("backup"),
        std::fs::read(&again).expect("again")
    );
    let node = kx_tests::NodeProc::start(&fresh, &[]);
    assert_eq!(
        get(&node.http, "/v1/status").json()["state_digest"],
        status["state_digest"]
    );
    // One signature altered on line 3: refused, nothing written.
    let text = std::fs::read_to_string(&backup).expect("backup");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines[2].find("\"sig\":\"").expect("sig") + 7;
    let c = if &lines[2][at..=at] == "A" { "B" } else { "A" };
    lines[2].replace_range(at..=at, c);
    let bad = t.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let other = t.path().join("other");
    kx_tests::NodeProc::init(&other, &genesis, &[]);
    let out = run(&[
        &os("import"),
        &os("--data-dir"),
        other.as_os_str(),
        bad.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 3: bad_signature"), "{err}");
    assert!(!other.join("db").exists(), "nothing written");
}

#[test]
fn a_portfolio_sheet_publishes_only_changed_rows_and_exports_what_it_reads() {
    let f = published();
    let itk = f.did("itk");
    let sheet = example("offers.csv");
    let first = f.kx_ok(0, &["offer", "publish", "--key", "itk.key", &sheet]);
    assert!(
        first.contains("2 offer(s) published, 0 unchanged"),
        "{first}"
    );
    let version =
        |id: &str| f.kx_json(0, &["offer", "show", &format!("{itk}/{id}")])["version"].clone();
    // The row differs from examples/offer.toml: a new version; the other is new.
    assert_eq!(version("meldewesen-hosting"), 2);
    assert_eq!(version("ratsinformation-saas"), 1);

    // What export writes, publish reads back as unchanged, in CSV and XLSX.
    for file in ["portfolio.csv", "portfolio.xlsx"] {
        f.kx_ok(0, &["offer", "export", "--provider", &itk, "--out", file]);
        let again = f.kx_ok(0, &["offer", "publish", "--key", "itk.key", file]);
        assert!(
            again.contains("0 offer(s) published, 2 unchanged"),
            "{file}: {again}"
        );
    }
    let csv = std::fs::read_to_string(f.dir().join("portfolio.csv")).expect("csv");
    assert!(csv.starts_with("offer_id,title,"), "{csv}");
    let stdout = f.kx_ok(0, &["offer", "export", "--provider", &itk]);
    assert_eq!(stdout, csv);

    // One changed cell: one new version, the other row untouched.
    f.write("changed.csv", &csv.replacen(",40,", ",35,", 1));
    let changed = f.kx_ok(0, &["offer", "publish", "--key", "itk.key", "changed.csv"]);
    assert!(
        changed.contains("1 offer(s) published, 1 unchanged"),
        "{changed}"
    );
    assert_eq!(version("ratsinformation-saas"), 2);
    assert_eq!(version("meldewesen-hosting"), 2);

    // Every problem is named with row and column, and nothing is signed.
    let head = |f: &Federation| {
        get(&f.url(0), &format!("/v1/authors/{itk}")).json()["head"]["seq"].clone()
    };
    let before = head(&f);
    let bad = csv.replacen(",40,", ",zwölf,", 1).replacen(
        "\"05158, 05162, 05111\"",
        "\"5158, 05162\"",
        1,
    );
    assert_ne!(bad, csv);
    f.write("bad.csv", &bad);
    let out = f.kx(0, &["offer", "publish", "--key", "itk.key", "bad.csv"]);
    assert_refused(&out, "invalid_value");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 problem(s); nothing was signed"), "{err}");
    assert!(err.contains("(capacity)") && err.contains("zwölf"), "{err}");
    assert!(
        err.contains("(regions)") && err.contains("malformed_ags"),
        "{err}"
    );
    assert_eq!(head(&f), before);
    f.write("unknown.csv", &csv.replacen("offer_id,", "angebot,", 1));
    let out = f.kx(0, &["offer", "publish", "--key", "itk.key", "unknown.csv"]);
    assert_refused(&out, "invalid_value");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 1, column A (angebot): unknown column"),
        "{err}"
    );
}
