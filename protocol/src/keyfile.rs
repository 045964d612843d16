//! Secret-key files at rest (`specs/protocol.md` 2.2): the plain JSON form and the
//! passphrase-encrypted form, a did line followed by a PEM `ENCRYPTED PRIVATE KEY`
//! (PKCS #8 `EncryptedPrivateKeyInfo`, PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC).
//!
//! Why this format and not age: browsers open it with WebCrypto alone (PBKDF2,
//! AES-CBC and an Ed25519 `pkcs8` import are built in), so the catalog's in-browser
//! signing reads the same file the CLI writes without shipping a JS crypto library;
//! OpenSSL and every PKCS #8 library read it too. CBC has no tag of its own: the did
//! line is the check, since a wrong passphrase or a changed byte cannot yield the
//! seed of that did.
//!
//! Salt and IV are the caller's: this crate has no randomness of its own.

use crate::code::RecordCode;
use crate::keys::{Did, KeyError, SecretKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pkcs5::pbes2;
use std::fmt;

/// PBKDF2 iterations a writer uses unless told otherwise (OWASP's figure for
/// PBKDF2-HMAC-SHA256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// The most iterations a reader accepts: more would let a file stall the reader.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// The PEM label of the encrypted form.
pub const PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";
/// RFC 8410 `PrivateKeyInfo` of an Ed25519 key, up to the 32 seed bytes:
/// version 0, algorithm id-Ed25519 (1.3.101.112), privateKey OCTET STRING of an
/// OCTET STRING of 32 bytes.
pub const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Why a key file could not be read or opened. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Neither form, or a form whose content is wrong (did mismatch included).
    #[error(transparent)]
    Malformed(#[from] KeyError),
    /// A well-formed PKCS #8 file encrypted with something other than
    /// PBKDF2-HMAC-SHA256 + AES-256-CBC, or with more than `MAX_ITERATIONS`.
    #[error("unsupported key encryption: {0}")]
    Unsupported(String),
    /// Decryption did not give an Ed25519 private key: a wrong passphrase (or a
    /// damaged file, which CBC cannot tell apart).
    #[error("wrong passphrase (or a damaged key file)")]
    WrongPassphrase,
}

impl KeyFileError {
    /// Stable error code, as listed in `specs/protocol.md`.
    pub fn code(&self) -> RecordCode {
        match self {
            KeyFileError::Malformed(e) => e.code(),
            KeyFileError::Unsupported(_) => RecordCode::UnsupportedKeyEncryption,
            KeyFileError::WrongPassphrase => RecordCode::WrongPassphrase,
        }
    }
}

fn malformed(reason: impl Into<String>) -> KeyFileError {
    KeyFileError::Malformed(KeyError::MalformedSecretKey {
        reason: reason.into(),
    })
}

/// The encryption parameters a writer chooses: PBKDF2 iterations, a 16-byte salt
/// and a 16-byte IV, both fresh random bytes for every file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealing {
    pub iterations: u32,
    pub salt: [u8; 16],
    pub iv: [u8; 16],
}

/// A key file as read, before any passphrase is asked for.
pub enum KeyFile {
    /// The plain JSON form (2.2): usable at once, and worth a warning.
    Plain(SecretKey),
    /// The encrypted form: names its did; `open` needs the passphrase.
    Encrypted(EncryptedKeyFile),
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFile::Plain(k) => write!(f, "KeyFile::Plain({})", k.did()),
            KeyFile::Encrypted(e) => write!(f, "KeyFile::Encrypted({})", e.did),
        }
    }
}

/// An encrypted key file whose structure and parameters have been checked.
#[derive(Debug, Clone)]
pub struct EncryptedKeyFile {
    did: Did,
    salt: Vec<u8>,
    iterations: u32,
    iv: [u8; 16],
    ciphertext: Vec<u8>,
}

impl KeyFile {
    /// Reads either form. The encrypted form is recognised by its first line being
    /// a did; anything else is read as the plain JSON form.
    pub fn parse(text: &str) -> Result<KeyFile, KeyFileError> {
        if text.starts_with("did:") {
            EncryptedKeyFile::parse(text).map(KeyFile::Encrypted)
        } else {
            Ok(KeyFile::Plain(SecretKey::from_file_text(text)?))
        }
    }

