//! The owner's actions as the web pages and the command line both offer them. Each resolves
//! what it needs over the network first (WebFinger, remote posts), then makes one domain call.

use crate::app::App;
use crate::domain::{follows, posts};
use crate::error::{Error, Result};
use crate::federation::fetch::{self, Budget};
use crate::model::{Post, RemoteActor, Visibility};

/// Resolves `@user@host` mentions in `text` (unknown ones stay plain text).
pub async fn resolve_mentions(app: &App, text: &str) -> Vec<(String, String)> {
    let budget = Budget::new(12);
    let mut out = Vec::new();
    for (user, host) in posts::mentioned_accounts(app, text).into_iter().take(10) {
        match fetch::resolve_account(app, &format!("{user}@{host}"), &budget).await {
            Ok(a) => out.push((format!("{user}@{host}"), a.id.into_string())),
            Err(e) => tracing::info!("mention @{user}@{host} not resolved: {e}"),
        }
    }
    out
}

pub struct Compose {
    pub text: String,
    pub cw: String,
    pub visibility: Visibility,
    pub in_reply_to: Option<String>,
    /// Uploads with their alt text: up to 4 images, or one video/audio file.
    pub media: Vec<posts::Upload>,
    /// URL of a post to quote (fetched and stored first).
    pub quote: Option<String>,
}

/// Publishes a post: mentions resolved, a remote parent fetched and stored so the thread holds.
pub async fn publish(app: &App, c: Compose) -> Result<Post> {
    publish_with_media(app, c, Vec::new()).await
}

/// `publish` with images saved beforehand (client API uploads).
pub async fn publish_with_media(app: &App, c: Compose, media: Vec<crate::model::Attachment>) -> Result<Post> {
    publish_with(app, c, media, posts::Publishing::default()).await
}

/// `publish_with_media` with the publishing controls of issue 14 (local-only, language, poll,
/// a scheduled post's record).
pub async fn publish_with(app: &App, c: Compose, media: Vec<crate::model::Attachment>, how: posts::Publishing) -> Result<Post> {
    let resolved = resolve_mentions(app, &c.text).await;
    let mut in_reply_to = c.in_reply_to.filter(|s| !s.trim().is_empty());
    if let Some(target) = &in_reply_to {
        if app.urls.local_post_id(target).is_none() {
            let p = remote_post(app, target).await?;
            in_reply_to = Some(p.uri.into_string());
        }
    }
    let quote = match c.quote.filter(|s| !s.trim().is_empty()) {
        Some(q) => Some(remote_post(app, q.trim()).await?.uri.into_string()),
        None => None,
    };
    let app2 = app.clone();
    let new = posts::NewPost { text: c.text, cw: c.cw, visibility: c.visibility, in_reply_to, media: c.media, resolved, quote };
    let post = tokio::task::spawn_blocking(move || posts::publish_with(&app2, new, media, how)).await.map_err(|e| Error::Internal(e.to_string()))??;
    // The link preview card, once, in the background (pages show it when it is there).
    let (app3, id) = (app.clone(), post.id);
    tokio::spawn(async move { crate::federation::cards::fetch_for(&app3, id).await });
    Ok(post)
}

/// Publishes scheduled post or draft `id` now (its record is consumed with the post's insert).
pub async fn publish_scheduled(app: &App, id: u64) -> Result<Post> {
    let s = app.store.read(|r| r.scheduled(id))?.ok_or(Error::NotFound)?;
    let p = s.params;
    let compose = Compose { text: p.text, cw: p.cw, visibility: p.visibility, in_reply_to: p.in_reply_to, media: Vec::new(), quote: None };
    let how = posts::Publishing { local_only: Some(p.local_only), language: p.language, poll: p.poll, scheduled: Some(id) };
    publish_with(app, compose, p.media, how).await
}

