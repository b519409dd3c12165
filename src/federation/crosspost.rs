//! Cross-posting, the network side (issue 14): pipit as an OAuth *client* of a Mastodon-API
//! server. Connecting registers an app there (`POST /api/v1/apps`), reads the server's
//! character limit (`GET /api/v2/instance`), and sends the owner to its `/oauth/authorize`
//! with a random `state` and a PKCE S256 challenge (RFC 7636); the callback exchanges the code
//! at `/oauth/token` and learns the account from `verify_credentials`. Copies are made by queue
//! jobs (`JobKind::Crosspost`): media re-uploaded through `POST /api/v2/media` (with their alt
//! text as `description`), then `POST /api/v1/statuses` with `Idempotency-Key` = the post's id
//! (its ActivityPub id), so a retry never posts twice; edits `PUT` and deletions `DELETE` the
//! copy. Every request goes through the federation client (SSRF guard, size and time limits).
//! The rules (what may be copied, the copy's text, sealing secrets) are domain::crosspost.

use crate::app::App;
use crate::domain::crosspost as rules;
use crate::error::{Error, Result};
use crate::federation::client::Fetched;
use crate::model::Job;
use crate::server::request::percent_encode;
use crate::store::{Connection, CrosspostCopy, PendingConnect};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// How long disconnecting waits for the server to revoke the token (best effort).
pub const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes of one attachment re-uploaded.
const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

fn form(fields: &[(&str, &str)]) -> Bytes {
    Bytes::from(fields.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect::<Vec<_>>().join("&"))
}

/// One request to the remote server: form body (if any), JSON accepted, bearer token (if any).
async fn call(app: &App, method: Method, url: &str, token: Option<&str>, body: Option<Bytes>, content_type: &str, extra: &[(&str, String)]) -> Result<Fetched> {
    let mut headers: Vec<(&str, String)> = vec![("accept", "application/json".to_string())];
    if body.is_some() {
        headers.push(("content-type", content_type.to_string()));
    }
    if let Some(t) = token {
        headers.push(("authorization", format!("Bearer {t}")));
    }
    headers.extend(extra.iter().cloned());
    app.http.send(method, url, &headers, body, &|_| {}).await
}

fn json_of(f: &Fetched) -> Option<Value> {
    serde_json::from_slice(&f.body).ok().filter(|v: &Value| v.is_object())
}

