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
    use kx_protocol::sync::{SyncRequest, fingerprint};
    let fed = sha256(b"sync-federation");
    let (rounds, fetch) = reconcile(&fed, &sync_ids(0..400), &sync_ids(2..403));
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
            "initiator_ids": hexes(&sync_ids(0..400)),
            "responder_ids": hexes(&sync_ids(2..403)),
            "rounds": rounds,
            "expected": {
                "fetch": hexes(&fetch),
                "fetch_request_hex": hex(&fetch_request.encode()),
            },
            "fingerprints": [
                {"ids": [], "count": empty_count, "fingerprint": hex(&empty_fp.0)},
                {"ids": [one[0].to_hex()], "count": one_count, "fingerprint": hex(&one_fp.0)},
            ],
        }),
    }
}

/// A reconciliation where the initiator holds about half of the responder's ids
/// (`sync.md` 3.3 step 2): the responder's 1,100 are too many to list at the
/// root, and below it each range where the initiator holds at most half as many
/// is answered with its ids, the others with children.
pub(super) fn lists_case() -> Case {
    use kx_protocol::sync::{Answer, IdSet, MAX_IDS_INLINE, Prefix, Summary};
    let fed = sha256(b"sync-federation");
    let responder = sync_ids(0..1100);
    let mut initiator = sync_ids(0..550);
    initiator.extend(sync_ids(5000..5003));
    let (rounds, fetch) = reconcile(&fed, &initiator, &responder);
    assert_eq!(fetch, {
        let mut want = sync_ids(550..1100);
        want.sort();
        want
    });
    // The rule shows: at the first level some ranges are listed (more than 4
    // ids, the initiator holding at most half) and some are not.
    let (a, b) = (
        IdSet::new(initiator.iter().copied()),
        IdSet::new(responder.iter().copied()),
    );
    let level1: Vec<Summary> = (0..16)
        .map(|d| a.summary(Prefix::ROOT.child(d).expect("child")))
        .collect();
    let answers = b.respond(&level1);
    let listed = answers
        .iter()
        .filter(|x| matches!(x, Answer::Ids { ids, .. } if ids.len() > MAX_IDS_INLINE))
        .count();
    let split = answers
        .iter()
        .filter(|x| matches!(x, Answer::Children { .. }))
        .count();
    assert!(listed > 0 && split > 0, "listed {listed}, split {split}");
    Case {
        name: "sync-reconcile-lists".into(),
        json: json!({
            "desc": "a reconciliation where the initiator holds about half of the responder's ids: the initiator holds ids 0..550 and 5000..5003, the responder 0..1100; each id is SHA-256 of \"sync-<n>\"",
            "type": "sync",
            "federation": fed.to_hex(),
            "initiator_ids": hexes(&initiator),
            "responder_ids": hexes(&responder),
            "rounds": rounds,
            "expected": {"fetch": hexes(&fetch)},
        }),
    }
}

/// The `governance` request (`sync.md` 3.3 step 0): one responder's answers to
/// an initiator holding the same governance ids (none) and to one holding three
/// of its five (all five).
pub(super) fn governance_case() -> Case {
    use kx_protocol::sync::{SyncRequest, SyncResponse, fingerprint, governance_answer};
    let fed = sha256(b"sync-federation");
    let mut own = sync_ids(7000..7005);
    own.sort();
    let exchanges: Vec<Value> = [own.clone(), own[..3].to_vec()]
        .iter()
        .map(|held| {
            let (count, fingerprint) = fingerprint(held.iter());
            let request = SyncRequest::Governance {
                federation: fed,
                count,
                fingerprint,
            };
            let response = SyncResponse::Governance {
                ids: governance_answer(&own, count, fingerprint),
            };
            json!({
                "initiator_governance_ids": hexes(held),
                "request_hex": hex(&request.encode()),
                "response_hex": hex(&response.encode()),
            })
        })
        .collect();
    Case {
        name: "sync-governance".into(),
        json: json!({
            "desc": "governance requests and answers: the responder holds governance ids 7000..7005 (SHA-256 of \"sync-<n>\"); an initiator holding all five gets an empty list, one holding three (the lowest ids) gets all five",
            "type": "sync-governance",
            "federation": fed.to_hex(),
            "responder_governance_ids": hexes(&own),
            "exchanges": exchanges,
        }),
    }
}

