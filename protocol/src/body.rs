//! Typed bodies of every record kind, and the per-kind checks that go beyond the
//! field types (ranges, non-empty lists, validity windows, thresholds).
//!
//! Bodies deserialise with `deny_unknown_fields`; optional fields are absent rather
//! than `null`, and every list is present (possibly empty). `specs/protocol.md`
//! lists the same shapes field by field.

use crate::code::RecordCode;
use crate::fields::{
    AgsPrefix, Currency, DemandId, Description, FieldError, Hash32, LeikaKey, Name, OfferId, OzgId,
    Short, Slug, Summary, Text, Timestamp,
};
use crate::keys::{Did, Signature};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest list in any body (regions, OZG ids, approvals, ...).
pub const MAX_LIST: usize = 512;
/// Most stewards a federation may have.
pub const MAX_STEWARDS: usize = 64;
/// Longest term of a request, in months (100 years).
pub const MAX_TERM_MONTHS: u64 = 1200;

/// The record kinds. The string forms are the `kind` field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    Genesis,
    MemberAdmit,
    MemberSuspend,
    MemberReinstate,
    MemberRevoke,
    FederationStewards,
    MemberRekey,
    MemberSuccession,
    ProviderProfile,
    Offer,
    OfferWithdraw,
    KeyRotate,
    Succession,
    SuccessionAccept,
    MunicipalityAdmit,
    Demand,
    DemandWithdraw,
    Request,
    RequestWithdraw,
    RequestAccept,
    RequestDecline,
    AgreementEnd,
    OfferConsolidate,
    StandardDefine,
    StandardRetire,
    FederationObservers,
    MemberAllowance,
    FederationWitnesses,
}

impl Kind {
    /// Every kind, in the order of the spec.
    pub const ALL: [Kind; 28] = [
        Kind::Genesis,
        Kind::MemberAdmit,
        Kind::MemberSuspend,
        Kind::MemberReinstate,
        Kind::MemberRevoke,
        Kind::FederationStewards,
        Kind::MemberRekey,
        Kind::MemberSuccession,
        Kind::ProviderProfile,
        Kind::Offer,
        Kind::OfferWithdraw,
        Kind::KeyRotate,
        Kind::Succession,
        Kind::SuccessionAccept,
        Kind::MunicipalityAdmit,
        Kind::Demand,
        Kind::DemandWithdraw,
        Kind::Request,
        Kind::RequestWithdraw,
        Kind::RequestAccept,
        Kind::RequestDecline,
        Kind::AgreementEnd,
        Kind::OfferConsolidate,
        Kind::StandardDefine,
        Kind::StandardRetire,
        Kind::FederationObservers,
        Kind::MemberAllowance,
        Kind::FederationWitnesses,
    ];

    /// The `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Genesis => "genesis",
            Kind::MemberAdmit => "member.admit",
            Kind::MemberSuspend => "member.suspend",
            Kind::MemberReinstate => "member.reinstate",
            Kind::MemberRevoke => "member.revoke",
            Kind::FederationStewards => "federation.stewards",
            Kind::MemberRekey => "member.rekey",
            Kind::MemberSuccession => "member.succession",
            Kind::ProviderProfile => "provider.profile",
            Kind::Offer => "offer",
            Kind::OfferWithdraw => "offer.withdraw",
            Kind::KeyRotate => "key.rotate",
            Kind::Succession => "succession",
            Kind::SuccessionAccept => "succession.accept",
            Kind::MunicipalityAdmit => "municipality.admit",
            Kind::Demand => "demand",
            Kind::DemandWithdraw => "demand.withdraw",
            Kind::Request => "request",
            Kind::RequestWithdraw => "request.withdraw",
            Kind::RequestAccept => "request.accept",
            Kind::RequestDecline => "request.decline",
            Kind::AgreementEnd => "agreement.end",
            Kind::OfferConsolidate => "offer.consolidate",
            Kind::StandardDefine => "standard.define",
            Kind::StandardRetire => "standard.retire",
            Kind::FederationObservers => "federation.observers",
            Kind::MemberAllowance => "member.allowance",
            Kind::FederationWitnesses => "federation.witnesses",
        }
    }

    /// Looks a kind up by its string.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Governance kinds carry steward approvals and form the governance chain.
    pub fn is_governance(self) -> bool {
        matches!(
            self,
            Kind::Genesis
                | Kind::MemberAdmit
                | Kind::MemberSuspend
                | Kind::MemberReinstate
                | Kind::MemberRevoke
                | Kind::FederationStewards
                | Kind::MemberRekey
                | Kind::MemberSuccession
                | Kind::MunicipalityAdmit
                | Kind::StandardDefine
                | Kind::StandardRetire
                | Kind::FederationObservers
                | Kind::MemberAllowance
                | Kind::FederationWitnesses
        )
    }

    /// Kinds only providers sign (a municipality signing one is refused).
    pub fn is_provider_only(self) -> bool {
        matches!(
            self,
            Kind::ProviderProfile
                | Kind::Offer
                | Kind::OfferWithdraw
                | Kind::Succession
                | Kind::SuccessionAccept
                | Kind::RequestAccept
                | Kind::RequestDecline
                | Kind::OfferConsolidate
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One steward's signature over a governance action (see `specs/protocol.md`,
/// "Actions and approvals").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub steward: Did,
    pub sig: Signature,
}

/// `genesis`: founds a federation. Its action digest is the federation id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBody {
    pub name: Name,
    pub stewards: Vec<Did>,
    pub threshold: u64,
    pub approvals: Vec<Approval>,
}

