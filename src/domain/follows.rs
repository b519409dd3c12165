//! What the owner does to other accounts and their posts: follow/unfollow, approve/reject
//! follow requests, remove a follower, like, boost. Each is one transaction with its delivery.

use crate::app::App;
use crate::domain::outbox::{self, new_activity_id};
use crate::error::{Error, Result};
use crate::federation::vocab::{self, PUBLIC};
use crate::model::{Audience, FollowOptions, FollowState, Follower, Following, Interaction, Post, RemoteActor};
use crate::store::Write;
use crate::time::now_ms;
use serde_json::json;

fn to(inbox: &str) -> Audience {
    Audience { followers: false, inboxes: vec![inbox.to_string()] }
}

/// Asks to follow `target` (the actor is already cached by the caller's resolve step).
pub fn follow(app: &App, target: &RemoteActor) -> Result<Following> {
    follow_with(app, target, &FollowUpdate::default())
}

/// Changes to a follow's options (Mastodon's follow params): `None` keeps what is there (or
/// the default on a new follow).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpdate {
    pub reblogs: Option<bool>,
    pub notify: Option<bool>,
    pub languages: Option<Vec<String>>,
}

impl FollowUpdate {
    fn apply(&self, o: &mut FollowOptions) {
        if let Some(r) = self.reblogs {
            o.reblogs = r;
        }
        if let Some(n) = self.notify {
            o.notify = n;
        }
        if let Some(l) = &self.languages {
            let mut l: Vec<String> = l.iter().map(|x| x.trim().to_ascii_lowercase()).filter(|x| !x.is_empty()).collect();
            l.sort();
            l.dedup();
            o.languages = l;
        }
    }
}

/// Follows `target` with options, or, when already following (or asked to), only updates
/// the options, sending nothing (as Mastodon's `POST /api/v1/accounts/:id/follow` does).
pub fn follow_with(app: &App, target: &RemoteActor, update: &FollowUpdate) -> Result<Following> {
    app.store.write(|w| {
        if let Some(mut f) = w.following(&target.id)? {
            let before = f.options.clone();
            update.apply(&mut f.options);
            if f.options != before {
                w.put_following(&target.id, &f)?;
            }
            return Ok(f);
        }
        let id = new_activity_id(app);
        let mut options = FollowOptions::default();
        update.apply(&mut options);
        let f = Following { state: FollowState::Pending, since_ms: now_ms(), follow_id: id.clone(), options };
        w.put_following(&target.id, &f)?;
        let act = vocab::simple_json(&app.urls, "Follow", &id, json!(target.id), vec![target.id.to_string()], vec![]);
        outbox::send(w, app, act, to(&target.inbox))?;
        Ok(f)
    })
}

/// A followed account moved (its Move verified by the caller: `new` lists the old account in
/// `alsoKnownAs`): follow `new` and Undo the follow of `old`, in the caller's transaction, as
/// Mastodon's UnfollowFollowWorker does. Nothing happens when the owner does not follow `old`.
pub fn follow_moved_account(w: &mut Write, app: &App, old: &str, new: &RemoteActor) -> Result<()> {
    let Some(f) = w.following(old)? else { return Ok(()) };
    if new.id != app.urls.actor() && w.following(&new.id)?.is_none() && !w.is_blocked(&new.id)? {
        w.put_actor(new)?;
        let id = new_activity_id(app);
        // The options go with the account (Mastodon's Move keeps them too).
        w.put_following(&new.id, &Following { state: FollowState::Pending, since_ms: now_ms(), follow_id: id.clone(), options: f.options.clone() })?;
        let act = vocab::simple_json(&app.urls, "Follow", &id, json!(new.id), vec![new.id.to_string()], vec![]);
        outbox::send(w, app, act, to(&new.inbox))?;
    }
    w.remove_following(old)?;
    if let Some(inbox) = w.actor(old)?.map(|a| a.inbox) {
        send_undo_follow(w, app, old, &f, &inbox)?;
    }
    Ok(())
}

/// `Undo(Follow)` of the owner's follow `f` of `target`.
fn send_undo_follow(w: &mut Write, app: &App, target: &str, f: &Following, inbox: &str) -> Result<()> {
    let follow = json!({ "id": f.follow_id, "type": "Follow", "actor": app.urls.actor(), "object": target });
    let act = vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), follow, vec![target.to_string()], vec![]);
    outbox::send(w, app, act, to(inbox))?;
    Ok(())
}

