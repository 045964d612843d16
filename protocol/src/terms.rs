//! What an offer's terms mean for one buyer (`specs/protocol.md` 6.9): whether
//! it meets the stewards' standards it declares, what it costs a municipality
//! in the first year and over five, and whom that municipality contacts.
//!
//! These are read rules: functions of a record body (and the standards on the
//! chain), never part of the state digest, and the same on every node.

use crate::body::{Charge, Contact, Delivery, OfferBody, PriceModel, PriceUnit, Sla};
use crate::fields::{AgsPrefix, Slug};
use crate::registry::StandardEntry;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The largest integer a JSON number carries exactly (2^53 − 1).
pub const MAX_EXACT: u64 = (1 << 53) - 1;

crate::text_enum! {
    /// Whether an offer meets a standard it declares.
    pub enum ConformanceStatus {
        /// Every machine-checkable criterion holds.
        Met = "met",
        /// At least one criterion does not hold (see the checks).
        NotMet = "not_met",
        /// The standard was retired by the stewards.
        Retired = "retired",
        /// No standard of that id was ever defined.
        Undefined = "undefined",
    }
}

crate::text_enum! {
    /// The machine-checkable criteria of a standard, in the order they are
    /// checked.
    pub enum Criterion {
        Category = "category",
        Certification = "certification",
        Standard = "standard",
        Delivery = "delivery",
        Availability = "availability",
        Response = "response",
        Resolution = "resolution",
    }
}

/// One criterion checked: what the standard requires, what the offer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub criterion: Criterion,
    /// A slug, a list of slugs (delivery) or a number.
    pub required: Value,
    /// The offer's value; null where it has none (a missing certification).
    pub offered: Value,
    pub met: bool,
}

/// An offer against one standard it declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conformance {
    pub standard_id: Slug,
    pub status: ConformanceStatus,
    /// Empty unless the standard is in force.
    pub checks: Vec<Check>,
}

impl Conformance {
    pub fn met(&self) -> bool {
        self.status == ConformanceStatus::Met
    }
}

fn check(criterion: Criterion, required: Value, offered: Value, met: bool) -> Check {
    Check {
        criterion,
        required,
        offered,
        met,
    }
}

/// What a standard's criteria read of an offer: borrowed from its body, or
/// from the few fields a search index keeps.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    pub category: &'a Slug,
    pub certifications: &'a [Slug],
    pub standards: &'a [Slug],
    pub delivery: Delivery,
    pub availability_bp: u64,
    pub response_minutes: u64,
    pub resolution_hours: u64,
}

impl<'a> From<&'a OfferBody> for Offered<'a> {
    fn from(b: &'a OfferBody) -> Offered<'a> {
        let Sla {
            availability_bp,
            response_minutes,
            resolution_hours,
            ..
        } = b.sla;
        Offered {
            category: &b.category,
            certifications: &b.certifications,
            standards: &b.standards,
            delivery: b.delivery,
            availability_bp,
            response_minutes,
            resolution_hours,
        }
    }
}

/// Checks `offer` against the standard `id` as defined in `standards`.
pub fn conformance(
    offer: &Offered<'_>,
    id: &Slug,
    standards: &BTreeMap<Slug, StandardEntry>,
) -> Conformance {
    let (status, checks) = match standards.get(id) {
        None => (ConformanceStatus::Undefined, Vec::new()),
        Some(e) if e.retired.is_some() => (ConformanceStatus::Retired, Vec::new()),
        Some(e) => {
            let s = &e.body;
            let mut checks = vec![check(
                Criterion::Category,
                json!(s.category.as_str()),
                json!(offer.category.as_str()),
                s.category == *offer.category,
            )];
            for c in &s.certifications {
                let has = offer.certifications.contains(c);
                let offered = if has { json!(c.as_str()) } else { Value::Null };
                checks.push(check(
                    Criterion::Certification,
                    json!(c.as_str()),
                    offered,
                    has,
                ));
            }
            for c in &s.standards {
                let has = offer.standards.contains(c);
                let offered = if has { json!(c.as_str()) } else { Value::Null };
                checks.push(check(Criterion::Standard, json!(c.as_str()), offered, has));
            }
            if !s.delivery.is_empty() {
                let allowed: Vec<&str> = s.delivery.iter().map(|d| d.as_str()).collect();
                checks.push(check(
                    Criterion::Delivery,
                    json!(allowed),
                    json!(offer.delivery.as_str()),
                    s.delivery.contains(&offer.delivery),
                ));
            }
            if let Some(min) = s.min_sla.availability_bp {
                let o = offer.availability_bp;
                checks.push(check(
                    Criterion::Availability,
                    json!(min),
                    json!(o),
                    o >= min,
                ));
            }
            if let Some(max) = s.min_sla.response_minutes {
                let o = offer.response_minutes;
                checks.push(check(Criterion::Response, json!(max), json!(o), o <= max));
            }
            if let Some(max) = s.min_sla.resolution_hours {
                let o = offer.resolution_hours;
                checks.push(check(Criterion::Resolution, json!(max), json!(o), o <= max));
            }
            let status = if checks.iter().all(|c| c.met) {
                ConformanceStatus::Met
            } else {
                ConformanceStatus::NotMet
            };
            (status, checks)
        }
    };
    Conformance {
        standard_id: id.clone(),
        status,
        checks,
    }
}

