//! The owner's plain text → HTML in Mastodon's allowed subset (p, br, a, span), with URLs,
//! `@user@host` mentions and `#hashtags` linked. Everything else is escaped, so the output is
//! safe to show anywhere and looks the same on every server.

use crate::model::Mention;
use crate::urls::Urls;

pub struct Formatted {
    pub html: String,
    pub tags: Vec<String>,
    pub mentions: Vec<Mention>,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `escape` written straight into `out` (the template formatter): the runs between the five
/// characters are copied whole, and no String is allocated per value.
pub fn escape_into<W: std::fmt::Write + ?Sized>(out: &mut W, s: &str) -> std::fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

/// Formats post text. `resolve` maps `user@host` to an actor/profile URL (None leaves it as text).
pub fn format(text: &str, urls: &Urls, resolve: &dyn Fn(&str, &str) -> Option<String>) -> Formatted {
    let mut f = Formatted { html: String::new(), tags: Vec::new(), mentions: Vec::new() };
    let text = text.replace("\r\n", "\n");
    let paragraphs: Vec<&str> = text.split("\n\n").map(|p| p.trim_matches('\n')).filter(|p| !p.trim().is_empty()).collect();
    for para in paragraphs {
        f.html.push_str("<p>");
        for (i, line) in para.split('\n').enumerate() {
            if i > 0 {
                f.html.push_str("<br>");
            }
            format_line(line, urls, resolve, &mut f);
        }
        f.html.push_str("</p>");
    }
    f
}

/// Plain text with line breaks and links only (profile bio, field values).
pub fn format_plain(text: &str, urls: &Urls) -> String {
    format(text, urls, &|_, _| None).html
}

fn format_line(line: &str, urls: &Urls, resolve: &dyn Fn(&str, &str) -> Option<String>, f: &mut Formatted) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    let mut plain_start = 0;
    let at_boundary = |idx: usize| idx == 0 || {
        let prev = chars[idx - 1].1;
        !(prev.is_alphanumeric() || prev == '_' || prev == '/' || prev == '@' || prev == '#')
    };
    while i < chars.len() {
        let (byte, c) = chars[i];
        let rest = &line[byte..];
        let token: Option<(usize, String)> = if (c == 'h') && at_boundary(i) && (rest.starts_with("https://") || rest.starts_with("http://")) {
            link_token(rest)
        } else if c == '@' && at_boundary(i) {
            mention_token(rest, urls, resolve, f)
        } else if c == '#' && at_boundary(i) {
            hashtag_token(rest, urls, f)
        } else {
            None
        };
        match token {
            Some((len, html)) => {
                f.html.push_str(&escape(&line[plain_start..byte]));
                f.html.push_str(&html);
                let end = byte + len;
                while i < chars.len() && chars[i].0 < end {
                    i += 1;
                }
                plain_start = end;
            }
            None => i += 1,
        }
    }
    f.html.push_str(&escape(&line[plain_start..]));
}

