//! The Germany-scale data set (`kx-bench --scale germany`), reproducible from a
//! seed: providers in every Land, every municipality of Germany admitted as a
//! buyer (NRW's 396 with their real AGS, the other Länder's with synthetic AGS in
//! their real number), offers with new versions and withdrawals, demand,
//! requests, answers and ended agreements. At the default size (`--records
//! 1000000`) it is about a million records: ~300 providers, ~10,750
//! municipalities, ~100,000 offers, ~400,000 requests with their answers
//! (three in four accepted). Smaller sizes scale every count but the NRW
//! municipalities, so the growth curves compare the same mix.

use crate::{Data, t0};
use anyhow::{Context, Result};
use kx_protocol::author::{LogWriter, genesis};
use kx_protocol::body::{AdmitBody, Kind};
use kx_protocol::{Body, Hash32, SecretKey, VerifiedRecord, record};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The Länder: AGS code, municipalities (Destatis, 2024, rounded to the
/// tens except for the city states), providers at full size.
const LAENDER: [(&str, usize, usize); 16] = [
    ("01", 1_100, 15), // Schleswig-Holstein
    ("02", 1, 3),      // Hamburg
    ("03", 940, 30),   // Niedersachsen
    ("04", 2, 2),      // Bremen
    ("05", 396, 35),   // Nordrhein-Westfalen (real AGS)
    ("06", 420, 25),   // Hessen
    ("07", 2_300, 25), // Rheinland-Pfalz
    ("08", 1_100, 45), // Baden-Württemberg
    ("09", 2_060, 55), // Bayern
    ("10", 52, 5),     // Saarland
    ("11", 1, 4),      // Berlin
    ("12", 410, 12),   // Brandenburg
    ("13", 730, 10),   // Mecklenburg-Vorpommern
    ("14", 420, 15),   // Sachsen
    ("15", 220, 9),    // Sachsen-Anhalt
    ("16", 600, 10),   // Thüringen
];

/// Full-size counts per million records.
const OFFERS: f64 = 100_000.0;
const REQUESTS: f64 = 410_000.0;
const DEMANDS: f64 = 32_000.0;
/// Shares in per mille.
const NEW_VERSION: u64 = 200;
const WITHDRAWN: u64 = 40;
const ACCEPTED: u64 = 750;
const ENDED: u64 = 50;
const DEMAND_WITHDRAWN: u64 = 100;
/// Municipalities per `municipality.admit` action (the limit is 512 entries
/// and 64 KiB per record).
const ADMIT_CHUNK: usize = 400;

/// splitmix64: a small, fixed generator, so that a seed gives the same data set
/// on every machine and with every version of every crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn permille(&mut self, p: u64) -> bool {
        self.next() % 1000 < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A key derived from the seed, a role and a number.
fn key(seed: u64, role: &str, i: usize) -> Result<SecretKey> {
    let h = record::sha256(format!("kx-bench:{seed}:{role}:{i}").as_bytes());
    Ok(SecretKey::from_seed(h.0)?)
}

/// A buyer: AGS, name, its Land (index into `LAENDER`) and Kreis (5 digits).
struct Town {
    ags: String,
    name: String,
    land: usize,
    kreis: String,
}

fn towns(scale: f64) -> Vec<Town> {
    const A: [&str; 12] = [
        "Alt", "Neu", "Ober", "Nieder", "Groß", "Klein", "Hohen", "Wald", "Lin", "Ro", "Ess", "Mar",
    ];
    const B: [&str; 12] = [
        "berg", "dorf", "feld", "hausen", "heim", "stein", "bach", "burg", "au", "rode", "stedt",
        "kirchen",
    ];
    let mut out = Vec::new();
    for (l, (code, count, _)) in LAENDER.iter().enumerate() {
        if *code == "05" {
            out.extend(kx_protocol::geo::municipalities().iter().map(|m| Town {
                ags: m.ags.clone(),
                name: m.name.clone(),
                land: l,
                kreis: m.kreis_ags.clone(),
            }));
            continue;
        }
        let n = ((*count as f64 * scale).round() as usize).max(1);
        // Kreise of about 40 municipalities, Regierungsbezirke of 30 Kreise.
        let kreise = n.div_ceil(40);
        for i in 0..n {
            let k = i % kreise;
            let kreis = format!("{code}{}{:02}", k / 30, k % 30 + 1);
            let ags = format!("{kreis}{:03}", i / kreise + 1);
            let name = format!("{}{} ({ags})", A[i % A.len()], B[(i / A.len()) % B.len()]);
            out.push(Town {
                ags,
                name,
                land: l,
                kreis,
            });
        }
    }
    out
}

/// One author's log to sign: its key, its head so far and the bodies to add.
struct Log {
    key: SecretKey,
    head: Option<(u64, Hash32)>,
    bodies: Vec<(Kind, Value)>,
}

/// Signs every log on all cores; returns the records of each log, in order,
/// and moves each log's head on.
fn sign(fed: Hash32, logs: &mut [Log]) -> Result<Vec<Vec<VerifiedRecord>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = logs.len().div_ceil(threads).max(1);
    std::thread::scope(|sc| {
        let hs: Vec<_> = logs
            .chunks_mut(chunk)
            .map(|part| {
                sc.spawn(move || -> Result<Vec<Vec<VerifiedRecord>>> {
                    let mut out = Vec::with_capacity(part.len());
                    for log in part {
                        let mut w =
                            LogWriter::new(SecretKey::from_seed(log.key.seed())?, fed, log.head);
                        let mut recs = Vec::with_capacity(log.bodies.len());
                        for (kind, v) in std::mem::take(&mut log.bodies) {
                            let body = Body::from_json(kind, v)
                                .with_context(|| format!("a {kind:?} body"))?;
                            recs.push(w.write(body, t0())?);
                        }
                        log.head = w.head();
                        out.push(recs);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in hs {
            all.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??,
            );
        }
        Ok(all)
    })
}

fn csv_column(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What an offer covers: its whole Land, one Kreis of it, or (a tenth of the
/// offers, from the larger providers) three Länder.
fn offer_regions(rng: &mut Rng, land: usize, kreise: &[String]) -> Vec<String> {
    let r = rng.below(10);
    if r < 6 || kreise.is_empty() {
        vec![LAENDER[land].0.to_owned()]
    } else if r < 9 {
        vec![rng.pick(kreise).clone()]
    } else {
        let mut v: Vec<String> = (0..3)
            .map(|i| LAENDER[(land + i * 5) % LAENDER.len()].0.to_owned())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

fn regions_of(offer: &Value) -> Vec<String> {
    offer["regions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const SENTENCES: [&str; 10] = [
    "Betrieb im zertifizierten Rechenzentrum mit georedundanter Datensicherung.",
    "Schulungen für Anwenderinnen und Anwender vor Ort oder online.",
    "Anbindung an OSCI/XTA und die Basisdienste des Landes.",
    "Migration aus Altverfahren mit Datenübernahme und Parallelbetrieb.",
    "Service-Desk werktags mit festen Reaktionszeiten.",
    "Mandantenfähiger Betrieb für Kreise und kreisangehörige Gemeinden.",
    "Updates, Patches und gesetzliche Änderungen sind enthalten.",
    "Schnittstellen zu Finanzwesen, DMS und Bürgerportal.",
    "Einführung mit Projektleitung, Prozessberatung und Abnahme.",
    "Barrierefreie Oberfläche nach BITV 2.0.",
];

const CERTS: [&str; 6] = [
    "iso27001-grundschutz",
    "bsi-c5",
    "iso27001",
    "iso20000-1",
    "iso9001",
    "bsi-it-grundschutz",
];

const STANDARDS: [&str; 8] = [
    "xmeld",
    "xrechnung",
    "xdomea",
    "osci-transport",
    "xta2",
    "fim",
    "xbau",
    "xpersonenstand",
];

#[allow(clippy::too_many_arguments)]
fn offer_body(
    rng: &mut Rng,
    id: usize,
    version: u64,
    provider: usize,
    land: usize,
    kreise: &[String],
    cats: &[(&str, &str)],
    ozg: &[&str],
    leika: &[&str],
) -> Value {
    let (slug, label) = *rng.pick(cats);
    let mut certs: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&CERTS)).collect();
    certs.sort();
    certs.dedup();
    let mut stds: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(&STANDARDS)).collect();
    stds.sort();
    stds.dedup();
    let mut ozg_ids: Vec<&str> = (0..rng.below(3)).map(|_| *rng.pick(ozg)).collect();
    if rng.permille(50) {
        ozg_ids.push("10124");
    }
    ozg_ids.sort();
    ozg_ids.dedup();
    let description: Vec<&str> = (0..3).map(|_| *rng.pick(&SENTENCES)).collect();
    let models = [
        "flat_per_year",
        "per_inhabitant_per_year",
        "per_user_per_month",
        "per_case",
        "per_hour",
    ];
    json!({
        "offer_id": format!("o{id}"), "version": version,
        "title": format!("{label}: Angebot {id} von Anbieter {provider}"),
        "summary": format!("{label} für Kommunen, Betrieb und Support aus einer Hand."),
        "description": description.join(" "),
        "category": slug,
        "ozg_ids": ozg_ids,
        "leika_keys": [rng.pick(leika)],
        "regions": offer_regions(rng, land, kreise),
        "delivery": rng.pick(&["saas", "hosting", "on_premise", "managed_service", "consulting"]),
        "sla": {"availability_bp": 9900 + rng.below(99) as u64, "support_hours": "Mo-Fr 07:30-16:30",
                "response_minutes": 30 + rng.below(8) as u64 * 30, "resolution_hours": 4 + rng.below(20) as u64},
        "pricing": {"model": rng.pick(&models), "amount_cents": 100 + rng.below(500_000) as u64,
                    "currency": "EUR", "notes": ""},
        "capacity": 5 + rng.below(60) as u64,
        "certifications": certs, "standards": stds,
        "contacts": [{"customer_group": "kommunen", "name": "Vertrieb",
                      "email": format!("vertrieb@anbieter{provider}.example")}],
        "valid_from": "2026-01-01T00:00:00Z"
    })
}

/// The data set for about `records` records, from `seed`.
pub fn germany(records: usize, seed: u64) -> Result<Data> {
    let f = records as f64 / 1_000_000.0;
    let mut rng = Rng(seed);
    let steward = key(seed, "steward", 0)?;
    let g = genesis(
        "KX Deutschland"
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        vec![steward.did().clone()],
        1,
        &steward,
        &[&steward],
        t0(),
    )?;
    let fed = g.record().federation;
    let towns = towns(f);
    // Providers: each with a home Land.
    let mut provider_land = Vec::new();
    for (l, (_, _, p)) in LAENDER.iter().enumerate() {
        let n = ((*p as f64 * f).round() as usize).max(1);
        provider_land.extend(std::iter::repeat_n(l, n));
    }
    let providers: Vec<SecretKey> = (0..provider_land.len())
        .map(|i| key(seed, "provider", i))
        .collect::<Result<_>>()?;
    let buyers: Vec<SecretKey> = (0..towns.len())
        .map(|i| key(seed, "municipality", i))
        .collect::<Result<_>>()?;
    let mut kreise_of: Vec<Vec<String>> = vec![Vec::new(); LAENDER.len()];
    for t in &towns {
        if !kreise_of[t.land].contains(&t.kreis) {
            kreise_of[t.land].push(t.kreis.clone());
        }
    }

    // Governance: providers admitted one by one, municipalities by the hundreds.
    let mut sw = LogWriter::new(
        SecretKey::from_seed(steward.seed())?,
        fed,
        Some((1, g.id())),
    );
    let mut head = fed;
    let mut governance = Vec::new();
    let mut push = |sw: &mut LogWriter, mut b: Body, head: &mut Hash32| -> Result<()> {
        record::approve(&mut b, sw.key());
        let rec = sw.write(b, t0())?;
        *head = rec.action().context("action")?;
        governance.push(rec);
        Ok(())
    };
    for (p, k) in providers.iter().enumerate() {
        let b = Body::MemberAdmit(AdmitBody {
            prev_action: head,
            provider: k.did().clone(),
            name: format!("IT-Dienstleister {p}")
                .parse()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            approvals: Vec::new(),
        });
        push(&mut sw, b, &mut head)?;
    }
    for (chunk, keys) in towns.chunks(ADMIT_CHUNK).zip(buyers.chunks(ADMIT_CHUNK)) {
        let entries: Vec<Value> = chunk
            .iter()
            .zip(keys)
            .map(|(t, k)| json!({"ags": t.ags, "member": k.did().as_str(), "name": t.name}))
            .collect();
        let b = Body::MunicipalityAdmit(serde_json::from_value(json!({
            "prev_action": head.to_hex(), "municipalities": entries, "approvals": []
        }))?);
        push(&mut sw, b, &mut head)?;
    }

    // Providers' logs: profile, offers, new versions, withdrawals.
    let cats: Vec<(&str, &str)> = kx_protocol::taxonomy::categories()
        .iter()
        .map(|c| (c.slug.as_str(), c.label_de.as_str()))
        .collect();
    let ozg = csv_column(include_str!("../../protocol/data/ozg.csv"));
    let leika = csv_column(include_str!("../../protocol/data/leika.csv"));
    let total_offers = (OFFERS * f).round() as usize;
    let mean = total_offers as f64 / providers.len() as f64;
    let mut logs: Vec<Log> = Vec::new();
    // Per offer: (provider, offer number, land, regions) of its current version.
    let mut offer_meta: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut withdrawn: Vec<bool> = Vec::new();
    for (p, k) in providers.iter().enumerate() {
        let land = provider_land[p];
        let kreise = &kreise_of[land];
        let members: Vec<&String> = kreise.iter().skip(p % 3).step_by(3).take(20).collect();
        let mut bodies = vec![(
            Kind::ProviderProfile,
            json!({
                "name": format!("IT-Dienstleister {p}"), "short_name": format!("ITD {p}"),
                "description": "Kommunaler IT-Dienstleister: Rechenzentrum, Fachverfahren, Beratung.",
                "regions": [LAENDER[land].0], "members": members, "certifications": ["iso27001-grundschutz"],
                "nodes": [], "contacts": [{"customer_group": "kommunen", "name": "Vertrieb"}]
            }),
        )];
        let n = ((mean * (0.5 + rng.below(1001) as f64 / 1000.0)).round() as usize).max(1);
        let first = offer_meta.len();
        for i in 0..n {
            let v = offer_body(&mut rng, i, 1, p, land, kreise, &cats, &ozg, &leika);
            offer_meta.push((p, i, regions_of(&v)));
            withdrawn.push(false);
            bodies.push((Kind::Offer, v));
        }
        for i in 0..n {
            if rng.permille(NEW_VERSION) {
                let v = offer_body(&mut rng, i, 2, p, land, kreise, &cats, &ozg, &leika);
                offer_meta[first + i].2 = regions_of(&v);
                bodies.push((Kind::Offer, v));
            }
        }
        for i in 0..n {
            if rng.permille(WITHDRAWN) {
                withdrawn[first + i] = true;
                bodies.push((
                    Kind::OfferWithdraw,
                    json!({"offer_id": format!("o{i}"), "version": 2, "reason": "Verfahren abgekündigt"}),
                ));
            }
        }
        logs.push(Log {
            key: SecretKey::from_seed(k.seed())?,
            head: None,
            bodies,
        });
    }
    let provider_records = sign(fed, &mut logs)?;
    let mut provider_logs = logs;
    // The record id of each offer's current version.
    let mut current: HashMap<(usize, usize), Hash32> = HashMap::new();
    for (p, recs) in provider_records.iter().enumerate() {
        for r in recs {
            if let Body::Offer(o) = &r.record().body {
                let n: usize = o.offer_id.as_str()[1..].parse().unwrap_or(0);
                current.insert((p, n), r.id());
            }
        }
    }
    // Offers by what they cover (a Land or a Kreis prefix), not withdrawn.
    let mut covering: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, _, regions)) in offer_meta.iter().enumerate() {
        if !withdrawn[i] {
            for r in regions {
                covering.entry(r.as_str()).or_default().push(i);
            }
        }
    }

    // Buyers' logs: demand, then requests on offers that cover them.
    let per_town = REQUESTS * f / towns.len() as f64;
    let demands_per_town = DEMANDS * f / towns.len() as f64;
    let mut buyer_logs: Vec<Log> = Vec::new();
    for (t, k) in towns.iter().zip(&buyers) {
        let land_code = LAENDER[t.land].0;
        let here: Vec<usize> = covering
            .get(land_code)
            .into_iter()
            .chain(covering.get(t.kreis.as_str()))
            .flatten()
            .copied()
            .collect();
        let mut bodies = Vec::new();
        let d = (demands_per_town + rng.below(1000) as f64 / 1000.0).floor() as usize;
        for i in 0..d {
            let (slug, label) = *rng.pick(&cats);
            bodies.push((
                Kind::Demand,
                json!({"demand_id": format!("d{i}"), "version": 1, "title": format!("Bedarf: {label}"),
                       "category": slug, "ozg_ids": [], "leika_keys": [],
                       "quantity": {"inhabitants": 1000 + rng.below(100_000) as u64},
                       "wanted_from": "2026-07-01T00:00:00Z", "note": "", "contact": {"role": "Digitalisierung"}}),
            ));
        }
        let n = (per_town * (0.5 + rng.below(1001) as f64 / 1000.0)).round() as usize;
        let mut mine = Vec::new();
        for _ in 0..n.min(here.len()) {
            let o = *rng.pick(&here);
            if mine.contains(&o) {
                continue;
            }
            mine.push(o);
            let (p, i, _) = &offer_meta[o];
            let offer = current.get(&(*p, *i)).context("offer id")?;
            bodies.push((
                Kind::Request,
                json!({"offer": offer.to_hex(), "quantity": 1 + rng.below(500) as u64,
                       "start": "2026-03-01T00:00:00Z", "term_months": 12 + 12 * rng.below(4) as u64,
                       "legal_basis": {"kind": "inter_municipal", "reference": "Öffentlich-rechtliche Vereinbarung"},
                       "on_behalf_of": [], "note": "", "contact": {"role": "Vergabestelle"}}),
            ));
        }
        buyer_logs.push(Log {
            key: SecretKey::from_seed(k.seed())?,
            head: None,
            bodies,
        });
    }
    let buyer_records = sign(fed, &mut buyer_logs)?;

    // Providers answer every request on their offers.
    let mut accepted: Vec<Hash32> = Vec::new();
    let offer_of: HashMap<Hash32, usize> = current.iter().map(|(&(p, _), id)| (*id, p)).collect();
    for log in &mut provider_logs {
        log.bodies.clear();
    }
    for recs in &buyer_records {
        for r in recs {
            let Body::Request(b) = &r.record().body else {
                continue;
            };
            let p = *offer_of.get(&b.offer).context("request's offer")?;
            let body = if rng.permille(ACCEPTED) {
                accepted.push(r.id());
                (Kind::RequestAccept, json!({"request": r.id().to_hex()}))
            } else {
                (
                    Kind::RequestDecline,
                    json!({"request": r.id().to_hex(), "reason": "Kapazität ausgeschöpft"}),
                )
            };
            provider_logs[p].bodies.push(body);
        }
    }
    let answers = sign(fed, &mut provider_logs)?;

    // Buyers end some agreements and withdraw some demand.
    let accepted: std::collections::HashSet<Hash32> = accepted.into_iter().collect();
    for (log, recs) in buyer_logs.iter_mut().zip(&buyer_records) {
        for r in recs {
            match &r.record().body {
                Body::Request(_) if accepted.contains(&r.id()) && rng.permille(ENDED) => {
                    log.bodies.push((
                        Kind::AgreementEnd,
                        json!({"request": r.id().to_hex(), "effective_at": "2026-12-31T00:00:00Z",
                               "reason": "Wechsel zum zentralen Dienstleister"}),
                    ));
                }
                Body::Demand(d) if rng.permille(DEMAND_WITHDRAWN) => {
                    log.bodies.push((
                        Kind::DemandWithdraw,
                        json!({"demand_id": d.demand_id.as_str(), "version": 1, "reason": "Bedarf gedeckt"}),
                    ));
                }
                _ => {}
            }
        }
    }
    let endings = sign(fed, &mut buyer_logs)?;

    Ok(Data {
        genesis: g,
        governance,
        providers,
        offers: provider_records.into_iter().flatten().collect(),
        exchange: vec![
            buyer_records.into_iter().flatten().collect(),
            answers.into_iter().flatten().collect(),
            endings.into_iter().flatten().collect(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_data_set_and_every_land_has_buyers() -> Result<()> {
        let a = germany(5_000, 7)?;
        let b = germany(5_000, 7)?;
        let ids = |d: &Data| -> Vec<Hash32> {
            d.offers
                .iter()
                .chain(d.exchange.iter().flatten())
                .map(VerifiedRecord::id)
                .collect()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&germany(5_000, 8)?));
        let towns = towns(0.005);
        for (code, _, _) in LAENDER {
            assert!(towns.iter().any(|t| t.ags.starts_with(code)), "{code}");
        }
        assert!(towns.iter().all(|t| t.ags.len() == 8 && t.kreis.len() == 5));
        let mut ags: Vec<&str> = towns.iter().map(|t| t.ags.as_str()).collect();
        ags.sort();
        ags.dedup();
        assert_eq!(ags.len(), towns.len(), "AGS are unique");
        Ok(())
    }
}
