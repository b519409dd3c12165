//! Direct conversations, one rule for both faces: the client API's `/api/v1/conversations`
//! (handlers/api/conversations.rs) and the deck's "Direct" column on the owner's pages. They
//! hold the owner's direct posts and those addressed to the owner, including issue 16's silent
//! mentions (a note whose `to` names the owner without a Mention tag: stored, on home, no
//! notification).
//!
//! A conversation is a thread: its id is the id of the thread's root post as far as pipit holds
//! it (walking `in_reply_to` up, at most [`MAX_HOPS`]); it is shown by the newest direct post of
//! the thread (a direct post with no stored direct reply). Rows come from the home timeline, so
//! the scan is bounded like every timeline page. Read and removed marks are the owner's
//! (store/conversations.rs).

use crate::app::App;
use crate::domain::safety::{Screen, Screener};
use crate::domain::timeline;
use crate::error::Result;
use crate::model::{Post, Visibility};
use crate::store::Range;

/// Parents followed up to find a thread's root.
pub const MAX_HOPS: usize = 16;

/// One conversation: (home entry id, conversation id, newest post, read-up-to home entry id).
pub type Row = (u64, u64, Post, u64);

/// Direct conversations in `range` (home entry ids), newest first; `only` keeps the one whose
/// id is given. Posts the owner's filters hide are left out; removed conversations come back
/// only with a newer entry. Errors: the store's.
pub fn rows(app: &App, range: &Range, only: Option<u64>) -> Result<Vec<Row>> {
    let screener = Screener::new(app, "home");
    let mut out: Vec<Row> = Vec::new();
    app.store.read(|r| {
        r.home_ids(range, &mut |id| {
            let Some(e) = r.home_entry(id)? else { return Ok(false) };
            if e.boosted_by.is_some() {
                return Ok(false);
            }
            let Some(p) = r.post(e.post_id)? else { return Ok(false) };
            if p.visibility != Visibility::Direct || !timeline::on_home(app, &e, &p) || screener.screen(&p, None) == Screen::Hide {
                return Ok(false);
            }
            // Not the newest of its thread: the direct reply below it stands for the conversation.
            if r.replies(p.uri.as_str(), 20)?.iter().any(|ch| ch.visibility == Visibility::Direct) {
                return Ok(false);
            }
            let mut root = p.id;
            let mut parent = p.in_reply_to.clone();
            for _ in 0..MAX_HOPS {
                let Some(u) = parent else { break };
                let Some(pp) = r.post_by_uri(u.as_str())? else { break };
                root = pp.id;
                parent = pp.in_reply_to.clone();
            }
            if only.is_some_and(|o| o != root) || out.iter().any(|(_, conv, _, _)| *conv == root) {
                return Ok(false);
            }
            let (read, removed) = r.conversation_marks(root)?;
            // Marks are home entry ids: arrival order (a remote post's own id follows its
            // `published`, which may be older than what the owner already read).
            if id <= removed {
                return Ok(false);
            }
            out.push((id, root, p, read));
            Ok(true)
        })
    })?;
    // Scans upwards (min_id) visit oldest first: pages are always newest first.
    out.sort_by_key(|row| std::cmp::Reverse(row.0));
    Ok(out)
}
