//! How the catalog writes values in German: money, basis points, labels of
//! the protocol's enums, region names, and the catalog's own links. Plain
//! text only: the templates escape it.

use kx_protocol::Timestamp;
use kx_protocol::body::{BuyerBasisKind, Delivery, PriceModel, Pricing};
use kx_protocol::fields::{AgsPrefix, OfferId};
use kx_protocol::geo::{self, Municipality};
use kx_protocol::registry::{AgreementStatus, OfferStatus, RequestStatus, Standing};
use kx_protocol::{Did, taxonomy};

/// Percent-encodes a path segment or query value.
pub(super) fn url_enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A count with German thousands separators: 151633 → `151.633`.
pub(super) fn thousands(n: u64) -> String {
    let mut s = n.to_string();
    let mut i = s.len();
    while i > 3 {
        i -= 3;
        s.insert(i, '.');
    }
    s
}

/// Cents as euros: 123456 → `1.234,56 €`.
pub(super) fn euro(cents: u64) -> String {
    format!("{},{:02} €", thousands(cents / 100), cents % 100)
}

/// A price with its unit.
pub(super) fn price(p: &Pricing) -> String {
    let unit = match p.model {
        PriceModel::FlatPerYear => " pro Jahr",
        PriceModel::PerInhabitantPerYear => " je Einwohner:in und Jahr",
        PriceModel::PerUserPerMonth => " je Nutzer:in und Monat",
        PriceModel::PerCase => " je Fall",
        PriceModel::PerHour => " je Stunde",
        PriceModel::OneTime => " einmalig",
        PriceModel::OnRequest => return "auf Anfrage".into(),
    };
    let amount = if p.currency.as_str() == "EUR" {
        euro(p.amount_cents)
    } else {
        format!("{} {}", p.amount_cents, p.currency)
    };
    format!("{amount}{unit}")
}

/// Basis points as a percentage: 9950 → `99,50 %`.
pub(super) fn percent(bp: u64) -> String {
    format!("{},{:02} %", bp / 100, bp % 100)
}

pub(super) fn delivery(d: Delivery) -> &'static str {
    match d {
        Delivery::Saas => "Software as a Service",
        Delivery::Hosting => "Hosting im Rechenzentrum",
        Delivery::OnPremise => "Betrieb vor Ort",
        Delivery::ManagedService => "Managed Service",
        Delivery::Consulting => "Beratung/Projekt",
    }
}

pub(super) fn status(s: OfferStatus) -> &'static str {
    match s {
        OfferStatus::Active => "aktiv",
        OfferStatus::NotYetValid => "noch nicht gültig",
        OfferStatus::Expired => "abgelaufen",
        OfferStatus::Withdrawn => "zurückgezogen",
        OfferStatus::ProviderSuspended => "Anbieter ruhend gestellt",
        OfferStatus::ProviderRevoked => "Anbieter ausgeschlossen",
        OfferStatus::Consolidated => "vom Nachfolger zusammengeführt",
    }
}

pub(super) fn standing(s: Standing) -> &'static str {
    match s {
        Standing::Active => "Mitglied",
        Standing::Suspended => "ruhend gestellt",
        Standing::Revoked => "ausgeschlossen",
        Standing::NotMember | Standing::KeyRotated => "ohne gültigen Schlüssel",
    }
}

/// An agreement's status at the page's instant.
pub(super) fn agreement(s: AgreementStatus, start: Timestamp) -> String {
    match s {
        AgreementStatus::Pending => format!("beginnt am {}", date(start)),
        AgreementStatus::Active => "läuft".into(),
        AgreementStatus::Ended => "beendet".into(),
        AgreementStatus::Expired => "ausgelaufen".into(),
        AgreementStatus::OverCapacity => "über der Kapazität (wartet auf einen Platz)".into(),
    }
}

pub(super) fn request(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::Open => "offen",
        RequestStatus::Accepted => "angenommen",
        RequestStatus::Declined => "abgelehnt",
        RequestStatus::Withdrawn => "zurückgezogen",
    }
}

pub(super) fn basis(k: BuyerBasisKind) -> &'static str {
    match k {
        BuyerBasisKind::InHouse => "Inhouse-Vergabe",
        BuyerBasisKind::InterMunicipal => "Interkommunale Zusammenarbeit",
        BuyerBasisKind::FrameworkAgreement => "Abruf aus Rahmenvertrag",
        BuyerBasisKind::Tender => "nach Ausschreibung",
    }
}

