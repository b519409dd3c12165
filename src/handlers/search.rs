//! /search?q= (stored posts by their words, `@user@host` and post URLs resolved remotely,
//! `#hashtags`) and remote account pages /@user@host (profile, recent posts from the outbox,
//! follow, lists, mute, block).

use crate::actions;
use crate::app::App;
use crate::error::Result;
use crate::federation::fetch::Budget;
use crate::handlers::{auth, social};
use crate::model::FollowState;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

pub async fn search(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let q = request::query(req);
    let query = q.text("q").trim().to_string();
    let before = q.get("before").and_then(|s| s.parse().ok());
    let profile = app.store.read(|r| r.profile())?;
    let mut account = None;
    let mut posts = Vec::new();
    let mut next = None;
    let mut tag = None;
    let mut error = None;
    let mut status = 200;
    if query.starts_with('#') && query.len() > 1 && !query.contains(' ') {
        let t = query.trim_start_matches('#').to_lowercase();
        let page = crate::domain::timeline::tag(app, crate::domain::timeline::Viewer::Owner, &t, before)?;
        posts = social::screened(app, page.posts.iter().map(|p| (p, None)), &profile, "public");
        next = page.next;
        tag = Some(t);
    } else if looks_like_handle(&query) || query.starts_with("https://") || query.starts_with("http://") {
        // A post URL first (if it is one), else an account.
        let post = if query.starts_with("http") { actions::remote_post(app, &query).await.ok() } else { None };
        match post {
            Some(p) => posts = vec![social::post_view(app, &p, &profile, false)],
            None => match actions::account(app, &query).await {
                Ok(a) => account = Some(social::author(app, &profile, &a.id)),
                Err(e) => {
                    status = e.status();
                    error = Some(e.public_message());
                }
            },
        }
    } else if !query.is_empty() {
        let terms = crate::store::query_terms(&query, 8);
        let (found, n) = app.store.read(|r| r.search(&terms, before, 20, &|_| true))?;
        posts = social::screened(app, found.iter().map(|p| (p, None)), &profile, "public");
        next = n;
    }
    let body = app.render.render(
        "search.html",
        context! { query, account, posts, tag, error, next => next.map(|n| n.to_string()), owner => o },
    )?;
    // The search form stays on the page; the status says the lookup failed (404 or 502).
    Ok(response::html_status(status, body))
}

fn looks_like_handle(q: &str) -> bool {
    let q = q.trim_start_matches('@');
    matches!(q.split_once('@'), Some((u, h)) if !u.is_empty() && h.contains(['.', ':']) && !q.contains(' '))
}

/// GET /@user@host
pub async fn account(app: &App, req: &Request<Incoming>, handle: &str) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let a = actions::account(app, handle).await?;
    let profile = app.store.read(|r| r.profile())?;
    // Their recent posts from their outbox: one page, at most 20, fetched within a budget.
    let budget = Budget::new(8);
    if let Err(e) = load_outbox(app, &a, &budget).await {
        tracing::debug!("outbox of {}: {e}", a.id);
    }
    let posts = app.store.read(|r| r.posts_by(&a.id, None, 20))?;
    let posts = social::screened(app, posts.iter().map(|p| (p, None)), &profile, "public");
    let (following, follows_me, blocked, muted, lists, member_of) = app.store.read(|r| {
        Ok((
            r.following(&a.id)?.map(|f| if f.state == FollowState::Accepted { "yes" } else { "pending" }),
            r.follower(&a.id)?.is_some(),
            r.is_blocked(&a.id)?,
            r.is_muted(&a.id, crate::time::now_ms())?,
            r.lists()?,
            r.lists_of(&a.id)?,
        ))
    })?;
    let lists: Vec<_> = lists.into_iter().map(|(id, l)| context! { id => id.to_string(), name => l.name, member => member_of.contains(&id) }).collect();
    let body = app.render.render(
        "account.html",
        context! {
            who => social::author(app, &profile, &a.id), summary => a.summary, header => a.image.as_deref().map(|u| app.urls.remote_media(u, &a.id)), kind => a.kind,
            following, follows_me, blocked, muted, lists, posts, owner => o, here => format!("/{}", a.handle()),
        },
    )?;
    Ok(response::html(body))
}

/// The account's recent public posts from its outbox, checked like the inbox's
/// (federation/collection.rs), kept in the store.
async fn load_outbox(app: &App, a: &crate::model::RemoteActor, budget: &Budget) -> Result<()> {
    for p in crate::federation::collection::outbox_posts(app, a, 20, budget).await? {
        if p.visibility.is_world_readable() {
            let _ = crate::domain::follows::store_remote_post(app, p);
        }
    }
    Ok(())
}

/// GET /search/suggest?q=@ann or ?q=%23ru: JSON `{"accounts": [{"handle", "name"}], "tags": [..]}`
/// for the compose box's suggestions (static/pipit.js), the owner only (401 otherwise). Only
/// what this server already knows (domain::suggest): typing never fetches from elsewhere.
pub fn suggest(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    if auth::owner(app, req.headers()).is_none() {
        return Ok(response::json(401, "application/json", &serde_json::json!({ "error": "Log in first" })));
    }
    let q = request::query(req);
    let s = crate::domain::suggest::suggest(app, &q.text("q"))?;
    let mut r = response::json(200, "application/json", &serde_json::to_value(&s)?);
    r.headers_mut().insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("private, no-store"));
    Ok(r)
}
