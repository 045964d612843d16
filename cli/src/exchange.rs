//! The exchange from the command line: demand, requests and their answers,
//! agreements, and a successor's consolidation. Records are signed here with
//! the buyer's or provider's key, as in `publish`; lists read the node's
//! `/v1/demand`, `/v1/requests` and `/v1/agreements`.

use crate::args::{
    AgreementCommand, DemandCommand, MunicipalityCommand, OutArgs, RequestCommand, RequestListArgs,
    SendArgs, TransitionArgs,
};
use crate::client::Client;
use crate::error::Refused;
use crate::offline::now;
use crate::publish::{cut_over_timestamp, deliver, read_toml, writer};
use crate::query::{cut, known_region, price, print_json, reference};
use crate::secret::read_key;
use anyhow::{Context, Result, bail};
use kx_api::exchange::{
    AgreementsQuery, DemandQuery, DemandStatus, ExchangeFilters, ListQuery, ListStatus,
    RequestView, RequestsQuery,
};
use kx_api::query::{municipality as resolve_municipality, parse_did, parse_record_id};
use kx_api::{ApiCode, OfferQuery};
use kx_protocol::body::{Kind, LegalBasisKind};
use kx_protocol::fields::{AgsPrefix, DemandId, Hash32, Timestamp};
use kx_protocol::{Body, Did, RecordCode, SecretKey};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// Signs `v` as a record of `kind` with `key` and delivers it.
fn sign(
    client: &Client,
    key: SecretKey,
    kind: Kind,
    v: Value,
    out: &OutArgs,
    json: bool,
) -> Result<kx_protocol::VerifiedRecord> {
    let b = Body::from_json(kind, v).map_err(Refused::from)?;
    let (mut w, _) = writer(client, key)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, out, json)?;
    Ok(rec)
}

/// A record id given on the command line.
fn record_id(text: &str) -> Result<Hash32> {
    Ok(parse_record_id(text).map_err(Refused::from)?)
}

/// A municipality or region given by name or AGS, as an AGS prefix.
fn region(text: &str) -> Result<AgsPrefix> {
    if let Ok(a) = text.parse::<AgsPrefix>() {
        known_region(a.as_str())?;
        return Ok(a);
    }
    let m = resolve_municipality(text).map_err(Refused::from)?;
    Ok(m.ags
        .parse()
        .map_err(|e| Refused::new(RecordCode::MalformedAgs, format!("{e}")))?)
}

/// The identity a key signs for, as the node knows it.
fn identity_of(client: &Client, key: &SecretKey) -> Result<Did> {
    Ok(client
        .author(key.did())?
        .identity
        .unwrap_or_else(|| key.did().clone()))
}

pub fn demand(client: &Client, cmd: DemandCommand, json: bool) -> Result<()> {
    match cmd {
        DemandCommand::Publish { key, file, out } => publish_demand(client, &key, &file, out, json),
        DemandCommand::Withdraw {
            key,
            demand_id,
            reason,
            out,
        } => {
            let key = read_key(&key)?;
            let id: DemandId = demand_id.parse().map_err(|e| {
                Refused::new(RecordCode::MalformedDemandId, format!("demand id: {e}"))
            })?;
            let buyer = identity_of(client, &key)?;
            let Some(version) = demand_version(client, &buyer, &id)? else {
                bail!(Refused::new(
                    ApiCode::NotFound,
                    format!("the node has no demand {id} of {buyer}")
                ));
            };
            let v = json!({"demand_id": id.as_str(), "version": version, "reason": reason});
            sign(client, key, Kind::DemandWithdraw, v, &out, json).map(|_| ())
        }
        DemandCommand::List {
            buyer,
            region: r,
            category,
            status,
            limit,
        } => {
            let mut q = DemandQuery::new();
            q.buyer = buyer
                .as_deref()
                .map(parse_did)
                .transpose()
                .map_err(Refused::from)?;
            q.ags = r.as_deref().map(region).transpose()?;
            q.category = category
                .map(|c| {
                    c.parse().map_err(|e| {
                        Refused::new(RecordCode::MalformedSlug, format!("category: {e}"))
                    })
                })
                .transpose()?;
            if let Some(s) = status {
                q.status = s.parse().map_err(|_| {
                    Refused::new(
                        ApiCode::InvalidQuery,
                        format!("--status {s}: open, withdrawn or expired"),
                    )
                })?;
            }
            q.limit = limit.clamp(1, DemandQuery::MAX_LIMIT);
            let page = client.demands(&q)?;
            if json {
                return print_json(&page);
            }
            let mut out = std::io::stdout().lock();
            writeln!(out, "{} demand(s)", page.demands.len())?;
            writeln!(
                out,
                "{:<24} {:<22} {:<12} {:<10} TITLE",
                "BUYER", "DEMAND", "FROM", "STATUS"
            )?;
            for d in &page.demands {
                writeln!(
                    out,
                    "{:<24} {:<22} {:<12} {:<10} {}",
                    cut(&d.buyer.name, 24),
                    cut(d.demand_id.as_str(), 22),
                    d.body.wanted_from.date(),
                    d.status,
                    cut(d.body.title.as_str(), 60)
                )?;
            }
            Ok(())
        }
    }
}