fn link_token(rest: &str) -> Option<(usize, String)> {
    let mut end = rest.find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"').unwrap_or(rest.len());
    // Trailing punctuation belongs to the sentence, and a ')' only to the URL if it opened one.
    while end > 0 {
        let last = rest[..end].chars().last()?;
        let opens = rest[..end].matches('(').count();
        let closes = rest[..end].matches(')').count();
        if ".,;:!?'\"".contains(last) || (last == ')' && closes > opens) {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    let url = &rest[..end];
    let (scheme, after) = url.split_once("://")?;
    if after.is_empty() || !after.chars().next()?.is_alphanumeric() {
        return None;
    }
    let visible: String = after.chars().take(30).collect();
    let hidden: String = after.chars().skip(30).collect();
    let ellipsis = if hidden.is_empty() { "" } else { " ellipsis" };
    let html = format!(
        "<a href=\"{}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\"><span class=\"invisible\">{}://</span><span class=\"{}\">{}</span><span class=\"invisible\">{}</span></a>",
        escape(url),
        escape(scheme),
        ellipsis.trim(),
        escape(&visible),
        escape(&hidden)
    );
    Some((end, html))
}

fn mention_token(rest: &str, urls: &Urls, resolve: &dyn Fn(&str, &str) -> Option<String>, f: &mut Formatted) -> Option<(usize, String)> {
    let body = &rest[1..];
    let user_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')).unwrap_or(body.len());
    let user = body[..user_len].trim_end_matches(['.', '-']);
    if user.is_empty() {
        return None;
    }
    let after_user = &body[user.len()..];
    let (host, consumed) = match after_user.strip_prefix('@') {
        Some(h) => {
            let host_len = h.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')).unwrap_or(h.len());
            let host = h[..host_len].trim_end_matches(['.', '-', ':']);
            if host.is_empty() || !host.contains(['.', ':']) && host != "localhost" {
                return None;
            }
            (host.to_ascii_lowercase(), 1 + user.len() + 1 + host.len())
        }
        None => (urls.host.clone(), 1 + user.len()),
    };
    let href = crate::httpurl::HttpUrl::parse(&resolve(user, &host)?)?;
    let name = format!("@{user}@{host}");
    if !f.mentions.iter().any(|m| m.name == name) {
        f.mentions.push(Mention { name: name.clone(), href: href.clone() });
    }
    let html = format!(
        "<span class=\"h-card\" translate=\"no\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
        escape(&href),
        escape(user)
    );
    Some((consumed, html))
}

fn hashtag_token(rest: &str, urls: &Urls, f: &mut Formatted) -> Option<(usize, String)> {
    let body = &rest[1..];
    let len = body.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(body.len());
    let tag = &body[..len];
    // A tag needs at least one letter: "#1" is a number, not a hashtag (Mastodon agrees).
    if tag.is_empty() || !tag.chars().any(|c| c.is_alphabetic()) || tag.chars().count() > 100 {
        return None;
    }
    let lower = tag.to_lowercase();
    if !f.tags.contains(&lower) {
        f.tags.push(lower.clone());
    }
    let html = format!(
        "<a href=\"{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
        escape(&urls.tag(&lower)),
        escape(tag)
    );
    Some((1 + len, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template formatter's writer gives exactly `escape`'s output: all five characters,
    /// at the start, the end, side by side, next to multi-byte text, and none at all.
    #[test]
    fn escape_into_matches_escape() {
        for s in ["", "plain", "<script>alert('x')&\"y\"</script>", "&&<<>>", "é<ü>ß'\"", "a&b", "&", "tail<"] {
            let mut out = String::new();
            escape_into(&mut out, s).unwrap();
            assert_eq!(out, escape(s), "input {s:?}");
        }
    }
    fn urls() -> Urls {
        Urls::new(&crate::config::parse_public_url("https://pip.example").unwrap(), "me")
    }
    fn fmt(s: &str) -> Formatted {
        format(s, &urls(), &|u, h| Some(format!("https://{h}/@{u}")))
    }
    #[test]
    fn links_mentions_tags_and_escaping() {
        let f = fmt("Hi @alice@social.example! See https://ex.com/a_(b). #Rust #1 <script>");
        assert!(f.html.contains("href=\"https://social.example/@alice\""), "{}", f.html);
        assert!(f.html.contains("href=\"https://ex.com/a_(b)\""), "{}", f.html);
        assert!(f.html.contains("href=\"https://pip.example/tags/rust\""), "{}", f.html);
        assert!(f.html.contains("&lt;script&gt;"));
        assert!(!f.html.contains("<script"));
        assert_eq!(f.tags, vec!["rust"]);
        assert_eq!(f.mentions[0].name, "@alice@social.example");
        assert!(f.html.contains("#1 "));
    }
    #[test]
    fn paragraphs_and_breaks() {
        assert_eq!(fmt("a\nb\n\n\nc").html, "<p>a<br>b</p><p>c</p>");
    }
    #[test]
    fn mention_with_port_and_email_not_mention() {
        let f = fmt("@bob@127.0.0.1:8081 and mail me@x.org");
        assert_eq!(f.mentions.len(), 1);
        assert_eq!(f.mentions[0].name, "@bob@127.0.0.1:8081");
    }
    #[test]
    fn javascript_urls_are_not_links() {
        let f = fmt("javascript:alert(1) \"><img src=x onerror=alert(1)>");
        assert!(!f.html.contains("<a"));
        assert!(!f.html.contains("<img"));
    }
}
