//! Robustness: a node killed with SIGKILL while records are submitted keeps every
//! acknowledged record; hostile inputs over HTTP and over gossip get their codes;
//! a flood of invalid records gets its sender banned while honest records flow;
//! five nodes agree after repeated restarts and a partition.

use kx_protocol::author::LogWriter;
use kx_protocol::registry::Registry;
use kx_protocol::{Hash32, VerifiedRecord};
use kx_tests::records::{admit, federation, key, offer, steward, t0};
use kx_tests::{NodeProc, TempDir, get, init_fast, post, status, two_nodes, wait_for};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

fn all_records(http: &str) -> Vec<VerifiedRecord> {
    kx_tests::all_records(http)
        .iter()
        .map(|r| {
            let bytes = serde_json::to_vec(r).expect("json");
            VerifiedRecord::from_bytes(&bytes).expect("served records verify")
        })
        .collect()
}

#[test]
fn sigkill_during_submits_loses_no_acknowledged_record() {
    let t = TempDir::new("crash");
    let g = federation("Absturz");
    let fed = g.record().federation;
    let dir = t.path().join("n");
    init_fast(&dir, &g, &[]);
    let node = NodeProc::start(&dir, &[]);
    let url = node.http.clone();
    let mut s = steward(&g);
    let mut head = fed;
    for p in 0..4u8 {
        let rec = admit(&mut s, head, &key(10 + p), &format!("P{p}"));
        head = rec.action().expect("action");
        assert_eq!(post(&url, "/v1/records", rec.canonical_json()).status, 201);
    }
    let acked: Arc<Mutex<Vec<Hash32>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for p in 0..4u8 {
        let (acked, stop, url) = (acked.clone(), stop.clone(), url.clone());
        writers.push(std::thread::spawn(move || {
            let mut w = LogWriter::new(key(10 + p), fed, None);
            for i in 0..10_000 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let rec = w.write(offer(&format!("o{i}"), 1), t0()).expect("sign");
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                match agent
                    .post(&format!("{url}/v1/records"))
                    .send(rec.canonical_json())
                {
                    Ok(r) if r.status().as_u16() == 201 => {
                        acked.lock().expect("lock").push(rec.id());
                    }
                    _ => return,
                }
            }
        }));
    }
    wait_for("some acknowledged submits", WAIT, || {
        (acked.lock().expect("lock").len() >= 150).then_some(())
    });
    node.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let acked = acked.lock().expect("lock").clone();

    let node = NodeProc::start(&dir, &[]);
    for id in &acked {
        assert_eq!(
            get(&node.http, &format!("/v1/records/{id}")).status,
            200,
            "acknowledged {id} lost"
        );
    }
    // The digest the restarted node reports equals a rebuild from its records.
    let mut reg = Registry::new(g.clone()).expect("registry");
    for r in all_records(&node.http) {
        reg.add(r).expect("add");
    }
    let st = status(&node.http);
    assert_eq!(
        st["state_digest"].as_str(),
        Some(reg.state().digest().to_hex().as_str())
    );
    assert!(st["records"].as_u64().unwrap_or(0) >= acked.len() as u64 + 5);
    node.stop();
}

/// A record like `base` with its text changed by `f`.
fn text_of(rec: &VerifiedRecord) -> String {
    String::from_utf8(rec.canonical_json().to_vec()).expect("utf8")
}

