//! /settings/safety: blocks, domain blocks, mutes (with duration), keyword filters, and the
//! follower-approval switch; and the actions that change them.

use crate::actions;
use crate::app::App;
use crate::domain::safety;
use crate::error::{Error, Result};
use crate::handlers::{auth, social};
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
    let profile = app.store.read(|r| r.profile())?;
    let now = crate::time::now_ms();
    let (blocks, domains, mutes, filters) = app.store.read(|r| Ok((r.blocked_actors()?, r.blocked_domains()?, r.muted_actors()?, r.filters()?)))?;
    let blocks: Vec<_> = blocks.iter().map(|(a, _)| social::author(app, &profile, a)).collect();
    let mutes: Vec<_> = mutes
        .iter()
        .filter(|(_, until)| *until == 0 || *until > now)
        .map(|(a, until)| context! { who => social::author(app, &profile, a), until => if *until == 0 { "forever".to_string() } else { crate::time::human_date(*until) } })
        .collect();
    let filters: Vec<_> = filters.iter().map(|(id, f)| context! { id => id.to_string(), keyword => f.keyword, action => f.action, contexts => f.contexts }).collect();
    let domains: Vec<String> = domains.into_iter().map(|(d, _)| d).collect();
    let body = app.render.render(
        "safety.html",
        context! { blocks, domains, mutes, filters, contexts => safety::CONTEXTS, approve => profile.approve_followers, owner => o, notice => request::query(req).get("done").map(str::to_string) },
    )?;
    Ok(response::html(body))
}

/// POST /block /unblock /mute /unmute /domain-block /domain-unblock /filters /filters/ID/delete
/// /settings/approval
pub async fn action(app: &App, req: Request<Incoming>, what: &str, id: Option<u64>) -> Result<Resp> {
    let (parts, body) = auth::read_small(app, req).await?;
    let form = request::submitted(&parts.headers, &body)?.form;
    auth::require_owner_post(app, &parts.headers, &form)?;
    let account = form.text("account");
    let resolve = || async {
        if account.trim().is_empty() {
            return Err(Error::BadRequest("Give an account as @user@host or a URL".into()));
        }
        // An id we already know is used as is; a handle is looked up.
        if app.store.read(|r| r.actor(account.trim()))?.is_some() || app.store.read(|r| r.is_blocked(account.trim()))? {
            return Ok(account.trim().to_string());
        }
        Ok(actions::account(app, account.trim()).await?.id.into_string())
    };
    match what {
        "block" => safety::block(app, &resolve().await?)?,
        "unblock" => safety::unblock(app, account.trim())?,
        "mute" => {
            let secs = form.get("duration").and_then(|d| d.parse::<u64>().ok()).filter(|&d| d > 0);
            safety::mute(app, &resolve().await?, secs)?
        }
        "unmute" => safety::unmute(app, account.trim())?,
        "domain-block" => safety::block_domain(app, &form.text("domain"))?,
        "domain-unblock" => safety::unblock_domain(app, form.text("domain").trim())?,
        "filters" => {
            let contexts = form.0.iter().filter(|(k, _)| k == "context").map(|(_, v)| v.clone()).collect();
            safety::add_filter(app, &form.text("keyword"), form.get("action").unwrap_or("hide"), contexts)?
        }
        "filter-delete" => safety::remove_filter(app, id.ok_or(Error::NotFound)?)?,
        "approval" => {
            let on = form.get("approve").is_some();
            crate::domain::owner::set_approve_followers(app, on).map(|_| ())?
        }
        _ => return Err(Error::NotFound),
    }
    let back = request::back_or(&form, "/settings/safety?done=Saved");
    Ok(response::redirect(&back))
}
