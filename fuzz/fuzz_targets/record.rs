//! Fuzzes record parsing and verification: no input may panic, and an accepted
//! record must survive encode -> decode -> encode with the same id and body.
#![no_main]

use kx_protocol::{Body, VerifiedRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = VerifiedRecord::from_bytes(data) else {
        return;
    };
    let again = VerifiedRecord::from_bytes(rec.canonical_json()).expect("canonical form re-parses");
    assert_eq!(again.id(), rec.id());
    assert_eq!(again.canonical_json(), rec.canonical_json());
    let body = Body::from_json(rec.record().kind(), rec.record().body.to_value()).expect("body round trip");
    assert_eq!(&body, &rec.record().body);
});
