//! Applying a verified incoming activity: one function per type, each one store transaction.
//! Federation (federation/inbox.rs, activity.rs) has already checked the signature and the
//! origin rules, fetched whatever the activity referenced and read it into a typed `Activity`;
//! nothing here touches the network or reads remote JSON.

use crate::app::App;
use crate::domain::outbox::{self, new_activity_id};
use crate::error::Result;
use crate::federation::activity::{Activity, Inner, Kind, Object};
use crate::federation::vocab;
use crate::model::{Audience, FollowState, Follower, HomeEntry, Interaction, Notification, NotificationKind, Post, RemoteActor};
use crate::store::Write;
use crate::time::now_ms;
use serde_json::json;

/// What federation should do next, outside the transaction.
#[derive(Default, Debug)]
pub struct Outcome {
    /// A post whose ancestors we do not have: fetch them in the background.
    pub fetch_context: Option<String>,
    /// Move: follow this account now (actor is cached).
    pub follow: Option<RemoteActor>,
    /// A new post with a link: fetch its preview card in the background (federation::cards).
    pub card_for: Option<u64>,
}

fn notify(w: &mut Write, kind: NotificationKind, actor: &str, post_uri: Option<&str>, detail: Option<String>) -> Result<()> {
    w.add_notification(&Notification { kind, actor: actor.to_string(), post_uri: post_uri.map(str::to_string), detail, at_ms: now_ms() })?;
    Ok(())
}

/// Applies an activity checked at the federation boundary (federation/activity.rs), in a
/// group-committed transaction (many deliveries share one fsync).
pub async fn apply(app: &App, inc: Activity) -> Result<Outcome> {
    let app2 = app.clone();
    app.store.write_grouped(move |w| apply_in(w, &app2, &inc)).await
}

fn apply_in(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    let activity_id = inc.id.as_deref().unwrap_or_default().to_string();
    let now = now_ms();
    if !activity_id.is_empty() && !w.mark_seen(&activity_id, now)? {
        return Ok(Outcome::default()); // duplicate delivery: already applied
    }
    if now % 64 == 0 {
        w.sweep_seen(now, 200)?;
    }
    match inc.kind {
        Kind::Follow => follow(w, app, inc, &activity_id),
        Kind::Accept => accept_or_reject(w, app, inc, true),
        Kind::Reject => accept_or_reject(w, app, inc, false),
        Kind::Undo => undo(w, app, inc),
        Kind::Create => create(w, app, inc),
        Kind::Update => update(w, app, inc),
        Kind::Delete => delete(w, app, inc),
        Kind::Like | Kind::EmojiReact | Kind::Dislike => like(w, app, inc, &activity_id),
        Kind::Announce => announce(w, app, inc, &activity_id),
        Kind::Move => moved(w, app, inc),
        Kind::Block => block(w, app, inc),
        Kind::Add | Kind::Remove => featured(w, app, inc, inc.kind == Kind::Add, &activity_id),
        Kind::Other => {
            tracing::debug!("ignoring {} from {}", inc.type_name, inc.actor.id);
            Ok(Outcome::default())
        }
    }
}

/// The id the activity acts on (post, account or activity), whatever form it came in.
fn object_id(inc: &Activity) -> Option<String> {
    inc.object.id().map(str::to_string)
}

fn follow(w: &mut Write, app: &App, inc: &Activity, activity_id: &str) -> Result<Outcome> {
    if object_id(inc).as_deref() != Some(app.urls.actor().as_str()) {
        return Ok(Outcome::default());
    }
    let who = &inc.actor.id.to_string();
    let f = Follower { since_ms: now_ms(), follow_id: activity_id.to_string(), inbox: inc.actor.delivery_inbox().to_string() };
    let profile = w.profile()?;
    let already = w.follower(who)?.is_some();
    if profile.approve_followers && !already {
        if w.follow_request(who)?.is_none() {
            notify(w, NotificationKind::FollowRequest, who, None, None)?;
        }
        w.put_follow_request(who, &f)?;
        return Ok(Outcome::default());
    }
    // A known follower keeps the date they first followed (delivery cut-off, deliver.rs).
    let f = match w.follower(who)? {
        Some(old) => Follower { since_ms: old.since_ms, ..f },
        None => f,
    };
    w.put_follower(who, &f)?;
    if !already {
        notify(w, NotificationKind::Follow, who, None, None)?;
    }
    // Accept again even for a known follower: their server may have lost our first Accept.
    let obj = json!({ "id": activity_id, "type": "Follow", "actor": who, "object": app.urls.actor() });
    let accept = vocab::simple_json(&app.urls, "Accept", &new_activity_id(app), obj, vec![who.clone()], vec![]);
    outbox::send(w, app, accept, Audience { followers: false, inboxes: vec![inc.actor.inbox.to_string()] })?;
    Ok(Outcome::default())
}

