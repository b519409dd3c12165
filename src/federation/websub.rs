//! WebSub publishing (W3C WebSub §7, and the PubSubHubbub 0.3/0.4 publish convention every hub
//! takes): when one of the owner's public posts goes out, is edited or is deleted, the hub named
//! by `websub_hub` gets `POST hub.mode=publish&hub.url=TOPIC…` for each feed that changed (the
//! profile's RSS and Atom feeds, and `/tags/NAME.rss|atom` for the post's hashtags), so
//! subscribers fetch them at once instead of polling. One queued job (`JobKind::WebSub`) per
//! post change carries all its topics in one request (`hub.url` repeated, as PubSubHubbub 0.3
//! §7.1 allows) and is retried on the delivery schedule.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{JobKind, Post, Visibility};
use crate::store::Write;

/// The feed URLs a change to `post` touches: none unless it is public (the feeds carry public
/// posts only, local-only ones included); else the profile's RSS and Atom feeds and both feeds
/// of each hashtag in `post` or in `tags_before` (a tag an edit removed changes that feed too).
pub fn topics(app: &App, post: &Post, tags_before: &[String]) -> Vec<String> {
    if post.visibility != Visibility::Public || !post.local {
        return Vec::new();
    }
    let mut out = vec![app.urls.rss(), app.urls.atom()];
    for t in post.tags.iter().chain(tags_before) {
        let t = t.to_lowercase();
        for ext in ["rss", "atom"] {
            // As the feed's own `rel="self"` link spells it: the topic subscribers know.
            let u = format!("{}.{ext}", app.urls.tag(&t));
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}

/// Queues the hub ping for a change to `post` in the caller's transaction. Nothing when no hub
/// is configured or the post is not public.
pub fn queue(w: &mut Write, app: &App, post: &Post, tags_before: &[String]) -> Result<()> {
    if app.config.websub_hub.is_none() {
        return Ok(());
    }
    let topics = topics(app, post, tags_before);
    if !topics.is_empty() {
        w.enqueue(JobKind::WebSub { topics }, crate::time::now_ms())?;
    }
    Ok(())
}

/// The form body of a publish ping: `hub.mode=publish` and one `hub.url` per topic.
pub fn body(topics: &[String]) -> String {
    let mut b = String::from("hub.mode=publish");
    for t in topics {
        b.push_str("&hub.url=");
        b.push_str(&crate::server::request::percent_encode(t));
    }
    b
}

/// One queued ping: a 2xx from the hub ends the job; anything else (an error, a 5xx, a 4xx: hubs
/// answer 4xx for a topic they have not seen yet too) is retried on the delivery schedule and
/// kept as a dead letter after `delivery_max_attempts`. A hub removed from the config since
/// ends the job.
pub async fn ping_job(app: &App, job: &crate::model::Job, topics: &[String]) {
    let result = async {
        let Some(hub) = app.config.websub_hub.as_deref() else { return Ok(()) };
        let r = app
            .http
            .send(hyper::Method::POST, hub, &[("content-type", "application/x-www-form-urlencoded".to_string())], Some(hyper::body::Bytes::from(body(topics))), &|_| {})
            .await?;
        if r.status.is_success() {
            Ok(())
        } else {
            Err(Error::BadRequest(format!("hub answered HTTP {}", r.status.as_u16())))
        }
    }
    .await;
    let recorded = match result {
        Ok(()) => app.store.write(|w| w.finish_job(job.id)),
        Err(e) if job.attempts + 1 >= app.config.delivery_max_attempts => app.store.write(|w| w.kill_job(job.id, &format!("WebSub ping: {e}"))),
        Err(e) => app.store.write(|w| w.retry_job(job.id, crate::time::now_ms() + crate::federation::deliver::backoff_ms(app, job.attempts + 1), &format!("WebSub ping: {e}"), true)),
    };
    if let Err(e) = recorded {
        tracing::warn!("WebSub job {}: {e}", job.id);
    }
}
