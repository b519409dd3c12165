//! OAuth 2 for the owner's client apps (RFC 6749, PKCE RFC 7636, revocation RFC 7009), as
//! Mastodon serves it: apps register themselves, the owner approves them on the consent page,
//! tokens carry scopes. Single user, so there is no sign-up and every user token is the owner's.
//! Tokens, secrets and codes are stored as sha256 hashes only (secret::hash_token).

use crate::app::App;
use crate::error::Error;
use crate::secret;
use crate::store::{OAuthApp, OAuthCode, OAuthToken};
use crate::time::now_ms;

/// Every scope a client may ask for (Mastodon's list; `follow` is the legacy umbrella).
pub const SCOPES: &[&str] = &[
    "read", "write", "follow", "push", "profile",
    "read:accounts", "read:blocks", "read:bookmarks", "read:favourites", "read:filters", "read:follows",
    "read:lists", "read:mutes", "read:notifications", "read:search", "read:statuses",
    "write:accounts", "write:blocks", "write:bookmarks", "write:conversations", "write:favourites",
    "write:filters", "write:follows", "write:lists", "write:media", "write:mutes", "write:notifications",
    "write:reports", "write:statuses",
];

/// Apps that never got a token are forgotten after this long (Elk caches its registration for
/// a week: twice that is safe).
pub const UNUSED_APP_MS: u64 = 14 * 24 * 3600 * 1000;
/// At most this many registrations are kept: registration is open to anyone.
pub const MAX_APPS: u64 = 10_000;

/// How long an authorization code may wait for its exchange.
pub const CODE_TTL_MS: u64 = 10 * 60 * 1000;
/// The out-of-band redirect: the consent page shows the code instead of redirecting.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

/// An OAuth error as RFC 6749 §5.2 names it: HTTP status, `error` code, human description.
#[derive(Debug)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError { status, error, description: description.into() }
    }
    fn client() -> OAuthError {
        OAuthError::new(401, "invalid_client", "Client authentication failed: unknown client or wrong secret")
    }
    fn grant(why: &str) -> OAuthError {
        OAuthError::new(400, "invalid_grant", why)
    }
    fn scope() -> OAuthError {
        OAuthError::new(400, "invalid_scope", "The requested scope is invalid, unknown, or not allowed for this app")
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> OAuthError {
        match e {
            Error::BadRequest(m) => OAuthError::new(400, "invalid_request", m),
            e => OAuthError::new(e.status(), "server_error", e.public_message()),
        }
    }
}

pub type OResult<T> = std::result::Result<T, OAuthError>;

/// Splits a scope string (spaces, `+` or commas) into known scopes; an unknown one is an error.
pub fn parse_scopes(s: &str) -> OResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for sc in s.split(|c: char| c.is_whitespace() || c == '+' || c == ',').filter(|x| !x.is_empty()) {
        if !SCOPES.contains(&sc) {
            return Err(OAuthError::scope());
        }
        if !out.iter().any(|o| o == sc) {
            out.push(sc.to_string());
        }
    }
    Ok(out)
}

/// Does a token with `granted` scopes allow an action that needs `needed` (e.g. `read:statuses`)?
/// `read`/`write` cover their granular forms; `follow` covers follows, blocks and mutes.
pub fn allows(granted: &[String], needed: &str) -> bool {
    let has = |s: &str| granted.iter().any(|g| g == s);
    if has(needed) {
        return true;
    }
    if let Some((top, _)) = needed.split_once(':') {
        if has(top) {
            return true;
        }
    }
    let legacy_follow = ["read:follows", "write:follows", "read:blocks", "write:blocks", "read:mutes", "write:mutes"];
    if legacy_follow.contains(&needed) && has("follow") {
        return true;
    }
    needed == "profile" && (has("read") || has("read:accounts"))
}

/// Are all `asked` scopes within what the app registered?
fn within(asked: &[String], registered: &[String]) -> bool {
    asked.iter().all(|a| allows(registered, a) || (a == "follow" && registered.iter().any(|r| r == "follow")))
}

/// A redirect URI an app may register: absolute with a scheme (custom schemes are normal on
/// phones), or the out-of-band URN. No fragments (RFC 6749 §3.1.2), no script schemes.
fn valid_redirect(uri: &str) -> bool {
    if uri == OOB {
        return true;
    }
    let Some((scheme, rest)) = uri.split_once(':') else { return false };
    let scheme_ok = !scheme.is_empty()
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let lower = scheme.to_ascii_lowercase();
    scheme_ok
        && !rest.is_empty()
        && !uri.contains('#')
        && uri.len() <= 2000
        && !uri.chars().any(|c| c.is_control() || c == ' ')
        && !["javascript", "data", "vbscript", "file", "blob", "about"].contains(&lower.as_str())
}

