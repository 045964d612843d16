//! Checked field types used in record bodies: hashes, timestamps, AGS keys, slugs,
//! catalogue identifiers and bounded text.
//!
//! Each type can only be built through its parser, so a body that deserialised is
//! already valid field by field. Parse errors carry a stable code through serde
//! (see [`coded`] and `de.rs`), so that the record layer reports `malformed_ags`
//! rather than a generic "invalid value".

use crate::code::RecordCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An error with a stable, machine-readable code.
pub trait Coded: fmt::Display {
    /// Stable error code, as listed in `specs/protocol.md`.
    fn code(&self) -> RecordCode;
}

/// Wraps a coded error into a deserializer's error without losing its code
/// (see `de.rs`).
pub(crate) fn coded<E: serde::de::Error, T: Coded>(e: T) -> E {
    crate::de::coded(e.code(), &e)
}

/// A field value that does not have the required form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    code: RecordCode,
    message: String,
}

impl FieldError {
    pub(crate) fn new(code: RecordCode, message: impl Into<String>) -> FieldError {
        FieldError {
            code,
            message: message.into(),
        }
    }
}

impl Coded for FieldError {
    fn code(&self) -> RecordCode {
        self.code
    }
}

fn show(s: &str) -> String {
    let mut t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    format!("{t:?}")
}

/// Implements Display, Debug, serde and `as_str` for a string newtype with a
/// `FromStr` that checks it.
macro_rules! string_field {
    ($name:ident) => {
        impl $name {
            /// The checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(coded::<D::Error, FieldError>)
            }
        }
    };
}

/// A SHA-256 value as 64 lowercase hex characters: record ids, action digests,
/// federation ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
        }
        s
    }

    /// First 12 hex characters, for logs and tables.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

impl FromStr for Hash32 {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Hash32, FieldError> {
        let b = s.as_bytes();
        if b.len() != 64 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(FieldError::new(
                RecordCode::MalformedHash,
                format!("{} is not 64 lowercase hex characters", show(s)),
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
            let lo = (pair[1] as char).to_digit(16).unwrap_or(0);
            out[i] = (hi * 16 + lo) as u8;
        }
        Ok(Hash32(out))
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.short())
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash32, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(coded::<D::Error, FieldError>)
    }
}

