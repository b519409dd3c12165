//! Conversations (`GET /api/v1/conversations`, `POST …/:id/read`, `DELETE …/:id`): the owner's
//! direct posts and those addressed to the owner, including the "silent mentions" of issue 16
//! (a note whose `to` names the owner without a Mention tag: stored, on home, no notification).
//!
//! A conversation is a thread: its id is the id of the thread's root post as far as pipit holds
//! it (walking `in_reply_to` up, at most [`crate::domain::conversations::MAX_HOPS`]). Its `last_status` is the newest direct
//! post of the thread, i.e. a direct post with no stored direct reply. Rows come from the home
//! timeline (where pipit puts the owner's posts, mentions and addressed posts), so the scan is
//! bounded like every timeline page, and `Link` cursors are home entry ids. Read and removed
//! marks are kept per conversation (store/conversations.rs); a removed conversation comes back
//! when a newer status arrives, as on Mastodon.

use super::entities::Ctx;
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::conversations::Row;
use crate::domain::timeline::Viewer;
use crate::model::Post;
use crate::store::Range;
use serde_json::{json, Value};

/// Direct conversations in `range` (home entry ids), newest first; `only` keeps one conversation
/// (the rule is domain::conversations, shared with the deck's Direct column).
fn rows(c: &Call, range: &Range, only: Option<u64>) -> Result<Vec<Row>, ApiError> {
    Ok(crate::domain::conversations::rows(&c.app, range, only)?)
}

/// A Conversation entity: `id`, `unread`, `accounts` (the others in it), `last_status`.
fn entity(ctx: &Ctx, entry: u64, conv: u64, p: &Post, read: u64) -> Value {
    let mut others: Vec<String> = Vec::new();
    for a in std::iter::once(p.author.clone()).chain(p.mentions.iter().map(|m| m.href.to_string())) {
        if !ctx.is_me(&a) && !others.contains(&a) {
            others.push(a);
        }
    }
    json!({
        "id": conv.to_string(),
        // The owner's own post never makes a conversation unread.
        "unread": !p.local && entry > read,
        "accounts": others.iter().map(|a| ctx.account(a)).collect::<Vec<Value>>(),
        "last_status": ctx.status(p, None),
    })
}

fn render(c: &Call, rows: &[Row]) -> Result<Vec<Value>, ApiError> {
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare(rows.iter().map(|(_, _, p, _)| p), []);
    let items = rows.iter().map(|(entry, conv, p, read)| entity(&ctx, *entry, *conv, p, *read)).collect();
    Ok(items)
}

/// `GET /api/v1/conversations` with `max_id`/`since_id`/`min_id`/`limit` (20, at most 40).
pub fn list(c: &Call) -> ApiResult {
    c.user("read:statuses")?;
    let rows = rows(c, &c.range(20, 40), None)?;
    let items = render(c, &rows)?;
    c.paged(items, rows.first().map(|r| r.0), rows.last().map(|r| r.0))
}

/// The conversation `:id` as it is now, or 404 (unknown, or removed with nothing newer).
fn find(c: &Call) -> Result<Row, ApiError> {
    let id = c.id_seg(3)?;
    let all = Range { max_id: None, since_id: None, min_id: None, limit: 1 };
    rows(c, &all, Some(id))?.into_iter().next().ok_or_else(ApiError::not_found)
}

/// `POST /api/v1/conversations/:id/read`: the Conversation, now read.
pub fn read(c: &Call) -> ApiResult {
    c.user("write:conversations")?;
    let row = find(c)?;
    c.app.store.write(|w| w.mark_conversation_read(row.1, row.0))?;
    let items = render(c, &[(row.0, row.1, row.2, u64::MAX)])?;
    ok(&items[0])
}

/// `DELETE /api/v1/conversations/:id`: `{}`; it stays hidden until a newer status arrives.
pub fn remove(c: &Call) -> ApiResult {
    c.user("write:conversations")?;
    let row = find(c)?;
    c.app.store.write(|w| w.remove_conversation(row.1, row.0))?;
    ok(&json!({}))
}
