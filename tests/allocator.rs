//! Issue 15: the `pipit` binary's allocator on Linux (src/alloc.rs) is mimalloc, set up before
//! its first allocation to reserve 64 MiB arenas (not mimalloc's default 1 GiB, whose bitmaps
//! and page infos kept ~160 KiB resident at idle) with transparent huge pages off for the process
//! (else each touched arena chunk can become a 2 MiB page: 8 MiB idle RssAnon). A real
//! `pipit serve` child is read through /proc. Bad setups: mimalloc's default reserve (tried:
//! `MIMALLOC_ARENA_RESERVE=1GiB` in the environment fails the 1 GiB assert), glibc's malloc as
//! before branch alloc2 (THP left on, no arena mapping), options set in `main` rather than
//! before the runtime's first allocation (the first arena would already be 1 GiB).

mod common;
use common::{spawn_serve, Client, TempDir};

/// Sizes in bytes of the process's private anonymous read-write mappings (/proc/PID/maps lines
/// with no path and inode 0).
fn anonymous_rw_mappings(pid: u32) -> Vec<u64> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    maps.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // address perms offset dev inode [path]
            if f.len() != 5 || f[1] != "rw-p" || f[4] != "0" {
                return None;
            }
            let (a, b) = f[0].split_once('-')?;
            Some(u64::from_str_radix(b, 16).ok()? - u64::from_str_radix(a, 16).ok()?)
        })
        .collect()
}

#[tokio::test]
async fn serve_runs_mimalloc_with_64_mib_arenas_and_no_transparent_huge_pages() {
    let dir = TempDir::new("allocator");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    pipit::cli::init(dir.path(), &base, "owner", &format!("127.0.0.1:{port}"), true).unwrap();
    let mut proc = spawn_serve(dir.path(), &format!("127.0.0.1:{port}"), None).await;
    // One request, so a worker thread has allocated too.
    assert_eq!(Client::new(&base).get("/.well-known/nodeinfo").await.status, 200);
    let pid = proc.id();

    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let thp = status.lines().find_map(|l| l.strip_prefix("THP_enabled:")).map(str::trim);
    let maps = anonymous_rw_mappings(pid);
    proc.kill().unwrap();
    proc.wait().unwrap();

    assert_eq!(thp, Some("0"), "transparent huge pages must be off for pipit (prctl PR_SET_THP_DISABLE)");
    const MIB: u64 = 1 << 20;
    assert!(maps.iter().all(|&len| len < 1024 * MIB), "an anonymous mapping of 1 GiB or more: mimalloc's default arena reserve ({maps:?})");
    // Two arenas reserved back to back may show as one mapping.
    assert!(
        maps.iter().any(|&len| len >= 64 * MIB && len % (64 * MIB) == 0),
        "no 64 MiB mimalloc arena among the anonymous mappings: not mimalloc, or not set up before its first allocation ({maps:?})"
    );
}
