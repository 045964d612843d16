//! Fuzzes the strict JSON parser and the JCS writer: no input may panic, and
//! parse -> canonical -> parse is the identity on accepted values.
#![no_main]

use kx_protocol::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = json::parse(data) {
        let c = json::canonical(&v).expect("parsed values are canonicalisable");
        let back = json::parse(&c).expect("canonical text re-parses");
        assert_eq!(back, v);
        assert_eq!(json::canonical(&back).expect("again"), c);
    }
});
