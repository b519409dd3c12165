//! Reply-and-elevate (issue 14): what /community shows the owner. Everything comes from the
//! indexes store/community.rs keeps on every post write; nothing here scans posts.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::Post;
use crate::store::DAY_MS;

/// Windows the top-replier list offers, in days.
pub const WINDOWS: [u64; 2] = [7, 30];

/// One account that replied to the owner: how often in the window, and its latest replies
/// (newest first) to link the conversations.
pub struct Replier {
    pub actor: String,
    pub count: u64,
    pub replies: Vec<Post>,
}

/// The top `limit` repliers of the last `days` days (7 or 30; the current UTC day counts as
/// one), each with up to `per` of their replies in that window. `BadRequest` for another window.
pub fn top_repliers(app: &App, days: u64, limit: usize, per: usize) -> Result<Vec<Replier>> {
    if !WINDOWS.contains(&days) {
        return Err(Error::BadRequest("The window is 7 or 30 days".into()));
    }
    let today = crate::time::now_ms() / DAY_MS;
    let since_day = today.saturating_sub(days - 1);
    let since_id = (since_day * DAY_MS) << 16;
    app.store.read(|r| {
        let mut out = Vec::new();
        for (actor, count) in r.top_repliers(since_day, limit)? {
            let replies = r.replies_by(&actor, since_id, per)?;
            out.push(Replier { actor, count, replies });
        }
        Ok(out)
    })
}

/// Replies to the owner's posts the owner has not answered, newest first (`before`: cursor).
pub fn unanswered(app: &App, before: Option<u64>, limit: usize) -> Result<(Vec<Post>, Option<u64>)> {
    app.store.read(|r| r.unanswered_replies(before, limit))
}

/// Takes a reply off the unanswered list without answering it.
pub fn dismiss(app: &App, id: u64) -> Result<()> {
    app.store.write(|w| w.dismiss_reply(id)).map(|_| ())
}
