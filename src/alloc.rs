//! The process's global allocator.
//!
//! Linux builds (the static musl binary that ships to the Pi, and glibc builds: dev, tests that
//! spawn the binary, the budget's glibc line) use mimalloc (v3, the crate's default). musl's own
//! allocator (mallocng) keeps resident what a mixed load frees, so RSS grew without a plateau
//! while pipit's live heap stayed flat; glibc's plateaus, but in steps and keeping ~2.3 MiB of
//! free memory (issue 15, cross/BENCHMARKS.md branches soak, alloc, alloc2). One allocator on
//! both builds: what the tests and the dev build run is what ships, and the budget's glibc and
//! musl lines measure the same memory behaviour.
//!
//! Options, set in code (not by `MIMALLOC_*` environment variables: the Pi's unit file must
//! not be what keeps RSS small), before mimalloc's first allocation by an `.init_array` entry
//! ([`SET_OPTIONS`]; Rust's runtime allocates before `main`):
//! - arenas reserved [`ARENA_RESERVE_KIB`] (64 MiB) at a time instead of 1 GiB: an arena's
//!   bitmaps and page infos scale with its size, and for 1 GiB they kept ~160 KiB resident at
//!   idle (RssAnon 968 → 816 KiB, x86_64 musl). Under the budget's 64-client mix the heap
//!   plateaus near 5–6 MiB, inside one arena; mimalloc reserves another when one is full.
//! - blocks above [`ARENA_MAX_OBJECT_KIB`] (4 MiB; argon2's 19 MiB working memory at each
//!   login, an upload's decoded picture and planes) mapped from the OS and unmapped when freed,
//!   as glibc's malloc did with pipit's former `mallopt` threshold, instead of kept in an arena
//!   until a purge `purge_delay` (1 s) later at mimalloc's next call: an idle server kept
//!   argon2's memory after a login (RSS +22 MiB, tests/hardening.rs `fifty_logins_...`).
//! - transparent huge pages off for the process (prctl PR_SET_THP_DISABLE, plus the crate's
//!   `no_thp`, which drops mimalloc's MADV_HUGEPAGE): the aligned arenas would otherwise be
//!   backed by 2 MiB pages, and the idle server held 8.2 MiB of anonymous memory instead of
//!   ~1 MiB. Done before the first arena page is touched, so also where the kernel's THP mode
//!   is `always`.
//!
//! The two mimalloc options are defaults: `MIMALLOC_ARENA_RESERVE` / `MIMALLOC_ARENA_MAX_OBJECT_SIZE`
//! in the environment still override them (for measurements).
//!
//! `--features alloc-count` (an experiment, never on by default): a counting wrapper around the
//! base allocator that prints the live heap to stderr every `PIPIT_ALLOC_COUNT_SECS` seconds
//! (default 5), as `alloc-count: live_bytes=N live_allocs=N peak_bytes=N allocs_total=N` with
//! peak_bytes the highest live_bytes since the previous line. Issue 15 used it to tell pipit's
//! live heap from what the allocator keeps resident on the static musl build.

/// The allocator underneath: mimalloc on Linux, the system's elsewhere.
#[cfg(target_os = "linux")]
type Base = mimalloc::MiMalloc;
#[cfg(target_os = "linux")]
const BASE: Base = mimalloc::MiMalloc;
#[cfg(not(target_os = "linux"))]
#[allow(dead_code)] // used by the alloc-count feature only
type Base = std::alloc::System;
#[cfg(not(target_os = "linux"))]
#[allow(dead_code)]
const BASE: Base = std::alloc::System;

#[cfg(all(target_os = "linux", not(feature = "alloc-count")))]
#[global_allocator]
static GLOBAL: Base = BASE;

/// mimalloc's `arena_reserve` default set by [`SET_OPTIONS`], in KiB (mimalloc's unit for it):
/// 64 MiB, virtual address space (pages are committed and touched as used). Smaller values gain
/// nothing: mimalloc v3 raises a reservation to the allocation plus its largest in-arena chunk
/// (32 MiB on 64-bit), rounded up to that chunk, i.e. 64 MiB. Its own default is 1 GiB on 64-bit
/// and 128 MiB on 32-bit targets.
#[cfg(target_os = "linux")]
const ARENA_RESERVE_KIB: std::ffi::c_long = 64 * 1024;

/// mimalloc's `arena_max_object_size` default set by [`SET_OPTIONS`], in KiB: 4 MiB, mimalloc v3's
/// large page on 64-bit (2 MiB on 32-bit), so every block of a regular page stays in the arenas
/// and only single blocks above it go to the OS. Its own default is 2 GiB.
#[cfg(target_os = "linux")]
const ARENA_MAX_OBJECT_KIB: std::ffi::c_long = 4 * 1024;

/// Runs [`set_options`] before `main` and before Rust's runtime or mimalloc's own constructor
/// (`constructor(101)`, which may already allocate) run: `.init_array.NNNNN` entries are sorted
/// by NNNNN, lower first, ahead of the unnumbered ones.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00100"]
static SET_OPTIONS: extern "C" fn() = set_options;

/// See the module docs. Called once, single-threaded, before any allocation.
#[cfg(target_os = "linux")]
extern "C" fn set_options() {
    // mimalloc.h of libmimalloc-sys 0.1.49 (mimalloc 3.3.2): enum mi_option_e,
    // mi_option_arena_reserve = 23, mi_option_arena_max_object_size = 45. Re-check on an update
    // (`MIMALLOC_VERBOSE=1` prints the values in effect; tests/allocator.rs sees the arena size,
    // tests/hardening.rs `fifty_logins_...` the large blocks going back).
    const MI_OPTION_ARENA_RESERVE: std::ffi::c_int = 23;
    const MI_OPTION_ARENA_MAX_OBJECT_SIZE: std::ffi::c_int = 45;
    extern "C" {
        fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes plain integers and touches no memory of ours (an
    // error is ignored: THP only costs memory); mi_option_set_default stores into mimalloc's
    // static option table, which needs no initialisation.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        mi_option_set_default(MI_OPTION_ARENA_RESERVE, ARENA_RESERVE_KIB);
        mi_option_set_default(MI_OPTION_ARENA_MAX_OBJECT_SIZE, ARENA_MAX_OBJECT_KIB);
    }
}

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

/// Called first thing in `main`: with `alloc-count` starts the report thread (the allocator's
/// options are set earlier, by [`SET_OPTIONS`]).
pub fn init() {
    #[cfg(feature = "alloc-count")]
    count::start_report();
}
