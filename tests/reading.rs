//! The owner's reading tools over real federation: lists (exclusive lists leave /home, public
//! lists show their members to anyone), followed hashtags, bookmarks, notifications.
mod common;
use common::*;
use pipit::actions;
use pipit::model::{Audience, FollowState, Visibility};
use std::time::Duration;


async fn publish(i: &Instance, text: &str) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap()
}

async fn follow(me: &Instance, other: &Instance) {
    actions::follow(&me.app, &other.app.urls.handle()).await.unwrap();
    let id = other.app.urls.actor();
    eventually("follow accepted", 10, || matches!(me.app.store.read(|r| r.following(&id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_exclusive_and_public() {
    let me = Instance::start("me").await;
    let b = Instance::start("bea").await;
    let c = Instance::start("cid").await;
    follow(&me, &b).await;
    follow(&me, &c).await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;

    // Create an exclusive, public list and add bea by handle.
    let r = owner.post_form("/lists", &[("csrf", &csrf), ("name", "Gardeners"), ("exclusive", "on"), ("public", "on")]).await;
    assert_eq!(r.status, 303);
    let list_url = r.location().to_string();
    let r = owner.post_form(&format!("{list_url}/add"), &[("csrf", &csrf), ("account", &b.app.urls.handle())]).await;
    assert_eq!(r.status, 303, "{}", r.body);

    let pb = publish(&b, "tomatoes from bea").await;
    let pc = publish(&c, "hello from cid").await;
    eventually("both posts arrive", 10, || me.app.store.read(|r| Ok(r.post_by_uri(&pb.uri)?.is_some() && r.post_by_uri(&pc.uri)?.is_some())).unwrap()).await;

    let home = owner.get("/home").await;
    assert!(home.body.contains("hello from cid"), "non-members stay on home");
    assert!(!home.body.contains("tomatoes from bea"), "an exclusive list's member is hidden from home");
    let list = owner.get(&list_url).await;
    assert!(list.body.contains("tomatoes from bea"), "the list timeline shows its member");
    assert!(!list.body.contains("hello from cid"), "and only its members");

    // Public list: a visitor sees the members (starter pack) but no timeline.
    let anon = me.client().get(&list_url).await;
    assert_eq!(anon.status, 200);
    assert!(anon.body.contains(&b.app.urls.handle()) && !anon.body.contains("tomatoes"), "starter pack shows members only");
    // Private again: visitors get 404.
    let r = owner.post_form(&format!("{list_url}/edit"), &[("csrf", &csrf), ("name", "Gardeners"), ("exclusive", "on")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(me.client().get(&list_url).await.status, 404);
    // Not exclusive any more: bea is back on home.
    owner.post_form(&format!("{list_url}/edit"), &[("csrf", &csrf), ("name", "Gardeners")]).await;
    assert!(owner.get("/home").await.body.contains("tomatoes from bea"));
    // Remove the member; delete the list.
    owner.post_form(&format!("{list_url}/remove"), &[("csrf", &csrf), ("account", &b.app.urls.actor())]).await;
    assert!(!owner.get(&list_url).await.body.contains(&b.app.urls.handle()));
    owner.post_form(&format!("{list_url}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(owner.get(&list_url).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_hashtags_bookmarks_and_notifications() {
    let me = Instance::start("me").await;
    let d = Instance::start("dee").await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    // dee is not followed; her posts reach us only as a relay would send them.
    let send_to_me = |text: &str| {
        let app = d.app.clone();
        let inbox = format!("{}/inbox", me.base);
        let text = text.to_string();
        async move {
            let p = publish_quiet(&app, &text).await;
            let create = pipit::federation::vocab::create_json(&app.urls, &p, "Create", &format!("{}/activity", p.uri));
            app.store.write(|w| pipit::domain::outbox::send(w, &app, create, Audience { followers: false, inboxes: vec![inbox.clone()] }).map(|_| ())).unwrap();
            p
        }
    };
    let p1 = send_to_me("first #Gardening post").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(me.app.store.read(|r| r.post_by_uri(&p1.uri)).unwrap().is_none(), "an unfollowed tag's post is not kept");

    let r = owner.post_form("/tags/gardening/follow", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert!(owner.get("/tags/gardening").await.body.contains("Unfollow #gardening"));
    let p2 = send_to_me("second #Gardening post").await;
    eventually("the followed tag's post is kept", 10, || me.app.store.read(|r| r.post_by_uri(&p2.uri)).unwrap().is_some()).await;
    // The post's card, by its id: words like "second" also occur in the page's own markup
    // (the menu's class="secondary").
    let id = me.app.store.read(|r| r.post_id_by_uri(&p2.uri)).unwrap().unwrap();
    let card = format!("id=\"post-{id}\"");
    assert!(owner.get("/home").await.body.contains(&card), "followed tags feed home");
    assert!(owner.get("/tags/gardening").await.body.contains(&card), "and the tag page");

    // Bookmark it, then unbookmark.
    owner.post_form(&format!("/posts/{id}/bookmark"), &[("csrf", &csrf)]).await;
    assert!(owner.get("/bookmarks").await.body.contains(&card));
    owner.post_form(&format!("/posts/{id}/bookmark"), &[("csrf", &csrf)]).await;
    assert!(!owner.get("/bookmarks").await.body.contains(&card));

    // Notifications: dee follows and likes; filters by type.
    actions::follow(&d.app, &me.app.urls.handle()).await.unwrap();
    let mine = publish(&me, "my own post").await;
    actions::like(&d.app, mine.url_or_uri()).await.unwrap();
    eventually("like notification", 10, || me.app.store.read(|r| r.notifications(None, 10)).unwrap().0.len() >= 2).await;
    let all = owner.get("/notifications").await;
    assert!(all.body.contains("followed you") && all.body.contains("liked your post"), "{}", all.body);
    let likes = owner.get("/notifications?type=like").await;
    assert!(likes.body.contains("liked your post") && !likes.body.contains("followed you"));
    assert_eq!(me.client().get("/notifications").await.status, 303, "visitors are sent to log in");
}

async fn publish_quiet(app: &pipit::App, text: &str) -> pipit::model::Post {
    actions::publish(app, actions::Compose { text: text.into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_show_first_and_federate() {
    let me = Instance::start("me").await;
    let f = Instance::start("fan").await;
    follow(&f, &me).await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let p = publish(&me, "pin me please").await;
    publish(&me, "a later post").await;
    let r = owner.post_form(&format!("/posts/{}/pin", p.id), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    let page = me.client().get("/@me").await;
    let pinned_at = page.body.find("aria-label=\"Pinned posts\"").expect("pinned section");
    assert!(page.body[pinned_at..].find("pin me please").unwrap() < page.body[pinned_at..].find("a later post").unwrap(), "pinned first");
    let featured: serde_json::Value = serde_json::from_str(&me.client().get_with("/users/me/collections/featured", &[("accept", "application/activity+json")]).await.body).unwrap();
    assert_eq!(featured["orderedItems"][0]["id"], p.uri.as_str(), "featured collection lists it");
    let me_id = me.app.urls.actor();
    eventually("the follower hears the Add", 10, || f.app.store.read(|r| r.interactions(&p.uri, "pin", 5)).unwrap().iter().any(|(a, _)| *a == me_id)).await;
    owner.post_form(&format!("/posts/{}/pin", p.id), &[("csrf", &csrf)]).await;
    assert!(!me.client().get("/@me").await.body.contains("aria-label=\"Pinned posts\""), "unpinned");
    eventually("the follower hears the Remove", 10, || f.app.store.read(|r| r.interactions(&p.uri, "pin", 5)).unwrap().is_empty()).await;
}
