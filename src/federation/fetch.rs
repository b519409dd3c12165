//! Fetching remote ActivityPub documents: signed GETs (by the instance actor), Mastodon's Accept
//! header, the same-origin rule (a document's id must be the URL it came from, or we refetch by
//! its id once), the actor cache, and WebFinger resolution of `@user@host`.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::vocab;
use crate::model::RemoteActor;
use crate::time::now_ms;
use serde_json::Value;

pub const AP_ACCEPT: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
/// Actor documents are refreshed after a day, or at once when a signature stops verifying.
const ACTOR_TTL_MS: u64 = 24 * 3600 * 1000;

/// Limits the network work one incoming activity (or one page view) may cause.
pub struct Budget(std::sync::atomic::AtomicU32);

impl Budget {
    pub fn new(n: u32) -> Budget {
        Budget(std::sync::atomic::AtomicU32::new(n))
    }
    fn take(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map(|_| ())
            .map_err(|_| Error::BadRequest("fetch budget exhausted".into()))
    }
}

fn is_ap_content_type(ct: &str) -> bool {
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("application/activity+json") || (ct.starts_with("application/ld+json") && ct.contains("activitystreams")) || ct.starts_with("application/ld+json") || ct.starts_with("application/json")
}

/// Signed GET of an ActivityPub document. Enforces the content type, size and the id rule.
pub async fn get_object(app: &App, url: &str, budget: &Budget) -> Result<Value> {
    budget.take()?;
    let doc = get_once(app, url).await?;
    match vocab::str_of(&doc, "id") {
        Some(id) if id == url => Ok(doc),
        // The document says it lives elsewhere: only trust it as served from its own id.
        Some(id) if id.starts_with("https://") || id.starts_with("http://") => {
            let id = id.to_string();
            budget.take()?;
            let doc2 = get_once(app, &id).await?;
            if vocab::str_of(&doc2, "id") != Some(id.as_str()) {
                return Err(Error::BadRequest(format!("{id}: document id does not match its URL")));
            }
            Ok(doc2)
        }
        _ => Err(Error::BadRequest(format!("{url}: document has no usable id"))),
    }
}

async fn get_once(app: &App, url: &str) -> Result<Value> {
    let signer = app.instance_signer();
    let r = app.http.get(url, &[("accept", AP_ACCEPT.to_string())], &|req| signer.sign_get(req)).await?;
    if r.status == hyper::StatusCode::GONE {
        return Err(Error::Gone);
    }
    if r.status == hyper::StatusCode::NOT_FOUND {
        return Err(Error::NotFound);
    }
    if !r.status.is_success() {
        return Err(Error::BadRequest(format!("{url}: HTTP {}", r.status)));
    }
    let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_ap_content_type(ct) {
        return Err(Error::BadRequest(format!("{url}: not ActivityPub JSON ({ct})")));
    }
    serde_json::from_slice(&r.body).map_err(|e| Error::BadRequest(format!("{url}: malformed JSON: {e}")))
}

/// The actor, from the cache unless stale or `refresh`; fetched and cached otherwise.
pub async fn actor(app: &App, uri: &str, refresh: bool, budget: &Budget) -> Result<RemoteActor> {
    if !refresh {
        if let Some(a) = app.store.read(|r| r.actor(uri))? {
            if now_ms().saturating_sub(a.fetched_ms) < ACTOR_TTL_MS {
                return Ok(a);
            }
        }
    }
    let doc = get_object(app, uri, budget).await?;
    store_actor_doc(app, &doc)
}

pub fn store_actor_doc(app: &App, doc: &Value) -> Result<RemoteActor> {
    let a = vocab::parse_actor(doc, now_ms()).ok_or_else(|| Error::BadRequest("not an actor document".into()))?;
    if a.id == app.urls.actor() || vocab::host_of(&a.id).as_deref() == Some(app.urls.host.as_str()) {
        // Never let remote data overwrite what is ours.
        return Err(Error::BadRequest("refusing to cache a local actor from the network".into()));
    }
    if !vocab::same_origin(&a.id, &a.inbox) {
        return Err(Error::BadRequest(format!("{}: inbox on another host", a.id)));
    }
    app.store.write(|w| w.put_actor(&a))?;
    Ok(a)
}

/// The actor that owns `key_id` (`actor#main-key`, or a key document with an `owner`).
pub async fn actor_for_key(app: &App, key_id: &str, refresh: bool, budget: &Budget) -> Result<RemoteActor> {
    if !refresh {
        if let Some(a) = app.store.read(|r| r.actor_by_key(key_id))? {
            return Ok(a);
        }
    }
    let base = key_id.split('#').next().unwrap_or(key_id);
    let doc = get_object(app, base, budget).await?;
    if vocab::types(&doc).iter().any(|t| vocab::ACTOR_TYPES.contains(t)) {
        return store_actor_doc(app, &doc);
    }
    // A separate key document (GoToSocial's /main-key style): follow its owner.
    let owner = vocab::str_of(&doc, "owner").or_else(|| vocab::str_of(&doc, "controller")).ok_or_else(|| Error::BadRequest(format!("{key_id}: key without owner")))?;
    if !vocab::same_origin(owner, key_id) {
        return Err(Error::BadRequest(format!("{key_id}: key owner on another host")));
    }
    actor(app, owner, true, budget).await
}

