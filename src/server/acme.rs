//! HTTPS by itself: `[tls] acme = true` obtains and renews a certificate for `url`'s host from an
//! ACME CA (RFC 8555; Let's Encrypt by default) with the TLS-ALPN-01 challenge (RFC 8737), which
//! is answered on pipit's own HTTPS port: no port 80, no second listener. Or, with
//! `challenge = "http-01"` (RFC 8555 §8.3), on a plain-HTTP listener (`http_listen`, default
//! port 80) that serves `/.well-known/acme-challenge/TOKEN` and redirects all else to HTTPS.
//!
//! Files in the data folder: `keys/acme-account.json` (account URL and key), `keys/acme-cert.pem`
//! (chain) and `keys/acme-key.pem` (its key), all 0600. The served certificate sits behind a
//! [`Resolver`] that is swapped in place, so a renewal needs no restart. Renewal: `renew_days`
//! (default 30) before notAfter; a failed attempt is retried after 5 min, doubling up to 12 h,
//! while the old certificate keeps being served.

use crate::config::{Config, Tls};
use crate::error::{Error, Result};
use hyper::body::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
const FIRST_BACKOFF: Duration = Duration::from_secs(5 * 60);
const MAX_BACKOFF: Duration = Duration::from_secs(12 * 3600);

/// The certificate a TLS handshake gets: the current ACME certificate, or, for a validation
/// connection offering `acme-tls/1`, the challenge certificate for the SNI name.
#[derive(Debug, Default)]
pub struct Resolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation = hello.alpn().map(|mut protos| protos.any(|p| p == ACME_TLS_ALPN)).unwrap_or(false);
        if validation {
            let name = hello.server_name()?.to_ascii_lowercase();
            return self.challenges.read().unwrap().get(&name).cloned();
        }
        self.current.read().unwrap().clone()
    }
}

impl Resolver {
    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap() = Some(key);
    }
}

/// The certificate's life cycle for one domain: where the files are, whom to ask, when to renew.
/// Made by `Manager::new` at server start, then driven by `Manager::run` in its own task.
pub struct Manager {
    domain: String,
    email: String,
    directory: String,
    ca: Option<PathBuf>,
    renew_before: Duration,
    keys: PathBuf,
    resolver: Arc<Resolver>,
    provider: Arc<CryptoProvider>,
    /// `Some` with `challenge = "http-01"`: token → key authorization of pending challenges.
    http01: Option<Arc<Http01>>,
}

/// The plain-HTTP side of HTTP-01: answers the CA's validation requests and sends every other
/// request to the HTTPS site.
#[derive(Debug)]
pub struct Http01 {
    /// Token → key authorization (RFC 8555 §8.1), while a challenge is pending.
    tokens: RwLock<HashMap<String, String>>,
    /// Where other requests are redirected: `https://host[:port]`, no trailing slash.
    https_base: String,
    /// Where to listen (default 0.0.0.0:80).
    pub listen: std::net::SocketAddr,
}

