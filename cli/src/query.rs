//! Read-only commands against a node: search, show, providers, records, status.
//! Text output is for people (tables); `--json` prints the node's answer as
//! read into `kx_api`'s views.

use crate::args::{BuyerArgs, FilterArgs, SearchArgs};
use crate::client::Client;
use crate::error::{CliCode, Refused};
use anyhow::Result;
use kx_api::query::{municipality, parse_did, parse_offer_id, parse_record_id};
use kx_api::views::OfferView;
use kx_api::{OfferQuery, SearchQuery};
use kx_protocol::Did;
use kx_protocol::body::{Charge, PriceModel, PriceUnit, Pricing};
use kx_protocol::fields::OfferId;
use kx_protocol::terms::Cost;
use serde::Serialize;
use std::io::Write;

pub(crate) fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

pub(crate) fn cut(text: &str, n: usize) -> String {
    let mut t: String = text.chars().take(n).collect();
    if text.chars().count() > n {
        t.pop();
        t.push('…');
    }
    t
}

/// Formats cents as euros: 4200 → "42,00 EUR".
fn money(cents: u64, currency: &str) -> String {
    format!("{},{:02} {currency}", cents / 100, cents % 100)
}

pub(crate) fn price(p: &Pricing) -> String {
    let unit = match p.model {
        PriceModel::FlatPerYear => "/Jahr",
        PriceModel::PerInhabitantPerYear => "/EW/Jahr",
        PriceModel::PerUserPerMonth => "/Nutzer/Monat",
        PriceModel::PerCase => "/Fall",
        PriceModel::PerHour => "/Std.",
        PriceModel::OneTime => " einmalig",
        PriceModel::OnRequest => return "auf Anfrage".into(),
    };
    format!("{}{unit}", money(p.amount_cents, p.currency.as_str()))
}

fn format_bp(bp: u64) -> String {
    format!("{},{:02}", bp / 100, bp % 100)
}

/// Items joined by `, `.
fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provider column: who offers it now, and who published it.
fn provider_of(o: &OfferView) -> String {
    match &o.shown_under {
        Some(s) => format!("{} (vorm. {})", s.name, o.provider.name),
        None => o.provider.name.clone(),
    }
}

/// Refuses an AGS prefix that names no place in NRW: a search for it would
/// answer "0 offers" as if the region had none.
pub(crate) fn known_region(prefix: &str) -> Result<(), Refused> {
    if kx_protocol::geo::is_known_prefix(prefix) {
        return Ok(());
    }
    Err(Refused::cli(
        CliCode::UnknownRegion,
        format!(
            "no NRW municipality's AGS starts with {prefix}: give 05 (NRW), a Regierungsbezirk \
             (051 to 055), a Kreis or kreisfreie Stadt (5 digits, e.g. 05774 Kreis Paderborn) \
             or a municipality (8 digits, or --municipality with its name)"
        ),
    ))
}

/// The filter flags as query pairs (`extra` appended), for the API's own
/// parser to read, so that `kx` refuses exactly what the node would.
pub(crate) fn filter_query(a: &FilterArgs, extra: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("municipality", &a.municipality),
        ("procurement", &a.procurement),
        ("region", &a.region),
        ("category", &a.category),
        ("ozg", &a.ozg),
        ("leika", &a.leika),
        ("cert", &a.cert),
        ("standard", &a.standard),
        ("provider", &a.provider),
        ("q", &a.text),
        ("include", &a.include),
    ] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.finish()
}

/// The search the flags describe; a well-formed region that names no place
/// in NRW is refused too.
fn search_query(a: &SearchArgs) -> Result<SearchQuery, Refused> {
    let limit = a.limit.clamp(1, SearchQuery::MAX_LIMIT).to_string();
    let query = SearchQuery::parse(&filter_query(&a.filters, &[("limit", limit)]))?;
    if let Some(r) = &query.filters.region {
        known_region(r.as_str())?;
    }
    Ok(query)
}

