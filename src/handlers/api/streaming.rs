//! The Mastodon streaming API (issue 10; client-api-notes §4):
//! - WebSocket `GET /api/v1/streaming` (with or without a trailing slash). The token comes from
//!   `Authorization: Bearer`, from `Sec-WebSocket-Protocol` (echoed in the 101, or Chromium
//!   aborts), or from `access_token` in the query. Streams come from `stream=` (+ `tag=`,
//!   `list=`) and from multiplexed text frames `{"type":"subscribe"|"unsubscribe","stream":…,
//!   "tag"?:…,"list"?:…}`. Each event is a text frame
//!   `{"stream":["user"],"event":"update","payload":"<JSON string>"}`; a `delete` payload is the
//!   bare status id; `filters_changed` has none. Errors are `{"error":…,"status":…}` frames.
//! - Server-Sent Events at `/api/v1/streaming/{user,user/notification,public,public/local,
//!   hashtag,hashtag/local,list,direct}` (and `/api/v1/streaming?stream=…` without an
//!   Upgrade): `event: update\ndata: <payload>\n\n`.
//! - `/api/v1/streaming/health` answers `OK`.
//!
//! Streams: `user` (home `update`s, `notification`s, `delete`, `status.update`,
//! `filters_changed`), `user:notification`, `public`, `public:local`, `hashtag` and
//! `hashtag:local` (labelled `["hashtag","<tag>"]`), `list` (`["list","<id>"]`), `direct`.
//! A notification goes out once under `user` and once under `user:notification` when both are
//! subscribed, as masto.js expects.
//!
//! Events come from the store's one live bus (`store::live`, which the deck's SSE reads too) and
//! are rendered by the same entity functions as the REST API (`entities::Ctx`), with the same
//! rules as the timelines (exclusive lists, blocks, mutes, filters).
//!
//! Idle cost: a socket is one parked task with a 4 KiB read buffer, a broadcast receiver and one
//! 45 s ping timer. A client that does not read is dropped: writes are bounded (64 KiB buffer, a
//! 20 s send timeout) and a socket that falls more than the bus's capacity behind is closed.

use super::entities::Ctx;
use super::ApiError;
use crate::app::App;
use crate::domain::safety::{Screen, Screener};
use crate::domain::timeline::{self, Viewer};
use crate::model::Visibility;
use crate::server::request::{self, Form};
use crate::server::response::{self, Body, Resp};
use crate::store::{LiveEvent, OAuthToken};
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::Request;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

/// Ping interval (both transports): long enough to cost nothing idle, short enough for proxies.
const PING: Duration = Duration::from_secs(45);
/// A send (WebSocket frame or SSE chunk) that cannot complete in this time drops the stream.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest frame or message a client may send (subscribe frames are ~100 bytes).
const MAX_IN: usize = 16 * 1024;
/// Bytes queued for one socket before it counts as not reading.
const MAX_OUT: usize = 64 * 1024;
/// Streams one socket may subscribe to at once.
const MAX_SUBS: usize = 16;
/// Streams open at once (WebSocket and SSE): upgraded sockets leave hyper's connection cap.
const MAX_OPEN: usize = 64;

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// One open stream's place under `MAX_OPEN`, given back on drop.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        OPEN.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_OPEN).then_some(n + 1)).ok().map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a path (trailing slash already removed) belongs to the streaming API.
pub fn is_streaming_path(path: &str) -> bool {
    path == "/api/v1/streaming" || path.starts_with("/api/v1/streaming/")
}

/// The URL clients open sockets on: the base URL with `ws`/`wss` for `http`/`https`
/// (`urls.streaming_api` in instance v1, `configuration.urls.streaming` in v2).
pub fn url(app: &App) -> String {
    let base = &app.urls.base;
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.clone()
    }
}

/// A stream a client can subscribe to (Mastodon's names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stream {
    User,
    UserNotification,
    Public,
    PublicLocal,
    /// A hashtag as the client spelled it, without `#`.
    Hashtag(String),
    HashtagLocal(String),
    /// A list id.
    List(u64),
    Direct,
}

