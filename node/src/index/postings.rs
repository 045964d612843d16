//! Posting lists of the search index: the slots filed under one term, as a
//! sorted list while sparse and a bitmap once dense, with union and
//! intersection in every pairing of forms.

/// The slots filed under one term: a sorted list while sparse, a bitmap once
/// the list would take more room than the bitmap (a term in more than one
/// offer in 32, such as a common word or a large region). Back to a list when
/// it thins out to a quarter of that.
#[derive(Debug, Clone)]
pub(super) enum Postings {
    List(Vec<u32>),
    Bits { words: Vec<u64>, len: usize },
}

impl Default for Postings {
    fn default() -> Postings {
        Postings::List(Vec::new())
    }
}

pub(super) static NO_POSTINGS: Postings = Postings::List(Vec::new());

impl Postings {
    pub(super) fn len(&self) -> usize {
        match self {
            Postings::List(l) => l.len(),
            Postings::Bits { len, .. } => *len,
        }
    }

    pub(super) fn insert(&mut self, slot: u32) {
        match self {
            Postings::List(list) => {
                if let Err(i) = list.binary_search(&slot) {
                    list.insert(i, slot);
                }
                let top = list.last().map_or(0, |s| *s as usize + 1);
                // 4 bytes a listed slot against one bit per slot up to the top.
                if list.len() * 4 > top.div_ceil(64) * 8 && list.len() >= 64 {
                    let mut words = vec![0u64; top.div_ceil(64)];
                    for s in list.iter() {
                        words[*s as usize / 64] |= 1 << (s % 64);
                    }
                    *self = Postings::Bits {
                        words,
                        len: list.len(),
                    };
                }
            }
            Postings::Bits { words, len } => {
                let (w, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                if w >= words.len() {
                    words.resize(w + 1, 0);
                }
                if words[w] & bit == 0 {
                    words[w] |= bit;
                    *len += 1;
                }
            }
        }
    }

    pub(super) fn remove(&mut self, slot: u32) {
        match self {
            Postings::List(list) => {
                if let Ok(i) = list.binary_search(&slot) {
                    list.remove(i);
                }
            }
            Postings::Bits { words, len } => {
                let (w, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                if words.get(w).is_some_and(|x| x & bit != 0) {
                    words[w] &= !bit;
                    *len -= 1;
                }
                if *len * 4 * 4 < words.len() * 8 {
                    *self = Postings::List(self.iter().collect());
                }
            }
        }
    }

    pub(super) fn contains(&self, slot: u32) -> bool {
        match self {
            Postings::List(list) => list.binary_search(&slot).is_ok(),
            Postings::Bits { words, .. } => words
                .get(slot as usize / 64)
                .is_some_and(|x| x & (1 << (slot % 64)) != 0),
        }
    }

    /// The slots in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let (list, words) = match self {
            Postings::List(l) => (l.as_slice(), &[][..]),
            Postings::Bits { words, .. } => (&[][..], words.as_slice()),
        };
        list.iter()
            .copied()
            .chain(words.iter().enumerate().flat_map(|(i, w)| {
                let mut w = *w;
                std::iter::from_fn(move || {
                    (w != 0).then(|| {
                        let bit = w.trailing_zeros();
                        w &= w - 1;
                        i as u32 * 64 + bit
                    })
                })
            }))
    }

    pub(super) fn to_vec(&self) -> Vec<u32> {
        match self {
            Postings::List(list) => list.clone(),
            Postings::Bits { words, len } => {
                let mut out = Vec::with_capacity(*len);
                for (i, w) in words.iter().enumerate() {
                    let mut w = *w;
                    while w != 0 {
                        out.push(i as u32 * 64 + w.trailing_zeros());
                        w &= w - 1;
                    }
                }
                out
            }
        }
    }

    fn bits(words: Vec<u64>) -> Postings {
        let len = words.iter().map(|w| w.count_ones() as usize).sum();
        Postings::Bits { words, len }
    }

