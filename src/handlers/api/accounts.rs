//! Accounts: `verify_credentials`, `GET /api/v1/accounts/:id`, `/:id/statuses`, `lookup`,
//! `relationships`. Remote accounts are those pipit has cached; `lookup` resolves a handle it
//! does not know yet through WebFinger (as the web search does).

use super::entities::Ctx;
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::timeline::{self, Viewer};
use crate::model::Post;
use serde_json::Value;

/// The actor id behind an account id segment, or 404.
pub fn actor_of(c: &Call, id: u64) -> Result<String, ApiError> {
    c.app.store.read(|r| r.account_actor(id))?.ok_or_else(ApiError::not_found)
}

/// `GET /api/v1/accounts/verify_credentials`: the owner, with `source`.
pub fn verify_credentials(c: &Call) -> ApiResult {
    c.user("profile")?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ok(&ctx.owner_account(true))
}

/// `GET /api/v1/accounts/:id`
pub fn get(c: &Call) -> ApiResult {
    let viewer = c.viewer("read:accounts")?;
    let actor = actor_of(c, c.id_seg(3)?)?;
    let ctx = Ctx::new(&c.app, viewer)?;
    ok(&ctx.account(&actor))
}

/// `GET /api/v1/accounts/lookup?acct=user[@host]`: the owner by name; for the owner's token a
/// remote handle is resolved through WebFinger (and cached), as the web search does. 404 if
/// nothing answers.
pub async fn lookup(c: &Call) -> ApiResult {
    let viewer = c.viewer("read:accounts")?;
    let acct = c.params.text("acct");
    let acct = acct.trim().trim_start_matches('@');
    if acct.is_empty() {
        return Err(ApiError::unprocessable("acct: give user or user@host"));
    }
    let actor = if crate::domain::oauth::is_owner_name(&c.app, acct) {
        c.app.urls.actor()
    } else if viewer == Viewer::Owner && acct.contains('@') {
        // Strangers do not get to make pipit fetch things.
        crate::actions::account(&c.app, acct).await.map(|a| a.id.into_string()).map_err(|_| ApiError::not_found())?
    } else {
        return Err(ApiError::not_found());
    };
    let ctx = Ctx::new(&c.app, viewer)?;
    ok(&ctx.account(&actor))
}

/// `GET /api/v1/accounts/relationships?id[]=…`: always an array; unknown ids are left out.
pub fn relationships(c: &Call) -> ApiResult {
    c.user("read:follows")?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    let mut out = Vec::new();
    for id in c.params.all("id").into_iter().take(100) {
        let Ok(id) = id.parse::<u64>() else { continue };
        if let Some(actor) = c.app.store.read(|r| r.account_actor(id))? {
            out.push(ctx.relationship(&actor));
        }
    }
    ok(&Value::Array(out))
}

/// `GET /api/v1/accounts/:id/statuses` with `max_id`/`since_id`/`min_id`/`limit`,
/// `exclude_replies`, `exclude_reblogs`, `only_media`, `pinned`, `tagged`.
pub fn statuses(c: &Call) -> ApiResult {
    let need = super::Need::Viewer("read:statuses");
    let account = c.after_auth(need, c.id_seg(3))?;
    let range = c.range(20, 40);
    let exclude_replies = c.after_auth(need, c.params.flag("exclude_replies"))?.unwrap_or(false);
    let only_media = c.after_auth(need, c.params.flag("only_media"))?.unwrap_or(false);
    let tagged = c.params.get("tagged").map(|t| t.trim_start_matches('#').to_lowercase());
    let pinned_only = c.after_auth(need, c.params.flag("pinned"))?.unwrap_or(false);
    // One read transaction for the token, the posts and every status built from them (issue 15).
    let got = c.read_as(need, |r, viewer| {
        let Some(actor) = r.account_actor(account)? else { return Ok(None) };
        let ctx = Ctx::new_in(&c.app, r, viewer)?;
        let mine = ctx.is_me(&actor);
        if pinned_only {
            // Pinned posts are few: one page, no cursors.
            let pinned: Vec<Post> = if mine { r.pinned(20)?.into_iter().filter(|p| timeline::can_see(viewer, p)).collect() } else { vec![] };
            ctx.prepare(pinned.iter(), []);
            return Ok(Some((pinned.iter().map(|p| ctx.status(p, None)).collect::<Vec<Value>>(), None, None)));
        }
        let mut posts: Vec<Post> = Vec::new();
        let mut keep = |id: u64| -> crate::error::Result<bool> {
            let Some(p) = r.post(id)? else { return Ok(false) };
            let ok = timeline::can_see(viewer, &p)
                && !(exclude_replies && p.in_reply_to.is_some())
                && !(only_media && p.attachments.is_empty())
                && tagged.as_ref().map(|t| p.tags.contains(t)).unwrap_or(true);
            if ok {
                posts.push(p);
            }
            Ok(ok)
        };
        if mine {
            r.own_post_ids(&range, &mut keep)?;
        } else {
            r.author_post_ids(&actor, &range, &mut keep)?;
        }
        posts.sort_by_key(|p| std::cmp::Reverse(p.id));
        ctx.prepare(posts.iter(), []);
        let items: Vec<Value> = posts.iter().map(|p| ctx.status(p, None)).collect();
        Ok(Some((items, Some(posts.first().map(|p| p.id)), Some(posts.last().map(|p| p.id)))))
    })?;
    let Some((items, first, last)) = got else { return Err(ApiError::not_found()) };
    match (first, last) {
        (Some(first), Some(last)) => c.paged(items, first, last),
        _ => ok(&Value::Array(items)),
    }
}

