//! Cross-posting (issue 14): the rules for copying the owner's posts to accounts on
//! Mastodon-API servers the owner connected (OAuth 2 with PKCE, as moa.party or Buffer do).
//! The network side (registering the app, the token exchange, posting the copies from the
//! queue) is federation::crosspost; this module checks what may be cross-posted, queues the
//! jobs in the store, builds the copy's text, and seals the secrets kept for each connection.
//!
//! Secrets at rest: tokens, client secrets and PKCE verifiers are sealed with
//! ChaCha20-Poly1305 (RFC 8439, ring) under a 256-bit key in `DATA/keys/crosspost.key`
//! (created on first use, mode 0600, carried by backups), a random 96-bit nonce per record.
//! The redb file alone never holds one in the clear.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{JobKind, Post, Visibility};
use crate::store::Write;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use std::path::PathBuf;

/// The key file's name in the data folder's `keys` directory.
pub const KEY_FILE: &str = "crosspost.key";
/// The scopes pipit asks for (Mastodon's names).
pub const SCOPES: &str = "write:statuses write:media read:accounts";
/// Mastodon's defaults when a server does not say (`/api/v2/instance`).
pub const DEFAULT_MAX_CHARACTERS: usize = 500;
pub const DEFAULT_URL_CHARS: usize = 23;

/// `DATA/keys/crosspost.key`.
pub fn key_path(app: &App) -> PathBuf {
    app.data.join("keys").join(KEY_FILE)
}

/// The sealing key; with `create`, made (32 random bytes, 0600) when there is none yet.
/// `Error::Config` when the file is missing (and not `create`) or not 32 bytes.
fn key(app: &App, create: bool) -> Result<LessSafeKey> {
    let path = key_path(app);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            let mut k = [0u8; 32];
            crate::secret::fill(&mut k);
            std::fs::create_dir_all(path.parent().unwrap_or(&app.data))?;
            // create_new: two first uses at once must not each write a key.
            match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
                Ok(mut f) => {
                    f.write_all(&k)?;
                    f.sync_all()?;
                    k.to_vec()
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(&path)?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(Error::Config(format!("cross-posting key {}: {e}", path.display()))),
    };
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| Error::Config(format!("cross-posting key {}: not 32 bytes", path.display())))?;
    Ok(LessSafeKey::new(unbound))
}

/// Seals `secret` for storing: base64url(nonce ‖ ciphertext ‖ tag). `purpose` (e.g. "token")
/// is bound as associated data, so a sealed value cannot be swapped into another field.
pub fn seal(app: &App, purpose: &str, secret: &str) -> Result<String> {
    let key = key(app, true)?;
    let mut nonce = [0u8; NONCE_LEN];
    crate::secret::fill(&mut nonce);
    let mut buf = secret.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_bytes()), &mut buf).map_err(|_| Error::Internal("sealing failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(crate::secret::b64url(&out))
}

/// Opens what [`seal`] made. `Error::Config` when the key file is gone or another key sealed it.
pub fn open(app: &App, purpose: &str, sealed: &str) -> Result<String> {
    use base64::Engine;
    let key = key(app, false)?;
    let bad = || Error::Config(format!("a cross-posting secret does not open with {} (a different or missing key): connect the account again", key_path(app).display()));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed).map_err(|_| bad())?;
    if raw.len() < NONCE_LEN {
        return Err(bad());
    }
    let (nonce, rest) = raw.split_at(NONCE_LEN);
    let mut buf = rest.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
    let plain = key.open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf).map_err(|_| bad())?;
    String::from_utf8(plain.to_vec()).map_err(|_| bad())
}

