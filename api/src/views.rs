//! Responses: what the node answers, as the node serialises it and as clients
//! read it. `specs/http-api.yaml` describes the same shapes; a test in `tests/`
//! keeps the two in step.

use crate::query::OfferCursor;
use kx_protocol::Did;
use kx_protocol::body::{Contact, OfferBody, ProfileBody, StandardDefineBody, WithdrawBody};
use kx_protocol::fields::{Hash32, OfferId, Slug, Timestamp};
use kx_protocol::geo::Procurement;
use kx_protocol::registry::{OfferStatus, Standing};
use kx_protocol::terms::{Conformance, ContactSource, Cost};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A provider by did and the name it goes by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderRef {
    pub did: Did,
    pub name: String,
}

/// A municipality by AGS and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityRef {
    pub ags: String,
    pub name: String,
}

/// Whether a municipality may take an offer without a tender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcurementView {
    pub municipality: MunicipalityRef,
    pub kind: Procurement,
    pub tender_free: bool,
    /// German label of `kind`.
    pub label: String,
}

/// One version of an offer in its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionView {
    pub record: Hash32,
    pub version: u64,
    pub issued_at: Timestamp,
    pub body: OfferBody,
}

/// One withdrawal in an offer's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalView {
    pub record: Hash32,
    pub body: WithdrawBody,
}

/// The current version of an offer at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferView {
    /// The provider identity that published it.
    pub provider: ProviderRef,
    /// The successor it is shown under once an accepted merger took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_under: Option<ProviderRef>,
    pub offer_id: OfferId,
    pub version: u64,
    /// The record of this version.
    pub record: Hash32,
    /// The key that signed it.
    pub author: Did,
    pub issued_at: Timestamp,
    pub status: OfferStatus,
    /// The offer body as signed.
    pub body: OfferBody,
    /// With a municipality in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procurement: Option<ProcurementView>,
    /// With `history=true`: every version, by version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<VersionView>>,
    /// With `history=true`: every withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawals: Option<Vec<WithdrawalView>>,
    /// Its agreements at the instant.
    pub uptake: UptakeView,
    /// Each standard the offer declares, checked (`specs/protocol.md` 6.9.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conformance: Vec<Conformance>,
    /// With a municipality or figures: the cost (6.9.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// With a municipality: its contact (6.9.3), if any fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactView>,
}

/// The contact a municipality gets for an offer, and where it is listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactView {
    pub source: ContactSource,
    pub contact: Contact,
}

/// A standard of the stewards' portfolio, with how many offers take it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardView {
    pub standard_id: Slug,
    /// The record of its current definition.
    pub record: Hash32,
    /// The record that retired it, if retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Hash32>,
    /// The definition as signed.
    pub body: StandardDefineBody,
    /// Active offers that declare it.
    pub declared: usize,
    /// Of those, the ones that meet it.
    pub met: usize,
}

/// `GET /v1/standards`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardsList {
    pub standards: Vec<StandardView>,
}

impl OfferView {
    /// The provider that offers it at the view's instant.
    pub fn offered_by(&self) -> &ProviderRef {
        self.shown_under.as_ref().unwrap_or(&self.provider)
    }

    /// The compare order, as a sort key: offers with a five-year total first,
    /// the cheapest first (then by the first year); those without one (a
    /// figure missing, on request, no cost asked) after them, in the order a
    /// stable sort was given.
    pub fn cost_order(&self) -> (u8, u64, u64) {
        self.cost
            .as_ref()
            .and_then(|c| c.five_years_cents.map(|t| (t, c.first_year_cents)))
            .map_or((1, 0, 0), |(t, first)| (0, t, first.unwrap_or(0)))
    }
}

kx_protocol::text_enum! {
    /// Who buys: a municipality, or a provider (for itself or its members).
    pub enum BuyerKind {
        Municipality = "municipality",
        Provider = "provider",
    }
}

/// A buyer by did, with its name and, for a municipality, its AGS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerRef {
    pub did: Did,
    pub name: String,
    pub kind: BuyerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ags: Option<String>,
}

/// Who takes a service under an agreement: a municipality (by AGS) or a
/// provider buying for itself (by did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakerView {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ags: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<Did>,
}

/// How far an offer is taken at the view's instant: its capacity as the
/// agreements use it (computed, not self-declared), and who takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UptakeView {
    /// The capacity its current version declares.
    pub declared: u64,
    /// Places taken by agreements within capacity that have not ended or
    /// expired (pending ones included).
    pub taken: u64,
    pub remaining: u64,
    /// The takers of its active agreements (agreements on consolidated
    /// offers it replaces included).
    pub takers: Vec<TakerView>,
    /// The buyers of those agreements.
    pub buyers: Vec<BuyerRef>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffersPage {
    pub offers: Vec<OfferView>,
    /// Matches across all pages.
    pub total: usize,
    /// The cursor of the next page; None on the last.
    pub next_cursor: Option<OfferCursor>,
}

/// A provider's signed profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileView {
    pub record: Hash32,
    pub body: ProfileBody,
}

/// The accepted succession that hands a portfolio on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessorView {
    pub did: Did,
    pub name: String,
    pub effective_at: Timestamp,
    /// The offers handed on; empty: all.
    pub offer_ids: Vec<OfferId>,
    pub record: Hash32,
}

