//! Remote post content as its author meant it, with Mastodon's handling of remote objects as the
//! reference (its sanitizer config, content-warning, language and type conversion rules):
//! text of HTML read with the sanitizer's own HTML5 parser, headings as bold paragraphs, the
//! `quote-inline` fallback dropped when the quote is shown, `contentMap` in document order,
//! Markdown rendered, and each object type's own facts (Event times and place, Video duration).

use crate::federation::vocab::{has_type, one_or_many, str_of};
use crate::text::escape;
use serde_json::Value;
use std::sync::OnceLock;

/// Elements after which text reads as a new line (HTML's block boundaries).
const BLOCKS: &[&str] = &[
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "tr", "td", "th",
    "section", "article", "header", "footer", "aside", "nav", "figure", "figcaption", "details", "summary", "address",
];

/// The plain text of an HTML fragment, parsed by html5ever exactly as the sanitizer parses it:
/// inline elements (`<wbr>`, `<del>`, `<ins>`, `<b>`…) join their text without spaces, block
/// elements are separated by one space, whitespace collapses, entities are decoded, and the text
/// of `script`/`style` is never read. Returns (text, alt text of the first image).
pub fn html_text(html: &str) -> (String, Option<String>) {
    static READER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    let reader = READER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        // Keep only the structure the walk needs; script/style contents are dropped by ammonia's
        // default `clean_content_tags`.
        b.tags(BLOCKS.iter().copied().chain(["img"]).collect()).tag_attributes([("img", ["alt"].into_iter().collect())].into_iter().collect()).generic_attributes(Default::default());
        b
    });
    // The sanitizer's serialization is canonical (only the tags above, only `alt`, text escaped
    // as &amp; &lt; &gt; &nbsp; and &quot; in attributes), so a plain scan of it is exact.
    let clean = reader.clean(html).to_string();
    let mut raw = String::new();
    let mut alt = None;
    let mut rest = clean.as_str();
    while let Some(lt) = rest.find('<') {
        raw.push_str(&decode(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt + 1..lt + gt];
        let name = tag.trim_start_matches('/').split([' ', '/']).next().unwrap_or_default();
        if name == "img" {
            if alt.is_none() {
                alt = tag.split_once("alt=\"").and_then(|(_, a)| a.split_once('"')).map(|(a, _)| decode(a)).filter(|a| !a.trim().is_empty());
            }
        } else if BLOCKS.contains(&name) {
            raw.push(' ');
        }
        rest = &rest[lt + gt + 1..];
    }
    raw.push_str(&decode(rest));
    (raw.split_whitespace().collect::<Vec<_>>().join(" "), alt)
}

fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

/// Shown when a content warning has no words of its own (markup only, e.g. `<p></p>`).
pub const GENERIC_WARNING: &str = "Sensitive content";

/// A remote `summary` as a content warning: its text, else the alt text of its image, else a
/// generic label. Empty only when the summary is absent or blank (whitespace). At most 500 chars.
pub fn warning_text(summary: &str) -> String {
    if summary.trim().is_empty() {
        return String::new();
    }
    let (text, alt) = html_text(summary);
    let w = if !text.is_empty() { text } else { alt.map(|a| a.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_else(|| GENERIC_WARNING.to_string()) };
    w.chars().take(500).collect()
}

/// Remote HTML for showing: sanitized (vocab::sanitize_html), headings turned into bold
/// paragraphs as Mastodon's sanitizer does, and — when the post's quote is shown — the
/// `quote-inline` "RE: …" fallback removed, so the quote appears once.
pub fn remote_html(html: &str, drop_quote_fallback: bool) -> String {
    let clean = crate::federation::vocab::sanitize_html(html);
    let mut out = clean;
    if out.contains("<h") {
        for n in 1..=6 {
            out = out.replace(&format!("<h{n}>"), "<p><strong>").replace(&format!("</h{n}>"), "</strong></p>");
        }
        // A heading may have held block content; one more pass makes the tree well-formed.
        out = crate::federation::vocab::sanitize_html(&out);
    }
    if drop_quote_fallback {
        out = remove_class(&out, "quote-inline");
    }
    out
}

/// Removes every element (of sanitized, serialized HTML) whose class list is exactly `class`.
fn remove_class(html: &str, class: &str) -> String {
    let mut out = html.to_string();
    for tag in ["p", "span"] {
        let open = format!("<{tag} class=\"{class}\">");
        while let Some(start) = out.find(&open) {
            // Balance nested elements of the same name until the matching end tag.
            let mut depth = 0usize;
            let mut i = start;
            let mut end = None;
            while i < out.len() {
                let rest = &out[i..];
                if rest.starts_with(&format!("<{tag}>")) || rest.starts_with(&format!("<{tag} ")) {
                    depth += 1;
                } else if rest.starts_with(&format!("</{tag}>")) {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + tag.len() + 3);
                        break;
                    }
                }
                i += rest.chars().next().map(char::len_utf8).unwrap_or(1);
            }
            match end {
                Some(e) => out.replace_range(start..e, ""),
                None => break,
            }
        }
    }
    out
}

