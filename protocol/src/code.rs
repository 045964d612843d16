//! Stable error codes, one enum per layer, each with its text form.
//!
//! The text forms are what records' vectors, the HTTP API and the CLI show; they
//! never change. Code compares the enums, never the text: a code is turned into
//! text only where it leaves the process (JSON, logs, messages) and parsed back
//! only where it arrives (a client reading an API error).

/// Declares a fieldless enum with a stable text form: `ALL`, `as_str`,
/// `FromStr`, `Display`, and serde as the text. Used for every layer's codes
/// and for the other enums that APIs show as text (standing, offer status).
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable text form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::code::UnknownCode;
            fn from_str(s: &str) -> Result<$name, $crate::code::UnknownCode> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::code::UnknownCode),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::code::__serde::Serialize for $name {
            fn serialize<S: $crate::code::__serde::Serializer>(
                &self,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::code::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::code::__serde::Deserializer<'de>>(
                d: D,
            ) -> Result<$name, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as $crate::code::__serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|_| {
                    <D::Error as $crate::code::__serde::de::Error>::custom(format!(
                        "unknown {} {:?}",
                        stringify!($name),
                        s
                    ))
                })
            }
        }
    };
}

#[doc(hidden)]
pub use serde as __serde;

/// A text that is not one of an enum's text forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known value")]
pub struct UnknownCode;

text_enum! {
    /// Why bytes are not an acceptable record, key or key file: the codes of the
    /// parsers and of verification (`specs/protocol.md` 2-5), before any registry
    /// state is consulted.
    #[non_exhaustive]
    pub enum RecordCode {
        TooLarge = "too_large",
        InvalidUtf8 = "invalid_utf8",
        MalformedJson = "malformed_json",
        DuplicateKey = "duplicate_key",
        FloatNotAllowed = "float_not_allowed",
        IntegerOutOfRange = "integer_out_of_range",
        TooDeep = "too_deep",
        NotAnObject = "not_an_object",
        UnknownField = "unknown_field",
        MissingField = "missing_field",
        InvalidType = "invalid_type",
        InvalidValue = "invalid_value",
        UnsupportedVersion = "unsupported_version",
        UnknownKind = "unknown_kind",
        InvalidSeq = "invalid_seq",
        InvalidPrev = "invalid_prev",
        MalformedHash = "malformed_hash",
        MalformedDid = "malformed_did",
        WeakKey = "weak_key",
        MalformedTimestamp = "malformed_timestamp",
        MalformedAgs = "malformed_ags",
        MalformedSlug = "malformed_slug",
        MalformedOfferId = "malformed_offer_id",
        MalformedOzgId = "malformed_ozg_id",
        MalformedLeikaKey = "malformed_leika_key",
        MalformedCurrency = "malformed_currency",
        InvalidLength = "invalid_length",
        InvalidText = "invalid_text",
        DuplicateEntry = "duplicate_entry",
        InvalidThreshold = "invalid_threshold",
        InvalidValidity = "invalid_validity",
        NoncanonicalBody = "noncanonical_body",
        MalformedSignature = "malformed_signature",
        BadSignature = "bad_signature",
        BadApproval = "bad_approval",
        FederationMismatch = "federation_mismatch",
        WrongFederation = "wrong_federation",
        /// A secret-key file (2.2), not a record: the CLI's key files.
        MalformedSecretKey = "malformed_secret_key",
        /// An encrypted secret-key file whose passphrase is wrong (or which is damaged).
        WrongPassphrase = "wrong_passphrase",
        /// An encrypted secret-key file with another cipher, KDF or too many iterations.
        UnsupportedKeyEncryption = "unsupported_key_encryption",
        MalformedDemandId = "malformed_demand_id",
        /// An `agreement.end` whose `effective_at` is before its `issued_at`.
        BackdatedEnd = "backdated_end",
    }
}