impl Stream {
    /// From a stream name and its parameters; the error is the message of an error frame.
    pub fn parse(name: &str, tag: Option<&str>, list: Option<&str>) -> Result<Stream, &'static str> {
        // Kept as sent: masto.js looks for its own spelling in `stream`; matching ignores case.
        let tag = || tag.map(|t| t.trim().trim_start_matches('#').to_string()).filter(|t| !t.is_empty() && t.len() <= 100).ok_or("No tag for stream provided");
        Ok(match name {
            "user" => Stream::User,
            "user:notification" => Stream::UserNotification,
            "public" => Stream::Public,
            "public:local" => Stream::PublicLocal,
            "hashtag" => Stream::Hashtag(tag()?),
            "hashtag:local" => Stream::HashtagLocal(tag()?),
            "list" => Stream::List(list.and_then(|l| l.trim().parse().ok()).ok_or("No list for stream provided")?),
            "direct" => Stream::Direct,
            _ => return Err("Unknown stream type"),
        })
    }

    /// The scope a token needs for it (`read` covers both).
    pub fn scope(&self) -> &'static str {
        match self {
            Stream::UserNotification => "read:notifications",
            Stream::List(_) => "read:lists",
            _ => "read:statuses",
        }
    }

    /// The `stream` array of its events: masto.js drops events whose array lacks the name and
    /// parameter it subscribed with.
    pub fn label(&self) -> Value {
        match self {
            Stream::User => json!(["user"]),
            Stream::UserNotification => json!(["user:notification"]),
            Stream::Public => json!(["public"]),
            Stream::PublicLocal => json!(["public:local"]),
            Stream::Hashtag(t) => json!(["hashtag", t]),
            Stream::HashtagLocal(t) => json!(["hashtag:local", t]),
            Stream::List(id) => json!(["list", id.to_string()]),
            Stream::Direct => json!(["direct"]),
        }
    }
}

/// One event for one stream. `payload` is None only for `filters_changed`.
#[derive(Debug, PartialEq)]
pub struct Event {
    pub stream: Stream,
    pub event: &'static str,
    pub payload: Option<String>,
}

impl Event {
    /// The WebSocket text frame.
    fn ws_text(&self) -> String {
        let mut v = json!({ "stream": self.stream.label(), "event": self.event });
        if let Some(p) = &self.payload {
            v["payload"] = Value::String(p.clone());
        }
        v.to_string()
    }
    /// The SSE chunk (Mastodon's SSE form has no stream name).
    fn sse(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.event, self.payload.as_deref().unwrap_or("null"))
    }
}

/// Turns one bus event into the events `subs` should get, rendered as the REST API renders
/// them. `notify`: the token may read notifications (the `user` stream skips them otherwise).
pub fn events(app: &App, subs: &[Stream], notify: bool, ev: &LiveEvent) -> crate::error::Result<Vec<Event>> {
    let mut out = Vec::new();
    let has = |s: &Stream| subs.contains(s);
    let mut push = |stream: &Stream, event: &'static str, payload: &Option<String>| {
        if subs.contains(stream) && !out.iter().any(|e: &Event| e.stream == *stream && e.event == event) {
            out.push(Event { stream: stream.clone(), event, payload: payload.clone() });
        }
    };
    match ev {
        LiveEvent::Home(id) if has(&Stream::User) => {
            let Some((e, p)) = app.store.read(|r| Ok(match r.home_entry(*id)? {
                Some(e) => r.post(e.post_id)?.map(|p| (e, p)),
                None => None,
            }))?
            else {
                return Ok(out);
            };
            if !timeline::on_home(app, &e, &p) || Screener::new(app, "home").screen(&p, e.boosted_by.as_deref()) == Screen::Hide {
                return Ok(out);
            }
            let ctx = Ctx::new(app, Viewer::Owner)?;
            ctx.prepare([&p], e.boosted_by.clone());
            push(&Stream::User, "update", &Some(ctx.home_status(*id, &e, &p).to_string()));
        }
        LiveEvent::Notification(id) if has(&Stream::User) || has(&Stream::UserNotification) => {
            let Some(n) = app.store.read(|r| r.notification(*id))? else { return Ok(out) };
            if !timeline::notification_shown(app, &n, crate::time::now_ms()) {
                return Ok(out);
            }
            let ctx = Ctx::new(app, Viewer::Owner)?;
            ctx.prepare([], [n.actor.clone()]);
            let payload = Some(ctx.notification(*id, &n).to_string());
            if notify {
                push(&Stream::User, "notification", &payload);
            }
            push(&Stream::UserNotification, "notification", &payload);
        }
        LiveEvent::PostNew(id) | LiveEvent::PostEdited(id) => {
            let edited = matches!(ev, LiveEvent::PostEdited(_));
            let event = if edited { "status.update" } else { "update" };
            let Some(p) = app.store.read(|r| r.post(*id))? else { return Ok(out) };
            let public = p.visibility == Visibility::Public;
            let mut targets: Vec<Stream> = Vec::new();
            // New posts reach `user` through their home entry; edits of anything it may show.
            if edited {
                targets.push(Stream::User);
            }
            if p.visibility == Visibility::Direct {
                targets.push(Stream::Direct);
            }
            for s in subs {
                let wanted = match s {
                    Stream::Public => public,
                    Stream::PublicLocal => public && p.local,
                    Stream::Hashtag(t) => public && p.tags.iter().any(|x| x.eq_ignore_ascii_case(t)),
                    Stream::HashtagLocal(t) => public && p.local && p.tags.iter().any(|x| x.eq_ignore_ascii_case(t)),
                    Stream::List(l) => p.visibility != Visibility::Direct && app.store.read(|r| r.lists_of(&p.author))?.contains(l),
                    _ => false,
                };
                if wanted {
                    targets.push(s.clone());
                }
            }
            targets.retain(|s| subs.contains(s));
            if targets.is_empty() {
                return Ok(out);
            }
            let context = if targets.iter().all(|s| matches!(s, Stream::User | Stream::Direct)) { "home" } else { "public" };
            if Screener::new(app, context).screen(&p, None) == Screen::Hide {
                return Ok(out);
            }
            let ctx = Ctx::new(app, Viewer::Owner)?;
            ctx.prepare([&p], []);
            let payload = Some(ctx.status(&p, None).to_string());
            for s in &targets {
                push(s, event, &payload);
            }
        }
        LiveEvent::PostDeleted { id, public, local, direct } => {
            let payload = Some(id.to_string());
            for s in subs {
                let wanted = match s {
                    Stream::User | Stream::List(_) => true,
                    Stream::Public | Stream::Hashtag(_) => *public,
                    Stream::PublicLocal | Stream::HashtagLocal(_) => *public && *local,
                    Stream::Direct => *direct,
                    Stream::UserNotification => false,
                };
                if wanted {
                    push(s, "delete", &payload);
                }
            }
        }
        LiveEvent::FiltersChanged => push(&Stream::User, "filters_changed", &None),
        _ => {}
    }
    Ok(out)
}

