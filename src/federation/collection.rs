//! Reading remote collections (an account's outbox, a post's `replies`) with the inbox's origin
//! rules (issue 9): pages only from the collection owner's host, outbox items only when they are
//! the account's own posts (federation/activity.rs `own_object`), reply ids only as http(s)
//! URLs. Callers get typed posts and URLs, never the collection's JSON.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::activity::{own_object, Object};
use crate::federation::fetch::{self, Budget};
use crate::federation::vocab::{self, id_of};
use crate::model::{HttpUrl, Post, RemoteActor};
use serde_json::Value;

/// The items of an (Ordered)Collection, from its head `start` (embedded, or a URL fetched from
/// `origin`'s host) and the pages after it (`first`, then `next`), each page fetched only from
/// `origin`'s host: at most `max_pages` documents (the head counts) and `max_items` items.
/// A head on another host is a `BadRequest`; a later page that fails or is on another host ends
/// the walk with the items read so far.
async fn items(app: &App, start: &Value, origin: &str, max_pages: usize, max_items: usize, budget: &Budget) -> Result<Vec<Value>> {
    let fetch_page = |u: &str| {
        let u = u.to_string();
        async move {
            if HttpUrl::parse(&u).is_none() || !vocab::same_origin(&u, origin) {
                return Err(Error::BadRequest(format!("collection page {u} is not on the host of {origin}")));
            }
            fetch::get_object(app, &u, budget).await
        }
    };
    let mut page = Some(match start {
        Value::String(u) => fetch_page(u).await?,
        v => v.clone(),
    });
    let mut out = Vec::new();
    for _ in 0..max_pages {
        let Some(p) = page.take() else { break };
        out.extend(vocab::one_or_many(p.get("orderedItems")).into_iter().chain(vocab::one_or_many(p.get("items"))).cloned());
        if out.len() >= max_items {
            out.truncate(max_items);
            break;
        }
        let next = p.get("first").filter(|_| out.is_empty()).or(p.get("next"));
        page = match next {
            // A later page that fails (or is on another host) ends the walk with what we have.
            Some(Value::String(u)) => match fetch_page(u).await {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::debug!("collection of {origin}: {e}");
                    None
                }
            },
            Some(v @ Value::Object(_)) => Some(v.clone()),
            _ => None,
        };
    }
    Ok(out)
}

/// The account's recent posts from its outbox (its head and first page, at most `max`): only
/// Creates by the account embedding a post that is its own (id on its host, attributed to it).
/// Another author's post, a post whose id is on another host and every non-http(s) URL are left
/// out, as in the inbox.
pub async fn outbox_posts(app: &App, account: &RemoteActor, max: usize, budget: &Budget) -> Result<Vec<Post>> {
    let Some(outbox) = &account.outbox else { return Ok(vec![]) };
    let me = app.urls.actor();
    let mut posts = Vec::new();
    for item in items(app, &Value::String(outbox.to_string()), &account.id, 2, max, budget).await? {
        if !vocab::has_type(&item, "Create") || item.get("actor").and_then(id_of).is_some_and(|a| a != account.id.as_str()) {
            continue;
        }
        let Some(obj) = item.get("object").filter(|o| o.is_object()) else { continue };
        if let Ok(Object::Post { post, .. }) = own_object(obj, account, &me) {
            posts.push(*post);
        }
    }
    Ok(posts)
}

/// Ids in a remote post's `replies` collection (at most `max_pages` documents, pages on the
/// post's host), http(s) only. Each is still to be fetched from its own origin (fetch_post).
pub async fn reply_ids(app: &App, post_uri: &str, max_pages: usize, budget: &Budget) -> Result<Vec<HttpUrl>> {
    let doc = fetch::get_object(app, post_uri, budget).await?;
    let Some(replies) = doc.get("replies") else { return Ok(vec![]) };
    Ok(items(app, replies, post_uri, max_pages, usize::MAX, budget).await?.iter().filter_map(id_of).filter_map(HttpUrl::parse).collect())
}
