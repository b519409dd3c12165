//! The process's global allocator.
//!
//! Static musl builds (what ships to the Pi) use mimalloc: musl's own allocator (mallocng) keeps
//! resident what a mixed load frees, so RSS grew without a plateau while pipit's live heap stayed
//! flat (issue 15, cross/BENCHMARKS.md). glibc builds keep the system allocator (it plateaus).
//! Without transparent huge pages: mimalloc's aligned arenas would otherwise be backed by 2 MiB
//! pages, and the idle server held 8.2 MiB of anonymous memory instead of ~1 MiB (the crate's
//! `no_thp` drops its MADV_HUGEPAGE; [`init`] turns THP off for the process where the kernel
//! uses them for every mapping).
//!
//! `--features alloc-count` (an experiment, never on by default): a counting wrapper around the
//! system allocator that prints the live heap to stderr every `PIPIT_ALLOC_COUNT_SECS` seconds
//! (default 5), as `alloc-count: live_bytes=N live_allocs=N peak_bytes=N allocs_total=N` with
//! peak_bytes the highest live_bytes since the previous line. Issue 15 used it to tell pipit's
//! live heap from what the allocator keeps resident on the static musl build.

/// The allocator underneath: mimalloc on musl, the system's elsewhere.
#[cfg(target_env = "musl")]
type Base = mimalloc::MiMalloc;
#[cfg(target_env = "musl")]
const BASE: Base = mimalloc::MiMalloc;
#[cfg(not(target_env = "musl"))]
#[allow(dead_code)] // used by the alloc-count feature only
type Base = std::alloc::System;
#[cfg(not(target_env = "musl"))]
#[allow(dead_code)]
const BASE: Base = std::alloc::System;

#[cfg(all(target_env = "musl", not(feature = "alloc-count")))]
#[global_allocator]
static GLOBAL: Base = BASE;

#[cfg(feature = "alloc-count")]
mod count {
    use super::BASE as System;
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
    static LIVE_ALLOCS: AtomicUsize = AtomicUsize::new(0);
    static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);
    static TOTAL_ALLOCS: AtomicUsize = AtomicUsize::new(0);

    /// Counts bytes and blocks handed out by the base allocator (requested sizes, not the allocator's
    /// rounded-up ones).
    pub struct Counting;

    fn add(size: usize) {
        let live = LIVE_BYTES.fetch_add(size, Relaxed) + size;
        LIVE_ALLOCS.fetch_add(1, Relaxed);
        TOTAL_ALLOCS.fetch_add(1, Relaxed);
        PEAK_BYTES.fetch_max(live, Relaxed);
    }

    fn sub(size: usize) {
        LIVE_BYTES.fetch_sub(size, Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Relaxed);
    }

    // SAFETY: every call is forwarded unchanged to the base allocator; the counters are only bookkeeping.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                add(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                add(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) };
            sub(layout.size());
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                sub(layout.size());
                add(new_size);
                TOTAL_ALLOCS.fetch_sub(1, Relaxed);
            }
            p
        }
    }

    /// Starts the thread printing the counters (see the module docs).
    pub fn start_report() {
        let secs = std::env::var("PIPIT_ALLOC_COUNT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5u64);
        let _ = std::thread::Builder::new().name("alloc-count".into()).spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(secs));
            let live = LIVE_BYTES.load(Relaxed);
            let peak = PEAK_BYTES.swap(live, Relaxed);
            eprintln!(
                "alloc-count: live_bytes={live} live_allocs={} peak_bytes={peak} allocs_total={}",
                LIVE_ALLOCS.load(Relaxed),
                TOTAL_ALLOCS.load(Relaxed)
            );
        });
    }
}

#[cfg(feature = "alloc-count")]
#[global_allocator]
static GLOBAL: count::Counting = count::Counting;

/// Called first thing in `main`: on musl turns transparent huge pages off for this process
/// (prctl PR_SET_THP_DISABLE; an error is ignored: THP only costs memory); with `alloc-count`
/// starts the report thread.
pub fn init() {
    #[cfg(all(target_os = "linux", target_env = "musl"))]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    #[cfg(feature = "alloc-count")]
    count::start_report();
}