#[test]
fn hostile_inputs_get_their_codes_over_http_and_gossip() {
    let t = TempDir::new("attacks");
    let g = federation("Angriffe");
    let fed = g.record().federation;
    let (a, b) = two_nodes(t.path(), &g);
    let mut s = steward(&g);
    let member = key(10);
    let adm = admit(&mut s, fed, &member, "KRZN");
    assert_eq!(
        post(&a.http, "/v1/records", adm.canonical_json()).status,
        201
    );
    let mut w = LogWriter::new(key(10), fed, None);
    let good = w.write(offer("gut", 1), t0()).expect("sign");
    assert_eq!(
        post(&a.http, "/v1/records", good.canonical_json()).status,
        201
    );
    wait_for("B to hold A's records", WAIT, || {
        (status(&b.http)["records"] == status(&a.http)["records"]).then_some(())
    });
    let next = w.peek(offer("naechst", 1), t0()).expect("sign");
    let base = text_of(&next);

    let other = federation("Fremd");
    let mut ow = LogWriter::new(key(10), other.record().federation, None);
    let foreign = ow.write(offer("x", 1), t0()).expect("sign");
    let mut outsider = LogWriter::new(key(66), fed, None);
    let non_member = outsider.write(offer("x", 1), t0()).expect("sign");
    let future = w
        .peek(
            offer("zukunft", 1),
            "2099-01-01T00:00:00Z".parse().expect("ts"),
        )
        .expect("sign");
    let nested = format!("{{\"v\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    let mut invalid_utf8 = base.clone().into_bytes();
    invalid_utf8[40] = 0xff;

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "forged",
            base.replace("Angebot naechst", "Angebot gefälscht")
                .into_bytes(),
            400,
            "bad_signature",
        ),
        ("replayed", good.canonical_json().to_vec(), 200, ""),
        (
            "foreign federation",
            foreign.canonical_json().to_vec(),
            400,
            "wrong_federation",
        ),
        (
            "non-member",
            non_member.canonical_json().to_vec(),
            422,
            "not_member",
        ),
        (
            "oversized",
            format!("{{\"x\":\"{}\"}}", "a".repeat(100_000)).into_bytes(),
            413,
            "too_large",
        ),
        ("deeply nested", nested.into_bytes(), 400, "too_deep"),
        ("invalid UTF-8", invalid_utf8, 400, "invalid_utf8"),
        (
            "huge number",
            base.replace(
                "\"capacity\":1",
                "\"capacity\":123456789012345678901234567890",
            )
            .into_bytes(),
            400,
            "integer_out_of_range",
        ),
        (
            "float",
            base.replace("\"capacity\":1", "\"capacity\":1.5")
                .into_bytes(),
            400,
            "float_not_allowed",
        ),
        (
            "duplicate key",
            base.replacen("\"seq\":", "\"seq\":2,\"seq\":", 1)
                .into_bytes(),
            400,
            "duplicate_key",
        ),
        (
            "future-dated",
            future.canonical_json().to_vec(),
            422,
            "future_dated",
        ),
    ];
    let before = status(&a.http);
    for (name, bytes, code_status, code) in &cases {
        for node in [&a.http, &b.http] {
            let r = post(node, "/v1/records", bytes);
            assert_eq!(
                r.status,
                *code_status,
                "{name}: {}",
                String::from_utf8_lossy(&r.body)
            );
            if !code.is_empty() {
                assert_eq!(r.json()["error"]["code"], *code, "{name}");
            }
        }
    }
    wait_for("both nodes to agree", WAIT, || {
        (status(&a.http)["state_digest"] == status(&b.http)["state_digest"]).then_some(())
    });
    assert_eq!(
        status(&a.http)["records"],
        before["records"],
        "nothing stored"
    );

    // The same over gossip: each is refused and counted under its code.
    let payloads: Vec<Vec<u8>> = cases
        .iter()
        .filter(|(n, _, _, _)| *n != "replayed" && *n != "oversized")
        .map(|(_, b, _, _)| b.clone())
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = b.listen[0].parse().expect("multiaddr");
    rt.block_on(kx_tests::hostile_peer(
        target,
        kx_node::p2p::topic(&fed),
        payloads,
    ));
    let metrics = String::from_utf8(get(&b.http, "/metrics").body).expect("utf8");
    for code in [
        "bad_signature",
        "too_deep",
        "invalid_utf8",
        "integer_out_of_range",
        "float_not_allowed",
        "duplicate_key",
        "not_member",
        "future_dated",
    ] {
        assert!(
            metrics.contains(&format!("kx_records_rejected_total{{code=\"{code}\"}}")),
            "{code} not counted: {metrics}"
        );
    }
    assert_eq!(status(&b.http)["records"], before["records"]);
    a.stop();
    b.stop();
}