/// One line of an offer table.
pub(crate) struct Row<'a> {
    pub provider: String,
    pub offer_id: &'a str,
    pub version: u64,
    pub status: &'a str,
    pub category: &'a str,
    pub price: String,
    /// How the searched municipality may take it.
    pub procurement: Option<&'a str>,
    pub title: &'a str,
}

/// The offer table of `kx offer search` (and `kx survey`); the procurement
/// column if `with_proc`.
pub(crate) fn print_rows(out: &mut impl Write, rows: &[Row<'_>], with_proc: bool) -> Result<()> {
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
    for r in rows {
        let proc_col = match (r.procurement, with_proc) {
            (Some(p), true) => format!("{:<30}", cut(p, 30)),
            (None, true) => format!("{:<30}", ""),
            (_, false) => String::new(),
        };
        writeln!(
            out,
            "{:<18} {:<28} {:>3} {:<10} {:<22} {:<20} {proc_col}{}",
            cut(&r.provider, 18),
            cut(r.offer_id, 28),
            r.version,
            cut(r.status, 10),
            cut(r.category, 22),
            cut(&r.price, 20),
            cut(r.title, 60),
        )?;
    }
    Ok(())
}

pub fn search(client: &Client, a: &SearchArgs, json: bool) -> Result<()> {
    let page = client.search(&search_query(a)?)?;
    if json {
        return print_json(&page);
    }
    let mut out = std::io::stdout().lock();
    let place = page
        .offers
        .first()
        .and_then(|o| o.procurement.as_ref())
        .map(|p| p.municipality.name.as_str());
    match place {
        Some(p) => writeln!(out, "{} offer(s) for {p}", page.total)?,
        None => writeln!(out, "{} offer(s)", page.total)?,
    }
    let Some(first) = page.offers.first() else {
        return Ok(());
    };
    let rows: Vec<Row<'_>> = page
        .offers
        .iter()
        .map(|o| Row {
            provider: provider_of(o),
            offer_id: o.offer_id.as_str(),
            version: o.version,
            status: o.status.as_str(),
            category: o.body.category.as_str(),
            price: price(&o.body.pricing),
            procurement: o.procurement.as_ref().map(|p| p.label.as_str()),
            title: o.body.title.as_str(),
        })
        .collect();
    print_rows(&mut out, &rows, place.is_some())?;
    writeln!(
        out,
        "show one with: kx offer show {}/{}",
        first.provider.did, first.offer_id
    )?;
    Ok(())
}

/// `PROVIDER_DID/OFFER_ID`, read.
pub(crate) fn reference(text: &str) -> Result<(Did, OfferId), Refused> {
    let Some((did, id)) = text.rsplit_once('/') else {
        return Err(Refused::cli(
            CliCode::InvalidReference,
            format!("{text:?}: expected PROVIDER_DID/OFFER_ID"),
        ));
    };
    Ok((parse_did(did)?, parse_offer_id(id)?))
}

/// The offer query for a buyer: municipality and figures, as the node reads
/// them.
fn buyer_query(b: &BuyerArgs, history: bool) -> Result<OfferQuery, Refused> {
    let m = b.municipality.as_deref().map(municipality).transpose()?;
    let mut pairs = vec![("history", history.then(|| "true".to_owned()))];
    pairs.push(("municipality", m.map(|m| m.ags.clone())));
    for (k, v) in [
        ("users", b.users),
        ("cases", b.cases),
        ("hours", b.hours),
        ("sites", b.sites),
        ("interfaces", b.interfaces),
    ] {
        pairs.push((k, v.map(|n| n.to_string())));
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, &v);
        }
    }
    Ok(OfferQuery::parse(&q.finish())?)
}

