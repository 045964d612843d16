//! What a municipality sees at a given instant: offer status (suspension,
//! revocation, withdrawal, validity), successions and the region rule.

mod support;

use kx_protocol::author::LogWriter;
use kx_protocol::body::Kind;
use kx_protocol::fields::OfferId;
use kx_protocol::registry::{Admitted, OfferStatus, Registry, Standing};
use kx_protocol::{Did, GateCode, SecretKey, VerifiedRecord};
use serde_json::json;
use support::vectors::{T0, action, body, genesis, key, offer, ts};

struct Fed {
    reg: Registry,
    steward: LogWriter,
}

impl Fed {
    fn new() -> Fed {
        let g = genesis(&[&key(1)], 1);
        let fed = g.record().federation;
        Fed {
            reg: Registry::new(g.clone()).expect("registry"),
            steward: LogWriter::new(key(1), fed, Some((1, g.id()))),
        }
    }

    fn writer(&self, seed: u8) -> LogWriter {
        LogWriter::new(key(seed), self.reg.federation(), None)
    }

    fn submit(&mut self, rec: VerifiedRecord) -> Admitted {
        self.reg.admit(rec).expect("accepted")
    }

    fn govern(&mut self, kind: Kind, mut v: serde_json::Value) {
        v["prev_action"] = json!(self.reg.governance_head().to_hex());
        let b = action(kind, v, &[&key(1)]);
        let rec = self.steward.write(b, ts(T0)).expect("sign");
        assert_eq!(self.submit(rec), Admitted::Stored);
    }

    fn admit(&mut self, k: &SecretKey, name: &str) {
        self.govern(
            Kind::MemberAdmit,
            json!({"provider": k.did().as_str(), "name": name}),
        );
    }

    fn status(&self, provider: &Did, offer_id: &str, at: &str) -> OfferStatus {
        let state = self.reg.state();
        let id: OfferId = offer_id.parse().expect("id");
        let entry = &state.offers[&(provider.clone(), id)];
        state.offer_status(provider, entry, ts(at))
    }
}

#[test]
fn suspension_hides_offers_until_reinstatement_and_revocation_keeps_history() {
    let mut f = Fed::new();
    let p = key(10);
    f.admit(&p, "ITK Rheinland");
    let mut w = f.writer(10);
    let o = w.write(offer("meldewesen", 1), ts(T0)).expect("sign");
    assert_eq!(f.submit(o.clone()), Admitted::Stored);
    let now = "2026-06-01T00:00:00Z";
    assert_eq!(f.status(p.did(), "meldewesen", now), OfferStatus::Active);

    f.govern(
        Kind::MemberSuspend,
        json!({"provider": p.did().as_str(), "key": p.did().as_str(), "from_seq": 2, "reason": "Prüfung"}),
    );
    assert_eq!(f.reg.current_standing(p.did()), Standing::Suspended);
    assert_eq!(
        f.status(p.did(), "meldewesen", now),
        OfferStatus::ProviderSuspended
    );
    let during = w.peek(offer("meldewesen", 2), ts(T0)).expect("sign");
    assert_eq!(
        f.reg.admit(during.clone()).map_err(|e| e.code()),
        Err(GateCode::MemberSuspended.into())
    );

    f.govern(
        Kind::MemberReinstate,
        json!({"provider": p.did().as_str(), "reason": "ok"}),
    );
    assert_eq!(f.status(p.did(), "meldewesen", now), OfferStatus::Active);
    // The record refused during the suspension is accepted when offered again.
    assert_eq!(f.submit(during), Admitted::Stored);
    w.write(offer("meldewesen", 2), ts(T0)).expect("advance");

    f.govern(
        Kind::MemberRevoke,
        json!({"provider": p.did().as_str(), "key": p.did().as_str(), "from_seq": 3, "reason": "Austritt"}),
    );
    assert_eq!(
        f.status(p.did(), "meldewesen", now),
        OfferStatus::ProviderRevoked
    );
    let late = w.write(offer("meldewesen", 3), ts(T0)).expect("sign");
    assert_eq!(
        f.reg.admit(late).map_err(|e| e.code()),
        Err(GateCode::MemberRevoked.into())
    );
    // History before the cut stays.
    let state = f.reg.state();
    let history = f
        .reg
        .offer_history(p.did(), &"meldewesen".parse().expect("id"));
    assert_eq!(history.versions.len(), 2);
    assert!(
        state.offers[&(p.did().clone(), "meldewesen".parse().expect("id"))]
            .current()
            .is_some()
    );
    assert!(f.reg.counts(&o));
}

