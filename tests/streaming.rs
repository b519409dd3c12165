//! The Mastodon streaming API (issue 10): a raw WebSocket client (tokio-tungstenite) checks the
//! wire rules of client-api-notes §4 (token sources, subprotocol echo, multiplexed subscribe
//! frames, `stream` labels, delete payloads, scopes, bad frames); the SSE form with a plain HTTP
//! reader; masto.js's own streaming client sees a federated pipit's post and like.

mod common;

use common::{eventually, Client, Instance, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use futures_util::{SinkExt, StreamExt};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

const PW: &str = "correct horse battery";
type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn expect(r: &Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", r.body))
}

async fn send(c: &Client, method: &str, path: &str, token: &str, form: &str) -> Response {
    let h = vec![("authorization".to_string(), format!("Bearer {token}")), ("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
    c.send(method, path, h, Bytes::from(form.to_string())).await
}

/// Registers an app and gets a password-grant token for each scope set.
async fn tokens(i: &Instance, scopes: &[&str]) -> Vec<String> {
    pipit::domain::owner::set_password(&i.app, PW).unwrap();
    let c = i.client();
    let app = expect(&c.post_form("/api/v1/apps", &[("client_name", "stream"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", "read write follow")]).await, 200, "app");
    let (id, secret) = (app["client_id"].as_str().unwrap().to_string(), app["client_secret"].as_str().unwrap().to_string());
    let mut out = Vec::new();
    for s in scopes {
        let r = c.post_form("/oauth/token", &[("grant_type", "password"), ("client_id", &id), ("client_secret", &secret), ("username", &i.app.urls.username), ("password", PW), ("scope", s)]).await;
        out.push(expect(&r, 200, "token")["access_token"].as_str().unwrap().to_string());
    }
    out
}

async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await
}

/// The upgrade is refused with this status and a JSON error body.
async fn refused(url: &str, headers: &[(&str, &str)], status: u16, what: &str) {
    match connect(url, headers).await {
        Err(tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), status, "{what}");
            let body: Value = serde_json::from_slice(r.body().as_deref().unwrap_or_default()).unwrap_or_else(|e| panic!("{what}: JSON error body ({e})"));
            assert!(body["error"].is_string(), "{what}: {body}");
        }
        Err(e) => panic!("{what}: unexpected error {e}"),
        Ok(_) => panic!("{what}: the upgrade was accepted"),
    }
}

/// The next text frame as JSON (pings skipped); panics after 10 s or on close.
async fn frame(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame within 10 s").expect("socket open").expect("frame");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap_or_else(|e| panic!("frame is JSON ({e}): {t}")),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Frames until one has `event` under `stream`; returns its payload (frames for other streams,
/// e.g. the same post under `user`, are skipped).
async fn event(ws: &mut Ws, stream: Value, event: &str) -> Value {
    event_after(ws, stream, event).await.0
}

/// As `event`, also returning the frames skipped on the way.
async fn event_after(ws: &mut Ws, stream: Value, event: &str) -> (Value, Vec<Value>) {
    let mut skipped = Vec::new();
    for _ in 0..20 {
        let f = frame(ws).await;
        assert!(f.get("error").is_none(), "unexpected error frame {f}");
        if f["stream"] == stream && f["event"] == json!(event) {
            return (f.get("payload").cloned().unwrap_or(Value::Null), skipped);
        }
        skipped.push(f);
    }
    panic!("no {event} on {stream}: {skipped:?}");
}

/// Sends a frame the server must answer with an error: once it arrives, every frame sent
/// before it has been applied (the socket handles frames in order).
async fn sync(ws: &mut Ws) {
    ws.send(Message::text(r#"{"type":"subscribe","stream":"no-such-stream"}"#)).await.unwrap();
    // Events already under way may come first.
    for _ in 0..20 {
        let f = frame(ws).await;
        if f.get("error").is_some() {
            return assert_eq!(f["status"], json!(400), "{f}");
        }
    }
    panic!("no error frame for an unknown stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_streams_and_bad_input() {
    let a = Instance::start("alice").await;
    let c = a.client();
    let t = tokens(&a, &["read write", "read:notifications", "write"]).await;
    let (full, notif_only, write_only) = (t[0].as_str(), t[1].as_str(), t[2].as_str());
    let ws_base = a.base.replace("http://", "ws://");
    let url = format!("{ws_base}/api/v1/streaming");

    // Advertised in both instance documents; health answers.
    assert_eq!(expect(&c.get("/api/v1/instance").await, 200, "v1")["urls"]["streaming_api"], json!(ws_base));
    assert_eq!(expect(&c.get("/api/v2/instance/").await, 200, "v2")["configuration"]["urls"]["streaming"], json!(ws_base));
    for p in ["/api/v1/streaming/health", "/api/v1/streaming/health/"] {
        let r = c.get(p).await;
        assert_eq!((r.status, r.body.as_str()), (200, "OK"), "{p}");
    }

    // Bad input before the upgrade: no token, a wrong one in each place, a token without a
    // read scope, a scope that does not cover the stream asked for, an unknown stream name.
    refused(&url, &[], 401, "no token").await;
    refused(&format!("{url}?access_token=nope&stream=user"), &[], 401, "bad token in the query").await;
    refused(&url, &[("sec-websocket-protocol", "nope")], 401, "bad token as subprotocol").await;
    refused(&url, &[("authorization", "Bearer nope")], 401, "bad bearer").await;
    refused(&format!("{url}?access_token={write_only}"), &[], 401, "write-only token").await;
    refused(&format!("{url}?access_token={notif_only}&stream=user"), &[], 401, "read:notifications asks for user").await;
    refused(&format!("{url}/?access_token={full}&stream=firehose"), &[], 400, "unknown stream").await;

    // Token as subprotocol, echoed; multiplexed subscriptions to a hashtag and `user`.
    let (mut s1, resp) = connect(&url, &[("sec-websocket-protocol", full)]).await.expect("subprotocol socket");
    assert_eq!(resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some(full), "subprotocol echoed");
    s1.send(Message::text(r#"{"type":"subscribe","stream":"hashtag","tag":"Garden"}"#)).await.unwrap();
    s1.send(Message::text(r#"{"type":"subscribe","stream":"public:local"}"#)).await.unwrap();
    // Bad frames: malformed JSON, the wrong shape, a binary frame: each an error frame, the
    // socket stays usable.
    for bad in [Message::text("{\"type\":"), Message::text("[1,2,3]"), Message::text(r#"{"type":"subscribe","stream":"hashtag"}"#), Message::Binary(Bytes::from_static(b"\x00\x01"))] {
        s1.send(bad.clone()).await.unwrap();
        let f = frame(&mut s1).await;
        assert_eq!(f["status"], json!(400), "{bad:?} → {f}");
        assert!(f["error"].is_string());
    }
    // Pings are answered.
    s1.send(Message::Ping(Bytes::from_static(b"hi"))).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s1.next()).await.unwrap().unwrap().unwrap() {
            Message::Pong(p) => break assert_eq!(&p[..], b"hi"),
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    sync(&mut s1).await;

    // Token in the query, trailing slash, stream from the query.
    let (mut s2, _) = connect(&format!("{url}/?access_token={full}&stream=user"), &[]).await.expect("query-token socket");
    sync(&mut s2).await;
    // A read:notifications token: statuses are outside its scope (error frame), notifications not.
    let (mut s3, _) = connect(&url, &[("authorization", &format!("Bearer {notif_only}"))]).await.expect("notifications socket");
    s3.send(Message::text(r#"{"type":"subscribe","stream":"public"}"#)).await.unwrap();
    assert_eq!(frame(&mut s3).await["status"], json!(401), "wrong scope → error frame");
    s3.send(Message::text(r#"{"type":"subscribe","stream":"user:notification"}"#)).await.unwrap();
    sync(&mut s3).await;

    // A post: `update` on the hashtag (labelled with the tag as subscribed), public:local and user.
    let st = expect(&send(&c, "POST", "/api/v1/statuses", full, "status=a+%23garden+post&visibility=public").await, 200, "post");
    let id = st["id"].as_str().unwrap().to_string();
    let p = event(&mut s1, json!(["hashtag", "Garden"]), "update").await;
    let p: Value = serde_json::from_str(p.as_str().expect("payload is a JSON string")).unwrap();
    assert_eq!((p["id"].as_str(), p["account"]["acct"].as_str()), (Some(id.as_str()), Some("alice")), "{p}");
    assert_eq!(p, serde_json::from_str::<Value>(event(&mut s1, json!(["public:local"]), "update").await.as_str().unwrap()).unwrap(), "one entity");
    let u: Value = serde_json::from_str(event(&mut s2, json!(["user"]), "update").await.as_str().unwrap()).unwrap();
    assert_eq!(u["id"], json!(id));
    // The REST entity and the streamed one agree (one renderer).
    let rest = expect(&send(&c, "GET", &format!("/api/v1/statuses/{id}"), full, "").await, 200, "get");
    assert_eq!(rest["content"], u["content"]);

    // An edit is `status.update`; a filter change `filters_changed` (no payload).
    expect(&send(&c, "PUT", &format!("/api/v1/statuses/{id}"), full, "status=an+edited+%23garden+post").await, 200, "edit");
    let e: Value = serde_json::from_str(event(&mut s2, json!(["user"]), "status.update").await.as_str().unwrap()).unwrap();
    assert!(e["content"].as_str().unwrap().contains("edited"), "{e}");
    assert!(e["edited_at"].is_string());
    expect(&send(&c, "POST", "/api/v2/filters", full, "title=turnips&context[]=home").await, 200, "filter");
    assert_eq!(event(&mut s2, json!(["user"]), "filters_changed").await, Value::Null);

    // Unsubscribing from the hashtag: its next post reaches public:local only.
    s1.send(Message::text(r#"{"type":"unsubscribe","stream":"hashtag","tag":"Garden"}"#)).await.unwrap();
    sync(&mut s1).await;

    // Delete: the bare id under each stream that showed the post.
    expect(&send(&c, "DELETE", &format!("/api/v1/statuses/{id}"), full, "").await, 200, "delete");
    assert_eq!(event(&mut s2, json!(["user"]), "delete").await, json!(id));
    let (gone, skipped) = event_after(&mut s1, json!(["public:local"]), "delete").await;
    assert_eq!(gone, json!(id));
    assert!(skipped.iter().all(|f| f["event"] != json!("delete")), "no delete on the unsubscribed hashtag: {skipped:?}");

    // A huge frame closes that socket only.
    let (mut big, _) = connect(&format!("{url}?access_token={full}&stream=user"), &[]).await.unwrap();
    big.send(Message::text("x".repeat(200 * 1024))).await.ok();
    let mut closed = false;
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_secs(10), big.next()).await.expect("closed within 10 s") {
            None | Some(Err(_)) => closed = true,
            Some(Ok(Message::Close(f))) => {
                assert_eq!(f.map(|f| u16::from(f.code)), Some(1009), "close code: message too big");
                closed = true;
            }
            Some(Ok(_)) => continue,
        }
        break;
    }
    assert!(closed, "a 200 KiB frame ends the socket");

    // The server is unaffected: the other sockets still stream, health still answers.
    let st2 = expect(&send(&c, "POST", "/api/v1/statuses", full, "status=still+here&visibility=public").await, 200, "post 2");
    let u: Value = serde_json::from_str(event(&mut s2, json!(["user"]), "update").await.as_str().unwrap()).unwrap();
    assert_eq!(u["id"], st2["id"]);
    assert_eq!(c.get("/api/v1/streaming/health").await.body, "OK");
    // The read:notifications socket saw no statuses at all: its next frame is this notification.
    let n = pipit::model::Notification { kind: pipit::model::NotificationKind::Follow, actor: "https://elsewhere.example/users/zed".into(), post_uri: None, detail: None, at_ms: pipit::time::now_ms() };
    a.app.store.write(|w| w.add_notification(&n)).unwrap();
    let f = frame(&mut s3).await;
    assert_eq!((f["stream"].clone(), f["event"].clone()), (json!(["user:notification"]), json!("notification")), "{f}");
    let n: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
    assert_eq!((n["type"].as_str(), n["account"]["url"].is_string()), (Some("follow"), true), "{n}");

    // Stopping the server closes open sockets (1001 going away) instead of waiting on them.
    a.stop().await;
    let mut going_away = false;
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_secs(10), s2.next()).await.expect("closed within 10 s") {
            Some(Ok(Message::Close(f))) => going_away = f.map(|f| u16::from(f.code)) == Some(1001),
            Some(Ok(_)) => continue,
            _ => {}
        }
        break;
    }
    assert!(going_away, "a close frame 1001 when the server stops");
}

/// The SSE form: `/api/v1/streaming/user` with the token in the header, `event:`/`data:` chunks;
/// unknown paths are a 400 JSON error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events() {
    let a = Instance::start("alice").await;
    let c = a.client();
    let t = tokens(&a, &["read write"]).await;
    let r = c.send("GET", "/api/v1/streaming/firehose", vec![("authorization".into(), format!("Bearer {}", t[0]))], Bytes::new()).await;
    expect(&r, 400, "unknown SSE stream");
    expect(&c.get("/api/v1/streaming/user").await, 401, "SSE without a token");
    let mut sock = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    sock.write_all(format!("GET /api/v1/streaming/user/notification HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\r\n", a.app.urls.host, t[0]).as_bytes()).await.unwrap();
    let mut got = String::new();
    async fn read_until(sock: &mut tokio::net::TcpStream, got: &mut String, what: &str) {
        let mut buf = [0u8; 4096];
        while !got.contains(what) {
            let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.expect("SSE data within 10 s").unwrap();
            assert!(n > 0, "SSE stream closed early: {got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    read_until(&mut sock, &mut got, ":)").await;
    assert!(got.starts_with("HTTP/1.1 200") && got.to_ascii_lowercase().contains("content-type: text/event-stream"), "{got}");
    // A status does not reach user:notification; a notification does.
    expect(&send(&c, "POST", "/api/v1/statuses", &t[0], "status=not+a+notification").await, 200, "post");
    let n = pipit::model::Notification { kind: pipit::model::NotificationKind::Follow, actor: "https://elsewhere.example/users/zed".into(), post_uri: None, detail: None, at_ms: pipit::time::now_ms() };
    a.app.store.write(|w| w.add_notification(&n)).unwrap();
    read_until(&mut sock, &mut got, "event: notification\ndata: {").await;
    assert!(!got.contains("event: update"), "{got}");
    // Stopping the server ends the stream (the chunked body's last chunk, then EOF); a stream
    // that ignored the shutdown would outlive stop() and never reach EOF.
    a.stop().await;
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.expect("the SSE stream ends when the server stops").unwrap_or(0);
        if n == 0 {
            break;
        }
    }

}

/// masto.js's WebSocket client (tests/clients/js_streaming.mjs) on alice's `user` and
/// `user:notification` streams: bob (another pipit alice follows) posts → `update`; bob likes
/// alice's post → `notification` under both streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masto_js_streaming_from_a_federated_pipit() {
    let root = env!("CARGO_MANIFEST_DIR");
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("clients-venv");
    let ok = std::process::Command::new(format!("{root}/tests/clients/install.sh")).arg(&venv).status().expect("run tests/clients/install.sh");
    assert!(ok.success(), "installing the client libraries failed (tests/clients/install.sh)");
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    let ta = tokens(&a, &["read write"]).await.remove(0);
    let tb = tokens(&b, &["read write"]).await.remove(0);
    let bob = b.app.urls.actor();
    pipit::actions::follow(&a.app, &bob).await.unwrap();
    eventually("alice follows bob", 10, || matches!(a.app.store.read(|r| r.following(&bob)).unwrap(), Some(f) if f.state == pipit::model::FollowState::Accepted)).await;
    let post = pipit::actions::publish(&a.app, pipit::actions::Compose { text: "like me".into(), cw: String::new(), visibility: pipit::model::Visibility::Public, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    let (abase, bbase) = (a.base.clone(), b.base.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node").arg(format!("{root}/tests/clients/js_streaming.mjs")).args([abase.as_str(), ta.as_str(), bbase.as_str(), tb.as_str(), post.uri.as_str()]).output().expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("DONE"), "masto.js streaming failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Mastodon.py's `stream_user` over SSE (tests/clients/mastodon_py_stream.py): it finds the
/// streaming base in `urls.streaming_api` and gets the update of its own post as a Status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastodon_py_stream_user_over_sse() {
    let root = env!("CARGO_MANIFEST_DIR");
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("clients-venv");
    let ok = std::process::Command::new(format!("{root}/tests/clients/install.sh")).arg(&venv).status().expect("run tests/clients/install.sh");
    assert!(ok.success(), "installing Mastodon.py failed (tests/clients/install.sh)");
    let a = Instance::start("alice").await;
    let tok = tokens(&a, &["read write"]).await.remove(0);
    let base = a.base.clone();
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(venv.join("bin/python")).arg(format!("{root}/tests/clients/mastodon_py_stream.py")).args([base.as_str(), tok.as_str()]).output().expect("run python"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("DONE"), "Mastodon.py streaming failed: {}", String::from_utf8_lossy(&out.stderr));
}
