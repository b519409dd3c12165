//! Editing (`PUT /api/v1/statuses/:id`, `GET …/source`), polls (`GET /api/v1/polls/:id`,
//! `POST …/votes`), hashtags (`GET /api/v1/tags/:name`, follow, unfollow), the profile
//! (`PATCH /api/v1/accounts/update_credentials`), search (`GET /api/v2/search`) and keyword
//! filters (`/api/v2/filters`). Thin faces over domain::posts, follows, owner, safety and the
//! store's search, as the web pages use them.

use super::entities::Ctx;
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::owner::{self, ProfileEdit, ProfileImage};
use crate::domain::timeline::{self, Viewer};
use crate::domain::{follows, posts, safety};
use crate::error::Error;
use crate::model::{Post, ProfileField};
use serde_json::{json, Value};

fn unprocessable(e: Error) -> ApiError {
    match e {
        Error::BadRequest(m) | Error::UnsupportedMediaType(m) => ApiError::unprocessable(m),
        e => e.into(),
    }
}

/// `PUT /api/v1/statuses/:id`: new `status`, `spoiler_text` and `media_attributes[]` (alt texts
/// of the attachments, Mastodon ≥ 4.1: Ice Cubes, Phanpy; Hollo #538). One Update goes to followers.
pub fn edit(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    let id = c.id_seg(3)?;
    let old = timeline::post(&c.app, Viewer::Owner, id)?;
    if !old.local {
        return Err(ApiError::new(403, "This action is not allowed"));
    }
    let text = c.params.get("status").map(str::to_string).unwrap_or(old.source.clone());
    let cw = c.params.get("spoiler_text").map(str::to_string).unwrap_or(old.summary.clone());
    let alts = media_attributes(c, &old)?;
    let p = posts::edit_with_alt(&c.app, id, text, cw, alts).map_err(unprocessable)?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare([&p], []);
    ok(&ctx.status(&p, None))
}

/// The alt texts `media_attributes[]` asks for, one per attachment in order (the others kept), or
/// None when it is absent. Items are `{id, description, focus}` as JSON (`media_attributes[0][id]`)
/// or as a form (`media_attributes[][id]`, where each `id` starts the next item). An id is a
/// MediaAttachment id of this status (entities.rs: post id × 16 + index); any other is a 422.
/// `focus` is accepted and not changed (focal points are set at upload).
fn media_attributes(c: &Call, p: &Post) -> Result<Option<Vec<String>>, ApiError> {
    // (index as sent, or "" for a form array; field; value), in request order
    let mut items: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for (k, v) in &c.params.0 {
        let Some((index, field)) = k.strip_prefix("media_attributes[").and_then(|r| r.split_once("][")) else { continue };
        let field = field.trim_end_matches(']');
        let start_new = match items.last() {
            None => true,
            Some((i, id, _)) => if index.is_empty() { field == "id" && id.is_some() } else { i != index },
        };
        if start_new {
            items.push((index.to_string(), None, None));
        }
        let last = items.last_mut().expect("pushed above");
        match field {
            "id" => last.1 = Some(v.clone()),
            "description" => last.2 = Some(v.clone()),
            _ => {}
        }
    }
    if items.is_empty() {
        return Ok(None);
    }
    let mut alts: Vec<String> = p.attachments.iter().map(|a| a.alt.clone()).collect();
    for (_, id, description) in items {
        let id = id.ok_or_else(|| ApiError::unprocessable("media_attributes: each item needs an id"))?;
        let i = id
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_sub(p.id.wrapping_mul(16)))
            .filter(|i| (*i as usize) < alts.len())
            .ok_or_else(|| ApiError::unprocessable(format!("media_attributes: {id} is not an attachment of this status")))?;
        if let Some(d) = description {
            alts[i as usize] = d;
        }
    }
    Ok(Some(alts))
}

/// `GET /api/v1/statuses/:id/source`: what the owner typed, for the edit box.
pub fn source(c: &Call) -> ApiResult {
    c.user("read:statuses")?;
    let p = timeline::post(&c.app, Viewer::Owner, c.id_seg(3)?)?;
    ok(&json!({ "id": p.id.to_string(), "text": p.source, "spoiler_text": p.summary }))
}

