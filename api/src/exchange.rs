//! The exchange's requests and answers: demand, requests, agreements and
//! municipalities (`GET /v1/demand`, `/v1/requests`, `/v1/agreements`,
//! `/v1/municipalities`). Lists have the shape of every list of the API,
//! `{"<items>": [...], "next_cursor": ...}`.

use crate::error::ApiError;
use crate::query::{
    DemandKey, OfferCursor, Params, clip, parse_did, parse_record_id, query_string,
};
use crate::views::{BuyerRef, MunicipalityRef, ProviderRef, TakerView};
use kx_protocol::Did;
use kx_protocol::body::{BuyerBasis, DemandBody, Pricing, RoleContact};
use kx_protocol::fields::{AgsPrefix, Hash32, LeikaKey, OfferId, OzgId, Slug, Timestamp};
use kx_protocol::registry::{AgreementStatus, RequestStatus, Standing};
use serde::{Deserialize, Serialize};

/// The offer version a request names, with the terms a buyer compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferRef {
    pub provider: ProviderRef,
    pub offer_id: OfferId,
    pub version: u64,
    /// The record of the version requested.
    pub record: Hash32,
    pub title: String,
    pub category: Slug,
    pub pricing: Pricing,
}

/// A withdrawal or decline with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonView {
    pub record: Hash32,
    pub issued_at: Timestamp,
    pub reason: String,
}

/// The answer that decides a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerView {
    pub record: Hash32,
    pub accepted: bool,
    /// The provider that answered: the offer's, or a successor.
    pub by: ProviderRef,
    pub issued_at: Timestamp,
    /// A decline's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The end of an agreement (Kündigung) that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndView {
    pub record: Hash32,
    /// The party that ended it.
    pub by: Did,
    pub effective_at: Timestamp,
    pub reason: String,
}

/// An agreement at the view's instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementView {
    pub status: AgreementStatus,
    /// The offer whose capacity it takes: the one requested or, after a
    /// successor consolidated that offer, the replacement.
    pub counts_against: OfferCursor,
}

/// A request (Abruf) and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestView {
    /// The request's record id.
    pub id: Hash32,
    pub issued_at: Timestamp,
    pub buyer: BuyerRef,
    pub offer: OfferRef,
    /// Who is responsible for the offer at the instant: its provider, or the
    /// successor it passed to once a merger took effect.
    pub responder: ProviderRef,
    pub takers: Vec<TakerView>,
    pub quantity: u64,
    pub start: Timestamp,
    /// Where it runs out by its own terms (`end`, or `start` + `term_months`).
    pub stop: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_months: Option<u64>,
    pub legal_basis: BuyerBasis,
    pub note: String,
    pub contact: RoleContact,
    pub status: RequestStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<ReasonView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EndView>,
    /// For an accepted request: the agreement at the instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<AgreementView>,
}

/// `GET /v1/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestsPage {
    pub requests: Vec<RequestView>,
    /// The cursor of the next page; None on the last.
    pub next_cursor: Option<Hash32>,
}

/// `GET /v1/agreements`: accepted requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementsPage {
    pub agreements: Vec<RequestView>,
    /// The cursor of the next page; None on the last.
    pub next_cursor: Option<Hash32>,
}

kx_protocol::text_enum! {
    /// A demand at an instant.
    pub enum DemandStatus {
        Open = "open",
        Withdrawn = "withdrawn",
        /// Its `wanted_until` has passed.
        Expired = "expired",
    }
}

/// The current version of a demand (Bedarfsmeldung).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandView {
    pub buyer: BuyerRef,
    pub demand_id: kx_protocol::fields::DemandId,
    pub version: u64,
    pub record: Hash32,
    pub issued_at: Timestamp,
    pub status: DemandStatus,
    pub body: DemandBody,
}

/// `GET /v1/demand`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandsPage {
    pub demands: Vec<DemandView>,
    /// The cursor of the next page; None on the last.
    pub next_cursor: Option<DemandKey>,
}

/// The key a municipality signs with, from its admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionView {
    /// Its identity (first key).
    pub did: Did,
    pub standing: Standing,
    /// Its keys, oldest first; the last signs now.
    pub keys: Vec<Did>,
}