/// What `POST /api/v1/apps` returns once: the app, its id and the plain client secret.
pub struct Registered {
    pub id: u64,
    pub app: OAuthApp,
    pub client_secret: String,
}

/// Registers a client app. `redirect_uris` as given (already split); `scopes` as a scope string
/// (empty: `read`, Mastodon's default).
pub fn register(app: &App, name: &str, redirect_uris: Vec<String>, scopes: &str, website: Option<String>) -> OResult<Registered> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(OAuthError::new(422, "invalid_request", "client_name: give a name of up to 200 characters"));
    }
    let uris: Vec<String> = redirect_uris.into_iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect();
    if uris.is_empty() || uris.len() > 10 || !uris.iter().all(|u| valid_redirect(u)) {
        return Err(OAuthError::new(422, "invalid_request", "redirect_uris: give one or more absolute URIs (or urn:ietf:wg:oauth:2.0:oob), without fragments"));
    }
    let mut scopes = parse_scopes(scopes).map_err(|_| OAuthError::new(422, "invalid_scope", "scopes: unknown scope"))?;
    if scopes.is_empty() {
        scopes.push("read".into());
    }
    let website = website.map(|w| w.trim().to_string()).filter(|w| w.starts_with("https://") || w.starts_with("http://")).filter(|w| w.len() <= 2000);
    let client_id = secret::token();
    let client_secret = secret::token();
    let record = OAuthApp {
        name: name.to_string(),
        website,
        redirect_uris: uris,
        scopes,
        client_id,
        secret_hash: secret::hash_token(&client_secret),
        created_ms: now_ms(),
    };
    let now = record.created_ms;
    let id = app.store.write(|w| {
        w.sweep_unused_apps(now.saturating_sub(UNUSED_APP_MS), 20)?;
        if w.oauth_app_count()? >= MAX_APPS {
            return Ok(None);
        }
        w.put_new_oauth_app(&record).map(Some)
    })?;
    let id = id.ok_or_else(|| OAuthError::new(429, "too_many_apps", "Too many apps are registered here; try again later"))?;
    Ok(Registered { id, app: record, client_secret })
}

/// The app behind a client id (no secret: the authorize step is public).
pub fn app_by_client_id(app: &App, client_id: &str) -> OResult<(u64, OAuthApp)> {
    app.store.read(|r| r.oauth_app_by_client_id(client_id))?.ok_or_else(OAuthError::client)
}

/// Client authentication: the client id and secret must match a registered app.
pub fn authenticate_client(app: &App, client_id: &str, client_secret: &str) -> OResult<(u64, OAuthApp)> {
    let (id, a) = app_by_client_id(app, client_id)?;
    if !secret::constant_time_eq(&a.secret_hash, &secret::hash_token(client_secret)) {
        return Err(OAuthError::client());
    }
    Ok((id, a))
}

/// What the consent page shows and submits, checked: the app, the exact redirect URI, scopes.
pub struct Consent {
    pub app_id: u64,
    pub app: OAuthApp,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub challenge: Option<String>,
}

/// Checks an authorization request (`GET /oauth/authorize` and the consent form's POST).
/// Errors here are shown on pipit's page, never sent to an unverified redirect URI.
pub fn check_authorize(app: &App, client_id: &str, redirect_uri: &str, scope: &str, challenge: Option<&str>, method: Option<&str>, response_type: &str) -> OResult<Consent> {
    let (app_id, a) = app_by_client_id(app, client_id).map_err(|_| OAuthError::new(400, "invalid_client", "Unknown client_id: the app is not registered here"))?;
    if !a.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(OAuthError::new(400, "invalid_request", "The redirect_uri is not one this app registered"));
    }
    if response_type != "code" {
        return Err(OAuthError::new(400, "unsupported_response_type", "Only response_type=code is supported"));
    }
    let mut scopes = parse_scopes(scope)?;
    if scopes.is_empty() {
        scopes = a.scopes.clone();
    }
    if !within(&scopes, &a.scopes) {
        return Err(OAuthError::scope());
    }
    let challenge = match (challenge.filter(|c| !c.is_empty()), method.filter(|m| !m.is_empty())) {
        (None, _) => None,
        (Some(c), Some("S256")) => {
            if c.len() < 43 || c.len() > 128 || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch)) {
                return Err(OAuthError::new(400, "invalid_request", "code_challenge is not a valid PKCE challenge"));
            }
            Some(c.to_string())
        }
        (Some(_), _) => return Err(OAuthError::new(400, "invalid_request", "Only code_challenge_method=S256 is supported")),
    };
    Ok(Consent { app_id, app: a, redirect_uri: redirect_uri.to_string(), scopes, challenge })
}

