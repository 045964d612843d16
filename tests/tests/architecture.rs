//! ARCHITECTURE.md's code map stays exact: every source file of a crate is named
//! in that crate's section, and every file a section names exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Files the map names that are written at run time, not kept in the repository
/// (names starting with `/` are URLs).
const RUNTIME_FILES: &[&str] = &["config.toml", "node.json", "node.key"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file below `dir` with one of `endings`, relative to `dir`.
fn files(dir: &Path, endings: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if endings.iter().any(|e| name.ends_with(e)) {
                let rel = path.strip_prefix(dir).expect("below dir");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// The text of the map's section `### \`crate/\``, up to the next heading.
fn section<'a>(map: &'a str, krate: &str) -> &'a str {
    let head = format!("### `{krate}/`");
    let start = map
        .find(&head)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {head}"));
    let rest = &map[start + head.len()..];
    let end = rest
        .find("\n## ")
        .into_iter()
        .chain(rest.find("\n### "))
        .min();
    &rest[..end.unwrap_or(rest.len())]
}

/// The backticked words of `text`.
fn names(text: &str) -> BTreeSet<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_code_map_names_every_source_file_and_only_files_that_exist() {
    let root = root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut problems = Vec::new();
    for krate in ["protocol", "api", "node", "cli", "bench", "tests"] {
        let text = section(&map, krate);
        let named = names(text);
        let dir = root.join(krate);
        let all = files(&dir, &[".rs", ".html", ".css", ".toml", ".csv"]);
        for f in all.iter().filter(|f| f.ends_with(".rs")) {
            let base = f.rsplit('/').next().unwrap_or(f);
            let parent = f.rsplit('/').nth(1).unwrap_or("");
            let found = named.iter().any(|n| {
                f.ends_with(n.trim_start_matches(&format!("{krate}/")))
                    || *n == base
                    || (base == "mod.rs" && *n == format!("{parent}/"))
            });
            if !found {
                problems.push(format!("{krate}/{f} is not named in its section"));
            }
        }
        for n in &named {
            let file = n.trim_start_matches(&format!("{krate}/"));
            let looks_like_file = [".rs", ".html", ".css", ".toml", ".csv", ".md", ".yaml"]
                .iter()
                .any(|e| file.ends_with(e))
                && !file.contains(['*', ' ', '<'])
                && !file.starts_with('/');
            if !looks_like_file || RUNTIME_FILES.contains(&file) {
                continue;
            }
            let exists = all.iter().any(|f| f.ends_with(file))
                || root.join(n).exists()
                || root.join(krate).join(file).exists();
            if !exists {
                problems.push(format!("{krate}: the map names {n}, which does not exist"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
