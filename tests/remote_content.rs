//! Hostile remote content, each delivered correctly signed by a real peer (another pipit on
//! loopback), checked in the store and on the owner's pages (issue 9):
//! - `javascript:`/`data:` URLs in an actor's url/icon/image and a post's url, inReplyTo, quote
//!   and attachments never reach an href or src; a right-to-left override in a name is stripped
//!   and names are isolated with <bdi>.
//! - origin confusion: a Create whose object lives on another host (a real post of someone else,
//!   or a made-up one whose origin fetch fails), or is attributed to someone else, is refused;
//!   a stored post is never replaced by another author's.
//! - Undo of someone else's Like or Announce; an Announce whose inner object is gone; an actor Update moving its inbox/sharedInbox off its host; a
//!   signature made for another server replayed to us.
//! - an outbox (remote account page) holding another author's post or a script URL.
mod common;
use common::*;
use hyper::body::Bytes;
use pipit::federation::activity::{Activity, Kind, Object};
use pipit::federation::{sign, vocab};
use pipit::model::HttpUrl;
use pipit::model::{FollowState, RemoteActor, Visibility};
use serde_json::{json, Value};
use std::time::SystemTime;

const JS: &str = "javascript:alert(document.domain)";

/// POSTs `body` to `inbox` signed as `signer`'s owner (cavage, or RFC 9421 when `rfc9421`).
/// `host`: the Host header (and `@target-uri` host) to sign and send (default: the inbox URL's).
async fn deliver_as(inbox: &str, body: &Value, signer: &Instance, host: Option<&str>, rfc9421: bool) -> Response {
    let body = body.to_string();
    let real: hyper::Uri = inbox.parse().unwrap();
    let signed_uri: hyper::Uri = match host {
        Some(h) => format!("http://{h}{}", real.path()).parse().unwrap(),
        None => real.clone(),
    };
    let mut headers = hyper::HeaderMap::new();
    let sign_with = if rfc9421 { sign::sign_rfc9421 } else { sign::sign_cavage };
    sign_with(&hyper::Method::POST, &signed_uri, &mut headers, Some(body.as_bytes()), &signer.app.urls.key_id(), &signer.app.actor_keys, SystemTime::now());
    let authority = real.authority().unwrap().to_string();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method("POST").uri(real.path()).header("content-type", "application/activity+json");
    for (k, v) in headers.iter() {
        req = req.header(k, v);
    }
    let resp = sender.send_request(req.body(http_body_util::Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = http_body_util::BodyExt::collect(resp.into_body()).await.map(|b| b.to_bytes()).unwrap_or_default();
    Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

async fn deliver(to: &Instance, body: &Value, signer: &Instance) -> Response {
    deliver_as(&to.url(&format!("/users/{}/inbox", to.app.urls.username)), body, signer, None, false).await
}

/// The peer's real actor document, as served.
async fn actor_doc(i: &Instance) -> Value {
    let r = i.client().get_with(&format!("/users/{}", i.app.urls.username), &[("accept", "application/activity+json")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

fn create(actor: &str, id: &str, object: Value) -> Value {
    json!({"@context": "https://www.w3.org/ns/activitystreams", "id": id, "type": "Create", "actor": actor, "object": object})
}

fn stored(i: &Instance, uri: &str) -> Option<pipit::model::Post> {
    i.app.store.read(|r| r.post_by_uri(uri)).unwrap()
}

async fn follow_accepted(from: &Instance, to: &Instance) {
    pipit::actions::follow(&from.app, &to.app.urls.handle()).await.expect("follow");
    let target = to.app.urls.actor();
    eventually("follow accepted", 10, || matches!(from.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

fn update_actor(actor: &str, n: u32, doc: Value) -> Value {
    json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{actor}#updates/{n}"), "type": "Update", "actor": actor, "object": doc})
}

fn public_note(id: &str, by: &str, text: &str) -> Value {
    json!({"id": id, "type": "Note", "attributedTo": by, "content": text, "to": ["https://www.w3.org/ns/activitystreams#Public"]})
}

/// Remote pages the owner sees bob on: home, the post, notifications, his account page.
async fn owner_pages(a: &Instance, owner: &Client, post_id: u64, b: &Instance) -> Vec<(String, Response)> {
    let mut out = Vec::new();
    for path in ["/home".to_string(), format!("/posts/{post_id}"), "/notifications".into(), format!("/@bob@{}", b.app.urls.host)] {
        let page = owner.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        out.push((path, page));
    }
    let _ = a;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_urls_never_reach_a_page() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let owner = a.owner_client().await;
    let (alice, bob) = (a.app.urls.actor(), b.app.urls.actor());

    // Bad input: bob's actor updated with script URLs as url, icon and image.
    let mut doc = actor_doc(&b).await;
    doc["url"] = json!(JS);
    doc["icon"] = json!({"type": "Image", "url": "javascript:alert(1)"});
    doc["image"] = json!({"type": "Image", "url": "data:text/html,<script>alert(1)</script>"});
    let r = deliver(&a, &update_actor(&bob, 1, doc), &b).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let cached = a.app.store.read(|r| r.actor(&bob)).unwrap().expect("bob cached");
    assert_eq!((cached.url.clone(), cached.icon.clone(), cached.image.clone()), (None, None, None), "script URLs dropped from the actor");

    // Bad input: a post mentioning alice with a script URL in every URL-bearing field.
    let note_id = format!("{}/hostile/1", b.base);
    let note = json!({
        "id": note_id, "type": "Note", "attributedTo": bob, "content": "<p>click my name</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "url": JS, "inReplyTo": "JavaScript:alert(2)", "quote": "javascript:alert(3)", "quoteUri": "javascript:alert(3)",
        "tag": [{"type": "Mention", "href": alice, "name": "@alice"}],
        "attachment": [
            {"type": "Document", "mediaType": "image/png", "url": "javascript:alert(4)", "name": "img"},
            {"type": "Document", "mediaType": "video/mp4", "url": "vbscript:msgbox(5)"},
            {"type": "Document", "mediaType": "application/pdf", "url": "data:text/html,<script>alert(6)</script>"},
        ],
    });
    let r = deliver(&a, &create(&bob, &format!("{note_id}/activity"), note), &b).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let p = stored(&a, &note_id).expect("the mention is stored");
    assert_eq!(serde_json::to_value(&p).unwrap()["url"], json!(note_id), "a script url falls back to the post's id");
    assert!(p.in_reply_to.is_none() && p.quote.is_none() && p.attachments.is_empty(), "{p:?}");
    for (path, page) in owner_pages(&a, &owner, p.id, &b).await {
        let lower = page.body.to_lowercase();
        for bad in ["javascript:", "vbscript:", "data:text"] {
            assert!(!lower.contains(bad), "{path} contains {bad:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_controls_in_remote_names_are_stripped_and_isolated() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let owner = a.owner_client().await;
    let (alice, bob) = (a.app.urls.actor(), b.app.urls.actor());
    // Bad input: a right-to-left override (and pop) in bob's display name.
    let mut doc = actor_doc(&b).await;
    doc["name"] = json!("Bob \u{202E}gnp.exe\u{202C}");
    assert_eq!(deliver(&a, &update_actor(&bob, 1, doc), &b).await.status, 202);
    let cached = a.app.store.read(|r| r.actor(&bob)).unwrap().expect("bob cached");
    assert_eq!(cached.name, "Bob gnp.exe");
    let note_id = format!("{}/n/1", b.base);
    let mut note = public_note(&note_id, &bob, "hi");
    note["tag"] = json!([{"type": "Mention", "href": alice, "name": "@alice"}]);
    assert_eq!(deliver(&a, &create(&bob, &format!("{note_id}/activity"), note), &b).await.status, 202);
    let p = stored(&a, &note_id).expect("stored");
    for (path, page) in owner_pages(&a, &owner, p.id, &b).await {
        assert!(!page.body.contains('\u{202E}'), "{path} shows the override");
        assert!(page.body.contains("<bdi>Bob gnp.exe</bdi>"), "{path}: the remote name is isolated");
    }
}

/// alice follows bob (so whatever bob sends would be kept); carol is an innocent third party.
async fn three() -> (Instance, Instance, Instance) {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    follow_accepted(&a, &b).await;
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_of_a_post_on_another_host_is_refused() {
    let (a, b, c) = three().await;
    let bob = b.app.urls.actor();
    // Bad input: carol's real post, in a Create signed by bob and credited to him.
    let real = pipit::actions::publish(&c.app, pipit::actions::Compose { text: "carol's words".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let r = deliver(&a, &create(&bob, &format!("{}/c/1", b.base), public_note(&real.uri, &bob, "carol's words")), &b).await;
    assert_eq!(r.status, 401, "object on another host: {}", r.body);
    // Bad input: the same as a bare reference (fetched from carol's server: still not bob's).
    let r = deliver(&a, &create(&bob, &format!("{}/c/2", b.base), json!(real.uri)), &b).await;
    assert_eq!(r.status, 401, "referenced object on another host: {}", r.body);
    assert!(stored(&a, &real.uri).is_none(), "carol's post is not stored as bob's");
    // Bob's own post, the same way, is accepted (the refusals above were about origin).
    let own = format!("{}/n/1", b.base);
    let r = deliver(&a, &create(&bob, &format!("{}/c/6", b.base), public_note(&own, &bob, "mine")), &b).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(stored(&a, &own).expect("bob's own post").author, bob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_object_is_not_trusted_when_its_origin_fetch_fails() {
    let (a, b, c) = three().await;
    let bob = b.app.urls.actor();
    // Bad input: an embedded Note with an id on carol's host that 404s there.
    let ghost = format!("{}/users/carol/statuses/404404", c.base);
    let r = deliver(&a, &create(&bob, &format!("{}/c/3", b.base), public_note(&ghost, &bob, "forged")), &b).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(stored(&a, &ghost).is_none(), "no fallback to the embedded object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_attributed_to_someone_else_is_refused() {
    let (a, b, _c) = three().await;
    let bob = b.app.urls.actor();
    // Bad input: a Note on bob's host attributed to another account there (whose page 404s).
    let id = format!("{}/n/404", b.base);
    let r = deliver(&a, &create(&bob, &format!("{}/c/4", b.base), public_note(&id, &format!("{}/users/mallory", b.base), "not his")), &b).await;
    assert_eq!(r.status, 401, "attributed to someone else: {}", r.body);
    // Bad input: the same without attributedTo.
    let mut anon = public_note(&id, &bob, "anon");
    anon.as_object_mut().unwrap().remove("attributedTo");
    let _ = deliver(&a, &create(&bob, &format!("{}/c/5", b.base), anon), &b).await;
    assert!(stored(&a, &id).is_none());
}

/// Two accounts on one host (ids checked per host cannot tell them apart): the second cannot
/// overwrite the first's stored post. Exercised at the domain layer, where the rule lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_post_is_never_replaced_by_another_author() {
    let a = Instance::start("alice").await;
    let alice = a.app.urls.actor();
    let actor = |name: &str| -> RemoteActor {
        vocab::parse_actor(&json!({"id": format!("https://shared.example/users/{name}"), "type": "Person", "inbox": format!("https://shared.example/users/{name}/inbox"), "preferredUsername": name}), 1).unwrap()
    };
    let (x, y) = (actor("x"), actor("y"));
    let uri = "https://shared.example/users/x/statuses/1";
    let note = |by: &RemoteActor, text: &str| {
        json!({"id": uri, "type": "Note", "attributedTo": by.id, "content": text, "to": ["https://www.w3.org/ns/activitystreams#Public"], "tag": [{"type": "Mention", "href": alice, "name": "@alice"}]})
    };
    // The typed activity as the federation boundary hands it to the domain, minus the origin
    // check per account (both accounts share a host, which is the point).
    let apply = |by: &RemoteActor, kind: &str, n: u32, obj: Value| {
        let post = vocab::parse_post(&obj, by).expect("the author's own post");
        let activity = Activity {
            kind: Kind::from_type(kind),
            type_name: kind.into(),
            id: HttpUrl::parse(&format!("{}/a/{n}", by.id)),
            actor: by.clone(),
            object: Object::Post { post: Box::new(post), addressed_to_owner: false },
            target: None,
            reaction: None,
            reaction_emoji: None,
        };
        pipit::domain::inbox::apply(&a.app, activity)
    };
    apply(&x, "Create", 1, note(&x, "x wrote this")).await.unwrap();
    assert_eq!(stored(&a, uri).unwrap().author, x.id);
    // Bad input: y sends a Create and an Update of x's id, attributed to itself.
    apply(&y, "Create", 2, note(&y, "y overwrote it")).await.unwrap();
    apply(&y, "Update", 3, note(&y, "y edited it")).await.unwrap();
    let p = stored(&a, uri).unwrap();
    assert_eq!((p.author.as_str(), p.content.contains("x wrote this")), (x.id.as_str(), true), "{p:?}");
    // The author may still edit it.
    apply(&x, "Update", 4, note(&x, "x edited this")).await.unwrap();
    assert!(stored(&a, uri).unwrap().content.contains("x edited this"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_someone_elses_like_is_ignored() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let (bob, carol) = (b.app.urls.actor(), c.app.urls.actor());
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "like me".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let likes = || a.app.store.read(|r| r.interactions(&p.uri, "like", 10)).unwrap().len();
    let like_id = format!("{}/likes/1", b.base);
    let like = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": like_id, "type": "Like", "actor": bob, "object": p.uri});
    assert_eq!(deliver(&a, &like, &b).await.status, 202);
    assert_eq!(likes(), 1);
    // Bad input: carol undoes bob's Like, by reference and embedded (with bob as its actor).
    for (n, inner) in [json!(like_id), like.clone()].into_iter().enumerate() {
        let undo = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/undo/{n}", c.base), "type": "Undo", "actor": carol, "object": inner});
        let _ = deliver(&a, &undo, &c).await;
        assert_eq!(likes(), 1, "carol cannot undo bob's like ({n})");
    }
    // Bob can.
    let undo = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/undo/1", b.base), "type": "Undo", "actor": bob, "object": like_id});
    assert_eq!(deliver(&a, &undo, &b).await.status, 202);
    assert_eq!(likes(), 0, "bob undoes his own like");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_someone_elses_announce_is_refused() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let (bob, carol) = (b.app.urls.actor(), c.app.urls.actor());
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "boost me".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let boosts = || a.app.store.read(|r| r.interactions(&p.uri, "boost", 10)).unwrap().len();
    let announce_id = format!("{}/announces/1", b.base);
    let announce = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": announce_id, "type": "Announce", "actor": bob, "object": p.uri, "to": ["https://www.w3.org/ns/activitystreams#Public"]});
    assert_eq!(deliver(&a, &announce, &b).await.status, 202);
    assert_eq!(boosts(), 1);
    // Bad input: carol undoes bob's Announce, by reference, embedded with bob as its actor, and
    // embedded claiming to be hers (bob's id, carol as actor). Refused at the typed boundary
    // (the previous code answered 202 to each).
    let mut claimed = announce.clone();
    claimed["actor"] = json!(carol);
    for (n, inner) in [json!(announce_id), announce.clone(), claimed].into_iter().enumerate() {
        let undo = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/undo/{n}", c.base), "type": "Undo", "actor": carol, "object": inner});
        let r = deliver(&a, &undo, &c).await;
        assert_eq!(r.status, 401, "carol's Undo of bob's Announce ({n}): {}", r.body);
        assert_eq!(boosts(), 1, "carol cannot undo bob's boost ({n})");
    }
    // Bob can.
    let undo = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/undo/1", b.base), "type": "Undo", "actor": bob, "object": announce});
    assert_eq!(deliver(&a, &undo, &b).await.status, 202);
    assert_eq!(boosts(), 0, "bob undoes his own boost");
}

/// An Announce of an activity (Lemmy's way) whose inner object is gone from its server: the
/// boost is dropped, and the sender hears 202, not the boosted server's 404 (which would tell
/// it that our inbox is gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announce_whose_inner_object_is_gone_is_not_answered_404() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    follow_accepted(&a, &b).await;
    let base = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let b2 = base.clone();
    let peer = static_peer(move |pq| {
        let base = b2.lock().unwrap().clone();
        match pq {
            // Bad input: an activity whose object 404s at its origin.
            "/activities/1" => json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{base}/activities/1"), "type": "Create", "actor": format!("{base}/u/x"), "object": format!("{base}/notes/gone")}),
            _ => Value::Null,
        }
    })
    .await;
    *base.lock().unwrap() = peer.clone();
    let announce = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/announces/9", b.base), "type": "Announce", "actor": b.app.urls.actor(), "object": format!("{peer}/activities/1")});
    let r = deliver(&a, &announce, &b).await;
    assert_eq!(r.status, 202, "the boosted object's 404 is not ours to answer: {}", r.body);
    assert!(stored(&a, &format!("{peer}/notes/gone")).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_update_cannot_move_inboxes_off_its_host() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let bob = b.app.urls.actor();
    // Bad input: bob's Update moves his inbox to carol's server.
    let mut doc = actor_doc(&b).await;
    doc["inbox"] = json!(format!("{}/users/carol/inbox", c.base));
    let _ = deliver(&a, &update_actor(&bob, 1, doc), &b).await;
    let after = a.app.store.read(|r| r.actor(&bob)).unwrap().expect("bob cached");
    assert!(after.inbox.starts_with(&b.base), "inbox stays on bob's host: {}", after.inbox);
    // Bad input: only his sharedInbox moved there.
    let mut doc = actor_doc(&b).await;
    doc["endpoints"] = json!({"sharedInbox": format!("{}/inbox", c.base)});
    assert_eq!(deliver(&a, &update_actor(&bob, 2, doc), &b).await.status, 202);
    let after = a.app.store.read(|r| r.actor(&bob)).unwrap().unwrap();
    assert!(after.delivery_inbox().starts_with(&b.base), "deliveries stay on bob's host: {:?}", after.shared_inbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_made_for_another_server_is_refused() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let bob = b.app.urls.actor();
    let p = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "like me".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let likes = || a.app.store.read(|r| r.interactions(&p.uri, "like", 10)).unwrap().len();
    // Bad input: a Like bob signed for carol's server (Host: carol's), replayed to alice, signed
    // draft-cavage (`host`) and RFC 9421 (`@target-uri`).
    let like = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/likes/2", b.base), "type": "Like", "actor": bob, "object": p.uri});
    for rfc9421 in [false, true] {
        let r = deliver_as(&a.url("/users/alice/inbox"), &like, &b, Some(&c.app.urls.host), rfc9421).await;
        assert_eq!(r.status, 401, "signature for another host (rfc9421: {rfc9421}): {}", r.body);
        assert_eq!(likes(), 0);
    }
    // The same, signed for alice's host, is accepted.
    let r = deliver_as(&a.url("/users/alice/inbox"), &like, &b, Some(&a.app.urls.host), true).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(likes(), 1);
}

/// A hand-made server with two accounts on one host, serving fixed documents (no signatures:
/// nothing here is delivered, only fetched). Returns its base URL.
async fn static_peer(docs: impl Fn(&str) -> Value + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let docs = std::sync::Arc::new(docs);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let docs = docs.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let pq = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
                    let doc = docs(&pq);
                    let (status, ct) = if doc.is_null() { (404, "text/plain") } else if pq.starts_with("/.well-known/") { (200, "application/jrd+json") } else { (200, "application/activity+json") };
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(status).header("content-type", ct).body(http_body_util::Full::new(Bytes::from(doc.to_string()))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await;
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_items_must_be_the_accounts_own() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let base = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let b2 = base.clone();
    let peer = static_peer(move |pq| {
        let base = b2.lock().unwrap().clone();
        let (x, y) = (format!("{base}/users/x"), format!("{base}/users/y"));
        let note = |id: &str, by: &str, text: &str| json!({"id": format!("{base}{id}"), "type": "Note", "attributedTo": by, "content": text, "to": ["https://www.w3.org/ns/activitystreams#Public"], "url": format!("{base}{id}")});
        match pq {
            p if p.starts_with("/.well-known/webfinger") => json!({"subject": "acct:x", "links": [{"rel": "self", "type": "application/activity+json", "href": x}]}),
            "/users/x" => json!({"@context": "https://www.w3.org/ns/activitystreams", "id": x, "type": "Person", "preferredUsername": "x", "inbox": format!("{x}/inbox"), "outbox": format!("{x}/outbox")}),
            "/users/x/outbox" => json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{x}/outbox"), "type": "OrderedCollection", "orderedItems": [
                // Bad input: y's post in x's outbox (same host, another author).
                {"type": "Create", "actor": x, "object": note("/notes/by-y", &y, "y wrote this")},
                // Bad input: x's post with a script URL.
                {"type": "Create", "actor": x, "object": {"id": format!("{base}/notes/js"), "type": "Note", "attributedTo": x, "content": "js url", "to": ["https://www.w3.org/ns/activitystreams#Public"], "url": JS}},
                {"type": "Create", "actor": x, "object": note("/notes/by-x", &x, "x wrote this")},
            ]}),
            _ => Value::Null,
        }
    })
    .await;
    *base.lock().unwrap() = peer.clone();
    let host = peer.trim_start_matches("http://");
    let page = owner.get(&format!("/@x@{host}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("x wrote this"), "the account's own post is shown");
    assert!(!page.body.contains("y wrote this"), "another author's post is not shown as x's");
    assert!(!page.body.to_lowercase().contains("javascript:"));
    assert!(stored(&a, &format!("{peer}/notes/by-y")).is_none(), "nor stored");
    let js = stored(&a, &format!("{peer}/notes/js")).expect("x's post with a bad url is kept");
    assert_eq!(serde_json::to_value(&js).unwrap()["url"], json!(format!("{peer}/notes/js")));
}

/// A post's `replies` collection whose pages are on another host: not fetched (Mastodon's
/// FetchRepliesService refuses them too); the walk stays on the post's host. Bad input: the
/// collection's `first` page on another server, listing a reply there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_pages_on_another_host_are_not_fetched() {
    let a = Instance::start("alice").await;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (other_base, home_base) = (std::sync::Arc::new(std::sync::Mutex::new(String::new())), std::sync::Arc::new(std::sync::Mutex::new(String::new())));
    let (h2, ob, hb) = (hits.clone(), other_base.clone(), home_base.clone());
    let other = static_peer(move |pq| {
        let (o, h) = (ob.lock().unwrap().clone(), hb.lock().unwrap().clone());
        match pq {
            "/page" => {
                h2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                json!({"id": format!("{o}/page"), "type": "CollectionPage", "items": [format!("{o}/notes/r")]})
            }
            "/u/z" => json!({"id": format!("{o}/u/z"), "type": "Person", "preferredUsername": "z", "inbox": format!("{o}/u/z/inbox")}),
            "/notes/r" => json!({"id": format!("{o}/notes/r"), "type": "Note", "attributedTo": format!("{o}/u/z"), "inReplyTo": format!("{h}/notes/1"), "content": "a reply", "to": ["https://www.w3.org/ns/activitystreams#Public"]}),
            "/notes/r2" => json!({"id": format!("{o}/notes/r2"), "type": "Note", "attributedTo": format!("{o}/u/z"), "inReplyTo": format!("{h}/notes/2"), "content": "a reply", "to": ["https://www.w3.org/ns/activitystreams#Public"]}),
            _ => Value::Null,
        }
    })
    .await;
    *other_base.lock().unwrap() = other.clone();
    let (ob, hb) = (other_base.clone(), home_base.clone());
    let home = static_peer(move |pq| {
        let (o, h) = (ob.lock().unwrap().clone(), hb.lock().unwrap().clone());
        match pq {
            "/u/x" => json!({"id": format!("{h}/u/x"), "type": "Person", "preferredUsername": "x", "inbox": format!("{h}/u/x/inbox")}),
            "/notes/1" => json!({"id": format!("{h}/notes/1"), "type": "Note", "attributedTo": format!("{h}/u/x"), "content": "root", "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "replies": {"type": "Collection", "first": format!("{o}/page")}}),
            "/notes/2" => json!({"id": format!("{h}/notes/2"), "type": "Note", "attributedTo": format!("{h}/u/x"), "content": "root 2", "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "replies": {"type": "Collection", "first": format!("{h}/page2")}}),
            "/page2" => json!({"id": format!("{h}/page2"), "type": "CollectionPage", "items": [format!("{o}/notes/r2")]}),
            _ => Value::Null,
        }
    })
    .await;
    *home_base.lock().unwrap() = home.clone();
    let root = pipit::federation::inbox::fetch_post(&a.app, &format!("{home}/notes/1"), &pipit::federation::fetch::Budget::new(5)).await.expect("root post");
    pipit::federation::thread::refresh(&a.app, &root).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the page on another host was fetched");
    assert!(stored(&a, &format!("{other}/notes/r")).is_none());
    // The same reply listed on a page of the post's own host is fetched from its origin and kept.
    let root2 = pipit::federation::inbox::fetch_post(&a.app, &format!("{home}/notes/2"), &pipit::federation::fetch::Budget::new(5)).await.expect("root post 2");
    pipit::federation::thread::refresh(&a.app, &root2).await;
    assert!(stored(&a, &format!("{other}/notes/r2")).is_some(), "a reply from another host, listed on the post's host");
}
