//! Every URL pipit hands out is minted here, from the configured public base URL. routes.rs is
//! the inverse. Actor and post ids use Mastodon's shapes (/users/NAME, /users/NAME/statuses/ID),
//! pages use /@NAME and /@NAME/ID; both answer HTML or ActivityPub by content negotiation.

use crate::config::PublicUrl;

#[derive(Debug, Clone)]
pub struct Urls {
    pub base: String,
    pub host: String,
    pub scheme: String,
    pub username: String,
    /// Key signing remote-media cache URLs (`/cache/…`); `None`: remote media are hot-linked
    /// (config `media_cache_mib = 0`). Set by `App::load`.
    pub media_cache_key: Option<Vec<u8>>,
}

impl Urls {
    pub fn new(public: &PublicUrl, username: &str) -> Urls {
        Urls { base: public.base.clone(), host: public.host.clone(), scheme: public.scheme.clone(), username: username.into(), media_cache_key: None }
    }
    /// Where pages point for a remote image/video of `actor`: our own `/cache/SIG/ACTOR/URL`
    /// (base64url, signed so only URLs we rendered are ever fetched), or `url` itself when the cache
    /// is off, the URL is ours already, or it is not http(s).
    pub fn remote_media(&self, url: &str, actor: &str) -> String {
        use base64::Engine;
        let Some(key) = &self.media_cache_key else { return url.to_string() };
        if url.starts_with(&self.base) || !(url.starts_with("https://") || url.starts_with("http://")) {
            return url.to_string();
        }
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}/cache/{}/{}/{}", self.base, media_cache_sig(key, actor, url), b.encode(actor), b.encode(url))
    }
    /// `@name@host`
    pub fn handle(&self) -> String {
        format!("@{}@{}", self.username, self.host)
    }
    pub fn actor(&self) -> String {
        format!("{}/users/{}", self.base, self.username)
    }
    pub fn key_id(&self) -> String {
        format!("{}#main-key", self.actor())
    }
    pub fn profile(&self) -> String {
        format!("{}/@{}", self.base, self.username)
    }
    pub fn post_uri(&self, id: u64) -> String {
        format!("{}/statuses/{id}", self.actor())
    }
    /// `post_uri` as the id a Post holds (the configured base URL is http(s), config.rs).
    pub fn post_id_url(&self, id: u64) -> crate::httpurl::HttpUrl {
        crate::httpurl::HttpUrl::parse(&self.post_uri(id)).expect("the configured base URL is http(s)")
    }
    pub fn post_url(&self, id: u64) -> String {
        format!("{}/@{}/{id}", self.base, self.username)
    }
    /// Local post id from either of its URLs, if the URL is ours.
    pub fn local_post_id(&self, url: &str) -> Option<u64> {
        let rest = url
            .strip_prefix(&format!("{}/statuses/", self.actor()))
            .or_else(|| url.strip_prefix(&format!("{}/", self.profile())))?;
        rest.parse().ok()
    }
    pub fn tag(&self, tag: &str) -> String {
        format!("{}/tags/{tag}", self.base)
    }
    pub fn media(&self, file: &str) -> String {
        format!("{}/media/{file}", self.base)
    }
    pub fn atom(&self) -> String {
        format!("{}.atom", self.profile())
    }
    pub fn rss(&self) -> String {
        format!("{}.rss", self.profile())
    }
    pub fn static_file(&self, name: &str) -> String {
        format!("{}/static/{name}", self.base)
    }
}

/// Hex HMAC-SHA256 (first 16 bytes) of `actor` + newline + `url`: the name of a cached file and
/// the proof that we minted its URL.
pub fn media_cache_sig(key: &[u8], actor: &str, url: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, format!("{actor}\n{url}").as_bytes());
    tag.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
}