/// Every standard the offer declares, in its order.
pub fn conformances(
    offer: &OfferBody,
    standards: &BTreeMap<Slug, StandardEntry>,
) -> Vec<Conformance> {
    let offered = Offered::from(offer);
    offer
        .conforms_to
        .iter()
        .flatten()
        .map(|id| conformance(&offered, id, standards))
        .collect()
}

/// The buyer's figures a cost is counted with; each optional. Inhabitants
/// come from the municipality, the others from the buyer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhabitants: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Cases per year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<u64>,
    /// Hours per year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<u64>,
}

impl Quantities {
    /// How many units of `unit` (1 for a flat price), if known.
    pub fn of(&self, unit: PriceUnit) -> Option<u64> {
        match unit {
            PriceUnit::Flat => Some(1),
            PriceUnit::Inhabitant => self.inhabitants,
            PriceUnit::User => self.users,
            PriceUnit::Case => self.cases,
            PriceUnit::Hour => self.hours,
            PriceUnit::Site => self.sites,
            PriceUnit::Interface => self.interfaces,
        }
    }
}

/// One component of a cost, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostLine {
    pub label: String,
    pub charge: Charge,
    pub unit: PriceUnit,
    pub amount_cents: u64,
    /// Units counted (1 for flat); null where the buyer's figure is missing.
    pub quantity: Option<u64>,
    /// amount × quantity × charges in the first year (1 once or yearly, 12
    /// monthly); null where the quantity is missing or the product exceeds
    /// 2^53 − 1.
    pub first_year_cents: Option<u64>,
    /// The same over five years (once: 1, yearly: 5, monthly: 60 charges).
    pub five_years_cents: Option<u64>,
    /// An optional extra: shown, never summed.
    pub optional: bool,
}

/// What an offer costs a buyer with the given figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub currency: String,
    /// `pricing.model` is `on_request` and there are no components: no figure.
    pub on_request: bool,
    pub lines: Vec<CostLine>,
    /// Units whose figure a line that is not optional needs and lacks, each
    /// once, in the order of `PriceUnit`.
    pub missing: Vec<PriceUnit>,
    /// Sum over the lines that are not optional; null if any of them is null
    /// or the sum exceeds 2^53 − 1.
    pub first_year_cents: Option<u64>,
    pub five_years_cents: Option<u64>,
}

/// The components of an offer's price: `price_components`, or the single
/// `pricing` read as one (none for `on_request`).
pub fn components(offer: &OfferBody) -> Vec<(String, Charge, PriceUnit, u64, bool)> {
    if let Some(parts) = &offer.price_components {
        return parts
            .iter()
            .map(|p| {
                (
                    p.label.to_string(),
                    p.charge,
                    p.unit,
                    p.amount_cents,
                    p.optional,
                )
            })
            .collect();
    }
    let p = &offer.pricing;
    let (charge, unit) = match p.model {
        PriceModel::FlatPerYear => (Charge::Yearly, PriceUnit::Flat),
        PriceModel::PerInhabitantPerYear => (Charge::Yearly, PriceUnit::Inhabitant),
        PriceModel::PerUserPerMonth => (Charge::Monthly, PriceUnit::User),
        PriceModel::PerCase => (Charge::Yearly, PriceUnit::Case),
        PriceModel::PerHour => (Charge::Yearly, PriceUnit::Hour),
        PriceModel::OneTime => (Charge::Once, PriceUnit::Flat),
        PriceModel::OnRequest => return Vec::new(),
    };
    vec![(
        p.model.as_str().to_owned(),
        charge,
        unit,
        p.amount_cents,
        false,
    )]
}

