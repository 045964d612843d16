//! The stewards' standard portfolio: every standard defined on the
//! governance chain, with how many active offers declare and meet it.

use crate::node::Node;
use kx_api::views::{StandardView, StandardsList};
use kx_protocol::Timestamp;

/// Every standard, by id, at `at` (retired ones included, marked).
pub fn list(node: &Node, at: Timestamp) -> StandardsList {
    node.with_index(|state, index| {
        let active = index.active(state, at);
        StandardsList {
            standards: state
                .standards
                .iter()
                .map(|(id, e)| {
                    let (declared, met) = index.standard_uptake(state, id, &active);
                    StandardView {
                        standard_id: id.clone(),
                        record: e.record,
                        retired: e.retired,
                        body: (*e.body).clone(),
                        declared,
                        met,
                    }
                })
                .collect(),
        }
    })
}

/// The title of every standard, by id.
pub fn titles(node: &Node) -> std::collections::BTreeMap<kx_protocol::fields::Slug, String> {
    node.with_state(|state| {
        state
            .standards
            .iter()
            .map(|(id, e)| (id.clone(), e.body.title.to_string()))
            .collect()
    })
}

/// The standards in force (not retired), by id, with their titles.
pub fn in_force(node: &Node) -> Vec<(kx_protocol::fields::Slug, String)> {
    node.with_state(|state| {
        state
            .standards
            .iter()
            .filter(|(_, e)| e.retired.is_none())
            .map(|(id, e)| (id.clone(), e.body.title.to_string()))
            .collect()
    })
}