/// The responder's rules one by one (`sync.md` 3.3 step 2), each as a request
/// and its answer; and the initiator's step 3 on an answer that also holds what
/// it must ignore.
pub(super) fn respond_case() -> Case {
    use kx_protocol::sync::{
        Answer, IdSet, MAX_IDS_LISTED, Prefix, Summary, SyncRequest, SyncResponse, fingerprint,
    };
    let fed = sha256(b"sync-federation");
    let responder = sync_ids(0..1100);
    let r = IdSet::new(responder.iter().copied());
    let digit = |d: u8| Prefix::ROOT.child(d).expect("digit");
    let within = |p: Prefix| -> Vec<Hash32> {
        let mut v: Vec<Hash32> = responder
            .iter()
            .filter(|i| i.to_hex().starts_with(&p.digits()))
            .copied()
            .collect();
        v.sort();
        v
    };
    // The initiator's summary of the first `c` of the responder's ids under `p`.
    let holding = |p: Prefix, c: usize| {
        let (count, fingerprint) = fingerprint(within(p)[..c].iter());
        Summary {
            prefix: p,
            count,
            fingerprint,
        }
    };
    let n = |p: Prefix| within(p).len();
    let (d1, d2) = (digit(1), digit(2));
    assert!(n(Prefix::ROOT) > MAX_IDS_LISTED && n(d1) > 8 && n(d2) > 8);
    let cases: Vec<(&str, Vec<Summary>)> = vec![
        (
            "in sync: the initiator's summary of the whole space equals the responder's, so no entry",
            vec![r.summary(Prefix::ROOT)],
        ),
        (
            "the whole space, count 0: 1,100 ids are more than 1,024, so children although the initiator holds none",
            vec![holding(Prefix::ROOT, 0)],
        ),
        (
            "\"1\" with count floor(n / 2): n >= 2c, so ids; \"2\" with floor(n / 2) + 1: children",
            vec![holding(d1, n(d1) / 2), holding(d2, n(d2) / 2 + 1)],
        ),
        (
            "\"1\" twice, first with count 0 (ids), then with floor(n / 2) + 1 (children): answered for the first only",
            vec![holding(d1, 0), holding(d1, n(d1) / 2 + 1)],
        ),
    ];
    let exchanges: Vec<Value> = cases
        .into_iter()
        .map(|(note, ranges)| {
            let answers = r.respond(&ranges);
            json!({
                "note": note,
                "request_hex": hex(&SyncRequest::Reconcile { federation: fed, ranges }.encode()),
                "response_hex": hex(&SyncResponse::Reconcile { answers }.encode()),
            })
        })
        .collect();
    // The initiator: it holds the responder's ids but every seventh, and asks
    // about "1" and "2". The answer lists "1" (as a responder may), gives the
    // children of "2" with sub-prefix 0 claimed empty, and adds an answer about
    // "3" (not asked) and a second one about "1": both ignored.
    let initiator: Vec<Hash32> = responder
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 0)
        .map(|(_, id)| *id)
        .collect();
    let a = IdSet::new(initiator.iter().copied());
    let asked = vec![a.summary(d1), a.summary(d2)];
    let Answer::Children { children, .. } = &r.respond(&[holding(d2, n(d2) / 2 + 1)])[0] else {
        panic!("children of \"2\"");
    };
    let mut children = children.clone();
    children[0] = fingerprint([]);
    let answers = vec![
        Answer::Ids {
            prefix: d1,
            ids: within(d1),
        },
        Answer::Children {
            prefix: d2,
            children,
        },
        Answer::Ids {
            prefix: digit(3),
            ids: within(digit(3)),
        },
        Answer::Ids {
            prefix: d1,
            ids: sync_ids(9000..9003),
        },
    ];
    let (fetch, next) = a.process(&asked, &answers);
    assert!(!fetch.is_empty() && !next.is_empty());
    assert!(next.iter().all(|x| x.prefix.digits() != "20"));
    Case {
        name: "sync-respond".into(),
        json: json!({
            "desc": "the responder's rules one by one, and the initiator's handling of an answer with an unasked prefix, a repeated prefix and a sub-range claimed empty; the responder holds ids 0..1100 (SHA-256 of \"sync-<n>\"), the initiator all of them but every seventh (0, 7, 14, ...)",
            "type": "sync-respond",
            "federation": fed.to_hex(),
            "responder_ids": hexes(&responder),
            "exchanges": exchanges,
            "initiator": {
                "initiator_ids": hexes(&initiator),
                "request_hex": hex(&SyncRequest::Reconcile { federation: fed, ranges: asked }.encode()),
                "response_hex": hex(&SyncResponse::Reconcile { answers }.encode()),
                "expected": {
                    "fetch": hexes(&fetch),
                    "next_request_hex": hex(&SyncRequest::Reconcile { federation: fed, ranges: next }.encode()),
                },
            },
        }),
    }
}

