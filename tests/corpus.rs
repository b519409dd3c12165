//! The funfedi.dev pasture corpus (PyPI `fediverse-pasture-inputs` 0.3.0, 262 examples of what
//! real servers put into a Note: HTML tags, content warnings, languages, hashtags, mentions,
//! attachments, object types, quotes, addressing…), each delivered to the owner signed by a real
//! peer the way the pasture's own test actor sends them: `to` the public and the owner, no
//! Mention tag. tests/run unpacks the wheel into CARGO_TARGET_TMPDIR; tests/corpus/pasture_dump.py
//! turns it into JSON. Checked: no 5xx, and every accepted post is stored and its page renders
//! (Mastodon keeps all of them; the old code dropped every one without a Mention tag).
mod common;
use common::*;
use pipit::federation::vocab::PUBLIC;
use serde_json::{json, Value};

const PASTURE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/fediverse-pasture-inputs");


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasture_corpus_is_kept_and_shown() {
    assert!(std::path::Path::new(PASTURE).join("fediverse_pasture_inputs").is_dir(), "{PASTURE} is missing: ./tests/run unpacks fediverse-pasture-inputs there");
    let out = std::process::Command::new("python3").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/pasture_dump.py")).arg(PASTURE).output().expect("python3");
    assert!(out.status.success(), "pasture_dump.py: {}", String::from_utf8_lossy(&out.stderr));
    let me = Instance::start("me").await;
    let peer = Instance::start("pasture").await;
    // The corpus names its sender http://pasture-one-actor/actor: that is our peer here.
    let dump = String::from_utf8(out.stdout).unwrap().replace("http://pasture-one-actor/actor", &peer.app.urls.actor()).replace("http://pasture-one-actor", &peer.base);
    let corpus: Vec<Value> = serde_json::from_str(&dump).unwrap();
    assert!(corpus.len() >= 250, "the whole corpus: {}", corpus.len());
    let owner_id = me.app.urls.actor();

    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (n, case) in corpus.iter().enumerate() {
        let mut note = json!({
            "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/corpus/{n}", peer.base), "type": "Note",
            "attributedTo": peer.app.urls.actor(), "to": [PUBLIC, owner_id], "cc": [], "published": "2026-11-29T10:00:00Z", "content": "",
        });
        for (k, v) in case["example"].as_object().unwrap() {
            if v.is_null() {
                note.as_object_mut().unwrap().remove(k);
            } else {
                note[k] = v.clone();
            }
        }
        let create = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/corpus/{n}/activity", peer.base), "type": "Create",
            "actor": peer.app.urls.actor(), "to": note["to"], "object": note});
        let r = deliver(&me, &peer, &create).await;
        let name = format!("{} #{}", case["input"].as_str().unwrap(), case["index"]);
        assert!(r.status < 500, "{name}: {} {}", r.status, r.body);
        let addressed = pipit::federation::vocab::ids(note.get("to")).iter().chain(pipit::federation::vocab::ids(note.get("cc")).iter()).any(|x| *x == owner_id);
        // Mastodon shows Note and Question and converts Article/Page/Event/Image/Audio/Video;
        // Document, Place, Profile, Relationship, Tombstone and untyped objects are not posts.
        if r.status == 202 && addressed && note["id"].is_string() && pipit::federation::vocab::is_post_object(&note) {
            accepted.push((name, note["id"].as_str().unwrap().to_string()));
        } else {
            refused.push(format!("{name}: {}", r.status));
        }
    }
    // Not kept: the example without an id, the one without attributedTo (refused 401: a post
    // must be attributed to its sender, issue 9), the object types that are not posts, and the
    // public_addressing cases that do not address the owner (an unfollowed account's public post).
    // 0.3.0 is pinned: 262 examples, 11 of them not posts for the owner, and one more refused
    // on purpose: "without attributedTo" (issue 9: an object must name its author, or another
    // account of the same host could claim its post), so exactly 250 kept.
    assert!(refused.iter().any(|r| r == "necessary_properties #3: 401"), "a Note without attributedTo is refused: {refused:?}");
    assert_eq!(accepted.len(), 250, "accepted {} of {}; refused or not addressed: {refused:?}", accepted.len(), corpus.len());

    let owner = me.owner_client().await;
    let mut shown = 0;
    for (name, uri) in &accepted {
        eventually(&format!("{name} stored"), 10, || me.app.store.read(|r| r.post_by_uri(uri)).unwrap().is_some()).await;
        let id = me.app.store.read(|r| r.post_id_by_uri(uri)).unwrap().unwrap();
        let page = owner.get(&format!("/posts/{id}")).await;
        assert_eq!(page.status, 200, "{name}");
        assert!(page.body.contains("<article class=\"post"), "{name}");
        shown += 1;
    }
    assert_eq!(shown, accepted.len());
    let home = owner.get("/home").await;
    assert_eq!(home.status, 200);
    eprintln!("pasture corpus: {} delivered, {} kept and shown, refused or not addressed: {refused:?}", corpus.len(), shown);
}