    /// The key: the plain form's at once, the encrypted form's opened with
    /// `passphrase` (2.2.1 rules 5 and 6).
    pub fn open(self, passphrase: &[u8]) -> Result<SecretKey, KeyFileError> {
        match self {
            KeyFile::Plain(key) => Ok(key),
            KeyFile::Encrypted(file) => file.open(passphrase),
        }
    }

    /// The did the file names (for the encrypted form: the one it claims, checked
    /// by `open`).
    pub fn did(&self) -> &Did {
        match self {
            KeyFile::Plain(k) => k.did(),
            KeyFile::Encrypted(e) => &e.did,
        }
    }
}

/// OIDs of 2.2.1, as DER content bytes.
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;

/// A reader of DER elements in order (2.2.1 rule 4). Written out rather than
/// taken from a generic ASN.1 decoder because the spec fixes which defect gets
/// which code, in reading order, and a generic decoder sorts them otherwise
/// (an unknown PRF, say, is a decoding error there, `unsupported` here).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element, which must have `tag`: its content. Lengths must be
    /// definite and minimal (at most two length bytes: a key file is small).
    fn take(&mut self, tag: u8) -> Result<&'a [u8], KeyFileError> {
        let bad = || malformed("the DER is not the structure of 2.2.1");
        let (&t, rest) = self.0.split_first().ok_or_else(bad)?;
        if t != tag {
            return Err(bad());
        }
        let (&first, rest) = rest.split_first().ok_or_else(bad)?;
        let (len, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            0x81 => match rest.split_first() {
                Some((&l, r)) if l >= 0x80 => (usize::from(l), r),
                _ => return Err(bad()),
            },
            0x82 => match rest {
                [h, l, r @ ..] if *h != 0 => (usize::from(*h) << 8 | usize::from(*l), r),
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        if rest.len() < len {
            return Err(bad());
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(content)
    }

    fn next_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// Nothing may follow the last element.
    fn end(&self) -> Result<(), KeyFileError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(malformed("bytes after the end of a DER structure"))
        }
    }
}

/// A DER INTEGER's value, if it fits an i64; `None` for a larger one (which no
/// parameter accepts). Non-minimal encodings are malformed.
fn integer(content: &[u8]) -> Result<Option<i64>, KeyFileError> {
    match content {
        [] => Err(malformed("an empty INTEGER")),
        [0x00, b, ..] if *b < 0x80 => Err(malformed("a non-minimal INTEGER")),
        [0xff, b, ..] if *b >= 0x80 => Err(malformed("a non-minimal INTEGER")),
        _ if content.len() > 8 => Ok(None),
        _ => {
            let negative = content[0] >= 0x80;
            let mut v: i64 = if negative { -1 } else { 0 };
            for &b in content {
                v = (v << 8) | i64::from(b);
            }
            Ok(Some(v))
        }
    }
}

fn unsupported(what: &str) -> KeyFileError {
    KeyFileError::Unsupported(what.to_owned())
}

