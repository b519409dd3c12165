//! Blocks, domain blocks, mutes and keyword filters: what they change in the store and on the
//! wire, and the one rule (`screen`) every timeline uses to hide or warn.

use crate::app::App;
use crate::domain::outbox::{self, new_activity_id};
use crate::error::{Error, Result};
use crate::federation::vocab;
use crate::model::{Audience, Filter, Post};
use crate::time::now_ms;
use serde_json::json;

/// Blocks an account: it stops following us and we stop following it, its posts are hidden,
/// its deliveries refused, and it is told (Block), as Mastodon does.
pub fn block(app: &App, actor: &str) -> Result<()> {
    app.store.write(|w| {
        let inbox = w.actor(actor)?.map(|a| a.inbox);
        if let Some(f) = w.remove_following(actor)? {
            if let Some(inbox) = &inbox {
                let undo = vocab::simple_json(&app.urls, "Undo", &new_activity_id(app), json!({ "id": f.follow_id, "type": "Follow", "actor": app.urls.actor(), "object": actor }), vec![actor.into()], vec![]);
                outbox::send(w, app, undo, Audience { followers: false, inboxes: vec![inbox.to_string()] })?;
            }
        }
        w.remove_follower(actor)?;
        w.remove_follow_request(actor)?;
        w.set_blocked(actor, true, now_ms())?;
        if let Some(inbox) = inbox {
            let block = vocab::simple_json(&app.urls, "Block", &new_activity_id(app), json!(actor), vec![actor.into()], vec![]);
            outbox::send(w, app, block, Audience { followers: false, inboxes: vec![inbox.to_string()] })?;
        }
        Ok(())
    })?;
    crate::federation::media_cache::purge_actor(app, actor);
    Ok(())
}

pub fn unblock(app: &App, actor: &str) -> Result<()> {
    app.store.write(|w| w.set_blocked(actor, false, now_ms()))
}

/// Blocks a whole server: the owner's follows there end (Undo), its followers and requests are
/// removed (Reject), then nothing more is delivered there or accepted from there. (No Block is
/// sent: a domain block is private.)
pub fn block_domain(app: &App, host: &str) -> Result<()> {
    let host = host.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_ascii_lowercase();
    if host.is_empty() || host.contains('/') || host == app.urls.host {
        return Err(Error::BadRequest("Give a domain like example.social".into()));
    }
    app.store.write(|w| {
        crate::domain::follows::end_relationships_on(w, app, &host)?;
        w.set_domain_blocked(&host, true, now_ms())
    })?;
    crate::federation::media_cache::purge_host(app, &host);
    Ok(())
}

pub fn unblock_domain(app: &App, host: &str) -> Result<()> {
    app.store.write(|w| w.set_domain_blocked(host, false, now_ms()))
}

/// Mutes for `secs` seconds (None: until unmuted). Muted accounts vanish from timelines and
/// notifications but still follow and are followed.
pub fn mute(app: &App, actor: &str, secs: Option<u64>) -> Result<()> {
    let until = secs.map(|s| now_ms() + s * 1000).unwrap_or(0);
    app.store.write(|w| w.set_muted(actor, Some(until)))
}

pub fn unmute(app: &App, actor: &str) -> Result<()> {
    app.store.write(|w| w.set_muted(actor, None))
}

pub const CONTEXTS: &[&str] = &["home", "notifications", "public", "thread"];

pub fn add_filter(app: &App, keyword: &str, action: &str, contexts: Vec<String>) -> Result<()> {
    let f = checked_filter(keyword, action, contexts)?;
    app.store.write(|w| w.add_filter(&f).map(drop))
}

/// Changes filter `id` in place (the client API's `PUT /api/v2/filters/:id`), with the same
/// rules as [`add_filter`]. NotFound when there is no such filter.
pub fn update_filter(app: &App, id: u64, keyword: &str, action: &str, contexts: Vec<String>) -> Result<()> {
    let f = checked_filter(keyword, action, contexts)?;
    if !app.store.read(|r| r.filters())?.iter().any(|(i, _)| *i == id) {
        return Err(Error::NotFound);
    }
    // put_filter never replaces (ids are allocated once): remove, then insert at the same id,
    // in one transaction.
    app.store.write(|w| {
        w.delete_filter(id)?;
        w.put_filter(id, &f)
    })
}

