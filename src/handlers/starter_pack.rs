//! Starter packs (issue 14). On the pack's own server: GET /lists/ID as ActivityPub (the
//! collection of members), the public page (members, copyable handles, "follow all from your
//! server"), and GET /lists/ID/follow-from?account=user@host, which sends a visitor to their
//! server's remote-follow address (WebFinger's subscribe template) with the collection's URL.
//! On the visitor's pipit: /authorize_interaction lands on GET /starter-pack?uri=URL, and
//! POST /starter-pack/follow follows every member.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::starter_pack;
use crate::handlers::{auth, social};
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

/// Most members a pack page and its collection show.
const MAX: usize = 1000;

fn public_list(app: &App, id: u64) -> Result<crate::model::List> {
    app.store.read(|r| r.list(id))?.filter(|l| l.public).ok_or(Error::NotFound)
}

/// GET /lists/ID as ActivityPub: the public list's members (404 for a private one).
pub async fn collection(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    crate::handlers::ap::requester(app, req).await?;
    let list = public_list(app, id)?;
    let members = app.store.read(|r| r.list_members(id, MAX))?;
    Ok(crate::handlers::ap::ap(&starter_pack::collection_json(&app.urls, id, &list.name, &members)))
}

/// The public page of a pack, for visitors.
pub fn page(app: &App, id: u64, error: Option<String>) -> Result<Resp> {
    let list = public_list(app, id)?;
    let profile = app.store.read(|r| r.profile())?;
    let members: Vec<_> = app.store.read(|r| r.list_members(id, MAX))?.iter().map(|m| social::author(app, &profile, m)).collect();
    let handles = members.iter().map(|m| m.handle.clone()).collect::<Vec<_>>().join("\n");
    let body = app.render.render(
        "starter_pack.html",
        context! { origin => true, id => id.to_string(), name => list.name, members, handles, collection => format!("{}/lists/{id}", app.urls.base), error },
    )?;
    Ok(response::html(body))
}

/// GET /lists/ID/follow-from?account=user@host: to the visitor's own server, which opens the
/// pack there (remote follow).
pub async fn follow_from(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    public_list(app, id)?;
    let account = request::query(req).text("account");
    match crate::federation::fetch::subscribe_template(app, &account).await {
        Ok(t) => Ok(response::redirect(&t.replace("{uri}", &request::percent_encode(&format!("{}/lists/{id}", app.urls.base))))),
        Err(e) => {
            let mut r = page(app, id, Some(format!("Could not find the server of {}: {}", account.trim(), e.public_message())))?;
            *r.status_mut() = hyper::StatusCode::BAD_REQUEST;
            Ok(r)
        }
    }
}

/// GET /starter-pack?uri=URL (owner): another server's pack, with "follow all".
pub async fn remote_page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let q = request::query(req);
    let pack = starter_pack::read(app, &q.text("uri")).await?;
    starter_pack::cache_accounts(app, &pack, 50).await;
    let profile = app.store.read(|r| r.profile())?;
    let mut following = 0;
    let members: Vec<_> = pack
        .members
        .iter()
        .map(|m| {
            let followed = app.store.read(|r| r.following(m)).ok().flatten().is_some();
            following += followed as usize;
            context! { who => social::author(app, &profile, m), followed }
        })
        .collect();
    let by = pack.by.as_ref().map(|b| social::author(app, &profile, b));
    let body = app.render.render(
        "starter_pack.html",
        context! { origin => false, name => pack.name, by, members, following, collection => pack.id.to_string(), owner => o, done => q.get("done").map(str::to_string), failed => q.get("failed").map(str::to_string) },
    )?;
    Ok(response::html(body))
}

/// POST /starter-pack/follow (uri): follows every member not followed yet.
pub async fn follow_all(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    let uri = form.text("uri");
    let (done, failed) = crate::actions::follow_starter_pack(app, &uri).await?;
    let mut to = format!("/starter-pack?uri={}&done={done}", request::percent_encode(&uri));
    if !failed.is_empty() {
        to.push_str(&format!("&failed={}", request::percent_encode(&failed.join(", "))));
    }
    Ok(response::redirect(&to))
}
