//! /deck: the owner's multi-column view (home, notifications, direct conversations, a list, a
//! hashtag, a saved search). Columns are server-rendered; with JavaScript on, /deck/events (Server-Sent Events)
//! says when something arrived and static/deck.js reloads just the columns. Without JavaScript
//! each column has a refresh link and the page works as it is.

use crate::app::App;
use crate::error::{Error, Result};
use crate::handlers::{auth, social};
use crate::model::{Column, NotificationKind};
use crate::server::request;
use crate::server::response::{self, Body, Resp};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming};
use hyper::Request;
use minijinja::{context, Value};
use std::time::Duration;

const KINDS: &[&str] = &["home", "notifications", "direct", "list", "tag", "search"];
const MAX_COLUMNS: usize = 8;
const PER_COLUMN: usize = 20;

fn default_columns() -> Vec<Column> {
    vec![Column { kind: "home".into(), arg: String::new() }, Column { kind: "notifications".into(), arg: String::new() }]
}

fn columns(app: &App) -> Result<Vec<Column>> {
    let c = app.store.read(|r| r.deck())?;
    Ok(if c.is_empty() { default_columns() } else { c })
}

/// One column's title, link and content.
fn column_view(app: &App, index: usize, c: &Column) -> Result<Value> {
    let profile = app.store.read(|r| r.profile())?;
    let (title, link, posts, notes): (String, String, Vec<crate::render::views::PostView>, Vec<Value>) = match c.kind.as_str() {
        "home" => {
            let (entries, _) = app.store.read(|r| r.home(None, PER_COLUMN))?;
            let hidden = |actor: &str| app.store.read(|r| r.in_exclusive_list(actor)).unwrap_or(false);
            let posts = social::screened(app, entries.iter().filter(|(_, e, p)| !hidden(e.boosted_by.as_deref().unwrap_or(&p.author))).map(|(_, e, p)| (p, e.boosted_by.as_deref())), &profile, "home");
            ("Home".into(), "/home".into(), posts, vec![])
        }
        "notifications" => {
            let now = crate::time::now_ms();
            let (items, _) = app.store.read(|r| r.notifications_where(None, PER_COLUMN, &|n| !r.is_blocked(&n.actor).unwrap_or(false) && !r.is_muted(&n.actor, now).unwrap_or(false)))?;
            let notes = items
                .iter()
                .map(|(id, n)| {
                    let what = match n.kind {
                        NotificationKind::Follow => "followed you",
                        NotificationKind::FollowRequest => "asked to follow you",
                        NotificationKind::Mention => "mentioned you",
                        NotificationKind::Reply => "replied",
                        NotificationKind::Like => "liked your post",
                        NotificationKind::Boost => "boosted your post",
                        NotificationKind::Reaction => "reacted",
                        NotificationKind::Quote => "quoted you",
                        NotificationKind::Move => "moved",
                        NotificationKind::Status => "posted",
                    };
                    context! { id => id.to_string(), who => social::author(app, &profile, &n.actor), what, detail => n.detail, post => n.post_uri, when => crate::time::human_date(n.at_ms) }
                })
                .collect();
            ("Notifications".into(), "/notifications".into(), vec![], notes)
        }
        // The client API's conversations (domain::conversations), newest post of each: direct
        // posts and silent mentions (issue 16), read here without a notification.
        "direct" => {
            let range = crate::store::Range { max_id: None, since_id: None, min_id: None, limit: PER_COLUMN };
            let rows = crate::domain::conversations::rows(app, &range, None)?;
            ("Direct".into(), "/deck".into(), social::screened(app, rows.iter().map(|(_, _, p, _)| (p, None)), &profile, "home"), vec![])
        }
        "list" => {
            let id: u64 = c.arg.parse().map_err(|_| Error::BadRequest(format!("“{}” is not one of your lists", c.arg)))?;
            let name = app.store.read(|r| r.list(id))?.map(|l| l.name).ok_or_else(|| Error::BadRequest("This list was deleted".into()))?;
            let (posts, _) = app.store.read(|r| r.list_posts(id, None, PER_COLUMN))?;
            (format!("List: {name}"), format!("/lists/{id}"), social::screened(app, posts.iter().map(|p| (p, None)), &profile, "public"), vec![])
        }
        "tag" => {
            let page = crate::domain::timeline::tag(app, crate::domain::timeline::Viewer::Owner, &c.arg, None)?;
            (format!("#{}", c.arg), format!("/tags/{}", request::percent_encode(&c.arg)), social::screened(app, page.posts.iter().map(|p| (p, None)), &profile, "public"), vec![])
        }
        _ => {
            let terms = crate::store::query_terms(&c.arg, 8);
            let (found, _) = app.store.read(|r| r.search(&terms, None, PER_COLUMN, &|_| true))?;
            (format!("Search: {}", c.arg), format!("/search?q={}", request::percent_encode(&c.arg)), social::screened(app, found.iter().map(|p| (p, None)), &profile, "public"), vec![])
        }
    };
    Ok(context! { index, kind => c.kind, arg => c.arg, title, link, posts, notes })
}

/// A column, or when it cannot be shown (a list that is gone, a column stored by an older
/// version) an error card in its place: one bad column never takes the deck down, and its
/// remove button stays reachable.
fn column_or_error(app: &App, index: usize, c: &Column) -> Value {
    column_view(app, index, c).unwrap_or_else(|e| {
        if e.status() >= 500 {
            tracing::warn!("deck column {index} ({} {:?}): {e}", c.kind, c.arg);
        }
        let title = if c.arg.is_empty() { c.kind.clone() } else { format!("{}: {}", c.kind, c.arg) };
        context! { index, kind => c.kind, arg => c.arg, title, link => "/deck", posts => Vec::<Value>::new(), notes => Vec::<Value>::new(), error => e.public_message() }
    })
}

