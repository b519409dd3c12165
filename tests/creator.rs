//! Issue 14, the rest of the creator toolkit, end to end on loopback: WebSub publish pings to a
//! recording hub through the queue (retried after a 500), Update(Question) to followers'
//! servers when votes change (debounced) and when the poll closes, and attachments on posts
//! scheduled from the compose page. (Relays followed by the instance actor: tests/community.rs.)
mod common;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use pipit::actions;
use pipit::model::{FollowState, JobKind, Visibility};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

async fn follow_accepted(from: &Instance, to: &Instance) {
    actions::follow(&from.app, &to.app.urls.handle()).await.expect("follow");
    let target = to.app.urls.actor();
    eventually("follow accepted", 10, || matches!(from.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

fn compose(text: &str, visibility: Visibility) -> actions::Compose {
    actions::Compose { text: text.into(), cw: String::new(), visibility, in_reply_to: None, media: Vec::new(), quote: None }
}

fn pending(i: &Instance) -> u64 {
    i.app.store.read(|r| r.queue_stats()).unwrap().pending
}

// ---------- 1. WebSub publish pings ----------

/// A WebSub hub on loopback: records every POST body; answers 500 to the first `fail_first`
/// requests, then 204.
async fn hub(fail_first: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<String>>> = Default::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let (g, seen) = (g.clone(), seen.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let (g, seen) = (g.clone(), seen.clone());
                    async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        g.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
                        let status = if seen.fetch_add(1, Ordering::SeqCst) < fail_first { 500 } else { 204 };
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(status).body(Full::new(Bytes::new())).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    (url, got)
}

/// (hub.mode, the hub.url values in order) of one ping body.
fn parse_ping(body: &str) -> (String, Vec<String>) {
    let mut mode = String::new();
    let mut urls = Vec::new();
    for pair in body.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = pipit::server::request::percent_decode(&v.replace('+', " "));
        match k {
            "hub.mode" => mode = v,
            "hub.url" => urls.push(v),
            other => panic!("unexpected field {other} in {body}"),
        }
    }
    (mode, urls)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hub_is_pinged_for_the_profile_and_tag_feeds_through_the_queue() {
    // The hub fails the first ping with a 500: the queue retries it (backoff unit 1 ms).
    let (hub_url, got) = hub(1).await;
    let h = hub_url.clone();
    let a = Instance::start_with(
        "alice",
        Box::new(move |c| {
            c.websub_hub = Some(h);
            c.delivery_backoff_unit_ms = 1;
        }),
    )
    .await;
    let feeds = |tags: &[&str]| -> Vec<String> {
        let mut v = vec![a.app.urls.rss(), a.app.urls.atom()];
        for t in tags {
            v.push(format!("{}.rss", a.app.urls.tag(t)));
            v.push(format!("{}.atom", a.app.urls.tag(t)));
        }
        sorted(v)
    };
    let drained = || pending(&a) == 0;

    // Bad input first: followers-only and direct posts are in no feed: no ping, ever.
    actions::publish(&a.app, compose("for friends #garden", Visibility::Followers)).await.unwrap();
    eventually("queue drained", 10, drained).await;
    assert!(got.lock().unwrap().is_empty(), "followers-only post pinged the hub: {:?}", got.lock().unwrap());

    let p = actions::publish(&a.app, compose("Tomatoes #Garden and #food", Visibility::Public)).await.unwrap();
    eventually("the hub is pinged twice (500, then the retry)", 10, || got.lock().unwrap().len() >= 2).await;
    eventually("queue drained", 10, drained).await;
    let pings = got.lock().unwrap().clone();
    assert_eq!(pings.len(), 2, "one job, retried once after the 500: {pings:?}");
    assert_eq!(pings[0], pings[1], "the retry sends the same topics");
    let (mode, urls) = parse_ping(&pings[0]);
    assert_eq!(mode, "publish");
    assert_eq!(sorted(urls), feeds(&["garden", "food"]));
    // The topics are the feeds' own self links.
    let rss = a.client().get("/tags/garden.rss").await.body;
    assert!(rss.contains(&format!("href=\"{}.rss\"", a.app.urls.tag("garden"))) && rss.contains(&format!("rel=\"hub\" href=\"{hub_url}\"")), "{rss}");

    // An edit that drops #food and adds #soup: both tags' feeds change.
    pipit::domain::posts::edit(&a.app, p.id, "Tomatoes #garden #soup".into(), String::new()).unwrap();
    eventually("edit ping", 10, || got.lock().unwrap().len() >= 3).await;
    assert_eq!(sorted(parse_ping(&got.lock().unwrap()[2]).1), feeds(&["garden", "soup", "food"]));

    // A local-only public post is in the feeds too; then the delete of the first post.
    actions::publish_with(&a.app, compose("Only here", Visibility::Public), Vec::new(), pipit::domain::posts::Publishing { local_only: Some(true), ..Default::default() }).await.unwrap();
    eventually("local-only ping", 10, || got.lock().unwrap().len() >= 4).await;
    assert_eq!(sorted(parse_ping(&got.lock().unwrap()[3]).1), feeds(&[]));
    pipit::domain::posts::delete(&a.app, p.id).unwrap();
    eventually("delete ping", 10, || got.lock().unwrap().len() >= 5).await;
    assert_eq!(sorted(parse_ping(&got.lock().unwrap()[4]).1), feeds(&["garden", "soup"]));

    // An unlisted post is in no feed either.
    actions::publish(&a.app, compose("quietly #garden", Visibility::Unlisted)).await.unwrap();
    eventually("queue drained", 10, drained).await;
    assert_eq!(got.lock().unwrap().len(), 5, "unlisted post pinged the hub");
    a.stop().await;

    // No hub configured: a public post queues no ping at all.
    let b = Instance::start("bob").await;
    let app = b.app.clone();
    let q = actions::publish(&b.app, compose("no hub #garden", Visibility::Public)).await.unwrap();
    b.app.store.write(|w| pipit::federation::websub::queue(w, &app, &q, &[])).unwrap();
    let jobs = b.app.store.read(|r| r.pending_jobs(100)).unwrap();
    assert!(!jobs.iter().any(|j| matches!(j.what, JobKind::WebSub { .. })), "{jobs:?}");
    b.stop().await;
}

// ---------- 2. Update(Question) when votes change ----------

fn post_of(i: &Instance, uri: &str) -> Option<pipit::model::Post> {
    i.app.store.read(|r| r.post_by_uri(uri)).unwrap()
}

fn poll_jobs(i: &Instance, post: u64) -> Vec<pipit::model::Job> {
    i.app.store.read(|r| r.pending_jobs(1000)).unwrap().into_iter().filter(|j| j.what == JobKind::PollUpdate { post }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_reach_other_followers_in_one_debounced_update_and_the_close_sends_final_counts() {
    // Debounce = 30 units; a unit of 100 ms makes it 3 s.
    let a = Instance::start_with("alice", Box::new(|c| c.delivery_backoff_unit_ms = 100)).await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    follow_accepted(&b, &a).await;
    follow_accepted(&c, &a).await;
    let spec = pipit::store::PollSpec { options: vec!["tea".into(), "coffee".into(), "water".into()], multiple: true, expires_secs: 3600 };
    let how = pipit::domain::posts::Publishing { poll: Some(spec), ..Default::default() };
    let poll = actions::publish_with(&a.app, compose("Drinks?", Visibility::Public), Vec::new(), how).await.unwrap();
    let uri = poll.uri.to_string();
    // The closing Update is queued with the poll, due when it ends.
    let close = poll_jobs(&a, poll.id);
    assert_eq!(close.len(), 1, "{close:?}");
    assert_eq!(Some(close[0].due_ms), poll.poll.as_ref().unwrap().ends_ms);
    eventually("bob and carol have the poll", 10, || post_of(&b, &uri).is_some() && post_of(&c, &uri).is_some()).await;

    // Bob votes for two options: two Vote notes, one Update queued.
    let at_bob = post_of(&b, &uri).unwrap();
    pipit::domain::follows::vote(&b.app, at_bob.id, &["tea".to_string(), "coffee".to_string()]).unwrap();
    let counted = || post_of(&a, &uri).unwrap().poll.unwrap().options.iter().map(|(_, n)| *n).collect::<Vec<_>>() == vec![1, 1, 0];
    eventually("alice counts both of bob's votes", 10, counted).await;
    let jobs = poll_jobs(&a, poll.id);
    assert_eq!(jobs.len(), 2, "two votes, one debounced Update (plus the closing one): {jobs:?}");

    // Carol's pipit sees the new counts (what her pages and API show).
    let at_carol = || post_of(&c, &uri).and_then(|p| p.poll).map(|p| p.options.iter().map(|(_, n)| *n).collect::<Vec<_>>());
    eventually("carol sees bob's votes", 30, || at_carol() == Some(vec![1, 1, 0])).await;
    assert_eq!(poll_jobs(&a, poll.id).len(), 1, "only the closing Update is left");

    // Bad input: a vote after the close is not counted. The close: time passes (the stored
    // end moves into the past) and the closing job comes due: carol sees the poll closed.
    let app = a.app.clone();
    a.app
        .store
        .write(|w| {
            let mut p = w.post(poll.id)?.unwrap();
            p.poll.as_mut().unwrap().ends_ms = Some(pipit::time::now_ms() - 1000);
            w.put_post(&p)?;
            w.reschedule_job(close[0].id, pipit::time::now_ms())
        })
        .unwrap();
    app.store.queue_wake.notify_one();
    eventually("carol sees the poll closed", 20, || post_of(&c, &uri).and_then(|p| p.poll).map(|p| p.closed).unwrap_or(false)).await;
    assert_eq!(at_carol(), Some(vec![1, 1, 0]), "final counts");
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

// ---------- 3. attachments on posts scheduled from the page ----------

fn png(w: u32, h: u32) -> Vec<u8> {
    rgb_png(w, h, |x, y| [(x * 7) as u8, (y * 5) as u8, 120])
}

fn media_files(i: &Instance) -> usize {
    std::fs::read_dir(i.app.media_dir()).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_scheduled_from_the_page_keep_their_images_and_alt_text() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    follow_accepted(&b, &a).await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let image = png(40, 30);
    let before = media_files(&a);

    // Bad input: a poll and an image in one scheduled post: refused, no file left behind.
    let at = pipit::time::rfc3339(pipit::time::now_ms() + 3_000);
    let at = &at[..19]; // the page's datetime-local form: YYYY-MM-DDTHH:MM:SS (UTC)
    let r = owner
        .post_multipart("/compose", &[("csrf", &csrf), ("content", "both"), ("visibility", "public"), ("scheduled_at", at), ("poll_option", "a"), ("poll_option", "b"), ("alt", "x")], &[("image", "a.png", "image/png", &image)])
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(media_files(&a), before, "a refused scheduled post leaves no file");

    // Scheduled with an image and its alt text: kept with the record, published with the post.
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "Garden at dawn"), ("visibility", "public"), ("scheduled_at", at), ("alt", "Rows of tomatoes in fog")], &[("image", "a.png", "image/png", &image)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let sched = a.app.store.read(|r| r.scheduled_posts(10)).unwrap();
    assert_eq!(sched.len(), 1);
    assert_eq!(sched[0].params.media.len(), 1);
    assert_eq!(sched[0].params.media[0].alt, "Rows of tomatoes in fog");
    let url = sched[0].params.media[0].url.to_string();
    let page = owner.get("/scheduled").await.body;
    assert!(page.contains("Garden at dawn") && page.contains("alt=\"Rows of tomatoes in fog\""), "{page}");
    eventually("the scheduled post is published", 15, || a.app.store.read(|r| r.own_post_count()).unwrap() == 1).await;
    let p = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0);
    assert_eq!(p.source, "Garden at dawn");
    assert_eq!(p.attachments.len(), 1);
    assert_eq!((p.attachments[0].url.to_string(), p.attachments[0].alt.as_str()), (url.clone(), "Rows of tomatoes in fog"));
    let file = a.client().get(url.strip_prefix(&a.base).unwrap()).await;
    assert_eq!(file.status, 200, "the image is served");
    assert!(a.client().get(&format!("/@alice/{}", p.id)).await.body.contains("Rows of tomatoes in fog"));
    // The follower's server gets it with the image and its description.
    eventually("bob has the post with its image", 10, || post_of(&b, p.uri.as_str()).map(|q| q.attachments.len() == 1 && q.attachments[0].alt == "Rows of tomatoes in fog").unwrap_or(false)).await;

    // A draft with an image, deleted from /scheduled: its file goes with it.
    let with_post = media_files(&a);
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "maybe later"), ("visibility", "public"), ("draft", "1"), ("alt", "a draft's picture")], &[("image", "b.png", "image/png", &png(20, 20))]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(media_files(&a) > with_post, "the draft's image is saved");
    let draft = a.app.store.read(|r| r.scheduled_posts(10)).unwrap().remove(0);
    assert_eq!(draft.params.media[0].alt, "a draft's picture");
    let r = owner.post_form(&format!("/scheduled/{}/delete", draft.id), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(media_files(&a), with_post, "deleting the draft frees its media");
    assert_eq!(a.client().get(draft.params.media[0].url.strip_prefix(&a.base).unwrap()).await.status, 404);

    // The client API: `scheduled_at` + `media_ids` keeps the upload and its description.
    let c = a.client();
    let r = c.post_form("/api/v1/apps", &[("client_name", "t"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", "read write")]).await;
    let app: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let r = c
        .post_form("/oauth/token", &[("grant_type", "password"), ("client_id", app["client_id"].as_str().unwrap()), ("client_secret", app["client_secret"].as_str().unwrap()), ("username", "alice"), ("password", "correct horse battery"), ("scope", "read write")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tok = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["access_token"].as_str().unwrap().to_string();
    let m = c.post_multipart("/api/v2/media", &[("access_token", &tok), ("description", "Beans on poles")], &[("file", "c.png", "image/png", &png(24, 24))]).await;
    assert_eq!(m.status, 200, "{}", m.body);
    let mid = serde_json::from_str::<serde_json::Value>(&m.body).unwrap()["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({ "status": "Beans", "scheduled_at": pipit::time::rfc3339(pipit::time::now_ms() + 2_000), "media_ids": [mid] }).to_string();
    let r = c.send("POST", "/api/v1/statuses", vec![("authorization".into(), format!("Bearer {tok}")), ("content-type".into(), "application/json".into())], body.into()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(s["media_attachments"][0]["description"], "Beans on poles", "{s}");
    eventually("the API-scheduled post is published", 15, || a.app.store.read(|r| r.own_post_count()).unwrap() == 2).await;
    let p = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0);
    assert_eq!((p.source.as_str(), p.attachments.len(), p.attachments[0].alt.as_str()), ("Beans", 1, "Beans on poles"));
    a.stop().await;
    b.stop().await;
}
