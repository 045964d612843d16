//! Replication: gossip push, anti-entropy repair, discovery, restarts, partitions
//! and hostile peers. Loopback only, ports chosen by the OS, every wait bounded.

use kx_node::run::{Endpoints, Overrides, init, run};
use kx_protocol::{VerifiedRecord, author::LogWriter};
use kx_tests::records::{admit, federation, key, offer, steward, t0};
use kx_tests::{NodeProc, TempDir, get, init_fast, post, quicken, status, two_nodes, wait_for};
use libp2p::Multiaddr;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

const WAIT: Duration = Duration::from_secs(90);

fn submit(http: &str, rec: &VerifiedRecord) {
    let r = post(http, "/v1/records", rec.canonical_json());
    assert!(
        r.status == 201 || r.status == 200,
        "{}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

/// Waits until every node holds `records` records and all digests agree.
fn converge(nodes: &[&str], records: u64) -> String {
    let start = std::time::Instant::now();
    loop {
        let states: Vec<_> = nodes.iter().map(|n| status(n)).collect();
        let digest = states[0]["state_digest"].as_str().unwrap_or("").to_owned();
        let ok = states.iter().all(|s| {
            s["records"].as_u64() == Some(records)
                && s["state_digest"].as_str() == Some(digest.as_str())
        });
        if ok {
            return digest;
        }
        if start.elapsed() > WAIT {
            let summary: Vec<String> = states
                .iter()
                .map(|s| {
                    format!(
                        "records {} digest {} peers {}",
                        s["records"], s["state_digest"], s["peers"]
                    )
                })
                .collect();
            panic!(
                "no convergence on {records} records after {WAIT:?}:\n{}",
                summary.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A node running inside this process.
struct InProcess {
    endpoints: Endpoints,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow_free::Result>,
}

mod anyhow_free {
    pub type Result = std::result::Result<(), String>;
}

fn start_in_process(rt: &tokio::runtime::Runtime, dir: &Path) -> InProcess {
    let (stop, rx) = watch::channel(false);
    let (ready_tx, ready_rx) = oneshot::channel();
    let dir = dir.to_owned();
    let task = rt.spawn(async move {
        run(dir, Overrides::default(), rx, Some(ready_tx))
            .await
            .map_err(|e| format!("{e:#}"))
    });
    let endpoints = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), ready_rx).await })
        .expect("node starts in time")
        .expect("node reports its endpoints");
    InProcess {
        endpoints,
        stop,
        task,
    }
}

fn init_in_process(dir: &Path, genesis: &VerifiedRecord, bootstrap: Vec<String>) {
    let g = dir.with_extension("genesis.json");
    std::fs::write(&g, genesis.canonical_json()).expect("genesis");
    init(
        dir,
        &g,
        Overrides {
            http: Some("127.0.0.1:0".parse().expect("addr")),
            listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
            bootstrap,
            observer: false,
            config: None,
        },
    )
    .expect("init");
    quicken(dir);
}

#[test]
fn five_nodes_in_process_agree() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t = TempDir::new("five");
    let g = federation("Fünf Knoten");
    init_in_process(&t.path().join("n0"), &g, vec![]);
    let first = start_in_process(&rt, &t.path().join("n0"));
    let mut nodes = vec![first];
    for i in 1..5 {
        let dir = t.path().join(format!("n{i}"));
        init_in_process(&dir, &g, vec![nodes[0].endpoints.listen[0].clone()]);
        nodes.push(start_in_process(&rt, &dir));
    }
    let urls: Vec<String> = nodes.iter().map(|n| n.endpoints.http.clone()).collect();
    for u in &urls {
        wait_for("a peer", WAIT, || {
            (!status(u)["peers"].as_array()?.is_empty()).then_some(())
        });
    }
    // Publish on node 3: every node shows it.
    let head = g.record().federation;
    let mut s = steward(&g);
    let p = key(10);
    submit(&urls[3], &admit(&mut s, head, &p, "ITK Rheinland"));
    let mut w = LogWriter::new(key(10), head, None);
    for i in 0..3 {
        submit(
            &urls[3],
            &w.write(offer(&format!("o{i}"), 1), t0()).expect("sign"),
        );
    }
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    converge(&refs, 5);
    for u in &urls {
        let offers = get(u, "/v1/offers").json();
        assert_eq!(offers["total"], 3, "{u}");
    }
    for n in nodes {
        let _ = n.stop.send(true);
        let res = rt.block_on(n.task).expect("join");
        assert!(res.is_ok(), "{res:?}");
    }
}

/// A fresh node takes a registry of many providers without refusing a record
/// for want of its author's admission: it takes the governance records first
/// (`specs/sync.md` 3.3 step 0). In id order, most admissions would come after
/// some of their providers' offers, and the admission chain would be
/// incomplete until the last batch.
#[test]
fn a_fresh_node_takes_the_governance_records_first() {
    let t = TempDir::new("fresh");
    let g = federation("Viele Anbieter");
    let fed = g.record().federation;
    let (da, db) = (t.path().join("a"), t.path().join("b"));
    init_fast(&da, &g, &[]);
    let a = NodeProc::start(&da, &[]);
    let mut s = steward(&g);
    let mut head = fed;
    let mut records = 1;
    for p in 0..24u8 {
        let rec = admit(&mut s, head, &key(100 + p), &format!("Anbieter {p}"));
        head = rec.action().expect("an action");
        submit(&a.http, &rec);
        let mut w = LogWriter::new(key(100 + p), fed, None);
        for i in 0..12 {
            let o = w.write(offer(&format!("o{i}"), 1), t0()).expect("sign");
            submit(&a.http, &o);
        }
        records += 13;
    }
    // 313 records: more than one fetch of 256.
    init_fast(&db, &g, &[a.listen[0].clone()]);
    let b = NodeProc::start(&db, &[]);
    converge(&[&a.http, &b.http], records);
    let metrics = String::from_utf8(get(&b.http, "/metrics").body).expect("utf8");
    assert!(!metrics.contains("code=\"not_member\""), "{metrics}");
    a.stop();
    b.stop();
}

#[test]
fn three_processes_survive_restart_and_partition() {
    let t = TempDir::new("three");
    let g = federation("Drei Knoten");
    let fed = g.record().federation;
    let (da, db, dc) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    init_fast(&da, &g, &[]);
    let a = NodeProc::start(&da, &[]);
    init_fast(&db, &g, &[a.listen[0].clone()]);
    let b = NodeProc::start(&db, &[]);
    init_fast(&dc, &g, &[b.listen[0].clone()]);
    let c = NodeProc::start(&dc, &[]);

    // Publish on A: visible on C (through B, or directly after peer exchange).
    let mut s = steward(&g);
    let p = key(10);
    submit(&a.http, &admit(&mut s, fed, &p, "KRZN"));
    let mut w = LogWriter::new(key(10), fed, None);
    submit(&a.http, &w.write(offer("first", 1), t0()).expect("sign"));
    converge(&[&a.http, &b.http, &c.http], 3);

    // Stop B, publish several records on A, restart B: it catches up by itself.
    b.stop();
    for i in 0..5 {
        submit(
            &a.http,
            &w.write(offer(&format!("while-b-down-{i}"), 1), t0())
                .expect("sign"),
        );
    }
    let b = NodeProc::start(&db, &[]);
    converge(&[&a.http, &b.http, &c.http], 8);
    let st = status(&b.http);
    assert!(st["peers"].as_array().is_some_and(|p| !p.is_empty()));

    // Partition: A alone (restarted on a new port, no bootstrap), B and C together.
    a.stop();
    let a = NodeProc::start(&da, &[]);
    wait_for("A alone", WAIT, || {
        (status(&a.http)["peers"].as_array()?.is_empty()).then_some(())
    });
    submit(&a.http, &w.write(offer("side-a", 1), t0()).expect("sign"));
    let q = key(11);
    let head = get(&b.http, "/v1/status").json()["governance_head"]
        .as_str()
        .expect("head")
        .parse()
        .expect("hash");
    submit(&b.http, &admit(&mut s, head, &q, "citeq"));
    let mut wq = LogWriter::new(key(11), fed, None);
    submit(&b.http, &wq.write(offer("side-b", 1), t0()).expect("sign"));
    converge(&[&b.http, &c.http], 10);
    assert_eq!(status(&a.http)["records"], 9);

    // Heal: A comes back pointing at B; everyone ends with the same state.
    a.stop();
    let a = NodeProc::start(&da, &["--bootstrap", &b.listen[0]]);
    let digest = converge(&[&a.http, &b.http, &c.http], 11);
    assert_eq!(digest.len(), 64);
    wait_for("in sync", WAIT, || {
        (status(&a.http)["in_sync"] == true).then_some(())
    });
    let metrics = String::from_utf8(get(&a.http, "/metrics").body).expect("utf8");
    assert!(
        metrics.contains("kx_records_received_total{source=\"sync\"}"),
        "{metrics}"
    );
    a.stop();
    b.stop();
    c.stop();
}

#[test]
fn foreign_nodes_and_forged_records_change_nothing() {
    let t = TempDir::new("hostile");
    let g = federation("Ehrlich");
    let fed = g.record().federation;
    let (a, b) = two_nodes(t.path(), &g);
    let mut s = steward(&g);
    let p = key(10);
    submit(&a.http, &admit(&mut s, fed, &p, "OWL-IT"));
    converge(&[&a.http, &b.http], 2);
    let before = status(&a.http)["state_digest"].clone();

    // A node of another federation connects: it is dropped and changes nothing.
    let other = federation("Fremd");
    let df = t.path().join("f");
    init_fast(&df, &other, &[a.listen[0].clone()]);
    let f = NodeProc::start(&df, &[]);
    let mut so = steward(&other);
    submit(
        &f.http,
        &admit(&mut so, other.record().federation, &key(20), "Fremd"),
    );
    // Whichever side notices first bans the other (identify or a sync request
    // names the federation); either way they end up apart.
    let banned = |url: &str| {
        String::from_utf8(get(url, "/metrics").body)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("kx_peers_banned ") && !l.ends_with(" 0"))
    };
    wait_for("the foreign node and A to ban each other", WAIT, || {
        let apart = status(&a.http)["peers"]
            .as_array()
            .is_some_and(|p| p.iter().all(|x| x["peer_id"] != f.peer_id.as_str()));
        ((banned(&a.http) || banned(&f.http)) && apart).then_some(())
    });
    assert_eq!(status(&a.http)["state_digest"], before);
    assert_eq!(status(&f.http)["records"], 2);

    // A peer floods forged records (valid form, signature broken) by gossip.
    let mut w = LogWriter::new(key(10), fed, None);
    let good = w.peek(offer("echt", 1), t0()).expect("sign");
    let forged: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            let text = String::from_utf8(good.canonical_json().to_vec()).expect("utf8");
            text.replace("Angebot echt", &format!("Angebot gefälscht {i}"))
                .into_bytes()
        })
        .collect();
    let target: Multiaddr = a.listen[0].parse().expect("multiaddr");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(kx_tests::hostile_peer(
        target,
        kx_node::p2p::topic(&fed),
        forged,
    ));
    let m = String::from_utf8(get(&a.http, "/metrics").body).expect("utf8");
    assert!(
        m.contains("kx_records_rejected_total{code=\"bad_signature\"}"),
        "{m}"
    );
    assert_eq!(status(&a.http)["state_digest"], before);

    // Honest traffic keeps flowing.
    submit(&b.http, &w.write(offer("echt", 1), t0()).expect("sign"));
    converge(&[&a.http, &b.http], 3);
    a.stop();
    b.stop();
    f.stop();
}
