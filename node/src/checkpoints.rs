//! Checkpoints (`specs/checkpoints.md`): the node's own, signed with its node
//! key and cosigned by the witnesses that judged it; other nodes' checkpoints,
//! judged against this node's set (for each origin the last that followed
//! from the ones before it, and an alarm when an origin signed two that
//! cannot both be true); and, on a witness, its cosignatures (7). What a
//! witness cosigned is kept in `witness.json` (written whole, then renamed),
//! so that a restart cannot make it cosign an older history.

use crate::node::Node;
use kx_protocol::checkpoint::{Checkpoint, Frontier};
use kx_protocol::{SecretKey, Timestamp};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
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

/// Origins whose last checkpoint a node keeps: anyone can hand it checkpoints
/// of made-up origins (`POST /v1/checkpoints`), so the map is bounded; the
/// origin judged least recently goes first.
const MAX_ORIGINS: usize = 1024;

#[derive(Debug, Default)]
struct Judged {
    /// origin -> the last checkpoint that followed from the ones before, with
    /// its note and frontier.
    last: BTreeMap<String, (String, Frontier)>,
    /// origin -> when it was last judged (a counter), for forgetting.
    used: BTreeMap<String, u64>,
    tick: u64,
    alarms: Vec<Alarm>,
}

/// How many of its latest checkpoints a node keeps collecting cosignatures
/// for: a witness's line may arrive after the node's set moved on.
const RECENT: usize = 8;

/// One of the node's own checkpoints and the cosignature lines it has.
#[derive(Debug, Clone)]
struct Mine {
    cp: Checkpoint,
    /// The signed note, the node's signature line only.
    note: String,
    frontier: Frontier,
    /// Witness name -> its cosignature line.
    lines: BTreeMap<String, String>,
}

impl Mine {
    /// The note with the cosignature lines, sorted by witness name.
    fn cosigned(&self) -> String {
        let lines: String = self.lines.values().cloned().collect();
        format!("{}{lines}", self.note)
    }
}

/// The node's latest checkpoints (the last is its current one) and the last
/// that reached the quorum.
#[derive(Debug, Default)]
struct Own {
    recent: std::collections::VecDeque<Mine>,
    /// The last checkpoint that reached the quorum: its note with the
    /// cosignature lines, and its frontier (market surveys are made on it).
    witnessed: Option<(Checkpoint, String, Frontier)>,
}

/// The node's checkpoints and the ones it has judged.
#[derive(Debug, Default)]
pub struct Checkpoints {
    judged: Mutex<Judged>,
    own: Mutex<Own>,
    /// Where a witness keeps what it cosigned.
    witness_file: Option<PathBuf>,
}

/// Reads a checkpoint handed to the node with its frontier
/// (`specs/checkpoints.md` 6): the note, the frontier, the federation, and
/// that the frontier is the one the note states. Gossip and
/// `POST /v1/checkpoints` read them alike.
pub fn read_handed(
    node: &Node,
    note: &str,
    frontier: &Value,
) -> Result<(Checkpoint, Frontier), kx_api::ApiError> {
    use kx_api::ApiError;
    let cp = Checkpoint::read(note).map_err(|e| ApiError::new(e.code, e.reason))?;
    let frontier = Frontier::from_json(frontier).map_err(|e| ApiError::new(e.code, e.reason))?;
    if cp.federation != node.federation() {
        return Err(ApiError::new(
            kx_api::RecordCode::WrongFederation,
            format!("a checkpoint of federation {}", cp.federation),
        ));
    }
    if frontier.root() != cp.root || frontier.size() != cp.size {
        return Err(ApiError::new(
            kx_protocol::checkpoint::CheckpointCode::Malformed,
            "the frontier is not the one the checkpoint states",
        ));
    }
    Ok((cp, frontier))
}

/// What to do with a checkpoint gossip message.
#[derive(Debug)]
pub enum Gossip {
    /// Pass it on; and this message (a cosignature) too, if any.
    Accept(Option<Vec<u8>>),
    /// Not passed on: not judged (yet), or nothing new.
    Ignore,
    /// Malformed or forged: the sender is scored down.
    Reject,
}

