//! The owner's fediverse pages: home timeline, any stored post (/posts/ID), following/followers/
//! requests, and the actions on them (follow, unfollow, approve, reject, like, boost).

use crate::actions;
use crate::app::App;
use crate::domain::follows;
use crate::domain::timeline::{self, Viewer};
use crate::error::{Error, Result};
use crate::handlers::auth::{self, require_owner_post};
use crate::model::{Post, Profile};
use crate::render::cards::keyed;
use crate::render::views::{AuthorView, PostView, ReactionView, Social};
use crate::store::Read;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

/// Who an account id is, for display.
pub fn author(app: &App, owner: &Profile, id: &str) -> AuthorView {
    if id == app.urls.actor() {
        return AuthorView::owner(owner, &app.urls);
    }
    app.store.read(|r| Ok(author_in(app, r, owner, id))).unwrap_or_else(|_| AuthorView::unknown(id, &app.urls))
}

/// `author` in the request's read transaction `r`.
pub fn author_in(app: &App, r: &Read, owner: &Profile, id: &str) -> AuthorView {
    if id == app.urls.actor() {
        return AuthorView::owner(owner, &app.urls);
    }
    match r.actor(id) {
        Ok(Some(a)) => AuthorView::remote(&a, &app.urls),
        _ => AuthorView::unknown(id, &app.urls),
    }
}

/// A post as pages show it; `full` adds who liked, boosted and reacted (the post's own page).
/// Opens its own read transaction: pages that show many posts use `post_view_in`.
pub fn post_view(app: &App, p: &Post, owner: &Profile, full: bool) -> PostView {
    match app.store.read(|r| Ok(post_view_in(app, r, p, owner, full))) {
        Ok(v) => v,
        Err(_) => PostView::new(p, &author(app, owner, &p.author), &app.urls),
    }
}

/// `post_view` in the request's read transaction `r`: the counts, the owner's own marks, the
/// authors and the parent and quoted posts all come from that one snapshot.
pub fn post_view_in(app: &App, r: &Read, p: &Post, owner: &Profile, full: bool) -> PostView {
    let mut v = PostView::new(p, &author_in(app, r, owner, &p.author), &app.urls);
    let me = app.urls.actor();
    let got = (|| -> Result<_> {
        // Who liked and boosted: the post's own page only. A card needs the counts alone, so it
        // skips the two range scans (they were ~5 % of an uncached profile page's CPU).
        let (likes, boosts) = if full { (r.interactions(&p.uri, "like", 200)?, r.interactions(&p.uri, "boost", 200)?) } else { (Vec::new(), Vec::new()) };
        let mut s = Social {
            likes: r.interaction_count(&p.uri, "like")?,
            boosts: r.interaction_count(&p.uri, "boost")?,
            ..Default::default()
        };
        s.liked = r.has_interaction(&p.uri, "like", &me)?;
        s.boosted = r.has_interaction(&p.uri, "boost", &me)?;
        s.bookmarked = r.is_bookmarked(p.id)?;
        s.pinned = p.local && r.is_pinned(p.id)?;
        s.replies = r.reply_count(&p.uri, 100)?;
        if full {
            s.liked_by = likes.iter().map(|(a, _)| author_in(app, r, owner, a)).collect();
            s.boosted_by = boosts.iter().map(|(a, _)| author_in(app, r, owner, a)).collect();
            s.reactions = r.reactions(&p.uri, 200)?.into_iter().map(|(e, a, url)| (ReactionView::new(&e, url.as_deref(), &a, &app.urls), author_in(app, r, owner, &a))).collect();
        }
        for (e, c) in r.reaction_counts(&p.uri)? {
            let mut v = ReactionView::new(&e, c.url.as_deref(), &c.by, &app.urls);
            v.count = c.count;
            v.mine = r.has_interaction(&p.uri, &format!("react:{e}"), &me)?;
            s.reaction_counts.push(v);
        }
        let parent = match &p.in_reply_to {
            Some(u) => r.post_by_uri(u)?,
            None => None,
        };
        let quoted = match &p.quote {
            Some(q) => r.post_by_uri(q)?,
            None => None,
        };
        Ok((s, parent, quoted))
    })();
    let (social, parent, quoted) = got.unwrap_or_default();
    v.social = social;
    // "Reply to" names the parent's author when we hold the parent, and links its page here.
    if let Some(pp) = parent {
        let pa = author_in(app, r, owner, &pp.author);
        // An author we hold no document for keeps the host already set by PostView::new.
        if !pa.name.is_empty() && pa.name != pa.id {
            v.in_reply_to_name = Some(pa.name);
        }
        v.in_reply_to_page = Some(if pp.local { pp.url_or_uri().to_string() } else { format!("{}/posts/{}", app.urls.base, pp.id) });
    }
    if let Some(qp) = quoted {
        let qa = author_in(app, r, owner, &qp.author);
        let page = if qp.local { qp.url_or_uri().to_string() } else { format!("{}/posts/{}", app.urls.base, qp.id) };
        v.quoted = Some(crate::render::views::QuotedView { page, author_name: qa.name, author_handle: qa.handle, content: qp.content, summary: qp.summary });
    }
    if full && p.edited_ms.is_some() {
        let versions = r.post_versions(p.id, 50).unwrap_or_default();
        v.versions = versions
            .into_iter()
            .map(|x| crate::render::views::VersionView { at: crate::time::human_date(x.at_ms), at_iso: crate::time::rfc3339(x.at_ms), content: x.content, summary: x.summary })
            .collect();
    }
    v
}

