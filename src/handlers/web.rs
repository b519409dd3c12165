//! HTML pages and forms: profile, post/thread, compose/edit/delete, settings, about, hashtags,
//! and the Atom/RSS feeds.

use crate::app::App;
use crate::domain::owner::{self, ProfileEdit};
use crate::domain::posts;
use crate::domain::timeline::{self, Viewer};
use crate::error::{Error, Result};
use crate::handlers::auth::{self, require_owner_post};
use crate::handlers::social;
use crate::model::{ProfileField, Visibility};
use crate::render::views::{OwnerView, PostView, ProfileView};
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;
use std::time::Duration;

fn viewer(o: &Option<OwnerView>) -> Viewer {
    if o.is_some() { Viewer::Owner } else { Viewer::Public }
}

fn cursor(req: &Request<Incoming>) -> Result<Option<u64>> {
    match request::query(req).get("before") {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| Error::BadRequest("`before` must be a post id".into())),
    }
}

fn notice(req: &Request<Incoming>) -> Option<&'static str> {
    match request::query(req).get("done") {
        Some("posted") => Some("Posted."),
        Some("saved") => Some("Saved."),
        Some("deleted") => Some("Deleted."),
        Some("password") => Some("Password changed."),
        Some("importing") => Some("Import started: the accounts are being looked up."),
        Some("moved") => Some("Moved: your followers were asked to follow the new account."),
        _ => None,
    }
}

/// GET /@NAME
pub fn profile(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = auth::owner(app, req.headers());
    let page = timeline::profile(app, viewer(&o), cursor(req)?)?;
    let p = owner::profile(app)?;
    let count = app.store.read(|r| r.own_post_count())?;
    let posts: Vec<PostView> = page.posts.iter().map(|x| social::post_view(app, x, &p, false)).collect();
    // Pinned posts head the first page.
    let pinned: Vec<PostView> = if cursor(req)?.is_none() { app.store.read(|r| r.pinned(5))?.iter().map(|x| social::post_view(app, x, &p, false)).collect() } else { vec![] };
    let body = app.render.render(
        "profile.html",
        context! {
            pinned,
            profile => ProfileView::new(&p, &app.urls, count),
            posts, next => page.next.map(|n| n.to_string()), owner => o, notice => notice(req),
            actor_url => app.urls.actor(),
        },
    )?;
    Ok(response::html(body))
}

/// GET /@NAME/ID
pub fn post_page(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    let o = auth::owner(app, req.headers());
    let t = timeline::thread(app, viewer(&o), id)?;
    if o.is_some() {
        // Replies to the replies may live on servers that never wrote to us: look for them.
        crate::federation::thread::refresh_in_background(app, &t.post);
    }
    let p = owner::profile(app)?;
    let view = |x: &crate::model::Post| social::post_view(app, x, &p, false);
    let screener = crate::domain::safety::Screener::new(app, "thread");
    let replies: Vec<_> = t
        .replies
        .iter()
        .filter(|r| screener.screen(&r.post, None) != crate::domain::safety::Screen::Hide)
        .map(|r| context! { post => view(&r.post), depth => r.depth })
        .collect();
    let body = app.render.render(
        "post.html",
        context! {
            post => social::post_view(app, &t.post, &p, true),
            ancestors => t.ancestors.iter().map(view).collect::<Vec<_>>(),
            missing_parent => t.missing_parent, reply => social::reply_form(app, &t.post, o.is_some()),
            replies, owner => o, notice => notice(req),
        },
    )?;
    Ok(response::html(body))
}

/// GET /tags/TAG
pub fn tag_page(app: &App, req: &Request<Incoming>, tag: &str) -> Result<Resp> {
    let o = auth::owner(app, req.headers());
    let page = timeline::tag(app, viewer(&o), tag, cursor(req)?)?;
    let p = owner::profile(app)?;
    let posts: Vec<PostView> = social::screened(app, page.posts.iter().map(|x| (x, None)), &p, "public");
    let followed = app.store.read(|r| r.follows_tag(&tag.to_lowercase()))?;
    let body = app.render.render("tag.html", context! { tag, posts, followed, next => page.next.map(|n| n.to_string()), owner => o })?;
    Ok(response::html(body))
}