/// Markdown (`mediaType: text/markdown`, PeerTube) → sanitized HTML. Raw HTML inside the
/// Markdown goes through the same sanitizer as any remote HTML.
pub fn markdown_html(md: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH));
    remote_html(&out, false)
}

/// The languages the owner reads (BCP 47 primary subtags, lower-case), set once at start from
/// the config. Empty: no preference.
static READS: OnceLock<Vec<String>> = OnceLock::new();

pub fn set_owner_languages(langs: &[String]) {
    let _ = READS.set(langs.iter().map(|l| primary(l)).filter(|l| !l.is_empty()).collect());
}

fn primary(tag: &str) -> String {
    tag.split(['-', '_']).next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The content to show and its language, as Mastodon reads them: `content` when present (its
/// language is the `contentMap` key holding the same text, else the first key); otherwise the
/// `contentMap` entry in the first of the owner's languages (config `languages`, in the owner's
/// order) that it has, else the first in document order.
pub fn pick_content(obj: &Value, field: &str, map_field: &str) -> (Option<String>, Option<String>) {
    pick_content_for(obj, field, map_field, READS.get().map(Vec::as_slice).unwrap_or_default())
}

/// `pick_content` for a reader of `reads` (primary subtags, lower-case).
pub fn pick_content_for(obj: &Value, field: &str, map_field: &str, reads: &[String]) -> (Option<String>, Option<String>) {
    let map: Vec<(&String, &str)> = obj.get(map_field).and_then(Value::as_object).map(|m| m.iter().filter_map(|(k, v)| Some((k, v.as_str()?))).collect()).unwrap_or_default();
    let valid_lang = |k: &str| !k.is_empty() && k.len() <= 35 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if let Some(c) = str_of(obj, field) {
        let lang = map.iter().find(|(_, v)| *v == c).or(map.first()).map(|(k, _)| k.to_string()).filter(|k| valid_lang(k));
        return (Some(c.to_string()), lang);
    }
    // The owner's own order decides (reads ["de", "en"] and {"en", "de"}: German), then the
    // document's.
    let chosen = reads.iter().find_map(|r| map.iter().find(|(k, _)| primary(k) == *r)).or(map.first());
    match chosen {
        Some((k, v)) => (Some(v.to_string()), Some(k.to_string()).filter(|k| valid_lang(k))),
        None => (None, None),
    }
}

/// What kind of object this is, as far as showing it goes.
pub fn is_titled(kind: &str) -> bool {
    !matches!(kind, "Note" | "Question" | "ChatMessage")
}

/// The object's own facts as HTML lines: an Event's start and end time and its place, a
/// Video or Audio's duration. Empty when it has none.
pub fn type_facts(obj: &Value) -> String {
    let mut out = String::new();
    let start = str_of(obj, "startTime").and_then(crate::time::parse_rfc3339);
    let end = str_of(obj, "endTime").and_then(crate::time::parse_rfc3339);
    if has_type(obj, "Event") {
        if let Some(s) = start {
            let when = match end {
                Some(e) if e > s => format!("{} – {}", human_time(s), human_time(e)),
                _ => human_time(s),
            };
            out.push_str(&format!("<p>When: {}</p>", escape(&when)));
        }
        // The first place only: a list of places is rare and one line reads best.
        for place in one_or_many(obj.get("location")).into_iter().take(1) {
            let name = str_of(place, "name").unwrap_or_default();
            let address = match place.get("address") {
                Some(Value::String(s)) => s.clone(),
                Some(a @ Value::Object(_)) => ["streetAddress", "postalCode", "addressLocality", "addressRegion", "addressCountry"].iter().filter_map(|k| str_of(a, k)).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(", "),
                _ => String::new(),
            };
            let line = [name, address.as_str()].into_iter().filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(", ");
            if !line.is_empty() {
                out.push_str(&format!("<p>Where: {}</p>", escape(&line.chars().take(300).collect::<String>())));
            }
        }
    }
    if let Some(d) = str_of(obj, "duration").and_then(duration_secs) {
        let (h, m, s) = (d / 3600, d / 60 % 60, d % 60);
        let text = if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") };
        out.push_str(&format!("<p>Duration: {text}</p>"));
    }
    out
}

fn human_time(ms: u64) -> String {
    // "2026-11-29 18:30 UTC": exact, unambiguous across the owner's and the event's zones.
    let iso = crate::time::rfc3339(ms);
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

/// ISO 8601 duration (`PT1H2M3S`, PeerTube's `PT123S`) → seconds.
pub fn duration_secs(s: &str) -> Option<u64> {
    let rest = s.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0u64;
    let mut num = String::new();
    for (part, units) in [(days, "D"), (time, "HMS")] {
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let n: f64 = num.parse().ok()?;
            num.clear();
            let mult = match (units, c) {
                ("D", 'D') => 86400.0,
                ("D", 'W') => 7.0 * 86400.0,
                ("HMS", 'H') => 3600.0,
                ("HMS", 'M') => 60.0,
                ("HMS", 'S') => 1.0,
                _ => return None,
            };
            total += (n * mult) as u64;
        }
        if !num.is_empty() {
            return None;
        }
    }
    Some(total)
}

/// The media type of an attachment that names none, from its file name, else its AS type
/// (`{type: Image, url: ….jpg}` is an image). Mastodon guesses the same way.
pub fn guess_media_type(url: &str, ap_type: Option<&str>) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    let ext = path.rsplit('/').next().and_then(|f| f.rsplit_once('.')).map(|(_, e)| e).unwrap_or_default();
    let by_ext = match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "heic" => "image/heic",
        "svg" => "image/svg+xml",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "m4a" => "audio/mp4",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        _ => "",
    };
    if !by_ext.is_empty() {
        return by_ext.into();
    }
    match ap_type {
        Some("Image") => "image/jpeg",
        Some("Video") => "video/mp4",
        Some("Audio") => "audio/mpeg",
        _ => "application/octet-stream",
    }
    .into()
}

