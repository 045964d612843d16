//! `/uebergang`: the transition at a glance. A map of the 53 Kreise and
//! kreisfreie Städte coloured by coverage or take-up for a chosen category
//! (`map.rs`; each area links to its municipalities, the table below is its
//! text alternative), the figures per Kreis and per category, whether the
//! offers that declare a break-even carry themselves, and agreements started
//! and ended per month as a bar chart. All from `view::transition`, the same
//! figures as `GET /v1/transition` and `kx transition`.

use super::form::Params;
use super::{Choice, choices, error_page, format, html, map};
use crate::clock;
use crate::ctx::Ctx;
use crate::view;
use askama::Template;
use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use kx_api::transition::{Figures, TransitionView};
use kx_protocol::Timestamp;
use kx_protocol::fields::Slug;

/// What the map colours by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Share of municipalities with at least one offer.
    Coverage,
    /// Share of municipalities taking part in an active agreement.
    Uptake,
}

impl Measure {
    fn value(self) -> &'static str {
        match self {
            Measure::Coverage => "abdeckung",
            Measure::Uptake => "nutzung",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Measure::Coverage => "Abdeckung: Anteil der Gemeinden mit mindestens einem Angebot",
            Measure::Uptake => "Nutzung: Anteil der Gemeinden mit laufender Vereinbarung",
        }
    }

    fn count(self, f: &Figures) -> u64 {
        match self {
            Measure::Coverage => f.covered,
            Measure::Uptake => f.takers,
        }
    }
}

/// The colour classes of the map and its legend, by share.
const CLASSES: [(&str, &str); 5] = [
    ("s0", "keine"),
    ("s1", "unter 25 %"),
    ("s2", "25 bis unter 50 %"),
    ("s3", "50 bis unter 75 %"),
    ("s4", "75 % und mehr"),
];

fn class_of(count: u64, of: u64) -> usize {
    if count == 0 || of == 0 {
        return 0;
    }
    1 + (count * 4 / of).min(3) as usize
}

fn share(count: u64, of: u64) -> String {
    if of == 0 {
        return "–".into();
    }
    format!("{} %", (count * 100 + of / 2) / of)
}

struct Area {
    href: String,
    label: String,
    class: &'static str,
    path: &'static str,
    kfz: &'static str,
    x: String,
    y: String,
}

struct RegionRow {
    href: String,
    name: String,
    municipalities: u64,
    offers: u64,
    providers: u64,
    covered: String,
    open_demand: u64,
    gaps: String,
    agreements: u64,
    takers: String,
    exchange: u64,
}

struct CategoryRow {
    href: String,
    name: String,
    offers: u64,
    providers: u64,
    covered: String,
    open_demand: u64,
    gaps: u64,
    agreements: u64,
    takers: u64,
    exchange: u64,
}

struct BreakEvenRow {
    offer: String,
    offer_href: String,
    provider: String,
    provider_href: String,
    takers: u64,
    need: u64,
    carries: bool,
}

struct Bar {
    x: String,
    y: String,
    height: String,
    label: String,
}

struct Chart {
    width: String,
    height: String,
    baseline: String,
    started: Vec<Bar>,
    ended: Vec<Bar>,
    ticks: Vec<(String, String)>,
    max: u64,
    top: String,
    rows: Vec<(String, u64, u64)>,
}

#[derive(Template)]
#[template(path = "transition.html")]
struct Page {
    categories: Vec<Choice>,
    measures: Vec<Choice>,
    stichtag: String,
    scope: String,
    at: String,
    totals: Figures,
    covered: String,
    between_providers: u64,
    measure: &'static str,
    width: String,
    height: String,
    areas: Vec<Area>,
    borders: &'static str,
    legend: Vec<(&'static str, &'static str)>,
    regions: Vec<RegionRow>,
    category_rows: Vec<CategoryRow>,
    break_even: Vec<BreakEvenRow>,
    carrying: usize,
    chart: Chart,
    api: String,
    command: String,
}

fn chart(v: &TransitionView) -> Chart {
    const BAR: f64 = 9.0;
    const GAP: f64 = 8.0;
    const TOP: f64 = 14.0;
    const PLOT: f64 = 150.0;
    let max = v
        .months
        .iter()
        .map(|m| m.started.max(m.ended))
        .max()
        .unwrap_or(0)
        .max(1);
    let unit = PLOT / max as f64;
    let left = 34.0;
    let step = 2.0 * BAR + GAP;
    let base = TOP + PLOT;
    let mut started = Vec::new();
    let mut ended = Vec::new();
    let mut ticks = Vec::new();
    for (i, m) in v.months.iter().enumerate() {
        let x = left + i as f64 * step;
        for (list, n, dx, what) in [
            (&mut started, m.started, 0.0, "begonnen"),
            (&mut ended, m.ended, BAR, "beendet"),
        ] {
            let h = n as f64 * unit;
            list.push(Bar {
                x: format!("{:.1}", x + dx),
                y: format!("{:.1}", base - h),
                height: format!("{h:.1}"),
                label: format!("{}: {n} {what}", month_de(&m.month)),
            });
        }
        if i % 3 == 0 {
            ticks.push((format!("{:.1}", x + BAR), month_de(&m.month)));
        }
    }
    Chart {
        width: format!("{:.0}", left + v.months.len() as f64 * step + 10.0),
        height: format!("{:.0}", base + 22.0),
        baseline: format!("{base:.1}"),
        started,
        ended,
        ticks,
        max,
        top: format!("{TOP:.1}"),
        rows: v
            .months
            .iter()
            .map(|m| (month_de(&m.month), m.started, m.ended))
            .collect(),
    }
}