fn poll_of(c: &Call, id: u64) -> Result<(Post, Value), ApiError> {
    let viewer = c.viewer("read:statuses")?;
    let p = timeline::post(&c.app, viewer, id)?;
    let ctx = Ctx::new(&c.app, viewer)?;
    let v = ctx.status(&p, None)["poll"].clone();
    if v.is_null() {
        return Err(ApiError::not_found());
    }
    Ok((p, v))
}

/// `GET /api/v1/polls/:id` (a poll's id is its post's id).
pub fn poll(c: &Call) -> ApiResult {
    ok(&poll_of(c, c.id_seg(3)?)?.1)
}

/// `POST /api/v1/polls/:id/votes` with `choices[]` (option indices).
pub fn vote(c: &Call) -> ApiResult {
    c.user("write:statuses")?;
    let id = c.id_seg(3)?;
    let (p, _) = poll_of(c, id)?;
    let options: Vec<String> = p.poll.as_ref().map(|pl| pl.options.iter().map(|(t, _)| t.clone()).collect()).unwrap_or_default();
    let mut choices = Vec::new();
    for ch in c.params.all("choices") {
        let i: usize = ch.parse().map_err(|_| ApiError::unprocessable("choices: option indices"))?;
        choices.push(options.get(i).cloned().ok_or_else(|| ApiError::unprocessable("choices: no such option"))?);
    }
    follows::vote(&c.app, p.id, &choices).map_err(unprocessable)?;
    ok(&poll_of(c, id)?.1)
}

fn tag_entity(c: &Call, name: &str) -> crate::error::Result<Value> {
    let following = c.app.store.read(|r| r.follows_tag(name))?;
    Ok(json!({ "name": name, "url": c.app.urls.tag(name), "history": [], "following": following }))
}

fn tag_name(c: &Call) -> Result<String, ApiError> {
    let t = c.segs[3].trim_start_matches('#').to_lowercase();
    if t.is_empty() || t.chars().count() > 100 || !t.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
        return Err(ApiError::not_found());
    }
    Ok(t)
}

/// `GET /api/v1/tags/:name`
pub fn tag(c: &Call) -> ApiResult {
    c.viewer("read:statuses")?;
    ok(&tag_entity(c, &tag_name(c)?)?)
}

/// `POST /api/v1/tags/:name/follow|unfollow`: followed tags feed home (the tag page's button).
pub fn follow_tag(c: &Call, follow: bool) -> ApiResult {
    c.user("write:follows")?;
    let t = tag_name(c)?;
    c.app.store.write(|w| w.follow_tag(&t, follow, crate::time::now_ms()))?;
    ok(&tag_entity(c, &t)?)
}

/// `PATCH /api/v1/accounts/update_credentials`: `display_name`, `note`, `locked`,
/// `fields_attributes[i][name|value]` (form, multipart or JSON), `avatar` and `header` files.
/// Keys left out keep their value.
pub fn update_credentials(c: &Call) -> ApiResult {
    c.user("write:accounts")?;
    let p = &c.params;
    let current = owner::profile(&c.app)?;
    let mut fields: Vec<ProfileField> = Vec::new();
    let mut any_field = false;
    for i in 0..owner::MAX_FIELDS + 4 {
        let (n, v) = (p.get(&format!("fields_attributes[{i}][name]")), p.get(&format!("fields_attributes[{i}][value]")));
        if n.is_some() || v.is_some() {
            any_field = true;
            fields.push(ProfileField { name: n.unwrap_or_default().to_string(), value: v.unwrap_or_default().to_string(), verified_ms: None });
        }
    }
    let edit = ProfileEdit {
        display_name: p.get("display_name").map(str::to_string).unwrap_or(current.display_name.clone()),
        bio: p.get("note").map(str::to_string).unwrap_or(current.bio.clone()),
        fields: if any_field { fields } else { current.fields.clone() },
    };
    owner::update_profile(&c.app, edit).map_err(unprocessable)?;
    if let Some(locked) = p.flag("locked")? {
        c.app.store.write(|w| {
            let mut pr = w.profile()?;
            pr.approve_followers = locked;
            w.put_profile(&pr)
        })?;
    }
    let max = c.app.config.max_upload_kib as usize * 1024;
    for f in &c.files {
        let which = match f.name.as_str() {
            "avatar" => ProfileImage::Avatar,
            "header" => ProfileImage::Header,
            _ => continue,
        };
        if f.len > max as u64 {
            return Err(ApiError::unprocessable(format!("{}: larger than {} KiB", f.name, c.app.config.max_upload_kib)));
        }
        owner::set_image(&c.app, which, crate::domain::media::Input::File(&f.path)).map_err(unprocessable)?;
    }
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ok(&ctx.owner_account(true))
}

