//! Requests: query strings and path segments parsed into the protocol's types,
//! and written back for clients. The node parses every request here, and `kx`
//! builds its requests from the same types, so both read a parameter the same
//! way.
//!
//! Query strings: each parameter at most once, only the endpoint's names, at
//! most 4096 bytes; an empty value is the same as an absent parameter.

use crate::error::{ApiCode, ApiError};
use kx_protocol::fields::{
    AgsPrefix, DemandId, FieldError, Hash32, LeikaKey, OfferId, OzgId, Slug,
};
use kx_protocol::geo::{self, Municipality, Procurement};
use kx_protocol::keys::KeyError;
use kx_protocol::registry::OfferStatus;
pub use kx_protocol::terms::Quantities as Figures;
use kx_protocol::{Did, Timestamp};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 4096;

/// A parsed query string.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

pub(crate) fn clip(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

impl Params {
    /// Parses `raw` (without `?`), allowing only the names in `allowed`.
    pub fn parse(raw: &str, allowed: &[&str]) -> Result<Params, ApiError> {
        if raw.len() > MAX_QUERY_BYTES {
            return Err(ApiError::invalid_query(format!(
                "query string longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                return Err(ApiError::new(
                    ApiCode::UnknownParameter,
                    format!(
                        "unknown query parameter {:?}; allowed: {}",
                        clip(&k, 40),
                        allowed.join(", ")
                    ),
                ));
            }
            if v.is_empty() {
                return Err(ApiError::invalid_query(format!(
                    "parameter {k} is empty: give a value or leave it out"
                )));
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::invalid_query(format!(
                    "parameter {k} given twice"
                )));
            }
        }
        Ok(Params(map))
    }

    /// A parameter's value (never empty: `parse` refuses empty values).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A parameter parsed with `FromStr`; its error keeps the type's code.
    pub(crate) fn typed<T: FromStr<Err = FieldError>>(
        &self,
        k: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(k)
            .map(|v| v.parse::<T>().map_err(|e| field_error(k, e)))
            .transpose()
    }

    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid_query(format!(
                    "limit must be a number from 1 to {max}"
                ))),
            },
        }
    }

    pub(crate) fn bool(&self, k: &str) -> Result<bool, ApiError> {
        match self.get(k) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::invalid_query(format!(
                "{k} must be true or false"
            ))),
        }
    }

    pub(crate) fn at(&self) -> Result<Option<Timestamp>, ApiError> {
        self.get("at")
            .map(|v| {
                v.parse()
                    .map_err(|e| ApiError::invalid_query(format!("at: {e}")))
            })
            .transpose()
    }

    pub(crate) fn municipality(&self) -> Result<Option<&'static Municipality>, ApiError> {
        self.get("municipality").map(municipality).transpose()
    }

    /// A count (an integer from 0 to 2^53 − 1).
    pub(crate) fn count(&self, k: &str) -> Result<Option<u64>, ApiError> {
        self.get(k)
            .map(|v| match v.parse::<u64>() {
                Ok(n) if n <= kx_protocol::terms::MAX_EXACT => Ok(n),
                _ => Err(ApiError::invalid_query(format!(
                    "{k} must be a whole number from 0 to 9007199254740991"
                ))),
            })
            .transpose()
    }

    /// The buyer's figures for a cost: inhabitants from the municipality,
    /// the rest as given.
    pub(crate) fn figures(&self, m: Option<&Municipality>) -> Result<Figures, ApiError> {
        Ok(Figures {
            inhabitants: m.map(|m| m.population),
            users: self.count("users")?,
            cases: self.count("cases")?,
            hours: self.count("hours")?,
            sites: self.count("sites")?,
            interfaces: self.count("interfaces")?,
        })
    }
}

/// The names of the figure parameters, in the order of `Figures`.
pub const FIGURE_PARAMS: [&str; 5] = ["users", "cases", "hours", "sites", "interfaces"];

