//! Concurrent submits share flushes: a node that takes records from many writers
//! at once commits them in fewer flushes than records, and every acknowledged
//! record is in the store when the node is opened again.

use kx_node::node::{Node, Source};
use kx_node::store::{SledStore, Store};
use kx_protocol::author::LogWriter;
use kx_protocol::registry::Admitted;
use std::sync::Arc;
use std::sync::atomic::Ordering;

mod support;
use support::{admit, federation, key, offer, t0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_share_flushes_and_survive_reopen() {
    let dir = std::env::temp_dir().join(format!("kx-group-commit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = t0();
    let g = federation();
    let fed = g.record().federation;
    let store = Arc::new(SledStore::open(&dir, &fed).expect("store"));
    let node = Node::start(g.clone(), store.clone(), 512, false).expect("node");

    // Admit 16 providers through the node.
    admit(&node, &g, &(10..26).collect::<Vec<u8>>()).await;
    let commits_before = node.metrics().commits.load(Ordering::Relaxed);

    // 16 writers, 25 offers each, all at once.
    let mut tasks = Vec::new();
    for p in 0..16u8 {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = LogWriter::new(key(10 + p), fed, None);
            for i in 0..25 {
                let rec = w.write(offer(&format!("o{i}")), t0).expect("sign");
                assert_eq!(
                    node.ingest(rec, Source::Http).await.expect("ingest"),
                    Admitted::Stored
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let commits = node.metrics().commits.load(Ordering::Relaxed) - commits_before;
    assert!(commits < 400, "400 records took {commits} flushes");
    let expected = 1 + 16 + 400;
    assert_eq!(store.len(), expected);
    drop(node);
    drop(store);

    // Everything acknowledged is there after reopening.
    let store = Arc::new(SledStore::reopen(&dir, &fed).expect("reopen"));
    assert_eq!(store.len(), expected);
    let node = Node::start(g, store, 512, false).expect("node");
    assert_eq!(node.with_state(|s| s.offers.len()), 400);
    let _ = std::fs::remove_dir_all(&dir);
}
