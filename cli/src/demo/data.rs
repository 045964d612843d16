//! The demo's data: the providers with their real regions and members, their
//! profiles, and their offers made from the templates in `cli/demo/offers.toml`
//! with the OZG services and LeiKa keys of `cli/demo/ozg.csv`. Everything here
//! is read from those files; only the variation between providers (price, SLA,
//! regions, legal basis) is computed, from a hash of provider and template so
//! that every run offers the same.

use anyhow::{Context, Result};
use kx_protocol::body::{Delivery, Kind, PriceModel};
use kx_protocol::{Body, SecretKey};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const PROVIDERS: &str = include_str!("../../demo/providers.csv");
const COVERAGE: &str = include_str!("../../demo/coverage.csv");
const OZG: &str = include_str!("../../demo/ozg.csv");
const TEMPLATES: &str = include_str!("../../demo/offers.toml");

/// The nodes that witness the others' checkpoints, and how many of them
/// must cosign one (a witness does not cosign its own node's checkpoint).
pub(super) const WITNESSES: [&str; 3] = ["krzn", "citeq", "sit"];
pub(super) const QUORUM: usize = 2;

/// Providers that run a node in the demo, in start order.
pub(super) const NODES: [&str; 6] = [
    "itk-rheinland",
    "krzn",
    "citeq",
    "sit",
    "owl-it",
    "regio-it",
];
/// Providers that merged into OWL-IT on 1 January 2024.
pub(super) const MERGED: [&str; 2] = ["gkd-paderborn", "krz"];

/// An offer template of `offers.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Template {
    key: String,
    category: String,
    title: String,
    summary: String,
    delivery: Delivery,
    model: PriceModel,
    cents: u64,
    standards: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Templates {
    template: Vec<Template>,
}

fn templates() -> Result<Vec<Template>> {
    let t: Templates = toml::from_str(TEMPLATES).context("cli/demo/offers.toml")?;
    Ok(t.template)
}

/// A demo provider and the key generated for it.
pub(super) struct Provider {
    pub(super) id: String,
    pub(super) short: String,
    name: String,
    regions: Vec<String>,
    pub(super) members: Vec<String>,
    pub(super) key: SecretKey,
}

fn csv(text: &'static str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut fields = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            for c in l.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            fields.push(cur);
            header.iter().cloned().zip(fields).collect()
        })
        .collect()
}

pub(super) fn small_hash(a: &str, b: &str) -> u64 {
    let h = kx_protocol::record::sha256(format!("{a}/{b}").as_bytes());
    u64::from_be_bytes(h.0[..8].try_into().unwrap_or([0; 8]))
}

