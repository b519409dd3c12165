//! GET /settings/relays: the relays the owner subscribes to; POST /settings/relays (op=add|remove,
//! url) subscribes or unsubscribes, as `pipit relay add|remove URL` does.

use crate::app::App;
use crate::handlers::auth;
use crate::error::Result;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

pub fn page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    render(app, o, None, request::query(req).get("done").map(str::to_string), 200)
}

fn render(app: &App, owner: crate::render::views::OwnerView, error: Option<String>, done: Option<String>, status: u16) -> Result<Resp> {
    let relays: Vec<_> = app.store.read(|r| r.relays())?.into_iter().map(|(actor, r)| context! { actor, inbox => r.inbox, protocol => r.protocol, state => r.state }).collect();
    let body = app.render.render("relays.html", context! { relays, error, done, retention => app.config.relay_retention_days, owner })?;
    Ok(response::html_status(status, body))
}

pub async fn action(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    let o = auth::require_owner_post(app, &parts.headers, &form)?;
    let url = form.text("url");
    let result = match form.get("op") {
        Some("remove") => crate::federation::relay::remove(app, &url),
        _ => crate::federation::relay::add(app, &url).await,
    };
    match result {
        Ok(msg) => Ok(response::redirect(&format!("/settings/relays?done={}", request::percent_encode(&msg)))),
        Err(e) => render(app, o, Some(e.public_message()), None, e.status()),
    }
}
