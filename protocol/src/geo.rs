//! The 396 municipalities of NRW and their Kreise (AGS, names; Destatis
//! Gemeindeverzeichnis, compiled in from `protocol/data/`), name resolution, and
//! whether a municipality may take an offer without a tender.

use crate::body::LegalBasisKind;
use std::sync::OnceLock;

/// A municipality (Gemeinde or kreisfreie Stadt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    /// 8-digit AGS.
    pub ags: String,
    pub name: String,
    /// 5-digit AGS of its Kreis (for a kreisfreie Stadt: the city itself).
    pub kreis_ags: String,
    pub kreis_name: String,
    pub population: u64,
}

/// A region above the municipality: Land, Regierungsbezirk, Kreis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub ags: String,
    pub name: String,
    pub level: String,
}

fn rows(text: &'static str) -> impl Iterator<Item = Vec<String>> {
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| {
        // These files hold no quoted commas.
        l.split(',').map(str::to_owned).collect()
    })
}

/// All municipalities, by AGS.
pub fn municipalities() -> &'static [Municipality] {
    static M: OnceLock<Vec<Municipality>> = OnceLock::new();
    M.get_or_init(|| {
        rows(include_str!("../data/municipalities.csv"))
            .filter(|f| f.len() == 5)
            .map(|f| Municipality {
                ags: f[0].clone(),
                name: f[1].clone(),
                kreis_ags: f[2].clone(),
                kreis_name: f[3].clone(),
                population: f[4].parse().unwrap_or(0),
            })
            .collect()
    })
}

/// Land, Regierungsbezirke and Kreise.
pub fn regions() -> &'static [Region] {
    static R: OnceLock<Vec<Region>> = OnceLock::new();
    R.get_or_init(|| {
        rows(include_str!("../data/regions.csv"))
            .filter(|f| f.len() == 3)
            .map(|f| Region {
                ags: f[0].clone(),
                name: f[1].clone(),
                level: f[2].clone(),
            })
            .collect()
    })
}

/// The name of a region or municipality with this AGS (any length).
pub fn name_of(ags: &str) -> Option<&'static str> {
    municipalities()
        .iter()
        .find(|m| m.ags == ags)
        .map(|m| m.name.as_str())
        .or_else(|| {
            regions()
                .iter()
                .find(|r| r.ags == ags)
                .map(|r| r.name.as_str())
        })
}

fn fold(s: &str) -> String {
    s.to_lowercase()
        .replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ß', "ss")
}

/// Resolves a municipality by 8-digit AGS or by name (case and umlauts ignored;
/// an exact name first, then a unique prefix). `Err` lists candidates when the
/// name is ambiguous, or is empty when nothing matches.
pub fn resolve(query: &str) -> Result<&'static Municipality, Vec<&'static Municipality>> {
    let q = query.trim();
    if let Some(m) = municipalities().iter().find(|m| m.ags == q) {
        return Ok(m);
    }
    let fq = fold(q);
    let exact: Vec<&Municipality> = municipalities()
        .iter()
        .filter(|m| fold(&m.name) == fq)
        .collect();
    if exact.len() == 1 {
        return Ok(exact[0]);
    }
    let prefix: Vec<&Municipality> = municipalities()
        .iter()
        .filter(|m| fold(&m.name).starts_with(&fq))
        .collect();
    match prefix.len() {
        1 => Ok(prefix[0]),
        _ if !exact.is_empty() => Err(exact),
        _ => Err(prefix),
    }
}

/// Municipalities whose name is close to `query` (case and umlauts ignored),
/// best first, for "did you mean": at most `n`, each within an edit distance
/// of a third of the query's length (at least 1, at most 3).
pub fn similar(query: &str, n: usize) -> Vec<&'static Municipality> {
    let q = fold(query.trim());
    let limit = (q.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &Municipality)> = municipalities()
        .iter()
        .map(|m| (crate::taxonomy::distance(&q, &fold(&m.name)), m))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    scored.into_iter().take(n).map(|(_, m)| m).collect()
}

/// Whether an AGS prefix names a place in the shipped data: the prefix of at
/// least one NRW municipality's AGS.
pub fn is_known_prefix(prefix: &str) -> bool {
    municipalities().iter().any(|m| m.ags.starts_with(prefix))
}

crate::text_enum! {
    /// How a municipality may take an offer.
    pub enum Procurement {
        /// It is a member or owner of the provider (in-house award, § 108 (1)-(5) GWB).
        InHouse = "in_house",
        /// Inter-municipal cooperation stated by the provider (§ 108 (6) GWB).
        InterMunicipal = "inter_municipal",
        /// A framework agreement already tendered, as the provider states.
        FrameworkAgreement = "framework_agreement",
        /// A tender is needed.
        Tender = "tender",
    }
}

impl Procurement {
    /// German label.
    pub fn label_de(self) -> &'static str {
        match self {
            Procurement::InHouse => "Inhouse-Vergabe (Mitglied/Träger)",
            Procurement::InterMunicipal => "Interkommunale Zusammenarbeit",
            Procurement::FrameworkAgreement => "Rahmenvertrag",
            Procurement::Tender => "Ausschreibung nötig",
        }
    }

    /// True if no tender is needed.
    pub fn tender_free(self) -> bool {
        self != Procurement::Tender
    }
}

/// Whether a municipality may take an offer without a tender, from three facts:
/// whether the provider's signed profile lists it (or its Kreis) among its
/// members or owners (in-house), whether the offer may be delivered there, and
/// the legal basis the offer states. `State::procurement` gathers the facts.
pub fn procurement_by(
    in_house: bool,
    delivered: bool,
    legal_basis: Option<LegalBasisKind>,
) -> Procurement {
    if in_house {
        return Procurement::InHouse;
    }
    match legal_basis {
        Some(LegalBasisKind::InterMunicipal) if delivered => Procurement::InterMunicipal,
        Some(LegalBasisKind::FrameworkAgreement) if delivered => Procurement::FrameworkAgreement,
        _ => Procurement::Tender,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_municipalities_load_and_resolve() {
        assert_eq!(municipalities().len(), 396);
        let pb = resolve("Paderborn").expect("unique");
        assert_eq!(pb.ags, "05774032");
        assert_eq!(pb.kreis_ags, "05774");
        assert_eq!(resolve("05158004").map(|m| m.name.as_str()), Ok("Erkrath"));
        assert_eq!(resolve("koeln").map(|m| m.ags.as_str()), Ok("05315000"));
        assert!(resolve("Nirgendwo").is_err_and(|c| c.is_empty()));
        assert_eq!(name_of("05158"), Some("Kreis Mettmann"));
    }

    #[test]
    fn near_misses_find_the_name_meant_and_unknown_prefixes_are_known_as_such() {
        let names =
            |q: &str| -> Vec<&str> { similar(q, 3).iter().map(|m| m.name.as_str()).collect() };
        assert_eq!(names("Paderbron"), ["Paderborn"]);
        assert_eq!(names("muenster"), ["Münster"]);
        assert_eq!(names("Dusseldorf"), ["Düsseldorf"]);
        assert!(names("Atlantis").is_empty());
        assert!(is_known_prefix("05774"));
        assert!(is_known_prefix("05"));
        assert!(!is_known_prefix("99999"));
        assert!(!is_known_prefix("06"));
    }
}