impl Checkpoints {
    /// The checkpoints of a node whose data directory is `dir`; with a
    /// directory, what it cosigned as a witness is read back from there.
    pub fn open(dir: Option<&std::path::Path>) -> anyhow::Result<Checkpoints> {
        let witness_file = dir.map(|d| d.join("witness.json"));
        let mut judged = Judged::default();
        if let Some(path) = &witness_file
            && path.exists()
        {
            let text = std::fs::read_to_string(path)?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            for (origin, entry) in v.as_object().into_iter().flatten() {
                let frontier = Frontier::from_json(&entry["frontier"])
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let note = entry["note"].as_str().unwrap_or_default().to_owned();
                judged.last.insert(origin.clone(), (note, frontier));
                judged.used.insert(origin.clone(), 0);
            }
        }
        Ok(Checkpoints {
            judged: Mutex::new(judged),
            own: Mutex::default(),
            witness_file,
        })
    }

    fn own(&self) -> std::sync::MutexGuard<'_, Own> {
        match self.own.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The node's checkpoint of its set now, signed with `key`, with the
    /// cosignature lines it has (a new checkpoint has none), and its frontier.
    pub fn current(&self, node: &Node, key: &SecretKey) -> (String, Frontier) {
        let frontier = node.with_registry(|r| r.frontier());
        let mut own = self.own();
        let same = own
            .recent
            .back()
            .is_some_and(|m| m.frontier.root() == frontier.root());
        if !same {
            let cp = Checkpoint::of(&frontier, key.did());
            let note = cp.sign(key);
            own.recent.push_back(Mine {
                cp,
                note,
                frontier,
                lines: BTreeMap::new(),
            });
            if own.recent.len() > RECENT {
                own.recent.pop_front();
            }
        }
        let mine = own.recent.back().expect("just filled");
        (mine.cosigned(), mine.frontier.clone())
    }

    /// The node's last checkpoint that a quorum of the witnesses cosigned,
    /// with their lines, and its frontier; with no quorum set, the current
    /// one. None while no checkpoint reached the quorum.
    pub fn witnessed(&self, node: &Node, key: &SecretKey) -> Option<(String, Frontier)> {
        if node.with_state(|s| s.quorum) == 0 {
            return Some(self.current(node, key));
        }
        self.own()
            .witnessed
            .as_ref()
            .map(|(_, note, frontier)| (note.clone(), frontier.clone()))
    }

    /// Whether [`Checkpoints::witnessed`] has a checkpoint to give (cheap:
    /// nothing is signed).
    pub fn has_witnessed(&self, node: &Node) -> bool {
        node.with_state(|s| s.quorum) == 0 || self.own().witnessed.is_some()
    }

    /// The gossip message announcing the node's current checkpoint, unless a
    /// quorum of the witnesses has cosigned it already (then there is nothing
    /// to ask for). `now` makes each announcement new to gossip.
    pub fn announcement(&self, node: &Node, key: &SecretKey, now: Timestamp) -> Option<Vec<u8>> {
        let quorum = node.with_state(|s| s.quorum);
        self.current(node, key);
        let own = self.own();
        let mine = own.recent.back()?;
        if quorum > 0 && mine.lines.len() as u64 >= quorum {
            return None;
        }
        Some(
            json!({"checkpoint": {"note": mine.note, "frontier": mine.frontier.to_json()}, "sent": now.to_string()})
                .to_string()
                .into_bytes(),
        )
    }

    /// Keeps a witness's verified cosignature `line` for the node's own
    /// checkpoint `cp`, if it is one of the recent ones; the newest that
    /// reaches `quorum` becomes the witnessed one.
    fn keep_line(&self, cp: &Checkpoint, name: String, line: String, quorum: u64) {
        let mut own = self.own();
        let Some(i) = own.recent.iter().position(|m| m.cp == *cp) else {
            return;
        };
        let mine = &mut own.recent[i];
        mine.lines.insert(name, line);
        if (mine.lines.len() as u64) < quorum {
            return;
        }
        let newer = own.witnessed.as_ref().is_none_or(|(w, _, _)| {
            own.recent
                .iter()
                .position(|m| m.cp == *w)
                .is_none_or(|j| j <= i)
        });
        if newer {
            let mine = &own.recent[i];
            own.witnessed = Some((mine.cp.clone(), mine.cosigned(), mine.frontier.clone()));
        }
    }