impl EncryptedKeyFile {
    /// Checks the did line, the PEM block, the DER structure and the parameters,
    /// in that order (2.2.1 rules 1 to 4).
    fn parse(text: &str) -> Result<EncryptedKeyFile, KeyFileError> {
        // Lines end in LF or CRLF. After the END line there is nothing, or the one
        // line break that ends it; a CR not followed by LF stays part of its line.
        let mut lines: Vec<&str> = text.split('\n').collect();
        let unterminated = lines.pop().unwrap_or_default();
        for line in &mut lines {
            *line = line.strip_suffix('\r').unwrap_or(line);
        }
        if !unterminated.is_empty() {
            lines.push(unterminated);
        }
        if lines.is_empty() {
            return Err(malformed("an empty key file"));
        }
        let did: Did = lines[0]
            .parse()
            .map_err(|e| malformed(format!("the first line is not a did: {e}")))?;
        let begin = format!("-----BEGIN {PEM_LABEL}-----");
        let end = format!("-----END {PEM_LABEL}-----");
        if lines.len() < 4 || lines[1] != begin || lines[lines.len() - 1] != end {
            return Err(malformed(format!(
                "the did line must be followed by {begin:?}, the base64 lines and {end:?}, and nothing else"
            )));
        }
        let body = &lines[2..lines.len() - 1];
        let (last, full) = body.split_last().unwrap_or((&"", &[]));
        if full.iter().any(|l| l.len() != 64) || last.is_empty() || last.len() > 64 {
            return Err(malformed(
                "base64 lines must have 64 characters, the last 1 to 64",
            ));
        }
        let der = STANDARD
            .decode(body.concat())
            .map_err(|e| malformed(format!("base64: {e}")))?;
        let mut top = Der(&der);
        let info = top.take(SEQUENCE)?;
        top.end()?;
        let mut info = Der(info);
        let mut alg = Der(info.take(SEQUENCE)?);
        if alg.take(OID)? != OID_PBES2 {
            return Err(unsupported("the scheme is not PBES2"));
        }
        let mut pbes2 = Der(alg.take(SEQUENCE)?);
        alg.end()?;
        let mut kdf = Der(pbes2.take(SEQUENCE)?);
        if kdf.take(OID)? != OID_PBKDF2 {
            return Err(unsupported("the key derivation is not PBKDF2"));
        }
        let mut params = Der(kdf.take(SEQUENCE)?);
        kdf.end()?;
        if params.next_tag() == Some(SEQUENCE) {
            return Err(unsupported("the salt is not given (otherSource)"));
        }
        let salt = params.take(OCTET_STRING)?;
        if !(8..=32).contains(&salt.len()) {
            return Err(unsupported("the salt is not 8 to 32 bytes"));
        }
        let iterations = integer(params.take(INTEGER)?)?
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=MAX_ITERATIONS).contains(n))
            .ok_or_else(|| unsupported("PBKDF2 iterations outside 1..=10000000"))?;
        if params.next_tag() == Some(INTEGER) && integer(params.take(INTEGER)?)? != Some(32) {
            return Err(unsupported("PBKDF2's keyLength is not 32"));
        }
        if params.next_tag() != Some(SEQUENCE) {
            return Err(unsupported("PBKDF2's PRF is absent (hmacWithSHA1)"));
        }
        let mut prf = Der(params.take(SEQUENCE)?);
        params.end()?;
        if prf.take(OID)? != OID_HMAC_SHA256 {
            return Err(unsupported("PBKDF2's PRF is not hmacWithSHA256"));
        }
        if prf.next_tag().is_some() && !prf.take(NULL)?.is_empty() {
            return Err(malformed("a NULL with content"));
        }
        prf.end()?;
        let mut cipher = Der(pbes2.take(SEQUENCE)?);
        pbes2.end()?;
        if cipher.take(OID)? != OID_AES256_CBC {
            return Err(unsupported("the cipher is not AES-256-CBC"));
        }
        let iv: [u8; 16] = cipher
            .take(OCTET_STRING)?
            .try_into()
            .map_err(|_| malformed("the IV is not 16 bytes"))?;
        cipher.end()?;
        let ciphertext = info.take(OCTET_STRING)?.to_vec();
        info.end()?;
        Ok(EncryptedKeyFile {
            did,
            salt: salt.to_vec(),
            iterations,
            iv,
            ciphertext,
        })
    }

    /// The did the file names.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// The PBKDF2 iteration count: what opening the file costs.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Decrypts with `passphrase` (its bytes as given) and checks the key is the
    /// named did's (rules 5 and 6).
    pub fn open(&self, passphrase: &[u8]) -> Result<SecretKey, KeyFileError> {
        let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
            self.iterations,
            &self.salt,
            self.iv,
        )
        .map_err(|e| KeyFileError::Unsupported(e.to_string()))?;
        let plain = zeroize::Zeroizing::new(
            params
                .decrypt(passphrase, &self.ciphertext)
                .map_err(|_| KeyFileError::WrongPassphrase)?,
        );
        let seed: [u8; 32] = plain
            .strip_prefix(&ED25519_PKCS8_PREFIX[..])
            .and_then(|s| s.try_into().ok())
            .ok_or(KeyFileError::WrongPassphrase)?;
        let key = SecretKey::from_seed(seed)?;
        if key.did() != &self.did {
            return Err(malformed("the key is not the did the file names"));
        }
        Ok(key)
    }
}

