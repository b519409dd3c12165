//! Owner authentication: login/logout, the one-time setup page, session cookies and CSRF.
//!
//! CSRF tokens are HMAC(server secret, session token), so they need no storage and die with the
//! session. Forms shown before login (login, setup) use HMAC(secret, "anon:" + a random cookie).

use crate::app::App;
use crate::domain::owner;
use crate::error::{Error, Result};
use crate::render::views::OwnerView;
use crate::server::request::{self, cookie, Form};
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::Request;
use minijinja::context;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

pub const SESSION_COOKIE: &str = "pipit_session";
pub const ANON_COOKIE: &str = "pipit_csrf";

/// Failed logins per client address in a sliding window; a bounded map so it cannot grow.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<IpAddr, (u32, u64)>>,
}

const MAX_FAILURES: u32 = 5;
const WINDOW_MS: u64 = 15 * 60 * 1000;
const MAX_TRACKED: usize = 4096;

impl LoginLimiter {
    pub fn blocked(&self, ip: IpAddr, now: u64) -> bool {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        matches!(map.get(&ip), Some(&(n, start)) if n >= MAX_FAILURES && now - start < WINDOW_MS)
    }
    pub fn fail(&self, ip: IpAddr, now: u64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, start)| now - *start < WINDOW_MS);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let e = map.entry(ip).or_insert((0, now));
        if now - e.1 >= WINDOW_MS {
            *e = (0, now);
        }
        e.0 += 1;
    }
    pub fn succeed(&self, ip: IpAddr) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip);
    }
}

fn secure(app: &App) -> bool {
    app.urls.scheme == "https"
}

/// The owner, if the request carries a live session cookie.
pub fn owner(app: &App, headers: &HeaderMap) -> Option<OwnerView> {
    let token = cookie(headers, SESSION_COOKIE)?;
    match owner::session_valid(app, token) {
        Ok(true) => Some(OwnerView { csrf: crate::secret::hmac(&app.secret, &format!("session:{token}")) }),
        _ => None,
    }
}

/// For owner-only POSTs: a live session and the matching CSRF token in the form.
pub fn require_owner_post(app: &App, headers: &HeaderMap, form: &Form) -> Result<OwnerView> {
    let o = owner(app, headers).ok_or_else(|| Error::Unauthorized("Log in first".into()))?;
    match form.get("csrf") {
        Some(t) if crate::secret::constant_time_eq(t, &o.csrf) => Ok(o),
        Some(_) => Err(Error::Forbidden("The form expired or came from another site (CSRF token mismatch). Reload the page and try again.".into())),
        None => Err(Error::Forbidden("Missing CSRF token. Reload the page and try again.".into())),
    }
}

/// For owner-only pages: redirect to /login when there is no session.
pub fn require_owner_page(app: &App, headers: &HeaderMap) -> std::result::Result<OwnerView, Resp> {
    owner(app, headers).ok_or_else(|| response::redirect("/login"))
}

fn anon_csrf(app: &App, nonce: &str) -> String {
    crate::secret::hmac(&app.secret, &format!("anon:{nonce}"))
}

/// A CSRF token for a pre-login form, setting the nonce cookie if the visitor has none yet.
fn anon_token(app: &App, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, ANON_COOKIE) {
        Some(n) if n.len() >= 32 => (anon_csrf(app, n), None),
        _ => {
            let n = crate::secret::token();
            (anon_csrf(app, &n), Some(n))
        }
    }
}

fn check_anon_csrf(app: &App, headers: &HeaderMap, form: &Form) -> Result<()> {
    let nonce = cookie(headers, ANON_COOKIE).ok_or_else(|| Error::Forbidden("Cookies are needed to log in; enable them and reload the page.".into()))?;
    match form.get("csrf") {
        Some(t) if crate::secret::constant_time_eq(t, &anon_csrf(app, nonce)) => Ok(()),
        _ => Err(Error::Forbidden("The form expired or came from another site (CSRF token mismatch). Reload the page and try again.".into())),
    }
}

