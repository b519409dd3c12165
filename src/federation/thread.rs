//! Filling in a thread when the owner looks at it: the ancestors (`inReplyTo` upward) and the
//! `replies` collections downward, replies to replies included. Bounded in fetches, depth, count
//! and time, run in the background, and at most once a minute per post.

use crate::app::App;
use crate::federation::collection;
use crate::federation::fetch::Budget;
use crate::federation::inbox::{fetch_ancestors, fetch_post};
use crate::model::Post;
use std::time::Duration;

const MAX_FETCHES: u32 = 60;
const MAX_NEW: usize = 40;
const MAX_DEPTH: usize = 3;
const MAX_PAGES: usize = 3;
const TIME_LIMIT: Duration = Duration::from_secs(30);
const AGAIN_AFTER_MS: u64 = 60_000;

pub fn refresh_in_background(app: &App, post: &Post) {
    let now = crate::time::now_ms();
    {
        let mut recent = app.thread_refresh.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() > 1000 {
            recent.retain(|_, t| now - *t < AGAIN_AFTER_MS);
        }
        if matches!(recent.get(&post.id), Some(t) if now - *t < AGAIN_AFTER_MS) {
            return;
        }
        recent.insert(post.id, now);
    }
    let (app, post) = (app.clone(), post.clone());
    tokio::spawn(async move {
        if tokio::time::timeout(TIME_LIMIT, refresh(&app, &post)).await.is_err() {
            tracing::debug!("thread refresh of {} hit its time limit", post.uri);
        }
    });
}

pub async fn refresh(app: &App, post: &Post) {
    if let Some(parent) = &post.in_reply_to {
        fetch_ancestors(app, parent).await;
    }
    let budget = Budget::new(MAX_FETCHES);
    let mut queue: Vec<(String, usize)> = vec![(post.uri.to_string(), 0)];
    let mut stored = 0;
    while let Some((uri, depth)) = queue.pop() {
        if depth >= MAX_DEPTH || stored >= MAX_NEW {
            continue;
        }
        let replies = match reply_ids(app, &uri, &budget).await {
            Ok(r) => r,
            Err(_) => continue,
        };
        for r in replies {
            if stored >= MAX_NEW {
                break;
            }
            if app.store.read(|s| s.post_id_by_uri(&r)).ok().flatten().is_none() {
                match fetch_post(app, &r, &budget).await {
                    Ok(p) if p.in_reply_to.as_deref() == Some(uri.as_str()) => {
                        if crate::domain::follows::store_remote_post(app, p).is_ok() {
                            stored += 1;
                        }
                    }
                    _ => continue,
                }
            }
            queue.push((r, depth + 1));
        }
    }
}

/// Ids in a post's `replies` collection (first pages only; federation/collection.rs).
async fn reply_ids(app: &App, uri: &str, budget: &Budget) -> crate::error::Result<Vec<String>> {
    // Our own posts: their replies came to us; look below them on the network.
    if app.urls.local_post_id(uri).is_some() {
        return Ok(app.store.read(|r| r.replies(uri, 200))?.into_iter().map(|p| p.uri.into_string()).collect());
    }
    Ok(collection::reply_ids(app, uri, MAX_PAGES, budget).await?.into_iter().map(String::from).collect())
}
