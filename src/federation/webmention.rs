//! Webmention (W3C Recommendation, https://www.w3.org/TR/webmention/). Receiving: a site says
//! its page `source` links to one of the owner's posts (`target`); pipit fetches `source`
//! (through the SSRF guard, at most [`MAX_SOURCE`] bytes) and keeps the mention only if the
//! page really links to `target`. A source that is gone (404/410) or no longer links removes
//! a mention kept before (the spec's update and delete). Sending: each link of the owner's
//! public posts to another site is a queued job (`JobKind::Webmention`) that discovers the
//! target's endpoint and POSTs source and target there, retried like deliveries.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::HttpUrl;

/// Most bytes of a source page read when verifying.
pub const MAX_SOURCE: usize = 1024 * 1024;

/// What verifying a webmention did.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// The source links to the target: kept (or refreshed).
    Kept,
    /// The source does not link (any more) or is gone: removed, or never kept.
    Removed,
}

/// The owner's post a target URL names: its page or AP id, public or unlisted only.
/// `BadRequest` otherwise (the spec's 400 for an unsupported target).
pub fn target_post(app: &App, target: &str) -> Result<u64> {
    let not_ours = || Error::BadRequest("target is not a post on this site".into());
    let id = app.urls.local_post_id(target.trim()).ok_or_else(not_ours)?;
    let p = app.store.read(|r| r.post(id))?.filter(|p| p.local && p.visibility.is_world_readable()).ok_or_else(not_ours)?;
    Ok(p.id)
}

/// Does `html` link to `target` (an `href` with exactly that URL, quoted either way)?
pub fn links_to(html: &str, target: &str) -> bool {
    let escaped = crate::text::escape(target);
    [target, escaped.as_str()].iter().any(|t| html.contains(&format!("href=\"{t}\"")) || html.contains(&format!("href='{t}'")))
}

/// Checks and applies one webmention. `BadRequest` for a source or target that is not
/// acceptable (not http(s), the same URL, on this site, not a post here).
pub async fn receive(app: &App, source: &str, target: &str) -> Result<Verified> {
    let (source, target) = (source.trim(), target.trim());
    let src = HttpUrl::parse(source).ok_or_else(|| Error::BadRequest("source is not an http(s) URL".into()))?;
    HttpUrl::parse(target).ok_or_else(|| Error::BadRequest("target is not an http(s) URL".into()))?;
    if source == target || crate::federation::vocab::host_of(&src).as_deref() == Some(app.urls.host.as_str()) {
        return Err(Error::BadRequest("source must be a page on another site".into()));
    }
    let post = target_post(app, target)?;
    let r = app.http.get_limited(&src, &[("accept", "text/html, */*;q=0.5".to_string())], &|_| {}, MAX_SOURCE).await;
    let links = match r {
        Ok(f) if f.status.is_success() => links_to(&String::from_utf8_lossy(&f.body), target),
        Ok(f) if f.status == hyper::StatusCode::GONE || f.status == hyper::StatusCode::NOT_FOUND => false,
        Ok(f) => return Err(Error::BadRequest(format!("source answered HTTP {}", f.status))),
        Err(e) => return Err(Error::BadRequest(format!("source could not be fetched: {}", e.public_message()))),
    };
    let now = crate::time::now_ms();
    if links {
        app.store.write(|w| w.put_webmention(post, &src, now))?;
        Ok(Verified::Kept)
    } else {
        app.store.write(|w| w.remove_webmention(post, &src))?;
        Ok(Verified::Removed)
    }
}

// ---- sending (W3C Webmention 3.1) ----

/// Most links of one post that get a webmention.
pub const MAX_LINKS: usize = 10;