fn hexes(ids: &[Hash32]) -> Vec<String> {
    ids.iter().map(Hash32::to_hex).collect()
}

/// Every reconcile request and answer between `initiator` and `responder`, and
/// the ids the initiator ends up fetching (sorted).
fn reconcile(
    fed: &Hash32,
    initiator: &[Hash32],
    responder: &[Hash32],
) -> (Vec<Value>, Vec<Hash32>) {
    use kx_protocol::sync::{IdSet, MAX_RANGES, SyncRequest, SyncResponse};
    let a = IdSet::new(initiator.iter().copied());
    let b = IdSet::new(responder.iter().copied());
    let mut open = a.initial();
    let mut rounds = Vec::new();
    let mut fetch = Vec::new();
    while !open.is_empty() {
        let n = open.len().min(MAX_RANGES);
        let ranges: Vec<_> = open.drain(..n).collect();
        let answers = b.respond(&ranges);
        let (f, next) = a.process(&ranges, &answers);
        fetch.extend(f);
        open.extend(next);
        rounds.push(json!({
            "request_hex": hex(&SyncRequest::Reconcile { federation: *fed, ranges }.encode()),
            "response_hex": hex(&SyncResponse::Reconcile { answers }.encode()),
        }));
    }
    fetch.sort();
    (rounds, fetch)
}

/// A sync message as the vector shows it: what a reader of `sync.md` 3.1 gets
/// from the bytes (ids, fingerprints and records as hex).
pub fn message_json(request: bool, bytes: &[u8]) -> Value {
    use kx_protocol::sync::{Answer, SyncRequest, SyncResponse};
    let ids = |ids: &[Hash32]| ids.iter().map(Hash32::to_hex).collect::<Vec<_>>();
    if request {
        if bytes.len() > kx_protocol::sync::MAX_REQUEST_BYTES {
            return json!({"malformed": true});
        }
        return match SyncRequest::decode(bytes) {
            Err(_) => json!({"malformed": true}),
            Ok(SyncRequest::Reconcile { federation, ranges }) => json!({
                "type": "reconcile",
                "federation": federation.to_hex(),
                "ranges": ranges.iter().map(|r| json!({
                    "prefix": r.prefix.digits(),
                    "count": r.count,
                    "fingerprint": hex(&r.fingerprint.0),
                })).collect::<Vec<_>>(),
            }),
            Ok(SyncRequest::Fetch {
                federation,
                ids: list,
            }) => json!({
                "type": "fetch",
                "federation": federation.to_hex(),
                "ids": ids(&list),
            }),
            Ok(SyncRequest::Peers { federation }) => json!({
                "type": "peers",
                "federation": federation.to_hex(),
            }),
            Ok(SyncRequest::Governance {
                federation,
                count,
                fingerprint,
            }) => json!({
                "type": "governance",
                "federation": federation.to_hex(),
                "count": count,
                "fingerprint": hex(&fingerprint.0),
            }),
        };
    }
    match SyncResponse::decode(bytes) {
        Err(_) => json!({"malformed": true}),
        Ok(SyncResponse::Reconcile { answers }) => json!({
            "type": "reconcile",
            "answers": answers.iter().map(|a| match a {
                Answer::Ids { prefix, ids: list } => json!({"prefix": prefix.digits(), "ids": ids(list)}),
                Answer::Children { prefix, children } => json!({
                    "prefix": prefix.digits(),
                    "children": children.iter().map(|(count, fp)| json!({"count": count, "fingerprint": hex(&fp.0)})).collect::<Vec<_>>(),
                }),
            }).collect::<Vec<_>>(),
        }),
        Ok(SyncResponse::Records { records }) => json!({
            "type": "records",
            "records": records.iter().map(|r| hex(r)).collect::<Vec<_>>(),
        }),
        Ok(SyncResponse::Peers { peers }) => json!({
            "type": "peers",
            "peers": peers.iter().map(|p| json!({"peer_id": p.peer_id, "addrs": p.addrs})).collect::<Vec<_>>(),
        }),
        Ok(SyncResponse::Governance { ids: list }) => json!({
            "type": "governance",
            "ids": ids(&list),
        }),
        Ok(SyncResponse::Error { code, message }) => json!({
            "type": "error",
            "code": code.as_str(),
            "message": message,
        }),
    }
}