/// The cost with its arithmetic, one line per component and the totals.
fn cost_lines(c: &Cost) -> Vec<String> {
    let cur = c.currency.as_str();
    let mut lines = Vec::new();
    for l in &c.lines {
        let (n1, n5) = match l.charge {
            Charge::Once => ("", ""),
            Charge::Yearly => ("", " × 5"),
            Charge::Monthly => (" × 12", " × 60"),
        };
        let qty = match (l.unit, l.quantity) {
            (PriceUnit::Flat, _) => String::new(),
            (u, Some(n)) => format!(" × {n} {}", u.as_str()),
            (u, None) => format!(" × ? {} (missing)", u.as_str()),
        };
        let amount = |n: Option<u64>| n.map_or("-".to_owned(), |n| money(n, cur));
        lines.push(format!(
            "{:<24} {:<8} {}{qty}{n1} = {}; five years{n5}: {}{}",
            cut(&l.label, 24),
            l.charge.as_str(),
            money(l.amount_cents, cur),
            amount(l.first_year_cents),
            amount(l.five_years_cents),
            if l.optional {
                " (optional, not summed)"
            } else {
                ""
            }
        ));
    }
    let total = |n: Option<u64>| match n {
        _ if c.on_request => "on request".to_owned(),
        Some(n) => money(n, cur),
        None => "-".to_owned(),
    };
    lines.push(format!(
        "total: first year {}, five years {}",
        total(c.first_year_cents),
        total(c.five_years_cents)
    ));
    if !c.missing.is_empty() {
        let flags: Vec<String> = c
            .missing
            .iter()
            .map(|u| match u {
                PriceUnit::User => "--users".to_owned(),
                PriceUnit::Case => "--cases".to_owned(),
                PriceUnit::Hour => "--hours".to_owned(),
                PriceUnit::Site => "--sites".to_owned(),
                PriceUnit::Interface => "--interfaces".to_owned(),
                other => format!("--municipality (for {})", other.as_str()),
            })
            .collect();
        lines.push(format!("for a total, give {}", flags.join(", ")));
    }
    lines
}

