//! Market surveys (`specs/checkpoints.md` 8): the bundle of a search for a
//! municipality at an instant, made on the node's last witnessed checkpoint
//! from the records that checkpoint names, so that anyone can check it
//! offline (`kx survey verify`).

use crate::checkpoints::Checkpoints;
use crate::node::Node;
use kx_api::{ApiCode, ApiError, Filters};
use kx_protocol::{SecretKey, Timestamp};

/// The bundle of `filters` at `at`, and how many offers it shows; or
/// `not_witnessed` while the node has no checkpoint with a quorum of
/// cosignatures whose records it can show.
pub fn bundle(
    node: &Node,
    checkpoints: &Checkpoints,
    key: &SecretKey,
    filters: &Filters,
    at: Timestamp,
) -> Result<(Vec<u8>, usize), ApiError> {
    let not_witnessed = |why: String| ApiError::new(ApiCode::NotWitnessed, why);
    let (note, frontier) = checkpoints.witnessed(node, key).ok_or_else(|| {
        not_witnessed(
            "no checkpoint of this node has the quorum of witness cosignatures yet".to_owned(),
        )
    })?;
    let (genesis, ids) = node.with_registry(|r| (r.genesis().clone(), r.named(&frontier)));
    let ids = ids.ok_or_else(|| {
        not_witnessed(
            "the records of the node's witnessed checkpoint changed since; a newer one is being witnessed"
                .to_owned(),
        )
    })?;
    let records = ids
        .iter()
        .map(|id| node.record(id))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| not_witnessed("a record the checkpoint names was cut off".to_owned()))?;
    let (bytes, rows) =
        kx_api::survey::assemble(&genesis, &note, &frontier, records, filters, at, key)
            .map_err(|e| not_witnessed(format!("the witnessed checkpoint cannot be shown: {e}")))?;
    Ok((bytes, rows.len()))
}
