//! A small blocking client for the node's `/v1` API. Requests are built from
//! `kx_api`'s request types and answers read into its views, the same types the
//! node serialises; an error answer becomes a [`Refused`] with its code.

use crate::error::Refused;
use anyhow::{Context, Result};
use kx_api::exchange::{
    AgreementsPage, AgreementsQuery, DemandQuery, DemandsPage, MunicipalitiesList,
    MunicipalitiesQuery, MunicipalityDetail, RequestView, RequestsPage, RequestsQuery,
};
use kx_api::views::{
    AuthorView, OfferView, OffersPage, ProviderDetail, ProvidersList, StatusView, SubmitResult,
};
use kx_api::{ErrorBody, OfferQuery, SearchQuery};
use kx_protocol::Did;
use kx_protocol::fields::{Hash32, OfferId};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The node API at a base URL.
#[derive(Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

/// Percent-encodes a path segment.
fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7300`).
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// The body of an answer; an error answer as a [`Refused`].
    fn finish(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>> {
        self.finish_up_to(resp, 10 << 20)
    }

    /// [`Client::finish`] for answers of up to `limit` bytes.
    fn finish_up_to(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let mut resp = resp.with_context(|| format!("cannot reach the node at {}", self.base))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .with_context(|| format!("read the answer of {}", self.base))?;
        if status >= 400 {
            let body: ErrorBody = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the node at {} answered {status} without an error body: {}",
                    self.base,
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
            })?;
            return Err(Refused::from(body.error).into());
        }
        Ok(bytes)
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.get_raw(path)?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the node at {} answered GET {path} with something this kx cannot read",
                self.base
            )
        })
    }

    /// GET the raw body.
    fn get_raw(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self.agent.get(&format!("{}{path}", self.base)).call();
        self.finish(resp)
    }

    /// `GET /v1/survey?{query}`: a market-survey bundle (it holds every
    /// record of the registry: up to 4 GiB are read).
    pub fn survey(&self, query: &str) -> Result<Vec<u8>> {
        let resp = self
            .agent
            .get(&with_query(format!("{}/v1/survey", self.base), query))
            .config()
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .call();
        self.finish_up_to(resp, 4 << 30)
    }

    /// `GET /v1/checkpoint`.
    pub fn checkpoint(&self) -> Result<kx_api::views::CheckpointView> {
        self.get("/v1/checkpoint")
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<StatusView> {
        self.get("/v1/status")
    }

    /// `GET /v1/authors/{did}`.
    pub fn author(&self, did: &Did) -> Result<AuthorView> {
        self.get(&format!("/v1/authors/{}", segment(did.as_str())))
    }

    /// `GET /v1/offers`.
    pub fn search(&self, q: &SearchQuery) -> Result<OffersPage> {
        self.get(&with_query("/v1/offers".into(), &q.to_query_string()))
    }

    /// `GET /v1/offers/{provider}/{offer_id}`.
    pub fn offer(&self, provider: &Did, offer_id: &OfferId, q: &OfferQuery) -> Result<OfferView> {
        let path = format!(
            "/v1/offers/{}/{}",
            segment(provider.as_str()),
            segment(offer_id.as_str())
        );
        self.get(&with_query(path, &q.to_query_string()))
    }

    /// `GET /v1/standards`.
    pub fn standards(&self) -> Result<kx_api::views::StandardsList> {
        self.get("/v1/standards")
    }

    /// `GET /v1/providers`.
    pub fn providers(&self) -> Result<ProvidersList> {
        self.get("/v1/providers")
    }

    /// `GET /v1/providers/{did}`.
    pub fn provider(&self, did: &Did) -> Result<ProviderDetail> {
        self.get(&format!("/v1/providers/{}", segment(did.as_str())))
    }

    /// `GET /v1/demand`.
    pub fn demands(&self, q: &DemandQuery) -> Result<DemandsPage> {
        self.get(&with_query("/v1/demand".into(), &q.to_query_string()))
    }

    /// `GET /v1/requests`.
    pub fn requests(&self, q: &RequestsQuery) -> Result<RequestsPage> {
        self.get(&with_query("/v1/requests".into(), &q.to_query_string()))
    }

    /// `GET /v1/requests/{id}`.
    pub fn request(&self, id: &Hash32) -> Result<RequestView> {
        self.get(&format!("/v1/requests/{id}"))
    }

    /// `GET /v1/agreements`.
    pub fn agreements(&self, q: &AgreementsQuery) -> Result<AgreementsPage> {
        self.get(&with_query("/v1/agreements".into(), &q.to_query_string()))
    }

    /// `GET /v1/municipalities`.
    pub fn municipalities(&self, q: &MunicipalitiesQuery) -> Result<MunicipalitiesList> {
        self.get(&with_query(
            "/v1/municipalities".into(),
            &q.to_query_string(),
        ))
    }

    /// `GET /v1/transition`.
    pub fn transition(
        &self,
        q: &kx_api::transition::TransitionQuery,
    ) -> Result<kx_api::transition::TransitionView> {
        self.get(&with_query("/v1/transition".into(), &q.to_query_string()))
    }

    /// The AGS of the municipality admitted with identity `did`, if it is one.
    pub fn municipality_of_did(&self, did: &Did) -> Result<Option<String>> {
        let list = self.municipalities(&MunicipalitiesQuery::default())?;
        Ok(list
            .municipalities
            .into_iter()
            .find(|m| m.admission.as_ref().is_some_and(|a| a.did == *did))
            .map(|m| m.ags))
    }

    /// `GET /v1/municipalities/{ags}`.
    pub fn municipality(&self, ags: &str) -> Result<MunicipalityDetail> {
        self.get(&format!("/v1/municipalities/{}", segment(ags)))
    }

    /// `GET /v1/records/{id}`: the record exactly as signed.
    pub fn record(&self, id: &Hash32) -> Result<Vec<u8>> {
        self.get_raw(&format!("/v1/records/{id}"))
    }

    /// `POST /v1/records`: submits a signed record.
    pub fn submit(&self, record: &[u8]) -> Result<SubmitResult> {
        let resp = self
            .agent
            .post(&format!("{}/v1/records", self.base))
            .header("content-type", "application/json")
            .send(record);
        let bytes = self.finish(resp)?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("the node at {} answered a submit oddly", self.base))
    }
}
