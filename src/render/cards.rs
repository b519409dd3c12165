//! A small cache of rendered post cards (issue 13): `{{ post_card(p, owner, full) }}` in a
//! template answers from here when the same card was drawn before, instead of running the
//! `post_card` macro of macros.html again (the macro was ~43 % of an uncached page's CPU).
//!
//! Never stale by construction: the key is a 128-bit hash of *everything* the macro reads: the
//! whole post view `p` as the template receives it (content, counts, the owner's liked, boosted,
//! bookmarked and pinned marks, author name and avatar, "Reply to" name, poll state, the
//! relative time text "5m", …), the viewer `owner` (none for visitors; the owner's CSRF token,
//! which the card's forms carry), `full` and the page's `back` (imported macros see the page's
//! context). The macro reads nothing else but constant globals (icons). Any change to the post or to what the card shows is a different key: the old card
//! is simply never asked for again and ages out. Nothing has to be told about writes.
//!
//! The key walks the value into bytes with kinds, lengths and end marks written (so no two
//! different views give the same bytes), hashed by two SipHashers with random per-process keys:
//! a chance collision is ~2^-128 and nobody outside can aim at one.
//!
//! Bounded: at most `BUDGET` bytes of card HTML (256 KiB, ~60–80 owner cards: a profile page,
//! a thread and a few timeline pages) plus ~50 bytes of bookkeeping per card. Two generations
//! approximate LRU: new cards go into `current`; when it holds half the budget, `previous` is
//! dropped and `current` becomes it; a hit in `previous` moves the card back into `current`.

use minijinja::value::{Value, ValueKind};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

/// Card HTML kept at most, in bytes (both generations together). The Pi's idle budget is a
/// few MiB, so this stays a small fraction of it; it fills only as pages are rendered.
pub const BUDGET: usize = 256 * 1024;

type Key = (u64, u64);

/// The cache shared by every render (one per `Renderer`).
pub struct Cards {
    inner: Mutex<Generations>,
    keys: (RandomState, RandomState),
}

#[derive(Default)]
struct Generations {
    current: HashMap<Key, Arc<str>>,
    current_bytes: usize,
    previous: HashMap<Key, Arc<str>>,
    hits: u64,
    misses: u64,
}

/// Counters for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardStats {
    pub hits: u64,
    pub misses: u64,
    /// Cards held now (both generations).
    pub cards: usize,
    /// Bytes of card HTML held now (both generations), never above `BUDGET`.
    pub bytes: usize,
}

impl Default for Cards {
    fn default() -> Self {
        Cards { inner: Mutex::new(Generations::default()), keys: (RandomState::new(), RandomState::new()) }
    }
}

impl Cards {
    /// The key of a card: `p` (the post view), `owner` (none/undefined for visitors), `full`
    /// and `back` (the page's return path for the card's forms, undefined on most pages).
    pub fn key(&self, p: &Value, owner: &Value, full: bool, back: &Value) -> Key {
        // The walk writes into one buffer, hashed in one go: a hasher fed hundreds of small
        // writes cost more than the macro it replaces.
        let mut buf = Vec::with_capacity(4096);
        feed(&mut buf, p);
        feed(&mut buf, owner);
        buf.push(full as u8);
        feed(&mut buf, back);
        (self.keys.0.hash_one(&buf), self.keys.1.hash_one(&buf))
    }

    /// The card drawn before under `key`, if still held.
    pub fn get(&self, key: Key) -> Option<Arc<str>> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(html) = g.current.get(&key).cloned() {
            g.hits += 1;
            return Some(html);
        }
        match g.previous.remove(&key) {
            Some(html) => {
                g.hits += 1;
                g.insert(key, html.clone());
                Some(html)
            }
            None => {
                g.misses += 1;
                None
            }
        }
    }

    /// Keeps `html` under `key` (a card larger than half the budget is not kept).
    pub fn put(&self, key: Key, html: Arc<str>) {
        if html.len() > BUDGET / 2 {
            return;
        }
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).insert(key, html);
    }

    pub fn stats(&self) -> CardStats {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let prev_bytes: usize = g.previous.values().map(|h| h.len()).sum();
        CardStats { hits: g.hits, misses: g.misses, cards: g.current.len() + g.previous.len(), bytes: g.current_bytes + prev_bytes }
    }
}

