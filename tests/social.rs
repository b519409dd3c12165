//! Issue 8, the social side, between pipit instances on loopback (and a recording inbox where
//! the exact activities matter): replies mention and address their parent's author, the reply
//! form inherits the thread's mentions and visibility, direct posts need a recipient (page and
//! CLI), unlisted posts are in the outbox, every profile save sends one Update(Person),
//! /authorize_interaction, Move of a followed account, and what a domain block ends.
mod common;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use pipit::actions;
use pipit::model::{FollowState, Visibility};
use serde_json::Value;
use std::sync::{Arc, Mutex};

async fn post(i: &Instance, text: &str, vis: Visibility, reply: Option<String>) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: vis, in_reply_to: reply, media: Vec::new(), quote: None }).await.expect("publish")
}

async fn follow_accepted(from: &Instance, to: &Instance) {
    actions::follow(&from.app, &to.app.urls.handle()).await.expect("follow");
    let target = to.app.urls.actor();
    eventually("follow accepted", 10, || matches!(from.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

async fn ap_get(i: &Instance, url: &str) -> Response {
    i.client().get_with(url, &[("accept", "application/activity+json")]).await
}

/// An inbox on loopback that records every activity POSTed to it (no signature checks: it
/// only watches what pipit sends).
struct Recorder {
    url: String,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Value>>> = Default::default();
        let got2 = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else { return };
                let got = got2.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let got = got.clone();
                        async move {
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                got.lock().unwrap().push(v);
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(202).body(Full::new(Bytes::new())).unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
                });
            }
        });
        Recorder { url: format!("http://{addr}/inbox"), got }
    }
    fn of_type(&self, t: &str) -> Vec<Value> {
        self.got.lock().unwrap().iter().filter(|v| v["type"] == t).cloned().collect()
    }
}

/// Makes the recorder a follower of `i` (as a remote server's account would be).
fn add_recorder_follower(i: &Instance, rec: &Recorder) {
    let f = pipit::model::Follower { since_ms: 0, follow_id: format!("{}/follow/1", rec.url), inbox: rec.url.clone() };
    i.app.store.write(|w| w.put_follower(&rec.url.replace("/inbox", "/users/watcher"), &f)).unwrap();
}

async fn queue_drained(i: &Instance) {
    eventually("the delivery queue drains", 20, || i.app.store.read(|r| r.queue_stats()).map(|s| s.pending == 0).unwrap_or(false)).await;
}

fn textarea(body: &str, form_id: &str) -> String {
    let form = &body[body.find(&format!("id=\"{form_id}\"")).expect("form on page")..];
    let ta = &form[form.find("<textarea").unwrap()..];
    let start = ta.find('>').unwrap() + 1;
    ta[start..start + ta[start..].find("</textarea>").unwrap()].to_string()
}

fn selected_visibility(body: &str, form_id: &str) -> Option<String> {
    let form = &body[body.find(&format!("id=\"{form_id}\"")).expect("form on page")..];
    let form = &form[..form.find("</form>").unwrap()];
    let i = form.find(" selected>")?;
    let before = &form[..i];
    let v = before.rfind("value=\"")? + 7;
    Some(before[v..before[v..].find('"')? + v].to_string())
}