/// A municipality and what it takes, at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityView {
    pub ags: String,
    pub name: String,
    pub kreis: MunicipalityRef,
    pub population: u64,
    /// Its admission as a buyer, if it was admitted.
    pub admission: Option<AdmissionView>,
    /// Agreements it is a taker of that are active or pending.
    pub agreements: usize,
    /// Its open requests, its own and those made for it.
    pub open_requests: usize,
    /// Its open demands.
    pub demands: usize,
}

/// `GET /v1/municipalities`: the admitted municipalities and those taking
/// something, by AGS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalitiesList {
    pub municipalities: Vec<MunicipalityView>,
}

/// `GET /v1/municipalities/{ags}`: one municipality with its agreements (as a
/// taker, running or not), its requests and its demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityDetail {
    pub municipality: MunicipalityView,
    pub agreements: Vec<RequestView>,
    /// Requests it made or that were made for it, not accepted.
    pub requests: Vec<RequestView>,
    pub demands: Vec<DemandView>,
}

/// What lists of requests and agreements filter on: an entry passes if it
/// passes every filter given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeFilters {
    /// Requests by this buyer (its identity or any of its keys).
    pub buyer: Option<Did>,
    /// Requests with a taker in this municipality or region (AGS prefix).
    pub ags: Option<AgsPrefix>,
    /// Requests this provider answers for (the offer's provider or a
    /// successor it passed to).
    pub provider: Option<Did>,
    /// Requests on this offer (any version).
    pub offer: Option<OfferCursor>,
    /// Requests on offers in this category or one below it.
    pub category: Option<Slug>,
}

impl ExchangeFilters {
    const PARAMS: [&'static str; 5] = ["buyer", "ags", "provider", "offer", "category"];

    fn parse(q: &Params) -> Result<ExchangeFilters, ApiError> {
        Ok(ExchangeFilters {
            buyer: q.get("buyer").map(parse_did).transpose()?,
            ags: q.typed("ags")?,
            provider: q.get("provider").map(parse_did).transpose()?,
            offer: q.get("offer").map(str::parse).transpose()?,
            category: q.typed("category")?,
        })
    }

    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let text = |v: Option<&dyn std::fmt::Display>| v.map(ToString::to_string);
        vec![
            ("buyer", text(self.buyer.as_ref().map(|d| d as _))),
            ("ags", text(self.ags.as_ref().map(|d| d as _))),
            ("provider", text(self.provider.as_ref().map(|d| d as _))),
            ("offer", text(self.offer.as_ref().map(|d| d as _))),
            ("category", text(self.category.as_ref().map(|d| d as _))),
        ]
    }
}

/// A list of requests or agreements: filters, a status, the instant, a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery<S> {
    pub filters: ExchangeFilters,
    /// Only entries with this status (default: all).
    pub status: Option<S>,
    /// The instant for agreements' status and successions (default: now).
    pub at: Option<Timestamp>,
    pub limit: usize,
    /// Entries after this request id.
    pub cursor: Option<Hash32>,
}

/// `GET /v1/requests`.
pub type RequestsQuery = ListQuery<RequestStatus>;
/// `GET /v1/agreements`.
pub type AgreementsQuery = ListQuery<AgreementStatus>;

/// A status a list filters on.
pub trait ListStatus: std::str::FromStr + std::fmt::Display + Copy + 'static {
    /// Every value, for the error message.
    fn all() -> &'static [Self];
}

impl ListStatus for RequestStatus {
    fn all() -> &'static [Self] {
        RequestStatus::ALL
    }
}

impl ListStatus for AgreementStatus {
    fn all() -> &'static [Self] {
        AgreementStatus::ALL
    }
}

impl<S: ListStatus> ListQuery<S> {
    /// The endpoints' parameters.
    pub const PARAMS: [&'static str; 9] = [
        ExchangeFilters::PARAMS[0],
        ExchangeFilters::PARAMS[1],
        ExchangeFilters::PARAMS[2],
        ExchangeFilters::PARAMS[3],
        ExchangeFilters::PARAMS[4],
        "status",
        "at",
        "limit",
        "cursor",
    ];
    /// Entries per page unless `limit` says otherwise.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Most entries per page.
    pub const MAX_LIMIT: usize = 1000;

