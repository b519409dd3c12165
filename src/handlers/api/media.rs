//! Media: `POST /api/v2/media` and `/api/v1/media` (multipart `file`, `description`),
//! `GET|PUT /api/v1/media/:id`. The body is streamed to DATA/tmp by server::upload (the
//! pages' parser); images are checked and saved by domain::media (the same as the
//! compose form's), kept as pending until `POST /api/v1/statuses` names them in `media_ids`.
//! The `url` is set at once, so clients that poll (masto.js) stop after one look.

use super::entities::media_entity;
use super::{ok, ApiError, ApiResult, Call};
use crate::error::Error;
use crate::model::Attachment;
use crate::store::PendingMedia;

/// Uploads older than this that no post took are removed.
const PENDING_MS: u64 = 24 * 3600 * 1000;

fn check_alt(alt: &str) -> Result<(), ApiError> {
    if alt.chars().count() > 1500 {
        return Err(ApiError::unprocessable("description: at most 1500 characters"));
    }
    Ok(())
}

/// Mastodon's `focus`: `"x,y"`, each −1.0…1.0 → hundredths (the compose page's unit).
fn parse_focus(s: &str) -> Result<Option<(i16, i16)>, ApiError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::unprocessable("focus: two numbers -1.0 to 1.0, \"x,y\"");
    let (x, y) = s.split_once(',').ok_or_else(bad)?;
    let f = |v: &str| -> Result<i16, ApiError> {
        let v: f64 = v.trim().parse().map_err(|_| bad())?;
        if !v.is_finite() || !(-1.0..=1.0).contains(&v) {
            return Err(bad());
        }
        Ok((v * 100.0).round() as i16)
    };
    Ok(Some((f(x)?, f(y)?)))
}

/// `POST /api/v2/media`
pub fn upload(c: &Call) -> ApiResult {
    c.user("write:media")?;
    let f = c.files.iter().find(|f| f.name == "file").ok_or_else(|| ApiError::unprocessable("file: attach an image (multipart/form-data)"))?;
    if f.len > c.app.config.max_upload_kib as u64 * 1024 {
        return Err(ApiError::new(413, format!("file: larger than {} KiB", c.app.config.max_upload_kib)));
    }
    let alt = c.params.text("description");
    check_alt(&alt)?;
    let focus = parse_focus(&c.params.text("focus"))?;
    let now = crate::time::now_ms();
    let stale = c.app.store.write(|w| w.sweep_pending_media(now.saturating_sub(PENDING_MS), 20))?;
    for file in stale {
        // The original and its preview.
        crate::domain::media::remove(&c.app, &file);
    }
    // Streamed to DATA/tmp by server::upload; processed from that file as the compose page does.
    let saved = crate::domain::media::save_image(&c.app, f.path.as_path()).map_err(|e| match e {
        Error::BadRequest(m) | Error::UnsupportedMediaType(m) => ApiError::unprocessable(m),
        e => e.into(),
    })?;
    // The same pipeline as the compose page (domain::posts::save_uploads): EXIF stripped, preview, blurhash.
    let url = crate::httpurl::HttpUrl::parse(&c.app.urls.media(&saved.file)).ok_or_else(|| Error::Internal("media URL is not http(s)".into()))?;
    let attachment = Attachment {
        url,
        media_type: saved.media_type.into(),
        alt: alt.trim().to_string(),
        width: saved.width,
        height: saved.height,
        blurhash: saved.blurhash,
        preview_url: saved.preview.as_deref().map(|f| c.app.urls.media(f)),
        focal_point: focus,
    };
    let m = PendingMedia { attachment, file: saved.file, created_ms: now, post_id: None };
    let id = c.app.store.write(|w| w.insert_pending_media(&m))?;
    ok(&media_entity(id, &m.attachment, false))
}

/// `GET /api/v1/media/:id`
pub fn get(c: &Call) -> ApiResult {
    c.user("write:media")?;
    let id = c.id_seg(3)?;
    let m = c.app.store.read(|r| r.pending_media(id))?.ok_or_else(ApiError::not_found)?;
    ok(&media_entity(id, &m.attachment, false))
}

/// `PUT /api/v1/media/:id`: `description` (alt text), before the post is made.
pub fn update(c: &Call) -> ApiResult {
    c.user("write:media")?;
    let id = c.id_seg(3)?;
    let alt = c.params.get("description").map(|d| d.trim().to_string());
    if let Some(a) = &alt {
        check_alt(a)?;
    }
    let focus = match c.params.get("focus") {
        Some(f) => parse_focus(f)?,
        None => None,
    };
    let m = c.app.store.write(|w| {
        let Some(mut m) = w.pending_media(id)? else { return Ok(None) };
        if m.post_id.is_none() && (alt.is_some() || focus.is_some()) {
            if let Some(a) = &alt {
                m.attachment.alt = a.clone();
            }
            if focus.is_some() {
                m.attachment.focal_point = focus;
            }
            w.put_pending_media(id, &m)?;
        }
        Ok(Some(m))
    })?;
    let m = m.ok_or_else(ApiError::not_found)?;
    ok(&media_entity(id, &m.attachment, false))
}

/// The attachments `media_ids` name, in order: each an upload not yet in a post.
pub fn take(c: &Call, ids: &[&str]) -> Result<Vec<(u64, Attachment)>, ApiError> {
    let mut out = Vec::new();
    for s in ids {
        let id: u64 = s.parse().map_err(|_| ApiError::unprocessable("media_ids: unknown media"))?;
        let m = c.app.store.read(|r| r.pending_media(id))?.ok_or_else(|| ApiError::unprocessable("media_ids: unknown media"))?;
        if m.post_id.is_some() {
            return Err(ApiError::unprocessable("media_ids: already attached to a post"));
        }
        out.push((id, m.attachment));
    }
    Ok(out)
}

/// Marks uploads as part of a post (they are no longer swept as abandoned).
pub fn attached(c: &Call, ids: &[u64], post_id: u64) -> crate::error::Result<()> {
    c.app.store.write(|w| {
        for id in ids {
            if let Some(mut m) = w.pending_media(*id)? {
                m.post_id = Some(post_id);
                w.put_pending_media(*id, &m)?;
            }
        }
        Ok(())
    })
}
