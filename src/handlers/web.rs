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
use crate::render::cards::keyed;
use minijinja::{context, Value};
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

/// The line shown after a form: `?done=` names what happened; after posting, `?unresolved=`
/// lists mentions that no server answered for (left as plain text).
pub fn notice(req: &Request<Incoming>) -> Option<String> {
    let q = request::query(req);
    let base = match q.get("done") {
        Some("posted") => Some("Posted."),
        Some("saved") => Some("Saved."),
        Some("deleted") => Some("Deleted."),
        Some("password") => Some("Password changed."),
        Some("importing") => Some("Import started: the accounts are being looked up."),
        Some("moved") => Some("Moved: your followers were asked to follow the new account."),
        _ => None,
    }?;
    match q.get("unresolved").filter(|u| !u.is_empty()) {
        Some(u) => Some(format!("{base} No account was found for {u}, so it stays plain text and was not notified.")),
        None => Some(base.to_string()),
    }
}

/// GET /@NAME
pub fn profile(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let before = cursor(req)?;
    // One read transaction for everything the page shows (issue 15); rendering happens after.
    let ctx = app.store.read(|r| {
        let o = auth::owner_in(app, r, req.headers());
        let page = timeline::profile_in(r, viewer(&o), before)?;
        let p = r.profile()?;
        let count = r.own_post_count()?;
        // Keyed: a card drawn before is found by the Rust view's hash, never serialised (cards.rs).
        let posts: Vec<Value> = page.posts.iter().map(|x| keyed(social::post_view_in(app, r, x, &p, false))).collect();
        // Pinned posts head the first page.
        let pinned: Vec<Value> = if before.is_none() { r.pinned(5)?.iter().map(|x| keyed(social::post_view_in(app, r, x, &p, false))).collect() } else { vec![] };
        Ok(context! {
            pinned,
            profile => ProfileView::new(&p, &app.urls, count),
            posts, next => page.next.map(|n| n.to_string()), owner => o.map(keyed), notice => notice(req),
            actor_url => app.urls.actor(),
            // Public lists are starter packs, linked from the profile.
            starter_packs => r.lists()?.into_iter().filter(|(_, l)| l.public).map(|(id, l)| context! { id => id.to_string(), name => l.name }).collect::<Vec<_>>(),
        })
    })?;
    Ok(response::html(app.render.render("profile.html", ctx)?))
}

/// GET /@NAME/ID
pub fn post_page(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    // One read transaction for everything the page shows (issue 15); rendering happens after.
    let (ctx, is_owner, post) = app.store.read(|r| {
        let o = auth::owner_in(app, r, req.headers());
        let t = timeline::thread_in(app, r, viewer(&o), id)?;
        let p = r.profile()?;
        let view = |x: &crate::model::Post| keyed(social::post_view_in(app, r, x, &p, false));
        let screener = crate::domain::safety::Screener::new_in(app, r, "thread");
        let replies: Vec<_> = t
            .replies
            .iter()
            .filter(|x| screener.screen_in(r, &x.post, None) != crate::domain::safety::Screen::Hide)
            .map(|x| context! { post => view(&x.post), depth => x.depth })
            .collect();
        let is_owner = o.is_some();
        let ctx = context! {
            post => keyed(social::post_view_in(app, r, &t.post, &p, true)),
            ancestors => t.ancestors.iter().map(view).collect::<Vec<_>>(),
            missing_parent => t.missing_parent, reply => social::reply_form_in(app, r, &t.post, is_owner),
            replies, owner => o.map(keyed), notice => notice(req),
            webmentions => r.webmentions(t.post.id, 100)?.into_iter().map(|(s, _)| s).collect::<Vec<_>>(),
        };
        Ok((ctx, is_owner, t.post))
    })?;
    if is_owner {
        // Replies to the replies may live on servers that never wrote to us: look for them.
        crate::federation::thread::refresh_in_background(app, &post);
    }
    let body = app.render.render("post.html", ctx)?;
    let mut r = response::html(body);
    // The Webmention endpoint, discoverable from the header too (W3C Webmention 3.1.2).
    r.headers_mut().insert(hyper::header::LINK, hyper::header::HeaderValue::from_static("</webmention>; rel=\"webmention\""));
    Ok(r)
}

