//! Reads typed bodies out of a parsed JSON value with an error type that keeps
//! the stable code of what went wrong.
//!
//! serde's error trait carries only a message, and `serde_json`'s error type
//! keeps nothing else: with its deserializer the code of a fault (`unknown_field`,
//! `malformed_ags`, ...) could only be recovered by reading message text. This
//! deserializer's error type, [`DeError`], implements serde's constructors for
//! each structural fault (`unknown_field`, `missing_field`, `invalid_type`, ...)
//! with its code, and the field types of `fields.rs` hand their own code over
//! through [`coded`].

use crate::code::RecordCode;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, Expected, IntoDeserializer, Unexpected, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;

/// A body that does not deserialise: the code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub code: RecordCode,
    pub message: String,
}

impl DeError {
    fn new(code: RecordCode, message: String) -> DeError {
        DeError { code, message }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

thread_local! {
    /// The code of the error [`coded`] is building, for `DeError::custom`. Set
    /// and cleared around one `custom` call: serde's only constructor for an
    /// error of a generic type takes a message, not a code.
    static PENDING: Cell<Option<RecordCode>> = const { Cell::new(None) };
}

/// An error of any deserializer's type for a field value that failed its own
/// check with `code`. [`DeError`] keeps the code; other error types (e.g. when
/// a client reads an API answer with `serde_json`) keep the message.
pub(crate) fn coded<E: de::Error>(code: RecordCode, message: impl fmt::Display) -> E {
    PENDING.with(|p| p.set(Some(code)));
    let e = E::custom(message);
    PENDING.with(|p| p.set(None));
    e
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        let code = PENDING
            .with(|p| p.take())
            .unwrap_or(RecordCode::InvalidValue);
        DeError::new(code, msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> DeError {
        DeError::new(
            RecordCode::InvalidType,
            format!("invalid type: {unexp}, expected {exp}"),
        )
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> DeError {
        DeError::new(
            RecordCode::InvalidValue,
            format!("invalid value: {unexp}, expected {exp}"),
        )
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> DeError {
        DeError::new(
            RecordCode::InvalidValue,
            format!("invalid length {len}, expected {exp}"),
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> DeError {
        DeError::new(
            RecordCode::InvalidValue,
            format!(
                "unknown variant `{variant}`, expected one of {}",
                expected.join(", ")
            ),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> DeError {
        DeError::new(
            RecordCode::UnknownField,
            format!(
                "unknown field `{field}`, expected one of {}",
                expected.join(", ")
            ),
        )
    }

    fn missing_field(field: &'static str) -> DeError {
        DeError::new(RecordCode::MissingField, format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> DeError {
        DeError::new(
            RecordCode::InvalidValue,
            format!("duplicate field `{field}`"),
        )
    }
}

/// A deserializer over a borrowed JSON value with [`DeError`] as its error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueDe<'a>(pub &'a Value);

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, Some(f)) => visitor.visit_f64(f),
                _ => Err(de::Error::invalid_type(unexpected(self.0), &visitor)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(ValueDe));
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(members) => {
                let mut map =
                    MapDeserializer::new(members.iter().map(|(k, v)| (k.as_str(), ValueDe(v))));
                let out = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    /// Enums in bodies are unit variants written as strings.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, DeError> for ValueDe<'de> {
    type Deserializer = ValueDe<'de>;

    fn into_deserializer(self) -> ValueDe<'de> {
        self
    }
}

/// Deserialises `T` from `v`; the error names the path of the fault.
pub(crate) fn from_value<'a, T: de::Deserialize<'a>>(
    v: &'a Value,
) -> Result<T, serde_path_to_error::Error<DeError>> {
    serde_path_to_error::deserialize(ValueDe(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: u64,
        #[serde(default)]
        tag: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Saas,
        OnPremise,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        list: Vec<Inner>,
        mode: Mode,
        ags: crate::fields::AgsPrefix,
    }

    fn code(v: Value) -> Result<Outer, (RecordCode, String)> {
        from_value::<Outer>(&v).map_err(|e| (e.inner().code, e.path().to_string()))
    }

    #[test]
    fn each_fault_keeps_its_code_and_path() {
        use serde_json::json;
        let ok =
            json!({"list": [{"n": 1}, {"n": 2, "tag": "x"}], "mode": "on_premise", "ags": "05158"});
        assert!(code(ok).is_ok());
        let cases = [
            (
                json!({"list": [], "mode": "saas", "ags": "05", "x": 1}),
                RecordCode::UnknownField,
                "x",
            ),
            (
                json!({"list": [], "mode": "saas"}),
                RecordCode::MissingField,
                ".",
            ),
            (
                json!({"list": [{"n": "1"}], "mode": "saas", "ags": "05"}),
                RecordCode::InvalidType,
                "list[0].n",
            ),
            (
                json!({"list": [{"n": -1}], "mode": "saas", "ags": "05"}),
                RecordCode::InvalidValue,
                "list[0].n",
            ),
            (
                json!({"list": [], "mode": "cloud", "ags": "05"}),
                RecordCode::InvalidValue,
                "mode",
            ),
            (
                json!({"list": [], "mode": 1, "ags": "05"}),
                RecordCode::InvalidType,
                "mode",
            ),
            (
                json!({"list": [], "mode": "saas", "ags": "5"}),
                RecordCode::MalformedAgs,
                "ags",
            ),
        ];
        for (v, want, path) in cases {
            let (got, at) = code(v.clone()).expect_err("refused");
            assert_eq!((got, at.as_str()), (want, path), "{v}");
        }
    }

    #[test]
    fn a_code_never_outlives_its_error() {
        // A field type's code given to an error type that ignores it (serde_json)
        // is not picked up by the next plain error.
        let r: Result<crate::fields::AgsPrefix, _> = serde_json::from_str("\"5\"");
        assert!(r.is_err());
        let e = <DeError as de::Error>::custom("plain");
        assert_eq!(e.code, RecordCode::InvalidValue);
    }
}
