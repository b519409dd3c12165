//! More federation behaviour: authorized-fetch mode, key rotation (refetch once), the 401
//! double-knock to RFC 9421, the owner's web forms (follow, like) and the Move of a followed
//! account.
mod common;
use common::*;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use pipit::actions;
use pipit::federation::fetch::Budget;
use pipit::model::{FollowState, Visibility};
use std::sync::{Arc, Mutex};


async fn publish(i: &Instance, text: &str, vis: Visibility) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: vis, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_fetch_requires_signed_gets() {
    let a = Instance::start_with("alice", Box::new(|c| c.authorized_fetch = true)).await;
    let b = Instance::start("bob").await;
    let p = publish(&a, "secure mode", Visibility::Public).await;
    let anon = a.client().get_with(&format!("/users/alice/statuses/{}", p.id), &[("accept", "application/activity+json")]).await;
    assert_eq!(anon.status, 401, "unsigned GET of a note in authorized-fetch mode");
    let outbox = a.client().get_with("/users/alice/outbox?page=true", &[("accept", "application/activity+json")]).await;
    assert_eq!(outbox.status, 401, "unsigned GET of the outbox");
    // The actor stays readable: others need its key to check our signatures.
    let actor = a.client().get_with("/users/alice", &[("accept", "application/activity+json")]).await;
    assert_eq!(actor.status, 200);
    // bob's server fetches with a signature (its instance actor) and gets it.
    let doc = pipit::federation::fetch::get_object(&b.app, &p.uri, &Budget::new(3)).await.expect("signed fetch");
    assert_eq!(doc["content"].as_str().unwrap(), p.content);
    // HTML pages are unaffected.
    assert_eq!(a.client().get(&format!("/@alice/{}", p.id)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_key_is_refetched_once() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    actions::follow(&b.app, &a.app.urls.handle()).await.unwrap();
    let bob = b.app.urls.actor();
    eventually("accepted", 10, || a.app.store.read(|r| r.follower(&bob)).unwrap().is_some()).await;
    let old_pem = a.app.store.read(|r| r.actor(&bob)).unwrap().unwrap().public_key_pem;

    // bob gets a new RSA key (same id) and restarts; alice still has the old one cached.
    let dir = b.stop().await;
    let cfg = pipit::Config::load(dir.path()).unwrap();
    std::fs::write(cfg.resolve(dir.path(), &cfg.keys.rsa), pipit::keygen::rsa_pkcs8_pem().unwrap()).unwrap();
    let b = Instance::restart(dir).await;
    let p = publish(&a, "after rotation", Visibility::Public).await;
    actions::like(&b.app, p.url_or_uri()).await.unwrap();
    eventually("alice verified bob's like with his new key", 10, || {
        a.app.store.read(|r| r.interactions(&p.uri, "like", 10)).unwrap().iter().any(|(w, _)| *w == bob)
    })
    .await;
    let new_pem = a.app.store.read(|r| r.actor(&bob)).unwrap().unwrap().public_key_pem;
    assert_ne!(old_pem, new_pem, "alice refreshed bob's key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_is_retried_with_rfc9421() {
    // A peer that only accepts RFC 9421 signatures (as some newer servers may).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<bool>>> = Default::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let seen = seen2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let rfc = req.headers().contains_key("signature-input");
                    seen.lock().unwrap().push(rfc);
                    async move { Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(if rfc { 202 } else { 401 }).body(Full::new(Bytes::new())).unwrap()) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    let a = Instance::start("alice").await;
    let out = pipit::federation::deliver::post(&a.app, &format!("http://{addr}/inbox"), Bytes::from_static(b"{\"type\":\"Like\"}")).await;
    assert_eq!(out, pipit::federation::deliver::Outcome::Delivered);
    assert_eq!(*seen.lock().unwrap(), vec![false, true], "cavage first, then RFC 9421");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_follows_and_likes_through_the_web_forms() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let owner = b.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_form("/follow", &[("csrf", &csrf), ("account", &a.app.urls.handle())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let alice = a.app.urls.actor();
    eventually("follow accepted", 10, || matches!(b.app.store.read(|r| r.following(&alice)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    let following = owner.get("/following").await;
    assert!(following.body.contains(&a.app.urls.handle()), "following page lists alice");

    let p = publish(&a, "from alice with love", Visibility::Public).await;
    eventually("post on bob's home page", 10, || b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    let home = owner.get("/home").await;
    assert!(home.body.contains("from alice with love"), "home shows the post");
    let local_id = b.app.store.read(|r| r.post_id_by_uri(&p.uri)).unwrap().unwrap();
    let r = owner.post_form(&format!("/posts/{local_id}/like"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    let bob = b.app.urls.actor();
    eventually("alice sees bob's like", 10, || a.app.store.read(|r| r.interactions(&p.uri, "like", 10)).unwrap().iter().any(|(w, _)| *w == bob)).await;
    // Without the CSRF token nothing happens.
    let r = owner.post_form(&format!("/posts/{local_id}/boost"), &[]).await;
    assert_eq!(r.status, 403);
    assert!(a.app.store.read(|r| r.interactions(&p.uri, "boost", 10)).unwrap().is_empty());
    // A visitor cannot use the forms at all.
    let r = b.client().post_form("/follow", &[("account", "@x@example.org")]).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_of_a_followed_account_follows_the_new_one() {
    let old = Instance::start("old").await;
    let new = Instance::start("new").await;
    let me = Instance::start("me").await;
    actions::follow(&me.app, &old.app.urls.handle()).await.unwrap();
    let (old_id, new_id) = (old.app.urls.actor(), new.app.urls.actor());
    eventually("following old", 10, || matches!(me.app.store.read(|r| r.following(&old_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    // The new account lists the old one in alsoKnownAs, then the old one sends Move.
    new.app.store.write(|w| {
        let mut p = w.profile()?;
        p.also_known_as = vec![old_id.clone()];
        w.put_profile(&p)
    }).unwrap();
    let mv = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{old_id}/activities/move1"), "type": "Move", "actor": old_id, "object": old_id, "target": new_id,
    });
    old.app.store.write(|w| pipit::domain::outbox::send(w, &old.app, mv, pipit::model::Audience { followers: true, inboxes: vec![] }).map(|_| ())).unwrap();
    eventually("me now follows new", 10, || matches!(me.app.store.read(|r| r.following(&new_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    let (notes, _) = me.app.store.read(|r| r.notifications(None, 10)).unwrap();
    assert!(notes.iter().any(|(_, n)| n.kind == pipit::model::NotificationKind::Move), "a Move notification");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_written_in_the_compose_form_is_delivered() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let owner = b.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let text = format!("a private word for {}", a.app.urls.handle());
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", &text), ("visibility", "direct")], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let post = b.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts[0].clone();
    assert_eq!(post.mentions[0].href, a.app.urls.actor(), "the mention was resolved by WebFinger");
    eventually("alice gets the direct message", 10, || a.app.store.read(|r| r.post_by_uri(&post.uri)).unwrap().is_some()).await;
    let (notes, _) = a.app.store.read(|r| r.notifications(None, 5)).unwrap();
    assert!(notes.iter().any(|(_, n)| n.kind == pipit::model::NotificationKind::Mention));
    assert_eq!(a.app.store.read(|r| r.post_by_uri(&post.uri)).unwrap().unwrap().visibility, Visibility::Direct);
}
