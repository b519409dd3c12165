//! The Mastodon client API (issue 10): `/api/v1/*`, `/api/v2/*`, `/oauth/*` and
//! `/.well-known/oauth-authorization-server`. This module is the shared plumbing every endpoint
//! uses, following ../shared/client-api-notes.md §0:
//! - bodies as JSON, forms (urlencoded or multipart fields) or nothing, merged with the query;
//!   `x[]`, `x[0]`, repeated keys and JSON arrays all give a list; `null` is absent;
//! - bearer tokens (header, or `access_token` parameter) with scope checks;
//! - JSON on every response, errors included (`{"error": "…"}`), with CORS (`Link` exposed) and
//!   preflights answered;
//! - `Link` paging with absolute URLs (`next` = max_id, `prev` = min_id), none on an empty page;
//! - routes served with or without a trailing slash, never redirected.
//! Endpoints live in the submodules; each is a thin face over the domain operations the web
//! pages use. Entities are built in `entities`.

pub mod accounts;
pub mod conversations;
pub mod entities;
pub mod instance;
pub mod media;
pub mod more;
pub mod notifications;
pub mod oauth;
pub mod publishing;
pub mod social;
pub mod statuses;
pub mod streaming;
pub mod timelines;

use crate::app::App;
use crate::domain::oauth::OAuthError;
use crate::error::Error;
use crate::server::request::{self, percent_decode, percent_encode, Form};
use crate::server::response::{self, Resp};
use crate::store::{OAuthToken, Range};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Paths this module answers.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/api" || path.starts_with("/oauth/") || path == "/.well-known/oauth-authorization-server" || path == "/.well-known/oauth-authorization-server/"
}

/// An API error: status and JSON body (`{"error": …}`, plus `error_description` for OAuth).
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: u16, msg: impl Into<String>) -> ApiError {
        ApiError { status, body: json!({ "error": msg.into() }) }
    }
    pub fn not_found() -> ApiError {
        ApiError::new(404, "Record not found")
    }
    pub fn unprocessable(msg: impl Into<String>) -> ApiError {
        ApiError::new(422, msg)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::NotFound | Error::Gone => ApiError::not_found(),
            // Mastodon answers validation failures with 422.
            Error::BadRequest(m) => ApiError::new(422, format!("Validation failed: {m}")),
            e => {
                if e.status() >= 500 {
                    tracing::warn!("api error: {e}");
                }
                ApiError::new(e.status(), e.public_message())
            }
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> ApiError {
        ApiError { status: e.status, body: json!({ "error": e.error, "error_description": e.description }) }
    }
}

pub type ApiResult = Result<Resp, ApiError>;

/// A JSON response with status 200.
pub fn ok(v: &Value) -> ApiResult {
    Ok(response::json(200, "application/json; charset=utf-8", v))
}

/// Whether a token was presented, and what it turned out to be.
pub enum Auth {
    None,
    Invalid,
    Token(OAuthToken),
}

/// One API request, read and parsed: the handlers' only input.
pub struct Call {
    pub app: App,
    pub method: Method,
    /// Path without a trailing slash, split into percent-decoded segments after `/api/`.
    pub segs: Vec<String>,
    pub path: String,
    pub headers: HeaderMap,
    /// Query pairs as sent (for `Link`, which keeps the other parameters).
    pub query: Form,
    /// Query and body merged, keys normalised (`x[]`, `x[0]` → `x`).
    pub params: Params,
    /// The bearer token sent (header, query or body), checked when first needed: by `auth`
    /// in a read of its own, or by `read_as` inside the call's one read transaction.
    bearer: Option<String>,
    auth: std::sync::OnceLock<Auth>,
    pub peer: SocketAddr,
    /// Files of a multipart body (media, avatar, header), streamed to DATA/tmp by
    /// server::upload (the pages' parser); deleted when the call ends.
    pub files: Vec<crate::server::upload::Upload>,
}

