//! Uncached page renders (issue 15, `--only-pages`): the page cache (server/cache.rs) answers
//! anonymous repeats, so the anonymous lines measure the cache. These lines send the owner's
//! session cookie, which the cache never answers (the owner's pages carry CSRF tokens and
//! private posts): every request renders the page from the store, as the first request after a
//! write does, and as the owner's own browsing always does.

use crate::{cpu_us, prepare, row, start, Row, CHURN_PASSWORD};
use std::path::Path;
use std::time::{Duration, Instant};

/// `clients` keep-alive connections sending GET `path` with `cookie` until `until`; returns the
/// requests answered 200.
async fn load_cookie(port: u16, path: &str, accept: &'static str, cookie: &str, clients: usize, until: Instant) -> u64 {
    crate::load_with(port, "GET", path, &[("accept", accept.to_string()), ("cookie", cookie.to_string())], None, clients, until).await
}

/// The same content as the full run's page lines (a root post with 20 replies, 40 more posts),
/// measured with the owner's session cookie.
pub async fn pages_bench(bin: &Path, quick: bool, rows: &mut Vec<Row>) {
    let mut thread_root = 0u64;
    let (dir, port) = prepare(bin, "uncached", |app| {
        let me = app.urls.actor();
        app.store.write(|w| {
            let root_id = pipit::ids::next_id();
            thread_root = root_id;
            let root = crate::post(root_id, &me, app.urls.post_uri(root_id), "the root post with a thread", true, None);
            w.put_post(&root)?;
            for i in 0..20 {
                let id = pipit::ids::next_id();
                w.put_post(&crate::post(id, &me, app.urls.post_uri(id), &format!("reply {i}"), true, Some(root.uri.to_string())))?;
            }
            for i in 0..40 {
                let id = pipit::ids::next_id();
                w.put_post(&crate::post(id, &me, app.urls.post_uri(id), &format!("post {i} with some words in it"), true, None))?;
            }
            Ok(())
        }).unwrap();
        pipit::domain::owner::set_password(app, CHURN_PASSWORD).unwrap();
    }, |_| {});
    let (mut child, _) = start(bin, &dir, port).await;
    let pid = child.id();
    let (status, cookie) = crate::churn::login_cookie(port, CHURN_PASSWORD).await;
    assert_eq!(status, 303, "owner login");
    let secs = if quick { 2 } else { 5 };
    let id = thread_root.to_string();
    let lines: Vec<(&str, String, &'static str, u64)> = vec![
        ("Profile HTML, uncached (owner's session cookie)", "/@me".into(), "text/html", 56),
        ("Post HTML, 20-reply thread, uncached (owner's session cookie)", format!("/@me/{id}"), "text/html", 100),
        ("Outbox page, uncached (owner's session cookie)", "/users/me/outbox?page=true".into(), "application/activity+json", 100),
    ];
    for (name, path, accept, budget) in lines {
        // Proves the cookie is the owner's (the page shows owner-only controls) and warms up.
        let n = load_cookie(port, &path, accept, &cookie, 2, Instant::now() + Duration::from_millis(300)).await;
        assert!(n > 0, "{name}: no 200 answers");
        let before = cpu_us(pid);
        let n = load_cookie(port, &path, accept, &cookie, 8, Instant::now() + Duration::from_secs(secs)).await;
        let per = (cpu_us(pid) - before) as f64 / n.max(1) as f64;
        row(rows, &format!("CPU per request: {name}"), &format!("≤ {budget} µs"), format!("{per:.0} µs ({n} requests)"), Some(n > 0 && per <= budget as f64));
    }
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);
}