pub fn show_offer(
    client: &Client,
    text: &str,
    history: bool,
    buyer: &BuyerArgs,
    json: bool,
) -> Result<()> {
    let (did, id) = reference(text)?;
    let q = buyer_query(buyer, history)?;
    let v = client.offer(&did, &id, &q)?;
    if json {
        return print_json(&v);
    }
    let b = &v.body;
    let mut out = std::io::stdout().lock();
    if let (Some(c), Some(m)) = (&v.contact, q.municipality) {
        writeln!(
            out,
            "your contact ({}, from the {}): {}",
            m.name,
            c.source.as_str(),
            contact_text(&c.contact)
        )?;
    }
    writeln!(out, "{}", b.title)?;
    writeln!(
        out,
        "  offer       {} version {} ({})",
        v.offer_id, v.version, v.status
    )?;
    writeln!(out, "  provider    {} {}", v.provider.name, v.provider.did)?;
    if let Some(s) = &v.shown_under {
        writeln!(out, "  now under   {} {}", s.name, s.did)?;
    }
    writeln!(out, "  category    {}", b.category)?;
    writeln!(out, "  summary     {}", b.summary)?;
    writeln!(out, "  regions     {}", joined(&b.regions))?;
    writeln!(out, "  OZG         {}", joined(&b.ozg_ids))?;
    writeln!(out, "  LeiKa       {}", joined(&b.leika_keys))?;
    writeln!(out, "  delivery    {}", b.delivery.as_str())?;
    writeln!(
        out,
        "  SLA         {} % availability, {}, response {} min, resolution {} h",
        format_bp(b.sla.availability_bp),
        b.sla.support_hours,
        b.sla.response_minutes,
        b.sla.resolution_hours
    )?;
    writeln!(
        out,
        "  price       {}  {}",
        price(&b.pricing),
        b.pricing.notes
    )?;
    let u = &v.uptake;
    writeln!(
        out,
        "  capacity    {} declared, {} taken, {} left",
        u.declared, u.taken, u.remaining
    )?;
    if !u.takers.is_empty() {
        let names: Vec<&str> = u.takers.iter().map(|t| t.name.as_str()).collect();
        writeln!(
            out,
            "  taken by    {} ({})",
            u.takers.len(),
            names.join(", ")
        )?;
    }
    writeln!(out, "  certified   {}", joined(&b.certifications))?;
    writeln!(out, "  standards   {}", joined(&b.standards))?;
    writeln!(
        out,
        "  valid       {} – {}",
        b.valid_from,
        b.valid_until.map_or("open".to_owned(), |u| u.to_string())
    )?;
    if let Some(l) = &b.legal_basis {
        writeln!(out, "  legal basis {}: {}", l.kind.as_str(), l.text)?;
    }
    for c in &b.contacts {
        writeln!(out, "  contact     {}", contact_text(c))?;
    }
    for c in &v.conformance {
        writeln!(
            out,
            "  KDN standard {} {}",
            c.standard_id,
            c.status.as_str()
        )?;
        for ch in &c.checks {
            writeln!(
                out,
                "    {} {}: required {}, offered {}",
                if ch.met { "met    " } else { "NOT met" },
                ch.criterion.as_str(),
                ch.required,
                ch.offered
            )?;
        }
    }
    if let Some(c) = &v.cost {
        match q.municipality {
            Some(m) => writeln!(out, "  cost for {} ({} inhabitants):", m.name, m.population)?,
            None => writeln!(out, "  cost:")?,
        }
        for line in cost_lines(c) {
            writeln!(out, "    {line}")?;
        }
    }
    writeln!(out, "  record      {}", v.record)?;
    for h in v.history.iter().flatten() {
        writeln!(
            out,
            "  version {:>3} {} issued {}",
            h.version, h.record, h.issued_at
        )?;
    }
    for w in v.withdrawals.iter().flatten() {
        writeln!(
            out,
            "  withdrawal  up to version {} {}",
            w.body.version, w.record
        )?;
    }
    writeln!(
        out,
        "verify offline: kx record get {} > r.json && kx record verify r.json --genesis genesis.json",
        v.record
    )?;
    Ok(())
}

pub fn providers(client: &Client, json: bool) -> Result<()> {
    let list = client.providers()?;
    if json {
        return print_json(&list);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<34} {:<10} {:>6}  DID",
        "NAME", "STANDING", "OFFERS"
    )?;
    for p in &list.providers {
        let name = match &p.successor {
            Some(s) => format!("{} → {}", p.name, s.name),
            None => p.name.clone(),
        };
        writeln!(
            out,
            "{:<34} {:<10} {:>6}  {}",
            cut(&name, 34),
            p.standing,
            p.offers,
            p.did
        )?;
    }
    Ok(())
}

pub fn provider(client: &Client, did: &str, json: bool) -> Result<()> {
    let did = parse_did(did).map_err(Refused::from)?;
    let v = client.provider(&did)?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}  ({})", v.name, v.standing)?;
    writeln!(out, "  did         {}", v.did)?;
    if let Some(p) = &v.profile {
        let b = &p.body;
        writeln!(out, "  name        {}", b.name)?;
        writeln!(out, "  description {}", b.description)?;
        writeln!(out, "  regions     {}", joined(&b.regions))?;
        writeln!(out, "  members     {}", joined(&b.members))?;
        writeln!(out, "  certified   {}", joined(&b.certifications))?;
    }
    if let Some(s) = &v.successor {
        writeln!(out, "  merged into {} from {}", s.name, s.effective_at)?;
    }
    for p in &v.predecessors {
        writeln!(out, "  formerly    {}", p.name)?;
    }
    writeln!(out, "  offers      {}", v.offers.len())?;
    for o in &v.offers {
        writeln!(
            out,
            "    {:<28} v{:<3} {:<10} {}",
            o.offer_id, o.version, o.status, o.body.title
        )?;
    }
    Ok(())
}