// ---------- 1. replies and addressing ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_mentions_and_addresses_the_author_it_answers() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let alice = a.app.urls.actor();
    let p = post(&a, "Anyone here?", Visibility::Public, None).await;
    // Bad input: a reply whose text names nobody (as `pipit post --reply-to` allows).
    let r = post(&b, "yes, me", Visibility::Public, Some(p.url_or_uri().to_string())).await;
    assert!(r.mentions.iter().any(|m| m.href == alice), "the reply mentions the parent's author: {:?}", r.mentions);
    let note: Value = serde_json::from_str(&ap_get(&b, &r.uri).await.body).unwrap();
    let tags = note["tag"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["type"] == "Mention" && t["href"] == alice.as_str()), "Mention tag for alice: {note}");
    let cc: Vec<&str> = note["cc"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(cc.contains(&alice.as_str()), "alice addressed in cc: {note}");
    // alice's server reads it as mentioning her (what Mastodon and snac notify on).
    eventually("alice stores the reply", 10, || a.app.store.read(|x| x.post_by_uri(&r.uri)).unwrap().is_some()).await;
    let stored = a.app.store.read(|x| x.post_by_uri(&r.uri)).unwrap().unwrap();
    assert!(stored.mentions.iter().any(|m| m.href == alice));
    // An edit keeps the mention even though the text still names nobody.
    pipit::domain::posts::edit(&b.app, r.id, "yes, me (edited)".into(), String::new()).unwrap();
    let edited = b.app.store.read(|x| x.post(r.id)).unwrap().unwrap();
    assert!(edited.mentions.iter().any(|m| m.href == alice), "edit keeps the reply mention");
    // A reply to one's own post mentions nobody.
    let own = post(&b, "thread start", Visibility::Public, None).await;
    let self_reply = post(&b, "and more", Visibility::Public, Some(own.url_or_uri().to_string())).await;
    assert!(self_reply.mentions.is_empty(), "{:?}", self_reply.mentions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_form_inherits_mentions_and_a_direct_message_stays_direct() {
    let me = Instance::start("me").await;
    let bob = Instance::start("bob").await;
    let carol = Instance::start("carol").await;
    // bob writes to me and carol, privately.
    let dm = post(&bob, &format!("secret plan {} {}", me.app.urls.handle(), carol.app.urls.handle()), Visibility::Direct, None).await;
    eventually("me gets bob's direct message", 10, || me.app.store.read(|r| r.post_by_uri(&dm.uri)).unwrap().is_some()).await;
    let local = me.app.store.read(|r| r.post_id_by_uri(&dm.uri)).unwrap().unwrap();
    let owner = me.owner_client().await;
    let page = owner.get(&format!("/posts/{local}")).await;
    assert_eq!(page.status, 200);
    let prefill = textarea(&page.body, "reply");
    assert_eq!(prefill.trim(), format!("{} {}", bob.app.urls.handle(), carol.app.urls.handle()), "parent author and the parent's mentions, without the owner");
    assert_eq!(selected_visibility(&page.body, "reply").as_deref(), Some("direct"), "a reply to a direct message starts direct");
    // Sent as the form has it: direct, to bob and carol, not to followers.
    let csrf = page.csrf();
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("in_reply_to", &dm.uri), ("content", &format!("{prefill}count me in")), ("visibility", "direct")], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let reply = me.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts[0].clone();
    eventually("bob gets the reply", 10, || bob.app.store.read(|r| r.post_by_uri(&reply.uri)).unwrap().is_some()).await;
    eventually("carol gets the reply", 10, || carol.app.store.read(|r| r.post_by_uri(&reply.uri)).unwrap().is_some()).await;
    assert_eq!(bob.app.store.read(|r| r.post_by_uri(&reply.uri)).unwrap().unwrap().visibility, Visibility::Direct);
    // A followers-only post starts a followers-only reply, with bob's mention.
    follow_accepted(&me, &bob).await;
    let fo = post(&bob, "for followers", Visibility::Followers, None).await;
    eventually("me gets the followers-only post", 10, || me.app.store.read(|r| r.post_by_uri(&fo.uri)).unwrap().is_some()).await;
    let fo_local = me.app.store.read(|r| r.post_id_by_uri(&fo.uri)).unwrap().unwrap();
    let page = owner.get(&format!("/posts/{fo_local}")).await;
    assert_eq!(selected_visibility(&page.body, "reply").as_deref(), Some("followers"));
    assert_eq!(textarea(&page.body, "reply").trim(), bob.app.urls.handle());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_post_without_recipient_is_refused_on_the_page() {
    let me = Instance::start("me").await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    // Bad inputs: no mention at all; a mention of an account that does not exist; only oneself.
    let ghost = "hello @ghost@127.0.0.1:1 are you there".to_string();
    let own = format!("note to self {}", me.app.urls.handle());
    for text in ["hello nobody", ghost.as_str(), own.as_str()] {
        let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", text), ("visibility", "direct")], &[]).await;
        assert_eq!(r.status, 400, "{text}: {}", r.body);
        assert!(r.body.contains("needs a recipient"), "clear error for {text}: {}", r.body);
    }
    assert!(me.app.store.read(|r| r.own_posts(None, 5, |_| true)).unwrap().posts.is_empty(), "nothing was stored");
    assert_eq!(me.app.store.read(|r| r.queue_stats()).unwrap().pending, 0, "nothing was queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_a_direct_post_to_nobody_and_a_reply_keeps_its_parents_visibility() {
    let bob = Instance::start("bob").await;
    let unlisted = post(&bob, "quiet words", Visibility::Unlisted, None).await;
    let dir = TempDir::new("cli");
    let data = dir.path().join("data");
    let pipit = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_pipit")).args(args).output().unwrap();
    let out = pipit(&["init", "--data", data.to_str().unwrap(), "--url", "http://127.0.0.1:9", "--username", "cli", "--allow-private-addresses"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Bad input: --visibility direct and no one mentioned.
    let out = tokio::task::spawn_blocking({
        let data = data.clone();
        move || std::process::Command::new(env!("CARGO_BIN_EXE_pipit")).args(["post", "--data", data.to_str().unwrap(), "--visibility", "direct", "just", "me"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success(), "refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a recipient"), "clear error: {err}");
    // A reply without --visibility takes the parent's (unlisted), not public.
    let out = tokio::task::spawn_blocking({
        let (data, url) = (data.clone(), unlisted.url_or_uri().to_string());
        move || std::process::Command::new(env!("CARGO_BIN_EXE_pipit")).args(["post", "--data", data.to_str().unwrap(), "--reply-to", &url, "agreed"]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let app = pipit::App::open(&data).unwrap();
    let posts = app.store.read(|r| r.own_posts(None, 5, |_| true)).unwrap().posts;
    assert_eq!(posts.len(), 1, "only the reply was stored");
    assert_eq!(posts[0].visibility, Visibility::Unlisted);
    assert!(posts[0].mentions.iter().any(|m| m.href == bob.app.urls.actor()), "and it mentions bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_posts_are_in_the_outbox() {
    let a = Instance::start("alice").await;
    let public = post(&a, "for all", Visibility::Public, None).await;
    let unlisted = post(&a, "quietly public", Visibility::Unlisted, None).await;
    let followers = post(&a, "for followers", Visibility::Followers, None).await;
    let page = ap_get(&a, "/users/alice/outbox?page=true").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(public.uri.as_str()) && page.body.contains(unlisted.uri.as_str()), "public and unlisted: {}", page.body);
    assert!(!page.body.contains(followers.uri.as_str()), "followers-only stays out");
    let v: Value = serde_json::from_str(&page.body).unwrap();
    let item = v["orderedItems"].as_array().unwrap().iter().find(|i| i["object"]["id"] == unlisted.uri.as_str()).unwrap();
    assert!(item["cc"].as_array().unwrap().iter().any(|x| x == pipit::federation::vocab::PUBLIC), "addressed as unlisted: {item}");
}

// ---------- 2. profile ----------

// A valid 1×1 PNG (uploads are decoded and re-checked by the media pipeline).
const PNG: &[u8] = b"\x89PNG\x0d\x0a\x1a\x0a\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0dIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_save_sends_one_update_person() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let rec = Recorder::start().await;
    add_recorder_follower(&a, &rec);
    follow_accepted(&b, &a).await;
    let alice = a.app.urls.actor();
    let cached = || b.app.store.read(|r| r.actor(&alice)).unwrap().unwrap();
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let updates = |n: usize| {
        let rec = &rec;
        async move {
            eventually(&format!("{n} Update(Person) received"), 10, || rec.of_type("Update").len() >= n).await;
            let u = rec.of_type("Update");
            assert_eq!(u.len(), n, "one Update per save");
            u[n - 1]["object"].clone()
        }
    };

    // Name, bio and a field in one save: one Update carrying all three.
    let r = owner.post_form("/settings", &[("csrf", &csrf), ("display_name", "Alice A."), ("bio", "new bio"), ("field_name_0", "Site"), ("field_value_0", "https://alice.example")]).await;
    assert_eq!(r.status, 303);
    let obj = updates(1).await;
    assert_eq!(obj["type"], "Person");
    assert_eq!(obj["id"], alice.as_str());
    assert_eq!(obj["name"], "Alice A.");
    assert!(obj["attachment"].to_string().contains("alice.example"), "fields: {obj}");
    eventually("bob sees the new name", 10, || cached().name == "Alice A.").await;
    assert!(cached().summary.contains("new bio"));

    // Saving the same again changes nothing and sends nothing.
    let r = owner.post_form("/settings", &[("csrf", &csrf), ("display_name", "Alice A."), ("bio", "new bio"), ("field_name_0", "Site"), ("field_value_0", "https://alice.example")]).await;
    assert_eq!(r.status, 303);

    // Avatar and header in one upload: one Update.
    let r = owner.post_multipart("/settings/images", &[("csrf", &csrf)], &[("avatar", "a.png", "image/png", PNG), ("header", "h.png", "image/png", PNG)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let obj = updates(2).await;
    assert!(obj["icon"]["url"].as_str().unwrap().contains("/media/") && obj["image"]["url"].as_str().unwrap().contains("/media/"), "{obj}");
    eventually("bob sees the pictures", 10, || cached().icon.map(|i| i.contains("/media/")).unwrap_or(false) && cached().image.is_some()).await;

    // Follower approval.
    let r = owner.post_form("/settings/approval", &[("csrf", &csrf), ("approve", "on")]).await;
    assert_eq!(r.status, 303);
    let obj = updates(3).await;
    assert_eq!(obj["manuallyApprovesFollowers"], true);
    eventually("bob sees approval on", 10, || cached().manually_approves_followers).await;

    // Aliases, given as a handle and resolved.
    let r = owner.post_form("/settings/aliases", &[("csrf", &csrf), ("aliases", &b.app.urls.handle())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let obj = updates(4).await;
    assert_eq!(obj["alsoKnownAs"][0], b.app.urls.actor().as_str());
    eventually("bob sees the alias", 10, || cached().also_known_as == vec![b.app.urls.actor()]).await;
    // Bad input: an alias that does not resolve is refused with a reason, nothing sent.
    let r = owner.post_form("/settings/aliases", &[("csrf", &csrf), ("aliases", "nobody@127.0.0.1:1")]).await;
    assert_eq!(r.status, 400, "{}", r.body);

    queue_drained(&a).await;
    assert_eq!(rec.of_type("Update").len(), 4, "no Update for the unchanged save or the refused alias");
}

// ---------- 3. /authorize_interaction ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_interaction_opens_remote_accounts_and_posts() {
    let me = Instance::start("me").await;
    let bob = Instance::start("bob").await;
    let p = post(&bob, "interact with me", Visibility::Public, None).await;
    // The template WebFinger advertises.
    let wf: Value = serde_json::from_str(&me.client().get(&format!("/.well-known/webfinger?resource=acct:me@{}", me.app.urls.host)).await.body).unwrap();
    let template = wf["links"].as_array().unwrap().iter().find(|l| l["rel"] == "http://ostatus.org/schema/1.0/subscribe").unwrap()["template"].as_str().unwrap().to_string();
    let link = |uri: &str| template.replace("{uri}", &pipit::server::request::percent_encode(uri));

    // A visitor is sent to log in, and back afterwards.
    let visitor = me.client();
    let r = visitor.get(&link(&p.uri)).await;
    assert_eq!(r.status, 303);
    assert!(r.location().starts_with("/login?next="), "{}", r.location());
    pipit::domain::owner::set_password(&me.app, "correct horse battery").unwrap();
    let login = visitor.get(r.location()).await;
    let csrf = login.csrf();
    let next = login.input_value("next").expect("login form carries next");
    let r = visitor.post_form("/login", &[("csrf", &csrf), ("password", "correct horse battery"), ("next", &next)]).await;
    assert_eq!(r.status, 303);
    assert!(r.location().starts_with("/authorize_interaction?uri="), "back to the interaction: {}", r.location());
    // Bad input: `next` pointing to another site is ignored.
    let other = me.client();
    let page = other.get("/login?next=//evil.example/x").await;
    assert!(page.input_value("next").is_none());
    let owner = visitor;

    // A post: its page here, with reply (prefilled), like and boost.
    let r = owner.get(&link(&p.uri)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().starts_with("/posts/"), "{}", r.location());
    let page = owner.get(r.location()).await;
    assert!(page.body.contains("interact with me") && page.body.contains("id=\"reply\""));
    let here = r.location().to_string();
    assert!(page.body.contains(&format!("action=\"{here}/like\"")) && page.body.contains(&format!("action=\"{here}/boost\"")), "like and boost forms");
    assert_eq!(textarea(&page.body, "reply").trim(), bob.app.urls.handle());
    let csrf = page.csrf();
    let r = owner.post_form(&format!("{here}/like"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    let me_id = me.app.urls.actor();
    eventually("bob sees the like", 10, || bob.app.store.read(|r| r.interactions(&p.uri, "like", 5)).unwrap().iter().any(|(w, _)| *w == me_id)).await;

    // An account, by acct: and by URL: its page, with a follow form that works.
    for uri in [format!("acct:{}", bob.app.urls.handle().trim_start_matches('@')), bob.app.urls.actor()] {
        let r = owner.get(&link(&uri)).await;
        assert_eq!(r.status, 303, "{uri}: {}", r.body);
        assert_eq!(r.location(), format!("/{}", bob.app.urls.handle()));
    }
    let page = owner.get(&format!("/{}", bob.app.urls.handle())).await;
    assert!(page.body.contains("action=\"/follow\""), "follow form on the account page");
    let r = owner.post_form("/follow", &[("csrf", &csrf), ("account", &bob.app.urls.actor())]).await;
    assert_eq!(r.status, 303);
    let bob_id = bob.app.urls.actor();
    eventually("following bob", 10, || me.app.store.read(|r| r.following(&bob_id)).unwrap().is_some()).await;

    // Bad inputs: an account that does not exist, a server that does not answer, not an
    // address at all, nothing. Each gets a page that says so, not a 404 or a 500.
    for (uri, status) in [
        (format!("{}/users/nobody", bob.base), 502),
        ("nobody@127.0.0.1:1".to_string(), 502),
        ("http://127.0.0.1:1/notes/1".to_string(), 502),
        ("just words".to_string(), 400),
        (String::new(), 400),
    ] {
        let r = owner.get(&link(&uri)).await;
        assert_eq!(r.status, status, "{uri}: {}", r.body);
        assert!(r.body.contains("role=\"alert\""), "{uri}: a clear message: {}", r.body);
    }
}

// ---------- 4. follows ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_move_follows_the_new_account_and_undoes_the_old_follow() {
    let old = Instance::start("old").await;
    let new = Instance::start("new").await;
    let fake = Instance::start("fake").await;
    let me = Instance::start("me").await;
    let (old_id, new_id, fake_id, me_id) = (old.app.urls.actor(), new.app.urls.actor(), fake.app.urls.actor(), me.app.urls.actor());
    follow_accepted(&me, &old).await;
    eventually("old has me as follower", 10, || old.app.store.read(|r| r.follower(&me_id)).unwrap().is_some()).await;
    let send_move = |target: &str, n: u32| {
        let mv = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{old_id}/activities/move{n}"), "type": "Move", "actor": old_id, "object": old_id, "target": target,
        });
        old.app.store.write(|w| pipit::domain::outbox::send(w, &old.app, mv, pipit::model::Audience { followers: true, inboxes: vec![] }).map(|_| ())).unwrap();
    };
    // Bad input: a Move to an account that does not list the old one in alsoKnownAs.
    send_move(&fake_id, 1);
    queue_drained(&old).await;
    queue_drained(&me).await;
    assert!(me.app.store.read(|r| r.following(&fake_id)).unwrap().is_none(), "unverified Move: not followed");
    assert!(me.app.store.read(|r| r.following(&old_id)).unwrap().is_some(), "unverified Move: old follow kept");
    assert!(fake.app.store.read(|r| r.follower(&me_id)).unwrap().is_none());

    // The real one: new lists old, then old moves.
    new.app.store.write(|w| {
        let mut p = w.profile()?;
        p.also_known_as = vec![old_id.clone()];
        w.put_profile(&p)
    }).unwrap();
    send_move(&new_id, 2);
    eventually("me follows new", 10, || matches!(me.app.store.read(|r| r.following(&new_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    assert!(me.app.store.read(|r| r.following(&old_id)).unwrap().is_none(), "no longer following old");
    eventually("old got the Undo and dropped me", 10, || old.app.store.read(|r| r.follower(&me_id)).unwrap().is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_block_ends_follows_and_followers_there() {
    let me = Instance::start("me").await;
    let bob = Instance::start("bob").await;
    let (me_id, bob_id) = (me.app.urls.actor(), bob.app.urls.actor());
    follow_accepted(&me, &bob).await;
    follow_accepted(&bob, &me).await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_form("/domain-block", &[("csrf", &csrf), ("domain", &bob.app.urls.host)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(me.app.store.read(|r| r.following(&bob_id)).unwrap().is_none(), "my follow of bob ended");
    assert!(me.app.store.read(|r| r.follower(&bob_id)).unwrap().is_none(), "bob no longer follows me");
    // bob's server is told, though the domain is blocked for everything else.
    eventually("bob got the Undo", 10, || bob.app.store.read(|r| r.follower(&me_id)).unwrap().is_none()).await;
    eventually("bob got the Reject", 10, || bob.app.store.read(|r| r.following(&me_id)).unwrap().is_none()).await;
}