fn accept_or_reject(w: &mut Write, app: &App, inc: &Activity, accepted: bool) -> Result<Outcome> {
    let who = inc.actor.id.as_str();
    // A relay answering our subscription (domain::relays), never a followed account.
    let follow_ref = match &inc.object {
        Object::Ref(id) => Some(id.to_string()),
        Object::Activity(inner) => inner.id.as_ref().map(|i| i.to_string()),
        _ => None,
    };
    if crate::domain::relays::answer(w, who, follow_ref.as_deref(), accepted)? {
        return Ok(Outcome::default());
    }
    let Some(f) = w.following(who)? else { return Ok(Outcome::default()) };
    // The object is our Follow: by id, or embedded (some servers mint a new id for it).
    let me = app.urls.actor();
    let matches = match &inc.object {
        Object::Ref(id) => *id == f.follow_id || *id == me,
        Object::Activity(inner) => inner.id.as_deref() == Some(f.follow_id.as_str()) || (inner.kind == Some(Kind::Follow) && inner.actor.as_deref() == Some(me.as_str())),
        _ => false,
    };
    if !matches {
        return Ok(Outcome::default());
    }
    if accepted {
        w.put_following(who, &crate::model::Following { state: FollowState::Accepted, ..f })?;
    } else {
        w.remove_following(who)?;
    }
    Ok(Outcome::default())
}

/// Undo: federation/activity.rs already refused an inner activity of another actor or host.
fn undo(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    let who = inc.actor.id.as_str();
    let by_ref;
    let inner: &Inner = match &inc.object {
        Object::Activity(i) => i,
        Object::Ref(id) => {
            by_ref = Inner { id: Some(id.clone()), ..Default::default() };
            &by_ref
        }
        _ => return Ok(Outcome::default()),
    };
    let inner_id = inner.id.as_deref().unwrap_or_default();
    // By activity id first (works even when the inner object is only a reference); removed
    // only when it was this actor's.
    if let Some((_, _, actor)) = w.remove_interaction_by_activity(inner_id, who)? {
        if actor != who {
            tracing::warn!("{who} tried to undo {inner_id} of {actor}");
        }
        return Ok(Outcome::default());
    }
    match inner.kind {
        Some(Kind::Follow) | None => {
            let was_follower = w.remove_follower(who)?.is_some();
            let was_request = w.remove_follow_request(who)?.is_some();
            if !was_follower && !was_request && inner.kind.is_none() {
                tracing::debug!("Undo of unknown {inner_id} from {who}");
            }
        }
        Some(k @ (Kind::Like | Kind::EmojiReact | Kind::Announce | Kind::Dislike)) => {
            if let Some(post) = &inner.object {
                w.remove_interaction(post, &interaction_kind(k, inner.reaction.as_deref()), who)?;
            }
        }
        _ => {}
    }
    let _ = app;
    Ok(Outcome::default())
}

/// "like", "boost", or "react:EMOJI" for Misskey/Pleroma reactions (a Like with content).
fn interaction_kind(kind: Kind, reaction: Option<&str>) -> String {
    match (kind, reaction) {
        (Kind::Announce, _) => "boost".into(),
        (Kind::EmojiReact, Some(e)) | (Kind::Like, Some(e)) => format!("react:{e}"),
        (Kind::EmojiReact, None) => "react:⭐".into(),
        (Kind::Dislike, _) => "dislike".into(),
        _ => "like".into(),
    }
}