text_enum! {
    /// Why the ingest gate refused a record that is acceptable on its own
    /// (`specs/protocol.md` 7).
    #[non_exhaustive]
    pub enum GateCode {
        NotMember = "not_member",
        MemberSuspended = "member_suspended",
        MemberRevoked = "member_revoked",
        KeyRotated = "key_rotated",
        NotSteward = "not_steward",
        BelowThreshold = "below_threshold",
        AlreadyMember = "already_member",
        AlreadySuspended = "already_suspended",
        NotSuspended = "not_suspended",
        UnexpectedGenesis = "unexpected_genesis",
        /// A municipality signed a kind only providers sign.
        NotAProvider = "not_a_provider",
        /// A municipality is admitted for an AGS another one holds.
        AgsTaken = "ags_taken",
        /// A provider requests its own offer.
        OwnOffer = "own_offer",
        /// A municipality requests on behalf of others.
        OnBehalfNotAllowed = "on_behalf_not_allowed",
        /// A provider requests for a municipality its profile does not list.
        NotAMemberMunicipality = "not_a_member_municipality",
        /// The record a request names is not an offer.
        NotAnOffer = "not_an_offer",
        /// The requested start lies before the offer's validity.
        StartBeforeOffer = "start_before_offer",
        OfferExpired = "offer_expired",
        /// The requested offer version is withdrawn or consolidated.
        OfferWithdrawn = "offer_withdrawn",
        ProviderSuspended = "provider_suspended",
        ProviderRevoked = "provider_revoked",
        /// An answer by someone other than the offer's provider or its successor.
        NotResponder = "not_responder",
        RequestWithdrawn = "request_withdrawn",
        /// The responder answered this request before.
        AlreadyAnswered = "already_answered",
        /// Neither the buyer nor the offer's provider (or successor).
        NotAParty = "not_a_party",
        /// A consolidation by someone the portfolio did not pass to.
        NotASuccessor = "not_a_successor",
        /// The record it names is not held here (yet): taken when offered
        /// again once that record has arrived.
        UnknownRecord = "unknown_record",
        /// The record an answer, withdrawal or end names is not a request.
        NotARequest = "not_a_request",
        /// An end of a request that is not an agreement.
        NotAnAgreement = "not_an_agreement",
        /// A retirement of a standard that is not in force.
        UnknownStandard = "unknown_standard",
        /// The record lies beyond its identity's allowance of log positions.
        AllowanceExceeded = "allowance_exceeded",
    }
}

/// The code of a refusal by the registry: the record's own fault, or the gate's
/// judgement. (A `prev` that is not the author's record at `seq - 1` is the
/// record code `invalid_prev` in both places.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectCode {
    Record(RecordCode),
    Gate(GateCode),
}

impl RejectCode {
    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Record(c) => c.as_str(),
            RejectCode::Gate(c) => c.as_str(),
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RecordCode> for RejectCode {
    fn from(c: RecordCode) -> RejectCode {
        RejectCode::Record(c)
    }
}

impl From<GateCode> for RejectCode {
    fn from(c: GateCode) -> RejectCode {
        RejectCode::Gate(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique_across_layers() {
        let mut seen = std::collections::BTreeSet::new();
        for c in RecordCode::ALL {
            assert_eq!(c.as_str().parse::<RecordCode>(), Ok(*c));
            assert!(seen.insert(c.as_str()), "{c}");
        }
        for c in GateCode::ALL {
            assert_eq!(c.as_str().parse::<GateCode>(), Ok(*c));
            assert!(seen.insert(c.as_str()), "{c}");
        }
        assert!(seen.iter().all(|c| {
            c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }));
        assert_eq!(
            serde_json::to_string(&RecordCode::MalformedAgs).ok(),
            Some("\"malformed_ags\"".into())
        );
        assert_eq!(
            serde_json::from_str::<GateCode>("\"not_member\"").ok(),
            Some(GateCode::NotMember)
        );
        assert!(serde_json::from_str::<GateCode>("\"nope\"").is_err());
    }
}