/// Who may make a call: the owner's token with a scope (`Call::user`), or anyone, the owner
/// seeing more with a scope (`Call::viewer`).
#[derive(Clone, Copy)]
pub enum Need<'s> {
    User(&'s str),
    Viewer(&'s str),
}

impl Call {
    /// The presented token, looked up in `r` the first time (a store error is a 5xx).
    fn auth_with(&self, r: Option<&crate::store::Read>) -> Result<&Auth, ApiError> {
        if let Some(a) = self.auth.get() {
            return Ok(a);
        }
        let a = match &self.bearer {
            None => Auth::None,
            Some(b) => {
                let t = match r {
                    Some(r) => crate::domain::oauth::token_in(r, b)?,
                    None => crate::domain::oauth::token(&self.app, b)?,
                };
                t.map(Auth::Token).unwrap_or(Auth::Invalid)
            }
        };
        Ok(self.auth.get_or_init(|| a))
    }

    /// What the call's token turned out to be (its own read transaction the first time).
    pub fn auth(&self) -> Result<&Auth, ApiError> {
        self.auth_with(None)
    }

    /// Runs `f` in ONE read transaction that also checks the token against `need` (issue 15:
    /// an API call listing statuses reads the store once, token included). `f` gets the
    /// viewer (`Owner` for `Need::User`). Errors as `user` / `viewer`, before `f` runs.
    pub fn read_as<T>(&self, need: Need, f: impl FnOnce(&crate::store::Read, crate::domain::timeline::Viewer) -> crate::error::Result<T>) -> Result<T, ApiError> {
        use crate::domain::timeline::Viewer;
        let out = self.app.store.read(|r| {
            let checked = self.auth_with(Some(r)).and_then(|a| match need {
                Need::User(scope) => Self::user_of(a, scope).map(|_| Viewer::Owner),
                Need::Viewer(scope) => Self::viewer_of(a, scope),
            });
            match checked {
                Ok(v) => f(r, v).map(Ok),
                Err(e) => Ok(Err(e)),
            }
        })?;
        out
    }

    /// `Err(e)` of a parameter, after the token check of `need` (a bad token is a 401 before
    /// any 422, as on Mastodon).
    pub fn after_auth<T>(&self, need: Need, param: Result<T, ApiError>) -> Result<T, ApiError> {
        if param.is_err() {
            match need {
                Need::User(s) => drop(self.user(s)?),
                Need::Viewer(s) => drop(self.viewer(s)?),
            }
        }
        param
    }

    /// The owner's token with `scope`, or 401 (no or bad token) / 403 (scope, app-only token).
    pub fn user(&self, scope: &str) -> Result<&OAuthToken, ApiError> {
        Self::user_of(self.auth()?, scope)
    }

    fn user_of<'a>(auth: &'a Auth, scope: &str) -> Result<&'a OAuthToken, ApiError> {
        match auth {
            Auth::Token(t) => {
                if !t.owner {
                    return Err(ApiError::new(422, "This method requires an authenticated user"));
                }
                if !crate::domain::oauth::allows(&t.scopes, scope) {
                    return Err(ApiError::new(403, "This action is outside the authorized scopes"));
                }
                Ok(t)
            }
            Auth::Invalid => Err(ApiError::new(401, "The access token is invalid")),
            Auth::None => Err(ApiError::new(401, "The access token is invalid")),
        }
    }

    /// Who is reading a public endpoint: the owner (a user token with `scope`), else the public.
    /// A token that was sent but is invalid is still a 401, as on Mastodon.
    pub fn viewer(&self, scope: &str) -> Result<crate::domain::timeline::Viewer, ApiError> {
        Self::viewer_of(self.auth()?, scope)
    }

    fn viewer_of(auth: &Auth, scope: &str) -> Result<crate::domain::timeline::Viewer, ApiError> {
        use crate::domain::timeline::Viewer;
        match auth {
            Auth::None => Ok(Viewer::Public),
            Auth::Invalid => Err(ApiError::new(401, "The access token is invalid")),
            Auth::Token(t) if t.owner && crate::domain::oauth::allows(&t.scopes, scope) => Ok(Viewer::Owner),
            Auth::Token(_) => Ok(Viewer::Public),
        }
    }

    /// Absolute URL of this endpoint with the query kept, minus the paging cursors, plus `extra`.
    fn page_url(&self, extra: (&str, &str)) -> String {
        let mut q: Vec<String> = self
            .query
            .0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "max_id" | "min_id" | "since_id"))
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        q.push(format!("{}={}", extra.0, percent_encode(extra.1)));
        format!("{}{}?{}", self.app.urls.base, self.path, q.join("&"))
    }

    /// The paging window from `max_id`, `since_id`, `min_id` and `limit` (clamped, never
    /// rejected: clients ask for 80 or 100).
    pub fn range(&self, default: usize, max: usize) -> Range {
        let id = |k: &str| self.params.get(k).and_then(|v| v.parse::<u64>().ok());
        let limit = self.params.get("limit").and_then(|v| v.parse::<usize>().ok()).unwrap_or(default).clamp(1, max);
        Range { max_id: id("max_id"), since_id: id("since_id"), min_id: id("min_id"), limit }
    }

    /// A page of items, newest first, with its `Link` header (cursors are the first and last
    /// ids); an empty page has no `Link`, so clients stop.
    pub fn paged(&self, items: Vec<Value>, first: Option<u64>, last: Option<u64>) -> ApiResult {
        let mut r = response::json(200, "application/json; charset=utf-8", &Value::Array(items));
        if let (Some(first), Some(last)) = (first, last) {
            let link = format!("<{}>; rel=\"next\", <{}>; rel=\"prev\"", self.page_url(("max_id", &last.to_string())), self.page_url(("min_id", &first.to_string())));
            if let Ok(v) = HeaderValue::from_str(&link) {
                r.headers_mut().insert(hyper::header::LINK, v);
            }
        }
        Ok(r)
    }

    /// A page whose store only pages forwards (opaque cursors: account lists, bookmarks, lists):
    /// `Link` has `next` when there is more.
    pub fn paged_next(&self, items: Vec<Value>, next: Option<String>) -> ApiResult {
        let mut r = response::json(200, "application/json; charset=utf-8", &Value::Array(items));
        if let Some(n) = next {
            if let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"next\"", self.page_url(("max_id", &n)))) {
                r.headers_mut().insert(hyper::header::LINK, v);
            }
        }
        Ok(r)
    }

    pub fn id_seg(&self, i: usize) -> Result<u64, ApiError> {
        self.segs.get(i).and_then(|s| s.parse().ok()).ok_or_else(ApiError::not_found)
    }
}