/// `member.admit`: admits a provider (its key is its identity); its records count
/// from seq 1 on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmitBody {
    pub prev_action: Hash32,
    pub provider: Did,
    pub name: Name,
    pub approvals: Vec<Approval>,
}

/// `member.reinstate`: lifts a provider's suspension entirely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReinstateBody {
    pub prev_action: Hash32,
    pub provider: Did,
    pub reason: Summary,
    pub approvals: Vec<Approval>,
}

/// `member.suspend`, `member.revoke`: cut a provider's records from position
/// `from_seq` of the log of its key `key` (normally its current key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberActionBody {
    pub prev_action: Hash32,
    pub provider: Did,
    pub key: Did,
    pub from_seq: u64,
    pub reason: Summary,
    pub approvals: Vec<Approval>,
}

/// `federation.stewards`: replaces the steward set and threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StewardsBody {
    pub prev_action: Hash32,
    pub stewards: Vec<Did>,
    pub threshold: u64,
    pub approvals: Vec<Approval>,
}

/// `member.allowance`: the stewards set how many positions of its log an
/// identity's records may take (the default is [`DEFAULT_ALLOWANCE`]): what a
/// stolen key can publish before the stewards revoke it stays bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowanceBody {
    pub prev_action: Hash32,
    pub provider: Did,
    pub allowance: u64,
    pub reason: Summary,
    pub approvals: Vec<Approval>,
}

/// The allowance of an identity no `member.allowance` names
/// (`specs/protocol.md` 6.4).
pub const DEFAULT_ALLOWANCE: u64 = 10_000;

/// `member.rekey`: the stewards replace a provider's lost key. Records of `key`
/// from `from_seq` on no longer count; the provider continues under `new_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RekeyBody {
    pub prev_action: Hash32,
    pub provider: Did,
    pub key: Did,
    pub from_seq: u64,
    pub new_key: Did,
    pub reason: Summary,
    pub approvals: Vec<Approval>,
}

/// `member.succession`: the stewards hand a provider's portfolio to a successor
/// when the provider can no longer sign (lost key). Takes effect once the
/// successor accepts, like `succession`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSuccessionBody {
    pub prev_action: Hash32,
    pub provider: Did,
    pub successor: Did,
    pub effective_at: Timestamp,
    pub offer_ids: Vec<OfferId>,
    pub reason: Summary,
    pub approvals: Vec<Approval>,
}

/// A contact for one customer group (e.g. `kommunen`, `mitglieder`, `kreise`),
/// optionally only for some regions: a role or team and its functional
/// channels, never a person (`specs/protocol.md` 5.7). Which contact a
/// municipality gets is `terms::contact_for`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub customer_group: Slug,
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Short>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Short>,
    /// Only for municipalities in these regions (absent: everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<AgsPrefix>>,
}

/// `provider.profile`: the provider's capability statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    pub name: Name,
    pub short_name: Text<1, 40>,
    pub description: Description,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<Short>,
    /// Regions the provider serves (AGS prefixes).
    pub regions: Vec<AgsPrefix>,
    /// Regions whose administrations are members or owners of the provider: for them
    /// its offers are in-house procurement.
    pub members: Vec<AgsPrefix>,
    pub certifications: Vec<Slug>,
    /// libp2p peer ids of the nodes this provider runs (for closed federations).
    pub nodes: Vec<Text<1, 100>>,
    pub contacts: Vec<Contact>,
}

crate::text_enum! {
    /// How a service is delivered.
    pub enum Delivery {
        /// Software as a service run by the provider.
        Saas = "saas",
        /// The customer's system hosted in the provider's data centre.
        Hosting = "hosting",
        /// Operated by the provider on the customer's premises.
        OnPremise = "on_premise",
        /// A managed service (operation, support) without a product of its own.
        ManagedService = "managed_service",
        /// Consulting, training or project work.
        Consulting = "consulting",
    }
}

/// Service levels. Availability in basis points (9950 = 99.50 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    pub availability_bp: u64,
    pub support_hours: Short,
    pub response_minutes: u64,
    pub resolution_hours: u64,
}

crate::text_enum! {
    /// How the price is counted.
    pub enum PriceModel {
        FlatPerYear = "flat_per_year",
        PerInhabitantPerYear = "per_inhabitant_per_year",
        PerUserPerMonth = "per_user_per_month",
        PerCase = "per_case",
        PerHour = "per_hour",
        OneTime = "one_time",
        OnRequest = "on_request",
    }
}

crate::text_enum! {
    /// When a price component is charged.
    pub enum Charge {
        /// Once, in the first year (introduction, set-up).
        Once = "once",
        /// Every year.
        Yearly = "yearly",
        /// Every month (twelve times a year).
        Monthly = "monthly",
    }
}

crate::text_enum! {
    /// What a price component is counted in.
    pub enum PriceUnit {
        /// A fixed amount.
        Flat = "flat",
        Inhabitant = "inhabitant",
        User = "user",
        /// Cases per year.
        Case = "case",
        /// Hours per year.
        Hour = "hour",
        /// A connected site (Anbindung je Standort).
        Site = "site",
        /// A connected interface (Anbindung je Schnittstelle).
        Interface = "interface",
    }
}