/// The `PublishScheduled` job `job`: publishes scheduled post `id` if its time has come (a
/// record rescheduled later, made a draft, deleted or published already just ends the job).
/// A post that can no longer be published (its reply target gone, a direct message whose
/// recipients cannot be found) becomes a draft, so the owner sees it and nothing retries forever.
pub async fn publish_scheduled_due(app: &App, job: u64, id: u64) -> Result<()> {
    let due = app.store.read(|r| r.scheduled(id))?.and_then(|s| s.scheduled_ms).map(|t| t <= crate::time::now_ms()).unwrap_or(false);
    if due {
        match publish_scheduled(app, id).await {
            Ok(_) | Err(Error::NotFound) => {}
            Err(Error::BadRequest(m)) | Err(Error::Remote(_, m)) => {
                tracing::warn!("scheduled post {id} kept as a draft: {m}");
                app.store.write(|w| match w.scheduled(id)? {
                    Some(mut s) => {
                        s.scheduled_ms = None;
                        w.update_scheduled(&s)
                    }
                    None => Ok(()),
                })?;
            }
            Err(e) => return Err(e),
        }
    }
    app.store.write(|w| w.finish_job(job))
}

/// A post by URL: stored already, or fetched (with its author) and stored now. BadRequest when
/// `url` is not an http(s) URL (the owner typed it), else the fetch's errors.
pub async fn remote_post(app: &App, url: &str) -> Result<Post> {
    if let Some(id) = app.urls.local_post_id(url) {
        return app.store.read(|r| r.post(id))?.ok_or(Error::NotFound);
    }
    if let Some(p) = app.store.read(|r| r.post_by_uri(url))? {
        return Ok(p);
    }
    // The owner's input (a reply or quote target): a clear 400, not a failed fetch.
    if crate::httpurl::HttpUrl::parse(url).is_none() {
        return Err(Error::BadRequest(format!("`{url}` is not a post's http(s) URL")));
    }
    let budget = Budget::new(6);
    let p = crate::federation::inbox::fetch_post(app, url, &budget).await?;
    // The URL may have been a page URL: look up again by the canonical id.
    if let Some(existing) = app.store.read(|r| r.post_by_uri(&p.uri))? {
        return Ok(existing);
    }
    let id = follows::store_remote_post(app, p)?;
    app.store.read(|r| r.post(id))?.ok_or(Error::NotFound)
}

/// An account by `@user@host` or URL (WebFinger, then its actor document). Errors say which
/// account and what its server said: `Error::Remote(404, …)` when it has no such account,
/// `Error::Remote(502, …)` when it failed or could not be reached, BadRequest for input that
/// is neither a handle nor a URL.
pub async fn account(app: &App, handle_or_url: &str) -> Result<RemoteActor> {
    fetch::resolve_account(app, handle_or_url, &Budget::new(6)).await.map_err(|e| lookup_failed(handle_or_url.trim(), e))
}

/// Turns a failed account lookup into an error the owner can act on (issue 13: it used to be
/// "Internal server error", the reason only in the log).
pub fn lookup_failed(who: &str, e: Error) -> Error {
    let who = if who.starts_with("http") || who.starts_with('@') { who.to_string() } else { format!("@{who}") };
    match e {
        Error::NotFound => Error::Remote(404, format!("{who} could not be found: the server said there is no such account (HTTP 404).")),
        Error::Gone => Error::Remote(404, format!("{who} could not be found: the server said the account was deleted (HTTP 410).")),
        // Our own syntax checks (fetch::resolve_account) stay 400.
        Error::BadRequest(m) if m.contains("is not @user@host") || m.starts_with("not a URL") => Error::BadRequest(m),
        Error::BadRequest(m) => Error::Remote(502, format!("{who} could not be found: the server said {m}")),
        // Network failures (client.rs): connection refused, DNS, TLS, timeouts.
        Error::Internal(m) => Error::Remote(502, format!("{who} could not be reached: {m}")),
        e => e,
    }
}

