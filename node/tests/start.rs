//! A node trusts its own store at start, but only as far as ARCHITECTURE.md
//! ("Trusting the store") says: a stored record whose bytes changed is not the
//! record its position names and is skipped; a changed signature (which the id
//! does not cover) is found only with `verify_store_at_start`.

use kx_node::node::{Node, Source};
use kx_node::store::SledStore;
use kx_protocol::author::LogWriter;
use kx_protocol::registry::Admitted;
use std::sync::Arc;

mod support;
use support::{admit, federation, key, offer, t0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_record_is_skipped_and_a_changed_signature_needs_the_full_check() {
    let dir = std::env::temp_dir().join(format!("kx-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = t0();
    let g = federation();
    let fed = g.record().federation;
    let store = Arc::new(SledStore::open(&dir, &fed).expect("store"));
    let node = Node::start(g.clone(), store.clone(), 512, false).expect("node");
    admit(&node, &g, &[2, 3]).await;
    // Two providers' single offers: one will have a changed title, the other
    // a changed signature.
    for (k, id) in [(2u8, "a"), (3, "b")] {
        let rec = LogWriter::new(key(k), fed, None)
            .write(offer(id), t0)
            .expect("sign");
        assert_eq!(
            node.ingest(rec, Source::Http).await.expect("ingest"),
            Admitted::Stored
        );
    }
    assert_eq!(node.with_state(|s| s.offers.len()), 2);
    drop(node);
    drop(store);

    // Change the stored bytes behind the node's back.
    {
        let db = sled::open(&dir).expect("sled");
        let arrival = db.open_tree("arrival").expect("tree");
        let mut changed = 0;
        for item in arrival.iter() {
            let (k, v) = item.expect("item");
            let text = String::from_utf8(v.to_vec()).expect("utf-8");
            let new = if text.contains("\"offer_id\":\"a\"") {
                text.replace("Testangebot", "Testangeb0t")
            } else if text.contains("\"offer_id\":\"b\"") {
                // Another valid-looking signature: the first character after
                // the member name, flipped between two base64url letters.
                let at = text.find("\"sig\":\"").expect("sig") + 7;
                let mut bytes = text.into_bytes();
                bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
                String::from_utf8(bytes).expect("utf-8")
            } else {
                continue;
            };
            arrival.insert(k, new.as_bytes()).expect("write");
            changed += 1;
        }
        assert_eq!(changed, 2);
        db.flush().expect("flush");
    }

    // Trusted start: the changed body is not the record its position names;
    // the changed signature goes unnoticed (the id does not cover it).
    let store = Arc::new(SledStore::reopen(&dir, &fed).expect("reopen"));
    let node = Node::start(g.clone(), store.clone(), 512, false).expect("node");
    let offers: Vec<String> =
        node.with_state(|s| s.offers.keys().map(|(_, o)| o.to_string()).collect());
    assert_eq!(offers, ["b"]);
    drop(node);
    drop(store);

    // Full check: neither counts.
    let store = Arc::new(SledStore::reopen(&dir, &fed).expect("reopen"));
    let node = Node::start(g, store, 512, true).expect("node");
    assert_eq!(node.with_state(|s| s.offers.len()), 0);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
