//! Integrity proofs and refusals at the inbox (issue 8's signature part, issue 16's error text).
//! Inputs tried: a proof that does not verify on an activity whose HTTP signature (by its actor)
//! is valid; a forwarded activity proven by a proof under an RsaSignature2017 LD `signature` (as
//! Fedify sends); a refused delivery asking for HTML; a Create whose Note has `"id": null`.
mod common;
use common::*;
use hyper::body::Bytes;
use pipit::federation::sign;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// POSTs `body` to `inbox` HTTP-signed (cavage) by `signer`, with extra headers.
async fn deliver(inbox: &str, body: &str, signer: &Instance, extra: &[(&str, &str)]) -> Response {
    let uri: hyper::Uri = inbox.parse().unwrap();
    let mut headers = hyper::HeaderMap::new();
    sign::sign_cavage(&hyper::Method::POST, &uri, &mut headers, Some(body.as_bytes()), &signer.app.urls.key_id(), &signer.app.actor_keys, SystemTime::now());
    let mut hs: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    hs.push(("content-type".into(), "application/activity+json".into()));
    hs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    hs.retain(|(k, _)| k != "host");
    Client::new("http://unused").send("POST", inbox, hs, Bytes::from(body.to_string())).await
}

fn follow(from: &Instance, to: &Instance) -> Value {
    json!({
        "@context": pipit::federation::vocab::context(),
        "id": format!("{}/follows/{}", from.base, pipit::time::now_ms()),
        "type": "Follow",
        "actor": from.app.urls.actor(),
        "object": to.app.urls.actor(),
    })
}

