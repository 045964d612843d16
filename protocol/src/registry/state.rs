//! The visible state of a registry and what it answers at a given instant:
//! offer status, who shows an offer after a merger. The exchange's part of the
//! state (municipalities, demands, requests and agreements) is declared here
//! too; `agreements.rs` reads agreements at an instant.

use super::trust::Standing;
use crate::body::{Body, OfferBody, ProfileBody, StandardDefineBody};
use crate::fields::{AgsPrefix, DemandId, Hash32, OfferId, Slug, Timestamp};
use crate::geo::{self, Procurement};
use crate::keys::Did;
use crate::record::VerifiedRecord;
use std::collections::{BTreeMap, BTreeSet};

/// What a succession record says, whether the predecessor (`succession`) or the
/// stewards (`member.succession`) signed it.
#[derive(Debug, Clone, Copy)]
pub struct SuccessionTerms<'a> {
    pub successor: &'a Did,
    pub effective_at: Timestamp,
    pub offer_ids: &'a [OfferId],
}

/// The terms of a succession record (None for other kinds).
pub fn succession_of(rec: &VerifiedRecord) -> Option<SuccessionTerms<'_>> {
    match &rec.record().body {
        Body::Succession(b) => Some(SuccessionTerms {
            successor: &b.successor,
            effective_at: b.effective_at,
            offer_ids: &b.offer_ids,
        }),
        Body::MemberSuccession(b) => Some(SuccessionTerms {
            successor: &b.successor,
            effective_at: b.effective_at,
            offer_ids: &b.offer_ids,
        }),
        _ => None,
    }
}

/// One version of an offer as the state needs it: what decides its status. The
/// body itself is the record's (`record`), read from storage when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferVersion {
    pub record: Hash32,
    pub version: u64,
    pub valid_from: Timestamp,
    /// `valid_until` in seconds, `i64::MAX` when open-ended: the state holds a
    /// version per offer, so it is kept small ([`OfferVersion::valid_until`]).
    pub(super) until: i64,
    /// How many more municipalities the provider can take on.
    pub capacity: u64,
}

impl Default for OfferVersion {
    /// No version (`version` 0).
    fn default() -> OfferVersion {
        OfferVersion {
            record: Hash32([0; 32]),
            version: 0,
            valid_from: Timestamp::EPOCH,
            until: i64::MAX,
            capacity: 0,
        }
    }
}

impl OfferVersion {
    /// The end of its validity, if it has one.
    pub fn valid_until(&self) -> Option<Timestamp> {
        (self.until != i64::MAX)
            .then(|| Timestamp::from_unix(self.until))
            .flatten()
    }
}

/// One offer of one provider as the state shows it: the winning version and how
/// far withdrawals reach. [`Registry::offer_history`] gives every version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferEntry {
    /// The winning version; `version` 0 (no offer has it) while there is none,
    /// which keeps an entry 8 bytes smaller than an `Option`.
    pub(super) current: OfferVersion,
    /// Highest version named by a counted withdrawal (0: none).
    pub withdrawn_to: u64,
    /// The successor's `offer.consolidate` that retired it, if any (boxed: a
    /// registry holds an entry per offer, and nearly none is consolidated).
    pub consolidated: Option<Box<Consolidation>>,
}

/// Every counted version and withdrawal of one offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferHistory {
    /// By key in rotation order, then record id.
    pub versions: Vec<OfferVersion>,
    /// The withdrawal records, in the same order.
    pub withdrawals: Vec<Hash32>,
}

impl OfferEntry {
    /// The winning version: highest `version`, then highest record id.
    pub fn current(&self) -> Option<&OfferVersion> {
        (self.current.version > 0).then_some(&self.current)
    }

    /// True if a withdrawal covers the current version.
    pub fn withdrawn(&self) -> bool {
        self.current()
            .is_some_and(|c| c.version <= self.withdrawn_to)
    }
}