/// A PeerTube-style `url` list: the one playable file to show (an mp4, the largest at most
/// 1080 lines high, else the smallest), never the torrent, magnet or HLS playlist entries.
/// Returns (href, mediaType, height).
pub fn playable_video(obj: &Value) -> Option<(String, String, Option<u64>)> {
    let mut files: Vec<(String, String, Option<u64>)> = Vec::new();
    for u in one_or_many(obj.get("url")) {
        let Some(href) = str_of(u, "href") else { continue };
        let mt = str_of(u, "mediaType").unwrap_or_default();
        if (mt.starts_with("video/") || mt.starts_with("audio/")) && (href.starts_with("https://") || href.starts_with("http://")) {
            files.push((href.to_string(), mt.to_string(), u.get("height").and_then(Value::as_u64)));
        }
    }
    let fit = files.iter().filter(|f| f.2.map(|h| h <= 1080).unwrap_or(true)).max_by_key(|f| f.2.unwrap_or(0)).cloned();
    fit.or_else(|| files.iter().min_by_key(|f| f.2.unwrap_or(0)).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_reads_like_the_browser() {
        // Tried: <wbr> inside a word, <del>/<ins> side by side; Mastodon shows "Fernstraßenbau altneu".
        assert_eq!(html_text("Fernstraßen<wbr/>bau <del>alt</del><ins>neu</ins>").0, "Fernstraßenbau altneu");
        assert_eq!(html_text("<p>one</p><p>two<br>three</p><script>evil()</script><style>x{}</style>").0, "one two three");
        assert_eq!(html_text("a &amp; b &lt;c&gt;").0, "a & b <c>");
    }
    #[test]
    fn warnings_never_vanish() {
        assert_eq!(warning_text("<img src=\"https://x.example/l.png\" alt=\"Logo\">"), "Logo");
        assert_eq!(warning_text("<p></p>"), GENERIC_WARNING);
        assert_eq!(warning_text("  "), "");
        assert_eq!(warning_text("<b>spoilers</b> ahead"), "spoilers ahead");
    }
    #[test]
    fn headings_and_quote_fallback() {
        assert_eq!(remote_html("<h1>Big</h1><p>x</p>", false), "<p><strong>Big</strong></p><p>x</p>");
        let q = "<p class=\"quote-inline\">RE: <a href=\"https://q.example/1\"><span>q.example/1</span></a></p><p>my take</p>";
        assert_eq!(remote_html(q, true), "<p>my take</p>");
        assert!(remote_html(q, false).contains("RE:"));
    }
    #[test]
    fn markdown_and_languages() {
        let h = markdown_html("**bold** and *it*\n\n<script>x</script>");
        assert!(h.contains("<strong>bold</strong>") && h.contains("<em>it</em>") && !h.contains("script") && !h.contains('*'), "{h}");
        let o: Value = serde_json::from_str(r#"{"contentMap":{"en":"hello","de":"hallo"}}"#).unwrap();
        // Tried: English first in the document; the old code took the alphabetically first (German).
        assert_eq!(pick_content_for(&o, "content", "contentMap", &[]), (Some("hello".into()), Some("en".into())));
        assert_eq!(pick_content_for(&o, "content", "contentMap", &["de".into()]), (Some("hallo".into()), Some("de".into())));
        // Tried: the owner reads German first, then English; the map has English first. The
        // owner's order wins (the old code took the first of the document's the owner reads).
        assert_eq!(pick_content_for(&o, "content", "contentMap", &["de".into(), "en".into()]), (Some("hallo".into()), Some("de".into())));
        // Region subtags match by their primary language; none read: document order.
        let pt: Value = serde_json::from_str(r#"{"contentMap":{"en":"hello","pt-BR":"olá"}}"#).unwrap();
        assert_eq!(pick_content_for(&pt, "content", "contentMap", &["pt".into()]), (Some("olá".into()), Some("pt-BR".into())));
        assert_eq!(pick_content_for(&pt, "content", "contentMap", &["fr".into()]), (Some("hello".into()), Some("en".into())));
        let both: Value = serde_json::from_str(r#"{"content":"hallo","contentMap":{"en":"hello","de":"hallo"}}"#).unwrap();
        assert_eq!(pick_content_for(&both, "content", "contentMap", &[]), (Some("hallo".into()), Some("de".into())));
    }
    #[test]
    fn facts_and_media() {
        assert_eq!(duration_secs("PT123S"), Some(123));
        assert_eq!(duration_secs("PT1H2M3S"), Some(3723));
        assert_eq!(duration_secs("P1D"), Some(86400));
        assert_eq!(duration_secs("bogus"), None);
        let ev = json!({"type":"Event","startTime":"2026-12-01T18:00:00Z","endTime":"2026-12-01T20:00:00Z","location":{"type":"Place","name":"Town hall","address":{"type":"PostalAddress","addressLocality":"Bern"}}});
        let f = type_facts(&ev);
        assert!(f.contains("2026-12-01 18:00 UTC – 2026-12-01 20:00 UTC") && f.contains("Town hall, Bern"), "{f}");
        assert_eq!(guess_media_type("https://x.example/a.JPG?x=1", Some("Document")), "image/jpeg");
        assert_eq!(guess_media_type("https://x.example/a", Some("Image")), "image/jpeg");
    }
}
