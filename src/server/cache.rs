//! Response cache for what anonymous visitors and servers read most (issue 15): the profile,
//! post pages, feeds, the actor, notes, the outbox, WebFinger. A page is rendered once and served
//! from memory until the store changes.
//!
//! - Key: path + query, and the request's `Accept` (HTML or which JSON flavour), for requests
//!   with no `Cookie`, `Authorization` or `Signature` header only: those are the "anonymous"
//!   viewer, whose answer depends on nothing but the store. The owner's pages (CSRF tokens,
//!   private posts) and signed fetches (followers-only objects) are never cached.
//! - Invalidation: an entry remembers `Store::generation` (bumped by every committed write) as it
//!   was *before* the handler read anything; it is used only while the counter still has that
//!   value, so a write that lands during rendering makes the entry stale at once. Entries also
//!   expire after `MAX_AGE` (a poll closes by the clock, not by a write).
//! - Validation: every cached 200 carries a strong `ETag` (a hash of the body); a matching
//!   `If-None-Match` gets `304 Not Modified` without a body.
//! - Bounded: at most `MAX_ENTRIES` entries and `MAX_BYTES` of bodies; the oldest goes first.

use crate::app::App;
use crate::server::response::{full, Resp};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderValue, ETAG, IF_NONE_MATCH};
use hyper::{Method, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest time an entry is served without the store changing.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// Most entries kept.
const MAX_ENTRIES: usize = 64;
/// Most body bytes kept (all entries together).
const MAX_BYTES: usize = 1024 * 1024;
/// Bodies larger than this are not kept.
const MAX_BODY: usize = 256 * 1024;

#[derive(Default)]
pub struct PageCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

struct Entry {
    generation: u64,
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
    etag: HeaderValue,
}

/// The cache key of a request if its answer may be cached, else None.
pub fn key(app: &App, method: &Method, uri: &hyper::Uri, headers: &HeaderMap) -> Option<String> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    for h in [hyper::header::COOKIE, hyper::header::AUTHORIZATION] {
        if headers.contains_key(h) {
            return None;
        }
    }
    if headers.contains_key("signature") || headers.contains_key("signature-input") {
        return None;
    }
    if !cacheable_path(app, uri.path()) {
        return None;
    }
    let accept = headers.get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.len() > 256 {
        return None;
    }
    Some(format!("{}\n{accept}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")))
}

/// The public, read-only routes whose anonymous answer is a function of the store alone.
fn cacheable_path(app: &App, path: &str) -> bool {
    let me = app.urls.username.as_str();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let at_me = |s: &str| s.strip_prefix('@').is_some_and(|rest| rest == me || rest == format!("{me}.atom") || rest == format!("{me}.rss"));
    match segs.as_slice() {
        [s] | [s, _] if at_me(s) => true,
        ["users", u] if *u == me => true,
        ["users", u, "statuses", _] if *u == me => true,
        ["users", u, "outbox" | "followers" | "following"] if *u == me => true,
        ["users", u, "collections", "featured" | "tags"] if *u == me => true,
        [".well-known", "webfinger" | "nodeinfo" | "host-meta"] => true,
        ["nodeinfo", _] | ["tags", _] => true,
        _ => false,
    }
}

impl PageCache {
    /// A response from the cache for `key` if one is fresh at `generation`: 304 when
    /// `If-None-Match` names its ETag, else the whole 200.
    pub fn get(&self, key: &str, generation: u64, if_none_match: Option<&HeaderValue>) -> Option<Resp> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let e = inner.entries.get(key)?;
        if e.generation != generation || e.at.elapsed() > MAX_AGE {
            return None;
        }
        Some(build(&e.headers, &e.etag, &e.body, if_none_match))
    }

    /// Keeps a 200 response rendered from the store at `generation` (read before the handler
    /// ran) and returns it, with its ETag, or a 304 if the request already has it. Other
    /// responses pass through untouched.
    pub async fn put(&self, key: String, generation: u64, resp: Resp, if_none_match: Option<&HeaderValue>) -> Resp {
        if resp.status() != StatusCode::OK || resp.headers().contains_key(hyper::header::SET_COOKIE) {
            return resp;
        }
        let (parts, body) = resp.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                tracing::warn!("page cache: reading a response body failed: {e}");
                return crate::server::response::with_type(500, "text/plain; charset=utf-8", "");
            }
        };
        let etag = HeaderValue::from_str(&format!("\"{:016x}\"", hash(&body))).expect("hex is a valid header value");
        let resp = build(&parts.headers, &etag, &body, if_none_match);
        if body.len() <= MAX_BODY {
            // A copy of exactly the body's length (made before taking the lock): the rendered body
            // usually sits in a String grown by doubling, and keeping that allocation would hold up
            // to twice what `bytes` counts.
            let body = Bytes::copy_from_slice(&body);
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = inner.entries.remove(&key) {
                inner.bytes -= old.body.len();
            }
            while !inner.entries.is_empty() && (inner.entries.len() >= MAX_ENTRIES || inner.bytes + body.len() > MAX_BYTES) {
                let oldest = inner.entries.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone()).expect("not empty");
                if let Some(old) = inner.entries.remove(&oldest) {
                    inner.bytes -= old.body.len();
                }
            }
            inner.bytes += body.len();
            inner.entries.insert(key, Entry { generation, at: Instant::now(), headers: parts.headers, body, etag });
        }
        resp
    }
}

/// The `If-None-Match` of a request, for `get` and `put`.
pub fn if_none_match(headers: &HeaderMap) -> Option<HeaderValue> {
    headers.get(IF_NONE_MATCH).cloned()
}

fn build(headers: &HeaderMap, etag: &HeaderValue, body: &Bytes, if_none_match: Option<&HeaderValue>) -> Resp {
    let not_modified = if_none_match.and_then(|v| v.to_str().ok()).into_iter().flat_map(|v| v.split(',')).any(|t| {
        let t = t.trim();
        t == "*" || t.trim_start_matches("W/") == etag.to_str().unwrap_or("")
    });
    let mut r = if not_modified {
        let mut r = Response::new(full(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        for name in [hyper::header::CACHE_CONTROL, hyper::header::VARY, hyper::header::CONTENT_LOCATION] {
            for v in headers.get_all(&name) {
                r.headers_mut().append(name.clone(), v.clone());
            }
        }
        r
    } else {
        let mut r = Response::new(full(body.clone()));
        *r.headers_mut() = headers.clone();
        r
    };
    r.headers_mut().insert(ETAG, etag.clone());
    r
}

/// 64-bit hash of a body for its ETag (SipHash with fixed keys: the same body, the same tag,
/// across restarts).
fn hash(body: &[u8]) -> u64 {
    use std::hash::Hasher;
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    h.write(body);
    h.finish()
}