/// An admitted provider; `Offers` is their number in lists and the offers
/// themselves in a provider's own answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderView<Offers> {
    pub did: Did,
    pub name: String,
    pub standing: Standing,
    /// Its keys, oldest first; the last signs now.
    pub keys: Vec<Did>,
    pub profile: Option<ProfileView>,
    pub offers: Offers,
    pub successor: Option<SuccessorView>,
    pub predecessors: Vec<ProviderRef>,
}

/// A provider in `GET /v1/providers`: its number of offers.
pub type ProviderSummary = ProviderView<usize>;
/// `GET /v1/providers/{did}`: with its offers.
pub type ProviderDetail = ProviderView<Vec<OfferView>>;

/// `GET /v1/providers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersList {
    pub providers: Vec<ProviderSummary>,
}

/// The end of an author's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHead {
    pub seq: u64,
    pub id: Hash32,
}

/// `GET /v1/authors/{did}`: what a signer needs for its next record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorView {
    pub did: Did,
    pub head: Option<LogHead>,
    /// The provider identity this key belongs to.
    pub identity: Option<Did>,
    /// The key that identity signs with now.
    pub current_key: Option<Did>,
    /// Standing of the key at its next seq.
    pub standing: Standing,
    pub steward: bool,
    /// The identity's allowance of log positions (protocol 6.4); null for a
    /// key of no identity.
    pub allowance: Option<u64>,
    /// The position the key's next seq takes in its identity's log: records
    /// beyond `allowance` do not count and are refused.
    pub next_position: Option<u64>,
}

/// The last reconciliation with a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncView {
    pub at: Timestamp,
    /// Records fetched and stored.
    pub received: usize,
    /// It ran to the end.
    pub complete: bool,
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerView {
    pub peer_id: String,
    pub address: String,
    pub agent: Option<String>,
    pub last_sync: Option<SyncView>,
}

/// `GET /v1/checkpoint`: the node's signed checkpoint of its set and the
/// frontier it states (`specs/checkpoints.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointView {
    /// The signed note: the checkpoint's three lines, an empty line, the
    /// node's signature line.
    pub note: String,
    /// `{"federation", "governance", "logs": [[did, n, head]]}`; its root is
    /// the note's third line.
    pub frontier: serde_json::Value,
}

/// `POST /v1/checkpoints`: a signed checkpoint of any node, with its frontier,
/// for this node to judge (`specs/checkpoints.md` 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSubmit {
    pub note: String,
    pub frontier: serde_json::Value,
}

/// What the node made of a checkpoint handed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// The first of its origin, or one that follows from the last: kept.
    Recorded,
    /// The same as the last of its origin.
    Known,
    /// Older than the last of its origin.
    Older,
    /// The node does not hold every record it names (yet): not judged.
    NotHeld,
    /// It and the last of its origin cannot both be true: an alarm.
    Alarm,
}

/// The answer to `POST /v1/checkpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointVerdictView {
    pub status: CheckpointStatus,
    /// Why an alarm was raised.
    pub reason: Option<String>,
}

/// An origin that signed two checkpoints that cannot both be true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmView {
    /// `kx/<federation>/<did>` of the node that signed both.
    pub origin: String,
    pub at: Timestamp,
    pub reason: String,
    /// The two signed notes.
    pub earlier: String,
    pub later: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusView {
    pub federation: Hash32,
    pub peer_id: String,
    pub records: usize,
    pub state_digest: Hash32,
    pub governance_head: Hash32,
    pub stewards: Vec<Did>,
    pub threshold: u64,
    /// The observer nodes the stewards admitted, by peer id.
    pub observers: Vec<kx_protocol::body::Observer>,
    /// The witnesses the stewards named, by name, and how many of them a
    /// checkpoint needs (`specs/checkpoints.md` 5).
    pub witnesses: Vec<kx_protocol::body::Witness>,
    pub quorum: u64,
    pub providers: usize,
    pub offers: usize,
    /// Every connected peer was reconciled to the end and had nothing new.
    pub in_sync: bool,
    /// An observer: it accepts no submissions.
    pub observer: bool,
    pub peers: Vec<PeerView>,
    /// Nodes that signed two checkpoints that cannot both be true.
    pub alarms: Vec<AlarmView>,
}

/// `GET /healthz`: the process answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthView {
    pub alive: bool,
}

/// `GET /readyz` when ready: the store is open and the node is caught up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyView {
    pub ready: bool,
    pub records: usize,
    /// Connected peers, each reconciled to the end recently with nothing new.
    pub peers: usize,
}

kx_protocol::text_enum! {
    /// What a node did with a submitted record.
    pub enum SubmitStatus {
        /// New and counting.
        Stored = "stored",
        /// New, waiting for its predecessor.
        Held = "held",
        /// New, and a second record for a position already taken.
        Equivocation = "equivocation",
        /// Already held.
        Known = "known",
    }
}

/// `POST /v1/records`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitResult {
    pub id: Hash32,
    pub status: SubmitStatus,
}

/// `GET /v1/records`: records exactly as signed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsPage {
    pub records: Vec<Box<RawValue>>,
    /// The cursor of the next page; None on the last.
    pub next_cursor: Option<Hash32>,
}
