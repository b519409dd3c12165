//! Mastodon entities (Account, Status, Notification, Relationship, MediaAttachment, Poll) built
//! from pipit's records, in this one place. Every documented key is sent; `null` only where
//! Mastodon documents it as nullable; lists are `[]`; dates are RFC 3339 with milliseconds; ids
//! are strings of digits. Reads the store only: rendering never touches the network.
//!
//! Ids: a status is its post id; a boost on the home timeline is its home entry id; an account is
//! the id the store gave its actor (`actoruri_accountid`, allocated on first sight).

use crate::app::App;
use crate::domain::timeline::Viewer;
use crate::model::{Attachment, HomeEntry, Notification, NotificationKind, Post, Profile, RemoteActor, Visibility};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// `2026-11-22T15:31:20.123Z` (Ice Cubes parses only this shape).
pub fn iso(ms: u64) -> String {
    let s = crate::time::rfc3339(ms);
    format!("{}.{:03}Z", s.trim_end_matches('Z'), ms % 1000)
}

/// Account `created_at`: Mastodon rounds it to the day.
fn day(ms: u64) -> String {
    iso(ms - ms % 86_400_000)
}

pub fn visibility(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Unlisted => "unlisted",
        Visibility::Followers => "private",
        Visibility::Direct => "direct",
    }
}

pub fn notification_type(k: &NotificationKind) -> &'static str {
    match k {
        NotificationKind::Follow => "follow",
        NotificationKind::FollowRequest => "follow_request",
        NotificationKind::Mention | NotificationKind::Reply => "mention",
        NotificationKind::Like => "favourite",
        NotificationKind::Boost => "reblog",
        NotificationKind::Reaction => "pleroma:emoji_reaction",
        NotificationKind::Quote => "quote",
        NotificationKind::Move => "move",
        NotificationKind::Status => "status",
    }
}

/// A MediaAttachment (Tusky needs a non-null `url`; unknown kinds are `unknown`).
pub fn media_entity(id: u64, a: &Attachment, remote: bool) -> Value {
    let kind = match a.media_type.split('/').next().unwrap_or("") {
        "image" if a.media_type == "image/gif" => "gifv",
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "unknown",
    };
    let mut meta = match (a.width, a.height) {
        (Some(w), Some(h)) if h > 0 => json!({ "original": { "width": w, "height": h, "size": format!("{w}x{h}"), "aspect": w as f64 / h as f64 } }),
        _ => json!({}),
    };
    if let Some((x, y)) = a.focal_point {
        meta["focus"] = json!({ "x": x as f64 / 100.0, "y": y as f64 / 100.0 });
    }
    json!({
        "id": id.to_string(),
        "type": kind,
        "url": a.url,
        "preview_url": a.preview_url.as_deref().unwrap_or(&a.url),
        "remote_url": if remote { json!(a.url) } else { Value::Null },
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": if a.alt.is_empty() { Value::Null } else { json!(a.alt) },
        "blurhash": a.blurhash,
    })
}

/// One request's rendering context: the owner's profile and the account ids seen so far.
pub struct Ctx<'a> {
    pub app: &'a App,
    /// The request's read transaction when it has one (`new_in`): every lookup goes through it.
    tx: Option<&'a crate::store::Read>,
    pub viewer: Viewer,
    pub profile: Profile,
    me: String,
    ids: RefCell<HashMap<String, u64>>,
    /// The owner's Account, built once per request (every own post shows it).
    owner: RefCell<Option<Value>>,
}

impl<'a> Ctx<'a> {
    pub fn new(app: &'a App, viewer: Viewer) -> crate::error::Result<Ctx<'a>> {
        let profile = app.store.read(|r| r.profile())?;
        Ok(Ctx { app, tx: None, viewer, profile, me: app.urls.actor(), ids: RefCell::new(HashMap::new()), owner: RefCell::new(None) })
    }

    /// `new` for a request that reads everything in one transaction `r` (issue 15): statuses
    /// and accounts built from this context read through `r` instead of opening their own.
    pub fn new_in(app: &'a App, r: &'a crate::store::Read, viewer: Viewer) -> crate::error::Result<Ctx<'a>> {
        let profile = r.profile()?;
        Ok(Ctx { app, tx: Some(r), viewer, profile, me: app.urls.actor(), ids: RefCell::new(HashMap::new()), owner: RefCell::new(None) })
    }