/// The highest version of `buyer`'s demand `id` on the node, whatever its status.
fn demand_version(client: &Client, buyer: &Did, id: &DemandId) -> Result<Option<u64>> {
    let mut best = None;
    for status in DemandStatus::ALL {
        let q = DemandQuery {
            buyer: Some(buyer.clone()),
            status: *status,
            limit: DemandQuery::MAX_LIMIT,
            ..DemandQuery::new()
        };
        for d in client.demands(&q)?.demands {
            if d.demand_id == *id {
                best = best.max(Some(d.version));
            }
        }
    }
    Ok(best)
}

fn publish_demand(
    client: &Client,
    key: &Path,
    file: &Path,
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let key = read_key(key)?;
    let mut v = read_toml(file)?;
    let id: DemandId = v
        .get("demand_id")
        .and_then(Value::as_str)
        .with_context(|| format!("{} has no demand_id", file.display()))?
        .parse()
        .map_err(|e| Refused::new(RecordCode::MalformedDemandId, format!("demand_id: {e}")))?;
    if !v.contains_key("version") {
        let buyer = identity_of(client, &key)?;
        let next = demand_version(client, &buyer, &id)?.map_or(1, |n| n + 1);
        v.insert("version".into(), json!(next));
    }
    let b = Body::from_json(Kind::Demand, Value::Object(v))
        .map_err(Refused::from)
        .with_context(|| format!("{} is not a valid demand", file.display()))?;
    let (mut w, _) = writer(client, key)?;
    let rec = w.write(b, now()?).map_err(Refused::from)?;
    deliver(client, &rec, &out, json)
}

pub fn request(client: &Client, cmd: RequestCommand, json: bool) -> Result<()> {
    match cmd {
        RequestCommand::Send(a) => send(client, a, json),
        RequestCommand::List(a) => list_requests(client, &a, json),
        RequestCommand::Show { id } => {
            let r = client.request(&record_id(&id)?)?;
            if json {
                return print_json(&r);
            }
            show(&r)
        }
        RequestCommand::Withdraw {
            key,
            id,
            reason,
            out,
        } => {
            let v = json!({"request": record_id(&id)?.to_hex(), "reason": reason});
            sign(
                client,
                read_key(&key)?,
                Kind::RequestWithdraw,
                v,
                &out,
                json,
            )
            .map(|_| ())
        }
        RequestCommand::Accept { key, id, out } => {
            let v = json!({"request": record_id(&id)?.to_hex()});
            sign(client, read_key(&key)?, Kind::RequestAccept, v, &out, json).map(|_| ())
        }
        RequestCommand::Decline {
            key,
            id,
            reason,
            out,
        } => {
            let v = json!({"request": record_id(&id)?.to_hex(), "reason": reason});
            sign(client, read_key(&key)?, Kind::RequestDecline, v, &out, json).map(|_| ())
        }
    }
}

