//! Relays on the federation side (issue 14): finding the relay actor for a URL the owner gives,
//! and reading what a relay forwards. The rules for keeping relay posts are domain::relays.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::fetch::{self, Budget};
use crate::federation::vocab;
use crate::model::RemoteActor;
use serde_json::Value;

/// The relay behind `url`: an inbox URL (`…/inbox`, as Mastodon's settings take it) means the
/// Mastodon protocol, with the actor at `…/actor` on the same host; any other URL is the relay
/// actor itself (LitePub, as Pleroma takes it). Returns (actor, inbox to follow, protocol).
/// `BadRequest` when the URL is not http(s) or what it serves is no actor (garbage included).
pub async fn resolve(app: &App, url: &str) -> Result<(RemoteActor, String, &'static str)> {
    let url = url.trim();
    let parsed = crate::model::HttpUrl::parse(url).ok_or_else(|| Error::BadRequest(format!("`{url}` is not an http(s) URL")))?;
    let budget = Budget::new(3);
    let path = parsed.split(['?', '#']).next().unwrap_or("");
    let described = |e: Error| match e {
        Error::BadRequest(m) => Error::BadRequest(format!("{url} is not a relay: {m}")),
        Error::NotFound | Error::Gone => Error::BadRequest(format!("{url}: no relay there (HTTP 404/410)")),
        e => e,
    };
    if let Some(base) = path.strip_suffix("/inbox") {
        let actor = fetch::actor(app, &format!("{base}/actor"), true, &budget).await.map_err(described)?;
        if !vocab::same_origin(&actor.id, url) {
            return Err(Error::BadRequest(format!("{url}: the relay actor {} is on another host", actor.id)));
        }
        return Ok((actor, url.to_string(), "mastodon"));
    }
    let actor = fetch::actor(app, url, true, &budget).await.map_err(described)?;
    let inbox = actor.inbox.to_string();
    Ok((actor, inbox, "litepub"))
}

/// A Create a relay forwarded (signed by the relay, `actor` its author): the post is fetched
/// from its own origin with its author, as for a boost, and kept as a relay post. Nothing of
/// the forwarded body is trusted but the object's id.
pub async fn forwarded(app: &App, activity: &Value, relay: &RemoteActor, budget: &Budget) -> Result<()> {
    let Some(oid) = activity.get("object").and_then(vocab::id_of).map(str::to_string) else {
        return Err(Error::BadRequest("relayed Create without an object id".into()));
    };
    if app.store.read(|r| r.post_id_by_uri(&oid))?.is_some() {
        return Ok(());
    }
    let post = match crate::federation::inbox::fetch_post(app, &oid, budget).await {
        Ok(p) => p,
        Err(e) => {
            // The origin's answer is not about our inbox: accepted, and nothing kept.
            tracing::debug!("relay {}: {oid}: {e}", relay.id);
            return Ok(());
        }
    };
    let app2 = app.clone();
    app.store.write(|w| crate::domain::relays::store_relayed(w, &app2, post))?;
    Ok(())
}

/// `pipit relay add URL`: resolves the relay and subscribes (the Follow goes through the queue).
pub async fn add(app: &App, url: &str) -> Result<String> {
    let (actor, inbox, protocol) = resolve(app, url).await?;
    let r = crate::domain::relays::subscribe(app, &actor, &inbox, protocol)?;
    Ok(format!("relay {} ({protocol}): {}", actor.id, if r.state == "accepted" { "subscribed" } else { "subscription requested" }))
}

/// `pipit relay remove URL`: the relay actor or inbox URL given to `add`.
pub fn remove(app: &App, url: &str) -> Result<String> {
    let url = url.trim();
    let relays = app.store.read(|r| r.relays())?;
    let found = relays.iter().find(|(actor, r)| actor == url || r.inbox == url).map(|(a, _)| a.clone()).ok_or(Error::NotFound)?;
    crate::domain::relays::unsubscribe(app, &found)?;
    Ok(format!("unsubscribed from relay {found}"))
}
