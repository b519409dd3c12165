//! Recording what the owner sends: every outgoing activity is stored (with its FEP-8b32 proof)
//! and its delivery enqueued in the caller's transaction, so the change and its deliveries
//! commit together (the outbox pattern).

use crate::app::App;
use crate::error::Result;
use crate::model::{Audience, JobKind, Post, Visibility};
use crate::store::Write;
use serde_json::Value;

/// Stores `activity` (whose `id` the caller set) and enqueues its fan-out.
pub fn send(w: &mut Write, app: &App, mut activity: Value, audience: Audience) -> Result<u64> {
    let key = w.new_id(crate::store::IdSpace::Activities, crate::time::now_ms())?;
    // The FEP-8b32 proof is the owner's key: not on the instance actor's (relay) activities.
    if activity.get("actor").and_then(|a| a.as_str()) == Some(app.urls.actor().as_str()) {
        app.sign_object(&mut activity);
    }
    w.put_activity(key, &activity)?;
    if audience.followers || !audience.inboxes.is_empty() {
        w.enqueue(JobKind::Fanout { activity: key, audience, cursor: None }, crate::time::now_ms())?;
    }
    Ok(key)
}

/// A fresh id for an activity that is not a post's Create: `/users/NAME/activities/N`.
pub fn new_activity_id(app: &App) -> String {
    format!("{}/activities/{}", app.urls.actor(), crate::ids::next_id())
}

/// Who hears about one of the owner's posts: followers (unless direct), mentioned accounts,
/// and the author of the post it replies to.
pub fn post_audience(w: &Write, _app: &App, p: &Post) -> Result<Audience> {
    let mut inboxes = Vec::new();
    let mut add = |inbox: String| {
        if !inboxes.contains(&inbox) {
            inboxes.push(inbox);
        }
    };
    for m in &p.mentions {
        if let Some(a) = w.actor(&m.href)? {
            add(a.inbox.to_string());
        }
    }
    // The author of a replied-to or quoted post hears about it, as on Mastodon.
    for parent in p.in_reply_to.iter().chain(p.quote.iter()) {
        if let Some(pid) = w.post_id_by_uri(parent)? {
            if let Some(pp) = w.post(pid)? {
                if !pp.local {
                    if let Some(a) = w.actor(&pp.author)? {
                        add(a.inbox.to_string());
                    }
                }
            }
        }
    }
    Ok(Audience { followers: p.visibility != Visibility::Direct, inboxes })
}
