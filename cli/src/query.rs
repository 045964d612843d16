//! Read-only commands against a node: search, show, providers, records, status.
//! Text output is for people (tables); `--json` prints the node's JSON.

use crate::client::Client;
use crate::commands::{Rejected, SearchArgs};
use anyhow::{Result, bail};
use serde_json::Value;
use std::io::Write;

fn print_json(v: &Value) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{v:#}")?;
    Ok(())
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn cut(text: &str, n: usize) -> String {
    let mut t: String = text.chars().take(n).collect();
    if text.chars().count() > n {
        t.pop();
        t.push('…');
    }
    t
}

/// Formats cents as euros: 4200 → "42,00 EUR".
pub fn money(cents: u64, currency: &str) -> String {
    format!("{},{:02} {currency}", cents / 100, cents % 100)
}

fn price(body: &Value) -> String {
    let p = &body["pricing"];
    let model = match p["model"].as_str().unwrap_or("") {
        "flat_per_year" => "/Jahr",
        "per_inhabitant_per_year" => "/EW/Jahr",
        "per_user_per_month" => "/Nutzer/Monat",
        "per_case" => "/Fall",
        "per_hour" => "/Std.",
        "one_time" => " einmalig",
        "on_request" => return "auf Anfrage".into(),
        _ => "",
    };
    format!(
        "{}{model}",
        money(
            p["amount_cents"].as_u64().unwrap_or(0),
            p["currency"].as_str().unwrap_or("")
        )
    )
}

pub fn search(client: &Client, a: &SearchArgs, json: bool) -> Result<()> {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("municipality", &a.municipality),
        ("procurement", &a.procurement),
        ("region", &a.region),
        ("category", &a.category),
        ("ozg", &a.ozg),
        ("leika", &a.leika),
        ("cert", &a.cert),
        ("provider", &a.provider),
        ("q", &a.text),
        ("include", &a.include),
    ] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    q.append_pair("limit", &a.limit.clamp(1, 500).to_string());
    let v = client.get(&format!("/v1/offers?{}", q.finish()))?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    let offers = v["offers"].as_array().cloned().unwrap_or_default();
    let place = offers
        .first()
        .and_then(|o| o.pointer("/procurement/municipality/name"))
        .and_then(Value::as_str);
    match place {
        Some(p) => writeln!(out, "{} offer(s) for {p}", v["total"].as_u64().unwrap_or(0))?,
        None => writeln!(out, "{} offer(s)", v["total"].as_u64().unwrap_or(0))?,
    }
    if offers.is_empty() {
        return Ok(());
    }
    let with_proc = place.is_some();
    writeln!(
        out,
        "{:<18} {:<28} {:>3} {:<10} {:<22} {:<20} {}TITLE",
        "PROVIDER",
        "OFFER",
        "VER",
        "STATUS",
        "CATEGORY",
        "PRICE",
        if with_proc {
            "VERGABE                       "
        } else {
            ""
        }
    )?;
    for o in &offers {
        let provider = if o.get("shown_under").is_some() {
            format!(
                "{} (vorm. {})",
                s(o, "/shown_under/name"),
                s(o, "/provider/name")
            )
        } else {
            s(o, "/provider/name").to_owned()
        };
        let proc_col = if with_proc {
            format!("{:<30}", cut(s(o, "/procurement/label"), 30))
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:<18} {:<28} {:>3} {:<10} {:<22} {:<20} {proc_col}{}",
            cut(&provider, 18),
            cut(s(o, "/offer_id"), 28),
            o["version"].as_u64().unwrap_or(0),
            cut(s(o, "/status"), 10),
            cut(s(o, "/body/category"), 22),
            cut(&price(&o["body"]), 20),
            cut(s(o, "/body/title"), 60),
        )?;
    }
    writeln!(
        out,
        "show one with: kx offer show {}/{}",
        s(&offers[0], "/provider/did"),
        s(&offers[0], "/offer_id")
    )?;
    Ok(())
}

