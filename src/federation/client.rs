//! Outgoing HTTP: one pooled hyper client whose connector resolves names itself and refuses
//! loopback, private, link-local and unique-local addresses (SSRF guard) unless the config
//! allows them. HTTPS through rustls with the system's roots. Every response is size- and
//! time-limited; redirects are followed by hand (at most 3), each hop guarded again.

use crate::error::{Error, Result};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub const MAX_RESPONSE: usize = 1024 * 1024;
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_REDIRECTS: usize = 3;
pub const USER_AGENT: &str = concat!("pipit/", env!("CARGO_PKG_VERSION"), " (+ActivityPub)");

/// True for addresses a fetch of a remote URL must never reach.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 IETF
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 can reach private v4
                || (s[0] == 0x2001 && s[1] == 0xdb8)
        }
    }
}

#[derive(Clone)]
pub struct Connector {
    allow_private: bool,
    /// Built on the first HTTPS connection, not at startup: loading and parsing the system's
    /// ~150 root certificates touches rustls/webpki code and holds the trust anchors, which an
    /// idle server (or one federating only over plain HTTP in tests) never needs (issue 15).
    tls: Arc<tokio::sync::OnceCell<tokio_rustls::TlsConnector>>,
    /// Benchmarks only: connect every request here (a local sink answering for many hosts).
    override_addr: Option<SocketAddr>,
}

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

fn io_err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, msg.into())
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let https = match uri.scheme_str() {
                Some("https") => true,
                Some("http") => false,
                _ => return Err(io_err("only http and https URLs are fetched")),
            };
            let host = uri.host().ok_or_else(|| io_err("URL without host"))?.trim_start_matches('[').trim_end_matches(']').to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let addrs: Vec<SocketAddr> = match this.override_addr {
                Some(a) => vec![a],
                None => tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                    .await
                    .map_err(|_| io_err(format!("resolving {host} timed out")))??
                    .collect(),
            };
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| this.allow_private || !is_private(a.ip())).collect();
            let addr = *allowed.first().ok_or_else(|| io_err(format!("{host} resolves only to private or loopback addresses")))?;
            let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr)).await.map_err(|_| io_err(format!("connecting to {host} timed out")))??;
            let _ = tcp.set_nodelay(true);
            if !https {
                return Ok(TokioIo::new(Stream::Plain(tcp)));
            }
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| io_err(format!("bad TLS name {host}")))?;
            let connector = this.tls.get_or_init(|| async { tokio::task::spawn_blocking(tls_connector).await.unwrap_or_else(|_| tls_connector()) }).await;
            let tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp)).await.map_err(|_| io_err("TLS handshake timed out"))??;
            Ok(TokioIo::new(Stream::Tls(Box::new(tls))))
        })
    }
}

/// A response read whole (bounded by MAX_RESPONSE).
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The URL finally answered (after redirects).
    pub url: String,
}

#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

fn root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        tracing::warn!("no system TLS root certificates found (install ca-certificates): HTTPS fetches will fail");
    }
    roots
}

/// rustls with ring and the system's roots (read from disk: call it off the async threads).
fn tls_connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(root_store())
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(tls))
}

impl HttpClient {
    pub fn new(allow_private: bool, override_addr: Option<SocketAddr>) -> HttpClient {
        let connector = Connector { allow_private, tls: Default::default(), override_addr };
        let client = Client::builder(TokioExecutor::new())
            // No idle connections kept: shared inboxes make one delivery per host per post, so a
            // pool rarely gets reused, while a fan-out to 2,000 hosts kept 2,000 idle connections
            // and their buffers (measured: 50 MiB RSS, see cross/BENCHMARKS.md).
            .pool_max_idle_per_host(0)
            .build(connector);
        HttpClient { client }
    }

    /// One request, no redirects. `prepare` may add headers (signatures) to the built request.
    pub async fn send(&self, method: Method, url: &str, headers: &[(&str, String)], body: Option<Bytes>, prepare: &(dyn Fn(&mut Request<Full<Bytes>>) + Send + Sync)) -> Result<Fetched> {
        self.send_limited(method, url, headers, body, prepare, MAX_RESPONSE).await
    }

