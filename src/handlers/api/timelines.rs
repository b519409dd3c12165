//! Timelines: `GET /api/v1/timelines/home`, `/public` (`local`, `remote`, `only_media`),
//! `/tag/:tag`. Paging by `max_id`/`since_id`/`min_id` with `Link` headers. Home applies the
//! same rules as the /home page (exclusive lists, then blocks, mutes and filters).

use super::entities::Ctx;
use super::{ApiResult, Call, Need};
use crate::domain::safety::{Screen, Screener};
use crate::domain::timeline::{self, Viewer};
use crate::model::{HomeEntry, Post, Visibility};

/// `GET /api/v1/timelines/home`: cursors are home entry ids (a boost's status id is its entry).
pub fn home(c: &Call) -> ApiResult {
    let range = c.range(20, 40);
    // One read transaction for the token, the entries, the rules and every status built (issue 15).
    let (items, first, last) = c.read_as(Need::User("read:statuses"), |r, _| {
        let screener = Screener::new_in(&c.app, r, "home");
        let mut rows: Vec<(u64, HomeEntry, Post)> = Vec::new();
        // Whether an account's posts stay off home (an exclusive list), asked once per account:
        // a page is mostly a few authors.
        let mut on_home: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
        r.home_ids(&range, &mut |id| {
            let Some(e) = r.home_entry(id)? else { return Ok(false) };
            let Some(p) = r.post(e.post_id)? else { return Ok(false) };
            let who = e.boosted_by.as_deref().unwrap_or(&p.author);
            let shown = match on_home.get(who) {
                Some(s) => *s,
                None => {
                    let s = timeline::on_home_in(r, &e, &p);
                    on_home.insert(who.to_string(), s);
                    s
                }
            };
            if !shown || screener.screen_in(r, &p, e.boosted_by.as_deref()) == Screen::Hide {
                return Ok(false);
            }
            rows.push((id, e, p));
            Ok(true)
        })?;
        // Scans upwards (min_id) visit oldest first: pages are always newest first.
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        let ctx = Ctx::new_in(&c.app, r, Viewer::Owner)?;
        ctx.prepare(rows.iter().map(|(_, _, p)| p), rows.iter().filter_map(|(_, e, _)| e.boosted_by.clone()));
        let items: Vec<serde_json::Value> = rows.iter().map(|(id, e, p)| ctx.home_status(*id, e, p)).collect();
        Ok((items, rows.first().map(|r| r.0), rows.last().map(|r| r.0)))
    })?;
    c.paged(items, first, last)
}

fn posts_page(c: &Call, need: Need, context: &'static str, scan: &dyn Fn(&crate::store::Read, Viewer, &crate::store::Range, &mut dyn FnMut(&Post) -> bool) -> crate::error::Result<Vec<Post>>) -> ApiResult {
    let range = c.range(20, 40);
    let only_media = c.after_auth(need, c.params.flag("only_media"))?.unwrap_or(false);
    // One read transaction for the token, the scan, the rules and every status built (issue 15).
    let (items, first, last) = c.read_as(need, |r, viewer| {
        let screener = Screener::new_in(&c.app, r, context);
        let mut posts = scan(r, viewer, &range, &mut |p: &Post| (!only_media || !p.attachments.is_empty()) && screener.screen_in(r, p, None) != Screen::Hide)?;
        posts.sort_by_key(|p| std::cmp::Reverse(p.id));
        let ctx = Ctx::new_in(&c.app, r, viewer)?;
        ctx.prepare(posts.iter(), []);
        let items: Vec<serde_json::Value> = posts.iter().map(|p| ctx.status(p, None)).collect();
        Ok((items, posts.first().map(|p| p.id), posts.last().map(|p| p.id)))
    })?;
    c.paged(items, first, last)
}

/// `GET /api/v1/timelines/public`: public posts pipit holds; `local=true` the owner's only,
/// `remote=true` everyone else's.
pub fn public(c: &Call) -> ApiResult {
    let need = Need::Viewer("read:statuses");
    let local = c.after_auth(need, c.params.flag("local"))?.unwrap_or(false);
    let remote = c.after_auth(need, c.params.flag("remote"))?.unwrap_or(false);
    posts_page(c, need, "public", &|r, _, range, keep| {
        let mut out = Vec::new();
        {
            let mut k = |id: u64| -> crate::error::Result<bool> {
                let Some(p) = r.post(id)? else { return Ok(false) };
                let ok = p.visibility == Visibility::Public && !(remote && p.local) && keep(&p);
                if ok {
                    out.push(p);
                }
                Ok(ok)
            };
            if local {
                r.own_post_ids(range, &mut k)?;
            } else {
                r.post_ids(range, &mut k)?;
            }
        }
        Ok(out)
    })
}

fn tag_names(c: &Call, key: &str) -> Vec<String> {
    c.params.all(key).iter().map(|t| t.trim().trim_start_matches('#').to_lowercase()).filter(|t| !t.is_empty()).take(4).collect()
}

/// `GET /api/v1/timelines/tag/:tag`: as the tag page shows it (the owner sees every post),
/// with Mastodon's `any[]` (also these tags), `all[]` (every one of these too), `none[]` (none
/// of these), `local`, `remote` and `only_media`. Each tag's index is scanned for the same
/// window and the results merged, so paging stays exact.
pub fn tag(c: &Call) -> ApiResult {
    let need = Need::Viewer("read:statuses");
    let first = c.segs[4].trim_start_matches('#').to_lowercase();
    let mut any = vec![first];
    for t in tag_names(c, "any") {
        if !any.contains(&t) {
            any.push(t);
        }
    }
    let (all, none) = (tag_names(c, "all"), tag_names(c, "none"));
    let local = c.after_auth(need, c.params.flag("local"))?.unwrap_or(false);
    let remote = c.after_auth(need, c.params.flag("remote"))?.unwrap_or(false);
    posts_page(c, need, "public", &|r, viewer, range, keep| {
        let mut out: Vec<Post> = Vec::new();
        {
            for t in &any {
                r.tag_post_ids(t, range, &mut |id| {
                    if out.iter().any(|p| p.id == id) {
                        return Ok(false);
                    }
                    let Some(p) = r.post(id)? else { return Ok(false) };
                    let visible = if viewer == Viewer::Owner { true } else { p.visibility == Visibility::Public };
                    let ok = visible
                        && !(local && !p.local)
                        && !(remote && p.local)
                        && all.iter().all(|t| p.tags.contains(t))
                        && !none.iter().any(|t| p.tags.contains(t))
                        && keep(&p);
                    if ok {
                        out.push(p);
                    }
                    Ok(ok)
                })?;
            }
        }
        // Several indexes: keep the `limit` nearest the cursor (the lowest above min_id when
        // paging up, else the newest).
        out.sort_by_key(|p| std::cmp::Reverse(p.id));
        if range.min_id.is_some() && range.since_id.is_none() {
            let skip = out.len().saturating_sub(range.limit);
            out.drain(..skip);
        } else {
            out.truncate(range.limit);
        }
        Ok(out)
    })
}