fn text_field(v: &Value, name: &str) -> Option<String> {
    match &v[name] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The server's `error` / `error_description` for a message, if it sent one.
fn remote_error(f: &Fetched) -> String {
    let v = json_of(f);
    let said = v.as_ref().and_then(|v| v["error_description"].as_str().or(v["error"].as_str())).map(|s| s.chars().take(200).collect::<String>());
    match said {
        Some(s) => format!("HTTP {}: {s}", f.status.as_u16()),
        None => format!("HTTP {}", f.status.as_u16()),
    }
}

fn unreachable(server: &str, e: &Error) -> Error {
    Error::Remote(502, format!("{server} could not be reached: {}", e.public_message_or_detail()))
}

trait Detail {
    fn public_message_or_detail(&self) -> String;
}
impl Detail for Error {
    fn public_message_or_detail(&self) -> String {
        match self {
            Error::Internal(m) => m.clone(),
            e => e.to_string(),
        }
    }
}

/// Starts connecting to the server the owner typed: registers pipit there, reads its limits,
/// keeps the attempt (secrets sealed) under a random `state`, and returns the server's
/// authorize URL to send the owner's browser to. `BadRequest` for an address that is not one,
/// `Remote(502, …)` when the server cannot be reached or does not answer like Mastodon's API
/// (nothing is stored then).
pub async fn connect_start(app: &App, input: &str) -> Result<String> {
    let server = rules::normalize_server(input)?;
    let redirect = rules::redirect_uri(app);
    let name = format!("pipit ({})", app.urls.handle());
    let body = form(&[("client_name", &name), ("redirect_uris", &redirect), ("scopes", rules::SCOPES), ("website", &app.urls.base)]);
    let r = call(app, Method::POST, &format!("{server}/api/v1/apps"), None, Some(body), "application/x-www-form-urlencoded", &[]).await.map_err(|e| unreachable(&server, &e))?;
    let not_mastodon = |why: &str| Error::Remote(502, format!("{server} does not answer like a Mastodon-API server ({why}): nothing was connected"));
    if !r.status.is_success() {
        return Err(not_mastodon(&format!("registering an app at /api/v1/apps gave {}", remote_error(&r))));
    }
    let v = json_of(&r).ok_or_else(|| not_mastodon("/api/v1/apps did not answer JSON"))?;
    let (Some(client_id), Some(client_secret)) = (text_field(&v, "client_id"), text_field(&v, "client_secret")) else {
        return Err(not_mastodon("/api/v1/apps gave no client_id and client_secret"));
    };
    // The limits: Mastodon's defaults when the server does not say.
    let (mut max_characters, mut url_chars) = (rules::DEFAULT_MAX_CHARACTERS, rules::DEFAULT_URL_CHARS);
    if let Ok(f) = call(app, Method::GET, &format!("{server}/api/v2/instance"), None, None, "", &[]).await {
        if let Some(v) = json_of(&f).filter(|_| f.status.is_success()) {
            let s = &v["configuration"]["statuses"];
            if let Some(n) = s["max_characters"].as_u64().filter(|n| (50..=1_000_000).contains(n)) {
                max_characters = n as usize;
            }
            if let Some(n) = s["characters_reserved_per_url"].as_u64().filter(|n| (1..=1000).contains(n)) {
                url_chars = n as usize;
            }
        }
    }
    let state = crate::secret::token();
    let (verifier, challenge) = rules::pkce();
    let now = crate::time::now_ms();
    let pending = PendingConnect {
        server: server.clone(),
        client_id: client_id.clone(),
        client_secret: rules::seal(app, "client_secret", &client_secret)?,
        verifier: rules::seal(app, "verifier", &verifier)?,
        max_characters,
        url_chars,
        created_ms: now,
    };
    app.store.write(|w| w.put_pending_connect(&crate::secret::hash_token(&state), &pending, now))?;
    Ok(format!(
        "{server}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
        percent_encode(&client_id),
        percent_encode(&redirect),
        percent_encode(rules::SCOPES),
        percent_encode(&state),
        percent_encode(&challenge)
    ))
}

/// The OAuth callback (`/settings/crosspost/callback?code=…&state=…` or `?error=…&state=…`):
/// the attempt of `state` is used up whatever happens; with a code, it is exchanged for a
/// token and the account stored. Returns the connected `user@host`. `BadRequest` for an
/// unknown or expired `state` or a refusal (`error=access_denied`), `Remote` when the server
/// fails; nothing is stored in any of those cases.
pub async fn connect_finish(app: &App, state: Option<&str>, code: Option<&str>, error: Option<&str>) -> Result<String> {
    let unknown = || Error::BadRequest("This answer does not belong to a connection you started (unknown or expired state): nothing was connected. Start again under Settings → Cross-posting.".into());
    let state = state.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(unknown)?;
    let now = crate::time::now_ms();
    let pending = app.store.write(|w| w.take_pending_connect(&crate::secret::hash_token(state), now))?.ok_or_else(unknown)?;
    let server = pending.server.clone();
    if let Some(e) = error.filter(|e| !e.is_empty()) {
        let what = if e == "access_denied" { "you did not allow pipit there".to_string() } else { format!("it answered `{}`", e.chars().take(100).collect::<String>()) };
        return Err(Error::BadRequest(format!("{server}: {what}, so nothing was connected.")));
    }
    let code = code.filter(|c| !c.is_empty()).ok_or_else(|| Error::BadRequest(format!("{server} sent neither a code nor an error: nothing was connected.")))?;
    let client_secret = rules::open(app, "client_secret", &pending.client_secret)?;
    let verifier = rules::open(app, "verifier", &pending.verifier)?;
    let redirect = rules::redirect_uri(app);
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect),
        ("client_id", &pending.client_id),
        ("client_secret", &client_secret),
        ("code_verifier", &verifier),
        ("scope", rules::SCOPES),
    ]);
    let r = call(app, Method::POST, &format!("{server}/oauth/token"), None, Some(body), "application/x-www-form-urlencoded", &[]).await.map_err(|e| unreachable(&server, &e))?;
    if !r.status.is_success() {
        return Err(Error::Remote(502, format!("{server} refused the code ({}): nothing was connected. Start again.", remote_error(&r))));
    }
    let token = json_of(&r).and_then(|v| text_field(&v, "access_token")).ok_or_else(|| Error::Remote(502, format!("{server} gave no access_token: nothing was connected")))?;
    let r = call(app, Method::GET, &format!("{server}/api/v1/accounts/verify_credentials"), Some(&token), None, "", &[]).await.map_err(|e| unreachable(&server, &e))?;
    let v = json_of(&r).filter(|_| r.status.is_success()).ok_or_else(|| Error::Remote(502, format!("{server} did not say which account this is (verify_credentials: {}): nothing was connected", remote_error(&r))))?;
    let (Some(id), Some(acct)) = (text_field(&v, "id"), text_field(&v, "acct").or_else(|| text_field(&v, "username"))) else {
        return Err(Error::Remote(502, format!("{server}: verify_credentials gave no account id and acct: nothing was connected")));
    };
    let host = crate::federation::vocab::host_of(&server).unwrap_or_default();
    let acct = if acct.contains('@') { acct } else { format!("{acct}@{host}") };
    if acct.len() > 300 || acct.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Remote(502, format!("{server}: verify_credentials gave an unusable acct")));
    }
    let c = Connection {
        acct: acct.clone(),
        server,
        account_id: id,
        account_url: text_field(&v, "url").filter(|u| crate::model::HttpUrl::parse(u).is_some()).unwrap_or_default(),
        client_id: pending.client_id,
        client_secret: rules::seal(app, "client_secret", &client_secret)?,
        token: rules::seal(app, "token", &token)?,
        max_characters: pending.max_characters,
        url_chars: pending.url_chars,
        default_on: false,
        needs_reconnect: None,
        connected_ms: now,
    };
    app.store.write(|w| {
        let default_on = w.connection(&acct)?.map(|old| old.default_on).unwrap_or(false);
        w.put_connection(&Connection { default_on, ..c })
    })?;
    Ok(acct)
}

