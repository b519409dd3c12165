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

/// Login attempts per client address, counted BEFORE the password is checked, in a fixed
/// window; plus known devices (a signed long-lived cookie set at a successful login), which are
/// slowed down after failures but never locked out, so strangers sharing the owner's address (or
/// a reverse proxy) cannot lock the owner out. Also the gate that lets one argon2 check run at a
/// time. Bounded maps, so they cannot grow.
pub struct LoginLimiter {
    attempts: Mutex<HashMap<IpAddr, (u32, u64)>>,
    /// device nonce → (failures, last attempt ms)
    devices: Mutex<HashMap<String, (u32, u64)>>,
    check: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter { attempts: Default::default(), devices: Default::default(), check: tokio::sync::Semaphore::new(1), waiting: Default::default() }
    }
}

const MAX_ATTEMPTS: u32 = 5;
const WINDOW_MS: u64 = 15 * 60 * 1000;
const MAX_TRACKED: usize = 4096;
/// A known device that failed MAX_ATTEMPTS times may try once per this long.
const DEVICE_SLOWDOWN_MS: u64 = 10_000;
/// Logins queued for the password check at most; more are told to come back later.
const MAX_WAITING: usize = 16;
pub const DEVICE_COOKIE: &str = "pipit_device";
const DEVICE_SECS: u64 = 400 * 24 * 3600;

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, keep: impl FnMut(&K, &mut V) -> bool) {
    if map.len() >= MAX_TRACKED {
        map.retain(keep);
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
}

impl LoginLimiter {
    /// Counts one attempt from `ip`; Err when it already had MAX_ATTEMPTS in this window.
    fn address_attempt(&self, ip: IpAddr, now: u64) -> Result<()> {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        bounded(&mut map, |_, (_, start)| now.saturating_sub(*start) < WINDOW_MS);
        let e = map.entry(ip).or_insert((0, now));
        if now.saturating_sub(e.1) >= WINDOW_MS {
            *e = (0, now);
        }
        if e.0 >= MAX_ATTEMPTS {
            return Err(Error::TooManyRequests);
        }
        e.0 += 1;
        Ok(())
    }
    /// A known device: refused only while it is being slowed down after repeated failures.
    fn device_attempt(&self, device: &str, now: u64) -> Result<()> {
        let mut map = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        bounded(&mut map, |_, (_, last)| now.saturating_sub(*last) < WINDOW_MS);
        let e = map.entry(device.to_string()).or_insert((0, 0));
        if e.0 >= MAX_ATTEMPTS && now.saturating_sub(e.1) < DEVICE_SLOWDOWN_MS {
            return Err(Error::TooManyRequests);
        }
        e.1 = now;
        Ok(())
    }
    fn device_failed(&self, device: &str) {
        if let Some(e) = self.devices.lock().unwrap_or_else(|e| e.into_inner()).get_mut(device) {
            e.0 += 1;
        }
    }
    /// A known device's success clears only its own count: strangers at the same address stay limited.
    fn succeed(&self, ip: IpAddr, device: Option<&str>) {
        match device {
            Some(d) => drop(self.devices.lock().unwrap_or_else(|e| e.into_inner()).remove(d)),
            None => drop(self.attempts.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip)),
        }
    }
    /// Waits for the one password-check slot; Err when too many logins already wait.
    async fn check_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::TooManyRequests);
        }
        let permit = self.check.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|_| Error::Internal("login gate closed".into()))
    }
}

/// The owner's password checked for a client without a device cookie (the OAuth password grant):
/// the same limiter as the login form — the attempt is counted before hashing, one argon2 check
/// at a time. Ok(false): wrong password; Err(TooManyRequests): over the limit.
pub async fn check_password_limited(app: &App, ip: IpAddr, password: String) -> Result<bool> {
    app.login_limiter.address_attempt(ip, crate::time::now_ms())?;
    let ok = {
        let _slot = app.login_limiter.check_slot().await?;
        let app = app.clone();
        tokio::task::spawn_blocking(move || owner::check_password(&app, &password)).await.map_err(|e| Error::Internal(e.to_string()))??
    };
    if ok {
        app.login_limiter.succeed(ip, None);
    }
    Ok(ok)
}

/// The nonce of a valid device cookie (`nonce.hmac`), if the request has one.
fn known_device(app: &App, headers: &HeaderMap) -> Option<String> {
    let (nonce, mac) = cookie(headers, DEVICE_COOKIE)?.split_once('.')?;
    (nonce.len() >= 32 && crate::secret::constant_time_eq(mac, &crate::secret::hmac(&app.secret, &format!("device:{nonce}")))).then(|| nonce.to_string())
}

fn secure(app: &App) -> bool {
    app.urls.scheme == "https"
}

/// The owner, if the request carries a live session cookie.
pub fn owner(app: &App, headers: &HeaderMap) -> Option<OwnerView> {
    cookie(headers, SESSION_COOKIE)?;
    app.store.read(|r| Ok(owner_in(app, r, headers))).ok().flatten()
}