/// The figures as query pairs (inhabitants come from the municipality).
pub fn figure_pairs(f: &Figures) -> [(&'static str, Option<String>); 5] {
    let s = |n: Option<u64>| n.map(|n| n.to_string());
    [
        ("users", s(f.users)),
        ("cases", s(f.cases)),
        ("hours", s(f.hours)),
        ("sites", s(f.sites)),
        ("interfaces", s(f.interfaces)),
    ]
}

pub(crate) fn field_error(k: &str, e: FieldError) -> ApiError {
    use kx_protocol::fields::Coded as _;
    ApiError::new(e.code(), format!("{k}: {e}"))
}

/// A query string built from `(name, value)` pairs, empty values left out.
pub(crate) fn query_string<'a>(
    pairs: impl IntoIterator<Item = (&'a str, Option<String>)>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            q.append_pair(k, &v);
        }
    }
    q.finish()
}

/// A provider did from a path segment or parameter.
pub fn parse_did(s: &str) -> Result<Did, ApiError> {
    s.parse()
        .map_err(|e: KeyError| ApiError::new(e.code(), e.to_string()))
}

/// A record id from a path segment or parameter.
pub fn parse_record_id(s: &str) -> Result<Hash32, ApiError> {
    s.parse::<Hash32>().map_err(|e| field_error("id", e))
}

/// An offer id from a path segment.
pub fn parse_offer_id(s: &str) -> Result<OfferId, ApiError> {
    s.parse::<OfferId>().map_err(|e| field_error("offer_id", e))
}

/// Resolves a municipality by name or AGS (`geo::resolve`).
pub fn municipality(text: &str) -> Result<&'static Municipality, ApiError> {
    match geo::resolve(text) {
        Ok(m) => Ok(m),
        Err(candidates) if candidates.is_empty() => {
            let near: Vec<String> = geo::similar(text, 3)
                .iter()
                .map(|m| format!("{} ({})", m.name, m.ags))
                .collect();
            let hint = if near.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", near.join(" or "))
            };
            Err(ApiError::new(
                ApiCode::UnknownMunicipality,
                format!("no NRW municipality is called {:?}{hint}", clip(text, 60)),
            ))
        }
        Err(candidates) => Err(ApiError::new(
            ApiCode::AmbiguousMunicipality,
            format!(
                "{:?} matches {}; give the AGS or the full name",
                clip(text, 60),
                candidates
                    .iter()
                    .take(8)
                    .map(|c| format!("{} ({})", c.name, c.ags))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// How a search wants a municipality to be able to take its offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcurementFilter {
    /// Any way but a tender.
    TenderFree,
    /// Exactly this way.
    Only(Procurement),
}

impl ProcurementFilter {
    /// True if an offer the municipality may take by `p` passes.
    pub fn accepts(self, p: Procurement) -> bool {
        match self {
            ProcurementFilter::TenderFree => p.tender_free(),
            ProcurementFilter::Only(want) => p == want,
        }
    }

    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcurementFilter::TenderFree => "tender_free",
            ProcurementFilter::Only(p) => p.as_str(),
        }
    }
}

impl FromStr for ProcurementFilter {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<ProcurementFilter, ApiError> {
        match s {
            "tender_free" => Ok(ProcurementFilter::TenderFree),
            other => other.parse().map(ProcurementFilter::Only).map_err(|_| {
                ApiError::invalid_query(
                    "procurement: one of tender_free, in_house, inter_municipal, framework_agreement, tender",
                )
            }),
        }
    }
}

/// Offer statuses a search may add to `active`.
pub const INCLUDABLE: [OfferStatus; 4] = [
    OfferStatus::Withdrawn,
    OfferStatus::Expired,
    OfferStatus::NotYetValid,
    OfferStatus::Consolidated,
];

