//! Server-side resilience (issue 9): response headers, redirects, login limits, connection cap,
//! uploads, delivery fairness. Each test names the bad input it tries.

mod common;
use common::*;

/// Every response carries a CSP without inline script or plugins and with frame-ancestors 'none';
/// the pages themselves contain no inline script, on* handler or style="" attribute that the
/// policy would break.
#[tokio::test]
async fn every_response_has_a_strict_content_security_policy() {
    let i = Instance::start("csp").await;
    let c = i.owner_client().await;
    let csrf = c.owner_csrf().await;
    let r = c.post_form("/compose", &[("csrf", &csrf), ("content", "hello csp"), ("visibility", "public")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let anon = i.client();
    for (who, path) in [(&c, "/@csp"), (&c, "/home"), (&c, "/settings"), (&c, "/lists"), (&c, "/deck"), (&anon, "/login"), (&anon, "/no-such-page"), (&anon, "/static/style.css"), (&anon, "/@csp.atom")] {
        let r = who.get(path).await;
        let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert!(r.header("referrer-policy").is_some(), "{path}");
        if r.header("content-type").unwrap_or("").starts_with("text/html") {
            let body = r.body.to_ascii_lowercase();
            assert_eq!(body.matches("<script").count(), body.matches("<script src=\"/static/").count(), "{path}: inline <script> in the page");
            for attr in [" onsubmit=", " onclick=", " onload=", " onchange=", " style="] {
                assert!(!body.contains(attr), "{path}: `{attr}` attribute would be blocked by the CSP");
            }
        }
    }
    i.stop().await;
}

/// A form's `back` field may only send the browser to a path on this site.
#[tokio::test]
async fn back_field_is_no_open_redirect() {
    let i = Instance::start("back").await;
    let c = i.owner_client().await;
    let csrf = c.owner_csrf().await;
    // Bad inputs tried: protocol-relative, backslash, absolute, tab-in-path (browsers strip tabs).
    for bad in ["//evil.example/x", "/\\evil.example", "https://evil.example/", "/\t/evil.example"] {
        let r = c.post_form("/filters", &[("csrf", &csrf), ("keyword", "spoiler"), ("action", "hide"), ("context", "home"), ("back", bad)]).await;
        assert_eq!(r.status, 303, "{bad:?}: {}", r.body);
        assert_eq!(r.location(), "/settings/safety?done=Saved", "back={bad:?} must not leave the site");
    }
    let r = c.post_form("/filters", &[("csrf", &csrf), ("keyword", "x"), ("action", "hide"), ("context", "home"), ("back", "/lists?done=ok")]).await;
    assert_eq!(r.location(), "/lists?done=ok");
    i.stop().await;
}

/// 60 concurrent wrong passwords from one address: only the first 5 get a password check; the
/// rest are refused with 429 before argon2 runs (they used to all be checked).
#[tokio::test]
async fn concurrent_logins_are_counted_before_hashing() {
    let i = Instance::start("loginflood").await;
    pipit::domain::owner::set_password(&i.app, "correct horse battery").unwrap();
    let c = i.client();
    let csrf = c.get("/login").await.csrf();
    let mut tasks = Vec::new();
    for n in 0..60 {
        let (c, csrf) = (c.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move { c.post_form("/login", &[("csrf", &csrf), ("password", &format!("wrong guess {n}"))]).await.status }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((checked, refused), (5, 55), "statuses: {statuses:?}");
    i.stop().await;
}

fn trust_local_proxy() -> Tweak {
    Box::new(|c: &mut pipit::Config| c.trusted_proxies = vec!["127.0.0.1".into()])
}

async fn login_from(c: &Client, forwarded: Option<&str>, password: &str) -> u16 {
    let csrf = c.get("/login").await.csrf();
    let mut headers = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
    if let Some(f) = forwarded {
        headers.push(("x-forwarded-for".into(), f.into()));
    }
    let body = format!("csrf={}&password={}", pipit::server::request::percent_encode(&csrf), pipit::server::request::percent_encode(password));
    c.send("POST", "/login", headers, body.into()).await.status
}

/// Behind a trusted reverse proxy, each visitor is limited by their own forwarded address: a
/// stranger's five wrong passwords (X-Forwarded-For 203.0.113.9) do not lock out the owner
/// (203.0.113.1); and a forged left-most X-Forwarded-For entry does not dodge the limit.
#[tokio::test]
async fn login_limit_uses_forwarded_address_from_trusted_proxy() {
    let i = Instance::start_with("proxied", trust_local_proxy()).await;
    pipit::domain::owner::set_password(&i.app, "correct horse battery").unwrap();
    let stranger = i.client();
    for n in 0..5 {
        assert_eq!(login_from(&stranger, Some("203.0.113.9"), &format!("guess {n}")).await, 401);
    }
    assert_eq!(login_from(&stranger, Some("203.0.113.9"), "guess 6").await, 429, "the stranger is limited");
    // Forging an earlier hop: the proxy appends the real address last, and that is what counts.
    assert_eq!(login_from(&stranger, Some("10.9.9.9, 203.0.113.9"), "guess 7").await, 429, "forged X-Forwarded-For hop");
    let owner = i.client();
    assert_eq!(login_from(&owner, Some("203.0.113.1"), "correct horse battery").await, 303, "the owner behind the same proxy");
    i.stop().await;
}

/// Without trusted proxies the header is ignored: a stranger cannot rotate X-Forwarded-For to
/// dodge the limit.
#[tokio::test]
async fn forwarded_for_from_untrusted_peer_is_ignored() {
    let i = Instance::start("untrusted").await;
    pipit::domain::owner::set_password(&i.app, "correct horse battery").unwrap();
    let c = i.client();
    for n in 0..5 {
        assert_eq!(login_from(&c, Some(&format!("198.51.100.{n}")), "wrong").await, 401);
    }
    assert_eq!(login_from(&c, Some("198.51.100.77"), "wrong").await, 429, "rotated X-Forwarded-For");
    i.stop().await;
}

/// A device that logged in before keeps working with the correct password after strangers at
/// the same address used up the limit (five wrong passwords): slow down, don't lock out.
#[tokio::test]
async fn known_device_is_never_locked_out_by_others() {
    let i = Instance::start("device").await;
    pipit::domain::owner::set_password(&i.app, "correct horse battery").unwrap();
    let phone = i.client();
    assert_eq!(login_from(&phone, None, "correct horse battery").await, 303);
    assert!(phone.cookies.lock().unwrap().contains_key("pipit_device"), "a device cookie is set at login");
    phone.cookies.lock().unwrap().remove("pipit_session"); // session ends; the device is remembered
    let stranger = i.client();
    for n in 0..5 {
        assert_eq!(login_from(&stranger, None, &format!("guess {n}")).await, 401);
    }
    assert_eq!(login_from(&stranger, None, "correct horse battery").await, 429, "the address is locked for unknown devices");
    assert_eq!(login_from(&phone, None, "correct horse battery").await, 303, "the known device still logs in");
    // A forged device cookie is an unknown device.
    let forger = i.client();
    forger.cookies.lock().unwrap().insert("pipit_device".into(), format!("{}.{}", "a".repeat(43), "b".repeat(43)));
    assert_eq!(login_from(&forger, None, "correct horse battery").await, 429, "forged device cookie");
    i.stop().await;
}

/// A real `pipit serve` child process (the binary cargo built for these tests) on its own data
/// folder, killed on drop. Memory is measured on it, not on the test process.
struct Child {
    proc: std::process::Child,
    base: String,
    _dir: TempDir,
}

impl Child {
    async fn start(name: &str, password: &str, tweak: impl FnOnce(&mut pipit::Config)) -> Child {
        Child::start_limited(name, password, tweak, None).await
    }

    /// `nofile`: the child's open-file limit (as systemd's default 1024, but smaller).
    async fn start_limited(name: &str, password: &str, tweak: impl FnOnce(&mut pipit::Config), nofile: Option<u32>) -> Child {
        Child::start_in(TempDir::new(name), name, password, tweak, nofile).await
    }

    async fn start_in(dir: TempDir, name: &str, password: &str, tweak: impl FnOnce(&mut pipit::Config), nofile: Option<u32>) -> Child {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cfg = pipit::cli::init(dir.path(), &base, name, &format!("127.0.0.1:{port}"), true).unwrap();
        tweak(&mut cfg);
        cfg.save(dir.path()).unwrap();
        {
            let app = pipit::App::open(dir.path()).unwrap();
            pipit::domain::owner::set_password(&app, password).unwrap();
        }
        let proc = spawn_serve(dir.path(), &format!("127.0.0.1:{port}"), nofile).await;
        let child = Child { proc, base, _dir: dir };
        child
    }
    fn client(&self) -> Client {
        Client::new(&self.base)
    }
    /// Resident memory in KiB, from /proc/PID/status.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.id())).unwrap();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

/// Memory of a real server after 50 logins is within 2 MiB of what it was after the first (each
/// argon2 check used to leave ~19 MiB behind), and the first login does not keep argon2's memory; a flood of 60 concurrent wrong passwords from one
/// address does not grow it either (it used to reach ~780 MiB).
#[tokio::test]
async fn fifty_logins_leave_memory_where_it_was() {
    let server = Child::start("loginmem", "correct horse battery", |_| {}).await;
    let cold = server.rss_kib();
    let warm = server.client();
    assert_eq!(login_from(&warm, None, "correct horse battery").await, 303);
    let before = server.rss_kib();
    // argon2's 19 MiB working memory is freed after the check, not kept for the next login (it
    // was: a third of the 24 MiB an idle server and a 12 MP upload must fit in, issue 11).
    assert!(before <= cold + 8 * 1024, "RSS after the first login: {before} KiB, before it: {cold} KiB (limit +8 MiB)");
    // Two more before measuring: under load a login can land on a fresh blocking-pool thread,
    // whose first malloc arena and stack are one-off costs (+2.2 MiB seen twice at load 10+),
    // not growth. A leak still shows: 50 logins at 40 KiB each break the line.
    for _ in 0..2 {
        assert_eq!(login_from(&server.client(), None, "correct horse battery").await, 303);
    }
    let before = server.rss_kib();
    for _ in 0..50 {
        let c = server.client();
        assert_eq!(login_from(&c, None, "correct horse battery").await, 303);
    }
    let after = server.rss_kib();
    assert!(after <= before + 2048, "RSS after 50 logins: {after} KiB, before: {before} KiB (limit +2048)");
    let flood = server.client();
    let csrf = flood.get("/login").await.csrf();
    let mut tasks = Vec::new();
    for n in 0..60 {
        let (c, csrf) = (flood.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move { c.post_form("/login", &[("csrf", &csrf), ("password", &format!("flood {n}"))]).await.status }));
    }
    for t in tasks {
        assert!([401, 429].contains(&t.await.unwrap()));
    }
    let flooded = server.rss_kib();
    assert!(flooded <= before + 8 * 1024, "RSS after a 60-login flood: {flooded} KiB, before: {before} KiB");
}

/// 300 idle or header-dribbling connections against a server with 128 file descriptors and
/// `max_connections = 64`: the idlest are shed and the owner's page still answers. Without a
/// cap the server ran out of descriptors and stopped accepting.
#[tokio::test]
async fn idle_connections_beyond_the_cap_do_not_lock_the_owner_out() {
    let server = Child::start_limited("conncap", "correct horse battery", |c| c.max_connections = 64, Some(128)).await;
    let owner = server.client();
    assert_eq!(login_from(&owner, None, "correct horse battery").await, 303);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for n in 0..300 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        if n % 2 == 0 {
            // Slowloris: headers begun, never finished.
            use tokio::io::AsyncWriteExt;
            let _ = s.write_all(b"GET /settings HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
        }
        idle.push(s);
    }
    let page = tokio::time::timeout(std::time::Duration::from_secs(20), owner.get("/settings")).await.expect("the owner's page did not answer: connections exhausted");
    assert_eq!(page.status, 200);
    drop(idle);
}

/// 100 hosts that accept a delivery and never answer, queued ahead of one healthy pipit peer:
/// the healthy peer gets the post while every slow delivery is still on its first attempt (it
/// used to wait until ~84 of them had timed out, slot by slot, ~130 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_hosts_do_not_delay_a_healthy_one() {
    use pipit::model::{FollowState, Follower, Visibility};
    let a = Instance::start("sender").await;
    let b = Instance::start("healthy").await;
    let alice = a.app.urls.actor();
    pipit::actions::follow(&b.app, &a.app.urls.handle()).await.unwrap();
    eventually("follow accepted", 20, || matches!(b.app.store.read(|r| r.following(&alice)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;

    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for n in 0..100 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let held = held.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                held.lock().unwrap().push(s); // accepted, never answered
            }
        });
        // Follower ids that sort before the healthy peer's, so fan-out queues them first.
        let f = Follower { since_ms: 0, follow_id: format!("http://0slow{n:03}.example/follow"), inbox: format!("http://127.0.0.1:{port}/inbox") };
        a.app.store.write(|w| w.put_follower(&format!("http://0slow{n:03}.example/actor"), &f)).unwrap();
    }
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "to everyone, slow or not".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    eventually("the healthy peer has the post", 60, || b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    let slow_jobs: Vec<_> = a.app.store.read(|r| r.pending_jobs(1000)).unwrap().into_iter().filter(|j| matches!(&j.what, pipit::model::JobKind::Deliver { inbox, .. } if !inbox.contains(&b.addr.port().to_string()))).collect();
    assert_eq!(slow_jobs.len(), 100, "every slow delivery is still pending");
    assert!(slow_jobs.iter().all(|j| j.attempts == 0), "the healthy peer was served before any slow host's first attempt ended");
    assert!(!held.lock().unwrap().is_empty(), "the slow hosts were being contacted");
    a.stop().await;
    b.stop().await;
}

/// Sends a request head declaring a `declared`-byte multipart body plus the first `send` bytes
/// of it, then reads whatever the server answers (or "" when it closes without answering).
async fn partial_upload(addr: &str, path: &str, cookie: &str, declared: usize, send: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {declared}\r\nCookie: {cookie}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut body = b"--XYZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.resize(send.max(body.len()), b'A');
    let _ = s.write_all(&body).await;
    s
}

async fn status_of(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf)).await.expect("the server answered before the body was sent").unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string()
}

/// A stranger's 10 MiB upload to /compose and /settings/images is refused on its headers: the
/// answer (401) comes while 9.99 MiB of the body were never sent. The old code read the whole
/// body into memory first.
#[tokio::test]
async fn anonymous_upload_is_refused_before_its_body_is_read() {
    let i = Instance::start("anonup").await;
    let addr = i.addr.to_string();
    for path in ["/compose", "/settings/images"] {
        let mut s = partial_upload(&addr, path, "pipit_session=forged", 10 * 1024 * 1024, 4096).await;
        let status = status_of(&mut s).await;
        assert!(status.contains(" 401"), "{path} without a session (forged cookie): {status}");
    }
    i.stop().await;
}

/// The owner's session with a wrong CSRF token: refused as soon as the file part starts, and
/// nothing of the file is left on disk.
#[tokio::test]
async fn upload_with_wrong_csrf_is_refused_before_the_file() {
    let i = Instance::start("csrfup").await;
    let c = i.owner_client().await;
    let r = c.post_multipart("/compose", &[("csrf", "not-the-token"), ("content", "x")], &[("image", "a.png", "image/png", &vec![7u8; 512 * 1024])]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c.post_multipart("/compose", &[("content", "x")], &[("image", "a.png", "image/png", &vec![7u8; 1024])]).await;
    assert_eq!(r.status, 403, "a file before any CSRF token: {}", r.body);
    let tmp = pipit::server::upload::tmp_dir(i.dir.path());
    let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "temporary upload files left in {}", tmp.display());
    i.stop().await;
}

/// 30 concurrent anonymous 10 MiB uploads and one 9 MiB owner upload leave a real server's
/// memory where it was (they took it from 37 to 310 MiB): bodies are refused or streamed to disk.
#[tokio::test]
async fn big_uploads_do_not_grow_memory() {
    let server = Child::start("upmem", "correct horse battery", |_| {}).await;
    let owner = server.client();
    assert_eq!(login_from(&owner, None, "correct horse battery").await, 303);
    let csrf = owner.owner_csrf().await;
    let before = server.rss_kib();
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = partial_upload(&addr, "/compose", "", 10 * 1024 * 1024, 10 * 1024 * 1024 - 64).await;
            status_of(&mut s).await
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status.is_empty() || status.contains(" 401"), "anonymous upload: {status}");
    }
    // The owner's big upload goes to a temporary file (a field the form ignores, then discarded).
    let r = owner.post_multipart("/settings/images", &[("csrf", &csrf)], &[("attachment", "big.bin", "application/octet-stream", &vec![1u8; 9 * 1024 * 1024])]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let after = server.rss_kib();
    assert!(after <= before + 16 * 1024, "RSS after 30 anonymous 10 MiB uploads and one 9 MiB owner upload: {after} KiB, before: {before} KiB");
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Mount(std::path::PathBuf);

impl Mount {
    /// None (and the reason) when this machine cannot mount (not root, no mount permission).
    fn tmpfs(tag: &str, size: &str) -> Result<Mount, String> {
        let dir = std::env::temp_dir().join(format!("pipit-test-{}-{tag}-mnt", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&dir).output().map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the filesystem holding `dir` with one file until writing fails with "no space".
fn fill_disk(path: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0xAAu8; 64 * 1024];
    loop {
        if let Err(e) = f.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
            break;
        }
    }
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

/// A full disk (a 24 MiB tmpfs as the data folder, filled up): writes fail with 503 and
/// deliveries to the inbox are refused with 503 while it lasts; the process stays up, and once
/// space returns it writes again by itself, without a restart, with every earlier post kept.
/// The old code failed every later write ("Previous I/O error") until restarted by hand.
#[tokio::test]
async fn full_disk_recovers_by_itself_when_space_returns() {
    let mount = match Mount::tmpfs("fulldisk", "24m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED full_disk_recovers_by_itself_when_space_returns: cannot mount a small tmpfs here ({why}); run the tests as root to include it");
            return;
        }
    };
    let data = mount.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut server = Child::start_in(TempDir(data.clone()), "fulldisk", "correct horse battery", |_| {}, None).await;
    let owner = server.client();
    assert_eq!(login_from(&owner, None, "correct horse battery").await, 303);
    let csrf = owner.owner_csrf().await;
    let post = |text: String| {
        let (owner, csrf) = (owner.clone(), csrf.clone());
        async move { owner.post_form("/compose", &[("csrf", &csrf), ("content", &text), ("visibility", "public")]).await.status }
    };
    assert_eq!(post("written before the disk filled".into()).await, 303);

    let filler = mount.0.join("filler");
    fill_disk(&filler);
    // Post until the store needs space it cannot get (redb may have free pages left first).
    let mut statuses = Vec::new();
    for n in 0..400 {
        let s = post(format!("post {n} on a full disk: {}", "x".repeat(2000))).await;
        statuses.push(s);
        if s != 303 {
            break;
        }
    }
    let failed = *statuses.last().unwrap();
    assert_eq!(failed, 503, "a write on a full disk is refused with 503 (statuses: {statuses:?})");
    let kept = statuses.iter().filter(|&&s| s == 303).count();
    // A delivery meanwhile: refused with 503 (the sender retries), not accepted and lost.
    let inbox = owner.send("POST", "/inbox", vec![("content-type".into(), "application/activity+json".into())], r#"{"type":"Create"}"#.into()).await;
    assert_eq!(inbox.status, 503, "an inbox delivery on a full disk: {}", inbox.body);
    assert!(server.proc.try_wait().unwrap().is_none(), "the process stays up");

    // Space returns: the next writes work again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if post("written after space returned".into()).await == 303 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "writes work again once space returns");
    assert!(server.proc.try_wait().unwrap().is_none(), "still the same process");
    let page = server.client().get("/@fulldisk").await;
    assert!(page.body.contains("written before the disk filled") && page.body.contains("written after space returned"), "posts kept");
    let stored = page.body.matches("on a full disk").count();
    assert!(stored >= kept.min(10), "posts acknowledged during the outage are kept ({stored} of {kept} shown on the first page)");
    drop(server);
}

/// 100 deliveries queued for ONE host that accepts and never answers, ahead of a healthy pipit
/// peer: that host gets only its per-host slots (2), never the global ones, so the healthy peer
/// gets the post while the slow host's deliveries are still on their first attempt. (Jobs used
/// to take a global slot first and then wait for the host's, filling all 16.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_host_with_many_deliveries_does_not_hold_the_global_slots() {
    use pipit::model::{FollowState, Follower, Visibility};
    let a = Instance::start("sender1").await;
    let b = Instance::start("healthy1").await;
    let alice = a.app.urls.actor();
    pipit::actions::follow(&b.app, &a.app.urls.handle()).await.unwrap();
    eventually("follow accepted", 20, || matches!(b.app.store.read(|r| r.following(&alice)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            h.lock().unwrap().push(s);
        }
    });
    for n in 0..100 {
        // One host, 100 personal inboxes (no shared inbox): 100 deliveries there.
        let f = Follower { since_ms: 0, follow_id: format!("http://0slow.example/follow/{n}"), inbox: format!("http://127.0.0.1:{port}/users/u{n}/inbox") };
        a.app.store.write(|w| w.put_follower(&format!("http://0slow.example/users/u{n:03}"), &f)).unwrap();
    }
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "slow host, many inboxes".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    eventually("the healthy peer has the post", 60, || b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    let slow: Vec<_> = a.app.store.read(|r| r.pending_jobs(1000)).unwrap().into_iter().filter(|j| matches!(&j.what, pipit::model::JobKind::Deliver { inbox, .. } if inbox.contains(&format!(":{port}/")))).collect();
    assert_eq!(slow.len(), 100, "every delivery to the slow host is still pending");
    assert!(slow.iter().all(|j| j.attempts == 0), "no slow delivery had finished an attempt");
    assert!(held.lock().unwrap().len() <= 2, "at most delivery_per_host (2) connections to the slow host, got {}", held.lock().unwrap().len());
    a.stop().await;
    b.stop().await;
}