impl Manager {
    /// Loads a stored certificate (if any) into a fresh resolver. Errors: unreadable files are
    /// logged and treated as absent (a new certificate is requested).
    pub fn new(data: &Path, config: &Config, tls: &Tls) -> Result<Manager> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let m = Manager {
            domain: config.domain(),
            email: tls.email.clone().ok_or_else(|| Error::Config("key `tls.email`: required with `acme = true`".into()))?,
            directory: tls.acme_directory.clone().unwrap_or_else(|| LETS_ENCRYPT.into()),
            ca: tls.acme_ca.as_ref().map(|p| config.resolve(data, p)),
            renew_before: Duration::from_secs(u64::from(tls.renew_days.unwrap_or(30)) * 86_400),
            keys: data.join("keys"),
            resolver: Arc::new(Resolver::default()),
            provider,
            http01: match tls.http01() {
                false => None,
                true => Some(Arc::new(Http01 {
                    tokens: Default::default(),
                    https_base: config.public_url().base,
                    listen: tls.http_listen.as_deref().unwrap_or("0.0.0.0:80").parse().map_err(|_| Error::Config("key `tls.http_listen`: not an address".into()))?,
                })),
            },
        };
        match m.load_stored() {
            Ok(Some((key, not_after))) => {
                tracing::info!(domain = %m.domain, "ACME: serving the stored certificate, valid until {}", crate::time::rfc3339(not_after));
                m.resolver.set(key);
            }
            Ok(None) => tracing::info!(domain = %m.domain, "ACME: no certificate yet; requesting one from {}", m.directory),
            Err(e) => tracing::warn!(domain = %m.domain, "ACME: stored certificate unusable ({e}); requesting a new one"),
        }
        Ok(m)
    }

    /// The HTTP-01 responder to serve on port 80 (`serve_http01`), with `challenge = "http-01"`.
    pub fn http01(&self) -> Option<Arc<Http01>> {
        self.http01.clone()
    }

    /// The resolver to put in the server's `rustls::ServerConfig`; `run` swaps its certificate.
    pub fn resolver(&self) -> Arc<Resolver> {
        self.resolver.clone()
    }

    fn cert_path(&self) -> PathBuf {
        self.keys.join("acme-cert.pem")
    }
    fn key_path(&self) -> PathBuf {
        self.keys.join("acme-key.pem")
    }
    fn account_path(&self) -> PathBuf {
        self.keys.join("acme-account.json")
    }

    /// The stored certificate and its notAfter (ms since the epoch), if there is one.
    fn load_stored(&self) -> std::result::Result<Option<(Arc<CertifiedKey>, u64)>, String> {
        let (Ok(cert), Ok(key)) = (std::fs::read(self.cert_path()), std::fs::read(self.key_path())) else {
            return Ok(None);
        };
        certified_key(&self.provider, &cert, &key).map(Some)
    }

    /// Renews forever: sleeps until `renew_days` before notAfter, then asks the CA; on failure
    /// retries with doubling backoff. Never returns (the server aborts it on shutdown).
    pub async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let due = match self.load_stored() {
                Ok(Some((_, not_after))) => {
                    let renew_at = not_after.saturating_sub(self.renew_before.as_millis() as u64);
                    Duration::from_millis(renew_at.saturating_sub(crate::time::now_ms()))
                }
                _ => Duration::ZERO,
            };
            if !due.is_zero() {
                // Re-checked at least daily: a clock set right after boot (a Pi has no RTC) or
                // files replaced by hand are noticed.
                tracing::info!(domain = %self.domain, "ACME: next renewal in {} h", due.as_secs() / 3600);
                tokio::time::sleep(due.min(Duration::from_secs(86_400))).await;
                continue;
            }
            match self.issue().await {
                Ok(not_after) => {
                    tracing::info!(domain = %self.domain, "ACME: new certificate in use, valid until {}", crate::time::rfc3339(not_after));
                    backoff = FIRST_BACKOFF;
                    // A fresh certificate inside the renewal window (a CA issuing short-lived
                    // certificates, or a `renew_days` beyond its lifetime) must not loop.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                Err(e) => {
                    let meanwhile = if self.resolver.current.read().unwrap().is_some() { "keeping the current certificate" } else { "no HTTPS until it succeeds" };
                    tracing::warn!(domain = %self.domain, "ACME: certificate request to {} failed: {e}; {meanwhile}, retrying in {} s", self.directory, backoff.as_secs());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn account(&self) -> std::result::Result<Account, String> {
        let builder = || AcmeHttp::new(self.ca.as_deref(), self.provider.clone()).map(|h| Account::builder_with_http(Box::new(h)));
        // Stored with the directory it belongs to: switching from staging to production (or
        // another CA) makes a new account instead of ordering from the old CA.
        if let Ok(json) = std::fs::read(self.account_path()) {
            if let Ok(stored) = serde_json::from_slice::<StoredAccount>(&json) {
                if stored.directory == self.directory {
                    return builder()?.from_credentials(stored.credentials).await.map_err(|e| format!("account: {e}"));
                }
            }
        }
        let contact = format!("mailto:{}", self.email);
        let (account, creds) = builder()?
            .create(&NewAccount { contact: &[&contact], terms_of_service_agreed: true, only_return_existing: false }, self.directory.clone(), None)
            .await
            .map_err(|e| format!("new account: {e}"))?;
        let json = serde_json::to_vec(&StoredAccount { directory: self.directory.clone(), credentials: creds }).map_err(|e| e.to_string())?;
        crate::fsutil::write_private(&self.account_path(), &json).map_err(|e| format!("{}: {e}", self.account_path().display()))?;
        Ok(account)
    }

    /// One order: new order, TLS-ALPN-01 for each authorization, finalize, store, swap.
    async fn issue(&self) -> std::result::Result<u64, String> {
        let account = self.account().await?;
        let ids = [Identifier::Dns(self.domain.clone())];
        let mut order = match account.new_order(&NewOrder::new(&ids)).await {
            Ok(o) => o,
            Err(e) => {
                // The CA forgot the account (deactivated, or a test CA restarted): the next
                // attempt registers a new one.
                if e.to_string().contains("accountDoesNotExist") {
                    let _ = std::fs::remove_file(self.account_path());
                }
                return Err(format!("new order: {e}"));
            }
        };
        let result = async {
            let mut authzs = order.authorizations();
            while let Some(authz) = authzs.next().await {
                let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    s => return Err(format!("authorization is {s:?}")),
                }
                if let Some(h) = &self.http01 {
                    let mut challenge = authz.challenge(ChallengeType::Http01).ok_or("the CA offers no http-01 challenge")?;
                    let key_auth = challenge.key_authorization().as_str().to_string();
                    h.tokens.write().unwrap().insert(challenge.token.clone(), key_auth);
                    tracing::info!(domain = %self.domain, "ACME: answering the http-01 challenge on http://{}", h.listen);
                    challenge.set_ready().await.map_err(|e| format!("challenge: {e}"))?;
                    continue;
                }
                let mut challenge = authz.challenge(ChallengeType::TlsAlpn01).ok_or("the CA offers no tls-alpn-01 challenge")?;
                let cert = challenge_cert(&self.provider, &self.domain, challenge.key_authorization().digest().as_ref())?;
                self.resolver.challenges.write().unwrap().insert(self.domain.clone(), cert);
                challenge.set_ready().await.map_err(|e| format!("challenge: {e}"))?;
            }
            let retry = RetryPolicy::new().timeout(Duration::from_secs(90));
            let status = order.poll_ready(&retry).await.map_err(|e| format!("validation: {e}"))?;
            if status != OrderStatus::Ready {
                return Err(format!("order is {status:?}"));
            }
            let key_pem = order.finalize().await.map_err(|e| format!("finalize: {e}"))?;
            let chain_pem = order.poll_certificate(&retry).await.map_err(|e| format!("certificate: {e}"))?;
            Ok::<_, String>((chain_pem, key_pem))
        }
        .await;
        self.resolver.challenges.write().unwrap().remove(&self.domain);
        if let Some(h) = &self.http01 {
            h.tokens.write().unwrap().clear();
        }
        let (chain_pem, key_pem) = result?;
        let (key, not_after) = certified_key(&self.provider, chain_pem.as_bytes(), key_pem.as_bytes())?;
        // Key first: a crash between the writes leaves a new key with the old chain, which
        // load_stored rejects (mismatch) and a new order replaces.
        crate::fsutil::write_private(&self.key_path(), key_pem.as_bytes()).map_err(|e| format!("{}: {e}", self.key_path().display()))?;
        crate::fsutil::write_private(&self.cert_path(), chain_pem.as_bytes()).map_err(|e| format!("{}: {e}", self.cert_path().display()))?;
        self.resolver.set(key);
        Ok(not_after)
    }
}