    /// A message of the checkpoint topic (`specs/checkpoints.md` 7).
    pub fn gossip(&self, node: &Node, key: &SecretKey, data: &[u8], now: Timestamp) -> Gossip {
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return Gossip::Reject;
        };
        if let Some(c) = v.get("checkpoint") {
            let Some(note) = c["note"].as_str() else {
                return Gossip::Reject;
            };
            let Ok((cp, frontier)) = read_handed(node, note, &c["frontier"]) else {
                return Gossip::Reject;
            };
            if cp.signer == *key.did() {
                return Gossip::Ignore;
            }
            return match self.judge(node, &cp, note, frontier, now) {
                Verdict::NotHeld | Verdict::Older => Gossip::Ignore,
                Verdict::Alarm(_) => Gossip::Accept(None),
                Verdict::Recorded | Verdict::Known => {
                    Gossip::Accept(self.cosign(node, key, &cp, note, now))
                }
            };
        }
        if let Some(c) = v.get("cosignature") {
            let (Some(note), Some(line)) = (c["note"].as_str(), c["line"].as_str()) else {
                return Gossip::Reject;
            };
            let Ok(cp) = Checkpoint::read(note) else {
                return Gossip::Reject;
            };
            let name = line
                .strip_prefix('\u{2014}')
                .and_then(|l| l.trim_start().split(' ').next())
                .unwrap_or_default()
                .to_owned();
            let witness = node.with_state(|s| {
                s.witnesses
                    .iter()
                    .find(|w| w.name.as_str() == name)
                    .map(|w| w.key.clone())
            });
            let Some(witness) = witness else {
                return Gossip::Ignore;
            };
            let line = format!("{}\n", line.trim_end_matches('\n'));
            let with = format!("{note}{line}");
            if cp.cosigned_by(&with, &name, &witness).is_none() {
                return Gossip::Reject;
            }
            self.keep_line(&cp, name, line, node.with_state(|s| s.quorum));
            return Gossip::Accept(None);
        }
        Gossip::Reject
    }

    /// A witness cosigns `cp` (judged consistent): keeps what it cosigned,
    /// then returns the gossip message with its line.
    fn cosign(
        &self,
        node: &Node,
        key: &SecretKey,
        cp: &Checkpoint,
        note: &str,
        now: Timestamp,
    ) -> Option<Vec<u8>> {
        let name = node.with_state(|s| {
            s.witnesses
                .iter()
                .find(|w| w.key == *key.did())
                .map(|w| w.name.as_str().to_owned())
        })?;
        if let Err(e) = self.persist() {
            tracing::error!(error = %e, "could not keep what this witness cosigned; not cosigning");
            return None;
        }
        let time = u64::try_from(now.unix()).unwrap_or_default();
        let line = cp.cosign(&name, key, time);
        node.metrics()
            .checkpoints_cosigned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(
            json!({"cosignature": {"note": note, "line": line}})
                .to_string()
                .into_bytes(),
        )
    }

    /// Writes what the node recorded per origin to `witness.json` (a new file
    /// synced and renamed over the old one).
    fn persist(&self) -> std::io::Result<()> {
        let Some(path) = &self.witness_file else {
            return Ok(());
        };
        let v: serde_json::Map<String, Value> = self
            .lock()
            .last
            .iter()
            .map(|(o, (n, f))| (o.clone(), json!({"note": n, "frontier": f.to_json()})))
            .collect();
        let tmp = path.with_extension("json.partial");
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(Value::Object(v).to_string().as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

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
        j.tick += 1;
        let tick = j.tick;
        j.used.insert(origin.clone(), tick);
        let Some((last_note, last)) = j.last.get(&origin).cloned() else {
            if j.last.len() >= MAX_ORIGINS
                && let Some(oldest) = j
                    .used
                    .iter()
                    .filter(|(o, _)| **o != origin)
                    .min_by_key(|(_, t)| **t)
                    .map(|(o, _)| o.clone())
            {
                j.last.remove(&oldest);
                j.used.remove(&oldest);
            }
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
