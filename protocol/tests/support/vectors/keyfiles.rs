//! Secret-key files (2.2, 2.2.1): files every reader must open, and one file per
//! rule that a reader missing that rule would open or answer differently.
//!
//! The DER of the negative cases is built here by hand from its elements, so that
//! each can break exactly one thing; the hand-built DER of the valid parameters is
//! checked to equal what the library writes.

use super::{Case, hex, key};
use kx_protocol::SecretKey;
use kx_protocol::keyfile::{ED25519_PKCS8_PREFIX, KeyFile, PEM_LABEL, Sealing, armor};
use pkcs5::pbes2::Parameters;
use serde_json::json;

const PASSPHRASE: &str = "Rathaus Paderborn 2026";
const SEALING: Sealing = Sealing {
    iterations: 600_000,
    salt: [0x5a; 16],
    iv: [0xa5; 16],
};

const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const PBES1_SHA1_DES: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0a];
const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const HMAC_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0b];
const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
const SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
const AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];

/// A DER element with a minimal length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match content.len() {
        n @ 0..=0x7f => v.push(n as u8),
        n @ 0x80..=0xff => v.extend([0x81, n as u8]),
        n => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(content);
    v
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A DER INTEGER of a non-negative value (with the 0x00 sign byte where needed).
fn int(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut content = bytes[skip..].to_vec();
    if content[0] >= 0x80 {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

/// The parts of an `EncryptedPrivateKeyInfo`, each replaceable.
#[derive(Clone)]
struct Parts {
    scheme: Vec<u8>,
    kdf: Vec<u8>,
    salt: Vec<u8>,
    iterations: Vec<u8>,
    key_length: Option<Vec<u8>>,
    prf: Option<Vec<u8>>,
    cipher: Vec<u8>,
    iv: Vec<u8>,
    data: Vec<u8>,
    /// Bytes after the last element of a SEQUENCE, by [`INFO`], [`ALG`], ...
    trail: [Vec<u8>; 5],
}

/// The SEQUENCEs whose end `Parts::trail` can extend.
const INFO: usize = 0;
const ALG: usize = 1;
const PBES2_PARAMS: usize = 2;
const KDF: usize = 3;
const CIPHER: usize = 4;

impl Parts {
    fn valid(salt: &[u8], iterations: u32, iv: &[u8], data: &[u8]) -> Parts {
        Parts {
            scheme: tlv(0x06, PBES2),
            kdf: tlv(0x06, PBKDF2),
            salt: tlv(0x04, salt),
            iterations: int(u64::from(iterations)),
            key_length: None,
            prf: Some(seq(&[tlv(0x06, HMAC_SHA256), tlv(0x05, &[])])),
            cipher: tlv(0x06, AES256_CBC),
            iv: tlv(0x04, iv),
            data: tlv(0x04, data),
            trail: Default::default(),
        }
    }

    fn der(&self) -> Vec<u8> {
        let mut kdf_params = vec![self.salt.clone(), self.iterations.clone()];
        kdf_params.extend(self.key_length.clone());
        kdf_params.extend(self.prf.clone());
        let t = &self.trail;
        let kdf = seq(&[self.kdf.clone(), seq(&kdf_params), t[KDF].clone()]);
        let cipher = seq(&[self.cipher.clone(), self.iv.clone(), t[CIPHER].clone()]);
        let pbes2 = seq(&[kdf, cipher, t[PBES2_PARAMS].clone()]);
        let alg = seq(&[self.scheme.clone(), pbes2, t[ALG].clone()]);
        seq(&[alg, self.data.clone(), t[INFO].clone()])
    }
}

/// The outcome of reading `text` and opening it with `passphrase`: the did or the
/// error code.
fn read(text: &str, passphrase: &str) -> Result<String, &'static str> {
    KeyFile::parse(text)
        .and_then(|f| f.open(passphrase.as_bytes()))
        .map(|k| k.did().as_str().to_owned())
        .map_err(|e| e.code().as_str())
}

/// A file that must be read as `expected`: `Ok(did)` or `Err(code)`, asserted
/// here while generating.
fn read_case(
    name: &str,
    desc: &str,
    text: String,
    passphrase: &str,
    expected: Result<&str, &str>,
) -> Case {
    assert_eq!(
        read(&text, passphrase).as_deref().map_err(|e| *e),
        expected,
        "{name}"
    );
    let (prefix, outcome) = match expected {
        Ok(did) => ("secret-key-file-ok", json!({ "did": did })),
        Err(code) => ("secret-key-file-err", json!({ "error": code })),
    };
    Case {
        name: format!("{prefix}-{name}"),
        json: json!({
            "desc": desc,
            "type": "secret-key-file-read",
            "file": text,
            "passphrase": passphrase,
            "expected": outcome,
        }),
    }
}

fn encrypted_case(name: &str, desc: &str, key: &SecretKey, sealing: Sealing) -> Case {
    let text = key
        .to_encrypted_file_text(PASSPHRASE.as_bytes(), sealing)
        .expect("seal");
    assert_eq!(read(&text, PASSPHRASE).as_deref(), Ok(key.did().as_str()));
    Case {
        name: name.into(),
        json: json!({
            "desc": desc,
            "type": "secret-key-file-encrypted",
            "secret_key_seed": hex(&key.seed()),
            "did": key.did().as_str(),
            "passphrase": PASSPHRASE,
            "iterations": sealing.iterations,
            "salt": hex(&sealing.salt),
            "iv": hex(&sealing.iv),
            "file": text,
        }),
    }
}

fn pkcs8_of(seed: &[u8; 32]) -> Vec<u8> {
    let mut v = ED25519_PKCS8_PREFIX.to_vec();
    v.extend_from_slice(seed);
    v
}

pub fn cases() -> Vec<Case> {
    let a = key(0x0a);
    let b = key(0x0b);
    let did = a.did().as_str();
    let mut cases = vec![
        encrypted_case(
            "secret-key-file-encrypted",
            "the secret-key file of seed 0a x 32, encrypted (PBES2: PBKDF2-HMAC-SHA256, 600000 iterations, AES-256-CBC)",
            &a,
            SEALING,
        ),
        encrypted_case(
            "secret-key-file-encrypted-sign-byte",
            "40000 iterations (0x9c40): the DER INTEGER needs a leading 0x00 byte",
            &a,
            Sealing {
                iterations: 40_000,
                ..SEALING
            },
        ),
    ];

    // The negative cases use cheap parameters: their cost is not what they test.
    let salt = [0x33; 16];
    let iv = [0x44; 16];
    let cheap = Parameters::generate_pbkdf2_sha256_aes256cbc(1000, &salt, iv).expect("params");
    let seal = |plain: &[u8]| {
        cheap
            .encrypt(PASSPHRASE.as_bytes(), plain)
            .expect("encrypt")
    };
    let ciphertext = seal(&pkcs8_of(&a.seed()));
    let parts = Parts::valid(&salt, 1000, &iv, &ciphertext);
    let valid = armor(did, &parts.der());
    assert_eq!(read(&valid, PASSPHRASE).as_deref(), Ok(did));
    let library = a
        .to_encrypted_file_text(
            PASSPHRASE.as_bytes(),
            Sealing {
                iterations: 1000,
                salt,
                iv,
            },
        )
        .expect("seal");
    assert_eq!(valid, library, "the hand-built DER is the library's");
    let with = |f: &dyn Fn(&mut Parts)| {
        let mut p = parts.clone();
        f(&mut p);
        armor(did, &p.der())
    };
    let mut add =
        |name: &str, desc: &str, text: String, pass: &str, expected: Result<&str, &str>| {
            cases.push(read_case(name, desc, text, pass, expected));
        };
    let malformed = Err("malformed_secret_key");
    let unsupported = Err("unsupported_key_encryption");
    let wrong = Err("wrong_passphrase");

    // Rules 1 to 3: lines, the did line, the PEM block.
    add(
        "crlf",
        "the valid file with CRLF line ends (the did line's included)",
        valid.replace('\n', "\r\n"),
        PASSPHRASE,
        Ok(did),
    );
    add(
        "no-final-line-break",
        "the valid file without the line break after the END line",
        valid.trim_end().to_owned(),
        PASSPHRASE,
        Ok(did),
    );
    add(
        "did-line",
        "the first line is not a did (base58 without z6Mk...; 2.1)",
        valid.replacen(did, "did:key:z0OIl", 1),
        PASSPHRASE,
        malformed,
    );
    add(
        "did-line-only",
        "a did and nothing else",
        format!("{did}\n"),
        PASSPHRASE,
        malformed,
    );
    add(
        "text-before-begin",
        "a line between the did line and the BEGIN line",
        valid.replacen("\n-----BEGIN", "\nKey of the Kreis\n-----BEGIN", 1),
        PASSPHRASE,
        malformed,
    );
    add(
        "text-after-end",
        "an empty line after the END line",
        format!("{valid}\n"),
        PASSPHRASE,
        malformed,
    );
    add(
        "lone-cr",
        "the END line ends in a CR without LF (a line break is LF or CRLF)",
        format!("{}\r", valid.strip_suffix('\n').expect("final LF")),
        PASSPHRASE,
        malformed,
    );
    add(
        "pem-label",
        "the label PRIVATE KEY instead of ENCRYPTED PRIVATE KEY",
        valid.replace(PEM_LABEL, "PRIVATE KEY"),
        PASSPHRASE,
        malformed,
    );
    let lines: Vec<&str> = valid.lines().collect();
    let base64: String = lines[2..lines.len() - 1].concat();
    let mut rewrapped = format!("{}\n{}\n", lines[0], lines[1]);
    for chunk in base64.as_bytes().chunks(76) {
        rewrapped.push_str(std::str::from_utf8(chunk).expect("ascii"));
        rewrapped.push('\n');
    }
    rewrapped.push_str(&format!("{}\n", lines[lines.len() - 1]));
    add(
        "pem-line-width",
        "the base64 in lines of 76 characters instead of 64",
        rewrapped,
        PASSPHRASE,
        malformed,
    );
    let rewrap = |width: usize, merge_last: bool| {
        let mut chunks: Vec<String> = base64
            .as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8(c.to_vec()).expect("ascii"))
            .collect();
        if merge_last {
            let last = chunks.pop().expect("line");
            let before = chunks.pop().expect("line");
            chunks.push(before + &last);
        }
        format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            lines[1],
            chunks.join("\n"),
            lines[lines.len() - 1]
        )
    };
    add(
        "pem-line-width-60",
        "every base64 line at most 64 characters, but the full ones 60",
        rewrap(60, false),
        PASSPHRASE,
        malformed,
    );
    add(
        "pem-last-line-long",
        "full lines of 64, but the last line longer than 64 (the last two joined)",
        rewrap(64, true),
        PASSPHRASE,
        malformed,
    );
    add(
        "begin-line",
        "the BEGIN line with the label PRIVATE KEY, the END line right",
        valid.replacen(
            &format!("-----BEGIN {PEM_LABEL}-----"),
            "-----BEGIN PRIVATE KEY-----",
            1,
        ),
        PASSPHRASE,
        malformed,
    );
    add(
        "base64-no-padding",
        "the base64 without its = padding",
        valid.replace('=', ""),
        PASSPHRASE,
        malformed,
    );
    add(
        "bom",
        "the valid file after a UTF-8 byte-order mark (the text does not start with did:, so it is read as the plain form)",
        format!("\u{feff}{valid}"),
        PASSPHRASE,
        malformed,
    );
    // The last base64 group is padded: with one '=' its third character
    // carries two unused bits, with two '=' its second carries four.
    // Flipping the lowest bit of that character decodes to the same bytes.
    let pad_at = match parts.der().len() % 3 {
        1 => 1,
        2 => 2,
        _ => panic!("the DER length must not be a multiple of 3 for this vector"),
    };
    let last = lines[lines.len() - 2];
    let group = &last[last.len() - 4..];
    let bumped = {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut g = group.as_bytes().to_vec();
        let i = A.iter().position(|c| *c == g[pad_at]).expect("b64");
        g[pad_at] = A[i ^ 1];
        String::from_utf8(g).expect("ascii")
    };
    add(
        "base64-unused-bits",
        "the padded last base64 group sets one of its unused bits (the bytes decode the same)",
        valid.replacen(
            &format!("{group}\n-----END"),
            &format!("{bumped}\n-----END"),
            1,
        ),
        PASSPHRASE,
        malformed,
    );

    // Rule 4: the DER, in reading order.
    let mut long = parts.der();
    long.push(0);
    add(
        "der-trailing-byte",
        "a 0x00 byte after the outer SEQUENCE",
        armor(did, &long),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-long-length",
        "the salt's length 16 written in the long form 0x81 0x10",
        with(&|p| {
            p.salt = [vec![0x04, 0x81, 0x10], salt.to_vec()].concat();
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-integer-padding",
        "the iteration count 1000 written with a needless leading 0x00 (02 03 00 03 e8)",
        with(&|p| {
            p.iterations = vec![0x02, 0x03, 0x00, 0x03, 0xe8];
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "pbes1",
        "pbeWithSHA1AndDES-CBC (PBES1, 1.2.840.113549.1.5.10) instead of PBES2",
        with(&|p| {
            p.scheme = tlv(0x06, PBES1_SHA1_DES);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "salt-type",
        "the salt is an INTEGER, not an OCTET STRING",
        with(&|p| {
            p.salt = int(7);
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "salt-short",
        "a 4-byte salt",
        with(&|p| {
            p.salt = tlv(0x04, &[1, 2, 3, 4]);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "iterations-zero",
        "0 iterations",
        with(&|p| {
            p.iterations = int(0);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "too-many-iterations",
        "10000001 iterations, one more than a reader accepts (refused before any is computed)",
        with(&|p| {
            p.iterations = int(10_000_001);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "key-length-32",
        "keyLength present and 32",
        with(&|p| {
            p.key_length = Some(int(32));
        }),
        PASSPHRASE,
        Ok(did),
    );
    add(
        "key-length-16",
        "keyLength 16",
        with(&|p| {
            p.key_length = Some(int(16));
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "pbkdf2-sha1",
        "the prf member absent: hmacWithSHA1 by default",
        with(&|p| {
            p.prf = None;
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "prf-sha512",
        "the prf hmacWithSHA512",
        with(&|p| {
            p.prf = Some(seq(&[tlv(0x06, HMAC_SHA512), tlv(0x05, &[])]));
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "prf-no-null",
        "the prf hmacWithSHA256 without its NULL parameters",
        with(&|p| {
            p.prf = Some(seq(&[tlv(0x06, HMAC_SHA256)]));
        }),
        PASSPHRASE,
        Ok(did),
    );
    add(
        "prf-parameters",
        "the prf hmacWithSHA256 with the parameters INTEGER 0 instead of NULL",
        with(&|p| {
            p.prf = Some(seq(&[tlv(0x06, HMAC_SHA256), int(0)]));
        }),
        PASSPHRASE,
        malformed,
    );
    let aes128 = Parameters::generate_pbkdf2_sha256_aes128cbc(1000, &salt, iv).expect("params");
    let aes128_data = aes128
        .encrypt(PASSPHRASE.as_bytes(), &pkcs8_of(&a.seed()))
        .expect("encrypt");
    add(
        "aes-128-cbc",
        "encrypted, correctly, with AES-128-CBC",
        with(&|p| {
            p.cipher = tlv(0x06, AES128_CBC);
            p.data = tlv(0x04, &aes128_data);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "iv-length",
        "an 8-byte IV",
        with(&|p| {
            p.iv = tlv(0x04, &[0x44; 8]);
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "first-failure",
        "two defects, AES-128-CBC and then an 8-byte IV: the first in reading order decides",
        with(&|p| {
            p.cipher = tlv(0x06, AES128_CBC);
            p.iv = tlv(0x04, &[0x44; 8]);
        }),
        PASSPHRASE,
        unsupported,
    );
    let scrypt = Parameters::generate_scrypt_aes256cbc(
        pkcs5::scrypt::Params::new(10, 8, 1).expect("scrypt"),
        &salt,
        iv,
    )
    .expect("params");
    let scrypt_data = scrypt
        .encrypt(PASSPHRASE.as_bytes(), &pkcs8_of(&a.seed()))
        .expect("encrypt");
    let scrypt_info = pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: scrypt.clone().into(),
        encrypted_data: pkcs8::der::asn1::OctetStringRef::new(&scrypt_data).expect("octets"),
    };
    add(
        "scrypt",
        "scrypt as the key derivation (correctly encrypted)",
        armor(did, &pkcs8::der::Encode::to_der(&scrypt_info).expect("der")),
        PASSPHRASE,
        unsupported,
    );

    add(
        "order-did-line-first",
        "a did line that is not a did and scrypt as the key derivation: the did line is checked first",
        with(&|p| {
            p.kdf = tlv(0x06, SCRYPT);
        })
        .replacen(did, "did:key:z0OIl", 1),
        PASSPHRASE,
        malformed,
    );
    let after_info = {
        let mut p = parts.clone();
        p.scheme = tlv(0x06, PBES1_SHA1_DES);
        let mut der = p.der();
        der.push(0);
        armor(did, &der)
    };
    add(
        "order-m-before-u",
        "a 0x00 byte after the outer SEQUENCE and PBES1 inside: step 1 fails first",
        after_info,
        PASSPHRASE,
        malformed,
    );
    add(
        "order-u-before-m",
        "PBES1 and a NULL at the end of EncryptedPrivateKeyInfo: the scheme (step 2) fails before the end of info (step 7)",
        with(&|p| {
            p.scheme = tlv(0x06, PBES1_SHA1_DES);
            p.trail[INFO] = vec![0x05, 0x00];
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "oid-tag",
        "the PBES2 OID's bytes in an OCTET STRING instead of an OBJECT IDENTIFIER",
        with(&|p| {
            p.scheme = tlv(0x04, PBES2);
        }),
        PASSPHRASE,
        malformed,
    );
    for (name, desc, bytes) in [
        (
            "der-length-82",
            "the salt's length 16 written as 82 00 10",
            vec![0x04, 0x82, 0x00, 0x10],
        ),
        (
            "der-length-83",
            "the salt's length 16 written as 83 00 00 10",
            vec![0x04, 0x83, 0x00, 0x00, 0x10],
        ),
    ] {
        add(
            name,
            desc,
            with(&|p| {
                p.salt = [bytes.clone(), salt.to_vec()].concat();
            }),
            PASSPHRASE,
            malformed,
        );
    }
    let mut indefinite = parts.der();
    indefinite[1] = 0x80;
    let header = if parts.der()[1] == 0x81 { 3 } else { 4 };
    indefinite.drain(2..header);
    indefinite.extend([0, 0]);
    add(
        "der-indefinite-length",
        "the outer SEQUENCE with the indefinite length 80 ... 00 00 (BER, not DER)",
        armor(did, &indefinite),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-overrun",
        "the salt's length says 40 bytes: more than its enclosing SEQUENCE holds",
        with(&|p| {
            p.salt[1] = 40;
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-empty-integer",
        "the iteration count an INTEGER without content (02 00)",
        with(&|p| {
            p.iterations = vec![0x02, 0x00];
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-integer-ff",
        "the iteration count written ff 80 (-128 with a needless leading ff)",
        with(&|p| {
            p.iterations = vec![0x02, 0x02, 0xff, 0x80];
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "iterations-negative",
        "the iteration count -128 (02 01 80): a well-formed INTEGER out of range",
        with(&|p| {
            p.iterations = vec![0x02, 0x01, 0x80];
        }),
        PASSPHRASE,
        unsupported,
    );
    for (name, at, what) in [
        ("info", INFO, "EncryptedPrivateKeyInfo, after encryptedData"),
        (
            "alg",
            ALG,
            "encryptionAlgorithm, after the PBES2 parameters",
        ),
        (
            "pbes2",
            PBES2_PARAMS,
            "the PBES2 parameters, after the cipher",
        ),
        ("kdf", KDF, "keyDerivationFunc, after the PBKDF2 parameters"),
        ("cipher", CIPHER, "encryptionScheme, after the IV"),
    ] {
        add(
            &format!("der-trailing-{name}"),
            &format!("a NULL (05 00) at the end of {what}"),
            with(&|p| {
                p.trail[at] = vec![0x05, 0x00];
            }),
            PASSPHRASE,
            malformed,
        );
    }
    add(
        "der-trailing-params",
        "a NULL (05 00) at the end of the PBKDF2 parameters, after the prf",
        with(&|p| {
            if let Some(prf) = &mut p.prf {
                prf.extend([0x05, 0x00]);
            }
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-trailing-prf",
        "the prf hmacWithSHA256, NULL, and another NULL",
        with(&|p| {
            p.prf = Some(seq(&[
                tlv(0x06, HMAC_SHA256),
                tlv(0x05, &[]),
                tlv(0x05, &[]),
            ]));
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "der-null-content",
        "the prf's NULL with one content byte (05 01 00)",
        with(&|p| {
            p.prf = Some(seq(&[tlv(0x06, HMAC_SHA256), vec![0x05, 0x01, 0x00]]));
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "iterations-tag",
        "the iteration count as an OCTET STRING (04 02 03 e8)",
        with(&|p| {
            p.iterations = tlv(0x04, &[0x03, 0xe8]);
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "iv-tag",
        "the IV as an INTEGER",
        with(&|p| {
            p.iv = int(0x4444);
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "data-tag",
        "encryptedData as a BIT STRING",
        with(&|p| {
            p.data[0] = 0x03;
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "missing-iv",
        "encryptionScheme with the cipher OID and no IV",
        with(&|p| {
            p.iv = Vec::new();
        }),
        PASSPHRASE,
        malformed,
    );
    add(
        "kdf-oid",
        "the key derivation named scrypt (1.3.6.1.4.1.11591.4.11), its parameters PBKDF2's",
        with(&|p| {
            p.kdf = tlv(0x06, SCRYPT);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "salt-other-source",
        "the salt given as an AlgorithmIdentifier (otherSource), not an OCTET STRING",
        with(&|p| {
            p.salt = seq(&[tlv(0x06, PBKDF2)]);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "salt-7",
        "a 7-byte salt, one less than a reader accepts",
        with(&|p| {
            p.salt = tlv(0x04, &[0x33; 7]);
        }),
        PASSPHRASE,
        unsupported,
    );
    add(
        "salt-long",
        "a 33-byte salt",
        with(&|p| {
            p.salt = tlv(0x04, &[0x33; 33]);
        }),
        PASSPHRASE,
        unsupported,
    );
    for (name, desc, salt_len, iterations) in [
        (
            "salt-8",
            "an 8-byte salt, the shortest a reader accepts",
            8,
            1000,
        ),
        (
            "salt-32",
            "a 32-byte salt, the longest a reader accepts",
            32,
            1000,
        ),
        (
            "iterations-one",
            "1 iteration, the fewest a reader accepts",
            16,
            1,
        ),
    ] {
        let salt = vec![0x33; salt_len];
        let params =
            Parameters::generate_pbkdf2_sha256_aes256cbc(iterations, &salt, iv).expect("params");
        let data = params
            .encrypt(PASSPHRASE.as_bytes(), &pkcs8_of(&a.seed()))
            .expect("encrypt");
        add(
            name,
            desc,
            with(&|p| {
                p.salt = tlv(0x04, &salt);
                p.iterations = int(u64::from(iterations));
                p.data = tlv(0x04, &data);
            }),
            PASSPHRASE,
            Ok(did),
        );
    }
    // Rule 5: decryption.
    add(
        "wrong-passphrase",
        "the valid file opened with another passphrase (the last character differs)",
        valid.clone(),
        "Rathaus Paderborn 2027",
        wrong,
    );
    let mut other = pkcs8_of(&a.seed());
    other[11] = 0x71; // 1.3.101.113: Ed448's OID, same length
    add(
        "not-ed25519",
        "decrypts, but to a PrivateKeyInfo that is not the Ed25519 one (algorithm 1.3.101.113)",
        with(&|p| {
            p.data = tlv(0x04, &seal(&other));
        }),
        PASSPHRASE,
        wrong,
    );
    add(
        "plaintext-49",
        "decrypts to the 48 bytes and one more",
        with(&|p| {
            p.data = tlv(0x04, &seal(&[pkcs8_of(&a.seed()), vec![0]].concat()));
        }),
        PASSPHRASE,
        wrong,
    );
    // The 48 bytes followed by 01 02 .. 10, with the last (padding) block cut off:
    // the last byte says 16 bytes of padding, but they are not all 0x10.
    let mut tail = pkcs8_of(&a.seed());
    tail.extend(1u8..=16);
    let mut cut = seal(&tail);
    cut.truncate(64);
    add(
        "bad-padding",
        "decrypts to the 48 bytes and a block 01 02 .. 10: its last byte claims 16 bytes of padding that are not all 0x10",
        with(&|p| {
            p.data = tlv(0x04, &cut);
        }),
        PASSPHRASE,
        wrong,
    );
    add(
        "ciphertext-length",
        "47 bytes of ciphertext, not a multiple of 16",
        with(&|p| {
            p.data = tlv(0x04, &ciphertext[..47]);
        }),
        PASSPHRASE,
        wrong,
    );

    // "u" and a combining diaeresis: a reader that normalises to NFC derives
    // another key.
    let decomposed = "Stadtverwaltung Du\u{308}ren";
    let decomposed_data = cheap
        .encrypt(decomposed.as_bytes(), &pkcs8_of(&a.seed()))
        .expect("encrypt");
    add(
        "passphrase-not-normalised",
        "encrypted with a passphrase holding u + U+0308 (not NFC): opened with exactly those bytes",
        with(&|p| {
            p.data = tlv(0x04, &decomposed_data);
        }),
        decomposed,
        Ok(did),
    );
    add(
        "empty-passphrase",
        "the valid file opened with the empty passphrase",
        valid.clone(),
        "",
        wrong,
    );
    add(
        "ciphertext-empty",
        "encryptedData empty",
        with(&|p| {
            p.data = tlv(0x04, &[]);
        }),
        PASSPHRASE,
        wrong,
    );
    let mut damaged = ciphertext.clone();
    damaged[20] ^= 0x01;
    add(
        "damaged-seed",
        "one bit of the second ciphertext block flipped: prefix and padding decrypt right, the seed does not, so the did check fails",
        with(&|p| {
            p.data = tlv(0x04, &damaged);
        }),
        PASSPHRASE,
        malformed,
    );
    // Rule 6: the check against the did line.
    add(
        "did-mismatch",
        "the did line names another key than the encrypted one",
        valid.replacen(did, b.did().as_str(), 1),
        PASSPHRASE,
        malformed,
    );

    // 2.2: the plain form.
    let plain = a.to_file_text();
    add(
        "plain-extra-member",
        "the plain form with a fifth member",
        plain.replacen("{", "{\"note\":\"x\",", 1),
        "",
        malformed,
    );
    add(
        "plain-v-text",
        "the plain form with v as the text \"1\"",
        plain.replacen("\"v\":1", "\"v\":\"1\"", 1),
        "",
        malformed,
    );
    let seed_text = plain
        .split("\"seed\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("seed");
    let mut trailing = seed_text.to_owned();
    let last = trailing.pop().expect("char");
    trailing.push(if last == 'o' { 'p' } else { 'o' });
    assert_ne!(trailing, seed_text);
    add(
        "plain-seed-trailing-bits",
        "the plain form whose seed's last character sets an unused bit",
        plain.replacen(seed_text, &trailing, 1),
        "",
        malformed,
    );
    for (name, desc, text) in [
        (
            "plain-type",
            "the plain form with type kx-public-key",
            plain.replacen("kx-secret-key", "kx-public-key", 1),
        ),
        (
            "plain-v-2",
            "the plain form with v 2",
            plain.replacen("\"v\":1", "\"v\":2", 1),
        ),
        (
            "plain-v-float",
            "the plain form with v 1.0 (a number with a fraction part is not the integer 1)",
            plain.replacen("\"v\":1", "\"v\":1.0", 1),
        ),
        (
            "plain-seed-long",
            "the plain form whose seed has 44 characters",
            plain.replacen(seed_text, &format!("{seed_text}A"), 1),
        ),
        (
            "plain-seed-alphabet",
            "the plain form whose seed holds + (standard base64, not base64url)",
            plain.replacen(seed_text, &format!("+{}", &seed_text[1..]), 1),
        ),
        (
            "plain-duplicate-member",
            "the plain form with v twice",
            plain.replacen("\"v\":1", "\"v\":1,\"v\":1", 1),
        ),
        (
            "plain-bom",
            "the plain form after a UTF-8 byte-order mark",
            format!("\u{feff}{plain}"),
        ),
    ] {
        add(name, desc, text, "", malformed);
    }
    add(
        "plain-whitespace",
        "the plain form with members reordered, spaces and no final line break: values are checked, not text",
        format!(
            "{{ \"seed\": \"{seed_text}\", \"did\": \"{did}\", \"v\": 1, \"type\": \"kx-secret-key\" }}"
        ),
        "",
        Ok(did),
    );
    add(
        "plain-did-mismatch",
        "the plain form naming another did than its seed's",
        plain.replacen(did, b.did().as_str(), 1),
        "",
        malformed,
    );
    cases
}
