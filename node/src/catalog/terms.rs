//! An offer's terms for one buyer, as the offer, compare and provider pages
//! show them: the stewards' standards met or not (and why), the cost with its
//! arithmetic, and the contact (`kx_protocol::terms`, `specs/protocol.md` 6.9).

use super::form::Params;
use super::format;
use kx_api::Figures;
use kx_api::views::ContactView;
use kx_protocol::body::{Charge, Contact, PriceUnit};
use kx_protocol::fields::Slug;
use kx_protocol::geo::Municipality;
use kx_protocol::terms::{Check, Conformance, ConformanceStatus, Cost, Criterion};
use serde_json::Value;
use std::collections::BTreeMap;

/// A figure the buyer enters on the page: parameter, label, value.
pub(super) struct FigureField {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) value: String,
}

/// The page parameters of the figures, with their labels and units.
const FIGURES: [(&str, &str); 5] = [
    ("nutzer", "Nutzer:innen"),
    ("faelle", "Fälle pro Jahr"),
    ("stunden", "Stunden pro Jahr"),
    ("standorte", "Standorte"),
    ("schnittstellen", "Schnittstellen"),
];

/// The figures of the page: inhabitants of the municipality, the rest as
/// entered (a value that is no whole number is left out).
pub(super) fn figures(p: &Params, m: Option<&Municipality>) -> Figures {
    let n = |k: &str| p.get(k).and_then(|v| v.parse::<u64>().ok());
    Figures {
        inhabitants: m.map(|m| m.population),
        users: n("nutzer"),
        cases: n("faelle"),
        hours: n("stunden"),
        sites: n("standorte"),
        interfaces: n("schnittstellen"),
    }
}

/// The form fields for `f`.
pub(super) fn figure_fields(f: &Figures) -> Vec<FigureField> {
    let values = [f.users, f.cases, f.hours, f.sites, f.interfaces];
    FIGURES
        .iter()
        .zip(values)
        .map(|((name, label), v)| FigureField {
            name,
            label,
            value: v.map_or_else(String::new, |n| n.to_string()),
        })
        .collect()
}

fn unit(u: PriceUnit) -> &'static str {
    match u {
        PriceUnit::Flat => "pauschal",
        PriceUnit::Inhabitant => "Einwohner:innen",
        PriceUnit::User => "Nutzer:innen",
        PriceUnit::Case => "Fälle pro Jahr",
        PriceUnit::Hour => "Stunden pro Jahr",
        PriceUnit::Site => "Standorte",
        PriceUnit::Interface => "Schnittstellen",
    }
}

fn charge(c: Charge) -> &'static str {
    match c {
        Charge::Once => "einmalig",
        Charge::Yearly => "jährlich",
        Charge::Monthly => "monatlich",
    }
}

/// One line of a cost table.
pub(super) struct CostRow {
    pub(super) label: String,
    pub(super) charge: &'static str,
    /// The first year's amount worked out: `0,35 € × 152.531 Einwohner:innen = …`.
    pub(super) first: String,
    pub(super) five: String,
    pub(super) optional: bool,
}

/// A cost as the pages show it.
pub(super) struct CostTable {
    pub(super) rows: Vec<CostRow>,
    /// The totals, or why there are none.
    pub(super) first: String,
    pub(super) five: String,
    /// The figures that are missing, for the reader to enter.
    pub(super) missing: Option<String>,
}

fn money(cents: u64, currency: &str) -> String {
    if currency == "EUR" {
        format::euro(cents)
    } else {
        format!(
            "{},{:02} {currency}",
            format::thousands(cents / 100),
            cents % 100
        )
    }
}

/// The table of `c`, each amount with its arithmetic.
pub(super) fn cost_table(c: &Cost) -> CostTable {
    let cur = c.currency.as_str();
    let rows = c
        .lines
        .iter()
        .map(|l| {
            let (n1, n5) = match l.charge {
                Charge::Once => ("", ""),
                Charge::Yearly => ("", " × 5 Jahre"),
                Charge::Monthly => (" × 12 Monate", " × 60 Monate"),
            };
            let base = match (l.unit, l.quantity) {
                (PriceUnit::Flat, _) => money(l.amount_cents, cur),
                (u, Some(q)) => format!(
                    "{} × {} {}",
                    money(l.amount_cents, cur),
                    format::thousands(q),
                    unit(u)
                ),
                (u, None) => format!("{} je {}", money(l.amount_cents, cur), unit(u)),
            };
            let worked = |n: &str, total: Option<u64>| match (l.quantity, total) {
                (None, _) => format!("{base}{n}: Anzahl fehlt"),
                (Some(_), Some(t)) if l.unit == PriceUnit::Flat && n.is_empty() => money(t, cur),
                (Some(_), Some(t)) => format!("{base}{n} = {}", money(t, cur)),
                (Some(_), None) => format!("{base}{n}: zu groß"),
            };
            // A single price read as one component is labelled by its model.
            let single = l.label.parse::<kx_protocol::body::PriceModel>().is_ok();
            CostRow {
                label: if single {
                    "Preis laut Angebot".to_owned()
                } else {
                    l.label.clone()
                },
                charge: charge(l.charge),
                first: worked(n1, l.first_year_cents),
                five: worked(n5, l.five_years_cents),
                optional: l.optional,
            }
        })
        .collect();
    let missing = (!c.missing.is_empty()).then(|| {
        let names: Vec<&str> = c.missing.iter().map(|u| unit(*u)).collect();
        format!("Für die Summe fehlen: {}.", names.join(", "))
    });
    let total = |t: Option<u64>| match t {
        _ if c.on_request => "auf Anfrage".to_owned(),
        Some(t) => money(t, cur),
        None => "–".to_owned(),
    };
    CostTable {
        rows,
        first: total(c.first_year_cents),
        five: total(c.five_years_cents),
        missing,
    }
}

