//! The search index over the current offers, kept up to date from the registry's
//! [`Changes`] by the writer, so that a search touches only the offers that can
//! match instead of every offer.
//!
//! Every indexed filter is exact, never approximate: an offer is in the candidate
//! set of a filter if and only if the full-scan definition of the filters
//! (`scan.rs`, what the tests compare with) would pass it on that field.
//! - `category`: an offer is filed under its category and every ancestor, so the
//!   lookup equals `taxonomy::is_within`;
//! - `region` and `municipality`: filed under each region it names; a query AGS
//!   looks up its prefixes of 2, 3, 5 and 8 digits, which are exactly the regions
//!   that cover it;
//! - `ozg`, `leika`, `cert`: filed under each value;
//! - `standard`: filed under each standard the offer declares; whether it
//!   meets it is checked on the candidates, from the few fields kept for that;
//! - `provider`: filed under its provider; a query also takes the providers whose
//!   portfolio passed to it (their offers may be shown under it), then checks;
//! - `q`: each word must be a substring of the lowercase title, summary and
//!   description. A word without whitespace can only occur inside one whitespace
//!   token of that text, so the index keeps the distinct tokens, finds those that
//!   contain the word (through their trigrams), and takes their offers.
//!
//! A term's postings are a sorted list of slots while sparse and a bitmap once
//! the term is in more than one offer in 32 (common words, large regions). In
//! the benchmark's 100,000 offers, whose texts share most words, that took the
//! node from 145 to 129 MiB; intersecting bitmaps is also cheaper than merging
//! lists.
//!
//! What depends on the clock or on provider state (status, succession, the
//! procurement route) is checked on the candidates with per-search tables.
//!
//! Offer bodies are not kept in memory (they stay in the node's store): an offer
//! is filed from its record, and taken out again by reading that record back.
//! If it cannot be read, its slot is retired instead of reused, so the postings
//! left behind point at nothing and never match.

mod postings;
mod words;

use kx_api::Filters;
use kx_protocol::body::{Delivery, LegalBasisKind, OfferBody};
use kx_protocol::fields::{AgsPrefix, OfferId, Slug};
use kx_protocol::geo;
use kx_protocol::registry::{Changes, OfferStatus, Taker};
use kx_protocol::terms::{self, Offered};
use kx_protocol::{Body, Did, Hash32, Standing, State, Timestamp, VerifiedRecord, taxonomy};
use postings::{NO_POSTINGS, Postings, union};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use words::{Words, text_of, tokens};

/// Above this many matches a page is cut from the ordered key map instead of by
/// sorting the matches (low in tests, so that they take both ways).
const SORT_LIMIT: usize = if cfg!(test) { 16 } else { 4096 };

/// What the checks of a search read for every candidate: small and apart from
/// the rest, so that a scan over many candidates stays in cache.
#[derive(Debug, Clone, Copy, Default)]
struct Hot {
    valid_from: i64,
    /// `i64::MAX`: open-ended.
    valid_until: i64,
    provider: u32,
    /// False for a free or retired slot.
    live: bool,
    withdrawn: bool,
    /// Retired by a successor (`offer.consolidate`).
    consolidated: bool,
    legal_basis: Option<LegalBasisKind>,
}

/// The rest of what the index keeps of an offer.
#[derive(Debug)]
struct Doc {
    /// The record filed (the current version).
    record: Hash32,
    offer_id: OfferId,
    /// For the catalog, which lists by title.
    title: Box<str>,
    /// The takers the offer needs to carry itself (0: not declared).
    break_even: u32,
    /// What the standards it declares check, if it declares any.
    claims: Option<Box<Claims>>,
}

/// The fields of an offer a standard's criteria read (`terms::Offered`), kept
/// for the offers that declare a standard, so that a search by standard
/// reads no record.
#[derive(Debug)]
struct Claims {
    category: Slug,
    certifications: Box<[Slug]>,
    standards: Box<[Slug]>,
    delivery: Delivery,
    availability_bp: u64,
    response_minutes: u64,
    resolution_hours: u64,
}

impl Claims {
    fn of(b: &OfferBody) -> Claims {
        Claims {
            category: b.category.clone(),
            certifications: b.certifications.clone().into(),
            standards: b.standards.clone().into(),
            delivery: b.delivery,
            availability_bp: b.sla.availability_bp,
            response_minutes: b.sla.response_minutes,
            resolution_hours: b.sla.resolution_hours,
        }
    }

    fn offered(&self) -> Offered<'_> {
        Offered {
            category: &self.category,
            certifications: &self.certifications,
            standards: &self.standards,
            delivery: self.delivery,
            availability_bp: self.availability_bp,
            response_minutes: self.response_minutes,
            resolution_hours: self.resolution_hours,
        }
    }
}

/// A field [`SearchIndex::filed`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Category,
    Ozg,
    Leika,
}

/// The offers filed under one value.
pub(crate) struct Filed<'a>(&'a Postings);

impl Filed<'_> {
    /// Whether the offer in `slot` is among them.
    pub(crate) fn has(&self, slot: u32) -> bool {
        self.0.contains(slot)
    }
}

/// Reads an offer's current record by id (from the node's store).
pub(crate) type Load<'a> = &'a dyn Fn(&Hash32) -> Option<VerifiedRecord>;