fn send(client: &Client, a: SendArgs, json: bool) -> Result<()> {
    let key = read_key(&a.key)?;
    let (provider, offer_id) = reference(&a.offer)?;
    let buyer = identity_of(client, &key)?;
    // The buyer's municipality, for how the node says it may take the offer.
    let own_ags = client
        .municipality_of_did(&buyer)?
        .and_then(|ags| resolve_municipality(&ags).ok());
    let q = OfferQuery {
        history: a.version.is_some(),
        municipality: own_ags,
        ..OfferQuery::default()
    };
    let offer = client.offer(&provider, &offer_id, &q)?;
    let record = match a.version {
        None => offer.record,
        Some(n) => offer
            .history
            .iter()
            .flatten()
            .find(|h| h.version == n)
            .map(|h| h.record)
            .with_context(|| format!("{} has no version {n} of {offer_id}", offer.provider.name))
            .map_err(|e| Refused::new(ApiCode::NotFound, format!("{e:#}")))?,
    };
    // Default: how the node says this municipality may take the offer; for a
    // provider, the ground the offer states (a tender if it states none).
    let basis = match a.legal_basis {
        Some(k) => k,
        None => match (&offer.procurement, &offer.body.legal_basis) {
            (Some(p), _) => p.kind.as_str().to_owned(),
            (None, Some(l)) if l.kind != LegalBasisKind::Other => l.kind.as_str().to_owned(),
            _ => "tender".into(),
        },
    };
    let reference_text = match (a.reference, basis.as_str()) {
        (Some(r), _) => r,
        (None, "tender") => bail!(Refused::new(
            RecordCode::MissingField,
            "--reference: name the tender (Vergabenummer) the request relies on"
        )),
        (None, _) => offer
            .body
            .legal_basis
            .as_ref()
            .map(|l| l.text.to_string())
            .or_else(|| offer.procurement.as_ref().map(|p| p.label.clone()))
            .unwrap_or_else(|| basis.clone()),
    };
    let mut v = json!({
        "offer": record.to_hex(),
        "quantity": a.quantity,
        "start": cut_over_timestamp(&a.start),
        "legal_basis": {"kind": basis, "reference": reference_text},
        "on_behalf_of": a.on_behalf_of,
        "note": a.note,
        "contact": {"role": a.contact_role},
    });
    if let Some(m) = a.contact_mailbox {
        v["contact"]["mailbox"] = json!(m);
    }
    if let Some(e) = a.end {
        v["end"] = json!(cut_over_timestamp(&e));
    }
    if let Some(t) = a.term_months {
        v["term_months"] = json!(t);
    }
    let rec = sign(client, key, Kind::Request, v, &a.out, json)?;
    if !json && a.out.out.is_none() {
        println!("request id {}", rec.id());
        println!(
            "the provider answers with: kx request accept --key <provider key> {}",
            rec.id()
        );
    }
    Ok(())
}

/// The filters, status and instant of a list, read by the API's own parser so
/// that `kx` refuses exactly what the node would.
fn list_query<S: ListStatus>(
    filters: ExchangeFilters,
    status: Option<String>,
    limit: usize,
) -> Result<ListQuery<S>> {
    let mut q = ListQuery::<S>::new(filters);
    q.limit = limit.clamp(1, ListQuery::<S>::MAX_LIMIT);
    if let Some(s) = status {
        let raw = format!(
            "status={}",
            form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        );
        q.status = ListQuery::<S>::parse(&raw).map_err(Refused::from)?.status;
    }
    Ok(q)
}

