//! Issue 11, emoji reactions both ways between pipit instances: the owner reacts from a post page
//! (EmojiReact with `content` and Misskey's `_misskey_reaction`) and takes it back (Undo), through
//! the queue; received EmojiReact and Misskey-style Like-with-content (custom emoji with its
//! `Emoji` tag) are counted on write and shown under the post with who reacted; the API Status
//! carries `emoji_reactions`. Bad input tried: a duplicate reaction under a new activity id, a
//! custom emoji whose icon is `javascript:`, markup as a reaction, words typed as a reaction.

mod common;
use common::*;
use pipit::actions;
use pipit::model::Visibility;
use serde_json::json;

async fn post(i: &Instance, text: &str) -> pipit::model::Post {
    actions::publish(&i.app, actions::Compose { text: text.into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.expect("publish")
}

fn counts(i: &Instance, uri: &str) -> Vec<(String, u64)> {
    i.app.store.read(|r| r.reaction_counts(uri)).unwrap().into_iter().map(|(e, c)| (e, c.count)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_travel_both_ways_are_counted_and_undone() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let p = post(&a, "react to this").await;

    // bob fetches alice's post and reacts from its page here (the owner's form).
    let stored = actions::remote_post(&b.app, p.url_or_uri()).await.expect("fetched");
    let bob = b.owner_client().await;
    let page = bob.get(&format!("/posts/{}", stored.id)).await;
    assert!(page.body.contains("class=\"inline react-form\""), "react form on the post page");
    // Bad input: words typed instead of an emoji are refused, nothing sent.
    let r = bob.post_form(&format!("/posts/{}/react", stored.id), &[("csrf", &page.csrf()), ("emoji", "lol")]).await;
    assert_eq!(r.status, 400);
    let r = bob.post_form(&format!("/posts/{}/react", stored.id), &[("csrf", &page.csrf()), ("emoji", "🎉")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    eventually("alice counts bob's 🎉", 10, || counts(&a, &p.uri) == vec![("🎉".to_string(), 1)]).await;
    let mine = bob.get(&format!("/posts/{}", stored.id)).await;
    assert!(mine.body.contains("aria-pressed=\"true\" title=\"Take back 🎉\""), "bob sees his own reaction pressed");

    // carol's server is Misskey-like: a Like with `_misskey_reaction` 🎉, then the same again
    // under a new activity id (bad input: must not count twice), then a custom emoji.
    let carol = c.app.urls.actor();
    let like = |n: u32, extra: serde_json::Value| {
        let mut v = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{carol}/likes/{n}"), "type": "Like", "actor": carol, "object": p.uri.as_str()});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    for (n, extra) in [
        (1, json!({"_misskey_reaction": "🎉", "content": "🎉"})),
        (2, json!({"_misskey_reaction": "🎉"})),
        (3, json!({"content": ":blobcat:", "tag": [{"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "url": format!("{}/emoji/blobcat.png", c.base)}}]})),
        // A custom emoji whose icon is javascript: (bad input): counted, drawn as text only.
        (4, json!({"content": ":evil:", "tag": [{"type": "Emoji", "name": ":evil:", "icon": {"url": "javascript:alert(1)"}}]})),
        // Markup as a reaction (bad input): escaped on the page.
        (5, json!({"content": "<script>alert(1)</script>"})),
    ] {
        let r = deliver(&a, &c, &like(n, extra)).await;
        assert!(r.status < 300, "like {n}: {} {}", r.status, r.body);
    }
    let got = counts(&a, &p.uri);
    assert!(got.contains(&("🎉".to_string(), 2)) && got.contains(&(":blobcat:".to_string(), 1)) && got.contains(&(":evil:".to_string(), 1)), "{got:?}");

    let page = a.client().get(&format!("/@alice/{}", p.id)).await;
    assert!(page.body.contains("🎉 2"), "count shown under the post");
    let emoji = page.body.split("<img class=\"emoji\" src=\"").nth(1).expect("custom reaction drawn").split('"').next().unwrap().to_string();
    assert!(emoji.starts_with(&format!("{}/cache/", a.base)), "through alice's media cache: {emoji}");
    assert!(page.body.contains("alt=\":blobcat:\""), "shortcode as alt text");
    assert!(page.body.contains("<strong>Reactions</strong>") && page.body.contains("<bdi>bob</bdi>") && page.body.contains("<bdi>carol</bdi>"), "who reacted");
    assert!(!page.body.contains("javascript:") && !page.body.contains("<script>alert"), "hostile reactions never reach the page as markup");
    assert!(page.body.contains(":evil: 1"));

    // The API Status has them, counted.
    let ctx = pipit::handlers::api::entities::Ctx::new(&a.app, pipit::domain::timeline::Viewer::Owner).unwrap();
    let status = ctx.status(&a.app.store.read(|r| r.post(p.id)).unwrap().unwrap(), None);
    let party = status["emoji_reactions"].as_array().unwrap().iter().find(|x| x["name"] == "🎉").cloned().expect("🎉 in emoji_reactions");
    assert_eq!((party["count"].as_u64(), party["me"].as_bool()), (Some(2), Some(false)));
    let blob = status["emoji_reactions"].as_array().unwrap().iter().find(|x| x["name"] == "blobcat").cloned().expect("custom in emoji_reactions");
    assert!(blob["url"].as_str().unwrap().starts_with(&format!("{}/cache/", a.base)));

    // bob takes his back (Undo through the queue): alice's count drops to carol's one.
    let r = bob.post_form(&format!("/posts/{}/unreact", stored.id), &[("csrf", &mine.csrf()), ("emoji", "🎉")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    eventually("alice's 🎉 count drops", 10, || counts(&a, &p.uri).contains(&("🎉".to_string(), 1))).await;
    // carol undoes her Misskey Like by its id: gone from the count entirely.
    let undo = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{carol}/undo/1"), "type": "Undo", "actor": carol, "object": like(1, json!({}))});
    assert!(deliver(&a, &c, &undo).await.status < 300);
    assert!(!counts(&a, &p.uri).iter().any(|(e, _)| e == "🎉"), "{:?}", counts(&a, &p.uri));

    // The other way: alice reacts to bob's post with a custom emoji carol used on it.
    let bp = post(&b, "bob's news").await;
    let at_alice = actions::remote_post(&a.app, bp.url_or_uri()).await.unwrap();
    assert!(pipit::domain::reactions::react(&a.app, &at_alice.uri, ":blobcat:").is_err(), "no custom emoji known on this post yet");
    let r = deliver(&a, &c, &json!({"id": format!("{carol}/likes/9"), "type": "EmojiReact", "actor": carol, "object": bp.uri.as_str(), "content": ":blobcat:",
        "tag": [{"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "url": format!("{}/emoji/blobcat.png", c.base)}}]})).await;
    assert!(r.status < 300);
    pipit::domain::reactions::react(&a.app, &at_alice.uri, ":blobcat:").unwrap();
    pipit::domain::reactions::react(&a.app, &at_alice.uri, "👍").unwrap();
    eventually("bob counts alice's reactions", 10, || {
        let got = counts(&b, &bp.uri);
        got.contains(&(":blobcat:".to_string(), 1)) && got.contains(&("👍".to_string(), 1))
    })
    .await;
    let page = b.client().get(&format!("/@bob/{}", bp.id)).await;
    assert!(page.body.contains("alt=\":blobcat:\"") && page.body.contains("👍 1"), "bob's page shows alice's reactions");
    // bob was notified of the reaction.
    let (notes, _) = b.app.store.read(|r| r.notifications(None, 10)).unwrap();
    assert!(notes.iter().any(|(_, n)| n.kind == pipit::model::NotificationKind::Reaction && n.detail.as_deref() == Some("👍")));
    pipit::domain::reactions::unreact(&a.app, &at_alice.uri, "👍").unwrap();
    eventually("bob's 👍 gone after alice's Undo", 10, || !counts(&b, &bp.uri).iter().any(|(e, _)| e == "👍")).await;
}