/// Request parameters from the query and the body, in order, keys normalised.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

/// `x[]` and `x[3]` are list forms of `x`; `fields_attributes[0][name]` keeps its inner index.
fn normalise_key(k: &str) -> String {
    if let Some(base) = k.strip_suffix("[]") {
        return base.to_string();
    }
    if let Some(open) = k.rfind('[') {
        if k.ends_with(']') && open > 0 && k[open + 1..k.len() - 1].chars().all(|c| c.is_ascii_digit()) && open + 2 < k.len() {
            return k[..open].to_string();
        }
    }
    k.to_string()
}

impl Params {
    fn push(&mut self, k: &str, v: String) {
        self.0.push((normalise_key(k), v));
    }
    fn flatten_json(&mut self, key: &str, v: &Value) {
        match v {
            Value::Null => {}
            Value::Bool(b) => self.push(key, b.to_string()),
            Value::Number(n) => self.push(key, n.to_string()),
            Value::String(s) => self.push(key, s.clone()),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    if x.is_object() {
                        self.flatten_json(&format!("{key}[{i}]"), x);
                    } else {
                        self.flatten_json(key, x);
                    }
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    let nk = if key.is_empty() { k.clone() } else { format!("{key}[{k}]") };
                    self.flatten_json(&nk, x);
                }
            }
        }
    }
    /// First value of a key.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
    /// First non-empty value, trimmed of nothing.
    pub fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or_default().to_string()
    }
    /// Every value of a key (`x[]=a&x[]=b`, `x=a&x=b`, JSON `[..]`).
    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0.iter().filter(|(key, _)| key == k).map(|(_, v)| v.as_str()).collect()
    }
    /// A boolean: `true`/`1`/`on`/`yes` or `false`/`0`/`off`/`no`/empty; anything else is 422.
    pub fn flag(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.get(k).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                "true" | "1" | "on" | "yes" | "t" => Ok(Some(true)),
                "false" | "0" | "off" | "no" | "f" | "" => Ok(Some(false)),
                _ => Err(ApiError::unprocessable(format!("{k}: expected a boolean"))),
            },
        }
    }
}

