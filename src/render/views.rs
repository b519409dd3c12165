//! View structs: exactly what templates get. Built from model records plus what the page needs
//! (owner session, CSRF token). Dates come pre-formatted.

use crate::model::{HttpUrl, Post, Profile, RemoteActor};
use crate::time;
use crate::urls::Urls;
use serde::Serialize;

/// Present when the owner is logged in; forms post `csrf` back.
#[derive(Serialize, Hash, Clone)]
pub struct OwnerView {
    pub csrf: String,
    /// The composer's defaults from the settings (visibility, federate, language).
    pub posting: crate::model::PostingDefaults,
    /// Connected cross-posting accounts for the composer's "Also post to": (`user@host`,
    /// ticked by default), those needing reconnecting left out.
    pub crosspost: Vec<(String, bool)>,
}

#[derive(Serialize, Hash)]
pub struct ProfileView {
    pub display_name: String,
    pub username: String,
    pub handle: String,
    pub url: String,
    pub bio_html: String,
    pub bio: String,
    pub fields: Vec<FieldView>,
    pub avatar_url: String,
    pub header_url: Option<String>,
    pub post_count: u64,
    pub joined: String,
    /// The account this one moved to (`movedTo`, an http(s) actor id), shown as a notice.
    pub moved_to: Option<String>,
}

#[derive(Serialize, Hash)]
pub struct FieldView {
    pub name: String,
    pub value: String,
    pub value_html: String,
    /// The linked page links back with rel="me".
    pub verified: bool,
    pub is_link: bool,
}

/// Who wrote or did something: the owner or a remote account. URLs that reach an attribute are
/// `HttpUrl`s: a remote string cannot get into `href`/`src` without the http(s) check.
#[derive(Serialize, Hash, Clone)]
pub struct AuthorView {
    pub id: String,
    pub name: String,
    /// `name` as HTML: escaped, custom emoji drawn as images through the media cache.
    pub name_html: String,
    pub handle: String,
    /// Their profile page (remote: on their server).
    pub url: HttpUrl,
    pub avatar: HttpUrl,
    pub local: bool,
}

/// One of our own URLs (urls.rs, from the configured base, which config.rs checks is
/// http(s)://host) as an HttpUrl.
pub fn ours(urls: &Urls, url: String) -> HttpUrl {
    HttpUrl::parse(&url).or_else(|| HttpUrl::parse(&urls.base)).expect("the configured base URL is http(s)")
}

impl AuthorView {
    /// The owner as author. Pages call this for every card of an own post, so the last one
    /// built is kept per thread and cloned while everything it is made of (the name, avatar
    /// and the site's URL parts) is unchanged: two `HttpUrl::parse` and five `format!` less
    /// per card.
    pub fn owner(p: &Profile, urls: &Urls) -> AuthorView {
        type Made = ([String; 4], Option<String>, AuthorView);
        thread_local! { static LAST: std::cell::RefCell<Option<Made>> = const { std::cell::RefCell::new(None) }; }
        let same = |m: &Made| m.0[0] == p.display_name && m.0[1] == urls.base && m.0[2] == urls.host && m.0[3] == urls.username && m.1 == p.avatar;
        if let Some(a) = LAST.with_borrow(|last| last.as_ref().filter(|m| same(m)).map(|m| m.2.clone())) {
            return a;
        }
        let a = AuthorView::owner_new(p, urls);
        LAST.set(Some(([p.display_name.clone(), urls.base.clone(), urls.host.clone(), urls.username.clone()], p.avatar.clone(), a.clone())));
        a
    }
    fn owner_new(p: &Profile, urls: &Urls) -> AuthorView {
        AuthorView {
            id: urls.actor(),
            name: if p.display_name.is_empty() { urls.username.clone() } else { p.display_name.clone() },
            name_html: crate::text::escape(if p.display_name.is_empty() { &urls.username } else { &p.display_name }),
            handle: urls.handle(),
            url: ours(urls, urls.profile()),
            avatar: ours(urls, avatar_url(p, urls)),
            local: true,
        }
    }
    pub fn remote(a: &RemoteActor, urls: &Urls) -> AuthorView {
        AuthorView {
            id: a.id.to_string(),
            name: a.display_name().to_string(),
            name_html: crate::media::emoji::emojify_text(a.display_name(), &a.emojis, urls, &a.id),
            handle: a.handle(),
            // Only http(s) URLs (HttpUrl) reach an href; else their page here.
            url: a.url.clone().or_else(|| HttpUrl::parse(&a.id)).unwrap_or_else(|| ours(urls, format!("{}/search?q={}", urls.base, crate::server::request::percent_encode(&a.handle())))),
            // SVG is never cached or served (it can carry script): those get our default picture.
            avatar: a
                .icon
                .as_deref()
                .filter(|u| !u.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase().ends_with(".svg"))
                .map(|u| ours(urls, urls.remote_media(u, &a.id)))
                .unwrap_or_else(|| ours(urls, urls.static_file("avatar.svg"))),
            local: false,
        }
    }
    /// An account we have no document for: show its id.
    pub fn unknown(id: &str, urls: &Urls) -> AuthorView {
        let url = HttpUrl::parse(id).unwrap_or_else(|| ours(urls, format!("{}/search?q={}", urls.base, crate::server::request::percent_encode(id))));
        AuthorView { id: id.into(), name: id.into(), name_html: crate::text::escape(id), handle: id.into(), url, avatar: ours(urls, urls.static_file("avatar.svg")), local: false }
    }
}

