//! The sync vector: one reconciliation on the wire (`specs/sync.md` 3).

use super::*;

/// Ids of the sync vector: SHA-256 of `"sync-" + n` in ASCII.
fn sync_ids(range: std::ops::Range<u32>) -> Vec<Hash32> {
    range
        .map(|n| sha256(format!("sync-{n}").as_bytes()))
        .collect()
}

/// One reconciliation on the wire (`sync.md` 3): an initiator that lacks three of
/// the responder's ids (and holds two the responder lacks), every message as hex,
/// and the ids it ends up fetching; plus the fingerprints of two small sets.
pub(super) fn case() -> Case {
    use kx_protocol::sync::{IdSet, MAX_RANGES, SyncRequest, SyncResponse, fingerprint};
    let fed = sha256(b"sync-federation");
    let initiator: Vec<Hash32> = sync_ids(0..400);
    let responder: Vec<Hash32> = sync_ids(2..403);
    let a = IdSet::new(initiator.iter().copied());
    let b = IdSet::new(responder.iter().copied());
    let mut open = a.initial();
    let mut rounds = Vec::new();
    let mut fetch = Vec::new();
    while !open.is_empty() {
        let n = open.len().min(MAX_RANGES);
        let request = SyncRequest::Reconcile {
            federation: fed,
            ranges: open.drain(..n).collect(),
        };
        let SyncRequest::Reconcile { ranges, .. } = &request else {
            unreachable!()
        };
        let response = SyncResponse::Reconcile {
            answers: b.respond(ranges),
        };
        let SyncResponse::Reconcile { answers } = &response else {
            unreachable!()
        };
        let (f, next) = a.process(ranges, answers);
        fetch.extend(f);
        open.extend(next);
        rounds.push(json!({
            "request_hex": hex(&request.encode()),
            "response_hex": hex(&response.encode()),
        }));
    }
    fetch.sort();
    assert_eq!(fetch, {
        let mut want = sync_ids(400..403);
        want.sort();
        want
    });
    let fetch_request = SyncRequest::Fetch {
        federation: fed,
        ids: fetch.clone(),
    };
    let (empty_count, empty_fp) = fingerprint([]);
    let one = sync_ids(0..1);
    let (one_count, one_fp) = fingerprint(one.iter());
    Case {
        name: "sync-reconcile".into(),
        json: json!({
            "desc": "a reconciliation: the initiator holds ids 0..400, the responder 2..403; each id is SHA-256 of \"sync-<n>\"",
            "type": "sync",
            "federation": fed.to_hex(),
            "initiator_ids": initiator.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
            "responder_ids": responder.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
            "rounds": rounds,
            "expected": {
                "fetch": fetch.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
                "fetch_request_hex": hex(&fetch_request.encode()),
            },
            "fingerprints": [
                {"ids": [], "count": empty_count, "fingerprint": hex(&empty_fp.0)},
                {"ids": [one[0].to_hex()], "count": one_count, "fingerprint": hex(&one_fp.0)},
            ],
        }),
    }
}
