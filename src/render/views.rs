//! View structs: exactly what templates get. Built from model records plus what the page needs
//! (owner session, CSRF token). Dates come pre-formatted.

use crate::model::{Post, Profile};
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
}

#[derive(Serialize)]
pub struct FieldView {
    pub name: String,
    pub value: String,
    pub value_html: String,
}

#[derive(Serialize)]
pub struct PostView {
    pub id: String,
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
                    value_html: crate::text::format(&f.value, urls, &|_, _| None).html.trim_start_matches("<p>").trim_end_matches("</p>").to_string(),
                })
                .collect(),
            avatar_url: avatar_url(p, urls),
            header_url: p.header.as_ref().map(|h| urls.media(h)),
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
    /// For the owner's posts and (later) remote ones; `author` is the owner's profile for local posts.
    pub fn new(p: &Post, owner: &Profile, urls: &Urls) -> PostView {
        let display = if owner.display_name.is_empty() { urls.username.clone() } else { owner.display_name.clone() };
        PostView {
            id: p.id.to_string(),
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
            author_name: display,
            author_handle: urls.handle(),
            author_url: urls.profile(),
            author_avatar: avatar_url(owner, urls),
            tags: p.tags.clone(),
            attachments: p
                .attachments
                .iter()
                .map(|a| AttachmentView { url: a.url.clone(), media_type: a.media_type.clone(), alt: a.alt.clone() })
                .collect(),
            excerpt: excerpt(&p.source, &p.content, 140),
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