/// Accounts looked at by one search: the owner's following and followers pages (bounded).
const SEARCH_SCAN: usize = 400;

/// `GET /api/v1/accounts/search?q=&limit=&resolve=&following=` (mention autocomplete): the
/// owner and the accounts the owner follows or is followed by whose username, handle or display
/// name starts with `q` (a word of the display name may match too), people followed first.
/// `resolve=true` with a full `user@host` looks the handle up through WebFinger, as search does.
/// An empty `q` gives `[]`.
pub async fn search(c: &Call) -> ApiResult {
    c.user("read:accounts")?;
    let q = c.params.text("q");
    let q = q.trim().trim_start_matches('@').to_lowercase();
    let limit = c.range(40, 80).limit;
    let resolve = c.params.flag("resolve")?.unwrap_or(false);
    let only_following = c.params.flag("following")?.unwrap_or(false);
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    if q.is_empty() {
        return ok(&Value::Array(vec![]));
    }
    let (user_q, host_q) = match q.split_once('@') {
        Some((u, h)) => (u.to_string(), Some(h.to_string())),
        None => (q.clone(), None),
    };
    let matches = |username: &str, host: &str, name: &str| {
        let (username, host, name) = (username.to_lowercase(), host.to_lowercase(), name.to_lowercase());
        let user_ok = username.starts_with(&user_q) || (host_q.is_none() && (name.starts_with(&user_q) || name.split_whitespace().any(|w| w.starts_with(&user_q))));
        user_ok && host_q.as_ref().map(|h| host.starts_with(h.as_str())).unwrap_or(true)
    };
    let mut found: Vec<String> = Vec::new();
    let p = &ctx_profile(c)?;
    if !only_following && matches(&p.0, &c.app.urls.host, &p.1) {
        found.push(c.app.urls.actor());
    }
    let candidates: Vec<crate::model::RemoteActor> = c.app.store.read(|r| {
        let mut uris: Vec<String> = r.following_page(None, SEARCH_SCAN / 2)?.items.into_iter().map(|(u, _)| u).collect();
        if !only_following {
            uris.extend(r.followers_page(None, SEARCH_SCAN / 2)?.items.into_iter().map(|(u, _)| u));
        }
        let mut out = Vec::new();
        for u in uris {
            if let Some(a) = r.actor(&u)? {
                out.push(a);
            }
        }
        Ok(out)
    })?;
    for a in candidates {
        if found.len() >= limit {
            break;
        }
        let id = a.id.to_string();
        if !found.contains(&id) && matches(&a.preferred_username, &a.host, &a.name) {
            found.push(id);
        }
    }
    if found.is_empty() && resolve && host_q.as_ref().is_some_and(|h| h.contains('.') || h.contains(':')) {
        if let Ok(a) = crate::actions::account(&c.app, &q).await {
            found.push(a.id.into_string());
        }
    }
    found.truncate(limit);
    ctx.prepare([], found.iter().cloned());
    ok(&Value::Array(found.iter().map(|a| ctx.account(a)).collect()))
}

/// The owner's (username, display name).
fn ctx_profile(c: &Call) -> Result<(String, String), ApiError> {
    let p = c.app.store.read(|r| r.profile())?;
    Ok((c.app.config.username.clone(), p.display_name))
}
