//! Fuzzes the checkpoint readers (`specs/checkpoints.md` 1, 3 and 5): no input may
//! panic; a signed checkpoint that reads is the note's text part, and writes
//! back to the same three lines; a frontier that reads writes back to itself.
#![no_main]

use kx_protocol::checkpoint::{Checkpoint, Frontier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::read(text) {
        assert!(text.starts_with(&cp.text()), "the checkpoint is the note's text");
        assert_eq!(
            text.as_bytes().get(cp.text().len()),
            Some(&b'\n'),
            "an empty line follows the text"
        );
        // Cosignature lines are skipped or verified, never a panic.
        let name = cp.origin();
        let _ = cp.cosigned_by(text, &name, &cp.signer);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
        && let Ok(f) = Frontier::from_json(&v)
    {
        assert_eq!(Frontier::from_json(&f.to_json()).as_ref(), Ok(&f));
    }
});