    /// The slots in both.
    pub(super) fn and(&self, other: &Postings) -> Postings {
        match (self, other) {
            (Postings::List(a), Postings::List(b)) => {
                let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
                Postings::List(intersect(small, large))
            }
            (Postings::List(list), bits) | (bits, Postings::List(list)) => {
                Postings::List(list.iter().copied().filter(|s| bits.contains(*s)).collect())
            }
            (Postings::Bits { words: a, .. }, Postings::Bits { words: b, .. }) => {
                Postings::bits(a.iter().zip(b).map(|(x, y)| x & y).collect())
            }
        }
    }
}

/// Union of postings: lists merged pairwise (they are few), and a bitmap if
/// any of them is one.
pub(super) fn union<'a>(lists: impl Iterator<Item = &'a Postings>) -> Postings {
    let mut bits: Vec<u64> = Vec::new();
    let mut out: Vec<u32> = Vec::new();
    for p in lists {
        match p {
            Postings::Bits { words, .. } => {
                if bits.len() < words.len() {
                    bits.resize(words.len(), 0);
                }
                for (b, w) in bits.iter_mut().zip(words) {
                    *b |= w;
                }
            }
            Postings::List(list) if out.is_empty() => out = list.clone(),
            Postings::List(list) => out = merge(&out, list),
        }
    }
    if bits.is_empty() {
        return Postings::List(out);
    }
    for s in out {
        let w = s as usize / 64;
        if w >= bits.len() {
            bits.resize(w + 1, 0);
        }
        bits[w] |= 1 << (s % 64);
    }
    Postings::bits(bits)
}

/// Sorted union of two sorted lists.
fn merge(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x < y => a.next(),
            (Some(x), Some(y)) if x > y => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        merged.extend(next.copied());
    }
    merged
}

/// Sorted intersection of two sorted lists.
fn intersect(small: &[u32], large: &[u32]) -> Vec<u32> {
    if small.len() * 16 < large.len() {
        return small
            .iter()
            .copied()
            .filter(|x| large.binary_search(x).is_ok())
            .collect();
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(small.len());
    while i < small.len() && j < large.len() {
        match small[i].cmp(&large[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(small[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postings_match_a_set_through_list_and_bitmap_forms() {
        let mut p = Postings::default();
        let mut set = std::collections::BTreeSet::new();
        let mut x: u64 = 7;
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let mut forms = (false, false);
        for round in 0..6 {
            // Dense rounds fill slots below 2,000; sparse rounds empty them.
            for _ in 0..3000 {
                let slot = next(2000) as u32;
                if round % 2 == 0 {
                    p.insert(slot);
                    set.insert(slot);
                } else {
                    p.remove(slot);
                    set.remove(&slot);
                }
                match &p {
                    Postings::List(_) => forms.0 = true,
                    Postings::Bits { .. } => forms.1 = true,
                }
            }
            assert_eq!(p.len(), set.len());
            assert_eq!(p.to_vec(), set.iter().copied().collect::<Vec<_>>());
        }
        assert_eq!(forms, (true, true), "both forms were used");
        let other = Postings::List(vec![1, 5, 4000]);
        let mut want: Vec<u32> = set.iter().copied().chain([1, 5, 4000]).collect();
        want.sort();
        want.dedup();
        assert_eq!(union([&p, &other, &NO_POSTINGS].into_iter()).to_vec(), want);
        assert_eq!(union([&other, &p].into_iter()).to_vec(), want);
        // Intersections in every pairing of forms.
        let dense = Postings::List((0..3000).step_by(3).collect());
        let mut dense_bits = Postings::default();
        for s in dense.to_vec() {
            dense_bits.insert(s);
        }
        assert!(matches!(dense_bits, Postings::Bits { .. }));
        for a in [&p, &other] {
            let want: Vec<u32> = a.to_vec().into_iter().filter(|s| s % 3 == 0).collect();
            assert_eq!(a.and(&dense).to_vec(), want);
            assert_eq!(dense_bits.and(a).to_vec(), want);
        }
        assert_eq!(dense_bits.and(&dense_bits).to_vec(), dense.to_vec());
    }
}
