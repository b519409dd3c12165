//! GET /community: the owner's reply-and-elevate page (issue 14): replies not yet answered
//! (newest first, each with an inline reply form, boost and quote), the top repliers of the
//! last 7 or 30 days with links to their conversations, and "add to list".
//! POST /community/dismiss (id) and /community/list (list, account).

use crate::app::App;
use crate::error::{Error, Result};
use crate::handlers::{auth, social};
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

/// GET /community[?days=7|30][&before=ID]
pub fn page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let q = request::query(req);
    let days: u64 = q.get("days").and_then(|d| d.parse().ok()).filter(|d| crate::domain::community::WINDOWS.contains(d)).unwrap_or(7);
    let before = q.get("before").and_then(|s| s.parse().ok());
    let profile = app.store.read(|r| r.profile())?;
    let (replies, next) = crate::domain::community::unanswered(app, before, 20)?;
    let waiting = app.store.read(|r| r.unanswered_count())?;
    let defaults: Vec<String> = replies.iter().map(|p| crate::domain::posts::reply_defaults(app, p).map(|d| d.text).unwrap_or_default()).collect();
    let views = social::screened(app, replies.iter().map(|p| (p, None)), &profile, "notifications");
    // Screening may hide some (blocked, muted): pair the prefills by id.
    let unanswered: Vec<_> = views
        .into_iter()
        .map(|v| {
            let prefill = replies.iter().position(|p| p.id.to_string() == v.id).map(|i| defaults[i].clone()).unwrap_or_default();
            context! { prefill, reply_to => replies.iter().find(|p| p.id.to_string() == v.id).map(|p| p.uri.to_string()), post => v }
        })
        .collect();
    let top: Vec<_> = crate::domain::community::top_repliers(app, days, 20, 5)?
        .into_iter()
        .map(|r| {
            let who = social::author(app, &profile, &r.actor);
            let conversations: Vec<_> = r.replies.iter().map(|p| context! { page => format!("/posts/{}", p.id), when => crate::time::human_date(p.published_ms) }).collect();
            context! { who, count => r.count, conversations }
        })
        .collect();
    let lists: Vec<_> = app.store.read(|r| r.lists())?.into_iter().map(|(id, l)| context! { id => id.to_string(), name => l.name }).collect();
    let body = app.render.render(
        "community.html",
        context! { unanswered, waiting, top, days, windows => crate::domain::community::WINDOWS.to_vec(), lists, next => next.map(|n| n.to_string()), owner => o, back => format!("/community?days={days}") },
    )?;
    Ok(response::html(body))
}

async fn owner_form(app: &App, req: Request<Incoming>) -> Result<request::Form> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    Ok(form)
}

/// POST /community/dismiss (id): off the unanswered list without a reply.
pub async fn dismiss(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let form = owner_form(app, req).await?;
    let id = form.get("id").and_then(|s| s.parse().ok()).ok_or_else(|| Error::BadRequest("Which reply?".into()))?;
    crate::domain::community::dismiss(app, id)?;
    Ok(response::redirect(&request::back_or(&form, "/community")))
}

/// POST /community/list (list: list id, account: actor id of a replier): adds them to the list.
pub async fn add_to_list(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let form = owner_form(app, req).await?;
    let list = form.get("list").and_then(|s| s.parse().ok()).ok_or_else(|| Error::BadRequest("Choose a list".into()))?;
    let account = form.text("account");
    // Only accounts pipit already knows (every replier is cached): no fetch from this form.
    if app.store.read(|r| r.actor(account.trim()))?.is_none() {
        return Err(Error::BadRequest("Unknown account".into()));
    }
    crate::domain::lists::set_member(app, list, account.trim(), true)?;
    Ok(response::redirect(&request::back_or(&form, "/community")))
}