/// What a search looks for. Every filter is exact; an offer passes if it
/// passes every filter given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// Offers that may be delivered to this municipality.
    pub municipality: Option<&'static Municipality>,
    /// With `municipality`: only offers it may take this way.
    pub procurement: Option<ProcurementFilter>,
    /// Offers whose regions cover this AGS.
    pub region: Option<AgsPrefix>,
    /// Offers in this category or one below it.
    pub category: Option<Slug>,
    pub ozg: Option<OzgId>,
    pub leika: Option<LeikaKey>,
    pub cert: Option<Slug>,
    /// Offers that declare this standard of the stewards and meet it.
    pub standard: Option<Slug>,
    /// Offers of this provider, or shown under it after a merger.
    pub provider: Option<Did>,
    /// Lowercase words that must all occur in title, summary or description.
    pub words: Vec<String>,
    /// Statuses shown: `active` and any of [`INCLUDABLE`].
    pub include: Vec<OfferStatus>,
}

impl Default for Filters {
    /// No filter: the active offers.
    fn default() -> Filters {
        Filters {
            municipality: None,
            procurement: None,
            region: None,
            category: None,
            ozg: None,
            leika: None,
            cert: None,
            standard: None,
            provider: None,
            words: Vec::new(),
            include: vec![OfferStatus::Active],
        }
    }
}

impl Filters {
    /// Lowercase words of a free-text query.
    pub fn words_of(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_lowercase).collect()
    }

    /// `include`: `active` plus the comma-separated statuses of `list`.
    pub fn include_of(list: &str) -> Result<Vec<OfferStatus>, ApiError> {
        let mut include = vec![OfferStatus::Active];
        for token in list.split(',') {
            match token.trim().parse::<OfferStatus>() {
                Ok(s) if INCLUDABLE.contains(&s) => include.push(s),
                _ => {
                    return Err(ApiError::invalid_query(format!(
                        "include: unknown value {:?}; allowed: withdrawn, expired, not_yet_valid, consolidated",
                        clip(token, 40)
                    )));
                }
            }
        }
        Ok(include)
    }

    fn parse(q: &Params) -> Result<Filters, ApiError> {
        let region = q.typed::<AgsPrefix>("region")?;
        let include = match q.get("include") {
            Some(list) => Filters::include_of(list)?,
            None => vec![OfferStatus::Active],
        };
        let municipality = q.municipality()?;
        let procurement = q
            .get("procurement")
            .map(str::parse::<ProcurementFilter>)
            .transpose()?;
        if procurement.is_some() && municipality.is_none() {
            return Err(ApiError::invalid_query("procurement needs a municipality"));
        }
        Ok(Filters {
            municipality,
            procurement,
            region,
            category: q.typed("category")?,
            ozg: q.typed("ozg")?,
            leika: q.typed("leika")?,
            cert: q.typed("cert")?,
            standard: q.typed("standard")?,
            provider: q.get("provider").map(parse_did).transpose()?,
            words: q.get("q").map(Filters::words_of).unwrap_or_default(),
            include,
        })
    }

    /// The filters as a query string, in a fixed order of parameters
    /// (municipality as its AGS, words lowercase): the canonical form that
    /// a market-survey statement states (`specs/checkpoints.md` 8.2).
    pub fn to_query_string(&self) -> String {
        query_string(self.pairs())
    }

    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let include: Vec<&str> = self
            .include
            .iter()
            .filter(|s| **s != OfferStatus::Active)
            .map(|s| s.as_str())
            .collect();
        vec![
            ("municipality", self.municipality.map(|m| m.ags.clone())),
            ("procurement", self.procurement.map(|p| p.as_str().into())),
            ("region", self.region.as_ref().map(ToString::to_string)),
            ("category", self.category.as_ref().map(ToString::to_string)),
            ("ozg", self.ozg.as_ref().map(ToString::to_string)),
            ("leika", self.leika.as_ref().map(ToString::to_string)),
            ("cert", self.cert.as_ref().map(ToString::to_string)),
            ("standard", self.standard.as_ref().map(ToString::to_string)),
            ("provider", self.provider.as_ref().map(ToString::to_string)),
            ("q", Some(self.words.join(" "))),
            ("include", Some(include.join(","))),
        ]
    }
}

