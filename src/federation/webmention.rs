//! Webmention (W3C Recommendation, https://www.w3.org/TR/webmention/), receiving: a site says
//! its page `source` links to one of the owner's posts (`target`); pipit fetches `source`
//! (through the SSRF guard, at most [`MAX_SOURCE`] bytes) and keeps the mention only if the
//! page really links to `target`. A source that is gone (404/410) or no longer links removes
//! a mention kept before (the spec's update and delete).

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