impl Http01 {
    /// The answer to one plain-HTTP request: the key authorization for a pending token
    /// (`200 text/plain`), 404 for an unknown token, else a 301 to the same path on HTTPS.
    fn answer(&self, path: &str, path_and_query: &str) -> http::Response<Full<Bytes>> {
        let mut r = http::Response::new(Full::new(Bytes::new()));
        if let Some(token) = path.strip_prefix("/.well-known/acme-challenge/") {
            match self.tokens.read().unwrap().get(token) {
                Some(key_auth) => {
                    *r.body_mut() = Full::new(Bytes::from(key_auth.clone()));
                    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
                }
                None => *r.status_mut() = http::StatusCode::NOT_FOUND,
            }
            return r;
        }
        *r.status_mut() = http::StatusCode::MOVED_PERMANENTLY;
        if let Ok(v) = http::HeaderValue::from_str(&format!("{}{path_and_query}", self.https_base)) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    }
}

/// Serves HTTP-01 on `listener` until aborted: one small HTTP/1.1 connection task per client,
/// each with a 10 s header timeout (this port is open to the whole internet).
pub async fn serve_http01(listener: tokio::net::TcpListener, h: Arc<Http01>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let h = h.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let pq = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
                let r = h.answer(req.uri().path(), &pq);
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).keep_alive(false);
            let conn = b.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
        });
    }
}

/// `keys/acme-account.json`: the account and the directory it was made on.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// A PEM chain and key as a rustls key, with the leaf's notAfter (ms since the epoch).
fn certified_key(provider: &CryptoProvider, chain_pem: &[u8], key_pem: &[u8]) -> std::result::Result<(Arc<CertifiedKey>, u64), String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain_pem).collect::<std::result::Result<_, _>>().map_err(|e| format!("certificate: {e}"))?;
    let leaf = chain.first().ok_or("no certificate in the chain")?;
    let not_after = not_after(leaf).ok_or("certificate without a readable notAfter")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("key: {e}"))?;
    let signer = provider.key_provider.load_private_key(key).map_err(|e| format!("key: {e}"))?;
    let ck = CertifiedKey::new(chain, signer);
    ck.keys_match().map_err(|e| format!("key does not match the certificate: {e}"))?;
    Ok((Arc::new(ck), not_after))
}

