//! The owner's posts: publish, edit, delete. Each is one store transaction (federation adds its
//! deliveries to the same transaction).

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{Attachment, HttpUrl, Mention, Post, Visibility};
use crate::store::Write;
use crate::time::now_ms;
use crate::domain::outbox;
use crate::federation::vocab;
use crate::store::IdSpace;

pub const MAX_CHARS: usize = 5000;
pub const MAX_CW: usize = 500;
/// Attachments one post may carry (Mastodon's limit).
pub const MAX_ATTACHMENTS: usize = 4;
pub const MAX_ALT: usize = 1500;

/// One uploaded file with its description.
pub struct Upload {
    /// The file (a received upload in DATA/tmp, read as it is processed) or bytes.
    pub source: crate::domain::media::Source,
    /// Alt text (at most [`MAX_ALT`] characters).
    pub alt: String,
    /// Focal point in hundredths, −100…100 each (Mastodon's `focalPoint` × 100).
    pub focus: Option<(i16, i16)>,
}

pub struct NewPost {
    pub text: String,
    pub cw: String,
    pub visibility: Visibility,
    /// AP id or page URL of the post replied to.
    pub in_reply_to: Option<String>,
    /// Up to [`MAX_ATTACHMENTS`] images, or one video/audio file.
    pub media: Vec<Upload>,
    /// `user@host` → actor id, resolved by WebFinger before publishing (federation::fetch).
    pub resolved: Vec<(String, String)>,
    /// AP id of a stored post this one quotes.
    pub quote: Option<String>,
}

/// Poll limits (Mastodon's defaults): 2–4 options of at most 50 characters, open 5 minutes to
/// 30 days.
pub const MAX_POLL_OPTIONS: usize = 4;
pub const MAX_POLL_OPTION_CHARS: usize = 50;
pub const MIN_POLL_SECS: u64 = 300;
pub const MAX_POLL_SECS: u64 = 30 * 24 * 3600;
/// Expiry when none is given: a day.
pub const DEFAULT_POLL_SECS: u64 = 24 * 3600;

/// How a post is published, beyond what it says (issue 14). `Default` means: the settings'
/// defaults for federation and language, no poll, the configured undo window.
#[derive(Debug, Clone, Default)]
pub struct Publishing {
    /// Keep it on this site (never delivered nor served as ActivityPub). None: the setting.
    pub local_only: Option<bool>,
    /// BCP 47 tag. None: the setting's default language.
    pub language: Option<String>,
    pub poll: Option<crate::store::PollSpec>,
    /// Publishing a scheduled post: its record is removed in the same transaction (and a
    /// missing record means it was published or deleted already: `NotFound`). Not held.
    pub scheduled: Option<u64>,
}

/// Checks a poll the owner composes: 2 to [`MAX_POLL_OPTIONS`] distinct, non-blank options of
/// at most [`MAX_POLL_OPTION_CHARS`] characters, open [`MIN_POLL_SECS`] to [`MAX_POLL_SECS`].
pub fn check_poll(p: &crate::store::PollSpec) -> Result<()> {
    let options: Vec<&str> = p.options.iter().map(|o| o.trim()).collect();
    if options.len() < 2 {
        return Err(Error::BadRequest("A poll needs at least two options".into()));
    }
    if options.len() > MAX_POLL_OPTIONS {
        return Err(Error::BadRequest(format!("A poll can have at most {MAX_POLL_OPTIONS} options")));
    }
    if options.iter().any(|o| o.is_empty()) {
        return Err(Error::BadRequest("A poll option cannot be empty".into()));
    }
    if options.iter().any(|o| o.chars().count() > MAX_POLL_OPTION_CHARS) {
        return Err(Error::BadRequest(format!("A poll option can have at most {MAX_POLL_OPTION_CHARS} characters")));
    }
    if options.iter().enumerate().any(|(i, o)| options[..i].contains(o)) {
        return Err(Error::BadRequest("A poll's options must differ".into()));
    }
    if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&p.expires_secs) {
        return Err(Error::BadRequest(format!("A poll is open between {MIN_POLL_SECS} seconds (5 minutes) and {MAX_POLL_SECS} seconds (30 days)")));
    }
    Ok(())
}

