//! `HttpUrl`: a string that is, provably, an absolute `http:` or `https:` URL. Every URL that
//! came from a remote server and may reach an attribute of a page or feed is held as one, so a
//! `javascript:`, `data:` or `vbscript:` URL cannot reach an `href` or `src` by construction:
//! the only ways in are [`HttpUrl::parse`] and deserializing (which runs the same check).
//!
//! Stored records written before this type existed may hold a bad URL; the `lenient_*` helpers
//! are for `#[serde(deserialize_with)]` on record fields, so such a record still loads with the
//! bad URL dropped instead of failing as a whole.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An absolute `http(s)://host…` URL (RFC 3986, ASCII only), at most 4096 bytes, kept exactly as
/// received (ids must compare equal to what the remote server sent).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpUrl(String);

/// Longest URL accepted; longer ones are noise or an attack on page size.
pub const MAX_LEN: usize = 4096;

impl HttpUrl {
    /// `Some` when `s` is an absolute http(s) URL with a host and no credentials. Rejects
    /// every other scheme (`javascript:`, `data:`, …), relative and protocol-relative URLs,
    /// whitespace, control characters and anything `hyper::Uri` refuses.
    pub fn parse(s: &str) -> Option<HttpUrl> {
        // Printable ASCII only, and none of the characters that would end an attribute or a
        // tag: they have no business in a URL. One pass over the bytes (issue 13: a `contains`
        // with a set of chars was ~4 % of an uncached page).
        if s.is_empty() || s.len() > MAX_LEN || !s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\')) {
            return None;
        }
        // Scheme check on the raw text first: hyper would accept e.g. "javascript://x".
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return None;
        }
        let uri: hyper::Uri = s.parse().ok()?;
        let scheme = uri.scheme_str()?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let auth = uri.authority()?;
        if auth.host().is_empty() || auth.as_str().contains('@') {
            return None;
        }
        Some(HttpUrl(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for HttpUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for HttpUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl PartialEq<str> for HttpUrl {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for HttpUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for HttpUrl {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<HttpUrl> for String {
    fn eq(&self, other: &HttpUrl) -> bool {
        *self == other.0
    }
}

impl PartialEq<HttpUrl> for str {
    fn eq(&self, other: &HttpUrl) -> bool {
        self == other.0
    }
}

impl PartialEq<HttpUrl> for &str {
    fn eq(&self, other: &HttpUrl) -> bool {
        *self == other.0
    }
}

impl From<HttpUrl> for String {
    fn from(u: HttpUrl) -> String {
        u.0
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Strict: anything but an http(s) URL string is an error.
impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HttpUrl, D::Error> {
        let s = String::deserialize(d)?;
        HttpUrl::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not an http(s) URL: {:?}", s.chars().take(80).collect::<String>())))
    }
}

/// `#[serde(default, deserialize_with = "lenient_opt")]`: a bad or missing URL loads as `None`.
pub fn lenient_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HttpUrl>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(|v| v.as_str()).and_then(HttpUrl::parse))
}

/// `#[serde(default, deserialize_with = "lenient_vec")]`: items that do not load (a bad URL in
/// one attachment or mention) are dropped; the rest of the list and the record survive.
pub fn lenient_vec<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let v = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(v.into_iter().filter_map(|x| serde_json::from_value(x).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn only_http_and_https() {
        for ok in ["https://a.example/@x", "http://127.0.0.1:8080/p?q=1#f", "HTTPS://A.EXAMPLE/x"] {
            assert!(HttpUrl::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "javascript://a.example/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "//evil.example/x",
            "/local/path",
            "https://",
            "https://user:pw@a.example/",
            "https://a.example/\"onmouseover=alert(1)",
            "https://a.example/ x",
            "",
        ] {
            assert!(HttpUrl::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
    #[test]
    fn strict_and_lenient_loading() {
        assert!(serde_json::from_str::<HttpUrl>("\"javascript:alert(1)\"").is_err());
        #[derive(Deserialize)]
        struct R {
            #[serde(default, deserialize_with = "lenient_opt")]
            u: Option<HttpUrl>,
            #[serde(default, deserialize_with = "lenient_vec")]
            v: Vec<HttpUrl>,
        }
        let r: R = serde_json::from_str(r#"{"u":"javascript:alert(1)","v":["https://ok.example/","data:x"]}"#).unwrap();
        assert!(r.u.is_none());
        assert_eq!(r.v.len(), 1);
    }
}
