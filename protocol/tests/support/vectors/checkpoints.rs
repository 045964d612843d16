//! Checkpoint vectors (`specs/checkpoints.md`): a frontier, its root and the
//! signed note; notes a reader refuses; pairs of frontiers judged consistent or
//! not by a set.

use super::state::Script;
use super::*;
use kx_protocol::checkpoint::{Checkpoint, Frontier};

/// A small federation: a provider with three offers, an equivocation, a
/// revoked provider whose flood a node removed, a key with only a waiting
/// record (no counted chain), a suspended provider (its record on the chain
/// counts for the frontier all the same), a key the stewards replaced.
/// Returns the frontiers after each stage, and the high and low records of
/// the equivocation.
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
    let (c, d, e) = (key(12), key(13), key(14));
    for (k, n) in [(&c, "citeq"), (&d, "regio iT"), (&e, "OWL-IT")] {
        sc.act(
            &format!("admit {n}"),
            &s1,
            Kind::MemberAdmit,
            adm(k, n),
            &[&s1],
            "stored",
        );
    }
    let waiting = sign(&c, sc.fed, 2, Some(Hash32([2; 32])), offer("c-2", 1));
    sc.submit(
        "C seq 2 waits for a seq 1 that never came: C has no counted chain",
        waiting,
        "held",
        false,
    );
    sc.publish("D offer, seq 1", &d, offer("d-1", 1), "stored");
    sc.act(
        "D suspended from seq 1: its record stays on its chain",
        &s1,
        Kind::MemberSuspend,
        json!({"provider": d.did().as_str(), "key": d.did().as_str(), "from_seq": 1, "reason": "Prüfung"}),
        &[&s1],
        "stored",
    );
    sc.publish("E offer, seq 1", &e, offer("e-1", 1), "stored");
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
    sc.publish("E offer, seq 2", &e, offer("e-2", 1), "stored");
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
    sc.act(
        "the stewards replace E's key from seq 2: E's seq 2 is removed",
        &s1,
        Kind::MemberRekey,
        json!({"provider": e.did().as_str(), "key": e.did().as_str(), "from_seq": 2, "new_key": key(15).did().as_str(), "reason": "Schlüssel verloren"}),
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
            "root-trailing-bits",
            resign(&text.replacen(
                &root_b64,
                &{
                    // The last character carries 2 unused bits: set one.
                    let mut r = root_b64.clone().into_bytes();
                    let i = r.len() - 2;
                    let alphabet =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                    let pos = alphabet.iter().position(|c| *c == r[i]).expect("b64");
                    r[i] = alphabet[pos ^ 1];
                    String::from_utf8(r).expect("ascii")
                },
                1,
            )),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "size-over-2-53",
            resign(&text.replacen(&format!("\n{}\n", cp.size), "\n9007199254740992\n", 1)),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "split-at-the-last-empty-line",
            format!("{text}\n{sig_line}\n{other_line}"),
            json!({"error": "malformed_checkpoint"}),
        ),
        (
            "another-key-id-under-the-origin",
            format!(
                "{text}\n\u{2014} {} {}\n",
                cp.origin(),
                other_line.trim_end().rsplit(' ').next().expect("sig")
            ),
            json!({"error": "unsigned_checkpoint"}),
        ),
        (
            "the-key-id-under-another-name",
            format!(
                "{text}\n\u{2014} kx/elsewhere {}\n",
                sig_line.trim_end().rsplit(' ').next().expect("sig")
            ),
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
    let last = &frontiers[2];
    let changed = |f: &dyn Fn(&mut Vec<kx_protocol::checkpoint::LogEnd>)| {
        let mut fr = last.clone();
        f(&mut fr.logs);
        fr.logs.sort_by(|x, y| {
            x.author
                .as_str()
                .as_bytes()
                .cmp(y.author.as_str().as_bytes())
        });
        fr
    };
    let end_of = |fr: &Frontier, k: u8| {
        fr.logs
            .iter()
            .find(|l| l.author == *key(k).did())
            .cloned()
            .expect("log")
    };
    // A's seq 3 taken back by the higher id of the two.
    let a_high = end_of(&frontiers[1], 10);
    let higher = changed(&|logs| {
        logs.retain(|l| l.author != a_high.author);
        logs.push(a_high.clone());
    });
    // B's seq 1 named with a head this set does not have, then B at seq 3 (cut off).
    let fake_b = changed(&|logs| {
        for l in logs.iter_mut().filter(|l| l.author == *key(11).did()) {
            l.head = Hash32([0xbb; 32]);
        }
    });
    let b_at_3 = end_of(&frontiers[1], 11);
    let b_later = changed(&|logs| {
        logs.retain(|l| l.author != b_at_3.author);
        logs.push(b_at_3.clone());
    });
    // A key of no identity, and the steward, and the suspended D.
    let stranger = changed(&|logs| {
        logs.push(kx_protocol::checkpoint::LogEnd {
            author: key(99).did().clone(),
            seq: 2,
            head: Hash32([0x99; 32]),
        })
    });
    let no_steward = changed(&|logs| logs.retain(|l| l.author != *key(1).did()));
    let no_d = changed(&|logs| logs.retain(|l| l.author != *key(13).did()));
    let (sa, sb) = (
        key(10).did().as_str().to_owned(),
        key(11).did().as_str().to_owned(),
    );
    let (s1d, dd) = (
        key(1).did().as_str().to_owned(),
        key(13).did().as_str().to_owned(),
    );
    let pairs = [
        ("same", last, last, None),
        (
            "replaced-by-the-higher-id",
            last,
            &higher,
            Some(sa.as_str()),
        ),
        (
            "unknown-head-then-cut-off-seqs",
            &fake_b,
            &b_later,
            Some(sb.as_str()),
        ),
        ("a-key-of-no-identity-dropped", &stranger, last, None),
        (
            "the-steward-s-log-dropped",
            last,
            &no_steward,
            Some(s1d.as_str()),
        ),
        (
            "a-suspended-provider-s-log-dropped",
            last,
            &no_d,
            Some(dd.as_str()),
        ),
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
    // Witness 3 has only lines a verifier skips: one cut to 75 bytes, one
    // with a time of 2^63 (signed over that time).
    let w3 = key(0x53);
    let n3 = "dritte.example/w3";
    let good3 = cp.cosign(n3, &w3, 1_767_232_800);
    let raw3 = b64
        .decode(good3.trim_end().rsplit(' ').next().expect("sig"))
        .expect("base64");
    note.push_str(&format!("\u{2014} {n3} {}\n", b64.encode(&raw3[..75])));
    let big = 1u64 << 63;
    let mut over = raw3[..4].to_vec();
    over.extend_from_slice(&big.to_be_bytes());
    over.extend_from_slice(
        &w3.sign(format!("cosignature/v1\ntime {big}\n{}", cp.text()).as_bytes())
            .0,
    );
    note.push_str(&format!("\u{2014} {n3} {}\n", b64.encode(&over)));
    let ask = [
        (n3, w3.did().clone(), None),
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
            "desc": "a signed checkpoint with cosignature lines (C2SP tlog-cosignature v1): witness seeds 0x51 (name witness.kdn.example/w1), 0x52 (pruefstelle.example/kx, one line with its time changed after signing, then a good one) and 0x53 (dritte.example/w3: a line cut to 75 bytes and one with a time of 2^63, both skipped); for each (name, did) asked, the time of the cosignature that verifies, or null",
            "type": "checkpoint-cosigned",
            "note": note,
            "witness_seeds": {n1: hex(&w1.seed()), n2: hex(&w2.seed()), n3: hex(&w3.seed())},
            "expected": asked,
        }),
    }
}
