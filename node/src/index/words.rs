//! Free-text search: the distinct lowercase whitespace tokens of all offer
//! texts, with a trigram index to find the tokens that contain a word.

use super::postings::{Postings, union};
use kx_protocol::body::OfferBody;
use std::collections::HashMap;

/// The distinct lowercase whitespace tokens of all offer texts.
#[derive(Debug, Default)]
pub(super) struct Words {
    pub(super) ids: HashMap<Box<str>, u32>,
    text: Vec<Box<str>>,
    /// token -> slots of the offers whose text has it, sorted
    pub(super) postings: Vec<Postings>,
    /// three consecutive characters -> tokens that have them, sorted
    trigrams: HashMap<[char; 3], Vec<u32>>,
}

impl Words {
    pub(super) fn id(&mut self, token: &str) -> u32 {
        if let Some(id) = self.ids.get(token) {
            return *id;
        }
        let id = self.text.len() as u32;
        self.ids.insert(token.into(), id);
        self.text.push(token.into());
        self.postings.push(Postings::default());
        let chars: Vec<char> = token.chars().collect();
        for t in chars.windows(3) {
            let list = self.trigrams.entry([t[0], t[1], t[2]]).or_default();
            if list.last() != Some(&id) {
                list.push(id);
            }
        }
        id
    }

    /// Slots of the offers whose text contains `word`, sorted.
    pub(super) fn matching(&self, word: &str) -> Postings {
        let chars: Vec<char> = word.chars().collect();
        let tokens: Vec<u32> = if chars.len() >= 3 {
            let mut best: Option<&Vec<u32>> = None;
            for t in chars.windows(3) {
                match self.trigrams.get(&[t[0], t[1], t[2]]) {
                    None => return Postings::default(),
                    Some(l) if best.is_none_or(|b| l.len() < b.len()) => best = Some(l),
                    Some(_) => {}
                }
            }
            best.into_iter()
                .flatten()
                .copied()
                .filter(|id| self.text[*id as usize].contains(word))
                .collect()
        } else {
            (0..self.text.len() as u32)
                .filter(|id| self.text[*id as usize].contains(word))
                .collect()
        };
        union(tokens.iter().map(|t| &self.postings[*t as usize]))
    }
}

/// The text a free-text search looks in, lowercase (the same text as
/// `Filters::matches`, kx-api).
pub(super) fn text_of(b: &OfferBody) -> String {
    format!("{} {} {}", b.title, b.summary, b.description).to_lowercase()
}

/// The distinct whitespace tokens of `text`.
pub(super) fn tokens(text: &str) -> Vec<&str> {
    let mut tokens: Vec<&str> = text.split_whitespace().collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}