pub fn show_offer(client: &Client, reference: &str, history: bool, json: bool) -> Result<()> {
    let Some((did, id)) = reference.rsplit_once('/') else {
        bail!(Rejected {
            code: "invalid_reference".into(),
            message: format!("{reference:?}: expected PROVIDER_DID/OFFER_ID"),
        });
    };
    let v = client.get(&format!(
        "/v1/offers/{did}/{id}{}",
        if history { "?history=true" } else { "" }
    ))?;
    if json {
        return print_json(&v);
    }
    let b = &v["body"];
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", s(&v, "/body/title"))?;
    writeln!(
        out,
        "  offer       {} version {} ({})",
        s(&v, "/offer_id"),
        v["version"],
        s(&v, "/status")
    )?;
    writeln!(
        out,
        "  provider    {} {}",
        s(&v, "/provider/name"),
        s(&v, "/provider/did")
    )?;
    if v.get("shown_under").is_some() {
        writeln!(
            out,
            "  now under   {} {}",
            s(&v, "/shown_under/name"),
            s(&v, "/shown_under/did")
        )?;
    }
    writeln!(out, "  category    {}", s(b, "/category"))?;
    writeln!(out, "  summary     {}", s(b, "/summary"))?;
    let list = |k: &str| joined(&b[k]);
    writeln!(out, "  regions     {}", list("regions"))?;
    writeln!(out, "  OZG         {}", list("ozg_ids"))?;
    writeln!(out, "  LeiKa       {}", list("leika_keys"))?;
    writeln!(out, "  delivery    {}", s(b, "/delivery"))?;
    writeln!(
        out,
        "  SLA         {} % availability, {}, response {} min, resolution {} h",
        format_bp(b["sla"]["availability_bp"].as_u64().unwrap_or(0)),
        s(b, "/sla/support_hours"),
        b["sla"]["response_minutes"],
        b["sla"]["resolution_hours"]
    )?;
    writeln!(
        out,
        "  price       {}  {}",
        price(b),
        s(b, "/pricing/notes")
    )?;
    writeln!(out, "  capacity    {} more municipalities", b["capacity"])?;
    writeln!(out, "  certified   {}", list("certifications"))?;
    writeln!(out, "  standards   {}", list("standards"))?;
    writeln!(
        out,
        "  valid       {} – {}",
        s(b, "/valid_from"),
        b["valid_until"].as_str().unwrap_or("open")
    )?;
    if let Some(l) = b.get("legal_basis") {
        writeln!(out, "  legal basis {}: {}", s(l, "/kind"), s(l, "/text"))?;
    }
    for c in b["contacts"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  contact     {}: {} {} {}",
            s(c, "/customer_group"),
            s(c, "/name"),
            s(c, "/email"),
            s(c, "/phone")
        )?;
    }
    writeln!(out, "  record      {}", s(&v, "/record"))?;
    for h in v["history"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  version {:>3} {} issued {}",
            h["version"],
            s(h, "/record"),
            s(h, "/issued_at")
        )?;
    }
    for w in v["withdrawals"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  withdrawal  up to version {} {}",
            w["body"]["version"],
            s(w, "/record")
        )?;
    }
    writeln!(
        out,
        "verify offline: kx record get {} > r.json && kx record verify r.json --genesis genesis.json",
        s(&v, "/record")
    )?;
    Ok(())
}

fn format_bp(bp: u64) -> String {
    format!("{},{:02}", bp / 100, bp % 100)
}

pub fn providers(client: &Client, json: bool) -> Result<()> {
    let v = client.get("/v1/providers")?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<34} {:<10} {:>6}  DID",
        "NAME", "STANDING", "OFFERS"
    )?;
    for p in v["providers"].as_array().into_iter().flatten() {
        let mut name = s(p, "/name").to_owned();
        if p["successor"].is_object() {
            name = format!("{name} → {}", s(p, "/successor/name"));
        }
        writeln!(
            out,
            "{:<34} {:<10} {:>6}  {}",
            cut(&name, 34),
            s(p, "/standing"),
            p["offers"].as_u64().unwrap_or(0),
            s(p, "/did")
        )?;
    }
    Ok(())
}

pub fn provider(client: &Client, did: &str, json: bool) -> Result<()> {
    let v = client.get(&format!("/v1/providers/{did}"))?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}  ({})", s(&v, "/name"), s(&v, "/standing"))?;
    writeln!(out, "  did         {}", s(&v, "/did"))?;
    if let Some(p) = v["profile"].get("body") {
        writeln!(out, "  name        {}", s(p, "/name"))?;
        writeln!(out, "  description {}", s(p, "/description"))?;
        let list = |k: &str| joined(&p[k]);
        writeln!(out, "  regions     {}", list("regions"))?;
        writeln!(out, "  members     {}", list("members"))?;
        writeln!(out, "  certified   {}", list("certifications"))?;
    }
    if v["successor"].is_object() {
        writeln!(
            out,
            "  merged into {} from {}",
            s(&v, "/successor/name"),
            s(&v, "/successor/effective_at")
        )?;
    }
    for p in v["predecessors"].as_array().into_iter().flatten() {
        writeln!(out, "  formerly    {}", s(p, "/name"))?;
    }
    let offers = v["offers"].as_array().cloned().unwrap_or_default();
    writeln!(out, "  offers      {}", offers.len())?;
    for o in &offers {
        writeln!(
            out,
            "    {:<28} v{:<3} {:<10} {}",
            s(o, "/offer_id"),
            o["version"],
            s(o, "/status"),
            s(o, "/body/title")
        )?;
    }
    Ok(())
}

