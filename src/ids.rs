//! Time-sortable ids: milliseconds since the epoch in the high 48 bits, a sequence in the low 16.
//! Sorting by id is sorting by creation time, so timelines are plain reverse range scans, and the
//! ids are stable in URLs (Mastodon's snowflake ids have the same shape).
//!
//! Uniqueness is by construction, in two layers (issue 17):
//! 1. This module hands out *candidates*: for "now", strictly increasing within the process;
//!    for an explicit past time (a remote post's `published`), that millisecond plus a
//!    per-process sequence in the low 16 bits, never random.
//! 2. The store makes the candidate a key only after checking, inside the write transaction,
//!    that no record has it: `store::Write::new_id(IdSpace::…, at_ms)` takes the next free id
//!    near a taken one. Every table keyed by a generated id allocates there, and inserting a
//!    key that exists is an error, never a silent replace. So a second process on old data, or
//!    more than 65,536 records in one millisecond, still cannot overwrite anything.
//!
//! Code that needs a new key calls `Write::new_id`, not this module.

use std::sync::atomic::{AtomicU64, Ordering};

/// The newest "now" id handed out (or taken by the store) in this process.
static LAST: AtomicU64 = AtomicU64::new(0);
/// Low bits for ids at past times; starts at a random point per process (see `next_id_at`).
static SEQ: AtomicU64 = AtomicU64::new(0);
static SEQ_START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// A candidate id for now, strictly greater than every id this process made before.
/// Only a candidate: the store confirms it is free (`store::Write::new_id`).
pub fn next_id() -> u64 {
    next_id_at(crate::time::now_ms())
}

/// A candidate id for an explicit time in ms (imported or remote posts keep their own time).
/// At or after the newest id so far it is the same as `next_id`; for an older time it is that
/// millisecond with the next value of a per-process 16-bit sequence, so 65,536 ids of one
/// millisecond in a row are distinct before the store even looks. (The sequence starts at a
/// random point so that a restarted process does not retrace the previous one's values.)
pub fn next_id_at(ms: u64) -> u64 {
    let ms = ms.min(MAX_MS);
    let candidate = ms << 16;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        // Only "now" ids must be monotonic; an old timestamp gets a sequenced id in its ms.
        let id = if candidate > last {
            candidate
        } else if ms >= last >> 16 {
            last + 1
        } else {
            let start = *SEQ_START.get_or_init(|| rand_u16() as u64);
            let seq = SEQ.fetch_add(1, Ordering::Relaxed).wrapping_add(start) & 0xffff;
            return candidate | seq;
        };
        match LAST.compare_exchange_weak(last, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return id,
            Err(now) => last = now,
        }
    }
}

/// Tells the sequence that the store used `id` (maybe above the candidate it was given), so
/// later "now" candidates stay above it. Ids far beyond the clock are ignored: one odd key
/// must not drag every future id ahead of real time.
pub fn note_used(id: u64) {
    if id_ms(id) <= crate::time::now_ms() + 60_000 {
        LAST.fetch_max(id, Ordering::Relaxed);
    }
}

/// The largest millisecond an id can carry (48 bits).
pub const MAX_MS: u64 = (1 << 48) - 1;

/// The creation time (ms since the epoch) an id encodes.
pub fn id_ms(id: u64) -> u64 {
    id >> 16
}

fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    crate::secret::fill(&mut b);
    u16::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_ids_strictly_increase() {
        let mut prev = next_id();
        for _ in 0..100_000 {
            let id = next_id();
            assert!(id > prev, "{id} after {prev}");
            prev = id;
        }
    }

    /// The old code drew 16 random bits for a past millisecond: 1,000 ids of one second
    /// collided about once in ten runs. The sequence makes 65,536 in a row distinct.
    #[test]
    fn past_ids_of_one_millisecond_are_distinct() {
        let ms = 1_600_000_000_000;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..65_536 {
            let id = next_id_at(ms);
            assert_eq!(id_ms(id), ms);
            assert!(seen.insert(id), "duplicate candidate {id}");
        }
    }
}