/// GET /tags/TAG
pub fn tag_page(app: &App, req: &Request<Incoming>, tag: &str) -> Result<Resp> {
    let before = cursor(req)?;
    // One read transaction for everything the page shows (issue 15).
    let ctx = app.store.read(|r| {
        let o = auth::owner_in(app, r, req.headers());
        let page = timeline::tag_in(r, viewer(&o), tag, before)?;
        let p = r.profile()?;
        let posts: Vec<PostView> = social::screened_in(app, r, page.posts.iter().map(|x| (x, None)), &p, "public");
        let followed = r.follows_tag(&tag.to_lowercase())?;
        Ok(context! { tag, posts, followed, next => page.next.map(|n| n.to_string()), owner => o })
    })?;
    Ok(response::html(app.render.render("tag.html", ctx)?))
}

/// GET /about
pub fn about(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = auth::owner(app, req.headers());
    let t = owner::site_texts(app)?;
    // Plain text as the owner typed it: escaped, paragraphs and links only (text::format).
    let html = |s: &str| if s.trim().is_empty() { None } else { Some(crate::text::format_plain(s, &app.urls)) };
    Ok(response::html(app.render.render("about.html", context! { owner => o, about_html => html(&t.about), rules_html => html(&t.rules) })?))
}

/// GET /@NAME.atom and /@NAME.rss: public posts, newest first, paged with ?before=.
pub fn feed(app: &App, req: &Request<Incoming>, atom: bool) -> Result<Resp> {
    let mut page = timeline::feed(app, cursor(req)?)?;
    // Feeds syndicate like federation: a post in its undo window joins them when it is sent.
    page.posts.retain(|x| x.held_until_ms.is_none());
    let p = owner::profile(app)?;
    let count = app.store.read(|r| r.own_post_count())?;
    let updated = crate::time::rfc3339(page.posts.first().map(|x| x.edited_ms.unwrap_or(x.published_ms)).unwrap_or(p.created_ms));
    let posts: Vec<PostView> = page.posts.iter().map(|x| social::post_view(app, x, &p, false)).collect();
    let ctx = context! { profile => ProfileView::new(&p, &app.urls, count), posts, updated, next => page.next.map(|n| n.to_string()), hub => app.config.websub_hub.clone() };
    let (template, ct) = if atom { ("feed.atom", "application/atom+xml; charset=utf-8") } else { ("feed.rss", "application/rss+xml; charset=utf-8") };
    Ok(response::with_type(200, ct, app.render.render(template, ctx)?))
}

/// GET /tags/NAME.atom and /tags/NAME.rss: the owner's public posts with the hashtag, newest
/// first, paged with ?before= (like the profile feeds); `<link rel="hub">` when `websub_hub`
/// is configured.
pub fn tag_feed(app: &App, req: &Request<Incoming>, tag: &str, atom: bool) -> Result<Resp> {
    let tag = tag.trim_start_matches('#').to_lowercase();
    if tag.is_empty() || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(Error::NotFound);
    }
    let page = timeline::tag_feed(app, &tag, cursor(req)?)?;
    let p = owner::profile(app)?;
    let count = app.store.read(|r| r.own_post_count())?;
    let updated = crate::time::rfc3339(page.posts.first().map(|x| x.edited_ms.unwrap_or(x.published_ms)).unwrap_or(p.created_ms));
    let posts: Vec<PostView> = page.posts.iter().map(|x| social::post_view(app, x, &p, false)).collect();
    let ctx = context! {
        profile => ProfileView::new(&p, &app.urls, count), posts, updated, next => page.next.map(|n| n.to_string()),
        tag_url => app.urls.tag(&tag), tag, hub => app.config.websub_hub.clone(),
    };
    let (template, ct) = if atom { ("tag_feed.atom", "application/atom+xml; charset=utf-8") } else { ("tag_feed.rss", "application/rss+xml; charset=utf-8") };
    Ok(response::with_type(200, ct, app.render.render(template, ctx)?))
}

fn upload_deadline(app: &App) -> Duration {
    // Uploads on a slow phone link get longer than small forms, but not forever.
    Duration::from_secs(app.config.request_timeout_secs * 4)
}

