//! Time-sortable ids: milliseconds since the epoch in the high bits, a counter in the low 16.
//! Sorting by id is sorting by creation time, so timelines are plain reverse range scans, and the
//! ids are stable in URLs (Mastodon's snowflake ids have the same shape).

use std::sync::atomic::{AtomicU64, Ordering};

static LAST: AtomicU64 = AtomicU64::new(0);

/// A new id, strictly greater than every id this process made before.
pub fn next_id() -> u64 {
    next_id_at(crate::time::now_ms())
}

/// Ids for an explicit time (imported or remote posts keep their own publication time).
pub fn next_id_at(ms: u64) -> u64 {
    let candidate = ms << 16;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        // Only local, "now" ids must be monotonic; an old timestamp gets a unique id near it.
        let id = if candidate > last { candidate } else if ms >= last >> 16 { last + 1 } else {
            return candidate | (rand_u16() as u64);
        };
        match LAST.compare_exchange_weak(last, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return id,
            Err(now) => last = now,
        }
    }
}

pub fn id_ms(id: u64) -> u64 {
    id >> 16
}

fn rand_u16() -> u16 {
    let mut b = [0u8; 2];
    crate::secret::fill(&mut b);
    u16::from_le_bytes(b)
}