/// GET /about
pub fn about(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = auth::owner(app, req.headers());
    Ok(response::html(app.render.render("about.html", context! { owner => o })?))
}

/// GET /@NAME.atom and /@NAME.rss: public posts, newest first, paged with ?before=.
pub fn feed(app: &App, req: &Request<Incoming>, atom: bool) -> Result<Resp> {
    let page = timeline::feed(app, cursor(req)?)?;
    let p = owner::profile(app)?;
    let count = app.store.read(|r| r.own_post_count())?;
    let updated = crate::time::rfc3339(page.posts.first().map(|x| x.edited_ms.unwrap_or(x.published_ms)).unwrap_or(p.created_ms));
    let posts: Vec<PostView> = page.posts.iter().map(|x| social::post_view(app, x, &p, false)).collect();
    let ctx = context! { profile => ProfileView::new(&p, &app.urls, count), posts, updated, next => page.next.map(|n| n.to_string()) };
    let (template, ct) = if atom { ("feed.atom", "application/atom+xml; charset=utf-8") } else { ("feed.rss", "application/rss+xml; charset=utf-8") };
    Ok(response::with_type(200, ct, app.render.render(template, ctx)?))
}

fn upload_deadline(app: &App) -> Duration {
    // Uploads on a slow phone link get longer than small forms, but not forever.
    Duration::from_secs(app.config.request_timeout_secs * 4)
}

/// POST /compose (multipart: text, cw, visibility, in_reply_to, image, alt)
pub async fn compose(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let limit = app.config.max_body_kib as usize * 1024;
    let (parts, body) = request::body(req, limit, upload_deadline(app)).await?;
    let sub = request::submitted(&parts.headers, &body)?;
    require_owner_post(app, &parts.headers, &sub.form)?;
    let visibility = Visibility::parse(sub.form.get("visibility").unwrap_or("public"))
        .ok_or_else(|| Error::BadRequest("Unknown visibility".into()))?;
    let image = sub.files.into_iter().find(|f| f.name == "image").map(|f| (f.data.to_vec(), sub.form.text("alt")));
    // Through actions: mentions are resolved by WebFinger (so they are delivered) and a remote
    // parent is fetched, exactly as `pipit post` does.
    let post = crate::actions::publish(
        app,
        crate::actions::Compose {
            text: sub.form.text("content"),
            cw: sub.form.text("cw"),
            visibility,
            in_reply_to: sub.form.get("in_reply_to").map(str::to_string),
            image,
            quote: sub.form.get("quote").map(str::to_string),
        },
    )
    .await?;
    let back = match &post.in_reply_to {
        Some(parent) => match app.urls.local_post_id(parent) {
            Some(pid) => format!("{}?done=posted#post-{}", app.urls.post_url(pid), post.id),
            None => format!("{}?done=posted", post.url),
        },
        None => format!("{}?done=posted", app.urls.profile()),
    };
    Ok(response::redirect(&back))
}

/// GET /@NAME/ID/edit
pub fn edit_page(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let post = timeline::post(app, Viewer::Owner, id)?;
    if !post.local {
        return Err(Error::NotFound);
    }
    let p = owner::profile(app)?;
    Ok(response::html(app.render.render("edit.html", context! { post => social::post_view(app, &post, &p, false), owner => o })?))
}

/// POST /@NAME/ID/edit
pub async fn edit(app: &App, req: Request<Incoming>, id: u64) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let post = posts::edit(app, id, form.text("content"), form.text("cw"))?;
    Ok(response::redirect(&format!("{}?done=saved", post.url)))
}

/// POST /@NAME/ID/delete
pub async fn delete(app: &App, req: Request<Incoming>, id: u64) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    posts::delete(app, id)?;
    Ok(response::redirect(&format!("{}?done=deleted", app.urls.profile())))
}