/// Disconnects `acct`: asks its server to revoke the token (`POST /oauth/revoke`, at most
/// [`REVOKE_TIMEOUT`], best effort), then forgets the connection with its sealed secrets and
/// the record of copies made there. `BadRequest` when no such account is connected.
pub async fn disconnect(app: &App, acct: &str) -> Result<String> {
    let c = app.store.read(|r| r.connection(acct))?.ok_or_else(|| Error::BadRequest(format!("{} is not connected", acct.trim())))?;
    let revoked = match (rules::open(app, "token", &c.token), rules::open(app, "client_secret", &c.client_secret)) {
        (Ok(token), Ok(secret)) => {
            let body = form(&[("client_id", &c.client_id), ("client_secret", &secret), ("token", &token)]);
            let r = tokio::time::timeout(REVOKE_TIMEOUT, call(app, Method::POST, &format!("{}/oauth/revoke", c.server), None, Some(body), "application/x-www-form-urlencoded", &[])).await;
            matches!(r, Ok(Ok(f)) if f.status.is_success())
        }
        _ => false,
    };
    app.store.write(|w| w.remove_connection(&c.acct))?;
    Ok(if revoked { format!("Disconnected {}: its server revoked pipit's access.", c.acct) } else { format!("Disconnected {}: pipit forgot its access (the server did not confirm revoking it; you can also revoke pipit in that account's settings).", c.acct) })
}

/// The access token of a connected account, opened. `Config` when the key cannot open it.
pub fn access_token(app: &App, acct: &str) -> Result<String> {
    let c = app.store.read(|r| r.connection(acct))?.ok_or(Error::NotFound)?;
    rules::open(app, "token", &c.token)
}

/// Why a cross-post job did not succeed.
enum Fail {
    /// Try again later (network, timeouts, 429, 5xx); Some(ms): the server's Retry-After.
    Later(String, Option<u64>),
    /// Will never work (a 4xx other than 401/403/404 where that matters): a dead letter.
    Never(String),
    /// The server refused the token (401/403) or it cannot be opened: the connection needs
    /// reconnecting, the job stops.
    Refused(String),
}

/// What a job did.
enum Done {
    /// Nothing to do (no such connection or post any more, the copy exists already).
    Nothing,
    /// A post still inside its undo window: run again then.
    Held(u64),
    /// A copy made (create) or updated (edit).
    Copied(CrosspostCopy),
    /// The copy is gone there (deleted, or not found).
    Removed,
}

fn check(f: &Fetched) -> std::result::Result<(), Fail> {
    let s = f.status;
    if s.is_success() {
        return Ok(());
    }
    if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN {
        return Err(Fail::Refused(remote_error(f)));
    }
    if s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT || s.is_server_error() {
        let retry_after = f.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).map(|s| s.min(86_400) * 1000);
        return Err(Fail::Later(remote_error(f), retry_after));
    }
    Err(Fail::Never(remote_error(f)))
}

fn network(e: Error) -> Fail {
    let msg = e.public_message_or_detail();
    if msg.contains("private or loopback") || msg.contains("only http and https") || msg.contains("not a URL") {
        Fail::Never(msg)
    } else {
        Fail::Later(msg, None)
    }
}