pub fn record_get(client: &Client, id: &str) -> Result<()> {
    let id = parse_record_id(id).map_err(Refused::from)?;
    let bytes = client.record(&id)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn status(client: &Client, json: bool) -> Result<()> {
    let v = client.status()?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "federation   {}", v.federation)?;
    writeln!(out, "peer id      {}", v.peer_id)?;
    writeln!(out, "records      {}", v.records)?;
    writeln!(out, "providers    {}", v.providers)?;
    writeln!(out, "offers       {}", v.offers)?;
    writeln!(out, "state digest {}", v.state_digest)?;
    writeln!(
        out,
        "in sync      {}",
        if v.in_sync { "yes" } else { "not yet" }
    )?;
    if v.observer {
        writeln!(out, "observer     yes: accepts no submissions")?;
    }
    if !v.observers.is_empty() {
        writeln!(
            out,
            "observers    {} admitted by the stewards",
            v.observers.len()
        )?;
        for o in &v.observers {
            writeln!(out, "  {} {}", o.peer_id.as_str(), o.name.as_str())?;
        }
    }
    if !v.witnesses.is_empty() {
        writeln!(
            out,
            "witnesses    {}, a checkpoint needs {}",
            v.witnesses.len(),
            v.quorum
        )?;
        for w in &v.witnesses {
            writeln!(out, "  {} {}", w.name.as_str(), w.key)?;
        }
    }
    writeln!(out, "peers        {}", v.peers.len())?;
    for p in &v.peers {
        let last = match &p.last_sync {
            Some(l) => format!(
                "last sync {} ({} received{})",
                l.at,
                l.received,
                if l.complete { "" } else { ", incomplete" }
            ),
            None => "not reconciled yet".to_owned(),
        };
        writeln!(out, "  {} {} {last}", p.peer_id, p.address)?;
    }
    Ok(())
}

