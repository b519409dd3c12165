//! Scheduled posts and drafts (issue 14; Mastodon's `ScheduledStatus`). A scheduled post is a
//! record in `scheduledid_scheduled` plus a `PublishScheduled` queue job due at its time, both
//! in redb, so the timer survives restarts; `actions::publish_scheduled_due` publishes it. A
//! draft is a record without a time. Rescheduling adds a new job; a job whose record is no
//! longer due when it runs just ends.

use crate::app::App;
use crate::domain::posts;
use crate::error::{Error, Result};
use crate::model::{JobKind, Visibility};
use crate::store::{ScheduledParams, ScheduledPost};
use crate::time::now_ms;

/// Most scheduled posts and drafts kept at once (Mastodon allows 300).
pub const MAX_SCHEDULED: usize = 300;

fn check(app: &App, p: &ScheduledParams) -> Result<()> {
    if p.text.trim().is_empty() && p.media.is_empty() {
        return Err(Error::BadRequest("A post needs some text or an image".into()));
    }
    if p.text.chars().count() > posts::MAX_CHARS {
        return Err(Error::BadRequest(format!("A post can have at most {} characters", posts::MAX_CHARS)));
    }
    if p.cw.chars().count() > posts::MAX_CW {
        return Err(Error::BadRequest(format!("A content warning can have at most {} characters", posts::MAX_CW)));
    }
    if let Some(poll) = &p.poll {
        posts::check_poll(poll)?;
        if !p.media.is_empty() {
            return Err(Error::BadRequest("A post has either a poll or attachments, not both".into()));
        }
    }
    if p.media.len() > posts::MAX_ATTACHMENTS {
        return Err(Error::BadRequest(format!("A post can have at most {} attachments", posts::MAX_ATTACHMENTS)));
    }
    if let Some(l) = &p.language {
        posts::check_language(l)?;
    }
    if p.local_only && p.visibility == Visibility::Direct {
        return Err(Error::BadRequest("A direct message cannot stay on this site only".into()));
    }
    let _ = app;
    Ok(())
}

fn check_time(at_ms: Option<u64>) -> Result<()> {
    match at_ms {
        Some(t) if t <= now_ms() => Err(Error::BadRequest("The scheduled time must be in the future".into())),
        _ => Ok(()),
    }
}

/// Saves a scheduled post (`at_ms`: when to publish, in the future) or a draft (`None`).
pub fn create(app: &App, params: ScheduledParams, at_ms: Option<u64>) -> Result<ScheduledPost> {
    check(app, &params)?;
    check_time(at_ms)?;
    app.store.write(|w| {
        if w.scheduled_count()? >= MAX_SCHEDULED {
            return Err(Error::BadRequest(format!("At most {MAX_SCHEDULED} scheduled posts and drafts")));
        }
        let mut s = ScheduledPost { id: 0, scheduled_ms: at_ms, created_ms: now_ms(), params: params.clone() };
        w.insert_scheduled(&mut s)?;
        if let Some(t) = at_ms {
            w.enqueue(JobKind::PublishScheduled { scheduled: s.id }, t)?;
        }
        Ok(s)
    })
}

/// Changes when a scheduled post is published (`None`: make it a draft) and, when given, what
/// it says.
pub fn update(app: &App, id: u64, at_ms: Option<u64>, params: Option<ScheduledParams>) -> Result<ScheduledPost> {
    if let Some(p) = &params {
        check(app, p)?;
    }
    check_time(at_ms)?;
    app.store.write(|w| {
        let mut s = w.scheduled(id)?.ok_or(Error::NotFound)?;
        if let Some(mut p) = params.clone() {
            // Attachments stay those saved with it.
            p.media = s.params.media.clone();
            s.params = p;
        }
        let moved = s.scheduled_ms != at_ms;
        s.scheduled_ms = at_ms;
        w.update_scheduled(&s)?;
        if let (true, Some(t)) = (moved, at_ms) {
            w.enqueue(JobKind::PublishScheduled { scheduled: id }, t)?;
        }
        Ok(s)
    })
}

/// Deletes a scheduled post or draft and its media files.
pub fn delete(app: &App, id: u64) -> Result<ScheduledPost> {
    let s = app.store.write(|w| w.take_scheduled(id)?.ok_or(Error::NotFound))?;
    posts::remove_attachment_files(app, &s.params.media);
    Ok(s)
}