    /// [`send`](Self::send) reading at most `limit` bytes of body (media are larger than JSON).
    pub async fn send_limited(&self, method: Method, url: &str, headers: &[(&str, String)], body: Option<Bytes>, prepare: &(dyn Fn(&mut Request<Full<Bytes>>) + Send + Sync), limit: usize) -> Result<Fetched> {
        let uri: Uri = url.parse().map_err(|_| Error::BadRequest(format!("not a URL: {url}")))?;
        let mut req = Request::builder().method(method).uri(uri).header("user-agent", USER_AGENT);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let mut req = req.body(Full::new(body.unwrap_or_default())).map_err(|e| Error::BadRequest(format!("bad request for {url}: {e}")))?;
        prepare(&mut req);
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| Error::Internal(format!("{url}: {}", describe(&e))))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| Error::Internal(format!("{url}: response body: {e}")))?
                .to_bytes();
            Ok::<_, Error>(Fetched { status: parts.status, headers: parts.headers, body, url: url.to_string() })
        };
        tokio::time::timeout(TIMEOUT * 2, exchange).await.map_err(|_| Error::Internal(format!("{url}: timed out")))?
    }

    /// GET following up to MAX_REDIRECTS redirects, the body left unread: the caller streams it
    /// (media to disk, never whole in memory) and bounds it. The answer's status and headers
    /// must arrive within the usual timeout; the caller times the body.
    pub async fn get_streaming(&self, url: &str, headers: &[(&str, String)]) -> Result<hyper::Response<hyper::body::Incoming>> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let uri: Uri = url.parse().map_err(|_| Error::BadRequest(format!("not a URL: {url}")))?;
            let mut req = Request::builder().method(Method::GET).uri(uri).header("user-agent", USER_AGENT);
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            let req = req.body(Full::new(Bytes::new())).map_err(|e| Error::BadRequest(format!("bad request for {url}: {e}")))?;
            let resp = tokio::time::timeout(TIMEOUT * 2, self.client.request(req))
                .await
                .map_err(|_| Error::Internal(format!("{url}: timed out")))?
                .map_err(|e| Error::Internal(format!("{url}: {}", describe(&e))))?;
            if resp.status().is_redirection() {
                let loc = resp.headers().get("location").and_then(|v| v.to_str().ok()).ok_or_else(|| Error::Internal(format!("{url}: redirect without Location")))?;
                url = resolve_relative(&url, loc);
                continue;
            }
            return Ok(resp);
        }
        Err(Error::Internal(format!("{url}: more than {MAX_REDIRECTS} redirects")))
    }

    /// GET following up to MAX_REDIRECTS redirects; `prepare` is applied to each hop (each is
    /// signed for its own URL).
    pub async fn get(&self, url: &str, headers: &[(&str, String)], prepare: &(dyn Fn(&mut Request<Full<Bytes>>) + Send + Sync)) -> Result<Fetched> {
        self.get_limited(url, headers, prepare, MAX_RESPONSE).await
    }

    /// [`get`](Self::get) reading at most `limit` bytes of body.
    pub async fn get_limited(&self, url: &str, headers: &[(&str, String)], prepare: &(dyn Fn(&mut Request<Full<Bytes>>) + Send + Sync), limit: usize) -> Result<Fetched> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let r = self.send_limited(Method::GET, &url, headers, None, prepare, limit).await?;
            if r.status.is_redirection() {
                let loc = r.headers.get("location").and_then(|v| v.to_str().ok()).ok_or_else(|| Error::Internal(format!("{url}: redirect without Location")))?;
                url = resolve_relative(&url, loc);
                continue;
            }
            return Ok(r);
        }
        Err(Error::Internal(format!("{url}: more than {MAX_REDIRECTS} redirects")))
    }
}

fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Absolute URL for a Location header (absolute, or path-absolute).
pub(crate) fn resolve_relative(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    match base.parse::<Uri>() {
        Ok(u) if loc.starts_with('/') => format!("{}://{}{loc}", u.scheme_str().unwrap_or("https"), u.authority().map(|a| a.as_str()).unwrap_or("")),
        _ => loc.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn private_ranges() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "fc00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"] {
            assert!(is_private(ip.parse().unwrap()), "{ip} must count as private");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
