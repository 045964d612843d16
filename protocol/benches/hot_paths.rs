//! Criterion micro-benchmarks of the hot paths: canonicalise, parse, verify, apply
//! (fold a record into the registry) and compute the state. Run with
//! `cargo bench -p kx-protocol`.

#[path = "../tests/support/vectors/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use kx_protocol::author::LogWriter;
use kx_protocol::body::Kind;
use kx_protocol::registry::Registry;
use kx_protocol::{UnverifiedRecord, VerifiedRecord, json};
use std::hint::black_box;
use support::{T0, action, genesis, key, offer, ts};

/// A genesis, the admission of provider key 10, and `n` offers of it.
fn records(n: usize) -> (VerifiedRecord, Vec<VerifiedRecord>) {
    let g = genesis(&[&key(1)], 1);
    let fed = g.record().federation;
    let admit = action(
        Kind::MemberAdmit,
        serde_json::json!({"prev_action": fed.to_hex(), "provider": key(10).did().as_str(), "name": "ITK Rheinland"}),
        &[&key(1)],
    );
    let mut s = LogWriter::new(key(1), fed, Some((1, g.id())));
    let mut recs = vec![s.write(admit, ts(T0)).expect("sign")];
    let mut w = LogWriter::new(key(10), fed, None);
    recs.extend((0..n).map(|i| w.write(offer(&format!("o{i}"), 1), ts(T0)).expect("sign")));
    (g, recs)
}

fn hot_paths(c: &mut Criterion) {
    let (g, recs) = records(2000);
    let one = recs[1].clone();
    let value = json::parse(one.canonical_json()).expect("json");
    c.bench_function("canonicalise offer record", |b| {
        b.iter(|| json::canonical(black_box(&value)).expect("canonical"))
    });
    c.bench_function("parse offer record (strict JSON, typed body)", |b| {
        b.iter(|| UnverifiedRecord::parse(black_box(one.canonical_json())).expect("parse"))
    });
    let parsed = UnverifiedRecord::parse(one.canonical_json()).expect("parse");
    c.bench_function("verify_strict one record", |b| {
        b.iter(|| {
            one.record()
                .author
                .verify(black_box(parsed.signed_bytes()), &one.record().sig)
                .expect("valid")
        })
    });
    c.bench_function("apply 2000 records to a registry", |b| {
        b.iter(|| {
            let mut reg = Registry::new(g.clone()).expect("registry");
            for r in &recs {
                reg.add(r.clone()).expect("add");
            }
            reg
        })
    });
    let mut reg = Registry::new(g.clone()).expect("registry");
    for r in &recs {
        reg.add(r.clone()).expect("add");
    }
    // `add` keeps the state up to date; this is the full recomputation it avoids.
    c.bench_function("recompute the state of a registry with 2000 offers", |b| {
        b.iter(|| black_box(&reg).recomputed_state())
    });
    c.bench_function("digest of a state with 2000 offers", |b| {
        b.iter(|| black_box(&reg).state().digest())
    });
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