pub fn record_get(client: &Client, id: &str) -> Result<()> {
    let bytes = client.get_raw(&format!("/v1/records/{id}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn status(client: &Client, json: bool) -> Result<()> {
    let v = client.get("/v1/status")?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "federation   {}", s(&v, "/federation"))?;
    writeln!(out, "peer id      {}", s(&v, "/peer_id"))?;
    writeln!(out, "records      {}", v["records"])?;
    writeln!(out, "providers    {}", v["providers"])?;
    writeln!(out, "offers       {}", v["offers"])?;
    writeln!(out, "state digest {}", s(&v, "/state_digest"))?;
    writeln!(
        out,
        "in sync      {}",
        if v["in_sync"] == true {
            "yes"
        } else {
            "not yet"
        }
    )?;
    let peers = v["peers"].as_array().cloned().unwrap_or_default();
    writeln!(out, "peers        {}", peers.len())?;
    for p in &peers {
        let last = match p.get("last_sync") {
            Some(l) if l.is_object() => format!(
                "last sync {} ({} received{})",
                s(l, "/at"),
                l["received"],
                if l["complete"] == true {
                    ""
                } else {
                    ", incomplete"
                }
            ),
            _ => "not reconciled yet".to_owned(),
        };
        writeln!(out, "  {} {} {last}", s(p, "/peer_id"), s(p, "/address"))?;
    }
    Ok(())
}

/// The rows of a comparison: label and the value per offer.
pub fn compare_rows(offers: &[Value]) -> Vec<(&'static str, Vec<String>)> {
    let list = |b: &Value, k: &str| joined(&b[k]);
    let row = |label: &'static str, f: &dyn Fn(&Value) -> String| {
        (label, offers.iter().map(f).collect::<Vec<String>>())
    };
    vec![
        row("Anbieter", &|o| match o.get("shown_under") {
            Some(u) => format!("{} (vorm. {})", s(u, "/name"), s(o, "/provider/name")),
            None => s(o, "/provider/name").to_owned(),
        }),
        row("Titel", &|o| s(o, "/body/title").to_owned()),
        row("Kategorie", &|o| s(o, "/body/category").to_owned()),
        row("Status", &|o| s(o, "/status").to_owned()),
        row("Bereitstellung", &|o| s(o, "/body/delivery").to_owned()),
        row("Preis", &|o| price(&o["body"])),
        row("Verfügbarkeit", &|o| {
            format!(
                "{} %",
                format_bp(o["body"]["sla"]["availability_bp"].as_u64().unwrap_or(0))
            )
        }),
        row("Supportzeiten", &|o| {
            s(o, "/body/sla/support_hours").to_owned()
        }),
        row("Reaktionszeit", &|o| {
            format!("{} min", o["body"]["sla"]["response_minutes"])
        }),
        row("Lösungszeit", &|o| {
            format!("{} h", o["body"]["sla"]["resolution_hours"])
        }),
        row("Kapazität", &|o| {
            format!("{} Kommunen", o["body"]["capacity"])
        }),
        row("Regionen", &|o| list(&o["body"], "regions")),
        row("OZG", &|o| list(&o["body"], "ozg_ids")),
        row("Zertifikate", &|o| list(&o["body"], "certifications")),
        row("Standards", &|o| list(&o["body"], "standards")),
        row("Gültig ab", &|o| {
            s(o, "/body/valid_from").chars().take(10).collect()
        }),
        row("Gültig bis", &|o| {
            o["body"]["valid_until"]
                .as_str()
                .map_or("offen".into(), |v| v.chars().take(10).collect())
        }),
        row("Rechtsgrundlage", &|o| {
            s(o, "/body/legal_basis/kind").to_owned()
        }),
        row("Vergabe", &|o| s(o, "/procurement/label").to_owned()),
    ]
}

pub fn compare(
    client: &Client,
    refs: &[String],
    municipality: Option<&str>,
    json: bool,
) -> Result<()> {
    let mut offers = Vec::new();
    for r in refs {
        let Some((did, id)) = r.rsplit_once('/') else {
            bail!(Rejected {
                code: "invalid_reference".into(),
                message: format!("{r:?}: expected PROVIDER_DID/OFFER_ID"),
            });
        };
        let mut path = format!("/v1/offers/{did}/{id}");
        if let Some(m) = municipality {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("municipality", m);
            path = format!("{path}?{}", q.finish());
        }
        offers.push(client.get(&path)?);
    }
    if json {
        return print_json(&Value::Array(offers));
    }
    let mut out = std::io::stdout().lock();
    let width = 30;
    for (label, values) in compare_rows(&offers) {
        if label == "Vergabe" && municipality.is_none() {
            continue;
        }
        let differs = values.iter().any(|v| *v != values[0]);
        let mark = if differs { '*' } else { ' ' };
        let cells: Vec<String> = values
            .iter()
            .map(|v| format!("{:<width$}", cut(v, width)))
            .collect();
        writeln!(out, "{mark} {label:<16} {}", cells.join(" "))?;
    }
    writeln!(out, "(* = the offers differ)")?;
    Ok(())
}

/// The strings of a JSON array, comma-separated; empty for anything else.
fn joined(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
