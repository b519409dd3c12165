//! Statuses: `POST /api/v1/statuses`, `GET|DELETE /api/v1/statuses/:id`, `/:id/context`, and
//! `/:id/{favourite,unfavourite,reblog,unreblog,bookmark,unbookmark}`. Each calls the domain
//! operation the web pages call (actions::publish, posts::delete, follows::like/boost, …).

use super::entities::Ctx;
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::timeline::{self, Viewer};
use crate::domain::{follows, posts};
use crate::error::Error;
use crate::model::{Post, Visibility};
use serde_json::{json, Value};

/// A post by status id: a post id, or a home entry id (a boost) which means its post.
fn stored(c: &Call, viewer: Viewer, id: u64) -> Result<Post, ApiError> {
    match timeline::post(&c.app, viewer, id) {
        Ok(p) => Ok(p),
        Err(Error::NotFound) => {
            let entry = c.app.store.read(|r| r.home_entry(id))?;
            match entry {
                Some(e) if viewer == Viewer::Owner => Ok(timeline::post(&c.app, viewer, e.post_id)?),
                _ => Err(ApiError::not_found()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/statuses`: `status`, `spoiler_text`, `visibility`, `in_reply_to_id`,
/// `language`, `sensitive`, `media_ids[]` (uploads from /api/v2/media), `poll[options][]`,
/// `poll[expires_in]`, `poll[multiple]`, `local_only` (glitch-soc), `scheduled_at` (answers a
/// ScheduledStatus). Unset `visibility` and `language` take the settings' defaults.
pub async fn create(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    // A retried request (same Idempotency-Key within the hour) gets the post it already made.
    const KEEP_MS: u64 = 3600 * 1000;
    let now = crate::time::now_ms();
    let idem = c.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).filter(|k| !k.is_empty() && k.len() <= 512).map(crate::secret::hash_token);
    if let Some(k) = &idem {
        if let Some(id) = c.app.store.read(|r| r.idempotent_post(k, now.saturating_sub(KEEP_MS)))? {
            if let Some(post) = c.app.store.read(|r| r.post(id))? {
                let ctx = Ctx::new(&c.app, Viewer::Owner)?;
                ctx.prepare([&post], []);
                return ok(&ctx.status(&post, None));
            }
        }
    }
    let p = &c.params;
    let media = super::media::take(c, &p.all("media_ids"))?;
    let defaults = c.app.store.read(|r| r.profile())?.posting;
    let visibility = match p.get("visibility").filter(|v| !v.is_empty()) {
        None => defaults.visibility,
        Some(v) => Visibility::parse(v).ok_or_else(|| ApiError::unprocessable("visibility: public, unlisted, private or direct"))?,
    };
    let language = match p.get("language").filter(|l| !l.is_empty()) {
        Some(lang) => Some(posts::check_language(lang).map_err(|_| ApiError::unprocessable("language: an ISO 639 code"))?),
        None => None,
    };
    p.flag("sensitive")?;
    // `local_only` as glitch-soc and Hometown accept it (issue 14).
    let local_only = p.flag("local_only")?;
    let options: Vec<String> = p.all("poll[options]").into_iter().map(str::to_string).collect();
    let poll = if options.is_empty() {
        None
    } else {
        let expires_secs = match p.get("poll[expires_in]").filter(|v| !v.is_empty()) {
            None => posts::DEFAULT_POLL_SECS,
            Some(v) => v.trim().parse().map_err(|_| ApiError::unprocessable("poll[expires_in]: seconds"))?,
        };
        let spec = crate::store::PollSpec { options, multiple: p.flag("poll[multiple]")?.unwrap_or(false), expires_secs };
        posts::check_poll(&spec).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        Some(spec)
    };
    let in_reply_to = match p.get("in_reply_to_id").filter(|v| !v.is_empty()) {
        None => None,
        Some(id) => {
            let id: u64 = id.parse().map_err(|_| ApiError::not_found())?;
            Some(stored(c, Viewer::Owner, id)?.uri.into_string())
        }
    };
    let (media_ids, attachments): (Vec<u64>, Vec<crate::model::Attachment>) = media.into_iter().unzip();
    // `scheduled_at` in the future: a ScheduledStatus, published by the queue then (a time
    // already past publishes now, as Mastodon does).
    if let Some(at) = p.get("scheduled_at").filter(|v| !v.is_empty()) {
        let at_ms = crate::time::parse_rfc3339(at).ok_or_else(|| ApiError::unprocessable("scheduled_at: an ISO 8601 date and time"))?;
        if at_ms > now {
            let params = crate::store::ScheduledParams { text: p.text("status"), cw: p.text("spoiler_text"), visibility, in_reply_to, language, local_only: local_only.unwrap_or(false), poll, media: attachments };
            let s = crate::domain::scheduled::create(&c.app, params, Some(at_ms))?;
            super::media::attached(c, &media_ids, s.id)?;
            return ok(&super::publishing::scheduled_entity(c, &s, &media_ids));
        }
    }
    let compose = crate::actions::Compose {
        text: p.text("status"),
        cw: p.text("spoiler_text"),
        visibility,
        in_reply_to,
        media: Vec::new(),
        quote: None,
    };
    let how = posts::Publishing { local_only, language, poll, scheduled: None };
    let post = crate::actions::publish_with(&c.app, compose, attachments, how).await?;
    super::media::attached(c, &media_ids, post.id)?;
    if let Some(k) = &idem {
        c.app.store.write(|w| w.put_idempotent_post(k, post.id, now, now.saturating_sub(KEEP_MS)))?;
    }
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare([&post], []);
    ok(&ctx.status(&post, None))
}

/// `GET /api/v1/statuses/:id`
pub fn get(c: &Call) -> ApiResult {
    let viewer = c.viewer("read:statuses")?;
    let id = c.id_seg(3)?;
    let p = stored(c, viewer, id)?;
    let ctx = Ctx::new(&c.app, viewer)?;
    ctx.prepare([&p], []);
    // A boost's id shows the boost.
    if p.id != id {
        if let Some(e) = c.app.store.read(|r| r.home_entry(id))? {
            return ok(&ctx.home_status(id, &e, &p));
        }
    }
    ok(&ctx.status(&p, None))
}

/// `DELETE /api/v1/statuses/:id`: the deleted Status with its source `text`, for redrafting.
pub fn delete(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    let id = c.id_seg(3)?;
    let p = stored(c, Viewer::Owner, id)?;
    if !p.local {
        return Err(ApiError::new(403, "This action is not allowed"));
    }
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare([&p], []);
    let mut v = ctx.status(&p, None);
    posts::delete(&c.app, p.id)?;
    v["text"] = json!(p.source);
    ok(&v)
}

/// `GET /api/v1/statuses/:id/context`: ancestors oldest first, descendants in thread order.
pub fn context(c: &Call) -> ApiResult {
    let need = super::Need::Viewer("read:statuses");
    let id = c.after_auth(need, c.id_seg(3))?;
    // One read transaction for the token, the post, its thread and every status built (issue 15).
    let got = c.read_as(need, |r, viewer| {
        let p = match timeline::post_in(&c.app, r, viewer, id) {
            Ok(p) => p,
            // A boost's status id is its home entry (as `stored`).
            Err(Error::NotFound) => match r.home_entry(id)? {
                Some(e) if viewer == Viewer::Owner => timeline::post_in(&c.app, r, viewer, e.post_id)?,
                _ => return Ok(None),
            },
            Err(e) => return Err(e),
        };
        let t = timeline::thread_in(&c.app, r, viewer, p.id)?;
        let screener = crate::domain::safety::Screener::new_in(&c.app, r, "thread");
        let replies: Vec<&Post> = t.replies.iter().map(|x| &x.post).filter(|p| screener.screen_in(r, p, None) != crate::domain::safety::Screen::Hide).collect();
        let ctx = Ctx::new_in(&c.app, r, viewer)?;
        ctx.prepare(t.ancestors.iter().chain(replies.iter().copied()), []);
        Ok(Some(json!({
            "ancestors": t.ancestors.iter().map(|a| ctx.status(a, None)).collect::<Vec<Value>>(),
            "descendants": replies.iter().map(|d| ctx.status(d, None)).collect::<Vec<Value>>(),
        })))
    })?;
    match got {
        Some(v) => ok(&v),
        None => Err(ApiError::not_found()),
    }
}

/// `POST /api/v1/statuses/:id/{favourite,reblog,bookmark,pin,mute}` and their undo: idempotent;
/// answers the Status as it is now.
pub fn action(c: &Call, what: &str) -> ApiResult {
    let scope = match what {
        "favourite" | "unfavourite" => "write:favourites",
        "bookmark" | "unbookmark" => "write:bookmarks",
        "pin" | "unpin" => "write:accounts",
        "mute" | "unmute" => "write:mutes",
        _ => "write:statuses",
    };
    c.user(scope)?;
    let p = stored(c, Viewer::Owner, c.id_seg(3)?)?;
    let undo_ok = |r: crate::error::Result<()>| match r {
        Err(Error::NotFound) => Ok(()), // nothing to undo
        other => other,
    };
    match what {
        "favourite" => follows::like(&c.app, &p.uri)?,
        "unfavourite" => undo_ok(follows::unlike(&c.app, &p.uri))?,
        "reblog" => follows::boost(&c.app, &p.uri).map_err(|e| match e {
            Error::BadRequest(m) => ApiError::unprocessable(m),
            e => e.into(),
        })?,
        "unreblog" => undo_ok(follows::unboost(&c.app, &p.uri))?,
        "mute" | "unmute" => timeline::mute_thread(&c.app, &p, what == "mute")?,
        "pin" | "unpin" => {
            if !p.local {
                return Err(ApiError::unprocessable("Only your own posts can be pinned"));
            }
            let pinned = c.app.store.read(|r| r.is_pinned(p.id))?;
            if pinned != (what == "pin") {
                follows::toggle_pin(&c.app, p.id).map_err(|e| match e {
                    Error::BadRequest(m) => ApiError::unprocessable(m),
                    e => e.into(),
                })?;
            }
        }
        _ => {
            let want = what == "bookmark";
            let id = p.id;
            c.app.store.write(|w| {
                // The store keeps bookmarks as a toggle: flip only when the state differs.
                if w.toggle_bookmark(id)? != want {
                    w.toggle_bookmark(id)?;
                }
                Ok(())
            })?;
        }
    }
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare([&p], []);
    ok(&ctx.status(&p, None))
}
