//! Updates of the owner's polls to followers' servers (issue 14). Remote votes change the counts
//! only here; followers' servers learn them from an `Update` of the `Question`, as Mastodon
//! sends. Votes are debounced: the first vote after an Update queues one `PollUpdate` job due
//! [`DEBOUNCE_UNITS`] × `delivery_backoff_unit_ms` later (30 s by default), and the votes until
//! then ride along, so 100 votes make one Update. Each poll also gets a `PollUpdate` at its
//! closing time, which sends the final counts with `closed`.

use crate::app::App;
use crate::domain::outbox;
use crate::error::Result;
use crate::federation::vocab;
use crate::model::{JobKind, Post};
use crate::store::Write;
use crate::time::now_ms;

/// The debounce, in units of `delivery_backoff_unit_ms` (1000 by default: 30 seconds; tests
/// shorten the unit).
pub const DEBOUNCE_UNITS: u64 = 30;

/// A vote changed poll `post`'s counts: queue its Update unless one is queued already.
pub fn vote_counted(w: &mut Write, app: &App, post: &Post) -> Result<()> {
    if post.local_only || w.poll_update_pending(post.id)? {
        return Ok(());
    }
    w.set_poll_update_pending(post.id, true)?;
    w.enqueue(JobKind::PollUpdate { post: post.id }, now_ms() + DEBOUNCE_UNITS * app.config.delivery_backoff_unit_ms)?;
    Ok(())
}

/// A new poll of the owner's: queue the Update that carries its final counts when it closes.
pub fn published(w: &mut Write, post: &Post) -> Result<()> {
    if let (Some(poll), false) = (&post.poll, post.local_only) {
        if let Some(end) = poll.ends_ms {
            w.enqueue(JobKind::PollUpdate { post: post.id }, end)?;
        }
    }
    Ok(())
}

/// The `PollUpdate` job `job`: an Update of poll `id` as it is now (closed, if its time is up)
/// to the post's audience, and the job done, in one transaction. A poll deleted meanwhile, still
/// in its undo window (its Create will carry the counts) or local-only just ends the job.
pub fn send_update(app: &App, job: u64, id: u64) -> Result<()> {
    app.store.write(|w| {
        w.set_poll_update_pending(id, false)?;
        if let Some(post) = w.post(id)?.filter(|p| p.local && p.poll.is_some() && p.held_until_ms.is_none() && !p.local_only) {
            let audience = outbox::post_audience(w, app, &post)?;
            let update = vocab::create_json(&app.urls, &post, "Update", &outbox::new_activity_id(app));
            outbox::send(w, app, update, audience)?;
        }
        w.finish_job(job)
    })
}
