//! How the catalog writes values in German: money, basis points, labels of
//! the protocol's enums, region names, and the catalog's own links. Plain
//! text only: the templates escape it.

use kx_protocol::body::{Delivery, OfferBody, PriceModel};
use kx_protocol::fields::{AgsPrefix, OfferId};
use kx_protocol::geo::{self, Municipality};
use kx_protocol::registry::{OfferStatus, Standing};
use kx_protocol::{Did, taxonomy};

/// Percent-encodes a path segment or query value.
pub(super) fn url_enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Cents as euros: 123456 → `1.234,56 €`.
pub(super) fn euro(cents: u64) -> String {
    let mut s = (cents / 100).to_string();
    let mut i = s.len();
    while i > 3 {
        i -= 3;
        s.insert(i, '.');
    }
    format!("{s},{:02} €", cents % 100)
}

/// The price of an offer with its unit.
pub(super) fn price(b: &OfferBody) -> String {
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

/// The German name of a category slug (the slug if it is not in the taxonomy).
pub(super) fn category(slug: &str) -> String {
    taxonomy::category(slug).map_or_else(|| slug.to_owned(), |c| c.label_de.clone())
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

/// Items joined by `, `.
pub(super) fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
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

/// The catalog page of a provider.
pub(super) fn provider_href(did: &Did) -> String {
    format!("/anbieter/{}", url_enc(did.as_str()))
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
    }
}
