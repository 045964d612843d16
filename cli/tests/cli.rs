//! End-to-end tests of the `kx` binary: run it the way a user does, in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kx"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run kx")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = kx(dir, args);
    assert!(
        out.status.success(),
        "kx {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("kx-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn keys_genesis_and_offline_verification() {
    let t = TempDir::new("flow");
    let d = &t.0;
    let did1 = ok(d, &["key", "gen", "--out", "s1.key"]);
    assert!(did1.starts_with("did:key:z6Mk"), "{did1}");
    ok(d, &["key", "gen", "--out", "s2.key"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("s1.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(ok(d, &["key", "show", "s1.key"]), did1);
    let shown = ok(d, &["--json", "key", "show", "s1.key"]);
    assert!(shown.contains(did1.trim()), "{shown}");
    // Never overwrite a key.
    let again = kx(d, &["key", "gen", "--out", "s1.key"]);
    assert_eq!(again.status.code(), Some(1));

    let init = ok(
        d,
        &[
            "federation",
            "init",
            "--name",
            "KDN Test",
            "--steward-key",
            "s1.key",
            "--steward-key",
            "s2.key",
            "--threshold",
            "2",
            "--out",
            "genesis.json",
        ],
    );
    assert!(init.starts_with("federation "), "{init}");
    let v = ok(
        d,
        &[
            "record",
            "verify",
            "genesis.json",
            "--genesis",
            "genesis.json",
        ],
    );
    assert!(v.starts_with("valid"), "{v}");

    // A tampered record: exit code 3 with the protocol's error code.
    let text = std::fs::read_to_string(d.join("genesis.json")).expect("read");
    std::fs::write(d.join("bad.json"), text.replace("KDN Test", "KDN Tost")).expect("write");
    let bad = kx(
        d,
        &["record", "verify", "bad.json", "--genesis", "genesis.json"],
    );
    assert_eq!(bad.status.code(), Some(3));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("bad_signature"), "{err}");

    // Not JSON at all.
    std::fs::write(d.join("junk.json"), b"\xff\xfe").expect("write");
    let junk = kx(
        d,
        &["record", "verify", "junk.json", "--genesis", "genesis.json"],
    );
    assert_eq!(junk.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&junk.stderr).contains("invalid_utf8"));

    // Usage errors exit with 2.
    assert_eq!(kx(d, &["record", "verify"]).status.code(), Some(2));
}

#[test]
fn committed_vectors_verify_with_the_cli() {
    let t = TempDir::new("vectors");
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(vectors.join(name)).expect("read"))
            .expect("json")
    };
    let genesis = read("record-ok-genesis.json");
    std::fs::write(
        t.0.join("g.json"),
        genesis["input"].as_str().expect("input"),
    )
    .expect("w");
    let offer = read("record-ok-offer.json");
    std::fs::write(t.0.join("o.json"), offer["input"].as_str().expect("input")).expect("w");
    let out = ok(
        &t.0,
        &[
            "--json",
            "record",
            "verify",
            "o.json",
            "--genesis",
            "g.json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["id"], offer["id"]);
    assert_eq!(v["valid"], true);
}