fn exact(n: u128) -> Option<u64> {
    u64::try_from(n).ok().filter(|n| *n <= MAX_EXACT)
}

/// The first-year and five-year cost of `offer` for a buyer with figures `q`.
pub fn cost(offer: &OfferBody, q: &Quantities) -> Cost {
    let parts = components(offer);
    let mut missing: Vec<PriceUnit> = Vec::new();
    let mut lines = Vec::with_capacity(parts.len());
    let (mut first, mut five): (Option<u128>, Option<u128>) = (Some(0), Some(0));
    for (label, charge, unit, amount, optional) in parts {
        let quantity = q.of(unit);
        let (n1, n5): (u128, u128) = match charge {
            Charge::Once => (1, 1),
            Charge::Yearly => (1, 5),
            Charge::Monthly => (12, 60),
        };
        let per = quantity.map(|n| u128::from(amount) * u128::from(n));
        let (f, v) = (
            per.and_then(|p| exact(p * n1)),
            per.and_then(|p| exact(p * n5)),
        );
        if !optional {
            if quantity.is_none() && !missing.contains(&unit) {
                missing.push(unit);
            }
            first = first.zip(f).map(|(a, b)| a + u128::from(b));
            five = five.zip(v).map(|(a, b)| a + u128::from(b));
        }
        lines.push(CostLine {
            label,
            charge,
            unit,
            amount_cents: amount,
            quantity,
            first_year_cents: f,
            five_years_cents: v,
            optional,
        });
    }
    missing.sort();
    let on_request = lines.is_empty() && offer.pricing.model == PriceModel::OnRequest;
    let total = |t: Option<u128>| if on_request { None } else { t.and_then(exact) };
    Cost {
        currency: offer.pricing.currency.to_string(),
        on_request,
        lines,
        missing,
        first_year_cents: total(first),
        five_years_cents: total(five),
    }
}

crate::text_enum! {
    /// Where the contact a municipality gets comes from.
    pub enum ContactSource {
        Offer = "offer",
        Profile = "profile",
    }
}

/// Customer groups with a meaning for a municipality (others are listed but
/// never chosen).
const ALL_MUNICIPALITIES: &str = "kommunen";
const MEMBERS: &str = "mitglieder";
const NON_MEMBERS: &str = "nicht-mitglieder";

/// How well `c` fits the municipality with 8-digit AGS `ags`, whose provider
/// has the member regions `members`: None if it does not serve it, else
/// (length of the longest covering region prefix, 0 without regions; 1 for
/// a member group, 0 for all municipalities).
fn fit(c: &Contact, ags: &str, members: &[AgsPrefix]) -> Option<(usize, u8)> {
    let member = members.iter().any(|m| m.covers(ags));
    let group = match c.customer_group.as_str() {
        ALL_MUNICIPALITIES => 0,
        MEMBERS if member => 1,
        NON_MEMBERS if !member => 1,
        _ => return None,
    };
    let reach = match &c.regions {
        None => 0,
        Some(r) => r
            .iter()
            .filter(|p| p.covers(ags))
            .map(|p| p.as_str().len())
            .max()?,
    };
    Some((reach, group))
}

/// The contact for the municipality `ags`: of the offer's contacts that serve
/// it the best fitting (most specific region, then a member group, then the
/// first listed); if none serves it, the same among the profile's.
pub fn contact_for<'a>(
    offer: &'a [Contact],
    profile: &'a [Contact],
    members: &[AgsPrefix],
    ags: &str,
) -> Option<(ContactSource, usize, &'a Contact)> {
    let best = |list: &'a [Contact]| {
        let mut best: Option<((usize, u8), usize)> = None;
        for (i, c) in list.iter().enumerate() {
            if let Some(f) = fit(c, ags, members)
                && best.is_none_or(|(b, _)| f > b)
            {
                best = Some((f, i));
            }
        }
        best.map(|(_, i)| (i, &list[i]))
    };
    best(offer)
        .map(|(i, c)| (ContactSource::Offer, i, c))
        .or_else(|| best(profile).map(|(i, c)| (ContactSource::Profile, i, c)))
}