#[test]
fn a_flood_of_invalid_records_is_cut_off_while_honest_records_flow() {
    let t = TempDir::new("flood");
    let g = federation("Flut");
    let fed = g.record().federation;
    let (a, b) = two_nodes(t.path(), &g);
    let mut s = steward(&g);
    assert_eq!(
        post(
            &a.http,
            "/v1/records",
            admit(&mut s, fed, &key(10), "citeq").canonical_json()
        )
        .status,
        201
    );
    wait_for("B to hold the admission", WAIT, || {
        (status(&b.http)["records"] == 2).then_some(())
    });
    let mut w = LogWriter::new(key(10), fed, None);
    let sample = text_of(&w.peek(offer("muster", 1), t0()).expect("sign"));
    let flood: Vec<Vec<u8>> = (0..2000)
        .map(|i| {
            sample
                .replace("Angebot muster", &format!("Angebot {i}"))
                .into_bytes()
        })
        .collect();
    let honest = std::thread::spawn({
        let b_http = b.http.clone();
        move || {
            for i in 0..20 {
                let rec = w
                    .write(offer(&format!("ehrlich-{i}"), 1), t0())
                    .expect("sign");
                assert_eq!(
                    post(&b_http, "/v1/records", rec.canonical_json()).status,
                    201
                );
            }
        }
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(kx_tests::hostile_peer(
        a.listen[0].parse().expect("addr"),
        kx_node::p2p::topic(&fed),
        flood,
    ));
    honest.join().expect("honest writer");
    let m = String::from_utf8(get(&a.http, "/metrics").body).expect("utf8");
    let banned = m
        .lines()
        .find(|l| l.starts_with("kx_peers_banned "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(banned >= 1, "the flooding peer is banned: {m}");
    // Every honest record reached A.
    wait_for("honest records on A", WAIT, || {
        let offers: Value = get(&a.http, "/v1/offers?limit=100").json();
        (offers["total"] == 20).then_some(())
    });
    a.stop();
    b.stop();
}

#[test]
fn five_nodes_agree_after_churn_and_a_partition() {
    let t = TempDir::new("churn");
    let g = federation("Wechsel");
    let fed = g.record().federation;
    let dirs: Vec<_> = (0..5).map(|i| t.path().join(format!("n{i}"))).collect();
    init_fast(&dirs[0], &g, &[]);
    let first = NodeProc::start(&dirs[0], &[]);
    let boot = first.listen[0].clone();
    let mut nodes = vec![Some(first)];
    for d in &dirs[1..] {
        init_fast(d, &g, std::slice::from_ref(&boot));
        nodes.push(Some(NodeProc::start(d, &[])));
    }
    let url =
        |nodes: &[Option<NodeProc>], i: usize| nodes[i].as_ref().expect("running").http.clone();
    let mut s = steward(&g);
    assert_eq!(
        post(
            &url(&nodes, 0),
            "/v1/records",
            admit(&mut s, fed, &key(10), "SIT").canonical_json()
        )
        .status,
        201
    );
    let mut w = LogWriter::new(key(10), fed, None);
    let mut published = 2u64;
    let agree = |nodes: &[Option<NodeProc>], n: u64| {
        let urls: Vec<String> = (0..nodes.len()).map(|i| url(nodes, i)).collect();
        wait_for("all five nodes to agree", Duration::from_secs(120), || {
            let st: Vec<Value> = urls.iter().map(|u| status(u)).collect();
            st.iter()
                .all(|x| {
                    x["records"].as_u64() == Some(n) && x["state_digest"] == st[0]["state_digest"]
                })
                .then_some(())
        });
    };
    agree(&nodes, published);
    // Three rounds: stop a node, publish elsewhere, restart it.
    for round in 1..4usize {
        let down = round % 4 + 1;
        nodes[down].take().expect("running").stop();
        let live = (down + 2) % 5;
        for i in 0..3 {
            let rec = w
                .write(offer(&format!("r{round}-{i}"), 1), t0())
                .expect("sign");
            assert_eq!(
                post(&url(&nodes, live), "/v1/records", rec.canonical_json()).status,
                201
            );
            published += 1;
        }
        nodes[down] = Some(NodeProc::start(&dirs[down], &[]));
    }
    agree(&nodes, published);
    // A partition: node 4 alone on a new port, publishing on both sides.
    nodes[4].take().expect("running").stop();
    let cfg = dirs[4].join("config.toml");
    let text = std::fs::read_to_string(&cfg).expect("cfg");
    std::fs::write(
        &cfg,
        text.replace(&format!("bootstrap = [\"{boot}\"]"), "bootstrap = []"),
    )
    .expect("w");
    nodes[4] = Some(NodeProc::start(&dirs[4], &[]));
    let mut w2 = LogWriter::new(key(11), fed, None);
    let head: Hash32 = status(&url(&nodes, 0))["governance_head"]
        .as_str()
        .expect("h")
        .parse()
        .expect("h");
    assert_eq!(
        post(
            &url(&nodes, 1),
            "/v1/records",
            admit(&mut s, head, &key(11), "regio iT").canonical_json()
        )
        .status,
        201
    );
    // On the node that took the admission: another node may not have it yet.
    let side_a = w2.write(offer("links", 1), t0()).expect("sign");
    assert_eq!(
        post(&url(&nodes, 1), "/v1/records", side_a.canonical_json()).status,
        201
    );
    let side_b = w.write(offer("rechts", 1), t0()).expect("sign");
    assert_eq!(
        post(&url(&nodes, 4), "/v1/records", side_b.canonical_json()).status,
        201
    );
    published += 3;
    // Heal.
    nodes[4].take().expect("running").stop();
    std::fs::write(&cfg, text).expect("w");
    nodes[4] = Some(NodeProc::start(&dirs[4], &[]));
    let urls: Vec<String> = (0..5).map(|i| url(&nodes, i)).collect();
    wait_for("all five nodes to agree", Duration::from_secs(120), || {
        let st: Vec<Value> = urls.iter().map(|u| status(u)).collect();
        st.iter()
            .all(|x| {
                x["records"].as_u64() == Some(published)
                    && x["state_digest"] == st[0]["state_digest"]
            })
            .then_some(())
    });
    for n in nodes.into_iter().flatten() {
        n.stop();
    }
}
