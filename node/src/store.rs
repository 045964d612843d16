//! Durable storage of verified records behind a small trait, with a sled
//! implementation.
//!
//! Layout 2 (sled trees):
//! - `arrival`: arrival number (u64, big-endian) → `[VALUE_JSON] ++ canonical JSON`
//!   of the record;
//! - `by_id`: record id (32 bytes) → its arrival number;
//! - `meta`: `format` → 2, `federation` → hex id.
//!
//! Records are kept in the order they were written, not by id, because of how
//! sled 0.34 caches pages (measured with 100,000 records of 1.3 KB, 8 MiB cache):
//! writes at random keys touch every leaf and kept about 75 MB of pages in memory,
//! appends at the end keep about 32 MB; and a start that reads the store with
//! `get`s in key order keeps about 36 MB where an iterator kept 130 MB (sled
//! counts a page access for eviction on `get`, not on iteration). `by_id` is small
//! (40 bytes a record). The indexes a node searches with are kept in memory (the
//! registry and `search.rs`), rebuilt from the records at start; the disk holds
//! only what cannot be derived.
//!
//! A batch of records is written as sled batches of at most 512 records (bodies
//! first, then their `by_id` entries), then `flush` makes it durable: sled writes
//! its log and calls `sync_file_range`/`fsync` on it, so an acknowledged record
//! survives a process crash (SIGKILL); surviving power loss additionally depends
//! on the disk honouring the flush. sled recovers a prefix of what was written,
//! so after a crash only the last bodies can lack their `by_id` entry; `open`
//! adds them. Layout 1 (`records`: id → value) is migrated on open.

use kx_protocol::{Hash32, UnverifiedRecord, VerifiedRecord};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Format byte in front of every stored record value: canonical JSON follows.
pub const VALUE_JSON: u8 = 1;

/// The store layout this version writes (`meta/format`).
pub const LAYOUT: u8 = 2;

/// Records per sled batch.
const SLED_BATCH: usize = 512;

/// A storage failure. The node stops accepting writes after one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored value for {key} has unknown format {format}")]
    UnknownFormat { key: String, format: u8 },
    #[error("the store belongs to federation {found}, the genesis is {expected}")]
    OtherFederation { found: String, expected: String },
    #[error("stored record {id} is damaged: {reason}")]
    Damaged { id: String, reason: String },
}

impl StoreError {
    /// Another handle holds the store's file lock: another process (a running
    /// node), or, for a moment after it was dropped, this process's own.
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Sled(sled::Error::Io(e))
            if e.to_string().contains("could not acquire lock"))
    }
}