/// Parses query + a non-multipart body (multipart bodies are streamed by server::upload
/// before this). Malformed JSON is a 400 with nothing changed.
fn parse_params(headers: &HeaderMap, query: &Form, body: &Bytes) -> Result<Params, ApiError> {
    let mut p = Params::default();
    for (k, v) in &query.0 {
        p.push(k, v.clone());
    }
    if body.is_empty() {
        return Ok(p);
    }
    let ct = request::content_type(headers).to_ascii_lowercase();
    if ct.starts_with("application/json") || ct.ends_with("+json") {
        let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::new(400, format!("The request body is not valid JSON: {e}")))?;
        if !v.is_object() {
            return Err(ApiError::new(400, "The request body must be a JSON object"));
        }
        p.flatten_json("", &v);
    } else if ct.starts_with("application/x-www-form-urlencoded") || ct.is_empty() {
        // A body without Content-Type is a form (OAuth clients send those).
        let text = std::str::from_utf8(body).map_err(|_| ApiError::new(400, "The form is not UTF-8"))?;
        for (k, v) in Form::parse(text).0 {
            p.push(&k, v);
        }
    } else {
        return Err(ApiError::new(415, format!("Unsupported Content-Type `{ct}`: send JSON or a form")));
    }
    Ok(p)
}

fn is_multipart(headers: &HeaderMap) -> bool {
    request::content_type(headers).to_ascii_lowercase().starts_with("multipart/form-data")
}

fn bearer(headers: &HeaderMap, params: &Params) -> Option<String> {
    let h = headers.get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(h) = h {
        if h.len() > 7 && h[..7].eq_ignore_ascii_case("bearer ") {
            return Some(h[7..].trim().to_string());
        }
    }
    params.get("access_token").filter(|t| !t.is_empty()).map(str::to_string)
}

fn cors(r: &mut Resp) {
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-expose-headers", HeaderValue::from_static("Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining"));
}

fn preflight() -> Resp {
    let mut r = response::with_type(204, "application/json", "");
    cors(&mut r);
    let h = r.headers_mut();
    h.insert("access-control-allow-methods", HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"));
    h.insert("access-control-allow-headers", HeaderValue::from_static("Authorization, Content-Type, Idempotency-Key, Accept"));
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    r
}

/// Entry point from server/routes.rs for every path `is_api_path` accepts.
pub async fn handle(app: &App, req: Request<Incoming>, peer: SocketAddr) -> Resp {
    let raw = req.uri().path().to_string();
    let path = if raw.len() > 1 { raw.trim_end_matches('/').to_string() } else { raw.clone() };
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return preflight();
    }
    // The consent page is a page for the owner's browser, not JSON.
    if path == "/oauth/authorize" {
        let owner = crate::handlers::auth::owner(app, req.headers());
        let mut r = match oauth::authorize(app, req).await {
            Ok(r) => r,
            Err(e) => response::error(app, &e, false, owner),
        };
        // The consent form's answer is a 303 to the app's own redirect URI (another origin, or a
        // custom scheme): a `form-action 'self'` policy makes Chromium block it. So this page
        // has its own policy without form-action (client-api-notes §7), and no COOP (Phanpy
        // logs in through a popup).
        r.headers_mut().insert(
            hyper::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
        );
        return r;
    }
    if streaming::is_streaming_path(&path) {
        let mut r = streaming::handle(app, req, &path);
        cors(&mut r);
        return r;
    }
    let mut r = match call(app, req, peer, path).await {
        Ok(r) => r,
        Err(e) => response::json(e.status, "application/json; charset=utf-8", &e.body),
    };
    cors(&mut r);
    r
}

