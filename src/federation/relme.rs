//! rel="me" verification of profile fields (what Mastodon shows as a green check): a field's
//! URL is fetched (SSRF-guarded, size-limited) and verified if the page links back to our
//! profile or actor with rel="me".

use crate::app::App;

/// Checks every URL field and records the result.
pub async fn verify_fields(app: &App) {
    let Ok(profile) = app.store.read(|r| r.profile()) else { return };
    let targets = [app.urls.profile(), app.urls.actor()];
    let mut checked = Vec::new();
    for f in profile.fields.iter().filter(|f| f.value.starts_with("https://") || f.value.starts_with("http://")).take(4) {
        let ok = match app.http.get(&f.value, &[("accept", "text/html".to_string())], &|_| {}).await {
            Ok(r) if r.status.is_success() => links_back(&String::from_utf8_lossy(&r.body), &targets),
            _ => false,
        };
        checked.push((f.value.clone(), ok));
    }
    if let Err(e) = crate::domain::owner::set_verified(app, &checked) {
        tracing::warn!("rel=me: {e}");
    }
}

/// Does the HTML contain `<a>` or `<link>` with rel containing "me" and href one of `targets`?
pub fn links_back(html: &str, targets: &[String]) -> bool {
    let lower = html.to_ascii_lowercase();
    let mut rest = lower.as_str();
    let mut offset = 0;
    while let Some(i) = rest.find('<') {
        let tag_start = offset + i;
        let tail = &rest[i + 1..];
        let end = match tail.find('>') {
            Some(e) => e,
            None => break,
        };
        let tag = &tail[..end];
        if tag.starts_with("a ") || tag.starts_with("link ") {
            // Attribute values are read from the original text (hrefs are case-sensitive).
            let orig = &html[tag_start + 1..tag_start + 1 + end];
            let rel = attr(tag, "rel").unwrap_or_default();
            if rel.split_whitespace().any(|r| r == "me") {
                if let Some(href) = attr(orig, "href").or_else(|| attr(&orig.to_ascii_lowercase(), "href")) {
                    let href = href.trim_end_matches('/');
                    if targets.iter().any(|t| t.trim_end_matches('/') == href) {
                        return true;
                    }
                }
            }
        }
        offset += i + 1 + end;
        rest = &lower[offset..];
    }
    false
}

/// The value of `name="…"`, `name='…'` or `name=…` inside a tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut search = 0;
    while let Some(pos) = lower[search..].find(name) {
        let at = search + pos;
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[at + name.len()..].trim_start();
        if before_ok && after.starts_with('=') {
            let vstart = tag.len() - after.len() + 1;
            let v = tag[vstart..].trim_start();
            let value = match v.chars().next()? {
                q @ ('"' | '\'') => v[1..].split(q).next()?.to_string(),
                _ => v.split(|c: char| c.is_whitespace() || c == '>').next()?.to_string(),
            };
            return Some(value);
        }
        search = at + name.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn finds_rel_me_links_back() {
        let t = vec!["https://pip.example/@me".to_string()];
        assert!(links_back(r#"<html><a href="https://pip.example/@me" rel="me">me</a>"#, &t));
        assert!(links_back(r#"<LINK REL='me authn' HREF='https://pip.example/@me/'>"#, &t));
        assert!(links_back(r#"<a rel=me href=https://pip.example/@me>x</a>"#, &t));
        assert!(!links_back(r#"<a href="https://pip.example/@me">no rel</a>"#, &t));
        assert!(!links_back(r#"<a rel="me" href="https://evil.example/@me">other</a>"#, &t));
        assert!(!links_back(r#"<a rel="nofollow me-too" href="https://pip.example/@me">"#, &t));
        assert!(!links_back("<a rel=\"me\" href=\"https://pip.example/@me\"", &t), "unterminated tag");
    }
}