/// Ends every relationship with accounts on a blocked `host`, telling their server as
/// Mastodon does: Undo(Follow) for the owner's follows, Reject(Follow) for followers and held
/// requests. Deliveries of these farewells are let through the domain block (deliver.rs).
pub fn end_relationships_on(w: &mut Write, app: &App, host: &str) -> Result<()> {
    for target in w.following_on(host, 100_000)? {
        if let Some(f) = w.remove_following(&target)? {
            if let Some(inbox) = w.actor(&target)?.map(|a| a.inbox) {
                send_undo_follow(w, app, &target, &f, &inbox)?;
            }
        }
    }
    let followers = w.followers_on(host, 100_000)?;
    let requests = w.requests_on(host, 100_000)?;
    for who in followers.into_iter().chain(requests) {
        let f = match w.remove_follower(&who)? {
            Some(f) => Some(f),
            None => w.remove_follow_request(&who)?,
        };
        let Some(f) = f else { continue };
        let inbox = w.actor(&who)?.map(|a| a.inbox.into_string()).unwrap_or_else(|| f.inbox.clone());
        let act = vocab::simple_json(&app.urls, "Reject", &new_activity_id(app), follow_object(app, &who, &f), vec![who.clone()], vec![]);
        outbox::send(w, app, act, to(&inbox))?;
    }
    Ok(())
}

/// The one rule for a followed account's own post on Home: an accepted follow, and the post in
/// one of the follow's `languages` (a post without a language, or no languages set, passes;
/// tags compare by their primary subtag, so `de` takes `de-AT`). None: not followed.
pub fn home_takes_post(f: Option<&Following>, language: Option<&str>) -> bool {
    let Some(f) = f.filter(|f| f.state == FollowState::Accepted) else { return false };
    let primary = |t: &str| t.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    match language {
        Some(l) if !f.options.languages.is_empty() => f.options.languages.iter().any(|x| primary(x) == primary(l)),
        _ => true,
    }
}

/// Whether a followed account's boost goes on Home: an accepted follow with `reblogs` on.
pub fn home_takes_boost(f: Option<&Following>) -> bool {
    matches!(f, Some(f) if f.state == FollowState::Accepted && f.options.reblogs)
}

/// Whether a followed account's new post makes a `status` notification: accepted, `notify` on.
pub fn notifies_post(f: Option<&Following>) -> bool {
    matches!(f, Some(f) if f.state == FollowState::Accepted && f.options.notify)
}

pub fn unfollow(app: &App, target: &str) -> Result<()> {
    app.store.write(|w| {
        let f = w.remove_following(target)?.ok_or(Error::NotFound)?;
        let inbox = w.actor(target)?.map(|a| a.inbox).ok_or(Error::NotFound)?;
        let follow = json!({ "id": f.follow_id, "type": "Follow", "actor": app.urls.actor(), "object": target });
        let act = vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), follow, vec![target.to_string()], vec![]);
        outbox::send(w, app, act, to(&inbox))?;
        Ok(())
    })
}

fn follow_object(app: &App, follower: &str, f: &Follower) -> serde_json::Value {
    json!({ "id": f.follow_id, "type": "Follow", "actor": follower, "object": app.urls.actor() })
}

/// Accepts a held follow request.
pub fn approve(app: &App, requester: &str) -> Result<()> {
    app.store.write(|w| {
        let mut f = w.remove_follow_request(requester)?.ok_or(Error::NotFound)?;
        // A follower from now on: earlier posts' deliveries must not reach them (deliver.rs).
        f.since_ms = now_ms();
        w.put_follower(requester, &f)?;
        let inbox = w.actor(requester)?.map(|a| a.inbox.into_string()).unwrap_or_else(|| f.inbox.clone());
        let act = vocab::simple_json(&app.urls, "Accept", &new_activity_id(app), follow_object(app, requester, &f), vec![requester.into()], vec![]);
        outbox::send(w, app, act, to(&inbox))?;
        Ok(())
    })
}

/// Rejects a held follow request, or (for an existing follower) removes them: Mastodon treats
/// a Reject of an accepted Follow as "you no longer follow".
pub fn reject(app: &App, who: &str) -> Result<()> {
    app.store.write(|w| {
        let f = match w.remove_follow_request(who)? {
            Some(f) => f,
            None => w.remove_follower(who)?.ok_or(Error::NotFound)?,
        };
        let inbox = w.actor(who)?.map(|a| a.inbox.into_string()).unwrap_or_else(|| f.inbox.clone());
        let act = vocab::simple_json(&app.urls, "Reject", &new_activity_id(app), follow_object(app, who, &f), vec![who.into()], vec![]);
        outbox::send(w, app, act, to(&inbox))?;
        Ok(())
    })
}

/// The inbox of a post's author, from the actor cache.
fn author_inbox(w: &crate::store::Write, p: &Post) -> Result<Option<String>> {
    Ok(w.actor(&p.author)?.map(|a| a.inbox.into_string()))
}

