//! The owner's emoji reactions to posts: sent as `EmojiReact` (Pleroma, Akkoma, Misskey and
//! FEP-c0e0) with the emoji in `content` and in Misskey's `_misskey_reaction` (Misskey and its
//! forks read that first, and also take a `Like` or `EmojiReact` carrying it); a custom emoji
//! goes with its `Emoji` tag. Undone with `Undo`. Both go through the delivery queue, and the
//! reaction is stored like any other (store/reactions.rs counts it).

use crate::app::App;
use crate::domain::outbox::{self, new_activity_id};
use crate::error::{Error, Result};
use crate::federation::vocab;
use crate::model::{Audience, Interaction};
use crate::store::reactions::REACT;
use crate::time::now_ms;
use serde_json::{json, Value};

/// Checks a reaction the owner typed or picked: one Unicode emoji (at most 16 characters,
/// no letters, digits, spaces or markup), or `:code:` of a custom emoji someone already
/// reacted with to this post (we have its image). Errors: `BadRequest` naming the rule.
fn checked(emoji: &str) -> Result<String> {
    let e = emoji.trim();
    let custom = e.len() > 2 && e.starts_with(':') && e.ends_with(':') && e[1..e.len() - 1].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    let unicode = !e.is_empty() && e.chars().count() <= 16 && !e.chars().any(|c| c.is_alphanumeric() || c.is_whitespace() || c.is_control() || "<>&\"':".contains(c));
    if custom || unicode {
        Ok(e.to_string())
    } else {
        Err(Error::BadRequest("A reaction is one emoji, or the :code: of a custom emoji already on the post".into()))
    }
}

fn activity_json(app: &App, ap_type: &str, id: &str, post_uri: &str, author: &str, emoji: &str, emoji_url: Option<&str>) -> Value {
    let mut act = vocab::simple_json(&app.urls, ap_type, id, json!(post_uri), vec![author.to_string()], vec![]);
    act["content"] = json!(emoji);
    act["_misskey_reaction"] = json!(emoji);
    if let Some(u) = emoji_url {
        act["tag"] = json!([{ "id": u, "type": "Emoji", "name": emoji, "icon": { "type": "Image", "url": u } }]);
    }
    act
}

/// Reacts to a stored post with `emoji` (see `checked`). Reacting twice with the same emoji
/// does nothing. Errors: `NotFound` (no such post), `BadRequest` (not an emoji, or a custom one
/// nobody used on this post).
pub fn react(app: &App, post_uri: &str, emoji: &str) -> Result<()> {
    let emoji = checked(emoji)?;
    app.store.write(|w| {
        let pid = w.post_id_by_uri(post_uri)?.ok_or(Error::NotFound)?;
        let p = w.post(pid)?.ok_or(Error::NotFound)?;
        let me = app.urls.actor();
        let kind = format!("{REACT}{emoji}");
        if w.interaction(post_uri, &kind, &me)?.is_some() {
            return Ok(());
        }
        let emoji_url = if emoji.starts_with(':') {
            let known = w.reaction_count(post_uri, &emoji)?.and_then(|c| c.url);
            Some(known.ok_or_else(|| Error::BadRequest(format!("{emoji} is not a custom emoji used on this post")))?)
        } else {
            None
        };
        let id = new_activity_id(app);
        w.put_interaction(post_uri, &kind, &me, &Interaction { activity_id: id.clone(), at_ms: now_ms(), emoji_url: emoji_url.clone() })?;
        if p.local {
            return Ok(()); // our own post: counted, nobody to tell
        }
        let inbox = w.actor(&p.author)?.map(|a| a.inbox.into_string());
        let act = activity_json(app, "EmojiReact", &id, post_uri, &p.author, &emoji, emoji_url.as_deref());
        outbox::send(w, app, act, Audience { followers: false, inboxes: inbox.into_iter().collect() })?;
        Ok(())
    })
}

/// Takes the owner's `emoji` reaction back and sends `Undo` of it. Errors: `NotFound` when
/// there is no such reaction.
pub fn unreact(app: &App, post_uri: &str, emoji: &str) -> Result<()> {
    let emoji = emoji.trim();
    app.store.write(|w| {
        let me = app.urls.actor();
        let old = w.remove_interaction(post_uri, &format!("{REACT}{emoji}"), &me)?.ok_or(Error::NotFound)?;
        let Some(p) = w.post_id_by_uri(post_uri)?.and_then(|id| w.post(id).ok().flatten()) else { return Ok(()) };
        if p.local {
            return Ok(());
        }
        let inbox = w.actor(&p.author)?.map(|a| a.inbox.into_string());
        let mut inner = activity_json(app, "EmojiReact", &old.activity_id, post_uri, &p.author, emoji, old.emoji_url.as_deref());
        if let Some(o) = inner.as_object_mut() {
            o.remove("@context");
        }
        let act = vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), inner, vec![p.author.clone()], vec![]);
        outbox::send(w, app, act, Audience { followers: false, inboxes: inbox.into_iter().collect() })?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reactions_are_one_emoji() {
        for ok in ["🎉", "👍🏽", "❤️", ":blob_cat:", "🏳️‍🌈"] {
            assert!(super::checked(ok).is_ok(), "{ok}");
        }
        // Bad input: words, markup, empty, a shortcode with a space, a very long run.
        for bad in ["", "lol", "<b>", ": x:", "\"🎉", &"🎉".repeat(17)] {
            assert!(super::checked(bad).is_err(), "{bad}");
        }
    }
}