/// One page of a search.
#[derive(Debug, Default)]
pub struct Page {
    /// Matches in all.
    pub total: usize,
    /// The page's offers, in (provider, offer id) order.
    pub keys: Vec<(Did, OfferId)>,
    /// More matches follow the page.
    pub more: bool,
}

/// Indexes over the current offers of a [`State`].
#[derive(Debug, Default)]
pub struct SearchIndex {
    providers: Vec<Arc<Did>>,
    provider_no: HashMap<Did, u32>,
    /// slot -> offer (None: free slot)
    docs: Vec<Option<Doc>>,
    /// slot -> what its checks read
    hot: Vec<Hot>,
    free: Vec<u32>,
    /// (provider, offer id) -> slot, for pages in key order
    order: BTreeMap<(Arc<Did>, OfferId), u32>,
    /// field term (`c:`, `r:`, `o:`, `l:`, `z:`, `p:` + value) -> its number
    term_no: HashMap<String, u32>,
    /// term number -> slots, sorted
    terms: Vec<Postings>,
    words: Words,
    /// The requests each municipality takes part in, by (digits, AGS as a
    /// number, request): a municipality's page finds its requests without a
    /// walk over all of them. A superset: a request that stops counting stays
    /// filed, and every candidate is looked up in the state.
    takers: BTreeSet<(u8, u32, Hash32)>,
    /// The requests with a provider among their takers (also a superset).
    provider_takers: BTreeSet<Hash32>,
}

/// An AGS prefix as (digits, value): at most 8 digits, so the value fits.
fn ags_key(a: &AgsPrefix) -> Option<(u8, u32)> {
    Some((
        u8::try_from(a.as_str().len()).ok()?,
        a.as_str().parse().ok()?,
    ))
}

/// The field terms an offer is filed under.
fn terms_of(b: &OfferBody, provider: u32) -> Vec<String> {
    let mut t = vec![format!("p:{provider}")];
    let mut cur = Some(b.category.as_str());
    // The same walk as `taxonomy::is_within`, bounded the same way.
    for _ in 0..16 {
        let Some(c) = cur else { break };
        t.push(format!("c:{c}"));
        cur = taxonomy::category(c).and_then(|x| x.parent.as_deref());
    }
    t.extend(b.regions.iter().map(|r| format!("r:{}", r.as_str())));
    t.extend(b.ozg_ids.iter().map(|o| format!("o:{}", o.as_str())));
    t.extend(b.leika_keys.iter().map(|l| format!("l:{}", l.as_str())));
    t.extend(b.certifications.iter().map(|c| format!("z:{}", c.as_str())));
    t.extend(
        b.conforms_to
            .iter()
            .flatten()
            .map(|s| format!("s:{}", s.as_str())),
    );
    t.sort();
    t.dedup();
    t
}

impl SearchIndex {
    /// An index over every current offer of `state`, whose records `load` reads
    /// (for tests; a node builds its index in chunks, `node::index_of`).
    #[cfg(test)]
    fn build(state: &State, load: Load<'_>) -> SearchIndex {
        let mut index = SearchIndex::default();
        for key in state.offers.keys() {
            index.insert(state, key, load);
        }
        index
    }

    /// Number of indexed offers.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True if no offer is indexed.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Brings the index up to date with `state` after `changes`.
    pub fn apply(&mut self, state: &State, changes: &Changes, load: Load<'_>) {
        for key in &changes.offers {
            self.remove(key, load);
            self.insert(state, key, load);
        }
        self.file_requests(state, &changes.requests);
    }

