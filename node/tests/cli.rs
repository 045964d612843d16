//! Flag parsing of the `kx-node` binary, one test per flag family. (Running these
//! also makes `cargo test --workspace` build the binary for the integration
//! tests in `tests/`.)

use std::process::Command;

fn node(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kx-node"))
        .args(args)
        .output()
        .expect("run kx-node")
}

#[test]
fn help_and_version() {
    let out = node(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["init", "run", "genesis"] {
        assert!(text.contains(cmd), "{text}");
    }
    assert!(node(&["--version"]).status.success());
}

#[test]
fn init_flags() {
    // Missing --genesis is a usage error (2).
    assert_eq!(node(&["init", "--data-dir", "x"]).status.code(), Some(2));
    // A malformed address is a usage error too.
    let out = node(&[
        "init",
        "--data-dir",
        "x",
        "--genesis",
        "g",
        "--http",
        "nowhere",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_flags() {
    assert_eq!(node(&["run"]).status.code(), Some(2));
    assert_eq!(
        node(&["run", "--data-dir", "x", "--bogus"]).status.code(),
        Some(2)
    );
}

#[test]
fn genesis_check_reports_errors() {
    let dir = std::env::temp_dir().join(format!("kx-node-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let f = dir.join("g.json");
    std::fs::write(&f, b"{\"v\":1,\"v\":2}").expect("write");
    let out = node(&["genesis", f.to_str().expect("utf8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate_key"));
    let _ = std::fs::remove_dir_all(&dir);
}