/// `2026-03` as `03/2026`.
fn month_de(m: &str) -> String {
    match m.split_once('-') {
        Some((y, mo)) => format!("{mo}/{y}"),
        None => m.to_owned(),
    }
}

/// `GET /uebergang?kategorie=…&karte=abdeckung|nutzung&stichtag=JJJJ-MM-TT`.
pub(super) async fn page(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q);
    let category: Option<Slug> = match p.get("kategorie") {
        None => None,
        Some(c) => match c.parse() {
            Ok(s) => Some(s),
            Err(_) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("„{c}“ ist keine Kategorie des Katalogs."),
                );
            }
        },
    };
    let measure = match p.get("karte") {
        None | Some("abdeckung") => Measure::Coverage,
        Some("nutzung") => Measure::Uptake,
        Some(other) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("„{other}“ ist keine Kartenansicht; möglich sind abdeckung und nutzung."),
            );
        }
    };
    let at = match p.get("stichtag") {
        None => clock::now(),
        Some(d) => match format!("{d}T23:59:59Z").parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("„{d}“ ist kein Datum der Form JJJJ-MM-TT."),
                );
            }
        },
    };
    let v = view::transition::transition(&ctx.node, category.as_ref(), at);
    let scope = v
        .category
        .as_ref()
        .map_or_else(|| "alle Kategorien".to_owned(), |c| c.name.clone());
    let geometry = map::geometry();
    let areas = geometry
        .areas
        .iter()
        .filter_map(|(ags, path, (x, y))| {
            let r = v.regions.iter().find(|r| &r.ags == ags)?;
            let n = measure.count(&r.figures);
            let of = r.figures.municipalities;
            Some(Area {
                href: format!("/gemeinden?kreis={ags}"),
                label: format!("{}: {} von {} Gemeinden ({})", r.name, n, of, share(n, of)),
                class: CLASSES[class_of(n, of)].0,
                path,
                kfz: map::kfz(ags),
                x: format!("{x:.1}"),
                y: format!("{y:.1}"),
            })
        })
        .collect();
    let regions = v
        .regions
        .iter()
        .map(|r| {
            let f = &r.figures;
            RegionRow {
                href: format!("/gemeinden?kreis={}", r.ags),
                name: r.name.clone(),
                municipalities: f.municipalities,
                offers: f.offers,
                providers: f.providers,
                covered: format!("{} ({})", f.covered, share(f.covered, f.municipalities)),
                open_demand: f.open_demand,
                gaps: if r.gap_municipalities.is_empty() {
                    "0".into()
                } else {
                    format!(
                        "{}: {}",
                        f.gaps,
                        r.gap_municipalities
                            .iter()
                            .map(|m| m.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                agreements: f.active_agreements,
                takers: format!("{} ({})", f.takers, share(f.takers, f.municipalities)),
                exchange: f.exchange,
            }
        })
        .collect();
    let keep = |k: &str, v: &str| {
        let mut q: Vec<(String, String)> = p.without(k);
        q.push((k.to_owned(), v.to_owned()));
        format!(
            "/uebergang?{}",
            q.iter()
                .map(|(k, v)| format!("{k}={}", format::url_enc(v)))
                .collect::<Vec<_>>()
                .join("&")
        )
    };
    let category_rows = v
        .categories
        .iter()
        .map(|c| {
            let f = &c.figures;
            CategoryRow {
                href: keep("kategorie", c.category.slug.as_str()),
                name: c.category.name.clone(),
                offers: f.offers,
                providers: f.providers,
                covered: format!("{} ({})", f.covered, share(f.covered, f.municipalities)),
                open_demand: f.open_demand,
                gaps: f.gaps,
                agreements: f.active_agreements,
                takers: f.takers,
                exchange: f.exchange,
            }
        })
        .collect();
    let break_even: Vec<BreakEvenRow> = v
        .break_even
        .iter()
        .map(|b| BreakEvenRow {
            offer: b.title.clone(),
            offer_href: format::offer_href(&b.provider.did, &b.offer_id, None),
            provider: b.provider.name.clone(),
            provider_href: format::provider_href(&b.provider.did),
            takers: b.takers,
            need: b.break_even,
            carries: b.self_sustaining,
        })
        .collect();
    let chosen = category.as_ref().map(|c| c.as_str());
    let query = kx_api::transition::TransitionQuery {
        category: category.clone(),
        at: p.get("stichtag").map(|_| at),
    }
    .to_query_string();
    let page = Page {
        categories: choices(format::categories(), chosen),
        measures: [Measure::Coverage, Measure::Uptake]
            .into_iter()
            .map(|m| Choice {
                value: m.value().into(),
                label: m.label().into(),
                selected: m == measure,
            })
            .collect(),
        stichtag: p.get("stichtag").unwrap_or("").to_owned(),
        scope,
        at: format::date(at),
        covered: share(v.totals.covered, v.totals.municipalities),
        between_providers: v.between_providers,
        measure: measure.label(),
        width: format!("{:.0}", geometry.width),
        height: format!("{:.0}", geometry.height),
        areas,
        borders: &geometry.borders,
        legend: CLASSES.to_vec(),
        regions,
        category_rows,
        carrying: break_even.iter().filter(|b| b.carries).count(),
        break_even,
        chart: chart(&v),
        api: format!(
            "/v1/transition{}{query}",
            if query.is_empty() { "" } else { "?" }
        ),
        command: format!(
            "kx transition{}",
            category
                .as_ref()
                .map_or_else(String::new, |c| format!(" --category {c}"))
        ),
        totals: v.totals,
    };
    html(StatusCode::OK, &page)
}