/// An instant, written as RFC 3339 in UTC with whole seconds: `2026-01-31T23:59:59Z`.
/// Only that one spelling is accepted, so every instant has exactly one text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// From seconds since the epoch; years 1970 to 9999.
    pub fn from_unix(secs: i64) -> Option<Timestamp> {
        (0..=253_402_300_799)
            .contains(&secs)
            .then_some(Timestamp(secs))
    }

    /// The date part `YYYY-MM-DD`.
    pub fn date(self) -> String {
        self.to_string()[..10].to_owned()
    }

    /// The same day and time `months` calendar months later; a day the month
    /// does not have becomes its last day (Jan 31 + 1 month = Feb 28 or 29).
    /// None past 9999.
    pub fn plus_months(self, months: u64) -> Option<Timestamp> {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let index = y.checked_mul(12)?.checked_add(m - 1)?;
        let index = index.checked_add(i64::try_from(months).ok()?)?;
        let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
        let d = d.min(days_in_month(y, m));
        Timestamp::from_unix(days_from_civil(y, m, d).checked_mul(86_400)? + secs)
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's algorithm, proleptic Gregorian calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl FromStr for Timestamp {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Timestamp, FieldError> {
        let bad = || {
            FieldError::new(
                RecordCode::MalformedTimestamp,
                format!(
                    "{} is not a UTC timestamp like 2026-01-31T23:59:59Z",
                    show(s)
                ),
            )
        };
        let b = s.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, FieldError> {
            let part = &b[r];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            Ok(part.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if y < 1970 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
            return Err(bad());
        }
        if h > 23 || mi > 59 || se > 59 {
            return Err(bad());
        }
        Ok(Timestamp(
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se,
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(coded::<D::Error, FieldError>)
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// An AGS prefix naming a region an offer may be delivered to: 2 digits (Land, `05` =
/// NRW), 3 (Regierungsbezirk), 5 (Kreis or kreisfreie Stadt) or 8 (Gemeinde).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgsPrefix(String);

string_field!(AgsPrefix);

impl AgsPrefix {
    /// True if a region with this AGS (any length) lies inside this prefix:
    /// `05158` covers `05158004` and `05158`, `05` covers all of NRW.
    pub fn covers(&self, ags: &str) -> bool {
        ags.starts_with(&self.0)
    }
}

impl FromStr for AgsPrefix {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<AgsPrefix, FieldError> {
        if !all_digits(s) || ![2, 3, 5, 8].contains(&s.len()) || s.starts_with("00") {
            return Err(FieldError::new(
                RecordCode::MalformedAgs,
                format!(
                    "{} is not an AGS prefix of 2, 3, 5 or 8 digits (e.g. 05, 05158, 05158004)",
                    show(s)
                ),
            ));
        }
        Ok(AgsPrefix(s.to_owned()))
    }
}

/// A lowercase slug: `[a-z0-9]` words joined by single hyphens, at most 64
/// characters. Categories, certifications and standards use the slugs of the
/// taxonomy; unknown slugs are well-formed but not in the catalogue.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

string_field!(Slug);

impl FromStr for Slug {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Slug, FieldError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !ok {
            return Err(FieldError::new(
                RecordCode::MalformedSlug,
                format!(
                    "{} is not a slug (lowercase letters and digits joined by single hyphens, at most 64)",
                    show(s)
                ),
            ));
        }
        Ok(Slug(s.to_owned()))
    }
}

/// A provider-chosen offer identifier, stable across versions: 1 to 64 characters of
/// `[a-z0-9._-]`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferId(std::sync::Arc<str>);

string_field!(OfferId);

impl OfferId {
    /// The same id in an allocation of its own (clones share one). For ids kept
    /// long, so that they do not pin memory allocated next to them.
    pub fn detached(&self) -> OfferId {
        OfferId(std::sync::Arc::from(&*self.0))
    }

    /// Sorts before every valid offer id (for range bounds only; never valid).
    pub(crate) fn min_bound() -> OfferId {
        OfferId("".into())
    }
}

impl FromStr for OfferId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<OfferId, FieldError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 64
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c));
        if !ok {
            return Err(FieldError::new(
                RecordCode::MalformedOfferId,
                format!(
                    "{} is not an offer id (1-64 of a-z 0-9 . _ -, starting with a letter or digit)",
                    show(s)
                ),
            ));
        }
        Ok(OfferId(s.into()))
    }
}

/// A buyer-chosen demand identifier, stable across versions: the same form as
/// an offer id (1 to 64 characters of `[a-z0-9._-]`, starting with a letter or
/// digit).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DemandId(std::sync::Arc<str>);

string_field!(DemandId);

impl DemandId {
    /// The same id in an allocation of its own (see [`OfferId::detached`]).
    pub fn detached(&self) -> DemandId {
        DemandId(std::sync::Arc::from(&*self.0))
    }

    /// Sorts before every valid demand id (for range bounds only; never valid).
    pub(crate) fn min_bound() -> DemandId {
        DemandId("".into())
    }
}

impl FromStr for DemandId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<DemandId, FieldError> {
        match s.parse::<OfferId>() {
            Ok(_) => Ok(DemandId(s.into())),
            Err(_) => Err(FieldError::new(
                RecordCode::MalformedDemandId,
                format!(
                    "{} is not a demand id (1-64 of a-z 0-9 . _ -, starting with a letter or digit)",
                    show(s)
                ),
            )),
        }
    }
}

/// An OZG-Leistung id from the OZG-Umsetzungskatalog: 1 to 8 digits, e.g. `10124`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OzgId(String);

string_field!(OzgId);

impl FromStr for OzgId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<OzgId, FieldError> {
        if !all_digits(s) || s.len() > 8 {
            return Err(FieldError::new(
                RecordCode::MalformedOzgId,
                format!("{} is not an OZG id (1-8 digits, e.g. 10124)", show(s)),
            ));
        }
        Ok(OzgId(s.to_owned()))
    }
}

/// A LeiKa key (Leistungsschlüssel): exactly 14 digits, e.g. `99115005104000`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeikaKey(String);

string_field!(LeikaKey);

impl FromStr for LeikaKey {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<LeikaKey, FieldError> {
        if !all_digits(s) || s.len() != 14 {
            return Err(FieldError::new(
                RecordCode::MalformedLeikaKey,
                format!("{} is not a LeiKa key (14 digits)", show(s)),
            ));
        }
        Ok(LeikaKey(s.to_owned()))
    }
}

/// A three-letter ISO 4217 currency code in capitals, e.g. `EUR`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(String);

string_field!(Currency);

