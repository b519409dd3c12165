//! Blocks and domain blocks stop delivery both ways and hide content; mutes and keyword filters
//! hide (or warn) on the pages; search finds stored posts by their words and resolves remote
//! handles and post URLs; remote account pages show recent posts from the outbox.
mod common;
use common::*;
use pipit::actions;
use pipit::model::{FollowState, Visibility};
use std::time::Duration;


async fn publish(i: &Instance, text: &str) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap()
}

async fn mutual(a: &Instance, b: &Instance) {
    actions::follow(&a.app, &b.app.urls.handle()).await.unwrap();
    actions::follow(&b.app, &a.app.urls.handle()).await.unwrap();
    let (ai, bi) = (a.app.urls.actor(), b.app.urls.actor());
    eventually("mutual follow", 10, || {
        matches!(a.app.store.read(|r| r.following(&bi)).unwrap(), Some(f) if f.state == FollowState::Accepted)
            && matches!(b.app.store.read(|r| r.following(&ai)).unwrap(), Some(f) if f.state == FollowState::Accepted)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_stops_delivery_both_ways_and_hides() {
    let a = Instance::start("ann").await;
    let b = Instance::start("ben").await;
    mutual(&a, &b).await;
    let old = publish(&b, "before the block").await;
    eventually("arrives", 10, || a.app.store.read(|r| r.post_by_uri(&old.uri)).unwrap().is_some()).await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    assert!(owner.get("/home").await.body.contains("before the block"));

    let r = owner.post_form("/block", &[("csrf", &csrf), ("account", &b.app.urls.handle())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (ai, bi) = (a.app.urls.actor(), b.app.urls.actor());
    assert!(a.app.store.read(|r| Ok(r.follower(&bi)?.is_none() && r.following(&bi)?.is_none())).unwrap(), "relationships cut on our side");
    eventually("ben hears the Block and the Undo", 10, || b.app.store.read(|r| Ok(r.follower(&ai)?.is_none() && r.following(&ai)?.is_none())).unwrap()).await;
    assert!(!owner.get("/home").await.body.contains("before the block"), "existing content hidden");
    assert!(owner.get("/settings/safety").await.body.contains(&b.app.urls.handle()));

    // ben mentions ann: his delivery is dropped.
    let p = publish(&b, &format!("hey {}", a.app.urls.handle())).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(a.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_none(), "blocked account's delivery refused");
    // ann cannot accidentally deliver to ben either: he is no follower, and a mention is not sent.
    assert!(a.app.store.read(|r| r.follower(&bi)).unwrap().is_none());

    owner.post_form("/unblock", &[("csrf", &csrf), ("account", &bi)]).await;
    assert!(!a.app.store.read(|r| r.is_blocked(&bi)).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_block_mute_and_filters() {
    let a = Instance::start("ann").await;
    let b = Instance::start("ben").await;
    mutual(&a, &b).await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let bi = b.app.urls.actor();

    // Mute: posts arrive but stay off home and notifications.
    owner.post_form("/mute", &[("csrf", &csrf), ("account", &b.app.urls.handle()), ("duration", "3600")]).await;
    let p = publish(&b, "muted words").await;
    eventually("stored", 10, || a.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    assert!(!owner.get("/home").await.body.contains("muted words"), "muted on home");
    owner.post_form("/unmute", &[("csrf", &csrf), ("account", &bi)]).await;
    assert!(owner.get("/home").await.body.contains("muted words"), "back after unmute");

    // Keyword filters: warn, then hide.
    owner.post_form("/filters", &[("csrf", &csrf), ("keyword", "spoiler"), ("action", "warn"), ("context", "home")]).await;
    let s = publish(&b, "big spoiler here").await;
    eventually("stored", 10, || a.app.store.read(|r| r.post_by_uri(&s.uri)).unwrap().is_some()).await;
    let home = owner.get("/home").await;
    assert!(home.body.contains("Filtered:</span> spoiler"), "warned");
    let filters = a.app.store.read(|r| r.filters()).unwrap();
    owner.post_form(&format!("/filters/{}/delete", filters[0].0), &[("csrf", &csrf)]).await;
    owner.post_form("/filters", &[("csrf", &csrf), ("keyword", "spoiler"), ("action", "hide"), ("context", "home")]).await;
    assert!(!owner.get("/home").await.body.contains("big spoiler"), "hidden");
    // A filter without a context is refused.
    let r = owner.post_form("/filters", &[("csrf", &csrf), ("keyword", "x"), ("action", "hide")]).await;
    assert_eq!(r.status, 400);

    // Domain block: ben's server loses its followers here and nothing flows either way.
    owner.post_form("/domain-block", &[("csrf", &csrf), ("domain", &b.app.urls.host)]).await;
    assert!(a.app.store.read(|r| r.follower(&bi)).unwrap().is_none(), "followers on the blocked server removed");
    let q = publish(&b, "from a blocked server").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(a.app.store.read(|r| r.post_by_uri(&q.uri)).unwrap().is_none(), "deliveries from the blocked server refused");
    let r = owner.post_form("/domain-block", &[("csrf", &csrf), ("domain", &a.app.urls.host)]).await;
    assert_eq!(r.status, 400, "cannot block our own host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_account_pages() {
    let a = Instance::start("ann").await;
    let b = Instance::start("ben").await;
    let owner = a.owner_client().await;
    publish(&a, "Tomatoes and basil grow together").await;
    publish(&a, "Basil alone").await;
    let r = owner.get("/search?q=basil+tomatoes").await;
    assert!(r.body.contains("Tomatoes and basil") && !r.body.contains("Basil alone"), "all words must match");
    assert!(owner.get("/search?q=basil").await.body.contains("Basil alone"));
    assert!(owner.get("/search?q=zucchini").await.body.contains("No posts found"));

    // A remote handle resolves to an account; its page shows recent posts from its outbox.
    let bp = publish(&b, "ben's public garden notes").await;
    let r = owner.get(&format!("/search?q={}", pipit::server::request::percent_encode(&b.app.urls.handle()))).await;
    assert!(r.body.contains(&b.app.urls.handle()), "handle resolved");
    let page = owner.get(&format!("/{}", b.app.urls.handle())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ben's public garden notes"), "recent posts from the outbox");
    assert!(page.body.contains("action=\"/follow\""), "follow button");
    // A post URL resolves to the post.
    let r = owner.get(&format!("/search?q={}", pipit::server::request::percent_encode(bp.url_or_uri()))).await;
    assert!(r.body.contains("garden notes"));
    // Visitors can neither search nor make the server fetch accounts.
    assert_eq!(a.client().get("/search?q=basil").await.status, 303);
    assert_eq!(a.client().get(&format!("/{}", b.app.urls.handle())).await.status, 303);
}