/// Largest body read without the owner's token (app registration, OAuth token requests, forms).
const ANON_BODY: usize = 64 * 1024;

async fn call(app: &App, req: Request<Incoming>, peer: SocketAddr, path: String) -> ApiResult {
    let query = request::query(&req);
    let method = req.method().clone();
    // The token is checked BEFORE the body is read (issue 9): only the owner's token (header or
    // query) may send a large body (media, avatar); anyone else is held to ANON_BODY, so anonymous
    // uploads are never buffered. A token in the body itself still works for small bodies.
    let mut query_params = Params::default();
    for (k, v) in &query.0 {
        query_params.push(k, v.clone());
    }
    // Without a body there is no limit to choose: the token is then checked when the handler
    // needs it, inside the call's one read transaction where it has one (issue 15).
    let no_body = hyper::body::Body::is_end_stream(req.body());
    let early = match bearer(req.headers(), &query_params) {
        None => None,
        Some(_) if no_body => None,
        Some(b) => Some(match crate::domain::oauth::token(app, &b)? {
            Some(t) => Auth::Token(t),
            None => Auth::Invalid,
        }),
    };
    let owner = matches!(&early, Some(Auth::Token(t)) if t.owner);
    let limit = if owner { app.config.max_body_kib as usize * 1024 } else { ANON_BODY.min(app.config.max_body_kib as usize * 1024) };
    let deadline = std::time::Duration::from_secs(app.config.request_timeout_secs);
    let too_large = |e: crate::error::Error| match e {
        crate::error::Error::PayloadTooLarge(_) if !owner => ApiError::new(401, "The access token is invalid"),
        e => ApiError::new(e.status(), e.public_message()),
    };
    let (headers, params, files) = if is_multipart(req.headers()) {
        // Media, avatars, some clients' statuses: the pages' streaming parser, files to
        // DATA/tmp. Without the owner's token in the header or query, a token among the text
        // fields before the first file must be the owner's, or no file byte is written.
        let (parts, body) = req.into_parts();
        let tmp = crate::server::upload::tmp_dir(&app.data);
        let received = crate::server::upload::receive(&parts.headers, body, limit, deadline, &tmp, |form| {
            if owner {
                return Ok(());
            }
            match form.get("access_token").map(|t| crate::domain::oauth::token(app, t)) {
                Some(Ok(Some(t))) if t.owner => Ok(()),
                Some(Err(e)) => Err(e),
                _ => Err(crate::error::Error::Unauthorized("The access token is invalid".into())),
            }
        })
        .await
        .map_err(|e| match e {
            crate::error::Error::Unauthorized(_) => ApiError::new(401, "The access token is invalid"),
            e => too_large(e),
        })?;
        let mut p = Params::default();
        for (k, v) in &query.0 {
            p.push(k, v.clone());
        }
        for (k, v) in received.form.0 {
            p.push(&k, v);
        }
        (parts.headers, p, received.files)
    } else {
        let (parts, body) = request::body(req, limit, deadline).await.map_err(too_large)?;
        let p = parse_params(&parts.headers, &query, &body)?;
        (parts.headers, p, Vec::new())
    };
    let auth = std::sync::OnceLock::new();
    if let Some(a) = early {
        let _ = auth.set(a);
    }
    let bearer = bearer(&headers, &params);
    let segs: Vec<String> = path.trim_start_matches('/').split('/').map(percent_decode).collect();
    let c = Call { app: app.clone(), method, segs, path, headers, query, params, bearer, auth, peer, files };
    route(&c).await
}