/// `owner`, reading the session and profile in the request's read transaction `r`.
pub fn owner_in(app: &App, r: &crate::store::Read, headers: &HeaderMap) -> Option<OwnerView> {
    let token = cookie(headers, SESSION_COOKIE)?;
    match owner::session_valid_in(r, token) {
        Ok(true) => Some(OwnerView {
            csrf: crate::secret::hmac(&app.secret, &format!("session:{token}")),
            posting: r.profile().map(|p| p.posting).unwrap_or_default(),
            crosspost: r.connections().map(|cs| cs.into_iter().filter(|c| c.needs_reconnect.is_none()).map(|c| (c.acct, c.default_on)).collect()).unwrap_or_default(),
        }),
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
    let mut r = response::html_status(status, body);
    if let Some(n) = new_nonce {
        response::set_cookie(&mut r, ANON_COOKIE, &n, 24 * 3600, secure(app));
    }
    Ok(r)
}

/// Where to go after logging in: a local path only (`/…`, never `//host` or `/\host`), so
/// the login form cannot be used to send the owner to another site.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?.trim();
    (n.len() <= 2048).then_some(n).and_then(request::same_site_path).map(str::to_string)
}

/// GET /login[?next=/path]
pub fn login_page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let headers = req.headers();
    let next = safe_next(request::query(req).get("next"));
    if owner(app, headers).is_some() {
        return Ok(response::redirect(next.as_deref().unwrap_or(&app.urls.profile())));
    }
    let no_password = !owner::has_password(app)?;
    page_with_anon(app, headers, "login.html", |csrf| context! { csrf, no_password, next => next.clone(), title => "Log in" }, 200)
}

/// POST /login. The attempt is counted before the password is checked, and one argon2 check
/// runs at a time (it takes 19 MiB and most of a core on the Pi).
pub async fn login(app: &App, req: Request<Incoming>, peer: SocketAddr) -> Result<Resp> {
    let now = crate::time::now_ms();
    let ip = request::client_ip(req.headers(), peer.ip(), &app.config.trusted_proxies);
    let device = known_device(app, req.headers());
    if device.is_none() {
        // Refuse early, before reading the body, when the address is already over its limit.
        let map = app.login_limiter.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(map.get(&ip), Some(&(n, start)) if n >= MAX_ATTEMPTS && now.saturating_sub(start) < WINDOW_MS) {
            return Err(Error::TooManyRequests);
        }
    }
    let (parts, body) = read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    check_anon_csrf(app, &parts.headers, &form)?;
    match &device {
        Some(d) => app.login_limiter.device_attempt(d, now)?,
        None => app.login_limiter.address_attempt(ip, now)?,
    }
    let password = form.text("password");
    let ok = {
        let _slot = app.login_limiter.check_slot().await?;
        // argon2 is deliberately slow: keep it off the async workers.
        let app = app.clone();
        tokio::task::spawn_blocking(move || owner::check_password(&app, &password))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    if !ok {
        if let Some(d) = &device {
            app.login_limiter.device_failed(d);
        }
        tracing::info!(%ip, known_device = device.is_some(), "failed login");
        let next = safe_next(form.get("next"));
        return page_with_anon(app, &parts.headers, "login.html", |csrf| context! { csrf, error => "Wrong password.", next => next.clone(), title => "Log in" }, 401);
    }
    app.login_limiter.succeed(ip, device.as_deref());
    let token = owner::new_session(app)?;
    let mut r = response::redirect(&safe_next(form.get("next")).unwrap_or_else(|| app.urls.profile()));
    response::set_cookie(&mut r, SESSION_COOKIE, &token, app.config.session_secs, secure(app));
    // This device has now logged in: strangers' failures from the same address cannot lock it out.
    let nonce = device.unwrap_or_else(crate::secret::token);
    let mac = crate::secret::hmac(&app.secret, &format!("device:{nonce}"));
    response::set_cookie(&mut r, DEVICE_COOKIE, &format!("{nonce}.{mac}"), DEVICE_SECS, secure(app));
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

/// An owner-only form that may carry files: the session is checked before any byte of the body
/// is read (a stranger's upload is refused at once), the CSRF token before any file is accepted,
/// and files are streamed to DATA/tmp, not memory.
pub async fn receive_owner_form(app: &App, req: Request<Incoming>, limit: usize, deadline: std::time::Duration) -> Result<(hyper::http::request::Parts, crate::server::upload::Received)> {
    let (parts, body) = req.into_parts();
    let declared = parts.headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Error::PayloadTooLarge(limit as u64));
    }
    let o = owner(app, &parts.headers).ok_or_else(|| Error::Unauthorized("Log in first".into()))?;
    let tmp = crate::server::upload::tmp_dir(&app.data);
    let received = crate::server::upload::receive(&parts.headers, body, limit, deadline, &tmp, |form| match form.get("csrf") {
        Some(t) if crate::secret::constant_time_eq(t, &o.csrf) => Ok(()),
        Some(_) => Err(Error::Forbidden("The form expired or came from another site (CSRF token mismatch). Reload the page and try again.".into())),
        None => Err(Error::Forbidden("Missing CSRF token. Reload the page and try again.".into())),
    })
    .await?;
    Ok((parts, received))
}
