//! GET /authorize_interaction?uri=: the OStatus "subscribe" template our WebFinger advertises.
//! A remote site sends the owner here with an account or a post; the owner lands on its page
//! here (account page: follow; post page: reply, like, boost). Visitors log in first and come
//! back; what cannot be resolved gets a page that says why.

use crate::actions;
use crate::app::App;
use crate::error::{Error, Result};
use crate::handlers::auth;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

/// Where the owner should go for `uri`: a post page or an account page (resolved, fetched and
/// stored through the same code as search).
pub async fn destination(app: &App, uri: &str) -> Result<String> {
    let uri = uri.trim();
    let uri = uri.strip_prefix("acct:").unwrap_or(uri);
    if uri.starts_with("http://") || uri.starts_with("https://") {
        if let Some(id) = app.urls.local_post_id(uri) {
            return Ok(app.urls.post_url(id));
        }
        if uri == app.urls.actor() || uri == app.urls.profile() {
            return Ok(app.urls.profile());
        }
        // A post first; when the document is not a post it may be an account.
        let post_err = match actions::remote_post(app, uri).await {
            Ok(p) => return Ok(format!("/posts/{}", p.id)),
            Err(e) => e,
        };
        if let Ok(a) = actions::account(app, uri).await {
            return Ok(format!("/{}", a.handle()));
        }
        // A starter pack (a public list's collection of accounts): its page, with "follow all".
        return match crate::federation::starter_pack::read(app, uri).await {
            Ok(pack) => Ok(format!("/starter-pack?uri={}", request::percent_encode(&pack.id))),
            Err(_) => Err(post_err),
        };
    }
    let handle = uri.trim_start_matches('@');
    match handle.split_once('@') {
        Some((u, h)) if !u.is_empty() && !h.is_empty() && !handle.contains(['/', ' ']) => {
            if handle.eq_ignore_ascii_case(&format!("{}@{}", app.urls.username, app.urls.host)) {
                return Ok(app.urls.profile());
            }
            let a = actions::account(app, handle).await?;
            Ok(format!("/{}", a.handle()))
        }
        _ => Err(Error::BadRequest(format!("“{uri}” is neither an account (@user@host) nor a link to a post or account"))),
    }
}

/// GET /authorize_interaction?uri=URL|acct:user@host
pub async fn authorize_interaction(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let q = request::query(req);
    let uri = q.text("uri");
    let Some(o) = auth::owner(app, req.headers()) else {
        let back = format!("/authorize_interaction?uri={}", request::percent_encode(&uri));
        return Ok(response::redirect(&format!("/login?next={}", request::percent_encode(&back))));
    };
    if uri.trim().is_empty() {
        return page(app, o, &uri, "Give the address of an account (@user@host) or a link to a post.".into(), 400);
    }
    match destination(app, &uri).await {
        Ok(to) => Ok(response::redirect(&to)),
        Err(e) => {
            tracing::info!("authorize_interaction {uri}: {e}");
            let (why, status) = match &e {
                Error::BadRequest(m) => (m.clone(), 400),
                Error::NotFound | Error::Gone => ("its server says it does not exist (any more)".to_string(), 502),
                other => (format!("its server could not be reached or did not answer ({})", other.public_message()), 502),
            };
            page(app, o, &uri, format!("Could not open {}: {why}", uri.trim()), status)
        }
    }
}

fn page(app: &App, owner: crate::render::views::OwnerView, uri: &str, error: String, status: u16) -> Result<Resp> {
    let body = app.render.render("interact.html", context! { uri, error, owner })?;
    Ok(response::html_status(status, body))
}
