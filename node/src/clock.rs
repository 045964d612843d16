//! The node's clock: the one place that reads the system time. Everything else
//! takes the instant as an argument (the read model, the search index), so
//! that what a page shows is a function of the state and the instant asked
//! about.

use kx_protocol::Timestamp;

/// The current instant, to the second.
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Timestamp::from_unix(secs).unwrap_or(Timestamp::EPOCH)
}
