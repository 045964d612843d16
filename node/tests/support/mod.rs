//! What the node's integration tests share: keys, a federation founded by one
//! steward, and an offer body.

use kx_protocol::author::genesis;
use kx_protocol::body::Kind;
use kx_protocol::{Body, SecretKey, Timestamp, VerifiedRecord};

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