/// A key of an author's entry, `did/id` as text: its struct, its text form
/// and its serde form (a string).
macro_rules! pair_key {
    ($(#[$doc:meta])* $name:ident { $owner:ident, $id:ident: $ty:ty }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name {
            pub $owner: Did,
            pub $id: $ty,
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.$owner, self.$id)
            }
        }

        impl FromStr for $name {
            type Err = ApiError;
            fn from_str(s: &str) -> Result<$name, ApiError> {
                let (did, id) = s.split_once('/').ok_or_else(|| {
                    ApiError::invalid_query(format!(
                        "{:?} is not of the form DID/ID",
                        clip(s, 80)
                    ))
                })?;
                Ok($name {
                    $owner: parse_did(did)?,
                    $id: id
                        .parse()
                        .map_err(|e: FieldError| field_error(stringify!($id), e))?,
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pair_key! {
    /// An offer by its provider and offer id (text: `did/offer_id`); also where
    /// a page of offers ends.
    OfferCursor { provider, offer_id: OfferId }
}

pair_key! {
    /// A demand by its buyer and demand id (text: `did/demand_id`); also where
    /// a page of demands ends.
    DemandKey { buyer, demand_id: DemandId }
}

/// `GET /v1/offers`: a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub filters: Filters,
    /// The instant for status and successions (default: the node's now).
    pub at: Option<Timestamp>,
    pub limit: usize,
    /// Offers after this one.
    pub cursor: Option<OfferCursor>,
}

impl SearchQuery {
    /// The endpoint's parameters.
    pub const PARAMS: &'static [&'static str] = &[
        "municipality",
        "procurement",
        "region",
        "category",
        "ozg",
        "leika",
        "cert",
        "standard",
        "provider",
        "q",
        "include",
        "limit",
        "cursor",
        "at",
    ];
    /// Offers per page unless `limit` says otherwise.
    pub const DEFAULT_LIMIT: usize = 50;
    /// Most offers per page.
    pub const MAX_LIMIT: usize = 500;

    /// A first page of `filters` at the node's now.
    pub fn new(filters: Filters) -> SearchQuery {
        SearchQuery {
            filters,
            at: None,
            limit: SearchQuery::DEFAULT_LIMIT,
            cursor: None,
        }
    }

    /// Parses the query string of `GET /v1/offers`.
    pub fn parse(raw: &str) -> Result<SearchQuery, ApiError> {
        let q = Params::parse(raw, SearchQuery::PARAMS)?;
        Ok(SearchQuery {
            filters: Filters::parse(&q)?,
            at: q.at()?,
            limit: q.limit(SearchQuery::DEFAULT_LIMIT, SearchQuery::MAX_LIMIT)?,
            cursor: q.get("cursor").map(str::parse).transpose()?,
        })
    }

    /// The query string that [`SearchQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        let mut pairs = self.filters.pairs();
        pairs.push(("at", self.at.map(|t| t.to_string())));
        pairs.push(("limit", Some(self.limit.to_string())));
        pairs.push(("cursor", self.cursor.as_ref().map(ToString::to_string)));
        query_string(pairs)
    }
}

/// `GET /v1/survey`: a market survey, a search for a municipality at an
/// instant (`specs/checkpoints.md` 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyQuery {
    /// The search; `municipality` is always given.
    pub filters: Filters,
    /// The instant (default: the node's now).
    pub at: Option<Timestamp>,
}