    /// Runs `f` in the request's transaction, or in a fresh one when the context has none.
    fn read<T>(&self, f: impl FnOnce(&crate::store::Read) -> crate::error::Result<T>) -> crate::error::Result<T> {
        match self.tx {
            Some(r) => f(r),
            None => self.app.store.read(f),
        }
    }

    /// Gives every actor these posts show an account id, in one write at most.
    pub fn prepare<'p>(&self, posts: impl IntoIterator<Item = &'p Post>, extra: impl IntoIterator<Item = String>) {
        let mut actors: Vec<String> = extra.into_iter().collect();
        for p in posts {
            actors.push(p.author.clone());
            actors.extend(p.mentions.iter().map(|m| m.href.to_string()));
            if let Some(parent) = &p.in_reply_to {
                if let Ok(Some(pp)) = self.read(|r| r.post_by_uri(parent)) {
                    actors.push(pp.author);
                }
            }
        }
        actors.push(self.me.clone());
        let missing: Vec<String> = {
            let mut ids = self.ids.borrow_mut();
            let mut missing = Vec::new();
            for a in actors {
                if ids.contains_key(&a) || missing.contains(&a) {
                    continue;
                }
                match self.read(|r| r.account_id(&a)) {
                    Ok(Some(id)) => {
                        ids.insert(a, id);
                    }
                    _ => missing.push(a),
                }
            }
            missing
        };
        if missing.is_empty() {
            return;
        }
        let got = self.app.store.write(|w| missing.iter().map(|a| Ok((a.clone(), w.ensure_account_id(a)?))).collect::<crate::error::Result<Vec<_>>>());
        if let Ok(got) = got {
            self.ids.borrow_mut().extend(got);
        }
    }

    pub fn account_id(&self, actor: &str) -> u64 {
        if let Some(id) = self.ids.borrow().get(actor) {
            return *id;
        }
        self.prepare(std::iter::empty(), [actor.to_string()]);
        self.ids.borrow().get(actor).copied().unwrap_or(0)
    }

    pub fn is_me(&self, actor: &str) -> bool {
        actor == self.me
    }

    /// The owner's Account; `source` adds what `verify_credentials` returns.
    pub fn owner_account(&self, source: bool) -> Value {
        let (u, p) = (&self.app.urls, &self.profile);
        let (followers, following, posts, last) = self
            .read(|r| {
                let last = r.own_post_ids(&crate::store::Range { limit: 1, ..Default::default() }, &mut |_| Ok(true))?.first().copied();
                Ok((r.follower_count()?, r.following_count()?, r.own_post_count()?, last))
            })
            .unwrap_or_default();
        let avatar = crate::render::views::avatar_url(p, u);
        let header = p.header.as_ref().map(|h| u.media(h)).unwrap_or_else(|| u.static_file("avatar.svg"));
        let fields: Vec<Value> = p
            .fields
            .iter()
            .map(|f| {
                let html = crate::text::format_plain(&f.value, u);
                let html = html.trim_start_matches("<p>").trim_end_matches("</p>").to_string();
                json!({ "name": f.name, "value": html, "verified_at": f.verified_ms.map(iso) })
            })
            .collect();
        let mut v = json!({
            "id": self.account_id(&self.me).to_string(),
            "username": u.username,
            "acct": u.username,
            "display_name": if p.display_name.is_empty() { u.username.clone() } else { p.display_name.clone() },
            "locked": p.approve_followers,
            "bot": false,
            "discoverable": true,
            "indexable": true,
            "group": false,
            "noindex": false,
            "created_at": day(p.created_ms),
            "note": crate::text::format_plain(&p.bio, u),
            "url": u.profile(),
            "uri": u.actor(),
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "followers_count": followers,
            "following_count": following,
            "statuses_count": posts,
            "last_status_at": last.map(|id| iso(crate::ids::id_ms(id))[..10].to_string()),
            "hide_collections": false,
            "emojis": [],
            "fields": fields,
            "roles": [],
        });
        if let Some(m) = &p.moved_to {
            let _ = m; // the new account is remote: clients show `moved` as an Account
            v["moved"] = self.account(m);
        }
        if source {
            let requests = self.read(|r| r.requests_page(None, 100).map(|p| p.items.len())).unwrap_or(0);
            v["source"] = json!({
                "privacy": "public",
                "sensitive": false,
                "language": "",
                "note": p.bio,
                "fields": p.fields.iter().map(|f| json!({ "name": f.name, "value": f.value, "verified_at": f.verified_ms.map(iso) })).collect::<Vec<_>>(),
                "follow_requests_count": requests,
                "hide_collections": false,
                "discoverable": true,
                "indexable": true,
            });
        }
        v
    }

    /// Any account by actor id: the owner, a cached remote actor, or a bare one from its id.
    pub fn account(&self, actor: &str) -> Value {
        if self.is_me(actor) {
            if let Some(v) = self.owner.borrow().as_ref() {
                return v.clone();
            }
            let v = self.owner_account(false);
            *self.owner.borrow_mut() = Some(v.clone());
            return v;
        }
        match self.read(|r| r.actor(actor)) {
            Ok(Some(a)) => self.remote_account(&a),
            _ => {
                let host = crate::federation::vocab::host_of(actor).unwrap_or_default();
                let username = actor.trim_end_matches('/').rsplit('/').next().unwrap_or("unknown").trim_start_matches('@').to_string();
                let avatar = self.app.urls.static_file("avatar.svg");
                json!({
                    "id": self.account_id(actor).to_string(), "username": username, "acct": format!("{username}@{host}"),
                    "display_name": username, "locked": false, "bot": false, "discoverable": false, "group": false,
                    "created_at": day(0), "note": "", "url": actor, "uri": actor, "avatar": avatar, "avatar_static": avatar,
                    "header": avatar, "header_static": avatar, "followers_count": 0, "following_count": 0, "statuses_count": 0,
                    "last_status_at": null, "emojis": [], "fields": [],
                })
            }
        }
    }

    fn remote_account(&self, a: &RemoteActor) -> Value {
        let placeholder = self.app.urls.static_file("avatar.svg");
        // HttpUrl: http(s) only by construction.
        let safe = |u: &Option<crate::httpurl::HttpUrl>| u.as_ref().map(|x| x.to_string());
        let avatar = safe(&a.icon).unwrap_or_else(|| placeholder.clone());
        let header = safe(&a.image).unwrap_or(placeholder);
        let mut v = json!({
            "id": self.account_id(&a.id).to_string(),
            "username": a.preferred_username,
            "acct": format!("{}@{}", a.preferred_username, a.host),
            "display_name": a.display_name(),
            "locked": a.manually_approves_followers,
            "bot": a.kind == "Service" || a.kind == "Application",
            "discoverable": false,
            "group": a.kind == "Group",
            "created_at": day(a.fetched_ms),
            "note": a.summary,
            "url": safe(&a.url).unwrap_or_else(|| a.id.to_string()),
            "uri": a.id,
            "avatar": avatar, "avatar_static": avatar,
            "header": header, "header_static": header,
            "followers_count": 0, "following_count": 0, "statuses_count": 0,
            "last_status_at": null,
            // Custom emoji of the display name and bio, drawn by clients; images through our cache.
            "emojis": a.emojis.iter().map(|e| {
                let url = self.app.urls.remote_media(&e.url, &a.id);
                json!({ "shortcode": e.shortcode, "url": url, "static_url": url, "visible_in_picker": false })
            }).collect::<Vec<_>>(),
            "fields": [],
        });
        if let Some(m) = &a.moved_to {
            if m != &a.id {
                v["moved"] = json!(null);
                if let Ok(Some(target)) = self.read(|r| r.actor(m)) {
                    v["moved"] = self.remote_account(&target);
                }
            }
        }
        v
    }

    fn attachment(&self, post: &Post, i: usize, a: &Attachment) -> Value {
        media_entity(post.id.wrapping_mul(16).wrapping_add(i as u64), a, !post.local)
    }

    /// A Status; `boost` = (home entry id, booster) wraps it as a reblog.
    pub fn status(&self, p: &Post, boost: Option<(u64, &str)>) -> Value {
        let inner = self.plain_status(p);
        match boost {
            None => inner,
            Some((entry_id, by)) => {
                let mut w = inner.clone();
                let at = crate::ids::id_ms(entry_id);
                w["id"] = json!(entry_id.to_string());
                // A boost is its Announce activity (its own uri), as on Mastodon.
                let announce = self.read(|r| r.interactions(&p.uri, "boost", 500)).unwrap_or_default().into_iter().find(|(a, _)| a == by).map(|(_, i)| i.activity_id);
                w["uri"] = json!(announce.unwrap_or_else(|| format!("{}#boost-{entry_id}", p.uri)));
                w["created_at"] = json!(iso(at));
                w["account"] = self.account(by);
                w["content"] = json!("");
                w["spoiler_text"] = json!("");
                w["in_reply_to_id"] = Value::Null;
                w["in_reply_to_account_id"] = Value::Null;
                w["media_attachments"] = json!([]);
                w["mentions"] = json!([]);
                w["tags"] = json!([]);
                w["poll"] = Value::Null;
                w["url"] = Value::Null;
                w["edited_at"] = Value::Null;
                w["reblog"] = inner;
                w
            }
        }
    }

    /// Counts, the owner's marks and reactions of `p`, in the request's transaction when it
    /// has one (its tables opened once per page), else a read of its own.
    fn facts(&self, p: &Post) -> crate::store::StatusFacts {
        let owner = self.viewer == Viewer::Owner;
        self.read(|r| r.status_facts(p, &self.me, owner)).unwrap_or_default()
    }

    fn plain_status(&self, p: &Post) -> Value {
        let owner = self.viewer == Viewer::Owner;
        let crate::store::StatusFacts { likes, boosts, replies, liked, boosted, bookmarked, pinned, reactions: reacted } = self.facts(p);
        let parent = match &p.in_reply_to {
            Some(u) => self.read(|r| r.post_by_uri(u)).unwrap_or_default(),
            None => None,
        };
        let mentions: Vec<Value> = p
            .mentions
            .iter()
            .map(|m| {
                let name = m.name.trim_start_matches('@');
                let (user, host) = name.split_once('@').unwrap_or((name, &self.app.urls.host));
                let acct = if host == self.app.urls.host { user.to_string() } else { format!("{user}@{host}") };
                json!({ "id": self.account_id(&m.href).to_string(), "username": user, "url": m.href, "acct": acct })
            })
            .collect();
        let poll = p.poll.as_ref().map(|pl| {
            let now = crate::time::now_ms();
            let votes: u64 = pl.options.iter().map(|(_, n)| n).sum();
            json!({
                "id": p.id.to_string(),
                "expires_at": pl.ends_ms.map(iso),
                "expired": pl.closed || pl.ends_ms.is_some_and(|e| e < now),
                "multiple": pl.multiple,
                "votes_count": votes,
                "voters_count": null,
                "options": pl.options.iter().map(|(t, n)| json!({ "title": t, "votes_count": n })).collect::<Vec<_>>(),
                "emojis": [],
                "voted": owner && !pl.voted.is_empty(),
                "own_votes": pl.options.iter().enumerate().filter(|(_, (t, _))| owner && pl.voted.contains(t)).map(|(i, _)| i).collect::<Vec<_>>(),
            })
        });
        let url = p.url_or_uri();
        let card = p.card.as_ref().map(|c| {
            let host = crate::federation::vocab::host_of(&c.url).unwrap_or_default();
            json!({
                "url": c.url, "title": c.title, "description": c.description, "type": "link",
                "author_name": "", "author_url": "", "provider_name": host, "provider_url": "",
                "html": "", "width": 0, "height": 0, "embed_url": "", "blurhash": null,
                // Through our cache, keyed as pages key it (render/views.rs).
                "image": c.image.as_deref().map(|i| self.app.urls.remote_media(i, if p.local { &c.url } else { &p.author })),
            })
        });
        let emojis: Vec<Value> = p
            .emojis
            .iter()
            .map(|e| {
                let url = self.app.urls.remote_media(&e.url, &p.author);
                json!({ "shortcode": e.shortcode, "url": url, "static_url": url, "visible_in_picker": false })
            })
            .collect();
        // Emoji reactions as Fedibird and Pleroma clients read them (Mastodon's announcement
        // reaction shape): counted on write (store/reactions.rs), one short range read.
        let reactions: Vec<Value> = reacted
            .into_iter()
            .map(|(e, c, mine)| {
                let mut v = json!({ "name": e.trim_matches(':'), "count": c.count, "me": mine });
                if let Some(u) = c.url.as_deref().filter(|_| e.starts_with(':')) {
                    let url = self.app.urls.remote_media(u, &c.by);
                    v["url"] = json!(url);
                    v["static_url"] = json!(url);
                } else {
                    v["name"] = json!(e);
                }
                v
            })
            .collect();
        // Built as a map with the entries moved in (issue 15): `json!` would copy every nested
        // Value (the account, the lists) through `to_value` once more. Same keys, same order.
        let mut m = Map::with_capacity(40);
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("id", Value::from(p.id.to_string()));
        put("uri", Value::from(p.uri.as_str()));
        put("url", Value::from(url));
        put("created_at", Value::from(iso(p.published_ms)));
        put("edited_at", Value::from(p.edited_ms.map(iso)));
        put("account", self.account(&p.author));
        put("content", Value::from(p.content.as_str()));
        put("visibility", Value::from(visibility(p.visibility)));
        put("sensitive", Value::from(p.sensitive || !p.summary.is_empty()));
        put("spoiler_text", Value::from(p.summary.as_str()));
        put("in_reply_to_id", Value::from(parent.as_ref().map(|pp| pp.id.to_string())));
        put("in_reply_to_account_id", Value::from(parent.as_ref().map(|pp| self.account_id(&pp.author).to_string())));
        put("language", Value::from(p.language.as_deref()));
        // glitch-soc/Hometown: kept on this server (issue 14).
        put("local_only", Value::from(p.local_only));
        put("replies_count", Value::from(replies));
        put("reblogs_count", Value::from(boosts));
        put("favourites_count", Value::from(likes));
        put("favourited", Value::from(liked));
        put("reblogged", Value::from(boosted));
        put("muted", Value::from(owner && self.read(|r| Ok(crate::domain::timeline::thread_muted_in(r, p))).unwrap_or(false)));
        put("bookmarked", Value::from(bookmarked));
        put("pinned", Value::from(pinned));
        put("filtered", Value::Array(Vec::new()));
        put("reblog", Value::Null);
        put("application", Value::Null);
        put("media_attachments", Value::Array(p.attachments.iter().enumerate().map(|(i, a)| self.attachment(p, i, a)).collect()));
        put("mentions", Value::Array(mentions));
        put("tags", Value::Array(p.tags.iter().map(|t| json!({ "name": t, "url": self.app.urls.tag(t) })).collect()));
        put("emojis", Value::Array(emojis));
        put("emoji_reactions", Value::Array(reactions.clone()));
        put("reactions", Value::Array(reactions));
        put("card", card.unwrap_or(Value::Null));
        put("poll", poll.unwrap_or(Value::Null));
        Value::Object(m)
    }

    /// A home entry: the post, or the boost wrapping it.
    pub fn home_status(&self, entry_id: u64, e: &HomeEntry, p: &Post) -> Value {
        self.status(p, e.boosted_by.as_deref().map(|b| (entry_id, b)))
    }

    pub fn notification(&self, id: u64, n: &Notification) -> Value {
        let status = n.post_uri.as_ref().and_then(|u| self.read(|r| r.post_by_uri(u)).ok().flatten()).map(|p| self.status(&p, None));
        let mut v = json!({
            "id": id.to_string(),
            "type": notification_type(&n.kind),
            "created_at": iso(n.at_ms),
            "account": self.account(&n.actor),
            "status": status,
        });
        if n.kind == NotificationKind::Reaction {
            v["emoji"] = json!(n.detail);
        }
        if n.kind == NotificationKind::Move {
            if let Some(target) = &n.detail {
                v["target"] = self.account(target);
            }
        }
        v
    }

    /// The owner's Relationship with an actor.
    pub fn relationship(&self, actor: &str) -> Value {
        let now = crate::time::now_ms();
        let host = crate::federation::vocab::host_of(actor).unwrap_or_default();
        let (options, following, requested, followed_by, requested_by, blocking, muting, domain_blocking) = self
            .read(|r| {
                let f = r.following(actor)?;
                Ok((
                    f.as_ref().map(|f| f.options.clone()),
                    matches!(&f, Some(f) if f.state == crate::model::FollowState::Accepted),
                    matches!(&f, Some(f) if f.state == crate::model::FollowState::Pending),
                    r.follower(actor)?.is_some(),
                    r.follow_request(actor)?.is_some(),
                    r.is_blocked(actor)?,
                    r.is_muted(actor, now)?,
                    r.is_domain_blocked(&host)?,
                ))
            })
            .unwrap_or_default();
        json!({
            "id": self.account_id(actor).to_string(),
            "following": following,
            // Mastodon: the follow's (or request's) options; false/null when not following.
            "showing_reblogs": options.as_ref().map(|o| o.reblogs).unwrap_or(false),
            "notifying": options.as_ref().map(|o| o.notify).unwrap_or(false),
            "languages": options.as_ref().filter(|o| !o.languages.is_empty()).map(|o| o.languages.clone()),
            "followed_by": followed_by,
            "blocking": blocking,
            "blocked_by": false,
            "muting": muting,
            "muting_notifications": muting,
            "requested": requested,
            "requested_by": requested_by,
            "domain_blocking": domain_blocking,
            "endorsed": false,
            "note": "",
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_have_milliseconds() {
        assert_eq!(super::iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(super::iso(5), "1970-01-01T00:00:00.005Z");
    }
}
