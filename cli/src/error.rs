//! A refusal: a record that is invalid, or a request the node (or `kx` itself,
//! before asking) refused, with its stable code. `kx` exits with 3 on one.

use kx_api::ErrorCode;
use std::fmt;

kx_protocol::text_enum! {
    /// Codes of refusals `kx` makes itself, before asking a node.
    pub enum CliCode {
        /// An offer reference that is not `PROVIDER_DID/OFFER_ID`.
        InvalidReference = "invalid_reference",
        /// A draft built on a governance head the federation has moved past.
        StaleAction = "stale_action",
        /// A steward key given to a governance command that is not a current
        /// steward of the node's federation.
        NotASteward = "not_a_steward",
        /// An AGS prefix no NRW municipality's AGS starts with.
        UnknownRegion = "unknown_region",
        /// A genesis file of another federation than the node's.
        OtherFederation = "other_federation",
    }
}

/// The code of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalCode {
    /// A protocol or API code, from the node or from the shared parsers.
    Api(ErrorCode),
    Cli(CliCode),
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalCode::Api(c) => f.write_str(c.as_str()),
            RefusalCode::Cli(c) => f.write_str(c.as_str()),
        }
    }
}

/// A record was invalid or a request refused (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refused {
    pub code: RefusalCode,
    pub message: String,
}

impl Refused {
    /// A refusal with an API or protocol code.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Refused {
        Refused {
            code: RefusalCode::Api(code.into()),
            message: message.into(),
        }
    }

    /// A refusal by `kx` itself.
    pub fn cli(code: CliCode, message: impl Into<String>) -> Refused {
        Refused {
            code: RefusalCode::Cli(code),
            message: message.into(),
        }
    }

    /// True if the node said it has no such thing.
    pub fn is_not_found(&self) -> bool {
        self.code == RefusalCode::Api(ErrorCode::Api(kx_api::ApiCode::NotFound))
    }
}

impl From<kx_api::ApiError> for Refused {
    fn from(e: kx_api::ApiError) -> Refused {
        Refused {
            code: RefusalCode::Api(e.code),
            message: e.message,
        }
    }
}

impl From<kx_protocol::RecordError> for Refused {
    fn from(e: kx_protocol::RecordError) -> Refused {
        Refused::new(e.code(), e.to_string())
    }
}

impl From<kx_protocol::Rejection> for Refused {
    fn from(e: kx_protocol::Rejection) -> Refused {
        Refused::new(e.code(), e.to_string())
    }
}
