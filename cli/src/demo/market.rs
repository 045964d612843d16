//! The exchange in the demo: the municipalities of four Kreise admitted as
//! buyers (one action per Kreis), their demand, a few hundred requests with
//! their answers (mostly accepted, some declined, some open or withdrawn),
//! providers buying from providers (a SOC, data-centre hosting, backup, an
//! ISMS) and a provider bundling for its members, some agreements ended, and
//! OWL-IT consolidating the duplicates its merger left. Every choice comes from
//! a hash of the names involved, so each run makes the same market (with new
//! keys).

use super::data::{MERGED, Provider, small_hash};
use crate::client::Client;
use crate::offline::now;
use anyhow::{Context, Result};
use kx_protocol::author::LogWriter;
use kx_protocol::body::{Kind, LegalBasisKind, MunicipalityAdmitBody, OfferBody, PriceModel};
use kx_protocol::geo::{self, Municipality};
use kx_protocol::{Body, Hash32, SecretKey, Timestamp, VerifiedRecord, record};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The Kreise whose municipalities are admitted, and the provider whose node
/// they use.
pub(super) const KREISE: [(&str, &str); 4] = [
    ("05774", "owl-it"),        // Kreis Paderborn
    ("05162", "itk-rheinland"), // Rhein-Kreis Neuss
    ("05158", "krzn"),          // Kreis Mettmann
    ("05974", "sit"),           // Kreis Soest
];

/// Providers buying from providers: (buyer, offer template key).
const PROVIDER_BUYS: [(&str, &str); 4] = [
    ("krzn", "soc"),
    ("citeq", "rz-fachverfahren"),
    ("regio-it", "backup"),
    ("sit", "isms"),
];

/// What the demo's submissions need: where each record goes and how many went.
pub(super) struct Market<'a> {
    pub(super) fed: Hash32,
    pub(super) providers: &'a [Provider],
    pub(super) writers: &'a mut BTreeMap<String, LogWriter>,
    /// Every offer published, with its provider id.
    pub(super) offers: &'a [(String, VerifiedRecord)],
    pub(super) client_of: &'a dyn Fn(&str) -> Client,
    pub(super) submitted: &'a mut usize,
    /// Answers are issued a second apart from here, so that their order (the
    /// order capacity is taken in) is the order they were made in.
    pub(super) clock: Timestamp,
}

/// A municipality admitted for the demo, writing with its key.
pub(super) struct Town {
    pub(super) m: &'static Municipality,
    pub(super) home: &'static str,
    writer: LogWriter,
}

/// What the market made, for the summary the demo prints.
#[derive(Debug, Default)]
pub(super) struct Made {
    pub(super) towns: usize,
    pub(super) demands: usize,
    pub(super) requests: usize,
    pub(super) agreements: usize,
    pub(super) declined: usize,
    pub(super) ended: usize,
    pub(super) consolidated: usize,
}

/// One request made: who answers it, and what it asks for.
struct Asked {
    id: Hash32,
    buyer: String,
    provider: String,
    offer: (String, String),
    takers: u64,
}

impl Asked {
    /// What the answers are drawn from: buyer and offer, the same in every
    /// run (request ids differ, as the demo's keys are new each time), so the
    /// demo shows the same agreements whenever it is started.
    fn key(&self) -> String {
        format!("{}/{}/{}", self.buyer, self.offer.0, self.offer.1)
    }
}

fn body(kind: Kind, v: Value) -> Result<Body> {
    Body::from_json(kind, v).map_err(|e| anyhow::anyhow!("demo {kind}: {e}"))
}

impl Market<'_> {
    fn submit(&mut self, home: &str, rec: &VerifiedRecord) -> Result<()> {
        (self.client_of)(home)
            .submit(rec.canonical_json())
            .with_context(|| format!("submit the demo's {}", rec.record().kind()))?;
        *self.submitted += 1;
        Ok(())
    }

    /// Signs with a provider's writer and submits to its node.
    fn provider_writes(&mut self, id: &str, b: Body, at: Timestamp) -> Result<VerifiedRecord> {
        let home = if MERGED.contains(&id) { "owl-it" } else { id };
        let w = self.writers.get_mut(id).context("provider writer")?;
        let rec = w.write(b, at)?;
        self.submit(home, &rec)?;
        Ok(rec)
    }

    /// The next answer time.
    fn tick(&mut self) -> Result<Timestamp> {
        self.clock = Timestamp::from_unix(self.clock.unix() + 1).context("clock")?;
        Ok(self.clock)
    }

    fn provider(&self, id: &str) -> Result<&Provider> {
        self.providers
            .iter()
            .find(|p| p.id == id)
            .with_context(|| format!("provider {id}"))
    }
}

