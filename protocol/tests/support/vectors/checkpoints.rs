//! Checkpoint vectors (`specs/checkpoints.md`): a frontier, its root and the
//! signed note; notes a reader refuses; pairs of frontiers judged consistent or
//! not by a set.

use super::state::Script;
use super::*;
use kx_protocol::checkpoint::{Checkpoint, Frontier};

/// A small federation: a provider with three offers, an equivocation, a
/// revoked provider whose flood a node removed.
fn federation() -> (Script, Vec<Frontier>) {
    let s1 = key(1);
    let a = key(10);
    let b = key(11);
    let gns = genesis(&[&s1], 1);
    let mut sc = Script::new(&gns);
    sc.pruning = true;
    let adm = |k: &SecretKey, n: &str| json!({"provider": k.did().as_str(), "name": n});
    let mut frontiers = Vec::new();
    sc.act(
        "admit A",
        &s1,
        Kind::MemberAdmit,
        adm(&a, "ITK Rheinland"),
        &[&s1],
        "stored",
    );
    sc.act(
        "admit B",
        &s1,
        Kind::MemberAdmit,
        adm(&b, "KRZN"),
        &[&s1],
        "stored",
    );
    sc.publish("A offer, seq 1", &a, offer("a-1", 1), "stored");
    sc.publish("B offer, seq 1", &b, offer("b-1", 1), "stored");
    frontiers.push(sc.reg.frontier()); // 0
    sc.publish("A offer, seq 2", &a, offer("a-2", 1), "stored");
    let a3 = sc.make(&a, offer("a-3", 1));
    let twin = sc.make(&a, offer("a-3-twin", 1));
    let (low, high) = if a3.id() < twin.id() {
        (a3, twin)
    } else {
        (twin, a3)
    };
    sc.submit("A seq 3, the higher id of two", high, "stored", false);
    sc.publish("B floods, seq 2", &b, offer("b-2", 1), "stored");
    sc.publish("B floods, seq 3", &b, offer("b-3", 1), "stored");
    frontiers.push(sc.reg.frontier()); // 1
    sc.submit(
        "A seq 3, the lower id: replaces the chain from seq 3",
        low,
        "equivocation",
        true,
    );
    sc.act(
        "B revoked from seq 2: seq 2 and 3 are removed",
        &s1,
        Kind::MemberRevoke,
        json!({"provider": b.did().as_str(), "key": b.did().as_str(), "from_seq": 2, "reason": "Schlüssel gestohlen"}),
        &[&s1],
        "stored",
    );
    frontiers.push(sc.reg.frontier()); // 2
    (sc, frontiers)
}

/// The signer of the vectors' checkpoints: seed 0x42 × 32.
fn signer() -> SecretKey {
    key(0x42)
}

