//! State vectors: scripted federations whose records go through the gate one
//! by one, each with its expected outcome, and the summary and digest they end
//! with; the same set in another order; governance edge cases.

use super::*;

/// Governance edge cases: held actions, equal-length forks, actions on revoked or
/// unknown providers, void rotations, a succession to a non-member.
pub(super) fn edges() -> Case {
    let s1 = key(1);
    let s2 = key(2);
    let p: Vec<SecretKey> = (60..68).map(key).collect();
    let gns = genesis(&[&s1, &s2], 1);
    let fed = gns.record().federation;
    let mut sc = Script::new(&gns);
    let adm = |k: &SecretKey, n: &str| json!({"provider": k.did().as_str(), "name": n});
    let cut = |k: &SecretKey, from: u64| json!({"provider": k.did().as_str(), "key": k.did().as_str(), "from_seq": from, "reason": ""});
    sc.act(
        "admit P0",
        &s1,
        Kind::MemberAdmit,
        adm(&p[0], "P0"),
        &[&s1],
        "stored",
    );
    sc.act(
        "suspend a provider never admitted",
        &s1,
        Kind::MemberSuspend,
        cut(&p[7], 1),
        &[&s1],
        "not_member",
    );
    // An action whose predecessor has not arrived is held, and counts once it has.
    let head = sc.reg.governance_head();
    let first = action(
        Kind::MemberAdmit,
        json!({"prev_action": head.to_hex(), "provider": p[1].did().as_str(), "name": "P1"}),
        &[&s2],
    );
    let first_digest = sha256(&action_bytes(Kind::MemberAdmit, &first));
    let second = action(
        Kind::MemberAdmit,
        json!({"prev_action": first_digest.to_hex(), "provider": p[2].did().as_str(), "name": "P2"}),
        &[&s2],
    );
    let first_rec = sign(&s2, fed, 1, None, first);
    let second_rec = sign(&s2, fed, 2, Some(first_rec.id()), second);
    sc.submit(
        "an action after one that has not arrived: held",
        second_rec.clone(),
        "held",
        false,
    );
    sc.submit("the missing action arrives", first_rec, "stored", false);
    sc.heads.insert(s2.did().clone(), (2, second_rec.id()));
    // Two actions on the same head, equally long: the lower digest counts.
    let head = sc.reg.governance_head().to_hex();
    let a3 = action(
        Kind::MemberAdmit,
        json!({"prev_action": head, "provider": p[3].did().as_str(), "name": "P3"}),
        &[&s1],
    );
    let a4 = action(
        Kind::MemberAdmit,
        json!({"prev_action": head, "provider": p[4].did().as_str(), "name": "P4"}),
        &[&s1],
    );
    let d3 = sha256(&action_bytes(Kind::MemberAdmit, &a3));
    let d4 = sha256(&action_bytes(Kind::MemberAdmit, &a4));
    let r3 = sc.make(&s1, a3);
    sc.submit("admit P3", r3, "stored", true);
    let r4 = sc.make(&s1, a4);
    let expect = if d4 < d3 { "stored" } else { "equivocation" };
    sc.submit(
        "admit P4 on the same head: a fork of equal length",
        r4,
        expect,
        true,
    );
    let winner = if d4 < d3 { &p[4] } else { &p[3] };
    sc.act(
        "revoke the fork's winner",
        &s1,
        Kind::MemberRevoke,
        cut(winner, 1),
        &[&s1],
        "stored",
    );
    sc.act(
        "admit a revoked provider again",
        &s1,
        Kind::MemberAdmit,
        adm(winner, "again"),
        &[&s1],
        "member_revoked",
    );
    sc.act(
        "suspend a revoked provider",
        &s1,
        Kind::MemberSuspend,
        cut(winner, 1),
        &[&s1],
        "member_revoked",
    );
    sc.act(
        "admit P5",
        &s1,
        Kind::MemberAdmit,
        adm(&p[5], "P5"),
        &[&s1],
        "stored",
    );
    sc.act(
        "admit P6",
        &s1,
        Kind::MemberAdmit,
        adm(&p[6], "P6"),
        &[&s1],
        "stored",
    );
    // Two providers rotate to one key: it goes to nobody; both old keys stay cut.
    let shared = key(70);
    let rotate_to = |k: &SecretKey| body(Kind::KeyRotate, json!({"new_key": k.did().as_str()}));
    sc.publish("P0 rotates to a key", &p[0], rotate_to(&shared), "stored");
    sc.publish(
        "P1 rotates to the same key",
        &p[1],
        rotate_to(&shared),
        "stored",
    );
    sc.publish(
        "the contested key publishes",
        &shared,
        offer("x", 1),
        "not_member",
    );
    sc.publish(
        "P2 rotates to a steward's key: void",
        &p[2],
        rotate_to(&s1),
        "stored",
    );
    sc.publish(
        "P5 hands its portfolio to a non-member: no effect",
        &p[5],
        body(
            Kind::Succession,
            json!({"successor": p[7].did().as_str(), "effective_at": "2025-01-01T00:00:00Z", "offer_ids": []}),
        ),
        "stored",
    );
    // A key contested in one round goes to the one claim of a later round.
    let p5_next = key(72);
    sc.publish(
        "P5 rotates to another key",
        &p[5],
        rotate_to(&p5_next),
        "stored",
    );
    sc.publish(
        "which rotates to the contested key (a claim of the second round)",
        &p5_next,
        rotate_to(&shared),
        "stored",
    );
    sc.publish(
        "the contested key publishes for P5",
        &shared,
        offer("y", 1),
        "stored",
    );
    // A key.rotate and a steward rekey with the same cut: the stewards' wins.
    let p9 = key(69);
    sc.act(
        "admit P9",
        &s1,
        Kind::MemberAdmit,
        adm(&p9, "P9"),
        &[&s1],
        "stored",
    );
    sc.publish("P9 rotates at seq 1", &p9, rotate_to(&key(74)), "stored");
    sc.act(
        "the stewards replace P9's key from seq 2 (the same cut)",
        &s1,
        Kind::MemberRekey,
        json!({"provider": p9.did().as_str(), "key": p9.did().as_str(), "from_seq": 2, "new_key": key(75).did().as_str(), "reason": "Schlüssel verloren"}),
        &[&s1],
        "stored",
    );
    sc.publish(
        "the key P9 rotated to publishes",
        &key(74),
        offer("z", 1),
        "not_member",
    );
    sc.publish(
        "the stewards' key publishes",
        &key(75),
        offer("z", 1),
        "stored",
    );
    sc.publish("P6 publishes an offer", &p[6], offer("gis", 1), "stored");
    // The stewards replace P6's lost key and hand P5's portfolio to P6.
    let p6_new = key(71);
    let (p6_next, _) = sc.next(&p[6]);
    // Two replacements of the same key at the same seq: the first on the
    // chain counts. The first is given the higher record id (by its reason's
    // number), so that "lowest record id" would pick the other one.
    let rekey = |new_key: &SecretKey, reason: &str, prev_action: Hash32| {
        action(
            Kind::MemberRekey,
            json!({"prev_action": prev_action.to_hex(), "provider": p[6].did().as_str(), "key": p[6].did().as_str(), "from_seq": p6_next, "new_key": new_key.did().as_str(), "reason": reason}),
            &[&s1],
        )
    };
    let head = sc.reg.governance_head();
    let (first, second) = (0..)
        .map(|n| {
            let b1 = rekey(&p6_new, &format!("Schlüssel verloren ({n})"), head);
            let d1 = sha256(&action_bytes(Kind::MemberRekey, &b1));
            let first = sc.make(&s1, b1);
            let b2 = rekey(&key(73), "Doppelt", d1);
            let second = sign(&s1, fed, first.record().seq + 1, Some(first.id()), b2);
            (first, second)
        })
        .find(|(first, second)| first.id() > second.id())
        .expect("a reason that orders the ids");
    sc.submit("the stewards replace P6's lost key", first, "stored", true);
    sc.submit(
        "a second replacement of the same key at the same seq, with the lower record id: the first on the chain counts",
        second,
        "stored",
        true,
    );
    sc.publish(
        "the second replacement key signs",
        &key(73),
        offer("gis", 2),
        "not_member",
    );
    sc.publish(
        "the lost key signs again",
        &p[6],
        offer("gis", 2),
        "key_rotated",
    );
    sc.publish(
        "the new key publishes version 2",
        &p6_new,
        offer("gis", 2),
        "stored",
    );
    let handover = sc.act(
        "the stewards hand P5's portfolio to P6",
        &s1,
        Kind::MemberSuccession,
        json!({"provider": p[5].did().as_str(), "successor": p[6].did().as_str(), "effective_at": "2025-01-01T00:00:00Z", "offer_ids": [], "reason": "Fusion"}),
        &[&s1],
        "stored",
    );
    sc.publish(
        "P6 accepts with its new key",
        &p6_new,
        body(
            Kind::SuccessionAccept,
            json!({"succession": handover.id().to_hex()}),
        ),
        "stored",
    );
    // A steward that is also a provider continues one log (6.2): its
    // governance records are links of its counted chain.
    sc.act(
        "admit steward S2 as a provider too",
        &s1,
        Kind::MemberAdmit,
        adm(&s2, "S2 als Anbieter"),
        &[&s1],
        "stored",
    );
    sc.publish(
        "S2 publishes an offer after its governance records, continuing its log",
        &s2,
        offer("s2-dienst", 1),
        "stored",
    );
    let at_one = sign(&s2, fed, 1, None, offer("s2-dienst-zwei", 1));
    sc.submit(
        "S2 publishes an offer at seq 1, the position of its first action",
        at_one,
        "equivocation",
        false,
    );
    // A successor revoked after it accepted stays the successor; an
    // acceptance after its cut is refused (6.6.1).
    let (after_accept, _) = sc.next(&p6_new);
    sc.act(
        "revoke P6 after it accepted P5's portfolio",
        &s1,
        Kind::MemberRevoke,
        json!({"provider": p[6].did().as_str(), "key": p6_new.did().as_str(), "from_seq": after_accept, "reason": "Aufgelöst"}),
        &[&s1],
        "stored",
    );
    let late = sc.act(
        "the stewards hand P0's portfolio to the revoked P6",
        &s1,
        Kind::MemberSuccession,
        json!({"provider": p[0].did().as_str(), "successor": p[6].did().as_str(), "effective_at": "2025-06-01T00:00:00Z", "offer_ids": [], "reason": "Spät"}),
        &[&s1],
        "stored",
    );
    sc.publish(
        "P6 accepts after its revocation cut",
        &p6_new,
        body(
            Kind::SuccessionAccept,
            json!({"succession": late.id().to_hex()}),
        ),
        "member_revoked",
    );
    // Observer nodes: each federation.observers replaces the list (6.3).
    sc.act(
        "the stewards admit two observer nodes",
        &s1,
        Kind::FederationObservers,
        json!({"observers": [
            {"peer_id": "12D3KooWLRPJAA5o6Z6ZEqGyHkfiN1mzV9uQ76Sc5GBdD52Q9rfB", "name": "Stadt Paderborn"},
            {"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "KDN Prüfstelle"}
        ]}),
        &[&s1],
        "stored",
    );
    // The final list, given out of order: the summary sorts it by the bytes of
    // peer_id (D < L < a, and U+FF5E before U+1F600, which UTF-16 orders the
    // other way), neither the order of the names nor a case-insensitive one.
    sc.act(
        "the stewards replace the list: three observers, the KDN's renamed",
        &s1,
        Kind::FederationObservers,
        json!({"observers": [
            {"peer_id": "12D3KooWaxQ8w5i7ZTkdDhRrxvg1jjM8VheS7xDyBW7oA6PcR4Fz", "name": "Archiv NRW"},
            {"peer_id": "12D3KooWLRPJAA5o6Z6ZEqGyHkfiN1mzV9uQ76Sc5GBdD52Q9rfB", "name": "Stadt Paderborn"},
            {"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "KDN Prüfstelle Köln"},
            {"peer_id": "\u{1F600} test", "name": "Testknoten 2"},
            {"peer_id": "\u{FF5E} test", "name": "Testknoten 1"}
        ]}),
        &[&s1],
        "stored",
    );
    // Witnesses: each federation.witnesses replaces the list and the quorum.
    sc.act(
        "name two witnesses, quorum 1",
        &s1,
        Kind::FederationWitnesses,
        json!({"witnesses": [
            {"name": "witness.kdn.example/w1", "key": key(0x51).did().as_str()},
            {"name": "pruefstelle.example/kx", "key": key(0x52).did().as_str()},
        ], "quorum": 1}),
        &[&s1],
        "stored",
    );
    // Sorted by name in the summary, whatever the order of their keys.
    let (ka, kb) = (key(0x53).did().clone(), key(0x54).did().clone());
    let (first_key, second_key) = if ka.as_str() < kb.as_str() {
        (kb, ka)
    } else {
        (ka, kb)
    };
    sc.act(
        "replace them by two others, quorum 2",
        &s1,
        Kind::FederationWitnesses,
        json!({"witnesses": [
            {"name": "zeuge.example/b", "key": second_key.as_str()},
            {"name": "zeuge.example/a", "key": first_key.as_str()},
        ], "quorum": 2}),
        &[&s1],
        "stored",
    );
    let state = sc.reg.state();
    Case {
        name: "state-governance-edges".into(),
        json: json!({
            "desc": "held and forked governance actions, actions on revoked or unknown providers, void rotations, a succession to a non-member, a steward that is also a provider, a successor revoked after it accepted, the observer list and the witnesses replaced",
            "type": "state",
            "genesis": record_value(&gns),
            "steps": sc.steps,
            "expected": {"summary": state.summary(), "digest": state.digest().to_hex()},
        }),
    }
}

/// A scripted federation: each step is a record given to the ingest gate
/// (`Registry::admit`, as from a peer) or, while `submitting`, to the
/// submission gate (`Registry::submit`, as from its author), and its expected
/// outcome.
pub(super) struct Script {
    pub(super) reg: Registry,
    pub(super) fed: Hash32,
    pub(super) steps: Vec<Value>,
    pub(super) accepted: Vec<VerifiedRecord>,
    pub(super) heads: std::collections::BTreeMap<Did, (u64, Hash32)>,
    pub(super) submitting: bool,
    /// After each step, remove the cut-off records (7.2) and note them.
    pub(super) pruning: bool,
}

impl Script {
    pub(super) fn new(gns: &VerifiedRecord) -> Script {
        let first = gns.record();
        Script {
            reg: Registry::new(gns.clone()).expect("registry"),
            fed: first.federation,
            steps: Vec::new(),
            accepted: vec![gns.clone()],
            heads: [(first.author.clone(), (1, gns.id()))]
                .into_iter()
                .collect(),
            submitting: false,
            pruning: false,
        }
    }

    /// The accepted records still in the registry's set (cut-off ones left out).
    pub(super) fn reg_records(&self) -> Vec<VerifiedRecord> {
        let ids: std::collections::BTreeSet<Hash32> = self.reg.held_ids().copied().collect();
        let mut seen = std::collections::BTreeSet::new();
        self.accepted
            .iter()
            .filter(|r| ids.contains(&r.id()) && seen.insert(r.id()))
            .cloned()
            .collect()
    }

    pub(super) fn next(&self, k: &SecretKey) -> (u64, Option<Hash32>) {
        match self.heads.get(k.did()) {
            None => (1, None),
            Some((s, id)) => (s + 1, Some(*id)),
        }
    }

    pub(super) fn make(&self, k: &SecretKey, b: Body) -> VerifiedRecord {
        let (seq, prev) = self.next(k);
        sign(k, self.fed, seq, prev, b)
    }

    /// The author's next record, issued at `issued_at`.
    pub(super) fn make_at(&self, k: &SecretKey, b: Body, issued_at: &str) -> VerifiedRecord {
        let (seq, prev) = self.next(k);
        kx_protocol::record::sign(
            k,
            kx_protocol::record::Draft {
                federation: self.fed,
                seq,
                prev,
                issued_at: ts(issued_at),
                body: b,
            },
        )
        .expect("sign")
    }

    /// Submits; `advance` moves the author's head past the record.
    pub(super) fn submit(
        &mut self,
        note: &str,
        rec: VerifiedRecord,
        expect: &str,
        advance: bool,
    ) -> VerifiedRecord {
        let out = if self.submitting {
            self.reg.submit(rec.clone())
        } else {
            self.reg.admit(rec.clone())
        };
        let got = match out {
            Ok(Admitted::Stored) => "stored".to_owned(),
            Ok(Admitted::Known) => "known".to_owned(),
            Ok(Admitted::Held) => "held".to_owned(),
            Ok(Admitted::Equivocation) => "equivocation".to_owned(),
            Err(e) => e.code().as_str().to_owned(),
        };
        assert_eq!(got, expect, "state step {:?}", note);
        if advance {
            self.heads
                .insert(rec.record().author.clone(), (rec.record().seq, rec.id()));
        }
        if matches!(expect, "stored" | "held" | "equivocation") {
            self.accepted.push(rec.clone());
        }
        let outcome = match expect {
            "stored" | "known" | "held" | "equivocation" => json!({"result": expect}),
            code => json!({"result": "reject", "error": code}),
        };
        let mut step = json!({"note": note, "record": record_value(&rec), "expected": outcome});
        if self.submitting {
            step["via"] = json!("submit");
        }
        if self.pruning {
            let mut gone = self.reg.prune();
            gone.sort();
            step["removed"] = json!(gone.iter().map(|id| id.to_hex()).collect::<Vec<_>>());
        }
        self.steps.push(step);
        rec
    }

    pub(super) fn act(
        &mut self,
        note: &str,
        by: &SecretKey,
        kind: Kind,
        v: Value,
        approvers: &[&SecretKey],
        expect: &str,
    ) -> VerifiedRecord {
        let mut v = v;
        v["prev_action"] = json!(self.reg.governance_head().to_hex());
        let b = action(kind, v, approvers);
        let rec = self.make(by, b);
        let ok = expect == "stored";
        self.submit(note, rec, expect, ok)
    }

    pub(super) fn publish(
        &mut self,
        note: &str,
        by: &SecretKey,
        b: Body,
        expect: &str,
    ) -> VerifiedRecord {
        let rec = self.make(by, b);
        let ok = expect == "stored";
        self.submit(note, rec, expect, ok)
    }
}

pub(super) fn cases() -> Vec<Case> {
    let s1 = key(1);
    let s2 = key(2);
    let a = key(10); // ITK Rheinland
    let b = key(11); // KRZN
    let c = key(12); // GKD Paderborn
    let d = key(13); // OWL-IT
    let a2 = key(20);
    let x = key(30); // outsider
    let gns = genesis(&[&s1, &s2], 2);
    let fed = gns.record().federation;
    let mut sc = Script::new(&gns);
    let adm = |did: &Did, name: &str| json!({"provider": did.as_str(), "name": name});
    sc.act(
        "admit ITK Rheinland",
        &s1,
        Kind::MemberAdmit,
        adm(a.did(), "ITK Rheinland"),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "admission with one of two approvals",
        &s1,
        Kind::MemberAdmit,
        adm(b.did(), "KRZN"),
        &[&s1],
        "below_threshold",
    );
    sc.act(
        "admission wrapped by an outsider",
        &x,
        Kind::MemberAdmit,
        adm(b.did(), "KRZN"),
        &[&s1, &s2],
        "not_steward",
    );
    sc.act(
        "admit KRZN, wrapped by the second steward",
        &s2,
        Kind::MemberAdmit,
        adm(b.did(), "KRZN"),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "admit GKD Paderborn",
        &s1,
        Kind::MemberAdmit,
        adm(c.did(), "GKD Paderborn"),
        &[&s2, &s1],
        "stored",
    );
    sc.act(
        "admit Ostwestfalen-Lippe-IT",
        &s1,
        Kind::MemberAdmit,
        adm(d.did(), "Ostwestfalen-Lippe-IT"),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "admit ITK Rheinland a second time",
        &s1,
        Kind::MemberAdmit,
        adm(a.did(), "ITK Rheinland"),
        &[&s1, &s2],
        "already_member",
    );
    // An action on a superseded head.
    let stale = action(
        Kind::MemberAdmit,
        json!({"prev_action": fed.to_hex(), "provider": x.did().as_str(), "name": "Outsider"}),
        &[&s1, &s2],
    );
    let rec = sc.make(&s1, stale);
    sc.submit(
        "action signed on an old governance head: kept, but the longer chain wins",
        rec,
        "equivocation",
        false,
    );
    sc.publish(
        "profile of ITK Rheinland",
        &a,
        profile("Zweckverband IT-Kooperation Rheinland", "ITK Rheinland"),
        "stored",
    );
    let o1 = sc.publish(
        "offer version 1",
        &a,
        offer("meldewesen-hosting", 1),
        "stored",
    );
    sc.publish(
        "offer version 2",
        &a,
        offer("meldewesen-hosting", 2),
        "stored",
    );
    sc.publish("record of a non-member", &x, offer("x", 1), "not_member");
    // KRZN's seq 2 arrives before its seq 1.
    let b1 = sc.make(&b, offer("e-akte", 1));
    let b2 = sign(&b, fed, 2, Some(b1.id()), offer("scan", 1));
    sc.submit("seq 2 before seq 1: held", b2.clone(), "held", false);
    sc.submit("seq 1 arrives: both count", b1, "stored", true);
    sc.heads.insert(b.did().clone(), (2, b2.id()));
    sc.publish(
        "offer to be withdrawn",
        &a,
        offer("wahlen-2026", 1),
        "stored",
    );
    sc.publish(
        "withdraw it",
        &a,
        body(
            Kind::OfferWithdraw,
            json!({"offer_id": "wahlen-2026", "version": 1, "reason": "Eingestellt"}),
        ),
        "stored",
    );
    let (bseq, _) = sc.next(&b);
    let mem = |did: &Did, key: &Did, from: u64| json!({"provider": did.as_str(), "key": key.as_str(), "from_seq": from, "reason": "Prüfung"});
    sc.act(
        "suspend KRZN from its next seq",
        &s1,
        Kind::MemberSuspend,
        mem(b.did(), b.did(), bseq),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "suspend KRZN again",
        &s2,
        Kind::MemberSuspend,
        mem(b.did(), b.did(), bseq),
        &[&s1, &s2],
        "already_suspended",
    );
    let held_back = sc.make(&b, offer("e-akte", 2));
    sc.submit(
        "KRZN publishes while suspended",
        held_back,
        "member_suspended",
        false,
    );
    let rein = |did: &Did| json!({"provider": did.as_str(), "reason": "Geklärt"});
    sc.act(
        "reinstate ITK Rheinland, which is not suspended",
        &s1,
        Kind::MemberReinstate,
        rein(a.did()),
        &[&s1, &s2],
        "not_suspended",
    );
    sc.act(
        "reinstate KRZN",
        &s1,
        Kind::MemberReinstate,
        rein(b.did()),
        &[&s1, &s2],
        "stored",
    );
    sc.publish(
        "KRZN publishes after reinstatement",
        &b,
        offer("e-akte", 2),
        "stored",
    );
    let old = sc.publish(
        "ITK Rheinland rotates its key",
        &a,
        body(Kind::KeyRotate, json!({"new_key": a2.did().as_str()})),
        "stored",
    );
    sc.publish(
        "old key signs after the rotation",
        &a,
        offer("meldewesen-hosting", 3),
        "key_rotated",
    );
    let _ = old;
    sc.publish(
        "new key publishes version 3",
        &a2,
        offer("meldewesen-hosting", 3),
        "stored",
    );
    let succ = sc.publish(
        "GKD Paderborn hands its portfolio to OWL-IT",
        &c,
        body(Kind::Succession, json!({"successor": d.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": []})),
        "stored",
    );
    sc.publish(
        "accept of an unknown succession: stored, without effect",
        &d,
        body(
            Kind::SuccessionAccept,
            json!({"succession": "ab".repeat(32)}),
        ),
        "stored",
    );
    sc.publish(
        "OWL-IT accepts",
        &d,
        body(
            Kind::SuccessionAccept,
            json!({"succession": succ.id().to_hex()}),
        ),
        "stored",
    );
    // OWL-IT signs two different records for one seq.
    let e1 = sc.make(&d, offer("ozg-antrag", 1));
    let e2 = sc.make(&d, offer("ozg-antrag", 2));
    sc.submit("OWL-IT seq 2", e1, "stored", true);
    sc.submit(
        "a second record for the same seq",
        e2,
        "equivocation",
        false,
    );
    let (cseq, _) = sc.next(&c);
    sc.act(
        "revoke GKD Paderborn from its next seq",
        &s2,
        Kind::MemberRevoke,
        mem(c.did(), c.did(), cseq),
        &[&s1, &s2],
        "stored",
    );
    sc.publish(
        "GKD Paderborn signs after revocation",
        &c,
        offer("late", 1),
        "member_revoked",
    );
    sc.submit("the same offer again", o1.clone(), "known", false);
    let foreign_prev = sign(&b, fed, 5, Some(o1.id()), offer("e-akte", 9));
    sc.submit(
        "prev names another author's record",
        foreign_prev,
        "invalid_prev",
        false,
    );
    sc.submit(
        "genesis of another federation",
        genesis(&[&s1], 1),
        "wrong_federation",
        false,
    );
    let again = sign(&s2, fed, 1, None, gns.record().body.clone());
    sc.submit(
        "the genesis action wrapped again by the other steward",
        again,
        "unexpected_genesis",
        false,
    );
    // An empty observer list removes every observer (and is a valid action).
    sc.act(
        "the stewards admit an observer node",
        &s1,
        Kind::FederationObservers,
        json!({"observers": [{"peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "name": "KDN Prüfstelle"}]}),
        &[&s1, &s2],
        "stored",
    );
    sc.act(
        "the stewards remove every observer",
        &s2,
        Kind::FederationObservers,
        json!({"observers": []}),
        &[&s1, &s2],
        "stored",
    );

    let state = sc.reg.state();
    let summary = state.summary();
    let digest = state.digest();
    let mut steps_case = json!({
        "desc": "a federation's life: admissions by threshold, publishing, held records, suspension, rotation, succession, equivocation, revocation; each step through the ingest gate in order",
        "type": "state",
        "genesis": record_value(&gns),
        "steps": sc.steps,
        "expected": {"summary": summary, "digest": digest.to_hex()},
    });
    steps_case["stewards_seeds"] = json!([hex(&s1.seed()), hex(&s2.seed())]);

    // The same accepted set in another order, without the gate: the same digest.
    let mut shuffled = sc.accepted.clone();
    let n = shuffled.len();
    for i in 0..n {
        let j = (i * 7 + 3) % n;
        shuffled.swap(i, j);
    }
    shuffled.reverse();
    let mut reg2 = Registry::new(gns.clone()).expect("registry");
    for r in &shuffled {
        reg2.add(r.clone()).expect("add");
    }
    assert_eq!(reg2.state().digest(), digest, "order independence");
    let set_case = json!({
        "desc": "the records accepted above, in another order and without the ingest gate: the state is a function of the set",
        "type": "state-set",
        "genesis": record_value(&gns),
        "records": shuffled.iter().map(record_value).collect::<Vec<_>>(),
        "expected": {"summary": summary, "digest": digest.to_hex()},
    });
    vec![
        Case {
            name: "state-lifecycle".into(),
            json: steps_case,
        },
        Case {
            name: "state-set-order".into(),
            json: set_case,
        },
    ]
}

/// The allowance (6.4) and cut-off records (7.2): an allowance across a
/// rotation, raised and lowered (a rotation beyond it gives no key); the
/// default allowance at its edge, reached through steward rotations whose cut
/// counts whole; the gate's order; `member.allowance`'s validity; an
/// equivocation beyond the allowance; and the records a revocation, a
/// `member.rekey` and a cut-off rotation cut off, which a node removes
/// (waiting and equivocating ones too), while suspended, rotated-away and
/// governance records stay.
pub(super) fn cut_off() -> Case {
    let s1 = key(1);
    let s2 = key(2);
    let p = key(40); // its keys: p, p2 (p3 only while the allowance allows)
    let p2 = key(41);
    let p3 = key(42);
    let q = key(43); // replaced by the stewards: q2
    let q2 = key(44);
    let r = key(45); // floods, is revoked
    let e = key(46); // equivocates, then suspended
    let d = key(47); // replaced at from_seq 10,000: d2
    let d2 = key(48);
    let f = key(49); // replaced at from_seq 10,002: f2
    let f2 = key(50);
    let m = key(51); // a municipality
    let t = key(52); // R's thief's own key
    let gns = genesis(&[&s1, &s2], 1);
    let mut sc = Script::new(&gns);
    sc.pruning = true;
    let adm = |k: &SecretKey, n: &str| json!({"provider": k.did().as_str(), "name": n});
    let allow = |k: &SecretKey, n: u64| json!({"provider": k.did().as_str(), "allowance": n, "reason": "Portfolio"});
    let cut = |k: &SecretKey, from: u64| json!({"provider": k.did().as_str(), "key": k.did().as_str(), "from_seq": from, "reason": "Schlüssel gestohlen"});
    let rekey = |k: &SecretKey, from: u64, new: &SecretKey| json!({"provider": k.did().as_str(), "key": k.did().as_str(), "from_seq": from, "new_key": new.did().as_str(), "reason": "Schlüssel gestohlen"});
    for (k, n) in [
        (&p, "Citeq"),
        (&q, "regio iT"),
        (&r, "KRZN"),
        (&e, "OWL-IT"),
        (&d, "ITK Rheinland"),
        (&f, "GKD Paderborn"),
    ] {
        sc.act(
            &format!("admit {n}"),
            &s1,
            Kind::MemberAdmit,
            adm(k, n),
            &[&s1],
            "stored",
        );
    }
    // The allowance across rotations.
    sc.act(
        "allowance 4 for P",
        &s1,
        Kind::MemberAllowance,
        allow(&p, 4),
        &[&s1],
        "stored",
    );
    sc.publish(
        "P offer at identity position 1",
        &p,
        offer("p-a", 1),
        "stored",
    );
    sc.publish(
        "P offer at identity position 2",
        &p,
        offer("p-b", 1),
        "stored",
    );
    let rot = sc.make(
        &p,
        body(Kind::KeyRotate, json!({"new_key": p2.did().as_str()})),
    );
    sc.heads.insert(p.did().clone(), (3, rot.id()));
    let late = sc.make(&p, offer("p-late", 1));
    sc.submit(
        "P seq 4 arrives before the rotation at seq 3 it follows: held",
        late,
        "held",
        true,
    );
    sc.submit(
        "P rotates to P2 at seq 3: P2's seq 1 is identity position 4; P's seq 4 is rotated away and stays in the set",
        rot,
        "stored",
        false,
    );
    sc.publish("P2 seq 1, position 4", &p2, offer("p-c", 1), "stored");
    let over = sc.make(&p2, offer("p-d", 1));
    sc.submit(
        "P2 seq 2, position 5: beyond the allowance",
        over.clone(),
        "allowance_exceeded",
        false,
    );
    sc.act(
        "allowance 6 for P",
        &s1,
        Kind::MemberAllowance,
        allow(&p, 6),
        &[&s1],
        "stored",
    );
    sc.submit(
        "the same record, now within the allowance",
        over,
        "stored",
        true,
    );
    sc.publish(
        "P2 rotates to P3 at seq 3 (position 6): P3's seq 1 is position 7",
        &p2,
        body(Kind::KeyRotate, json!({"new_key": p3.did().as_str()})),
        "stored",
    );
    let p3_first = sc.make(&p3, offer("p-e", 1));
    sc.submit(
        "P3 seq 1, position 7: beyond the allowance",
        p3_first.clone(),
        "allowance_exceeded",
        false,
    );
    sc.act(
        "allowance 8 for P",
        &s1,
        Kind::MemberAllowance,
        allow(&p, 8),
        &[&s1],
        "stored",
    );
    sc.submit("P3 seq 1, now within", p3_first, "stored", true);
    sc.act(
        "allowance 5 for P: P2's rotation at position 6 is beyond it, so P3 is no key of P; P2's seq 2 (position 5) still counts",
        &s1,
        Kind::MemberAllowance,
        allow(&p, 5),
        &[&s1],
        "stored",
    );
    sc.publish(
        "P3 seq 2: P3 is no key now",
        &p3,
        offer("p-f", 1),
        "not_member",
    );
    // A steward rotation: its cut counts whole for the new key's offset.
    sc.publish("Q offer, seq 1", &q, offer("q-a", 1), "stored");
    sc.publish("Q offer, seq 2", &q, offer("q-b", 1), "stored");
    sc.publish("Q offer, seq 3", &q, offer("q-c", 1), "stored");
    sc.act(
        "allowance 2 for Q",
        &s1,
        Kind::MemberAllowance,
        allow(&q, 2),
        &[&s1],
        "stored",
    );
    sc.act(
        "the stewards replace Q's key from seq 2 (cut 1): Q's seq 2 and 3 are cut off and removed",
        &s1,
        Kind::MemberRekey,
        rekey(&q, 2, &q2),
        &[&s1],
        "stored",
    );
    sc.publish("Q2 seq 1: position 2", &q2, offer("q-d", 1), "stored");
    sc.publish(
        "Q2 seq 2: position 3, beyond",
        &q2,
        offer("q-e", 1),
        "allowance_exceeded",
    );
    // The default allowance, 10,000, reached through a cut counted whole even
    // where the log is shorter; a steward rotation whose cut lies beyond the
    // allowance still rotates.
    sc.publish("D offer, seq 1", &d, offer("d-a", 1), "stored");
    sc.act(
        "the stewards replace D's key from seq 10,000 (cut 9,999; D's log is 1 long)",
        &s1,
        Kind::MemberRekey,
        rekey(&d, 10_000, &d2),
        &[&s1],
        "stored",
    );
    sc.publish(
        "D2 seq 1: position 10,000, the last within the default",
        &d2,
        offer("d-b", 1),
        "stored",
    );
    sc.publish(
        "D2 seq 2: position 10,001",
        &d2,
        offer("d-c", 1),
        "allowance_exceeded",
    );
    sc.publish("F offer, seq 1", &f, offer("f-a", 1), "stored");
    sc.act(
        "the stewards replace F's key from seq 10,002 (cut 10,001, beyond the allowance: F2 is F's key all the same)",
        &s1,
        Kind::MemberRekey,
        rekey(&f, 10_002, &f2),
        &[&s1],
        "stored",
    );
    sc.publish(
        "F2 seq 1: position 10,002",
        &f2,
        offer("f-b", 1),
        "allowance_exceeded",
    );
    // An equivocation beyond the allowance is none (6.6); standing codes come
    // before the allowance, the allowance before the municipality codes.
    sc.publish("E offer, seq 1", &e, offer("e-a", 1), "stored");
    let e2 = sc.make(&e, offer("e-b", 1));
    let twin = sc.make(&e, offer("e-twin", 1));
    sc.submit("E offer, seq 2", e2, "stored", true);
    sc.submit(
        "a second record at E's seq 2: an equivocation",
        twin,
        "equivocation",
        false,
    );
    sc.act(
        "allowance 1 for E: seq 2 is beyond it, no longer an equivocation",
        &s1,
        Kind::MemberAllowance,
        allow(&e, 1),
        &[&s1],
        "stored",
    );
    let g = key(55);
    let u = key(56);
    sc.act(
        "admit G",
        &s1,
        Kind::MemberAdmit,
        adm(&g, "Kommunale ITEOS"),
        &[&s1],
        "stored",
    );
    sc.publish(
        "G rotates to U at seq 1",
        &g,
        body(Kind::KeyRotate, json!({"new_key": u.did().as_str()})),
        "stored",
    );
    sc.publish(
        "U offer, seq 1 (position 2 of G)",
        &u,
        offer("u-a", 1),
        "stored",
    );
    sc.act(
        "allowance 1 for G",
        &s1,
        Kind::MemberAllowance,
        allow(&g, 1),
        &[&s1],
        "stored",
    );
    sc.act(
        "G suspended from seq 1: its rotation no longer counts (U is no key now), and neither it nor U's record is cut off",
        &s1,
        Kind::MemberSuspend,
        cut(&g, 1),
        &[&s1],
        "stored",
    );
    sc.publish(
        "G seq 2: suspended, and beyond the allowance",
        &g,
        offer("g-b", 1),
        "member_suspended",
    );
    sc.act(
        "admit municipality M",
        &s1,
        Kind::MunicipalityAdmit,
        json!({"municipalities": [{"ags": "05774032", "member": m.did().as_str(), "name": "Paderborn"}]}),
        &[&s1],
        "stored",
    );
    sc.act(
        "allowance 1 for M",
        &s1,
        Kind::MemberAllowance,
        allow(&m, 1),
        &[&s1],
        "stored",
    );
    sc.publish("M demand, seq 1", &m, demand("d1", 1), "stored");
    sc.publish(
        "M offer at seq 2: beyond the allowance before not a provider",
        &m,
        offer("m-a", 1),
        "allowance_exceeded",
    );
    sc.act(
        "allowance for a key no member holds",
        &s1,
        Kind::MemberAllowance,
        allow(&key(53), 5),
        &[&s1],
        "not_member",
    );
    // A flood, revoked from before it: everything from the cut goes, waiting
    // and equivocating records included, and what the thief's own key signed
    // after a rotation the cut covers.
    sc.publish("R offer, seq 1", &r, offer("r-a", 1), "stored");
    let mut flood = Vec::new();
    for i in 0..2 {
        flood.push(sc.publish(
            &format!("R floods, seq {}", i + 2),
            &r,
            offer(&format!("flut-{i}"), 1),
            "stored",
        ));
    }
    let r_twin = sign(&r, sc.fed, 3, Some(flood[0].id()), offer("flut-twin", 1));
    sc.submit("R equivocates at seq 3", r_twin, "equivocation", false);
    let waiting = sign(
        &r,
        sc.fed,
        9,
        Some(Hash32([9; 32])),
        body(Kind::KeyRotate, json!({"new_key": e.did().as_str()})),
    );
    sc.submit(
        "R seq 9, waiting for its predecessor: a rotation to E's key (a key of an identity, never cut off for it)",
        waiting.clone(),
        "held",
        false,
    );
    let waiting_u = sign(
        &r,
        sc.fed,
        10,
        Some(waiting.id()),
        body(Kind::KeyRotate, json!({"new_key": u.did().as_str()})),
    );
    sc.submit(
        "R seq 10, waiting: a rotation to U, which G's suspended rotation also names (so U's records are never cut off for it)",
        waiting_u,
        "held",
        false,
    );
    sc.publish(
        "R rotates to the thief's own key at seq 4",
        &r,
        body(Kind::KeyRotate, json!({"new_key": t.did().as_str()})),
        "stored",
    );
    sc.publish("the thief's key, seq 1", &t, offer("flut-t", 1), "stored");
    sc.act(
        "the stewards revoke R from seq 2: seq 2 to 10 of R and all of the thief's key are removed",
        &s1,
        Kind::MemberRevoke,
        cut(&r, 2),
        &[&s1],
        "stored",
    );
    sc.submit(
        "a flood record offered again by a peer",
        flood[1].clone(),
        "member_revoked",
        false,
    );
    sc.act(
        "allowance for revoked R",
        &s1,
        Kind::MemberAllowance,
        allow(&r, 50),
        &[&s1],
        "member_revoked",
    );
    // A steward rotation naming a key of another identity cuts nothing.
    sc.act(
        "member.rekey for E naming P's first key: P's records stay",
        &s1,
        Kind::MemberRekey,
        json!({"provider": e.did().as_str(), "key": p.did().as_str(), "from_seq": 1, "new_key": key(54).did().as_str(), "reason": "Irrtum"}),
        &[&s1],
        "stored",
    );
    sc.act(
        "P revoked from seq 4 of its first key: seq 4 goes though it is past P's rotation, all of P2 (a later key) goes, and P3, named only by P2's cut-off rotation and no key of P, goes too",
        &s1,
        Kind::MemberRevoke,
        cut(&p, 4),
        &[&s1],
        "stored",
    );
    // A steward that is also a provider keeps its governance records.
    sc.act(
        "admit steward S2 as a provider",
        &s1,
        Kind::MemberAdmit,
        adm(&s2, "Südwestfalen-IT"),
        &[&s1],
        "stored",
    );
    sc.act(
        "S2 signs an action (seq 1 of its log)",
        &s2,
        Kind::StandardDefine,
        json!({"standard_id": "e-akte-basis", "title": "E-Akte Basis", "description": "Grundfunktionen", "category": "fachverfahren", "certifications": [], "standards": [], "delivery": [], "min_sla": {}}),
        &[&s1],
        "stored",
    );
    sc.publish("S2 offer, seq 2", &s2, offer("s-a", 1), "stored");
    sc.act(
        "S2 revoked from seq 1: its offer is removed, its action stays",
        &s1,
        Kind::MemberRevoke,
        cut(&s2, 1),
        &[&s1],
        "stored",
    );
    let state = sc.reg.state();
    let mut set: Vec<String> = sc.reg.held_ids().map(|id| id.to_hex()).collect();
    set.sort();
    Case {
        name: "state-cut-off".into(),
        json: json!({
            "desc": "the allowance across rotations, raised and lowered, at the default's edge, in the gate's order and on the chain; an equivocation and a record beyond the allowance, neither of which counts; records cut off by member.rekey, member.revoke (after a rotation that stands) and cut-off rotations, which a node removes after each step (removed), and every record it holds at the end (in_set); suspended records, a rotation's target that is a member's key, and governance records stay",
            "type": "state",
            "genesis": record_value(&gns),
            "steps": sc.steps,
            "expected": {"summary": state.summary(), "digest": state.digest().to_hex(), "in_set": set},
        }),
    }
}
