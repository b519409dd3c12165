//! The one routing table: `(method, path)` → handler. Also the request log line and the
//! Error → response mapping, so every route behaves the same on failure.

use crate::app::App;
use crate::error::{Error, Result};
use crate::handlers::{ap, assets, auth, deck, interact, lists, notifications, safety, search, social, web, wellknown};
use crate::server::request::wants_activity_json;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::{Method, Request};
use std::net::SocketAddr;
use std::time::Instant;

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; media-src 'self' https: http:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn handle(app: App, req: Request<Incoming>, peer: SocketAddr) -> Resp {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // Inbox answers are for servers: JSON whatever their Accept says.
    let inbox_post = method == Method::POST && path.ends_with("/inbox");
    let json = wants_activity_json(req.headers()) || inbox_post || path.starts_with("/api/") || path.starts_with("/.well-known/");
    // Who is asking matters only for an error page: checked then, so a page reads the store in
    // one transaction (issue 15).
    let cookie = req.headers().get(hyper::header::COOKIE).cloned();
    // Anonymous reads of public pages and JSON: rendered once per store change (server/cache.rs).
    let cache = crate::server::cache::key(&app, &method, req.uri(), req.headers()).map(|k| {
        let generation = app.store.generation.load(std::sync::atomic::Ordering::SeqCst);
        (k, generation, crate::server::cache::if_none_match(req.headers()))
    });
    let cached = cache.as_ref().and_then(|(k, g, h)| app.pages.get(k, *g, h.as_ref()));
    let mut resp = match cached {
        Some(r) => r,
        None => match route(&app, req, peer).await {
            Ok(r) => match cache {
                Some((k, g, h)) => app.pages.put(k, g, r, h.as_ref()).await,
                None => r,
            },
            Err(e) => {
                let mut h = hyper::HeaderMap::new();
                if let Some(c) = cookie {
                    h.insert(hyper::header::COOKIE, c);
                }
                response::error(&app, &e, json, auth::owner(&app, &h))
            }
        },
    };
    let h = resp.headers_mut();
    h.entry(hyper::header::X_CONTENT_TYPE_OPTIONS).or_insert(hyper::header::HeaderValue::from_static("nosniff"));
    h.entry(hyper::header::REFERRER_POLICY).or_insert(hyper::header::HeaderValue::from_static("same-origin"));
    // Pages run only pipit's own scripts from /static/: no inline script, no on* attributes, no
    // style="" attributes, no plugins, no framing. Remote images (avatars, attachments) may load.
    h.entry(hyper::header::CONTENT_SECURITY_POLICY).or_insert(hyper::header::HeaderValue::from_static(CSP));
    h.entry("x-frame-options").or_insert(hyper::header::HeaderValue::from_static("DENY"));
    // Browser clients (Phanpy, Elk) read these cross-origin.
    if path.starts_with("/.well-known/") || path.starts_with("/nodeinfo/") {
        h.entry("access-control-allow-origin").or_insert(hyper::header::HeaderValue::from_static("*"));
    }
    let status = resp.status().as_u16();
    tracing::debug!(%peer, %method, path, status, ms = start.elapsed().as_millis() as u64, "request");
    resp
}