/// How far an offer is taken: `genutzt von 3 Kommunen, 9 Plätze frei`.
pub(super) fn uptake(u: &kx_api::views::UptakeView) -> String {
    let who = match u.takers.len() {
        0 => "noch nicht genutzt".to_owned(),
        1 => "genutzt von 1 Abnehmer".to_owned(),
        n => format!("genutzt von {n} Abnehmern"),
    };
    format!("{who}, {} von {} Plätzen frei", u.remaining, u.declared)
}

/// A day in German form: `2027-01-01T00:00:00Z` → `01.01.2027`.
pub(super) fn date(t: Timestamp) -> String {
    let d = t.date();
    let parts: Vec<&str> = d.split('-').collect();
    match parts.as_slice() {
        [y, m, day] => format!("{day}.{m}.{y}"),
        _ => d,
    }
}

/// The catalog page of a request.
pub(super) fn request_href(id: &kx_protocol::Hash32) -> String {
    format!("/abruf/{id}")
}

/// The catalog page of a municipality.
pub(super) fn municipality_href(ags: &str) -> String {
    format!("/gemeinde/{}", url_enc(ags))
}

/// The German name of a category slug (the slug if it is not in the taxonomy).
pub(super) fn category(slug: &str) -> String {
    taxonomy::category(slug).map_or_else(|| slug.to_owned(), |c| c.label_de.clone())
}

/// The name of a certification or standard slug (the slug if it is not in
/// the taxonomy).
pub(super) fn standard_name(slug: &str) -> String {
    taxonomy::standards()
        .iter()
        .find(|s| s.slug == slug)
        .map_or_else(|| slug.to_owned(), |s| s.name.clone())
}

/// Certification or standard slugs by name, joined by `, `.
pub(super) fn standard_names(slugs: &[kx_protocol::fields::Slug]) -> String {
    slugs
        .iter()
        .map(|s| standard_name(s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Regions by name and AGS: `Kreis Mettmann (05158), 05999`.
pub(super) fn regions(list: &[AgsPrefix]) -> String {
    list.iter()
        .map(|r| match geo::name_of(r.as_str()) {
            Some(n) => format!("{n} ({r})"),
            None => r.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The catalog page of an offer, keeping the chosen municipality.
pub(super) fn offer_href(provider: &Did, id: &OfferId, m: Option<&Municipality>) -> String {
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

/// `href` with `suche=` set to the query string of the search it was
/// reached from (nothing for an empty one).
pub(super) fn with_search(mut href: String, search: &str) -> String {
    if !search.is_empty() {
        href.push(if href.contains('?') { '&' } else { '?' });
        href.push_str("suche=");
        href.extend(form_urlencoded::byte_serialize(search.as_bytes()));
    }
    href
}

/// The catalog page of a provider.
pub(super) fn provider_href(did: &Did) -> String {
    format!("/anbieter/{}", url_enc(did.as_str()))
}

/// The catalog page of a provider, keeping the chosen municipality (`ags`).
pub(super) fn provider_href_for(did: &Did, ags: Option<&str>) -> String {
    match ags {
        Some(a) => format!("{}?gemeinde={}", provider_href(did), url_enc(a)),
        None => provider_href(did),
    }
}

/// The categories as a tree: each indented by its depth.
pub(super) fn categories() -> Vec<(String, String)> {
    taxonomy::categories()
        .iter()
        .map(|c| {
            let mut depth = 0;
            let mut cur = c.parent.as_deref();
            while let Some(p) = cur {
                depth += 1;
                cur = taxonomy::category(p).and_then(|x| x.parent.as_deref());
                if depth > 8 {
                    break;
                }
            }
            (
                c.slug.clone(),
                format!("{}{}", "– ".repeat(depth), c.label_de),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_shares_in_german() {
        assert_eq!(euro(0), "0,00 €");
        assert_eq!(euro(123_456_789), "1.234.567,89 €");
        assert_eq!(percent(9950), "99,50 %");
        assert_eq!(url_enc("did:key:z6/o"), "did%3Akey%3Az6%2Fo");
        let t: Timestamp = "2027-01-31T00:00:00Z".parse().expect("ts");
        assert_eq!(date(t), "31.01.2027");
    }
}
