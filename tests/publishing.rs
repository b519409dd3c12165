//! Issue 14 part A, publishing controls, end to end between pipit instances on loopback:
//! the undo window (held in redb, deletable with nothing sent, surviving a restart), local-only
//! posts (never delivered, 404 to signed and unsigned ActivityPub fetches, shown on the pages
//! and feeds), polls from the CLI voted on by a second pipit, edit history (page and API),
//! scheduled posts and drafts (page and API), language and posting defaults.
mod common;
use common::*;
use pipit::actions;
use pipit::control::{self, Command};
use pipit::model::{FollowState, Visibility};
use serde_json::{json, Value};

async fn follow_accepted(from: &Instance, to: &Instance) {
    actions::follow(&from.app, &to.app.urls.handle()).await.expect("follow");
    let target = to.app.urls.actor();
    eventually("follow accepted", 10, || matches!(from.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

/// `pipit post` as the CLI sends it over the control socket (same `execute`).
fn cli_post(text: &str) -> Command {
    Command::Post { text: text.into(), visibility: String::new(), cw: String::new(), reply_to: None, local_only: false, language: None, poll: vec![], poll_multiple: false, poll_expires: None, crosspost: vec![] }
}

fn post_of(i: &Instance, uri: &str) -> Option<pipit::model::Post> {
    i.app.store.read(|r| r.post_by_uri(uri)).unwrap()
}

fn newest_own(i: &Instance) -> pipit::model::Post {
    i.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0)
}

fn pending(i: &Instance) -> u64 {
    i.app.store.read(|r| r.queue_stats()).unwrap().pending
}

async fn ap_get(i: &Instance, url: &str) -> Response {
    i.client().get_with(url, &[("accept", "application/activity+json")]).await
}

/// A client-API token for the owner (app registration + password grant); call after
/// `owner_client`, which sets the password.
async fn api_token(i: &Instance) -> String {
    let c = i.client();
    let r = c.post_form("/api/v1/apps", &[("client_name", "t"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", "read write")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let app: Value = serde_json::from_str(&r.body).unwrap();
    let u = i.app.urls.username.clone();
    let r = c
        .post_form("/oauth/token", &[("grant_type", "password"), ("client_id", app["client_id"].as_str().unwrap()), ("client_secret", app["client_secret"].as_str().unwrap()), ("username", &u), ("password", "correct horse battery"), ("scope", "read write")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str::<Value>(&r.body).unwrap()["access_token"].as_str().unwrap().to_string()
}

async fn api(i: &Instance, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut h = vec![("authorization".to_string(), format!("Bearer {token}"))];
    if body.is_some() {
        h.push(("content-type".into(), "application/json".into()));
    }
    let r = i.client().send(method, path, h, body.map(|b| b.to_string()).unwrap_or_default().into()).await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

#[test]
fn undo_window_bad_values_are_refused_at_config_load() {
    let dir = TempDir::new("undo-config");
    let cfg = pipit::cli::init(dir.path(), "http://127.0.0.1:9", "me", "127.0.0.1:9", true).unwrap();
    let text = std::fs::read_to_string(pipit::Config::path(dir.path())).unwrap();
    // Bad input tried: -1, ten years in seconds, and one second over the cap.
    for bad in ["-1", "315360000", "3601"] {
        std::fs::write(pipit::Config::path(dir.path()), format!("undo_window_secs = {bad}\n{text}")).unwrap();
        let e = pipit::Config::load(dir.path()).expect_err(bad).to_string();
        assert!(e.contains("undo_window_secs") && e.contains("3600"), "{bad}: {e}");
    }
    for good in ["0", "600", "3600"] {
        std::fs::write(pipit::Config::path(dir.path()), format!("undo_window_secs = {good}\n{text}")).unwrap();
        assert_eq!(pipit::Config::load(dir.path()).unwrap().undo_window_secs.to_string(), good);
    }
    drop(cfg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_window_delete_sends_nothing_and_restart_still_sends() {
    let a = Instance::start_with("alice", Box::new(|c| c.undo_window_secs = 5)).await;
    let b = Instance::start("bob").await;
    follow_accepted(&b, &a).await;
    let owner = a.owner_client().await;

    // 1. Published, held: on the page marked "sending in", not an ActivityPub object yet.
    let msg = control::execute(&a.app, cli_post("oops, wrong account")).await.unwrap();
    assert!(msg.contains("sending in 1 min"), "{msg}");
    let oops = newest_own(&a);
    assert!(oops.held_until_ms.is_some());
    let page = owner.get(&format!("/@alice/{}", oops.id)).await;
    assert!(page.body.contains("sending in 1 min") && page.body.contains("oops, wrong account"), "{}", page.body);
    assert_eq!(ap_get(&a, oops.uri.as_str()).await.status, 404, "a held post is not served as ActivityPub");
    // Deleted within the window: nothing is ever sent (no Create, no Delete).
    control::execute(&a.app, Command::Delete { url: oops.uri.to_string() }).await.unwrap();

    // 2. Edited within the window, then the server restarts before it ends: the edited text
    // goes out once the window is over, as a plain Create.
    control::execute(&a.app, cli_post("draft wording")).await.unwrap();
    let kept = newest_own(&a);
    pipit::domain::posts::edit(&a.app, kept.id, "final wording".into(), String::new()).unwrap();
    let dir = a.stop().await;
    let a = Instance::restart(dir).await;
    let uri = kept.uri.to_string();
    eventually("the held post reaches bob after the restart", 20, || post_of(&b, &uri).is_some()).await;
    let got = post_of(&b, &uri).unwrap();
    assert!(got.content.contains("final wording") && got.edited_ms.is_none(), "{}", got.content);
    assert!(a.app.store.read(|r| r.post_versions(kept.id, 10)).unwrap().is_empty(), "an edit nobody saw is no earlier version");

    // The deleted one was due before the kept one, so by now it would have arrived: it never did,
    // and nothing about it is left in the queue.
    eventually("queue drained", 10, || pending(&a) == 0).await;
    assert!(post_of(&b, oops.uri.as_str()).is_none(), "bob received the post deleted within the window");
    assert_eq!(a.app.store.read(|r| r.dead_jobs(10)).unwrap().len(), 0);
    let page = a.client().get(&format!("/@alice/{}", kept.id)).await;
    assert!(!page.body.contains("sending in"), "released posts are no longer marked");
    assert_eq!(ap_get(&a, &uri).await.status, 200);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_only_posts_stay_on_the_site() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    follow_accepted(&b, &a).await;
    let owner = a.owner_client().await;

    // CLI --local-only.
    let mut cmd = cli_post("just for my site #home");
    if let Command::Post { local_only, .. } = &mut cmd {
        *local_only = true;
    }
    let msg = control::execute(&a.app, cmd).await.unwrap();
    assert!(msg.contains("only on this site"), "{msg}");
    let mine = newest_own(&a);
    assert!(mine.local_only);
    // Page composer: the "share to the fediverse" box left unticked.
    let csrf = owner.owner_csrf().await;
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "page-only words"), ("visibility", "public"), ("federate_field", "1")], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let from_page = newest_own(&a);
    assert!(from_page.local_only && from_page.source == "page-only words");
    // Settings default: public posts stay here unless a post says otherwise.
    let r = owner.post_form("/settings/posting", &[("csrf", &csrf), ("visibility", "public"), ("language", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    control::execute(&a.app, cli_post("default says local")).await.unwrap();
    let by_default = newest_own(&a);
    assert!(by_default.local_only, "the settings' default applies");
    // API `local_only=false` overrides the default and federates.
    let token = api_token(&a).await;
    let (s, v) = api(&a, &token, "POST", "/api/v1/statuses", Some(json!({ "status": "this one travels", "local_only": false }))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["local_only"], json!(false));
    let shared = newest_own(&a);

    // Unsigned and signed ActivityPub fetches: 404 for local-only, 200 for the shared one.
    for p in [&mine, &from_page, &by_default] {
        assert_eq!(ap_get(&a, p.uri.as_str()).await.status, 404, "unsigned fetch of {}", p.uri);
        let signed = pipit::federation::fetch::get_object(&b.app, p.uri.as_str(), &pipit::federation::fetch::Budget::new(2)).await;
        assert!(signed.is_err(), "signed fetch of a local-only post: {signed:?}");
        assert_eq!(ap_get(&a, &format!("{}/activity", p.uri)).await.status, 404);
    }
    let outbox = ap_get(&a, "/users/alice/outbox?page=true").await;
    assert!(!outbox.body.contains("just for my site") && outbox.body.contains("this one travels"), "{}", outbox.body);
    // Shown on the pages and feeds here.
    let profile = a.client().get("/@alice").await;
    assert!(profile.body.contains("just for my site") && profile.body.contains("only on this site"));
    assert!(a.client().get("/@alice.rss").await.body.contains("page-only words"));
    // Never delivered: the shared one (sent after) arrives, the others never did.
    eventually("the shared post reaches bob", 10, || post_of(&b, shared.uri.as_str()).is_some()).await;
    eventually("queue drained", 10, || pending(&a) == 0).await;
    for p in [&mine, &from_page, &by_default] {
        assert!(post_of(&b, p.uri.as_str()).is_none(), "bob got a local-only post {}", p.uri);
    }
    // A local-only reply is not listed in the replies collection of the post it answers.
    let compose = actions::Compose { text: "quiet reply".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: Some(shared.uri.to_string()), media: vec![], quote: None };
    let how = pipit::domain::posts::Publishing { local_only: Some(true), ..Default::default() };
    let reply = actions::publish_with(&a.app, compose, vec![], how).await.unwrap();
    let replies = ap_get(&a, &format!("{}/replies?page=1", shared.uri)).await;
    assert_eq!(replies.status, 200);
    assert!(!replies.body.contains(reply.uri.as_str()), "{}", replies.body);
    // Edits and deletes of local-only posts send nothing either.
    pipit::domain::posts::edit(&a.app, mine.id, "still just mine".into(), String::new()).unwrap();
    pipit::domain::posts::delete(&a.app, by_default.id).unwrap();
    assert_eq!(pending(&a), 0, "no Update or Delete queued for local-only posts");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_from_cli_is_answered_by_a_second_pipit() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    follow_accepted(&b, &a).await;
    let poll_cmd = |options: Vec<&str>, multiple: bool, expires: Option<u64>| Command::Post {
        text: "Tea or coffee?".into(),
        visibility: String::new(),
        cw: String::new(),
        reply_to: None,
        local_only: false,
        language: None,
        poll: options.into_iter().map(String::from).collect(),
        poll_multiple: multiple,
        poll_expires: expires,
        crosspost: vec![],
    };
    // Bad input: one option, a blank option, an expiry of 10 seconds.
    let e = control::execute(&a.app, poll_cmd(vec!["tea"], false, None)).await.unwrap_err().to_string();
    assert!(e.contains("at least two options"), "{e}");
    let e = control::execute(&a.app, poll_cmd(vec!["tea", " "], false, None)).await.unwrap_err().to_string();
    assert!(e.contains("cannot be empty"), "{e}");
    let e = control::execute(&a.app, poll_cmd(vec!["tea", "coffee"], false, Some(10))).await.unwrap_err().to_string();
    assert!(e.contains("300 seconds"), "{e}");
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), 0, "nothing posted for refused polls");

    control::execute(&a.app, poll_cmd(vec!["tea", "coffee"], false, Some(3600))).await.unwrap();
    let poll_post = newest_own(&a);
    let q: Value = serde_json::from_str(&ap_get(&a, poll_post.uri.as_str()).await.body).unwrap();
    assert_eq!(q["type"], json!("Question"));
    assert_eq!(q["oneOf"].as_array().unwrap().len(), 2);
    assert!(q["endTime"].is_string());

    // Bob's pipit got the Question, votes "coffee"; the count reaches alice.
    let uri = poll_post.uri.to_string();
    eventually("bob has the poll", 10, || post_of(&b, &uri).and_then(|p| p.poll).is_some()).await;
    let at_bob = post_of(&b, &uri).unwrap();
    pipit::domain::follows::vote(&b.app, at_bob.id, &["coffee".to_string()]).unwrap();
    eventually("alice counts bob's vote", 10, || post_of(&a, &uri).unwrap().poll.unwrap().options == vec![("tea".to_string(), 0), ("coffee".to_string(), 1)]).await;
    // The same vote again (a replayed delivery with a new id) and a vote for an option the
    // poll does not have are not counted.
    for (n, choice) in [(1, "coffee"), (2, "tea"), (3, "water")] {
        let note = json!({ "id": format!("{}/votes/{n}", b.app.urls.actor()), "type": "Note", "name": choice, "attributedTo": b.app.urls.actor(), "inReplyTo": uri, "to": [a.app.urls.actor()] });
        let act = json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/votes/{n}/activity", b.app.urls.actor()), "type": "Create", "actor": b.app.urls.actor(), "object": note, "to": [a.app.urls.actor()] });
        let r = deliver(&a, &b, &act).await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let poll = post_of(&a, &uri).unwrap().poll.unwrap();
    assert_eq!(poll.options, vec![("tea".to_string(), 0), ("coffee".to_string(), 1)], "one vote per voter in a single-choice poll");
    // The owner's page shows the count.
    assert!(a.client().get(&format!("/@alice/{}", poll_post.id)).await.body.contains("1 vote"));
    // From the page composer: several choices, an hour; a single option is refused there too.
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "Pick colours"), ("visibility", "public"), ("poll_option", "red"), ("poll_option", "blue"), ("poll_option", ""), ("poll_multiple", "1"), ("poll_expires", "3600")], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let colours = newest_own(&a);
    let poll = colours.poll.expect("a poll from the page");
    assert!(poll.multiple && poll.options.len() == 2, "{poll:?}");
    let q: Value = serde_json::from_str(&ap_get(&a, colours.uri.as_str()).await.body).unwrap();
    assert_eq!(q["anyOf"].as_array().map(Vec::len), Some(2));
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "Pick one"), ("visibility", "public"), ("poll_option", "only")], &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("at least two options"));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_history_scheduled_posts_drafts_language_and_defaults() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let token = api_token(&a).await;
    let csrf = owner.owner_csrf().await;

    // Defaults in settings: unlisted, German; the API preferences say so.
    let r = owner.post_form("/settings/posting", &[("csrf", &csrf), ("federate", "1"), ("visibility", "unlisted"), ("language", "de")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Bad input: a language that is no tag.
    let r = owner.post_form("/settings/posting", &[("csrf", &csrf), ("federate", "1"), ("visibility", "public"), ("language", "not a language")]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let (_, prefs) = api(&a, &token, "GET", "/api/v1/preferences", None).await;
    assert_eq!(prefs["posting:default:visibility"], json!("unlisted"));
    assert_eq!(prefs["posting:default:language"], json!("de"));
    control::execute(&a.app, cli_post("Guten Morgen")).await.unwrap();
    let de = newest_own(&a);
    assert_eq!((de.visibility, de.language.as_deref()), (Visibility::Unlisted, Some("de")));
    let note: Value = serde_json::from_str(&ap_get(&a, de.uri.as_str()).await.body).unwrap();
    assert_eq!(note["contentMap"]["de"], note["content"]);
    assert!(a.client().get(&format!("/@alice/{}", de.id)).await.body.contains("lang=\"de\""));
    // The API's `language` wins over the default; a bad one is 422.
    let (s, v) = api(&a, &token, "POST", "/api/v1/statuses", Some(json!({ "status": "Bonjour", "language": "fr", "visibility": "public" }))).await;
    assert_eq!((s, v["language"].clone(), v["visibility"].clone()), (200, json!("fr"), json!("public")), "{v}");
    let (s, _) = api(&a, &token, "POST", "/api/v1/statuses", Some(json!({ "status": "x", "language": "f r" }))).await;
    assert_eq!(s, 422);
    // Bad input: a poll with one option (API), refused with nothing posted.
    let count = a.app.store.read(|r| r.own_post_count()).unwrap();
    let (s, e) = api(&a, &token, "POST", "/api/v1/statuses", Some(json!({ "status": "pick", "poll": { "options": ["only"], "expires_in": 600 } }))).await;
    assert_eq!(s, 422, "{e}");
    assert!(e["error"].as_str().unwrap_or_default().contains("at least two options"), "{e}");
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), count);

    // Edit history: two edits keep two earlier versions, on the page and in the API.
    let id = v["id"].as_str().unwrap().to_string();
    let pid: u64 = id.parse().unwrap();
    pipit::domain::posts::edit(&a.app, pid, "Bonjour tout le monde".into(), String::new()).unwrap();
    let (s, _) = api(&a, &token, "PUT", &format!("/api/v1/statuses/{id}"), Some(json!({ "status": "Bonjour à tous" }))).await;
    assert_eq!(s, 200);
    let page = a.client().get(&format!("/@alice/{id}")).await;
    assert!(page.body.contains("Earlier versions (2)") && page.body.contains("Bonjour tout le monde") && page.body.contains(">edited<"), "{}", page.body);
    let (s, h) = api(&a, &token, "GET", &format!("/api/v1/statuses/{id}/history"), None).await;
    assert_eq!(s, 200);
    let texts: Vec<String> = h.as_array().unwrap().iter().map(|e| e["content"].as_str().unwrap().to_string()).collect();
    assert_eq!(texts.len(), 3, "{h}");
    assert!(texts[0].contains("Bonjour<") && texts[1].contains("tout le monde") && texts[2].contains("à tous"), "{texts:?}");
    let (_, src) = api(&a, &token, "GET", &format!("/api/v1/statuses/{id}/source"), None).await;
    assert_eq!(src["text"], json!("Bonjour à tous"));

    // Scheduled through the API: a ScheduledStatus, listed, moved, then published by the
    // queue timer. Another is deleted and never published.
    let soon = pipit::time::rfc3339(pipit::time::now_ms() + 60_000);
    let (s, sched) = api(&a, &token, "POST", "/api/v1/statuses", Some(json!({ "status": "from the future", "scheduled_at": soon, "poll": { "options": ["yes", "no"], "expires_in": 600 } }))).await;
    assert_eq!(s, 200, "{sched}");
    let sid = sched["id"].as_str().unwrap().to_string();
    assert_eq!(sched["params"]["text"], json!("from the future"));
    assert_eq!(sched["params"]["poll"]["options"], json!(["yes", "no"]));
    let (_, gone) = api(&a, &token, "POST", "/api/v1/statuses", Some(json!({ "status": "never mind", "scheduled_at": soon }))).await;
    let gone_id = gone["id"].as_str().unwrap().to_string();
    let (_, list) = api(&a, &token, "GET", "/api/v1/scheduled_statuses", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (s, _) = api(&a, &token, "DELETE", &format!("/api/v1/scheduled_statuses/{gone_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(api(&a, &token, "GET", &format!("/api/v1/scheduled_statuses/{gone_id}"), None).await.0, 404);
    // Bad input: a time in the past for PUT.
    let (s, _) = api(&a, &token, "PUT", &format!("/api/v1/scheduled_statuses/{sid}"), Some(json!({ "scheduled_at": "2001-01-01T00:00:00Z" }))).await;
    assert_eq!(s, 422);
    let posts_before = a.app.store.read(|r| r.own_post_count()).unwrap();
    let sooner = pipit::time::rfc3339(pipit::time::now_ms() + 3000);
    let (s, moved) = api(&a, &token, "PUT", &format!("/api/v1/scheduled_statuses/{sid}"), Some(json!({ "scheduled_at": sooner }))).await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["scheduled_at"].as_str().and_then(pipit::time::parse_rfc3339), pipit::time::parse_rfc3339(&sooner));
    eventually("the scheduled post is published", 15, || a.app.store.read(|r| r.own_post_count()).unwrap() == posts_before + 1).await;
    let published = newest_own(&a);
    assert_eq!(published.source, "from the future");
    assert_eq!(published.poll.as_ref().map(|p| p.options.len()), Some(2));
    assert_eq!(api(&a, &token, "GET", &format!("/api/v1/scheduled_statuses/{sid}"), None).await.0, 404, "published: no longer scheduled");

    // A draft from the page: listed on /scheduled, published from there.
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "half a thought"), ("visibility", "public"), ("draft", "1")], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let drafts = owner.get("/scheduled").await;
    assert!(drafts.body.contains("half a thought") && drafts.body.contains("Draft"), "{}", drafts.body);
    let draft_id = a.app.store.read(|r| r.scheduled_posts(10)).unwrap()[0].id;
    let r = owner.post_form(&format!("/scheduled/{draft_id}/publish"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(newest_own(&a).source, "half a thought");
    assert!(a.app.store.read(|r| r.scheduled_posts(10)).unwrap().is_empty());
    // Bad input: a page schedule in the past.
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "late"), ("visibility", "public"), ("scheduled_at", "2001-01-01T10:00")], &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    a.stop().await;
}
