//! POST /users/NAME/inbox and /inbox: parse, verify the HTTP signature (fetching the sender's key,
//! refetching once if it changed), check that the signer is the activity's actor and that ids
//! share its origin (and that the signature was made for our host), verify an integrity proof
//! when present, read it into a typed `activity::Activity` (origin rules, then fetching what it
//! only references), then hand that to domain::inbox in one durable write.

use crate::app::App;
use crate::domain::inbox as apply;
use crate::error::{Error, Result};
use crate::federation::fetch::{self, Budget};
use crate::federation::keys::PublicKey;
use crate::federation::{activity as typed, sign, vocab};
use crate::model::RemoteActor;
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Uri};
use serde_json::Value;
use std::time::SystemTime;

/// Network fetches one incoming activity may cause (key, object, author).
const FETCH_BUDGET: u32 = 6;

/// Every public key the actor publishes under `key_id`, in the order to try them: its Multikeys
/// (Ed25519 or RSA) with that id, then its `publicKey` PEM. Fedify 1.x publishes its RSA key
/// twice under one id (`publicKey` and an `rsa-pub` Multikey); a Multikey we cannot read must not
/// hide the PEM of the same id.
pub fn keys_of(actor: &RemoteActor, key_id: &str) -> Vec<PublicKey> {
    let mut keys: Vec<PublicKey> = actor.multikeys.iter().filter(|(id, _)| id == key_id).filter_map(|(_, mb)| PublicKey::from_multibase(mb).ok()).collect();
    if !actor.public_key_pem.is_empty() && (actor.key_id == key_id || key_id.split('#').next() == Some(actor.id.as_str())) {
        if let Ok(k) = PublicKey::from_pem(&actor.public_key_pem) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// A signature covers the Host header (cavage `host`) or RFC 9421's `@target-uri`/`@authority`,
/// both taken from the request's Host: a request for another host than our configured URL's
/// is a signature made for another server, replayed here.
fn addressed_to_us(app: &App, uri: &Uri, headers: &HeaderMap) -> Result<()> {
    let default_port = if app.urls.scheme == "https" { ":443" } else { ":80" };
    let norm = |h: &str| {
        let h = h.trim().to_ascii_lowercase();
        h.strip_suffix(default_port).map(str::to_string).unwrap_or(h)
    };
    let host = headers.get("host").and_then(|h| h.to_str().ok()).map(str::to_string).or_else(|| uri.authority().map(|a| a.to_string()));
    for h in host.iter().chain(uri.authority().map(|a| a.to_string()).iter()) {
        if norm(h) != app.urls.host {
            return Err(Error::Unauthorized(format!("signature: request for {h}, not {}", app.urls.host)));
        }
    }
    Ok(())
}

/// Verifies a request's HTTP signature (cavage or RFC 9421) and returns the signing actor.
/// `Err(Gone)` when the key's actor no longer exists.
pub async fn verify_request(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8], budget: &Budget) -> Result<RemoteActor> {
    addressed_to_us(app, uri, headers)?;
    let parsed = sign::parse(method, uri, headers, &app.urls.scheme).map_err(|e| Error::Unauthorized(format!("signature: {e}")))?;
    let key_id = parsed.key_id().to_string();
    if vocab::host_of(&key_id).as_deref() == Some(app.urls.host.as_str()) {
        return Err(Error::Unauthorized("signature: a local key id from outside".into()));
    }
    let signer = match fetch::actor_for_key(app, &key_id, false, budget).await {
        Ok(a) => a,
        Err(Error::Gone | Error::NotFound) => return Err(Error::Gone),
        Err(e) => return Err(Error::Unauthorized(format!("signature: cannot get key {key_id}: {e}"))),
    };
    let now = SystemTime::now();
    let check = |a: &RemoteActor| -> std::result::Result<(), String> {
        let keys = keys_of(a, &key_id);
        let mut last = format!("{} has no key {key_id}", a.id);
        for key in &keys {
            match parsed.verify(key, body, now) {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    };
    if let Err(first) = check(&signer) {
        // Maybe the key rotated: refetch once, then give up.
        let fresh = fetch::actor_for_key(app, &key_id, true, budget).await.map_err(|_| Error::Unauthorized(format!("signature: {first}")))?;
        check(&fresh).map_err(|e| Error::Unauthorized(format!("signature: {e}")))?;
        return Ok(fresh);
    }
    Ok(signer)
}

/// Receives one delivery (see the module doc). Every refusal (4xx) is logged at info with the
/// sender's key id and actor, so the owner sees why a peer's delivery was refused, not only the peer.
pub async fn receive(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Result<()> {
    let result = receive_checked(app, method, uri, headers, body).await;
    if let Err(e) = &result {
        log_refusal(app, method, uri, headers, Some(body), e);
    }
    result
}

/// Logs a refused delivery (a 4xx; 5xx are logged where they happen) at info with the sender:
/// the key id of its signature header and the activity's `actor` when `body` was read (None:
/// the body itself was refused, e.g. 413 over the size cap).
pub fn log_refusal(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: Option<&[u8]>, e: &Error) {
    if e.status() >= 500 {
        return;
    }
    let key_id = sign::parse(method, uri, headers, &app.urls.scheme).map(|p| p.key_id().to_string()).unwrap_or_else(|_| "(no valid signature header)".into());
    let actor = body.and_then(|b| serde_json::from_slice::<Value>(b).ok()).and_then(|v| v.get("actor").and_then(vocab::id_of).map(str::to_string)).unwrap_or_else(|| "(none)".into());
    tracing::info!(key_id = key_id.as_str(), actor = actor.as_str(), status = e.status(), "inbox refused a delivery: {e}");
}

async fn receive_checked(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Result<()> {
    let activity: Value = serde_json::from_slice(body).map_err(|e| Error::BadRequest(format!("malformed JSON: {e}")))?;
    if !activity.is_object() || vocab::types(&activity).is_empty() {
        return Err(Error::BadRequest("an activity must be a JSON object with a type".into()));
    }
    let actor_id = activity.get("actor").and_then(vocab::id_of).ok_or_else(|| Error::BadRequest("activity without actor".into()))?.to_string();
    let kind = vocab::types(&activity)[0].to_string();
    // Blocked accounts and servers: accepted (so they do not retry) and dropped unread.
    if app.store.read(|r| r.is_blocked(&actor_id))? {
        tracing::debug!("dropped {kind} from blocked {actor_id}");
        return Ok(());
    }
    let budget = Budget::new(FETCH_BUDGET);
    let signer = match verify_request(app, method, uri, headers, body, &budget).await {
        Ok(s) => s,
        // An account deleting itself: its key is gone with it, and we never knew it. Mastodon
        // drops these silently too; answering 202 stops the sender from retrying.
        Err(Error::Gone) if kind == "Delete" => return Ok(()),
        Err(e) => return Err(e),
    };
    // The signer must be the actor, unless the activity proves its actor by itself (FEP-8b32),
    // as forwarded activities do.
    let actor = if signer.id == actor_id {
        // The HTTP signature already proves the actor: a proof that does not verify (a cryptosuite
        // variant, a key we cannot fetch) is logged, and must not refuse a good delivery.
        if let Err(e) = verify_proof_if_any(app, &activity, &signer, &budget).await {
            tracing::info!(key_id = signer.key_id.as_str(), "{kind} from {actor_id}: integrity proof ignored (the HTTP signature is valid): {e}");
        }
        signer
    } else {
        // A relay we subscribe to forwards others' Creates signed by itself (Mastodon's relay
        // protocol): the object is read only from its origin (federation::relay).
        if kind == "Create" && app.store.read(|r| r.relay(&signer.id))?.is_some_and(|r| r.state == "accepted") {
            return crate::federation::relay::forwarded(app, &activity, &signer, &budget).await;
        }
        let proven = verify_proof_if_any(app, &activity, &signer, &budget).await?;
        match proven {
            Some(a) if a.id == actor_id => a,
            _ => return Err(Error::Unauthorized(format!("signed by {} but the actor is {actor_id}", signer.id))),
        }
    };
    // The typed boundary: checked once here, the domain sees only the result.
    let parsed = typed::parse(&activity, actor, &app.urls.actor())?;
    let parsed = typed::resolve(app, parsed, &budget).await?;
    let outcome = apply::apply(app, parsed).await?;
    after(app, outcome);
    Ok(())
}

/// Verifies an integrity proof if the activity carries one; Some(actor) whose key made it.
async fn verify_proof_if_any(app: &App, activity: &Value, signer: &RemoteActor, budget: &Budget) -> Result<Option<RemoteActor>> {
    let Some(vm) = sign::proof_verification_method(activity) else { return Ok(None) };
    let vm = vm.to_string();
    let owner = if !keys_of(signer, &vm).is_empty() { signer.clone() } else { fetch::actor_for_key(app, &vm, false, budget).await.map_err(|e| Error::Unauthorized(format!("proof: cannot get key {vm}: {e}")))? };
    let keys = keys_of(&owner, &vm);
    if keys.is_empty() {
        return Err(Error::Unauthorized(format!("proof: {} has no key {vm}", owner.id)));
    }
    let mut last = None;
    for key in &keys {
        match sign::verify_proof(activity, key) {
            Ok(_) => return Ok(Some(owner)),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Unauthorized(format!("proof: {}", last.map(|e| e.to_string()).unwrap_or_default())))
}

/// Background work after an activity was applied: bounded, never blocking the 202.
fn after(app: &App, outcome: apply::Outcome) {
    if let Some(parent) = outcome.fetch_context {
        let app = app.clone();
        tokio::spawn(async move { fetch_ancestors(&app, &parent).await });
    }
    if let Some(id) = outcome.card_for {
        let app = app.clone();
        tokio::spawn(async move { crate::federation::cards::fetch_for(&app, id).await });
    }
    if let Some(new) = outcome.follow {
        if let Err(e) = crate::domain::follows::follow(app, &new) {
            tracing::warn!("following {} after Move: {e}", new.id);
        }
    }
}

/// Walks `inReplyTo` upward storing what it finds: at most 10 posts, 20 fetches.
pub async fn fetch_ancestors(app: &App, start: &str) {
    let budget = Budget::new(20);
    let mut next = Some(start.to_string());
    let mut stored = 0;
    while let Some(uri) = next.take() {
        if stored >= 10 || app.store.read(|r| r.post_id_by_uri(&uri)).ok().flatten().is_some() {
            break;
        }
        match fetch_post(app, &uri, &budget).await {
            Ok(p) => {
                next = p.in_reply_to.clone().map(String::from);
                if crate::domain::follows::store_remote_post(app, p).is_ok() {
                    stored += 1;
                }
            }
            Err(e) => {
                tracing::debug!("context fetch of {uri}: {e}");
                break;
            }
        }
    }
}

/// Fetches a remote post and its author (both checked for origin, activity::post_with_author).
pub async fn fetch_post(app: &App, uri: &str, budget: &Budget) -> Result<crate::model::Post> {
    let doc = fetch::get_object(app, uri, budget).await?;
    Ok(typed::post_with_author(app, &doc, budget).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let text = match name {
            "1-actor" => include_str!("../../tests/fedify/fixtures/fedify-1.5.9-actor.json"),
            "1-create" => include_str!("../../tests/fedify/fixtures/fedify-1.5.9-create.json"),
            "2-actor" => include_str!("../../tests/fedify/fixtures/fedify-2.3.6-actor.json"),
            _ => include_str!("../../tests/fedify/fixtures/fedify-2.3.6-create.json"),
        };
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn fedify_1_main_key_is_found_although_published_twice() {
        // The HTTP signature's keyId is #main-key: both the rsa-pub Multikey and the PEM have it.
        // (Before: the Multikey was found first, not readable, and "has no key …#main-key".)
        for v in ["1", "2"] {
            let doc = fixture(&format!("{v}-actor"));
            let actor = vocab::parse_actor(&doc, 0).unwrap();
            let main = doc["publicKey"]["id"].as_str().unwrap();
            let pem = PublicKey::from_pem(doc["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap();
            assert_eq!(keys_of(&actor, main), vec![pem], "Fedify {v}: the RSA key, once");
        }
        // An unreadable Multikey under the same id does not hide the PEM.
        let mut actor = vocab::parse_actor(&fixture("1-actor"), 0).unwrap();
        let main = actor.key_id.clone();
        for (id, mb) in actor.multikeys.iter_mut() {
            if *id == main {
                *mb = "zNotAKey".into();
            }
        }
        assert_eq!(keys_of(&actor, &main).len(), 1);
    }

    #[test]
    fn fedify_proofs_under_an_ld_signature_verify() {
        // Real Creates from Fedify 1.5.9 and 2.3.6: eddsa-jcs-2022 proof, then an RsaSignature2017
        // `signature` on top. Verified with the Ed25519 Multikey read from the actor document.
        for v in ["1", "2"] {
            let actor = vocab::parse_actor(&fixture(&format!("{v}-actor")), 0).unwrap();
            let create = fixture(&format!("{v}-create"));
            assert!(create.get("signature").is_some());
            let vm = sign::proof_verification_method(&create).unwrap();
            let keys = keys_of(&actor, vm);
            assert!(keys.iter().any(|k| sign::verify_proof(&create, k).is_ok()), "Fedify {v}'s proof verifies");
            let mut tampered = create.clone();
            tampered["object"]["content"] = Value::String("<p>changed</p>".into());
            assert!(keys.iter().all(|k| sign::verify_proof(&tampered, k).is_err()), "Fedify {v}: tampered content fails");
        }
    }
}
