//! Issue 14, part B: the creator's community tools, between pipit instances on loopback.
//! /community (replies not yet answered, top repliers from write-time indexes, elevate, add to
//! list), starter packs (a public list as an ActivityPub collection another pipit follows all
//! of), relays, tag feeds.
mod common;
use common::*;
use pipit::actions;
use pipit::model::{FollowState, Visibility};

async fn post(i: &Instance, text: &str, reply: Option<String>) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: reply, media: Vec::new(), quote: None }).await.expect("publish")
}

async fn follow_accepted(from: &Instance, to: &Instance) {
    actions::follow(&from.app, &to.app.urls.handle()).await.expect("follow");
    let target = to.app.urls.actor();
    eventually("follow accepted", 10, || matches!(from.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

fn stored(i: &Instance, uri: &str) -> Option<u64> {
    i.app.store.read(|r| r.post_id_by_uri(uri)).unwrap()
}

/// The text of the `<li class="person replier">` naming `handle` on /community.
fn replier_row<'a>(body: &'a str, handle: &str) -> Option<&'a str> {
    body.split("<li class=\"person replier\">").skip(1).map(|li| &li[..li.find("</li>").unwrap()]).find(|li| li.contains(handle))
}

fn count_in(row: &str) -> u64 {
    let i = row.find("data-count=\"").unwrap() + 12;
    row[i..i + row[i..].find('"').unwrap()].parse().unwrap()
}

fn unanswered_section(body: &str) -> &str {
    &body[body.find("class=\"community-unanswered\"").expect("unanswered section")..]
}

// ---------- 1. /community: reply-and-elevate ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_counts_replies_from_two_peers_and_tracks_what_is_answered() {
    let alice = Instance::start("alice").await;
    let bob = Instance::start("bob").await;
    let carol = Instance::start("carol").await;
    // alice follows carol, so carol's reply to *bob's* reply reaches her too (bad input below).
    follow_accepted(&alice, &carol).await;
    let p1 = post(&alice, "What are you reading?", None).await;
    let p2 = post(&alice, "Second question", None).await;
    let b1 = post(&bob, "A novel", Some(p1.uri.to_string())).await;
    let b2 = post(&bob, "And a comic", Some(p2.uri.to_string())).await;
    let c1 = post(&carol, "Poetry", Some(p1.uri.to_string())).await;
    // Bad input: a reply to bob's reply, not to alice: stored (its thread is), never counted.
    let c2 = post(&carol, "@bob which comic?", Some(b2.uri.to_string())).await;
    for (what, r) in [("b1", &b1), ("b2", &b2), ("c1", &c1), ("c2", &c2)] {
        eventually(&format!("alice stores {what}"), 10, || stored(&alice, &r.uri).is_some()).await;
    }
    let owner = alice.owner_client().await;
    let page = owner.get("/community").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let bob_row = replier_row(&page.body, &bob.app.urls.handle()).expect("bob among the top repliers");
    let carol_row = replier_row(&page.body, &carol.app.urls.handle()).expect("carol among the top repliers");
    assert_eq!(count_in(bob_row), 2, "bob replied twice: {bob_row}");
    assert_eq!(count_in(carol_row), 1, "carol's reply to bob does not count: {carol_row}");
    assert!(page.body.find(&bob.app.urls.handle()).unwrap() < page.body.find(&carol.app.urls.handle()).unwrap(), "most replies first");
    // A link to each conversation (the reply's page here).
    for r in [&b1, &b2] {
        assert!(bob_row.contains(&format!("href=\"/posts/{}\"", stored(&alice, &r.uri).unwrap())), "link to {}: {bob_row}", r.uri);
    }
    let un = unanswered_section(&page.body);
    let pos = |r: &pipit::model::Post| un.find(&format!("id=\"post-{}\"", stored(&alice, &r.uri).unwrap()));
    assert!(pos(&c2).is_none(), "a reply to someone else is not waiting for alice");
    let (pb1, pb2, pc1) = (pos(&b1).expect("b1 waits"), pos(&b2).expect("b2 waits"), pos(&c1).expect("c1 waits"));
    assert!(pc1 < pb2 && pb2 < pb1, "newest first");
    assert!(un.contains(&format!("name=\"in_reply_to\" value=\"{}\"", c1.uri)), "inline reply form for c1");
    // The 30-day window holds the same; a window of 365 days is not offered (falls back to 7).
    let month = owner.get("/community?days=30").await;
    assert_eq!(count_in(replier_row(&month.body, &bob.app.urls.handle()).unwrap()), 2);
    let odd = owner.get("/community?days=365").await;
    assert_eq!(odd.status, 200);
    assert!(odd.body.contains("href=\"/community?days=7\" aria-current=\"page\""), "365 is not a window: 7 days shown");
    assert!(pipit::domain::community::top_repliers(&alice.app, 365, 10, 1).is_err(), "the domain refuses other windows");
    // A visitor sees nothing of it.
    assert_ne!(alice.client().get("/community").await.status, 200);

    // alice answers c1 with the inline form: c1 leaves the list; counts stay.
    let csrf = page.csrf();
    let sent = owner.post_form("/compose", &[("csrf", &csrf), ("content", "@carol lovely"), ("in_reply_to", &c1.uri), ("visibility", "public")]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = owner.get("/community").await;
    let un = unanswered_section(&page.body);
    assert!(!un.contains(&format!("id=\"post-{}\"", stored(&alice, &c1.uri).unwrap())), "answered: c1 no longer waits");
    assert!(un.contains(&format!("id=\"post-{}\"", stored(&alice, &b1.uri).unwrap())), "b1 still waits");
    // carol receives the answer (a real reply, delivered).
    let answer = alice.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0);
    eventually("carol receives alice's answer", 10, || stored(&carol, &answer.uri).is_some()).await;
    // Deleting the answer puts c1 back on the list.
    pipit::domain::posts::delete(&alice.app, answer.id).unwrap();
    assert_eq!(alice.app.store.read(|r| r.unanswered_count()).unwrap(), 3);

    // bob deletes b1: the Delete reaches alice and his count drops to 1.
    pipit::domain::posts::delete(&bob.app, b1.id).unwrap();
    eventually("alice removes b1", 10, || stored(&alice, &b1.uri).is_none()).await;
    let page = owner.get("/community?days=7").await;
    assert_eq!(count_in(replier_row(&page.body, &bob.app.urls.handle()).unwrap()), 1, "deleted reply uncounted");

    // Elevate: one click boosts b2; dismiss takes it off the list without an answer.
    let b2_here = stored(&alice, &b2.uri).unwrap();
    let csrf = page.csrf();
    let boosted = owner.post_form(&format!("/posts/{b2_here}/boost"), &[("csrf", &csrf), ("back", "/community")]).await;
    assert_eq!(boosted.location(), "/community");
    let me = alice.app.urls.actor();
    assert!(alice.app.store.read(|r| r.has_interaction(&b2.uri, "boost", &me)).unwrap());
    eventually("bob sees alice's boost", 10, || bob.app.store.read(|r| r.has_interaction(&b2.uri, "boost", &me)).unwrap()).await;
    owner.post_form("/community/dismiss", &[("csrf", &csrf), ("id", &b2_here.to_string())]).await;
    assert!(!unanswered_section(&owner.get("/community").await.body).contains(&format!("id=\"post-{b2_here}\"")));

    // Add to a list, from the replier row. Bad input: an account pipit never saw.
    let list = pipit::domain::lists::create(&alice.app, "Regulars", false, false).unwrap();
    let bob_actor = bob.app.urls.actor();
    let r = owner.post_form("/community/list", &[("csrf", &csrf), ("list", &list.to_string()), ("account", &bob_actor)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(alice.app.store.read(|r| r.list_members(list, 10)).unwrap(), vec![bob_actor]);
    let r = owner.post_form("/community/list", &[("csrf", &csrf), ("list", &list.to_string()), ("account", "https://nowhere.example/users/x")]).await;
    assert_eq!(r.status, 400);
}

// ---------- 2. starter packs ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starter_pack_is_read_by_another_pipit_which_follows_all() {
    let alice = Instance::start("alice").await;
    let bob = Instance::start("bob").await;
    let carol = Instance::start("carol").await;
    let dave = Instance::start("dave").await;
    let pack = pipit::domain::lists::create(&alice.app, "Gardeners", false, true).unwrap();
    let hidden = pipit::domain::lists::create(&alice.app, "Secret", false, false).unwrap();
    for who in [&bob, &carol] {
        let a = actions::account(&alice.app, &who.app.urls.handle()).await.unwrap();
        pipit::domain::lists::set_member(&alice.app, pack, &a.id, true).unwrap();
        pipit::domain::lists::set_member(&alice.app, hidden, &a.id, true).unwrap();
    }
    let anon = alice.client();
    // Linked from the profile (the public list only).
    let profile = anon.get(&format!("/@{}", alice.app.urls.username)).await;
    assert!(profile.body.contains(&format!("href=\"/lists/{pack}\"")), "profile links the pack");
    assert!(!profile.body.contains(&format!("href=\"/lists/{hidden}\"")), "a private list is not linked");
    // The public page: members and copyable handles.
    let page = anon.get(&format!("/lists/{pack}")).await;
    assert_eq!(page.status, 200);
    let ta = &page.body[page.body.find("id=\"handles\"").expect("handles box")..];
    let ta = &ta[..ta.find("</textarea>").unwrap()];
    assert!(ta.contains(&bob.app.urls.handle()) && ta.contains(&carol.app.urls.handle()), "{ta}");
    // The collection, as other servers read it. Bad input: the private list, as JSON and as a page.
    let doc = anon.get_with(&format!("/lists/{pack}"), &[("accept", "application/activity+json")]).await;
    assert_eq!(doc.status, 200);
    let v: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
    assert_eq!(v["type"], "OrderedCollection");
    assert_eq!(v["orderedItems"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["attributedTo"], alice.app.urls.actor().as_str());
    assert_eq!(anon.get_with(&format!("/lists/{hidden}"), &[("accept", "application/activity+json")]).await.status, 404);
    assert_eq!(anon.get(&format!("/lists/{hidden}")).await.status, 404);

    // dave's owner uses "follow all from your server": WebFinger's subscribe template sends the
    // browser to dave's /authorize_interaction with the collection.
    let dave_handle = dave.app.urls.handle();
    let go = anon.get(&format!("/lists/{pack}/follow-from?account={}", pipit::server::request::percent_encode(dave_handle.trim_start_matches('@')))).await;
    assert_eq!(go.status, 303, "{}", go.body);
    let collection = format!("{}/lists/{pack}", alice.base);
    assert_eq!(go.location(), format!("{}/authorize_interaction?uri={}", dave.base, pipit::server::request::percent_encode(&collection)));
    // Bad input: not a handle, and a host with no WebFinger.
    assert_eq!(anon.get(&format!("/lists/{pack}/follow-from?account=nobody")).await.status, 400);
    assert_eq!(anon.get(&format!("/lists/{pack}/follow-from?account=x%40127.0.0.1%3A9")).await.status, 400);

    let owner = dave.owner_client().await;
    let landed = owner.get(go.location()).await;
    assert_eq!(landed.status, 303, "{}", landed.body);
    assert!(landed.location().starts_with("/starter-pack?uri="), "{}", landed.location());
    let pack_page = owner.get(landed.location()).await;
    assert_eq!(pack_page.status, 200, "{}", pack_page.body);
    assert!(pack_page.body.contains("Gardeners") && pack_page.body.contains(&bob.app.urls.handle()) && pack_page.body.contains(&carol.app.urls.handle()), "{}", pack_page.body);
    let done = owner.post_form("/starter-pack/follow", &[("csrf", &pack_page.csrf()), ("uri", &collection)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location().contains("done=2"), "{}", done.location());
    for who in [&bob, &carol] {
        let target = who.app.urls.actor();
        eventually("dave follows the member", 10, || matches!(dave.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    }
    // Following all again sends nothing new.
    let again = owner.post_form("/starter-pack/follow", &[("csrf", &pack_page.csrf()), ("uri", &collection)]).await;
    assert!(again.location().contains("done=0"), "{}", again.location());
    // Bad input: the private list's URL is no pack anywhere.
    let nope = owner.get(&format!("/authorize_interaction?uri={}", pipit::server::request::percent_encode(&format!("{}/lists/{hidden}", alice.base)))).await;
    assert_eq!(nope.status, 502, "{}", nope.body);
}

// ---------- 3. relays ----------

/// A small relay for the test, speaking the Mastodon relay protocol (and LitePub's): an
/// `Application` actor at /actor, an inbox that answers a Follow with a signed Accept, and
/// (driven by the test) signed Announces and forwarded Creates. /garbage/actor answers junk.
struct TestRelay {
    base: String,
    keys: Arc<pipit::federation::keys::ActorKeys>,
    got: Arc<Mutex<Vec<serde_json::Value>>>,
}

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use std::sync::{Arc, Mutex};

impl TestRelay {
    async fn start(keys: Arc<pipit::federation::keys::ActorKeys>) -> TestRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
        let relay = TestRelay { base: base.clone(), keys: keys.clone(), got: got.clone() };
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else { return };
                let (got, keys, base) = (got.clone(), keys.clone(), base.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let (got, keys, base) = (got.clone(), keys.clone(), base.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            let sig = req.headers().get("signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let (status, ct, out) = match path.as_str() {
                                "/actor" => (200, "application/activity+json", serde_json::json!({
                                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                                    "id": format!("{base}/actor"), "type": "Application", "preferredUsername": "relay",
                                    "inbox": format!("{base}/inbox"),
                                    "publicKey": { "id": format!("{base}/actor#main-key"), "owner": format!("{base}/actor"), "publicKeyPem": keys.rsa_public_pem() },
                                }).to_string()),
                                "/garbage/actor" => (200, "application/activity+json", "{\"id\": [garbage".to_string()),
                                "/inbox" => {
                                    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                                    if v["type"] == "Follow" {
                                        // Answered to the follower's own inbox (`/actor/inbox` for
                                        // the instance actor), addressed to it.
                                        let follower = v["actor"].as_str().unwrap_or_default().to_string();
                                        let accept = serde_json::json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{base}/accept/{}", got.lock().unwrap().len()), "type": "Accept", "actor": format!("{base}/actor"), "object": v, "to": [follower] });
                                        let inbox = format!("{follower}/inbox");
                                        tokio::spawn(async move { signed_post(&keys, &format!("{base}/actor#main-key"), &inbox, &accept).await });
                                    }
                                    // Who signed it, for the test to check (the keyId).
                                    v["_signature"] = serde_json::json!(sig);
                                    got.lock().unwrap().push(v);
                                    (202, "text/plain", String::new())
                                }
                                _ => (404, "text/plain", String::new()),
                            };
                            Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(status).header("content-type", ct).body(Full::new(Bytes::from(out))).unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
                });
            }
        });
        relay
    }
    fn actor(&self) -> String {
        format!("{}/actor", self.base)
    }
    fn of_type(&self, t: &str) -> Vec<serde_json::Value> {
        self.got.lock().unwrap().iter().filter(|v| v["type"] == t).cloned().collect()
    }
    /// Sends `activity` to `to`'s shared inbox, signed by the relay.
    async fn send(&self, to: &Instance, activity: &serde_json::Value) -> Response {
        signed_post(&self.keys, &format!("{}#main-key", self.actor()), &to.url("/inbox"), activity).await
    }
}

async fn signed_post(keys: &pipit::federation::keys::ActorKeys, key_id: &str, inbox: &str, activity: &serde_json::Value) -> Response {
    let body = activity.to_string();
    let uri: hyper::Uri = inbox.parse().unwrap();
    let mut headers = hyper::HeaderMap::new();
    pipit::federation::sign::sign_cavage(&hyper::Method::POST, &uri, &mut headers, Some(body.as_bytes()), key_id, keys, std::time::SystemTime::now());
    let mut hs: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    hs.push(("content-type".into(), "application/activity+json".into()));
    hs.retain(|(k, _)| k != "host");
    Client::new("http://unused").send("POST", inbox, hs, Bytes::from(body)).await
}

fn relay_keys() -> Arc<pipit::federation::keys::ActorKeys> {
    let pem = pipit::keygen::rsa_pkcs8_pem().unwrap();
    let der = pipit::keygen::pem_decode(&pem, "PRIVATE KEY").unwrap();
    Arc::new(pipit::federation::keys::ActorKeys::from_rsa_pkcs8(&der).unwrap())
}

fn relay_state(i: &Instance, actor: &str) -> Option<String> {
    i.app.store.read(|r| r.relay(actor)).unwrap().map(|r| r.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_delivers_tagged_posts_kept_off_home_and_swept_after_the_retention() {
    use pipit::control::{execute, Command};
    let alice = Instance::start("alice").await;
    let bob = Instance::start("bob").await;
    let keys = relay_keys();
    let relay = TestRelay::start(keys.clone()).await;
    let stranger = TestRelay::start(keys).await; // a relay alice never subscribed to

    // Bad input first: a relay answering garbage (and an address that is no URL) is refused,
    // and nothing is stored.
    let err = execute(&alice.app, Command::RelayAdd { url: format!("{}/garbage/inbox", relay.base) }).await.unwrap_err();
    assert!(err.to_string().contains("not a relay"), "{err}");
    assert!(execute(&alice.app, Command::RelayAdd { url: "relay.example".into() }).await.is_err());
    assert!(alice.app.store.read(|r| r.relays()).unwrap().is_empty());

    // `pipit relay add INBOX`: Mastodon's protocol, a Follow of as:Public to the relay inbox.
    let msg = execute(&alice.app, Command::RelayAdd { url: format!("{}/inbox", relay.base) }).await.unwrap();
    assert!(msg.contains("mastodon"), "{msg}");
    eventually("the relay gets the Follow", 10, || !relay.of_type("Follow").is_empty()).await;
    let mut follow = relay.of_type("Follow").remove(0);
    assert_eq!(follow["object"], "https://www.w3.org/ns/activitystreams#Public");
    // Followed by the instance actor, signed with its key (Mastodon's Account.representative).
    let instance_actor = alice.url("/actor");
    assert_eq!(follow["actor"], instance_actor.as_str(), "{follow}");
    let sig = follow["_signature"].as_str().unwrap_or_default().to_string();
    assert!(sig.contains(&format!("keyId=\"{instance_actor}#main-key\"")), "{sig}");
    follow.as_object_mut().unwrap().remove("_signature");
    // The instance actor names the shared inbox, where relays deliver.
    let actor_doc: serde_json::Value = serde_json::from_str(&alice.client().get_with("/actor", &[("accept", "application/activity+json")]).await.body).unwrap();
    assert_eq!(actor_doc["endpoints"]["sharedInbox"], alice.url("/inbox").as_str());
    eventually("the relay's Accept arrives", 10, || relay_state(&alice, &relay.actor()).as_deref() == Some("accepted")).await;
    assert!(alice.app.store.read(|r| r.following(&relay.actor())).unwrap().is_none(), "a relay is not a followed account");

    // The relay announces bob's tagged post (LitePub style) and forwards another's Create
    // (Mastodon style, signed by the relay, with a forged body).
    let p1 = post(&bob, "Tomatoes are in #gardening", None).await;
    let p2 = post(&bob, "Beans too #gardening", None).await;
    let r = relay.send(&alice, &serde_json::json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/announce/1", relay.base), "type": "Announce", "actor": relay.actor(), "object": p1.uri.as_str(), "to": ["https://www.w3.org/ns/activitystreams#Public"] })).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let mut forged = pipit::federation::vocab::create_json(&bob.app.urls, &p2, "Create", &format!("{}/activity", p2.uri));
    forged["object"]["content"] = serde_json::json!("<p>forged by the relay</p>");
    let r = relay.send(&alice, &forged).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let id1 = stored(&alice, &p1.uri).expect("announced post stored");
    let id2 = stored(&alice, &p2.uri).expect("forwarded post stored");
    let kept2 = alice.app.store.read(|r| r.post(id2)).unwrap().unwrap();
    assert!(kept2.content.contains("Beans too") && !kept2.content.contains("forged"), "read from its origin: {}", kept2.content);
    // In the tag timeline and search, never in Home.
    let tagged = alice.app.store.read(|r| r.tagged("gardening", None, 10, |_| true)).unwrap();
    assert_eq!(tagged.posts.len(), 2);
    let owner = alice.owner_client().await;
    assert!(owner.get("/tags/gardening").await.body.contains("Tomatoes are in"));
    assert!(owner.get("/search?q=beans").await.body.contains("Beans too"));
    let home = alice.app.store.read(|r| r.home(None, 50)).unwrap().0;
    assert!(home.iter().all(|(_, _, p)| p.id != id1 && p.id != id2), "relay posts stay off Home");
    assert!(!owner.get("/home").await.body.contains("Tomatoes are in"));

    // Bad input from relays: an Announce of a URL that does not answer, and one from a relay
    // alice never subscribed to: nothing stored.
    relay.send(&alice, &serde_json::json!({ "id": format!("{}/announce/2", relay.base), "type": "Announce", "actor": relay.actor(), "object": "http://127.0.0.1:9/nothing" })).await;
    let p3 = post(&bob, "Unrelayed #gardening", None).await;
    stranger.send(&alice, &serde_json::json!({ "id": format!("{}/announce/3", stranger.base), "type": "Announce", "actor": stranger.actor(), "object": p3.uri.as_str() })).await;
    assert!(stored(&alice, "http://127.0.0.1:9/nothing").is_none());
    assert!(stored(&alice, &p3.uri).is_none(), "only subscribed relays deliver");

    // Retention: past relay_retention_days the relay posts go, except what the owner liked.
    actions::like(&alice.app, &p1.uri).await.unwrap();
    let later = pipit::time::now_ms() + (alice.app.config.relay_retention_days as u64 + 1) * 86_400_000;
    let app = alice.app.clone();
    let removed = alice.app.store.write(|w| pipit::domain::relays::sweep(w, &app, later)).unwrap();
    assert_eq!(removed, 1);
    assert!(stored(&alice, &p1.uri).is_some(), "liked: kept");
    assert!(stored(&alice, &p2.uri).is_none(), "past the retention: removed");

    // `pipit relay remove`: an Undo of the Follow, and the relay is gone.
    execute(&alice.app, Command::RelayRemove { url: format!("{}/inbox", relay.base) }).await.unwrap();
    eventually("the relay gets the Undo", 10, || !relay.of_type("Undo").is_empty()).await;
    let undo = relay.of_type("Undo").remove(0);
    assert_eq!(undo["object"]["id"], follow["id"]);
    assert_eq!((undo["actor"].as_str(), undo["object"]["actor"].as_str()), (Some(instance_actor.as_str()), Some(instance_actor.as_str())));
    assert!(undo["_signature"].as_str().unwrap_or_default().contains(&format!("keyId=\"{instance_actor}#main-key\"")));
    assert!(alice.app.store.read(|r| r.relays()).unwrap().is_empty());

    // LitePub: the actor URL given, the Follow's object is the relay actor.
    execute(&alice.app, Command::RelayAdd { url: stranger.actor() }).await.unwrap();
    eventually("LitePub Follow", 10, || !stranger.of_type("Follow").is_empty()).await;
    assert_eq!(stranger.of_type("Follow")[0]["object"], stranger.actor().as_str());
    assert_eq!(stranger.of_type("Follow")[0]["actor"], instance_actor.as_str());
    eventually("LitePub Accept", 10, || relay_state(&alice, &stranger.actor()).as_deref() == Some("accepted")).await;
    // The settings page lists it.
    let page = owner.get("/settings/relays").await;
    assert!(page.body.contains(&stranger.actor()) && page.body.contains("litepub"), "{}", page.body);
}

/// The upgrade path: a subscription stored when the owner's Person followed relays moves to
/// the instance actor at the next start (an Undo from the Person, a Follow from `/actor`), and
/// keeps delivering meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_subscriptions_from_the_owner_move_to_the_instance_actor_on_restart() {
    let alice = Instance::start("alice").await;
    let relay = TestRelay::start(relay_keys()).await;
    let old_follow = format!("{}/activities/12345", alice.app.urls.actor());
    let old = pipit::store::Relay { inbox: format!("{}/inbox", relay.base), protocol: "mastodon".into(), follow_id: old_follow.clone(), state: "accepted".into(), since_ms: 1 };
    alice.app.store.write(|w| w.put_relay(&relay.actor(), &old)).unwrap();
    let alice = Instance::restart(alice.stop().await).await;
    eventually("the relay gets the Undo and the new Follow", 10, || !relay.of_type("Undo").is_empty() && !relay.of_type("Follow").is_empty()).await;
    let undo = relay.of_type("Undo").remove(0);
    assert_eq!((undo["actor"].as_str(), undo["object"]["id"].as_str()), (Some(alice.app.urls.actor().as_str()), Some(old_follow.as_str())), "{undo}");
    let follow = relay.of_type("Follow").remove(0);
    assert_eq!(follow["actor"], alice.url("/actor").as_str());
    eventually("the new Follow is the current one", 10, || alice.app.store.read(|r| r.relay(&relay.actor())).unwrap().map(|r| r.follow_id) == follow["id"].as_str().map(String::from)).await;
    assert_eq!(relay_state(&alice, &relay.actor()).as_deref(), Some("accepted"), "still delivering");
    // Moved once: nothing to move at the next start.
    assert_eq!(pipit::domain::relays::upgrade(&alice.app).unwrap(), 0);
    alice.stop().await;
}

// ---------- 4. tag feeds ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_feeds_carry_the_owners_public_tagged_posts_and_a_hub_only_when_configured() {
    let alice = Instance::start_with("alice", Box::new(|c| c.websub_hub = Some("https://hub.example/".into()))).await;
    let bob = Instance::start("bob").await;
    follow_accepted(&alice, &bob).await;
    post(&alice, "First tomatoes #Gardening", None).await;
    actions::publish(&alice.app, actions::Compose { text: "secret plot #gardening".into(), cw: String::new(), visibility: Visibility::Followers, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    post(&alice, "Soup #cooking", None).await;
    let theirs = post(&bob, "Bobs beans #gardening", None).await;
    eventually("alice has bob's tagged post", 10, || stored(&alice, &theirs.uri).is_some()).await;
    let anon = alice.client();
    let rss = anon.get("/tags/gardening.rss").await;
    assert_eq!(rss.status, 200);
    assert!(rss.header("content-type").unwrap().starts_with("application/rss+xml"));
    let atom = anon.get("/tags/gardening.atom").await;
    assert!(atom.header("content-type").unwrap().starts_with("application/atom+xml"));
    for (feed, body) in [("rss", &rss.body), ("atom", &atom.body)] {
        assert!(body.contains("First tomatoes"), "{feed}: the owner's public tagged post");
        // Bad input: a followers-only post, another tag, someone else's post with the tag.
        assert!(!body.contains("secret plot") && !body.contains("Soup") && !body.contains("Bobs beans"), "{feed}: {body}");
        assert!(body.contains("rel=\"hub\" href=\"https://hub.example/\""), "{feed}: hub link");
        assert!(body.contains(&format!("{}/tags/gardening.{feed}", alice.base)), "{feed}: self link");
    }
    // The profile feed names the hub too; bob (no hub configured) names none.
    assert!(anon.get(&format!("/@{}.atom", alice.app.urls.username)).await.body.contains("rel=\"hub\""));
    assert!(bob.client().get("/tags/gardening.rss").await.body.contains("Bobs beans"), "bob's own feed");
    assert!(!bob.client().get("/tags/gardening.atom").await.body.contains("rel=\"hub\""));
    // Bad input: not a hashtag.
    assert_eq!(anon.get("/tags/no%20tag!.rss").await.status, 404);
    // The tag page points at its feeds.
    assert!(anon.get("/tags/gardening").await.body.contains("href=\"/tags/gardening.rss\""));
}

// ---------- 5. Webmention (receive) ----------

/// A web page on loopback whose HTML the test sets; "" answers 410 Gone.
async fn web_page() -> (String, Arc<Mutex<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/blog/post", listener.local_addr().unwrap());
    let html: Arc<Mutex<String>> = Default::default();
    let h = html.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let h = h.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req: hyper::Request<Incoming>| {
                    let body = h.lock().unwrap().clone();
                    async move {
                        let status = if body.is_empty() { 410 } else { 200 };
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(status).header("content-type", "text/html").body(Full::new(Bytes::from(body))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    (url, html)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmentions_are_advertised_verified_against_the_source_and_removed_when_it_stops_linking() {
    let alice = Instance::start("alice").await;
    let p = post(&alice, "A post worth linking", None).await;
    let hidden = actions::publish(&alice.app, actions::Compose { text: "followers only".into(), cw: String::new(), visibility: Visibility::Followers, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let target = p.url_or_uri().to_string();
    let anon = alice.client();
    let page = anon.get(&format!("/@{}/{}", alice.app.urls.username, p.id)).await;
    assert!(page.body.contains("<link rel=\"webmention\" href=\"/webmention\">"), "endpoint advertised in the page");
    assert!(page.header("link").unwrap_or_default().contains("rel=\"webmention\""), "and in a Link header");
    let (source, html) = web_page().await;
    let send = |s: String, t: String| {
        let c = alice.client();
        async move { c.post_form("/webmention", &[("source", &s), ("target", &t)]).await }
    };
    // Bad input: a source that does not link; then targets that are not public posts here.
    *html.lock().unwrap() = "<p>no link here</p>".into();
    assert_eq!(send(source.clone(), target.clone()).await.status, 200);
    assert!(alice.app.store.read(|r| r.webmentions(p.id, 10)).unwrap().is_empty(), "a source without the link is not kept");
    assert_eq!(send(source.clone(), hidden.url_or_uri().to_string()).await.status, 400, "followers-only target");
    assert_eq!(send(source.clone(), "https://elsewhere.example/post/1".into()).await.status, 400, "not our post");
    assert_eq!(send("javascript:alert(1)".into(), target.clone()).await.status, 400, "source not http(s)");
    assert_eq!(send(alice.url("/about"), target.clone()).await.status, 400, "source on this site");
    // The source links: kept, and shown on the post's page.
    *html.lock().unwrap() = format!("<p>See <a href=\"{target}\">this</a></p>");
    assert_eq!(send(source.clone(), target.clone()).await.status, 200);
    assert_eq!(alice.app.store.read(|r| r.webmentions(p.id, 10)).unwrap().len(), 1);
    let page = anon.get(&format!("/@{}/{}", alice.app.urls.username, p.id)).await;
    assert!(page.body.contains(&format!("href=\"{source}\"")), "the mention is shown");
    // The source is deleted (410): a new webmention removes it.
    html.lock().unwrap().clear();
    assert_eq!(send(source.clone(), target.clone()).await.status, 200);
    assert!(alice.app.store.read(|r| r.webmentions(p.id, 10)).unwrap().is_empty(), "gone source removed");
}

// ---------- 5b. Webmention (send, through the queue) ----------

/// A site on loopback: /a advertises its endpoint in HTML (relative), /b in a Link header, /c
/// has none; POSTs to /wm and /wm2 are recorded as (path, body).
async fn web_site() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let g = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let g = g.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let g = g.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let mut r = hyper::Response::builder().header("content-type", "text/html");
                        let out = match path.as_str() {
                            "/a" => "<html><head><link rel=\"webmention\" href=\"/wm\"></head><body>A</body></html>".to_string(),
                            "/b" => {
                                r = r.header("link", "</wm2>; rel=\"webmention\"");
                                "<html><body>B</body></html>".to_string()
                            }
                            "/wm" | "/wm2" => {
                                g.lock().unwrap().push((path.clone(), String::from_utf8_lossy(&body).into_owned()));
                                String::new()
                            }
                            _ => "<html><body>no endpoint</body></html>".to_string(),
                        };
                        Ok::<_, std::convert::Infallible>(r.status(if path.starts_with("/wm") { 202 } else { 200 }).body(Full::new(Bytes::from(out))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    (base, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_posts_send_webmentions_to_the_sites_they_link_through_the_queue() {
    let alice = Instance::start("alice").await;
    let (site, got) = web_site().await;
    // Bad input: a followers-only post with a link sends nothing.
    actions::publish(&alice.app, actions::Compose { text: format!("private {site}/a"), cw: String::new(), visibility: Visibility::Followers, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let p = post(&alice, &format!("Three links: {site}/a and {site}/b and {site}/c #tagged"), None).await;
    let source = p.url_or_uri().to_string();
    eventually("two webmentions sent", 10, || got.lock().unwrap().len() >= 2).await;
    eventually("the queue drains", 10, || alice.app.store.read(|r| r.queue_stats()).map(|s| s.pending == 0).unwrap_or(false)).await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one per link with an endpoint, none for /c, none for the private post: {got:?}");
    for (path, target) in [("/wm", "/a"), ("/wm2", "/b")] {
        let body = &got.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("nothing at {path}: {got:?}")).1;
        let expected = format!("source={}&target={}", pipit::server::request::percent_encode(&source), pipit::server::request::percent_encode(&format!("{site}{target}")));
        assert_eq!(body, &expected);
    }
    // Hashtag and mention links are not webmention targets.
    let links = pipit::federation::webmention::outgoing_links(&alice.app, &p.content);
    assert_eq!(links, vec![format!("{site}/a"), format!("{site}/b"), format!("{site}/c")]);
}