fn list_requests(client: &Client, a: &RequestListArgs, json: bool) -> Result<()> {
    let me = match (&a.key, &a.did) {
        (Some(k), _) => Some(identity_of(client, &read_key(k)?)?),
        (None, Some(d)) => Some(parse_did(d).map_err(Refused::from)?),
        (None, None) => None,
    };
    let mut filters = ExchangeFilters {
        ags: a.municipality.as_deref().map(region).transpose()?,
        offer: a
            .offer
            .as_deref()
            .map(|o| o.parse().map_err(Refused::from))
            .transpose()?,
        ..ExchangeFilters::default()
    };
    if a.incoming {
        filters.provider = me;
    } else if a.outgoing || me.is_some() {
        filters.buyer = me;
    }
    let q: RequestsQuery = list_query(filters, a.status.clone(), a.limit)?;
    let page = client.requests(&q)?;
    if json {
        return print_json(&page);
    }
    table(&page.requests, false)
}

pub fn agreement(client: &Client, cmd: AgreementCommand, json: bool) -> Result<()> {
    match cmd {
        AgreementCommand::List {
            municipality: m,
            provider,
            buyer,
            status,
            limit,
        } => {
            let filters = ExchangeFilters {
                ags: m.as_deref().map(region).transpose()?,
                provider: provider
                    .as_deref()
                    .map(parse_did)
                    .transpose()
                    .map_err(Refused::from)?,
                buyer: buyer
                    .as_deref()
                    .map(parse_did)
                    .transpose()
                    .map_err(Refused::from)?,
                ..ExchangeFilters::default()
            };
            let q: AgreementsQuery = list_query(filters, status, limit)?;
            let page = client.agreements(&q)?;
            if json {
                return print_json(&page);
            }
            table(&page.agreements, true)
        }
        AgreementCommand::End {
            key,
            id,
            effective_at,
            reason,
            out,
        } => {
            let key = read_key(&key)?;
            let issued = now()?;
            let at: Timestamp = match effective_at {
                Some(t) => cut_over_timestamp(&t).parse().map_err(|e| {
                    Refused::new(
                        RecordCode::MalformedTimestamp,
                        format!("--effective-at: {e}"),
                    )
                })?,
                None => issued,
            };
            let v = json!({"request": record_id(&id)?.to_hex(), "effective_at": at.to_string(), "reason": reason});
            let b = Body::from_json(Kind::AgreementEnd, v).map_err(Refused::from)?;
            let (mut w, _) = writer(client, key)?;
            let rec = w.write(b, issued).map_err(Refused::from)?;
            deliver(client, &rec, &out, json)
        }
    }
}

pub fn municipality(client: &Client, cmd: MunicipalityCommand, json: bool) -> Result<()> {
    match cmd {
        MunicipalityCommand::List { region: r } => {
            let q = kx_api::exchange::MunicipalitiesQuery {
                region: r.as_deref().map(region).transpose()?,
                at: None,
            };
            let list = client.municipalities(&q)?;
            if json {
                return print_json(&list);
            }
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<10} {:<28} {:<10} {:>10} {:>8} {:>7}",
                "AGS", "NAME", "ADMITTED", "AGREEMENTS", "OPEN", "DEMAND"
            )?;
            for m in &list.municipalities {
                writeln!(
                    out,
                    "{:<10} {:<28} {:<10} {:>10} {:>8} {:>7}",
                    m.ags,
                    cut(&m.name, 28),
                    m.admission
                        .as_ref()
                        .map_or("no".to_owned(), |a| a.standing.to_string()),
                    m.agreements,
                    m.open_requests,
                    m.demands
                )?;
            }
            Ok(())
        }
        MunicipalityCommand::Show {
            municipality: which,
        } => {
            let m = resolve_municipality(&which).map_err(Refused::from)?;
            let d = client.municipality(&m.ags)?;
            if json {
                return print_json(&d);
            }
            let v = &d.municipality;
            {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{} ({}, Kreis {})", v.name, v.ags, v.kreis.name)?;
                match &v.admission {
                    Some(a) => writeln!(out, "  admitted    {} ({})", a.did, a.standing)?,
                    None => writeln!(
                        out,
                        "  admitted    no (takes part through providers' requests)"
                    )?,
                }
            }
            table(&d.agreements, true)?;
            let open: Vec<RequestView> = d
                .requests
                .into_iter()
                .filter(|r| r.status == kx_protocol::registry::RequestStatus::Open)
                .collect();
            table(&open, false)?;
            let mut out = std::io::stdout().lock();
            for dm in &d.demands {
                writeln!(
                    out,
                    "demand {} from {}: {}",
                    dm.demand_id,
                    dm.body.wanted_from.date(),
                    dm.body.title
                )?;
            }
            Ok(())
        }
    }
}

