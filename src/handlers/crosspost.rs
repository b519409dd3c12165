//! Settings → Cross-posting (issue 14): `GET /settings/crosspost` lists the connected
//! Mastodon-API accounts; `POST /settings/crosspost` with `op` = `connect` (`server`),
//! `disconnect` (`account`) or `default` (`account`, `on`); `GET /settings/crosspost/callback`
//! is where the remote server sends the owner back after its consent page. Owner only, CSRF
//! checked like every form. The work is federation::crosspost.

use crate::app::App;
use crate::error::Result;
use crate::handlers::auth;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_SECURITY_POLICY};
use hyper::Request;
use minijinja::context;

/// This page's policy: the site's, except that its connect form may lead (by the redirect
/// after it) to the consent page of the server the owner named, which browsers check against
/// `form-action`.
fn csp() -> String {
    crate::server::routes::CSP.replace("form-action 'self'", "form-action 'self' https: http:")
}

pub fn page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    render(app, o, None, request::query(req).get("done").map(str::to_string), 200)
}

fn render(app: &App, owner: crate::render::views::OwnerView, error: Option<String>, done: Option<String>, status: u16) -> Result<Resp> {
    let accounts: Vec<_> = app
        .store
        .read(|r| r.connections())?
        .into_iter()
        .map(|c| context! { acct => c.acct, server => c.server, url => c.account_url, max_characters => c.max_characters, default_on => c.default_on, needs_reconnect => c.needs_reconnect, since => crate::time::human_date(c.connected_ms) })
        .collect();
    let body = app.render.render("crosspost.html", context! { accounts, error, done, owner, callback => crate::domain::crosspost::redirect_uri(app) })?;
    let mut r = response::html_status(status, body);
    if let Ok(v) = HeaderValue::from_str(&csp()) {
        r.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    Ok(r)
}

pub async fn action(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    let o = auth::require_owner_post(app, &parts.headers, &form)?;
    let account = form.text("account");
    let result = match form.get("op") {
        Some("connect") => match crate::federation::crosspost::connect_start(app, &form.text("server")).await {
            // Off to the server's consent page; it sends the owner back to the callback.
            Ok(authorize) => return Ok(response::redirect(&authorize)),
            Err(e) => Err(e),
        },
        Some("disconnect") => crate::federation::crosspost::disconnect(app, &account).await,
        Some("default") => {
            let on = form.get("on").is_some();
            app.store.write(|w| w.update_connection(&account, |c| c.default_on = on)).and_then(|found| {
                if found {
                    Ok(format!("{} is {} by default when you write.", account.trim(), if on { "ticked" } else { "not ticked" }))
                } else {
                    Err(crate::error::Error::BadRequest(format!("{} is not connected", account.trim())))
                }
            })
        }
        _ => Err(crate::error::Error::BadRequest("Unknown action".into())),
    };
    match result {
        Ok(msg) => Ok(response::redirect(&format!("/settings/crosspost?done={}", request::percent_encode(&msg)))),
        Err(e) => render(app, o, Some(e.public_message()), None, e.status()),
    }
}

/// `GET /settings/crosspost/callback?code=…&state=…` (or `?error=…&state=…`).
pub async fn callback(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let q = request::query(req);
    match crate::federation::crosspost::connect_finish(app, q.get("state"), q.get("code"), q.get("error")).await {
        Ok(acct) => Ok(response::redirect(&format!("/settings/crosspost?done={}", request::percent_encode(&format!("Connected {acct}: tick it under \"Also post to\" when you write."))))),
        Err(e) => render(app, o, Some(e.public_message()), None, e.status()),
    }
}
