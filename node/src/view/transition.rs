//! The transition view (`GET /v1/transition`, `/uebergang`, `kx transition`):
//! per Kreis and per category, what is offered, demanded and taken at an
//! instant, the gaps, the offers' break-even and agreements by month. Every
//! figure is defined in `specs/http-api.yaml` (`Figures`); this module is that
//! definition over the state, the search index and the demands' records.

use super::Loaded;
use super::exchange::demand_status;
use crate::index::{Field, SearchIndex};
use crate::node::Node;
use kx_api::exchange::DemandStatus;
use kx_api::transition::{
    BreakEvenView, CategoryFigures, CategoryRef, Figures, MonthFigures, RegionFigures,
    TransitionView,
};
use kx_api::views::{MunicipalityRef, ProviderRef};
use kx_protocol::fields::{OfferId, Slug};
use kx_protocol::registry::{AgreementStatus, Taker};
use kx_protocol::{Body, Did, Hash32, State, Timestamp, geo, taxonomy};
use std::collections::{BTreeSet, HashMap};

/// Months in the chart, up to and including the instant's.
const MONTHS: usize = 24;
/// The Land whose areas the view counts: every municipality of `geo` is in
/// NRW, whose AGS start with 05.
const NRW: &str = "05";

/// The Kreise, StädteRegion and kreisfreie Städte, and which municipalities
/// (indexes into `geo::municipalities()`) lie in each.
struct Areas {
    regions: Vec<(&'static str, &'static str)>,
    /// municipality index -> region index
    region_of: Vec<usize>,
}

impl Areas {
    fn new() -> Areas {
        let mut regions: Vec<(&'static str, &'static str)> = Vec::new();
        let mut region_of = Vec::new();
        for m in geo::municipalities() {
            if regions.last().is_none_or(|(a, _)| *a != m.kreis_ags) {
                regions.push((&m.kreis_ags, &m.kreis_name));
            }
            region_of.push(regions.len() - 1);
        }
        Areas { regions, region_of }
    }

    /// The municipalities an AGS prefix covers, as a range of indexes.
    fn covered_by(prefix: &str) -> std::ops::Range<usize> {
        let all = geo::municipalities();
        let start = all.partition_point(|m| m.ags.as_str() < prefix);
        let end = start + all[start..].partition_point(|m| m.ags.starts_with(prefix));
        start..end
    }

    /// A municipality's index by AGS.
    fn index_of(ags: &str) -> Option<usize> {
        geo::municipalities()
            .binary_search_by(|m| m.ags.as_str().cmp(ags))
            .ok()
    }
}

/// An active offer: its slot, the provider it is shown under, the
/// municipalities it is delivered to.
struct Live<'a> {
    slot: u32,
    provider: Did,
    municipalities: Vec<std::ops::Range<usize>>,
    key: (&'a Did, &'a OfferId),
}

/// An agreement: its offer's slot (None: the offer is not indexed), the
/// provider it is shown under, its municipal takers with whether the provider
/// is in-house for each, and its start and end.
struct Deal {
    slot: Option<u32>,
    active: bool,
    takers: Vec<(usize, bool)>,
    provider_taker: bool,
    start: Timestamp,
    stop: Option<Timestamp>,
}

/// An open demand of a municipality.
struct Want {
    municipality: usize,
    category: Option<Slug>,
    answered: bool,
}

/// Counts for one scope (a category or all), per region and in all.
struct Tally {
    per_region: Vec<Figures>,
    gaps: Vec<BTreeSet<usize>>,
    total: Figures,
}

