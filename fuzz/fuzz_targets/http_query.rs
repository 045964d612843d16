//! Fuzzes the query parameters of `GET /v1/offers` through the node's own parser:
//! any query string either parses or yields a 4xx error with a stable code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    if let Err((status, code)) = kx_node::http::check_search_query(&raw) {
        assert!((400..500).contains(&status), "{status} {code}");
        assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    }
});
