//! /static/* from files compiled into the binary, and /media/* streamed from DATA/media.

use crate::app::App;
use crate::error::{Error, Result};
use crate::server::response::{self, Resp};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS};
use hyper::HeaderMap;

const STATIC: &[(&str, &str, &[u8])] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../static/style.css")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../static/favicon.svg")),
    ("avatar.svg", "image/svg+xml", include_bytes!("../../static/avatar.svg")),
    ("pipit.js", "text/javascript; charset=utf-8", include_bytes!("../../static/pipit.js")),
    ("deck.js", "text/javascript; charset=utf-8", include_bytes!("../../static/deck.js")),
];

/// GET /static/NAME: long-cached; the version in the URL (?v=) changes with each release.
pub fn static_file(headers: &HeaderMap, name: &str) -> Result<Resp> {
    let (_, ct, bytes) = STATIC.iter().find(|(n, _, _)| *n == name).ok_or(Error::NotFound)?;
    let etag = format!("\"{}-{}\"", env!("CARGO_PKG_VERSION"), bytes.len());
    if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok(response::with_type(304, ct, ""));
    }
    let mut r = response::with_type(200, ct, *bytes);
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(ETAG, v);
    }
    Ok(r)
}

/// GET /media/NAME: streamed from disk in chunks, never read whole into memory.
pub async fn media(app: &App, name: &str) -> Result<Resp> {
    if !crate::domain::media::valid_name(name) {
        return Err(Error::NotFound);
    }
    let path = app.media_dir().join(name);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().await?.len();
    let ct = match name.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("mp4") => "video/mp4",
        Some("m4a") => "audio/mp4",
        Some("webm") => "video/webm",
        Some("mp3") => "audio/mpeg",
        Some("ogg") => "audio/ogg",
        _ => "application/octet-stream",
    };
    let mut r = hyper::Response::new(crate::server::response::file_body(file));
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    // Names are random and never reused: cache forever.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(r)
}

/// GET /cache/SIG/ACTOR/URL: a remote account's media from our cache (fetched on first use),
/// with its sniffed type, `nosniff` and a CSP that runs nothing even if opened directly.
pub async fn cached(app: &App, sig: &str, actor: &str, url: &str) -> Result<Resp> {
    let c = crate::federation::media_cache::get(app, sig, actor, url).await?;
    let file = match tokio::fs::File::open(&c.path).await {
        Ok(f) => f,
        Err(_) => return Err(Error::NotFound),
    };
    let mut r = hyper::Response::new(crate::server::response::file_body(file));
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(c.media_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(c.len));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(hyper::header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    Ok(r)
}
