//! The inbox's JSON: what `federation::inbox::receive` does with a body before any network or
//! store work (JSON, type, actor), then the parsers every remote document goes through:
//! `vocab::parse_actor`, `vocab::parse_post` (with its HTML sanitising, addressing and
//! visibility), the FEP-8b32 proof's verification method and the JCS canonical form the proof
//! hashes. Input: any bytes (the corpus holds real Mastodon, Misskey, Lemmy and GoToSocial shapes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pipit::federation::{jcs, sign, vocab};
use pipit::model::RemoteActor;
use serde_json::Value;
#[path = "inert.rs"]
mod inert;
use inert::assert_inert;

fn author() -> RemoteActor {
    // Built by the parser itself: RemoteActor's ids are checked types with no default.
    let doc = serde_json::json!({
        "id": "https://remote.example/users/alice", "type": "Person", "preferredUsername": "alice",
        "inbox": "https://remote.example/users/alice/inbox", "followers": "https://remote.example/users/alice/followers",
    });
    vocab::parse_actor(&doc, 1_767_225_600_000).expect("a valid actor")
}

fn documents(v: &Value) -> Vec<&Value> {
    // The activity, its object, and an object inside that (Lemmy announces activities).
    let mut out = vec![v];
    if let Some(o) = v.get("object") {
        out.push(o);
        if let Some(oo) = o.get("object") {
            out.push(oo);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(activity) = serde_json::from_slice::<Value>(data) else { return };
    // receive(): an object with a type and an actor.
    let kinds = vocab::types(&activity);
    let _ = activity.get("actor").and_then(vocab::id_of);
    let _ = vocab::ids(activity.get("to"));
    let _ = vocab::one_or_many(activity.get("cc"));
    if let Some(id) = vocab::str_of(&activity, "id") {
        let _ = vocab::host_of(id);
        if let Some(actor) = activity.get("actor").and_then(vocab::id_of) {
            let _ = vocab::same_origin(id, actor);
        }
    }
    let _ = kinds;
    let _ = sign::proof_verification_method(&activity);
    let canon = jcs::canonical(&activity);
    // JCS output is JSON with the same value (numbers aside, which JCS rewrites as ES does).
    let back: Value = serde_json::from_str(&canon).expect("JCS output is JSON");
    assert_eq!(jcs::canonical(&back), canon, "JCS is not idempotent");
    for doc in documents(&activity) {
        let actor = vocab::parse_actor(doc, 1_767_225_600_000);
        if let Some(a) = &actor {
            assert!(vocab::host_of(&a.id).is_some(), "actor without a host: {}", a.id);
            assert_inert(&a.summary, "parse_actor summary");
        }
        let _ = vocab::is_post_object(doc);
        let _ = vocab::visibility(doc, Some("https://remote.example/users/alice/followers"));
        let by = actor.unwrap_or_else(author);
        if let Some(p) = vocab::parse_post(doc, &by) {
            // Stored content and names are inert HTML, whatever the document said.
            assert_inert(&p.content, "parse_post content");
        }
    }
});
