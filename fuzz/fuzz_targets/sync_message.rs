//! Fuzzes the `/kx/sync/2` decoder: no input may panic, and a message that
//! decodes encodes back to exactly the same bytes (one encoding per message).
#![no_main]

use kx_protocol::sync::{SyncRequest, SyncResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = SyncRequest::decode(data) {
        assert_eq!(req.encode(), data);
    }
    if let Ok(resp) = SyncResponse::decode(data) {
        assert_eq!(resp.encode(), data);
    }
});
