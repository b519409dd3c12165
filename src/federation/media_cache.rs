//! Remote media cache: avatars, headers, attachments and custom emoji of remote accounts,
//! fetched through the SSRF-guarded client into DATA/cache and served from our own origin, so
//! the owner's and visitors' browsers never contact other servers and pictures outlive their
//! origin. Pages point at `/cache/SIG/ACTOR/URL` (`Urls::remote_media`); only URLs we signed are
//! ever fetched, so this is no open proxy.
//!
//! Files: `DATA/cache/HOST8-ACTOR8-SIG.EXT` (HOST8/ACTOR8: 8 hex digits of SHA-256 of the actor's
//! host / id, so an account's or a server's files can be purged by name). Least recently used is
//! the file's modification time, bumped on every hit. Size cap: `media_cache_mib`; after each
//! insert the folder is scanned and the oldest files removed until it is under 90 % of the cap.
//! Only PNG, JPEG, GIF, WebP and MP4/WebM/MP3/Ogg are kept (sniffed from the bytes): SVG, HTML or
//! anything else is refused and never stored.

use crate::app::App;
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::SystemTime;

const EXTS: &[&str] = &["jpg", "png", "gif", "webp", "mp4", "m4a", "webm", "mp3", "ogg"];

fn hex8(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    d.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn host_of(url: &str) -> String {
    url.split("://").nth(1).unwrap_or("").split(['/', '?', '#']).next().unwrap_or("").rsplit('@').next().unwrap_or("").to_ascii_lowercase()
}

fn prefix(actor: &str) -> String {
    format!("{}-{}-", hex8(&host_of(actor)), hex8(actor))
}

/// A cached file to stream: its path, media type and size.
pub struct Cached {
    pub path: PathBuf,
    pub media_type: &'static str,
    pub len: u64,
}

fn media_type_of_ext(ext: &str) -> &'static str {
    match ext {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        _ => "audio/ogg",
    }
}

/// Looks `sig` up, fetching and storing on a miss. Errors: `NotFound` for a bad signature, a
/// blocked account or server, or an origin that fails or answers with something that is not an
/// accepted image/video/audio type (never stored).
pub async fn get(app: &App, sig: &str, actor_b64: &str, url_b64: &str) -> Result<Cached> {
    use base64::Engine;
    let key = app.urls.media_cache_key.as_ref().ok_or(Error::NotFound)?;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |s: &str| b.decode(s).ok().and_then(|v| String::from_utf8(v).ok()).ok_or(Error::NotFound);
    let (actor, url) = (decode(actor_b64)?, decode(url_b64)?);
    let expected = crate::urls::media_cache_sig(key, &actor, &url);
    let differs = sig.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if sig.len() != expected.len() || differs != 0 {
        return Err(Error::NotFound);
    }
    let (blocked_actor, blocked_host) = app.store.read(|r| Ok((r.is_blocked(&actor)?, r.is_domain_blocked(&host_of(&actor))? || r.is_domain_blocked(&host_of(&url))?)))?;
    if blocked_actor || blocked_host {
        return Err(Error::NotFound);
    }
    let stem = format!("{}{sig}", prefix(&actor));
    let dir = app.cache_dir();
    for ext in EXTS {
        let path = dir.join(format!("{stem}.{ext}"));
        if let Ok(m) = std::fs::metadata(&path) {
            // Least recently used: a hit makes the file young again.
            if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                let _ = f.set_modified(SystemTime::now());
            }
            return Ok(Cached { path, media_type: media_type_of_ext(ext), len: m.len() });
        }
    }
    // Read whole into memory, so bounded by the image upload limit (not the video one).
    let limit = app.config.max_upload_kib as usize * 1024;
    let r = app.http.get_limited(&url, &[("accept", "image/*, video/*, audio/*".to_string())], &|_| {}, limit).await.map_err(|e| {
        tracing::debug!("media cache: {e}");
        Error::NotFound
    })?;
    if !r.status.is_success() {
        return Err(Error::NotFound);
    }
    let ext = match crate::media::Kind::sniff(&r.body) {
        Some(k) => k.ext(),
        None => crate::media::sniff_av(&r.body).map(|(_, e)| e).ok_or(Error::NotFound)?,
    };
    let path = dir.join(format!("{stem}.{ext}"));
    crate::fsutil::write_atomic(&path, &r.body)?;
    let len = r.body.len() as u64;
    evict(app, &path);
    Ok(Cached { path, media_type: media_type_of_ext(ext), len })
}

/// Removes the oldest files until the folder is under 90 % of `media_cache_mib` (never `keep`,
/// the file just stored, unless it alone is over the cap).
pub fn evict(app: &App, keep: &std::path::Path) {
    let cap = app.config.media_cache_mib as u64 * 1024 * 1024;
    let Ok(rd) = std::fs::read_dir(app.cache_dir()) else { return };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file().then(|| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= cap {
        return;
    }
    files.sort_by_key(|f| f.0);
    let target = cap / 10 * 9;
    let (kept, others): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.2 == keep);
    for (_, len, path) in others.into_iter().chain(kept) {
        if total <= target {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

/// Deletes every cached file of `actor` (blocked, or its account deleted).
pub fn purge_actor(app: &App, actor: &str) {
    purge_prefix(app, &prefix(actor));
}

/// Deletes every cached file of accounts on `host` (domain block).
pub fn purge_host(app: &App, host: &str) {
    purge_prefix(app, &format!("{}-", hex8(&host.to_ascii_lowercase())));
}

fn purge_prefix(app: &App, p: &str) {
    let Ok(rd) = std::fs::read_dir(app.cache_dir()) else { return };
    for e in rd.filter_map(|e| e.ok()) {
        if e.file_name().to_string_lossy().starts_with(p) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
