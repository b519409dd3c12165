//! Bad input at the inbox: each case is rejected and leaves the store as it was. Tried: unsigned,
//! a tampered body (digest mismatch), a signature by another key, a replayed request (Date two
//! hours old), an activity whose actor is not the signer, an activity id on another host,
//! malformed JSON, a body over 1 MiB. Also: the SSRF guard refuses private addresses.
mod common;
use common::*;
use hyper::body::Bytes;
use pipit::federation::sign;
use serde_json::json;
use std::time::{Duration, SystemTime};

/// POSTs `body` to `inbox` signed as `signer` (cavage) at time `at`, optionally tampering.
async fn deliver(inbox: &str, body: &str, signer: &Instance, at: SystemTime, tamper: Option<&str>) -> Response {
    let uri: hyper::Uri = inbox.parse().unwrap();
    let mut headers = hyper::HeaderMap::new();
    sign::sign_cavage(&hyper::Method::POST, &uri, &mut headers, Some(body.as_bytes()), &signer.app.urls.key_id(), &signer.app.actor_keys, at);
    let sent = tamper.unwrap_or(body).to_string();
    let mut hs: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    hs.push(("content-type".into(), "application/activity+json".into()));
    hs.retain(|(k, _)| k != "host");
    Client::new("http://unused").send("POST", inbox, hs, Bytes::from(sent)).await
}

fn follow_from(b: &Instance, a: &Instance, id_host: &str) -> String {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{id_host}/follows/1"),
        "type": "Follow",
        "actor": b.app.urls.actor(),
        "object": a.app.urls.actor(),
    })
    .to_string()
}

fn follower_count(a: &Instance) -> u64 {
    a.app.store.read(|r| r.follower_count()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_rejects_bad_requests_and_keeps_store_unchanged() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let inbox = a.url("/users/alice/inbox");
    let good = follow_from(&b, &a, &b.base);

    // Unsigned.
    let r = Client::new(&a.base).send("POST", "/users/alice/inbox", vec![("content-type".into(), "application/activity+json".into())], Bytes::from(good.clone())).await;
    assert_eq!(r.status, 401, "unsigned delivery: {}", r.body);

    // Body changed after signing: digest mismatch.
    let tampered = good.replace("Follow", "Block");
    let r = deliver(&inbox, &good, &b, SystemTime::now(), Some(&tampered)).await;
    assert_eq!(r.status, 401, "tampered body: {}", r.body);
    assert!(r.body.to_lowercase().contains("digest"), "error names the digest: {}", r.body);

    // Replayed: signed two hours ago.
    let r = deliver(&inbox, &good, &b, SystemTime::now() - Duration::from_secs(7200), None).await;
    assert_eq!(r.status, 401, "old Date: {}", r.body);

    // Signed by carol, but the activity claims bob as actor.
    let r = deliver(&inbox, &good, &c, SystemTime::now(), None).await;
    assert_eq!(r.status, 401, "signer is not the actor: {}", r.body);

    // Activity id on another host than its actor.
    let foreign = follow_from(&b, &a, &c.base);
    let r = deliver(&inbox, &foreign, &b, SystemTime::now(), None).await;
    assert_eq!(r.status, 401, "origin mismatch: {}", r.body);

    // Malformed JSON (signed correctly).
    let r = deliver(&inbox, "{not json", &b, SystemTime::now(), None).await;
    assert_eq!(r.status, 400, "malformed JSON: {}", r.body);

    // Over 1 MiB.
    let huge = format!("{{\"type\":\"Note\",\"content\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let r = deliver(&inbox, &huge, &b, SystemTime::now(), None).await;
    assert_eq!(r.status, 413, "huge body");

    assert_eq!(follower_count(&a), 0, "no rejected request changed the store");
    assert_eq!(a.app.store.read(|r| r.notifications(None, 10)).unwrap().0.len(), 0);

    // And the same Follow, properly signed, is accepted (so the rejections above were real).
    let r = deliver(&inbox, &good, &b, SystemTime::now(), None).await;
    assert_eq!(r.status, 202, "valid delivery: {}", r.body);
    assert_eq!(follower_count(&a), 1);
    // Delivered twice: idempotent.
    let r = deliver(&inbox, &good, &b, SystemTime::now(), None).await;
    assert_eq!(r.status, 202);
    assert_eq!(follower_count(&a), 1);
    assert_eq!(a.app.store.read(|r| r.notifications(None, 10)).unwrap().0.len(), 1, "one notification for a duplicate delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_guard_refuses_private_addresses_when_not_allowed() {
    let peer = Instance::start("peer").await;
    let a = Instance::start_with("guarded", Box::new(|c| c.allow_private_addresses = false)).await;
    let budget = pipit::federation::fetch::Budget::new(5);
    for url in [
        peer.app.urls.actor(),                       // loopback, a real server listening
        "http://10.0.0.1/users/x".to_string(),       // private
        "http://169.254.169.254/latest/meta-data".to_string(), // link-local metadata service
        "http://[::1]:9/users/x".to_string(),
        "http://[fd00::1]/users/x".to_string(),      // unique local
    ] {
        let err = pipit::federation::fetch::actor(&a.app, &url, true, &budget).await.expect_err(&url);
        assert!(err.to_string().contains("private or loopback"), "{url}: {err}");
    }
    // Following a loopback handle fails the same way, and nothing is stored.
    let err = pipit::actions::follow(&a.app, &peer.app.urls.handle()).await.expect_err("follow loopback");
    assert!(err.to_string().contains("private or loopback"), "{err}");
    assert_eq!(a.app.store.read(|r| r.following_count()).unwrap(), 0);
}