/// One part of an offer's price: what it is, when it is charged, what it is
/// counted in, and whether the buyer may leave it out (an optional extra).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceComponent {
    pub label: Name,
    pub charge: Charge,
    pub unit: PriceUnit,
    pub amount_cents: u64,
    pub optional: bool,
}

/// Price in cents of `currency`, per `model`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    pub model: PriceModel,
    pub amount_cents: u64,
    pub currency: Currency,
    pub notes: Summary,
}

crate::text_enum! {
    /// Grounds on which a municipality may take the offer without a tender.
    pub enum LegalBasisKind {
        /// In-house award (§ 108 (1)-(5) GWB): the buyer controls the provider.
        InHouse = "in_house",
        /// Inter-municipal cooperation (§ 108 (6) GWB).
        InterMunicipal = "inter_municipal",
        /// A framework agreement already tendered.
        FrameworkAgreement = "framework_agreement",
        /// Anything else, explained in `text`.
        Other = "other",
    }
}

/// A stated legal basis for tender-free use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub kind: LegalBasisKind,
    pub text: Text<1, 500>,
}

/// `offer`: a service offer, created or in a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferBody {
    pub offer_id: OfferId,
    pub version: u64,
    pub title: Name,
    pub summary: Summary,
    pub description: Description,
    pub category: Slug,
    pub ozg_ids: Vec<OzgId>,
    pub leika_keys: Vec<LeikaKey>,
    pub regions: Vec<AgsPrefix>,
    pub delivery: Delivery,
    pub sla: Sla,
    pub pricing: Pricing,
    /// How many more municipalities the provider can take on.
    pub capacity: u64,
    pub certifications: Vec<Slug>,
    pub standards: Vec<Slug>,
    pub contacts: Vec<Contact>,
    pub valid_from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    /// How many takers the offer needs to carry itself, as its provider
    /// declares (the transition view's "self-sustaining").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_even: Option<u64>,
    /// The parts of the price, in the offer's currency (absent: `pricing`
    /// alone, read as one component).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_components: Option<Vec<PriceComponent>>,
    /// Ids of the stewards' standards (`standard.define`) the provider
    /// declares the offer meets; each is checked by `terms::conformance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conforms_to: Option<Vec<Slug>>,
}

/// `offer.withdraw`: hides versions up to `version` of an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    pub offer_id: OfferId,
    pub version: u64,
    pub reason: Summary,
}

/// `key.rotate`: the author's records after this one no longer count; the provider
/// continues under `new_key`, whose own log starts at seq 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotateBody {
    pub new_key: Did,
}

/// `succession`: the author (predecessor) hands its portfolio, or the listed offers,
/// to `successor` from `effective_at`. Takes effect once the successor accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessionBody {
    pub successor: Did,
    pub effective_at: Timestamp,
    /// Empty: the whole portfolio.
    pub offer_ids: Vec<OfferId>,
}

/// `succession.accept`: the successor accepts the succession record `succession`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessionAcceptBody {
    pub succession: Hash32,
}

/// One municipality of a `municipality.admit`: its 8-digit AGS, the key it signs
/// with (its identity) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityEntry {
    pub ags: AgsPrefix,
    pub member: Did,
    pub name: Name,
}

/// `municipality.admit`: admits municipalities as buyers, each key bound to its
/// AGS. One action may admit many (all of a Kreis), so the stewards approve once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityAdmitBody {
    pub prev_action: Hash32,
    pub municipalities: Vec<MunicipalityEntry>,
    pub approvals: Vec<Approval>,
}

/// Whom to contact about a demand or request: a function and, optionally, a
/// functional mailbox. Never a person: signed records are replicated forever
/// (`specs/protocol.md`, "Personal data").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleContact {
    pub role: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<Short>,
}

/// How much a buyer needs, in the units that fit the service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inhabitants: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases_per_year: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<u64>,
}

/// `demand`: a buyer states what it needs (Bedarfsmeldung), created or in a new
/// version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandBody {
    pub demand_id: DemandId,
    pub version: u64,
    pub title: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Slug>,
    pub ozg_ids: Vec<OzgId>,
    pub leika_keys: Vec<LeikaKey>,
    pub quantity: Quantity,
    pub wanted_from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted_until: Option<Timestamp>,
    pub note: Summary,
    pub contact: RoleContact,
}

/// `demand.withdraw`: hides the author's demand in versions up to `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandWithdrawBody {
    pub demand_id: DemandId,
    pub version: u64,
    pub reason: Summary,
}

crate::text_enum! {
    /// The ground on which a buyer takes an offer.
    pub enum BuyerBasisKind {
        /// In-house award: the buyer is a member or owner of the provider.
        InHouse = "in_house",
        /// Inter-municipal cooperation (§ 108 (6) GWB).
        InterMunicipal = "inter_municipal",
        /// A call-off from a framework agreement already tendered.
        FrameworkAgreement = "framework_agreement",
        /// After a tender; `reference` names it.
        Tender = "tender",
    }
}