/// The text of an encrypted key file (2.2.1 rules 1 to 3): the did line and the
/// PEM block of `der`, 64 base64 characters per line, every line ending in LF.
pub fn armor(did: &str, der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let mut text = format!("{did}\n-----BEGIN {PEM_LABEL}-----\n");
    for line in base64.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push('\n');
    }
    text.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    text
}

impl SecretKey {
    /// The encrypted key file: the did, a newline, and the PEM block (64-character
    /// lines, LF) of the `PrivateKeyInfo` encrypted with `passphrase`.
    pub fn to_encrypted_file_text(
        &self,
        passphrase: &[u8],
        sealing: Sealing,
    ) -> Result<String, KeyFileError> {
        if sealing.iterations == 0 || sealing.iterations > MAX_ITERATIONS {
            return Err(KeyFileError::Unsupported(
                "PBKDF2 iterations outside 1..=10000000".into(),
            ));
        }
        let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
            sealing.iterations,
            &sealing.salt,
            sealing.iv,
        )
        .map_err(|e| KeyFileError::Unsupported(e.to_string()))?;
        let mut plain = zeroize::Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
        plain.extend_from_slice(&self.seed());
        let encrypted = params
            .encrypt(passphrase, &plain)
            .map_err(|e| KeyFileError::Unsupported(e.to_string()))?;
        let info = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: params.into(),
            encrypted_data: pkcs8::der::asn1::OctetStringRef::new(&encrypted)
                .map_err(|e| KeyFileError::Unsupported(e.to_string()))?,
        };
        let der = pkcs8::der::Encode::to_der(&info)
            .map_err(|e| KeyFileError::Unsupported(e.to_string()))?;
        Ok(armor(self.did().as_str(), &der))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEALING: Sealing = Sealing {
        iterations: 1000,
        salt: [1; 16],
        iv: [2; 16],
    };

    #[test]
    fn encrypted_file_round_trips_only_with_its_passphrase() {
        let key = SecretKey::from_seed([9; 32]).expect("key");
        let text = key
            .to_encrypted_file_text(b"correct horse", SEALING)
            .expect("seal");
        assert!(text.starts_with(&format!(
            "{}\n-----BEGIN ENCRYPTED PRIVATE KEY-----\n",
            key.did()
        )));
        let KeyFile::Encrypted(file) = KeyFile::parse(&text).expect("parse") else {
            panic!("not read as encrypted");
        };
        assert_eq!(file.did(), key.did());
        assert_eq!(file.open(b"correct horse").expect("open").did(), key.did());
        assert_eq!(
            file.open(b"correct horsf").map_err(|e| e.code()).err(),
            Some(RecordCode::WrongPassphrase)
        );
    }

    #[test]
    fn a_swapped_did_line_is_caught_on_open() {
        let key = SecretKey::from_seed([9; 32]).expect("key");
        let other = SecretKey::from_seed([8; 32]).expect("key");
        let text = key.to_encrypted_file_text(b"pw", SEALING).expect("seal");
        let swapped = text.replacen(key.did().as_str(), other.did().as_str(), 1);
        let KeyFile::Encrypted(file) = KeyFile::parse(&swapped).expect("parse") else {
            panic!("not read as encrypted");
        };
        assert_eq!(
            file.open(b"pw").map_err(|e| e.code()).err(),
            Some(RecordCode::MalformedSecretKey)
        );
    }

    #[test]
    fn plain_files_still_read() {
        let key = SecretKey::from_seed([9; 32]).expect("key");
        assert!(matches!(
            KeyFile::parse(&key.to_file_text()),
            Ok(KeyFile::Plain(_))
        ));
    }
}