/// The owner approved: a single-use code valid for ten minutes.
pub fn grant_code(app: &App, c: &Consent) -> OResult<String> {
    let code = secret::token();
    let now = now_ms();
    let record = OAuthCode { app_id: c.app_id, redirect_uri: c.redirect_uri.clone(), scopes: c.scopes.clone(), challenge: c.challenge.clone(), expires_ms: now + CODE_TTL_MS };
    app.store.write(|w| {
        w.sweep_oauth_codes(now, 50)?;
        w.put_oauth_code(&secret::hash_token(&code), &record)
    })?;
    Ok(code)
}

/// A token response (RFC 6749 §5.1 plus Mastodon's `created_at`).
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
    pub created_ms: u64,
}

fn issue(w: &mut crate::store::Write, app_id: u64, scopes: &[String], owner: bool) -> crate::error::Result<Issued> {
    let now = now_ms();
    let access = secret::token();
    let ah = secret::hash_token(&access);
    let (refresh, rh) = if owner {
        let r = secret::token();
        let h = secret::hash_token(&r);
        (Some(r), Some(h))
    } else {
        (None, None)
    };
    w.put_oauth_token(&ah, &OAuthToken { app_id, scopes: scopes.to_vec(), created_ms: now, owner, kind: "access".into(), pair: rh.clone(), used_ms: 0 })?;
    if let Some(rh) = &rh {
        w.put_oauth_token(rh, &OAuthToken { app_id, scopes: scopes.to_vec(), created_ms: now, owner, kind: "refresh".into(), pair: Some(ah.clone()), used_ms: 0 })?;
    }
    Ok(Issued { access_token: access, refresh_token: refresh, scopes: scopes.to_vec(), created_ms: now })
}

fn b64url_sha256(s: &str) -> String {
    secret::b64url(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref())
}

/// `grant_type=authorization_code`: the code is taken out first (single use, even when the rest
/// fails), then redirect URI, client and PKCE verifier are checked.
pub fn exchange_code(app: &App, app_id: u64, code: &str, redirect_uri: &str, verifier: Option<&str>) -> OResult<Issued> {
    let hash = secret::hash_token(code);
    let taken = app.store.write(|w| w.take_oauth_code(&hash))?;
    let c = taken.ok_or_else(|| OAuthError::grant("The authorization code is invalid, expired or already used"))?;
    if c.expires_ms < now_ms() {
        return Err(OAuthError::grant("The authorization code expired"));
    }
    if c.app_id != app_id {
        return Err(OAuthError::grant("The authorization code was issued to another client"));
    }
    if c.redirect_uri != redirect_uri {
        return Err(OAuthError::grant("redirect_uri differs from the one the code was issued for"));
    }
    if let Some(ch) = &c.challenge {
        let Some(v) = verifier.filter(|v| !v.is_empty()) else { return Err(OAuthError::grant("code_verifier is required (PKCE)")) };
        if !secret::constant_time_eq(&b64url_sha256(v), ch) {
            return Err(OAuthError::grant("code_verifier does not match the code_challenge"));
        }
    }
    Ok(app.store.write(|w| issue(w, app_id, &c.scopes, true))?)
}

/// Scopes for a direct grant: the asked ones (within the app's), or the app's own.
fn direct_scopes(a: &OAuthApp, scope: &str) -> OResult<Vec<String>> {
    let mut scopes = parse_scopes(scope)?;
    if scopes.is_empty() {
        scopes = a.scopes.clone();
    }
    if !within(&scopes, &a.scopes) {
        return Err(OAuthError::scope());
    }
    Ok(scopes)
}

/// `grant_type=client_credentials`: a token for the app itself (no owner access).
pub fn client_credentials(app: &App, app_id: u64, a: &OAuthApp, scope: &str) -> OResult<Issued> {
    let scopes = direct_scopes(a, scope)?;
    Ok(app.store.write(|w| issue(w, app_id, &scopes, false))?)
}

