//! ActivityPub documents (actor, instance actor, outbox, followers, following, featured, notes,
//! replies/likes/shares, activities) and the inbox. Served as `application/activity+json`.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::fetch::Budget;
use crate::federation::vocab::{self, Counts};
use crate::model::{Post, Visibility};
use crate::server::request::{self, percent_decode, percent_encode};
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};

pub const AP_TYPE: &str = "application/activity+json; charset=utf-8";
const PAGE: usize = 20;

pub(crate) fn ap(v: &Value) -> Resp {
    let mut r = response::json(200, AP_TYPE, v);
    r.headers_mut().insert(hyper::header::VARY, hyper::header::HeaderValue::from_static("Accept"));
    r
}

/// In authorized-fetch mode, GETs must be signed; returns the signer when there is one.
pub(crate) async fn requester(app: &App, req: &Request<Incoming>) -> Result<Option<crate::model::RemoteActor>> {
    let signed = req.headers().contains_key("signature") || req.headers().contains_key("signature-input");
    if !signed {
        if app.config.authorized_fetch {
            return Err(Error::Unauthorized("this server requires signed fetches".into()));
        }
        return Ok(None);
    }
    let budget = Budget::new(3);
    match crate::federation::inbox::verify_request(app, req.method(), req.uri(), req.headers(), &[], &budget).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if app.config.authorized_fetch => Err(e),
        Err(_) => Ok(None),
    }
}

/// GET /users/NAME (JSON)
pub async fn actor(app: &App, _req: &Request<Incoming>) -> Result<Resp> {
    // The actor stays readable unsigned even in authorized-fetch mode: servers need its key to
    // verify our own signatures (Mastodon does the same).
    let profile = app.store.read(|r| r.profile())?;
    Ok(ap(&vocab::actor_json(&app.urls, &profile, &app.actor_keys.rsa_public_pem(), &app.actor_keys.ed25519_multibase(), profile.approve_followers)))
}

/// GET /actor
pub fn instance_actor(app: &App) -> Result<Resp> {
    Ok(ap(&vocab::instance_actor_json(&app.urls, &app.instance_keys.rsa_public_pem())))
}

fn counts(app: &App, p: &Post) -> Result<Counts> {
    app.store.read(|r| {
        Ok(Counts {
            replies: r.replies(&p.uri, 1000)?.iter().filter(|x| x.visibility.is_world_readable() && !x.local_only && x.held_until_ms.is_none()).count() as u64,
            likes: r.interaction_count(&p.uri, "like")?,
            shares: r.interaction_count(&p.uri, "boost")?,
        })
    })
}

/// A local post if `who` may read it: world-readable, a follower for followers-only, or
/// mentioned for direct posts.
async fn readable_post(app: &App, req: &Request<Incoming>, id: u64) -> Result<Post> {
    let who = requester(app, req).await?;
    let p = match app.store.read(|r| r.post(id))? {
        // Local-only posts and those still in their undo window are not ActivityPub objects
        // (issue 14): 404 to signed and unsigned fetches alike.
        Some(p) if p.local && !p.local_only && p.held_until_ms.is_none() => p,
        _ => {
            let uri = app.urls.post_uri(id);
            return Err(if app.store.read(|r| r.deleted_at(&uri))?.is_some() { Error::Gone } else { Error::NotFound });
        }
    };
    let allowed = match p.visibility {
        Visibility::Public | Visibility::Unlisted => true,
        Visibility::Followers => match &who {
            Some(a) => app.store.read(|r| r.follower(&a.id))?.is_some() || p.mentions.iter().any(|m| m.href == a.id),
            None => false,
        },
        Visibility::Direct => who.map(|a| p.mentions.iter().any(|m| m.href == a.id)).unwrap_or(false),
    };
    if allowed { Ok(p) } else { Err(Error::NotFound) }
}

