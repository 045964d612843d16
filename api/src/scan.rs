//! The full-scan definition of the search filters: an offer matches if its
//! current version passes every filter given. A node's search index must find
//! exactly these offers, in (provider, offer id) order (its tests compare the
//! two); a market-survey bundle is re-derived with it (`survey`).

use crate::Filters;
use kx_protocol::body::OfferBody;
use kx_protocol::registry::OfferEntry;
use kx_protocol::{Did, State, Timestamp, taxonomy, terms};

impl Filters {
    /// True if the current version `b` of `entry`, an offer of `provider`,
    /// passes every filter at `at`.
    pub fn matches(
        &self,
        state: &State,
        provider: &Did,
        entry: &OfferEntry,
        b: &OfferBody,
        at: Timestamp,
    ) -> bool {
        let f = self;
        if !f.include.contains(&state.offer_status(provider, entry, at)) {
            return false;
        }
        if let Some(p) = &f.provider {
            let shown = state.shown_under(provider, &b.offer_id, at);
            if p != provider && *p != shown {
                return false;
            }
        }
        if let Some(m) = f.municipality {
            if !b.regions.iter().any(|r| r.covers(&m.ags)) {
                return false;
            }
            if let Some(want) = f.procurement
                && !want.accepts(state.procurement(provider, b, &m.ags, at))
            {
                return false;
            }
        }
        if let Some(r) = &f.region
            && !b.regions.iter().any(|p| p.covers(r.as_str()))
        {
            return false;
        }
        if let Some(c) = &f.category
            && !taxonomy::is_within(b.category.as_str(), c.as_str())
        {
            return false;
        }
        if let Some(o) = &f.ozg
            && !b.ozg_ids.contains(o)
        {
            return false;
        }
        if let Some(l) = &f.leika
            && !b.leika_keys.contains(l)
        {
            return false;
        }
        if let Some(c) = &f.cert
            && !b.certifications.contains(c)
        {
            return false;
        }
        if let Some(id) = &f.standard
            && !(b.conforms_to.iter().flatten().any(|s| s == id)
                && terms::conformance(&b.into(), id, &state.standards).met())
        {
            return false;
        }
        if !f.words.is_empty() {
            let text = format!("{} {} {}", b.title, b.summary, b.description).to_lowercase();
            if !f.words.iter().all(|w| text.contains(w.as_str())) {
                return false;
            }
        }
        true
    }
}