/// POST /compose (multipart: text, cw, visibility, in_reply_to, image, alt)
pub async fn compose(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let limit = app.config.max_body_kib as usize * 1024;
    let (_parts, sub) = auth::receive_owner_form(app, req, limit, upload_deadline(app)).await?;
    let visibility = Visibility::parse(sub.form.get("visibility").unwrap_or("public"))
        .ok_or_else(|| Error::BadRequest("Unknown visibility".into()))?;
    // Up to four files: `image`, `image2`…`image4`, each with `alt`/`alt2`… and an optional focal
    // point `focus`/`focus2`… as "x,y" in −1.0…1.0. Empty file inputs are skipped.
    let mut media = Vec::new();
    for i in 1..=crate::domain::posts::MAX_ATTACHMENTS + 1 {
        let suffix = if i == 1 { String::new() } else { i.to_string() };
        if let Some(f) = sub.files.iter().find(|f| f.name == format!("image{suffix}") && f.len > 0) {
            media.push(crate::domain::posts::Upload {
                // The file itself, not its bytes: the pipeline reads it as it goes. It stays in
                // DATA/tmp until `sub` (below) is dropped, after publishing.
                source: crate::domain::media::Source::File(f.path.clone()),
                alt: sub.form.text(&format!("alt{suffix}")),
                focus: sub.form.get(&format!("focus{suffix}")).and_then(parse_focus),
            });
        }
    }
    // Publishing controls (issue 14): federate or not (a form without the toggle takes the
    // settings' default), a poll, a language, a time or "draft".
    let local_only = sub.form.get("federate_field").map(|_| sub.form.get("federate").is_none());
    let options: Vec<String> = sub.form.0.iter().filter(|(k, v)| k == "poll_option" && !v.trim().is_empty()).map(|(_, v)| v.trim().to_string()).collect();
    let poll = (!options.is_empty()).then(|| -> Result<crate::store::PollSpec> {
        Ok(crate::store::PollSpec {
            options,
            multiple: sub.form.get("poll_multiple").is_some(),
            expires_secs: match sub.form.get("poll_expires").filter(|s| !s.is_empty()) {
                None => crate::domain::posts::DEFAULT_POLL_SECS,
                Some(s) => s.parse().map_err(|_| Error::BadRequest("Poll duration: seconds".into()))?,
            },
        })
    }).transpose()?;
    let language = sub.form.get("language").map(str::trim).filter(|l| !l.is_empty()).map(str::to_string);
    let at_ms = match sub.form.get("scheduled_at").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(parse_local_time(s).ok_or_else(|| Error::BadRequest(format!("`{s}` is not a date and time")))?),
    };
    if at_ms.is_some() || sub.form.get("draft").is_some() {
        if sub.form.get("crosspost").is_some() {
            return Err(Error::BadRequest("Scheduled posts and drafts are not cross-posted yet: untick \"Also post to\", or post it now".into()));
        }
        // The files are saved now (checked, metadata stripped) and kept with the record until
        // it is published, or deleted with it.
        let saved = crate::domain::posts::save_uploads(app, &media)?;
        let params = crate::store::ScheduledParams {
            text: sub.form.text("content"),
            cw: sub.form.text("cw"),
            visibility,
            in_reply_to: sub.form.get("in_reply_to").filter(|s| !s.trim().is_empty()).map(str::to_string),
            language,
            local_only: local_only.unwrap_or(false),
            poll,
            media: saved,
        };
        let draft = if sub.form.get("draft").is_some() { None } else { at_ms };
        if let Err(e) = crate::domain::scheduled::create(app, params.clone(), draft) {
            crate::domain::posts::remove_attachment_files(app, &params.media);
            return Err(e);
        }
        return Ok(response::redirect(&format!("/scheduled?done={}", if draft.is_some() { "scheduled" } else { "drafted" })));
    }
    // "Also post to": refused before anything is stored (a followers-only post, say).
    let crosspost: Vec<String> = sub.form.0.iter().filter(|(k, _)| k == "crosspost").map(|(_, v)| v.clone()).collect();
    let crosspost = crate::domain::crosspost::check_targets(app, visibility, &crosspost)?;
    // Through actions: mentions are resolved by WebFinger (so they are delivered) and a remote
    // parent is fetched, exactly as `pipit post` does.
    let post = crate::actions::publish_with(
        app,
        crate::actions::Compose {
            text: sub.form.text("content"),
            cw: sub.form.text("cw"),
            visibility,
            in_reply_to: sub.form.get("in_reply_to").map(str::to_string),
            media,
            quote: sub.form.get("quote").map(str::to_string),
        },
        Vec::new(),
        crate::domain::posts::Publishing { local_only, language, poll, scheduled: None },
    )
    .await?;
    crate::domain::crosspost::queue(app, &post, &crosspost)?;
    let back = match &post.in_reply_to {
        Some(parent) => match app.urls.local_post_id(parent) {
            Some(pid) => format!("{}?done=posted#post-{}", app.urls.post_url(pid), post.id),
            None => format!("{}?done=posted", post.url_or_uri()),
        },
        // Back where the form was (Home, the deck), else the profile.
        None => {
            let back = request::back_or(&sub.form, app.urls.profile());
            format!("{back}{}done=posted", if back.contains('?') { '&' } else { '?' })
        }
    };
    // Mentions no server answered for stay plain text (domain::posts): say so.
    let unresolved: Vec<String> = crate::domain::posts::mentioned_accounts(app, &post.source)
        .into_iter()
        .map(|(u, h)| format!("@{u}@{h}"))
        .filter(|m| !post.mentions.iter().any(|x| x.name.eq_ignore_ascii_case(m)))
        .collect();
    let back = if unresolved.is_empty() {
        back
    } else {
        let (path, frag) = back.split_once('#').map(|(p, f)| (p.to_string(), format!("#{f}"))).unwrap_or((back.clone(), String::new()));
        format!("{path}&unresolved={}{frag}", request::percent_encode(&unresolved.join(", ")))
    };
    Ok(response::redirect(&back))
}