/// RFC 8737 §3: a self-signed certificate for `domain` with the critical acmeIdentifier
/// extension holding SHA-256 of the key authorization.
fn challenge_cert(provider: &CryptoProvider, domain: &str, digest: &[u8]) -> std::result::Result<Arc<CertifiedKey>, String> {
    let mut params = rcgen::CertificateParams::new(vec![domain.to_string()]).map_err(|e| e.to_string())?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let kp = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&kp).map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::Pkcs8(kp.serialize_der().into());
    let signer = provider.key_provider.load_private_key(key).map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(vec![cert.der().clone()], signer)))
}

/// The leaf's validity notAfter in ms since the epoch (RFC 5280 §4.1.2.5: UTCTime or
/// GeneralizedTime), read with a minimal DER walk.
pub fn not_after(cert: &[u8]) -> Option<u64> {
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, b) = b.split_first()?;
        let (&len0, mut b) = b.split_first()?;
        let len = if len0 < 0x80 {
            len0 as usize
        } else {
            let n = (len0 & 0x7f) as usize;
            if n == 0 || n > 4 || b.len() < n {
                return None;
            }
            let l = b[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
            b = &b[n..];
            l
        };
        (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
    }
    let (_, cert, _) = tlv(cert)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2; // version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serial, signature, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after) = tlv(validity)?;
    let (tag, t, _) = tlv(after)?;
    let t = std::str::from_utf8(t).ok()?;
    let full = match (tag, t.len()) {
        (0x17, 13) => format!("{}{}", if t[..2].parse::<u32>().ok()? >= 50 { "19" } else { "20" }, t),
        (0x18, 15) => t.to_string(),
        _ => return None,
    };
    let s = format!("{}-{}-{}T{}:{}:{}Z", &full[0..4], &full[4..6], &full[6..8], &full[8..10], &full[10..12], &full[12..14]);
    crate::time::parse_rfc3339(&s)
}

/// instant-acme's HTTP client: one HTTPS connection per request (ACME traffic is a few requests
/// a quarter), on our rustls with ring, trusting the system roots plus `acme_ca`.
struct AcmeHttp {
    tls: tokio_rustls::TlsConnector,
}

impl AcmeHttp {
    fn new(ca: Option<&Path>, provider: Arc<CryptoProvider>) -> std::result::Result<AcmeHttp, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca) = ca {
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("key `tls.acme_ca`: {}: {e}", ca.display()))?;
            for c in certs {
                roots.add(c).map_err(|e| format!("key `tls.acme_ca`: {e}"))?;
            }
        }
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(AcmeHttp { tls: tokio_rustls::TlsConnector::from(Arc::new(cfg)) })
    }
}

impl instant_acme::HttpClient for AcmeHttp {
    fn request(&self, req: http::Request<BodyWrapper<Bytes>>) -> Pin<Box<dyn Future<Output = std::result::Result<BytesResponse, instant_acme::Error>> + Send>> {
        let tls = self.tls.clone();
        Box::pin(async move {
            let fail = |m: String| instant_acme::Error::Other(m.into());
            let uri = req.uri().clone();
            if uri.scheme_str() != Some("https") {
                return Err(fail(format!("{uri}: the ACME server must be https")));
            }
            let host = uri.host().ok_or_else(|| fail(format!("{uri}: no host")))?.to_string();
            let port = uri.port_u16().unwrap_or(443);
            let exchange = async {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| fail(format!("{host}:{port}: {e}")))?;
                let name = ServerName::try_from(host.clone()).map_err(|e| fail(format!("{host}: {e}")))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| fail(format!("{host}:{port}: TLS: {e}")))?;
                let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| fail(e.to_string()))?;
                tokio::spawn(conn);
                let (mut parts, body) = req.into_parts();
                let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                // Origin-form target and a Host header, as HTTP/1.1 wants.
                parts.uri = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").parse().map_err(|_| fail(format!("{uri}: bad path")))?;
                let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or(host.clone());
                parts.headers.insert(http::header::HOST, authority.parse().map_err(|_| fail("bad host".into()))?);
                parts.headers.insert(http::header::USER_AGENT, http::HeaderValue::from_static(crate::federation::client::USER_AGENT));
                let resp = sender.send_request(http::Request::from_parts(parts, Full::new(body))).await.map_err(|e| fail(format!("{uri}: {e}")))?;
                let (parts, body) = resp.into_parts();
                let body = http_body_util::Limited::new(body, 1 << 20).collect().await.map_err(|e| fail(format!("{uri}: body: {e}")))?.to_bytes();
                Ok(BytesResponse { parts, body: Box::new(body) })
            };
            tokio::time::timeout(Duration::from_secs(30), exchange).await.map_err(|_| fail(format!("{uri}: timed out")))?
        })
    }
}