/// One queued cross-post (`JobKind::Crosspost`), to its end: finished, retried on the delivery
/// schedule (`delivery_backoff_unit_ms`, at most `delivery_max_attempts`), or a dead letter. A
/// refused token marks the connection "needs reconnecting" and is not retried.
pub async fn run_job(app: &App, job: &Job, post_id: u64, account: &str, op: &str) {
    let result = work(app, post_id, account, op).await;
    let now = crate::time::now_ms();
    let recorded = match result {
        Ok(Done::Nothing) => app.store.write(|w| w.finish_job(job.id)),
        Ok(Done::Held(until)) => app.store.write(|w| w.retry_job(job.id, until, "waiting for the post's undo window", false)),
        Ok(Done::Copied(copy)) => app.store.write(|w| {
            w.put_copy(account, post_id, &copy)?;
            // Deleted while the copy was being made: the copy goes too.
            if op == "create" && w.post(post_id)?.is_none() {
                w.enqueue(crate::model::JobKind::Crosspost { post: post_id, account: account.to_string(), op: "delete".into() }, now)?;
            }
            w.finish_job(job.id)
        }),
        Ok(Done::Removed) => app.store.write(|w| {
            w.remove_copy(account, post_id)?;
            w.finish_job(job.id)
        }),
        Err(Fail::Refused(why)) => {
            tracing::info!(account, "cross-posting refused: {why}");
            app.store.write(|w| {
                w.update_connection(account, |c| c.needs_reconnect = Some(why.clone()))?;
                w.kill_job(job.id, &format!("{account} refused pipit's access ({why}): connect it again"))
            })
        }
        Err(Fail::Never(why)) => app.store.write(|w| w.kill_job(job.id, &format!("cross-post ({op}) to {account}: {why}"))),
        Err(Fail::Later(why, retry_after)) => {
            let why = format!("cross-post ({op}) to {account}: {why}");
            if job.attempts + 1 >= app.config.delivery_max_attempts {
                app.store.write(|w| w.kill_job(job.id, &format!("gave up after {} attempts: {why}", job.attempts + 1)))
            } else {
                let delay = retry_after.unwrap_or_else(|| crate::federation::deliver::backoff_ms(app, job.attempts + 1));
                app.store.write(|w| w.retry_job(job.id, now + delay, &why, true))
            }
        }
    };
    if let Err(e) = recorded {
        tracing::warn!("cross-post job {}: {e}", job.id);
    }
}

async fn work(app: &App, post_id: u64, account: &str, op: &str) -> std::result::Result<Done, Fail> {
    let store = |e: Error| Fail::Later(e.to_string(), None);
    let (conn, post, copy) = app.store.read(|r| Ok((r.connection(account)?, r.post(post_id)?.filter(|p| p.local), r.copy_of(account, post_id)?))).map_err(store)?;
    let Some(conn) = conn else { return Ok(Done::Nothing) };
    if let Some(why) = &conn.needs_reconnect {
        return Err(Fail::Never(format!("{} needs reconnecting ({why})", conn.acct)));
    }
    let token = rules::open(app, "token", &conn.token).map_err(|e| Fail::Refused(e.public_message_or_detail()))?;
    let server = conn.server.clone();
    match op {
        "create" => {
            let Some(post) = post else { return Ok(Done::Nothing) };
            if copy.is_some() {
                return Ok(Done::Nothing);
            }
            if let Some(until) = post.held_until_ms.filter(|&t| t > crate::time::now_ms()) {
                return Ok(Done::Held(until));
            }
            if !post.visibility.is_world_readable() {
                return Err(Fail::Never("only public and unlisted posts are cross-posted".into()));
            }
            let mut media_ids = Vec::new();
            for a in &post.attachments {
                media_ids.push(upload(app, &server, &token, a).await?);
            }
            let (status, spoiler) = rules::copy_text(&post, conn.max_characters, conn.url_chars);
            let mut fields: Vec<(&str, &str)> = vec![("status", &status), ("visibility", rules::remote_visibility(post.visibility))];
            if !spoiler.is_empty() {
                fields.push(("spoiler_text", &spoiler));
                fields.push(("sensitive", "true"));
            }
            if let Some(l) = &post.language {
                fields.push(("language", l));
            }
            for m in &media_ids {
                fields.push(("media_ids[]", m));
            }
            let r = call(app, Method::POST, &format!("{server}/api/v1/statuses"), Some(&token), Some(form(&fields)), "application/x-www-form-urlencoded", &[("idempotency-key", post.uri.to_string())]).await.map_err(network)?;
            check(&r)?;
            let v = json_of(&r).ok_or_else(|| Fail::Never("the server's answer is not a status".into()))?;
            let remote_id = text_field(&v, "id").ok_or_else(|| Fail::Never("the server's answer has no status id".into()))?;
            Ok(Done::Copied(CrosspostCopy { remote_id, url: text_field(&v, "url").unwrap_or_default(), media_ids, at_ms: crate::time::now_ms() }))
        }
        "edit" => {
            let (Some(post), Some(copy)) = (post, copy) else { return Ok(Done::Nothing) };
            let (status, spoiler) = rules::copy_text(&post, conn.max_characters, conn.url_chars);
            let mut fields: Vec<(&str, &str)> = vec![("status", &status), ("spoiler_text", &spoiler), ("sensitive", if spoiler.is_empty() { "false" } else { "true" })];
            if let Some(l) = &post.language {
                fields.push(("language", l));
            }
            // Mastodon drops the attachments an edit does not name.
            for m in &copy.media_ids {
                fields.push(("media_ids[]", m));
            }
            let url = format!("{server}/api/v1/statuses/{}", percent_encode(&copy.remote_id));
            let r = call(app, Method::PUT, &url, Some(&token), Some(form(&fields)), "application/x-www-form-urlencoded", &[]).await.map_err(network)?;
            if r.status == StatusCode::NOT_FOUND {
                return Ok(Done::Removed);
            }
            check(&r)?;
            Ok(Done::Copied(CrosspostCopy { at_ms: crate::time::now_ms(), ..copy }))
        }
        "delete" => {
            let Some(copy) = copy else { return Ok(Done::Nothing) };
            let url = format!("{server}/api/v1/statuses/{}", percent_encode(&copy.remote_id));
            let r = call(app, Method::DELETE, &url, Some(&token), None, "", &[]).await.map_err(network)?;
            if r.status == StatusCode::NOT_FOUND || r.status == StatusCode::GONE {
                return Ok(Done::Removed);
            }
            check(&r)?;
            Ok(Done::Removed)
        }
        other => Err(Fail::Never(format!("unknown cross-post operation `{other}`"))),
    }
}