/// `kx offer consolidate`: a successor retires an inherited offer.
pub fn consolidate(
    client: &Client,
    key: &Path,
    offer: &str,
    replacement: Option<&str>,
    reason: &str,
    out: OutArgs,
    json: bool,
) -> Result<()> {
    let (provider, offer_id) = reference(offer)?;
    let mut v =
        json!({"provider": provider.as_str(), "offer_id": offer_id.as_str(), "reason": reason});
    if let Some(r) = replacement {
        v["replacement"] = json!(r);
    }
    sign(
        client,
        read_key(key)?,
        Kind::OfferConsolidate,
        v,
        &out,
        json,
    )
    .map(|_| ())
}

/// Requests or agreements as a table.
fn table(items: &[RequestView], agreements: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} {}",
        items.len(),
        if agreements {
            "agreement(s)"
        } else {
            "request(s)"
        }
    )?;
    writeln!(
        out,
        "{:<12} {:<13} {:<22} {:<22} {:<26} {:<11} {:<20} TAKERS",
        "ID", "STATUS", "BUYER", "PROVIDER", "OFFER", "START", "PRICE"
    )?;
    for r in items {
        let status = match &r.agreement {
            Some(a) => a.status.to_string(),
            None => r.status.to_string(),
        };
        let takers: Vec<&str> = r.takers.iter().map(|t| t.name.as_str()).collect();
        writeln!(
            out,
            "{:<12} {:<13} {:<22} {:<22} {:<26} {:<11} {:<20} {}",
            r.id.short(),
            status,
            cut(&r.buyer.name, 22),
            cut(&r.responder.name, 22),
            cut(&r.offer.title, 26),
            r.start.date(),
            cut(&price(&r.offer.pricing), 20),
            takers.join(", ")
        )?;
    }
    if let Some(first) = items.first() {
        writeln!(out, "show one with: kx request show {}", first.id)?;
    }
    Ok(())
}

fn show(r: &RequestView) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "request {}", r.id)?;
    writeln!(out, "  status      {}", r.status)?;
    if let Some(a) = &r.agreement {
        writeln!(
            out,
            "  agreement   {} (counts against {})",
            a.status, a.counts_against
        )?;
    }
    writeln!(
        out,
        "  buyer       {} ({}) {}",
        r.buyer.name, r.buyer.kind, r.buyer.did
    )?;
    let takers: Vec<&str> = r.takers.iter().map(|t| t.name.as_str()).collect();
    writeln!(out, "  takers      {}", takers.join(", "))?;
    writeln!(
        out,
        "  offer       {} v{} by {}",
        r.offer.title, r.offer.version, r.offer.provider.name
    )?;
    if r.responder.did != r.offer.provider.did {
        writeln!(out, "  now with    {}", r.responder.name)?;
    }
    writeln!(out, "  price       {}", price(&r.offer.pricing))?;
    writeln!(out, "  quantity    {}", r.quantity)?;
    writeln!(
        out,
        "  term        {} – {}",
        r.start.date(),
        r.stop.map_or("open".to_owned(), |s| s.date())
    )?;
    writeln!(
        out,
        "  legal basis {}: {}",
        r.legal_basis.kind, r.legal_basis.reference
    )?;
    writeln!(
        out,
        "  contact     {} {}",
        r.contact.role,
        r.contact.mailbox.as_ref().map_or("", |m| m.as_str())
    )?;
    if !r.note.is_empty() {
        writeln!(out, "  note        {}", r.note)?;
    }
    if let Some(w) = &r.withdrawal {
        writeln!(out, "  withdrawn   {} {}", w.issued_at, w.reason)?;
    }
    if let Some(a) = &r.answer {
        let what = if a.accepted { "accepted" } else { "declined" };
        writeln!(
            out,
            "  {what:<11} {} by {} {}",
            a.issued_at,
            a.by.name,
            a.reason.as_deref().unwrap_or("")
        )?;
    }
    if let Some(e) = &r.end {
        writeln!(out, "  ends        {} {}", e.effective_at, e.reason)?;
    }
    Ok(())
}

