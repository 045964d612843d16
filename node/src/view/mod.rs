//! The read model: what the node shows, computed from the registry's state and
//! the records in the store, for an instant the caller passes in. The HTTP API
//! serialises these views (`http/`) and the catalog renders them through its
//! templates (`catalog/`): neither decides anything of its own.
//!
//! - `offers.rs`: searches (filters → index candidates → views), one offer,
//!   the catalog's ranking;
//! - `providers.rs`: providers, their portfolios, authors' log heads;
//! - `exchange.rs`: requests, agreements, demand, an offer's uptake;
//! - `municipalities.rs`: municipalities as buyers and takers;
//! - `standards.rs`: the stewards' standards and their uptake;
//! - `status.rs`: the node's status;
//! - `survey.rs`: market-survey bundles;
//! - `transition.rs`: the transition view (figures per Kreis and category).
//!
//! Offer bodies are not in memory: a view reads the records it shows from the
//! store. It learns their ids under the registry lock, reads them with no lock
//! held ([`Loaded`]), and builds the view under the lock again, so store reads
//! never hold up the writer. A record never changes under its id, so the ids
//! read cannot go stale; an id that appeared meanwhile is read on demand.

pub mod exchange;
pub mod municipalities;
pub mod offers;
pub mod providers;
pub mod standards;
pub mod status;
pub mod survey;
pub mod transition;

use crate::index::Load;
use crate::node::Node;
use kx_protocol::registry::OfferEntry;
use kx_protocol::{Body, Hash32, VerifiedRecord};
use std::collections::HashMap;

/// Records read ahead of building a view, and the node for any other.
pub(crate) struct Loaded<'a> {
    node: &'a Node,
    records: HashMap<Hash32, VerifiedRecord>,
}

impl<'a> Loaded<'a> {
    /// Reads `ids` (with no registry lock held).
    pub(crate) fn read(node: &'a Node, ids: impl IntoIterator<Item = Hash32>) -> Loaded<'a> {
        let records = ids
            .into_iter()
            .filter_map(|id| Some((id, node.record(&id)?)))
            .collect();
        Loaded { node, records }
    }

    /// A record by id: read ahead, or from the node.
    pub(crate) fn get(&self, id: &Hash32) -> Option<VerifiedRecord> {
        self.records
            .get(id)
            .cloned()
            .or_else(|| self.node.record(id))
    }

    /// As the index's loader.
    pub(crate) fn load(&self) -> impl Fn(&Hash32) -> Option<VerifiedRecord> + '_ {
        |id| self.get(id)
    }
}

/// The current version of an offer, read back through `load`, if it is an
/// offer record.
pub(crate) fn current_record(entry: &OfferEntry, load: Load<'_>) -> Option<VerifiedRecord> {
    let rec = load(&entry.current()?.record)?;
    matches!(rec.record().body, Body::Offer(_)).then_some(rec)
}