fn page_with_anon(app: &App, headers: &HeaderMap, template: &str, ctx: impl Fn(&str) -> minijinja::Value, status: u16) -> Result<Resp> {
    let (csrf, new_nonce) = anon_token(app, headers);
    let body = app.render.render(template, ctx(&csrf))?;
    let mut r = response::html(body);
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    if let Some(n) = new_nonce {
        response::set_cookie(&mut r, ANON_COOKIE, &n, 24 * 3600, secure(app));
    }
    Ok(r)
}

/// Where to go after logging in: a local path only (`/oauth/authorize?…` comes back here), never
/// another site (`//host`, `/\\host`).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.chars().any(|c| c.is_control())).map(str::to_string)
}

/// GET /login[?next=/local/path]
pub fn login_page(app: &App, headers: &HeaderMap, next: Option<&str>) -> Result<Resp> {
    let next = safe_next(next);
    if owner(app, headers).is_some() {
        return Ok(response::redirect(next.as_deref().unwrap_or(&app.urls.profile())));
    }
    let no_password = !owner::has_password(app)?;
    page_with_anon(app, headers, "login.html", |csrf| context! { csrf, no_password, next => next.clone(), title => "Log in" }, 200)
}

/// POST /login
pub async fn login(app: &App, req: Request<Incoming>, peer: SocketAddr) -> Result<Resp> {
    let now = crate::time::now_ms();
    if app.login_limiter.blocked(peer.ip(), now) {
        return Err(Error::TooManyRequests);
    }
    let (parts, body) = read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    check_anon_csrf(app, &parts.headers, &form)?;
    let password = form.text("password");
    // argon2 is deliberately slow: keep it off the async workers.
    let ok = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || owner::check_password(&app, &password))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    if !ok {
        app.login_limiter.fail(peer.ip(), now);
        tracing::info!(ip = %peer.ip(), "failed login");
        let next = safe_next(form.get("next"));
        return page_with_anon(app, &parts.headers, "login.html", |csrf| context! { csrf, next => next.clone(), error => "Wrong password.", title => "Log in" }, 401);
    }
    app.login_limiter.succeed(peer.ip());
    let token = owner::new_session(app)?;
    let mut r = response::redirect(safe_next(form.get("next")).as_deref().unwrap_or(&app.urls.profile()));
    response::set_cookie(&mut r, SESSION_COOKIE, &token, app.config.session_secs, secure(app));
    Ok(r)
}

/// POST /logout
pub async fn logout(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
        owner::end_session(app, token)?;
    }
    let mut r = response::redirect("/login");
    response::set_cookie(&mut r, SESSION_COOKIE, "", 0, secure(app));
    Ok(r)
}

/// GET /setup?token=
pub fn setup_page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let token = request::query(req).text("token");
    if !owner::setup_token_valid(app, &token)? {
        return Err(Error::Forbidden("This setup link was already used or is not valid. Run `pipit password --data DIR` to set a password.".into()));
    }
    page_with_anon(app, req.headers(), "setup.html", |csrf| context! { csrf, token => token.clone(), title => "Set your password" }, 200)
}

/// POST /setup
pub async fn setup(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    check_anon_csrf(app, &parts.headers, &form)?;
    let (token, password) = (form.text("token"), form.text("password"));
    if password != form.text("confirm") {
        return page_with_anon(app, &parts.headers, "setup.html", |csrf| context! { csrf, token => token.clone(), error => "The two passwords differ." }, 400);
    }
    let result = {
        let (app, token, password) = (app.clone(), token.clone(), password.clone());
        tokio::task::spawn_blocking(move || owner::setup_password(&app, &token, &password)).await.map_err(|e| Error::Internal(e.to_string()))?
    };
    if let Err(Error::BadRequest(msg)) = result {
        return page_with_anon(app, &parts.headers, "setup.html", |csrf| context! { csrf, token => token.clone(), error => msg.clone() }, 400);
    }
    result?;
    let session = owner::new_session(app)?;
    let mut r = response::redirect(&app.urls.profile());
    response::set_cookie(&mut r, SESSION_COOKIE, &session, app.config.session_secs, secure(app));
    Ok(r)
}

/// Forms without uploads are small: 64 KiB is plenty and keeps floods cheap.
pub async fn read_small(app: &App, req: Request<Incoming>) -> Result<(hyper::http::request::Parts, hyper::body::Bytes)> {
    request::body(req, 64 * 1024, std::time::Duration::from_secs(app.config.request_timeout_secs)).await
}
