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

/// GET /media/NAME: streamed from disk in chunks, never read whole into memory; one `Range` served.
pub async fn media(app: &App, headers: &HeaderMap, name: &str) -> Result<Resp> {
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
    let mut r = ranged(headers, file, len).await?;
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    // Names are random and never reused: cache forever.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(r)
}

/// The byte range a `Range` header asks of a `len`-byte file (RFC 9110 §14): `Ok(None)` for the
/// whole file (no header, several ranges, another unit, or a malformed one, which §14.2 lets us
/// ignore), `Err(())` when the one range asked for starts beyond the end (416).
pub fn byte_range(header: Option<&str>, len: u64) -> std::result::Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Ok(None) };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(s), _) if s >= len => return Err(()),
        (Some(s), Some(e)) if e >= s => (s, e.min(len - 1)),
        (Some(s), None) if b.is_empty() => (s, len - 1),
        (None, Some(n)) if a.is_empty() && n > 0 => (len.saturating_sub(n), len.saturating_sub(1)),
        (None, Some(0)) if a.is_empty() => return Err(()),
        _ => return Ok(None),
    };
    if len == 0 {
        return Err(());
    }
    Ok(Some(range))
}

/// A file answer honouring one `Range` (video and audio seeking): 206 with `Content-Range`,
/// 416 when out of bounds, else 200 with the whole file. `Accept-Ranges: bytes` either way.
async fn ranged(headers: &HeaderMap, mut file: tokio::fs::File, len: u64) -> Result<Resp> {
    use hyper::header::{ACCEPT_RANGES, CONTENT_RANGE, RANGE};
    let asked = byte_range(headers.get(RANGE).and_then(|v| v.to_str().ok()), len);
    let mut r = match asked {
        Err(()) => {
            let mut r = response::with_type(416, "text/plain; charset=utf-8", "Range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        Ok(None) => {
            let mut r = hyper::Response::new(crate::server::response::file_body(file));
            r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
            r
        }
        Ok(Some((start, end))) => {
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let n = end - start + 1;
            let mut r = hyper::Response::new(crate::server::response::file_body_len(file, n));
            *r.status_mut() = hyper::StatusCode::PARTIAL_CONTENT;
            r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(n));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            r
        }
    };
    r.headers_mut().insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(r)
}

/// GET /cache/SIG/ACTOR/URL: a remote account's media from our cache (fetched on first use),
/// with its sniffed type, `nosniff` and a CSP that runs nothing even if opened directly; one
/// `Range` served (video seeking).
pub async fn cached(app: &App, headers: &HeaderMap, sig: &str, actor: &str, url: &str) -> Result<Resp> {
    let c = crate::federation::media_cache::get(app, sig, actor, url).await?;
    let file = match tokio::fs::File::open(&c.path).await {
        Ok(f) => f,
        Err(_) => return Err(Error::NotFound),
    };
    let mut r = ranged(headers, file, c.len).await?;
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(c.media_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(hyper::header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_in_and_out_of_bounds() {
        assert_eq!(byte_range(None, 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(byte_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(Some("bytes=50-1000"), 100), Ok(Some((50, 99))), "end clamped");
        assert_eq!(byte_range(Some("bytes=-1000"), 100), Ok(Some((0, 99))));
        // Bad input: starts past the end, a zero suffix, reversed, several ranges, junk.
        assert_eq!(byte_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(byte_range(Some("bytes=500-600"), 100), Err(()));
        assert_eq!(byte_range(Some("bytes=-0"), 100), Err(()));
        assert_eq!(byte_range(Some("bytes=9-3"), 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(byte_range(Some("items=0-1"), 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=x-y"), 100), Ok(None));
    }
}