/// GET /settings
pub fn settings_page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let p = owner::profile(app)?;
    let body = app.render.render(
        "settings.html",
        context! { profile => ProfileView::new(&p, &app.urls, 0), aliases => p.also_known_as.join("\n"), import_status => crate::import::import_status(app)?, owner => o, notice => notice(req), max_upload_kib => app.config.max_upload_kib },
    )?;
    Ok(response::html(body))
}

/// POST /settings
pub async fn settings(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let fields = (0..owner::MAX_FIELDS)
        .map(|i| ProfileField { name: form.text(&format!("field_name_{i}")), value: form.text(&format!("field_value_{i}")), verified_ms: None })
        .collect();
    owner::update_profile(app, ProfileEdit { display_name: form.text("display_name"), bio: form.text("bio"), fields })?;
    // Links in the fields are checked for a rel="me" link back, in the background.
    let app2 = app.clone();
    tokio::spawn(async move { crate::federation::relme::verify_fields(&app2).await });
    Ok(response::redirect("/settings?done=saved"))
}

/// POST /settings/images (multipart: avatar, header)
pub async fn settings_images(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let limit = app.config.max_body_kib as usize * 1024;
    let (parts, body) = request::body(req, limit, upload_deadline(app)).await?;
    let sub = request::submitted(&parts.headers, &body)?;
    require_owner_post(app, &parts.headers, &sub.form)?;
    // Both pictures in one save: followers get one Update, not one per picture.
    let file = |name: &str| sub.files.iter().find(|f| f.name == name && !f.data.is_empty()).map(|f| &f.data[..]);
    owner::set_images(app, file("avatar"), file("header"))?;
    Ok(response::redirect("/settings?done=saved"))
}

/// POST /settings/aliases (field `aliases`: one @user@host or account URL per line): the
/// accounts this one moves from (`alsoKnownAs`), resolved to their actor ids.
pub async fn settings_aliases(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let wanted: Vec<String> = form.text("aliases").split(|c: char| c == '\n' || c == ',' || c.is_whitespace()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if wanted.len() > owner::MAX_ALIASES {
        return Err(Error::BadRequest(format!("At most {} aliases", owner::MAX_ALIASES)));
    }
    let current = owner::profile(app)?.also_known_as;
    let mut ids = Vec::new();
    for a in wanted {
        // Ids already listed stay as they are; anything else is looked up (WebFinger or URL).
        if current.contains(&a) {
            ids.push(a);
            continue;
        }
        match crate::actions::account(app, &a).await {
            Ok(actor) => ids.push(actor.id),
            Err(e) => return Err(Error::BadRequest(format!("No account found for {a}: {}", e.public_message()))),
        }
    }
    owner::set_aliases(app, ids)?;
    Ok(response::redirect("/settings?done=saved"))
}

/// POST /settings/move (field `target`: @user@host or URL): moves followers to the new
/// account (actions::move_account checks that it lists this one as an alias).
pub async fn settings_move(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let target = form.text("target");
    if target.trim().is_empty() {
        return Err(Error::BadRequest("Name the new account: @user@host or its URL".into()));
    }
    crate::actions::move_account(app, target.trim()).await.map_err(|e| match e {
        Error::BadRequest(m) => Error::BadRequest(m),
        other => Error::BadRequest(format!("No account found for {}: {}", target.trim(), other.public_message())),
    })?;
    Ok(response::redirect("/settings?done=moved"))
}

/// POST /settings/password
pub async fn settings_password(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let (current, new) = (form.text("current"), form.text("password"));
    let app2 = app.clone();
    let token = tokio::task::spawn_blocking(move || -> Result<String> {
        if !owner::check_password(&app2, &current)? {
            return Err(Error::Forbidden("The current password is wrong.".into()));
        }
        owner::set_password(&app2, &new)?;
        owner::new_session(&app2)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    let mut r = response::redirect("/settings?done=password");
    response::set_cookie(&mut r, auth::SESSION_COOKIE, &token, app.config.session_secs, app.urls.scheme == "https");
    Ok(r)
}