/// `@user@host`, `user@host`, `acct:user@host` or an actor/profile URL → actor.
pub async fn resolve_account(app: &App, input: &str, budget: &Budget) -> Result<RemoteActor> {
    let input = input.trim();
    if input.starts_with("https://") || input.starts_with("http://") {
        if let Ok(a) = actor(app, input, false, budget).await {
            return Ok(a);
        }
        // A profile page URL: ask its server by WebFinger with the URL as resource.
        let host = vocab::host_of(input).ok_or_else(|| Error::BadRequest(format!("not a URL: {input}")))?;
        let href = webfinger(app, &host, input, budget).await?;
        return actor(app, &href, false, budget).await;
    }
    let acct = input.trim_start_matches("acct:").trim_start_matches('@');
    let (user, host) = acct.split_once('@').ok_or_else(|| Error::BadRequest(format!("`{input}` is not @user@host")))?;
    if user.is_empty() || host.is_empty() || host.contains('/') {
        return Err(Error::BadRequest(format!("`{input}` is not @user@host")));
    }
    let href = webfinger(app, &host.to_ascii_lowercase(), &format!("acct:{user}@{host}"), budget).await?;
    actor(app, &href, false, budget).await
}

/// WebFinger lookup → the `self` link's href.
async fn webfinger(app: &App, host: &str, resource: &str, budget: &Budget) -> Result<String> {
    let jrd = webfinger_jrd(app, host, resource, budget).await?;
    vocab::one_or_many(jrd.get("links"))
        .into_iter()
        .find(|l| {
            vocab::str_of(l, "rel") == Some("self")
                && vocab::str_of(l, "type").map(|t| t.contains("activity+json") || t.contains("ld+json")).unwrap_or(false)
        })
        .and_then(|l| vocab::str_of(l, "href"))
        .map(str::to_string)
        .ok_or_else(|| Error::BadRequest(format!("{resource}: WebFinger has no ActivityPub self link")))
}

/// The "follow from your server" address of `user@host` (WebFinger's OStatus subscribe
/// template, `…{uri}…`): an http(s) URL on the account's own host, or `BadRequest`.
pub async fn subscribe_template(app: &App, handle: &str) -> Result<String> {
    let acct = handle.trim().trim_start_matches("acct:").trim_start_matches('@');
    let (user, host) = acct.split_once('@').ok_or_else(|| Error::BadRequest(format!("`{handle}` is not @user@host")))?;
    if user.is_empty() || host.is_empty() || host.contains(['/', ' ', '?', '#']) {
        return Err(Error::BadRequest(format!("`{handle}` is not @user@host")));
    }
    let host = host.to_ascii_lowercase();
    let jrd = webfinger_jrd(app, &host, &format!("acct:{user}@{host}"), &Budget::new(1)).await?;
    let template = vocab::one_or_many(jrd.get("links"))
        .into_iter()
        .find(|l| vocab::str_of(l, "rel") == Some("http://ostatus.org/schema/1.0/subscribe"))
        .and_then(|l| vocab::str_of(l, "template"))
        .ok_or_else(|| Error::BadRequest(format!("{acct}: its server offers no remote follow")))?;
    // Only the account's own server, over http(s), with the {uri} slot.
    if !template.contains("{uri}") || crate::model::HttpUrl::parse(&template.replace("{uri}", "x")).and_then(|u| vocab::host_of(&u)).as_deref() != Some(host.as_str()) {
        return Err(Error::BadRequest(format!("{acct}: its remote follow address is not on {host}")));
    }
    Ok(template.to_string())
}

async fn webfinger_jrd(app: &App, host: &str, resource: &str, budget: &Budget) -> Result<Value> {
    budget.take()?;
    // Loopback/LAN peers in tests and home setups speak plain http; everyone else https.
    let scheme = if host.contains(':') && app.config.allow_private_addresses { "http" } else { "https" };
    let url = format!("{scheme}://{host}/.well-known/webfinger?resource={}", crate::server::request::percent_encode(resource));
    let r = app.http.get(&url, &[("accept", "application/jrd+json, application/json".to_string())], &|_| {}).await?;
    if r.status == hyper::StatusCode::NOT_FOUND || r.status == hyper::StatusCode::GONE {
        return Err(Error::NotFound);
    }
    if !r.status.is_success() {
        return Err(Error::BadRequest(format!("HTTP {} to WebFinger ({host})", r.status)));
    }
    serde_json::from_slice(&r.body).map_err(|e| Error::BadRequest(format!("{url}: malformed JRD: {e}")))
}