fn checked_filter(keyword: &str, action: &str, contexts: Vec<String>) -> Result<Filter> {
    let keyword = keyword.trim().to_lowercase();
    if keyword.is_empty() || keyword.chars().count() > 100 {
        return Err(Error::BadRequest("A filter needs a keyword of up to 100 characters".into()));
    }
    if action != "hide" && action != "warn" {
        return Err(Error::BadRequest("A filter either hides or warns".into()));
    }
    let contexts: Vec<String> = contexts.into_iter().filter(|c| CONTEXTS.contains(&c.as_str())).collect();
    if contexts.is_empty() {
        return Err(Error::BadRequest("Choose where the filter applies".into()));
    }
    Ok(Filter { keyword, action: action.into(), contexts })
}

pub fn remove_filter(app: &App, id: u64) -> Result<()> {
    app.store.write(|w| w.delete_filter(id))
}

/// How a post shows in a context.
#[derive(Debug, PartialEq, Eq)]
pub enum Screen {
    Show,
    /// Behind a "Filtered: keyword" warning.
    Warn(String),
    Hide,
}

/// Loaded once per page: the owner's blocks, mutes and filters applied to each post.
pub struct Screener {
    filters: Vec<Filter>,
    context: &'static str,
    app: App,
}

impl Screener {
    pub fn new(app: &App, context: &'static str) -> Screener {
        app.store.read(|r| Ok(Screener::new_in(app, r, context))).unwrap_or_else(|_| Screener { filters: Vec::new(), context, app: app.clone() })
    }

    /// `new`, reading the filters in the request's transaction `r`.
    pub fn new_in(app: &App, r: &crate::store::Read, context: &'static str) -> Screener {
        let filters = r.filters().unwrap_or_default().into_iter().map(|(_, f)| f).filter(|f| f.contexts.iter().any(|c| c == context)).collect();
        Screener { filters, context, app: app.clone() }
    }

    /// `by`: who put it in front of us (the booster), besides its author.
    pub fn screen(&self, p: &Post, by: Option<&str>) -> Screen {
        if p.local {
            return Screen::Show;
        }
        let now = now_ms();
        self.screen_by(p, by, &|a: &str| self.app.store.read(|r| Ok(r.is_blocked(a)? || r.is_muted(a, now)?)).unwrap_or(false))
    }

    /// `screen`, reading blocks and mutes in the request's transaction `r`.
    pub fn screen_in(&self, r: &crate::store::Read, p: &Post, by: Option<&str>) -> Screen {
        if p.local {
            return Screen::Show;
        }
        let now = now_ms();
        self.screen_by(p, by, &|a: &str| r.is_blocked(a).unwrap_or(false) || r.is_muted(a, now).unwrap_or(false))
    }

    fn screen_by(&self, p: &Post, by: Option<&str>, blocked_or_muted: &dyn Fn(&str) -> bool) -> Screen {
        if p.local {
            return Screen::Show;
        }
        if blocked_or_muted(&p.author) || by.map(blocked_or_muted).unwrap_or(false) {
            // Mutes hide from timelines and notifications; in a thread a muted reply stays
            // readable on request? Mastodon hides it too.
            return Screen::Hide;
        }
        let text = format!("{} {}", p.summary, crate::render::views::strip_tags(&p.content)).to_lowercase();
        let words = crate::store::query_terms(&text, 10_000);
        for f in &self.filters {
            let hit = if f.keyword.contains(' ') { text.contains(&f.keyword) } else { words.iter().any(|w| *w == f.keyword) || text.contains(&format!("#{}", f.keyword)) };
            if hit {
                return if f.action == "hide" { Screen::Hide } else { Screen::Warn(f.keyword.clone()) };
            }
        }
        let _ = self.context;
        Screen::Show
    }
}