/// `2026-11-29T20:00` (an `<input type=datetime-local>`, read as UTC) or RFC 3339 → ms.
pub fn parse_local_time(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.len() {
        16 => crate::time::parse_rfc3339(&format!("{s}:00Z")),
        19 => crate::time::parse_rfc3339(&format!("{s}Z")),
        _ => crate::time::parse_rfc3339(s),
    }
}

/// A focal point typed as "x,y" (each −1.0…1.0, Mastodon's convention) → hundredths.
fn parse_focus(s: &str) -> Option<(i16, i16)> {
    let (x, y) = s.split_once(',')?;
    let f = |v: &str| v.trim().parse::<f32>().ok().filter(|v| v.is_finite()).map(|v| (v.clamp(-1.0, 1.0) * 100.0).round() as i16);
    Some((f(x)?, f(y)?))
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
    let alts: Vec<String> = (0..crate::domain::posts::MAX_ATTACHMENTS).map_while(|i| form.get(&format!("alt_{i}")).map(str::to_string)).collect();
    let post = posts::edit_with_alt(app, id, form.text("content"), form.text("cw"), (!alts.is_empty()).then_some(alts))?;
    Ok(response::redirect(&format!("{}?done=saved", post.url_or_uri())))
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
        context! { profile => ProfileView::new(&p, &app.urls, 0), aliases => p.also_known_as.join("\n"), imports => crate::import::recent_imports(app)?, owner => o, notice => notice(req), max_upload_kib => app.config.max_upload_kib,
                   site => { let t = owner::site_texts(app)?; context! { about => t.about, rules => t.rules } }, max_site_text => owner::MAX_SITE_TEXT },
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

/// POST /settings/about (fields `about`, `rules`): the owner's texts on /about.
pub async fn settings_about(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    owner::set_site_texts(app, owner::SiteTexts { about: form.text("about"), rules: form.text("rules") })?;
    Ok(response::redirect("/settings?done=saved#about"))
}

/// POST /settings/images (multipart: avatar, header)
pub async fn settings_images(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let limit = app.config.max_body_kib as usize * 1024;
    // Session and CSRF are checked before the body is read; files arrive in DATA/tmp.
    let (_parts, sub) = auth::receive_owner_form(app, req, limit, upload_deadline(app)).await?;
    // Both pictures in one save: followers get one Update, not one per picture.
    let file = |name: &str| sub.files.iter().find(|f| f.name == name && f.len > 0).map(|f| crate::domain::media::Input::File(&f.path));
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
            Ok(actor) => ids.push(actor.id.into_string()),
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