async fn route(c: &Call) -> ApiResult {
    let get = c.method == Method::GET || c.method == Method::HEAD;
    let post = c.method == Method::POST;
    let delete = c.method == Method::DELETE;
    let put = c.method == Method::PUT;
    let patch = c.method == Method::PATCH;
    let s: Vec<&str> = c.segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        [".well-known", "oauth-authorization-server"] if get => oauth::metadata(c),
        ["oauth", "token"] if post => oauth::token(c).await,
        ["oauth", "revoke"] if post => oauth::revoke(c),
        ["api", "v1", "apps"] if post => oauth::register(c),
        ["api", "v1", "apps", "verify_credentials"] if get => oauth::verify_app(c),
        ["api", "v1", "instance"] if get => instance::v1(c),
        ["api", "v2", "instance"] if get => instance::v2(c),
        ["api", "v1", "instance", "peers"] if get => ok(&json!([])),
        ["api", "v1", "instance", "activity"] if get => ok(&json!([])),
        ["api", "v1", "instance", "rules"] if get => ok(&json!([])),
        ["api", "v1", "preferences"] if get => instance::preferences(c),
        ["api", "v1", "custom_emojis"] if get => ok(&json!([])),
        ["api", "v1", "announcements"] if get => ok(&json!([])),
        ["api", "v1", "trends"] | ["api", "v1", "trends", "tags" | "statuses" | "links"] if get => ok(&json!([])),
        ["api", "v1", "markers"] if get => instance::markers(c),
        ["api", "v1", "markers"] if post => instance::set_markers(c),
        ["api", "v1", "accounts", "verify_credentials"] if get => accounts::verify_credentials(c),
        ["api", "v1", "accounts", "lookup"] if get => accounts::lookup(c).await,
        ["api", "v1", "accounts", "search"] if get => accounts::search(c).await,
        // Mastodon iOS breaks on a 404 here (Hollo #421): pipit suggests nobody.
        ["api", "v1" | "v2", "suggestions"] if get => ok(&json!([])),
        ["api", "v1", "conversations"] if get => conversations::list(c),
        ["api", "v1", "conversations", _, "read"] if post => conversations::read(c),
        ["api", "v1", "conversations", _] if delete => conversations::remove(c),
        ["api", "v1", "accounts", "relationships"] if get => accounts::relationships(c),
        ["api", "v1", "accounts", _] if get => accounts::get(c),
        ["api", "v1", "accounts", _, "statuses"] if get => accounts::statuses(c),
        ["api", "v1", "accounts", _, w @ ("followers" | "following")] if get => social::people(c, w),
        ["api", "v1", "accounts", _, a @ ("follow" | "unfollow" | "block" | "unblock" | "mute" | "unmute")] if post => social::relate(c, a).await,
        ["api", "v1", "follow_requests"] if get => social::follow_requests(c),
        ["api", "v1", "follow_requests", _, a @ ("authorize" | "reject")] if post => social::answer_request(c, a),
        ["api", "v1", "lists"] if get => social::lists(c),
        ["api", "v1", "lists", _] if get => social::list(c),
        ["api", "v1", "lists"] if post => social::create_list(c),
        ["api", "v1", "lists", _] if put => social::update_list(c),
        ["api", "v1", "lists", _] if delete => social::delete_list(c),
        ["api", "v1", "lists", _, "accounts"] if get => social::list_accounts(c),
        ["api", "v1", "lists", _, "accounts"] if post || delete => social::list_members(c, post),
        ["api", "v1", "timelines", "list", _] if get => social::list_timeline(c),
        ["api", "v1", "followed_tags"] if get => social::followed_tags(c),
        ["api", "v1", "bookmarks"] if get => social::bookmarks(c),
        ["api", "v1", "favourites"] if get => social::favourites(c),
        ["api", "v1", "statuses", _, w @ ("favourited_by" | "reblogged_by")] if get => social::interacted(c, w),
        ["api", "v1", "statuses"] if post => statuses::create(c).await,
        ["api", "v1", "statuses", _] if get => statuses::get(c),
        ["api", "v1", "statuses", _] if delete => statuses::delete(c),
        ["api", "v1", "statuses", _, "context"] if get => statuses::context(c),
        ["api", "v1", "statuses", _, a @ ("favourite" | "unfavourite" | "reblog" | "unreblog" | "bookmark" | "unbookmark" | "pin" | "unpin" | "mute" | "unmute")] if post => {
            statuses::action(c, a)
        }
        ["api", "v1", "timelines", "home"] if get => timelines::home(c),
        ["api", "v1", "timelines", "public"] if get => timelines::public(c),
        ["api", "v1", "timelines", "tag", _] if get => timelines::tag(c),
        ["api", "v1", "statuses", _] if put => more::edit(c),
        ["api", "v2" | "v1", "media"] if post => media::upload(c),
        ["api", "v1", "media", _] if get => media::get(c),
        ["api", "v1", "media", _] if put => media::update(c),
        ["api", "v1", "statuses", _, "source"] if get => more::source(c),
        ["api", "v1", "statuses", _, "history"] if get => publishing::history(c),
        ["api", "v1", "scheduled_statuses"] if get => publishing::list(c),
        ["api", "v1", "scheduled_statuses", _] if get => publishing::get(c),
        ["api", "v1", "scheduled_statuses", _] if put => publishing::update(c),
        ["api", "v1", "scheduled_statuses", _] if delete => publishing::delete(c),
        ["api", "v1", "polls", _] if get => more::poll(c),
        ["api", "v1", "polls", _, "votes"] if post => more::vote(c),
        ["api", "v1", "tags", _] if get => more::tag(c),
        ["api", "v1", "tags", _, a @ ("follow" | "unfollow")] if post => more::follow_tag(c, *a == "follow"),
        ["api", "v1", "accounts", "update_credentials"] if patch || put || post => more::update_credentials(c),
        ["api", "v2", "search"] if get => more::search(c).await,
        ["api", "v2", "filters"] if get => more::filters(c),
        ["api", "v2", "filters"] if post => more::create_filter(c),
        ["api", "v2", "filters", _] if get => more::filter(c),
        ["api", "v2", "filters", _] if delete => more::delete_filter(c),
        ["api", "v2", "filters", _] if put => more::update_filter(c),
        ["api", "v2", "filters", _, "keywords"] if get => more::filter_keywords(c),
        ["api", "v2", "filters", _, "statuses"] if get => more::filter_statuses(c),
        ["api", "v1", "notifications"] if get => notifications::list(c),
        ["api", "v1", "notifications", "clear"] if post => notifications::clear(c),
        ["api", "v1", "notifications", _] if get => notifications::get(c),
        ["api", "v1", "notifications", _, "dismiss"] if post => notifications::dismiss(c),
        _ => Err(ApiError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn keys_normalise() {
        assert_eq!(normalise_key("types[]"), "types");
        assert_eq!(normalise_key("id[0]"), "id");
        assert_eq!(normalise_key("poll[options][]"), "poll[options]");
        assert_eq!(normalise_key("fields_attributes[0][name]"), "fields_attributes[0][name]");
        assert_eq!(normalise_key("status"), "status");
    }
    #[test]
    fn json_and_forms_agree() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        let p = parse_params(&h, &Form::parse("limit=5"), &Bytes::from_static(br#"{"status":"hi","media_ids":["1","2"],"sensitive":false,"poll":{"options":["a","b"]},"spoiler_text":null}"#)).unwrap();
        assert_eq!(p.get("status"), Some("hi"));
        assert_eq!(p.all("media_ids"), vec!["1", "2"]);
        assert_eq!(p.flag("sensitive").unwrap(), Some(false));
        assert_eq!(p.all("poll[options]"), vec!["a", "b"]);
        assert_eq!(p.get("spoiler_text"), None, "null is absent");
        assert_eq!(p.get("limit"), Some("5"), "query merged");
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
        let p = parse_params(&h, &Form::default(), &Bytes::from_static(b"types[]=mention&types[]=favourite&id[0]=7&sensitive=on")).unwrap();
        assert_eq!(p.all("types"), vec!["mention", "favourite"]);
        assert_eq!(p.all("id"), vec!["7"]);
        assert_eq!(p.flag("sensitive").unwrap(), Some(true));
        assert!(p.flag("types").is_err());
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        assert_eq!(parse_params(&h, &Form::default(), &Bytes::from_static(b"{\"status\": ")).err().map(|e| e.status), Some(400));
        // No Content-Type: a form (OAuth token requests).
        let p = parse_params(&HeaderMap::new(), &Form::default(), &Bytes::from_static(b"grant_type=password")).unwrap();
        assert_eq!(p.get("grant_type"), Some("password"));
    }
}
