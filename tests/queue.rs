//! The delivery queue under failure: a peer that is down gets the post after it comes back
//! (retries on the real schedule, in a small time unit); and `kill -9` of a server with 1,000
//! deliveries queued loses none of them after restart.
mod common;
use common::*;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use pipit::model::{FollowState, Follower, Visibility};
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_down_then_back_gets_the_post() {
    let a = Instance::start_with("alice", Box::new(|c| c.delivery_backoff_unit_ms = 5)).await;
    let b = Instance::start("bob").await;
    let (alice, bob) = (a.app.urls.actor(), b.app.urls.actor());
    pipit::actions::follow(&b.app, &a.app.urls.handle()).await.unwrap();
    eventually("follow accepted", 10, || matches!(b.app.store.read(|r| r.following(&alice)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    assert!(a.app.store.read(|r| r.follower(&bob)).unwrap().is_some());

    // bob goes down; alice posts; the delivery fails and is rescheduled, not dropped.
    let b_dir = b.stop().await;
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "while you were away".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    eventually("a failed attempt is recorded", 10, || a.app.store.read(|r| r.pending_jobs(10)).unwrap().iter().any(|j| j.attempts >= 1 && j.last_error.is_some())).await;
    let failing = a.app.store.read(|r| r.pending_jobs(10)).unwrap();
    assert!(failing.iter().all(|j| j.due_ms > j.created_ms), "rescheduled into the future");

    // bob comes back on the same address; the retry delivers.
    let b = Instance::restart(b_dir).await;
    eventually("bob finally has the post", 20, || b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    eventually("alice's queue drains", 10, || a.app.store.read(|r| r.queue_stats()).unwrap().pending == 0).await;
    assert_eq!(a.app.store.read(|r| r.queue_stats()).unwrap().dead, 0);
}

/// A loopback sink answering 202 to every POST after `delay`, remembering each path once.
async fn sink(delay: Duration) -> (std::net::SocketAddr, Arc<Mutex<HashSet<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<HashSet<String>>> = Default::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let seen = seen2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        tokio::time::sleep(delay).await;
                        seen.lock().unwrap().insert(req.uri().path().to_string());
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(202).body(Full::new(Bytes::new())).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await;
            });
        }
    });
    (addr, seen)
}

fn pipit_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipit"));
    c.args(args).env("PIPIT_LOG", "warn");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_1000_queued_deliveries_loses_none() {
    const N: usize = 1000;
    let (sink_addr, seen) = sink(Duration::from_millis(15)).await;
    let dir = TempDir::new("kill9");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cfg = pipit::cli::init(dir.path(), &base, "alice", &format!("127.0.0.1:{port}"), true).unwrap();
    cfg.delivery_per_host = 2;
    cfg.save(dir.path()).unwrap();
    {
        // 1,000 followers, each with its own inbox on the sink (no shared inbox to fold them).
        let app = pipit::App::open(dir.path()).unwrap();
        app.store.write(|w| {
            for i in 0..N {
                let f = Follower { since_ms: 1, follow_id: format!("http://{sink_addr}/f/{i}"), inbox: format!("http://{sink_addr}/inbox/{i}") };
                w.put_follower(&format!("http://{sink_addr}/users/{i}"), &f)?;
            }
            Ok(())
        }).unwrap();
    }
    let data = dir.path().to_str().unwrap().to_string();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut server = pipit_cmd(&["serve", "--data", &data]).env("PIPIT_LOG", "debug").stdout(Stdio::null()).stderr(log).spawn().unwrap();
    // The CLI reaches the running server through its control socket; wait for it, or the post
    // would run offline and hold the folder while the server starts.
    eventually("control socket up", 10, || dir.path().join("pipit.sock").exists()).await;
    let mut posted = None;
    for _ in 0..100 {
        let out = pipit_cmd(&["post", "--data", &data, "to a thousand inboxes"]).output().unwrap();
        if out.status.success() {
            posted = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(posted.unwrap().starts_with(&base), "post printed its URL");
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < 50 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if seen.lock().unwrap().len() < 50 {
        let q = pipit_cmd(&["queue", "--data", &data]).output().unwrap();
        let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!("no deliveries: queue={}\nlog tail:\n{}", String::from_utf8_lossy(&q.stdout), tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    server.kill().unwrap(); // SIGKILL: no graceful anything
    server.wait().unwrap();
    let before = seen.lock().unwrap().len();
    assert!(before < N, "the kill happened mid-way ({before} of {N} delivered)");

    let mut server = pipit_cmd(&["serve", "--data", &data]).stdout(Stdio::null()).spawn().unwrap();
    eventually("all 1000 inboxes got the post after restart", 90, || seen.lock().unwrap().len() == N).await;
    // The queue is empty and nothing died.
    let mut report = String::new();
    for _ in 0..50 {
        let out = pipit_cmd(&["queue", "--data", &data]).output().unwrap();
        report = String::from_utf8_lossy(&out.stdout).to_string();
        if report.starts_with("pending: 0  dead: 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(report.starts_with("pending: 0  dead: 0"), "queue after restart: {report}");
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let status = server.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
}