fn error_json(status: u16, msg: &str) -> Resp {
    response::json(status, "application/json; charset=utf-8", &json!({ "error": msg }))
}

fn error_frame(status: u16, msg: &str) -> Message {
    Message::text(json!({ "error": msg, "status": status }).to_string())
}

/// The token: `Authorization: Bearer`, then the first `Sec-WebSocket-Protocol` value (returned
/// too, to echo), then `access_token` in the query.
fn bearer(req: &Request<Incoming>, query: &Form) -> (Option<String>, Option<String>) {
    let h = req.headers();
    let protocol = h.get(hyper::header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(a) = h.get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim) {
        if a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ") {
            return (Some(a[7..].trim().to_string()), protocol);
        }
    }
    if let Some(p) = &protocol {
        return (Some(p.clone()), protocol);
    }
    (query.get("access_token").filter(|t| !t.is_empty()).map(str::to_string), protocol)
}

/// The owner's token with some read scope, or the 401 JSON answer (before any upgrade).
fn authorise(app: &App, token: Option<String>) -> Result<OAuthToken, Resp> {
    let Some(token) = token else { return Err(error_json(401, "Missing access token")) };
    let t = match crate::domain::oauth::token(app, &token) {
        Ok(Some(t)) if t.owner => t,
        Ok(_) => return Err(error_json(401, "The access token is invalid")),
        Err(e) => return Err(response::json(e.status(), "application/json; charset=utf-8", &ApiError::from(e).body)),
    };
    let reads = ["read:statuses", "read:notifications"].iter().any(|s| crate::domain::oauth::allows(&t.scopes, s));
    if !reads {
        return Err(error_json(401, "Access token does not have the required scopes"));
    }
    Ok(t)
}

