//! Durable storage of verified records behind a small trait, with a sled
//! implementation.
//!
//! Layout (sled trees):
//! - `records`: record id (32 bytes) → `[FORMAT_V1] ++ canonical JSON` of the record;
//! - `meta`: `format` → 1, `federation` → hex id.
//!
//! The indexes a node searches with are kept in memory (the registry and
//! `search.rs`), rebuilt from the records at start; the disk holds only what
//! cannot be derived. (Earlier versions also wrote `by_author`, `by_offer`,
//! `by_category` and `by_region` trees that nothing read; they are dropped on open.)
//!
//! A batch of records is written as sled batches of at most 512 records, then
//! `flush` makes it durable: sled writes its log
//! and calls `sync_file_range`/`fsync` on it, so an acknowledged record survives a
//! process crash (SIGKILL); surviving power loss additionally depends on the disk
//! honouring the flush. Values carry a format byte so a later layout can migrate.

use kx_protocol::{Hash32, UnverifiedRecord, VerifiedRecord};
use std::path::Path;

/// Format byte in front of every stored record value.
pub const FORMAT_V1: u8 = 1;

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

/// What the node needs from storage.
pub trait Store: Send + Sync {
    /// Writes records (not yet durable). If it fails, some of them may be
    /// written: the node then takes no more writes.
    fn put(&self, batch: &[VerifiedRecord]) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// The canonical JSON of a record.
    fn get(&self, id: &Hash32) -> Result<Option<Vec<u8>>, StoreError>;
    /// Records (id and canonical JSON) in id order, starting after `after`.
    fn page(
        &self,
        after: Option<&Hash32>,
        limit: usize,
    ) -> Result<Vec<(Hash32, Vec<u8>)>, StoreError>;
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
    records: sled::Tree,
}

impl SledStore {
    /// Opens (or creates) the store in `dir` for `federation`.
    pub fn open(dir: &Path, federation: &Hash32) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // sled's page cache (1 GiB by default) only needs the working set
            // of writes: with 16 MiB a catch-up re-read evicted pages and took
            // 25 % longer. It evicts lazily (each of its 256 shards looks at its
            // accesses once 64 have queued up), so after a pass over the store
            // it holds more than this until it is used further.
            .cache_capacity(64 * 1024 * 1024)
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
                meta.insert("format", &[FORMAT_V1])?;
                db.flush()?;
            }
        }
        if let Some(f) = meta.get("format")?
            && f.as_ref() != [FORMAT_V1]
        {
            return Err(StoreError::UnknownFormat {
                key: "meta/format".into(),
                format: f.first().copied().unwrap_or(0),
            });
        }
        for unused in ["by_author", "by_offer", "by_category", "by_region"] {
            db.drop_tree(unused)?;
        }
        Ok(SledStore {
            records: db.open_tree("records")?,
            db,
        })
    }

    fn value(key: &[u8], v: &[u8]) -> Result<Vec<u8>, StoreError> {
        match v.split_first() {
            Some((&FORMAT_V1, rest)) => Ok(rest.to_vec()),
            other => Err(StoreError::UnknownFormat {
                key: key.iter().map(|b| format!("{b:02x}")).collect(),
                format: other.map_or(0, |(f, _)| *f),
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
            let mut writes = sled::Batch::default();
            for rec in part {
                let mut value = Vec::with_capacity(rec.canonical_json().len() + 1);
                value.push(FORMAT_V1);
                value.extend_from_slice(rec.canonical_json());
                writes.insert(&rec.id().0[..], value);
            }
            self.records.apply_batch(writes)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn get(&self, id: &Hash32) -> Result<Option<Vec<u8>>, StoreError> {
        match self.records.get(id.0)? {
            Some(v) => Ok(Some(SledStore::value(&id.0, &v)?)),
            None => Ok(None),
        }
    }

    fn page(
        &self,
        after: Option<&Hash32>,
        limit: usize,
    ) -> Result<Vec<(Hash32, Vec<u8>)>, StoreError> {
        let iter = match after {
            Some(a) => self.records.range((
                std::ops::Bound::Excluded(a.0.to_vec()),
                std::ops::Bound::Unbounded,
            )),
            None => self.records.iter(),
        };
        let mut out = Vec::new();
        for item in iter.take(limit) {
            let (k, v) = item?;
            let id: [u8; 32] = k.as_ref().try_into().map_err(|_| StoreError::Damaged {
                id: k.iter().map(|b| format!("{b:02x}")).collect(),
                reason: "a key that is not a record id".into(),
            })?;
            out.push((Hash32(id), SledStore::value(&k, &v)?));
        }
        Ok(out)
    }

    fn len(&self) -> usize {
        self.records.len()
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

    #[test]
    fn store_reopens_and_refuses_another_federation() {
        let dir = tempdir("reopen");
        let fed = Hash32([1; 32]);
        {
            let s = SledStore::open(&dir, &fed).expect("open");
            assert!(s.is_empty());
        }
        assert!(SledStore::open(&dir, &fed).is_ok());
        let other = SledStore::open(&dir, &Hash32([2; 32]));
        assert!(matches!(other, Err(StoreError::OtherFederation { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