/// GET /users/NAME/statuses/ID (and /@NAME/ID with an AP Accept)
pub async fn note(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    let p = readable_post(app, req, id).await?;
    Ok(ap(&vocab::note_json(&app.urls, &p, &counts(app, &p)?, true)))
}

/// GET /users/NAME/statuses/ID/activity
pub async fn note_activity(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    let p = readable_post(app, req, id).await?;
    Ok(ap(&vocab::create_json(&app.urls, &p, "Create", &format!("{}/activity", p.uri))))
}

/// GET /users/NAME/statuses/ID/replies[?page=N]: public replies, paged.
pub async fn replies(app: &App, req: &Request<Incoming>, id: u64) -> Result<Resp> {
    let p = readable_post(app, req, id).await?;
    let id_url = format!("{}/replies", p.uri);
    // Replies kept on this site (or still in their undo window) are no ActivityPub objects.
    let all: Vec<Post> = app.store.read(|r| r.replies(&p.uri, 1000))?.into_iter().filter(|x| x.visibility.is_world_readable() && !x.local_only && x.held_until_ms.is_none()).collect();
    let page: usize = match request::query(req).get("page") {
        None => {
            return Ok(ap(&json!({
                "@context": vocab::AS_CONTEXT, "id": id_url, "type": "OrderedCollection", "totalItems": all.len(),
                "first": format!("{id_url}?page=1"),
            })))
        }
        Some(n) => n.parse().unwrap_or(1).max(1),
    };
    let items: Vec<Value> = all.iter().skip((page - 1) * PAGE).take(PAGE).map(|x| json!(x.uri)).collect();
    let next = (all.len() > page * PAGE).then(|| format!("{id_url}?page={}", page + 1));
    Ok(ap(&vocab::collection_page_json(&format!("{id_url}?page={page}"), &id_url, items, next)))
}

/// GET …/likes and …/shares: counts (who did it stays private, as on Mastodon).
pub async fn interactions(app: &App, req: &Request<Incoming>, id: u64, kind: &str) -> Result<Resp> {
    let p = readable_post(app, req, id).await?;
    let c = counts(app, &p)?;
    let (suffix, n) = if kind == "like" { ("likes", c.likes) } else { ("shares", c.shares) };
    Ok(ap(&json!({ "@context": vocab::AS_CONTEXT, "id": format!("{}/{suffix}", p.uri), "type": "Collection", "totalItems": n })))
}

/// GET /users/NAME/outbox[?max_id=ID]: public and unlisted posts as Create activities, newest first.
pub async fn outbox(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    requester(app, req).await?;
    let id = format!("{}/outbox", app.urls.actor());
    let q = request::query(req);
    let before = q.get("max_id").and_then(|s| s.parse().ok());
    let paged = q.get("page").is_some() || q.get("max_id").is_some();
    // One read transaction: the count, or the page.
    let (total, page) = app.store.read(|r| {
        if !paged {
            return Ok((r.own_post_count()?, None));
        }
        // Public and unlisted, as Mastodon's outbox: unlisted only stays off public timelines.
        Ok((0, Some(r.own_posts(before, PAGE, |p| p.visibility.is_world_readable() && !p.local_only && p.held_until_ms.is_none())?)))
    })?;
    let Some(page) = page else {
        return Ok(ap(&json!({
            "@context": vocab::AS_CONTEXT, "id": id, "type": "OrderedCollection", "totalItems": total,
            "first": format!("{id}?page=true"), "last": format!("{id}?min_id=0&page=true"),
        })));
    };
    // Items inside a page carry no `@context` of their own: built without it.
    let items: Vec<Value> = page.posts.iter().map(|p| vocab::create_json_bare(&app.urls, p, "Create", &format!("{}/activity", p.uri))).collect();
    let next = page.next.map(|n| format!("{id}?max_id={n}&page=true"));
    let self_id = match before { Some(b) => format!("{id}?max_id={b}&page=true"), None => format!("{id}?page=true") };
    Ok(ap(&vocab::collection_page_json(&self_id, &id, items, next)))
}

