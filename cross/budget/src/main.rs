//! pipit's budget, measured: runs a real `pipit serve` on loopback and prints each budget line
//! beside what it measured. Not a test: figures depend on the machine; results are written down
//! in cross/BENCHMARKS.md.
//!
//!   cargo run --release --manifest-path cross/budget/Cargo.toml -- [--quick] [--media] [--bin PATH]
//!
//! `--media` measures only the 12-megapixel JPEG upload line (media.rs); `--only-pages` only the
//! uncached page lines (pages.rs) and the client API lines. `--soak ROUNDS [--secs S]` runs only
//! the flat-RSS line's load, for ROUNDS rounds after the warm-up, printing the memory after each.
//! `--only-idle [--hold]` only the two idle lines, on the same folder and the same start as the
//! full run (`--hold` leaves that serve running and prints its pid and folder);
//! `--pages-folder DIR` only prepares that folder at DIR (for `IDLE_DATA=DIR cross/idle_rss.sh`,
//! `IDLE_DATA=DIR cross/startup-order.sh`) and exits.
//!
//! The pipit measured is PATH, else cross/out/x86_64-unknown-linux-musl/pipit (static musl, as on
//! a Pi), else target/release/pipit.

mod media;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use pipit::model::{FollowState, Follower, Following, Post, Visibility};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod floor;
mod churn;
mod pages;

const CHURN_PASSWORD: &str = "correct horse battery staple";

const MIB: f64 = 1024.0 * 1024.0;

struct Row {
    what: String,
    budget: String,
    measured: String,
    ok: Option<bool>,
}

