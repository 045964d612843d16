//! The canonical summary of a state and its digest, equal on every node that
//! holds the same records.

use super::state::State;
use crate::fields::Hash32;
use crate::json;
use crate::keys::Did;
use crate::record::VerifiedRecord;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Domain tag in front of the canonical state summary hashed into the digest.
pub const STATE_TAG: &[u8] = b"kx-state-v1\0";

impl State {
    /// The canonical summary that the digest hashes (see `specs/protocol.md`).
    pub fn summary(&self) -> Value {
        let providers: Vec<Value> = self
            .providers
            .values()
            .map(|p| {
                json!({
                    "did": p.identity.as_str(),
                    "name": p.name,
                    "standing": p.standing.as_str(),
                    "keys": p.keys.iter().map(Did::as_str).collect::<Vec<_>>(),
                    "profile": p.profile.as_ref().map(|r| r.id().to_hex()),
                    "successor": p.successor.as_ref().map(|r| r.id().to_hex()),
                })
            })
            .collect();
        let offers: Vec<Value> = self
            .offers
            .iter()
            .filter_map(|((provider, offer_id), e)| {
                let cur = e.current()?;
                Some(json!({
                    "provider": provider.as_str(),
                    "offer_id": offer_id.as_str(),
                    "record": cur.record.to_hex(),
                    "withdrawn": e.withdrawn(),
                    "consolidated": e.consolidated.as_ref().map(|c| c.record.to_hex()),
                }))
            })
            .collect();
        let equivocations: Vec<Value> = self
            .equivocations
            .iter()
            .map(|(a, s)| json!({"author": a.as_str(), "seq": s}))
            .collect();
        let municipalities: Vec<Value> = self
            .municipalities
            .values()
            .map(|m| {
                json!({
                    "did": m.identity.as_str(),
                    "ags": m.ags.as_str(),
                    "name": m.name,
                    "standing": m.standing.as_str(),
                    "keys": m.keys.iter().map(Did::as_str).collect::<Vec<_>>(),
                })
            })
            .collect();
        let demands: Vec<Value> = self
            .demands
            .iter()
            .filter_map(|((author, demand_id), e)| {
                let cur = e.current()?;
                Some(json!({
                    "author": author.as_str(),
                    "demand_id": demand_id.as_str(),
                    "record": cur.record.to_hex(),
                    "withdrawn": e.withdrawn(),
                }))
            })
            .collect();
        let requests: Vec<Value> = self
            .requests
            .iter()
            .map(|(id, r)| {
                json!({
                    "record": id.to_hex(),
                    "buyer": r.buyer.as_str(),
                    "offer": r.offer_record.to_hex(),
                    "status": r.status().as_str(),
                    "answer": r.answer.as_ref().map(|a| a.record.to_hex()),
                    "end": r.end.as_ref().map(|e| e.record.to_hex()),
                })
            })
            .collect();
        json!({
            "federation": self.federation.to_hex(),
            "governance": {
                "head": self.head.to_hex(),
                "observers": self.observers.iter().map(|o| json!({
                    "name": o.name.as_str(),
                    "peer_id": o.peer_id.as_str(),
                })).collect::<Vec<_>>(),
                "quorum": self.quorum,
                "stewards": self.stewards.iter().map(Did::as_str).collect::<Vec<_>>(),
                "threshold": self.threshold,
                "witnesses": self.witnesses.iter().map(|w| json!({
                    "key": w.key.as_str(),
                    "name": w.name.as_str(),
                })).collect::<Vec<_>>(),
            },
            "providers": providers,
            "offers": offers,
            "equivocations": equivocations,
            "municipalities": municipalities,
            "demands": demands,
            "requests": requests,
            "standards": self.standards.iter().map(|(id, e)| json!({
                "standard_id": id.as_str(),
                "record": e.record.to_hex(),
                "retired": e.retired.is_some(),
            })).collect::<Vec<_>>(),
        })
    }