/// GET /users/NAME/followers and /following[?page=AFTER]
pub async fn relations(app: &App, req: &Request<Incoming>, followers: bool) -> Result<Resp> {
    requester(app, req).await?;
    let name = if followers { "followers" } else { "following" };
    let id = format!("{}/{name}", app.urls.actor());
    let q = request::query(req);
    let total = app.store.read(|r| if followers { r.follower_count() } else { r.following_count() })?;
    let Some(after) = q.get("page") else {
        return Ok(ap(&vocab::collection_json(&id, total, Some(format!("{id}?page=")))));
    };
    let after = (!after.is_empty()).then(|| percent_decode(after));
    let (items, next) = app.store.read(|r| {
        Ok(if followers {
            let p = r.followers_page(after.as_deref(), PAGE)?;
            (p.items.into_iter().map(|(k, _)| json!(k)).collect::<Vec<_>>(), p.next)
        } else {
            let p = r.following_page(after.as_deref(), PAGE)?;
            let items = p.items.into_iter().filter(|(_, f)| f.state == crate::model::FollowState::Accepted).map(|(k, _)| json!(k)).collect();
            (items, p.next)
        })
    })?;
    let next = next.map(|n| format!("{id}?page={}", percent_encode(&n)));
    let self_id = format!("{id}?page={}", after.as_deref().map(percent_encode).unwrap_or_default());
    Ok(ap(&vocab::collection_page_json(&self_id, &id, items, next)))
}

/// GET /users/NAME/collections/featured and /collections/tags
pub fn featured(app: &App, what: &str) -> Result<Resp> {
    let id = format!("{}/collections/{what}", app.urls.actor());
    // GoToSocial polls `featured` (it ignores Add/Remove); featured tags are not kept yet, so
    // that collection is empty but well-formed.
    let items: Vec<Value> = if what == "featured" {
        app.store.read(|r| r.pinned(20))?.iter().filter(|p| !p.local_only && p.held_until_ms.is_none()).map(|p| vocab::note_json(&app.urls, p, &Counts { replies: 0, likes: 0, shares: 0 }, false)).collect()
    } else {
        vec![]
    };
    Ok(ap(&json!({ "@context": vocab::context(), "id": id, "type": "OrderedCollection", "totalItems": items.len(), "orderedItems": items })))
}

/// GET /users/NAME/activities/ID: activities we sent, if they were public.
pub fn activity(app: &App, id: u64) -> Result<Resp> {
    let bytes = app.store.read(|r| r.activity(id))?.ok_or(Error::NotFound)?;
    let v: Value = serde_json::from_slice(&bytes)?;
    let public = vocab::ids(v.get("to")).iter().chain(vocab::ids(v.get("cc")).iter()).any(|x| x == vocab::PUBLIC);
    if !public {
        return Err(Error::NotFound);
    }
    Ok(ap(&v))
}

/// POST /users/NAME/inbox and /inbox: 202 once verified and stored.
pub async fn inbox(app: &App, req: Request<Incoming>) -> Result<Resp> {
    // While the store cannot write (disk full), say so before any work: the sender keeps the
    // activity and retries later, so nothing is lost.
    if !app.store.available() {
        let mut r = response::error(app, &Error::Unavailable("the store cannot write".into()), true, None);
        r.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("60"));
        return Ok(r);
    }
    // Mastodon caps activities at 1 MB; so do we. A body refused here (too large, too slow) is
    // logged with its sender like every other refusal.
    let (parts, body) = req.into_parts();
    let body = request::body_of(&parts.headers, body, 1024 * 1024, std::time::Duration::from_secs(app.config.request_timeout_secs))
        .await
        .inspect_err(|e| crate::federation::inbox::log_refusal(app, &parts.method, &parts.uri, &parts.headers, None, e))?;
    crate::federation::inbox::receive(app, &parts.method, &parts.uri, &parts.headers, &body).await?;
    Ok(response::with_type(202, "application/json", "{}"))
}