/// The rows of a comparison: label and the value per offer.
fn compare_rows(offers: &[OfferView]) -> Vec<(&'static str, Vec<String>)> {
    type Cell = fn(&OfferView) -> String;
    let rows: [(&'static str, Cell); 23] = [
        ("Anbieter", provider_of),
        ("Titel", |o| o.body.title.to_string()),
        ("Kategorie", |o| o.body.category.to_string()),
        ("Status", |o| o.status.to_string()),
        ("Bereitstellung", |o| o.body.delivery.as_str().to_owned()),
        ("Preis", |o| price(&o.body.pricing)),
        ("Verfügbarkeit", |o| {
            format!("{} %", format_bp(o.body.sla.availability_bp))
        }),
        ("Supportzeiten", |o| o.body.sla.support_hours.to_string()),
        ("Reaktionszeit", |o| {
            format!("{} min", o.body.sla.response_minutes)
        }),
        ("Lösungszeit", |o| {
            format!("{} h", o.body.sla.resolution_hours)
        }),
        ("Kapazität", |o| format!("{} Kommunen", o.body.capacity)),
        ("Frei", |o| {
            format!(
                "{} (vergeben an {})",
                o.uptake.remaining,
                o.uptake.takers.len()
            )
        }),
        ("Regionen", |o| joined(&o.body.regions)),
        ("OZG", |o| joined(&o.body.ozg_ids)),
        ("Zertifikate", |o| joined(&o.body.certifications)),
        ("Standards", |o| joined(&o.body.standards)),
        ("Gültig ab", |o| o.body.valid_from.date()),
        ("Gültig bis", |o| {
            o.body.valid_until.map_or("offen".into(), |v| v.date())
        }),
        ("Rechtsgrundlage", |o| {
            o.body
                .legal_basis
                .as_ref()
                .map_or(String::new(), |l| l.kind.as_str().to_owned())
        }),
        ("Vergabe", |o| {
            o.procurement
                .as_ref()
                .map_or(String::new(), |p| p.label.clone())
        }),
        ("KDN-Standards", |o| {
            o.conformance
                .iter()
                .map(|c| format!("{} {}", c.standard_id, c.status.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        }),
        ("Kosten 1. Jahr", |o| cost_total(o, |c| c.first_year_cents)),
        ("Kosten 5 Jahre", |o| cost_total(o, |c| c.five_years_cents)),
    ];
    rows.into_iter()
        .map(|(label, cell)| (label, offers.iter().map(cell).collect()))
        .collect()
}

/// A contact on one line: name, channels, group and regions.
fn contact_text(c: &kx_protocol::body::Contact) -> String {
    let mut t = format!("{}: {}", c.customer_group, c.name);
    for extra in [&c.email, &c.phone].into_iter().flatten() {
        t.push_str(&format!(", {extra}"));
    }
    if let Some(r) = &c.regions {
        t.push_str(&format!(" (in {})", joined(r)));
    }
    t
}

/// A total of the offer's cost, or why there is none.
fn cost_total(o: &OfferView, total: fn(&Cost) -> Option<u64>) -> String {
    match &o.cost {
        None => String::new(),
        Some(c) if c.on_request => "on request".to_owned(),
        Some(c) => match total(c) {
            Some(n) => money(n, &c.currency),
            None if !c.missing.is_empty() => {
                let units: Vec<&str> = c.missing.iter().map(|u| u.as_str()).collect();
                format!("missing: {}", units.join(", "))
            }
            None => "too large".to_owned(),
        },
    }
}

pub fn compare(client: &Client, refs: &[String], buyer: &BuyerArgs, json: bool) -> Result<()> {
    let q = buyer_query(buyer, false)?;
    let mut offers = Vec::new();
    for r in refs {
        let (did, id) = reference(r)?;
        offers.push(client.offer(&did, &id, &q)?);
    }
    offers.sort_by_key(OfferView::cost_order);
    if json {
        return print_json(&offers);
    }
    let mut out = std::io::stdout().lock();
    let width = 30;
    for (label, values) in compare_rows(&offers) {
        if label == "Vergabe" && q.municipality.is_none() {
            continue;
        }
        if label.starts_with("Kosten") && !q.wants_cost() {
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

/// `kx standards`: the stewards' standards, their criteria and uptake.
pub fn standards(client: &Client, json: bool) -> Result<()> {
    let list = client.standards()?;
    if json {
        return print_json(&list);
    }
    let mut out = std::io::stdout().lock();
    if list.standards.is_empty() {
        writeln!(out, "no standards defined")?;
    }
    for s in &list.standards {
        let b = &s.body;
        let state = if s.retired.is_some() {
            " (retired)"
        } else {
            ""
        };
        writeln!(out, "{} {}{state}", s.standard_id, b.title)?;
        writeln!(out, "  category    {}", b.category)?;
        writeln!(out, "  certified   {}", joined(&b.certifications))?;
        writeln!(out, "  standards   {}", joined(&b.standards))?;
        let delivery: Vec<&str> = b.delivery.iter().map(|d| d.as_str()).collect();
        writeln!(
            out,
            "  delivery    {}",
            if delivery.is_empty() {
                "any".to_owned()
            } else {
                delivery.join(", ")
            }
        )?;
        let m = &b.min_sla;
        writeln!(
            out,
            "  min SLA     availability {}, response {}, resolution {}",
            m.availability_bp
                .map_or("-".to_owned(), |bp| format!("{} %", format_bp(bp))),
            m.response_minutes
                .map_or("-".to_owned(), |n| format!("≤ {n} min")),
            m.resolution_hours
                .map_or("-".to_owned(), |n| format!("≤ {n} h"))
        )?;
        writeln!(
            out,
            "  offers      {} declare it, {} meet it",
            s.declared, s.met
        )?;
    }
    Ok(())
}