pub(super) fn cases() -> Vec<Case> {
    let (sc, frontiers) = federation();
    let k = signer();
    let last = &frontiers[2];
    let cp = Checkpoint::of(last, k.did());
    let note = cp.sign(&k);
    assert_eq!(Checkpoint::read(&note).expect("reads"), cp);
    let mut cases = vec![Case {
        name: "checkpoint".into(),
        json: json!({
            "desc": "the frontier of a set (after a revocation removed a flood), its root and size, the checkpoint text and the note signed by the key of seed 0x42 (specs/checkpoints.md 1-3)",
            "type": "checkpoint",
            "records": sc.reg_records().iter().map(record_value).collect::<Vec<_>>(),
            "signer_seed": hex(&k.seed()),
            "expected": {
                "frontier": last.to_json(),
                "frontier_jcs": String::from_utf8(kx_protocol::json::canonical(&last.to_json()).expect("jcs")).expect("ascii"),
                "size": last.size(),
                "root": last.root().to_hex(),
                "key_id": hex(&kx_protocol::checkpoint::key_id(&cp.origin(), 1, k.did())),
                "checkpoint": cp.text(),
                "note": note,
            },
        }),
    }];
    // Notes a reader refuses, one defect each (3, steps 1-4), and one it reads.
    let text = cp.text();
    let sig_line = &note[text.len() + 1..];
    let other = key(0x43);
    let by_other = Checkpoint::of(last, other.did()).sign(&other);
    let other_line = &by_other[by_other.rfind("\n\n").expect("split") + 2..];
    let resign = |text: &str| {
        let origin = text.split('\n').next().expect("origin");
        let mut sig = kx_protocol::checkpoint::key_id(origin, 1, k.did()).to_vec();
        sig.extend_from_slice(&k.sign(text.as_bytes()).0);
        use base64::Engine as _;
        format!(
            "{text}\n\u{2014} {origin} {}\n",
            base64::engine::general_purpose::STANDARD.encode(sig)
        )
    };
    let root_b64 = text.split('\n').nth(2).expect("root").to_owned();
    let reads: Vec<(&str, String, Value)> = vec![
        (
            "ok",
            note.clone(),
            json!({"federation": cp.federation.to_hex(), "signer": k.did().as_str(), "size": cp.size, "root": cp.root.to_hex()}),
        ),
        (
            "ok-more-signatures",
            format!("{text}\n{other_line}{sig_line}"),
            json!({"federation": cp.federation.to_hex(), "signer": k.did().as_str(), "size": cp.size, "root": cp.root.to_hex()}),
        ),
        (
            "no-empty-line",
            note.replacen("\n\n", "\n", 1),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "extension-line",
            resign(&format!("{text}time 1700000000\n")),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "origin-not-kx",
            resign(&text.replacen("kx/", "kz/", 1)),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "federation-uppercase",
            resign(&text.replacen(
                &cp.federation.to_hex(),
                &cp.federation.to_hex().to_uppercase(),
                1,
            )),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "size-leading-zero",
            resign(&text.replacen(&format!("\n{}\n", cp.size), &format!("\n0{}\n", cp.size), 1)),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "root-31-bytes",
            resign(&text.replacen(
                &root_b64,
                &{
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.encode(&cp.root.0[..31])
                },
                1,
            )),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "root-unpadded",
            resign(&text.replacen(&root_b64, root_b64.trim_end_matches('='), 1)),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "signed-by-another-key",
            format!("{text}\n{other_line}"),
            json!({"error": "unsigned_checkpoint"}),
        ),
        (
            "size-changed",
            note.replacen(
                &format!("\n{}\n", cp.size),
                &format!("\n{}\n", cp.size + 1),
                1,
            ),
            json!({"error": "bad_checkpoint_signature"}),
        ),
    ];
    for (name, note, expected) in reads {
        let got = match Checkpoint::read(&note) {
            Ok(c) => {
                json!({"federation": c.federation.to_hex(), "signer": c.signer.as_str(), "size": c.size, "root": c.root.to_hex()})
            }
            Err(e) => json!({"error": e.code.as_str()}),
        };
        assert_eq!(got, expected, "checkpoint-read {name}");
        cases.push(Case {
            name: format!("checkpoint-read-{name}"),
            json: json!({"type": "checkpoint-read", "note": note, "expected": expected}),
        });
    }
    // Consistency (4), judged by the set at the end.
    let forged = {
        let mut f = frontiers[1].clone();
        f.logs.retain(|l| l.author != *key(10).did());
        f
    };
    let dropped = key(10).did().as_str().to_owned();
    let pairs = [
        ("extends", &frontiers[0], &frontiers[1], None),
        ("equivocation-and-cut", &frontiers[1], &frontiers[2], None),
        ("extends-over-both", &frontiers[0], &frontiers[2], None),
        (
            "went-back",
            &frontiers[2],
            &frontiers[0],
            Some("governance"),
        ),
        (
            "dropped-a-log",
            &frontiers[0],
            &forged,
            Some(dropped.as_str()),
        ),
    ];
    let judged: Vec<Value> = pairs
        .iter()
        .map(|(name, a, b, want)| {
            let got = match sc.reg.consistent(a, b) {
                Ok(()) => Value::Null,
                Err(kx_protocol::registry::Inconsistency::Governance { .. }) => json!("governance"),
                Err(kx_protocol::registry::Inconsistency::Log { author, .. }) => json!(author.as_str()),
            };
            assert_eq!(got, want.map_or(Value::Null, |w| json!(w)), "consistency {name}");
            json!({"name": name, "earlier": a.to_json(), "later": b.to_json(), "inconsistent_at": got})
        })
        .collect();
    cases.push(Case {
        name: "checkpoint-consistency".into(),
        json: json!({
            "desc": "pairs of frontiers judged by the set of `records` (specs/checkpoints.md 4): inconsistent_at is null (consistent), \"governance\", or the did of the first log that does not follow",
            "type": "checkpoint-consistency",
            "genesis": record_value(&sc.accepted[0]),
            "records": sc.reg_records().iter().map(record_value).collect::<Vec<_>>(),
            "pairs": judged,
        }),
    });
    cases
}

/// Cosignature lines of two witnesses on the checkpoint of the `checkpoint`
/// vector (`specs/checkpoints.md` 5), and what a verifier finds for each
/// (name, did) it is given.
pub(super) fn cosigned() -> Case {
    let (_, frontiers) = federation();
    let k = signer();
    let cp = Checkpoint::of(&frontiers[2], k.did());
    let w1 = key(0x51);
    let w2 = key(0x52);
    let n1 = "witness.kdn.example/w1";
    let n2 = "pruefstelle.example/kx";
    let mut note = cp.sign(&k);
    note.push_str(&cp.cosign(n1, &w1, 1_767_225_600));
    // A line of w2 whose time was changed afterwards: it does not verify; the
    // next line of w2 does.
    let line = cp.cosign(n2, &w2, 1_767_229_200);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64
        .decode(line.trim_end().rsplit(' ').next().expect("sig"))
        .expect("base64");
    let mut moved = raw.clone();
    moved[11] ^= 1;
    note.push_str(&format!("\u{2014} {n2} {}\n", b64.encode(&moved)));
    note.push_str(&line);
    let ask = [
        (n1, w1.did().clone(), Some(1_767_225_600u64)),
        (n2, w2.did().clone(), Some(1_767_229_200)),
        ("witness.kdn.example/w2", w1.did().clone(), None),
        (n1, w2.did().clone(), None),
        (n1, k.did().clone(), None),
    ];
    let asked: Vec<Value> = ask
        .iter()
        .map(|(name, did, want)| {
            let got = cp.cosigned_by(&note, name, did);
            assert_eq!(got, *want, "cosignature of {name}");
            json!({"name": name, "did": did.as_str(), "time": got})
        })
        .collect();
    assert_eq!(Checkpoint::read(&note).expect("still reads"), cp);
    Case {
        name: "checkpoint-cosigned".into(),
        json: json!({
            "desc": "a signed checkpoint with cosignature lines (C2SP tlog-cosignature v1): witness seeds 0x51 (name witness.kdn.example/w1) and 0x52 (pruefstelle.example/kx, one line with its time changed after signing, then a good one); for each (name, did) asked, the time of the cosignature that verifies, or null",
            "type": "checkpoint-cosigned",
            "note": note,
            "witness_seeds": {n1: hex(&w1.seed()), n2: hex(&w2.seed())},
            "expected": asked,
        }),
    }
}
