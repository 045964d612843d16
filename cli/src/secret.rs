//! Secret-key files (`specs/protocol.md` 2.2): reading either form, asking for the
//! passphrase, writing and converting the encrypted form.
//!
//! The passphrase comes from, in this order: `--passphrase-file` (or
//! `KX_PASSPHRASE_FILE`), `KX_PASSPHRASE`, a prompt on the terminal. One source
//! serves every key a command opens.

use crate::offline::{print_did, write_new};
use anyhow::{Context, Result, bail};
use kx_protocol::SecretKey;
use kx_protocol::keyfile::{KeyFile, MAX_ITERATIONS, Sealing};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// Fewest PBKDF2 iterations `kx` writes: below the default only for throwaway
/// keys (tests, the demo).
pub const MIN_ITERATIONS: u32 = 1000;
/// Shortest passphrase `kx` encrypts a key with.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

static PASSPHRASE_FILE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets where passphrases come from (the global `--passphrase-file`).
pub fn set_passphrase_file(file: Option<PathBuf>) {
    let _ = PASSPHRASE_FILE.set(file);
}

/// The passphrase for `key`: for a new file (`confirm`) it is asked twice when
/// prompted and must be at least `MIN_PASSPHRASE_CHARS` long.
fn passphrase(key: &Path, new: bool) -> Result<Zeroizing<String>> {
    let pass = if let Some(file) = PASSPHRASE_FILE.get().and_then(Option::as_ref) {
        let mut text = Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("read passphrase file {}", file.display()))?,
        );
        // One final line break is the file's, not the passphrase's.
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        text
    } else if let Some(v) = std::env::var_os("KX_PASSPHRASE") {
        Zeroizing::new(
            v.into_string()
                .map_err(|_| anyhow::anyhow!("KX_PASSPHRASE is not valid UTF-8"))?,
        )
    } else {
        let no_tty = || {
            format!(
                "{} needs a passphrase: set KX_PASSPHRASE or --passphrase-file, or run kx in a terminal",
                key.display()
            )
        };
        let prompt = if new {
            format!("New passphrase for {}: ", key.display())
        } else {
            format!("Passphrase for {}: ", key.display())
        };
        let first = Zeroizing::new(rpassword::prompt_password(prompt).with_context(no_tty)?);
        if new {
            let again = Zeroizing::new(
                rpassword::prompt_password("Repeat the passphrase: ").with_context(no_tty)?,
            );
            if *again != *first {
                bail!("the passphrases differ; nothing written");
            }
        }
        first
    };
    if pass.is_empty() {
        bail!("empty passphrase for {}", key.display());
    }
    if new && pass.chars().count() < MIN_PASSPHRASE_CHARS {
        bail!("a new passphrase needs at least {MIN_PASSPHRASE_CHARS} characters");
    }
    Ok(pass)
}

fn read_key_file(path: &Path) -> Result<KeyFile> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("read key file {}", path.display()))?,
    );
    KeyFile::parse(&text).with_context(|| format!("key file {}", path.display()))
}

/// Reads a key file, asking for the passphrase if it is encrypted; a plain file
/// loads with a warning.
pub fn read_key(path: &Path) -> Result<SecretKey> {
    match read_key_file(path)? {
        KeyFile::Plain(key) => {
            eprintln!(
                "warning: key file {} is not encrypted; `kx key encrypt {}` protects it with a passphrase",
                path.display(),
                path.display()
            );
            Ok(key)
        }
        KeyFile::Encrypted(file) => {
            let pass = passphrase(path, false)?;
            file.open(pass.as_bytes())
                .with_context(|| format!("key file {}", path.display()))
        }
    }
}

/// The encrypted file text of `key`, with a passphrase for `path`.
fn seal(key: &SecretKey, path: &Path, iterations: u32) -> Result<String> {
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        bail!("--iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}");
    }
    let pass = passphrase(path, true)?;
    Ok(key.to_encrypted_file_text(pass.as_bytes(), fresh_sealing(iterations)?)?)
}

/// Sealing parameters with a fresh random salt and IV.
pub fn fresh_sealing(iterations: u32) -> Result<Sealing> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let (salt, iv) = random.split_at(16);
    Ok(Sealing {
        iterations,
        salt: salt.try_into().context("salt")?,
        iv: iv.try_into().context("iv")?,
    })
}

/// `kx key gen`: a new key, encrypted unless `plain`.
pub fn key_gen(out: &Path, plain: bool, iterations: u32, json: bool) -> Result<()> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = SecretKey::from_seed(*seed).context("derive key")?;
    let text = if plain {
        Zeroizing::new(key.to_file_text())
    } else {
        Zeroizing::new(seal(&key, out, iterations)?)
    };
    write_new(out, text.as_bytes(), true)?;
    print_did(key.did(), json)
}

/// `kx key show`: the did a file names, without asking for a passphrase.
pub fn key_show(file: &Path, json: bool) -> Result<()> {
    let key = read_key_file(file)?;
    let encrypted = matches!(key, KeyFile::Encrypted(_));
    if json {
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({ "did": key.did().as_str(), "encrypted": encrypted })
        )?;
        Ok(())
    } else {
        if !encrypted {
            eprintln!("warning: key file {} is not encrypted", file.display());
        }
        print_did(key.did(), false)
    }
}

/// `kx key encrypt`: a plain key file becomes an encrypted one, in place.
pub fn key_encrypt(file: &Path, iterations: u32, json: bool) -> Result<()> {
    let KeyFile::Plain(key) = read_key_file(file)? else {
        bail!("key file {} is already encrypted", file.display());
    };
    let text = Zeroizing::new(seal(&key, file, iterations)?);
    replace(file, text.as_bytes())?;
    print_did(key.did(), json)
}

/// `kx key decrypt`: an encrypted key file becomes a plain one, in place.
pub fn key_decrypt(file: &Path, json: bool) -> Result<()> {
    let KeyFile::Encrypted(_) = read_key_file(file)? else {
        bail!("key file {} is not encrypted", file.display());
    };
    let key = read_key(file)?;
    replace(file, Zeroizing::new(key.to_file_text()).as_bytes())?;
    eprintln!(
        "warning: key file {} now holds the key in plain text",
        file.display()
    );
    print_did(key.did(), json)
}

/// Replaces `path` by a new private file with `bytes`: written beside it, synced,
/// then renamed over it, so a crash leaves the old or the new file, never half.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".kx-new");
    let tmp = PathBuf::from(tmp);
    write_new(&tmp, bytes, true)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replace {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}
