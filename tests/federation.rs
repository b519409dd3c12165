//! Two pipit instances federating over loopback with real signatures, real stores and the real
//! delivery queue: follow → Accept → post → reply → like → boost → edit → delete → unfollow,
//! checked on both sides; follow approval; Move.
mod common;
use common::*;
use pipit::actions;
use pipit::model::{FollowState, Visibility};


fn handle(i: &Instance) -> String {
    i.app.urls.handle()
}

async fn post(i: &Instance, text: &str, vis: Visibility, reply: Option<String>) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: vis, in_reply_to: reply, media: Vec::new(), quote: None }).await.expect("publish")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_post_reply_like_boost_edit_delete_unfollow() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let (alice, bob) = (a.app.urls.actor(), b.app.urls.actor());

    // bob follows alice by handle (WebFinger → actor → Follow); alice auto-accepts.
    actions::follow(&b.app, &handle(&a)).await.expect("follow");
    eventually("alice has bob as follower", 10, || a.app.store.read(|r| r.follower(&bob)).unwrap().is_some()).await;
    eventually("bob's follow is accepted", 10, || {
        matches!(b.app.store.read(|r| r.following(&alice)).unwrap(), Some(f) if f.state == FollowState::Accepted)
    })
    .await;

    // alice posts; it reaches bob's store and home timeline.
    let p = post(&a, "Hello fediverse #pipit", Visibility::Public, None).await;
    eventually("bob stores alice's post", 10, || b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    let (home, _) = b.app.store.read(|r| r.home(None, 20)).unwrap();
    assert!(home.iter().any(|(_, _, x)| x.uri == p.uri), "alice's post is on bob's home timeline");
    let stored = b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().unwrap();
    assert!(stored.content.contains("Hello fediverse"), "{}", stored.content);
    assert!(!stored.local && stored.author == alice);

    // bob replies; alice gets it under her post and a notification.
    let r = post(&b, &format!("Welcome {}!", handle(&a)), Visibility::Public, Some(p.url_or_uri().to_string())).await;
    assert_eq!(r.in_reply_to.as_deref(), Some(p.uri.as_str()), "a reply to a page URL points at the post's id");
    eventually("alice stores bob's reply", 10, || a.app.store.read(|r2| r2.replies(&p.uri, 10)).unwrap().iter().any(|x| x.uri == r.uri)).await;

    // a reply to the reply (alice answers bob) nests under bob's reply on both sides.
    let rr = post(&a, "Thanks!", Visibility::Public, Some(r.uri.to_string())).await;
    eventually("bob stores the reply to his reply", 10, || b.app.store.read(|x| x.post_by_uri(&rr.uri)).unwrap().is_some()).await;
    let thread = pipit::domain::timeline::thread(&a.app, pipit::domain::timeline::Viewer::Public, p.id).unwrap();
    let order: Vec<_> = thread.replies.iter().map(|x| (x.post.uri.clone(), x.depth)).collect();
    assert_eq!(order, vec![(r.uri.clone(), 0), (rr.uri.clone(), 1)], "thread is a tree");

    // bob likes and boosts alice's post; alice sees who did it, on the post page too.
    actions::like(&b.app, p.url_or_uri()).await.expect("like");
    actions::boost(&b.app, p.url_or_uri()).await.expect("boost");
    eventually("alice sees bob's like and boost", 10, || {
        a.app.store.read(|x| Ok(x.interactions(&p.uri, "like", 10)?.iter().any(|(w, _)| *w == bob) && x.interactions(&p.uri, "boost", 10)?.iter().any(|(w, _)| *w == bob))).unwrap()
    })
    .await;
    let page = a.client().get(&format!("/@alice/{}", p.id)).await;
    assert!(page.body.contains("Liked by") && page.body.contains("Boosted by") && page.body.contains("bob"), "post page names who liked/boosted");
    assert!(page.body.contains("Welcome") && page.body.contains("Thanks!"), "post page shows the reply tree");

    // edits and deletes propagate.
    pipit::domain::posts::edit(&a.app, p.id, "Hello fediverse, edited #pipit".into(), String::new()).unwrap();
    eventually("bob sees the edit", 10, || b.app.store.read(|x| x.post_by_uri(&p.uri)).unwrap().map(|x| x.content.contains("edited")).unwrap_or(false)).await;
    pipit::domain::posts::delete(&a.app, p.id).unwrap();
    eventually("bob drops the deleted post", 10, || b.app.store.read(|x| x.post_by_uri(&p.uri)).unwrap().is_none()).await;
    let gone = b.client().get_with(&p.uri.replace(&a.base, ""), &[]).await;
    let _ = gone;
    let gone = a.client().get_with(&format!("/users/alice/statuses/{}", p.id), &[("accept", "application/activity+json")]).await;
    assert_eq!(gone.status, 410, "a deleted post answers 410 Gone");

    // bob unfollows; alice forgets him.
    actions::unfollow(&b.app, &alice).await.expect("unfollow");
    eventually("alice no longer has bob as follower", 10, || a.app.store.read(|r| r.follower(&bob)).unwrap().is_none()).await;

    // alice's own undo: bob's like removed when he unlikes (a fresh post).
    let q = post(&a, "second", Visibility::Public, None).await;
    let _ = q;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_approval_on_and_off() {
    let a = Instance::start("carol").await;
    let b = Instance::start("dave").await;
    let (carol, dave) = (a.app.urls.actor(), b.app.urls.actor());
    a.app.store.write(|w| {
        let mut p = w.profile()?;
        p.approve_followers = true;
        w.put_profile(&p)
    }).unwrap();
    let actor = a.client().get_with("/users/carol", &[("accept", "application/activity+json")]).await;
    assert!(actor.body.contains("\"manuallyApprovesFollowers\":true"), "actor advertises approval");

    actions::follow(&b.app, &handle(&a)).await.unwrap();
    eventually("carol holds dave's request", 10, || a.app.store.read(|r| r.follow_request(&dave)).unwrap().is_some()).await;
    assert!(a.app.store.read(|r| r.follower(&dave)).unwrap().is_none(), "not a follower before approval");
    assert!(matches!(b.app.store.read(|r| r.following(&carol)).unwrap(), Some(f) if f.state == FollowState::Pending));

    // A followers-only post does not reach a pending follower.
    let hidden = post(&a, "only for followers", Visibility::Followers, None).await;

    pipit::domain::follows::approve(&a.app, &dave).unwrap();
    eventually("dave is accepted", 10, || matches!(b.app.store.read(|r| r.following(&carol)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    assert!(b.app.store.read(|r| r.post_by_uri(&hidden.uri)).unwrap().is_none(), "nothing leaked before approval");

    // Now followers-only posts arrive, and are not public on dave's side either.
    let fo = post(&a, "followers now", Visibility::Followers, None).await;
    eventually("dave gets the followers-only post", 10, || b.app.store.read(|r| r.post_by_uri(&fo.uri)).unwrap().is_some()).await;
    assert_eq!(b.app.store.read(|r| r.post_by_uri(&fo.uri)).unwrap().unwrap().visibility, Visibility::Followers);
    // Unsigned fetch of a followers-only post is refused.
    let r = b.client().get_with(&fo.uri, &[("accept", "application/activity+json")]).await;
    assert_eq!(r.status, 404, "followers-only note is not served to anonymous fetches");

    // Removing a follower (Reject of the accepted Follow) ends dave's follow on his side too.
    pipit::domain::follows::reject(&a.app, &dave).unwrap();
    eventually("dave no longer follows carol", 10, || b.app.store.read(|r| r.following(&carol)).unwrap().is_none()).await;

    // Approval off again: an immediate Accept.
    a.app.store.write(|w| {
        let mut p = w.profile()?;
        p.approve_followers = false;
        w.put_profile(&p)
    }).unwrap();
    actions::follow(&b.app, &handle(&a)).await.unwrap();
    eventually("auto-accepted", 10, || matches!(b.app.store.read(|r| r.following(&carol)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}