/// `grant_type=password`, after the caller checked the owner's password (rate limited).
pub fn owner_password_grant(app: &App, app_id: u64, a: &OAuthApp, scope: &str) -> OResult<Issued> {
    let scopes = direct_scopes(a, scope)?;
    Ok(app.store.write(|w| issue(w, app_id, &scopes, true))?)
}

/// Is `username` the owner as a client would type it (`name`, `@name`, `name@host`)?
pub fn is_owner_name(app: &App, username: &str) -> bool {
    let u = username.trim().trim_start_matches('@');
    let (name, host) = u.split_once('@').unwrap_or((u, &app.urls.host));
    name.eq_ignore_ascii_case(&app.urls.username) && host.eq_ignore_ascii_case(&app.urls.host)
}

/// `grant_type=refresh_token`: the old pair is revoked and a new one issued, same scopes
/// (or fewer, if asked).
pub fn refresh(app: &App, app_id: u64, refresh_token: &str, scope: &str) -> OResult<Issued> {
    let hash = secret::hash_token(refresh_token);
    app.store
        .write(|w| {
            let t = match w.oauth_token(&hash)? {
                Some(t) if t.kind == "refresh" && t.app_id == app_id => t,
                _ => return Ok(Err(OAuthError::grant("The refresh token is invalid or revoked"))),
            };
            let scopes = match parse_scopes(scope) {
                Ok(s) if s.is_empty() => t.scopes.clone(),
                Ok(s) if within(&s, &t.scopes) => s,
                _ => return Ok(Err(OAuthError::scope())),
            };
            w.remove_oauth_token(&hash)?;
            Ok(Ok(issue(w, app_id, &scopes, t.owner)?))
        })
        .map_err(OAuthError::from)?
}

/// The token behind a bearer string, if it is a live access token of a registered app.
pub fn token(app: &App, bearer: &str) -> crate::error::Result<Option<OAuthToken>> {
    app.store.read(|r| token_in(r, bearer))
}

/// `token` inside the caller's read transaction: an API call that lists statuses checks its
/// token in the same snapshot it reads the page from (issue 15: one read per call).
pub fn token_in(r: &crate::store::Read, bearer: &str) -> crate::error::Result<Option<OAuthToken>> {
    let hash = secret::hash_token(bearer);
    Ok(match r.oauth_token(&hash)? {
        Some(t) if t.kind == "access" && r.oauth_app(t.app_id)?.is_some() => Some(t),
        _ => None,
    })
}

/// RFC 7009: revokes an access or refresh token of this client (and its pair). Unknown tokens
/// are not an error.
pub fn revoke(app: &App, app_id: u64, token: &str) -> OResult<()> {
    let hash = secret::hash_token(token);
    app.store.write(|w| {
        if matches!(w.oauth_token(&hash)?, Some(t) if t.app_id == app_id) {
            w.remove_oauth_token(&hash)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The settings page's "revoke": every token the app holds.
pub fn revoke_app(app: &App, app_id: u64) -> crate::error::Result<usize> {
    app.store.write(|w| w.remove_app_tokens(app_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn scopes() {
        let g = parse_scopes("read write:statuses follow").unwrap();
        assert!(allows(&g, "read:notifications"));
        assert!(allows(&g, "write:statuses"));
        assert!(!allows(&g, "write:favourites"));
        assert!(allows(&g, "write:follows"));
        assert!(parse_scopes("read admin:everything").is_err());
        assert_eq!(parse_scopes("read+write").unwrap(), vec!["read", "write"]);
        assert!(within(&parse_scopes("read:statuses").unwrap(), &parse_scopes("read").unwrap()));
        assert!(!within(&parse_scopes("write").unwrap(), &parse_scopes("read").unwrap()));
    }
    #[test]
    fn redirects() {
        assert!(valid_redirect("oauth2redirect://tusky/"));
        assert!(valid_redirect("com.tapbots.Ivory.19300:/request_token"));
        assert!(valid_redirect("https://phanpy.social/"));
        assert!(valid_redirect(OOB));
        assert!(!valid_redirect("javascript:alert(1)"));
        assert!(!valid_redirect("https://x/#frag"));
        assert!(!valid_redirect("nocolon"));
    }
    #[test]
    fn pkce_s256() {
        // Expected value computed independently with Python's hashlib + base64.urlsafe_b64encode.
        assert_eq!(b64url_sha256("dBjftJeZ4CVP-mB92K9uXzcDEmNfkx8QBYd9xqiwRwOY"), "leYAj1H_4gird-_e0YrTTSa5qm8ihDGSTsCze8l5C3o");
    }
}
