//! Fuzzes the secret-key file reader (`specs/protocol.md` 2.2, 2.2.1): no input
//! may panic; a plain file that reads writes back to a file naming the same key;
//! an encrypted one with a cheap iteration count is opened with a fixed
//! passphrase (which must fail or give the key of the did it names).
#![no_main]

use kx_protocol::keyfile::KeyFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match KeyFile::parse(text) {
        Ok(KeyFile::Plain(key)) => {
            let again = KeyFile::parse(&key.to_file_text()).expect("written file reads");
            assert_eq!(again.did(), key.did());
        }
        Ok(KeyFile::Encrypted(file)) if file.iterations() <= 4 => {
            if let Ok(key) = file.open(b"kx-fuzz") {
                assert_eq!(key.did(), file.did());
            }
        }
        _ => {}
    }
});
