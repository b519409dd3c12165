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
    let (path, media_type, len) = fetch_to_disk(app, &url, &dir, &stem).await.inspect_err(|e| tracing::debug!("media cache: {url}: {e}")).map_err(|_| Error::NotFound)?;
    evict(app, &path);
    Ok(Cached { path, media_type, len })
}

/// Largest file kept, in bytes: images up to `max_upload_kib`, video and audio up to
/// `max_media_kib` (the limits of the owner's own uploads).
fn caps(app: &App) -> (u64, u64) {
    (app.config.max_upload_kib as u64 * 1024, app.config.max_media_kib as u64 * 1024)
}

/// Streams `url` into DATA/cache/.part-STEM, then renames it to STEM.EXT: the type is sniffed
/// from the first bytes (image, else video/audio, else refused), the size checked against the
/// declared `Content-Length` before reading and against what actually arrives while reading (an
/// origin may lie either way), a body cut short is refused. Nothing stays on disk on failure.
async fn fetch_to_disk(app: &App, url: &str, dir: &std::path::Path, stem: &str) -> Result<(PathBuf, &'static str, u64)> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    let (image_cap, av_cap) = caps(app);
    let cap = image_cap.max(av_cap);
    let resp = app.http.get_streaming(url, &[("accept", "image/*, video/*, audio/*".to_string())]).await?;
    if !resp.status().is_success() {
        return Err(Error::Remote(resp.status().as_u16(), "origin refused".into()));
    }
    let declared = resp.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(Error::BadRequest(format!("{} bytes declared, over the cap", declared.unwrap_or(0))));
    }
    let tmp = dir.join(format!(".part-{stem}-{:x}", crate::time::now_ms()));
    let mut body = resp.into_body();
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut head: Vec<u8> = Vec::new();
        let mut kind: Option<(&'static str, &'static str, u64)> = None;
        let mut total = 0u64;
        loop {
            let frame = tokio::time::timeout(crate::federation::client::TIMEOUT * 3, body.frame()).await.map_err(|_| Error::Internal("body timed out".into()))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| Error::Internal(format!("body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            total += data.len() as u64;
            if total > kind.map(|k| k.2).unwrap_or(cap) {
                return Err(Error::BadRequest(format!("more than the cap arrived ({total} bytes)")));
            }
            if kind.is_none() {
                head.extend_from_slice(&data[..data.len().min(64 - head.len().min(64))]);
                if head.len() >= 64 {
                    kind = Some(sniff(&head, image_cap, av_cap)?);
                }
            }
            file.write_all(&data).await?;
        }
        let (media_type, ext, kind_cap) = match kind {
            Some(k) => k,
            None => sniff(&head, image_cap, av_cap)?,
        };
        if total > kind_cap || total == 0 {
            return Err(Error::BadRequest(format!("{total} bytes")));
        }
        if declared.is_some_and(|n| n != total) {
            return Err(Error::BadRequest(format!("{total} bytes arrived, {} declared", declared.unwrap_or(0))));
        }
        file.sync_all().await?;
        drop(file);
        let path = dir.join(format!("{stem}.{ext}"));
        tokio::fs::rename(&tmp, &path).await?;
        Ok((path, media_type, total))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

/// (media type, extension, size cap) of the first bytes: PNG/JPEG/GIF/WebP, then MP4, WebM,
/// MP3, Ogg. Anything else (SVG, HTML, a renamed file) is refused.
fn sniff(head: &[u8], image_cap: u64, av_cap: u64) -> Result<(&'static str, &'static str, u64)> {
    if let Some(k) = crate::media::Kind::sniff(head) {
        return Ok((k.media_type(), k.ext(), image_cap));
    }
    crate::media::sniff_av(head).map(|(t, e)| (t, e, av_cap)).ok_or(Error::UnsupportedMediaType("not an image, video or audio file".into()))
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
