//! The owner's posts: publish, edit, delete. Each is one store transaction (federation adds its
//! deliveries to the same transaction).

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{Attachment, Post, Visibility};
use crate::time::now_ms;
use crate::domain::outbox;
use crate::federation::vocab;

pub const MAX_CHARS: usize = 5000;
pub const MAX_CW: usize = 500;

pub struct NewPost {
    pub text: String,
    pub cw: String,
    pub visibility: Visibility,
    /// AP id or page URL of the post replied to.
    pub in_reply_to: Option<String>,
    /// (bytes, alt text)
    pub image: Option<(Vec<u8>, String)>,
    /// `user@host` → actor id, resolved by WebFinger before publishing (federation::fetch).
    pub resolved: Vec<(String, String)>,
    /// AP id of a stored post this one quotes.
    pub quote: Option<String>,
}

fn check_text(text: &str, cw: &str, has_media: bool) -> Result<()> {
    if text.trim().is_empty() && !has_media {
        return Err(Error::BadRequest("A post needs some text or an image".into()));
    }
    if text.chars().count() > MAX_CHARS {
        return Err(Error::BadRequest(format!("A post can have at most {MAX_CHARS} characters")));
    }
    if cw.chars().count() > MAX_CW {
        return Err(Error::BadRequest(format!("A content warning can have at most {MAX_CW} characters")));
    }
    Ok(())
}

/// Where a `@user@host` mention points until federation resolves it through WebFinger.
fn mention_href(app: &App, resolved: &[(String, String)], user: &str, host: &str) -> Option<String> {
    let key = format!("{}@{host}", user.to_lowercase());
    if let Some((_, actor)) = resolved.iter().find(|(k, _)| k.to_lowercase() == key) {
        return Some(actor.clone());
    }
    if host == app.urls.host {
        return (user == app.urls.username).then(|| app.urls.actor());
    }
    // A host with a port or an IP literal is a test or LAN peer: keep our own scheme for it.
    let scheme = if host.contains(':') || host.parse::<std::net::IpAddr>().is_ok() { app.urls.scheme.as_str() } else { "https" };
    Some(format!("{scheme}://{host}/@{user}"))
}

fn format(app: &App, text: &str, resolved: &[(String, String)]) -> crate::text::Formatted {
    crate::text::format(text, &app.urls, &|u, h| mention_href(app, resolved, u, h))
}

/// The `user@host` mentions in a text, for resolving before publishing.
pub fn mentioned_accounts(app: &App, text: &str) -> Vec<(String, String)> {
    let f = crate::text::format(text, &app.urls, &|u, h| Some(format!("{u}@{h}")));
    f.mentions.into_iter().filter(|m| !m.href.ends_with(&format!("@{}", app.urls.host))).map(|m| {
        let (u, h) = m.href.split_once('@').unwrap_or(("", ""));
        (u.to_string(), h.to_string())
    }).collect()
}

