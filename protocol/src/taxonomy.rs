//! The service taxonomy (categories with parents, standards and certifications),
//! compiled in from `protocol/data/`, copied from the KDN reference data.
//!
//! Records may use slugs that are not listed (the taxonomy grows); clients warn
//! about them and search treats a category as including its sub-categories.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A service category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub slug: String,
    pub parent: Option<String>,
    pub label_de: String,
    pub label_en: String,
}

/// A standard, certification, law or framework an offer can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standard {
    pub slug: String,
    pub kind: String,
    pub name: String,
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn rows(text: &'static str) -> impl Iterator<Item = Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(csv_fields)
}

/// All categories, in taxonomy order (parents before children).
pub fn categories() -> &'static [Category] {
    static CATS: OnceLock<Vec<Category>> = OnceLock::new();
    CATS.get_or_init(|| {
        rows(include_str!("../data/categories.csv"))
            .filter(|f| f.len() == 4)
            .map(|f| Category {
                slug: f[0].clone(),
                parent: (!f[1].is_empty()).then(|| f[1].clone()),
                label_de: f[2].clone(),
                label_en: f[3].clone(),
            })
            .collect()
    })
}

/// All standards and certifications.
pub fn standards() -> &'static [Standard] {
    static STDS: OnceLock<Vec<Standard>> = OnceLock::new();
    STDS.get_or_init(|| {
        rows(include_str!("../data/standards.csv"))
            .filter(|f| f.len() == 3)
            .map(|f| Standard {
                slug: f[0].clone(),
                kind: f[1].clone(),
                name: f[2].clone(),
            })
            .collect()
    })
}

/// Name of an OZG-Leistung (OZG-Umsetzungskatalog, 557 entries).
pub fn ozg_name(id: &str) -> Option<&'static str> {
    static OZG: OnceLock<Vec<(String, String)>> = OnceLock::new();
    OZG.get_or_init(|| {
        rows(include_str!("../data/ozg.csv"))
            .filter(|f| f.len() == 2)
            .map(|f| (f[0].clone(), f[1].clone()))
            .collect()
    })
    .iter()
    .find(|(k, _)| k == id)
    .map(|(_, v)| v.as_str())
}

/// Name of a LeiKa-Leistung by its 14-digit key (Leistungskatalog, 4,813
/// entries).
pub fn leika_name(key: &str) -> Option<&'static str> {
    static LEIKA: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    LEIKA
        .get_or_init(|| {
            rows(include_str!("../data/leika.csv"))
                .filter(|f| f.len() == 2)
                .map(|f| (f[0].clone(), f[1].clone()))
                .collect()
        })
        .get(key)
        .map(String::as_str)
}

/// The category with this slug.
pub fn category(slug: &str) -> Option<&'static Category> {
    categories().iter().find(|c| c.slug == slug)
}

/// True if `slug` is `ancestor` or lies below it in the tree.
pub fn is_within(slug: &str, ancestor: &str) -> bool {
    let mut cur = Some(slug);
    // The tree is shallow; the bound guards against a cycle in edited data.
    for _ in 0..16 {
        let Some(s) = cur else { return false };
        if s == ancestor {
            return true;
        }
        cur = category(s).and_then(|c| c.parent.as_deref());
    }
    false
}

/// Known slugs closest to `slug` (edit distance), best first, for "did you mean".
pub fn nearest<'a>(slug: &str, known: impl Iterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = known.map(|k| (distance(slug, k), k)).collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, k)| k).collect()
}

/// Levenshtein distance in characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxonomy_loads_with_its_tree() {
        assert_eq!(categories().len(), 69);
        assert!(standards().len() >= 50);
        assert!(is_within("einwohnerwesen", "fachverfahren"));
        assert!(is_within("colocation", "infrastruktur"));
        assert!(!is_within("colocation", "fachverfahren"));
        assert_eq!(ozg_name("10124"), Some("Wohnsitzmeldungen"));
        assert_eq!(leika_name("99001001000000"), Some("Abfallgebühr"));
        assert_eq!(leika_name("99001001000001"), None);
        let cat = category("pass-ausweiswesen").expect("known");
        assert_eq!(cat.parent.as_deref(), Some("fachverfahren"));
    }

    #[test]
    fn nearest_suggests_close_slugs() {
        let near = nearest(
            "einwohnerwesn",
            categories().iter().map(|c| c.slug.as_str()),
            2,
        );
        assert_eq!(near[0], "einwohnerwesen");
    }
}