    /// A first page of `filters` at the node's now, of every status.
    pub fn new(filters: ExchangeFilters) -> ListQuery<S> {
        ListQuery {
            filters,
            status: None,
            at: None,
            limit: Self::DEFAULT_LIMIT,
            cursor: None,
        }
    }

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<ListQuery<S>, ApiError> {
        let q = Params::parse(raw, &Self::PARAMS)?;
        let status = q
            .get("status")
            .map(|v| {
                v.parse::<S>().map_err(|_| {
                    let allowed: Vec<String> = S::all().iter().map(ToString::to_string).collect();
                    ApiError::invalid_query(format!(
                        "status: unknown value {:?}; allowed: {}",
                        clip(v, 40),
                        allowed.join(", ")
                    ))
                })
            })
            .transpose()?;
        Ok(ListQuery {
            filters: ExchangeFilters::parse(&q)?,
            status,
            at: q.at()?,
            limit: q.limit(Self::DEFAULT_LIMIT, Self::MAX_LIMIT)?,
            cursor: q.get("cursor").map(parse_record_id).transpose()?,
        })
    }

    /// The query string that [`ListQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        let mut pairs = self.filters.pairs();
        pairs.push(("status", self.status.map(|s| s.to_string())));
        pairs.push(("at", self.at.map(|t| t.to_string())));
        pairs.push(("limit", Some(self.limit.to_string())));
        pairs.push(("cursor", self.cursor.map(|c| c.to_hex())));
        query_string(pairs)
    }
}

/// `GET /v1/demand`: demands by filters, in (buyer, demand id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandQuery {
    /// Demands of this buyer (its identity or any of its keys).
    pub buyer: Option<Did>,
    /// Demands of municipalities in this region (AGS prefix).
    pub ags: Option<AgsPrefix>,
    /// Demands naming this category or one below it.
    pub category: Option<Slug>,
    pub ozg: Option<OzgId>,
    pub leika: Option<LeikaKey>,
    /// Default: open.
    pub status: DemandStatus,
    pub at: Option<Timestamp>,
    pub limit: usize,
    pub cursor: Option<DemandKey>,
}

impl DemandQuery {
    /// The endpoint's parameters.
    pub const PARAMS: &'static [&'static str] = &[
        "buyer", "ags", "category", "ozg", "leika", "status", "at", "limit", "cursor",
    ];
    /// Demands per page unless `limit` says otherwise.
    pub const DEFAULT_LIMIT: usize = 100;
    /// Most demands per page.
    pub const MAX_LIMIT: usize = 1000;

    /// The open demands at the node's now.
    pub fn new() -> DemandQuery {
        DemandQuery {
            buyer: None,
            ags: None,
            category: None,
            ozg: None,
            leika: None,
            status: DemandStatus::Open,
            at: None,
            limit: DemandQuery::DEFAULT_LIMIT,
            cursor: None,
        }
    }

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<DemandQuery, ApiError> {
        let q = Params::parse(raw, DemandQuery::PARAMS)?;
        let status = match q.get("status") {
            None => DemandStatus::Open,
            Some(v) => v.parse().map_err(|_| {
                ApiError::invalid_query(format!(
                    "status: unknown value {:?}; allowed: open, withdrawn, expired",
                    clip(v, 40)
                ))
            })?,
        };
        Ok(DemandQuery {
            buyer: q.get("buyer").map(parse_did).transpose()?,
            ags: q.typed("ags")?,
            category: q.typed("category")?,
            ozg: q.typed("ozg")?,
            leika: q.typed("leika")?,
            status,
            at: q.at()?,
            limit: q.limit(DemandQuery::DEFAULT_LIMIT, DemandQuery::MAX_LIMIT)?,
            cursor: q.get("cursor").map(str::parse).transpose()?,
        })
    }

    /// The query string that [`DemandQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        query_string([
            ("buyer", self.buyer.as_ref().map(ToString::to_string)),
            ("ags", self.ags.as_ref().map(ToString::to_string)),
            ("category", self.category.as_ref().map(ToString::to_string)),
            ("ozg", self.ozg.as_ref().map(ToString::to_string)),
            ("leika", self.leika.as_ref().map(ToString::to_string)),
            ("status", Some(self.status.as_str().to_owned())),
            ("at", self.at.map(|t| t.to_string())),
            ("limit", Some(self.limit.to_string())),
            ("cursor", self.cursor.as_ref().map(ToString::to_string)),
        ])
    }
}