/// An RsaSignature2017 block as Mastodon and Fedify put it on top (its value is not checked here).
fn ld_signature(creator: &str) -> Value {
    json!({"type": "RsaSignature2017", "creator": creator, "created": "2026-11-29T12:00:00Z", "signatureValue": "c2lnbmF0dXJl"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_proof_does_not_refuse_a_delivery_its_actor_signed() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    // bob's Follow with a proof that names bob's key but was made with carol's (so it fails),
    // HTTP-signed by bob himself: bob is proven by the HTTP signature; accept it.
    let mut doc = follow(&b, &a);
    sign::add_proof(&mut doc, &c.app.actor_keys, &format!("{}#ed25519-key", b.app.urls.actor()), "2026-11-29T12:00:00Z");
    let r = deliver(&a.url("/users/alice/inbox"), &doc.to_string(), &b, &[]).await;
    assert_eq!(r.status, 202, "valid HTTP signature by the actor, failing proof: {}", r.body);
    assert!(a.app.store.read(|r| r.follower(&b.app.urls.actor())).unwrap().is_some(), "bob follows");

    // The same bad proof on an activity only carol HTTP-signed (forwarded) proves nothing: refused.
    let mut doc = follow(&b, &a);
    sign::add_proof(&mut doc, &c.app.actor_keys, &format!("{}#ed25519-key", b.app.urls.actor()), "2026-11-29T12:00:00Z");
    let r = deliver(&a.url("/users/alice/inbox"), &doc.to_string(), &c, &[]).await;
    assert_eq!(r.status, 401, "forwarded with a failing proof: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_under_an_ld_signature_proves_a_forwarded_activity() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    // Fedify's order: the eddsa-jcs-2022 proof first, then an LD signature on top. carol
    // forwards it; only bob's proof can prove bob, and it verifies once `signature` is detached.
    let mut doc = follow(&b, &a);
    b.app.sign_object(&mut doc);
    doc["signature"] = ld_signature(&b.app.urls.key_id());
    let r = deliver(&a.url("/users/alice/inbox"), &doc.to_string(), &c, &[]).await;
    assert_eq!(r.status, 202, "forwarded, proven by a proof under an LD signature: {}", r.body);
    assert!(a.app.store.read(|r| r.follower(&b.app.urls.actor())).unwrap().is_some(), "bob follows");
}

/// Collects what pipit logs (at info and above) in this test binary.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_json_say_what_is_wrong_and_are_logged_with_the_key_id() {
    let log = Log::default();
    let sink = log.clone();
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_ansi(false).with_writer(move || sink.clone()).init();
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let inbox = a.url("/users/alice/inbox");

    // Unsigned, from a client that asks for HTML: still JSON.
    let body = follow(&b, &a).to_string();
    for (path, accept) in [("/users/alice/inbox", "text/html"), ("/inbox", "text/html,application/xhtml+xml"), ("/inbox", "*/*")] {
        let r = Client::new(&a.base).send("POST", path, vec![("content-type".into(), "application/activity+json".into()), ("accept".into(), accept.into())], Bytes::from(body.clone())).await;
        assert_eq!(r.status, 401, "{path} unsigned");
        assert!(r.header("content-type").unwrap_or_default().starts_with("application/json"), "{path} with Accept {accept}: {:?}", r.header("content-type"));
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("JSON body, got {}", r.body));
        assert!(v["error"].as_str().unwrap().contains("signature"), "{v}");
    }

    // A Create whose Note has "id": null: 400 that says so (it used to say "object of another origin").
    let create = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activities/null-id", b.base),
        "type": "Create",
        "actor": b.app.urls.actor(),
        "object": {"id": null, "type": "Note", "attributedTo": b.app.urls.actor(), "content": "no id", "to": [a.app.urls.actor()]},
    });
    let r = deliver(&inbox, &create.to_string(), &b, &[("accept", "text/html")]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("\"id\": null") && !msg.contains("another origin"), "says what is wrong: {msg}");

    // A signed delivery over the 1 MiB cap (tried: a 1.1 MiB Note content): 413, refused before
    // the body is read, and (unlike before) logged with the sender's key id too.
    let mut big = create.clone();
    big["id"] = json!(format!("{}/activities/too-big", b.base));
    big["object"] = json!({"id": format!("{}/notes/too-big", b.base), "type": "Note", "attributedTo": b.app.urls.actor(), "content": "x".repeat(1100 * 1024), "to": [a.app.urls.actor()]});
    let r = deliver(&inbox, &big.to_string(), &b, &[]).await;
    assert_eq!(r.status, 413, "{}", r.body);

    // The refusals are in pipit's log at info, with the reason and the sender's key id.
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("inbox refused a delivery")).collect();
    assert!(lines.iter().any(|l| l.contains(" INFO ") && l.contains("no valid signature header") && l.contains("401")), "unsigned refusal logged: {text}");
    assert!(lines.iter().any(|l| l.contains(" INFO ") && l.contains(&b.app.urls.key_id()) && l.contains("\"id\": null")), "the null id refusal logged with bob's key id: {text}");
    assert!(lines.iter().any(|l| l.contains(&b.app.urls.key_id()) && l.contains("413") && l.contains("too large")), "the 413 logged with bob's key id: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_actor_signs_fetches_with_its_own_key() {
    let a = Instance::start_with("alice", Box::new(|c| c.authorized_fetch = true)).await;
    let b = Instance::start("bob").await;
    let json = |c: Client, path: &'static str| async move { serde_json::from_str::<Value>(&c.get_with(path, &[("accept", "application/activity+json")]).await.body).unwrap() };
    let owner = json(b.client(), "/users/bob").await;
    let instance = json(b.client(), "/actor").await;
    assert_eq!(instance["publicKey"]["id"], json!(format!("{}/actor#main-key", b.base)));
    // Before, /actor published the owner's RSA key.
    assert_ne!(instance["publicKey"]["publicKeyPem"], owner["publicKey"]["publicKeyPem"], "the instance actor has its own key");
    assert_eq!(instance["publicKey"]["publicKeyPem"].as_str().unwrap(), b.app.instance_keys.rsa_public_pem());

    // bob's signed fetch (as its instance actor) verifies at alice's authorized-fetch server.
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "secure".into(), cw: String::new(), visibility: pipit::model::Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let budget = pipit::federation::fetch::Budget::new(3);
    let doc = pipit::federation::fetch::get_object(&b.app, &p.uri, &budget).await.expect("signed fetch with the instance key");
    assert_eq!(doc["id"], json!(p.uri));

    // A data folder from before the instance key existed gets one on start.
    let dir = b.stop().await;
    let cfg = pipit::Config::load(dir.path()).unwrap();
    let path = cfg.resolve(dir.path(), &cfg.keys.instance_rsa);
    std::fs::remove_file(&path).unwrap();
    let b = Instance::restart(dir).await;
    assert!(path.exists(), "instance key created on start");
    let again = json(b.client(), "/actor").await;
    assert_ne!(again["publicKey"]["publicKeyPem"], owner["publicKey"]["publicKeyPem"]);
    pipit::federation::fetch::get_object(&b.app, &p.uri, &pipit::federation::fetch::Budget::new(3)).await.expect("signed fetch with the new instance key");
}
