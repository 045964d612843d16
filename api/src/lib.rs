//! kx-api: the typed requests and responses of the node's HTTP API `/v1`.
//!
//! The node parses every request with [`query`] and answers with [`views`];
//! `kx` builds its requests from the same types and reads the answers into the
//! same structs, so a renamed field fails to compile rather than at run time.
//! Errors are [`error::ErrorBody`] with a typed [`error::ErrorCode`].
//! `specs/http-api.yaml` is the contract for other clients; a test in `tests/`
//! checks these types against it.

pub mod error;
pub mod exchange;
pub mod query;
pub mod scan;
pub mod survey;
pub mod transition;
pub mod views;

pub use error::{ApiCode, ApiError, ErrorBody, ErrorCode};
pub use kx_protocol::{GateCode, RecordCode};
pub use query::{
    Figures, Filters, OfferCursor, OfferQuery, ProcurementFilter, SearchQuery, SurveyQuery,
};
