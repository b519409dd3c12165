//! A counting global allocator for the memory tests (tests/media_memory.rs,
//! tests/archive_memory.rs): `peak_during(f)` is the most heap, in bytes, alive at once while `f`
//! ran, above what was alive before. Each of those test binaries holds only memory tests, which
//! take turns (`turn()`), so nothing else allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The counters are global: the measurements take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let n = NOW.fetch_add(l.size(), Ordering::SeqCst) + l.size();
            PEAK.fetch_max(n, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Held for a whole memory test, setup included: the counters see every thread's allocations.
pub fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Heap bytes alive now (all threads). Compare two readings while holding `turn()`.
#[allow(dead_code)] // not every memory test binary reads it
pub fn live() -> usize {
    NOW.load(Ordering::SeqCst)
}

/// Runs `f` and returns its result and its peak heap in bytes above the heap alive when it
/// started. Call it while holding `turn()`.
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = NOW.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
    (out, peak)
}