    /// SHA-256 of `STATE_TAG || JCS(summary)`: equal on every node that holds
    /// the same records. The canonical summary is written straight into the hash,
    /// in JCS key order, without building it as a JSON value (the same bytes as
    /// `json::canonical(&self.summary())`, which a test checks).
    pub fn digest(&self) -> Hash32 {
        let mut w = DigestWriter::new();
        w.push("{\"demands\":[");
        let mut first = true;
        for ((author, demand_id), e) in &self.demands {
            let Some(cur) = e.current() else {
                continue;
            };
            w.push(if first {
                "{\"author\":"
            } else {
                ",{\"author\":"
            });
            first = false;
            w.plain(author.as_str());
            w.push(",\"demand_id\":");
            w.plain(demand_id.as_str());
            w.push(",\"record\":");
            w.hex(&cur.record);
            w.withdrawn_last(e.withdrawn());
        }
        w.push("],\"equivocations\":[");
        for (i, (author, seq)) in self.equivocations.iter().enumerate() {
            w.push(if i > 0 {
                ",{\"author\":"
            } else {
                "{\"author\":"
            });
            w.plain(author.as_str());
            w.push(&format!(",\"seq\":{seq}}}"));
        }
        w.push("],\"federation\":");
        w.hex(&self.federation);
        w.push(",\"governance\":{\"head\":");
        w.hex(&self.head);
        w.push(",\"observers\":[");
        for (i, o) in self.observers.iter().enumerate() {
            w.push(if i > 0 { ",{\"name\":" } else { "{\"name\":" });
            w.string(o.name.as_str());
            w.push(",\"peer_id\":");
            w.string(o.peer_id.as_str());
            w.push("}");
        }
        w.push(&format!("],\"quorum\":{},\"stewards\":", self.quorum));
        w.plains(self.stewards.iter().map(Did::as_str));
        w.push(&format!(
            ",\"threshold\":{},\"witnesses\":[",
            self.threshold
        ));
        for (i, x) in self.witnesses.iter().enumerate() {
            w.push(if i > 0 { ",{\"key\":" } else { "{\"key\":" });
            w.plain(x.key.as_str());
            w.push(",\"name\":");
            w.string(x.name.as_str());
            w.push("}");
        }
        w.push("]},\"municipalities\":[");
        for (i, m) in self.municipalities.values().enumerate() {
            w.push(if i > 0 { ",{\"ags\":" } else { "{\"ags\":" });
            w.plain(m.ags.as_str());
            w.push(",\"did\":");
            w.plain(m.identity.as_str());
            w.push(",\"keys\":");
            w.plains(m.keys.iter().map(Did::as_str));
            w.push(",\"name\":");
            w.string(&m.name);
            w.push(",\"standing\":");
            w.plain(m.standing.as_str());
            w.push("}");
        }
        w.push("],\"offers\":[");
        let mut first = true;
        for ((provider, offer_id), e) in &self.offers {
            let Some(cur) = e.current() else {
                continue;
            };
            w.push(if first {
                "{\"consolidated\":"
            } else {
                ",{\"consolidated\":"
            });
            first = false;
            match &e.consolidated {
                Some(c) => w.hex(&c.record),
                None => w.push("null"),
            }
            w.push(",\"offer_id\":");
            w.plain(offer_id.as_str());
            w.push(",\"provider\":");
            w.plain(provider.as_str());
            w.push(",\"record\":");
            w.hex(&cur.record);
            w.withdrawn_last(e.withdrawn());
        }
        w.push("],\"providers\":[");
        for (i, p) in self.providers.values().enumerate() {
            w.push(if i > 0 { ",{\"did\":" } else { "{\"did\":" });
            w.plain(p.identity.as_str());
            w.push(",\"keys\":");
            w.plains(p.keys.iter().map(Did::as_str));
            w.push(",\"name\":");
            w.string(&p.name);
            w.push(",\"profile\":");
            w.optional(p.profile.as_ref());
            w.push(",\"standing\":");
            w.plain(p.standing.as_str());
            w.push(",\"successor\":");
            w.optional(p.successor.as_ref());
            w.push("}");
        }
        w.push("],\"requests\":[");
        for (i, (id, r)) in self.requests.iter().enumerate() {
            w.push(if i > 0 {
                ",{\"answer\":"
            } else {
                "{\"answer\":"
            });
            match &r.answer {
                Some(a) => w.hex(&a.record),
                None => w.push("null"),
            }
            w.push(",\"buyer\":");
            w.plain(r.buyer.as_str());
            w.push(",\"end\":");
            match &r.end {
                Some(e) => w.hex(&e.record),
                None => w.push("null"),
            }
            w.push(",\"offer\":");
            w.hex(&r.offer_record);
            w.push(",\"record\":");
            w.hex(id);
            w.push(",\"status\":");
            w.plain(r.status().as_str());
            w.push("}");
        }
        w.push("],\"standards\":[");
        for (i, (id, e)) in self.standards.iter().enumerate() {
            w.push(if i > 0 {
                ",{\"record\":"
            } else {
                "{\"record\":"
            });
            w.hex(&e.record);
            w.push(if e.retired.is_some() {
                ",\"retired\":true"
            } else {
                ",\"retired\":false"
            });
            w.push(",\"standard_id\":");
            w.plain(id.as_str());
            w.push("}");
        }
        w.push("]}");
        w.finish()
    }
}

/// Writes canonical JSON text into a SHA-256 in chunks.
struct DigestWriter {
    hasher: Sha256,
    buf: String,
}

impl DigestWriter {
    /// The last member of an entry, `withdrawn`, and its closing brace.
    fn withdrawn_last(&mut self, withdrawn: bool) {
        self.push(if withdrawn {
            ",\"withdrawn\":true}"
        } else {
            ",\"withdrawn\":false}"
        });
    }

    fn new() -> DigestWriter {
        let mut hasher = Sha256::new();
        hasher.update(STATE_TAG);
        DigestWriter {
            hasher,
            buf: String::with_capacity(1 << 16),
        }
    }

    fn drain(&mut self) {
        if self.buf.len() >= 1 << 15 {
            self.hasher.update(self.buf.as_bytes());
            self.buf.clear();
        }
    }

    fn push(&mut self, text: &str) {
        self.buf.push_str(text);
        self.drain();
    }

    fn string(&mut self, s: &str) {
        json::write_string(s, &mut self.buf);
        self.drain();
    }

    /// A string that needs no escaping (dids, offer ids, codes).
    fn plain(&mut self, s: &str) {
        debug_assert!(!s.contains(['"', '\\']) && !s.contains(|c: char| c < ' '));
        self.buf.push('"');
        self.buf.push_str(s);
        self.buf.push('"');
        self.drain();
    }

    fn plains<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        self.buf.push('[');
        for (i, s) in items.enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.plain(s);
        }
        self.buf.push(']');
    }

    fn hex(&mut self, h: &Hash32) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.buf.push('"');
        for b in h.0 {
            self.buf.push(char::from(DIGITS[usize::from(b >> 4)]));
            self.buf.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        self.buf.push('"');
        self.drain();
    }

    /// A record id in hex, or null.
    fn optional(&mut self, rec: Option<&VerifiedRecord>) {
        match rec {
            Some(r) => self.hex(&r.id()),
            None => self.push("null"),
        }
    }

    fn finish(mut self) -> Hash32 {
        self.hasher.update(self.buf.as_bytes());
        Hash32(self.hasher.finalize().into())
    }
}