fn offer_body(rec: &VerifiedRecord) -> Option<&OfferBody> {
    match &rec.record().body {
        Body::Offer(o) => Some(o),
        _ => None,
    }
}

/// Admits the municipalities of `KREISE`, one action per Kreis, and writes
/// their key files to `keys/`.
pub(super) fn admit(
    mk: &mut Market<'_>,
    steward: &mut LogWriter,
    head: &mut Hash32,
    keys: &Path,
) -> Result<Vec<Town>> {
    let mut towns = Vec::new();
    for (kreis, home) in KREISE {
        let members: Vec<&'static Municipality> = geo::municipalities()
            .iter()
            .filter(|m| m.kreis_ags == kreis)
            .collect();
        let mut entries = Vec::new();
        for m in members {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let key = SecretKey::from_seed(seed)?;
            super::write_key(&keys.join(format!("{}.key", m.ags)), &key)?;
            entries.push(json!({"ags": m.ags, "member": key.did().as_str(), "name": m.name}));
            towns.push(Town {
                m,
                writer: LogWriter::new(key, mk.fed, None),
                home,
            });
        }
        let mut b = Body::MunicipalityAdmit(
            serde_json::from_value::<MunicipalityAdmitBody>(json!({
                "prev_action": head.to_hex(),
                "municipalities": entries,
                "approvals": [],
            }))
            .context("admission body")?,
        );
        record::approve(&mut b, steward.key());
        let rec = steward.write(b, now()?)?;
        *head = rec.action().context("admission is an action")?;
        mk.submit("itk-rheinland", &rec)?;
    }
    Ok(towns)
}

