//! Publishing pages (issue 14): `/scheduled` (scheduled posts and drafts: publish now, delete)
//! and `POST /settings/posting` (defaults for new posts). Thin faces over domain::scheduled,
//! actions::publish_scheduled and domain::owner::set_posting_defaults.

use crate::app::App;
use crate::error::{Error, Result};
use crate::handlers::auth::{self, require_owner_post};
use crate::model::{PostingDefaults, Visibility};
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

/// GET /scheduled: the owner's scheduled posts and drafts, newest first.
pub fn page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let items: Vec<minijinja::Value> = app
        .store
        .read(|r| r.scheduled_posts(crate::domain::scheduled::MAX_SCHEDULED))?
        .into_iter()
        .map(|s| {
            context! {
                id => s.id.to_string(),
                text => s.params.text,
                cw => s.params.cw,
                visibility => s.params.visibility.as_str(),
                local_only => s.params.local_only,
                poll => s.params.poll.map(|p| p.options),
                // Thumbnails of the images kept with it, with their alt text.
                media => s.params.media.iter().map(|a| context! { url => a.preview_url.clone().unwrap_or_else(|| a.url.to_string()), alt => a.alt.clone() }).collect::<Vec<_>>(),
                at => s.scheduled_ms.map(crate::time::human_date),
                at_iso => s.scheduled_ms.map(crate::time::rfc3339),
            }
        })
        .collect();
    let notice = match request::query(req).get("done") {
        Some("scheduled") => Some("Scheduled."),
        Some("drafted") => Some("Saved as a draft."),
        Some("deleted") => Some("Deleted."),
        _ => None,
    };
    Ok(response::html(app.render.render("scheduled.html", context! { items, owner => o, notice })?))
}

/// POST /scheduled/ID/publish and /scheduled/ID/delete
pub async fn action(app: &App, req: Request<Incoming>, id: u64, what: &str) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    match what {
        "publish" => {
            let p = crate::actions::publish_scheduled(app, id).await?;
            Ok(response::redirect(&format!("{}?done=posted", p.url_or_uri())))
        }
        _ => {
            crate::domain::scheduled::delete(app, id)?;
            Ok(response::redirect("/scheduled?done=deleted"))
        }
    }
}

/// POST /settings/posting: `visibility`, `language`, `federate` (checkbox).
pub async fn settings(app: &App, req: Request<Incoming>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    require_owner_post(app, &parts.headers, &form)?;
    let visibility = Visibility::parse(form.get("visibility").unwrap_or("public")).ok_or_else(|| Error::BadRequest("Unknown visibility".into()))?;
    let language = form.get("language").map(str::trim).filter(|l| !l.is_empty()).map(str::to_string);
    crate::domain::owner::set_posting_defaults(app, PostingDefaults { local_only: form.get("federate").is_none(), visibility, language })?;
    Ok(response::redirect("/settings?done=saved#posting"))
}