fn tally(
    areas: &Areas,
    offers: &[&Live<'_>],
    deals: &[Deal],
    wants: &[Want],
    in_scope: &dyn Fn(u32) -> bool,
    category: Option<&str>,
) -> Tally {
    let n = areas.regions.len();
    let municipalities = geo::municipalities().len();
    let mut per_region = vec![Figures::default(); n];
    for r in &areas.region_of {
        per_region[*r].municipalities += 1;
    }
    let mut total = Figures {
        municipalities: municipalities as u64,
        ..Figures::default()
    };
    // Coverage as a difference array over the municipalities (an offer covers
    // ranges of them), providers counted once per region with a flag per
    // (provider, region): linear in the offers and the regions they touch.
    let mut starts = vec![0i64; municipalities + 1];
    let mut provider_no: HashMap<&Did, usize> = HashMap::new();
    let mut seen: Vec<bool> = Vec::new();
    for o in offers.iter().filter(|o| in_scope(o.slot)) {
        let mut touched: Vec<usize> = Vec::new();
        for range in o.municipalities.iter().filter(|r| !r.is_empty()) {
            starts[range.start] += 1;
            starts[range.end] -= 1;
            // Municipalities are in AGS order, so a range's regions are too.
            touched.extend(areas.region_of[range.start]..=areas.region_of[range.end - 1]);
        }
        if touched.is_empty() {
            continue;
        }
        touched.sort_unstable();
        touched.dedup();
        total.offers += 1;
        let next = provider_no.len();
        let p = *provider_no.entry(&o.provider).or_insert(next);
        if p == next {
            total.providers += 1;
            seen.resize(seen.len() + n, false);
        }
        for r in touched {
            per_region[r].offers += 1;
            if !std::mem::replace(&mut seen[p * n + r], true) {
                per_region[r].providers += 1;
            }
        }
    }
    let mut depth = 0i64;
    for (m, d) in starts.iter().take(municipalities).enumerate() {
        depth += d;
        if depth > 0 {
            per_region[areas.region_of[m]].covered += 1;
            total.covered += 1;
        }
    }
    let mut gaps = vec![BTreeSet::new(); n];
    for w in wants {
        let within = match (category, &w.category) {
            (None, _) => true,
            (Some(c), Some(d)) => taxonomy::is_within(d.as_str(), c),
            (Some(_), None) => false,
        };
        if !within {
            continue;
        }
        let r = areas.region_of[w.municipality];
        per_region[r].open_demand += 1;
        total.open_demand += 1;
        if !w.answered {
            gaps[r].insert(w.municipality);
        }
    }
    for (r, g) in gaps.iter().enumerate() {
        per_region[r].gaps = g.len() as u64;
        total.gaps += g.len() as u64;
    }
    let mut takers = vec![false; municipalities];
    let mut exchange = vec![false; municipalities];
    for d in deals.iter().filter(|d| d.active) {
        let inside = match d.slot {
            Some(s) => in_scope(s),
            None => category.is_none(),
        };
        if !inside || d.takers.is_empty() {
            continue;
        }
        total.active_agreements += 1;
        let regions: BTreeSet<usize> = d.takers.iter().map(|(m, _)| areas.region_of[*m]).collect();
        for r in regions {
            per_region[r].active_agreements += 1;
        }
        for (m, in_house) in &d.takers {
            takers[*m] = true;
            exchange[*m] |= !in_house;
        }
    }
    for m in 0..municipalities {
        let r = areas.region_of[m];
        if takers[m] {
            per_region[r].takers += 1;
            total.takers += 1;
        }
        if exchange[m] {
            per_region[r].exchange += 1;
            total.exchange += 1;
        }
    }
    Tally {
        per_region,
        gaps,
        total,
    }
}

/// `YYYY-MM` of an instant.
fn month_of(t: Timestamp) -> String {
    t.date()[..7].to_owned()
}

/// The `MONTHS` months up to the one of `at`, oldest first.
fn months_up_to(at: Timestamp) -> Vec<String> {
    let date = at.date();
    let (mut y, mut m): (i64, i64) = (
        date[..4].parse().unwrap_or(1970),
        date[5..7].parse().unwrap_or(1),
    );
    let mut out = Vec::with_capacity(MONTHS);
    for _ in 0..MONTHS {
        out.push(format!("{y:04}-{m:02}"));
        m -= 1;
        if m == 0 {
            m = 12;
            y -= 1;
        }
    }
    out.reverse();
    out
}

fn category_ref(slug: &Slug) -> CategoryRef {
    CategoryRef {
        slug: slug.clone(),
        name: taxonomy::category(slug.as_str())
            .map_or_else(|| slug.to_string(), |c| c.label_de.clone()),
    }
}

/// The categories the per-category table shows: the chosen one's children
/// (or itself, without children), else the top level.
fn row_categories(category: Option<&Slug>) -> Vec<Slug> {
    let parent = category.map(|c| c.as_str());
    let children: Vec<Slug> = taxonomy::categories()
        .iter()
        .filter(|c| c.parent.as_deref() == parent)
        .filter_map(|c| c.slug.parse().ok())
        .collect();
    match (children.is_empty(), category) {
        (true, Some(c)) => vec![c.clone()],
        _ => children,
    }
}

/// What a demand asks for, read from its record.
struct Asked {
    buyer: Did,
    category: Option<Slug>,
    ozg: Vec<String>,
    leika: Vec<String>,
}

/// The open demands of admitted municipalities in the areas at `at`, read
/// from the store (only those: a federation may admit every Land's).
fn open_demands(node: &Node, at: Timestamp) -> Vec<Asked> {
    let ids: Vec<(Did, Hash32)> = node.with_state(|state| {
        state
            .demands
            .iter()
            .filter(|((buyer, _), _)| {
                state
                    .municipalities
                    .get(buyer)
                    .is_some_and(|m| Areas::index_of(m.ags.as_str()).is_some())
            })
            .filter(|(_, e)| demand_status(e, at) == Some(DemandStatus::Open))
            .filter_map(|((buyer, _), e)| Some((buyer.clone(), e.current()?.record)))
            .collect()
    });
    let loaded = Loaded::read(node, ids.iter().map(|(_, id)| *id));
    ids.into_iter()
        .filter_map(|(buyer, id)| {
            let rec = loaded.get(&id)?;
            let Body::Demand(b) = &rec.record().body else {
                return None;
            };
            Some(Asked {
                buyer,
                category: b.category.clone(),
                ozg: b.ozg_ids.iter().map(|o| o.as_str().to_owned()).collect(),
                leika: b.leika_keys.iter().map(|l| l.as_str().to_owned()).collect(),
            })
        })
        .collect()
}

/// What a demand asks for: category, OZG ids, LeiKa keys.
type AskedKey<'a> = (Option<&'a Slug>, &'a [String], &'a [String]);

