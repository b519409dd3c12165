//! POST /users/NAME/inbox and /inbox: parse, verify the HTTP signature (fetching the sender's key,
//! refetching once if it changed), check that the signer is the activity's actor and that ids
//! share its origin, verify an integrity proof when present, fetch what the activity only
//! references, then hand it to domain::inbox in one durable write.

use crate::app::App;
use crate::domain::inbox::{self as apply, Incoming};
use crate::error::{Error, Result};
use crate::federation::fetch::{self, Budget};
use crate::federation::keys::PublicKey;
use crate::federation::{sign, vocab};
use crate::model::RemoteActor;
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Uri};
use serde_json::Value;
use std::time::SystemTime;

/// Network fetches one incoming activity may cause (key, object, author).
const FETCH_BUDGET: u32 = 6;

fn key_of(actor: &RemoteActor, key_id: &str) -> Option<PublicKey> {
    if let Some((_, mb)) = actor.multikeys.iter().find(|(id, _)| id == key_id) {
        return PublicKey::from_multibase(mb).ok();
    }
    if !actor.public_key_pem.is_empty() && (actor.key_id == key_id || key_id.split('#').next() == Some(actor.id.as_str())) {
        return PublicKey::from_pem(&actor.public_key_pem).ok();
    }
    None
}

/// Verifies a request's HTTP signature (cavage or RFC 9421) and returns the signing actor.
/// `Err(Gone)` when the key's actor no longer exists.
pub async fn verify_request(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8], budget: &Budget) -> Result<RemoteActor> {
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
        let key = key_of(a, &key_id).ok_or_else(|| format!("{} has no key {key_id}", a.id))?;
        parsed.verify(&key, body, now).map_err(|e| e.to_string())
    };
    if let Err(first) = check(&signer) {
        // Maybe the key rotated: refetch once, then give up.
        let fresh = fetch::actor_for_key(app, &key_id, true, budget).await.map_err(|_| Error::Unauthorized(format!("signature: {first}")))?;
        check(&fresh).map_err(|e| Error::Unauthorized(format!("signature: {e}")))?;
        return Ok(fresh);
    }
    Ok(signer)
}

pub async fn receive(app: &App, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Result<()> {
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
        verify_proof_if_any(app, &activity, &signer, &budget).await?;
        signer
    } else {
        let proven = verify_proof_if_any(app, &activity, &signer, &budget).await?;
        match proven {
            Some(a) if a.id == actor_id => a,
            _ => return Err(Error::Unauthorized(format!("signed by {} but the actor is {actor_id}", signer.id))),
        }
    };
    if let Some(id) = vocab::str_of(&activity, "id") {
        if !vocab::same_origin(id, &actor.id) {
            return Err(Error::Unauthorized(format!("activity id {id} is not on the actor's host")));
        }
    }
    let (object, other) = hydrate(app, &activity, &actor, &budget).await?;
    let inc = Incoming { activity, actor, object, other };
    let outcome = apply::apply(app, inc).await?;
    after(app, outcome);
    Ok(())
}

/// Verifies an integrity proof if the activity carries one; Some(actor) whose key made it.
async fn verify_proof_if_any(app: &App, activity: &Value, signer: &RemoteActor, budget: &Budget) -> Result<Option<RemoteActor>> {
    let Some(vm) = sign::proof_verification_method(activity) else { return Ok(None) };
    let vm = vm.to_string();
    let owner = if key_of(signer, &vm).is_some() { signer.clone() } else { fetch::actor_for_key(app, &vm, false, budget).await.map_err(|e| Error::Unauthorized(format!("proof: cannot get key {vm}: {e}")))? };
    let key = key_of(&owner, &vm).ok_or_else(|| Error::Unauthorized(format!("proof: unknown key {vm}")))?;
    sign::verify_proof(activity, &key).map_err(|e| Error::Unauthorized(format!("proof: {e}")))?;
    Ok(Some(owner))
}

