//! The web catalog for municipalities: server-rendered HTML in German, usable
//! without JavaScript. Search (by municipality, category tree, OZG service,
//! certification, provider, free text, tender-free), offer, provider and compare
//! pages. Everything is read from the node's verified state.

use crate::http::{
    Ctx, Filters, current_record, now, offer_body, procurement_by_basis, procurement_of,
    provider_name,
};
use axum::Router;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use kx_protocol::body::{OfferBody, PriceModel};
use kx_protocol::fields::{OfferId, Timestamp};
use kx_protocol::geo::{self, Municipality, Procurement};
use kx_protocol::registry::{OfferEntry, OfferStatus};
use kx_protocol::{Body, Did, Hash32, Registry, State, VerifiedRecord, taxonomy};
use std::collections::BTreeSet;
use std::fmt::Write as _;

const PAGE: usize = 20;

/// Routes of the catalog.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/", get(search))
        .route("/angebot/{provider}/{offer_id}", get(offer_page))
        .route("/anbieter/{did}", get(provider_page))
        .route("/vergleich", get(compare_page))
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn url_enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – KX Marktplatz</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9;line-height:1.45}}
header{{background:#0b3d6e;color:#fff;padding:.8rem 1rem}}
header a{{color:#fff;text-decoration:none;font-weight:600}}
main{{max-width:72rem;margin:0 auto;padding:1rem}}
h1{{font-size:1.5rem;margin:.5rem 0 1rem}} h2{{font-size:1.15rem;margin:.2rem 0}}
form.search{{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.7rem;background:#fff;padding:1rem;border:1px solid #d5d9e0;border-radius:.4rem}}
label{{display:block;font-weight:600;font-size:.9rem;margin-bottom:.2rem}}
input,select,button{{font:inherit;padding:.4rem;border:1px solid #8a93a2;border-radius:.3rem;width:100%;box-sizing:border-box;background:#fff}}
button{{background:#0b3d6e;color:#fff;border-color:#0b3d6e;cursor:pointer}}
a:focus,input:focus,select:focus,button:focus{{outline:3px solid #f0a500;outline-offset:2px}}
.card{{background:#fff;border:1px solid #d5d9e0;border-radius:.4rem;padding:.8rem;margin:.6rem 0}}
.meta{{color:#4a5260;font-size:.92rem}}
.badge{{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.85rem;font-weight:600}}
.free{{background:#d8f0dc;color:#145c22}} .tender{{background:#fde2cf;color:#7a3300}}
table{{border-collapse:collapse;width:100%;background:#fff}} th,td{{border:1px solid #d5d9e0;padding:.4rem;text-align:left;vertical-align:top}}
th{{background:#eef1f5}} td.diff{{background:#fff4cc}}
.pager{{display:flex;gap:1rem;margin:1rem 0}}
dl{{display:grid;grid-template-columns:minmax(9rem,14rem) 1fr;gap:.3rem .8rem;background:#fff;padding:1rem;border:1px solid #d5d9e0;border-radius:.4rem}}
dt{{font-weight:600}} dd{{margin:0}}
code{{word-break:break-all;background:#eef1f5;padding:.05rem .25rem}}
@media (max-width:40rem){{dl{{grid-template-columns:1fr}}}}
</style>
</head>
<body>
<header><a href="/">KX – Marktplatz kommunaler IT-Dienstleistungen in NRW</a></header>
<main>
{body}
</main>
</body>
</html>"#,
        title = esc(title)
    );
    let mut r = Response::new(axum::body::Body::from(page));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        "Fehler",
        &format!(
            "<h1>Fehler</h1><p role=\"alert\">{}</p><p><a href=\"/\">Zur Suche</a></p>",
            esc(message)
        ),
    )
}

/// Query parameters: names may repeat (`o` on the compare page).
fn params(raw: Option<String>) -> Vec<(String, String)> {
    let raw = raw.unwrap_or_default();
    form_urlencoded::parse(raw.as_bytes())
        .take(64)
        .map(|(k, v)| (k.into_owned(), v.chars().take(200).collect()))
        .collect()
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter()
        .find(|(key, v)| key == k && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

fn euro(cents: u64) -> String {
    let euros = cents / 100;
    let mut s = euros.to_string();
    let mut i = s.len();
    while i > 3 {
        i -= 3;
        s.insert(i, '.');
    }
    format!("{s},{:02} €", cents % 100)
}

fn price(b: &OfferBody) -> String {
    let unit = match b.pricing.model {
        PriceModel::FlatPerYear => " pro Jahr",
        PriceModel::PerInhabitantPerYear => " je Einwohner:in und Jahr",
        PriceModel::PerUserPerMonth => " je Nutzer:in und Monat",
        PriceModel::PerCase => " je Fall",
        PriceModel::PerHour => " je Stunde",
        PriceModel::OneTime => " einmalig",
        PriceModel::OnRequest => return "auf Anfrage".into(),
    };
    let amount = if b.pricing.currency.as_str() == "EUR" {
        euro(b.pricing.amount_cents)
    } else {
        format!("{} {}", b.pricing.amount_cents, b.pricing.currency)
    };
    format!("{amount}{unit}")
}

fn percent(bp: u64) -> String {
    format!("{},{:02} %", bp / 100, bp % 100)
}

fn delivery(b: &OfferBody) -> &'static str {
    use kx_protocol::body::Delivery::*;
    match b.delivery {
        Saas => "Software as a Service",
        Hosting => "Hosting im Rechenzentrum",
        OnPremise => "Betrieb vor Ort",
        ManagedService => "Managed Service",
        Consulting => "Beratung/Projekt",
    }
}

fn status_de(s: OfferStatus) -> &'static str {
    match s {
        OfferStatus::Active => "aktiv",
        OfferStatus::NotYetValid => "noch nicht gültig",
        OfferStatus::Expired => "abgelaufen",
        OfferStatus::Withdrawn => "zurückgezogen",
        OfferStatus::ProviderSuspended => "Anbieter ruhend gestellt",
        OfferStatus::ProviderRevoked => "Anbieter ausgeschlossen",
    }
}

fn category_label(slug: &str) -> String {
    taxonomy::category(slug).map_or_else(|| slug.to_owned(), |c| c.label_de.clone())
}

fn region_names(list: &[kx_protocol::fields::AgsPrefix]) -> String {
    list.iter()
        .map(|r| match geo::name_of(r.as_str()) {
            Some(n) => format!("{n} ({r})"),
            None => r.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn offer_link(provider: &Did, id: &OfferId, m: Option<&Municipality>) -> String {
    let mut u = format!(
        "/angebot/{}/{}",
        url_enc(provider.as_str()),
        url_enc(id.as_str())
    );
    if let Some(m) = m {
        u.push_str(&format!("?gemeinde={}", m.ags));
    }
    u
}

fn badge(state: &State, provider: &Did, b: &OfferBody, m: &Municipality) -> String {
    let p = procurement_of(state, provider, b, m);
    let class = if p.tender_free() { "free" } else { "tender" };
    format!(
        "<span class=\"badge {class}\" title=\"Vergabe für {}\">{}</span>",
        esc(&m.name),
        esc(p.label_de())
    )
}

fn select(name: &str, label: &str, options: &[(String, String)], chosen: Option<&str>) -> String {
    let mut s = format!(
        "<div><label for=\"{name}\">{label}</label><select id=\"{name}\" name=\"{name}\"><option value=\"\">alle</option>"
    );
    for (v, l) in options {
        let sel = if Some(v.as_str()) == chosen {
            " selected"
        } else {
            ""
        };
        let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", esc(v), esc(l));
    }
    s.push_str("</select></div>");
    s
}

async fn search(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = params(q);
    let load = |id: &Hash32| ctx.node.record(id);
    ctx.node.with_index(|state, index| {
        let at = now();
        let mut notice     = String::new();
        let municipality = match param(&p, "gemeinde") {
            None => None,
            Some(g) => match geo::resolve(g) {
                Ok(m) => Some(m),
                Err(c) if c.is_empty() => {
                    notice = format!("Keine Gemeinde in NRW heißt „{}“.", esc(g));
                    None
                }
                Err(c) => {
                    notice = format!(
                        "„{}“ ist mehrdeutig: {}.",
                        esc(g),
                        c.iter()
                            .take(8)
                            .map(|m| esc(&format!("{} ({})", m.name, m.ags)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    None
                }
            },
        };
        let category = param(&p, "kategorie");
        let ozg = param(&p, "ozg");
        let cert = param(&p, "zertifikat");
        let provider = param(&p, "anbieter");
        let vergabe = param(&p, "vergabe");
        let page: usize = param(&p, "seite")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1);

        // The same filters as GET /v1/offers, from the form's German names.
        let filters = Filters {
            municipality,
            procurement: municipality
                .and(vergabe)
                .map(|v| if v == "frei" { "tender_free" } else { v }.to_owned()),
            category: category.map(str::to_owned),
            ozg: ozg.map(str::to_owned),
            cert: cert.map(str::to_owned),
            provider: provider.and_then(|d| d.parse().ok()),
            words: param(&p, "text").map(Filters::words_of).unwrap_or_default(),
            ..Filters::active_at(at)
        };
        // A provider that is not a did matches nothing.
        let unknown_provider = provider.is_some() && filters.provider.is_none();
        let ozg_present: BTreeSet<String> = index.active_ozg_ids(state, at).into_iter().collect();
        // Offers a municipality may take without a tender first, then by title
        // (both kept by the index, so only the page's bodies are read).
        let mut hits: Vec<(Option<Procurement>, &str, &Did, &OfferEntry)> = Vec::new();
        if !unknown_provider {
            for key in index.search(state, &filters, None, usize::MAX).keys {
                if let Some(((prov, offer_id), entry)) = state.offers.get_key_value(&key)
                    && let Some((title, basis)) = index.title_and_basis(&key)
                {
                    // The municipality filter means the offer is delivered there.
                    let rank = municipality
                        .map(|m| procurement_by_basis(state, prov, offer_id, true, basis, m));
                    hits.push((rank, title, prov, entry));
                }
            }
        }
        hits.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let cats: Vec<(String, String)> = taxonomy::categories()
            .iter()
            .map(|c| {
                let depth = {
                    let mut d = 0;
                    let mut cur = c.parent.as_deref();
                    while let Some(pp) = cur {
                        d += 1;
                        cur = taxonomy::category(pp).and_then(|x| x.parent.as_deref());
                        if d > 8 {
                            break;
                        }
                    }
                    d
                };
                (
                    c.slug.clone(),
                    format!("{}{}", "– ".repeat(depth), c.label_de),
                )
            })
            .collect();
        let ozgs: Vec<(String, String)> = ozg_present
            .iter()
            .map(|o| {
                (
                    o.clone(),
                    format!("{o} {}", taxonomy::ozg_name(o).unwrap_or("")),
                )
            })
            .collect();
        let certs: Vec<(String, String)> = taxonomy::standards()
            .iter()
            .filter(|s| s.kind == "certification" || s.kind == "attestation")
            .map(|s| (s.slug.clone(), s.name.clone()))
            .collect();
        let provs: Vec<(String, String)> = state
            .providers
            .keys()
            .map(|d| (d.to_string(), provider_name(state, d)))
            .collect();
        let vergaben = vec![
            ("frei".to_owned(), "ohne Ausschreibung möglich".to_owned()),
            ("in_house".to_owned(), "Inhouse-Vergabe".to_owned()),
            (
                "inter_municipal".to_owned(),
                "Interkommunale Zusammenarbeit".to_owned(),
            ),
            ("framework_agreement".to_owned(), "Rahmenvertrag".to_owned()),
            ("tender".to_owned(), "Ausschreibung nötig".to_owned()),
        ];

        let mut body = String::new();
        body.push_str("<h1>Angebote finden</h1>");
        body.push_str("<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">");
        let _ = write!(
            body,
            "<div><label for=\"gemeinde\">Gemeinde (Name oder AGS)</label><input id=\"gemeinde\" name=\"gemeinde\" list=\"gemeinden\" value=\"{}\" autocomplete=\"off\"></div>",
            esc(param(&p, "gemeinde").unwrap_or(""))
        );
        body.push_str("<datalist id=\"gemeinden\">");
        for m in geo::municipalities() {
            let _ = write!(body, "<option value=\"{}\">", esc(&m.name));
        }
        body.push_str("</datalist>");
        body.push_str(&select("kategorie", "Kategorie", &cats, category));
        body.push_str(&select("ozg", "OZG-Leistung", &ozgs, ozg));
        body.push_str(&select("zertifikat", "Zertifizierung", &certs, cert));
        body.push_str(&select("anbieter", "Anbieter", &provs, provider));
        body.push_str(&select(
            "vergabe",
            "Vergabe (mit Gemeinde)",
            &vergaben,
            vergabe,
        ));
        let _ = write!(
            body,
            "<div><label for=\"text\">Freitext</label><input id=\"text\" name=\"text\" value=\"{}\"></div>",
            esc(param(&p, "text").unwrap_or(""))
        );
        body.push_str("<div><label for=\"suchen\">&nbsp;</label><button id=\"suchen\" type=\"submit\">Suchen</button></div></form>");
        if !notice.is_empty() {
            let _ = write!(body, "<p role=\"alert\" class=\"card\">{notice}</p>");
        }
        let total = hits.len();
        let heading = match municipality {
            Some(m) => format!(
                "{total} Angebote für {} ({}, {})",
                esc(&m.name),
                m.ags,
                esc(&m.kreis_name)
            ),
            None => format!("{total} Angebote"),
        };
        let _ = write!(body, "<h2 id=\"treffer\">{heading}</h2>");
        body.push_str("<form method=\"get\" action=\"/vergleich\">");
        if let Some(m) = municipality {
            let _ = write!(
                body,
                "<input type=\"hidden\" name=\"gemeinde\" value=\"{}\">",
                m.ags
            );
        }
        let start = (page - 1) * PAGE;
        for (_, _, prov, entry) in hits.iter().skip(start).take(PAGE) {
            let Some(rec) = current_record(entry, &load) else {
                continue;
            };
            let Some(b) = offer_body(&rec) else {
                continue;
            };
            let shown = state.shown_under(prov, &b.offer_id, at);
            let who = if shown != **prov {
                format!(
                    "{} <span class=\"meta\">(vormals {})</span>",
                    esc(&provider_name(state, &shown)),
                    esc(&provider_name(state, prov))
                )
            } else {
                esc(&provider_name(state, prov))
            };
            let value = format!("{}/{}", prov, b.offer_id);
            let id = format!("v-{}", rec.id().short());
            let _ = write!(
                body,
                "<article class=\"card\"><h2><a href=\"{}\">{}</a></h2><p class=\"meta\">{who} · {} · {} · Verfügbarkeit {}</p><p>{}</p>{}<p><input type=\"checkbox\" name=\"o\" value=\"{}\" id=\"{id}\" style=\"width:auto\"> <label for=\"{id}\" style=\"display:inline;font-weight:400\">zum Vergleich auswählen</label></p></article>",
                offer_link(prov, &b.offer_id, municipality),
                esc(b.title.as_str()),
                esc(&category_label(b.category.as_str())),
                esc(&price(b)),
                percent(b.sla.availability_bp),
                esc(b.summary.as_str()),
                municipality.map_or(String::new(), |m| format!(
                    "<p>{}</p>",
                    badge(state, prov, b, m)
                )),
                esc(&value),
            );
        }
        if total > 0 {
            body.push_str("<p><button type=\"submit\" style=\"width:auto\">Ausgewählte vergleichen (2 bis 4)</button></p>");
        }
        body.push_str("</form>");
        let pages = total.div_ceil(PAGE);
        if pages > 1 {
            let base: Vec<(String, String)> = p.iter().filter(|(k, _)| k != "seite").cloned().collect();
            let link = |n: usize| {
                let mut q = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &base {
                    q.append_pair(k, v);
                }
                q.append_pair("seite", &n.to_string());
                format!("/?{}", q.finish())
            };
            body.push_str("<nav class=\"pager\" aria-label=\"Seiten\">");
            if page > 1 {
                let _ = write!(body, "<a href=\"{}\">Zurück</a>", esc(&link(page - 1)));
            }
            let _ = write!(body, "<span>Seite {page} von {pages}</span>");
            if page < pages {
                let _ = write!(
                    body,
                    "<a href=\"{}\" rel=\"next\">Weiter</a>",
                    esc(&link(page + 1))
                );
            }
            body.push_str("</nav>");
        }
        html(StatusCode::OK, "Angebote finden", &body)
    })
}

/// An offer by provider did (identity or any key) and id, or why not.
fn find_offer<'a>(
    r: &'a Registry,
    provider: &str,
    offer_id: &str,
) -> Result<(Did, &'a OfferEntry), (StatusCode, &'static str)> {
    let did: Did = provider
        .parse()
        .map_err(|_| (StatusCode::BAD_REQUEST, "Unbekannte Anbieterkennung."))?;
    let id: OfferId = offer_id
        .parse()
        .map_err(|_| (StatusCode::BAD_REQUEST, "Ungültige Angebotskennung."))?;
    let identity = r.identity_of(&did).cloned().unwrap_or(did);
    match r.state().offers.get(&(identity.clone(), id)) {
        Some(e) if e.current().is_some() => Ok((identity, e)),
        _ => Err((StatusCode::NOT_FOUND, "Dieses Angebot gibt es hier nicht.")),
    }
}

fn gemeinde(p: &[(String, String)]) -> Option<&'static Municipality> {
    param(p, "gemeinde").and_then(|g| geo::resolve(g).ok())
}

async fn offer_page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let Ok(Path((provider, offer_id))) = path else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Adresse.");
    };
    let p = params(q);
    let m = gemeinde(&p);
    let load = |id: &Hash32| ctx.node.record(id);
    ctx.node.with_registry(|r| {
        let state = r.state();
        let (prov, entry) = match find_offer(r, &provider, &offer_id) {
            Ok(x) => x,
            Err((code, msg)) => return error_page(code, msg),
        };
        let Some(current) = current_record(entry, &load) else {
            return error_page(StatusCode::NOT_FOUND, "Dieses Angebot gibt es hier nicht.");
        };
        let Some(b) = offer_body(&current) else {
            return error_page(StatusCode::NOT_FOUND, "Dieses Angebot gibt es hier nicht.");
        };
        let rec = current.id().to_hex();
        let at = now();
        let shown = state.shown_under(&prov, &b.offer_id, at);
        let mut body = format!("<h1>{}</h1>", esc(b.title.as_str()));
        if let Some(m) = m {
            let _ = write!(
                body,
                "<p>Für {}: {}</p>",
                esc(&m.name),
                badge(state, &prov, b, m)
            );
        }
        body.push_str("<dl>");
        let mut row = |k: &str, v: String| {
            let _ = write!(body, "<dt>{k}</dt><dd>{v}</dd>");
        };
        let anbieter = format!(
            "<a href=\"/anbieter/{}\">{}</a>",
            url_enc(prov.as_str()),
            esc(&provider_name(state, &prov))
        );
        if shown != prov {
            row(
                "Anbieter",
                format!(
                    "<a href=\"/anbieter/{}\">{}</a> (vormals {anbieter})",
                    url_enc(shown.as_str()),
                    esc(&provider_name(state, &shown))
                ),
            );
        } else {
            row("Anbieter", anbieter);
        }
        row(
            "Status",
            status_de(state.offer_status(&prov, entry, at)).into(),
        );
        row("Zusammenfassung", esc(b.summary.as_str()));
        row(
            "Beschreibung",
            esc(b.description.as_str()).replace('\n', "<br>"),
        );
        row("Kategorie", esc(&category_label(b.category.as_str())));
        row(
            "OZG-Leistungen",
            esc(&b
                .ozg_ids
                .iter()
                .map(|o| format!("{o} {}", taxonomy::ozg_name(o.as_str()).unwrap_or("")))
                .collect::<Vec<_>>()
                .join("; ")),
        );
        row(
            "LeiKa-Schlüssel",
            esc(&b
                .leika_keys
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
        );
        row("Liefergebiet", esc(&region_names(&b.regions)));
        row("Bereitstellung", delivery(b).into());
        row(
            "Preis",
            format!("{} {}", esc(&price(b)), esc(b.pricing.notes.as_str())),
        );
        row(
            "Service-Level",
            format!(
                "Verfügbarkeit {}, Support {}, Reaktion in {} Minuten, Lösung in {} Stunden",
                percent(b.sla.availability_bp),
                esc(b.sla.support_hours.as_str()),
                b.sla.response_minutes,
                b.sla.resolution_hours
            ),
        );
        row("Kapazität", format!("noch {} Kommunen", b.capacity));
        row(
            "Zertifizierungen",
            esc(&b
                .certifications
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
        );
        row(
            "Standards",
            esc(&b
                .standards
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
        );
        row(
            "Gültigkeit",
            format!(
                "ab {}{}",
                b.valid_from.date(),
                b.valid_until
                    .map_or(String::new(), |u| format!(" bis {}", u.date()))
            ),
        );
        row(
            "Rechtsgrundlage",
            b.legal_basis
                .as_ref()
                .map_or("keine angegeben".into(), |l| esc(l.text.as_str())),
        );
        let contacts: Vec<String> = b
            .contacts
            .iter()
            .map(|c| {
                format!(
                    "{}: {}{}{}",
                    esc(c.customer_group.as_str()),
                    esc(c.name.as_str()),
                    c.email
                        .as_ref()
                        .map_or(String::new(), |e| format!(", {}", esc(e.as_str()))),
                    c.phone
                        .as_ref()
                        .map_or(String::new(), |t| format!(", {}", esc(t.as_str())))
                )
            })
            .collect();
        row("Ansprechpartner", contacts.join("<br>"));
        row("Version", b.version.to_string());
        row(
            "Datensatz",
            format!("<code>{rec}</code> (<a href=\"/v1/records/{rec}\">signierter Datensatz</a>)"),
        );
        body.push_str("</dl>");
        body.push_str("<h2>Versionen</h2><ul>");
        let history = r.offer_history(&prov, &b.offer_id);
        let mut versions: Vec<_> = history
            .versions
            .iter()
            .filter_map(|v| load(&v.record))
            .collect();
        versions.sort_by_key(|r| match &r.record().body {
            Body::Offer(o) => o.version,
            _ => 0,
        });
        for v in versions {
            if let Body::Offer(o) = &v.record().body {
                let _ = write!(
                    body,
                    "<li>Version {} vom {} – <code>{}</code></li>",
                    o.version,
                    v.record().issued_at.date(),
                    v.id().short()
                );
            }
        }
        body.push_str("</ul>");
        let _ = write!(
            body,
            "<h2>Signatur selbst prüfen</h2><p>Jeder Datensatz ist vom Anbieter signiert. Prüfen Sie ihn ohne diesen Knoten:</p><pre><code>kx record get {rec} &gt; angebot.json\nkx record verify angebot.json --genesis genesis.json</code></pre>"
        );
        html(StatusCode::OK, b.title.as_str(), &body)
    })
}

async fn provider_page(
    AxState(ctx): AxState<Ctx>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Ok(Path(did)) = path else {
        return error_page(StatusCode::BAD_REQUEST, "Ungültige Adresse.");
    };
    let Ok(did) = did.parse::<Did>() else {
        return error_page(StatusCode::BAD_REQUEST, "Unbekannte Anbieterkennung.");
    };
    let identity = ctx
        .node
        .with_registry(|r| r.identity_of(&did).cloned().unwrap_or(did));
    ctx.node.with_index(|state, index| {
        let Some(p) = state.providers.get(&identity) else {
            return error_page(StatusCode::NOT_FOUND, "Diesen Anbieter gibt es hier nicht.");
        };
        let at = now();
        let name = provider_name(state, &identity);
        let mut body = format!("<h1>{}</h1>", esc(&name));
        body.push_str("<dl>");
        if let Some(pr) = p.profile_body() {
            let _ = write!(
                body,
                "<dt>Name</dt><dd>{}</dd><dt>Beschreibung</dt><dd>{}</dd><dt>Versorgungsgebiet</dt><dd>{}</dd><dt>Mitglieder/Träger</dt><dd>{}</dd><dt>Zertifizierungen</dt><dd>{}</dd>",
                esc(pr.name.as_str()),
                esc(pr.description.as_str()),
                esc(&region_names(&pr.regions)),
                esc(&region_names(&pr.members)),
                esc(&pr
                    .certifications
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
            );
            if let Some(w) = &pr.website {
                let _ = write!(body, "<dt>Web</dt><dd>{}</dd>", esc(w.as_str()));
            }
        }
        let standing = match p.standing {
            kx_protocol::Standing::Active => "Mitglied",
            kx_protocol::Standing::Suspended => "ruhend gestellt",
            kx_protocol::Standing::Revoked => "ausgeschlossen",
            _ => "ohne gültigen Schlüssel",
        };
        let _ = write!(
            body,
            "<dt>Status</dt><dd>{standing}</dd><dt>Kennung</dt><dd><code>{}</code></dd>",
            esc(identity.as_str())
        );
        if let Some(s) = &p.successor
            && let Some(sb) = kx_protocol::registry::succession_of(s)
        {
            let _ = write!(
                body,
                "<dt>Fusion</dt><dd>Portfolio übergegangen an <a href=\"/anbieter/{}\">{}</a> zum {}</dd>",
                url_enc(sb.successor.as_str()),
                esc(&provider_name(state, sb.successor)),
                sb.effective_at.date()
            );
        }
        if !p.predecessors.is_empty() {
            let list: Vec<String> = p
                .predecessors
                .iter()
                .map(|d| {
                    format!(
                        "<a href=\"/anbieter/{}\">{}</a>",
                        url_enc(d.as_str()),
                        esc(&provider_name(state, d))
                    )
                })
                .collect();
            let _ = write!(body, "<dt>Vorgänger</dt><dd>{}</dd>", list.join(", "));
        }
        body.push_str("</dl><h2>Angebote</h2><ul>");
        let mut shown: Vec<(Did, &OfferId, &OfferEntry)> = state
            .offers_of(&identity)
            .map(|(o, e)| (identity.clone(), o, e))
            .collect();
        for pred in &p.predecessors {
            shown.extend(state.offers_of(pred).map(|(o, e)| (pred.clone(), o, e)));
        }
        for (owner, offer_id, e) in shown {
            if let Some((title, _)) = index.title_and_basis(&(owner.clone(), offer_id.clone())) {
                let _ = write!(
                    body,
                    "<li><a href=\"{}\">{}</a> – {}{}</li>",
                    offer_link(&owner, offer_id, None),
                    esc(title),
                    status_de(state.offer_status(&owner, e, at)),
                    if owner != identity {
                        format!(" (vormals {})", esc(&provider_name(state, &owner)))
                    } else {
                        String::new()
                    }
                );
            }
        }
        body.push_str("</ul>");
        html(StatusCode::OK, &name, &body)
    })
}

async fn compare_page(AxState(ctx): AxState<Ctx>, RawQuery(q): RawQuery) -> Response {
    let p = params(q);
    let refs: Vec<&str> = p
        .iter()
        .filter(|(k, _)| k == "o")
        .map(|(_, v)| v.as_str())
        .collect();
    if !(2..=4).contains(&refs.len()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bitte wählen Sie zwei bis vier Angebote zum Vergleich aus.",
        );
    }
    let m = gemeinde(&p);
    let load = |id: &Hash32| ctx.node.record(id);
    ctx.node.with_registry(|reg| {
        let state = reg.state();
        let at: Timestamp = now();
        let mut cols = Vec::new();
        for r in &refs {
            let Some((prov, id)) = r.rsplit_once('/') else {
                return error_page(StatusCode::BAD_REQUEST, "Ungültige Auswahl.");
            };
            match find_offer(reg, prov, id) {
                Ok((d, e)) => cols.push((d, e)),
                Err((code, msg)) => return error_page(code, msg),
            }
        }
        let recs: Vec<(&Did, VerifiedRecord, &OfferEntry)> = cols
            .iter()
            .filter_map(|(d, e)| Some((d, current_record(e, &load)?, *e)))
            .collect();
        let bodies: Vec<(&Did, &OfferBody, &OfferEntry)> = recs
            .iter()
            .filter_map(|(d, r, e)| Some((*d, offer_body(r)?, *e)))
            .collect();
        type Cell<'a> = Box<dyn Fn(&Did, &OfferBody, &OfferEntry) -> String + 'a>;
        let rows: Vec<(&str, Cell)> = vec![
            (
                "Anbieter",
                Box::new(|d, b, _| {
                    let shown = state.shown_under(d, &b.offer_id, at);
                    if shown != *d {
                        format!(
                            "{} (vormals {})",
                            provider_name(state, &shown),
                            provider_name(state, d)
                        )
                    } else {
                        provider_name(state, d)
                    }
                }),
            ),
            (
                "Kategorie",
                Box::new(|_, b, _| category_label(b.category.as_str())),
            ),
            (
                "Status",
                Box::new(|d, _, e| status_de(state.offer_status(d, e, at)).into()),
            ),
            ("Bereitstellung", Box::new(|_, b, _| delivery(b).into())),
            ("Preis", Box::new(|_, b, _| price(b))),
            (
                "Verfügbarkeit",
                Box::new(|_, b, _| percent(b.sla.availability_bp)),
            ),
            (
                "Supportzeiten",
                Box::new(|_, b, _| b.sla.support_hours.to_string()),
            ),
            (
                "Reaktionszeit",
                Box::new(|_, b, _| format!("{} Minuten", b.sla.response_minutes)),
            ),
            (
                "Lösungszeit",
                Box::new(|_, b, _| format!("{} Stunden", b.sla.resolution_hours)),
            ),
            (
                "Kapazität",
                Box::new(|_, b, _| format!("{} Kommunen", b.capacity)),
            ),
            ("Liefergebiet", Box::new(|_, b, _| region_names(&b.regions))),
            (
                "Zertifizierungen",
                Box::new(|_, b, _| {
                    b.certifications
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            ),
            (
                "Standards",
                Box::new(|_, b, _| {
                    b.standards
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            ),
            (
                "Gültig bis",
                Box::new(|_, b, _| b.valid_until.map_or("offen".into(), |u| u.date())),
            ),
            (
                "Rechtsgrundlage",
                Box::new(|_, b, _| {
                    b.legal_basis
                        .as_ref()
                        .map_or("keine angegeben".into(), |l| l.text.to_string())
                }),
            ),
        ];
        let mut body = String::from("<h1>Angebote vergleichen</h1>");
        if let Some(m) = m {
            let _ = write!(
                body,
                "<p>Vergabe bewertet für {} ({})</p>",
                esc(&m.name),
                m.ags
            );
        }
        body.push_str("<p>Unterschiede sind hervorgehoben und mit ≠ markiert.</p><div style=\"overflow-x:auto\"><table><caption class=\"meta\">Vergleich</caption><thead><tr><th scope=\"col\">Merkmal</th>");
        for (d, b, _) in &bodies {
            let _ = write!(
                body,
                "<th scope=\"col\"><a href=\"{}\">{}</a></th>",
                offer_link(d, &b.offer_id, m),
                esc(b.title.as_str())
            );
        }
        body.push_str("</tr></thead><tbody>");
        let mut all_rows: Vec<(String, Vec<String>)> = rows
            .iter()
            .map(|(label, f)| {
                (
                    (*label).to_owned(),
                    bodies.iter().map(|(d, b, e)| f(d, b, e)).collect(),
                )
            })
            .collect();
        if let Some(m) = m {
            all_rows.push((
                "Vergabe".to_owned(),
                bodies
                    .iter()
                    .map(|(d, b, _)| procurement_of(state, d, b, m).label_de().to_owned())
                    .collect(),
            ));
        }
        for (label, values) in all_rows {
            let differs = values.iter().any(|v| *v != values[0]);
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}{}</th>",
                esc(&label),
                if differs { " ≠" } else { "" }
            );
            for v in values {
                let class = if differs { " class=\"diff\"" } else { "" };
                let _ = write!(body, "<td{class}>{}</td>", esc(&v));
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div>");
        html(StatusCode::OK, "Vergleich", &body)
    })
}