fn row(rows: &mut Vec<Row>, what: &str, budget: &str, measured: String, ok: Option<bool>) {
    println!("  {what}: {measured} (budget {budget}) {}", match ok { Some(true) => "PASS", Some(false) => "MISS", None => "" });
    rows.push(Row { what: what.into(), budget: budget.into(), measured, ok });
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn pipit_bin(args: &[String]) -> PathBuf {
    if let Some(i) = args.iter().position(|a| a == "--bin") {
        return PathBuf::from(&args[i + 1]);
    }
    let musl = root().join("cross/out/x86_64-unknown-linux-musl/pipit");
    if musl.exists() {
        return musl;
    }
    let rel = root().join("target/release/pipit");
    if !rel.exists() {
        eprintln!("no pipit binary: run cross/build.sh x86_64-unknown-linux-musl or cargo build --release");
        std::process::exit(2);
    }
    rel
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in microseconds.
fn cpu_us(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hz = unsafe { libc_sysconf_clk_tck() };
    ticks * 1_000_000 / hz
}

extern "C" {
    fn sysconf(name: i32) -> i64;
}
unsafe fn libc_sysconf_clk_tck() -> u64 {
    // _SC_CLK_TCK is 2 on Linux.
    (sysconf(2).max(1)) as u64
}

fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("write_bytes:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A data folder with `pipit init`, optionally adjusted in-process before the server starts.
fn prepare(bin: &Path, tag: &str, setup: impl FnOnce(&pipit::App), tweak: impl FnOnce(&mut pipit::Config)) -> (PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("pipit-budget-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let out = Command::new(bin).args(["init", "--data", dir.to_str().unwrap(), "--url", &format!("http://127.0.0.1:{port}"), "--username", "me", "--listen", &format!("127.0.0.1:{port}"), "--allow-private-addresses"]).output().unwrap();
    assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
    let mut cfg = pipit::Config::load(&dir).unwrap();
    cfg.log = "warn".into();
    tweak(&mut cfg);
    cfg.save(&dir).unwrap();
    {
        let app = pipit::App::open(&dir).unwrap();
        setup(&app);
    }
    std::thread::sleep(Duration::from_millis(200)); // the store's writer thread lets go
    (dir, port)
}

async fn start(bin: &Path, dir: &Path, port: u16) -> (Child, Duration) {
    let t = Instant::now();
    let child = Command::new(bin).args(["serve", "--data", dir.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
    loop {
        if let Ok(r) = get(port, "/.well-known/nodeinfo").await {
            if r == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (child, t.elapsed())
}

async fn get(port: u16, path: &str) -> Result<u16, String> {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let r = tx.send_request(hyper::Request::get(path).header("host", format!("127.0.0.1:{port}")).body(Full::new(Bytes::new())).unwrap()).await.map_err(|e| e.to_string())?;
    Ok(r.status().as_u16())
}

/// `clients` keep-alive connections cycling through `paths` until `until`; returns requests made.
async fn load(port: u16, paths: Arc<Vec<(String, &'static str)>>, clients: usize, until: Instant) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (paths, done) = (paths.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
            tokio::spawn(conn);
            let mut i = c;
            while Instant::now() < until {
                let (p, accept) = &paths[i % paths.len()];
                i += 1;
                let req = hyper::Request::get(p.as_str()).header("host", format!("127.0.0.1:{port}")).header("accept", *accept).body(Full::new(Bytes::new())).unwrap();
                match tx.send_request(req).await {
                    Ok(r) => {
                        let _ = r.into_body().collect().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed)
}

fn post(id: u64, author: &str, uri: String, text: &str, local: bool, in_reply_to: Option<String>) -> Post {
    let uri = pipit::httpurl::HttpUrl::parse(&uri).expect("an http(s) post id");
    Post {
        id,
        url: Some(uri.clone()),
        uri,
        language: None,
        author: author.into(),
        local,
        content: format!("<p>{text}</p>"),
        source: text.into(),
        summary: String::new(),
        visibility: Visibility::Public,
        in_reply_to: in_reply_to.and_then(|u| pipit::httpurl::HttpUrl::parse(&u)),
        published_ms: pipit::ids::id_ms(id),
        edited_ms: None,
        tags: vec![],
        mentions: vec![],
        attachments: vec![],
        sensitive: false,
        quote: None,
        poll: None,
        emojis: vec![],
        card: None,
        local_only: false,
        held_until_ms: None,
    }
}

/// `--soak ROUNDS [--secs S]`: the flat-RSS line's load (64 clients on the mixed endpoints), one
/// warm-up round and then ROUNDS rounds of S seconds, printing after each the server's VmRSS,
/// RssAnon (heap and other private memory: where a leak shows), RssFile, VmHWM, its threads and
/// open fds, the store file's size and the requests made. `PIPIT_SOAK_WRAP` (words split on
/// spaces) runs the server under a tool, e.g. `heaptrack -o /tmp/soak`; the server is killed
/// (SIGKILL) after the last round. `PIPIT_SOAK_ONLY`, `PIPIT_SOAK_CLIENTS`, `PIPIT_SOAK_TRIM`:
/// see below and cross/BENCHMARKS.md, "Issue 15 (branch soak)".
async fn soak(bin: &Path, rounds: usize, secs: u64) {
    let (dir, port, thread_root) = pages_folder(bin);
    let wrap: Vec<String> = std::env::var("PIPIT_SOAK_WRAP").unwrap_or_default().split_whitespace().map(String::from).collect();
    let mut child = if wrap.is_empty() {
        start(bin, &dir, port).await.0
    } else {
        let child = Command::new(&wrap[0]).args(&wrap[1..]).arg(bin).args(["serve", "--data", dir.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
        while get(port, "/.well-known/nodeinfo").await != Ok(200) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child
    };
    // Under a wrapper the server is the wrapper's newest descendant named like the binary.
    let pid = server_pid(child.id(), bin);
    // `PIPIT_SOAK_ONLY=Profile HTML|Atom feed` loads only the endpoints so named (to tell apart
    // which answers the memory grows with; `|` since one name has a comma).
    let only = std::env::var("PIPIT_SOAK_ONLY").ok();
    let mixed: Arc<Vec<(String, &'static str)>> = Arc::new(mixed_endpoints(port, &thread_root.to_string()).into_iter()
        .filter(|(name, ..)| only.as_deref().is_none_or(|o| o.split('|').any(|n| n.trim() == *name)))
        .map(|(_, p, a, _)| (p, a)).collect());
    let line = |round: &str, n: u64| {
        // The store's file too: a GET that writes would grow it (and redb's cache with it).
        let db = std::fs::metadata(dir.join(pipit::store::DB_FILE)).map(|m| m.len()).unwrap_or(0);
        println!("round {round:>7}: VmRSS {:6.2} MiB  RssAnon {:6.2} MiB  RssFile {:6.2} MiB  VmHWM {:6.2} MiB  threads {:2}  fds {:3}  pipit.redb {} KiB  requests {n}",
            status_kib(pid, "VmRSS:") as f64 / 1024.0, status_kib(pid, "RssAnon:") as f64 / 1024.0, status_kib(pid, "RssFile:") as f64 / 1024.0,
            status_kib(pid, "VmHWM:") as f64 / 1024.0, status_kib(pid, "Threads:"), std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0), db / 1024);
    };
    // `PIPIT_SOAK_CLIENTS=8`: fewer clients at once (fewer renders of one page at once when its
    // cache entry expires).
    let clients: usize = std::env::var("PIPIT_SOAK_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    println!("soak: pid {pid}, {clients} clients × {} endpoints, warm-up + {rounds} rounds of {secs} s", mixed.len());
    line("idle", 0);
    let n = load(port, mixed.clone(), clients, Instant::now() + Duration::from_secs(secs)).await;
    line("warm-up", n);
    for r in 1..=rounds {
        let n = load(port, mixed.clone(), clients, Instant::now() + Duration::from_secs(secs)).await;
        line(&r.to_string(), n);
    }
    if std::env::var_os("PIPIT_SOAK_TRIM").is_some() {
        // glibc only: what malloc_trim(0) gives back is memory the allocator kept after it was
        // freed (fragmentation), not memory pipit holds.
        let out = Command::new("gdb").args(["-p", &pid.to_string(), "-batch", "-ex", "call (int)malloc_trim(0)"]).output();
        println!("malloc_trim(0) via gdb: {}", out.map(|o| o.status.to_string()).unwrap_or_else(|e| e.to_string()));
        line("trimmed", 0);
    }
    if !wrap.is_empty() {
        // SIGKILL, not SIGTERM: a graceful stop frees the caches, and the tool is to see what is
        // alive after the last round (heaptrack's "leaked" is then the live heap by call stack).
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().ok();
        child.wait().ok();
    } else {
        child.kill().ok();
        child.wait().ok();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pid` itself, or under a wrapper tool the descendant process running `bin`.
fn server_pid(pid: u32, bin: &Path) -> u32 {
    let name: String = bin.file_name().unwrap().to_string_lossy().chars().take(15).collect();
    let mut found = pid;
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for c in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            if std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap_or_default().trim() == name {
                found = c;
            }
            frontier.push(c);
        }
    }
    found
}

/// The data folder of the page lines: a profile of 61 posts, one of them with a 20-reply thread,
/// and the owner's password. Returns the folder, its port and the thread's root id.
fn pages_folder(bin: &Path) -> (PathBuf, u16, u64) {
    let mut thread_root = 0u64;
    let (dir, port) = prepare(bin, "pages", |app| {
        let me = app.urls.actor();
        app.store.write(|w| {
            let root_id = pipit::ids::next_id();
            thread_root = root_id;
            let root = post(root_id, &me, app.urls.post_uri(root_id), "the root post with a thread", true, None);
            w.put_post(&root)?;
            for i in 0..20 {
                let id = pipit::ids::next_id();
                w.put_post(&post(id, &me, app.urls.post_uri(id), &format!("reply {i}"), true, Some(root.uri.to_string())))?;
            }
            for i in 0..40 {
                let id = pipit::ids::next_id();
                w.put_post(&post(id, &me, app.urls.post_uri(id), &format!("post {i} with some words in it"), true, None))?;
            }
            Ok(())
        }).unwrap();
        pipit::domain::owner::set_password(app, CHURN_PASSWORD).unwrap();
    }, |_| {});
    (dir, port, thread_root)
}

/// The two idle lines, read from a `serve` started by `start` 2 s ago.
fn idle_rows(pid: u32, rows: &mut Vec<Row>) {
    let idle = status_kib(pid, "VmRSS:");
    row(rows, "Idle RSS of pipit serve", "≤ 4 MiB", format!("{:.1} MiB ({idle} KiB)", idle as f64 / 1024.0), Some(idle <= 4 * 1024));
    let anon = status_kib(pid, "RssAnon:");
    row(rows, "Idle RssAnon of pipit serve", "≤ 1.5 MiB", format!("{:.2} MiB ({anon} KiB)", anon as f64 / 1024.0), Some(anon <= 1536));
}

/// The mixed load's endpoints: (name, path, Accept, CPU budget in µs per request). Budgets: the
/// lower of the old line and a fifth of snac2's figure from issue 15 (snac2 was not built here:
/// its figures are the issue's, measured on the same kind of machine).
fn mixed_endpoints(port: u16, thread_id: &str) -> Vec<(&'static str, String, &'static str, u64)> {
    let host = format!("127.0.0.1:{port}");
    vec![
        ("WebFinger", format!("/.well-known/webfinger?resource=acct:me@{host}"), "application/jrd+json", 32),
        ("Actor JSON", "/users/me".into(), "application/activity+json", 50),
        ("Post JSON", format!("/users/me/statuses/{thread_id}"), "application/activity+json", 47),
        ("Profile HTML", "/@me".into(), "text/html", 56),
        ("Post HTML, 20-reply thread", format!("/@me/{thread_id}"), "text/html", 100),
        ("Outbox page", "/users/me/outbox?page=true".into(), "application/activity+json", 100),
        ("Atom feed", "/@me.atom".into(), "application/atom+xml", 100),
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--hello-floor") {
        floor::serve(args[2].parse().unwrap()).await;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let bin = pipit_bin(&args);
    let mut rows = Vec::new();
    println!("measuring {}{}", bin.display(), if quick { " (quick)" } else { "" });
    if args.iter().any(|a| a == "--only-streams") {
        // Just the streaming line (cheap: runs against any binary, e.g. --bin target/debug/pipit).
        return streams_bench(&bin, &mut rows).await;
    }
    if args.iter().any(|a| a == "--only-pages") {
        // Pages the page cache cannot answer, and the API timelines (issue 15).
        pages::pages_bench(&bin, quick, &mut rows).await;
        api_bench(&bin, quick, &mut rows).await;
        print_table(&rows);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--soak") {
        // The flat-RSS line's load for many rounds (issue 15: plateau or leak?).
        let rounds: usize = args.get(i + 1).and_then(|v| v.parse().ok()).expect("--soak ROUNDS");
        let secs: u64 = args.iter().position(|a| a == "--secs").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(if quick { 5 } else { 30 });
        return soak(&bin, rounds, secs).await;
    }
    if let Some(i) = args.iter().position(|a| a == "--pages-folder") {
        // The page lines' folder at a path of the caller's, for cross/idle_rss.sh (issue 15).
        let dest = PathBuf::from(args.get(i + 1).expect("--pages-folder DIR"));
        let (dir, _, _) = pages_folder(&bin);
        let _ = std::fs::remove_dir_all(&dest);
        assert!(Command::new("cp").arg("-a").arg(&dir).arg(&dest).status().unwrap().success(), "cp -a {} {}", dir.display(), dest.display());
        let _ = std::fs::remove_dir_all(&dir);
        println!("{}", dest.display());
        return;
    }
    if args.iter().any(|a| a == "--only-idle") {
        // Just the idle lines, measured exactly as in the full run (issue 15).
        let (dir, port, _) = pages_folder(&bin);
        let (mut child, _) = start(&bin, &dir, port).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        idle_rows(child.id(), &mut rows);
        if args.iter().any(|a| a == "--hold") {
            // For smaps/pagemap: the caller ends it (`kill PID`) and removes the folder.
            println!("serve left running: pid {} folder {}", child.id(), dir.display());
            return;
        }
        child.kill().ok();
        child.wait().ok();
        let _ = std::fs::remove_dir_all(&dir);
        print_table(&rows);
        return;
    }
    if args.iter().any(|a| a == "--media") {
        // Just the 12 MP upload line.
        media::media_bench(&bin, &mut rows).await;
        print_table(&rows);
        return;
    }

    // 1. Binary size.
    let arm = root().join("cross/out/aarch64-unknown-linux-musl/pipit");
    match std::fs::metadata(&arm) {
        Ok(m) => row(&mut rows, "Binary, stripped aarch64", "≤ 8 MiB", format!("{:.2} MiB", m.len() as f64 / MIB), Some(m.len() as f64 <= 8.0 * MIB)),
        Err(_) => row(&mut rows, "Binary, stripped aarch64", "≤ 8 MiB", "not built (cross/build.sh)".into(), None),
    }

    // 2–4. A profile with a post that has a 20-reply thread.
    let (dir, port, thread_root) = pages_folder(&bin);
    let (mut child, _) = start(&bin, &dir, port).await;
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    idle_rows(pid, &mut rows);

    let thread_id = thread_root.to_string();
    let check = reqwest_body(port, &format!("/@me/{thread_id}")).await;
    assert!(check.contains("reply 19"), "the thread page shows its 20 replies");
    let endpoints = mixed_endpoints(port, &thread_id);
    let secs = if quick { 5 } else { 30 };
    let mixed: Arc<Vec<(String, &'static str)>> = Arc::new(endpoints.iter().map(|(_, p, a, _)| (p.clone(), *a)).collect());
    // One warm-up round fills redb's cache and the allocator's pools; then three measured rounds.
    let mut total = load(port, mixed.clone(), 64, Instant::now() + Duration::from_secs(secs)).await;
    let (mut round_rss, mut round_anon) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        total += load(port, mixed.clone(), 64, Instant::now() + Duration::from_secs(secs)).await;
        round_rss.push(status_kib(pid, "VmRSS:"));
        round_anon.push(status_kib(pid, "RssAnon:"));
    }
    let peak = status_kib(pid, "VmHWM:");
    row(&mut rows, &format!("Peak RSS, 64 clients × mixed endpoints × {secs} s × 4 rounds ({total} requests)"), "≤ 24 MiB", format!("{:.1} MiB", peak as f64 / 1024.0), Some(peak <= 24 * 1024));
    let grow = round_rss[2] as f64 / round_rss[0].max(1) as f64;
    row(&mut rows, "RSS after each of 3 rounds (after a warm-up round)", "flat (±5 %)", {
        // RssAnon beside it: heap growth (a leak) and code paged in by the binary show apart.
        let mib = |v: &[u64]| v.iter().map(|k| format!("{:.1}", *k as f64 / 1024.0)).collect::<Vec<_>>().join(" → ");
        format!("{} MiB (RssAnon {} MiB)", mib(&round_rss), mib(&round_anon))
    }, Some((0.95..=1.05).contains(&grow)));
    // The floor: bare hyper in its own process, loaded the same way.
    let floor_port = free_port();
    let mut floor_child = Command::new(std::env::current_exe().unwrap()).args(["--hello-floor", &floor_port.to_string()]).spawn().unwrap();
    while get(floor_port, "/").await.is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = cpu_us(floor_child.id());
    let n = load(floor_port, Arc::new(vec![("/".to_string(), "*/*")]), 8, Instant::now() + Duration::from_secs(if quick { 2 } else { 5 })).await;
    let floor = (cpu_us(floor_child.id()) - before) as f64 / n.max(1) as f64;
    floor_child.kill().ok();
    floor_child.wait().ok();
    row(&mut rows, "CPU per request: bare hyper hello (the floor, same run)", "reported", format!("{floor:.1} µs ({n} requests)"), None);
    for (name, path, accept, budget) in &endpoints {
        let before = cpu_us(pid);
        let n = load(port, Arc::new(vec![(path.clone(), *accept)]), 8, Instant::now() + Duration::from_secs(if quick { 2 } else { 5 })).await;
        let per = (cpu_us(pid) - before) as f64 / n.max(1) as f64;
        // JSON answers are also held to 3× the floor.
        let json = accept.contains("json");
        let (line, ok) = if json {
            (format!("≤ {budget} µs and ≤ 3× floor"), per <= *budget as f64 && per <= 3.0 * floor)
        } else {
            (format!("≤ {budget} µs"), per <= *budget as f64)
        };
        row(&mut rows, &format!("CPU per request: {name}"), &line, format!("{per:.0} µs ({:.1}× floor, {n} requests)", per / floor.max(0.001)), Some(ok));
    }
    // Memory after churn: 50 logins, 30 anonymous 10 MiB uploads.
    assert_eq!(churn::login(port, CHURN_PASSWORD).await, 303, "warm-up login");
    let before = status_kib(pid, "VmRSS:");
    for _ in 0..50 {
        assert_eq!(churn::login(port, CHURN_PASSWORD).await, 303, "login");
    }
    let after_logins = status_kib(pid, "VmRSS:");
    let uploads: Vec<_> = (0..30).map(|_| tokio::spawn(churn::anonymous_upload(port))).collect();
    for u in uploads {
        let status = u.await.unwrap();
        assert!(status.is_empty() || status.contains(" 401"), "anonymous upload: {status}");
    }
    let after = status_kib(pid, "VmRSS:");
    let mib = |k: u64| k as f64 / 1024.0;
    row(&mut rows, "RSS before → after 50 logins → after 30 anonymous 10 MiB uploads", "within 2 MiB", format!("{:.1} → {:.1} → {:.1} MiB", mib(before), mib(after_logins), mib(after)), Some(after.max(after_logins) <= before + 2048));
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);

    // 4b. The client API beside the pages (issue 10).
    api_bench(&bin, quick, &mut rows).await;

    // 5 + 7. Inbox: signed Creates from 100 actors (10 keys shared), stored durably.
    inbox_bench(&bin, quick, &mut rows).await;
    // 6. Fan-out to 10,000 followers on 2,000 hosts.
    fanout_bench(&bin, &mut rows).await;
    // Streaming API: RSS and idle CPU of 20 open WebSockets.
    streams_bench(&bin, &mut rows).await;
    // 8. Startup with 100,000 posts.
    let n_posts = 100_000u64;
    let (dir, port) = prepare(&bin, "startup", |app| {
        let me = app.urls.actor();
        for _ in 0..(n_posts / 10_000) {
            app.store.write(|w| {
                for i in 0..10_000 {
                    let id = pipit::ids::next_id();
                    w.put_post(&post(id, &me, app.urls.post_uri(id), &format!("stored post {i}"), true, None))?;
                }
                Ok(())
            }).unwrap();
        }
    }, |_| {});
    let (mut child, took) = start(&bin, &dir, port).await;
    row(&mut rows, "Startup to first request, 100,000 posts stored", "≤ 100 ms", format!("{} ms", took.as_millis()), Some(took <= Duration::from_millis(100)));
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);

    // 9. A 12-megapixel JPEG upload.
    media::media_bench(&bin, &mut rows).await;
    print_table(&rows);
}

fn print_table(rows: &[Row]) {
    println!("\n| budget line | budget | measured | |\n|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.what, r.budget, r.measured, match r.ok { Some(true) => "pass", Some(false) => "MISS", None => "–" });
    }
}

/// Opens one streaming WebSocket (`user`) by hand: the upgrade request, then the 101 read; the
/// socket stays open while the returned stream lives.
async fn open_stream(port: u16, token: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET /api/v1/streaming?stream=user HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-protocol: {token}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "streaming upgrade: connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 101"), "streaming upgrade refused: {}", String::from_utf8_lossy(&got));
    s
}

/// The streaming API's idle cost (issue 10): RSS with 20 open `user` streams against none, and
/// the CPU those 20 cost while nothing happens (only the 45 s pings may wake them).
async fn streams_bench(bin: &Path, rows: &mut Vec<Row>) {
    let mut token = String::new();
    let (dir, port) = prepare(bin, "streams", |app| {
        let reg = pipit::domain::oauth::register(app, "budget", vec!["urn:ietf:wg:oauth:2.0:oob".into()], "read", None).ok().unwrap();
        token = pipit::domain::oauth::owner_password_grant(app, reg.id, &reg.app, "read").ok().unwrap().access_token;
    }, |_| {});
    let (mut child, _) = start(bin, &dir, port).await;
    let pid = child.id();
    // Warm: one stream opened and closed, so the first-use allocations are not counted below.
    drop(open_stream(port, &token).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let none = status_kib(pid, "VmRSS:");
    let cpu0 = cpu_us(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_none = cpu_us(pid) - cpu0;
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(open_stream(port, &token).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = status_kib(pid, "VmRSS:");
    let grew = with.saturating_sub(none);
    row(rows, "RSS, 20 open streams vs none", "≤ +1 MiB", format!("{:.1} → {:.1} MiB (+{grew} KiB, {:.0} KiB each)", none as f64 / 1024.0, with as f64 / 1024.0, grew as f64 / 20.0), Some(grew <= 1024));
    let before = cpu_us(pid);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle = cpu_us(pid) - before;
    let extra = idle.saturating_sub(idle_none);
    row(rows, "CPU over 10 idle s, 20 open streams vs none", "≈ +0 (≤ +10 ms)", format!("{:.1} vs {:.1} ms", idle as f64 / 1000.0, idle_none as f64 / 1000.0), Some(extra <= 10_000));
    drop(open);
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn reqwest_body(port: u16, path: &str) -> String {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let r = tx.send_request(hyper::Request::get(path).header("host", format!("127.0.0.1:{port}")).body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).to_string()
}

/// Serves 100 actor documents (keys shared by groups of 10) and counts nothing else.
async fn actor_stub(keys: Arc<Vec<String>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let keys = keys.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let keys = keys.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let n: usize = path.trim_start_matches("/users/").parse().unwrap_or(0);
                        let id = format!("http://127.0.0.1:{port}/users/{n}");
                        let doc = serde_json::json!({
                            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                            "id": id, "type": "Person", "preferredUsername": format!("a{n}"), "inbox": format!("{id}/inbox"),
                            "publicKey": { "id": format!("{id}#main-key"), "owner": id, "publicKeyPem": keys[n % keys.len()] },
                        });
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().header("content-type", "application/activity+json").body(Full::new(Bytes::from(doc.to_string()))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    port
}

async fn inbox_bench(bin: &Path, quick: bool, rows: &mut Vec<Row>) {
    const ACTORS: usize = 100;
    let n: usize = if quick { 2_000 } else { 10_000 };
    let mut privs = Vec::new();
    let mut pems = Vec::new();
    for _ in 0..10 {
        let rsa = pipit::keygen::pem_decode(&pipit::keygen::rsa_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let ed = pipit::keygen::pem_decode(&pipit::keygen::ed25519_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let k = pipit::federation::keys::ActorKeys::from_pkcs8(&rsa, &ed).unwrap();
        pems.push(k.rsa_public_pem());
        privs.push(Arc::new(k));
    }
    let stub = actor_stub(Arc::new(pems)).await;
    let actor = |i: usize| format!("http://127.0.0.1:{stub}/users/{i}");
    let (dir, port) = prepare(bin, "inbox", |app| {
        app.store.write(|w| {
            for i in 0..ACTORS {
                w.put_following(&actor(i), &Following { state: FollowState::Accepted, since_ms: 1, follow_id: format!("{}/f/{i}", app.urls.actor()), options: Default::default() })?;
            }
            Ok(())
        }).unwrap();
    }, |_| {});
    let (mut child, _) = start(bin, &dir, port).await;
    let pid = child.id();
    let db = dir.join(pipit::store::DB_FILE);
    let (cpu0, wb0, size0) = (cpu_us(pid), write_bytes(pid), std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0));
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (next, accepted, privs) = (next.clone(), accepted.clone(), privs.clone());
        tasks.push(tokio::spawn(async move {
            let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
            tokio::spawn(conn);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= n {
                    return;
                }
                let a = i % ACTORS;
                let id = format!("http://127.0.0.1:{stub}/users/{a}");
                let body = serde_json::json!({
                    "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{id}/activities/{i}"), "type": "Create", "actor": id,
                    "object": { "id": format!("{id}/notes/{i}"), "type": "Note", "attributedTo": id, "content": format!("<p>delivery number {i} from actor {a}, a post of ordinary length with a few words</p>"),
                        "to": ["https://www.w3.org/ns/activitystreams#Public"], "published": "2026-11-22T12:00:00Z" },
                }).to_string();
                let uri: hyper::Uri = format!("http://127.0.0.1:{port}/inbox").parse().unwrap();
                let mut headers = hyper::HeaderMap::new();
                pipit::federation::sign::sign_cavage(&hyper::Method::POST, &uri, &mut headers, Some(body.as_bytes()), &format!("{id}#main-key"), &privs[a % privs.len()], std::time::SystemTime::now());
                let mut req = hyper::Request::post("/inbox").header("content-type", "application/activity+json");
                for (k, v) in headers.iter() {
                    req = req.header(k, v);
                }
                match tx.send_request(req.body(Full::new(Bytes::from(body))).unwrap()).await {
                    Ok(r) => {
                        if r.status().as_u16() == 202 {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = r.into_body().collect().await;
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let wall = t.elapsed().as_secs_f64();
    let ok = accepted.load(Ordering::Relaxed);
    let cpu = (cpu_us(pid) - cpu0) as f64 / 1e6;
    // Acknowledged deliveries reach the disk within the bounded delay (store/group.rs): count
    // those bytes too.
    tokio::time::sleep(pipit::store::FLUSH_DELAY + Duration::from_millis(500)).await;
    let wrote = write_bytes(pid) - wb0;
    let size1 = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    row(rows, &format!("Inbox: signed Creates from {ACTORS} actors ({ok}/{n} accepted)"), "≥ 2,000/s on one core", format!("{:.0}/s wall, {:.0} per CPU-second", ok as f64 / wall, ok as f64 / cpu.max(0.001)), Some(ok as f64 / cpu.max(0.001) >= 2000.0));
    row(rows, "Disk written per received post", "≤ 8 KiB", format!("{:.1} KiB ({} MiB for {ok})", wrote as f64 / 1024.0 / ok.max(1) as f64, wrote / (1 << 20)), Some(wrote as f64 / ok.max(1) as f64 <= 8192.0));
    row(rows, "Database growth per stored remote post", "reported", format!("{:.2} KiB", size1.saturating_sub(size0) as f64 / 1024.0 / ok.max(1) as f64), None);
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn fanout_bench(bin: &Path, rows: &mut Vec<Row>) {
    const FOLLOWERS: usize = 10_000;
    const HOSTS: usize = 2_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = listener.local_addr().unwrap();
    let hosts: Arc<Mutex<HashSet<String>>> = Default::default();
    let h2 = hosts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let hosts = h2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let hosts = hosts.clone();
                    async move {
                        if let Some(h) = req.headers().get("host").and_then(|v| v.to_str().ok()) {
                            hosts.lock().unwrap().insert(h.to_string());
                        }
                        let _ = req.into_body().collect().await;
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(202).body(Full::new(Bytes::new())).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    let (dir, port) = prepare(bin, "fanout", |app| {
        app.store.write(|w| {
            for i in 0..FOLLOWERS {
                let h = i % HOSTS;
                let f = Follower { since_ms: 1, follow_id: format!("http://h{h}.bench.example/f/{i}"), inbox: format!("http://h{h}.bench.example/inbox") };
                w.put_follower(&format!("http://h{h}.bench.example/users/{i}"), &f)?;
            }
            Ok(())
        }).unwrap();
    }, |c| c.connect_override = Some(sink.to_string()));
    let (mut child, _) = start(bin, &dir, port).await;
    let pid = child.id();
    let t = Instant::now();
    let out = Command::new(bin).args(["post", "--data", dir.to_str().unwrap(), "hello to ten thousand followers"]).output().unwrap();
    assert!(out.status.success(), "post: {}", String::from_utf8_lossy(&out.stderr));
    let mut peak = 0;
    while hosts.lock().unwrap().len() < HOSTS && t.elapsed() < Duration::from_secs(180) {
        peak = peak.max(status_kib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = t.elapsed();
    let got = hosts.lock().unwrap().len();
    row(rows, &format!("Fan-out: {FOLLOWERS} followers on {HOSTS} hosts ({got} hosts reached)"), "≤ 60 s", format!("{:.1} s", took.as_secs_f64()), Some(got == HOSTS && took <= Duration::from_secs(60)));
    row(rows, "RSS during fan-out (peak of 100 ms samples)", "≤ 24 MiB", format!("{:.1} MiB", peak as f64 / 1024.0), Some(peak <= 24 * 1024));
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `clients` keep-alive connections sending `method path` with `headers` (and a JSON `body`
/// when given, `{n}` replaced by a per-connection counter) until `until`; returns the requests
/// answered 200. The API lines send a bearer token, the uncached page lines a session cookie.
pub(crate) async fn load_with(port: u16, method: &'static str, path: &str, headers: &[(&'static str, String)], body: Option<String>, clients: usize, until: Instant) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (done, path, headers, body) = (done.clone(), path.to_string(), headers.to_vec(), body.clone());
        tasks.push(tokio::spawn(async move {
            let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
            tokio::spawn(conn);
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let mut req = hyper::Request::builder().method(method).uri(path.as_str()).header("host", format!("127.0.0.1:{port}"));
                for (k, v) in &headers {
                    req = req.header(*k, v.as_str());
                }
                let b = match &body {
                    Some(b) => {
                        req = req.header("content-type", "application/json");
                        Bytes::from(b.replace("{n}", &i.to_string()))
                    }
                    None => Bytes::new(),
                };
                match tx.send_request(req.body(Full::new(b)).unwrap()).await {
                    Ok(r) => {
                        let ok = r.status() == 200;
                        let _ = r.into_body().collect().await;
                        if ok {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed)
}

/// `load_with` as the owner's client app: its bearer token on every request.
async fn load_api(port: u16, method: &'static str, path: &str, token: &str, body: Option<String>, clients: usize, until: Instant) -> u64 {
    load_with(port, method, path, &[("authorization", format!("Bearer {token}"))], body, clients, until).await
}

/// CPU per request of the client API's hottest calls: verify_credentials (every app start),
/// a home timeline page of 20 (entities built for each status), and posting a status (a
/// durable write and a delivery job per follower host; here none).
async fn api_bench(bin: &Path, quick: bool, rows: &mut Vec<Row>) {
    let mut token = String::new();
    let (dir, port) = prepare(bin, "api", |app| {
        let reg = pipit::domain::oauth::register(app, "budget", vec!["urn:ietf:wg:oauth:2.0:oob".into()], "read write", None).expect("register an app");
        token = pipit::domain::oauth::owner_password_grant(app, reg.id, &reg.app, "read write").expect("a token").access_token;
        for i in 0..60 {
            let p = pipit::domain::posts::NewPost { text: format!("home post {i} with #some words and a link https://example.com/{i}"), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], resolved: vec![], quote: None };
            pipit::domain::posts::publish(app, p).expect("publish");
        }
    }, |_| {});
    let (mut child, _) = start(bin, &dir, port).await;
    let pid = child.id();
    let secs = if quick { 2 } else { 5 };
    let calls: Vec<(&str, &'static str, &str, Option<String>, u64)> = vec![
        ("API verify_credentials", "GET", "/api/v1/accounts/verify_credentials", None, 100),
        ("API home timeline, page of 20", "GET", "/api/v1/timelines/home?limit=20", None, 1_000),
        ("API POST /api/v1/statuses", "POST", "/api/v1/statuses", Some(r#"{"status":"budget post {n}","visibility":"public"}"#.to_string()), 2_000),
    ];
    for (name, method, path, body, budget) in calls {
        // A short warm-up, then measured.
        load_api(port, method, path, &token, body.clone(), 2, Instant::now() + Duration::from_millis(300)).await;
        let before = cpu_us(pid);
        let n = load_api(port, method, path, &token, body, 8, Instant::now() + Duration::from_secs(secs)).await;
        let per = (cpu_us(pid) - before) as f64 / n.max(1) as f64;
        row(rows, &format!("CPU per request: {name}"), &format!("≤ {budget} µs"), format!("{per:.0} µs ({n} requests)"), Some(n > 0 && per <= budget as f64));
    }
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);
}
