//! Strict JSON: the parser every record goes through, and the RFC 8785 (JCS) writer
//! that defines signed bytes.
//!
//! Generic JSON parsers are too lenient for signed data: they keep the last of two
//! duplicate keys, turn `1.0` into a float and round integers above 2^53. Each of those
//! would let two nodes read the same bytes differently, so this parser rejects them
//! with their own error codes. The output is a `serde_json::Value` that only ever
//! holds integers within ±(2^53 - 1), strings, booleans, null, arrays and objects.

use crate::code::RecordCode;
use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// Largest magnitude an integer may have: 2^53 - 1 (I-JSON, RFC 7493).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 32;

/// Why a byte string is not acceptable JSON. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    #[error("input is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("malformed JSON at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("duplicate object key {key:?} at byte {offset}")]
    DuplicateKey { key: String, offset: usize },
    #[error("number at byte {offset} has a fraction or exponent; records hold integers only")]
    Float { offset: usize },
    #[error("integer at byte {offset} is outside ±(2^53 - 1)")]
    IntegerOutOfRange { offset: usize },
    #[error("nesting deeper than {max} levels at byte {offset}")]
    TooDeep { offset: usize, max: usize },
}

impl JsonError {
    /// Stable error code, as listed in `specs/protocol.md`.
    pub fn code(&self) -> RecordCode {
        match self {
            JsonError::InvalidUtf8 { .. } => RecordCode::InvalidUtf8,
            JsonError::Malformed { .. } => RecordCode::MalformedJson,
            JsonError::DuplicateKey { .. } => RecordCode::DuplicateKey,
            JsonError::Float { .. } => RecordCode::FloatNotAllowed,
            JsonError::IntegerOutOfRange { .. } => RecordCode::IntegerOutOfRange,
            JsonError::TooDeep { .. } => RecordCode::TooDeep,
        }
    }
}

/// Parses one JSON value that fills `input` (surrounding whitespace allowed).
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    let text = std::str::from_utf8(input).map_err(|e| JsonError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.malformed("trailing data after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn malformed(&self, reason: &'static str) -> JsonError {
        JsonError::Malformed {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect_word(&mut self, word: &'static str, v: Value) -> Result<Value, JsonError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.malformed("unexpected token"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.malformed("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.expect_word("true", Value::Bool(true)),
            Some(b'f') => self.expect_word("false", Value::Bool(false)),
            Some(b'n') => self.expect_word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.malformed("unexpected character")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep {
                offset: self.pos,
                max: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.malformed("expected a string key"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            // Checked when the name is read, before the member's value.
            if map.contains_key(&key) {
                return Err(JsonError::DuplicateKey {
                    key,
                    offset: key_at,
                });
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.malformed("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value(depth)?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.malformed("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.malformed("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return Err(self.malformed("expected a digit")),
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(JsonError::Float { offset: start });
        }
        let digits = &self.text[digits_start..self.pos];
        // 16 digits already exceed 2^53 - 1 (a 16-digit number); bound the parse so a
        // thousand-digit integer costs nothing.
        let magnitude: i64 = if digits.len() > 16 {
            i64::MAX
        } else {
            digits.parse().unwrap_or(i64::MAX)
        };
        if magnitude > MAX_SAFE_INTEGER {
            return Err(JsonError::IntegerOutOfRange { offset: start });
        }
        if negative && magnitude == 0 {
            self.pos = start;
            return Err(self.malformed("negative zero"));
        }
        let n = if negative { -magnitude } else { magnitude };
        Ok(Value::Number(Number::from(n)))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(h) = self.text.get(self.pos..self.pos + 4) else {
            return Err(self.malformed("truncated \\u escape"));
        };
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.malformed("bad \\u escape"));
        }
        self.pos += 4;
        u32::from_str_radix(h, 16).map_err(|_| self.malformed("bad \\u escape"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.malformed("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.malformed("unterminated escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.pos..].starts_with(b"\\u") {
                                    return Err(self.malformed("lone high surrogate"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.malformed("lone high surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.malformed("lone low surrogate"));
                            } else {
                                hi
                            };
                            match char::from_u32(cp) {
                                Some(c) => out.push(c),
                                None => return Err(self.malformed("invalid code point")),
                            }
                        }
                        _ => return Err(self.malformed("unknown escape")),
                    }
                }
                Some(_) => return Err(self.malformed("control character in string")),
            }
        }
    }
}

/// Why a value cannot be written canonically (only reachable for values that did not
/// come from [`parse`], e.g. a float built in code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    #[error("value holds a non-integer or out-of-range number: {0}")]
    Number(String),
}

/// RFC 8785 canonical form of `v`. Records hold no floats, so numbers are plain
/// integers; object members are sorted by the UTF-16 code units of their names.
pub fn canonical(v: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::new();
    write_canonical(v, &mut out)?;
    Ok(out.into_bytes())
}

fn write_canonical(v: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => {
                let _ = write!(out, "{i}");
            }
            _ => return Err(CanonicalError::Number(n.to_string())),
        },
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(&map[k], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Writes `s` as a JCS string (quoted and escaped).
pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Copy runs without anything to escape in one go; every escaped character
    // is ASCII, so the runs split at character boundaries.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        match parse(input.as_bytes()) {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }

    #[test]
    fn rejects_what_lenient_parsers_accept() {
        assert_eq!(code(r#"{"a":1,"a":2}"#), "duplicate_key");
        assert_eq!(code(r#"{"a":1,"a":1.5}"#), "duplicate_key");
        assert_eq!(code(r#"{"a":-0.5}"#), "float_not_allowed");
        assert_eq!(
            code(&format!("{}1{}", "[".repeat(32), "]".repeat(32))),
            "ok"
        );
        assert_eq!(
            code(&format!("{}1{}", "[".repeat(33), "]".repeat(33))),
            "too_deep"
        );
        assert_eq!(code(r#"{"a":1.0}"#), "float_not_allowed");
        assert_eq!(code(r#"{"a":1e3}"#), "float_not_allowed");
        assert_eq!(code(r#"{"a":9007199254740992}"#), "integer_out_of_range");
        assert_eq!(code(r#"{"a":-9007199254740992}"#), "integer_out_of_range");
        assert_eq!(code(r#"{"a":9007199254740991}"#), "ok");
        assert_eq!(code(r#"{"a":-0}"#), "malformed_json");
        assert_eq!(code(r#"{"a":01}"#), "malformed_json");
        assert_eq!(code(r#"{"a":"\ud800"}"#), "malformed_json");
        assert_eq!(code("{\"a\":\"x\u{1}\"}"), "malformed_json");
        assert_eq!(code(r#"{"a":1} x"#), "malformed_json");
        assert_eq!(code(&"[".repeat(40)), "too_deep");
        assert_eq!(
            parse(b"{\"a\":\"\xff\"}").map_err(|e| e.code()),
            Err(RecordCode::InvalidUtf8)
        );
    }

    #[test]
    fn canonical_sorts_by_utf16_and_escapes_like_jcs() {
        let v = parse("{\"b\":[1,-2,true,null],\"a\":\"\\u0007\\n\\u00e9\\ud83d\\ude00\",\"\u{e000}\":1,\"\u{1f600}\":2}".as_bytes())
            .expect("valid");
        let c = String::from_utf8(canonical(&v).expect("canonical")).expect("utf8");
        // U+1F600 is a surrogate pair (D83D ...) and so sorts before U+E000 in UTF-16.
        assert_eq!(
            c,
            "{\"a\":\"\\u0007\\n\u{e9}\u{1f600}\",\"b\":[1,-2,true,null],\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }
}