/// One admitted provider.
#[derive(Debug, Clone)]
pub struct ProviderState {
    pub identity: Did,
    /// Name from its admission.
    pub name: String,
    pub standing: Standing,
    /// Its keys, oldest first; the last signs now.
    pub keys: Vec<Did>,
    pub profile: Option<VerifiedRecord>,
    pub(super) successions: Vec<VerifiedRecord>,
    pub(super) accepts: Vec<VerifiedRecord>,
    /// Every succession of this provider that its successor accepted, lowest
    /// id first: whoever the portfolio passed to answers for its offers.
    pub(super) accepted: Vec<VerifiedRecord>,
    /// The accepted succession that hands this provider's portfolio on.
    pub successor: Option<VerifiedRecord>,
    /// Providers with an accepted succession to this one (for all or some
    /// of their offers), by did.
    pub predecessors: Vec<Did>,
}

impl ProviderState {
    /// The profile body, if a profile was published.
    pub fn profile_body(&self) -> Option<&ProfileBody> {
        match self.profile.as_ref().map(|r| &r.record().body) {
            Some(Body::ProviderProfile(b)) => Some(b),
            _ => None,
        }
    }
}

crate::text_enum! {
    /// Why an offer is or is not shown at a given instant.
    pub enum OfferStatus {
        Active = "active",
        NotYetValid = "not_yet_valid",
        Expired = "expired",
        Withdrawn = "withdrawn",
        ProviderSuspended = "provider_suspended",
        ProviderRevoked = "provider_revoked",
        /// Retired by the successor it passed to (`offer.consolidate`).
        Consolidated = "consolidated",
    }
}

/// A municipality admitted as a buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MunicipalityState {
    pub identity: Did,
    pub ags: AgsPrefix,
    /// Name from its admission.
    pub name: String,
    pub standing: Standing,
    /// Its keys, oldest first; the last signs now.
    pub keys: Vec<Did>,
}

/// One version of a demand as the state needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandVersion {
    pub record: Hash32,
    pub version: u64,
    pub wanted_from: Timestamp,
    pub wanted_until: Option<Timestamp>,
}

/// One demand of one buyer: the winning version and how far withdrawals reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemandEntry {
    pub(super) current: Option<DemandVersion>,
    /// Highest version named by a counted withdrawal (0: none).
    pub withdrawn_to: u64,
}

impl DemandEntry {
    /// The winning version: highest `version`, then highest record id.
    pub fn current(&self) -> Option<&DemandVersion> {
        self.current.as_ref()
    }

    /// True if a withdrawal covers the current version.
    pub fn withdrawn(&self) -> bool {
        self.current()
            .is_some_and(|c| c.version <= self.withdrawn_to)
    }
}

/// Who takes a service under an agreement: a municipality by its AGS, or a
/// provider buying for itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Taker {
    Municipality(AgsPrefix),
    Provider(Did),
}

/// The answer that decides a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The `request.accept` or `request.decline` record.
    pub record: Hash32,
    pub accepted: bool,
    /// The identity that answered: the offer's provider or a successor.
    pub responder: Did,
    /// When the responder says it answered: orders acceptances for capacity.
    pub issued_at: Timestamp,
}

/// The end of an agreement that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementEnd {
    pub record: Hash32,
    pub effective_at: Timestamp,
}

crate::text_enum! {
    /// Where a request stands, whatever the instant.
    pub enum RequestStatus {
        /// Not answered (yet).
        Open = "open",
        /// Accepted: an agreement.
        Accepted = "accepted",
        Declined = "declined",
        /// Withdrawn by its buyer and not accepted.
        Withdrawn = "withdrawn",
    }
}

/// A counted request and what became of it. Its record holds the rest of its
/// terms (quantity, legal basis, contact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEntry {
    /// The buyer's identity (municipality or provider).
    pub buyer: Did,
    /// The identity of the offer's provider.
    pub provider: Did,
    pub offer_id: OfferId,
    /// The offer version requested.
    pub offer_record: Hash32,
    pub start: Timestamp,
    /// Where the agreement runs out by its own terms (`end` or `term_months`).
    pub stop: Option<Timestamp>,
    pub takers: Vec<Taker>,
    /// The buyer's counted `request.withdraw` (an acceptance still makes an
    /// agreement).
    pub withdrawn: Option<Hash32>,
    pub answer: Option<Answer>,
    /// The earliest counted end of the agreement.
    pub end: Option<AgreementEnd>,
}