/// One criterion of a standard, as a sentence.
pub(super) struct CheckLine {
    pub(super) met: bool,
    pub(super) text: String,
}

/// A standard the offer declares: met or not, and why.
pub(super) struct StandardLine {
    pub(super) title: String,
    /// Its entry on the standards page.
    pub(super) href: String,
    pub(super) met: bool,
    pub(super) verdict: &'static str,
    pub(super) checks: Vec<CheckLine>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(" oder "),
        _ => "keine".to_owned(),
    }
}

fn number(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn check_line(c: &Check) -> CheckLine {
    let (req, off) = (&c.required, &c.offered);
    let text = match c.criterion {
        Criterion::Category => format!(
            "Kategorie {} (angeboten: {})",
            format::category(&text(req)),
            format::category(&text(off))
        ),
        Criterion::Certification if c.met => {
            format!("Zertifizierung: {}", format::standard_name(&text(req)))
        }
        Criterion::Certification => {
            format!(
                "Zertifizierung fehlt: {}",
                format::standard_name(&text(req))
            )
        }
        Criterion::Standard if c.met => format!("Standard: {}", format::standard_name(&text(req))),
        Criterion::Standard => format!("Standard fehlt: {}", format::standard_name(&text(req))),
        Criterion::Delivery => {
            format!("Bereitstellung {} (angeboten: {})", text(req), text(off))
        }
        Criterion::Availability => format!(
            "Verfügbarkeit mindestens {} (angeboten: {})",
            format::percent(number(req)),
            format::percent(number(off))
        ),
        Criterion::Response => format!(
            "Reaktionszeit höchstens {} Minuten (angeboten: {})",
            number(req),
            number(off)
        ),
        Criterion::Resolution => format!(
            "Lösungszeit höchstens {} Stunden (angeboten: {})",
            number(req),
            number(off)
        ),
    };
    CheckLine { met: c.met, text }
}

/// The standards an offer declares; `titles` names them.
pub(super) fn standard_lines(
    list: &[Conformance],
    titles: &BTreeMap<Slug, String>,
) -> Vec<StandardLine> {
    list.iter()
        .map(|c| StandardLine {
            title: titles
                .get(&c.standard_id)
                .cloned()
                .unwrap_or_else(|| c.standard_id.to_string()),
            href: format!("/standards#std-{}", c.standard_id),
            met: c.met(),
            verdict: match c.status {
                ConformanceStatus::Met => "KDN-Standard erfüllt",
                ConformanceStatus::NotMet => "KDN-Standard nicht erfüllt",
                ConformanceStatus::Retired => "KDN-Standard zurückgezogen",
                ConformanceStatus::Undefined => "kein KDN-Standard dieses Namens",
            },
            checks: c.checks.iter().map(check_line).collect(),
        })
        .collect()
}

/// A standard an offer meets, by title, with its entry on the standards page.
pub(super) struct Met {
    pub(super) title: String,
    pub(super) href: String,
}

/// The standards `v` meets; `titles` names them.
pub(super) fn met(v: &kx_api::views::OfferView, titles: &BTreeMap<Slug, String>) -> Vec<Met> {
    v.conformance
        .iter()
        .filter(|c| c.met())
        .map(|c| {
            let id = &c.standard_id;
            Met {
                title: titles.get(id).cloned().unwrap_or_else(|| id.to_string()),
                href: format!("/standards#std-{id}"),
            }
        })
        .collect()
}

/// A contact as one line: name, channels, and whom it is for.
pub(super) fn contact_line(c: &Contact) -> String {
    let mut line = c.name.to_string();
    for extra in [&c.email, &c.phone].into_iter().flatten() {
        line.push_str(&format!(", {extra}"));
    }
    let group = match c.customer_group.as_str() {
        "kommunen" => "Kommunen".to_owned(),
        "mitglieder" => "Mitglieder".to_owned(),
        "nicht-mitglieder" => "Nicht-Mitglieder".to_owned(),
        other => other.to_owned(),
    };
    match &c.regions {
        Some(r) => format!("{line} ({group} in {})", format::regions(r)),
        None => format!("{line} ({group})"),
    }
}

/// "Ihr Ansprechpartner" for a municipality, with where it comes from.
pub(super) fn your_contact(c: &ContactView) -> String {
    let from = match c.source {
        kx_protocol::terms::ContactSource::Offer => "laut Angebot",
        kx_protocol::terms::ContactSource::Profile => "laut Anbieterprofil",
    };
    format!("{} – {from}", contact_line(&c.contact))
}