/// Checks a language tag (BCP 47 shape: `en`, `pt-BR`, `zh-Hant`): letters and digits in
/// parts of 1–8 joined by `-`, starting with 2–3 letters. Returns it as given.
pub fn check_language(lang: &str) -> Result<String> {
    let lang = lang.trim();
    let mut parts = lang.split('-');
    let first = parts.next().unwrap_or_default();
    let ok = (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
        && lang.len() <= 35;
    if !ok {
        return Err(Error::BadRequest(format!("`{lang}` is not a language tag like en or pt-BR")));
    }
    Ok(lang.to_string())
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

/// Where a `@user@host` mention points: the actor WebFinger resolved it to, or None (text).
fn mention_href(app: &App, resolved: &[(String, String)], user: &str, host: &str) -> Option<String> {
    let key = format!("{}@{host}", user.to_lowercase());
    if let Some((_, actor)) = resolved.iter().find(|(k, _)| k.to_lowercase() == key) {
        return Some(actor.clone());
    }
    if host == app.urls.host {
        return (user == app.urls.username).then(|| app.urls.actor());
    }
    // Not resolved by WebFinger: plain text, never a link to a guessed address (issue 13).
    None
}

fn format(app: &App, text: &str, resolved: &[(String, String)]) -> crate::text::Formatted {
    crate::text::format(text, &app.urls, &|u, h| mention_href(app, resolved, u, h))
}

/// The `user@host` mentions in a text, for resolving before publishing.
pub fn mentioned_accounts(app: &App, text: &str) -> Vec<(String, String)> {
    // The formatter asks its resolver for every mention it finds: note them (once each), resolve none.
    let found = std::cell::RefCell::new(Vec::<(String, String)>::new());
    crate::text::format(text, &app.urls, &|u, h| {
        let mut found = found.borrow_mut();
        if h != app.urls.host && !found.iter().any(|(fu, fh)| fu == u && fh == h) {
            found.push((u.to_string(), h.to_string()));
        }
        None
    });
    found.into_inner()
}

/// Normalises a reply target: our own page URL becomes our post's AP id.
fn reply_target(app: &App, target: &str) -> Result<HttpUrl> {
    let target = target.trim();
    if let Some(id) = app.urls.local_post_id(target) {
        let post = app.store.read(|r| r.post(id))?.ok_or(Error::NotFound)?;
        return HttpUrl::parse(&post.uri).ok_or_else(|| Error::Internal(format!("{} is not an http(s) URL", post.uri)));
    }
    HttpUrl::parse(target).ok_or_else(|| Error::BadRequest("in_reply_to is not an http(s) URL".into()))
}

/// A reply mentions the author it replies to, whatever the text says: Mastodon and snac notify
/// only on a `Mention` tag whose actor is also in `to`/`cc` (vocab::addressing puts every
/// mention there). Replies to the owner's own posts need none.
fn add_reply_mention(w: &Write, app: &App, post: &mut Post) -> Result<()> {
    let Some(parent) = &post.in_reply_to else { return Ok(()) };
    let Some(pid) = w.post_id_by_uri(parent)? else { return Ok(()) };
    let Some(pp) = w.post(pid)? else { return Ok(()) };
    if pp.author == app.urls.actor() || post.mentions.iter().any(|m| m.href == pp.author) {
        return Ok(());
    }
    let name = w.actor(&pp.author)?.map(|a| a.handle()).unwrap_or_else(|| pp.author.clone());
    if let Some(href) = crate::model::HttpUrl::parse(&pp.author) {
        post.mentions.push(Mention { name, href });
    }
    Ok(())
}

/// A direct post reaches only the accounts it mentions: with none that resolved, it would go
/// out to nobody, so it is refused instead.
fn check_recipients(post: &Post, audience: &crate::model::Audience) -> Result<()> {
    if post.visibility == Visibility::Direct && audience.inboxes.is_empty() {
        return Err(Error::BadRequest(
            "A direct message needs a recipient: mention at least one account as @user@host (accounts that could not be found do not count)".into(),
        ));
    }
    Ok(())
}

/// What the reply form starts with for a reply to `parent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyDefaults {
    /// `@user@host ` for the parent's author and everyone the parent mentions, the owner left out.
    pub text: String,
    /// The parent's visibility: a reply to a direct message stays direct, to followers-only
    /// stays followers-only, as Mastodon's composer does.
    pub visibility: Visibility,
}

/// The mentions and visibility a reply to `parent` inherits (read from the actor cache).
pub fn reply_defaults(app: &App, parent: &Post) -> Result<ReplyDefaults> {
    app.store.read(|r| reply_defaults_in(app, r, parent))
}

/// `reply_defaults` in the request's read transaction `r`.
pub fn reply_defaults_in(app: &App, r: &crate::store::Read, parent: &Post) -> Result<ReplyDefaults> {
    let me = app.urls.actor();
    let mut handles: Vec<String> = Vec::new();
    {
        let mut add = |href: &str, name: &str| -> Result<()> {
            if href == me {
                return Ok(());
            }
            let handle = match r.actor(href)? {
                Some(a) if !a.preferred_username.is_empty() => a.handle(),
                // Mastodon names a mention of an account on its own server `@user`.
                _ => match (name.trim_start_matches('@').split_once('@'), crate::federation::vocab::host_of(href)) {
                    (Some(_), _) => format!("@{}", name.trim_start_matches('@')),
                    (None, Some(host)) if !name.trim_start_matches('@').is_empty() => format!("@{}@{host}", name.trim_start_matches('@')),
                    _ => return Ok(()),
                },
            };
            if !handles.iter().any(|h| h.eq_ignore_ascii_case(&handle)) {
                handles.push(handle);
            }
            Ok(())
        };
        add(&parent.author, "")?;
        for m in &parent.mentions {
            add(&m.href, &m.name)?;
        }
    }
    let text = if handles.is_empty() { String::new() } else { format!("{} ", handles.join(" ")) };
    Ok(ReplyDefaults { text, visibility: parent.visibility })
}

pub fn publish(app: &App, new: NewPost) -> Result<Post> {
    publish_with_media(app, new, Vec::new())
}

/// `publish`, with attachments saved beforehand (client API uploads, the same media pipeline)
/// first, then the post's own uploads: [`MAX_ATTACHMENTS`] at most in all.
pub fn publish_with_media(app: &App, new: NewPost, media: Vec<Attachment>) -> Result<Post> {
    publish_with(app, new, media, Publishing::default())
}

/// The one way the owner's post comes to exist: checked, stored, and (unless local-only) its
/// Create queued for delivery, or held for the undo window (`undo_window_secs`) by a `Publish`
/// job due at its end (see [`release`]).
pub fn publish_with(app: &App, new: NewPost, media: Vec<Attachment>, how: Publishing) -> Result<Post> {
    let defaults = app.store.read(|r| r.profile())?.posting;
    let local_only = how.local_only.unwrap_or(defaults.local_only && new.visibility.is_world_readable());
    if local_only && new.visibility == Visibility::Direct {
        return Err(Error::BadRequest("A direct message is sent to the people it mentions: it cannot stay on this site only".into()));
    }
    let language = match how.language.as_deref().filter(|l| !l.trim().is_empty()) {
        Some(l) => Some(check_language(l)?),
        None => defaults.language.clone(),
    };
    if let Some(p) = &how.poll {
        check_poll(p)?;
        if !new.media.is_empty() || !media.is_empty() {
            return Err(Error::BadRequest("A post has either a poll or attachments, not both".into()));
        }
    }
    if media.len() + new.media.len() > MAX_ATTACHMENTS {
        return Err(Error::BadRequest(format!("A post can have at most {MAX_ATTACHMENTS} attachments")));
    }
    check_text(&new.text, &new.cw, !new.media.is_empty() || !media.is_empty())?;
    let in_reply_to = new.in_reply_to.as_deref().filter(|s| !s.trim().is_empty()).map(|t| reply_target(app, t)).transpose()?;
    // Every check on the input before any file is written: an error after the uploads would
    // return without removing them.
    let quote = match new.quote.as_deref() {
        Some(q) => Some(HttpUrl::parse(q).ok_or_else(|| Error::BadRequest("quote is not an http(s) URL".into()))?),
        None => None,
    };
    // The uploads are journaled until the transaction storing the post references them, so a
    // crash in between leaves no orphaned files (swept at the next start).
    let pending = (!new.media.is_empty()).then(|| crate::domain::media::PendingMedia::begin(app));
    let mut attachments = media;
    attachments.extend(save_uploads_with(app, &new.media, pending.as_ref())?);
    let f = format(app, &new.text, &new.resolved);
    // The id (and so the URI) is allocated inside the write below, where it is checked free.
    let mut post = Post {
        id: 0,
        // Set with the id inside the write below.
        uri: app.urls.post_id_url(0),
        url: None,
        author: app.urls.actor(),
        local: true,
        content: f.html,
        source: new.text,
        summary: new.cw.trim().to_string(),
        visibility: new.visibility,
        in_reply_to,
        published_ms: now_ms(),
        edited_ms: None,
        tags: f.tags,
        mentions: f.mentions,
        sensitive: !new.cw.trim().is_empty(),
        attachments,
        quote,
        poll: how.poll.as_ref().map(|p| crate::model::Poll {
            options: p.options.iter().map(|o| (o.trim().to_string(), 0)).collect(),
            multiple: p.multiple,
            ends_ms: Some(now_ms() + p.expires_secs * 1000),
            closed: false,
            voted: vec![],
        }),
        language,
        emojis: Vec::new(),
        card: None,
        local_only,
        held_until_ms: None,
    };
    let window_ms = (app.config.undo_window_secs.max(0) as u64) * 1000;
    if let Some(q) = &post.quote {
        // Readers on servers that do not show quotes still see what was quoted.
        post.content.push_str(&format!("<p class=\"quote-inline\">RE: <a href=\"{0}\">{0}</a></p>", crate::text::escape(q)));
    }
    let stored = app.store.write(|w| {
        let id = w.new_id(IdSpace::Posts, post.published_ms)?;
        post.id = id;
        post.uri = app.urls.post_id_url(id);
        post.url = HttpUrl::parse(&app.urls.post_url(id));
        add_reply_mention(w, app, &mut post)?;
        let audience = outbox::post_audience(w, app, &post)?;
        check_recipients(&post, &audience)?;
        if let Some(s) = how.scheduled {
            w.take_scheduled(s)?.ok_or(Error::NotFound)?;
        }
        let hold = !post.local_only && window_ms > 0 && how.scheduled.is_none();
        if hold {
            post.held_until_ms = Some(post.published_ms + window_ms);
        }
        w.insert_post(&post)?;
        if let Some(pending) = &pending {
            pending.stored(w, &post.attachments)?;
        }
        // The owner's own posts are part of their home timeline, as on Mastodon.
        w.add_home_as(post.id, &crate::model::HomeEntry { post_id: post.id, boosted_by: None }, now_ms())?;
        if hold {
            // The timer is a queue job in redb: it survives a restart.
            w.enqueue(crate::model::JobKind::Publish { post: post.id }, post.published_ms + window_ms)?;
        } else {
            if !post.local_only {
                let create = vocab::create_json(&app.urls, &post, "Create", &format!("{}/activity", post.uri));
                outbox::send(w, app, create, audience)?;
            }
            queue_webmentions(w, app, &post)?;
            crate::federation::websub::queue(w, app, &post, &[])?;
        }
        crate::domain::polls::published(w, &post)?;
        Ok(())
    });
    if let Err(e) = stored {
        // A scheduled post's media stay with its record (kept as a draft when this fails).
        if how.scheduled.is_none() {
            remove_media_files(app, &post);
        }
        return Err(e);
    }
    Ok(post)
}

/// Checks and stores a post's uploads: at most [`MAX_ATTACHMENTS`] images, or exactly one video
/// or audio file (MP4, WebM, MP3, Ogg; passed through unchanged). On any error the files already
/// written are removed and nothing is left.
pub(crate) fn save_uploads(app: &App, media: &[Upload]) -> Result<Vec<Attachment>> {
    save_uploads_with(app, media, None)
}

/// [`save_uploads`], each file journaled in `pending` before it appears (an archive import,
/// whose posts are stored later: domain::media::PendingMedia).
pub(crate) fn save_uploads_with(app: &App, media: &[Upload], pending: Option<&crate::domain::media::PendingMedia>) -> Result<Vec<Attachment>> {
    if media.len() > MAX_ATTACHMENTS {
        return Err(Error::BadRequest(format!("A post can have at most {MAX_ATTACHMENTS} attachments")));
    }
    let mut out: Vec<Attachment> = Vec::new();
    for u in media {
        let result = (|| {
            if u.alt.chars().count() > MAX_ALT {
                return Err(Error::BadRequest(format!("Alt text: at most {MAX_ALT} characters")));
            }
            let is_av = crate::media::sniff_av(&u.source.input().head(64)?).is_some();
            if is_av && media.len() > 1 {
                return Err(Error::BadRequest("A video or audio file goes alone in a post, without other attachments".into()));
            }
            let saved = match pending {
                Some(p) => p.save(u.source.input())?,
                None => crate::domain::media::save_upload(app, u.source.input())?,
            };
            Ok(Attachment {
                url: HttpUrl::parse(&app.urls.media(&saved.file)).ok_or_else(|| Error::Internal("media URL is not http(s)".into()))?,
                media_type: saved.media_type.into(),
                alt: u.alt.trim().to_string(),
                width: saved.width,
                height: saved.height,
                blurhash: saved.blurhash,
                preview_url: saved.preview.as_deref().map(|f| app.urls.media(f)),
                focal_point: u.focus.map(|(x, y)| (x.clamp(-100, 100), y.clamp(-100, 100))),
            })
        })();
        match result {
            Ok(a) => out.push(a),
            Err(e) => {
                remove_attachment_files(app, &out);
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// The end of a post's undo window (the `Publish` job `job`): its Create, as the post is now,
/// goes to the queue and the job is done, in one transaction. A post deleted meanwhile, or
/// released already, just ends the job: nothing is sent.
pub fn release(app: &App, job: u64, id: u64) -> Result<()> {
    app.store.write(|w| {
        if let Some(mut post) = w.post(id)?.filter(|p| p.local && p.held_until_ms.is_some()) {
            post.held_until_ms = None;
            w.update_post(&post)?;
            if !post.local_only {
                let audience = outbox::post_audience(w, app, &post)?;
                let create = vocab::create_json(&app.urls, &post, "Create", &format!("{}/activity", post.uri));
                outbox::send(w, app, create, audience)?;
            }
            queue_webmentions(w, app, &post)?;
            crate::federation::websub::queue(w, app, &post, &[])?;
        }
        w.finish_job(job)
    })
}

/// Webmentions for the sites a public post links to, through the same queue, when the post goes
/// out (after its undo window, if it had one). Local-only posts send them too: they are on the
/// owner's site, which is what Webmention is about.
fn queue_webmentions(w: &mut crate::store::Write, app: &App, post: &Post) -> Result<()> {
    if post.visibility == Visibility::Public {
        let source = post.url_or_uri().to_string();
        for target in crate::federation::webmention::outgoing_links(app, &post.content) {
            w.enqueue(crate::model::JobKind::Webmention { source: source.clone(), target }, now_ms())?;
        }
    }
    Ok(())
}

/// Whole minutes (rounded up) until a held post is sent; None when it is not held.
pub fn sending_in_minutes(p: &Post, now_ms: u64) -> Option<u64> {
    p.held_until_ms.map(|t| t.saturating_sub(now_ms).div_ceil(60_000).max(1))
}

pub fn edit(app: &App, id: u64, text: String, cw: String) -> Result<Post> {
    edit_with_alt(app, id, text, cw, None)
}

/// Edits text, content warning and (when `alts` is given, one per attachment in order) the alt
/// texts; followers get one `Update`.
pub fn edit_with_alt(app: &App, id: u64, text: String, cw: String, alts: Option<Vec<String>>) -> Result<Post> {
    app.store.write(|w| {
        let mut post = w.post(id)?.filter(|p| p.local).ok_or(Error::NotFound)?;
        let before = crate::store::PostVersion {
            content: post.content.clone(),
            source: post.source.clone(),
            summary: post.summary.clone(),
            sensitive: post.sensitive,
            attachments: post.attachments.clone(),
            at_ms: post.edited_ms.unwrap_or(post.published_ms),
        };
        if let Some(alts) = &alts {
            if alts.iter().any(|a| a.chars().count() > MAX_ALT) {
                return Err(Error::BadRequest(format!("Alt text: at most {MAX_ALT} characters")));
            }
            for (a, alt) in post.attachments.iter_mut().zip(alts) {
                a.alt = alt.trim().to_string();
            }
        }
        check_text(&text, &cw, !post.attachments.is_empty())?;
        let tags_before = post.tags.clone();
        // Mentions keep what they resolved to when first posted.
        let resolved: Vec<(String, String)> = post.mentions.iter().map(|m| (m.name.trim_start_matches('@').to_string(), m.href.to_string())).collect();
        let f = format(app, &text, &resolved);
        post.content = f.html;
        post.source = text;
        post.summary = cw.trim().to_string();
        post.sensitive = !post.summary.is_empty();
        post.tags = f.tags;
        post.mentions = f.mentions;
        post.edited_ms = Some(now_ms());
        add_reply_mention(w, app, &mut post)?;
        let audience = outbox::post_audience(w, app, &post)?;
        check_recipients(&post, &audience)?;
        if post.held_until_ms.is_some() {
            // Nothing was sent yet: the Create at the window's end carries this text, and
            // there is no earlier version anyone saw.
            post.edited_ms = None;
            w.update_post(&post)?;
            return Ok(post);
        }
        w.add_post_version(post.id, now_ms(), &before)?;
        w.update_post(&post)?;
        if !post.local_only {
            let update = vocab::create_json(&app.urls, &post, "Update", &outbox::new_activity_id(app));
            outbox::send(w, app, update, audience)?;
        }
        crate::federation::websub::queue(w, app, &post, &tags_before)?;
        // Copies on connected accounts follow the edit (queued).
        crate::domain::crosspost::follow_change(w, post.id, "edit")?;
        Ok(post)
    })
}

pub fn delete(app: &App, id: u64) -> Result<Post> {
    let post = app.store.write(|w| {
        let p = w.post(id)?.filter(|p| p.local).ok_or(Error::NotFound)?;
        let audience = outbox::post_audience(w, app, &p)?;
        w.delete_post(id, now_ms())?;
        w.remove_post_versions(id)?;
        // Copies on connected accounts are deleted too (queued).
        crate::domain::crosspost::follow_change(w, id, "delete")?;
        // Held (undo window) or local-only: nobody elsewhere ever saw it, so no Delete; the
        // `Publish` job finds the post gone and sends nothing.
        if p.held_until_ms.is_none() && !p.local_only {
            let delete = vocab::delete_json(&app.urls, &p, &outbox::new_activity_id(app));
            outbox::send(w, app, delete, audience)?;
        }
        if p.held_until_ms.is_none() {
            // Its feeds served it: they change (local-only public posts are in them too).
            crate::federation::websub::queue(w, app, &p, &[])?;
        }
        Ok(p)
    })?;
    remove_media_files(app, &post);
    Ok(post)
}

fn remove_media_files(app: &App, post: &Post) {
    remove_attachment_files(app, &post.attachments);
}

pub(crate) fn remove_attachment_files(app: &App, attachments: &[Attachment]) {
    let prefix = app.urls.media("");
    for a in attachments {
        if let Some(file) = a.url.strip_prefix(&prefix) {
            crate::domain::media::remove(app, file);
        }
    }
}