/// `kx transition`: the figures of `GET /v1/transition`, as tables.
pub fn transition(client: &Client, a: &TransitionArgs, json: bool) -> Result<()> {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [("category", &a.category), ("at", &a.at)] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = kx_api::transition::TransitionQuery::parse(&q.finish()).map_err(Refused::from)?;
    let v = client.transition(&q)?;
    if json {
        return print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    let t = &v.totals;
    writeln!(
        out,
        "Transition at {}, {}",
        v.at,
        v.category
            .as_ref()
            .map_or_else(|| "all categories".to_owned(), |c| c.name.clone())
    )?;
    writeln!(
        out,
        "NRW: {} active offers of {} providers; {} of {} municipalities covered; \
         {} open demands, {} municipalities with a gap; {} active agreements, \
         {} taking municipalities, {} of them from a provider they are not a member of; \
         {} agreements between providers",
        t.offers,
        t.providers,
        t.covered,
        t.municipalities,
        t.open_demand,
        t.gaps,
        t.active_agreements,
        t.takers,
        t.exchange,
        v.between_providers
    )?;
    let header = format!(
        "{:>6} {:>6} {:>9} {:>8} {:>6} {:>5} {:>10} {:>7} {:>8}",
        "MUNIC",
        "OFFERS",
        "PROVIDERS",
        "COVERED",
        "DEMAND",
        "GAPS",
        "AGREEMENTS",
        "TAKERS",
        "EXCHANGE"
    );
    let line = |f: &kx_api::transition::Figures| {
        format!(
            "{:>6} {:>6} {:>9} {:>8} {:>6} {:>5} {:>10} {:>7} {:>8}",
            f.municipalities,
            f.offers,
            f.providers,
            f.covered,
            f.open_demand,
            f.gaps,
            f.active_agreements,
            f.takers,
            f.exchange
        )
    };
    writeln!(out, "\n{:<6} {:<28} {header}", "AGS", "KREIS")?;
    for r in &v.regions {
        writeln!(
            out,
            "{:<6} {:<28} {}",
            r.ags,
            cut(&r.name, 28),
            line(&r.figures)
        )?;
    }
    writeln!(out, "\n{:<35} {header}", "CATEGORY")?;
    for c in &v.categories {
        writeln!(
            out,
            "{:<35} {}",
            cut(&c.category.name, 35),
            line(&c.figures)
        )?;
    }
    let carrying = v.break_even.iter().filter(|b| b.self_sustaining).count();
    writeln!(
        out,
        "\nBreak-even: {carrying} of {} offers that declare one reach it",
        v.break_even.len()
    )?;
    for b in &v.break_even {
        writeln!(
            out,
            "  {:<3} {:>3}/{:<3} {} ({}, {})",
            if b.self_sustaining { "yes" } else { "no" },
            b.takers,
            b.break_even,
            cut(&b.title, 40),
            b.provider.name,
            b.offer_id
        )?;
    }
    writeln!(out, "\nAgreements by month (started/ended):")?;
    let months: Vec<String> = v
        .months
        .iter()
        .map(|m| format!("{} {}/{}", m.month, m.started, m.ended))
        .collect();
    for chunk in months.chunks(6) {
        writeln!(out, "  {}", chunk.join("  "))?;
    }
    Ok(())
}