/// Counts and who-did-what for one post, as the owner sees it.
#[derive(Serialize, Hash, Default)]
pub struct Social {
    pub likes: u64,
    pub boosts: u64,
    pub liked: bool,
    pub boosted: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    /// Direct replies stored here, counted up to 100 (the card shows "99+" past 99).
    pub replies: u64,
    /// Filled on the post's own page only.
    pub liked_by: Vec<AuthorView>,
    pub boosted_by: Vec<AuthorView>,
    /// Who reacted with what (post page only).
    pub reactions: Vec<(ReactionView, AuthorView)>,
    /// Each emoji once with its count (every card).
    pub reaction_counts: Vec<ReactionView>,
}

/// One emoji reaction as drawn: a Unicode emoji as text, a custom one (`:code:`) as its image
/// through the media cache with the code as alt text.
#[derive(Serialize, Hash, Default, Clone)]
pub struct ReactionView {
    pub emoji: String,
    pub image: Option<HttpUrl>,
    pub count: u64,
    /// The owner reacted with it.
    pub mine: bool,
}

impl ReactionView {
    /// `url`: a custom emoji's image (http(s)) and `by`, whose server sent it (the cache's owner).
    pub fn new(emoji: &str, url: Option<&str>, by: &str, urls: &Urls) -> ReactionView {
        let image = url.filter(|_| emoji.starts_with(':')).and_then(HttpUrl::parse).map(|u| ours(urls, urls.remote_media(&u, by)));
        ReactionView { emoji: emoji.to_string(), image, count: 0, mine: false }
    }
}

#[derive(Serialize, Hash)]
pub struct PostView {
    pub id: String,
    /// Its page here: the owner's posts at /@NAME/ID, others at /posts/ID.
    pub page: String,
    /// The original on its server (http(s) only).
    pub url: HttpUrl,
    pub uri: String,
    pub local: bool,
    pub content: String,
    pub source: String,
    pub summary: String,
    pub visibility: &'static str,
    pub published: String,
    pub published_iso: String,
    /// How long ago, short ("5m", "3h", "2d", "3 Nov"): the card's visible time, with
    /// `published` (the exact time) on hover; pipit.js refreshes it from `published_iso`.
    pub published_ago: String,
    pub published_rfc2822: String,
    pub edited: Option<String>,
    pub in_reply_to: Option<HttpUrl>,
    /// Who the parent is by, for "Reply to …": its author's name when the parent is stored,
    /// else the host of its URL (never the raw URL).
    pub in_reply_to_name: Option<String>,
    /// The parent's page here when it is stored (else link `in_reply_to`).
    pub in_reply_to_page: Option<String>,
    pub author_name: String,
    /// `author_name` as HTML with its custom emoji (AuthorView::name_html).
    pub author_name_html: String,
    pub author_handle: String,
    pub author_url: HttpUrl,
    pub author_avatar: HttpUrl,
    pub tags: Vec<String>,
    pub attachments: Vec<AttachmentView>,
    /// Plain-text excerpt for titles and OpenGraph.
    pub excerpt: String,
    pub social: Social,
    /// Set when this entry is a boost in a timeline.
    pub boosted_by: Option<AuthorView>,
    /// The keyword of a "warn" filter that matched: shown collapsed behind it.
    pub filtered: Option<String>,
    pub sensitive: bool,
    /// The quoted post: shown inline when we have it, else linked.
    pub quote_url: Option<HttpUrl>,
    pub quoted: Option<QuotedView>,
    pub poll: Option<PollView>,
    /// BCP 47 language of the content (`lang` on it).
    pub language: Option<String>,
    /// Hashtags in `tag` that the content does not show: a row of tag links under the post,
    /// as Mastodon's web UI shows them.
    pub hashtag_bar: Vec<TagLink>,
    /// Link preview card (title, description, image through the media cache).
    pub card: Option<CardView>,
    /// Own post kept on this site (not federated).
    pub local_only: bool,
    /// Own post in its undo window: whole minutes until it is sent.
    pub sending_in: Option<u64>,
    /// Earlier versions, oldest first (the post's own page only).
    pub versions: Vec<VersionView>,
}