/// Re-uploads one of the post's attachments (`POST /api/v2/media`, its alt text as
/// `description`); waits a little while the server processes it (HTTP 202). Returns its id.
async fn upload(app: &App, server: &str, token: &str, a: &crate::model::Attachment) -> std::result::Result<String, Fail> {
    let prefix = app.urls.media("");
    let file = a.url.strip_prefix(&prefix).filter(|f| crate::domain::media::valid_name(f)).ok_or_else(|| Fail::Never(format!("attachment {} is not a file of this site", a.url.as_str())))?;
    let path = app.media_dir().join(file);
    let len = tokio::fs::metadata(&path).await.map_err(|e| Fail::Never(format!("attachment {file}: {e}")))?.len();
    if len > MAX_MEDIA_BYTES {
        return Err(Fail::Never(format!("attachment {file} is too large to re-upload")));
    }
    let bytes = tokio::fs::read(&path).await.map_err(|e| Fail::Never(format!("attachment {file}: {e}")))?;
    let boundary = format!("pipit{}", crate::secret::token().replace(['-', '_'], ""));
    let mut body = Vec::with_capacity(bytes.len() + 1024);
    if !a.alt.is_empty() {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{}\r\n", a.alt).as_bytes());
    }
    if let Some((x, y)) = a.focal_point {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"focus\"\r\n\r\n{:.2},{:.2}\r\n", x as f32 / 100.0, y as f32 / 100.0).as_bytes());
    }
    let media_type = if a.media_type.contains('/') && !a.media_type.contains(['\r', '\n', '"']) { a.media_type.as_str() } else { "application/octet-stream" };
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file}\"\r\nContent-Type: {media_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(&bytes);
    drop(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = call(app, Method::POST, &format!("{server}/api/v2/media"), Some(token), Some(Bytes::from(body)), &format!("multipart/form-data; boundary={boundary}"), &[]).await.map_err(network)?;
    check(&r)?;
    let id = json_of(&r).and_then(|v| text_field(&v, "id")).ok_or_else(|| Fail::Never("the server's media answer has no id".into()))?;
    if r.status == StatusCode::ACCEPTED {
        // Still processing: Mastodon answers 206 until it is ready, then 200.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let f = call(app, Method::GET, &format!("{server}/api/v1/media/{}", percent_encode(&id)), Some(token), None, "", &[]).await.map_err(network)?;
            if f.status == StatusCode::OK {
                return Ok(id);
            }
            if f.status != StatusCode::PARTIAL_CONTENT {
                check(&f)?;
            }
        }
        return Err(Fail::Later("the server is still processing an attachment".into(), None));
    }
    Ok(id)
}