impl Default for DemandQuery {
    fn default() -> DemandQuery {
        DemandQuery::new()
    }
}

/// `GET /v1/municipalities`: the region (default: all) and the instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MunicipalitiesQuery {
    pub region: Option<AgsPrefix>,
    pub at: Option<Timestamp>,
}

impl MunicipalitiesQuery {
    /// The endpoint's parameters.
    pub const PARAMS: &'static [&'static str] = &["region", "at"];

    /// Parses the query string.
    pub fn parse(raw: &str) -> Result<MunicipalitiesQuery, ApiError> {
        let q = Params::parse(raw, MunicipalitiesQuery::PARAMS)?;
        Ok(MunicipalitiesQuery {
            region: q.typed("region")?,
            at: q.at()?,
        })
    }

    /// The query string that [`MunicipalitiesQuery::parse`] reads back as `self`.
    pub fn to_query_string(&self) -> String {
        query_string([
            ("region", self.region.as_ref().map(ToString::to_string)),
            ("at", self.at.map(|t| t.to_string())),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiCode, ErrorCode};
    use kx_protocol::RecordCode;

    #[test]
    fn exchange_queries_read_back_as_themselves() {
        let did = "did:key:z6Mkj1MDZKcfx9AX5CeXHdysiGkRLzBbALyFuShD6wNeY1E3";
        let raw = format!(
            "buyer={did}&ags=05774&provider={did}&offer={did}/soc&category=e-akte\
             &status=accepted&at=2026-02-01T00:00:00Z&limit=7&cursor={}",
            "ab".repeat(32)
        );
        let q = RequestsQuery::parse(&raw).expect("parse");
        assert_eq!(q.status, Some(RequestStatus::Accepted));
        assert_eq!(RequestsQuery::parse(&q.to_query_string()), Ok(q));
        let a = AgreementsQuery::parse("status=over_capacity").expect("parse");
        assert_eq!(a.status, Some(AgreementStatus::OverCapacity));
        assert_eq!(AgreementsQuery::parse(&a.to_query_string()), Ok(a));
        let d = DemandQuery::parse(&format!(
            "buyer={did}&cursor={did}/e-akte-2027&status=withdrawn"
        ))
        .expect("parse");
        assert_eq!(DemandQuery::parse(&d.to_query_string()), Ok(d));
        let m = MunicipalitiesQuery::parse("region=05774").expect("parse");
        assert_eq!(MunicipalitiesQuery::parse(&m.to_query_string()), Ok(m));
    }

    #[test]
    fn bad_exchange_queries_fail_with_their_code() {
        let code = |raw: &str| RequestsQuery::parse(raw).map(|_| ()).map_err(|e| e.code);
        assert_eq!(
            code("status=gone"),
            Err(ErrorCode::Api(ApiCode::InvalidQuery))
        );
        assert_eq!(
            code("ags=1"),
            Err(ErrorCode::Record(RecordCode::MalformedAgs))
        );
        assert_eq!(
            code("offer=soc"),
            Err(ErrorCode::Api(ApiCode::InvalidQuery))
        );
        assert_eq!(
            code("cursor=zz"),
            Err(ErrorCode::Record(RecordCode::MalformedHash))
        );
        assert_eq!(
            code("municipality=Paderborn"),
            Err(ErrorCode::Api(ApiCode::UnknownParameter))
        );
        let d = DemandQuery::parse("status=accepted").map_err(|e| e.code);
        assert_eq!(d, Err(ErrorCode::Api(ApiCode::InvalidQuery)));
    }
}
