//! The owner's relations and reading tools through the API: follow, unfollow, block, mute and
//! their undo (`POST /api/v1/accounts/:id/…`, answering a Relationship), followers/following,
//! follow requests (list, authorize, reject), lists and list timelines, followed tags,
//! bookmarks, and who favourited or boosted a post. Each calls what the web pages call.

use super::accounts::actor_of;
use super::entities::Ctx;
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::timeline::{self, Viewer};
use crate::domain::{follows, safety};
use crate::error::Error;
use crate::model::Post;
use serde_json::{json, Value};

fn idempotent(r: crate::error::Result<()>) -> Result<(), ApiError> {
    match r {
        Err(Error::NotFound) => Ok(()),
        other => Ok(other?),
    }
}

/// `POST /api/v1/accounts/:id/{follow,unfollow,block,unblock,mute,unmute}`
pub async fn relate(c: &Call, what: &str) -> ApiResult {
    let scope = match what {
        "block" | "unblock" => "write:blocks",
        "mute" | "unmute" => "write:mutes",
        _ => "write:follows",
    };
    c.user(scope)?;
    let actor = actor_of(c, c.id_seg(3)?)?;
    if actor == c.app.urls.actor() {
        return Err(ApiError::unprocessable("That is your own account"));
    }
    match what {
        "follow" => {
            // Mastodon's params; given again on a follow there already, they update it.
            let langs = c.params.all("languages");
            let update = follows::FollowUpdate {
                reblogs: c.params.flag("reblogs")?,
                notify: c.params.flag("notify")?,
                languages: if langs.is_empty() {
                    None
                } else {
                    // `languages[]=` (an empty value) clears them: every language.
                    Some(langs.iter().filter(|l| !l.trim().is_empty()).map(|l| crate::domain::posts::check_language(l)).collect::<crate::error::Result<Vec<_>>>().map_err(|_| ApiError::unprocessable("languages: not a language code"))?)
                },
            };
            let a = crate::actions::account(&c.app, &actor).await.map_err(|e| match e {
                Error::NotFound => ApiError::not_found(),
                e => e.into(),
            })?;
            follows::follow_with(&c.app, &a, &update)?;
        }
        "unfollow" => idempotent(follows::unfollow(&c.app, &actor))?,
        "block" => safety::block(&c.app, &actor)?,
        "unblock" => safety::unblock(&c.app, &actor)?,
        "mute" => {
            let secs = c.params.get("duration").and_then(|d| d.parse::<u64>().ok()).filter(|d| *d > 0);
            safety::mute(&c.app, &actor, secs)?
        }
        _ => safety::unmute(&c.app, &actor)?,
    }
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ok(&ctx.relationship(&actor))
}

/// `GET /api/v1/accounts/:id/{followers,following}`: the owner's (pipit does not keep remote
/// accounts' relations: an empty list for them). Cursor: opaque (`max_id` = an actor id).
pub fn people(c: &Call, which: &str) -> ApiResult {
    let viewer = c.viewer("read:accounts")?;
    let actor = actor_of(c, c.id_seg(3)?)?;
    let ctx = Ctx::new(&c.app, viewer)?;
    if !ctx.is_me(&actor) {
        return ok(&json!([]));
    }
    let limit = c.range(40, 80).limit;
    let after = c.params.get("max_id").filter(|s| !s.is_empty());
    let (ids, next): (Vec<String>, Option<String>) = c.app.store.read(|r| {
        Ok(if which == "followers" {
            let p = r.followers_page(after, limit)?;
            (p.items.into_iter().map(|(k, _)| k).collect(), p.next)
        } else {
            let p = r.following_page(after, limit)?;
            (p.items.into_iter().map(|(k, _)| k).collect(), p.next)
        })
    })?;
    ctx.prepare([], ids.iter().cloned());
    c.paged_next(ids.iter().map(|a| ctx.account(a)).collect(), next)
}

/// `GET /api/v1/follow_requests`
pub fn follow_requests(c: &Call) -> ApiResult {
    c.user("read:follows")?;
    let limit = c.range(40, 80).limit;
    let after = c.params.get("max_id").filter(|s| !s.is_empty());
    let page = c.app.store.read(|r| r.requests_page(after, limit))?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    let ids: Vec<String> = page.items.into_iter().map(|(k, _)| k).collect();
    ctx.prepare([], ids.iter().cloned());
    c.paged_next(ids.iter().map(|a| ctx.account(a)).collect(), page.next)
}

/// `POST /api/v1/follow_requests/:id/{authorize,reject}`: answers the Relationship.
pub fn answer_request(c: &Call, what: &str) -> ApiResult {
    c.user("write:follows")?;
    let actor = actor_of(c, c.id_seg(3)?)?;
    if what == "authorize" { follows::approve(&c.app, &actor)? } else { follows::reject(&c.app, &actor)? }
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ok(&ctx.relationship(&actor))
}

fn list_entity(id: u64, l: &crate::model::List) -> Value {
    json!({ "id": id.to_string(), "title": l.name, "replies_policy": "list", "exclusive": l.exclusive })
}

/// `GET /api/v1/lists`
pub fn lists(c: &Call) -> ApiResult {
    c.user("read:lists")?;
    let all = c.app.store.read(|r| r.lists())?;
    ok(&Value::Array(all.iter().map(|(id, l)| list_entity(*id, l)).collect()))
}

/// `GET /api/v1/lists/:id`
pub fn list(c: &Call) -> ApiResult {
    c.user("read:lists")?;
    let id = c.id_seg(3)?;
    let l = c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    ok(&list_entity(id, &l))
}