/// Single sync messages (`sync.md` 3.1): one of each request and answer,
/// fetches of 256 and 257 ids, and malformed messages, each with one defect.
pub(super) fn messages() -> Case {
    use kx_protocol::sync::{
        Answer, IdSet, MAX_RANGES, PeerAddr, Prefix, Summary, SyncCode, SyncRequest, SyncResponse,
        fingerprint,
    };
    let fed = sha256(b"sync-federation");
    let ids = sync_ids(0..300);
    let set = IdSet::new(ids[..40].iter().copied());
    let mut out: Vec<Value> = Vec::new();
    let mut add = |note: &str, request: bool, bytes: Vec<u8>, extra: Value| {
        let mut expected = message_json(request, &bytes);
        if let (Value::Object(e), Value::Object(x)) = (&mut expected, extra) {
            e.extend(x);
        }
        out.push(json!({
            "note": note,
            "direction": if request { "request" } else { "response" },
            "hex": hex(&bytes),
            "expected": expected,
        }));
    };
    // Well-formed requests.
    let root = set.summary(Prefix::ROOT);
    let a = Prefix::ROOT.child(10).expect("child");
    let a3 = a.child(3).expect("child");
    let reconcile = SyncRequest::Reconcile {
        federation: fed,
        ranges: vec![root, set.summary(a), set.summary(a3)],
    };
    add(
        "reconcile of three ranges: the whole space, \"a\" and \"a3\" (odd length: low nibble 0)",
        true,
        reconcile.encode(),
        json!({}),
    );
    let fetch = |n: usize| SyncRequest::Fetch {
        federation: fed,
        ids: ids[..n].to_vec(),
    };
    let fetch_many = |n: usize| {
        SyncRequest::Fetch {
            federation: fed,
            ids: sync_ids(0..n as u32),
        }
        .encode()
    };
    add("fetch of 2 ids", true, fetch(2).encode(), json!({}));
    add(
        "fetch of 256 ids: the most a responder sends",
        true,
        fetch(256).encode(),
        json!({}),
    );
    add(
        "fetch of 257 ids: well-formed, answered with an error of code too_many",
        true,
        fetch(257).encode(),
        json!({"answer": {"type": "error", "code": "too_many"}}),
    );
    add(
        "peers",
        true,
        SyncRequest::Peers { federation: fed }.encode(),
        json!({}),
    );
    let (gov_count, gov_fp) = fingerprint(ids[..2].iter());
    let governance = SyncRequest::Governance {
        federation: fed,
        count: gov_count,
        fingerprint: gov_fp,
    }
    .encode();
    add(
        "governance: the count and fingerprint of the initiator's two governance ids",
        true,
        governance.clone(),
        json!({}),
    );
    // Well-formed answers.
    // The initiator's summaries of an empty set: the responder's 40 ids differ.
    let empty = |prefix: Prefix| Summary {
        prefix,
        count: 0,
        fingerprint: fingerprint([]).1,
    };
    let first = ids[0].to_hex();
    let near = Prefix::ROOT
        .child(u8::from_str_radix(&first[..1], 16).expect("hex"))
        .and_then(|p| p.child(u8::from_str_radix(&first[1..2], 16).expect("hex")))
        .expect("prefix");
    // The whole space as an initiator holding 39 of the 40 ids sees it: more
    // than half, so children; a near-empty two-digit prefix: ids.
    let (count39, fp39) = fingerprint(ids[..39].iter());
    let most = Summary {
        prefix: Prefix::ROOT,
        count: count39,
        fingerprint: fp39,
    };
    let answers = set.respond(&[most, empty(near)]);
    assert!(
        matches!(answers[0], Answer::Children { .. }) && matches!(answers[1], Answer::Ids { .. }),
        "children of the whole space, ids of a small range"
    );
    add(
        "reconcile answer to two ranges: children of the whole space (the initiator holds 39 of the 40 ids; empty sub-ranges without fingerprint), and the ids of a two-digit prefix the initiator holds nothing of",
        false,
        SyncResponse::Reconcile {
            answers: answers.clone(),
        }
        .encode(),
        json!({}),
    );
    let small = vec![Answer::Ids {
        prefix: Prefix::ROOT,
        ids: Vec::new(),
    }];
    add(
        "reconcile answer: no ids in the whole space",
        false,
        SyncResponse::Reconcile { answers: small }.encode(),
        json!({}),
    );
    add(
        "governance answer: three ids",
        false,
        SyncResponse::Governance {
            ids: ids[..3].to_vec(),
        }
        .encode(),
        json!({}),
    );
    add(
        "governance answer: none (the initiator holds the same)",
        false,
        SyncResponse::Governance { ids: Vec::new() }.encode(),
        json!({}),
    );
    let rec = br#"{"a":1}"#.to_vec();
    add(
        "records answer: two records' bytes (the receiver parses each strictly; here the second is not a record)",
        false,
        SyncResponse::Records {
            records: vec![rec.clone(), b"not json".to_vec()],
        }
        .encode(),
        json!({}),
    );
    add(
        "peers answer: a peer id and two addresses (multiaddr text with /p2p/ of the peer)",
        false,
        SyncResponse::Peers {
            peers: vec![PeerAddr {
                peer_id: "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".into(),
                addrs: vec![
                    "/ip4/127.0.0.1/tcp/7300/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".into(),
                    "/ip6/::1/tcp/7300/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".into(),
                ],
            }],
        }
        .encode(),
        json!({}),
    );
    add(
        "error answer",
        false,
        SyncResponse::Error {
            code: SyncCode::WrongFederation,
            message: "another federation".into(),
        }
        .encode(),
        json!({}),
    );
    add(
        "error answer with a code this version does not know: kept as text",
        false,
        SyncResponse::Error {
            code: SyncCode::Other("from_a_newer_peer".into()),
            message: String::new(),
        }
        .encode(),
        json!({}),
    );
    // Malformed: each has one defect.
    let peers = SyncRequest::Peers { federation: fed }.encode();
    let mut bad = |note: &str, request: bool, bytes: Vec<u8>| {
        assert_eq!(
            message_json(request, &bytes),
            json!({"malformed": true}),
            "{note}"
        );
        add(note, request, bytes, json!({}));
    };
    let with = |mut v: Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
        f(&mut v);
        v
    };
    bad(
        "an unknown request type (0x05)",
        true,
        with(peers.clone(), &|v| v[0] = 0x05),
    );
    bad(
        "governance request with a byte after it",
        true,
        with(governance.clone(), &|v| v.push(0)),
    );
    bad(
        "a well-formed peers request read as a response",
        false,
        peers.clone(),
    );
    bad(
        "governance request without its fingerprint's last byte",
        true,
        with(governance.clone(), &|v| {
            v.pop();
        }),
    );
    bad(
        "a well-formed reconcile answer sent as a request",
        true,
        SyncResponse::Reconcile {
            answers: vec![Answer::Ids {
                prefix: Prefix::ROOT,
                ids: Vec::new(),
            }],
        }
        .encode(),
    );
    bad(
        "peers request with a byte after it",
        true,
        with(peers.clone(), &|v| v.push(0)),
    );
    bad(
        "peers request with a federation of 31 bytes",
        true,
        with(peers.clone(), &|v| {
            v.pop();
        }),
    );
    bad("empty message", true, Vec::new());
    let f2 = fetch(2).encode();
    bad(
        "fetch whose count (3) is longer than the message",
        true,
        with(f2.clone(), &|v| v[33] = 3),
    );
    bad(
        "fetch whose count is a non-minimal varint (0x82 0x00 for 2)",
        true,
        with(f2.clone(), &|v| {
            v[33] = 0x82;
            v.insert(34, 0x00);
        }),
    );
    bad(
        "fetch with half an id at the end",
        true,
        with(f2.clone(), &|v| v.truncate(v.len() - 16)),
    );
    let many: Vec<_> = (0..=MAX_RANGES).map(|_| root).collect();
    bad(
        "reconcile of 513 ranges (at most 512)",
        true,
        SyncRequest::Reconcile {
            federation: fed,
            ranges: many,
        }
        .encode(),
    );
    let r1 = SyncRequest::Reconcile {
        federation: fed,
        ranges: vec![set.summary(a3)],
    }
    .encode();
    // Prefix "a3": length byte at 34, digits 0xa3 at 35.
    bad(
        "reconcile with a prefix of 65 digits (33 digit bytes follow)",
        true,
        with(r1.clone(), &|v| {
            v[34] = 65;
            v.splice(36..36, std::iter::repeat_n(0u8, 32));
        }),
    );
    // The range's count: the varint right after the prefix (at 36).
    bad(
        "reconcile whose range count is a varint of 11 bytes",
        true,
        with(r1.clone(), &|v| {
            v.splice(
                36..37,
                [
                    0x81u8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
                ],
            );
        }),
    );
    bad(
        "reconcile whose range count is a 10-byte varint of 2^64",
        true,
        with(r1.clone(), &|v| {
            v.splice(
                36..37,
                [0x80u8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02],
            );
        }),
    );
    bad(
        "fetch of 2,047 ids: 65,539 bytes, over the 64 KiB of a request",
        true,
        fetch_many(2047),
    );
    bad(
        "reconcile with a prefix of 1 digit whose low nibble is not 0 (0xa3)",
        true,
        with(r1.clone(), &|v| v[34] = 1),
    );
    let resp = SyncResponse::Reconcile { answers }.encode();
    bad(
        "reconcile answer with an unknown answer kind (0x03)",
        false,
        with(resp.clone(), &|v| {
            // The first answer: prefix "" (one byte 0x00), then its kind.
            v[3] = 0x03;
        }),
    );
    bad(
        "an unknown answer type (0x86)",
        false,
        with(resp.clone(), &|v| v[0] = 0x86),
    );
    bad(
        "governance answer with a byte after it",
        false,
        with(
            SyncResponse::Governance {
                ids: ids[..1].to_vec(),
            }
            .encode(),
            &|v| v.push(0),
        ),
    );
    bad(
        "governance answer whose count (2) is longer than the message",
        false,
        with(
            SyncResponse::Governance {
                ids: ids[..1].to_vec(),
            }
            .encode(),
            &|v| v[1] = 2,
        ),
    );
    bad(
        "reconcile answer of 513 answers (at most 512)",
        false,
        SyncResponse::Reconcile {
            answers: (0..=MAX_RANGES)
                .map(|_| Answer::Ids {
                    prefix: Prefix::ROOT,
                    ids: Vec::new(),
                })
                .collect(),
        }
        .encode(),
    );
    let records: Vec<Vec<u8>> = (0..257).map(|_| rec.clone()).collect();
    bad(
        "records answer of 257 records (at most 256)",
        false,
        SyncResponse::Records { records }.encode(),
    );
    let peer = |addrs: usize| PeerAddr {
        peer_id: "p".into(),
        addrs: (0..addrs)
            .map(|i| format!("/ip4/127.0.0.1/tcp/{i}"))
            .collect(),
    };
    bad(
        "peers answer of 65 peers (at most 64)",
        false,
        SyncResponse::Peers {
            peers: (0..65).map(|_| peer(1)).collect(),
        }
        .encode(),
    );
    bad(
        "peers answer with a peer of 9 addresses (at most 8)",
        false,
        SyncResponse::Peers {
            peers: vec![peer(9)],
        }
        .encode(),
    );
    let err = SyncResponse::Error {
        code: SyncCode::TooMany,
        message: "x".into(),
    }
    .encode();
    bad(
        "error answer whose message is not UTF-8 (0xff)",
        false,
        with(err.clone(), &|v| {
            let n = v.len();
            v[n - 1] = 0xff;
        }),
    );
    Case {
        name: "sync-messages".into(),
        json: json!({
            "desc": "single /kx/sync/2 messages (sync.md 3.1): each request and answer decoded, and malformed ones (one defect each), which the receiver closes without answering; ids are SHA-256 of \"sync-<n>\"",
            "type": "sync-messages",
            "messages": out,
        }),
    }
}
