//! What the node's integration tests share: keys, a federation founded by one
//! steward, provider admissions through a node, and an offer body.

use kx_node::node::{Node, Source};
use kx_protocol::author::{LogWriter, genesis};
use kx_protocol::body::{AdmitBody, Kind};
use kx_protocol::registry::Admitted;
use kx_protocol::{Body, SecretKey, Timestamp, VerifiedRecord, record};

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32]).expect("key")
}

pub fn t0() -> Timestamp {
    "2026-01-15T09:00:00Z".parse().expect("ts")
}

/// A genesis with `key(1)` as the only steward.
pub fn federation() -> VerifiedRecord {
    let steward = key(1);
    genesis(
        "Test".parse().expect("n"),
        vec![steward.did().clone()],
        1,
        &steward,
        &[&steward],
        t0(),
    )
    .expect("genesis")
}

pub fn offer(id: &str) -> Body {
    let v = serde_json::json!({
        "offer_id": id, "version": 1, "title": "Testangebot", "summary": "", "description": "",
        "category": "e-akte", "ozg_ids": [], "leika_keys": [], "regions": ["05"],
        "delivery": "saas", "sla": {"availability_bp": 9900, "support_hours": "Mo-Fr",
        "response_minutes": 60, "resolution_hours": 8}, "pricing": {"model": "on_request",
        "amount_cents": 0, "currency": "EUR", "notes": ""}, "capacity": 1,
        "certifications": [], "standards": [], "contacts": [],
        "valid_from": "2026-01-01T00:00:00Z"
    });
    Body::from_json(Kind::Offer, v).expect("offer body")
}

/// Admits `key(n)` for each of `providers` through `node` (federation `g`,
/// whose steward is `key(1)`), one action after the other.
pub async fn admit(node: &Node, g: &VerifiedRecord, providers: &[u8]) {
    let mut sw = LogWriter::new(key(1), g.record().federation, Some((1, g.id())));
    for &p in providers {
        let mut b = Body::MemberAdmit(AdmitBody {
            prev_action: node.with_registry(|r| r.governance_head()),
            provider: key(p).did().clone(),
            name: format!("P{p}").parse().expect("name"),
            approvals: Vec::new(),
        });
        record::approve(&mut b, sw.key());
        let rec = sw.write(b, t0()).expect("sign");
        assert_eq!(
            node.ingest(rec, Source::Http).await.expect("admit"),
            Admitted::Stored
        );
    }
}