/// The links a post's content makes to other sites (not mentions or hashtags, not this site),
/// http(s) only, each once, at most [`MAX_LINKS`]: the targets of its webmentions.
pub fn outgoing_links(app: &App, content: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = content;
    while let Some(i) = rest.find("<a ") {
        let tag_end = rest[i..].find('>').map(|e| i + e).unwrap_or(rest.len());
        let tag = &rest[i..tag_end];
        rest = &rest[tag_end..];
        let attr = |name: &str| -> Option<String> {
            let k = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            let v = &tag[k..];
            Some(html_unescape(&v[..v.find('"')?]))
        };
        if attr("class").is_some_and(|c| c.split_whitespace().any(|c| c == "mention" || c == "hashtag")) {
            continue;
        }
        let Some(href) = attr("href") else { continue };
        let Some(url) = HttpUrl::parse(&href) else { continue };
        if crate::federation::vocab::host_of(&url).as_deref() == Some(app.urls.host.as_str()) || out.iter().any(|u| *u == href) {
            continue;
        }
        out.push(href);
        if out.len() == MAX_LINKS {
            break;
        }
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#x27;", "'").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The Webmention endpoint of `target` (its `Link` header, else the first `<link>`/`<a>` with
/// `rel="webmention"`), resolved against the URL finally fetched; None when it has none.
pub async fn discover(app: &App, target: &str) -> Result<Option<String>> {
    let f = app.http.get_limited(target, &[("accept", "text/html, */*;q=0.5".to_string())], &|_| {}, MAX_SOURCE).await?;
    if !f.status.is_success() {
        return Err(Error::BadRequest(format!("HTTP {}", f.status.as_u16())));
    }
    let from_header = f.headers.get_all(hyper::header::LINK).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(|l| {
        let (url, params) = l.split_once(';')?;
        let rel_ok = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=").map(|r| r.trim_matches('"').split_whitespace().any(|r| r == "webmention")).unwrap_or(false)
        });
        rel_ok.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    });
    let endpoint = from_header.or_else(|| {
        let html = String::from_utf8_lossy(&f.body);
        let mut rest: &str = &html;
        loop {
            let i = rest.find('<')?;
            rest = &rest[i + 1..];
            let end = rest.find('>').unwrap_or(rest.len());
            let tag = &rest[..end];
            if !(tag.starts_with("link ") || tag.starts_with("a ")) {
                continue;
            }
            let attr = |name: &str| -> Option<String> {
                for q in ['"', '\''] {
                    if let Some(k) = tag.find(&format!("{name}={q}")) {
                        let v = &tag[k + name.len() + 2..];
                        return Some(html_unescape(&v[..v.find(q)?]));
                    }
                }
                None
            };
            if attr("rel").is_some_and(|r| r.split_whitespace().any(|r| r == "webmention")) {
                if let Some(h) = attr("href") {
                    return Some(h);
                }
            }
        }
    });
    Ok(endpoint.map(|e| crate::federation::client::resolve_relative(&f.url, &e)).filter(|e| HttpUrl::parse(e).is_some()))
}

/// One queued webmention (`JobKind::Webmention`): discover `target`'s endpoint and POST
/// `source` and `target` to it. A target that cannot be read or has no endpoint is done; a
/// failed POST to an endpoint is retried on the delivery schedule, and kept as a dead letter
/// after `delivery_max_attempts`.
pub async fn send_job(app: &App, job: &crate::model::Job, source: &str, target: &str) {
    let result = async {
        // A target that cannot be read, or has no endpoint, is done: nothing to retry.
        let endpoint = match discover(app, target).await {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(false),
            Err(e) => {
                tracing::debug!(target, "webmention discovery: {e}");
                return Ok(false);
            }
        };
        let body = format!("source={}&target={}", crate::server::request::percent_encode(source), crate::server::request::percent_encode(target));
        let r = app.http.send(hyper::Method::POST, &endpoint, &[("content-type", "application/x-www-form-urlencoded".to_string())], Some(hyper::body::Bytes::from(body)), &|_| {}).await?;
        if r.status.is_success() {
            Ok(true)
        } else {
            Err(Error::BadRequest(format!("endpoint answered HTTP {}", r.status.as_u16())))
        }
    }
    .await;
    let recorded = match result {
        Ok(sent) => {
            tracing::debug!(source, target, sent, "webmention");
            app.store.write(|w| w.finish_job(job.id))
        }
        Err(e) if job.attempts + 1 >= app.config.delivery_max_attempts => app.store.write(|w| w.kill_job(job.id, &format!("webmention to {target}: {e}"))),
        Err(e) => app.store.write(|w| w.retry_job(job.id, crate::time::now_ms() + crate::federation::deliver::backoff_ms(app, job.attempts + 1), &format!("webmention to {target}: {e}"), true)),
    };
    if let Err(e) = recorded {
        tracing::warn!("webmention job {}: {e}", job.id);
    }
}
