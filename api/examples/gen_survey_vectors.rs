//! Writes the market-survey vectors to `specs/vectors/survey/` (one JSON file
//! per case).
//!
//! Run from the repository root: `cargo run -p kx-api --example gen_survey_vectors`.
//! `cargo test -p kx-api` fails if the committed files differ from what this
//! writes.

#[path = "../tests/support/survey.rs"]
mod survey;

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors/survey");
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path)?;
        }
    }
    let cases = survey::cases();
    for case in &cases {
        let mut text = serde_json::to_string_pretty(&case.json)?;
        text.push('\n');
        std::fs::write(dir.join(format!("{}.json", case.name)), text)?;
    }
    println!("wrote {} vectors to {}", cases.len(), dir.display());
    Ok(())
}
