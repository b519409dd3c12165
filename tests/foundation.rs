//! The foundation, as a user meets it: config errors (unknown key, bad URL, unreadable or garbage
//! key file, occupied port, bad flags), a second server on the same folder, store reopen after
//! restart, body limits and slow clients, login (wrong password, missing/foreign CSRF, expiry,
//! rate limit, logout), the one-time setup link, posting/editing/deleting through the forms,
//! uploads, and the pages (profile, thread, feeds, about, 404).
mod common;
use common::*;
use hyper::body::Bytes;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pipit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipit")).args(args).output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `pipit serve` expecting it to fail at once; returns stderr.
fn serve_fails(dir: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipit")).args(["serve", "--data", dir.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "serve must fail");
            let mut s = String::new();
            child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
            assert!(!s.contains("panicked"), "no panic: {s}");
            assert_eq!(s.trim().lines().count(), 1, "one line: {s}");
            return s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve did not fail");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn config_errors_are_one_line_and_name_the_key() {
    let dir = TempDir::new("cfg");
    let d = dir.path().join("data");
    let ds = d.to_str().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    // Bad flags to init.
    for (args, needle) in [
        (vec!["init", "--data", ds, "--url", "ftp://x", "--username", "a"], "--url"),
        (vec!["init", "--data", ds, "--url", "https://x.example/path", "--username", "a"], "--url"),
        (vec!["init", "--data", ds, "--url", &url, "--username", "no spaces"], "--username"),
        (vec!["init", "--data", ds, "--url", &url, "--username", "a", "--listen", "nonsense"], "--listen"),
        (vec!["init", "--data", ds, "--url", &url], "--username"),
    ] {
        let o = pipit(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!d.join("pipit.toml").exists(), "nothing half-created by {args:?}");
    }
    assert_eq!(pipit(&["serve", "--data", ds, "--bogus", "1"]).status.code(), Some(2), "unknown option");
    assert_eq!(pipit(&["frobnicate"]).status.code(), Some(2), "unknown verb");
    assert!(String::from_utf8_lossy(&pipit(&["--version"]).stdout).starts_with("pipit "));
    assert!(String::from_utf8_lossy(&pipit(&["--help"]).stdout).contains("pipit serve"));

    let o = pipit(&["init", "--data", ds, "--url", &url, "--username", "alice", "--listen", &listen]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["pipit.toml", "pipit.redb", "keys/actor-rsa.pem", "keys/actor-ed25519.pem"] {
        assert!(d.join(f).exists(), "{f} created");
    }
    let again = pipit(&["init", "--data", ds, "--url", &url, "--username", "alice"]);
    assert!(!again.status.success() && stderr(&again).contains("already exists"), "second init refused");

    let cfg_path = d.join("pipit.toml");
    let good = std::fs::read_to_string(&cfg_path).unwrap();
    // Unknown key.
    std::fs::write(&cfg_path, format!("{good}\ncolour = \"blue\"\n")).unwrap();
    assert!(serve_fails(&d).contains("colour"));
    // Bad URL value.
    std::fs::write(&cfg_path, good.replace(&format!("url = \"{url}\""), "url = \"not a url\"")).unwrap();
    assert!(serve_fails(&d).contains("`url`"));
    // Key file missing, then garbage.
    std::fs::write(&cfg_path, good.replace("keys/actor-rsa.pem", "keys/missing.pem")).unwrap();
    let e = serve_fails(&d);
    assert!(e.contains("keys.rsa") && e.contains("missing.pem"), "{e}");
    std::fs::write(&cfg_path, &good).unwrap();
    let rsa = std::fs::read(d.join("keys/actor-rsa.pem")).unwrap();
    std::fs::write(d.join("keys/actor-rsa.pem"), b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n").unwrap();
    assert!(serve_fails(&d).contains("keys.rsa"));
    std::fs::write(d.join("keys/actor-rsa.pem"), rsa).unwrap();
    // Occupied port.
    let _hold = std::net::TcpListener::bind(&listen).unwrap();
    assert!(serve_fails(&d).contains("listen"));
}

#[test]
fn first_serve_creates_defaults_and_second_serve_is_refused() {
    let dir = TempDir::new("first");
    let d = dir.path().join("fresh");
    // The embedded default listens on 127.0.0.1:8080, which may be taken here: either way the
    // data folder with its default config must exist afterwards.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipit")).args(["serve", "--data", d.to_str().unwrap()]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            if s.contains("/setup?token=") {
                break;
            }
        }
        s
    });
    while !reader.is_finished() && Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    if reader.is_finished() {
        out = reader.join().unwrap();
    }
    let cfg = std::fs::read_to_string(d.join("pipit.toml")).expect("default config written");
    assert!(cfg.contains("url = \"http://127.0.0.1:8080\"") && cfg.contains("username = \"me\""));
    if !out.is_empty() {
        assert!(out.contains("http://127.0.0.1:8080/setup?token="), "prints the one-time link: {out}");
    }

    // A second server on a running folder.
    let d2 = dir.path().join("running");
    let port = free_port();
    assert!(pipit(&["init", "--data", d2.to_str().unwrap(), "--url", &format!("http://127.0.0.1:{port}"), "--username", "a", "--listen", &format!("127.0.0.1:{port}")]).status.success());
    let mut first = Command::new(env!("CARGO_BIN_EXE_pipit")).args(["serve", "--data", d2.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let e = serve_fails(&d2);
    assert!(e.contains("already running"), "{e}");
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    assert!(first.wait().unwrap().success(), "SIGTERM is a clean exit");
}

#[test]
fn password_command_offline_and_through_the_running_server() {
    let dir = TempDir::new("pw");
    let d = dir.path().to_str().unwrap().to_string();
    let port = free_port();
    assert!(pipit(&["init", "--data", &d, "--url", &format!("http://127.0.0.1:{port}"), "--username", "a", "--listen", &format!("127.0.0.1:{port}")]).status.success());
    let set = |pw: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pipit")).args(["password", "--data", &d]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        c.stdin.take().unwrap().write_all(format!("{pw}\n").as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    };
    let short = set("short");
    assert!(!short.status.success() && stderr(&short).contains("at least 8"), "too short: {}", stderr(&short));
    assert!(set("offline password 1").status.success());
    let mut server = Command::new(env!("CARGO_BIN_EXE_pipit")).args(["serve", "--data", &d]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("pipit.sock").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = Client::new(&format!("http://127.0.0.1:{port}"));
    rt.block_on(async {
        assert_eq!(c.login("offline password 1").await.status, 303, "the offline password works");
    });
    assert!(set("online password 2").status.success(), "set through the control socket");
    rt.block_on(async {
        let c2 = Client::new(&format!("http://127.0.0.1:{port}"));
        assert_eq!(c2.login("offline password 1").await.status, 401, "old password no longer works");
        assert_eq!(c2.login("online password 2").await.status, 303, "new password works");
        assert_eq!(c.get("/settings").await.status, 303, "changing the password logged out the old session");
    });
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_survives_restart() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    owner.post_form("/settings", &[("csrf", &csrf), ("display_name", "Alice A."), ("bio", "hi"), ("field_name_0", "web"), ("field_value_0", "https://a.example")]).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        owner.post_multipart("/compose", &[("csrf", &csrf), ("content", &format!("post number {i}")), ("visibility", "public")], &[]).await;
        ids.push(a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts[0].id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids are time-sortable");
    let dir = a.stop().await;
    let a = Instance::restart(dir).await;
    let page = a.client().get("/@alice").await;
    for i in 0..3 {
        assert!(page.body.contains(&format!("post number {i}")), "post {i} kept");
    }
    assert!(page.body.contains("Alice A.") && page.body.contains("https://a.example"), "profile kept");
    assert_eq!(a.client().login("correct horse battery").await.status, 303, "password kept");
    let newer = pipit::ids::next_id();
    assert!(newer > *ids.last().unwrap(), "ids after restart sort after older ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limits_and_slow_clients() {
    let a = Instance::start_with("alice", Box::new(|c| {
        c.max_body_kib = 64;
        c.max_upload_kib = 16;
        c.request_timeout_secs = 1;
    })).await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let before = a.app.store.read(|r| r.own_post_count()).unwrap();
    // A body over max_body_kib.
    let big = "x".repeat(70 * 1024);
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", &big)], &[]).await;
    assert_eq!(r.status, 413, "over the body limit");
    // A declared Content-Length over the limit is refused before the body is read.
    let mut s = std::net::TcpStream::connect(a.addr).unwrap();
    write!(s, "POST /compose HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "early 413: {resp}");
    // Malformed multipart and a non-image upload.
    let r = owner.send("POST", "/compose", vec![("content-type".into(), "multipart/form-data; boundary=zzz".into())], Bytes::from_static(b"garbage")).await;
    assert_eq!(r.status, 400, "malformed multipart");
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "with a file")], &[("image", "x.png", "image/png", b"not really a png")]).await;
    assert_eq!(r.status, 415, "non-image upload");
    let r = owner.post_multipart("/settings/images", &[("csrf", &csrf)], &[("avatar", "a.png", "image/png", &[&b"\x89PNG\r\n\x1a\n"[..], &[0u8; 20 * 1024]].concat())]).await;
    assert_eq!(r.status, 413, "avatar over max_upload_kib");
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), before, "nothing stored by any of these");
    assert!(a.app.store.read(|r| r.profile()).unwrap().avatar.is_none(), "avatar unchanged");

    // Slowloris: half the headers, then silence. Meanwhile others are served.
    let mut slow = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    slow.write_all(b"GET /@alice HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert_eq!(a.client().get("/@alice").await.status, 200, "others are served while one client stalls");
    let mut buf = Vec::new();
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "the stalled connection is closed by the server");
    assert!(started.elapsed() < Duration::from_secs(4));
    // A body dribbled slower than the deadline.
    let mut drip = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    drip.write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\npass").await.unwrap();
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), drip.read_to_end(&mut resp)).await;
    assert!(String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 408"), "slow body gets 408: {}", String::from_utf8_lossy(&resp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_csrf_sessions_and_rate_limit() {
    let a = Instance::start_with("alice", Box::new(|c| c.session_secs = 1)).await;
    pipit::domain::owner::set_password(&a.app, "correct horse battery").unwrap();
    let c = a.client();
    let r = c.login("wrong password").await;
    assert_eq!(r.status, 401, "wrong password");
    assert_eq!(c.get("/settings").await.status, 303, "not logged in");
    // Login form without its CSRF token.
    let r = c.post_form("/login", &[("password", "correct horse battery")]).await;
    assert_eq!(r.status, 403, "login without CSRF");
    let r = c.login("correct horse battery").await;
    assert_eq!(r.status, 303);
    let sc = r.header("set-cookie").unwrap();
    assert!(sc.contains("HttpOnly") && sc.contains("SameSite=Lax"), "{sc}");
    let csrf = c.owner_csrf().await;
    // A form post without the token, and with another session's token, changes nothing.
    let r = c.post_multipart("/compose", &[("content", "no token")], &[]).await;
    assert_eq!(r.status, 403);
    let other = a.client();
    other.login("correct horse battery").await;
    let other_csrf = other.owner_csrf().await;
    assert_ne!(csrf, other_csrf);
    let r = c.post_multipart("/compose", &[("csrf", &other_csrf), ("content", "foreign token")], &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), 0);
    // Expiry: sessions last one second here.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(c.get("/settings").await.status, 303, "expired session sends to login");
    // Logout ends the session on the server: replaying the old cookie does not work.
    let d = a.client();
    d.login("correct horse battery").await;
    let cookie = d.cookies.lock().unwrap().get("pipit_session").cloned().unwrap();
    let csrf = d.owner_csrf().await;
    d.post_form("/logout", &[("csrf", &csrf)]).await;
    let replay = a.client();
    replay.cookies.lock().unwrap().insert("pipit_session".into(), cookie);
    assert_eq!(replay.get("/settings").await.status, 303, "a logged-out cookie is dead");
    // Rate limit: five wrong passwords, then even the right one waits.
    let e = a.client();
    for _ in 0..5 {
        assert_eq!(e.login("nope nope nope").await.status, 401);
    }
    assert_eq!(e.login("correct horse battery").await.status, 429, "rate limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_is_single_use() {
    let a = Instance::start("alice").await;
    let link = pipit::domain::owner::new_setup_link(&a.app).unwrap();
    let path = link.strip_prefix(&a.base).unwrap().to_string();
    let c = a.client();
    let page = c.get(&path).await;
    assert_eq!(page.status, 200);
    let token = page.input_value("token").unwrap();
    let r = c.post_form("/setup", &[("csrf", &page.csrf()), ("token", &token), ("password", "a fine password"), ("confirm", "a different one")]).await;
    assert_eq!(r.status, 400, "passwords must match");
    let r = c.post_form("/setup", &[("csrf", &page.csrf()), ("token", &token), ("password", "a fine password"), ("confirm", "a fine password")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(c.get("/settings").await.status, 200, "logged in after setup");
    assert_eq!(a.client().get(&path).await.status, 403, "the link is used up");
    assert_eq!(a.client().get("/setup?token=forged").await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_editing_deleting_and_pages() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let xss = "<script>alert(1)</script>\"><img src=x onerror=alert(2)> javascript:alert(3)";
    owner.post_form("/settings", &[("csrf", &csrf), ("display_name", xss), ("bio", xss), ("field_name_0", xss), ("field_value_0", xss)]).await;
    // A direct message needs a recipient that exists (issue 8): a second instance on loopback.
    let friend = Instance::start("friend").await;
    let direct = format!("direct one for {}", friend.app.urls.handle());
    for (text, vis) in [("public #Rust post by @bob@example.org https://example.org", "public"), ("unlisted one", "unlisted"), ("followers only", "followers"), (direct.as_str(), "direct")] {
        let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", text), ("visibility", vis), ("cw", if vis == "unlisted" { "careful" } else { "" })], &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    owner.post_multipart("/compose", &[("csrf", &csrf), ("content", xss), ("visibility", "public")], &[]).await;
    // A valid 1×1 red PNG (uploads are decoded now: the old literal had a bad zlib checksum).
    let png = b"\x89PNG\x0d\x0a\x1a\x0a\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0dIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82";
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "a picture"), ("alt", "a tiny red dot")], &[("image", "dot.png", "image/png", png)]).await;
    assert_eq!(r.status, 303);
    let visitor = a.client();
    let profile = visitor.get("/@alice").await;
    assert!(profile.body.contains("post by") && profile.body.contains("unlisted one"), "public and unlisted on the profile");
    assert!(!profile.body.contains("followers only") && !profile.body.contains("direct one"), "others hidden from visitors");
    assert!(profile.body.contains("alt=\"a tiny red dot\""), "image with alt text");
    // @bob@example.org cannot be resolved (no network here): plain text, not a link to a
    // guessed https://example.org/@bob (issue 13; tests/pages.rs covers a resolved one too).
    assert!(!profile.body.contains("href=\"https://example.org/@bob\"") && profile.body.contains("@bob@example.org"), "unresolved mention left as text");
    assert!(profile.body.contains(&format!("{}/tags/rust", a.base)), "hashtag linked");
    assert!(profile.body.contains("<details class=\"cw\">"), "content warning collapsed");
    assert!(profile.body.contains("property=\"og:title\"") && profile.body.contains("rel=\"alternate\" type=\"application/atom+xml\""));
    let owner_view = owner.get("/@alice").await;
    assert!(owner_view.body.contains("followers only") && owner_view.body.contains("direct one"), "the owner sees everything");
    for page in [&profile, &visitor.get("/@alice.atom").await, &visitor.get("/@alice.rss").await] {
        assert!(!page.body.contains("<script>alert") && !page.body.contains("<img src=x"), "XSS escaped everywhere");
    }
    // Feeds: public posts only, well-formed enough to parse as XML.
    let atom = visitor.get("/@alice.atom").await;
    assert!(atom.header("content-type").unwrap().starts_with("application/atom+xml"));
    assert!(atom.body.contains("post by") && !atom.body.contains("unlisted one") && !atom.body.contains("followers only"));
    assert!(xml_well_formed(&atom.body), "Atom is well-formed");
    let rss = visitor.get("/@alice.rss").await;
    assert!(xml_well_formed(&rss.body), "RSS is well-formed");

    // Thread: a reply and a reply to the reply, on the post page.
    let root = a.app.store.read(|r| r.own_posts(None, 20, |p| p.source.starts_with("public"))).unwrap().posts[0].clone();
    owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "first reply"), ("in_reply_to", root.url_or_uri())], &[]).await;
    let reply = a.app.store.read(|r| r.replies(&root.uri, 5)).unwrap()[0].clone();
    owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "nested reply"), ("in_reply_to", &reply.uri)], &[]).await;
    let page = visitor.get(&format!("/@alice/{}", root.id)).await;
    let (i1, i2) = (page.body.find("first reply").unwrap(), page.body.find("nested reply").unwrap());
    assert!(i1 < i2 && page.body.contains("depth-1"), "nested reply follows its parent, indented");
    assert!(page.body.contains("property=\"og:description\""));
    let reply_page = visitor.get(&format!("/@alice/{}", reply.id)).await;
    assert!(reply_page.body.contains("class=\"ancestor\""), "a reply's page shows its ancestors");

    // Edit and delete through the forms.
    let r = owner.post_form(&format!("/@alice/{}/edit", root.id), &[("csrf", &csrf), ("content", "public post, edited"), ("cw", "")]).await;
    assert_eq!(r.status, 303);
    let page = visitor.get(&format!("/@alice/{}", root.id)).await;
    assert!(page.body.contains("public post, edited") && page.body.contains("class=\"edited\""));
    let r = owner.post_form(&format!("/@alice/{}/delete", root.id), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(visitor.get(&format!("/@alice/{}", root.id)).await.status, 410);
    assert!(!visitor.get("/@alice.atom").await.body.contains("edited"));

    // Paging: 25 more posts; the first page has 20 and a next link.
    for i in 0..25 {
        pipit::domain::posts::publish(&a.app, pipit::domain::posts::NewPost { text: format!("bulk {i}"), cw: String::new(), visibility: pipit::model::Visibility::Public, in_reply_to: None, media: Vec::new(), resolved: vec![], quote: None }).unwrap();
    }
    let p1 = visitor.get("/@alice").await;
    assert_eq!(p1.body.matches("<article class=\"post h-entry").count(), 20);
    let next = p1.body.split("rel=\"next\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let p2 = visitor.get(&format!("/@alice{next}")).await;
    assert!(p2.body.contains("bulk 0") && !p2.body.contains("bulk 24"));

    // About and custom 404.
    let about = visitor.get("/about").await;
    assert!(about.body.contains("Privacy policy") && about.body.contains("Age policy") && about.body.contains("under the age of 13"));
    let nf = visitor.get("/no/such/page").await;
    assert_eq!(nf.status, 404);
    assert!(nf.body.contains("Nothing here") && nf.body.contains("<link rel=\"stylesheet\""), "custom 404 page");
}

/// A small XML well-formedness check: tags nest and close, entities are known.
fn xml_well_formed(s: &str) -> bool {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        let text = &rest[..i];
        if text.contains('<') || !entities_ok(text) {
            return false;
        }
        rest = &rest[i..];
        let Some(end) = rest.find('>') else { return false };
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if stack.pop().as_deref() != Some(name.trim()) {
                return false;
            }
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    stack.is_empty()
}

fn entities_ok(text: &str) -> bool {
    text.split('&').skip(1).all(|e| {
        let name = e.split(';').next().unwrap_or("");
        e.contains(';') && (["amp", "lt", "gt", "quot", "apos"].contains(&name) || name.starts_with('#'))
    })
}

/// Issue 13: log lines written to a file or the journal (anything but a terminal) carry no ANSI
/// colour codes. Bad input: stdout is a pipe, PIPIT_LOG=debug so every request logs a line.
#[test]
fn log_lines_to_a_pipe_have_no_colour_codes() {
    let dir = TempDir::new("logs");
    let d = dir.path().join("data");
    let port = free_port();
    assert!(pipit(&["init", "--data", d.to_str().unwrap(), "--url", &format!("http://127.0.0.1:{port}"), "--username", "a", "--listen", &format!("127.0.0.1:{port}")]).status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipit")).args(["serve", "--data", d.to_str().unwrap()]).env("PIPIT_LOG", "debug").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut conn = loop {
        if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break c;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    conn.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("DEBUG"), "a debug line per request was logged: {text:?}");
    assert!(!text.contains('\x1b'), "no ANSI escape codes in piped logs: {text:?}");
}