async fn route(app: &App, req: Request<Incoming>, peer: SocketAddr) -> Result<Resp> {
    let path = req.uri().path().to_string();
    if crate::handlers::api::is_api_path(&path) {
        return Ok(crate::handlers::api::handle(app, req, peer).await);
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let me = app.urls.username.as_str();
    let at_me = format!("@{me}");
    let is_me = |s: &str| s == at_me;
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let post = req.method() == Method::POST;
    let json = wants_activity_json(req.headers());
    match segs.as_slice() {
        [""] if get => Ok(response::moved(&app.urls.profile())),
        // ActivityPub, content-negotiated on the same URLs as the pages.
        [s] if get && json && is_me(s) => ap::actor(app, &req).await,
        [s, id] if get && json && is_me(s) => ap::note(app, &req, parse_id(id)?).await,
        ["users", u] if get && json && *u == me => ap::actor(app, &req).await,
        ["users", u, "statuses", id] if get && json && *u == me => ap::note(app, &req, parse_id(id)?).await,
        ["users", u, "statuses", id, "activity"] if get && *u == me => ap::note_activity(app, &req, parse_id(id)?).await,
        ["users", u, "statuses", id, "replies"] if get && *u == me => ap::replies(app, &req, parse_id(id)?).await,
        ["users", u, "statuses", id, "likes"] if get && *u == me => ap::interactions(app, &req, parse_id(id)?, "like").await,
        ["users", u, "statuses", id, "shares"] if get && *u == me => ap::interactions(app, &req, parse_id(id)?, "boost").await,
        ["users", u, "outbox"] if get && *u == me => ap::outbox(app, &req).await,
        ["users", u, "followers"] if get && *u == me => ap::relations(app, &req, true).await,
        ["users", u, "following"] if get && *u == me => ap::relations(app, &req, false).await,
        ["users", u, "collections", what @ ("featured" | "tags")] if get && *u == me => ap::featured(app, what),
        ["users", u, "activities", id] if get && *u == me => ap::activity(app, parse_id(id)?),
        ["users", u, "inbox"] if post && *u == me => ap::inbox(app, req).await,
        ["inbox"] | ["actor", "inbox"] if post => ap::inbox(app, req).await,
        ["actor"] if get => ap::instance_actor(app),
        [".well-known", "webfinger"] if get => wellknown::webfinger(app, &req),
        [".well-known", "host-meta"] if get => Ok(wellknown::host_meta(app)),
        [".well-known", "nodeinfo"] if get => Ok(wellknown::nodeinfo_links(app)),
        ["nodeinfo", v @ ("2.0" | "2.1")] if get => wellknown::nodeinfo(app, v),
        [s] if get && is_me(s) => web::profile(app, &req),
        [s] if get && *s == format!("{at_me}.atom") => web::feed(app, &req, true),
        [s] if get && *s == format!("{at_me}.rss") => web::feed(app, &req, false),
        [s, id] if get && is_me(s) => web::post_page(app, &req, parse_id(id)?),
        [s, id, "edit"] if get && is_me(s) => web::edit_page(app, &req, parse_id(id)?),
        [s, id, "edit"] if post && is_me(s) => web::edit(app, req, parse_id(id)?).await,
        [s, id, "delete"] if post && is_me(s) => web::delete(app, req, parse_id(id)?).await,
        ["users", u] if get && *u == me => Ok(response::moved(&app.urls.profile())),
        ["users", u, "statuses", id] if get && *u == me => {
            let id = parse_id(id)?;
            Ok(response::moved(&app.urls.post_url(id)))
        }
        ["tags", feed] if get && (feed.ends_with(".rss") || feed.ends_with(".atom")) => {
            let atom = feed.ends_with(".atom");
            let name = crate::server::request::percent_decode(feed.trim_end_matches(".rss").trim_end_matches(".atom"));
            web::tag_feed(app, &req, &name, atom)
        }
        ["tags", tag] if get => web::tag_page(app, &req, &crate::server::request::percent_decode(tag)),
        ["compose"] if post => web::compose(app, req).await,
        ["compose"] if get => social::compose_page(app, &req).await,
        ["home"] if get => social::home(app, &req),
        ["notifications"] if get => notifications::page(app, &req),
        ["community"] if get => crate::handlers::community::page(app, &req),
        ["community", "dismiss"] if post => crate::handlers::community::dismiss(app, req).await,
        ["community", "list"] if post => crate::handlers::community::add_to_list(app, req).await,
        ["lists"] if get => lists::index(app, &req),
        ["lists"] if post => lists::create(app, req).await,
        ["lists", id] if get && json => crate::handlers::starter_pack::collection(app, &req, parse_id(id)?).await,
        ["lists", id] if get => lists::show(app, &req, parse_id(id)?),
        ["lists", id, "follow-from"] if get => crate::handlers::starter_pack::follow_from(app, &req, parse_id(id)?).await,
        ["starter-pack"] if get => crate::handlers::starter_pack::remote_page(app, &req).await,
        ["starter-pack", "follow"] if post => crate::handlers::starter_pack::follow_all(app, req).await,
        ["lists", id, "edit"] if post => lists::edit(app, req, parse_id(id)?, false).await,
        ["lists", id, "delete"] if post => lists::edit(app, req, parse_id(id)?, true).await,
        ["lists", id, "add"] if post => lists::member(app, req, parse_id(id)?, true).await,
        ["lists", id, "remove"] if post => lists::member(app, req, parse_id(id)?, false).await,
        ["tags", tag, "follow"] if post => lists::follow_tag(app, req, &crate::server::request::percent_decode(tag), true).await,
        ["tags", tag, "unfollow"] if post => lists::follow_tag(app, req, &crate::server::request::percent_decode(tag), false).await,
        ["bookmarks"] if get => lists::bookmarks(app, &req),
        ["settings", "safety"] if get => safety::page(app, &req),
        ["settings", "relays"] if get => crate::handlers::relays::page(app, &req),
        ["settings", "relays"] if post => crate::handlers::relays::action(app, req).await,
        ["settings", "crosspost"] if get => crate::handlers::crosspost::page(app, &req),
        ["settings", "crosspost"] if post => crate::handlers::crosspost::action(app, req).await,
        ["settings", "crosspost", "callback"] if get => crate::handlers::crosspost::callback(app, &req).await,
        ["settings", "apps"] if get => crate::handlers::api::oauth::apps_page(app, &req),
        ["settings", "apps", id, "revoke"] if post => crate::handlers::api::oauth::revoke_app(app, req, parse_id(id)?).await,
        ["search"] if get => search::search(app, &req).await,
        ["search", "suggest"] if get => search::suggest(app, &req),
        ["deck"] if get => deck::page(app, &req),
        ["deck"] if post => deck::edit(app, req).await,
        ["deck", "column", n] if get => deck::column(app, &req, n.parse().map_err(|_| Error::NotFound)?),
        ["deck", "events"] if get => deck::events(app, &req),
        [s] if get && s.starts_with('@') && s[1..].contains('@') => search::account(app, &req, &crate::server::request::percent_decode(s)).await,
        ["settings", "approval"] if post => safety::action(app, req, "approval", None).await,
        [a @ ("block" | "unblock" | "mute" | "unmute" | "domain-block" | "domain-unblock" | "filters")] if post => safety::action(app, req, a, None).await,
        ["filters", id, "delete"] if post => safety::action(app, req, "filter-delete", Some(parse_id(id)?)).await,
        ["posts", id] if get => social::post_page(app, &req, parse_id(id)?),
        ["posts", id, a @ ("like" | "unlike" | "boost" | "unboost" | "bookmark" | "pin" | "vote" | "react" | "unreact")] if post => social::post_action(app, req, parse_id(id)?, a).await,
        [w @ ("following" | "followers" | "requests")] if get => social::people(app, &req, w),
        [a @ ("follow" | "unfollow")] if post => social::relation_action(app, req, a).await,
        ["requests", a @ ("approve" | "reject")] if post => social::relation_action(app, req, a).await,
        ["followers", "remove"] if post => social::relation_action(app, req, "remove").await,
        ["login"] if get => auth::login_page(app, &req),
        ["login"] if post => auth::login(app, req, peer).await,
        ["logout"] if post => auth::logout(app, req).await,
        ["setup"] if get => auth::setup_page(app, &req),
        ["setup"] if post => auth::setup(app, req).await,
        ["settings"] if get => web::settings_page(app, &req),
        ["settings"] if post => web::settings(app, req).await,
        ["settings", "about"] if post => web::settings_about(app, req).await,
        ["settings", "posting"] if post => crate::handlers::publishing::settings(app, req).await,
        ["scheduled"] if get => crate::handlers::publishing::page(app, &req),
        ["scheduled", id, a @ ("publish" | "delete")] if post => crate::handlers::publishing::action(app, req, parse_id(id)?, a).await,
        ["settings", "images"] if post => web::settings_images(app, req).await,
        ["settings", "password"] if post => web::settings_password(app, req).await,
        ["settings", "aliases"] if post => web::settings_aliases(app, req).await,
        ["settings", "move"] if post => web::settings_move(app, req).await,
        ["settings", "import"] if post => crate::handlers::portability::import(app, req).await,
        ["settings", "export", name] if get => crate::handlers::portability::download(app, &req, name).await,
        ["webmention"] if post => crate::handlers::webmention::receive(app, req).await,
        ["authorize_interaction"] if get => interact::authorize_interaction(app, &req).await,
        ["about"] | ["privacy"] if get => web::about(app, &req),
        ["static", name] if get => assets::static_file(req.headers(), name),
        ["media", name] if get => assets::media(app, req.headers(), name).await,
        ["cache", sig, actor, url] if get => assets::cached(app, req.headers(), sig, actor, url).await,
        ["favicon.ico"] if get => assets::static_file(req.headers(), "favicon.svg"),
        _ if !get && !post => Err(Error::BadRequest(format!("method {} not supported", req.method()))),
        _ => Err(Error::NotFound),
    }
}

fn parse_id(s: &str) -> Result<u64> {
    s.parse().map_err(|_| Error::NotFound)
}