/// The list a deck column names: its id, or its name (case-insensitive), as the add form invites.
fn find_list(app: &App, arg: &str) -> Result<u64> {
    let lists = app.store.read(|r| r.lists())?;
    if let Ok(id) = arg.parse::<u64>() {
        if lists.iter().any(|(i, _)| *i == id) {
            return Ok(id);
        }
    }
    if let Some((id, _)) = lists.iter().find(|(_, l)| l.name.trim().eq_ignore_ascii_case(arg.trim())) {
        return Ok(*id);
    }
    let names: Vec<String> = lists.iter().map(|(_, l)| format!("“{}”", l.name)).collect();
    Err(Error::BadRequest(if names.is_empty() {
        format!("No list called “{arg}”: you have no lists yet. Make one under Lists first.")
    } else {
        format!("No list called “{arg}”. Your lists: {}.", names.join(", "))
    }))
}

/// GET /deck
pub fn page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let cols = columns(app)?;
    let views: Vec<Value> = cols.iter().enumerate().map(|(i, c)| column_or_error(app, i, c)).collect();
    let lists: Vec<_> = app.store.read(|r| r.lists())?.into_iter().map(|(id, l)| context! { id => id.to_string(), name => l.name }).collect();
    Ok(response::html(app.render.render("deck.html", context! { columns => views, lists, kinds => KINDS, owner => o })?))
}

/// GET /deck/column/N: one column's inside, for the live reload.
pub fn column(app: &App, req: &Request<Incoming>, index: usize) -> Result<Resp> {
    let o = auth::owner(app, req.headers()).ok_or_else(|| Error::Unauthorized("Log in first".into()))?;
    let cols = columns(app)?;
    let c = cols.get(index).ok_or(Error::NotFound)?;
    let v = column_or_error(app, index, c);
    Ok(response::html(app.render.render("deck_column.html", context! { c => v, owner => o })?))
}

/// POST /deck: add (kind, arg), remove (index), left/right (index).
pub async fn edit(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    let mut cols = columns(app)?;
    let index = form.get("index").and_then(|i| i.parse::<usize>().ok());
    match form.get("action").unwrap_or("") {
        "add" => {
            let kind = form.text("kind");
            let arg = form.text("arg").trim().trim_start_matches('#').to_string();
            if !KINDS.contains(&kind.as_str()) {
                return Err(Error::BadRequest("Unknown column kind".into()));
            }
            if matches!(kind.as_str(), "list" | "tag" | "search") && arg.is_empty() {
                return Err(Error::BadRequest("This column needs a list, hashtag or search words".into()));
            }
            if cols.len() >= MAX_COLUMNS {
                return Err(Error::BadRequest(format!("At most {MAX_COLUMNS} columns")));
            }
            let arg = match kind.as_str() {
                "list" => find_list(app, &arg)?.to_string(),
                "tag" => arg.to_lowercase(),
                "home" | "notifications" | "direct" => String::new(),
                _ => arg,
            };
            cols.push(Column { kind, arg });
        }
        "remove" => {
            let i = index.filter(|&i| i < cols.len()).ok_or(Error::NotFound)?;
            cols.remove(i);
        }
        "left" => {
            let i = index.filter(|&i| i > 0 && i < cols.len()).ok_or(Error::NotFound)?;
            cols.swap(i, i - 1);
        }
        "right" => {
            let i = index.filter(|&i| i + 1 < cols.len()).ok_or(Error::NotFound)?;
            cols.swap(i, i + 1);
        }
        _ => return Err(Error::BadRequest("Unknown deck action".into())),
    }
    app.store.write(|w| w.put_deck(&cols))?;
    Ok(response::redirect("/deck"))
}

/// GET /deck/events: `event: update` whenever the store gains posts or notifications, and a
/// comment every 20 s so proxies keep the stream open.
pub fn events(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    auth::owner(app, req.headers()).ok_or_else(|| Error::Unauthorized("Log in first".into()))?;
    let mut rx = app.store.live.subscribe();
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        if tx.send(Bytes::from_static(b"retry: 3000\n\n")).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                got = rx.recv() => {
                    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
                    let mut n = match got {
                        Ok(c) if c.events.contains(&crate::store::LiveEvent::ShuttingDown) => return,
                        Ok(c) => c.seq,
                        Err(RecvError::Lagged(_)) => 0, // missed some: reload anyway
                        Err(RecvError::Closed) => return,
                    };
                    // Coalesce bursts: a flood of deliveries becomes one reload.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    loop {
                        match rx.try_recv() {
                            Ok(c) => n = c.seq,
                            Err(TryRecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                    if tx.send(Bytes::from(format!("event: update\ndata: {n}\n\n"))).await.is_err() { return; }
                }
                _ = tokio::time::sleep(Duration::from_secs(20)) => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() { return; }
                }
            }
        }
    });
    let body: Body = http_body_util::StreamBody::new(ReceiverStream(out)).boxed();
    let mut r = hyper::Response::new(body);
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/event-stream"));
    h.insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", hyper::header::HeaderValue::from_static("no"));
    Ok(r)
}

/// A channel as a stream of body frames (also the streaming API's SSE bodies).
pub(crate) struct ReceiverStream(pub(crate) tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for ReceiverStream {
    type Item = std::result::Result<Frame<Bytes>, std::io::Error>;
    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}