#[test]
fn validity_window_and_withdrawal_apply_at_the_given_instant() {
    let mut f = Fed::new();
    let p = key(10);
    f.admit(&p, "KRZN");
    let mut w = f.writer(10);
    let o = w.write(offer("e-akte", 1), ts(T0)).expect("sign");
    f.submit(o);
    // The sample offer is valid from 2026-01-01 to 2027-12-31T23:59:59Z.
    assert_eq!(
        f.status(p.did(), "e-akte", "2025-12-31T23:59:59Z"),
        OfferStatus::NotYetValid
    );
    assert_eq!(
        f.status(p.did(), "e-akte", "2026-01-01T00:00:00Z"),
        OfferStatus::Active
    );
    assert_eq!(
        f.status(p.did(), "e-akte", "2027-12-31T23:59:59Z"),
        OfferStatus::Expired
    );
    let wd = w
        .write(
            body(
                Kind::OfferWithdraw,
                json!({"offer_id": "e-akte", "version": 1, "reason": ""}),
            ),
            ts(T0),
        )
        .expect("sign");
    f.submit(wd);
    assert_eq!(
        f.status(p.did(), "e-akte", "2026-06-01T00:00:00Z"),
        OfferStatus::Withdrawn
    );
    // A newer version shows the offer again.
    let v2 = w.write(offer("e-akte", 2), ts(T0)).expect("sign");
    f.submit(v2);
    assert_eq!(
        f.status(p.did(), "e-akte", "2026-06-01T00:00:00Z"),
        OfferStatus::Active
    );
}