/// The origin of the server the owner typed: `host`, `host:port`, `https://host` or
/// `http://host[:port]/` (a path is dropped). `BadRequest` for anything else.
pub fn normalize_server(input: &str) -> Result<String> {
    let s = input.trim().trim_end_matches('/');
    let s = s.strip_prefix('@').map(|s| s.rsplit('@').next().unwrap_or(s)).unwrap_or(s);
    let bad = || Error::BadRequest(format!("`{}` is not a server address like mastodon.social or https://mastodon.social", input.trim()));
    if s.contains("://") && !(s.starts_with("https://") || s.starts_with("http://")) {
        return Err(bad());
    }
    let with_scheme = if s.starts_with("https://") || s.starts_with("http://") { s.to_string() } else { format!("https://{s}") };
    let uri: hyper::Uri = with_scheme.parse().map_err(|_| bad())?;
    let host = uri.host().filter(|h| !h.is_empty() && !h.contains('@')).ok_or_else(bad)?;
    let scheme = uri.scheme_str().ok_or_else(bad)?;
    let origin = match uri.port_u16() {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    crate::model::HttpUrl::parse(&origin).ok_or_else(bad)?;
    Ok(origin)
}

/// Where the remote server sends the owner back: `<our url>/settings/crosspost/callback`.
pub fn redirect_uri(app: &App) -> String {
    format!("{}/settings/crosspost/callback", app.urls.base)
}

/// The PKCE pair (RFC 7636, S256): a random verifier and its challenge.
pub fn pkce() -> (String, String) {
    let verifier = crate::secret::token();
    let challenge = crate::secret::b64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    (verifier, challenge)
}

/// Checks the accounts a new post should be copied to (`user@host`, as connected, a leading
/// `@` allowed) and returns them as stored, each once. `BadRequest` when the post is not public
/// or unlisted, an account is not connected, or it needs reconnecting: nothing is published then.
pub fn check_targets(app: &App, visibility: Visibility, accounts: &[String]) -> Result<Vec<String>> {
    let wanted: Vec<String> = accounts.iter().map(|a| a.trim().trim_start_matches('@').to_lowercase()).filter(|a| !a.is_empty()).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    if !matches!(visibility, Visibility::Public | Visibility::Unlisted) {
        return Err(Error::BadRequest("Only public and unlisted posts can be cross-posted: choose one of those, or post without cross-posting".into()));
    }
    let mut out: Vec<String> = Vec::new();
    app.store.read(|r| {
        for a in &wanted {
            let c = r.connection(a)?.ok_or_else(|| Error::BadRequest(format!("{a} is not a connected account: connect it under Settings → Cross-posting")))?;
            if c.needs_reconnect.is_some() {
                return Err(Error::BadRequest(format!("{} needs reconnecting (its server refused pipit's access): connect it again under Settings → Cross-posting", c.acct)));
            }
            if !out.contains(&c.acct) {
                out.push(c.acct);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Queues a copy of `post` for each account (from [`check_targets`]): due when the post's undo
/// window ends (a post deleted within it is never cross-posted), else now.
pub fn queue(app: &App, post: &Post, accounts: &[String]) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let due = post.held_until_ms.unwrap_or_else(crate::time::now_ms);
    app.store.write(|w| {
        for a in accounts {
            w.enqueue(JobKind::Crosspost { post: post.id, account: a.clone(), op: "create".into() }, due)?;
        }
        Ok(())
    })
}

/// In the transaction that edits (`op` "edit") or deletes ("delete") the owner's post `id`:
/// one job per account holding a copy of it.
pub fn follow_change(w: &mut Write, id: u64, op: &str) -> Result<()> {
    let now = crate::time::now_ms();
    for c in w.connections()? {
        if w.copy_of(&c.acct, id)?.is_some() {
            w.enqueue(JobKind::Crosspost { post: id, account: c.acct.clone(), op: op.into() }, now)?;
        }
    }
    Ok(())
}

/// Plain text of a post's HTML: paragraphs become blank lines, `<br>` line breaks, a link its
/// text (its address when the text is a shortened form of it, as pipit and Mastodon show
/// long links), entities decoded, other tags dropped.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut link: Option<(String, usize)> = None; // (href, where its text starts in `out`)
    while let Some(i) = rest.find('<') {
        out.push_str(&decode(&rest[..i]));
        let end = rest[i..].find('>').map(|e| i + e + 1).unwrap_or(rest.len());
        let tag = &rest[i + 1..end.saturating_sub(1)];
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("br", _) => out.push('\n'),
            ("p", false) | ("li", false) | ("blockquote", false) | ("pre", false) if !out.is_empty() && !out.ends_with("\n\n") => {
                out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" })
            }
            ("a", false) => {
                let href = attr(tag, "href").unwrap_or_default();
                link = Some((href, out.len()));
            }
            ("a", true) => {
                if let Some((href, start)) = link.take() {
                    let text = out[start..].to_string();
                    let bare = |s: &str| s.trim_start_matches("https://").trim_start_matches("http://").trim_start_matches("www.").trim_end_matches('…').to_string();
                    // A shortened link (`example.com/long…`) is its address again.
                    if (href.starts_with("http://") || href.starts_with("https://")) && !text.starts_with('@') && !text.starts_with('#') && text != href && bare(&href).starts_with(&bare(&text)) {
                        out.truncate(start);
                        out.push_str(&href);
                    }
                }
            }
            _ => {}
        }
        rest = &rest[end..];
    }
    out.push_str(&decode(rest));
    out.trim().to_string()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    for q in ['"', '\''] {
        if let Some(k) = tag.find(&format!("{name}={q}")) {
            let v = &tag[k + name.len() + 2..];
            return Some(decode(&v[..v.find(q)?]));
        }
    }
    None
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&#x27;", "'").replace("&nbsp;", " ").replace("&amp;", "&")
}

/// Characters as Mastodon counts them: every http(s) URL is `url_chars`, whatever its length.
pub fn mastodon_length(text: &str, url_chars: usize) -> usize {
    let mut n = 0;
    for word in split_keep(text) {
        n += if is_url(word) { url_chars } else { word.chars().count() };
    }
    n
}

fn is_url(w: &str) -> bool {
    (w.starts_with("https://") || w.starts_with("http://")) && w.len() > 8
}

/// Whitespace runs and the words between them, in order (concatenated: the text again).
fn split_keep(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The copy's `status` and `spoiler_text`: the post's text (what the owner typed, or its HTML
/// as text), then a blank line and the original's URL. When that is longer than the server's
/// `max_characters` (with the content warning, URLs counting `url_chars`), the text is cut at
/// a word (never inside a URL) and ends with "…" before the link.
pub fn copy_text(post: &Post, max_characters: usize, url_chars: usize) -> (String, String) {
    let text = if post.source.trim().is_empty() { html_to_text(&post.content) } else { post.source.trim().to_string() };
    let link = post.url_or_uri().to_string();
    let cw = post.summary.trim().to_string();
    let budget = max_characters.saturating_sub(cw.chars().count());
    let tail = format!("\n\n{link}");
    let tail_len = 2 + url_chars;
    if text.is_empty() {
        return (link, cw);
    }
    if mastodon_length(&text, url_chars) + tail_len <= budget {
        return (format!("{text}{tail}"), cw);
    }
    // "…" takes one character.
    let room = budget.saturating_sub(tail_len + 1);
    let mut kept = String::new();
    let mut used = 0;
    for piece in split_keep(&text) {
        let len = if is_url(piece) { url_chars } else { piece.chars().count() };
        if used + len > room {
            if !is_url(piece) && !piece.trim().is_empty() && kept.trim().is_empty() {
                // One very long word: cut inside it.
                kept.extend(piece.chars().take(room - used));
            }
            break;
        }
        kept.push_str(piece);
        used += len;
    }
    (format!("{}…{tail}", kept.trim_end()), cw)
}

/// Mastodon's `visibility` for a copy (only public and unlisted posts are copied).
pub fn remote_visibility(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Unlisted => "unlisted",
        Visibility::Followers => "private",
        Visibility::Direct => "direct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text_with_breaks_and_links() {
        let html = r#"<p>Hello &amp; welcome<br>second line</p><p>See <a href="https://example.com/a/very/long/path" rel="nofollow"><span class="invisible">https://</span><span class="ellipsis">example.com/a/very/lo</span><span class="invisible">ng/path</span></a> and <a href="https://h.example/tags/x" class="hashtag">#x</a></p>"#;
        assert_eq!(html_to_text(html), "Hello & welcome\nsecond line\n\nSee https://example.com/a/very/long/path and #x");
    }

    #[test]
    fn servers_are_normalised_and_garbage_refused() {
        assert_eq!(normalize_server("mastodon.social").unwrap(), "https://mastodon.social");
        assert_eq!(normalize_server(" https://Example.org/ ").unwrap(), "https://Example.org");
        assert_eq!(normalize_server("http://127.0.0.1:8080/web").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(normalize_server("@me@example.org").unwrap(), "https://example.org");
        // Bad input tried: empty, a scheme we do not speak, spaces.
        for bad in ["", "ftp://x.org", "a b"] {
            assert!(normalize_server(bad).is_err(), "{bad}");
        }
    }

    fn post(source: &str, cw: &str) -> Post {
        let mut p: Post = serde_json::from_value(serde_json::json!({
            "id": 1, "uri": "https://me.example/users/me/statuses/1", "url": "https://me.example/@me/1",
            "author": "https://me.example/users/me", "local": true, "content": "", "source": source,
            "summary": cw, "visibility": "public", "published_ms": 0
        }))
        .unwrap();
        p.sensitive = !cw.is_empty();
        p
    }

    #[test]
    fn copies_fit_the_limit_and_link_back() {
        let (s, _) = copy_text(&post("short", ""), 500, 23);
        assert_eq!(s, "short\n\nhttps://me.example/@me/1");
        // Bad input tried: 600 characters of words plus a URL for a 500-character server.
        let long = format!("{} https://example.com/{} end", "word ".repeat(120), "x".repeat(100));
        let (s, cw) = copy_text(&post(&long, "cw here"), 500, 23);
        assert!(cw == "cw here");
        assert!(s.ends_with("…\n\nhttps://me.example/@me/1"), "{s}");
        assert!(mastodon_length(&s, 23) + 7 <= 500, "{}", mastodon_length(&s, 23));
        assert!(!s.contains("https://example.com/"), "a URL is never cut: {s}");
    }
}