impl RequestEntry {
    /// Where the request stands.
    pub fn status(&self) -> RequestStatus {
        match (&self.answer, &self.withdrawn) {
            (Some(a), _) if a.accepted => RequestStatus::Accepted,
            (_, Some(_)) => RequestStatus::Withdrawn,
            (Some(_), None) => RequestStatus::Declined,
            (None, None) => RequestStatus::Open,
        }
    }

    /// True if request and acceptance form an agreement.
    pub fn is_agreement(&self) -> bool {
        self.status() == RequestStatus::Accepted
    }
}

/// A successor's consolidation of an offer it inherited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consolidation {
    /// The `offer.consolidate` record.
    pub record: Hash32,
    /// The successor's identity.
    pub by: Did,
    /// The successor's offer that replaces it, if named.
    pub replacement: Option<OfferId>,
}

/// The visible state of a registry.
#[derive(Debug, Clone)]
pub struct State {
    pub federation: Hash32,
    /// Head of the governance chain.
    pub head: Hash32,
    pub stewards: BTreeSet<Did>,
    pub threshold: u64,
    /// Admitted providers by identity.
    pub providers: BTreeMap<Did, ProviderState>,
    /// Offers by (provider identity, offer id).
    pub offers: BTreeMap<(Did, OfferId), OfferEntry>,
    /// (author, seq) positions with more than one record.
    pub equivocations: BTreeSet<(Did, u64)>,
    /// Admitted municipalities by identity.
    pub municipalities: BTreeMap<Did, MunicipalityState>,
    /// Demands by (buyer identity, demand id).
    pub demands: BTreeMap<(Did, DemandId), DemandEntry>,
    /// Counted requests by record id.
    pub requests: BTreeMap<Hash32, RequestEntry>,
    /// The requests of each offer, by (provider identity, offer id).
    pub requests_by_offer: BTreeMap<(Did, OfferId), BTreeSet<Hash32>>,
    /// Replacement offer -> the consolidated offers that name it.
    pub consolidated_into: BTreeMap<(Did, OfferId), BTreeSet<(Did, OfferId)>>,
    /// The stewards' standards, by id (retired ones included).
    pub standards: BTreeMap<Slug, StandardEntry>,
    /// The observer nodes the stewards admitted (`federation.observers`),
    /// sorted by peer id.
    pub observers: Vec<crate::body::Observer>,
    /// The witnesses the stewards named (`federation.witnesses`), sorted by
    /// the UTF-8 bytes of their names, and how many a verifier needs.
    pub witnesses: Vec<crate::body::Witness>,
    pub quorum: u64,
}

/// A standard of the portfolio (`standard.define`): its current definition
/// on the governance chain and, if retired since, the retiring record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardEntry {
    /// The counted record of the action that defined it last.
    pub record: Hash32,
    pub body: std::sync::Arc<StandardDefineBody>,
    /// The counted record of the `standard.retire` after that definition.
    pub retired: Option<Hash32>,
}