impl SurveyQuery {
    /// The endpoint's parameters: a search's, without paging.
    pub const PARAMS: &'static [&'static str] = &[
        "municipality",
        "procurement",
        "region",
        "category",
        "ozg",
        "leika",
        "cert",
        "standard",
        "provider",
        "q",
        "include",
        "at",
    ];

    /// Parses the query string of `GET /v1/survey`; a municipality is needed.
    pub fn parse(raw: &str) -> Result<SurveyQuery, ApiError> {
        let q = Params::parse(raw, SurveyQuery::PARAMS)?;
        let filters = Filters::parse(&q)?;
        if filters.municipality.is_none() {
            return Err(ApiError::invalid_query(
                "a market survey is made for a municipality: give municipality",
            ));
        }
        Ok(SurveyQuery {
            filters,
            at: q.at()?,
        })
    }

    /// The query string that [`SurveyQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        let mut pairs = self.filters.pairs();
        pairs.push(("at", self.at.map(|t| t.to_string())));
        query_string(pairs)
    }
}

/// `GET /v1/offers/{provider}/{offer_id}`: what to add to the offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferQuery {
    /// Every version and withdrawal.
    pub history: bool,
    pub at: Option<Timestamp>,
    /// Adds whether this municipality may take the offer without a tender,
    /// its contact, and its cost.
    pub municipality: Option<&'static Municipality>,
    /// The buyer's figures for the cost (inhabitants: the municipality's).
    pub figures: Figures,
}

impl OfferQuery {
    /// The endpoint's parameters.
    pub const PARAMS: &'static [&'static str] = &[
        "history",
        "at",
        "municipality",
        "users",
        "cases",
        "hours",
        "sites",
        "interfaces",
    ];

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<OfferQuery, ApiError> {
        let q = Params::parse(raw, OfferQuery::PARAMS)?;
        let municipality = q.municipality()?;
        Ok(OfferQuery {
            history: q.bool("history")?,
            at: q.at()?,
            municipality,
            figures: q.figures(municipality)?,
        })
    }

    /// The query string that [`OfferQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        let mut pairs = vec![
            ("history", self.history.then(|| "true".to_owned())),
            ("at", self.at.map(|t| t.to_string())),
            ("municipality", self.municipality.map(|m| m.ags.clone())),
        ];
        pairs.extend(figure_pairs(&self.figures));
        query_string(pairs)
    }

    /// Whether the cost is asked for: a municipality or any figure given.
    pub fn wants_cost(&self) -> bool {
        self.municipality.is_some() || self.figures != Figures::default()
    }
}

/// `GET /v1/providers` and `GET /v1/providers/{did}`: the instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtQuery {
    pub at: Option<Timestamp>,
}

impl AtQuery {
    /// The endpoints' parameters.
    pub const PARAMS: &'static [&'static str] = &["at"];

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<AtQuery, ApiError> {
        let q = Params::parse(raw, AtQuery::PARAMS)?;
        Ok(AtQuery { at: q.at()? })
    }
}

/// `GET /v1/records`: a page of all records by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsQuery {
    /// Records after this id.
    pub cursor: Option<Hash32>,
    pub limit: usize,
}

