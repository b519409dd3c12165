//! OAuth endpoints: `POST /api/v1/apps`, `GET /api/v1/apps/verify_credentials`, the consent page
//! `GET|POST /oauth/authorize`, `POST /oauth/token`, `POST /oauth/revoke`,
//! `GET /.well-known/oauth-authorization-server` (RFC 8414), and the settings page listing the
//! authorized apps (`GET /settings/apps`, `POST /settings/apps/ID/revoke`).
//! The rules are in domain/oauth.rs; this file reads requests and writes answers.

use super::{ok, ApiError, ApiResult, Auth, Call};
use crate::app::App;
use crate::domain::oauth::{self as rules, OAuthError, OOB};
use crate::error::{Error, Result};
use crate::handlers::auth;
use crate::server::request::{self, percent_encode, Form};
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::{Method, Request};
use minijinja::context;
use serde_json::{json, Value};

/// `POST /api/v1/apps`: `client_name`, `redirect_uris` (a string with spaces or newlines, or a
/// list), `scopes` (default `read`), `website`. Answers the Application with its credentials.
pub fn register(c: &Call) -> ApiResult {
    let uris: Vec<String> = c.params.all("redirect_uris").iter().flat_map(|s| s.split_whitespace()).map(str::to_string).collect();
    let scopes = c.params.get("scopes").or(c.params.get("scope")).unwrap_or("read");
    let r = rules::register(&c.app, &c.params.text("client_name"), uris, scopes, c.params.get("website").map(str::to_string))?;
    let mut v = application(r.id, &r.app);
    v["client_id"] = json!(r.app.client_id);
    v["client_secret"] = json!(r.client_secret);
    v["client_secret_expires_at"] = json!(0);
    ok(&v)
}

fn application(id: u64, a: &crate::store::OAuthApp) -> Value {
    json!({
        "id": id.to_string(),
        "name": a.name,
        "website": a.website,
        "scopes": a.scopes,
        "redirect_uri": a.redirect_uris.join("\n"),
        "redirect_uris": a.redirect_uris,
    })
}

/// `GET /api/v1/apps/verify_credentials`: the app behind any valid token (app or user).
pub fn verify_app(c: &Call) -> ApiResult {
    let Auth::Token(t) = c.auth()? else { return Err(ApiError::new(401, "The access token is invalid")) };
    let a = c.app.store.read(|r| r.oauth_app(t.app_id))?.ok_or_else(|| ApiError::new(401, "The access token is invalid"))?;
    ok(&application(t.app_id, &a))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414, as Mastodon ≥ 4.3 serves it).
