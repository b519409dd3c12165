//! `GET /api/v1/instance`, `GET /api/v2/instance`, `GET /api/v1/preferences`, and markers
//! (`GET|POST /api/v1/markers`). Field choices follow client-api-notes §3: every key Tusky,
//! Ice Cubes, Elk and Phanpy read; no `uri` in v2; the streaming URL (ws(s)://host) since streaming works.

use super::entities::{iso, Ctx};
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::posts::{MAX_CHARS, MAX_CW};
use crate::domain::timeline::Viewer;
use serde_json::{json, Value};

/// Mastodon version clients gate features on, with ours after it (client-api-notes §1.6).
pub fn version() -> String {
    format!("4.2.0 (compatible; pipit {})", env!("CARGO_PKG_VERSION"))
}

fn thumbnail(c: &Call) -> String {
    c.app.urls.static_file("avatar.svg")
}

fn configuration(c: &Call) -> Value {
    json!({
        "statuses": { "max_characters": MAX_CHARS, "max_media_attachments": crate::domain::posts::MAX_ATTACHMENTS, "characters_reserved_per_url": 23 },
        "media_attachments": {
            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
            "image_size_limit": c.app.config.max_upload_kib as u64 * 1024,
            "image_matrix_limit": 16_777_216,
            "video_size_limit": 0, "video_frame_rate_limit": 0, "video_matrix_limit": 0,
            "description_limit": 1500,
        },
        "polls": { "max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2_629_746 },
        "accounts": { "max_featured_tags": 0, "max_pinned_statuses": 5 },
        "translation": { "enabled": false },
        "urls": { "streaming": super::streaming::url(&c.app) },
        "vapid": { "public_key": "" },
    })
}

fn contact(c: &Call) -> crate::error::Result<Value> {
    let ctx = Ctx::new(&c.app, Viewer::Public)?;
    Ok(ctx.owner_account(false))
}

/// `GET /api/v1/instance`
pub fn v1(c: &Call) -> ApiResult {
    let posts = c.app.store.read(|r| r.own_post_count())?;
    let p = c.app.store.read(|r| r.profile())?;
    ok(&json!({
        "uri": c.app.urls.host,
        "title": c.app.urls.host,
        "short_description": p.display_name,
        "description": crate::text::format_plain(&p.bio, &c.app.urls),
        "email": "",
        "version": version(),
        "urls": { "streaming_api": super::streaming::url(&c.app) },
        "stats": { "user_count": 1, "status_count": posts, "domain_count": 0 },
        "thumbnail": thumbnail(c),
        "languages": ["en"],
        "registrations": false,
        "approval_required": false,
        "invites_enabled": false,
        "configuration": configuration(c),
        "contact_account": contact(c)?,
        "rules": [],
        "max_toot_chars": MAX_CHARS,
    }))
}

/// `GET /api/v2/instance`
pub fn v2(c: &Call) -> ApiResult {
    let p = c.app.store.read(|r| r.profile())?;
    ok(&json!({
        "domain": c.app.urls.host,
        "title": c.app.urls.host,
        "version": version(),
        "description": p.display_name,
        "usage": { "users": { "active_month": 1 } },
        "thumbnail": { "url": thumbnail(c), "blurhash": null, "versions": {} },
        "icon": [],
        "languages": ["en"],
        "configuration": configuration(c),
        "registrations": { "enabled": false, "approval_required": false, "message": null, "url": null },
        "api_versions": { "mastodon": 1 },
        "contact": { "email": "", "account": contact(c)? },
        "rules": [],
        "max_cw_chars": MAX_CW,
    }))
}

/// `GET /api/v1/preferences`
pub fn preferences(c: &Call) -> ApiResult {
    c.user("read:accounts")?;
    let d = c.app.store.read(|r| r.profile())?.posting;
    ok(&json!({
        "posting:default:visibility": super::entities::visibility(d.visibility),
        "posting:default:sensitive": false,
        "posting:default:language": d.language,
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
        "reading:autoplay:gifs": false,
    }))
}

fn marker_entities(all: &Value, only: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for name in ["home", "notifications"] {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        if let Some(m) = all.get(name).filter(|m| m.is_object()) {
            out.insert(name.to_string(), json!({
                "last_read_id": m["last_read_id"],
                "version": m["version"],
                "updated_at": iso(m["updated_ms"].as_u64().unwrap_or(0)),
            }));
        }
    }
    Value::Object(out)
}

/// `GET /api/v1/markers?timeline[]=home&timeline[]=notifications`
pub fn markers(c: &Call) -> ApiResult {
    c.user("read:statuses")?;
    let all = c.app.store.read(|r| r.api_markers())?;
    ok(&marker_entities(&all, &c.params.all("timeline")))
}

/// `POST /api/v1/markers` with `home[last_read_id]` / `notifications[last_read_id]` (JSON or form).
pub fn set_markers(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    let mut all = Value::Null;
    let now = crate::time::now_ms();
    let mut touched = Vec::new();
    for name in ["home", "notifications"] {
        if let Some(id) = c.params.get(&format!("{name}[last_read_id]")) {
            if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_digit()) {
                return Err(ApiError::unprocessable(format!("{name}[last_read_id]: expected an id")));
            }
            all = c.app.store.write(|w| w.put_api_marker(name, id, now))?;
            touched.push(name);
        }
    }
    if touched.is_empty() {
        return Err(ApiError::unprocessable("Give home[last_read_id] or notifications[last_read_id]"));
    }
    ok(&marker_entities(&all, &touched))
}
