//! Reading requests safely: bounded bodies with a deadline, forms, query strings, cookies,
//! multipart uploads, Accept negotiation.

use crate::error::{Error, Result};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::Request;
use std::time::Duration;

/// Reads the whole body, refusing more than `limit` bytes (early, from Content-Length, when it
/// is declared) and a client that takes longer than `deadline` to send it.
pub async fn body(req: Request<Incoming>, limit: usize, deadline: Duration) -> Result<(hyper::http::request::Parts, Bytes)> {
    let (parts, body) = req.into_parts();
    let bytes = body_of(&parts.headers, body, limit, deadline).await?;
    Ok((parts, bytes))
}

/// `body` for a request already split into its parts (`headers` give the declared length), so
/// the caller keeps the parts when the body is refused (e.g. to log who sent it).
pub async fn body_of(headers: &HeaderMap, body: Incoming, limit: usize, deadline: Duration) -> Result<Bytes> {
    if let Some(len) = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) {
        if len > limit as u64 {
            return Err(Error::PayloadTooLarge(limit as u64));
        }
    }
    let collected = tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await;
    match collected {
        Err(_) => Err(Error::Timeout),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(Error::PayloadTooLarge(limit as u64)),
        Ok(Err(e)) => Err(Error::BadRequest(format!("could not read request body: {e}"))),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// `application/x-www-form-urlencoded` or a query string, as ordered pairs.
#[derive(Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(s: &str) -> Form {
        Form(
            s.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A same-site path from a form's `back` field, or None: it must start with one `/` and have no
/// `//`, `/\\`, backslash, scheme or control characters anywhere, so browsers cannot read it as
/// another host (`//evil`, `/\\evil`, `/%09/evil`) and it cannot split the Location header.
pub fn same_site_path(back: &str) -> Option<&str> {
    let b = back.as_bytes();
    let ok = b.first() == Some(&b'/')
        && b.get(1) != Some(&b'/')
        && !back.contains('\\')
        && !back.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(back)
}

/// The form's `back` field when it is a same-site path, else `fallback`.
pub fn back_or(form: &Form, fallback: impl Into<String>) -> String {
    form.get("back").and_then(same_site_path).map(str::to_string).unwrap_or_else(|| fallback.into())
}

/// The client's address: the socket peer, unless the peer is one of `trusted` (config
/// `trusted_proxies`), then the right-most `X-Forwarded-For` entry that is not itself a trusted
/// proxy (entries further left are the client's own claims and can be forged).
pub fn client_ip(headers: &HeaderMap, peer: std::net::IpAddr, trusted: &[String]) -> std::net::IpAddr {
    let ranges: Vec<_> = trusted.iter().filter_map(|t| crate::config::parse_cidr(t)).collect();
    let is_trusted = |ip: std::net::IpAddr| ranges.iter().any(|r| crate::config::cidr_contains(*r, ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim_start_matches('[').split(']').next().unwrap_or(hop).parse::<std::net::IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

pub fn query(req: &Request<Incoming>) -> Form {
    Form::parse(req.uri().query().unwrap_or_default())
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn content_type(headers: &HeaderMap) -> &str {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// True when the client asked for ActivityPub JSON rather than a page (Mastodon's Accept rules).
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers.get_all(hyper::header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.contains("application/activity+json") || v.contains("application/ld+json")
    })
}

/// A submitted small form (urlencoded). Forms that carry files (multipart) are read by
/// server::upload, which streams them to disk: there is one multipart parser, not two.
pub struct Submitted {
    pub form: Form,
}

/// Parses a small urlencoded form (or a body without Content-Type). A multipart body here is
/// a 415: the routes that take files read them with server::upload.
pub fn submitted(headers: &HeaderMap, body: &Bytes) -> Result<Submitted> {
    let ct = content_type(headers);
    if ct.starts_with("application/x-www-form-urlencoded") || ct.is_empty() {
        let text = std::str::from_utf8(body).map_err(|_| Error::BadRequest("form is not UTF-8".into()))?;
        Ok(Submitted { form: Form::parse(text) })
    } else {
        Err(Error::UnsupportedMediaType(format!("expected a urlencoded form, got `{ct}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn forms_decode() {
        let f = Form::parse("a=1+2&b=%41%zz&c");
        assert_eq!(f.get("a"), Some("1 2"));
        assert_eq!(f.get("b"), Some("A%zz"));
        assert_eq!(f.get("c"), Some(""));
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
    }
    #[test]
    fn back_only_same_site() {
        // Bad inputs tried: protocol-relative, backslash tricks, absolute URLs, tabs/newlines.
        for bad in ["//evil.example", "/\\evil.example", "\\\\evil", "https://evil.example", "javascript:alert(1)", "/\t/evil", "/%0d%0aSet-Cookie:x", "/a\r\nLocation: //x", "", "evil"] {
            let bad_decoded = percent_decode(bad);
            assert_eq!(same_site_path(&bad_decoded), None, "{bad:?} must not be accepted");
        }
        assert_eq!(same_site_path("/lists/3?done=ok#x"), Some("/lists/3?done=ok#x"));
    }
    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let proxy: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let trusted = vec!["127.0.0.0/8".to_string()];
        // Forged left-most entry (6.6.6.6) is ignored: the proxy appended the real client last.
        assert_eq!(client_ip(&h, proxy, &trusted), "203.0.113.7".parse::<std::net::IpAddr>().unwrap());
        // An untrusted peer sending the header is itself the client.
        let stranger: std::net::IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(&h, stranger, &trusted), stranger);
        assert_eq!(client_ip(&h, proxy, &[]), proxy);
    }
    #[test]
    fn small_forms_are_urlencoded_only() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        assert_eq!(submitted(&h, &Bytes::from_static(b"a=1&b=x+y")).unwrap().form.get("b"), Some("x y"));
        // Tried: a multipart body on a small-form route. Files are read by server::upload only
        // (the one multipart parser, streaming to disk): here it is a 415, nothing parsed.
        h.insert(CONTENT_TYPE, "multipart/form-data; boundary=XX".parse().unwrap());
        let body = Bytes::from_static(b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--XX--\r\n");
        assert!(matches!(submitted(&h, &body), Err(Error::UnsupportedMediaType(_))));
        assert!(submitted(&HeaderMap::new(), &Bytes::from_static(b"grant_type=password")).is_ok(), "no Content-Type: a form");
    }
}
