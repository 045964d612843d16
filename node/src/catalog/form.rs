//! The catalog's query parameters, named in German, read into the API's
//! [`Filters`]. Unlike the API the catalog does not refuse a bad value: it
//! says what it could not read and shows what it can.

use kx_api::{Filters, ProcurementFilter};
use kx_protocol::geo::{self, Municipality};

/// Query parameters; a name may repeat (`o` on the compare page). At most 64,
/// each value cut to 200 characters.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(raw: Option<String>) -> Params {
        let raw = raw.unwrap_or_default();
        Params(
            form_urlencoded::parse(raw.as_bytes())
                .take(64)
                .map(|(k, v)| (k.into_owned(), v.chars().take(200).collect()))
                .collect(),
        )
    }

    /// The first non-blank value of `k`, trimmed.
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, v)| key == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// The parameters that have a value, as a query string (without
    /// `suche`): what a page passes on as `suche` to lead back here.
    pub(super) fn search_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            if k != "suche" && !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }

    /// The search this page was reached from (`?suche=` holds its query
    /// string), as a link back. Re-encoded pair by pair, so it can only lead
    /// to the search page.
    pub(super) fn back_to_search(&self) -> Option<String> {
        let raw = self.get("suche")?;
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if k != "suche" {
                q.append_pair(&k, &v);
            }
        }
        Some(format!("/?{}", q.finish()))
    }

    /// Every value of `k`.
    pub(super) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The parameters but `k`.
    pub(super) fn without(&self, k: &str) -> Vec<(String, String)> {
        self.0.iter().filter(|(key, _)| key != k).cloned().collect()
    }

    /// The municipality `gemeinde` names, if it resolves.
    pub(super) fn municipality(&self) -> Option<&'static Municipality> {
        self.get("gemeinde").and_then(|g| geo::resolve(g).ok())
    }
}

/// The search form, read.
#[derive(Debug)]
pub(super) struct Search {
    pub(super) filters: Filters,
    /// A value named something that cannot exist (a provider that is not a
    /// did, a malformed category): nothing matches.
    pub(super) nothing: bool,
    /// What the form could not read, for the person searching.
    pub(super) notice: Option<String>,
    /// For a municipality name that matches none: the names meant, each with
    /// the same search for it.
    pub(super) suggestions: Vec<(String, String)>,
    /// The results page asked for, from 1.
    pub(super) page: usize,
}

/// The value of `k` as a `T`; one that does not parse sets `nothing`.
fn parsed<T: std::str::FromStr>(p: &Params, k: &str, nothing: &mut bool) -> Option<T> {
    let v = p.get(k)?.parse().ok();
    *nothing |= v.is_none();
    v
}

/// Reads the search form: `gemeinde` (name or AGS), `kategorie`, `ozg`,
/// `zertifikat`, `standard` (a stewards' standard met), `anbieter`, `vergabe` (`frei` or a procurement kind; with a
/// municipality), `leika` (a LeiKa key, from an offer page's link), `text`,
/// `seite`.
pub(super) fn search(p: &Params) -> Search {
    let mut nothing = false;
    let mut notice = None;
    let mut suggestions = Vec::new();
    let municipality = match p.get("gemeinde") {
        None => None,
        Some(g) => match geo::resolve(g) {
            Ok(m) => Some(m),
            Err(c) if c.is_empty() => {
                notice = Some(format!("Keine Gemeinde in NRW heißt „{g}“."));
                suggestions = geo::similar(g, 3)
                    .iter()
                    .map(|m| {
                        let mut q = form_urlencoded::Serializer::new(String::new());
                        q.append_pair("gemeinde", &m.name);
                        for (k, v) in p.without("gemeinde") {
                            q.append_pair(&k, &v);
                        }
                        (m.name.clone(), format!("/?{}", q.finish()))
                    })
                    .collect();
                None
            }
            Err(c) => {
                let names: Vec<String> = c
                    .iter()
                    .take(8)
                    .map(|m| format!("{} ({})", m.name, m.ags))
                    .collect();
                notice = Some(format!("„{g}“ ist mehrdeutig: {}.", names.join(", ")));
                None
            }
        },
    };
    let category = parsed(p, "kategorie", &mut nothing);
    let ozg = parsed(p, "ozg", &mut nothing);
    let cert = parsed(p, "zertifikat", &mut nothing);
    let standard = parsed(p, "standard", &mut nothing);
    let leika = parsed(p, "leika", &mut nothing);
    let provider = parsed(p, "anbieter", &mut nothing);
    let procurement = municipality.and(p.get("vergabe")).and_then(|v| {
        let f = match v {
            "frei" => Some(ProcurementFilter::TenderFree),
            other => other.parse::<ProcurementFilter>().ok(),
        };
        nothing |= f.is_none();
        f
    });
    Search {
        filters: Filters {
            municipality,
            procurement,
            category,
            ozg,
            cert,
            standard,
            leika,
            provider,
            words: p.get("text").map(Filters::words_of).unwrap_or_default(),
            ..Filters::default()
        },
        nothing,
        notice,
        suggestions,
        page: p
            .get("seite")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1),
    }
}