/// The providers of `providers.csv` (but KDN, the steward), each with a new key.
pub(super) fn providers() -> Result<Vec<Provider>> {
    let coverage = csv(COVERAGE);
    let mut out = Vec::new();
    for p in csv(PROVIDERS) {
        let id = p["id"].clone();
        if id == "kdn" {
            continue;
        }
        let regions: Vec<String> = p["region_ags"]
            .split(';')
            .map(|r| r.trim_end_matches("(partial)").to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        let mut members: Vec<String> = coverage
            .iter()
            .filter(|c| c["provider_id"] == id)
            .filter(|c| {
                let rel = c["relation"].as_str();
                rel.contains("mitglied")
                    || rel.contains("traeger")
                    || rel.contains("gesellschafter")
            })
            .map(|c| c["region_ags"].clone())
            .filter(|a| a.parse::<kx_protocol::fields::AgsPrefix>().is_ok())
            .collect();
        members.sort();
        members.dedup();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        out.push(Provider {
            id,
            short: p["short_name"].clone(),
            name: p["name"].chars().take(200).collect(),
            regions,
            members,
            key: SecretKey::from_seed(seed)?,
        });
    }
    Ok(out)
}

/// The profile's contacts: for all municipalities, for members, and one
/// team per Kreis the provider serves (functional mailboxes, no persons).
fn contacts(p: &Provider) -> Value {
    let mut list = vec![
        json!({"customer_group": "kommunen", "name": format!("Vertrieb Kommunen {}", p.short), "email": format!("kommunen@{}.demo.example", p.id)}),
        json!({"customer_group": "kreise", "name": format!("Kundenbetreuung Kreise {}", p.short), "email": format!("kreise@{}.demo.example", p.id)}),
    ];
    if !p.members.is_empty() {
        list.push(json!({"customer_group": "mitglieder", "name": format!("Mitgliederbetreuung {}", p.short), "email": format!("mitglieder@{}.demo.example", p.id)}));
    }
    for r in p.regions.iter().filter(|r| r.len() == 5).take(6) {
        let kreis = kx_protocol::geo::name_of(r).unwrap_or(r.as_str());
        list.push(json!({"customer_group": "kommunen", "name": format!("Kundenbetreuung {kreis}"), "email": format!("kunden-{r}@{}.demo.example", p.id), "regions": [r]}));
    }
    Value::Array(list)
}

/// The stewards' standards of the demo, as bodies without `prev_action`
/// and approvals; each names one demo template's category.
pub(super) fn standards() -> Vec<Value> {
    vec![
        json!({
            "standard_id": "kdn-meldewesen",
            "title": "KDN-Standard Meldewesen",
            "description": "Betrieb im zertifizierten kommunalen Rechenzentrum, Anbindung an XMeld und OSCI-Transport, Lösung von Störungen binnen eines Arbeitstags.",
            "category": "einwohnerwesen",
            "certifications": ["iso27001-grundschutz"],
            "standards": ["xmeld", "osci-transport"],
            "delivery": ["hosting", "saas"],
            "min_sla": {"availability_bp": 9950, "resolution_hours": 8},
        }),
        json!({
            "standard_id": "kdn-e-akte",
            "title": "KDN-Standard E-Akte",
            "description": "E-Akte als Cloud-Dienst mit xdomea-Austausch, C5-testiert.",
            "category": "e-akte",
            "certifications": ["iso27001-grundschutz", "bsi-c5"],
            "standards": ["xdomea"],
            "delivery": ["saas"],
            "min_sla": {"availability_bp": 9900, "response_minutes": 120},
        }),
        json!({
            "standard_id": "kdn-service-desk",
            "title": "KDN-Standard Service-Desk",
            "description": "Service-Desk nach ITIL 4 mit Annahme binnen einer Stunde.",
            "category": "service-desk",
            "certifications": [],
            "standards": ["itil4"],
            "delivery": [],
            "min_sla": {"response_minutes": 60},
        }),
    ]
}

/// The standard an offer of template `key` declares, if any.
fn declared_standard(key: &str) -> Option<&'static str> {
    match key {
        "meldewesen" => Some("kdn-meldewesen"),
        "e-akte" => Some("kdn-e-akte"),
        "service-desk" => Some("kdn-service-desk"),
        _ => None,
    }
}

/// Price components for an offer priced by `model` at `cents`: an
/// introduction, the operation in the template's unit, a connection per
/// site, and an optional extra.
fn components(model: PriceModel, cents: u64) -> Option<Value> {
    let (charge, unit) = match model {
        PriceModel::PerInhabitantPerYear => ("yearly", "inhabitant"),
        PriceModel::PerUserPerMonth => ("monthly", "user"),
        PriceModel::FlatPerYear => ("yearly", "flat"),
        _ => return None,
    };
    let intro = (cents * 20_000).clamp(250_000, 2_500_000) / 100 * 100;
    Some(json!([
        {"label": "Einführung und Datenübernahme", "charge": "once", "unit": "flat", "amount_cents": intro, "optional": false},
        {"label": "Betrieb", "charge": charge, "unit": unit, "amount_cents": cents, "optional": false},
        {"label": "Anbindung je Standort", "charge": "yearly", "unit": "site", "amount_cents": 48_000, "optional": false},
        {"label": "Schulung vor Ort", "charge": "once", "unit": "flat", "amount_cents": 180_000, "optional": true}
    ]))
}

/// The provider's signed profile.
pub(super) fn profile(p: &Provider) -> Result<Body> {
    let certs: Vec<&str> = match small_hash(&p.id, "certs") % 3 {
        0 => vec!["iso27001-grundschutz"],
        1 => vec!["iso27001-grundschutz", "bsi-c5"],
        _ => vec!["iso27001", "iso20000-1"],
    };
    Body::from_json(
        Kind::ProviderProfile,
        json!({
            "name": p.name,
            "short_name": p.short,
            "description": format!("{} ist kommunaler IT-Dienstleister in Nordrhein-Westfalen (Demo-Daten).", p.short),
            "regions": p.regions,
            "members": p.members,
            "certifications": certs,
            "nodes": [],
            "contacts": contacts(p),
        }),
    )
    .map_err(|e| anyhow::anyhow!("profile of {}: {e}", p.id))
}

/// The offer templates and the OZG services by category.
pub(super) struct Offers {
    templates: Vec<Template>,
    ozg: Vec<BTreeMap<String, String>>,
}

impl Offers {
    pub(super) fn load() -> Result<Offers> {
        Ok(Offers {
            templates: templates()?,
            ozg: csv(OZG),
        })
    }

