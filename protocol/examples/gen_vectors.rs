//! Writes the test vectors to `specs/vectors/` (one JSON file per case).
//!
//! Run from the repository root: `cargo run -p kx-protocol --example gen_vectors`.
//! `cargo test` fails if the committed files differ from what this writes.

#[path = "../tests/support/vectors/mod.rs"]
mod vectors;

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors");
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path)?;
        }
    }
    let cases = vectors::generate();
    for case in &cases {
        let text = vectors::pretty(&case.json);
        std::fs::write(dir.join(format!("{}.json", case.name)), text)?;
    }
    println!("wrote {} vectors to {}", cases.len(), dir.display());
    Ok(())
}
