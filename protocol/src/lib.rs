//! kx-protocol: KX records, canonical bytes, keys, signatures, validation and the
//! deterministic registry state.
//!
//! This crate does no IO: no network, storage, clock or randomness. Time comes in
//! as a [`fields::Timestamp`] argument and key seeds as bytes. `specs/protocol.md`
//! is the normative description of everything here; where this code and the spec
//! disagree, the code has a bug.
//!
//! Flow: bytes → [`record::UnverifiedRecord::parse`] (strict JSON, envelope, typed
//! body) → [`record::UnverifiedRecord::verify`] (strict ed25519) →
//! [`registry::Registry::admit`] (trust rules) → [`registry::Registry::state`].

pub mod author;
pub mod body;
pub mod checkpoint;
pub mod code;
mod de;
pub mod fields;
pub mod geo;
pub mod json;
pub mod keyfile;
pub mod keys;
pub mod record;
pub mod registry;
pub mod sync;
pub mod taxonomy;
pub mod terms;

pub use body::{Body, Kind};
pub use code::{GateCode, RecordCode, RejectCode};
pub use fields::{Hash32, Timestamp};
pub use keys::{Did, SecretKey, Signature};
pub use record::{Draft, Record, RecordError, UnverifiedRecord, VerifiedRecord};
pub use registry::{Admitted, Registry, Rejection, Standing, State};
