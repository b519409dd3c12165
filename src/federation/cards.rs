//! Link preview cards: the OpenGraph data (title, description, image) of the first link in a
//! post, fetched once through the SSRF-guarded client after the post is stored, and kept in the
//! post (`Post.card`). Pages draw it; its image goes through the remote media cache.
//! Mentions and hashtags are not links for this purpose (Mastodon's rule). A page without
//! OpenGraph may name an oEmbed JSON endpoint; that is tried before the plain `<title>`.

use crate::app::App;
use crate::model::Card;

/// Largest page read for its `<head>` (bytes).
const MAX_PAGE: usize = 2 * 1024 * 1024;

/// The first http(s) link of sanitised post HTML that is not a mention or hashtag.
pub fn first_link(html: &str) -> Option<String> {
    let mut rest = html;
    while let Some(i) = rest.find("<a ") {
        let tag_end = rest[i..].find('>').map(|e| i + e)?;
        let tag = &rest[i..tag_end];
        let text_end = rest[tag_end..].find("</a>").map(|e| tag_end + e).unwrap_or(tag_end);
        let text = crate::render::views::strip_tags(&rest[tag_end + 1..text_end.max(tag_end + 1)]);
        let attrs = attributes(tag);
        let class = attrs.iter().find(|(k, _)| k == "class").map(|(_, v)| v.as_str()).unwrap_or("");
        let rel = attrs.iter().find(|(k, _)| k == "rel").map(|(_, v)| v.as_str()).unwrap_or("");
        let is_tag = class.contains("mention") || class.contains("hashtag") || rel.contains("tag") || text.starts_with('#') || text.starts_with('@');
        if let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href") {
            if !is_tag && (href.starts_with("https://") || href.starts_with("http://")) {
                return Some(href.clone());
            }
        }
        rest = &rest[tag_end..];
    }
    None
}

/// `name="value"` pairs of one start tag (names lower-cased, values entity-decoded).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = tag.as_bytes();
    let mut i = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ns = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'>' {
            i += 1;
        }
        let name = tag[ns..i].to_ascii_lowercase();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = tag[vs..].find(q as char).map(|e| vs + e).unwrap_or(tag.len());
                value = decode_entities(&tag[vs..ve]);
                i = (ve + 1).min(b.len());
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&tag[vs..i]);
            }
        }
        out.push((name, value));
    }
    out
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let c = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// OpenGraph (`og:title`, `og:description`, `og:image`), falling back to `<title>` and
/// `<meta name=description>`. Text is plain (entities decoded; the template escapes it), trimmed
/// to 300/500 characters; the image must be http(s) (a path is resolved against `url`).
/// `None` without a title.
pub fn parse_og(html: &str, url: &str) -> Option<Card> {
    let head = &html[..html.len().min(256 * 1024)];
    let head = match head.char_indices().last() {
        Some(_) => head,
        None => return None,
    };
    let lower = head.to_ascii_lowercase();
    let (mut title, mut description, mut image) = (None, None, None);
    let (mut plain_title, mut plain_desc) = (None, None);
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<meta") {
        let start = pos + i;
        let end = lower[start..].find('>').map(|e| start + e).unwrap_or(lower.len());
        let attrs = attributes(&head[start..end]);
        let key = attrs.iter().find(|(k, _)| k == "property" || k == "name").map(|(_, v)| v.to_ascii_lowercase());
        let content = attrs.iter().find(|(k, _)| k == "content").map(|(_, v)| v.trim().to_string());
        if let (Some(k), Some(c)) = (key, content) {
            match k.as_str() {
                "og:title" => title = title.or(Some(c)),
                "og:description" => description = description.or(Some(c)),
                "og:image" | "og:image:url" | "og:image:secure_url" => image = image.or(Some(c)),
                "description" => plain_desc = plain_desc.or(Some(c)),
                "twitter:title" => plain_title = plain_title.or(Some(c)),
                _ => {}
            }
        }
        pos = end;
    }
    if plain_title.is_none() {
        if let Some(i) = lower.find("<title") {
            if let Some(gt) = lower[i..].find('>') {
                let s = i + gt + 1;
                let e = lower[s..].find("</title").map(|e| s + e).unwrap_or(s);
                plain_title = Some(decode_entities(head[s..e].trim()));
            }
        }
    }
    let clip = |s: String, n: usize| -> String { s.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(n).collect() };
    let title = clip(title.or(plain_title)?, 300);
    if title.is_empty() {
        return None;
    }
    let image = image.and_then(|i| {
        if i.starts_with("https://") || i.starts_with("http://") {
            Some(i)
        } else if i.starts_with('/') && !i.starts_with("//") {
            let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            Some(format!("{origin}{i}"))
        } else {
            None
        }
    });
    Some(Card { url: url.to_string(), title, description: clip(description.or(plain_desc).unwrap_or_default(), 500), image })
}

/// Largest oEmbed answer read (bytes): a title, a thumbnail URL and some HTML we never use.
const MAX_OEMBED: usize = 64 * 1024;

/// Whether the page has OpenGraph data of its own (`og:title`).
fn has_og(html: &str) -> bool {
    let head = html[..html.len().min(256 * 1024)].to_ascii_lowercase();
    head.contains("og:title")
}