/// Entry point from `api::handle` for paths `is_streaming_path` accepts (trailing slash removed).
pub fn handle(app: &App, mut req: Request<Incoming>, path: &str) -> Resp {
    let rest = path.trim_start_matches("/api/v1/streaming").trim_start_matches('/');
    if rest == "health" {
        return response::with_type(200, "text/plain; charset=utf-8", "OK");
    }
    let query = request::query(&req);
    let name = match rest {
        "" => query.get("stream").unwrap_or("").to_string(),
        // The SSE paths: user/notification → user:notification, and so on.
        r => r.replace('/', ":"),
    };
    let (token, protocol) = bearer(&req, &query);
    let token = match authorise(app, token) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let initial = if name.is_empty() {
        None
    } else {
        match Stream::parse(&name, query.get("tag"), query.get("list")) {
            Ok(s) => Some(s),
            Err(m) => return error_json(400, m),
        }
    };
    if let Some(s) = &initial {
        if !crate::domain::oauth::allows(&token.scopes, s.scope()) {
            return error_json(401, "Access token does not have the required scopes");
        }
    }
    let upgrade = req.headers().get(hyper::header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(slot) = Slot::take() else { return error_json(503, "Too many open streams") };
    if !upgrade {
        return match initial {
            Some(s) => sse(app.clone(), token, s, slot),
            None => error_json(400, "Unknown stream type"),
        };
    }
    // RFC 6455 §4.2: version 13 and a key; the answer proves we read the key.
    let key = req.headers().get(hyper::header::SEC_WEBSOCKET_KEY).map(|k| k.as_bytes().to_vec());
    let version_ok = req.headers().get(hyper::header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v.as_bytes() == b"13");
    let (Some(key), true) = (key, version_ok) else {
        let mut r = error_json(400, "A WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13");
        r.headers_mut().insert(hyper::header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return r;
    };
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&key);
    ctx.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ctx.finish().as_ref());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let app = app.clone();
    // Subscribed before the 101 goes out: whatever commits after the client sees it arrives.
    let bus = app.store.live.subscribe();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(io) => socket(app, hyper_util::rt::TokioIo::new(io), token, initial, bus, slot).await,
            Err(e) => tracing::debug!("streaming upgrade failed: {e}"),
        }
    });
    let mut r = hyper::Response::new(response::full(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(hyper::header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(hyper::header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(hyper::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    // Chromium aborts a socket whose offered subprotocol is not echoed (elk #2706).
    if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        h.insert(hyper::header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    r
}

/// A multiplexed subscribe/unsubscribe frame.
#[derive(serde::Deserialize)]
struct Command {
    #[serde(rename = "type")]
    kind: String,
    stream: String,
    tag: Option<String>,
    /// A list id, as a string or a number.
    list: Option<Value>,
}

/// Applies one text frame from the client; an error frame to send back if it was bad.
fn command(text: &str, scopes: &[String], subs: &mut Vec<Stream>) -> Option<Message> {
    let c: Command = match serde_json::from_str(text) {
        Ok(c) => c,
        Err(_) => return Some(error_frame(400, "Malformed frame: expected {\"type\":\"subscribe\"|\"unsubscribe\",\"stream\":…}")),
    };
    let list = c.list.as_ref().map(|l| match l {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let s = match Stream::parse(&c.stream, c.tag.as_deref(), list.as_deref()) {
        Ok(s) => s,
        Err(m) => return Some(error_frame(400, m)),
    };
    match c.kind.as_str() {
        "subscribe" => {
            if !crate::domain::oauth::allows(scopes, s.scope()) {
                return Some(error_frame(401, "Access token does not have the required scopes"));
            }
            if !subs.contains(&s) {
                if subs.len() >= MAX_SUBS {
                    return Some(error_frame(400, "Too many subscriptions on this socket"));
                }
                subs.push(s);
            }
            None
        }
        "unsubscribe" => {
            subs.retain(|x| *x != s);
            None
        }
        _ => Some(error_frame(400, "Unknown type: expected subscribe or unsubscribe")),
    }
}

async fn socket<S>(app: App, io: S, token: OAuthToken, initial: Option<Stream>, mut bus: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::store::Change>>, _slot: Slot)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0).max_write_buffer_size(MAX_OUT).max_message_size(Some(MAX_IN)).max_frame_size(Some(MAX_IN));
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let mut subs: Vec<Stream> = initial.into_iter().collect();
    let notify = crate::domain::oauth::allows(&token.scopes, "read:notifications");
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Anything from the client since our last ping counts as alive.
    let mut heard = true;
    let close = |code: CloseCode, reason: &'static str| Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    loop {
        let out: Vec<Message> = tokio::select! {
            m = ws.next() => {
                heard = true;
                match m {
                    Some(Ok(Message::Text(t))) => command(t.as_str(), &token.scopes, &mut subs).into_iter().collect(),
                    Some(Ok(Message::Binary(_))) => vec![error_frame(400, "Binary frames are not understood: send JSON text frames")],
                    // tungstenite answers pings by itself; pongs only prove the client is there.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => vec![],
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        tracing::debug!("streaming socket: {e}");
                        // Too large a frame: say why, then go (the client may not read it).
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws.send(close(CloseCode::Size, "frame too large"))).await;
                        break;
                    }
                }
            }
            got = bus.recv() => match got {
                Ok(change) if change.events.contains(&LiveEvent::ShuttingDown) => vec![close(CloseCode::Away, "server shutting down")],
                Ok(change) => {
                    let mut frames = Vec::new();
                    for ev in &change.events {
                        match events(&app, &subs, notify, ev) {
                            Ok(evs) => frames.extend(evs.iter().map(|e| Message::text(e.ws_text()))),
                            Err(e) => tracing::warn!("streaming event {ev:?}: {e}"),
                        }
                    }
                    frames
                }
                // Hundreds of commits behind: this client is not reading.
                Err(RecvError::Lagged(_)) => vec![close(CloseCode::Again, "too far behind")],
                Err(RecvError::Closed) => vec![close(CloseCode::Away, "shutting down")],
            },
            _ = ping.tick() => {
                if !heard {
                    break; // no pong (nor anything else) for a whole interval
                }
                heard = false;
                vec![Message::Ping(Bytes::new())]
            }
        };
        let closing = out.iter().any(|m| matches!(m, Message::Close(_)));
        for m in out {
            match tokio::time::timeout(SEND_TIMEOUT, ws.send(m)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
        if closing {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
}

/// The SSE form: one stream per request, `event:`/`data:` chunks, a comment every `PING`.
fn sse(app: App, token: OAuthToken, stream: Stream, slot: Slot) -> Resp {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let notify = crate::domain::oauth::allows(&token.scopes, "read:notifications");
    let mut bus = app.store.live.subscribe();
    tokio::spawn(async move {
        let _slot = slot;
        let subs = [stream];
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if tx.send(Bytes::from_static(b":)\n")).await.is_err() {
            return;
        }
        loop {
            let chunk = tokio::select! {
                got = bus.recv() => match got {
                    Ok(change) if change.events.contains(&LiveEvent::ShuttingDown) => return,
                    Ok(change) => {
                        let mut s = String::new();
                        for ev in &change.events {
                            match events(&app, &subs, notify, ev) {
                                Ok(evs) => evs.iter().for_each(|e| s.push_str(&e.sse())),
                                Err(e) => tracing::warn!("streaming event {ev:?}: {e}"),
                            }
                        }
                        s
                    }
                    Err(_) => return, // lagged (not reading) or shutting down
                },
                _ = ping.tick() => ":thump\n\n".to_string(),
                _ = tx.closed() => return,
            };
            if chunk.is_empty() {
                continue;
            }
            match tokio::time::timeout(SEND_TIMEOUT, tx.send(Bytes::from(chunk))).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    });
    let body: Body = BodyExt::boxed(http_body_util::StreamBody::new(crate::handlers::deck::ReceiverStream(rx)));
    let mut r = hyper::Response::new(body);
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_label() {
        assert_eq!(Stream::parse("hashtag", Some("#Rust"), None).unwrap().label(), json!(["hashtag", "Rust"]));
        assert_eq!(Stream::parse("list", None, Some("12")).unwrap().label(), json!(["list", "12"]));
        assert_eq!(Stream::parse("user:notification", None, None).unwrap().scope(), "read:notifications");
        // Bad input: unknown names, a hashtag without a tag, a list id that is not a number.
        assert_eq!(Stream::parse("firehose", None, None), Err("Unknown stream type"));
        assert!(Stream::parse("hashtag", Some("  "), None).is_err());
        assert!(Stream::parse("list", None, Some("abc")).is_err());
    }

    #[test]
    fn frames_are_checked() {
        let t = vec!["read:notifications".to_string()];
        let mut subs = Vec::new();
        // Bad input: not JSON, JSON of the wrong shape, an unknown type, an unknown stream.
        for bad in ["{", "[1,2]", r#"{"type":"dance","stream":"user"}"#, r#"{"type":"subscribe","stream":"nope"}"#] {
            assert!(command(bad, &t, &mut subs).is_some(), "{bad}");
        }
        // A read:notifications token cannot read statuses.
        assert!(command(r#"{"type":"subscribe","stream":"public"}"#, &t, &mut subs).is_some());
        assert!(command(r#"{"type":"subscribe","stream":"user:notification"}"#, &t, &mut subs).is_none());
        assert!(command(r#"{"type":"subscribe","stream":"user:notification"}"#, &t, &mut subs).is_none());
        assert_eq!(subs, vec![Stream::UserNotification]);
        assert!(command(r#"{"type":"unsubscribe","stream":"user:notification"}"#, &t, &mut subs).is_none());
        assert!(subs.is_empty());
    }
}