impl State {
    /// The offers of one provider identity, by offer id.
    pub fn offers_of<'a>(
        &'a self,
        provider: &Did,
    ) -> impl Iterator<Item = (&'a OfferId, &'a OfferEntry)> + 'a {
        let provider = provider.clone();
        self.offers
            .range((provider.clone(), OfferId::min_bound())..)
            .take_while(move |((d, _), _)| *d == provider)
            .map(|((_, id), e)| (id, e))
    }

    /// The identities that answer for `provider`'s offer `offer_id`: the
    /// provider and every provider its portfolio passed to by accepted
    /// successions covering the offer (`specs/protocol.md` 6.6.1).
    pub fn responders(&self, provider: &Did, offer_id: &OfferId) -> Vec<Did> {
        super::Registry::responders(&self.providers, provider, offer_id)
    }

    /// The municipality admitted for `ags`: the one not revoked (the chain
    /// admits at most one such), else the revoked one with the lowest did.
    pub fn municipality_of(&self, ags: &str) -> Option<&MunicipalityState> {
        let mut found = None;
        for m in self
            .municipalities
            .values()
            .filter(|m| m.ags.as_str() == ags)
        {
            if m.standing != Standing::Revoked {
                return Some(m);
            }
            found.get_or_insert(m);
        }
        found
    }

    /// The demands of one buyer identity, by demand id.
    pub fn demands_of<'a>(
        &'a self,
        buyer: &Did,
    ) -> impl Iterator<Item = (&'a DemandId, &'a DemandEntry)> + 'a {
        let buyer = buyer.clone();
        self.demands
            .range((buyer.clone(), DemandId::min_bound())..)
            .take_while(move |((d, _), _)| *d == buyer)
            .map(|((_, id), e)| (id, e))
    }

    /// Status of an offer at instant `now`: provider standing, withdrawal, then
    /// validity window. The clock enters here, never into the digest.
    pub fn offer_status(&self, provider: &Did, entry: &OfferEntry, now: Timestamp) -> OfferStatus {
        match self.providers.get(provider).map(|p| p.standing) {
            Some(Standing::Active) => {}
            Some(Standing::Suspended) => return OfferStatus::ProviderSuspended,
            _ => return OfferStatus::ProviderRevoked,
        }
        if entry.withdrawn() {
            return OfferStatus::Withdrawn;
        }
        if entry.consolidated.is_some() {
            return OfferStatus::Consolidated;
        }
        let Some(b) = entry.current() else {
            return OfferStatus::Withdrawn;
        };
        if now < b.valid_from {
            return OfferStatus::NotYetValid;
        }
        if b.valid_until().is_some_and(|u| now >= u) {
            return OfferStatus::Expired;
        }
        OfferStatus::Active
    }

    /// Who shows an offer at `now`: of the provider's accepted successions that
    /// cover the offer, the one with the lowest id hands it to its successor
    /// once its `effective_at` has come, and so on along chains of mergers
    /// until one would return to a provider already passed; else the provider
    /// itself.
    pub fn shown_under(&self, provider: &Did, offer_id: &OfferId, now: Timestamp) -> Did {
        let mut cur = provider.clone();
        let mut passed = BTreeSet::new();
        loop {
            passed.insert(cur.clone());
            let Some(p) = self.providers.get(&cur) else {
                return cur;
            };
            let covering = p
                .accepted
                .iter()
                .filter_map(succession_of)
                .find(|b| b.offer_ids.is_empty() || b.offer_ids.contains(offer_id));
            match covering {
                // A cycle of mergers stops where it would close.
                Some(b) if now >= b.effective_at && !passed.contains(b.successor) => {
                    cur = b.successor.clone();
                }
                _ => return cur,
            }
        }
    }

    /// The short name a provider goes by: its profile's short name, else the
    /// name from its admission (empty for a did that is not a provider).
    pub fn provider_name(&self, did: &Did) -> String {
        self.providers
            .get(did)
            .map(|p| {
                p.profile_body()
                    .map(|b| b.short_name.to_string())
                    .unwrap_or_else(|| p.name.clone())
            })
            .unwrap_or_default()
    }

    /// Whether the profile of the provider that shows the offer `offer_id` of
    /// `provider` at `at` (the successor, once a merger took effect) lists the
    /// municipality or region `ags` among its members or owners.
    pub fn in_house(&self, provider: &Did, offer_id: &OfferId, ags: &str, at: Timestamp) -> bool {
        let shown = self.shown_under(provider, offer_id, at);
        self.providers
            .get(&shown)
            .and_then(ProviderState::profile_body)
            .is_some_and(|p| p.members.iter().any(|m| m.covers(ags)))
    }

    /// How the municipality `ags` may take an offer of `provider` at `at`
    /// (`geo::procurement_by`): in-house if the provider that shows the offer
    /// then lists it as a member or owner; otherwise by the legal basis the offer
    /// states, if the offer is delivered there; otherwise a tender is needed.
    pub fn procurement(
        &self,
        provider: &Did,
        offer: &OfferBody,
        ags: &str,
        at: Timestamp,
    ) -> Procurement {
        geo::procurement_by(
            self.in_house(provider, &offer.offer_id, ags, at),
            offer.regions.iter().any(|r| r.covers(ags)),
            offer.legal_basis.as_ref().map(|l| l.kind),
        )
    }
}