/// The legal basis a buyer relies on, with its reference (a tender number, the
/// agreement, the statute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerBasis {
    pub kind: BuyerBasisKind,
    pub reference: Text<1, 500>,
}

/// `request`: a buyer asks for one offer version (Abruf): the signed terms of
/// that version are what it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The record id of the offer version.
    pub offer: Hash32,
    /// Units of the offer's price model (users, inhabitants, cases, hours; 1
    /// for flat prices).
    pub quantity: u64,
    pub start: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_months: Option<u64>,
    pub legal_basis: BuyerBasis,
    /// A provider requesting for member municipalities (their 8-digit AGS);
    /// empty: for the author itself.
    pub on_behalf_of: Vec<AgsPrefix>,
    pub note: Summary,
    pub contact: RoleContact,
}

impl RequestBody {
    /// When an agreement on this request runs out by its own terms: `end`, or
    /// `term_months` after `start`; None if open-ended.
    pub fn stop(&self) -> Option<Timestamp> {
        self.end
            .or_else(|| self.term_months.and_then(|m| self.start.plus_months(m)))
    }
}

/// `request.withdraw` and `request.decline`: a request named, with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestReasonBody {
    pub request: Hash32,
    pub reason: Summary,
}

/// `request.accept`: the offer's provider (or successor) accepts a request;
/// request and acceptance form an agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestAcceptBody {
    pub request: Hash32,
}

/// `agreement.end`: either party ends an agreement (Kündigung) from a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementEndBody {
    /// The request the agreement was formed on.
    pub request: Hash32,
    pub effective_at: Timestamp,
    pub reason: Summary,
}

/// `offer.consolidate`: a successor retires an offer it inherited, optionally
/// naming its own offer that replaces it (agreements move to it on their
/// terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsolidateBody {
    /// The predecessor's identity.
    pub provider: Did,
    pub offer_id: OfferId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<OfferId>,
    pub reason: Summary,
}

/// The service levels a standard requires at least; each bound optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinSla {
    /// Lowest availability, in basis points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_bp: Option<u64>,
    /// Longest response time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_minutes: Option<u64>,
    /// Longest resolution time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_hours: Option<u64>,
}

/// `standard.define`: the stewards define (or redefine) a standard service of
/// the federation's portfolio. Offers that declare it are checked against its
/// machine-checkable criteria; `description` holds the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardDefineBody {
    pub prev_action: Hash32,
    pub standard_id: Slug,
    pub title: Name,
    pub description: Description,
    pub category: Slug,
    pub certifications: Vec<Slug>,
    pub standards: Vec<Slug>,
    /// Allowed ways of delivery (empty: any).
    pub delivery: Vec<Delivery>,
    pub min_sla: MinSla,
    pub approvals: Vec<Approval>,
}

/// `standard.retire`: the stewards retire a standard; offers can no longer
/// meet it until it is defined again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardRetireBody {
    pub prev_action: Hash32,
    pub standard_id: Slug,
    pub reason: Summary,
    pub approvals: Vec<Approval>,
}

/// `federation.observers`: the stewards name the observer nodes a closed
/// federation admits besides its providers' nodes (replacing the list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserversBody {
    pub prev_action: Hash32,
    pub observers: Vec<Observer>,
    pub approvals: Vec<Approval>,
}

/// `federation.witnesses`: the stewards name the witnesses whose cosignatures
/// make a checkpoint trustworthy, and how many of them a verifier needs
/// (replacing the list; `specs/checkpoints.md` 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessesBody {
    pub prev_action: Hash32,
    pub witnesses: Vec<Witness>,
    pub quorum: u64,
    pub approvals: Vec<Approval>,
}

/// A witness: its C2SP key name and its Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    pub name: Text<1, 100>,
    pub key: Did,
}

/// An observer node: its libp2p peer id and the organisation that runs it
/// (a municipality, KDN, an auditor; never a person).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observer {
    pub peer_id: Text<1, 100>,
    pub name: Name,
}

/// A typed body; the variant fixes the record's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    Genesis(GenesisBody),
    MemberAdmit(AdmitBody),
    MemberSuspend(MemberActionBody),
    MemberReinstate(ReinstateBody),
    MemberRevoke(MemberActionBody),
    FederationStewards(StewardsBody),
    MemberRekey(RekeyBody),
    MemberSuccession(MemberSuccessionBody),
    ProviderProfile(ProfileBody),
    Offer(Box<OfferBody>),
    OfferWithdraw(WithdrawBody),
    KeyRotate(KeyRotateBody),
    Succession(SuccessionBody),
    SuccessionAccept(SuccessionAcceptBody),
    MunicipalityAdmit(MunicipalityAdmitBody),
    Demand(Box<DemandBody>),
    DemandWithdraw(DemandWithdrawBody),
    Request(Box<RequestBody>),
    RequestWithdraw(RequestReasonBody),
    RequestAccept(RequestAcceptBody),
    RequestDecline(RequestReasonBody),
    AgreementEnd(AgreementEndBody),
    OfferConsolidate(ConsolidateBody),
    StandardDefine(Box<StandardDefineBody>),
    StandardRetire(StandardRetireBody),
    FederationObservers(ObserversBody),
    MemberAllowance(AllowanceBody),
    FederationWitnesses(WitnessesBody),
}

/// A body-level rule that a well-typed body broke. `code()` is stable.
pub type BodyError = FieldError;

