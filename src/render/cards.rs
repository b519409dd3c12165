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
//! Pages hand their post views and the viewer over as `Keyed` values (`keyed(view)`): the Rust
//! view inside a template value. Its key bytes come from `#[derive(Hash)]` on the view structs
//! (render/views.rs), so every field is in the key, including one added later, and a hit never
//! turns the view into a template value at all (a miss does, once, and the macro reads that
//! value). A plain template value (pages not handing `Keyed` views) is walked instead, with
//! kinds, lengths and end marks written. Either way no two different views give the same bytes
//! (derive(Hash) writes lengths before sequences and ends every string with 0xFF, which UTF-8
//! never holds; each argument starts with a tag saying which encoding follows). The bytes are
//! hashed by two SipHashers with random per-process keys: a chance collision is ~2^-128 and
//! nobody outside can aim at one.
//!
//! Bounded: at most `BUDGET` bytes of card HTML (256 KiB, ~60–80 owner cards: a profile page,
//! a thread and a few timeline pages) plus ~50 bytes of bookkeeping per card. Two generations
//! approximate LRU: new cards go into `current`; when it holds half the budget, `previous` is
//! dropped and `current` becomes it; a hit in `previous` moves the card back into `current`.

use super::views::{OwnerView, PostView};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::State;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock};

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
    current: HashMap<Key, Value>,
    current_bytes: usize,
    previous: HashMap<Key, Value>,
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
    /// `p` and `owner` are read as their Rust views when they are `Keyed` (`keyed`).
    pub fn key(&self, p: &Value, owner: &Value, full: bool, back: &Value) -> Key {
        // Everything goes into one buffer, hashed in one go: a SipHasher fed hundreds of
        // small writes cost more than the macro it replaces.
        let mut buf = Vec::with_capacity(4096);
        part(&mut buf, p);
        part(&mut buf, owner);
        buf.push(full as u8);
        feed(&mut buf, back);
        (self.keys.0.hash_one(&buf), self.keys.1.hash_one(&buf))
    }

    /// The card drawn before under `key`, if still held (a safe string: shared, not copied).
    pub fn get(&self, key: Key) -> Option<Value> {
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

    /// Keeps `html` (a safe string) under `key` (a card larger than half the budget is not kept).
    pub fn put(&self, key: Key, html: Value) {
        if size(&html) > BUDGET / 2 {
            return;
        }
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).insert(key, html);
    }

    pub fn stats(&self) -> CardStats {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let prev_bytes: usize = g.previous.values().map(size).sum();
        CardStats { hits: g.hits, misses: g.misses, cards: g.current.len() + g.previous.len(), bytes: g.current_bytes + prev_bytes }
    }
}

impl Generations {
    fn insert(&mut self, key: Key, html: Value) {
        if self.current_bytes + size(&html) > BUDGET / 2 {
            self.previous = std::mem::take(&mut self.current);
            self.current_bytes = 0;
        }
        self.current_bytes += size(&html);
        if let Some(old) = self.current.insert(key, html) {
            self.current_bytes -= size(&old);
        }
    }
}

/// Bytes of card HTML in a held value.
fn size(html: &Value) -> usize {
    html.as_str().map_or(0, str::len)
}

/// A view handed to templates as itself: `keyed(post_view)`, `keyed(owner_view)`. Templates
/// see the same value as `Value::from_serialize(&view)` (made on first use, then kept), while
/// `post_card` hashes the Rust view for its key and, on a hit, never makes that value at all.
pub struct Keyed<T> {
    view: T,
    value: OnceLock<Value>,
}

/// `view` as a template value that `post_card` keys by its Rust fields (see `Keyed`).
pub fn keyed<T: Serialize + Hash + Send + Sync + 'static>(view: T) -> Value {
    Value::from_object(Keyed { view, value: OnceLock::new() })
}

impl<T: Serialize> Keyed<T> {
    /// The view as `Value::from_serialize` makes it: what the template reads.
    fn value(&self) -> &Value {
        self.value.get_or_init(|| Value::from_serialize(&self.view))
    }
}

impl<T: Serialize> fmt::Debug for Keyed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.value(), f)
    }
}

/// Every operation is the serialised view's (a map), so a template cannot tell the two apart.
impl<T: Serialize + Send + Sync + 'static> Object for Keyed<T> {
    // Views are structs: a map, known without serialising (`kind()` asks on every use).
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.value().as_object()?.get_value(key)
    }
    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.value().as_object()?.get_value_by_str(key)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.value().as_object() {
            Some(o) => o.enumerate(),
            None => Enumerator::Empty,
        }
    }
    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        self.value().as_object()?.enumerator_len()
    }
    fn is_true(self: &Arc<Self>) -> bool {
        self.value().is_true()
    }
    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, minijinja::Error> {
        match self.value().as_object() {
            Some(o) => o.call_method(state, method, args),
            None => Err(minijinja::Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.value(), f)
    }
}

/// `v` as the macro reads it: a `Keyed` view's serialised value, anything else as it is.
pub fn plain(v: Value) -> Value {
    if let Some(k) = v.downcast_object_ref::<Keyed<PostView>>() {
        return k.value().clone();
    }
    if let Some(k) = v.downcast_object_ref::<Keyed<OwnerView>>() {
        return k.value().clone();
    }
    v
}

/// Tags before a `Keyed` view's derive(Hash) bytes; `feed`'s own tags are 0–10 and `END`.
const KEYED_POST: u8 = 0x20;
const KEYED_OWNER: u8 = 0x21;

/// Writes one argument of the macro: a `Keyed` post or owner view by its Rust fields, any
/// other value by walking it (`feed`).
fn part(out: &mut Vec<u8>, v: &Value) {
    if let Some(k) = v.downcast_object_ref::<Keyed<PostView>>() {
        out.push(KEYED_POST);
        k.view.hash(&mut Bytes(out));
    } else if let Some(k) = v.downcast_object_ref::<Keyed<OwnerView>>() {
        out.push(KEYED_OWNER);
        k.view.hash(&mut Bytes(out));
    } else {
        feed(out, v);
    }
}

/// A `Hasher` that only collects what derive(Hash) writes, for one SipHash pass at the end.
struct Bytes<'a>(&'a mut Vec<u8>);

impl Hasher for Bytes<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn finish(&self) -> u64 {
        0 // never asked: the collected bytes are hashed by `Cards::key`
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
        let card = Value::from_safe_string("x".repeat(3000));
        for i in 0..1000u64 {
            c.put((i, i), card.clone());
            assert!(c.stats().bytes <= BUDGET, "{:?}", c.stats());
        }
        // The newest are kept, the oldest gone.
        assert!(c.get((999, 999)).is_some());
        assert!(c.get((0, 0)).is_none());
    }
}
