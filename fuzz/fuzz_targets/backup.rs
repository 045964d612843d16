//! Fuzzes the backup reader of `kx-node import`: no input may panic, and a file
//! it accepts holds exactly the records its header announces, all of the
//! header's federation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, records)) = kx_node::backup::read(data) {
        assert_eq!(records.len(), header.records);
        assert!(records.iter().all(|r| r.record().federation == header.federation));
    }
});