pub async fn follow(app: &App, who: &str) -> Result<RemoteActor> {
    let a = account(app, who).await?;
    follows::follow(app, &a)?;
    Ok(a)
}

/// Follows every member of a starter pack (another server's public list, read by
/// federation::starter_pack) not followed yet, the owner left out. Returns how many follows
/// were sent and the members that could not be followed (each failure is skipped, not fatal).
pub async fn follow_starter_pack(app: &App, url: &str) -> Result<(usize, Vec<String>)> {
    let pack = crate::federation::starter_pack::read(app, url).await?;
    let me = app.urls.actor();
    let (mut done, mut failed) = (0, Vec::new());
    for m in &pack.members {
        if *m == me || app.store.read(|r| r.following(m))?.is_some() {
            continue;
        }
        match follow(app, m).await {
            Ok(_) => done += 1,
            Err(e) => {
                tracing::info!("starter pack {url}: following {m} failed: {e}");
                failed.push(m.to_string());
            }
        }
    }
    Ok((done, failed))
}

/// Unfollow by handle, actor URL, or (offline) an actor id we follow.
pub async fn unfollow(app: &App, who: &str) -> Result<String> {
    let id = match app.store.read(|r| r.following(who))? {
        Some(_) => who.to_string(),
        None => account(app, who).await?.id.into_string(),
    };
    follows::unfollow(app, &id)?;
    Ok(id)
}

pub async fn like(app: &App, url: &str) -> Result<Post> {
    let p = remote_post(app, url).await?;
    follows::like(app, &p.uri)?;
    Ok(p)
}

pub async fn boost(app: &App, url: &str) -> Result<Post> {
    let p = remote_post(app, url).await?;
    follows::boost(app, &p.uri)?;
    Ok(p)
}

/// Deletes one of the owner's posts by its page URL or id URL.
pub fn delete(app: &App, url: &str) -> Result<Post> {
    let id = app.urls.local_post_id(url).ok_or_else(|| Error::BadRequest(format!("{url} is not one of your posts")))?;
    posts::delete(app, id)
}

/// The account id for approve/reject/remove: a stored relationship key, or resolved.
pub async fn known_account(app: &App, who: &str) -> Result<String> {
    let known = app.store.read(|r| Ok(r.follow_request(who)?.is_some() || r.follower(who)?.is_some()))?;
    if known {
        return Ok(who.to_string());
    }
    Ok(account(app, who).await?.id.into_string())
}

/// `pipit alias add`: resolves `who` and lists it in `alsoKnownAs`. Returns the actor id.
pub async fn add_alias(app: &App, who: &str) -> Result<String> {
    let id = account(app, who).await?.id.into_string();
    crate::domain::owner::add_alias(app, &id)?;
    Ok(id)
}

/// `pipit alias remove`: by the listed id as is, or resolved. Returns the removed actor id.
pub async fn remove_alias(app: &App, who: &str) -> Result<String> {
    let listed = crate::domain::owner::profile(app)?.also_known_as;
    let id = match listed.iter().find(|a| a.as_str() == who.trim()) {
        Some(id) => id.clone(),
        None => account(app, who).await.map_err(|e| Error::BadRequest(format!("{who} is not one of your aliases ({})", e.public_message())))?.id.into_string(),
    };
    crate::domain::owner::remove_alias(app, &id)?;
    Ok(id)
}

/// `pipit move` and the settings form: the target is fetched fresh (its `alsoKnownAs` may have
/// changed minutes ago), checked, and the Move sent (domain/owner.rs `move_to`).
pub async fn move_account(app: &App, target: &str) -> Result<RemoteActor> {
    let a = account(app, target).await?;
    let fresh = fetch::actor(app, &a.id, true, &Budget::new(3)).await?;
    crate::domain::owner::move_to(app, &fresh)?;
    Ok(fresh)
}
