//! The transition view (`GET /v1/transition`): per Kreis and kreisfreie Stadt
//! and per category, what is offered, demanded and taken at an instant, where
//! demand finds no offer, which offers carry themselves, and agreements by
//! month. `specs/http-api.yaml` defines every figure.

use crate::error::ApiError;
use crate::query::{Params, query_string};
use crate::views::{MunicipalityRef, ProviderRef};
use kx_protocol::fields::{OfferId, Slug};
use kx_protocol::{Hash32, Timestamp};
use serde::{Deserialize, Serialize};

/// `GET /v1/transition`: the category (default: all) and the instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionQuery {
    pub category: Option<Slug>,
    pub at: Option<Timestamp>,
}

impl TransitionQuery {
    /// The endpoint's parameters.
    pub const PARAMS: &'static [&'static str] = &["category", "at"];

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<TransitionQuery, ApiError> {
        let q = Params::parse(raw, TransitionQuery::PARAMS)?;
        Ok(TransitionQuery {
            category: q.typed("category")?,
            at: q.at()?,
        })
    }

    /// The query string that [`TransitionQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        query_string([
            ("category", self.category.as_ref().map(ToString::to_string)),
            ("at", self.at.map(|t| t.to_string())),
        ])
    }
}

/// The figures of one area (a Kreis, NRW) or one category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// Municipalities in the area.
    pub municipalities: u64,
    /// Active offers delivered to at least one of them.
    pub offers: u64,
    /// Providers showing those offers.
    pub providers: u64,
    /// Municipalities at least one of those offers is delivered to.
    pub covered: u64,
    /// Open demands of the area's municipalities.
    pub open_demand: u64,
    /// Municipalities with an open demand no active offer answers.
    pub gaps: u64,
    /// Active agreements with a taker in the area.
    pub active_agreements: u64,
    /// Municipalities taking part in an active agreement.
    pub takers: u64,
    /// Takers served by a provider they are not a member of.
    pub exchange: u64,
}

/// A Kreis, StädteRegion or kreisfreie Stadt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFigures {
    /// 5-digit AGS.
    pub ags: String,
    pub name: String,
    /// `kreis`, `kreisfreie_stadt` or `staedteregion`.
    pub level: String,
    pub figures: Figures,
    /// The municipalities counted in `gaps`, by AGS.
    pub gap_municipalities: Vec<MunicipalityRef>,
}

/// A category of the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryRef {
    pub slug: Slug,
    /// German label (the slug for a category outside the taxonomy).
    pub name: String,
}

/// One category across NRW.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryFigures {
    pub category: CategoryRef,
    pub figures: Figures,
}

/// An active offer that declares its break-even.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakEvenView {
    /// The provider it is shown under.
    pub provider: ProviderRef,
    pub offer_id: OfferId,
    pub title: String,
    /// Its current version.
    pub record: Hash32,
    /// Takers of its active agreements within capacity.
    pub takers: u64,
    pub break_even: u64,
    /// `takers >= break_even`.
    pub self_sustaining: bool,
}

/// Agreements started and ended in one calendar month (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    pub started: u64,
    pub ended: u64,
}

/// `GET /v1/transition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionView {
    pub at: Timestamp,
    /// The category the figures are for (None: all).
    pub category: Option<CategoryRef>,
    /// All NRW.
    pub totals: Figures,
    /// Active agreements in which a provider is a taker (providers buying
    /// from providers; not in the areas' figures).
    pub between_providers: u64,
    /// The 53 Kreise, StädteRegion and kreisfreie Städte, by AGS.
    pub regions: Vec<RegionFigures>,
    /// The top-level categories (or the chosen category's children, or the
    /// chosen category alone), across NRW.
    pub categories: Vec<CategoryFigures>,
    /// Active offers that declare a break-even, by provider and offer id.
    pub break_even: Vec<BreakEvenView>,
    /// The 24 months up to the instant's, oldest first.
    pub months: Vec<MonthFigures>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_reads_back_as_itself() {
        let q =
            TransitionQuery::parse("category=e-akte-dms&at=2026-02-01T00:00:00Z").expect("parse");
        assert_eq!(TransitionQuery::parse(&q.to_query_string()), Ok(q));
        assert!(TransitionQuery::parse("region=05").is_err());
        assert!(TransitionQuery::parse("category=Not A Slug").is_err());
    }
}