/// Likes a stored post (the caller fetched and stored remote posts first).
pub fn like(app: &App, post_uri: &str) -> Result<()> {
    interact(app, post_uri, "like", "Like")
}

pub fn boost(app: &App, post_uri: &str) -> Result<()> {
    interact(app, post_uri, "boost", "Announce")
}

pub fn unlike(app: &App, post_uri: &str) -> Result<()> {
    undo_interaction(app, post_uri, "like")
}

pub fn unboost(app: &App, post_uri: &str) -> Result<()> {
    undo_interaction(app, post_uri, "boost")
}

fn interact(app: &App, post_uri: &str, kind: &str, ap_type: &str) -> Result<()> {
    app.store.write(|w| {
        let pid = w.post_id_by_uri(post_uri)?.ok_or(Error::NotFound)?;
        let p = w.post(pid)?.ok_or(Error::NotFound)?;
        if kind == "boost" && !p.visibility.is_world_readable() {
            return Err(Error::BadRequest("Only public and unlisted posts can be boosted".into()));
        }
        // An Announce would point other servers at a post they may not fetch (issue 14).
        if kind == "boost" && (p.local_only || p.held_until_ms.is_some()) {
            return Err(Error::BadRequest("This post stays on this site (or is still in its undo window): it cannot be boosted".into()));
        }
        let me = app.urls.actor();
        if w.interaction(post_uri, kind, &me)?.is_some() {
            return Ok(());
        }
        let id = new_activity_id(app);
        w.put_interaction(post_uri, kind, &me, &Interaction { activity_id: id.clone(), at_ms: now_ms(), emoji_url: None })?;
        if kind == "like" {
            w.add_favourite(pid)?; // the client API's favourites list
        }
        let inbox = author_inbox(w, &p)?;
        let (act, audience) = if kind == "boost" {
            let followers = format!("{me}/followers");
            let act = vocab::simple_json(&app.urls, ap_type, &id, json!(post_uri), vec![PUBLIC.into()], vec![followers, p.author.clone()]);
            (act, Audience { followers: true, inboxes: inbox.into_iter().collect() })
        } else {
            let act = vocab::simple_json(&app.urls, ap_type, &id, json!(post_uri), vec![p.author.clone()], vec![]);
            (act, Audience { followers: false, inboxes: inbox.into_iter().collect() })
        };
        outbox::send(w, app, act, audience)?;
        Ok(())
    })
}

fn undo_interaction(app: &App, post_uri: &str, kind: &str) -> Result<()> {
    app.store.write(|w| {
        let me = app.urls.actor();
        let old = w.remove_interaction(post_uri, kind, &me)?.ok_or(Error::NotFound)?;
        let p = w.post_id_by_uri(post_uri)?.and_then(|id| w.post(id).ok().flatten());
        if let (Some(p), "like") = (&p, kind) {
            w.remove_favourite(p.id)?;
        }
        let inbox = match &p {
            Some(p) => author_inbox(w, p)?,
            None => None,
        };
        let ap_type = if kind == "boost" { "Announce" } else { "Like" };
        let inner = json!({ "id": old.activity_id, "type": ap_type, "actor": me, "object": post_uri });
        let act = vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), inner, vec![PUBLIC.into()], vec![]);
        outbox::send(w, app, act, Audience { followers: kind == "boost", inboxes: inbox.into_iter().collect() })?;
        Ok(())
    })
}

/// Stores a remote post (fetched by the caller) if it is not stored yet; returns its local id.
pub fn store_remote_post(app: &App, mut p: Post) -> Result<u64> {
    app.store.write(|w| {
        if let Some(id) = w.post_id_by_uri(&p.uri)? {
            return Ok(id);
        }
        p.id = w.new_id(crate::store::IdSpace::Posts, p.published_ms.min(now_ms()))?;
        w.insert_post(&p)?;
        Ok(p.id)
    })
}

/// Pins or unpins one of the owner's public posts, and tells followers (Add/Remove to the
/// `featured` collection, as Mastodon does). Returns whether it is now pinned.
pub fn toggle_pin(app: &App, post_id: u64) -> Result<bool> {
    app.store.write(|w| {
        let p = w.post(post_id)?.filter(|p| p.local).ok_or(Error::NotFound)?;
        if !p.visibility.is_world_readable() {
            return Err(Error::BadRequest("Only public and unlisted posts can be pinned".into()));
        }
        let pinned = w.toggle_pin(post_id, now_ms())?;
        if p.local_only || p.held_until_ms.is_some() {
            // Pinned on the profile here; other servers never saw the post, so no Add/Remove.
            return Ok(pinned);
        }
        let me = app.urls.actor();
        let mut act = vocab::simple_json(&app.urls, if pinned { "Add" } else { "Remove" }, &new_activity_id(app), json!(p.uri), vec![PUBLIC.into()], vec![format!("{me}/followers")]);
        act["target"] = json!(format!("{me}/collections/featured"));
        outbox::send(w, app, act, Audience { followers: true, inboxes: vec![] })?;
        Ok(pinned)
    })
}

