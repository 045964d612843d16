//! `kx demo`: a local demo federation with real NRW data.
//!
//! Starts one `kx-node` process per provider on loopback (ITK Rheinland, KRZN,
//! citeq, Südwestfalen-IT, OWL-IT, regio iT), with KDN as steward. Every record is
//! signed here with keys generated for the run and submitted over HTTP, so it takes
//! the normal ingest and replication paths: admissions, profiles with the regions
//! and members each provider really has (`cli/demo/`, copied from the KDN reference
//! data), about 180 offers across the taxonomy with real OZG ids and LeiKa keys, and
//! the OWL-IT merger of 1 January 2024 (GKD Paderborn and krz hand their portfolios
//! to Ostwestfalen-Lippe-IT). The CLI links no node internals: it runs the
//! `kx-node` binary that sits next to it.

use crate::client::Client;
use crate::offline::now;
use anyhow::{Context, Result, bail};
use kx_protocol::author::{LogWriter, genesis};
use kx_protocol::body::{AdmitBody, Kind};
use kx_protocol::{Body, Hash32, SecretKey, VerifiedRecord, record};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PROVIDERS: &str = include_str!("../demo/providers.csv");
const COVERAGE: &str = include_str!("../demo/coverage.csv");
const OZG: &str = include_str!("../demo/ozg.csv");

/// Providers that run a node in the demo, in start order.
const NODES: [&str; 6] = [
    "itk-rheinland",
    "krzn",
    "citeq",
    "sit",
    "owl-it",
    "regio-it",
];
/// Providers that merged into OWL-IT on 1 January 2024.
const MERGED: [&str; 2] = ["gkd-paderborn", "krz"];

struct Template {
    key: &'static str,
    category: &'static str,
    title: &'static str,
    summary: &'static str,
    delivery: &'static str,
    model: &'static str,
    cents: u64,
    standards: &'static [&'static str],
}

macro_rules! t {
    ($key:expr, $cat:expr, $title:expr, $summary:expr, $delivery:expr, $model:expr, $cents:expr, [$($s:expr),*]) => {
        Template { key: $key, category: $cat, title: $title, summary: $summary, delivery: $delivery, model: $model, cents: $cents, standards: &[$($s),*] }
    };
}