pub fn metadata(c: &Call) -> ApiResult {
    let base = &c.app.urls.base;
    ok(&json!({
        "issuer": format!("{base}/"),
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "scopes_supported": rules::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": if c.app.config.oauth_password_grant { json!(["authorization_code", "client_credentials", "refresh_token", "password"]) } else { json!(["authorization_code", "client_credentials", "refresh_token"]) },
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

/// Client credentials from HTTP Basic and/or the body; when both are sent they must agree.
fn client_credentials(c: &Call) -> std::result::Result<(String, String), ApiError> {
    let basic = c
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")))
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(i, p)| (request::percent_decode(i), request::percent_decode(p))));
    let body = (c.params.get("client_id").map(str::to_string), c.params.get("client_secret").map(str::to_string));
    let invalid = || ApiError::from(OAuthError::new(401, "invalid_client", "Client authentication failed: unknown client or wrong secret"));
    match (basic, body) {
        (Some((i, p)), (bi, bp)) => {
            if bi.is_some_and(|x| x != i) || bp.is_some_and(|x| x != p) {
                return Err(invalid());
            }
            Ok((i, p))
        }
        (None, (Some(i), Some(p))) => Ok((i, p)),
        _ => Err(invalid()),
    }
}

/// `POST /oauth/token`: grants `authorization_code` (+PKCE), `client_credentials`,
/// `refresh_token`, and `password` (the owner only, rate limited like the login form).
pub async fn token(c: &Call) -> ApiResult {
    let grant = c.params.text("grant_type");
    let password_ok = c.app.config.oauth_password_grant;
    if !matches!(grant.as_str(), "authorization_code" | "client_credentials" | "refresh_token") && !(grant == "password" && password_ok) {
        return Err(OAuthError::new(400, "unsupported_grant_type", "grant_type must be authorization_code, client_credentials, refresh_token or password").into());
    }
    let (client_id, client_secret) = client_credentials(c)?;
    let (app_id, a) = rules::authenticate_client(&c.app, &client_id, &client_secret)?;
    let scope = c.params.get("scope").or(c.params.get("scopes")).unwrap_or("").to_string();
    let issued = match grant.as_str() {
        "authorization_code" => {
            let code = c.params.text("code");
            let redirect = c.params.text("redirect_uri");
            rules::exchange_code(&c.app, app_id, &code, &redirect, c.params.get("code_verifier"))?
        }
        "client_credentials" => rules::client_credentials(&c.app, app_id, &a, &scope)?,
        "refresh_token" => rules::refresh(&c.app, app_id, &c.params.text("refresh_token"), &scope)?,
        _ => {
            let ip = crate::server::request::client_ip(&c.headers, c.peer.ip(), &c.app.config.trusted_proxies);
            let username = c.params.text("username");
            let password = c.params.text("password");
            let ok_pw = match crate::handlers::auth::check_password_limited(&c.app, ip, password).await {
                Ok(ok) => ok,
                Err(Error::TooManyRequests) => return Err(ApiError::new(429, "Too many attempts; wait a few minutes and try again")),
                Err(e) => return Err(e.into()),
            };
            if !ok_pw || !rules::is_owner_name(&c.app, &username) {
                tracing::info!(%ip, "failed password grant");
                return Err(OAuthError::new(400, "invalid_grant", "Wrong username or password").into());
            }
            rules::owner_password_grant(&c.app, app_id, &a, &scope)?
        }
    };
    let mut v = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "scope": issued.scopes.join(" "),
        "created_at": issued.created_ms / 1000,
    });
    if let Some(r) = issued.refresh_token {
        v["refresh_token"] = json!(r);
    }
    let mut r = ok(&v)?;
    r.headers_mut().insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `POST /oauth/revoke` (RFC 7009): `token` plus client credentials; 200 `{}` whether or not
/// the token was still live.
pub fn revoke(c: &Call) -> ApiResult {
    let (client_id, client_secret) = client_credentials(c)?;
    let (app_id, _) = rules::authenticate_client(&c.app, &client_id, &client_secret)?;
    rules::revoke(&c.app, app_id, &c.params.text("token"))?;
    ok(&json!({}))
}

fn oauth_page_error(e: OAuthError) -> Error {
    Error::BadRequest(format!("{} ({})", e.description, e.error))
}

/// `GET /oauth/authorize` shows the consent page (after login); `POST` is the owner's answer.
/// Problems with the client or its redirect URI are shown here and never redirected.
pub async fn authorize(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let is_post = req.method() == Method::POST;
    if !is_post && req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(Error::BadRequest("Use GET or POST".into()));
    }
    if !is_post {
        let q = request::query(&req);
        let Some(o) = auth::owner(app, req.headers()) else {
            // Log in first, then come back here with the same request.
            let back = format!("/oauth/authorize?{}", req.uri().query().unwrap_or(""));
            return Ok(response::redirect(&format!("/login?next={}", percent_encode(&back))));
        };
        let consent = check(app, &q)?;
        let body = app.render.render(
            "oauth_authorize.html",
            context! {
                owner => o, app_name => consent.app.name, website => consent.app.website,
                scopes => consent.scopes, scope => consent.scopes.join(" "), client_id => q.text("client_id"),
                redirect_uri => consent.redirect_uri, state => q.text("state"),
                code_challenge => consent.challenge.clone().unwrap_or_default(),
                code_challenge_method => if consent.challenge.is_some() { "S256" } else { "" },
            },
        )?;
        return Ok(response::html(body));
    }
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    let consent = check(app, &form)?;
    let state = form.get("state").filter(|s| !s.is_empty());
    let allow = form.get("decision") != Some("deny");
    if consent.redirect_uri == OOB {
        if !allow {
            return Err(Error::Forbidden("You denied the app access.".into()));
        }
        let code = rules::grant_code(app, &consent).map_err(oauth_page_error)?;
        let o = auth::owner(app, &parts.headers);
        let body = app.render.render("oauth_code.html", context! { owner => o, app_name => consent.app.name, code })?;
        return Ok(response::html(body));
    }
    let mut params = if allow {
        let code = rules::grant_code(app, &consent).map_err(oauth_page_error)?;
        format!("code={}", percent_encode(&code))
    } else {
        "error=access_denied".to_string()
    };
    if let Some(s) = state {
        params.push_str(&format!("&state={}", percent_encode(s)));
    }
    let sep = if consent.redirect_uri.contains('?') { '&' } else { '?' };
    Ok(response::redirect(&format!("{}{sep}{params}", consent.redirect_uri)))
}

fn check(app: &App, q: &Form) -> Result<rules::Consent> {
    rules::check_authorize(
        app,
        &q.text("client_id"),
        &q.text("redirect_uri"),
        q.get("scope").or(q.get("scopes")).unwrap_or(""),
        q.get("code_challenge"),
        q.get("code_challenge_method"),
        q.get("response_type").unwrap_or("code"),
    )
    .map_err(oauth_page_error)
}

/// `GET /settings/apps`: the apps holding the owner's tokens.
pub fn apps_page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let apps: Vec<_> = app
        .store
        .read(|r| r.authorized_apps(200))?
        .into_iter()
        .map(|(id, a, when)| context! { id => id.to_string(), name => a.name, website => a.website, scopes => a.scopes.join(" "), when => crate::time::human_date(when) })
        .collect();
    let notice = request::query(req).get("done").map(|_| "Revoked: the app is logged out.".to_string());
    let body = app.render.render("oauth_apps.html", context! { apps, owner => o, notice })?;
    Ok(response::html(body))
}

/// `POST /settings/apps/ID/revoke`: every token of that app stops working.
pub async fn revoke_app(app: &App, req: Request<Incoming>, id: u64) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    rules::revoke_app(app, id)?;
    Ok(response::redirect("/settings/apps?done=revoked"))
}