/// An earlier version of an edited post.
#[derive(Serialize, Hash)]
pub struct VersionView {
    /// When this version was written (human date).
    pub at: String,
    pub at_iso: String,
    /// Sanitised HTML.
    pub content: String,
    pub summary: String,
}

#[derive(Serialize, Hash)]
pub struct TagLink {
    pub name: String,
    pub url: String,
}

#[derive(Serialize, Hash)]
pub struct CardView {
    pub url: String,
    pub title: String,
    pub description: String,
    pub image: Option<String>,
    pub host: String,
}

#[derive(Serialize, Hash)]
pub struct QuotedView {
    pub page: String,
    pub author_name: String,
    pub author_handle: String,
    pub content: String,
    pub summary: String,
}

#[derive(Serialize, Hash)]
pub struct PollView {
    pub options: Vec<PollOption>,
    pub multiple: bool,
    pub open: bool,
    pub voted: bool,
    pub total: u64,
    pub ends: Option<String>,
}

#[derive(Serialize, Hash)]
pub struct PollOption {
    pub name: String,
    pub votes: u64,
    pub percent: u64,
    pub mine: bool,
}

impl PollView {
    pub fn new(p: &crate::model::Poll) -> PollView {
        let total: u64 = p.options.iter().map(|(_, v)| v).sum();
        PollView {
            options: p.options.iter().map(|(n, v)| PollOption { name: n.clone(), votes: *v, percent: if total == 0 { 0 } else { v * 100 / total }, mine: p.voted.contains(n) }).collect(),
            multiple: p.multiple,
            open: !p.closed && p.ends_ms.map(|e| e > crate::time::now_ms()).unwrap_or(true),
            voted: !p.voted.is_empty(),
            total,
            ends: p.ends_ms.map(time::human_date),
        }
    }
}

#[derive(Serialize, Hash)]
pub struct AttachmentView {
    pub url: HttpUrl,
    pub media_type: String,
    pub alt: String,
    /// Smaller copy for timelines (own uploads).
    pub preview_url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub blurhash: Option<String>,
    /// CSS `object-position` from the focal point ("60% 25%"), so crops keep what matters.
    pub focus: Option<String>,
    /// Served from our own origin (own uploads, or remote media through the cache): safe to
    /// embed as <video>/<audio>.
    pub local: bool,
}

impl AttachmentView {
    pub fn new(a: &crate::model::Attachment, urls: &Urls) -> AttachmentView {
        AttachmentView {
            url: a.url.clone(),
            media_type: a.media_type.clone(),
            alt: a.alt.clone(),
            preview_url: a.preview_url.clone(),
            width: a.width,
            height: a.height,
            blurhash: a.blurhash.clone(),
            // Focal y points up (Mastodon); CSS percentages run down.
            focus: a.focal_point.map(|(x, y)| format!("{}% {}%", (x as i32 + 100) / 2, (100 - y as i32) / 2)),
            local: a.url.starts_with(&urls.media("")),
        }
    }
}

impl ProfileView {
    pub fn new(p: &Profile, urls: &Urls, post_count: u64) -> ProfileView {
        ProfileView {
            display_name: if p.display_name.is_empty() { urls.username.clone() } else { p.display_name.clone() },
            username: urls.username.clone(),
            handle: urls.handle(),
            url: urls.profile(),
            bio_html: crate::text::format_plain(&p.bio, urls),
            bio: p.bio.clone(),
            fields: p
                .fields
                .iter()
                .map(|f| FieldView {
                    name: f.name.clone(),
                    value: f.value.clone(),
                    // rel="me" on our side of the link, so others can verify us the same way.
                    value_html: crate::text::format(&f.value, urls, &|_, _| None)
                        .html
                        .trim_start_matches("<p>")
                        .trim_end_matches("</p>")
                        .replace("rel=\"nofollow noopener noreferrer\"", "rel=\"me nofollow noopener noreferrer\""),
                    verified: f.verified_ms.is_some(),
                    is_link: f.value.starts_with("https://") || f.value.starts_with("http://"),
                })
                .collect(),
            avatar_url: avatar_url(p, urls),
            header_url: p.header.as_ref().map(|h| urls.media(h)),
            moved_to: p.moved_to.clone().filter(|m| m.starts_with("https://") || m.starts_with("http://")),
            post_count,
            joined: time::human_date(p.created_ms),
        }
    }
}