const TEMPLATES: &[Template] = &[
    t!(
        "rz-fachverfahren",
        "fachverfahrensbetrieb",
        "Betrieb von Fachverfahren im Rechenzentrum",
        "Hosting, Patchen und Überwachung Ihrer Fachverfahren in einem zertifizierten kommunalen Rechenzentrum.",
        "hosting",
        "flat_per_year",
        1_200_000,
        []
    ),
    t!(
        "housing",
        "colocation",
        "Housing im zertifizierten Rechenzentrum",
        "Stellfläche, Strom, Klima und redundante Anbindung für Ihre eigene Technik.",
        "hosting",
        "flat_per_year",
        480_000,
        []
    ),
    t!(
        "iaas",
        "iaas-virtuelle-server",
        "Virtuelle Server (IaaS)",
        "Virtuelle Server nach Bedarf, betrieben in der kommunalen Cloud.",
        "hosting",
        "flat_per_year",
        90_000,
        []
    ),
    t!(
        "backup",
        "datensicherung-backup",
        "Datensicherung und Wiederherstellung",
        "Tägliche Sicherung in zwei Brandabschnitten, Wiederherstellung auf Anforderung.",
        "managed_service",
        "flat_per_year",
        240_000,
        []
    ),
    t!(
        "kollaboration",
        "kommunale-cloud",
        "Kommunale Cloud für Zusammenarbeit",
        "Dateiablage, Kalender und Videokonferenz für Verwaltungen, DSGVO-konform betrieben.",
        "saas",
        "per_user_per_month",
        650,
        []
    ),
    t!(
        "verbundnetz",
        "wan-verbundnetz",
        "Anbindung an das Kommunale Verbundnetz",
        "Anschluss der Verwaltungsstandorte an das Verbundnetz mit Überwachung rund um die Uhr.",
        "managed_service",
        "flat_per_year",
        360_000,
        []
    ),
    t!(
        "telefonie",
        "telefonie-uc",
        "Telefonie und Unified Communications",
        "Cloud-Telefonanlage mit Softphone, Call-Center-Funktionen und Anbindung an Fachverfahren.",
        "saas",
        "per_user_per_month",
        900,
        []
    ),
    t!(
        "client",
        "client-management",
        "Client-Management für Verwaltungsarbeitsplätze",
        "Bereitstellung, Softwareverteilung und Patchmanagement für Arbeitsplatzrechner.",
        "managed_service",
        "per_user_per_month",
        2_400,
        []
    ),
    t!(
        "mdm",
        "mobile-device-management",
        "Mobile Device Management",
        "Verwaltung dienstlicher Smartphones und Tablets nach BSI-Empfehlungen.",
        "saas",
        "per_user_per_month",
        450,
        []
    ),
    t!(
        "service-desk",
        "service-desk",
        "Service-Desk für Verwaltungen",
        "Annahme und Lösung von Störungen und Anfragen, telefonisch und per Portal.",
        "managed_service",
        "per_user_per_month",
        1_800,
        ["itil4"]
    ),
    t!(
        "isms",
        "isms-beratung",
        "Aufbau eines ISMS nach BSI IT-Grundschutz",
        "Beratung und Begleitung vom Basis-Check bis zur Zertifizierungsreife.",
        "consulting",
        "per_hour",
        11_500,
        ["bsi-it-grundschutz"]
    ),
    t!(
        "dsb",
        "externer-dsb",
        "Externe Datenschutzbeauftragte",
        "Benennung, Beratung und Schulung nach DSGVO für Kommunen.",
        "consulting",
        "flat_per_year",
        840_000,
        []
    ),
    t!(
        "soc",
        "soc-siem",
        "Security Operations Center",
        "Überwachung sicherheitsrelevanter Ereignisse und Reaktion auf Vorfälle.",
        "managed_service",
        "flat_per_year",
        1_500_000,
        []
    ),
    t!(
        "awareness",
        "awareness",
        "Schulungen zur Informationssicherheit",
        "E-Learning und Präsenzschulungen für Beschäftigte, mit Phishing-Simulation.",
        "consulting",
        "per_case",
        4_500,
        []
    ),
    t!(
        "meldewesen",
        "einwohnerwesen",
        "Einwohnermeldewesen",
        "Betrieb des Meldeverfahrens inklusive XMeld-Anbindung und Online-Diensten.",
        "hosting",
        "per_inhabitant_per_year",
        42,
        ["xmeld", "osci-transport"]
    ),
    t!(
        "personenstand",
        "personenstandswesen",
        "Personenstandswesen",
        "Fachverfahren für Standesämter inklusive Anbindung an die Register.",
        "hosting",
        "per_inhabitant_per_year",
        18,
        ["xpersonenstand"]
    ),
    t!(
        "kfz",
        "kfz-zulassung",
        "Kfz-Zulassung inklusive i-Kfz",
        "Zulassungsverfahren mit internetbasierter Zulassung (i-Kfz).",
        "saas",
        "per_case",
        150,
        ["xkfz"]
    ),
    t!(
        "gewerbe",
        "gewerbe-ordnung",
        "Gewerbe- und Ordnungswesen",
        "Gewerbeanzeigen, Erlaubnisse und Ordnungsverfahren in einem Verfahren.",
        "saas",
        "per_inhabitant_per_year",
        12,
        []
    ),
    t!(
        "soziales",
        "sozialwesen",
        "Sozialwesen (SGB XII, Wohngeld)",
        "Fachverfahren für Sozialleistungen mit Online-Antrag.",
        "hosting",
        "per_inhabitant_per_year",
        35,
        []
    ),
    t!(
        "jugend",
        "jugend-familie",
        "Jugend und Familie",
        "Jugendhilfe, Kita-Beiträge und Unterhaltsvorschuss.",
        "hosting",
        "per_inhabitant_per_year",
        28,
        []
    ),
    t!(
        "bau",
        "bauwesen",
        "Digitale Bauaufsicht",
        "Bauantragsverfahren mit Anbindung an Bauportal.NRW.",
        "saas",
        "per_case",
        2_500,
        ["xbau"]
    ),
    t!(
        "steuern",
        "kommunale-steuern-abgaben",
        "Kommunale Steuern und Abgaben",
        "Grundbesitzabgaben, Gewerbesteuer, Hundesteuer mit Bescheiddruck.",
        "hosting",
        "per_inhabitant_per_year",
        30,
        []
    ),
    t!(
        "haushalt",
        "finanzwesen-haushalt",
        "Finanzwesen (NKF)",
        "Haushalt, Buchhaltung und Jahresabschluss nach NKF.",
        "hosting",
        "per_inhabitant_per_year",
        55,
        []
    ),
    t!(
        "personal",
        "personal-besoldung",
        "Personalwesen und Bezügeabrechnung",
        "Abrechnung, Zeitwirtschaft und Personalverwaltung.",
        "managed_service",
        "per_case",
        1_400,
        []
    ),
    t!(
        "e-akte",
        "e-akte",
        "E-Akte als Service",
        "Elektronische Akte mit Vorgangsbearbeitung, Schnittstellen zu Fachverfahren.",
        "saas",
        "per_user_per_month",
        1_250,
        ["xdomea"]
    ),
    t!(
        "scan",
        "scanservice",
        "Scan- und Posteingangsservice",
        "Ersetzendes Scannen nach TR-RESISCAN mit Übergabe in die E-Akte.",
        "managed_service",
        "per_case",
        35,
        []
    ),
    t!(
        "archiv",
        "langzeitarchivierung",
        "Digitale Langzeitarchivierung",
        "Revisionssichere Archivierung nach TR-ESOR.",
        "saas",
        "flat_per_year",
        600_000,
        []
    ),
    t!(
        "efa",
        "efa-nachnutzung",
        "Nachnutzung von EfA-Onlinediensten",
        "Anschluss an Einer-für-Alle-Dienste mit Einrichtung und Betrieb.",
        "managed_service",
        "one_time",
        250_000,
        ["efa-mindestanforderungen"]
    ),
    t!(
        "servicekonto",
        "servicekonto",
        "Anbindung an das Servicekonto.NRW",
        "Anmeldung der Bürgerinnen und Bürger für alle Online-Dienste.",
        "managed_service",
        "one_time",
        120_000,
        []
    ),
    t!(
        "epayment",
        "epayment",
        "E-Payment für Online-Dienste",
        "Bezahlen per Karte, PayPal und giropay, mit Kassenanbindung.",
        "saas",
        "per_case",
        25,
        []
    ),
    t!(
        "termine",
        "terminvergabe",
        "Online-Terminvergabe",
        "Terminbuchung für Bürgerbüros mit Aufrufsystem.",
        "saas",
        "flat_per_year",
        180_000,
        []
    ),
    t!(
        "rats",
        "ratsinformation",
        "Ratsinformationssystem",
        "Sitzungsdienst, Gremienarbeit und Bürgerinformation.",
        "saas",
        "flat_per_year",
        320_000,
        []
    ),
    t!(
        "gis",
        "geodaten-gis",
        "Geoinformationssystem",
        "Kommunales GIS mit Geoportal und Fachschalen.",
        "saas",
        "flat_per_year",
        450_000,
        []
    ),
    t!(
        "schul-it",
        "schul-it",
        "IT-Support für Schulen",
        "Betreuung der Schulnetze und Endgeräte, Medienentwicklungsplanung.",
        "managed_service",
        "flat_per_year",
        900_000,
        []
    ),
    t!(
        "wahlen",
        "wahlen",
        "Wahlen und Wahlhelfermanagement",
        "Wahlvorbereitung, Briefwahl und Ergebnispräsentation.",
        "saas",
        "per_inhabitant_per_year",
        8,
        []
    ),
    t!(
        "friedhof",
        "friedhof-bestattung",
        "Friedhofsverwaltung",
        "Grabstellen, Gebühren und Belegungsplanung.",
        "saas",
        "flat_per_year",
        90_000,
        []
    ),
    t!(
        "cms",
        "web-cms",
        "Web-Content-Management",
        "Barrierefreie Internetauftritte nach BITV 2.0.",
        "saas",
        "flat_per_year",
        240_000,
        []
    ),
    t!(
        "opendata",
        "open-data-smart-city",
        "Open-Data-Portal",
        "Veröffentlichung offener Verwaltungsdaten nach DCAT-AP.de.",
        "saas",
        "flat_per_year",
        150_000,
        []
    ),
    t!(
        "prozesse",
        "prozessberatung",
        "Prozessberatung zur Verwaltungsdigitalisierung",
        "Analyse und Optimierung von Verwaltungsprozessen vor der Digitalisierung.",
        "consulting",
        "per_hour",
        9_800,
        []
    ),
    t!(
        "schulung",
        "schulung",
        "Schulungen zu Fachverfahren",
        "Anwenderschulungen vor Ort und online.",
        "consulting",
        "per_case",
        39_000,
        []
    ),
];

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