/// `GET /api/v1/timelines/list/:id` (pages with `max_id`), screened like the list page.
pub fn list_timeline(c: &Call) -> ApiResult {
    c.user("read:lists")?;
    let id = c.id_seg(4)?;
    c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    let range = c.range(20, 40);
    let (posts, next) = c.app.store.read(|r| r.list_posts(id, range.max_id, range.limit))?;
    let screener = safety::Screener::new(&c.app, "public");
    let posts: Vec<&Post> = posts.iter().filter(|p| screener.screen(p, None) != safety::Screen::Hide).collect();
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare(posts.iter().copied(), []);
    c.paged_next(posts.iter().map(|p| ctx.status(p, None)).collect(), next.map(|n| n.to_string()))
}

/// `GET /api/v1/followed_tags`
pub fn followed_tags(c: &Call) -> ApiResult {
    c.user("read:follows")?;
    let tags = c.app.store.read(|r| r.followed_tags())?;
    ok(&Value::Array(tags.iter().map(|t| json!({ "name": t, "url": c.app.urls.tag(t), "history": [], "following": true })).collect()))
}

/// `GET /api/v1/bookmarks`: most recently bookmarked first; cursor = bookmark id.
pub fn bookmarks(c: &Call) -> ApiResult {
    c.user("read:bookmarks")?;
    let range = c.range(20, 40);
    let (posts, next) = c.app.store.read(|r| r.bookmarks(range.max_id, range.limit))?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare(posts.iter(), []);
    c.paged_next(posts.iter().map(|p| ctx.status(p, None)).collect(), next.map(|n| n.to_string()))
}

/// `GET /api/v1/favourites`: the owner's liked posts, most recently liked first; cursor =
/// favourite id.
pub fn favourites(c: &Call) -> ApiResult {
    c.user("read:favourites")?;
    let range = c.range(20, 40);
    let (posts, next) = c.app.store.read(|r| r.favourites(range.max_id, range.limit))?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare(posts.iter(), []);
    c.paged_next(posts.iter().map(|p| ctx.status(p, None)).collect(), next.map(|n| n.to_string()))
}

/// `GET /api/v1/statuses/:id/{favourited_by,reblogged_by}`
pub fn interacted(c: &Call, which: &str) -> ApiResult {
    let viewer = c.viewer("read:statuses")?;
    let p = timeline::post(&c.app, viewer, c.id_seg(3)?)?;
    let kind = if which == "favourited_by" { "like" } else { "boost" };
    let who = c.app.store.read(|r| r.interactions(&p.uri, kind, 80))?;
    let ctx = Ctx::new(&c.app, viewer)?;
    ctx.prepare([], who.iter().map(|(a, _)| a.clone()));
    ok(&Value::Array(who.iter().map(|(a, _)| ctx.account(a)).collect()))
}

/// `POST /api/v1/lists` (`title`, `exclusive`; `replies_policy` is accepted and always `list`).
pub fn create_list(c: &Call) -> ApiResult {
    c.user("write:lists")?;
    let exclusive = c.params.flag("exclusive")?.unwrap_or(false);
    let id = crate::domain::lists::create(&c.app, &c.params.text("title"), exclusive, false).map_err(unprocessable)?;
    let l = c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    ok(&list_entity(id, &l))
}

/// `PUT /api/v1/lists/:id`
pub fn update_list(c: &Call) -> ApiResult {
    c.user("write:lists")?;
    let id = c.id_seg(3)?;
    let old = c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    let title = c.params.get("title").map(str::to_string).unwrap_or(old.name);
    let l = crate::domain::lists::update(&c.app, id, &title, c.params.flag("exclusive")?, None).map_err(unprocessable)?;
    ok(&list_entity(id, &l))
}

/// `DELETE /api/v1/lists/:id`: `{}`.
pub fn delete_list(c: &Call) -> ApiResult {
    c.user("write:lists")?;
    let id = c.id_seg(3)?;
    c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    crate::domain::lists::delete(&c.app, id)?;
    ok(&json!({}))
}

/// `GET /api/v1/lists/:id/accounts`
pub fn list_accounts(c: &Call) -> ApiResult {
    c.user("read:lists")?;
    let id = c.id_seg(3)?;
    c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    let members = c.app.store.read(|r| r.list_members(id, 1000))?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ctx.prepare([], members.iter().cloned());
    ok(&Value::Array(members.iter().map(|a| ctx.account(a)).collect()))
}

/// `POST|DELETE /api/v1/lists/:id/accounts` with `account_ids[]` (form, JSON, query or a
/// DELETE body): `{}`. Unknown account ids are a 404 and change nothing.
pub fn list_members(c: &Call, add: bool) -> ApiResult {
    c.user("write:lists")?;
    let id = c.id_seg(3)?;
    c.app.store.read(|r| r.list(id))?.ok_or_else(ApiError::not_found)?;
    let mut actors = Vec::new();
    for a in c.params.all("account_ids") {
        let aid: u64 = a.parse().map_err(|_| ApiError::not_found())?;
        actors.push(actor_of(c, aid)?);
    }
    if actors.is_empty() {
        return Err(ApiError::unprocessable("account_ids: give one or more account ids"));
    }
    for a in &actors {
        crate::domain::lists::set_member(&c.app, id, a, add)?;
    }
    ok(&json!({}))
}

fn unprocessable(e: Error) -> ApiError {
    match e {
        Error::BadRequest(m) => ApiError::unprocessable(m),
        e => e.into(),
    }
}
