//! Custom emoji (Mastodon's `Emoji` tag, `{"type":"Emoji","name":":blobcat:","icon":{"url":…}}`):
//! read from remote objects, and drawn in sanitised content as small images served through the
//! remote media cache, with the shortcode as alt text.

use crate::model::Emoji;
use crate::urls::Urls;
use serde_json::Value;

/// At most this many emoji are kept per object.
pub const MAX_EMOJI: usize = 50;

fn valid_shortcode(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The `Emoji` entries of an ActivityStreams `tag` value: shortcode (colons stripped, checked to
/// be `[A-Za-z0-9_]{1,64}`) and an http(s) icon URL. Anything else is dropped.
pub fn from_tags(tag: Option<&Value>) -> Vec<Emoji> {
    let list: Vec<&Value> = match tag {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => vec![],
    };
    let mut out: Vec<Emoji> = Vec::new();
    for t in list {
        if t.get("type").and_then(Value::as_str) != Some("Emoji") {
            continue;
        }
        let Some(name) = t.get("name").and_then(Value::as_str) else { continue };
        let shortcode = name.trim_matches(':');
        let url = match t.get("icon") {
            Some(Value::String(u)) => Some(u.as_str()),
            Some(i) => i.get("url").and_then(Value::as_str),
            None => None,
        };
        let Some(url) = url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) else { continue };
        if valid_shortcode(shortcode) && !out.iter().any(|e| e.shortcode == shortcode) {
            out.push(Emoji { shortcode: shortcode.to_string(), url: url.to_string() });
        }
        if out.len() == MAX_EMOJI {
            break;
        }
    }
    out
}

/// Replaces `:shortcode:` in the text of sanitised HTML (never inside tags or attribute values)
/// with `<img class="emoji">` pointing through the media cache for `actor`.
pub fn emojify(html: &str, emojis: &[Emoji], urls: &Urls, actor: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let (mut in_tag, mut quote) = (false, None::<char>);
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if in_tag {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if c == q => quote = None,
                (None, '>') => in_tag = false,
                _ => {}
            }
        } else if c == '<' {
            in_tag = true;
        } else if c == ':' {
            if let Some(e) = emojis.iter().find(|e| rest[1..].starts_with(&e.shortcode) && rest[1 + e.shortcode.len()..].starts_with(':')) {
                let src = crate::text::escape(&urls.remote_media(&e.url, actor));
                let code = &e.shortcode;
                out.push_str(&format!("<img class=\"emoji\" src=\"{src}\" alt=\":{code}:\" title=\":{code}:\" width=\"20\" height=\"20\" loading=\"lazy\">"));
                rest = &rest[e.shortcode.len() + 2..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Plain text (a display name) as HTML: escaped, with its `:shortcode:` drawn as emoji images
/// through the media cache for `actor`.
pub fn emojify_text(text: &str, emojis: &[Emoji], urls: &Urls, actor: &str) -> String {
    let escaped = crate::text::escape(text);
    if emojis.is_empty() {
        return escaped;
    }
    emojify(&escaped, emojis, urls, actor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_only_in_text() {
        let urls = Urls::new(&crate::config::parse_public_url("https://pip.example").unwrap(), "me");
        let tags = serde_json::json!([
            {"type":"Emoji","name":":blob_cat:","icon":{"type":"Image","url":"https://far.example/e/blob.png"}},
            {"type":"Emoji","name":":bad\"><script>:","icon":{"url":"https://far.example/x.png"}},
            {"type":"Emoji","name":":js:","icon":{"url":"javascript:alert(1)"}}
        ]);
        let e = from_tags(Some(&tags));
        assert_eq!(e.len(), 1, "hostile shortcode and URL dropped");
        let html = r#"<p>hi :blob_cat: <a href="https://x.example/:blob_cat:" title='a > :blob_cat:'>:blob_cat:</a> :other:</p>"#;
        let out = emojify(html, &e, &urls, "https://far.example/users/a");
        assert_eq!(out.matches("<img class=\"emoji\"").count(), 2, "{out}");
        assert!(out.contains(r#"href="https://x.example/:blob_cat:""#) && out.contains("title='a > :blob_cat:'"), "attributes untouched: {out}");
        assert!(out.contains(":other:"));
    }
}