fn err(code: RecordCode, msg: impl Into<String>) -> BodyError {
    FieldError::new(code, msg)
}

fn list_len<T>(field: &str, list: &[T], min: usize) -> Result<(), BodyError> {
    if list.len() < min {
        return Err(err(
            RecordCode::InvalidValue,
            format!("{field} needs at least {min} entries"),
        ));
    }
    if list.len() > MAX_LIST {
        return Err(err(
            RecordCode::InvalidValue,
            format!("{field} has {} entries; at most {MAX_LIST}", list.len()),
        ));
    }
    Ok(())
}

fn unique<T: Ord>(field: &str, list: impl IntoIterator<Item = T>) -> Result<(), BodyError> {
    let mut seen = BTreeSet::new();
    for item in list {
        if !seen.insert(item) {
            return Err(err(
                RecordCode::DuplicateEntry,
                format!("{field} lists the same entry twice"),
            ));
        }
    }
    Ok(())
}

fn positive(field: &str, n: u64) -> Result<(), BodyError> {
    if n == 0 {
        return Err(err(
            RecordCode::InvalidValue,
            format!("{field} must be at least 1"),
        ));
    }
    Ok(())
}

fn steward_set(stewards: &[Did], threshold: u64) -> Result<(), BodyError> {
    if stewards.is_empty() || stewards.len() > MAX_STEWARDS {
        return Err(err(
            RecordCode::InvalidValue,
            format!("stewards must list 1 to {MAX_STEWARDS} keys"),
        ));
    }
    unique("stewards", stewards)?;
    if threshold == 0 || threshold > stewards.len() as u64 {
        return Err(err(
            RecordCode::InvalidThreshold,
            format!(
                "threshold {threshold} must be between 1 and the number of stewards ({})",
                stewards.len()
            ),
        ));
    }
    Ok(())
}

fn approvals(list: &[Approval]) -> Result<(), BodyError> {
    list_len("approvals", list, 1)?;
    unique("approvals", list.iter().map(|a| &a.steward))
}

fn contacts(list: &[Contact]) -> Result<(), BodyError> {
    list_len("contacts", list, 0)?;
    for c in list {
        if let Some(r) = &c.regions {
            list_len("contacts.regions", r, 1)?;
            unique("contacts.regions", r)?;
        }
    }
    Ok(())
}

/// The rules of an optional list: present means 1 to 512 entries, unique.
fn optional_list<T: Ord>(field: &str, list: &Option<Vec<T>>) -> Result<(), BodyError> {
    if let Some(l) = list {
        list_len(field, l, 1)?;
        unique(field, l)?;
    }
    Ok(())
}

fn basis_points(field: &str, bp: u64) -> Result<(), BodyError> {
    if bp > 10_000 {
        return Err(err(
            RecordCode::InvalidValue,
            format!("{field} is {bp}; basis points go up to 10000 (100 %)"),
        ));
    }
    Ok(())
}

/// A municipality's AGS: 8 digits (a Gemeinde, not a region).
fn municipality_ags(a: &AgsPrefix) -> Result<(), BodyError> {
    if a.as_str().len() != 8 {
        return Err(err(
            RecordCode::InvalidValue,
            format!("{a} is a region; a municipality has an 8-digit AGS"),
        ));
    }
    Ok(())
}

