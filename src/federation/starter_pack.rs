//! Starter packs (issue 14): a public list served as an ActivityPub `OrderedCollection` of its
//! members' actor ids, and the reading side: another server's pack fetched with the usual
//! origin rules (the document's id is the URL it came from; later pages only from its host),
//! members kept only as http(s) URLs, at most [`MAX_MEMBERS`].

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::fetch::{self, Budget};
use crate::federation::vocab::{self, id_of};
use crate::model::HttpUrl;
use crate::urls::Urls;
use serde_json::{json, Value};

/// Most members a pack is read with (Bluesky caps its packs at 150).
pub const MAX_MEMBERS: usize = 500;

/// The collection document of the owner's public list `id` (`members`: actor ids).
pub fn collection_json(urls: &Urls, id: u64, name: &str, members: &[String]) -> Value {
    let url = format!("{}/lists/{id}", urls.base);
    json!({
        "@context": vocab::AS_CONTEXT,
        "id": url,
        "type": "OrderedCollection",
        "name": name,
        "summary": format!("A starter pack by {}", urls.handle()),
        "attributedTo": urls.actor(),
        "url": url,
        "totalItems": members.len(),
        "orderedItems": members,
    })
}

/// A pack read from another server.
#[derive(Debug, Clone)]
pub struct RemotePack {
    /// The collection id (the URL it was fetched from, or its canonical id on the same host).
    pub id: HttpUrl,
    pub name: String,
    /// Who made it (`attributedTo`), when it names an http(s) actor on the pack's host.
    pub by: Option<HttpUrl>,
    /// Members' actor ids, in the pack's order, without duplicates.
    pub members: Vec<HttpUrl>,
}

/// Fetches and reads a pack. `BadRequest` when the document is not an (Ordered)Collection or
/// has no usable member; other errors as `fetch::get_object`.
pub async fn read(app: &App, url: &str) -> Result<RemotePack> {
    let budget = Budget::new(4);
    let doc = fetch::get_object(app, url, &budget).await?;
    if !(vocab::has_type(&doc, "OrderedCollection") || vocab::has_type(&doc, "Collection")) {
        return Err(Error::BadRequest(format!("{url} is not a collection")));
    }
    let id = vocab::str_of(&doc, "id").and_then(HttpUrl::parse).ok_or_else(|| Error::BadRequest(format!("{url}: no usable id")))?;
    let mut members: Vec<HttpUrl> = Vec::new();
    let mut page = Some(doc.clone());
    for _ in 0..4 {
        let Some(p) = page.take() else { break };
        for item in vocab::one_or_many(p.get("orderedItems")).into_iter().chain(vocab::one_or_many(p.get("items"))) {
            if let Some(m) = id_of(item).and_then(HttpUrl::parse) {
                if !members.contains(&m) && members.len() < MAX_MEMBERS {
                    members.push(m);
                }
            }
        }
        let next = p.get("first").filter(|_| members.is_empty()).or(p.get("next")).and_then(|n| match n {
            Value::String(u) => Some(Value::String(u.clone())),
            v @ Value::Object(_) => Some(v.clone()),
            _ => None,
        });
        page = match next {
            Some(Value::String(u)) if vocab::same_origin(&u, &id) => fetch::get_object(app, &u, &budget).await.ok(),
            Some(v @ Value::Object(_)) => Some(v),
            _ => None,
        };
    }
    if members.is_empty() {
        return Err(Error::BadRequest(format!("{url}: a collection without members")));
    }
    let name = vocab::str_of(&doc, "name").map(|s| s.chars().take(100).collect()).unwrap_or_else(|| "Starter pack".to_string());
    let by = doc.get("attributedTo").and_then(id_of).and_then(HttpUrl::parse).filter(|a| vocab::same_origin(a, &id));
    Ok(RemotePack { id, name, by, members })
}

/// Fetches (into the actor cache) up to `max` members and the author not cached yet, so the
/// pack's page shows names and handles; failures leave a member shown by its URL.
pub async fn cache_accounts(app: &App, pack: &RemotePack, max: u32) {
    let budget = Budget::new(max);
    for a in pack.by.iter().chain(pack.members.iter()) {
        if app.store.read(|r| r.actor(a)).ok().flatten().is_some() || *a == app.urls.actor() {
            continue;
        }
        if let Err(e) = fetch::actor(app, a, false, &budget).await {
            tracing::debug!("starter pack {}: {a}: {e}", pack.id);
            if matches!(&e, Error::BadRequest(m) if m.contains("budget")) {
                break;
            }
        }
    }
}
