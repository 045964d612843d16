//! End-to-end tests of the `kx` binary: run it the way a user does, in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kx(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kx"))
        .current_dir(dir)
        .env("KX_PASSPHRASE", "kx-cli-test")
        .env_remove("KX_PASSPHRASE_FILE")
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

/// `kx` with its environment for passphrases set by the test.
fn kx_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kx"));
    cmd.current_dir(dir)
        .env_remove("KX_PASSPHRASE")
        .env_remove("KX_PASSPHRASE_FILE")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run kx")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn key_files_are_encrypted_and_open_only_with_their_passphrase() {
    let t = TempDir::new("sealed");
    let d = &t.0;
    let right = [("KX_PASSPHRASE", "a long passphrase")];
    let wrong = [("KX_PASSPHRASE", "not the passphrase")];
    let made = kx_env(d, &right, &["key", "gen", "--out", "s.key"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let did = String::from_utf8(made.stdout).expect("utf8");
    let text = std::fs::read_to_string(d.join("s.key")).expect("read");
    assert!(
        text.starts_with(&format!("{}-----BEGIN ENCRYPTED PRIVATE KEY-----\n", did)),
        "{text}"
    );

    // Signing needs the right passphrase; `key show` needs none.
    let init = [
        "federation",
        "init",
        "--name",
        "T",
        "--steward-key",
        "s.key",
    ];
    let refused = kx_env(d, &wrong, &[&init[..], &["--out", "g1.json"]].concat());
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("wrong passphrase"),
        "{}",
        stderr(&refused)
    );
    assert!(!d.join("g1.json").exists());
    let signed = kx_env(d, &right, &[&init[..], &["--out", "g1.json"]].concat());
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert!(stderr(&signed).is_empty(), "{}", stderr(&signed));
    assert_eq!(
        kx_env(d, &[], &["key", "show", "s.key"]).stdout,
        did.as_bytes()
    );

    // --passphrase-file (its final line break dropped) comes before KX_PASSPHRASE.
    std::fs::write(d.join("pass"), "a long passphrase\n").expect("write");
    let by_file = kx_env(
        d,
        &wrong,
        &[
            &init[..],
            &["--out", "g2.json", "--passphrase-file", "pass"],
        ]
        .concat(),
    );
    assert!(by_file.status.success(), "{}", stderr(&by_file));

    // Without a terminal and without a passphrase: a clear error, nothing signed.
    if std::path::Path::new("/usr/bin/setsid").exists() {
        let out = Command::new("/usr/bin/setsid")
            .arg("-w")
            .arg(env!("CARGO_BIN_EXE_kx"))
            .args([&init[..], &["--out", "g3.json"]].concat())
            .current_dir(d)
            .env_remove("KX_PASSPHRASE")
            .env_remove("KX_PASSPHRASE_FILE")
            .output()
            .expect("run kx");
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("KX_PASSPHRASE"), "{}", stderr(&out));
    }

    // decrypt gives the plain form (with a warning); encrypt seals it again,
    // and the sealed file holds the seed in no form.
    let plain = kx_env(d, &right, &["key", "decrypt", "s.key"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.key")).expect("read"))
            .expect("plain key file");
    let seed = json["seed"].as_str().expect("seed").to_owned();
    let used = kx_env(d, &[], &[&init[..], &["--out", "g4.json"]].concat());
    assert!(used.status.success(), "{}", stderr(&used));
    assert!(stderr(&used).contains("not encrypted"), "{}", stderr(&used));
    let short = kx_env(
        d,
        &[("KX_PASSPHRASE", "short")],
        &["key", "encrypt", "s.key"],
    );
    assert_eq!(short.status.code(), Some(1));
    let sealed = kx_env(d, &right, &["key", "encrypt", "s.key"]);
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let bytes = std::fs::read(d.join("s.key")).expect("read");
    let text = String::from_utf8(bytes.clone()).expect("utf8");
    let raw = base64_url_decode(&seed);
    assert!(!text.contains(&seed) && !text.contains("seed"), "{text}");
    assert!(!bytes.windows(32).any(|w| w == raw.as_slice()));
    let again = kx_env(d, &right, &["key", "encrypt", "s.key"]);
    assert_eq!(again.status.code(), Some(1), "already encrypted");
    let reopened = kx_env(d, &right, &[&init[..], &["--out", "g5.json"]].concat());
    assert!(reopened.status.success(), "{}", stderr(&reopened));

    // A changed byte inside the encrypted block never yields a key.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let flipped: String = lines[3]
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    lines[3] = flipped;
    std::fs::write(d.join("s.key"), lines.join("\n") + "\n").expect("write");
    let damaged = kx_env(d, &right, &[&init[..], &["--out", "g6.json"]].concat());
    assert_eq!(damaged.status.code(), Some(1), "{}", stderr(&damaged));
    assert!(!d.join("g6.json").exists());
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = A.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}