/// Votes in a remote poll: one `Create(Note{name})` per choice to the poll's author, as
/// Mastodon does; the owner's choices are remembered and counted locally at once.
pub fn vote(app: &App, post_id: u64, choices: &[String]) -> Result<()> {
    app.store.write(|w| {
        let mut p = w.post(post_id)?.filter(|p| !p.local).ok_or(Error::NotFound)?;
        let poll = p.poll.as_mut().ok_or_else(|| Error::BadRequest("This post has no poll".into()))?;
        if poll.closed || poll.ends_ms.map(|e| e < now_ms()).unwrap_or(false) {
            return Err(Error::BadRequest("This poll has ended".into()));
        }
        if !poll.voted.is_empty() {
            return Err(Error::BadRequest("You already voted".into()));
        }
        if choices.is_empty() || (!poll.multiple && choices.len() > 1) || !choices.iter().all(|c| poll.options.iter().any(|(o, _)| o == c)) {
            return Err(Error::BadRequest("Choose one of the poll's options".into()));
        }
        let inbox = w.actor(&p.author)?.map(|a| a.inbox).ok_or(Error::NotFound)?;
        for c in choices {
            let note_id = new_activity_id(app);
            let note = json!({ "id": note_id, "type": "Note", "name": c, "attributedTo": app.urls.actor(), "inReplyTo": p.uri, "to": [p.author] });
            let act = vocab::simple_json(&app.urls, "Create", &format!("{note_id}/activity"), note, vec![p.author.clone()], vec![]);
            outbox::send(w, app, act, Audience { followers: false, inboxes: vec![inbox.to_string()] })?;
            if let Some(o) = poll.options.iter_mut().find(|(o, _)| o == c) {
                o.1 += 1;
            }
        }
        poll.voted = choices.to_vec();
        w.put_post(&p)
    })
}

#[cfg(test)]
mod option_tests {
    use super::*;

    fn following(state: FollowState, reblogs: bool, notify: bool, languages: &[&str]) -> Following {
        Following { state, since_ms: 0, follow_id: "x".into(), options: FollowOptions { reblogs, notify, languages: languages.iter().map(|l| l.to_string()).collect() } }
    }

    #[test]
    fn old_records_read_with_mastodons_defaults() {
        let f: Following = serde_json::from_str(r#"{"state":"accepted","since_ms":1,"follow_id":"https://a/x"}"#).unwrap();
        assert_eq!(f.options, FollowOptions { reblogs: true, notify: false, languages: vec![] });
        let back: Following = serde_json::from_str(&serde_json::to_string(&following(FollowState::Accepted, false, true, &["de"])).unwrap()).unwrap();
        assert_eq!(back.options, FollowOptions { reblogs: false, notify: true, languages: vec!["de".into()] });
    }

    #[test]
    fn home_rule_follows_the_options() {
        let de = following(FollowState::Accepted, false, true, &["de"]);
        assert!(home_takes_post(Some(&de), Some("de")) && home_takes_post(Some(&de), Some("de-AT")) && home_takes_post(Some(&de), None));
        // Bad input: another language, and a tag that only starts like `de`.
        assert!(!home_takes_post(Some(&de), Some("en")) && !home_takes_post(Some(&de), Some("dez")));
        assert!(!home_takes_boost(Some(&de)) && notifies_post(Some(&de)));
        let all = following(FollowState::Accepted, true, false, &[]);
        assert!(home_takes_post(Some(&all), Some("en")) && home_takes_boost(Some(&all)) && !notifies_post(Some(&all)));
        // A pending follow takes nothing.
        let pending = following(FollowState::Pending, true, true, &[]);
        assert!(!home_takes_post(Some(&pending), None) && !home_takes_boost(Some(&pending)) && !notifies_post(Some(&pending)) && !home_takes_post(None, None));
    }

    #[test]
    fn an_update_keeps_what_it_leaves_out() {
        let mut o = FollowOptions::default();
        FollowUpdate { reblogs: Some(false), notify: None, languages: Some(vec![" DE".into(), "en".into(), "de".into(), "".into()]) }.apply(&mut o);
        assert_eq!(o, FollowOptions { reblogs: false, notify: false, languages: vec!["de".into(), "en".into()] });
        FollowUpdate { notify: Some(true), ..Default::default() }.apply(&mut o);
        assert_eq!(o, FollowOptions { reblogs: false, notify: true, languages: vec!["de".into(), "en".into()] });
    }
}
