//! What other servers read first: WebFinger (acct: and URL resources, JRD content type),
//! host-meta, NodeInfo 2.0/2.1, the actor with Mastodon's fields, the instance actor, and the
//! paged collections (outbox, followers, following, replies). Bad input: unknown resources,
//! missing parameters, foreign users.
mod common;
use common::*;
use pipit::model::Visibility;
use serde_json::Value;

const AP: &str = "application/activity+json";

fn json(r: &Response) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webfinger_nodeinfo_and_actor() {
    let a = Instance::start("alice").await;
    let c = a.client();
    let host = a.app.urls.host.clone();
    for resource in [format!("acct:alice@{host}"), a.app.urls.actor(), a.app.urls.profile()] {
        let r = c.get(&format!("/.well-known/webfinger?resource={}", pipit::server::request::percent_encode(&resource))).await;
        assert_eq!(r.status, 200, "{resource}");
        assert!(r.header("content-type").unwrap().starts_with("application/jrd+json"));
        let j = json(&r);
        assert_eq!(j["subject"], format!("acct:alice@{host}"));
        let links = j["links"].as_array().unwrap();
        assert!(links.iter().any(|l| l["rel"] == "self" && l["type"] == AP && l["href"] == a.app.urls.actor()));
        assert!(links.iter().any(|l| l["rel"] == "http://webfinger.net/rel/profile-page"));
        assert!(links.iter().any(|l| l["rel"] == "http://ostatus.org/schema/1.0/subscribe" && l["template"].as_str().unwrap().contains("{uri}")));
        assert!(j["aliases"].as_array().unwrap().len() == 2);
    }
    assert_eq!(c.get(&format!("/.well-known/webfinger?resource=acct:bob@{host}")).await.status, 404, "other users");
    assert_eq!(c.get("/.well-known/webfinger?resource=acct:alice@elsewhere.example").await.status, 404, "other hosts");
    assert_eq!(c.get("/.well-known/webfinger").await.status, 400, "missing resource");

    let hm = c.get("/.well-known/host-meta").await;
    assert!(hm.body.contains("/.well-known/webfinger?resource={uri}"));
    let ni = json(&c.get("/.well-known/nodeinfo").await);
    for v in ["2.0", "2.1"] {
        let href = ni["links"].as_array().unwrap().iter().find(|l| l["rel"].as_str().unwrap().ends_with(v)).unwrap()["href"].as_str().unwrap().to_string();
        let doc = json(&c.get(&href).await);
        assert_eq!(doc["version"], v);
        assert_eq!(doc["software"]["name"], "pipit");
        assert_eq!(doc["protocols"][0], "activitypub");
        assert_eq!(doc["usage"]["users"]["total"], 1);
    }

    // The actor, by content negotiation on both URLs; HTML otherwise.
    for path in ["/users/alice", "/@alice"] {
        let r = c.get_with(path, &[("accept", "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"")]).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with(AP));
        let j = json(&r);
        assert_eq!(j["id"], a.app.urls.actor());
        assert_eq!(j["type"], "Person");
        assert_eq!(j["preferredUsername"], "alice");
        for key in ["inbox", "outbox", "followers", "following", "featured", "url", "icon", "published", "manuallyApprovesFollowers", "discoverable", "indexable", "attachment", "alsoKnownAs"] {
            assert!(!j[key].is_null(), "actor has {key}");
        }
        assert_eq!(j["publicKey"]["id"], format!("{}#main-key", a.app.urls.actor()));
        assert!(j["publicKey"]["publicKeyPem"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(j["assertionMethod"][0]["type"], "Multikey");
        assert!(j["assertionMethod"][0]["publicKeyMultibase"].as_str().unwrap().starts_with("z6Mk"), "Ed25519 multikeys start with z6Mk");
        assert_eq!(j["endpoints"]["sharedInbox"], format!("{}/inbox", a.base));
    }
    let html = c.get("/users/alice").await;
    assert_eq!(html.status, 302, "browsers are sent to the profile page");
    let inst = json(&c.get_with("/actor", &[("accept", AP)]).await);
    assert_eq!(inst["type"], "Application");
    assert!(inst["publicKey"]["publicKeyPem"].is_string());
    assert_eq!(c.get_with("/users/nobody", &[("accept", AP)]).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_collections() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    pipit::actions::follow(&b.app, &a.app.urls.handle()).await.unwrap();
    let mut posts = Vec::new();
    for i in 0..23 {
        let vis = if i == 5 { Visibility::Followers } else { Visibility::Public };
        posts.push(pipit::actions::publish(&a.app, pipit::actions::Compose { text: format!("post {i}"), cw: String::new(), visibility: vis, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap());
    }
    let c = a.client();
    let head = json(&c.get_with("/users/alice/outbox", &[("accept", AP)]).await);
    assert_eq!(head["type"], "OrderedCollection");
    let first = json(&c.get_with(head["first"].as_str().unwrap(), &[("accept", AP)]).await);
    let items = first["orderedItems"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[0]["type"], "Create");
    assert_eq!(items[0]["object"]["content"], "<p>post 22</p>", "newest first");
    let second = json(&c.get_with(first["next"].as_str().unwrap(), &[("accept", AP)]).await);
    let n2 = second["orderedItems"].as_array().unwrap().len();
    assert_eq!(20 + n2, 22, "the followers-only post is not in the public outbox");
    assert!(second["next"].is_null());

    // followers: bob (once accepted).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while a.app.store.read(|r| r.follower_count()).unwrap() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let f = json(&c.get_with("/users/alice/followers", &[("accept", AP)]).await);
    assert_eq!(f["totalItems"], 1);
    let page = json(&c.get_with(f["first"].as_str().unwrap(), &[("accept", AP)]).await);
    assert_eq!(page["orderedItems"][0], b.app.urls.actor());

    // A note with its replies collection and counts.
    let p = &posts[0];
    let reply = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "self reply".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: Some(p.uri.to_string()), media: Vec::new(), quote: None }).await.unwrap();
    let note = json(&c.get_with(&p.uri, &[("accept", AP)]).await);
    assert_eq!(note["type"], "Note");
    assert_eq!(note["url"], p.url_or_uri());
    assert_eq!(note["replies"]["totalItems"], 1);
    assert_eq!(note["likes"]["totalItems"], 0);
    let rp = json(&c.get_with(note["replies"]["first"].as_str().unwrap(), &[("accept", AP)]).await);
    assert_eq!(rp["orderedItems"][0], reply.uri.as_str());
    // The followers-only post is not served to an anonymous fetch; unknown ids are 404.
    assert_eq!(c.get_with(&posts[5].uri, &[("accept", AP)]).await.status, 404);
    assert_eq!(c.get_with("/users/alice/statuses/123", &[("accept", AP)]).await.status, 404);
    assert_eq!(c.get_with("/users/alice/statuses/notanumber", &[("accept", AP)]).await.status, 404);
}
