//! Checkpoints other nodes signed, judged against this node's set
//! (`specs/checkpoints.md` 4 and 6): for each origin the last checkpoint
//! that followed from the ones before it, and an alarm when an origin signed
//! two that cannot both be true (a fork: it showed different histories).

use crate::node::Node;
use kx_protocol::Timestamp;
use kx_protocol::checkpoint::{Checkpoint, Frontier};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What became of a checkpoint handed to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The first of its origin, or one that follows from the last: kept.
    Recorded,
    /// The same as the last of its origin.
    Known,
    /// Older than the last of its origin (the last follows from it).
    Older,
    /// This node does not hold every record it names (yet): not judged.
    NotHeld,
    /// Neither it nor the last of its origin follows from the other.
    Alarm(String),
}

/// An origin that signed two checkpoints that cannot both be true.
#[derive(Debug, Clone)]
pub struct Alarm {
    pub origin: String,
    pub at: Timestamp,
    pub reason: String,
    /// The two signed notes, as evidence.
    pub earlier: String,
    pub later: String,
}

#[derive(Debug, Default)]
struct Judged {
    /// origin -> the last checkpoint that followed from the ones before, with
    /// its note and frontier.
    last: BTreeMap<String, (String, Frontier)>,
    alarms: Vec<Alarm>,
}

/// The checkpoints the node has judged.
#[derive(Debug, Default)]
pub struct Checkpoints {
    judged: Mutex<Judged>,
}

impl Checkpoints {
    fn lock(&self) -> std::sync::MutexGuard<'_, Judged> {
        match self.judged.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The alarms raised so far, oldest first.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.lock().alarms.clone()
    }

    /// Judges a signed checkpoint `cp` (read from `note`) with its `frontier`
    /// (whose root and size it states) against this node's set.
    pub fn judge(
        &self,
        node: &Node,
        cp: &Checkpoint,
        note: &str,
        frontier: Frontier,
        now: Timestamp,
    ) -> Verdict {
        let origin = cp.origin();
        let held = node.with_registry(|r| r.holds(&frontier));
        if !held {
            return Verdict::NotHeld;
        }
        let mut j = self.lock();
        let Some((last_note, last)) = j.last.get(&origin).cloned() else {
            j.last.insert(origin, (note.to_owned(), frontier));
            return Verdict::Recorded;
        };
        if last.root() == frontier.root() {
            return Verdict::Known;
        }
        let (forward, backward) = node.with_registry(|r| {
            (
                r.consistent(&last, &frontier),
                r.consistent(&frontier, &last),
            )
        });
        match (forward, backward) {
            (Ok(()), _) => {
                j.last.insert(origin, (note.to_owned(), frontier));
                Verdict::Recorded
            }
            (Err(_), Ok(())) => Verdict::Older,
            (Err(e), Err(_)) => {
                let reason = e.to_string();
                tracing::error!(%origin, %reason, "a node signed two checkpoints that cannot both be true");
                node.metrics()
                    .checkpoint_alarms
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                j.alarms.push(Alarm {
                    origin,
                    at: now,
                    reason: reason.clone(),
                    earlier: last_note,
                    later: note.to_owned(),
                });
                Verdict::Alarm(reason)
            }
        }
    }
}
