//! View structs: exactly what templates get. Built from model records plus what the page needs
//! (owner session, CSRF token). Dates come pre-formatted.

use crate::model::{Post, Profile, RemoteActor};
use crate::time;
use crate::urls::Urls;
use serde::Serialize;

/// Present when the owner is logged in; forms post `csrf` back.
#[derive(Serialize, Clone)]
pub struct OwnerView {
    pub csrf: String,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct FieldView {
    pub name: String,
    pub value: String,
    pub value_html: String,
    /// The linked page links back with rel="me".
    pub verified: bool,
    pub is_link: bool,
}

/// Who wrote or did something: the owner or a remote account.
#[derive(Serialize, Clone)]
pub struct AuthorView {
    pub id: String,
    pub name: String,
    pub handle: String,
    /// Their profile page (remote: on their server).
    pub url: String,
    pub avatar: String,
    pub local: bool,
}

impl AuthorView {
    pub fn owner(p: &Profile, urls: &Urls) -> AuthorView {
        AuthorView {
            id: urls.actor(),
            name: if p.display_name.is_empty() { urls.username.clone() } else { p.display_name.clone() },
            handle: urls.handle(),
            url: urls.profile(),
            avatar: avatar_url(p, urls),
            local: true,
        }
    }
    pub fn remote(a: &RemoteActor, urls: &Urls) -> AuthorView {
        AuthorView {
            id: a.id.clone(),
            name: a.display_name().to_string(),
            handle: a.handle(),
            url: a.url.clone().unwrap_or_else(|| a.id.clone()),
            avatar: a.icon.clone().unwrap_or_else(|| urls.static_file("avatar.svg")),
            local: false,
        }
    }
    /// An account we have no document for: show its id.
    pub fn unknown(id: &str, urls: &Urls) -> AuthorView {
        AuthorView { id: id.into(), name: id.into(), handle: id.into(), url: id.into(), avatar: urls.static_file("avatar.svg"), local: false }
    }
}

/// Counts and who-did-what for one post, as the owner sees it.
#[derive(Serialize, Default)]
pub struct Social {
    pub likes: u64,
    pub boosts: u64,
    pub liked: bool,
    pub boosted: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    /// Filled on the post's own page only.
    pub liked_by: Vec<AuthorView>,
    pub boosted_by: Vec<AuthorView>,
    pub reactions: Vec<(String, AuthorView)>,
}

#[derive(Serialize)]
pub struct PostView {
    pub id: String,
    /// Its page here: the owner's posts at /@NAME/ID, others at /posts/ID.
    pub page: String,
    pub url: String,
    pub uri: String,
    pub local: bool,
    pub content: String,
    pub source: String,
    pub summary: String,
    pub visibility: &'static str,
    pub published: String,
    pub published_iso: String,
    pub published_rfc2822: String,
    pub edited: Option<String>,
    pub in_reply_to: Option<String>,
    pub author_name: String,
    pub author_handle: String,
    pub author_url: String,
    pub author_avatar: String,
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
    pub quote_url: Option<String>,
    pub quoted: Option<QuotedView>,
    pub poll: Option<PollView>,
}

#[derive(Serialize)]
pub struct QuotedView {
    pub page: String,
    pub author_name: String,
    pub author_handle: String,
    pub content: String,
    pub summary: String,
}

#[derive(Serialize)]
pub struct PollView {
    pub options: Vec<PollOption>,
    pub multiple: bool,
    pub open: bool,
    pub voted: bool,
    pub total: u64,
    pub ends: Option<String>,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct AttachmentView {
    pub url: String,
    pub media_type: String,
    pub alt: String,
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
            page: if p.local { p.url.clone() } else { format!("{}/posts/{}", urls.base, p.id) },
            url: p.url.clone(),
            uri: p.uri.clone(),
            local: p.local,
            content: p.content.clone(),
            source: p.source.clone(),
            summary: p.summary.clone(),
            visibility: p.visibility.as_str(),
            published: time::human_date(p.published_ms),
            published_iso: time::rfc3339(p.published_ms),
            published_rfc2822: time::rfc2822(p.published_ms),
            edited: p.edited_ms.map(time::human_date),
            in_reply_to: p.in_reply_to.clone(),
            author_name: author.name.clone(),
            author_handle: author.handle.clone(),
            author_url: author.url.clone(),
            author_avatar: author.avatar.clone(),
            tags: p.tags.clone(),
            attachments: p
                .attachments
                .iter()
                .map(|a| AttachmentView { url: a.url.clone(), media_type: a.media_type.clone(), alt: a.alt.clone() })
                .collect(),
            excerpt: excerpt(&p.source, &p.content, 140),
            social: Social::default(),
            boosted_by: None,
            filtered: None,
            sensitive: p.sensitive,
            quote_url: p.quote.clone(),
            quoted: None,
            poll: p.poll.as_ref().map(PollView::new),
        }
    }
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

pub fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
}