/// What the reply form under `post` starts with (owner only): the thread's mentions and the
/// post's visibility (domain::posts::reply_defaults).
pub fn reply_form(app: &App, post: &Post, owner: bool) -> Option<minijinja::Value> {
    if !owner {
        return None;
    }
    app.store.read(|r| Ok(reply_form_in(app, r, post, owner))).ok().flatten()
}

/// `reply_form` in the request's read transaction `r`.
pub fn reply_form_in(app: &App, r: &Read, post: &Post, owner: bool) -> Option<minijinja::Value> {
    if !owner {
        return None;
    }
    match crate::domain::posts::reply_defaults_in(app, r, post) {
        Ok(d) => Some(context! { text => d.text, visibility => d.visibility.as_str() }),
        Err(e) => {
            tracing::warn!("reply defaults for {}: {e}", post.uri);
            None
        }
    }
}

/// Views of posts for a page in `context`, with blocks, mutes and filters applied.
pub fn screened<'a>(app: &App, posts: impl Iterator<Item = (&'a Post, Option<&'a str>)>, owner: &Profile, context: &'static str) -> Vec<PostView> {
    let posts: Vec<_> = posts.collect();
    app.store.read(|r| Ok(screened_in(app, r, posts.into_iter(), owner, context))).unwrap_or_default()
}

/// `screened` in the request's read transaction `r`.
pub fn screened_in<'a>(app: &App, r: &Read, posts: impl Iterator<Item = (&'a Post, Option<&'a str>)>, owner: &Profile, context: &'static str) -> Vec<PostView> {
    let screener = crate::domain::safety::Screener::new_in(app, r, context);
    posts
        .filter_map(|(p, by)| {
            let s = screener.screen_in(r, p, by);
            if s == crate::domain::safety::Screen::Hide {
                return None;
            }
            let mut v = post_view_in(app, r, p, owner, false);
            v.boosted_by = by.map(|b| author_in(app, r, owner, b));
            if let crate::domain::safety::Screen::Warn(k) = s {
                v.filtered = Some(k);
            }
            Some(v)
        })
        .collect()
}

fn owner_or_login(app: &App, req: &Request<Incoming>) -> std::result::Result<crate::render::views::OwnerView, Resp> {
    auth::require_owner_page(app, req.headers())
}

/// GET /home: posts and boosts from followed accounts, newest first.
pub fn home(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let before = request::query(req).get("before").and_then(|s| s.parse().ok());
    // One read transaction for the whole page (issue 15), the session check included.
    let got = app.store.read(|r| {
        let Some(o) = auth::owner_in(app, r, req.headers()) else { return Ok(None) };
        let profile = r.profile()?;
        let (entries, next) = r.home(before, timeline::PAGE)?;
        let posts = screened_in(
            app,
            r,
            entries.iter().filter(|(_, e, p)| timeline::on_home_in(r, e, p)).map(|(_, e, p)| (p, e.boosted_by.as_deref())),
            &profile,
            "home",
        );
        Ok(Some((o, posts, next)))
    })?;
    let Some((o, posts, next)) = got else { return Ok(response::redirect("/login")) };
    // Keyed views: a cached card never turns its view into a template value (render/cards.rs).
    let posts: Vec<_> = posts.into_iter().map(keyed).collect();
    let body = app.render.render("home.html", context! { posts, next => next.map(|n| n.to_string()), owner => keyed(o), notice => crate::handlers::web::notice(req) })?;
    Ok(response::html(body))
}

/// GET /posts/ID: any stored post with its thread (remote ones: the owner only, or when public).
pub fn post_page(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    // One read transaction for the whole page (issue 15).
    let page = app.store.read(|r| {
        let o = auth::owner_in(app, r, req.headers());
        let viewer = if o.is_some() { Viewer::Owner } else { Viewer::Public };
        let t = timeline::thread_in(app, r, viewer, id)?;
        if t.post.local {
            return Ok(Err(t.post));
        }
        let p = r.profile()?;
        let screener = crate::domain::safety::Screener::new_in(app, r, "thread");
        let replies: Vec<_> = t
            .replies
            .iter()
            .filter(|x| screener.screen_in(r, &x.post, None) != crate::domain::safety::Screen::Hide)
            .map(|x| context! { post => keyed(post_view_in(app, r, &x.post, &p, false)), depth => x.depth })
            .collect();
        let ctx = context! {
            post => keyed(post_view_in(app, r, &t.post, &p, true)),
            ancestors => t.ancestors.iter().map(|x| keyed(post_view_in(app, r, x, &p, false))).collect::<Vec<_>>(),
            missing_parent => t.missing_parent, reply => reply_form_in(app, r, &t.post, o.is_some()), replies, owner => o.clone().map(keyed),
        };
        Ok(Ok((ctx, o.is_some(), t.post)))
    })?;
    let (ctx, is_owner, post) = match page {
        Ok(x) => x,
        Err(local) => return Ok(response::moved(local.url_or_uri())),
    };
    if is_owner {
        crate::federation::thread::refresh_in_background(app, &post);
    }
    let body = app.render.render("post.html", ctx)?;
    Ok(response::html(body))
}