/// What the node needs from storage.
pub trait Store: Send + Sync {
    /// Writes records (not yet durable). If it fails, some of them may be
    /// written: the node then takes no more writes.
    fn put(&self, batch: &[VerifiedRecord]) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Deletes records (not yet durable): what the stewards cut off
    /// (`Registry::prune`). Ids not stored are skipped.
    fn remove(&self, ids: &[Hash32]) -> Result<(), StoreError>;
    /// The canonical JSON of a record.
    fn get(&self, id: &Hash32) -> Result<Option<Vec<u8>>, StoreError>;
    /// Where a record is in the order records were written (see `scan`).
    fn position(&self, id: &Hash32) -> Result<Option<u64>, StoreError>;
    /// Records (id and canonical JSON) in id order, starting after `after`.
    fn page(
        &self,
        after: Option<&Hash32>,
        limit: usize,
    ) -> Result<Vec<(Hash32, Vec<u8>)>, StoreError>;
    /// Records (position and canonical JSON) in the order they were written,
    /// starting after position `after`: the cheap way to read the whole store.
    fn scan(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Number of stored records.
    fn len(&self) -> usize;
    /// True if nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads back a record the registry holds under `id`, to show or index it (the
/// registry keeps offers as a few fields, their bodies stay here). Signatures are
/// not checked again: the record was verified when it was taken, or at start, and
/// the id binds all of it but `sig` to the verified one. Pages never show `sig`,
/// and nothing read this way is passed on (peers get the stored bytes, which
/// they verify).
pub fn load(store: &dyn Store, id: &Hash32) -> Result<Option<VerifiedRecord>, StoreError> {
    let Some(bytes) = store.get(id)? else {
        return Ok(None);
    };
    let damaged = |reason: String| StoreError::Damaged {
        id: id.to_hex(),
        reason,
    };
    let rec = UnverifiedRecord::parse(&bytes)
        .map_err(|e| damaged(e.to_string()))?
        .assume_verified();
    if rec.id() != *id {
        return Err(damaged(format!("its content has id {}", rec.id().to_hex())));
    }
    Ok(Some(rec))
}

/// sled-backed store.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    arrival: sled::Tree,
    by_id: sled::Tree,
    /// The arrival number the next record gets.
    next: AtomicU64,
}

fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical JSON in a stored value.
fn value(key: &[u8], v: &[u8]) -> Result<Vec<u8>, StoreError> {
    match v.split_first() {
        Some((&VALUE_JSON, rest)) => Ok(rest.to_vec()),
        other => Err(StoreError::UnknownFormat {
            key: hex(key),
            format: other.map_or(0, |(f, _)| *f),
        }),
    }
}

fn stored_value(rec: &VerifiedRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(rec.canonical_json().len() + 1);
    v.push(VALUE_JSON);
    v.extend_from_slice(rec.canonical_json());
    v
}

fn position_of(key: &[u8], v: &[u8]) -> Result<u64, StoreError> {
    let at: [u8; 8] = v.try_into().map_err(|_| StoreError::Damaged {
        id: hex(key),
        reason: "its position is not 8 bytes".into(),
    })?;
    Ok(u64::from_be_bytes(at))
}

/// The records tree of layout 1 (id → value) and the index trees of earlier
/// versions that nothing read.
const LAYOUT_1_TREES: [&str; 5] = [
    "records",
    "by_author",
    "by_offer",
    "by_category",
    "by_region",
];

impl SledStore {
    /// Opens a store this process has just closed: sled lets go of its file
    /// lock once its last internal reference is gone, which may be a moment
    /// after the handle is dropped, so a lock still held is waited for (at
    /// most 20 s); a store another process holds fails once the wait is over.
    pub fn reopen(dir: &Path, federation: &Hash32) -> Result<SledStore, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            match SledStore::open(dir, federation) {
                Err(e) if e.is_locked() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Opens (or creates) the store in `dir` for `federation`.
    pub fn open(dir: &Path, federation: &Hash32) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // Records are appended and read in order (module doc), so sled's
            // page cache only needs the pages being written and read.
            .cache_capacity(16 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            // Durability comes from our explicit flush after each group commit.
            .flush_every_ms(None)
            .open()?;
        let meta = db.open_tree("meta")?;
        let fed = federation.to_hex();
        match meta.get("federation")? {
            Some(found) if found.as_ref() != fed.as_bytes() => {
                return Err(StoreError::OtherFederation {
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: fed,
                });
            }
            Some(_) => {}
            None => {
                meta.insert("federation", fed.as_bytes())?;
                meta.insert("format", &[LAYOUT])?;
                db.flush()?;
            }
        }
        let layout = meta.get("format")?.map(|f| f.first().copied().unwrap_or(0));
        let store = SledStore {
            arrival: db.open_tree("arrival")?,
            by_id: db.open_tree("by_id")?,
            next: AtomicU64::new(0),
            db,
        };
        match layout {
            Some(LAYOUT) => {}
            Some(1) => store.migrate_layout_1(&meta)?,
            other => {
                return Err(StoreError::UnknownFormat {
                    key: "meta/format".into(),
                    format: other.unwrap_or(0),
                });
            }
        }
        // A crash during layout 1's migration may leave its trees behind.
        for old in LAYOUT_1_TREES {
            store.db.drop_tree(old)?;
        }
        if let Some((last, _)) = store.arrival.last()? {
            let at = position_of(b"arrival", &last)?;
            store.next.store(at.saturating_add(1), Ordering::Relaxed);
        }
        store.index_tail()?;
        Ok(store)
    }

    /// Gives `by_id` entries to the last written records that lack them (a crash
    /// between the two sled batches of a write).
    fn index_tail(&self) -> Result<(), StoreError> {
        let mut missing = sled::Batch::default();
        let mut any = false;
        for item in self.arrival.iter().rev() {
            let (at, v) = item?;
            // Unreadable values are left to the start, which reports them.
            let Ok(rec) = value(&at, &v).and_then(|json| {
                UnverifiedRecord::parse(&json).map_err(|e| StoreError::Damaged {
                    id: hex(&at),
                    reason: e.to_string(),
                })
            }) else {
                continue;
            };
            let id = rec.id();
            if self.by_id.get(id.0)?.is_some() {
                break;
            }
            missing.insert(&id.0[..], at);
            any = true;
        }
        if any {
            self.by_id.apply_batch(missing)?;
            self.db.flush()?;
        }
        Ok(())
    }

    /// Rewrites a layout 1 store (`records`: id → value) in layout 2, in id
    /// order. Each step is flushed before the next, so a crash repeats it.
    fn migrate_layout_1(&self, meta: &sled::Tree) -> Result<(), StoreError> {
        self.arrival.clear()?;
        self.by_id.clear()?;
        let old = self.db.open_tree("records")?;
        let mut at = 0u64;
        let (mut bodies, mut ids) = (sled::Batch::default(), sled::Batch::default());
        for item in old.iter() {
            let (id, v) = item?;
            bodies.insert(&at.to_be_bytes()[..], v);
            ids.insert(id, &at.to_be_bytes()[..]);
            at += 1;
            if at.is_multiple_of(SLED_BATCH as u64) {
                self.arrival.apply_batch(std::mem::take(&mut bodies))?;
                self.by_id.apply_batch(std::mem::take(&mut ids))?;
            }
        }
        self.arrival.apply_batch(bodies)?;
        self.by_id.apply_batch(ids)?;
        self.db.flush()?;
        meta.insert("format", &[LAYOUT])?;
        self.db.flush()?;
        tracing::info!(records = at, "store migrated to layout {LAYOUT}");
        Ok(())
    }

    fn body_at(&self, id: &[u8], at: &[u8]) -> Result<Vec<u8>, StoreError> {
        match self.arrival.get(at)? {
            Some(v) => value(at, &v),
            None => Err(StoreError::Damaged {
                id: hex(id),
                reason: format!("no record at its position {}", hex(at)),
            }),
        }
    }
}

impl Store for SledStore {
    fn put(&self, batch: &[VerifiedRecord]) -> Result<(), StoreError> {
        // In sled batches of bounded size: sled applies a batch under one
        // epoch guard, so the page versions a huge batch replaces are freed
        // only at its end (a catch-up's 100,000 records in one batch took
        // 7.7 s, and the node 2 GB). Durability comes from `flush` after all.
        for part in batch.chunks(SLED_BATCH) {
            let first = self.next.fetch_add(part.len() as u64, Ordering::Relaxed);
            let (mut bodies, mut ids) = (sled::Batch::default(), sled::Batch::default());
            for (at, rec) in (first..).zip(part) {
                bodies.insert(&at.to_be_bytes()[..], stored_value(rec));
                ids.insert(&rec.id().0[..], &at.to_be_bytes()[..]);
            }
            // Bodies first: an id never names a position without its record.
            self.arrival.apply_batch(bodies)?;
            self.by_id.apply_batch(ids)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn remove(&self, ids: &[Hash32]) -> Result<(), StoreError> {
        for part in ids.chunks(SLED_BATCH) {
            let (mut bodies, mut gone) = (sled::Batch::default(), sled::Batch::default());
            for id in part {
                if let Some(at) = self.by_id.get(id.0)? {
                    bodies.remove(at);
                    gone.remove(&id.0[..]);
                }
            }
            // Ids first: an id never names a position without its record.
            self.by_id.apply_batch(gone)?;
            self.arrival.apply_batch(bodies)?;
        }
        Ok(())
    }

    fn get(&self, id: &Hash32) -> Result<Option<Vec<u8>>, StoreError> {
        match self.by_id.get(id.0)? {
            Some(at) => Ok(Some(self.body_at(&id.0, &at)?)),
            None => Ok(None),
        }
    }

    fn position(&self, id: &Hash32) -> Result<Option<u64>, StoreError> {
        match self.by_id.get(id.0)? {
            Some(at) => Ok(Some(position_of(&id.0, &at)?)),
            None => Ok(None),
        }
    }

    fn page(
        &self,
        after: Option<&Hash32>,
        limit: usize,
    ) -> Result<Vec<(Hash32, Vec<u8>)>, StoreError> {
        let iter = match after {
            Some(a) => self.by_id.range((
                std::ops::Bound::Excluded(a.0.to_vec()),
                std::ops::Bound::Unbounded,
            )),
            None => self.by_id.iter(),
        };
        let mut out = Vec::new();
        for item in iter.take(limit) {
            let (k, at) = item?;
            let id: [u8; 32] = k.as_ref().try_into().map_err(|_| StoreError::Damaged {
                id: hex(&k),
                reason: "a key that is not a record id".into(),
            })?;
            out.push((Hash32(id), self.body_at(&k, &at)?));
        }
        Ok(out)
    }

    fn scan(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        // `get`s in key order, not an iterator: see the module doc. Positions
        // are dense but for writes that failed, which the loop steps over.
        let end = self.next.load(Ordering::Relaxed);
        let mut out = Vec::new();
        let mut at = after.map_or(0, |a| a.saturating_add(1));
        while at < end && out.len() < limit {
            let key = at.to_be_bytes();
            if let Some(v) = self.arrival.get(key)? {
                out.push((at, value(&key, &v)?));
            }
            at += 1;
        }
        Ok(out)
    }

    /// Counts `by_id` (sled counts by walking the tree; it is small).
    fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("kx-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn records(n: u8) -> Vec<VerifiedRecord> {
        let key = kx_protocol::SecretKey::from_seed([7; 32]).expect("key");
        let t0: kx_protocol::Timestamp = "2026-01-15T09:00:00Z".parse().expect("ts");
        (0..n)
            .map(|i| {
                let name = format!("Test {i}").parse().expect("name");
                kx_protocol::author::genesis(name, vec![key.did().clone()], 1, &key, &[&key], t0)
                    .expect("genesis")
            })
            .collect()
    }

    fn setup(name: &str, n: u8) -> (std::path::PathBuf, Hash32, Vec<VerifiedRecord>) {
        (tempdir(name), Hash32([1; 32]), records(n))
    }

    fn json(r: &VerifiedRecord) -> Vec<u8> {
        r.canonical_json().to_vec()
    }

    #[test]
    fn records_read_back_by_id_in_id_order_and_in_written_order() {
        let (dir, fed, recs) = setup("orders", 5);
        {
            let s = SledStore::open(&dir, &fed).expect("open");
            s.put(&recs[..2]).expect("put");
            s.put(&recs[2..4]).expect("put");
            s.flush().expect("flush");
        }
        let s = SledStore::reopen(&dir, &fed).expect("reopen");
        s.put(&recs[4..]).expect("put after reopen");
        for (at, r) in recs.iter().enumerate() {
            assert_eq!(s.get(&r.id()).expect("get"), Some(json(r)));
            assert_eq!(s.position(&r.id()).expect("position"), Some(at as u64));
        }
        assert_eq!(s.get(&Hash32([9; 32])).expect("get"), None);
        let scanned: Vec<_> = s.scan(None, 3).expect("scan");
        let rest: Vec<_> = s.scan(Some(2), 10).expect("scan");
        let all: Vec<_> = recs
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u64, json(r)))
            .collect();
        assert_eq!([scanned, rest].concat(), all);
        let mut by_id: Vec<_> = recs.iter().map(|r| (r.id(), json(r))).collect();
        by_id.sort();
        let first = s.page(None, 2).expect("page");
        let rest = s.page(Some(&first[1].0), 10).expect("page");
        assert_eq!([first, rest].concat(), by_id);
        assert_eq!(s.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_body_whose_id_entry_was_lost_is_found_after_reopening() {
        let (dir, fed, recs) = setup("tail", 3);
        {
            let s = SledStore::open(&dir, &fed).expect("open");
            s.put(&recs).expect("put");
            // What a crash between the two batches of a write leaves.
            s.by_id.remove(recs[2].id().0).expect("remove");
            s.by_id.remove(recs[1].id().0).expect("remove");
            s.flush().expect("flush");
            assert_eq!(s.get(&recs[2].id()).expect("get"), None);
        }
        let s = SledStore::reopen(&dir, &fed).expect("reopen");
        for r in &recs {
            assert_eq!(s.get(&r.id()).expect("get"), Some(json(r)));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn removed_records_are_gone_from_every_read_and_stay_gone() {
        let (dir, fed, recs) = setup("remove", 4);
        {
            let s = SledStore::open(&dir, &fed).expect("open");
            s.put(&recs).expect("put");
            let absent = Hash32([7; 32]);
            s.remove(&[recs[1].id(), recs[3].id(), absent])
                .expect("remove");
            s.flush().expect("flush");
            assert_eq!(s.len(), 2);
            assert_eq!(s.get(&recs[1].id()).expect("get"), None);
            assert_eq!(s.position(&recs[3].id()).expect("position"), None);
        }
        let s = SledStore::reopen(&dir, &fed).expect("reopen");
        assert_eq!(s.len(), 2);
        let scanned: Vec<Vec<u8>> = s
            .scan(None, 10)
            .expect("scan")
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(scanned, vec![json(&recs[0]), json(&recs[2])]);
        let paged = s.page(None, 10).expect("page");
        assert_eq!(paged.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_layout_1_store_is_migrated() {
        let (dir, fed, recs) = setup("layout1", 3);
        {
            let db = sled::Config::new()
                .path(&dir)
                .flush_every_ms(None)
                .open()
                .expect("sled");
            let meta = db.open_tree("meta").expect("meta");
            meta.insert("federation", fed.to_hex().as_bytes())
                .expect("meta");
            meta.insert("format", &[1u8]).expect("meta");
            let old = db.open_tree("records").expect("records");
            for r in &recs {
                old.insert(r.id().0, stored_value(r)).expect("insert");
            }
            db.open_tree("by_region").expect("legacy tree");
            db.flush().expect("flush");
        }
        let s = SledStore::reopen(&dir, &fed).expect("open");
        let mut by_id: Vec<_> = recs.iter().map(|r| (r.id(), json(r))).collect();
        by_id.sort();
        assert_eq!(s.page(None, 10).expect("page"), by_id);
        let scanned: Vec<_> = s
            .scan(None, 10)
            .expect("scan")
            .into_iter()
            .map(|(_, j)| j)
            .collect();
        assert_eq!(
            scanned,
            by_id.iter().map(|(_, j)| j.clone()).collect::<Vec<_>>()
        );
        let names = s.db.tree_names();
        assert!(
            !names
                .iter()
                .any(|n| n.as_ref() == b"records" || n.as_ref() == b"by_region")
        );
        s.put(&records(4)[3..]).expect("put");
        assert_eq!(s.len(), 4);
        drop(s);
        assert!(SledStore::reopen(&dir, &fed).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn store_reopens_and_refuses_another_federation() {
        let dir = tempdir("reopen");
        let fed = Hash32([1; 32]);
        {
            let s = SledStore::open(&dir, &fed).expect("open");
            assert!(s.is_empty());
        }
        assert!(SledStore::reopen(&dir, &fed).is_ok());
        let other = SledStore::reopen(&dir, &Hash32([2; 32]));
        assert!(matches!(other, Err(StoreError::OtherFederation { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