    /// Files the municipalities taking part in each of `ids` (those in the
    /// state; a request's takers never change).
    pub fn file_requests<'a>(&mut self, state: &State, ids: impl IntoIterator<Item = &'a Hash32>) {
        for id in ids {
            let Some(e) = state.requests.get(id) else {
                continue;
            };
            for t in &e.takers {
                match t {
                    Taker::Municipality(a) => {
                        if let Some((n, v)) = ags_key(a) {
                            self.takers.insert((n, v, *id));
                        }
                    }
                    Taker::Provider(_) => {
                        self.provider_takers.insert(*id);
                    }
                }
            }
        }
    }

    /// The requests, ascending, with a provider among their takers, and maybe
    /// some that no longer count.
    pub fn requests_taken_by_providers(&self) -> impl Iterator<Item = &Hash32> {
        self.provider_takers.iter()
    }

    /// The requests, ascending, in which a municipality under `ags` (the
    /// municipality itself, or one in the area it names) takes part, and maybe
    /// some that no longer count.
    pub fn requests_taken_in(&self, ags: &AgsPrefix) -> Vec<Hash32> {
        let Some((k, v)) = ags_key(ags) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // A taker is covered if its digits start with the prefix: for each
        // taker length at least the prefix's, one range of values.
        for n in [2u8, 3, 5, 8].into_iter().filter(|n| *n >= k) {
            let scale = 10u32.pow(u32::from(n - k));
            let (lo, hi) = (v * scale, (v + 1) * scale);
            let from = (n, lo, Hash32([0; 32]));
            out.extend(
                self.takers
                    .range(from..)
                    .take_while(|(m, x, _)| *m == n && *x < hi)
                    .map(|(_, _, id)| *id),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn provider(&mut self, did: &Did) -> u32 {
        if let Some(n) = self.provider_no.get(did) {
            return *n;
        }
        let n = self.providers.len() as u32;
        self.providers.push(Arc::new(did.clone()));
        self.provider_no.insert(did.clone(), n);
        n
    }

    fn term(&mut self, term: String) -> u32 {
        if let Some(n) = self.term_no.get(&term) {
            return *n;
        }
        let n = self.terms.len() as u32;
        self.term_no.insert(term, n);
        self.terms.push(Postings::default());
        n
    }

    /// Files the current version of the offer `key` of `state`, if it has one.
    fn insert(&mut self, state: &State, key: &(Did, OfferId), load: Load<'_>) {
        let Some(entry) = state.offers.get(key) else {
            return;
        };
        let Some(current) = entry.current() else {
            return;
        };
        let Some(rec) = load(&current.record) else {
            // The store lost a record the registry holds: say so, and leave the
            // offer out rather than file it wrongly.
            tracing::error!(record = %current.record.short(), "offer record missing from the store; not searchable");
            return;
        };
        let Body::Offer(b) = &rec.record().body else {
            return;
        };
        let provider = self.provider(&key.0);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.docs.push(None);
                self.hot.push(Hot::default());
                (self.docs.len() - 1) as u32
            }
        };
        for t in terms_of(b, provider) {
            let n = self.term(t);
            self.terms[n as usize].insert(slot);
        }
        let text = text_of(b);
        for token in tokens(&text) {
            let id = self.words.id(token);
            self.words.postings[id as usize].insert(slot);
        }
        self.docs[slot as usize] = Some(Doc {
            record: current.record,
            offer_id: key.1.clone(),
            title: b.title.as_str().into(),
            break_even: b.break_even.map_or(0, |n| n.min(u32::MAX as u64) as u32),
            claims: b.conforms_to.is_some().then(|| Box::new(Claims::of(b))),
        });
        self.hot[slot as usize] = Hot {
            valid_from: b.valid_from.unix(),
            valid_until: b.valid_until.map_or(i64::MAX, |t| t.unix()),
            provider,
            live: true,
            withdrawn: entry.withdrawn(),
            consolidated: entry.consolidated.is_some(),
            legal_basis: b.legal_basis.as_ref().map(|l| l.kind),
        };
        self.order.insert(
            (self.providers[provider as usize].clone(), key.1.clone()),
            slot,
        );
    }

    fn remove(&mut self, key: &(Did, OfferId), load: Load<'_>) {
        let Some(&provider) = self.provider_no.get(&key.0) else {
            return;
        };
        let k = (self.providers[provider as usize].clone(), key.1.clone());
        let Some(slot) = self.order.remove(&k) else {
            return;
        };
        let Some(doc) = self.docs[slot as usize].take() else {
            return;
        };
        self.hot[slot as usize].live = false;
        let rec = load(&doc.record);
        let Some(Body::Offer(b)) = rec.as_ref().map(|r| &r.record().body) else {
            tracing::error!(record = %doc.record.short(), "indexed offer missing from the store; its slot is retired");
            return;
        };
        for t in terms_of(b, provider) {
            if let Some(n) = self.term_no.get(&t) {
                self.terms[*n as usize].remove(slot);
            }
        }
        let text = text_of(b);
        for token in tokens(&text) {
            if let Some(id) = self.words.ids.get(token) {
                self.words.postings[*id as usize].remove(slot);
            }
        }
        self.free.push(slot);
    }

    fn slots(&self, t: &str) -> &Postings {
        self.term_no
            .get(t)
            .map_or(&NO_POSTINGS, |n| &self.terms[*n as usize])
    }

    /// Offers in a region covering `ags`: filed under one of its prefixes.
    fn covering(&self, ags: &str) -> Postings {
        union(
            [2, 3, 5, 8]
                .into_iter()
                .filter(|n| *n <= ags.len())
                .map(|n| self.slots(&format!("r:{}", &ags[..n]))),
        )
    }

    /// Offers of `provider` and of every provider whose portfolio passed to it.
    fn of_provider(&self, state: &State, provider: &Did) -> Postings {
        let mut seen = vec![provider.clone()];
        let mut i = 0;
        while i < seen.len() && seen.len() <= state.providers.len() + 1 {
            if let Some(p) = state.providers.get(&seen[i]) {
                for pred in &p.predecessors {
                    if !seen.contains(pred) {
                        seen.push(pred.clone());
                    }
                }
            }
            i += 1;
        }
        union(
            seen.iter()
                .filter_map(|d| self.provider_no.get(d))
                .map(|n| self.slots(&format!("p:{n}"))),
        )
    }

    /// Slots passing every filter, in slot order.
    fn matching(&self, state: &State, f: &Filters, at: Timestamp) -> Vec<u32> {
        let mut lists: Vec<Postings> = Vec::new();
        if let Some(m) = f.municipality {
            lists.push(self.covering(&m.ags));
        }
        if let Some(r) = &f.region {
            lists.push(self.covering(r.as_str()));
        }
        for (prefix, value) in [
            ("c", f.category.as_ref().map(|c| c.as_str())),
            ("o", f.ozg.as_ref().map(|o| o.as_str())),
            ("l", f.leika.as_ref().map(|l| l.as_str())),
            ("z", f.cert.as_ref().map(|c| c.as_str())),
            ("s", f.standard.as_ref().map(|s| s.as_str())),
        ] {
            if let Some(v) = value {
                lists.push(self.slots(&format!("{prefix}:{v}")).clone());
            }
        }
        if let Some(p) = &f.provider {
            lists.push(self.of_provider(state, p));
        }
        for w in &f.words {
            lists.push(self.words.matching(w));
        }
        lists.sort_by_key(Postings::len);
        let mut lists = lists.into_iter();
        let candidates: Vec<u32> = match lists.next() {
            None => (0..self.docs.len() as u32).collect(),
            Some(first) => lists.fold(first, |acc, l| acc.and(&l)).to_vec(),
        };

        // Per search: what the clock-free checks need of each provider.
        let standing: Vec<Option<Standing>> = self
            .providers
            .iter()
            .map(|d| state.providers.get(d.as_ref()).map(|p| p.standing))
            .collect();
        let merged: Vec<bool> = self
            .providers
            .iter()
            .map(|d| {
                state
                    .providers
                    .get(d.as_ref())
                    .is_some_and(|p| p.successor.is_some())
            })
            .collect();
        // Whether a provider's profile lists the searched municipality (only
        // needed with a procurement filter).
        let lists = |d: &Did| {
            let m = f.municipality.filter(|_| f.procurement.is_some());
            m.is_some_and(|m| {
                state
                    .providers
                    .get(d)
                    .and_then(|p| p.profile_body())
                    .is_some_and(|p| p.members.iter().any(|x| x.covers(&m.ags)))
            })
        };
        let listed: Vec<bool> = self.providers.iter().map(|d| lists(d)).collect();
        let mut out = Vec::with_capacity(candidates.len());
        for slot in candidates {
            let doc = &self.hot[slot as usize];
            if !doc.live {
                continue;
            }
            let status = match standing[doc.provider as usize] {
                Some(Standing::Active) => {
                    if doc.withdrawn {
                        OfferStatus::Withdrawn
                    } else if doc.consolidated {
                        OfferStatus::Consolidated
                    } else if at.unix() < doc.valid_from {
                        OfferStatus::NotYetValid
                    } else if at.unix() >= doc.valid_until {
                        OfferStatus::Expired
                    } else {
                        OfferStatus::Active
                    }
                }
                Some(Standing::Suspended) => OfferStatus::ProviderSuspended,
                _ => OfferStatus::ProviderRevoked,
            };
            if !f.include.contains(&status) {
                continue;
            }
            // Filed under the standard means it declares it; whether it meets
            // it depends on the definition in force.
            if let Some(id) = &f.standard {
                let meets = self.docs[slot as usize]
                    .as_ref()
                    .and_then(|d| d.claims.as_ref())
                    .is_some_and(|c| terms::conformance(&c.offered(), id, &state.standards).met());
                if !meets {
                    continue;
                }
            }
            let provider = self.providers[doc.provider as usize].as_ref();
            let shown = || match &self.docs[slot as usize] {
                Some(d) if merged[doc.provider as usize] => {
                    state.shown_under(provider, &d.offer_id, at)
                }
                _ => provider.clone(),
            };
            if let Some(p) = &f.provider
                && p != provider
                && *p != shown()
            {
                continue;
            }
            if let (Some(_), Some(want)) = (f.municipality, f.procurement) {
                // Judged against the provider that offers it at `at`, as
                // `State::procurement` does; the municipality filter above
                // already means the offer is delivered there.
                let in_house = if merged[doc.provider as usize] {
                    lists(&shown())
                } else {
                    listed[doc.provider as usize]
                };
                let got = geo::procurement_by(in_house, true, doc.legal_basis);
                if !want.accepts(got) {
                    continue;
                }
            }
            out.push(slot);
        }
        out
    }

    fn key_of(&self, slot: u32) -> Option<(&Arc<Did>, &OfferId)> {
        let doc = self.docs[slot as usize].as_ref()?;
        let provider = self.hot[slot as usize].provider;
        Some((&self.providers[provider as usize], &doc.offer_id))
    }

    /// The offers matching `f`, in (provider, offer id) order: `limit` of them
    /// after `after`, and how many match in all.
    pub(crate) fn search(
        &self,
        state: &State,
        f: &Filters,
        at: Timestamp,
        after: Option<&(Did, OfferId)>,
        limit: usize,
    ) -> Page {
        let matched = self.matching(state, f, at);
        let total = matched.len();
        let past = |d: &Did, o: &OfferId| after.is_none_or(|(ad, ao)| (d, o) > (ad, ao));
        let mut keys: Vec<(Did, OfferId)> = Vec::new();
        let more = if total <= SORT_LIMIT {
            let mut all: Vec<(&Arc<Did>, &OfferId)> =
                matched.iter().filter_map(|s| self.key_of(*s)).collect();
            all.sort_unstable();
            let mut rest = all.into_iter().filter(|(d, o)| past(d, o));
            keys.extend(
                rest.by_ref()
                    .take(limit)
                    .map(|(d, o)| (d.as_ref().clone(), o.clone())),
            );
            rest.next().is_some()
        } else {
            // Dense: walk the keys in order and take those that matched.
            let mut hit = vec![0u64; self.docs.len().div_ceil(64)];
            for s in &matched {
                hit[*s as usize / 64] |= 1 << (s % 64);
            }
            let start = match after {
                Some((d, o)) => std::ops::Bound::Excluded((Arc::new(d.clone()), o.clone())),
                None => std::ops::Bound::Unbounded,
            };
            let mut rest = self
                .order
                .range((start, std::ops::Bound::Unbounded))
                .filter(|(_, s)| hit[**s as usize / 64] & (1 << (**s % 64)) != 0);
            keys.extend(
                rest.by_ref()
                    .take(limit)
                    .map(|((d, o), _)| (d.as_ref().clone(), o.clone())),
            );
            rest.next().is_some()
        };
        Page { total, keys, more }
    }

    /// Title and stated legal basis of an indexed offer, for the catalog's order.
    pub(crate) fn title_and_basis(
        &self,
        key: &(Did, OfferId),
    ) -> Option<(&str, Option<LegalBasisKind>)> {
        let n = self.provider_no.get(&key.0)?;
        let k = (self.providers[*n as usize].clone(), key.1.clone());
        let slot = *self.order.get(&k)? as usize;
        let doc = self.docs[slot].as_ref()?;
        Some((&doc.title, self.hot[slot].legal_basis))
    }

    /// The active offers at `at`, as slots in slot order (for the transition
    /// view, which reads them with [`SearchIndex::offer_at`] and the tests
    /// below).
    pub(crate) fn active(&self, state: &State, at: Timestamp) -> Vec<u32> {
        self.matching(state, &Filters::default(), at)
    }

    /// Of the offers `active` (from [`SearchIndex::active`], read once for
    /// every standard), how many declare the standard `id`, and how many of
    /// those meet it.
    pub(crate) fn standard_uptake(
        &self,
        state: &State,
        id: &Slug,
        active: &[u32],
    ) -> (usize, usize) {
        let filed = self.slots(&format!("s:{id}"));
        let mut declared = 0;
        let mut met = 0;
        for slot in active.iter().filter(|s| filed.contains(**s)) {
            declared += 1;
            let meets = self.docs[*slot as usize]
                .as_ref()
                .and_then(|d| d.claims.as_ref())
                .is_some_and(|c| terms::conformance(&c.offered(), id, &state.standards).met());
            met += usize::from(meets);
        }
        (declared, met)
    }

    /// The offer filed in `slot`: its key, current record and declared
    /// break-even (0: none).
    pub(crate) fn offer_at(&self, slot: u32) -> Option<((&Did, &OfferId), Hash32, u32)> {
        let doc = self.docs.get(slot as usize)?.as_ref()?;
        let (d, o) = self.key_of(slot)?;
        Some(((d.as_ref(), o), doc.record, doc.break_even))
    }

    /// The most specific category an offer is filed under, from the
    /// postings (no record is read): its path from the root is filed, and
    /// the taxonomy lists parents before children.
    pub(crate) fn category_of(&self, key: &(Did, OfferId)) -> Option<&'static taxonomy::Category> {
        let slot = self.slot_of(key)?;
        taxonomy::categories()
            .iter()
            .rev()
            .find(|c| self.slots(&format!("c:{}", c.slug)).contains(slot))
    }

    /// The slot an offer is filed in.
    pub(crate) fn slot_of(&self, key: &(Did, OfferId)) -> Option<u32> {
        let n = self.provider_no.get(&key.0)?;
        let k = (self.providers[*n as usize].clone(), key.1.clone());
        self.order.get(&k).copied()
    }

    /// The offers filed under a field's value: `category` (its own or an
    /// ancestor, as the search's category filter), `ozg` or `leika`.
    pub(crate) fn filed(&self, field: Field, value: &str) -> Filed<'_> {
        let prefix = match field {
            Field::Category => "c",
            Field::Ozg => "o",
            Field::Leika => "l",
        };
        Filed(self.slots(&format!("{prefix}:{value}")))
    }

    /// The region prefixes of each of `slots` (sorted), by slot.
    pub(crate) fn regions_of(&self, slots: &[u32]) -> HashMap<u32, Vec<&str>> {
        let mut out: HashMap<u32, Vec<&str>> = HashMap::with_capacity(slots.len());
        for (term, n) in &self.term_no {
            let Some(prefix) = term.strip_prefix("r:") else {
                continue;
            };
            for slot in self.terms[*n as usize].iter() {
                if slots.binary_search(&slot).is_ok() {
                    out.entry(slot).or_default().push(prefix);
                }
            }
        }
        out
    }

    /// OZG ids of the active offers (for the catalog's choice list).
    pub(crate) fn active_ozg_ids(&self, state: &State, at: Timestamp) -> Vec<String> {
        let active = self.matching(state, &Filters::default(), at);
        let mut ids: Vec<String> = self
            .term_no
            .iter()
            .filter_map(|(t, n)| {
                let id = t.strip_prefix("o:")?;
                let slots = &self.terms[*n as usize];
                let any = slots.iter().any(|s| active.binary_search(&s).is_ok());
                any.then(|| id.to_owned())
            })
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefix finds the takers it covers, of any longer length, and no
    /// others (neighbours in value, shorter prefixes).
    #[test]
    fn requests_taken_in_covers_exactly_the_prefix() {
        let mut index = SearchIndex::default();
        let file = |index: &mut SearchIndex, ags: &str, n: u8| {
            let a: AgsPrefix = ags.parse().expect("ags");
            let (k, v) = ags_key(&a).expect("key");
            index.takers.insert((k, v, Hash32([n; 32])));
        };
        for (ags, n) in [
            ("05774032", 1),
            ("05774", 2),
            ("05", 3),
            ("05774033", 4),
            ("05775001", 5),
            ("05774032", 6),
            ("06", 7),
            ("057", 8),
        ] {
            file(&mut index, ags, n);
        }
        let ids = |ags: &str| -> Vec<u8> {
            index
                .requests_taken_in(&ags.parse().expect("ags"))
                .iter()
                .map(|h| h.0[0])
                .collect()
        };
        assert_eq!(ids("05774032"), vec![1, 6]);
        assert_eq!(ids("05774"), vec![1, 2, 4, 6]);
        assert_eq!(ids("057"), vec![1, 2, 4, 5, 6, 8]);
        assert_eq!(ids("05"), vec![1, 2, 3, 4, 5, 6, 8]);
        assert_eq!(ids("06"), vec![7]);
    }
    use kx_protocol::author::{LogWriter, genesis};
    use kx_protocol::record::approve;
    use kx_protocol::{Kind, Registry, SecretKey, Timestamp};
    use serde_json::{Value, json};

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed([n; 32]).expect("key")
    }

    fn ts(unix: i64) -> Timestamp {
        Timestamp::from_unix(unix).expect("time")
    }

    const T0: i64 = 1_768_467_600;
    const CATS: [&str; 6] = [
        "einwohnerwesen",
        "e-akte",
        "kfz-zulassung",
        "geodaten-gis",
        "service-desk",
        "soc-siem",
    ];
    const REGIONS: [&str; 6] = ["05", "05158", "05774", "05315000", "057", "05774032"];
    const WORDS: [&str; 6] = [
        "Rechenzentrum",
        "Schulungen",
        "Fachverfahren",
        "Müllabfuhr",
        "xöv",
        "DataClearing",
    ];

    fn offer(i: usize, version: u64) -> Value {
        let mut b = json!({
            "offer_id": format!("o{i}"), "version": version,
            "title": format!("Angebot {i} {}", WORDS[i % 6]),
            "summary": format!("Betrieb mit {} und {}", WORDS[(i / 2) % 6], WORDS[(i / 3) % 6]),
            "description": format!("Beschreibung {}", i * 7),
            "category": CATS[i % 6],
            "ozg_ids": [if i.is_multiple_of(2) { "10124" } else { "10200" }],
            "leika_keys": ["99115005104000"],
            "regions": [REGIONS[i % 6], REGIONS[(i + 2) % 6]],
            "delivery": "saas",
            "sla": {"availability_bp": 9950, "support_hours": "Mo-Fr", "response_minutes": 60, "resolution_hours": 8},
            "pricing": {"model": "per_user_per_month", "amount_cents": 100, "currency": "EUR", "notes": ""},
            "capacity": 10,
            "certifications": if i.is_multiple_of(3) { json!(["iso27001-grundschutz"]) } else { json!([]) },
            "standards": [],
            "contacts": [{"customer_group": "kommunen", "name": "Vertrieb"}],
            "valid_from": if i % 7 == 3 { "2030-01-01T00:00:00Z" } else { "2026-01-01T00:00:00Z" },
        });
        if i % 5 == 4 && i % 7 != 3 {
            b["valid_until"] = json!("2026-06-01T00:00:00Z");
        }
        match i % 4 {
            1 => b["legal_basis"] = json!({"kind": "inter_municipal", "text": "§ 108 (6) GWB"}),
            2 => b["legal_basis"] = json!({"kind": "framework_agreement", "text": "Rahmenvertrag"}),
            _ => {}
        }
        b
    }

    fn body(kind: Kind, v: Value) -> Body {
        Body::from_json(kind, v).expect("body")
    }

    /// Records by id: what a node's store gives the index.
    type Records = BTreeMap<Hash32, VerifiedRecord>;

    fn loader(recs: &Records) -> impl Fn(&Hash32) -> Option<VerifiedRecord> + '_ {
        |id| recs.get(id).cloned()
    }

    /// A federation of four providers with varied offers, a withdrawal, a
    /// suspension and an accepted merger, and all its records.
    fn registry() -> (Registry, Records) {
        let s = key(1);
        let g = genesis(
            "Test".parse().expect("name"),
            vec![s.did().clone()],
            1,
            &s,
            &[&s],
            ts(T0),
        )
        .expect("genesis");
        let fed = g.record().federation;
        let mut reg = Registry::new(g.clone()).expect("registry");
        let mut all = Records::new();
        all.insert(g.id(), g.clone());
        let mut sw = LogWriter::new(key(1), fed, Some((1, g.id())));
        let mut head = fed;
        let mut govern = |(reg, all): (&mut Registry, &mut Records), kind: Kind, v: Value| {
            let mut v = v;
            v["prev_action"] = json!(head.to_hex());
            v["approvals"] = json!([]);
            let mut b = Body::from_json_draft(kind, v).expect("draft");
            approve(&mut b, &s);
            let rec = sw.write(b, ts(T0)).expect("write");
            head = rec.action().expect("action");
            all.insert(rec.id(), rec.clone());
            reg.add(rec).expect("add");
        };
        let providers: Vec<SecretKey> = (10..14).map(key).collect();
        for (n, p) in providers.iter().enumerate() {
            govern(
                (&mut reg, &mut all),
                Kind::MemberAdmit,
                json!({"provider": p.did().as_str(), "name": format!("Anbieter {n}")}),
            );
        }
        let mut writers: Vec<LogWriter> = providers
            .iter()
            .map(|p| LogWriter::new(SecretKey::from_seed(p.seed()).expect("key"), fed, None))
            .collect();
        let profile = json!({
            "name": "Anbieter Null", "short_name": "A0", "description": "Profil",
            "regions": ["05"], "members": ["05774"], "certifications": [], "nodes": [], "contacts": [],
        });
        let rec = writers[0]
            .write(body(Kind::ProviderProfile, profile), ts(T0))
            .expect("w");
        all.insert(rec.id(), rec.clone());
        reg.add(rec).expect("add");
        for i in 0..120 {
            let rec = writers[i % 4]
                .write(body(Kind::Offer, offer(i, 1)), ts(T0))
                .expect("w");
            all.insert(rec.id(), rec.clone());
            reg.add(rec).expect("add");
        }
        // A second version of one offer, and a withdrawal of another.
        let rec = writers[0]
            .write(body(Kind::Offer, offer(0, 2)), ts(T0))
            .expect("w");
        all.insert(rec.id(), rec.clone());
        reg.add(rec).expect("add");
        let w = json!({"offer_id": "o4", "version": 1, "reason": "eingestellt"});
        let rec = writers[0]
            .write(body(Kind::OfferWithdraw, w), ts(T0))
            .expect("w");
        all.insert(rec.id(), rec.clone());
        reg.add(rec).expect("add");
        // Provider 1 hands its portfolio to provider 2, which accepts.
        let succession = json!({"successor": providers[2].did().as_str(), "effective_at": "2026-02-01T00:00:00Z", "offer_ids": []});
        let rec = writers[1]
            .write(body(Kind::Succession, succession), ts(T0))
            .expect("w");
        let accept = json!({"succession": rec.id().to_hex()});
        all.insert(rec.id(), rec.clone());
        reg.add(rec).expect("add");
        let rec = writers[2]
            .write(body(Kind::SuccessionAccept, accept), ts(T0))
            .expect("w");
        all.insert(rec.id(), rec.clone());
        reg.add(rec).expect("add");
        // Provider 3 is suspended.
        govern(
            (&mut reg, &mut all),
            Kind::MemberSuspend,
            json!({"provider": providers[3].did().as_str(), "key": providers[3].did().as_str(), "from_seq": 1, "reason": "Prüfung"}),
        );
        (reg, all)
    }

    /// What `Filters::matches` passes, scanning every offer: the reference.
    fn scan(state: &State, recs: &Records, f: &Filters, at: Timestamp) -> Vec<(Did, OfferId)> {
        state
            .offers
            .iter()
            .filter(|((p, _), e)| {
                let Some(rec) = e.current().and_then(|c| recs.get(&c.record)) else {
                    return false;
                };
                let Body::Offer(b) = &rec.record().body else {
                    return false;
                };
                f.matches(state, p, e, b, at)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    #[test]
    fn the_index_finds_exactly_what_a_full_scan_finds() {
        let (reg, recs) = registry();
        let state = reg.state();
        let index = SearchIndex::build(state, &loader(&recs));
        assert_eq!(index.len(), state.offers.len());
        let at = ts(T0 + 200 * 86_400);
        let providers: Vec<Did> = state.providers.keys().cloned().collect();
        let mut filters = vec![Filters::default()];
        let every = |f: &mut Filters| {
            f.include = vec![
                OfferStatus::Active,
                OfferStatus::Withdrawn,
                OfferStatus::Expired,
                OfferStatus::NotYetValid,
            ]
        };
        for m in ["Paderborn", "Erkrath", "Köln", "Bielefeld"] {
            for proc in [None, Some("tender_free"), Some("in_house"), Some("tender")] {
                filters.push(Filters {
                    municipality: Some(geo::resolve(m).expect("municipality")),
                    procurement: proc.map(|p| p.parse().expect("procurement")),
                    ..Filters::default()
                });
            }
        }
        for r in [
            "05", "057", "05774", "05774032", "05158004", "05315000", "06",
        ] {
            filters.push(Filters {
                region: Some(r.parse().expect("region")),
                ..Filters::default()
            });
        }
        let mut cats: Vec<String> = CATS.iter().map(|c| c.to_string()).collect();
        cats.extend(
            CATS.iter()
                .filter_map(|c| taxonomy::category(c)?.parent.clone()),
        );
        cats.push("unbekannt".into());
        for c in cats {
            filters.push(Filters {
                category: Some(c.parse().expect("slug")),
                ..Filters::default()
            });
        }
        for (ozg, cert) in [
            ("10124", None),
            ("10200", Some("iso27001-grundschutz")),
            ("1", None),
        ] {
            filters.push(Filters {
                ozg: Some(ozg.parse().expect("ozg")),
                cert: cert.map(|c| c.parse().expect("slug")),
                ..Filters::default()
            });
        }
        for p in &providers {
            filters.push(Filters {
                provider: Some(p.clone()),
                ..Filters::default()
            });
        }
        for q in [
            "rechenzentrum",
            "zentrum schul",
            "xö",
            "ü",
            "müll 7",
            "angebot 1",
            "nichts",
            "a",
        ] {
            filters.push(Filters {
                words: Filters::words_of(q),
                ..Filters::default()
            });
        }
        let n = filters.len();
        for i in 0..n {
            let mut f = filters[i].clone();
            every(&mut f);
            filters.push(f);
        }
        let mut nonempty = 0;
        for f in &filters {
            let want = scan(state, &recs, f, at);
            let got = index.search(state, f, at, None, usize::MAX);
            assert_eq!(got.keys, want, "{f:?}");
            assert_eq!(got.total, want.len());
            nonempty += usize::from(!want.is_empty());
            // Paging through gives the same sequence.
            let mut paged = Vec::new();
            let mut after: Option<(Did, OfferId)> = None;
            loop {
                let page = index.search(state, f, at, after.as_ref(), 7);
                paged.extend(page.keys.iter().cloned());
                if !page.more {
                    break;
                }
                after = page.keys.last().cloned();
            }
            assert_eq!(paged, want, "paged {f:?}");
        }
        assert!(
            nonempty > filters.len() / 2,
            "the fixture exercises matches"
        );
    }

    #[test]
    fn the_index_follows_changes() {
        let (full, all) = registry();
        let mut reg = Registry::new(full.genesis().clone()).expect("registry");
        reg.track_changes();
        let load = loader(&all);
        let mut index = SearchIndex::build(reg.state(), &load);
        // Feed the records in reverse id order: held records count later.
        for rec in all.values().rev() {
            reg.add(rec.clone()).expect("add");
            let changes = reg.take_changes();
            index.apply(reg.state(), &changes, &load);
        }
        let fresh = SearchIndex::build(reg.state(), &load);
        let f = Filters {
            include: vec![OfferStatus::Active, OfferStatus::Withdrawn],
            ..Filters::default()
        };
        let at = ts(T0 + 86_400);
        let got = index.search(reg.state(), &f, at, None, usize::MAX);
        assert_eq!(
            got.keys,
            fresh.search(reg.state(), &f, at, None, usize::MAX).keys
        );
        assert_eq!(got.keys, scan(reg.state(), &all, &f, at));
        assert_eq!(index.len(), reg.state().offers.len());
    }

    #[test]
    fn a_slot_whose_old_record_cannot_be_read_is_retired() {
        let (full, all) = registry();
        let key = full
            .state()
            .offers
            .keys()
            .find(|(_, o)| o.as_str() == "o0")
            .cloned()
            .expect("o0");
        let history = full.offer_history(&key.0, &key.1);
        let version = |n: u64| {
            history
                .versions
                .iter()
                .find(|v| v.version == n)
                .map(|v| v.record)
                .expect("version")
        };
        let (v1, v2) = (version(1), version(2));
        let mut reg = Registry::new(full.genesis().clone()).expect("registry");
        reg.track_changes();
        let mut index = SearchIndex::default();
        // Everything but o0's second version: its first version is indexed.
        let load = loader(&all);
        for rec in all.values().filter(|r| r.id() != v2) {
            reg.add(rec.clone()).expect("add");
            let changes = reg.take_changes();
            index.apply(reg.state(), &changes, &load);
        }
        let slot = index.order[&(Arc::new(key.0.clone()), key.1.clone())];
        // Then the second version, with the first one unreadable.
        let refusing = |id: &Hash32| (*id != v1).then(|| all.get(id).cloned()).flatten();
        reg.add(all[&v2].clone()).expect("add");
        let changes = reg.take_changes();
        index.apply(reg.state(), &changes, &refusing);
        assert!(!index.hot[slot as usize].live && index.docs[slot as usize].is_none());
        assert!(
            !index.free.contains(&slot),
            "a retired slot is never reused"
        );
        assert_ne!(index.order[&(Arc::new(key.0.clone()), key.1.clone())], slot);
        // Its postings are left behind and match nothing.
        for words in ["angebot 0", "rechenzentrum", ""] {
            let f = Filters {
                include: vec![OfferStatus::Active, OfferStatus::Withdrawn],
                words: Filters::words_of(words),
                ..Filters::default()
            };
            let at = ts(T0 + 86_400);
            let got = index.search(reg.state(), &f, at, None, usize::MAX);
            assert_eq!(got.keys, scan(reg.state(), &all, &f, at), "{words:?}");
        }
        assert_eq!(index.len(), reg.state().offers.len());
    }
}
