//! Relays (issue 14): a one-person server subscribes to Mastodon/LitePub relays so public posts
//! (for followed hashtags, search, the tag and public timelines) reach it. Relay posts are
//! stored without a Home entry and kept `relay_retention_days`, unless the owner took them up
//! (bookmark, like, boost, reply) or they arrived another way too.
//!
//! Protocols: Mastodon's (a Follow whose object is `as:Public`, POSTed to the relay's inbox;
//! the relay forwards Creates or sends Announces) and LitePub's (a Follow of the relay actor;
//! the relay sends Announces). Both answer with Accept. The Follow comes from the instance
//! actor (`/actor`), as Mastodon's does (`Account.representative`); relays deliver to its inbox
//! or the shared inbox its `endpoints` name, both the one inbox of pipit.

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

/// The instance actor (`/actor`), which follows relays: Mastodon's `Account.representative`,
/// and the actor LitePub relays expect. Its activities are signed with the instance key
/// (federation::deliver picks the key by the activity's `actor`).
pub fn instance_actor(app: &App) -> String {
    format!("{}/actor", app.urls.base)
}

/// Was this subscription's Follow sent by the instance actor? Subscriptions stored before it
/// was (by the owner's Person) have a follow id under the owner's actor.
fn by_instance(app: &App, r: &Relay) -> bool {
    r.follow_id.starts_with(&format!("{}/", instance_actor(app)))
}

fn instance_activity(app: &App, kind: &str, object: serde_json::Value, relay: &str) -> serde_json::Value {
    let mut v = vocab::simple_json(&app.urls, kind, &format!("{}/activities/{}", instance_actor(app), crate::ids::next_id()), object, vec![relay.to_string()], vec![]);
    v["actor"] = json!(instance_actor(app));
    v
}

/// Queues the instance actor's Follow of `relay` and returns its id.
fn send_follow(w: &mut Write, app: &App, relay: &str, inbox: &str, protocol: &str) -> Result<String> {
    let act = instance_activity(app, "Follow", follow_object(protocol, relay), relay);
    let id = act["id"].as_str().unwrap_or_default().to_string();
    outbox::send(w, app, act, Audience { followers: false, inboxes: vec![inbox.to_string()] })?;
    Ok(id)
}

/// Queues the Undo of subscription `r`'s Follow, from whichever actor sent that Follow.
fn send_undo(w: &mut Write, app: &App, relay: &str, r: &Relay) -> Result<()> {
    let who = if by_instance(app, r) { instance_actor(app) } else { app.urls.actor() };
    let follow = json!({ "id": r.follow_id, "type": "Follow", "actor": who, "object": follow_object(&r.protocol, relay) });
    let act = if by_instance(app, r) {
        instance_activity(app, "Undo", follow, relay)
    } else {
        vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), follow, vec![relay.to_string()], vec![])
    };
    outbox::send(w, app, act, Audience { followers: false, inboxes: vec![r.inbox.clone()] })?;
    Ok(())
}

/// Subscribes: stores the relay as pending and queues the instance actor's Follow to `inbox`.
/// Subscribing again to a known relay changes nothing.
pub fn subscribe(app: &App, relay: &RemoteActor, inbox: &str, protocol: &str) -> Result<Relay> {
    if !matches!(protocol, "mastodon" | "litepub") {
        return Err(Error::BadRequest(format!("unknown relay protocol `{protocol}`")));
    }
    app.store.write(|w| {
        if let Some(r) = w.relay(&relay.id)? {
            return Ok(r);
        }
        let follow_id = send_follow(w, app, &relay.id, inbox, protocol)?;
        let r = Relay { inbox: inbox.to_string(), protocol: protocol.to_string(), follow_id, state: "pending".into(), since_ms: now_ms() };
        w.put_relay(&relay.id, &r)?;
        Ok(r)
    })
}

/// Unsubscribes: forgets the relay and queues an Undo of the Follow. `NotFound` for a relay
/// the owner is not subscribed to.
pub fn unsubscribe(app: &App, relay: &str) -> Result<()> {
    app.store.write(|w| {
        let r = w.remove_relay(relay)?.ok_or(Error::NotFound)?;
        send_undo(w, app, relay, &r)
    })
}

/// The upgrade path for subscriptions made before relays were followed by the instance actor
/// (their Follow came from the owner's Person): each gets an Undo of that Follow and a new
/// Follow from `/actor`, and keeps its state meanwhile, so an accepted relay keeps delivering
/// until it answers the new Follow (its Accept makes that one current; a Reject ends the
/// subscription). Runs at start; returns how many were moved. Relays are a handful, so the
/// whole (small) table is read.
pub fn upgrade(app: &App) -> Result<usize> {
    let old: Vec<(String, Relay)> = app.store.read(|r| r.relays())?.into_iter().filter(|(_, r)| !by_instance(app, r)).collect();
    for (relay, r) in &old {
        app.store.write(|w| {
            send_undo(w, app, relay, r)?;
            let follow_id = send_follow(w, app, relay, &r.inbox, &r.protocol)?;
            w.put_relay(relay, &Relay { follow_id, ..r.clone() })
        })?;
    }
    Ok(old.len())
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