/// Which municipalities an active offer answering `asked` is delivered to
/// (one flag per municipality): an offer within its category if it names one,
/// else listing one of its OZG ids or LeiKa keys, else any.
fn answering(index: &SearchIndex, offers: &[&Live<'_>], asked: &Asked) -> Vec<bool> {
    let filed: Vec<_> = match &asked.category {
        Some(c) => vec![index.filed(Field::Category, c.as_str())],
        None => asked
            .ozg
            .iter()
            .map(|o| index.filed(Field::Ozg, o))
            .chain(asked.leika.iter().map(|l| index.filed(Field::Leika, l)))
            .collect(),
    };
    let no_terms = asked.category.is_none() && filed.is_empty();
    let n = geo::municipalities().len();
    let mut starts = vec![0i64; n + 1];
    for o in offers
        .iter()
        .filter(|o| no_terms || filed.iter().any(|f| f.has(o.slot)))
    {
        for r in &o.municipalities {
            starts[r.start] += 1;
            starts[r.end] -= 1;
        }
    }
    let mut depth = 0;
    starts[..n]
        .iter()
        .map(|d| {
            depth += d;
            depth > 0
        })
        .collect()
}

/// `GET /v1/transition`: the figures for `category` (None: all) at `at`.
pub fn transition(node: &Node, category: Option<&Slug>, at: Timestamp) -> TransitionView {
    let asked = open_demands(node, at);
    let areas = Areas::new();
    node.with_index(|state, index| {
        let active = index.active(state, at);
        let regions = index.regions_of(&active);
        let offers: Vec<Live<'_>> = active
            .iter()
            .filter_map(|slot| {
                let ((p, o), _, _) = index.offer_at(*slot)?;
                Some(Live {
                    slot: *slot,
                    provider: state.shown_under(p, o, at),
                    municipalities: regions
                        .get(slot)
                        .into_iter()
                        .flatten()
                        .map(|prefix| Areas::covered_by(prefix))
                        .filter(|r| !r.is_empty())
                        .collect(),
                    key: (p, o),
                })
            })
            .collect();
        // Only offers delivered somewhere in the areas count below.
        let near: Vec<&Live<'_>> = offers
            .iter()
            .filter(|o| !o.municipalities.is_empty())
            .collect();
        // Demands ask for few distinct things: each answered once for all
        // municipalities.
        let mut answered: HashMap<AskedKey<'_>, Vec<bool>> = HashMap::new();
        let wants: Vec<Want> = asked
            .iter()
            .filter_map(|a| {
                let ags = state.municipalities.get(&a.buyer)?.ags.as_str();
                let m = Areas::index_of(ags)?;
                let covered = answered
                    .entry((a.category.as_ref(), &a.ozg, &a.leika))
                    .or_insert_with(|| answering(index, &near, a));
                Some(Want {
                    municipality: m,
                    category: a.category.clone(),
                    answered: covered[m],
                })
            })
            .collect();
        let deals = deals(state, index, at);
        let scope = category.map(|c| index.filed(Field::Category, c.as_str()));
        let in_scope = |slot: u32| scope.as_ref().is_none_or(|f| f.has(slot));
        let main = tally(
            &areas,
            &near,
            &deals,
            &wants,
            &in_scope,
            category.map(Slug::as_str),
        );
        let regions_out = areas
            .regions
            .iter()
            .enumerate()
            .map(|(i, (ags, name))| RegionFigures {
                ags: (*ags).to_owned(),
                name: (*name).to_owned(),
                level: geo::regions()
                    .iter()
                    .find(|r| r.ags == *ags)
                    .map_or_else(|| "kreis".to_owned(), |r| r.level.clone()),
                figures: main.per_region[i].clone(),
                gap_municipalities: main.gaps[i]
                    .iter()
                    .map(|m| {
                        let m = &geo::municipalities()[*m];
                        MunicipalityRef {
                            ags: m.ags.clone(),
                            name: m.name.clone(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let categories = row_categories(category)
            .iter()
            .map(|c| {
                let filed = index.filed(Field::Category, c.as_str());
                let t = tally(
                    &areas,
                    &near,
                    &deals,
                    &wants,
                    &|slot| filed.has(slot),
                    Some(c.as_str()),
                );
                CategoryFigures {
                    category: category_ref(c),
                    figures: t.total,
                }
            })
            .collect();
        let break_even = offers
            .iter()
            .filter(|o| in_scope(o.slot))
            .filter_map(|o| {
                let (_, record, need) = index.offer_at(o.slot)?;
                if need == 0 {
                    return None;
                }
                let (p, id) = o.key;
                let takers = state.capacity(p, id, at).active_takers as u64;
                let title = index
                    .title_and_basis(&(p.clone(), id.clone()))
                    .map_or_else(String::new, |(t, _)| t.to_owned());
                Some(BreakEvenView {
                    provider: ProviderRef {
                        did: o.provider.clone(),
                        name: state.provider_name(&o.provider),
                    },
                    offer_id: id.clone(),
                    title,
                    record,
                    takers,
                    break_even: u64::from(need),
                    self_sustaining: takers >= u64::from(need),
                })
            })
            .collect();
        let months = months_up_to(at);
        let mut started: HashMap<String, u64> = HashMap::new();
        let mut ended: HashMap<String, u64> = HashMap::new();
        for d in &deals {
            let inside = match d.slot {
                Some(s) => in_scope(s),
                None => category.is_none(),
            };
            if !inside {
                continue;
            }
            if d.start <= at {
                *started.entry(month_of(d.start)).or_default() += 1;
            }
            if let Some(stop) = d.stop.filter(|s| *s <= at) {
                *ended.entry(month_of(stop)).or_default() += 1;
            }
        }
        let months = months
            .into_iter()
            .map(|m| MonthFigures {
                started: started.get(&m).copied().unwrap_or(0),
                ended: ended.get(&m).copied().unwrap_or(0),
                month: m,
            })
            .collect();
        let between_providers = deals
            .iter()
            .filter(|d| d.active && d.provider_taker)
            .filter(|d| match d.slot {
                Some(s) => in_scope(s),
                None => category.is_none(),
            })
            .count() as u64;
        TransitionView {
            at,
            category: category.map(category_ref),
            totals: main.total,
            between_providers,
            regions: regions_out,
            categories,
            break_even,
            months,
        }
    })
}

/// Every agreement the view counts, as the tallies read it: those with a
/// municipal taker in the areas or with a provider as taker. Statuses are
/// read for all of them at once (each offer's capacity once).
fn deals(state: &State, index: &SearchIndex, at: Timestamp) -> Vec<Deal> {
    // The candidates from the index (NRW's takers, and providers as takers),
    // not a walk over every request of the federation.
    let mut candidates: Vec<Hash32> = NRW
        .parse()
        .map(|nrw| index.requests_taken_in(&nrw))
        .unwrap_or_default();
    candidates.extend(index.requests_taken_by_providers());
    candidates.sort_unstable();
    candidates.dedup();
    let counted: Vec<(&Hash32, &kx_protocol::registry::RequestEntry)> = candidates
        .iter()
        .filter_map(|id| state.requests.get_key_value(id))
        .filter(|(_, e)| e.is_agreement())
        .filter(|(_, e)| {
            e.takers.iter().any(|t| match t {
                Taker::Municipality(ags) => Areas::index_of(ags.as_str()).is_some(),
                Taker::Provider(_) => true,
            })
        })
        .collect();
    let ids: Vec<Hash32> = counted.iter().map(|(id, _)| **id).collect();
    let statuses = state.agreement_statuses(&ids, at);
    counted
        .into_iter()
        .zip(statuses)
        .map(|((_, e), status)| {
            let (p, o) = state.agreement_offer(e);
            let takers = e
                .takers
                .iter()
                .filter_map(|t| match t {
                    Taker::Municipality(ags) => {
                        let m = Areas::index_of(ags.as_str())?;
                        Some((m, state.in_house(&p, &o, ags.as_str(), at)))
                    }
                    Taker::Provider(_) => None,
                })
                .collect();
            let stop = match (e.end.as_ref().map(|x| x.effective_at), e.stop) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Deal {
                slot: index.slot_of(&(p.clone(), o.clone())),
                active: status == Some(AgreementStatus::Active),
                provider_taker: e.takers.iter().any(|t| matches!(t, Taker::Provider(_))),
                takers,
                start: e.start,
                stop,
            }
        })
        .collect()
}