/// GET /compose[?quote=URL&in_reply_to=URL]: the compose form on its own page (quoting).
pub async fn compose_page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match owner_or_login(app, req) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let q = request::query(req);
    let profile = app.store.read(|r| r.profile())?;
    let quote = match q.get("quote").filter(|s| !s.is_empty()) {
        Some(u) => Some(actions::remote_post(app, u).await?),
        None => None,
    };
    let quoted = quote.as_ref().map(|p| post_view(app, p, &profile, false));
    let body = app.render.render("compose.html", context! { quoted, quote_uri => quote.map(|p| p.uri), owner => o })?;
    Ok(response::html(body))
}

/// GET /following, /followers, /requests
pub fn people(app: &App, req: &Request<Incoming>, which: &str) -> Result<Resp> {
    let o = match owner_or_login(app, req) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let after = request::query(req).get("after").map(str::to_string);
    let profile = app.store.read(|r| r.profile())?;
    let (ids, next): (Vec<(String, String)>, Option<String>) = app.store.read(|r| {
        Ok(match which {
            "following" => {
                let p = r.following_page(after.as_deref(), 50)?;
                (p.items.into_iter().map(|(k, f)| (k, format!("{:?}", f.state).to_lowercase())).collect(), p.next)
            }
            "followers" => {
                let p = r.followers_page(after.as_deref(), 50)?;
                (p.items.into_iter().map(|(k, _)| (k, String::new())).collect(), p.next)
            }
            _ => {
                let p = r.requests_page(after.as_deref(), 50)?;
                (p.items.into_iter().map(|(k, _)| (k, String::new())).collect(), p.next)
            }
        })
    })?;
    let people: Vec<_> = ids.iter().map(|(id, state)| context! { who => author(app, &profile, id), state }).collect();
    let counts = app.store.read(|r| Ok((r.following_count()?, r.follower_count()?)))?;
    let body = app.render.render(
        "people.html",
        context! { which, people, next => next.map(|n| request::percent_encode(&n)), owner => o, following_count => counts.0, followers_count => counts.1,
                   notice => request::query(req).get("done").map(str::to_string) },
    )?;
    Ok(response::html(body))
}

/// POST /follow, /unfollow, /requests/approve, /requests/reject, /followers/remove (field `account`)
pub async fn relation_action(app: &App, req: Request<Incoming>, action: &str) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let account = form.text("account");
    if account.trim().is_empty() {
        return Err(Error::BadRequest("Give an account as @user@host or a URL".into()));
    }
    let back = match action {
        "follow" => {
            let a = actions::follow(app, account.trim()).await?;
            format!("/following?done=Asked+to+follow+{}", request::percent_encode(&a.handle()))
        }
        "unfollow" => {
            actions::unfollow(app, account.trim()).await?;
            "/following?done=Unfollowed".to_string()
        }
        "approve" => {
            follows::approve(app, &actions::known_account(app, &account).await?)?;
            "/requests?done=Approved".to_string()
        }
        "reject" => {
            follows::reject(app, &actions::known_account(app, &account).await?)?;
            "/requests?done=Rejected".to_string()
        }
        _ => {
            follows::reject(app, &actions::known_account(app, &account).await?)?;
            "/followers?done=Removed".to_string()
        }
    };
    Ok(response::redirect(&back))
}

/// POST /posts/ID/like|unlike|boost|unboost|react|unreact (react: field `emoji`)
pub async fn post_action(app: &App, req: Request<Incoming>, id: u64, action: &str) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let p = app.store.read(|r| r.post(id))?.ok_or(Error::NotFound)?;
    match action {
        "like" => follows::like(app, &p.uri)?,
        "react" => crate::domain::reactions::react(app, &p.uri, &form.text("emoji"))?,
        "unreact" => crate::domain::reactions::unreact(app, &p.uri, &form.text("emoji"))?,
        "unlike" => follows::unlike(app, &p.uri)?,
        "boost" => follows::boost(app, &p.uri)?,
        "bookmark" => {
            app.store.write(|w| w.toggle_bookmark(id))?;
        }
        "pin" => {
            follows::toggle_pin(app, id)?;
        }
        "vote" => {
            let choices: Vec<String> = form.0.iter().filter(|(k, _)| k == "choice").map(|(_, v)| v.clone()).collect();
            follows::vote(app, id, &choices)?;
        }
        _ => follows::unboost(app, &p.uri)?,
    }
    let back = request::back_or(&form, format!("/posts/{id}"));
    Ok(response::redirect(&back))
}
