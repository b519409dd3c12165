//! Publishing in the client API (issue 14): `GET /api/v1/statuses/:id/history` (StatusEdit
//! list) and `/api/v1/scheduled_statuses` (list, get, `PUT` a new `scheduled_at`, delete).
//! Faces over domain::scheduled and the store's post versions.

use super::entities::{iso, media_entity, visibility, Ctx};
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::timeline;
use crate::store::ScheduledPost;
use serde_json::{json, Value};

/// Mastodon's `ScheduledStatus`: `{id, scheduled_at, params: {text, spoiler_text, visibility,
/// poll, media_ids, in_reply_to_id, language, …}, media_attachments}`.
pub fn scheduled_entity(c: &Call, s: &ScheduledPost, media_ids: &[u64]) -> Value {
    let p = &s.params;
    let in_reply_to_id = p.in_reply_to.as_deref().and_then(|u| c.app.store.read(|r| r.post_id_by_uri(u)).ok().flatten()).map(|id| id.to_string());
    json!({
        "id": s.id.to_string(),
        "scheduled_at": s.scheduled_ms.map(iso),
        "params": {
            "text": p.text,
            "spoiler_text": if p.cw.is_empty() { Value::Null } else { json!(p.cw) },
            "sensitive": !p.cw.is_empty(),
            "visibility": visibility(p.visibility),
            "poll": p.poll.as_ref().map(|q| json!({ "options": q.options, "multiple": q.multiple, "expires_in": q.expires_secs })),
            "media_ids": if media_ids.is_empty() { Value::Null } else { json!(media_ids.iter().map(u64::to_string).collect::<Vec<_>>()) },
            "in_reply_to_id": in_reply_to_id,
            "language": p.language,
            "local_only": p.local_only,
            "scheduled_at": Value::Null,
            "application_id": Value::Null,
            "idempotency": Value::Null,
            "with_rate_limit": false,
        },
        "media_attachments": p.media.iter().enumerate().map(|(i, a)| media_entity(s.id + i as u64, a, false)).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/scheduled_statuses`: newest first (at most 300, pipit's limit, in one page).
pub fn list(c: &Call) -> ApiResult {
    c.user("read:statuses")?;
    let limit = c.params.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).clamp(1, crate::domain::scheduled::MAX_SCHEDULED);
    let items = c.app.store.read(|r| r.scheduled_posts(limit))?;
    // Drafts (no time) are a page feature; the API lists what is scheduled.
    ok(&json!(items.iter().filter(|s| s.scheduled_ms.is_some()).map(|s| scheduled_entity(c, s, &[])).collect::<Vec<_>>()))
}

/// `GET /api/v1/scheduled_statuses/:id`
pub fn get(c: &Call) -> ApiResult {
    c.user("read:statuses")?;
    let id = c.id_seg(3)?;
    let s = c.app.store.read(|r| r.scheduled(id))?.ok_or_else(ApiError::not_found)?;
    ok(&scheduled_entity(c, &s, &[]))
}

/// `PUT /api/v1/scheduled_statuses/:id` with `scheduled_at` (in the future; 422 otherwise).
pub fn update(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    let id = c.id_seg(3)?;
    let at = c.params.get("scheduled_at").filter(|v| !v.is_empty()).ok_or_else(|| ApiError::unprocessable("scheduled_at: required"))?;
    let at_ms = crate::time::parse_rfc3339(at).ok_or_else(|| ApiError::unprocessable("scheduled_at: an ISO 8601 date and time"))?;
    let s = crate::domain::scheduled::update(&c.app, id, Some(at_ms), None)?;
    ok(&scheduled_entity(c, &s, &[]))
}

/// `DELETE /api/v1/scheduled_statuses/:id`: `{}`.
pub fn delete(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    crate::domain::scheduled::delete(&c.app, c.id_seg(3)?)?;
    ok(&json!({}))
}

/// `GET /api/v1/statuses/:id/history`: every version as a `StatusEdit`, oldest first, the
/// current one last (a post never edited has one).
pub fn history(c: &Call) -> ApiResult {
    let viewer = c.viewer("read:statuses")?;
    let p = timeline::post(&c.app, viewer, c.id_seg(3)?)?;
    let ctx = Ctx::new(&c.app, viewer)?;
    ctx.prepare([&p], []);
    let account = ctx.account(&p.author);
    let versions = c.app.store.read(|r| r.post_versions(p.id, 100))?;
    let mut out: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "content": v.content,
                "spoiler_text": v.summary,
                "sensitive": v.sensitive || !v.summary.is_empty(),
                "created_at": iso(v.at_ms),
                "account": account,
                "poll": Value::Null,
                "media_attachments": v.attachments.iter().enumerate().map(|(i, a)| media_entity(p.id + i as u64, a, !p.local)).collect::<Vec<_>>(),
                "emojis": [],
            })
        })
        .collect();
    let current = ctx.status(&p, None);
    out.push(json!({
        "content": current["content"],
        "spoiler_text": current["spoiler_text"],
        "sensitive": current["sensitive"],
        "created_at": iso(p.edited_ms.unwrap_or(p.published_ms)),
        "account": account,
        "poll": current["poll"],
        "media_attachments": current["media_attachments"],
        "emojis": current["emojis"],
    }));
    ok(&json!(out))
}