fn small_hash(a: &str, b: &str) -> u64 {
    let h = kx_protocol::record::sha256(format!("{a}/{b}").as_bytes());
    u64::from_be_bytes(h.0[..8].try_into().unwrap_or([0; 8]))
}

struct Provider {
    id: String,
    short: String,
    name: String,
    regions: Vec<String>,
    members: Vec<String>,
    key: SecretKey,
}

fn providers() -> Result<Vec<Provider>> {
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

fn contacts(p: &Provider) -> Value {
    json!([
        {"customer_group": "kommunen", "name": format!("Vertrieb Kommunen {}", p.short), "email": format!("kommunen@{}.demo.example", p.id)},
        {"customer_group": "kreise", "name": format!("Kundenbetreuung Kreise {}", p.short), "email": format!("kreise@{}.demo.example", p.id)}
    ])
}

fn profile(p: &Provider) -> Result<Body> {
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

fn offers(p: &Provider, ozg: &[BTreeMap<String, String>], share: u64) -> Result<Vec<Body>> {
    let mut out = Vec::new();
    for (i, t) in TEMPLATES.iter().enumerate() {
        let h = small_hash(&p.id, t.key);
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
        let nrw_wide = t.delivery == "saas" && h.is_multiple_of(3);
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
        let notes = if t.model == "per_inhabitant_per_year" {
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
        if t.delivery == "saas" && h.is_multiple_of(2) {
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
        match h % 4 {
            0 | 1 => {
                v["legal_basis"] = json!({"kind": "inter_municipal", "text": "Interkommunale Zusammenarbeit nach § 108 Abs. 6 GWB auf Grundlage einer öffentlich-rechtlichen Vereinbarung."});
            }
            2 if t.delivery == "saas" => {
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

/// A node process of the demo.
struct DemoNode {
    name: String,
    child: Child,
    http: String,
}

fn node_binary() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name(format!("kx-node{}", std::env::consts::EXE_SUFFIX)));
    match beside {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("kx-node"),
    }
}

fn start_node(
    bin: &Path,
    dir: &Path,
    http_port: u16,
    name: &str,
    bootstrap: Option<&str>,
) -> Result<DemoNode> {
    let mut init = Command::new(bin);
    init.args(["init", "--data-dir"])
        .arg(dir)
        .arg("--genesis")
        .arg(dir.with_extension("genesis.json"))
        .args(["--http", &format!("127.0.0.1:{http_port}")])
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"]);
    if let Some(b) = bootstrap {
        init.args(["--bootstrap", b]);
    }
    let out = init.output().with_context(|| {
        format!(
            "cannot run {} (build it with `cargo build --release`)",
            bin.display()
        )
    })?;
    if !out.status.success() {
        bail!(
            "kx-node init for {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Quicker repair than in production, for a demo that starts all at once.
    let cfg = dir.join("config.toml");
    let text =
        std::fs::read_to_string(&cfg)?.replace("sync_interval_secs = 30", "sync_interval_secs = 5");
    std::fs::write(&cfg, text)?;
    let log = std::fs::File::create(dir.join("node.log"))?;
    let child = Command::new(bin)
        .args(["run", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("start kx-node for {name}"))?;
    let mut node = DemoNode {
        name: name.to_owned(),
        child,
        http: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("node.json"))
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            node.http = v["http"].as_str().unwrap_or("").to_owned();
            return Ok(node);
        }
        if let Ok(Some(status)) = node.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
            bail!(
                "kx-node for {name} stopped ({status}); is port {http_port} free? Try --base-port.\n{}",
                log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
            );
        }
        if Instant::now() > deadline {
            bail!("kx-node for {name} did not start within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn listen_of(dir: &Path) -> Result<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("node.json"))?)?;
    Ok(v["listen"][0].as_str().unwrap_or("").to_owned())
}

/// Shows progress on one terminal line; without a terminal, only new steps.
fn progress(step: &str) {
    use std::io::IsTerminal;
    static LAST: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let mut e = std::io::stderr().lock();
    if e.is_terminal() {
        let _ = write!(e, "\r\x1b[2K{step}");
        let _ = e.flush();
        return;
    }
    let head: String = step.split(" ... ").next().unwrap_or(step).to_owned();
    if let Ok(mut last) = LAST.lock()
        && *last != head
        && !head.is_empty()
    {
        let _ = writeln!(e, "{head} ...");
        *last = head;
    }
}

/// Options of `kx demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory for keys, genesis and node data (default: a new temp directory,
    /// removed on exit).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// HTTP port of the first node; the others follow (default 7300-7305).
    #[arg(long, default_value_t = 7300)]
    pub base_port: u16,
    /// Set everything up, print where it runs, then stop (for scripts and tests).
    #[arg(long)]
    pub no_wait: bool,
}

/// Runs the demo until Ctrl-C.
pub fn run(args: DemoArgs) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("install the Ctrl-C handler")?;
    }
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("kx-demo-{}", std::process::id())),
            true,
        ),
    };
    if dir.join("nodes").exists() {
        bail!("{} already holds a demo; give another --dir", dir.display());
    }
    std::fs::create_dir_all(dir.join("keys"))?;
    std::fs::create_dir_all(dir.join("nodes"))?;
    let mut nodes: Vec<DemoNode> = Vec::new();
    let result = setup(&args, &dir, &mut nodes, &stop);
    let waited = match result {
        Ok(()) if !args.no_wait => {
            while !stop.load(Ordering::SeqCst) {
                for n in &mut nodes {
                    if let Ok(Some(status)) = n.child.try_wait() {
                        eprintln!(
                            "\nthe node of {} stopped ({status}); ending the demo",
                            n.name
                        );
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        }
        other => other,
    };
    eprintln!("\nstopping {} nodes ...", nodes.len());
    for n in &mut nodes {
        let _ = Command::new("kill")
            .args(["-TERM", &n.child.id().to_string()])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for n in &mut nodes {
        while n.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = n.child.kill();
        let _ = n.child.wait();
    }
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    waited
}

fn setup(args: &DemoArgs, dir: &Path, nodes: &mut Vec<DemoNode>, stop: &AtomicBool) -> Result<()> {
    let bin = node_binary();
    progress("[1/5] keys and genesis ...");
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let kdn = SecretKey::from_seed(seed)?;
    std::fs::write(dir.join("keys/kdn-steward.key"), kdn.to_file_text())?;
    let g = genesis(
        "KDN Dienstleistungsaustausch NRW (Demo)"
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        vec![kdn.did().clone()],
        1,
        &kdn,
        &[&kdn],
        now()?,
    )?;
    let fed = g.record().federation;
    let mut genesis_text = g.canonical_json().to_vec();
    genesis_text.push(b'\n');
    std::fs::write(dir.join("genesis.json"), &genesis_text)?;
    let providers = providers()?;
    for p in &providers {
        std::fs::write(dir.join(format!("keys/{}.key", p.id)), p.key.to_file_text())?;
    }

    progress("[2/5] starting nodes ...");
    let mut first_listen = None;
    for (i, id) in NODES.iter().enumerate() {
        let p = providers
            .iter()
            .find(|p| p.id == *id)
            .context("demo provider data")?;
        let ndir = dir.join("nodes").join(id);
        std::fs::write(ndir.with_extension("genesis.json"), &genesis_text)?;
        let node = start_node(
            &bin,
            &ndir,
            args.base_port + i as u16,
            &p.short,
            first_listen.as_deref(),
        )?;
        if first_listen.is_none() {
            first_listen = Some(listen_of(&ndir)?);
        }
        progress(&format!(
            "[2/5] starting nodes ... {}/{}",
            i + 1,
            NODES.len()
        ));
        nodes.push(node);
        if stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
    }
    let client_of = |id: &str| -> Client {
        let i = NODES.iter().position(|n| *n == id).unwrap_or(4);
        Client::new(&nodes[i].http)
    };

    progress("[3/5] admitting providers ...");
    let kdn_node = client_of("itk-rheinland");
    let mut steward = LogWriter::new(kdn, fed, Some((1, g.id())));
    let mut head: Hash32 = fed;
    for p in &providers {
        let mut b = Body::MemberAdmit(AdmitBody {
            prev_action: head,
            provider: p.key.did().clone(),
            name: p.short.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
            approvals: Vec::new(),
        });
        record::approve(&mut b, steward.key());
        let rec = steward.write(b, now()?)?;
        head = rec.action().context("admission is an action")?;
        kdn_node.submit(rec.canonical_json())?;
    }

    let ozg = csv(OZG);
    let total: usize = providers
        .iter()
        .map(|p| offers(p, &ozg, share(&p.id)).map_or(0, |o| o.len()))
        .sum();
    let mut done = 0;
    let mut writers: BTreeMap<String, LogWriter> = BTreeMap::new();
    let mut offered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &providers {
        let home = if MERGED.contains(&p.id.as_str()) {
            "owl-it"
        } else {
            p.id.as_str()
        };
        let client = client_of(home);
        let mut w = LogWriter::new(SecretKey::from_seed(p.key.seed())?, fed, None);
        let submit = |w: &mut LogWriter, b: Body| -> Result<VerifiedRecord> {
            let rec = w.write(b, now()?)?;
            client.submit(rec.canonical_json())?;
            Ok(rec)
        };
        submit(&mut w, profile(p)?)?;
        for b in offers(p, &ozg, share(&p.id))? {
            if let Body::Offer(o) = &b {
                offered
                    .entry(p.id.clone())
                    .or_default()
                    .push(o.offer_id.to_string());
            }
            submit(&mut w, b)?;
            done += 1;
            progress(&format!("[4/5] publishing offers ... {done}/{total}"));
        }
        writers.insert(p.id.clone(), w);
        if stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
    }

    // The OWL-IT merger: GKD Paderborn and krz hand their portfolios to OWL-IT.
    let owl = providers
        .iter()
        .find(|p| p.id == "owl-it")
        .context("OWL-IT")?;
    let owl_client = client_of("owl-it");
    for m in MERGED {
        let w = writers.get_mut(m).context("merged provider")?;
        let s = w.write(
            Body::from_json(
                Kind::Succession,
                json!({"successor": owl.key.did().as_str(), "effective_at": "2024-01-01T00:00:00Z", "offer_ids": []}),
            )?,
            now()?,
        )?;
        owl_client.submit(s.canonical_json())?;
        let ow = writers.get_mut("owl-it").context("OWL-IT writer")?;
        let a = ow.write(
            Body::from_json(
                Kind::SuccessionAccept,
                json!({"succession": s.id().to_hex()}),
            )?,
            now()?,
        )?;
        owl_client.submit(a.canonical_json())?;
    }

    progress("[5/5] waiting until every node holds every record ...");
    let want = Client::new(&nodes[0].http).get("/v1/status")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let expected_records = 1 + providers.len() * 2 + total + 4;
    loop {
        let states: Vec<Value> = nodes
            .iter()
            .filter_map(|n| Client::new(&n.http).get("/v1/status").ok())
            .collect();
        let ok = states.len() == nodes.len()
            && states.iter().all(|s| {
                s["records"].as_u64() == Some(expected_records as u64)
                    && s["state_digest"] == states[0]["state_digest"]
            });
        if ok {
            break;
        }
        if Instant::now() > deadline || stop.load(Ordering::SeqCst) {
            bail!("the nodes did not converge (last status of the first node: {want})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    progress("");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "KX demo federation running: {} nodes, {} providers, {total} offers (federation {}).",
        nodes.len(),
        providers.len(),
        fed.short()
    )?;
    writeln!(out)?;
    writeln!(out, "Web catalog of each node:")?;
    for n in nodes.iter() {
        writeln!(out, "  {:<14} {}/", n.name, n.http)?;
    }
    let first = &nodes[0].http;
    let owl_did = owl.key.did();
    writeln!(out)?;
    writeln!(out, "Try:")?;
    writeln!(out, "  export KX_NODE={first}")?;
    writeln!(
        out,
        "  kx offer search --municipality Paderborn --category fachverfahren"
    )?;
    writeln!(out, "  kx provider show {owl_did}")?;
    let krzn = providers.iter().find(|p| p.id == "krzn").context("KRZN")?;
    let both = offered
        .get("owl-it")
        .into_iter()
        .flatten()
        .find(|o| offered.get("krzn").is_some_and(|k| k.contains(o)));
    if let Some(o) = both {
        writeln!(
            out,
            "  kx offer compare {owl_did}/{o} {}/{o}",
            krzn.key.did()
        )?;
    }
    writeln!(out, "  kx node status")?;
    writeln!(
        out,
        "  kx record get <record id> > r.json && kx record verify r.json --genesis {}",
        dir.join("genesis.json").display()
    )?;
    writeln!(out)?;
    writeln!(out, "Keys and genesis: {}", dir.display())?;
    if !args.no_wait {
        writeln!(out, "Press Ctrl-C to stop.")?;
    }
    out.flush()?;
    Ok(())
}

/// Share of the templates (percent) each provider offers; merged providers had a
/// smaller portfolio.
fn share(id: &str) -> u64 {
    if MERGED.contains(&id) { 25 } else { 70 }
}