/// Is this post something the owner should keep? Followed author, addresses or mentions the owner, replies
/// to something stored, or the owner asked for it (fetched thread context).
fn relevant(w: &Write, app: &App, p: &Post, author_followed: bool, addressed: bool) -> Result<bool> {
    if author_followed || addressed || p.mentions.iter().any(|m| m.href == app.urls.actor()) || follows_a_tag(w, p)? {
        return Ok(true);
    }
    if let Some(parent) = &p.in_reply_to {
        if w.post_id_by_uri(parent)?.is_some() {
            return Ok(true);
        }
    }
    if let Some(q) = &p.quote {
        if let Some(id) = w.post_id_by_uri(q)? {
            if w.post(id)?.map(|qp| qp.local).unwrap_or(false) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn follows_a_tag(w: &Write, p: &Post) -> Result<bool> {
    if p.visibility != crate::model::Visibility::Public {
        return Ok(false);
    }
    for t in &p.tags {
        if w.follows_tag(t)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Stores or refreshes a remote post (the path every received post takes); returns
/// (id, is_new). A new post gets a fresh id near its `published` time, checked free in this
/// transaction (`Write::new_id`), so it never replaces another post; a known URI is updated in
/// place, except the owner's own posts, which remote data never overwrites.
pub fn upsert_post(w: &mut Write, mut p: Post) -> Result<(u64, bool)> {
    if let Some(id) = w.post_id_by_uri(&p.uri)? {
        p.id = id;
        if let Some(old) = w.post(id)? {
            if old.local || old.author != p.author {
                // Never overwrite our own posts with remote data, nor one author's post with
                // another's (ids are checked against the signer's host, but not per account).
                return Ok((id, false));
            }
            // The owner's vote is ours to remember; the poll's update does not carry it.
            if let (Some(new_poll), Some(old_poll)) = (p.poll.as_mut(), old.poll.as_ref()) {
                new_poll.voted = old_poll.voted.clone();
            }
        }
        w.update_post(&p)?;
        return Ok((id, false));
    }
    p.id = w.new_id(crate::store::IdSpace::Posts, p.published_ms.min(now_ms()))?;
    w.insert_post(&p)?;
    Ok((p.id, true))
}

/// A vote in one of the owner's polls: counted once per voter (a single-choice poll takes
/// one choice; a multiple-choice one each option once), only while the poll is open. Votes
/// in other posts, or for options the poll does not have, are ignored.
fn vote(w: &mut Write, app: &App, inc: &Activity, poll_uri: &str, choice: &str) -> Result<Outcome> {
    let Some(pid) = app.urls.local_post_id(poll_uri).or(w.post_id_by_uri(poll_uri)?) else { return Ok(Outcome::default()) };
    let Some(mut post) = w.post(pid)?.filter(|p| p.local) else { return Ok(Outcome::default()) };
    let Some(poll) = post.poll.as_mut() else { return Ok(Outcome::default()) };
    if poll.closed || poll.ends_ms.map(|e| e <= now_ms()).unwrap_or(false) {
        return Ok(Outcome::default());
    }
    let Some(option) = poll.options.iter_mut().find(|(name, _)| name == choice) else { return Ok(Outcome::default()) };
    let voter = inc.actor.id.as_str();
    let mut chosen = w.poll_vote(pid, voter)?.unwrap_or_default();
    if chosen.iter().any(|c| c == choice) || (!poll.multiple && !chosen.is_empty()) {
        return Ok(Outcome::default());
    }
    option.1 += 1;
    chosen.push(choice.to_string());
    w.put_poll_vote(pid, voter, &chosen)?;
    w.update_post(&post)?;
    // Followers' servers see the new counts in one debounced Update (domain::polls).
    crate::domain::polls::vote_counted(w, app, &post)?;
    Ok(Outcome::default())
}

fn create(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    if let Object::Vote { poll, choice, .. } = &inc.object {
        return vote(w, app, inc, poll, choice);
    }
    // Only the actor's own post gets here (federation/activity.rs checked origin and author).
    let Object::Post { post, addressed_to_owner: addressed } = &inc.object else { return Ok(Outcome::default()) };
    let (p, addressed) = ((**post).clone(), *addressed);
    let follow = w.following(&inc.actor.id)?;
    let followed = matches!(&follow, Some(f) if f.state == FollowState::Accepted);
    // The follow's options (languages, notify): domain::follows holds the rule.
    let home_takes = crate::domain::follows::home_takes_post(follow.as_ref(), p.language.as_deref());
    let notify_post = crate::domain::follows::notifies_post(follow.as_ref()) && p.visibility != crate::model::Visibility::Direct;
    if !relevant(w, app, &p, followed, addressed)? {
        return Ok(Outcome::default());
    }
    let uri = p.uri.clone();
    let parent = p.in_reply_to.clone();
    let mentions_me = p.mentions.iter().any(|m| m.href == app.urls.actor());
    let tagged = follows_a_tag(w, &p)?;
    let quotes_mine = match &p.quote {
        Some(q) => w.post_id_by_uri(q)?.and_then(|id| w.post(id).ok().flatten()).map(|qp| qp.local).unwrap_or(false),
        None => false,
    };
    let (id, is_new) = upsert_post(w, p)?;
    // Delivered for its own sake now: no longer a relay post swept after the retention.
    w.unmark_relayed(id)?;
    let mut out = Outcome::default();
    if is_new {
        let reply_to_mine = match &parent {
            Some(par) => w.post_id_by_uri(par)?.and_then(|pid| w.post(pid).ok().flatten()).map(|pp| pp.local).unwrap_or(false),
            None => false,
        };
        // Mentioned or only addressed (a silent mention): on /home like a mention, notified only
        // when mentioned (below).
        if home_takes || mentions_me || tagged || addressed {
            w.add_home(&HomeEntry { post_id: id, boosted_by: None }, now_ms())?;
        }
        if reply_to_mine {
            notify(w, NotificationKind::Reply, &inc.actor.id, Some(&uri), None)?;
        } else if quotes_mine {
            notify(w, NotificationKind::Quote, &inc.actor.id, Some(&uri), None)?;
        } else if mentions_me {
            notify(w, NotificationKind::Mention, &inc.actor.id, Some(&uri), None)?;
        } else if notify_post {
            notify(w, NotificationKind::Status, &inc.actor.id, Some(&uri), None)?;
        }
        if let Some(par) = parent {
            if w.post_id_by_uri(&par)?.is_none() {
                out.fetch_context = Some(par.into());
            }
        }
        out.card_for = Some(id);
    }
    Ok(out)
}

fn update(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    let (p, addressed) = match &inc.object {
        Object::Actor(a) => {
            if a.id == inc.actor.id {
                w.put_actor(a)?;
            }
            return Ok(Outcome::default());
        }
        Object::Post { post, addressed_to_owner } => ((**post).clone(), *addressed_to_owner),
        _ => return Ok(Outcome::default()),
    };
    match w.post_id_by_uri(&p.uri)? {
        Some(id) => {
            let old = w.post(id)?;
            if let Some(old) = old {
                if old.local || old.author != inc.actor.id {
                    return Ok(Outcome::default()); // only the author edits, and never our posts
                }
                // An edit keeps what it replaced (the "edited" history on the post's page).
                if old.content != p.content || old.summary != p.summary || old.attachments != p.attachments {
                    let at = p.edited_ms.unwrap_or_else(now_ms);
                    let before = crate::store::PostVersion { content: old.content, source: String::new(), summary: old.summary, sensitive: old.sensitive, attachments: old.attachments, at_ms: old.edited_ms.unwrap_or(old.published_ms) };
                    w.add_post_version(id, at, &before)?;
                }
            }
            upsert_post(w, p)?;
        }
        None => {
            let followed = matches!(w.following(&inc.actor.id)?, Some(f) if f.state == FollowState::Accepted);
            if relevant(w, app, &p, followed, addressed)? {
                upsert_post(w, p)?;
            }
        }
    }
    Ok(Outcome::default())
}

fn delete(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    let Some(target) = object_id(inc) else { return Ok(Outcome::default()) };
    let who = inc.actor.id.as_str();
    if target == who {
        // The account is gone: forget the relationship and its posts (bounded per delivery).
        w.remove_follower(who)?;
        w.remove_follow_request(who)?;
        w.remove_following(who)?;
        for id in w.post_ids_by(who, 1000)? {
            w.delete_post(id, now_ms())?;
        }
        w.delete_actor(who)?;
        crate::federation::media_cache::purge_actor(app, who);
        return Ok(Outcome::default());
    }
    if let Some(id) = w.post_id_by_uri(&target)? {
        if let Some(p) = w.post(id)? {
            if !p.local && p.author == *who {
                w.delete_post(id, now_ms())?;
            }
        }
    }
    let _ = app;
    Ok(Outcome::default())
}

fn like(w: &mut Write, app: &App, inc: &Activity, activity_id: &str) -> Result<Outcome> {
    let Some(target) = object_id(inc) else { return Ok(Outcome::default()) };
    let Some(pid) = w.post_id_by_uri(&target)? else { return Ok(Outcome::default()) };
    let Some(p) = w.post(pid)? else { return Ok(Outcome::default()) };
    let kind = interaction_kind(inc.kind, inc.reaction.as_deref());
    let emoji_url = inc.reaction_emoji.as_ref().filter(|_| kind.starts_with("react:")).map(|u| u.to_string());
    let fresh = w.put_interaction(&target, &kind, &inc.actor.id, &Interaction { activity_id: activity_id.to_string(), at_ms: now_ms(), emoji_url })?;
    if fresh && p.local {
        let (nk, detail) = match kind.strip_prefix("react:") {
            Some(e) => (NotificationKind::Reaction, Some(e.to_string())),
            None if kind == "like" => (NotificationKind::Like, None),
            None => return Ok(Outcome::default()),
        };
        notify(w, nk, &inc.actor.id, Some(&target), detail)?;
    }
    let _ = app;
    Ok(Outcome::default())
}

fn announce(w: &mut Write, app: &App, inc: &Activity, activity_id: &str) -> Result<Outcome> {
    let Some(target) = object_id(inc) else { return Ok(Outcome::default()) };
    let who = &inc.actor.id.to_string();
    // A relay's Announce is no boost by a person: the post is kept as a relay post, off Home.
    if crate::domain::relays::is_active(w, who)? {
        if let Object::Boosted { post, author, .. } = &inc.object {
            w.put_actor(author)?;
            crate::domain::relays::store_relayed(w, app, (**post).clone())?;
        }
        return Ok(Outcome::default());
    }
    // A boost of one of our stored posts (ours or remote): record who boosted.
    if let Some(pid) = w.post_id_by_uri(&target)? {
        if let Some(p) = w.post(pid)? {
            let fresh = w.put_interaction(&target, "boost", who, &Interaction { activity_id: activity_id.to_string(), at_ms: now_ms(), emoji_url: None })?;
            if fresh && p.local {
                notify(w, NotificationKind::Boost, who, Some(&target), None)?;
            }
            let followed = crate::domain::follows::home_takes_boost(w.following(who)?.as_ref());
            if fresh && followed && !p.local {
                w.add_home(&HomeEntry { post_id: pid, boosted_by: Some(who.clone()) }, now_ms())?;
            }
            return Ok(Outcome::default());
        }
    }
    // Boosts of a followed account with `reblogs` off are not kept (they would only be for Home).
    if !crate::domain::follows::home_takes_boost(w.following(who)?.as_ref()) {
        return Ok(Outcome::default());
    }
    // A followed account (or Lemmy community) boosted something new: keep it, fetched from origin.
    // federation/activity.rs fetched it from its origin, with its author.
    let Object::Boosted { post, author, .. } = &inc.object else { return Ok(Outcome::default()) };
    let p = (**post).clone();
    w.put_actor(author)?;
    let uri = p.uri.clone();
    let parent = p.in_reply_to.clone();
    let (pid, _) = upsert_post(w, p)?;
    w.put_interaction(&uri, "boost", who, &Interaction { activity_id: activity_id.to_string(), at_ms: now_ms(), emoji_url: None })?;
    w.add_home(&HomeEntry { post_id: pid, boosted_by: Some(who.clone()) }, now_ms())?;
    let _ = app;
    Ok(Outcome { fetch_context: parent.filter(|par| w.post_id_by_uri(par).ok().flatten().is_none()).map(String::from), ..Default::default() })
}

fn moved(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    let old = inc.actor.id.as_str();
    let Object::MovedTo(new) = &inc.object else { return Ok(Outcome::default()) };
    // Mastodon's rule: the new account must name the old one in alsoKnownAs.
    if !new.also_known_as.iter().any(|a| a == old) {
        tracing::info!("ignoring Move of {old} to {}: not in its alsoKnownAs", new.id);
        return Ok(Outcome::default());
    }
    notify(w, NotificationKind::Move, old, None, Some(new.id.to_string()))?;
    crate::domain::follows::follow_moved_account(w, app, old, new)?;
    Ok(Outcome::default())
}

fn block(w: &mut Write, app: &App, inc: &Activity) -> Result<Outcome> {
    if object_id(inc).as_deref() == Some(app.urls.actor().as_str()) {
        let who = &inc.actor.id;
        w.remove_follower(who)?;
        w.remove_following(who)?;
    }
    Ok(Outcome::default())
}

fn featured(w: &mut Write, _app: &App, inc: &Activity, add: bool, activity_id: &str) -> Result<Outcome> {
    // Only pins to the sender's own featured collection count (activity.rs keeps no other target).
    if inc.target.is_none() {
        return Ok(Outcome::default());
    }
    let Some(post) = object_id(inc) else { return Ok(Outcome::default()) };
    if add {
        w.put_interaction(&post, "pin", &inc.actor.id, &Interaction { activity_id: activity_id.to_string(), at_ms: now_ms(), emoji_url: None })?;
    } else {
        w.remove_interaction(&post, "pin", &inc.actor.id)?;
    }
    Ok(Outcome::default())
}