/// The oEmbed JSON discovery link of a page (`<link rel="alternate"
/// type="application/json+oembed" href=…>`, https://oembed.com/#section4), as an absolute
/// http(s) URL: absolute, or a path on the page's own origin. XML oEmbed is not used.
pub fn oembed_link(html: &str, page: &str) -> Option<String> {
    let head = &html[..html.len().min(256 * 1024)];
    let lower = head.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<link") {
        let start = pos + i;
        let end = lower[start..].find('>').map(|e| start + e).unwrap_or(lower.len());
        let attrs = attributes(&head[start..end]);
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
        let is_oembed = get("type").is_some_and(|t| t.eq_ignore_ascii_case("application/json+oembed"))
            && get("rel").is_some_and(|r| r.split_whitespace().any(|x| x.eq_ignore_ascii_case("alternate")));
        if let (true, Some(href)) = (is_oembed, get("href")) {
            if href.starts_with("https://") || href.starts_with("http://") {
                return Some(href);
            }
            if href.starts_with('/') && !href.starts_with("//") {
                let origin: String = page.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                return Some(format!("{origin}{href}"));
            }
            return None;
        }
        pos = end;
    }
    None
}

/// A card from an oEmbed JSON answer (https://oembed.com/#section2.3): `title` (required),
/// `author_name` or `provider_name` as the description, `thumbnail_url` (http(s)) as the
/// image. The `html` field is never used (it is someone else's markup). `None` when it is not
/// a JSON object with a title.
pub fn parse_oembed(body: &[u8], page: &str) -> Option<Card> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    let title: String = text("title").filter(|t| !t.is_empty())?.chars().take(300).collect();
    let by = match (text("author_name").filter(|s| !s.is_empty()), text("provider_name").filter(|s| !s.is_empty())) {
        (Some(a), Some(p)) => format!("{a} · {p}"),
        (a, p) => a.or(p).unwrap_or_default(),
    };
    let image = text("thumbnail_url").filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Some(Card { url: page.to_string(), title, description: by.chars().take(500).collect(), image })
}

/// The oEmbed card of a page whose HTML names an oEmbed link: fetched through the SSRF-guarded
/// client, at most [`MAX_OEMBED`] bytes, JSON only (an HTML or oversized answer is refused).
async fn oembed_card(app: &App, html: &str, page: &str) -> Option<Card> {
    let link = oembed_link(html, page)?;
    let r = match app.http.get_limited(&link, &[("accept", "application/json".to_string())], &|_| {}, MAX_OEMBED).await {
        Ok(r) if r.status.is_success() => r,
        Ok(r) => {
            tracing::debug!("oEmbed {link}: status {}", r.status);
            return None;
        }
        Err(e) => {
            tracing::debug!("oEmbed {link}: {e}");
            return None;
        }
    };
    let json = r.headers.get("content-type").and_then(|v| v.to_str().ok()).map(|t| t.to_ascii_lowercase().contains("json")).unwrap_or(false);
    if !json {
        tracing::debug!("oEmbed {link}: not JSON");
        return None;
    }
    parse_oembed(&r.body, page)
}

/// Fetches and stores the card of post `id` once (nothing when it has one, has no link, or the
/// page fails or is not HTML). Errors are logged at debug level only.
pub async fn fetch_for(app: &App, id: u64) {
    let Ok(Some(post)) = app.store.read(|r| r.post(id)) else { return };
    if post.card.is_some() {
        return;
    }
    let Some(link) = first_link(&post.content) else { return };
    let r = match app.http.get_limited(&link, &[("accept", "text/html".to_string())], &|_| {}, MAX_PAGE).await {
        Ok(r) if r.status.is_success() => r,
        Ok(r) => return tracing::debug!("card for {link}: status {}", r.status),
        Err(e) => return tracing::debug!("card for {link}: {e}"),
    };
    let html_type = r.headers.get("content-type").and_then(|v| v.to_str().ok()).map(|t| t.to_ascii_lowercase().contains("text/html")).unwrap_or(false);
    if !html_type {
        return;
    }
    let html = String::from_utf8_lossy(&r.body);
    // OpenGraph first; a page without it may name an oEmbed endpoint (video sites, blogs).
    let oembed = if has_og(&html) { None } else { oembed_card(app, &html, &link).await };
    let Some(card) = oembed.or_else(|| parse_og(&html, &link)) else { return };
    let _ = app.store.write(|w| {
        if let Some(mut p) = w.post(id)? {
            if p.card.is_none() {
                p.card = Some(card);
                w.put_post(&p)?;
            }
        }
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_link_skips_mentions_and_hashtags() {
        let html = r#"<p><span class="h-card"><a href="https://m.example/@a" class="u-url mention">@<span>a</span></a></span> <a href="https://m.example/tags/x" class="mention hashtag" rel="tag">#<span>x</span></a> see <a href="https://news.example/story?id=1&amp;b=2">news</a></p>"#;
        assert_eq!(first_link(html).as_deref(), Some("https://news.example/story?id=1&b=2"));
        assert_eq!(first_link("<p>no links</p>"), None);
    }

    #[test]
    fn opengraph_read_and_cleaned() {
        let html = r#"<html><head><title>Fallback</title><meta property="og:title" content="A &amp; B &lt;script&gt;"><meta name="description" content="plain"><meta property='og:image' content='/img/1.png'></head></html>"#;
        let c = parse_og(html, "https://news.example/a/b").unwrap();
        assert_eq!(c.title, "A & B <script>");
        assert_eq!(c.description, "plain");
        assert_eq!(c.image.as_deref(), Some("https://news.example/img/1.png"));
        let c = parse_og("<title>Only a title</title><meta property=og:image content=javascript:alert(1)>", "https://x.example/").unwrap();
        assert_eq!((c.title.as_str(), c.image), ("Only a title", None));
        assert!(parse_og("<p>nothing</p>", "https://x.example/").is_none());
    }
}