/// The slug of a name for a demo mailbox: lowercase ASCII letters.
fn slug(name: &str) -> String {
    name.to_lowercase()
        .replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ß', "ss")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// What a demand may ask for: category, title, the unit of its quantity.
const DEMANDS: [(&str, &str, &str); 6] = [
    ("e-akte", "E-Akte für die Kernverwaltung", "users"),
    (
        "servicekonto",
        "Servicekonto und Online-Anträge",
        "inhabitants",
    ),
    (
        "soc-siem",
        "Überwachung der IT-Sicherheit rund um die Uhr",
        "sites",
    ),
    (
        "terminvergabe",
        "Online-Terminvergabe für das Bürgerbüro",
        "cases_per_year",
    ),
    ("client-management", "Betreuung der Arbeitsplätze", "users"),
    (
        "ratsinformation",
        "Ratsinformationssystem mit Gremienarbeit",
        "users",
    ),
];

/// Demand of about a third of the towns.
pub(super) fn demand(mk: &mut Market<'_>, towns: &mut [Town]) -> Result<usize> {
    let mut n = 0;
    for t in towns.iter_mut() {
        let h = small_hash(&t.m.ags, "demand");
        if !h.is_multiple_of(3) {
            continue;
        }
        let (category, title, unit) = DEMANDS[(h / 3 % 6) as usize];
        let amount = match unit {
            "users" => (t.m.population / 120).max(15),
            "inhabitants" => t.m.population,
            "sites" => 1 + t.m.population / 40_000,
            _ => t.m.population / 4,
        };
        let b = body(
            Kind::Demand,
            json!({
                "demand_id": format!("{category}-2027"),
                "version": 1,
                "title": title,
                "category": category,
                "ozg_ids": [],
                "leika_keys": [],
                "quantity": {unit: amount},
                "wanted_from": "2027-01-01T00:00:00Z",
                "wanted_until": "2031-12-31T23:59:59Z",
                "note": format!("{} sucht eine Lösung über einen kommunalen Dienstleister.", t.m.name),
                "contact": {"role": "Digitalisierungsbeauftragte", "mailbox": format!("digitalisierung@{}.demo.example", slug(&t.m.name))},
            }),
        )?;
        let rec = t.writer.write(b, now()?)?;
        mk.submit(t.home, &rec)?;
        n += 1;
    }
    Ok(n)
}

/// How much of an offer a municipality asks for, in its price's unit.
fn quantity(o: &OfferBody, population: u64) -> u64 {
    match o.pricing.model {
        PriceModel::PerInhabitantPerYear => population,
        PriceModel::PerUserPerMonth => (population / 200).max(5),
        PriceModel::PerCase => (population / 20).max(50),
        PriceModel::PerHour => 40,
        _ => 1,
    }
}

/// The legal basis a municipality relies on for an offer of `p`.
fn basis(p: &Provider, o: &OfferBody, m: &Municipality, n: u64) -> Value {
    if p.members.iter().any(|x| m.ags.starts_with(x.as_str())) {
        return json!({"kind": "in_house", "reference": format!("Mitgliedschaft im Zweckverband {}", p.short)});
    }
    match &o.legal_basis {
        Some(l) if l.kind != LegalBasisKind::Other => {
            json!({"kind": l.kind.as_str(), "reference": l.text.as_str()})
        }
        _ => {
            json!({"kind": "tender", "reference": format!("Vergabe-Nr. {}-2026-{:03}", m.kreis_ags, n % 1000)})
        }
    }
}

fn request_body(
    offer: &VerifiedRecord,
    o: &OfferBody,
    quantity: u64,
    h: u64,
    basis: Value,
    on_behalf: &[&str],
    mailbox: &str,
) -> Result<Body> {
    // Starts spread over the months from January 2026 to March 2027.
    let month = h % 15;
    let start = if month < 12 {
        format!("2026-{:02}-01T00:00:00Z", month + 1)
    } else {
        format!("2027-{:02}-01T00:00:00Z", month - 11)
    };
    let mut v = json!({
        "offer": offer.id().to_hex(),
        "quantity": quantity,
        "start": start,
        "legal_basis": basis,
        "on_behalf_of": on_behalf,
        "note": format!("Abruf von „{}“.", o.title),
        "contact": {"role": "Zentrale Vergabestelle", "mailbox": mailbox},
    });
    // A few ran for six months in the first half of 2026 and have expired.
    if month == 0 && h.is_multiple_of(7) {
        v["term_months"] = json!(6);
    } else {
        v["term_months"] = json!([12, 24, 36, 48][(h / 4 % 4) as usize]);
    }
    body(Kind::Request, v)
}

/// Requests of the towns (each some of the offers it may be delivered), of
/// providers from providers, and one provider bundling for its members.
fn requests(mk: &mut Market<'_>, towns: &mut [Town]) -> Result<Vec<Asked>> {
    let mut asked = Vec::new();
    for t in towns.iter_mut() {
        let mut candidates: Vec<&(String, VerifiedRecord)> = mk
            .offers
            .iter()
            .filter(|(_, r)| {
                offer_body(r).is_some_and(|o| o.regions.iter().any(|x| x.covers(&t.m.ags)))
            })
            .collect();
        candidates.sort_by_key(|(p, r)| {
            small_hash(
                &t.m.ags,
                &format!("{p}/{}", offer_body(r).map_or("", |o| o.offer_id.as_str())),
            )
        });
        let n = 5 + small_hash(&t.m.ags, "requests") % 5;
        for (i, (provider, rec)) in candidates.into_iter().take(n as usize).enumerate() {
            let o = offer_body(rec).context("offer")?;
            let h = small_hash(&t.m.ags, o.offer_id.as_str());
            let p = mk.provider(provider)?;
            let b = request_body(
                rec,
                o,
                quantity(o, t.m.population),
                h,
                basis(p, o, t.m, h + i as u64),
                &[],
                &format!("vergabe@{}.demo.example", slug(&t.m.name)),
            )?;
            let r = t.writer.write(b, now()?)?;
            mk.submit(t.home, &r)?;
            asked.push(Asked {
                id: r.id(),
                buyer: t.m.ags.clone(),
                provider: provider.clone(),
                offer: (provider.clone(), o.offer_id.to_string()),
                takers: 1,
            });
        }
    }
    // Providers buying from providers, and ITK Rheinland bundling for three of
    // its members.
    let mut buys: Vec<(&str, &str, Vec<&str>)> = PROVIDER_BUYS
        .iter()
        .map(|(b, k)| (*b, *k, Vec::new()))
        .collect();
    buys.push((
        "itk-rheinland",
        "scan",
        vec!["05162004", "05162008", "05162012"],
    ));
    for (buyer, template, members) in buys {
        let Some((seller, rec)) = mk.offers.iter().find(|(p, r)| {
            p != buyer
                && !MERGED.contains(&p.as_str())
                && offer_body(r).is_some_and(|o| o.offer_id.as_str() == template)
        }) else {
            continue;
        };
        let o = offer_body(rec).context("offer")?;
        let h = small_hash(buyer, template);
        let basis = match &o.legal_basis {
            Some(l) if l.kind != LegalBasisKind::Other => {
                json!({"kind": l.kind.as_str(), "reference": l.text.as_str()})
            }
            _ => {
                json!({"kind": "tender", "reference": format!("Vergabe-Nr. {buyer}-2026-{:03}", h % 1000)})
            }
        };
        let qty = if members.is_empty() {
            quantity(o, 250_000)
        } else {
            quantity(o, 90_000)
        };
        let b = request_body(
            rec,
            o,
            qty,
            h,
            basis,
            &members,
            &format!("einkauf@{buyer}.demo.example"),
        )?;
        let r = mk.provider_writes(buyer, b, now()?)?;
        asked.push(Asked {
            id: r.id(),
            buyer: buyer.to_owned(),
            provider: seller.clone(),
            offer: (seller.clone(), template.to_owned()),
            takers: members.len().max(1) as u64,
        });
    }
    Ok(asked)
}

/// Runs the market after the offers and the merger are in place.
pub(super) fn run(mk: &mut Market<'_>, towns: &mut [Town]) -> Result<Made> {
    let mut made = Made {
        towns: towns.len(),
        demands: demand(mk, towns)?,
        ..Made::default()
    };
    let asked = requests(mk, towns)?;
    made.requests = asked.len();
    // Answers: a provider declines once an offer is full; a few requests stay
    // open, some are withdrawn, some declined; of the agreements, some end.
    let mut left: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (p, rec) in mk.offers {
        if let Some(o) = offer_body(rec) {
            left.insert((p.clone(), o.offer_id.to_string()), o.capacity);
        }
    }
    let by_ags: BTreeMap<String, usize> = towns
        .iter()
        .enumerate()
        .map(|(i, t)| (t.m.ags.clone(), i))
        .collect();
    let mut accepted = Vec::new();
    for a in &asked {
        let h = small_hash(&a.key(), "answer") % 100;
        // Requests on the merged providers' offers are answered by OWL-IT.
        let responder = if MERGED.contains(&a.provider.as_str()) {
            "owl-it".to_owned()
        } else {
            a.provider.clone()
        };
        if h < 6 {
            continue;
        }
        if h < 9 {
            if let Some(i) = by_ags.get(&a.buyer) {
                let t = &mut towns[*i];
                let b = body(
                    Kind::RequestWithdraw,
                    json!({"request": a.id.to_hex(), "reason": "Bedarf hat sich erledigt."}),
                )?;
                let r = t.writer.write(b, now()?)?;
                let home = t.home;
                mk.submit(home, &r)?;
            }
            continue;
        }
        let places = left.get_mut(&a.offer).context("offer capacity")?;
        let at = mk.tick()?;
        if h < 16 || *places < a.takers {
            let reason = if *places < a.takers {
                "Kapazität für dieses Angebot ausgeschöpft."
            } else {
                "Für diese Kommune derzeit nicht leistbar; bitte Rücksprache."
            };
            let b = body(
                Kind::RequestDecline,
                json!({"request": a.id.to_hex(), "reason": reason}),
            )?;
            mk.provider_writes(&responder, b, at)?;
            made.declined += 1;
            continue;
        }
        *places -= a.takers;
        let b = body(Kind::RequestAccept, json!({"request": a.id.to_hex()}))?;
        mk.provider_writes(&responder, b, at)?;
        made.agreements += 1;
        accepted.push((a, responder));
    }
    for (a, responder) in &accepted {
        let h = small_hash(&a.key(), "end") % 100;
        if h >= 6 {
            continue;
        }
        let issued = now()?;
        let (effective, reason) = if h < 3 {
            (issued.to_string(), "Leistung wird künftig selbst erbracht.")
        } else {
            (
                "2027-06-30T23:59:59Z".to_owned(),
                "Ordentliche Kündigung zum Halbjahresende.",
            )
        };
        let b = body(
            Kind::AgreementEnd,
            json!({"request": a.id.to_hex(), "effective_at": effective, "reason": reason}),
        )?;
        match by_ags.get(&a.buyer) {
            Some(i) if h.is_multiple_of(2) => {
                let t = &mut towns[*i];
                let r = t.writer.write(b, issued)?;
                let home = t.home;
                mk.submit(home, &r)?;
            }
            _ => {
                mk.provider_writes(responder, b, issued)?;
            }
        }
        made.ended += 1;
    }
    made.consolidated = consolidate(mk)?;
    Ok(made)
}

/// OWL-IT retires the merged providers' offers it offers itself, in favour of
/// its own: their agreements move to its offer.
fn consolidate(mk: &mut Market<'_>) -> Result<usize> {
    let owl: Vec<String> = mk
        .offers
        .iter()
        .filter(|(p, _)| p == "owl-it")
        .filter_map(|(_, r)| offer_body(r).map(|o| o.offer_id.to_string()))
        .collect();
    let doubles: Vec<(String, String)> = mk
        .offers
        .iter()
        .filter(|(p, _)| MERGED.contains(&p.as_str()))
        .filter_map(|(p, r)| Some((p.clone(), offer_body(r)?.offer_id.to_string())))
        .filter(|(_, o)| owl.contains(o))
        .collect();
    for (pred, offer_id) in &doubles {
        let did = mk.provider(pred)?.key.did().clone();
        let b = body(
            Kind::OfferConsolidate,
            json!({"provider": did.as_str(), "offer_id": offer_id, "replacement": offer_id, "reason": "Nach der Fusion zum 1. Januar 2024 zusammengeführt; laufende Verträge gehen auf das OWL-IT-Angebot über."}),
        )?;
        mk.provider_writes("owl-it", b, now()?)?;
    }
    Ok(doubles.len())
}