impl Body {
    /// The record kind of this body.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Genesis(_) => Kind::Genesis,
            Body::MemberAdmit(_) => Kind::MemberAdmit,
            Body::MemberSuspend(_) => Kind::MemberSuspend,
            Body::MemberReinstate(_) => Kind::MemberReinstate,
            Body::MemberRevoke(_) => Kind::MemberRevoke,
            Body::FederationStewards(_) => Kind::FederationStewards,
            Body::MemberRekey(_) => Kind::MemberRekey,
            Body::MemberSuccession(_) => Kind::MemberSuccession,
            Body::ProviderProfile(_) => Kind::ProviderProfile,
            Body::Offer(_) => Kind::Offer,
            Body::OfferWithdraw(_) => Kind::OfferWithdraw,
            Body::KeyRotate(_) => Kind::KeyRotate,
            Body::Succession(_) => Kind::Succession,
            Body::SuccessionAccept(_) => Kind::SuccessionAccept,
            Body::MunicipalityAdmit(_) => Kind::MunicipalityAdmit,
            Body::Demand(_) => Kind::Demand,
            Body::DemandWithdraw(_) => Kind::DemandWithdraw,
            Body::Request(_) => Kind::Request,
            Body::RequestWithdraw(_) => Kind::RequestWithdraw,
            Body::RequestAccept(_) => Kind::RequestAccept,
            Body::RequestDecline(_) => Kind::RequestDecline,
            Body::AgreementEnd(_) => Kind::AgreementEnd,
            Body::OfferConsolidate(_) => Kind::OfferConsolidate,
            Body::StandardDefine(_) => Kind::StandardDefine,
            Body::StandardRetire(_) => Kind::StandardRetire,
            Body::FederationObservers(_) => Kind::FederationObservers,
            Body::MemberAllowance(_) => Kind::MemberAllowance,
            Body::FederationWitnesses(_) => Kind::FederationWitnesses,
        }
    }

    /// Deserialises the body of a record of `kind` from its JSON value.
    pub(crate) fn from_value(
        kind: Kind,
        v: &serde_json::Value,
    ) -> Result<Body, serde_path_to_error::Error<crate::de::DeError>> {
        use crate::de::from_value as de;
        Ok(match kind {
            Kind::Genesis => Body::Genesis(de(v)?),
            Kind::MemberAdmit => Body::MemberAdmit(de(v)?),
            Kind::MemberSuspend => Body::MemberSuspend(de(v)?),
            Kind::MemberReinstate => Body::MemberReinstate(de(v)?),
            Kind::MemberRevoke => Body::MemberRevoke(de(v)?),
            Kind::FederationStewards => Body::FederationStewards(de(v)?),
            Kind::MemberRekey => Body::MemberRekey(de(v)?),
            Kind::MemberSuccession => Body::MemberSuccession(de(v)?),
            Kind::ProviderProfile => Body::ProviderProfile(de(v)?),
            Kind::Offer => Body::Offer(Box::new(de(v)?)),
            Kind::OfferWithdraw => Body::OfferWithdraw(de(v)?),
            Kind::KeyRotate => Body::KeyRotate(de(v)?),
            Kind::Succession => Body::Succession(de(v)?),
            Kind::SuccessionAccept => Body::SuccessionAccept(de(v)?),
            Kind::MunicipalityAdmit => Body::MunicipalityAdmit(de(v)?),
            Kind::Demand => Body::Demand(Box::new(de(v)?)),
            Kind::DemandWithdraw => Body::DemandWithdraw(de(v)?),
            Kind::Request => Body::Request(Box::new(de(v)?)),
            Kind::RequestWithdraw => Body::RequestWithdraw(de(v)?),
            Kind::RequestAccept => Body::RequestAccept(de(v)?),
            Kind::RequestDecline => Body::RequestDecline(de(v)?),
            Kind::AgreementEnd => Body::AgreementEnd(de(v)?),
            Kind::OfferConsolidate => Body::OfferConsolidate(de(v)?),
            Kind::StandardDefine => Body::StandardDefine(Box::new(de(v)?)),
            Kind::StandardRetire => Body::StandardRetire(de(v)?),
            Kind::FederationObservers => Body::FederationObservers(de(v)?),
            Kind::MemberAllowance => Body::MemberAllowance(de(v)?),
            Kind::FederationWitnesses => Body::FederationWitnesses(de(v)?),
        })
    }

    /// The body as JSON (the form that is signed).
    pub fn to_value(&self) -> serde_json::Value {
        let r = match self {
            Body::Genesis(b) => serde_json::to_value(b),
            Body::MemberAdmit(b) => serde_json::to_value(b),
            Body::MemberSuspend(b) | Body::MemberRevoke(b) => serde_json::to_value(b),
            Body::MemberReinstate(b) => serde_json::to_value(b),
            Body::FederationStewards(b) => serde_json::to_value(b),
            Body::MemberRekey(b) => serde_json::to_value(b),
            Body::MemberSuccession(b) => serde_json::to_value(b),
            Body::ProviderProfile(b) => serde_json::to_value(b),
            Body::Offer(b) => serde_json::to_value(b),
            Body::OfferWithdraw(b) => serde_json::to_value(b),
            Body::KeyRotate(b) => serde_json::to_value(b),
            Body::Succession(b) => serde_json::to_value(b),
            Body::SuccessionAccept(b) => serde_json::to_value(b),
            Body::MunicipalityAdmit(b) => serde_json::to_value(b),
            Body::Demand(b) => serde_json::to_value(b),
            Body::DemandWithdraw(b) => serde_json::to_value(b),
            Body::Request(b) => serde_json::to_value(b),
            Body::RequestWithdraw(b) | Body::RequestDecline(b) => serde_json::to_value(b),
            Body::RequestAccept(b) => serde_json::to_value(b),
            Body::AgreementEnd(b) => serde_json::to_value(b),
            Body::OfferConsolidate(b) => serde_json::to_value(b),
            Body::StandardDefine(b) => serde_json::to_value(b),
            Body::StandardRetire(b) => serde_json::to_value(b),
            Body::FederationObservers(b) => serde_json::to_value(b),
            Body::MemberAllowance(b) => serde_json::to_value(b),
            Body::FederationWitnesses(b) => serde_json::to_value(b),
        };
        // Serialising these plain structs into a Value cannot fail: no maps with
        // non-string keys, no floats.
        r.unwrap_or(serde_json::Value::Null)
    }

    /// Steward approvals of a governance body.
    pub fn approvals(&self) -> Option<&[Approval]> {
        match self {
            Body::Genesis(b) => Some(&b.approvals),
            Body::MemberAdmit(b) => Some(&b.approvals),
            Body::MemberSuspend(b) | Body::MemberRevoke(b) => Some(&b.approvals),
            Body::MemberReinstate(b) => Some(&b.approvals),
            Body::FederationStewards(b) => Some(&b.approvals),
            Body::MemberRekey(b) => Some(&b.approvals),
            Body::MemberSuccession(b) => Some(&b.approvals),
            Body::MunicipalityAdmit(b) => Some(&b.approvals),
            Body::StandardDefine(b) => Some(&b.approvals),
            Body::StandardRetire(b) => Some(&b.approvals),
            Body::FederationObservers(b) => Some(&b.approvals),
            Body::MemberAllowance(b) => Some(&b.approvals),
            Body::FederationWitnesses(b) => Some(&b.approvals),
            _ => None,
        }
    }

    /// Mutable approvals, for collecting steward signatures on a draft.
    pub fn approvals_mut(&mut self) -> Option<&mut Vec<Approval>> {
        match self {
            Body::Genesis(b) => Some(&mut b.approvals),
            Body::MemberAdmit(b) => Some(&mut b.approvals),
            Body::MemberSuspend(b) | Body::MemberRevoke(b) => Some(&mut b.approvals),
            Body::MemberReinstate(b) => Some(&mut b.approvals),
            Body::FederationStewards(b) => Some(&mut b.approvals),
            Body::MemberRekey(b) => Some(&mut b.approvals),
            Body::MemberSuccession(b) => Some(&mut b.approvals),
            Body::MunicipalityAdmit(b) => Some(&mut b.approvals),
            Body::StandardDefine(b) => Some(&mut b.approvals),
            Body::StandardRetire(b) => Some(&mut b.approvals),
            Body::FederationObservers(b) => Some(&mut b.approvals),
            Body::MemberAllowance(b) => Some(&mut b.approvals),
            Body::FederationWitnesses(b) => Some(&mut b.approvals),
            _ => None,
        }
    }

    /// The previous action in the governance chain (all governance kinds but genesis).
    pub fn prev_action(&self) -> Option<&Hash32> {
        match self {
            Body::MemberAdmit(b) => Some(&b.prev_action),
            Body::MemberSuspend(b) | Body::MemberRevoke(b) => Some(&b.prev_action),
            Body::MemberReinstate(b) => Some(&b.prev_action),
            Body::FederationStewards(b) => Some(&b.prev_action),
            Body::MemberRekey(b) => Some(&b.prev_action),
            Body::MemberSuccession(b) => Some(&b.prev_action),
            Body::MunicipalityAdmit(b) => Some(&b.prev_action),
            Body::StandardDefine(b) => Some(&b.prev_action),
            Body::StandardRetire(b) => Some(&b.prev_action),
            Body::FederationObservers(b) => Some(&b.prev_action),
            Body::MemberAllowance(b) => Some(&b.prev_action),
            Body::FederationWitnesses(b) => Some(&b.prev_action),
            _ => None,
        }
    }

    /// Checks the rules that field types alone do not express.
    pub fn check(&self) -> Result<(), BodyError> {
        match self {
            Body::Genesis(b) => {
                steward_set(&b.stewards, b.threshold)?;
                approvals(&b.approvals)
            }
            Body::MemberAdmit(b) => approvals(&b.approvals),
            Body::MemberReinstate(b) => approvals(&b.approvals),
            Body::MemberSuspend(b) | Body::MemberRevoke(b) => {
                positive("from_seq", b.from_seq)?;
                approvals(&b.approvals)
            }
            Body::FederationStewards(b) => {
                steward_set(&b.stewards, b.threshold)?;
                approvals(&b.approvals)
            }
            Body::MemberRekey(b) => {
                positive("from_seq", b.from_seq)?;
                approvals(&b.approvals)
            }
            Body::MemberAllowance(b) => {
                positive("allowance", b.allowance)?;
                approvals(&b.approvals)
            }
            Body::FederationWitnesses(b) => {
                if b.witnesses.len() > MAX_STEWARDS {
                    return Err(err(
                        RecordCode::InvalidValue,
                        format!("witnesses must list at most {MAX_STEWARDS}"),
                    ));
                }
                for w in &b.witnesses {
                    if !w
                        .name
                        .as_str()
                        .chars()
                        .all(|c| ('!'..='~').contains(&c) && c != '+')
                    {
                        return Err(err(
                            RecordCode::InvalidValue,
                            format!(
                                "witness name {:?}: only the characters ! to ~ without +",
                                w.name.as_str()
                            ),
                        ));
                    }
                }
                unique("witnesses", b.witnesses.iter().map(|w| w.name.as_str()))?;
                unique("witnesses", b.witnesses.iter().map(|w| &w.key))?;
                let n = b.witnesses.len() as u64;
                if (n == 0 && b.quorum != 0) || (n > 0 && !(1..=n).contains(&b.quorum)) {
                    return Err(err(
                        RecordCode::InvalidThreshold,
                        format!(
                            "quorum {} must be between 1 and the number of witnesses ({n}); 0 with none",
                            b.quorum
                        ),
                    ));
                }
                approvals(&b.approvals)
            }
            Body::MemberSuccession(b) => {
                list_len("offer_ids", &b.offer_ids, 0)?;
                unique("offer_ids", &b.offer_ids)?;
                approvals(&b.approvals)
            }
            Body::ProviderProfile(b) => {
                list_len("regions", &b.regions, 0)?;
                unique("regions", &b.regions)?;
                list_len("members", &b.members, 0)?;
                unique("members", &b.members)?;
                list_len("certifications", &b.certifications, 0)?;
                unique("certifications", &b.certifications)?;
                list_len("nodes", &b.nodes, 0)?;
                contacts(&b.contacts)
            }
            Body::Offer(b) => {
                positive("version", b.version)?;
                list_len("ozg_ids", &b.ozg_ids, 0)?;
                unique("ozg_ids", &b.ozg_ids)?;
                list_len("leika_keys", &b.leika_keys, 0)?;
                unique("leika_keys", &b.leika_keys)?;
                list_len("regions", &b.regions, 1)?;
                unique("regions", &b.regions)?;
                list_len("certifications", &b.certifications, 0)?;
                unique("certifications", &b.certifications)?;
                list_len("standards", &b.standards, 0)?;
                unique("standards", &b.standards)?;
                contacts(&b.contacts)?;
                if let Some(n) = b.break_even {
                    positive("break_even", n)?;
                }
                if let Some(parts) = &b.price_components {
                    list_len("price_components", parts, 1)?;
                }
                optional_list("conforms_to", &b.conforms_to)?;
                basis_points("sla.availability_bp", b.sla.availability_bp)?;
                if let Some(until) = b.valid_until
                    && until <= b.valid_from
                {
                    return Err(err(
                        RecordCode::InvalidValidity,
                        format!(
                            "valid_until {until} is not after valid_from {}",
                            b.valid_from
                        ),
                    ));
                }
                Ok(())
            }
            Body::OfferWithdraw(b) => positive("version", b.version),
            Body::KeyRotate(_) | Body::SuccessionAccept(_) => Ok(()),
            Body::MunicipalityAdmit(b) => {
                list_len("municipalities", &b.municipalities, 1)?;
                for m in &b.municipalities {
                    municipality_ags(&m.ags)?;
                }
                unique("municipalities", b.municipalities.iter().map(|m| &m.ags))?;
                unique("municipalities", b.municipalities.iter().map(|m| &m.member))?;
                approvals(&b.approvals)
            }
            Body::Demand(b) => {
                positive("version", b.version)?;
                list_len("ozg_ids", &b.ozg_ids, 0)?;
                unique("ozg_ids", &b.ozg_ids)?;
                list_len("leika_keys", &b.leika_keys, 0)?;
                unique("leika_keys", &b.leika_keys)?;
                if b.category.is_none() && b.ozg_ids.is_empty() && b.leika_keys.is_empty() {
                    return Err(err(
                        RecordCode::InvalidValue,
                        "a demand names a category, OZG ids or LeiKa keys",
                    ));
                }
                let q = &b.quantity;
                if q.inhabitants.is_none()
                    && q.users.is_none()
                    && q.cases_per_year.is_none()
                    && q.sites.is_none()
                {
                    return Err(err(
                        RecordCode::InvalidValue,
                        "quantity names inhabitants, users, cases_per_year or sites",
                    ));
                }
                if let Some(until) = b.wanted_until
                    && until <= b.wanted_from
                {
                    return Err(err(
                        RecordCode::InvalidValidity,
                        format!(
                            "wanted_until {until} is not after wanted_from {}",
                            b.wanted_from
                        ),
                    ));
                }
                Ok(())
            }
            Body::DemandWithdraw(b) => positive("version", b.version),
            Body::Request(b) => {
                positive("quantity", b.quantity)?;
                if b.end.is_some() && b.term_months.is_some() {
                    return Err(err(
                        RecordCode::InvalidValue,
                        "a request names an end or a term, not both",
                    ));
                }
                if let Some(end) = b.end
                    && end <= b.start
                {
                    return Err(err(
                        RecordCode::InvalidValidity,
                        format!("end {end} is not after start {}", b.start),
                    ));
                }
                if let Some(m) = b.term_months
                    && !(1..=MAX_TERM_MONTHS).contains(&m)
                {
                    return Err(err(
                        RecordCode::InvalidValue,
                        format!("term_months is {m}; from 1 to {MAX_TERM_MONTHS}"),
                    ));
                }
                if b.stop().is_none() && b.term_months.is_some() {
                    return Err(err(
                        RecordCode::InvalidValue,
                        "the term ends after 9999-12-31",
                    ));
                }
                list_len("on_behalf_of", &b.on_behalf_of, 0)?;
                for a in &b.on_behalf_of {
                    municipality_ags(a)?;
                }
                unique("on_behalf_of", &b.on_behalf_of)
            }
            Body::RequestWithdraw(_)
            | Body::RequestAccept(_)
            | Body::RequestDecline(_)
            | Body::AgreementEnd(_)
            | Body::OfferConsolidate(_) => Ok(()),
            Body::Succession(b) => {
                list_len("offer_ids", &b.offer_ids, 0)?;
                unique("offer_ids", &b.offer_ids)
            }
            Body::StandardDefine(b) => {
                list_len("certifications", &b.certifications, 0)?;
                unique("certifications", &b.certifications)?;
                list_len("standards", &b.standards, 0)?;
                unique("standards", &b.standards)?;
                list_len("delivery", &b.delivery, 0)?;
                unique("delivery", &b.delivery)?;
                if let Some(bp) = b.min_sla.availability_bp {
                    basis_points("min_sla.availability_bp", bp)?;
                }
                approvals(&b.approvals)
            }
            Body::StandardRetire(b) => approvals(&b.approvals),
            Body::FederationObservers(b) => {
                list_len("observers", &b.observers, 0)?;
                unique("observers", b.observers.iter().map(|o| &o.peer_id))?;
                approvals(&b.approvals)
            }
        }
    }
}