#[test]
fn succession_shows_offers_under_the_successor_from_the_cut_over() {
    let mut f = Fed::new();
    let gkd = key(12);
    let owl = key(13);
    f.admit(&gkd, "GKD Paderborn");
    f.admit(&owl, "Ostwestfalen-Lippe-IT");
    let mut wg = f.writer(12);
    let mut wo = f.writer(13);
    f.submit(wg.write(offer("kfz", 1), ts(T0)).expect("sign"));
    let succ = wg
        .write(
            body(
                Kind::Succession,
                json!({"successor": owl.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": []}),
            ),
            ts(T0),
        )
        .expect("sign");
    f.submit(succ.clone());
    let id: OfferId = "kfz".parse().expect("id");
    let at = ts("2025-01-01T00:00:00Z");
    // Not accepted yet: still under the predecessor.
    assert_eq!(f.reg.state().shown_under(gkd.did(), &id, at), *gkd.did());
    let acc = wo
        .write(
            body(
                Kind::SuccessionAccept,
                json!({"succession": succ.id().to_hex()}),
            ),
            ts(T0),
        )
        .expect("sign");
    f.submit(acc);
    let state = f.reg.state();
    assert_eq!(state.shown_under(gkd.did(), &id, at), *owl.did());
    assert_eq!(
        state.shown_under(gkd.did(), &id, ts("2023-12-31T23:59:59Z")),
        *gkd.did()
    );
    assert_eq!(
        state.providers[owl.did()].predecessors,
        vec![gkd.did().clone()]
    );
}

#[test]
fn key_rotation_keeps_identity_and_offers() {
    let mut f = Fed::new();
    let p = key(10);
    f.admit(&p, "citeq");
    let mut w1 = f.writer(10);
    f.submit(w1.write(offer("gis", 1), ts(T0)).expect("sign"));
    let new = key(21);
    f.submit(
        w1.write(
            body(Kind::KeyRotate, json!({"new_key": new.did().as_str()})),
            ts(T0),
        )
        .expect("sign"),
    );
    assert_eq!(f.reg.identity_of(new.did()), Some(p.did()));
    assert_eq!(f.reg.current_key(p.did()), Some(new.did()));
    let mut w2 = f.writer(21);
    assert_eq!(
        f.submit(w2.write(offer("gis", 2), ts(T0)).expect("sign")),
        Admitted::Stored
    );
    let old = w1.write(offer("gis", 3), ts(T0)).expect("sign");
    assert_eq!(
        f.reg.admit(old).map_err(|e| e.code()),
        Err(GateCode::KeyRotated.into())
    );
    let state = f.reg.state();
    let entry = &state.offers[&(p.did().clone(), "gis".parse().expect("id"))];
    assert_eq!(entry.current().map(|c| c.version), Some(2));
    assert_eq!(state.providers[p.did()].keys.len(), 2);
}

#[test]
fn regions_cover_by_prefix() {
    let b = offer("x", 1);
    let kx_protocol::Body::Offer(o) = b else {
        panic!("offer")
    };
    // Sample regions: 05158 (Kreis Mettmann) and 05162 (Rhein-Kreis Neuss).
    let covers = |ags: &str| o.regions.iter().any(|r| r.covers(ags));
    assert!(covers("05158004")); // Erkrath
    assert!(covers("05162024")); // Neuss
    assert!(!covers("05315000")); // Köln
}

#[test]
fn an_allowance_bounds_an_identity_across_its_keys_and_can_be_raised() {
    let mut f = Fed::new();
    let p = key(10);
    f.admit(&p, "ITK Rheinland");
    f.govern(
        Kind::MemberAllowance,
        json!({"provider": p.did().as_str(), "allowance": 3, "reason": "Probe"}),
    );
    assert_eq!(f.reg.allowance(p.did()), 3);
    let mut w = f.writer(10);
    for v in 1..=2 {
        let o = w.write(offer(&format!("o{v}"), 1), ts(T0)).expect("sign");
        assert_eq!(f.submit(o), Admitted::Stored);
    }
    // The third position goes to a rotation; the new key continues at
    // position 4 of the identity's log: beyond the allowance.
    let rot = w
        .write(
            body(Kind::KeyRotate, json!({"new_key": key(11).did().as_str()})),
            ts(T0),
        )
        .expect("sign");
    assert_eq!(f.submit(rot), Admitted::Stored);
    assert_eq!(f.reg.identity_position(key(11).did(), 1), Some(4));
    let w2 = f.writer(11);
    let over = w2.peek(offer("o3", 1), ts(T0)).expect("sign");
    let refused = f.reg.admit(over.clone()).expect_err("beyond the allowance");
    assert_eq!(refused.code(), GateCode::AllowanceExceeded.into());
    assert!(!f.reg.counts(&over));
    // Raised, the same record is taken and counts.
    f.govern(
        Kind::MemberAllowance,
        json!({"provider": p.did().as_str(), "allowance": 10, "reason": "Portfolio"}),
    );
    assert_eq!(f.submit(over.clone()), Admitted::Stored);
    assert!(f.reg.counts(&over));
    assert_eq!(f.reg.state().offers.len(), 3);
}

#[test]
fn a_revocation_or_a_steward_rekey_cuts_the_flood_off_and_nodes_drop_it() {
    for rekey in [false, true] {
        let mut f = Fed::new();
        let p = key(10);
        f.admit(&p, "KRZN");
        let mut w = f.writer(10);
        let good = w.write(offer("meldewesen", 1), ts(T0)).expect("sign");
        assert_eq!(f.submit(good.clone()), Admitted::Stored);
        let digest_before = f.reg.state().digest();
        let before = f.reg.len();
        // The stolen key floods valid offers.
        for i in 0..50 {
            let o = w
                .write(offer(&format!("flut-{i}"), 1), ts(T0))
                .expect("sign");
            assert_eq!(f.submit(o), Admitted::Stored);
        }
        assert_eq!(f.reg.state().offers.len(), 51);
        let cut = json!({"provider": p.did().as_str(), "key": p.did().as_str(), "from_seq": 2, "reason": "Schlüssel gestohlen"});
        if rekey {
            let mut v = cut.clone();
            v["new_key"] = json!(key(12).did().as_str());
            f.govern(Kind::MemberRekey, v);
        } else {
            f.govern(Kind::MemberRevoke, cut);
        }
        assert_eq!(f.reg.state().offers.len(), 1);
        let state = f.reg.state().digest();
        assert_eq!(f.reg.cut_off().len(), 50);
        let gone = f.reg.prune();
        assert_eq!(gone.len(), 50);
        // Only the governance action is left of it; the state is unchanged.
        assert_eq!(f.reg.len(), before + 1);
        assert_eq!(f.reg.state().digest(), state);
        assert_ne!(f.reg.state().digest(), digest_before);
        assert!(f.reg.prune().is_empty());
        assert!(f.reg.counts(&good));
        // Offered again by a peer that has not dropped it, the flood is refused.
        let mut again = f.writer(10);
        again.write(offer("meldewesen", 1), ts(T0)).expect("sign");
        let o = again.peek(offer("flut-0", 1), ts(T0)).expect("sign");
        let code = f.reg.admit(o).expect_err("cut off").code();
        let want = if rekey {
            GateCode::KeyRotated
        } else {
            GateCode::MemberRevoked
        };
        assert_eq!(code, want.into());
    }
}

#[test]
fn a_thief_that_rotated_the_stolen_key_to_its_own_leaves_nothing_either() {
    let mut f = Fed::new();
    let p = key(10);
    f.admit(&p, "regio iT");
    let mut w = f.writer(10);
    let good = w.write(offer("meldewesen", 1), ts(T0)).expect("sign");
    assert_eq!(f.submit(good.clone()), Admitted::Stored);
    let before = f.reg.len();
    // The thief rotates to a key of its own, then floods with it.
    let thief = key(66);
    let rot = w
        .write(
            body(Kind::KeyRotate, json!({"new_key": thief.did().as_str()})),
            ts(T0),
        )
        .expect("sign");
    assert_eq!(f.submit(rot), Admitted::Stored);
    let mut t = f.writer(66);
    for i in 0..20 {
        let o = t
            .write(offer(&format!("flut-{i}"), 1), ts(T0))
            .expect("sign");
        assert_eq!(f.submit(o), Admitted::Stored);
    }
    // Revoked from the rotation on: the thief's key is no key of anyone now,
    // and everything it signed goes with the rotation that named it.
    f.govern(
        Kind::MemberRevoke,
        json!({"provider": p.did().as_str(), "key": p.did().as_str(), "from_seq": 2, "reason": "Schlüssel gestohlen"}),
    );
    let state = f.reg.state().digest();
    assert_eq!(f.reg.prune().len(), 21);
    assert_eq!(f.reg.len(), before + 1);
    assert_eq!(f.reg.state().digest(), state);
    assert!(f.reg.counts(&good));
}
