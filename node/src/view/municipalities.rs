//! Municipalities as buyers and takers: the list, and one municipality with
//! what it takes from whom, its open requests and its demand.

use super::exchange::{demands_of, is_open, requests_for, runs};
use crate::node::Node;
use kx_api::exchange::{
    AdmissionView, DemandStatus, MunicipalitiesList, MunicipalityDetail, MunicipalityView,
};
use kx_api::views::MunicipalityRef;
use kx_protocol::geo::{self, Municipality};
use kx_protocol::registry::{RequestStatus, Taker};
use kx_protocol::{Hash32, State, Timestamp};
use std::collections::BTreeMap;

/// What the state holds for one municipality: its requests (as a taker or a
/// buyer) by id.
#[derive(Default)]
struct Tally {
    requests: Vec<Hash32>,
}

/// The requests of every municipality, by AGS: those it takes part in as a
/// taker, and those it made.
fn tallies(state: &State) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for (id, r) in &state.requests {
        for t in &r.takers {
            if let Taker::Municipality(a) = t {
                out.entry(a.to_string()).or_default().requests.push(*id);
            }
        }
    }
    out
}

fn municipality_view(
    state: &State,
    m: &Municipality,
    tally: Option<&Tally>,
    demands: usize,
    at: Timestamp,
) -> MunicipalityView {
    let admission = state.municipality_of(&m.ags).map(|a| AdmissionView {
        did: a.identity.clone(),
        standing: a.standing,
        keys: a.keys.clone(),
    });
    let ids = tally.map(|t| t.requests.as_slice()).unwrap_or_default();
    let agreements = ids
        .iter()
        .filter(|id| state.agreement_status(id, at).is_some_and(runs))
        .count();
    let open_requests = ids
        .iter()
        .filter(|id| state.requests.get(id).is_some_and(|r| is_open(r.status())))
        .count();
    MunicipalityView {
        ags: m.ags.clone(),
        name: m.name.clone(),
        kreis: MunicipalityRef {
            ags: m.kreis_ags.clone(),
            name: m.kreis_name.clone(),
        },
        population: m.population,
        admission,
        agreements,
        open_requests,
        demands,
    }
}

/// The open demands of the municipality admitted for `ags`, at `at`.
fn open_demands(state: &State, ags: &str, at: Timestamp) -> usize {
    state.municipality_of(ags).map_or(0, |m| {
        state
            .demands_of(&m.identity)
            .filter(|(_, e)| super::exchange::demand_status(e, at) == Some(DemandStatus::Open))
            .count()
    })
}

/// `GET /v1/municipalities`: the municipalities in `region` (default: all NRW)
/// that are admitted or take part in a request, by AGS; with `everyone`, all
/// of the region's (the catalog's page of a Kreis).
pub fn list(
    node: &Node,
    region: Option<&str>,
    everyone: bool,
    at: Timestamp,
) -> MunicipalitiesList {
    node.with_state(|state| {
        let tallies = tallies(state);
        let municipalities = geo::municipalities()
            .iter()
            .filter(|m| region.is_none_or(|r| m.ags.starts_with(r)))
            .filter(|m| {
                everyone || tallies.contains_key(&m.ags) || state.municipality_of(&m.ags).is_some()
            })
            .map(|m| {
                let demands = open_demands(state, &m.ags, at);
                municipality_view(state, m, tallies.get(&m.ags), demands, at)
            })
            .collect();
        MunicipalitiesList { municipalities }
    })
}

/// `GET /v1/municipalities/{ags}`: one municipality at `at`, admitted or not:
/// its agreements as a taker (any status), its other requests, its demands.
pub fn detail(node: &Node, m: &Municipality, at: Timestamp) -> MunicipalityDetail {
    let requests = requests_for(node, &m.ags, at);
    let (agreements, requests): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .partition(|r| r.status == RequestStatus::Accepted);
    let admitted =
        node.with_state(|state| state.municipality_of(&m.ags).map(|a| a.identity.clone()));
    let demands = admitted
        .as_ref()
        .map(|did| demands_of(node, did, DemandStatus::Open, at))
        .unwrap_or_default();
    let ids: Vec<Hash32> = agreements.iter().chain(&requests).map(|r| r.id).collect();
    let municipality = node.with_state(|state| {
        let tally = Tally { requests: ids };
        municipality_view(state, m, Some(&tally), demands.len(), at)
    });
    MunicipalityDetail {
        municipality,
        agreements,
        requests,
        demands,
    }
}
