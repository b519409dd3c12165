//! Lists (with exclusive and public lists: a public list is a starter pack others can follow
//! one by one), followed hashtags, and bookmarks.

use crate::actions;
use crate::app::App;
use crate::error::{Error, Result};
use crate::handlers::{auth, social};
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

async fn owner_form(app: &App, req: Request<Incoming>) -> Result<request::Form> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    Ok(form)
}

/// GET /lists
pub fn index(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let lists = app.store.read(|r| {
        let mut out = Vec::new();
        for (id, l) in r.lists()? {
            out.push(context! { id => id.to_string(), name => l.name, exclusive => l.exclusive, public => l.public, members => r.list_members(id, 1000)?.len() });
        }
        Ok(out)
    })?;
    let tags = app.store.read(|r| r.followed_tags())?;
    Ok(response::html(app.render.render("lists.html", context! { lists, tags, owner => o })?))
}

/// POST /lists (name, exclusive, public)
pub async fn create(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let form = owner_form(app, req).await?;
    let id = crate::domain::lists::create(app, &form.text("name"), form.get("exclusive").is_some(), form.get("public").is_some())?;
    Ok(response::redirect(&format!("/lists/{id}")))
}

/// POST /lists/ID/edit (name, exclusive, public) and /lists/ID/delete
pub async fn edit(app: &App, req: Request<Incoming>, id: u64, delete: bool) -> Result<Resp> {
    let form = owner_form(app, req).await?;
    if delete {
        crate::domain::lists::delete(app, id)?;
        return Ok(response::redirect("/lists"));
    }
    crate::domain::lists::update(app, id, &form.text("name"), Some(form.get("exclusive").is_some()), Some(form.get("public").is_some()))?;
    Ok(response::redirect(&format!("/lists/{id}")))
}

/// POST /lists/ID/add and /lists/ID/remove (account: @user@host, URL or actor id)
pub async fn member(app: &App, req: Request<Incoming>, id: u64, add: bool) -> Result<Resp> {
    let form = owner_form(app, req).await?;
    let account = form.text("account");
    if app.store.read(|r| r.list(id))?.is_none() {
        return Err(Error::NotFound);
    }
    let known = app.store.read(|r| r.actor(account.trim()))?.is_some();
    let actor = if add && !known { actions::account(app, account.trim()).await?.id.into_string() } else { account.trim().to_string() };
    crate::domain::lists::set_member(app, id, &actor, add)?;
    let back = request::back_or(&form, format!("/lists/{id}"));
    Ok(response::redirect(&back))
}

/// GET /lists/ID: the owner sees the list's timeline and members; anyone sees a public list's
/// members (a starter pack).
pub fn show(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    let o = auth::owner(app, req.headers());
    let list = app.store.read(|r| r.list(id))?.ok_or(Error::NotFound)?;
    if o.is_none() && !list.public {
        return Err(Error::NotFound);
    }
    if o.is_none() {
        return crate::handlers::starter_pack::page(app, id, None);
    }
    let profile = app.store.read(|r| r.profile())?;
    let members: Vec<_> = app.store.read(|r| r.list_members(id, 1000))?.iter().map(|m| social::author(app, &profile, m)).collect();
    let before = request::query(req).get("before").and_then(|s| s.parse().ok());
    let (posts, next) = if o.is_some() { app.store.read(|r| r.list_posts(id, before, 20))? } else { (vec![], None) };
    let posts = social::screened(app, posts.iter().map(|p| (p, None)), &profile, "public");
    let body = app.render.render(
        "list.html",
        context! { id => id.to_string(), list => context! { name => list.name, exclusive => list.exclusive, public => list.public }, members, posts, next => next.map(|n| n.to_string()), owner => o },
    )?;
    Ok(response::html(body))
}

/// POST /tags/NAME/follow and /unfollow
pub async fn follow_tag(app: &App, req: Request<Incoming>, tag: &str, follow: bool) -> Result<Resp> {
    owner_form(app, req).await?;
    let tag = tag.trim_start_matches('#').to_lowercase();
    if tag.is_empty() || tag.chars().count() > 100 || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(Error::BadRequest("Not a hashtag".into()));
    }
    app.store.write(|w| w.follow_tag(&tag, follow, crate::time::now_ms()))?;
    Ok(response::redirect(&format!("/tags/{}", request::percent_encode(&tag))))
}

/// GET /bookmarks
pub fn bookmarks(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let before = request::query(req).get("before").and_then(|s| s.parse().ok());
    let profile = app.store.read(|r| r.profile())?;
    let (posts, next) = app.store.read(|r| r.bookmarks(before, 20))?;
    let posts: Vec<_> = posts.iter().map(|p| social::post_view(app, p, &profile, false)).collect();
    Ok(response::html(app.render.render("bookmarks.html", context! { posts, next => next.map(|n| n.to_string()), owner => o })?))
}