impl RecordsQuery {
    /// The endpoint's parameters.
    pub const PARAMS: &'static [&'static str] = &["cursor", "limit"];
    /// Records per page unless `limit` says otherwise.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Most records per page.
    pub const MAX_LIMIT: usize = 1000;

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<RecordsQuery, ApiError> {
        let q = Params::parse(raw, RecordsQuery::PARAMS)?;
        Ok(RecordsQuery {
            cursor: q.get("cursor").map(parse_record_id).transpose()?,
            limit: q.limit(RecordsQuery::DEFAULT_LIMIT, RecordsQuery::MAX_LIMIT)?,
        })
    }

    /// The query string that [`RecordsQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        query_string([
            ("cursor", self.cursor.map(|c| c.to_hex())),
            ("limit", Some(self.limit.to_string())),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use kx_protocol::RecordCode;

    fn code(raw: &str) -> Result<(), ErrorCode> {
        SearchQuery::parse(raw).map(|_| ()).map_err(|e| e.code)
    }

    #[test]
    fn search_queries_parse_or_fail_with_their_code() {
        assert_eq!(code("region=05158004&category=e-akte&limit=5"), Ok(()));
        assert_eq!(
            code("municipality=Paderborn&procurement=tender_free"),
            Ok(())
        );
        let api = |c| Err(ErrorCode::Api(c));
        let record = |c| Err(ErrorCode::Record(c));
        // An empty value is refused, for every parameter alike.
        for empty in [
            "municipality=",
            "category=",
            "region=",
            "procurement=",
            "at=",
        ] {
            assert_eq!(code(empty), api(ApiCode::InvalidQuery), "{empty}");
        }
        assert_eq!(code("region=5"), record(RecordCode::MalformedAgs));
        assert_eq!(code("category=E-Akte"), record(RecordCode::MalformedSlug));
        assert_eq!(code("ozg=x1"), record(RecordCode::MalformedOzgId));
        assert_eq!(code("leika=1"), record(RecordCode::MalformedLeikaKey));
        assert_eq!(code("provider=did:x"), record(RecordCode::MalformedDid));
        assert_eq!(code("bogus=1"), api(ApiCode::UnknownParameter));
        assert_eq!(code("q=a&q=b"), api(ApiCode::InvalidQuery));
        assert_eq!(
            code("municipality=Atlantis"),
            api(ApiCode::UnknownMunicipality)
        );
        assert_eq!(
            code("municipality=Bad"),
            api(ApiCode::AmbiguousMunicipality)
        );
        assert_eq!(code("procurement=tender"), api(ApiCode::InvalidQuery));
        assert_eq!(code("include=gone"), api(ApiCode::InvalidQuery));
        assert_eq!(code("limit=501"), api(ApiCode::InvalidQuery));
        assert_eq!(code("at=yesterday"), api(ApiCode::InvalidQuery));
        assert_eq!(code("cursor=%ff"), api(ApiCode::InvalidQuery));
        assert_eq!(code(&"q=a&".repeat(1100)), api(ApiCode::InvalidQuery));
    }

    #[test]
    fn a_query_reads_back_as_itself() {
        let raw = "municipality=Paderborn&procurement=in_house&region=05774&category=e-akte\
                   &ozg=10124&leika=99115005104000&cert=iso27001-grundschutz\
                   &provider=did:key:z6Mkj1MDZKcfx9AX5CeXHdysiGkRLzBbALyFuShD6wNeY1E3\
                   &q=Meldewesen+Hosting&include=withdrawn,expired&at=2026-02-01T00:00:00Z\
                   &limit=7&cursor=did:key:z6Mkj1MDZKcfx9AX5CeXHdysiGkRLzBbALyFuShD6wNeY1E3/o1";
        let q = SearchQuery::parse(raw).expect("parse");
        assert_eq!(q.filters.words, ["meldewesen", "hosting"]);
        assert_eq!(
            q.filters.municipality.map(|m| m.ags.as_str()),
            Some("05774032")
        );
        assert_eq!(SearchQuery::parse(&q.to_query_string()), Ok(q.clone()));
        let first = SearchQuery::new(Filters::default());
        assert_eq!(first.to_query_string(), "limit=50");
        let offer = OfferQuery {
            history: true,
            at: None,
            municipality: q.filters.municipality,
            figures: Figures {
                inhabitants: q.filters.municipality.map(|m| m.population),
                users: Some(40),
                sites: Some(3),
                ..Figures::default()
            },
        };
        assert_eq!(OfferQuery::parse(&offer.to_query_string()), Ok(offer));
        let records = RecordsQuery {
            cursor: Some(Hash32([7; 32])),
            limit: 3,
        };
        assert_eq!(RecordsQuery::parse(&records.to_query_string()), Ok(records));
    }
}