impl Generations {
    fn insert(&mut self, key: Key, html: Arc<str>) {
        if self.current_bytes + html.len() > BUDGET / 2 {
            self.previous = std::mem::take(&mut self.current);
            self.current_bytes = 0;
        }
        self.current_bytes += html.len();
        if let Some(old) = self.current.insert(key, html) {
            self.current_bytes -= old.len();
        }
    }
}

/// Writes `v` unambiguously (prefix-free): a kind tag, lengths before strings, an end mark
/// after the items of sequences and maps, and whether a string is marked safe (the template
/// treats safe and plain text differently).
fn feed(out: &mut Vec<u8>, v: &Value) {
    match v.kind() {
        ValueKind::Undefined => out.push(0),
        ValueKind::None => out.push(1),
        ValueKind::Bool => out.extend_from_slice(&[2, v.is_true() as u8]),
        ValueKind::Number => {
            // Integers as themselves; anything else by its text (views hold no floats).
            match i64::try_from(v.clone()) {
                Ok(n) => {
                    out.push(3);
                    out.extend_from_slice(&n.to_le_bytes());
                }
                Err(_) => {
                    out.push(4);
                    str_(out, &v.to_string());
                }
            }
        }
        ValueKind::String => {
            out.push(if v.is_safe() { 6 } else { 5 });
            str_(out, v.as_str().unwrap_or(""));
        }
        ValueKind::Bytes => {
            out.push(7);
            str_(out, v.as_bytes().unwrap_or(&[]));
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push(8);
            if let Ok(items) = v.try_iter() {
                for i in items {
                    feed(out, &i);
                }
            }
            out.push(END);
        }
        ValueKind::Map => {
            out.push(9);
            if let Some(pairs) = v.as_object().and_then(|o| o.try_iter_pairs()) {
                for (k, x) in pairs {
                    feed(out, &k);
                    feed(out, &x);
                }
            }
            out.push(END);
        }
        // Plain data only reaches cards (serialised views); anything else by its text.
        _ => {
            out.push(10);
            str_(out, &v.to_string());
        }
    }
}

/// Ends a sequence or map: no kind tag above has this value.
const END: u8 = 0xFF;

fn str_(out: &mut Vec<u8>, s: impl AsRef<[u8]>) {
    let s = s.as_ref();
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn different_views_have_different_keys() {
        let c = Cards::default();
        let base = c.key(&Value::from_serialize(context! { likes => 1, tags => vec!["a", "b"] }), &Value::from(()), false, &Value::UNDEFINED);
        // Moved sequence boundaries, a count, safe vs plain text, the viewer and `full`.
        for (p, owner, full) in [
            (Value::from_serialize(context! { likes => 1, tags => vec!["ab"] }), Value::from(()), false),
            (Value::from_serialize(context! { likes => 2, tags => vec!["a", "b"] }), Value::from(()), false),
            (Value::from_serialize(context! { likes => 1, tags => vec!["a", "b"] }), Value::UNDEFINED, false),
            (Value::from_serialize(context! { likes => 1, tags => vec!["a", "b"] }), Value::from_serialize(context! { csrf => "x" }), false),
            (Value::from_serialize(context! { likes => 1, tags => vec!["a", "b"] }), Value::from(()), true),
            (Value::from_serialize(context! { likes => 1, tags => vec![Value::from_safe_string("a".into()), Value::from("b")] }), Value::from(()), false),
        ] {
            assert_ne!(c.key(&p, &owner, full, &Value::UNDEFINED), base, "{p:?} {owner:?} {full}");
        }
        assert_eq!(c.key(&Value::from_serialize(context! { likes => 1, tags => vec!["a", "b"] }), &Value::from(()), false, &Value::UNDEFINED), base);
    }

    #[test]
    fn holds_at_most_the_budget() {
        let c = Cards::default();
        let card: Arc<str> = "x".repeat(3000).into();
        for i in 0..1000u64 {
            c.put((i, i), card.clone());
            assert!(c.stats().bytes <= BUDGET, "{:?}", c.stats());
        }
        // The newest are kept, the oldest gone.
        assert!(c.get((999, 999)).is_some());
        assert!(c.get((0, 0)).is_none());
    }
}
