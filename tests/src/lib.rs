//! Shared helpers for the KX integration tests.