impl FromStr for Currency {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Currency, FieldError> {
        if s.len() != 3 || !s.bytes().all(|c| c.is_ascii_uppercase()) {
            return Err(FieldError::new(
                RecordCode::MalformedCurrency,
                format!("{} is not an ISO 4217 code like EUR", show(s)),
            ));
        }
        Ok(Currency(s.to_owned()))
    }
}

/// Text with a length limit in characters, no control characters except newline
/// and tab, and no leading or trailing whitespace. `N` is the limit; `1` below it is
/// the minimum unless the type alias says it may be empty.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    /// The checked text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> FromStr for Text<MIN, MAX> {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        let n = s.chars().count();
        if n < MIN || n > MAX {
            return Err(FieldError::new(
                RecordCode::InvalidLength,
                format!("text has {n} characters; allowed are {MIN} to {MAX}"),
            ));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(FieldError::new(
                RecordCode::InvalidText,
                "text contains control characters",
            ));
        }
        if s.trim() != s {
            return Err(FieldError::new(
                RecordCode::InvalidText,
                "text has leading or trailing whitespace",
            ));
        }
        Ok(Text(s.to_owned()))
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Debug for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<const MIN: usize, const MAX: usize> Serialize for Text<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for Text<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(coded::<D::Error, FieldError>)
    }
}

/// A name or title: 1 to 200 characters.
pub type Name = Text<1, 200>;
/// A summary: 0 to 500 characters.
pub type Summary = Text<0, 500>;
/// A long description: 0 to 8000 characters.
pub type Description = Text<0, 8000>;
/// A short free-text value (support hours, e-mail, phone, URL): 1 to 200 characters.
pub type Short = Text<1, 200>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_one_spelling() {
        let t: Timestamp = "2024-02-29T23:59:59Z".parse().expect("leap day");
        assert_eq!(t.to_string(), "2024-02-29T23:59:59Z");
        assert_eq!(
            "1970-01-01T00:00:00Z"
                .parse::<Timestamp>()
                .map(|t| t.unix()),
            Ok(0)
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-01-01T00:00:00+01:00",
            "2024-01-01T00:00:00.5Z",
            "2024-01-01 00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01t00:00:00z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn months_are_added_on_the_calendar() {
        let t = |s: &str| s.parse::<Timestamp>().expect("timestamp");
        let plus = |s: &str, n| t(s).plus_months(n).map(|x| x.to_string());
        assert_eq!(
            plus("2026-01-31T08:00:00Z", 1).as_deref(),
            Some("2026-02-28T08:00:00Z")
        );
        assert_eq!(
            plus("2028-01-31T00:00:00Z", 1).as_deref(),
            Some("2028-02-29T00:00:00Z")
        );
        assert_eq!(
            plus("2026-11-15T00:00:00Z", 14).as_deref(),
            Some("2028-01-15T00:00:00Z")
        );
        assert_eq!(
            plus("2026-03-31T23:59:59Z", 0).as_deref(),
            Some("2026-03-31T23:59:59Z")
        );
        assert_eq!(plus("9999-12-01T00:00:00Z", 1), None);
    }

    #[test]
    fn ags_prefixes_cover_their_regions() {
        let kreis: AgsPrefix = "05158".parse().expect("kreis");
        assert!(kreis.covers("05158004"));
        assert!(!kreis.covers("05162024"));
        let nrw: AgsPrefix = "05".parse().expect("land");
        assert!(nrw.covers("05315000"));
        for bad in ["5", "0515", "051580041", "05a58", "", "00"] {
            assert!(bad.parse::<AgsPrefix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_and_ids() {
        assert!("einwohnerwesen".parse::<Slug>().is_ok());
        assert!("iso27001-grundschutz".parse::<Slug>().is_ok());
        for bad in ["Einwohner", "a--b", "-a", "a-", "a_b", ""] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
        assert!("efa.wohnsitz-2024_v2".parse::<OfferId>().is_ok());
        assert!(".x".parse::<OfferId>().is_err());
        assert!("99115005104000".parse::<LeikaKey>().is_ok());
        assert!("9911500510400".parse::<LeikaKey>().is_err());
    }

    #[test]
    fn hashes_are_lowercase_hex() {
        let h: Hash32 = "ab".repeat(32).parse().expect("hex");
        assert_eq!(h.to_hex(), "ab".repeat(32));
        assert!("AB".repeat(32).parse::<Hash32>().is_err());
    }
}
