//! Relays (issue 14): a one-person server subscribes to Mastodon/LitePub relays so public posts
//! (for followed hashtags, search, the tag and public timelines) reach it. Relay posts are
//! stored without a Home entry and kept `relay_retention_days`, unless the owner took them up
//! (bookmark, like, boost, reply) or they arrived another way too.
//!
//! Protocols: Mastodon's (a Follow whose object is `as:Public`, POSTed to the relay's inbox;
//! the relay forwards Creates or sends Announces) and LitePub's (a Follow of the relay actor;
//! the relay sends Announces). Both answer with Accept.

use crate::app::App;
use crate::domain::outbox::{self, new_activity_id};
use crate::error::{Error, Result};
use crate::federation::vocab;
use crate::model::{Audience, Post, RemoteActor};
use crate::store::{Relay, Write};
use crate::time::now_ms;
use serde_json::json;

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// Relay posts the write path removes per stored relay post once they are past the retention.
const SWEEP_BATCH: usize = 20;

fn follow_object(protocol: &str, relay: &str) -> serde_json::Value {
    if protocol == "mastodon" { json!(PUBLIC) } else { json!(relay) }
}

/// Subscribes: stores the relay as pending and queues the Follow to `inbox`. Subscribing again
/// to a known relay changes nothing.
pub fn subscribe(app: &App, relay: &RemoteActor, inbox: &str, protocol: &str) -> Result<Relay> {
    if !matches!(protocol, "mastodon" | "litepub") {
        return Err(Error::BadRequest(format!("unknown relay protocol `{protocol}`")));
    }
    app.store.write(|w| {
        if let Some(r) = w.relay(&relay.id)? {
            return Ok(r);
        }
        let id = new_activity_id(app);
        let r = Relay { inbox: inbox.to_string(), protocol: protocol.to_string(), follow_id: id.clone(), state: "pending".into(), since_ms: now_ms() };
        w.put_relay(&relay.id, &r)?;
        let act = vocab::simple_json(&app.urls, "Follow", &id, follow_object(protocol, &relay.id), vec![relay.id.to_string()], vec![]);
        outbox::send(w, app, act, Audience { followers: false, inboxes: vec![inbox.to_string()] })?;
        Ok(r)
    })
}

/// Unsubscribes: forgets the relay and queues an Undo of the Follow. `NotFound` for a relay
/// the owner is not subscribed to.
pub fn unsubscribe(app: &App, relay: &str) -> Result<()> {
    app.store.write(|w| {
        let r = w.remove_relay(relay)?.ok_or(Error::NotFound)?;
        let follow = json!({ "id": r.follow_id, "type": "Follow", "actor": app.urls.actor(), "object": follow_object(&r.protocol, relay) });
        let act = vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), follow, vec![relay.to_string()], vec![]);
        outbox::send(w, app, act, Audience { followers: false, inboxes: vec![r.inbox.clone()] })?;
        Ok(())
    })
}

/// An Accept or Reject from a relay actor, for our Follow (`follow_ref`: the id it names, if
/// any; relays embed the Follow or name it by id). Returns false when `who` is no relay of ours.
pub fn answer(w: &mut Write, who: &str, follow_ref: Option<&str>, accepted: bool) -> Result<bool> {
    let Some(mut r) = w.relay(who)? else { return Ok(false) };
    if follow_ref.is_some_and(|id| id != r.follow_id) {
        return Ok(true); // about another Follow: ignored
    }
    if accepted {
        r.state = "accepted".into();
        w.put_relay(who, &r)?;
    } else {
        w.remove_relay(who)?;
    }
    Ok(true)
}

/// Is `who` a relay whose Accept came? Only those may deliver posts.
pub fn is_active(w: &Write, who: &str) -> Result<bool> {
    Ok(w.relay(who)?.is_some_and(|r| r.state == "accepted"))
}

/// Stores a public post a relay brought (already fetched from its origin by federation), with
/// no Home entry and no notification, marked for the retention sweep. A post pipit already
/// has is left as it is. Returns the post id when it was new.
pub fn store_relayed(w: &mut Write, app: &App, p: Post) -> Result<Option<u64>> {
    if p.visibility != crate::model::Visibility::Public || p.local {
        return Ok(None);
    }
    if w.post_id_by_uri(&p.uri)?.is_some() || w.is_blocked(&p.author)? {
        return Ok(None);
    }
    let (id, new) = crate::domain::inbox::upsert_post(w, p)?;
    if new {
        w.mark_relayed(id)?;
    }
    sweep(w, app, now_ms())?;
    Ok(new.then_some(id))
}

/// Removes up to a batch of relay posts older than the retention that the owner did not take
/// up (bookmarked, liked, boosted, replied to). Returns how many were removed.
pub fn sweep(w: &mut Write, app: &App, now: u64) -> Result<usize> {
    let keep_ms = app.config.relay_retention_days as u64 * 86_400_000;
    let before_id = now.saturating_sub(keep_ms) << 16;
    let me = app.urls.actor();
    let mut removed = 0;
    for id in w.relayed_before(before_id, SWEEP_BATCH)? {
        w.unmark_relayed(id)?;
        let Some(p) = w.post(id)? else { continue };
        let taken_up = w.is_bookmarked(id)?
            || w.has_interaction(&p.uri, "like", &me)?
            || w.has_interaction(&p.uri, "boost", &me)?
            || w.has_own_reply(&p.uri)?;
        if !taken_up {
            w.delete_post(id, now)?;
            removed += 1;
        }
    }
    Ok(removed)
}