pub fn avatar_url(p: &Profile, urls: &Urls) -> String {
    match &p.avatar {
        Some(a) => urls.media(a),
        None => urls.static_file("avatar.svg"),
    }
}

impl PostView {
    pub fn new(p: &Post, author: &AuthorView, urls: &Urls) -> PostView {
        PostView {
            id: p.id.to_string(),
            page: if p.local { p.url_or_uri().to_string() } else { format!("{}/posts/{}", urls.base, p.id) },
            // The original on its server: http(s) only, else its page here.
            url: p.url.clone().or_else(|| Some(p.uri.clone())).unwrap_or_else(|| ours(urls, format!("{}/posts/{}", urls.base, p.id))),
            uri: p.uri.to_string(),
            local: p.local,
            content: if p.emojis.is_empty() { p.content.clone() } else { crate::media::emoji::emojify(&p.content, &p.emojis, urls, &p.author) },
            source: p.source.clone(),
            summary: p.summary.clone(),
            visibility: p.visibility.as_str(),
            published: time::human_date(p.published_ms),
            published_iso: time::rfc3339(p.published_ms),
            published_ago: time::relative(p.published_ms, time::now_ms()),
            published_rfc2822: time::rfc2822(p.published_ms),
            edited: p.edited_ms.map(time::human_date),
            in_reply_to: p.in_reply_to.clone(),
            in_reply_to_name: p.in_reply_to.as_ref().map(|u| crate::federation::vocab::host_of(u).unwrap_or_else(|| "another post".into())),
            in_reply_to_page: None,
            author_name: author.name.clone(),
            author_name_html: author.name_html.clone(),
            author_handle: author.handle.clone(),
            author_url: author.url.clone(),
            author_avatar: author.avatar.clone(),
            tags: p.tags.clone(),
            attachments: p
                .attachments
                .iter()
                .map(|a| {
                    let mut v = AttachmentView::new(a, urls);
                    // Remote images, video and audio go through our cache (streamed to disk,
                    // type sniffed, Range served: federation::media_cache); with the cache off
                    // (`media_cache_mib = 0`) they are links, never embedded from elsewhere.
                    let kind = a.media_type.split('/').next().unwrap_or("");
                    if !p.local && matches!(kind, "image" | "video" | "audio") {
                        v.url = ours(urls, urls.remote_media(&a.url, &p.author));
                        v.preview_url = a.preview_url.as_deref().map(|u| urls.remote_media(u, &p.author));
                        v.local = v.url.starts_with(&format!("{}/cache/", urls.base));
                    }
                    v
                })
                .collect(),
            excerpt: excerpt(&p.source, &p.content, 140),
            social: Social::default(),
            boosted_by: None,
            filtered: None,
            sensitive: p.sensitive,
            quote_url: p.quote.clone(),
            quoted: None,
            poll: p.poll.as_ref().map(PollView::new),
            language: p.language.clone(),
            hashtag_bar: hashtag_bar(p, urls),
            card: p.card.as_ref().map(|c| CardView {
                url: c.url.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                // The page's image is keyed to the post's author in the cache (purged with them).
                image: c.image.as_deref().map(|i| urls.remote_media(i, if p.local { &c.url } else { &p.author })),
                host: crate::federation::vocab::host_of(&c.url).unwrap_or_default(),
            }),
            local_only: p.local_only,
            sending_in: p.held_until_ms.map(|t| t.saturating_sub(crate::time::now_ms()).div_ceil(60_000).max(1)),
            versions: Vec::new(),
        }
    }
}

/// Tags of a remote post that its text does not already show as `#tag`.
fn hashtag_bar(p: &Post, urls: &Urls) -> Vec<TagLink> {
    if p.local || p.tags.is_empty() {
        return vec![];
    }
    let text = strip_tags(&p.content).to_lowercase();
    let shown = |t: &str| {
        let needle = format!("#{t}");
        text.match_indices(&needle).any(|(i, _)| !text[i + needle.len()..].chars().next().map(|c| c.is_alphanumeric() || c == '_').unwrap_or(false))
    };
    p.tags.iter().filter(|t| !shown(t)).map(|t| TagLink { name: t.clone(), url: urls.tag(t) }).collect()
}

/// First `n` characters of the text, for <title> and og:description.
fn excerpt(source: &str, html: &str, n: usize) -> String {
    let text = if source.is_empty() { strip_tags(html) } else { source.to_string() };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > n {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    } else {
        one_line
    }
}

/// The text of an HTML fragment, read with the sanitizer's HTML5 parser (spaces only at block
/// boundaries, entities decoded, never script/style text).
pub fn strip_tags(html: &str) -> String {
    crate::federation::content::html_text(html).0
}