/// Normalises a reply target: our own page URL becomes our post's AP id.
fn reply_target(app: &App, target: &str) -> Result<String> {
    let target = target.trim();
    if let Some(id) = app.urls.local_post_id(target) {
        let post = app.store.read(|r| r.post(id))?.ok_or(Error::NotFound)?;
        return Ok(post.uri);
    }
    let uri: hyper::Uri = target.parse().map_err(|_| Error::BadRequest("in_reply_to is not a URL".into()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(Error::BadRequest("in_reply_to is not an http(s) URL".into()));
    }
    Ok(target.to_string())
}

pub fn publish(app: &App, new: NewPost) -> Result<Post> {
    publish_with_media(app, new, Vec::new())
}

/// Most attachments one post may carry (images uploaded beforehand through the client API).
pub const MAX_MEDIA: usize = 4;

/// `publish`, with images that were saved beforehand (client API uploads) attached first.
pub fn publish_with_media(app: &App, new: NewPost, media: Vec<Attachment>) -> Result<Post> {
    if media.len() + new.image.is_some() as usize > MAX_MEDIA {
        return Err(Error::BadRequest(format!("A post can have at most {MAX_MEDIA} images")));
    }
    check_text(&new.text, &new.cw, new.image.is_some() || !media.is_empty())?;
    let in_reply_to = new.in_reply_to.as_deref().filter(|s| !s.trim().is_empty()).map(|t| reply_target(app, t)).transpose()?;
    let mut attachments = media;
    if let Some((bytes, alt)) = &new.image {
        if alt.chars().count() > 1500 {
            return Err(Error::BadRequest("Alt text: at most 1500 characters".into()));
        }
        let saved = crate::domain::media::save_image(app, bytes)?;
        attachments.push(Attachment {
            url: app.urls.media(&saved.file),
            media_type: saved.media_type.into(),
            alt: alt.trim().to_string(),
            width: saved.width,
            height: saved.height,
        });
    }
    let f = format(app, &new.text, &new.resolved);
    let id = crate::ids::next_id();
    let mut post = Post {
        id,
        uri: app.urls.post_uri(id),
        url: app.urls.post_url(id),
        author: app.urls.actor(),
        local: true,
        content: f.html,
        source: new.text,
        summary: new.cw.trim().to_string(),
        visibility: new.visibility,
        in_reply_to,
        published_ms: crate::ids::id_ms(id),
        edited_ms: None,
        tags: f.tags,
        mentions: f.mentions,
        sensitive: !new.cw.trim().is_empty(),
        attachments,
        quote: new.quote.clone(),
        poll: None,
    };
    if let Some(q) = &post.quote {
        // Readers on servers that do not show quotes still see what was quoted.
        post.content.push_str(&format!("<p class=\"quote-inline\">RE: <a href=\"{0}\">{0}</a></p>", crate::text::escape(q)));
    }
    let stored = app.store.write(|w| {
        w.put_post(&post)?;
        // The owner's own posts are part of their home timeline, as on Mastodon.
        w.add_home_as(post.id, &crate::model::HomeEntry { post_id: post.id, boosted_by: None }, now_ms())?;
        let audience = outbox::post_audience(w, app, &post)?;
        let create = vocab::create_json(&app.urls, &post, "Create", &format!("{}/activity", post.uri));
        outbox::send(w, app, create, audience)?;
        Ok(())
    });
    if let Err(e) = stored {
        remove_media_files(app, &post);
        return Err(e);
    }
    Ok(post)
}

pub fn edit(app: &App, id: u64, text: String, cw: String) -> Result<Post> {
    app.store.write(|w| {
        let mut post = w.post(id)?.filter(|p| p.local).ok_or(Error::NotFound)?;
        check_text(&text, &cw, !post.attachments.is_empty())?;
        // Mentions keep what they resolved to when first posted.
        let resolved: Vec<(String, String)> = post.mentions.iter().map(|m| (m.name.trim_start_matches('@').to_string(), m.href.clone())).collect();
        let f = format(app, &text, &resolved);
        post.content = f.html;
        post.source = text;
        post.summary = cw.trim().to_string();
        post.sensitive = !post.summary.is_empty();
        post.tags = f.tags;
        post.mentions = f.mentions;
        post.edited_ms = Some(now_ms());
        w.put_post(&post)?;
        let audience = outbox::post_audience(w, app, &post)?;
        let update = vocab::create_json(&app.urls, &post, "Update", &outbox::new_activity_id(app));
        outbox::send(w, app, update, audience)?;
        Ok(post)
    })
}

pub fn delete(app: &App, id: u64) -> Result<Post> {
    let post = app.store.write(|w| {
        let p = w.post(id)?.filter(|p| p.local).ok_or(Error::NotFound)?;
        let audience = outbox::post_audience(w, app, &p)?;
        w.delete_post(id, now_ms())?;
        let delete = vocab::delete_json(&app.urls, &p, &outbox::new_activity_id(app));
        outbox::send(w, app, delete, audience)?;
        Ok(p)
    })?;
    remove_media_files(app, &post);
    Ok(post)
}

fn remove_media_files(app: &App, post: &Post) {
    let prefix = app.urls.media("");
    for a in &post.attachments {
        if let Some(file) = a.url.strip_prefix(&prefix) {
            if crate::domain::media::valid_name(file) {
                let _ = std::fs::remove_file(app.media_dir().join(file));
            }
        }
    }
}