/// Fetches what an activity references but does not carry trustworthily.
async fn hydrate(app: &App, activity: &Value, actor: &RemoteActor, budget: &Budget) -> Result<(Option<Value>, Option<RemoteActor>)> {
    let kind = vocab::types(activity).first().copied().unwrap_or_default();
    let obj = activity.get("object");
    match kind {
        "Create" | "Update" => {
            // An embedded object is trusted only from its own origin and author.
            if let Some(o) = obj.filter(|o| o.is_object()) {
                let oid = vocab::str_of(o, "id").unwrap_or_default();
                let attributed = vocab::one_or_many(o.get("attributedTo")).into_iter().filter_map(vocab::id_of).any(|a| a == actor.id);
                let is_actor_doc = vocab::types(o).iter().any(|t| vocab::ACTOR_TYPES.contains(t));
                if vocab::same_origin(oid, &actor.id) && (attributed || is_actor_doc || o.get("attributedTo").is_none()) {
                    return Ok((None, None));
                }
                if !oid.is_empty() {
                    let fetched = fetch::get_object(app, oid, budget).await.ok();
                    return Ok((fetched.or(Some(Value::Null)).filter(|v| !v.is_null()), None));
                }
                return Err(Error::BadRequest("object of another origin without id".into()));
            }
            if let Some(id) = obj.and_then(vocab::id_of) {
                return Ok((fetch::get_object(app, id, budget).await.ok(), None));
            }
            Ok((None, None))
        }
        "Announce" => {
            let Some(target) = obj.and_then(vocab::id_of) else { return Ok((None, None)) };
            if app.store.read(|r| r.post_id_by_uri(target))?.is_some() {
                return Ok((None, None));
            }
            if !app.store.read(|r| r.following(&actor.id))?.is_some() {
                return Ok((None, None));
            }
            // Boosted object from its origin (Lemmy announces activities: take their object).
            let mut doc = match fetch::get_object(app, target, budget).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!("Announce of {target}: {e}");
                    return Ok((None, None));
                }
            };
            if !vocab::is_post_object(&doc) {
                if let Some(inner) = doc.get("object").and_then(vocab::id_of).map(str::to_string) {
                    doc = fetch::get_object(app, &inner, budget).await?;
                }
            }
            let author_id = vocab::one_or_many(doc.get("attributedTo"))
                .into_iter()
                .filter_map(vocab::id_of)
                .find(|a| vocab::same_origin(a, vocab::str_of(&doc, "id").unwrap_or_default()))
                .map(str::to_string);
            let author = match author_id {
                Some(a) => fetch::actor(app, &a, false, budget).await.ok(),
                None => None,
            };
            Ok((Some(doc), author))
        }
        "Move" => {
            let target = activity.get("target").and_then(vocab::id_of).map(str::to_string);
            match target {
                Some(t) => Ok((None, fetch::actor(app, &t, true, budget).await.ok())),
                None => Ok((None, None)),
            }
        }
        _ => Ok((None, None)),
    }
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
                next = p.in_reply_to.clone();
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

/// Fetches a remote post and its author (both checked for origin).
pub async fn fetch_post(app: &App, uri: &str, budget: &Budget) -> Result<crate::model::Post> {
    let doc = fetch::get_object(app, uri, budget).await?;
    if !vocab::is_post_object(&doc) {
        return Err(Error::BadRequest(format!("{uri} is not a post")));
    }
    let author_id = vocab::one_or_many(doc.get("attributedTo"))
        .into_iter()
        .filter_map(vocab::id_of)
        .find(|a| vocab::same_origin(a, uri))
        .ok_or_else(|| Error::BadRequest(format!("{uri}: author on another host")))?
        .to_string();
    let author = fetch::actor(app, &author_id, false, budget).await?;
    vocab::parse_post(&doc, &author).ok_or_else(|| Error::BadRequest(format!("{uri}: unreadable post")))
}
