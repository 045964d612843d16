//! The error body of every failed request, `{"error": {"code", "message"}}`,
//! and its code: the protocol's record and gate codes, or one of the API's own.

use kx_protocol::{GateCode, RecordCode, RejectCode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

kx_protocol::text_enum! {
    /// The codes the API adds to the protocol's: about the request, not a
    /// record.
    #[non_exhaustive]
    pub enum ApiCode {
        /// A query parameter's value is not acceptable (also: given twice, or a
        /// query string over 4096 bytes).
        InvalidQuery = "invalid_query",
        /// A query parameter the endpoint does not have.
        UnknownParameter = "unknown_parameter",
        /// A path parameter that is not UTF-8 after percent-decoding.
        InvalidPath = "invalid_path",
        NotFound = "not_found",
        MethodNotAllowed = "method_not_allowed",
        /// No NRW municipality has this name or AGS.
        UnknownMunicipality = "unknown_municipality",
        /// The name fits several municipalities; the message lists them.
        AmbiguousMunicipality = "ambiguous_municipality",
        /// `issued_at` more than 600 s ahead of the node's clock; offer the
        /// record again later.
        FutureDated = "future_dated",
        /// The node's storage failed; it takes no more writes.
        StorageError = "storage_error",
        ShuttingDown = "shutting_down",
        /// The node is an observer: it accepts no submissions.
        Observer = "observer",
        /// `GET /readyz`: not yet caught up with its peers.
        NotReady = "not_ready",
        /// The client is over its rate limit; `Retry-After` says when to
        /// come back.
        RateLimited = "rate_limited",
        /// The request took longer than `request_timeout_secs` to answer.
        Timeout = "timeout",
        /// `GET /v1/survey`: no checkpoint of the node has a quorum of
        /// witness cosignatures yet (or the records it names changed since);
        /// ask again after `Retry-After`.
        NotWitnessed = "not_witnessed",
    }
}

/// The code of an API error: what a client matches on. Its text form is the
/// `code` of the error body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The record itself (`specs/protocol.md` 2-5).
    Record(RecordCode),
    /// The ingest gate (`specs/protocol.md` 7).
    Gate(GateCode),
    /// The request.
    Api(ApiCode),
    /// A signed checkpoint (`specs/checkpoints.md` 3).
    Checkpoint(kx_protocol::checkpoint::CheckpointCode),
    /// A market-survey bundle (`specs/checkpoints.md` 8).
    Survey(crate::survey::SurveyCode),
    /// A code this version does not know (from a newer node), as sent.
    Other(String),
}

impl ErrorCode {
    /// The stable text form.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Record(c) => c.as_str(),
            ErrorCode::Gate(c) => c.as_str(),
            ErrorCode::Api(c) => c.as_str(),
            ErrorCode::Checkpoint(c) => c.as_str(),
            ErrorCode::Survey(c) => c.as_str(),
            ErrorCode::Other(text) => text,
        }
    }

    /// Reads a code's text form; an unknown one becomes [`ErrorCode::Other`].
    pub fn from_text(text: &str) -> ErrorCode {
        if let Ok(c) = text.parse() {
            ErrorCode::Record(c)
        } else if let Ok(c) = text.parse() {
            ErrorCode::Gate(c)
        } else if let Ok(c) = text.parse::<ApiCode>() {
            ErrorCode::Api(c)
        } else if let Ok(c) = text.parse() {
            ErrorCode::Checkpoint(c)
        } else if let Ok(c) = text.parse() {
            ErrorCode::Survey(c)
        } else {
            ErrorCode::Other(text.to_owned())
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RecordCode> for ErrorCode {
    fn from(c: RecordCode) -> ErrorCode {
        ErrorCode::Record(c)
    }
}

impl From<GateCode> for ErrorCode {
    fn from(c: GateCode) -> ErrorCode {
        ErrorCode::Gate(c)
    }
}

impl From<ApiCode> for ErrorCode {
    fn from(c: ApiCode) -> ErrorCode {
        ErrorCode::Api(c)
    }
}

impl From<kx_protocol::checkpoint::CheckpointCode> for ErrorCode {
    fn from(c: kx_protocol::checkpoint::CheckpointCode) -> ErrorCode {
        ErrorCode::Checkpoint(c)
    }
}

impl From<crate::survey::SurveyCode> for ErrorCode {
    fn from(c: crate::survey::SurveyCode) -> ErrorCode {
        ErrorCode::Survey(c)
    }
}

impl From<RejectCode> for ErrorCode {
    fn from(c: RejectCode) -> ErrorCode {
        match c {
            RejectCode::Record(c) => ErrorCode::Record(c),
            RejectCode::Gate(c) => ErrorCode::Gate(c),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ErrorCode::from_text(&text))
    }
}

/// What went wrong with a request: the inner object of the error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `invalid_query` with `message`.
    pub fn invalid_query(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::InvalidQuery, message)
    }

    /// `not_found` with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::NotFound, message)
    }
}

impl From<kx_protocol::RecordError> for ApiError {
    fn from(e: kx_protocol::RecordError) -> ApiError {
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<kx_protocol::Rejection> for ApiError {
    fn from(e: kx_protocol::Rejection) -> ApiError {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_into_their_layer() {
        for code in [
            ErrorCode::Record(RecordCode::MalformedAgs),
            ErrorCode::Gate(GateCode::NotMember),
            ErrorCode::Api(ApiCode::UnknownMunicipality),
            ErrorCode::Survey(crate::survey::SurveyCode::BelowQuorum),
            ErrorCode::Other("from_a_newer_node".into()),
        ] {
            assert_eq!(ErrorCode::from_text(code.as_str()), code);
        }
        let body = ErrorBody {
            error: ApiError::new(ApiCode::NotFound, "no offer x"),
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"error":{"code":"not_found","message":"no offer x"}}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBody>(&text).ok(), Some(body));
    }

    #[test]
    fn api_codes_do_not_shadow_protocol_codes() {
        for c in ApiCode::ALL {
            assert!(c.as_str().parse::<RecordCode>().is_err(), "{c}");
            assert!(c.as_str().parse::<GateCode>().is_err(), "{c}");
        }
    }
}