    /// The offers of `p`: a share of the templates, varied by provider.
    pub(super) fn of(&self, p: &Provider) -> Result<Vec<Body>> {
        offers(p, &self.templates, &self.ozg, share(&p.id))
    }
}

fn offers(
    p: &Provider,
    templates: &[Template],
    ozg: &[BTreeMap<String, String>],
    share: u64,
) -> Result<Vec<Body>> {
    let mut out = Vec::new();
    for (i, t) in templates.iter().enumerate() {
        let h = small_hash(&p.id, &t.key);
        if h % 100 >= share {
            continue;
        }
        let linked: Vec<&BTreeMap<String, String>> =
            ozg.iter().filter(|o| o["category"] == t.category).collect();
        let ozg_ids: Vec<&str> = linked.iter().map(|o| o["ozg_id"].as_str()).collect();
        let mut leika: Vec<&str> = linked
            .iter()
            .flat_map(|o| o["leika_keys"].split(';'))
            .filter(|k| k.len() == 14)
            .collect();
        leika.sort();
        leika.dedup();
        // Prices vary by provider within ±25 %.
        let cents = t.cents * (75 + h % 51) / 100;
        let nrw_wide = t.delivery == Delivery::Saas && h.is_multiple_of(3);
        let regions = if nrw_wide {
            vec!["05".to_owned()]
        } else {
            p.regions.clone()
        };
        let availability = [9900, 9950, 9980, 9990][(h % 4) as usize];
        let response: u64 = [30, 60, 120, 240][(h % 4) as usize];
        let resolution: u64 = [4, 8, 24, 48][((h / 4) % 4) as usize];
        let hours = if h.is_multiple_of(2) {
            "Mo-Fr 07:30-16:30"
        } else {
            "Mo-Do 08:00-16:00, Fr 08:00-13:00"
        };
        let notes = if t.model == PriceModel::PerInhabitantPerYear {
            "Mindestentgelt 2.500 EUR pro Jahr."
        } else {
            ""
        };
        let area = if nrw_wide {
            "ganz NRW"
        } else {
            "der eigenen Region"
        };
        let mut certs = vec!["iso27001-grundschutz"];
        if t.delivery == Delivery::Saas && h.is_multiple_of(2) {
            certs.push("bsi-c5");
        }
        let mut v = json!({
            "offer_id": t.key,
            "version": 1,
            "title": t.title,
            "summary": t.summary,
            "description": format!("{} Angebot von {} für Kommunen in {area}. Einführung, Schulung und Betrieb aus einer Hand.", t.summary, p.short),
            "category": t.category,
            "ozg_ids": ozg_ids,
            "leika_keys": leika,
            "regions": regions,
            "delivery": t.delivery,
            "sla": {
                "availability_bp": availability,
                "support_hours": hours,
                "response_minutes": response,
                "resolution_hours": resolution,
            },
            "pricing": {
                "model": t.model,
                "amount_cents": cents,
                "currency": "EUR",
                "notes": notes,
            },
            "capacity": 3 + h % 40,
            "certifications": certs,
            "standards": t.standards,
            "contacts": contacts(p),
            "valid_from": "2026-01-01T00:00:00Z",
        });
        if i % 5 == 4 {
            v["valid_until"] = json!("2028-12-31T23:59:59Z");
        }
        // Most providers say how many takers an offer needs to carry itself.
        if h % 3 != 2 {
            v["break_even"] = json!(2 + h % 5);
        }
        if let Some(id) = declared_standard(&t.key) {
            v["conforms_to"] = json!([id]);
        }
        // Some state their price in parts: introduction, operation, connection.
        if h % 4 == 3
            && let Some(parts) = components(t.model, cents)
        {
            v["price_components"] = parts;
        }
        match h % 4 {
            0 | 1 => {
                v["legal_basis"] = json!({"kind": "inter_municipal", "text": "Interkommunale Zusammenarbeit nach § 108 Abs. 6 GWB auf Grundlage einer öffentlich-rechtlichen Vereinbarung."});
            }
            2 if t.delivery == Delivery::Saas => {
                v["legal_basis"] = json!({"kind": "framework_agreement", "text": "Abruf aus dem Rahmenvertrag der Einkaufsgemeinschaft kommunaler IT-Dienstleister."});
            }
            _ => {}
        }
        out.push(
            Body::from_json(Kind::Offer, v)
                .map_err(|e| anyhow::anyhow!("offer {} of {}: {e}", t.key, p.id))?,
        );
    }
    Ok(out)
}

/// Share of the templates (percent) each provider offers; merged providers had a
/// smaller portfolio.
fn share(id: &str) -> u64 {
    if MERGED.contains(&id) { 25 } else { 70 }
}