/// `GET /api/v2/search?q=&type=&resolve=&limit=&offset=`: accounts, statuses and hashtags,
/// always all three lists. `#tag` searches a hashtag; `@user@host` or a URL is looked up, and
/// with `resolve=true` fetched (the owner only); other words search stored posts.
pub async fn search(c: &Call) -> ApiResult {
    c.user("read:search")?;
    let q = c.params.text("q");
    let q = q.trim();
    let kind = c.params.text("type");
    let want = |k: &str| kind.is_empty() || kind == k;
    let resolve = c.params.flag("resolve")?.unwrap_or(false);
    let limit = c.range(20, 40).limit;
    let offset = c.params.get("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0).min(200);
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    let (mut accounts, mut statuses, mut hashtags) = (Vec::new(), Vec::new(), Vec::new());
    if q.is_empty() {
        return ok(&json!({ "accounts": [], "statuses": [], "hashtags": [] }));
    }
    let handle = {
        let h = q.trim_start_matches('@');
        matches!(h.split_once('@'), Some((u, host)) if !u.is_empty() && !host.is_empty() && !h.contains(' '))
    };
    if q.starts_with('#') || (want("hashtags") && !q.contains(' ') && !handle && !q.starts_with("http")) {
        let t = q.trim_start_matches('#').to_lowercase();
        if !t.is_empty() && t.chars().all(|ch| ch.is_alphanumeric() || ch == '_') && want("hashtags") && offset == 0 {
            hashtags.push(tag_entity(c, &t)?);
        }
    }
    if handle && want("accounts") && offset == 0 {
        if owner_name(c, q) {
            accounts.push(ctx.owner_account(false));
        } else if resolve {
            if let Ok(a) = crate::actions::account(&c.app, q).await {
                accounts.push(ctx.account(&a.id));
            }
        }
    } else if (q.starts_with("https://") || q.starts_with("http://")) && offset == 0 {
        let known = c.app.store.read(|r| r.post_by_uri(q))?;
        let post = match known {
            Some(p) => Some(p),
            None if resolve => crate::actions::remote_post(&c.app, q).await.ok(),
            None => None,
        };
        if let Some(p) = post.filter(|_| want("statuses")) {
            ctx.prepare([&p], []);
            statuses.push(ctx.status(&p, None));
        } else if resolve && want("accounts") {
            if let Ok(a) = crate::actions::account(&c.app, q).await {
                accounts.push(ctx.account(&a.id));
            }
        }
    } else if want("statuses") && !handle {
        let found: Vec<Post> = if let Some(t) = q.strip_prefix('#') {
            timeline::tag(&c.app, Viewer::Owner, t, None)?.posts
        } else {
            let terms = crate::store::query_terms(q, 8);
            c.app.store.read(|r| r.search(&terms, None, offset + limit, &|_| true))?.0
        };
        let screener = safety::Screener::new(&c.app, "public");
        let found: Vec<&Post> = found.iter().filter(|p| screener.screen(p, None) != safety::Screen::Hide).skip(offset).take(limit).collect();
        ctx.prepare(found.iter().copied(), []);
        statuses = found.iter().map(|p| ctx.status(p, None)).collect();
    }
    ok(&json!({ "accounts": accounts, "statuses": statuses, "hashtags": hashtags }))
}

fn owner_name(c: &Call, q: &str) -> bool {
    crate::domain::oauth::is_owner_name(&c.app, q)
}

fn filter_entity(id: u64, f: &crate::model::Filter) -> Value {
    json!({
        "id": id.to_string(),
        "title": f.keyword,
        "context": f.contexts,
        "expires_at": null,
        "filter_action": f.action,
        "keywords": [{ "id": id.to_string(), "keyword": f.keyword, "whole_word": !f.keyword.contains(' ') }],
        "statuses": [],
    })
}

/// `GET /api/v2/filters`: pipit's keyword filters (one keyword each).
pub fn filters(c: &Call) -> ApiResult {
    c.user("read:filters")?;
    let all = c.app.store.read(|r| r.filters())?;
    ok(&Value::Array(all.iter().map(|(id, f)| filter_entity(*id, f)).collect()))
}

pub fn filter(c: &Call) -> ApiResult {
    c.user("read:filters")?;
    let id = c.id_seg(3)?;
    let all = c.app.store.read(|r| r.filters())?;
    let (_, f) = all.iter().find(|(i, _)| *i == id).ok_or_else(ApiError::not_found)?;
    ok(&filter_entity(id, f))
}

/// `POST /api/v2/filters`: `title`, `context[]`, `filter_action` (warn|hide),
/// `keywords_attributes[][keyword]` (the first keyword, else the title).
pub fn create_filter(c: &Call) -> ApiResult {
    c.user("write:filters")?;
    let p = &c.params;
    let keyword = p.get("keywords_attributes[0][keyword]").or(p.get("keywords_attributes[][keyword]")).or(p.get("title")).unwrap_or("").to_string();
    let contexts: Vec<String> = p.all("context").iter().map(|s| s.to_string()).collect();
    let action = p.get("filter_action").unwrap_or("warn").to_string();
    safety::add_filter(&c.app, &keyword, &action, contexts).map_err(unprocessable)?;
    let wanted = keyword.trim().to_lowercase();
    let all = c.app.store.read(|r| r.filters())?;
    let (id, f) = all.iter().filter(|(_, f)| f.keyword == wanted).max_by_key(|(id, _)| *id).ok_or_else(ApiError::not_found)?;
    ok(&filter_entity(*id, f))
}

/// `PUT /api/v2/filters/:id`: `title`, `context[]`, `filter_action`,
/// `keywords_attributes[][keyword]`; what is left out keeps its value. Answers the Filter.
pub fn update_filter(c: &Call) -> ApiResult {
    c.user("write:filters")?;
    let id = c.id_seg(3)?;
    let all = c.app.store.read(|r| r.filters())?;
    let (_, old) = all.iter().find(|(i, _)| *i == id).ok_or_else(ApiError::not_found)?;
    let p = &c.params;
    let keyword = p.get("keywords_attributes[0][keyword]").or(p.get("keywords_attributes[][keyword]")).or(p.get("title")).unwrap_or(&old.keyword).to_string();
    let contexts: Vec<String> = match p.all("context") {
        c if c.is_empty() => old.contexts.clone(),
        c => c.iter().map(|s| s.to_string()).collect(),
    };
    let action = p.get("filter_action").unwrap_or(&old.action).to_string();
    safety::update_filter(&c.app, id, &keyword, &action, contexts).map_err(unprocessable)?;
    filter(c)
}

/// `GET /api/v2/filters/:id/keywords`: a pipit filter is one keyword.
pub fn filter_keywords(c: &Call) -> ApiResult {
    c.user("read:filters")?;
    let v = filter_of(c)?;
    ok(&v["keywords"])
}

/// `GET /api/v2/filters/:id/statuses`: pipit filters words, not single posts: `[]`.
pub fn filter_statuses(c: &Call) -> ApiResult {
    c.user("read:filters")?;
    filter_of(c)?;
    ok(&json!([]))
}

fn filter_of(c: &Call) -> Result<Value, ApiError> {
    let id = c.id_seg(3)?;
    let all = c.app.store.read(|r| r.filters())?;
    let (_, f) = all.iter().find(|(i, _)| *i == id).ok_or_else(ApiError::not_found)?;
    Ok(filter_entity(id, f))
}

/// `DELETE /api/v2/filters/:id`: `{}`.
pub fn delete_filter(c: &Call) -> ApiResult {
    c.user("write:filters")?;
    let id = c.id_seg(3)?;
    if !c.app.store.read(|r| r.filters())?.iter().any(|(i, _)| *i == id) {
        return Err(ApiError::not_found());
    }
    safety::remove_filter(&c.app, id)?;
    ok(&json!({}))
}
