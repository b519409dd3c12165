//! `DATA/pipit.toml`: every key documented in README.md. Unknown keys are an error (a typo must
//! not silently fall back to a default), and every error names the key or file it is about.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "pipit.toml";
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_USERNAME: &str = "me";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Public base URL, scheme + host (+ port). The port is part of the handle's host.
    pub url: String,
    /// The owner's username: `@username@host`.
    pub username: String,
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Let outgoing fetches reach loopback/private addresses (tests, LAN-only setups).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// redb page cache in MiB. Small by default: the Pi has little memory and the OS caches too.
    #[serde(default = "default_cache_mib")]
    pub cache_mib: u32,
    /// Largest request body accepted, in KiB (uploads included).
    #[serde(default = "default_max_body_kib")]
    pub max_body_kib: u32,
    /// Largest avatar/header/image upload in KiB.
    #[serde(default = "default_max_upload_kib")]
    pub max_upload_kib: u32,
    /// Longest side, in pixels, an uploaded image keeps; larger ones are scaled down.
    #[serde(default = "default_max_image_side")]
    pub max_image_side: u32,
    /// Remote media cache size in MiB (least recently used evicted); 0 = hot-link remote media.
    #[serde(default = "default_media_cache_mib")]
    pub media_cache_mib: u32,
    /// Largest video/audio attachment in KiB (stored unchanged).
    #[serde(default = "default_max_media_kib")]
    pub max_media_kib: u32,
    /// How long a login lasts, in seconds.
    #[serde(default = "default_session_secs")]
    pub session_secs: u64,
    /// Seconds a client may take to send its request headers (slowloris guard) and body.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Log level: error, warn, info, debug, trace.
    #[serde(default = "default_log")]
    pub log: String,
    /// Deliveries in flight at once, and to one host at once.
    #[serde(default = "default_delivery_concurrency")]
    pub delivery_concurrency: u32,
    #[serde(default = "default_delivery_per_host")]
    pub delivery_per_host: u32,
    /// Attempts before a delivery becomes a dead letter (Mastodon: 16, about 2–3 days).
    #[serde(default = "default_delivery_max_attempts")]
    pub delivery_max_attempts: u32,
    /// Unit of the retry schedule (attempt⁴ + 15 units): 1000 = seconds, as Mastodon.
    #[serde(default = "default_delivery_backoff_unit_ms")]
    pub delivery_backoff_unit_ms: u64,
    /// Answer unsigned GETs of ActivityPub JSON with 401 (Mastodon's "secure mode").
    #[serde(default)]
    pub authorized_fetch: bool,
    /// Reverse proxies (IP addresses or CIDR ranges) whose `X-Forwarded-For` names the real client.
    /// Empty: the socket's peer address is the client, and the header is ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// Open client connections at most; beyond it the idlest ones are closed first.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Let client apps log in with the owner's password (OAuth password grant; CLI tools and
    /// bots use it). Off: apps must use the consent page.
    #[serde(default = "default_oauth_password_grant")]
    pub oauth_password_grant: bool,
    /// Benchmarks only: send every outgoing connection to this address (a local sink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_override: Option<String>,
    /// Seconds a new federated post is held before its Create goes to the queue (the undo
    /// window; 0 = at once, at most [`MAX_UNDO_WINDOW_SECS`]). Signed so that -1 gets a clear
    /// error rather than a TOML type error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub undo_window_secs: i64,
    /// Days posts that came only through a relay are kept (1–365); then they are removed
    /// unless the owner bookmarked, liked, boosted or answered them.
    #[serde(default = "default_relay_retention_days")]
    pub relay_retention_days: u32,
    /// A WebSub hub (http(s) URL) named as `<link rel="hub">` in the profile and tag feeds, and
    /// pinged when a public post changes them (federation::websub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websub_hub: Option<String>,
    /// Languages the owner reads (BCP 47, e.g. ["de", "en"]): a remote post's `contentMap` is
    /// shown in the first of these it has. Empty: the author's first language. (Before `keys`:
    /// TOML writes plain values before tables, so a value after a table would not save.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    #[serde(default)]
    pub keys: KeyFiles,
    /// Serve HTTPS directly; leave out when behind a reverse proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

/// The longest undo window: an hour (Threads offers minutes; longer holds surprise readers).
pub const MAX_UNDO_WINDOW_SECS: i64 = 3600;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn default_relay_retention_days() -> u32 {
    7
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFiles {
    /// RSA-2048 PKCS#8 PEM, relative to the data folder unless absolute.
    pub rsa: String,
    /// Ed25519 PKCS#8 PEM.
    pub ed25519: String,
    /// RSA-2048 PKCS#8 PEM of the instance actor (`/actor`, signs fetches): its own key, so a
    /// server that blocks or distrusts one of the two actors does not see the other's key.
    /// Created on first start when missing (data folders from before it existed).
    #[serde(default = "default_instance_rsa")]
    pub instance_rsa: String,
}

fn default_instance_rsa() -> String {
    "keys/instance-rsa.pem".into()
}

impl Default for KeyFiles {
    fn default() -> Self {
        KeyFiles { rsa: "keys/actor-rsa.pem".into(), ed25519: "keys/actor-ed25519.pem".into(), instance_rsa: default_instance_rsa() }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain file (relative to the data folder); unused with `acme`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// PEM private key file; unused with `acme`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Obtain and renew the certificate for `url`'s host by ACME (RFC 8555, TLS-ALPN-01 on the
    /// listening port), stored in keys/acme-*.
    #[serde(default)]
    pub acme: bool,
    /// Contact address for the ACME account (required with `acme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ACME directory URL; default Let's Encrypt production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_directory: Option<String>,
    /// Extra PEM root certificate trusted for the ACME server's own HTTPS (tests: pebble).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_ca: Option<String>,
    /// Renew this many days before the certificate's notAfter (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_days: Option<u32>,
    /// ACME challenge: `"tls-alpn-01"` (default: answered on the HTTPS port itself) or
    /// `"http-01"` (RFC 8555 §8.3: answered on plain HTTP at `http_listen`, port 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// With `challenge = "http-01"`: where the plain-HTTP listener binds (default `0.0.0.0:80`).
    /// It answers `/.well-known/acme-challenge/TOKEN` and redirects everything else to HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<String>,
}

impl Tls {
    /// True when ACME validates over plain HTTP on port 80 (`challenge = "http-01"`).
    pub fn http01(&self) -> bool {
        self.challenge.as_deref() == Some("http-01")
    }
}

fn default_oauth_password_grant() -> bool {
    true
}

fn default_listen() -> String {
    DEFAULT_LISTEN.into()
}
fn default_cache_mib() -> u32 {
    4
}
fn default_max_body_kib() -> u32 {
    10 * 1024
}
fn default_max_upload_kib() -> u32 {
    8 * 1024
}
fn default_media_cache_mib() -> u32 {
    256
}
fn default_max_media_kib() -> u32 {
    40 * 1024
}
fn default_max_image_side() -> u32 {
    2560
}
fn default_session_secs() -> u64 {
    30 * 24 * 3600
}
fn default_request_timeout_secs() -> u64 {
    30
}
fn default_delivery_concurrency() -> u32 {
    16
}
fn default_delivery_per_host() -> u32 {
    2
}
fn default_delivery_max_attempts() -> u32 {
    16
}
fn default_delivery_backoff_unit_ms() -> u64 {
    1000
}
fn default_max_connections() -> u32 {
    // systemd's default soft file limit is 1024; leave room for the store, deliveries, fetches.
    512
}
fn default_log() -> String {
    "info".into()
}

/// The parts of `url` that everything else needs.
#[derive(Debug, Clone)]
pub struct PublicUrl {
    /// `https` or `http`.
    pub scheme: String,
    /// Host with port if not the scheme's default: the handle's host part.
    pub host: String,
    /// `scheme://host` without trailing slash.
    pub base: String,
}

impl Config {
    pub fn new(url: &str, username: &str, listen: &str) -> Config {
        Config {
            url: url.into(),
            username: username.into(),
            listen: listen.into(),
            allow_private_addresses: false,
            cache_mib: default_cache_mib(),
            max_body_kib: default_max_body_kib(),
            max_upload_kib: default_max_upload_kib(),
            max_image_side: default_max_image_side(),
            max_media_kib: default_max_media_kib(),
            media_cache_mib: default_media_cache_mib(),
            session_secs: default_session_secs(),
            request_timeout_secs: default_request_timeout_secs(),
            log: default_log(),
            delivery_concurrency: default_delivery_concurrency(),
            delivery_per_host: default_delivery_per_host(),
            delivery_max_attempts: default_delivery_max_attempts(),
            delivery_backoff_unit_ms: default_delivery_backoff_unit_ms(),
            authorized_fetch: false,
            trusted_proxies: Vec::new(),
            max_connections: default_max_connections(),
            oauth_password_grant: true,
            connect_override: None,
            keys: KeyFiles::default(),
            tls: None,
            languages: Vec::new(),
            undo_window_secs: 0,
            relay_retention_days: default_relay_retention_days(),
            websub_hub: None,
        }
    }

    pub fn path(data: &Path) -> PathBuf {
        data.join(CONFIG_FILE)
    }

    pub fn load(data: &Path) -> Result<Config> {
        let path = Config::path(data);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        let config: Config = basic_toml::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), one_line(&e.to_string()))))?;
        config.validate().map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    pub fn save(&self, data: &Path) -> Result<()> {
        let text = basic_toml::to_string(self).map_err(|e| Error::Internal(e.to_string()))?;
        let header = "# pipit configuration: every key is explained in README.md (Configuration).\n";
        crate::fsutil::write_atomic(&Config::path(data), format!("{header}{text}").as_bytes())?;
        Ok(())
    }

    fn validate(&self) -> std::result::Result<(), String> {
        parse_public_url(&self.url).map_err(|e| format!("key `url`: {e}"))?;
        validate_username(&self.username).map_err(|e| format!("key `username`: {e}"))?;
        self.listen_addr().map_err(|e| format!("key `listen`: {e}"))?;
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.as_str()) {
            return Err(format!("key `log`: `{}` is not one of error, warn, info, debug, trace", self.log));
        }
        if self.cache_mib == 0 || self.cache_mib > 4096 {
            return Err("key `cache_mib`: must be between 1 and 4096".into());
        }
        if self.max_body_kib < 64 {
            return Err("key `max_body_kib`: must be at least 64".into());
        }
        if let Some(a) = &self.connect_override {
            a.parse::<SocketAddr>().map_err(|_| format!("key `connect_override`: `{a}` is not an address"))?;
        }
        if self.delivery_max_attempts == 0 {
            return Err("key `delivery_max_attempts`: must be at least 1".into());
        }
        for p in &self.trusted_proxies {
            parse_cidr(p).ok_or_else(|| format!("key `trusted_proxies`: `{p}` is not an IP address or CIDR range"))?;
        }
        if self.max_connections < 8 {
            return Err("key `max_connections`: must be at least 8".into());
        }
        if !(0..=MAX_UNDO_WINDOW_SECS).contains(&self.undo_window_secs) {
            return Err(format!(
                "key `undo_window_secs`: {} is not between 0 (send at once) and {MAX_UNDO_WINDOW_SECS} (one hour)",
                self.undo_window_secs
            ));
        }
        if self.session_secs == 0 {
            return Err("key `session_secs`: must be at least 1".into());
        }
        if !(1..=365).contains(&self.relay_retention_days) {
            return Err("key `relay_retention_days`: must be 1 to 365".into());
        }
        if let Some(h) = &self.websub_hub {
            if crate::httpurl::HttpUrl::parse(h).is_none() {
                return Err(format!("key `websub_hub`: `{h}` is not an http(s) URL"));
            }
        }
        if let Some(t) = &self.tls {
            if t.acme {
                match &t.email {
                    Some(e) if e.contains('@') && !e.contains(char::is_whitespace) => {}
                    Some(e) => return Err(format!("key `tls.email`: `{e}` is not an email address")),
                    None => return Err("key `tls.email`: required with `acme = true` (the ACME account's contact address)".into()),
                }
                if !t.cert.is_empty() || !t.key.is_empty() {
                    return Err("key `tls.acme`: set either `acme = true` or `cert` and `key`, not both".into());
                }
                if self.domain().parse::<std::net::IpAddr>().is_ok() {
                    return Err("key `tls.acme`: needs a domain name in `url`, not an IP address".into());
                }
                if !matches!(t.challenge.as_deref(), None | Some("tls-alpn-01") | Some("http-01")) {
                    return Err(format!("key `tls.challenge`: `{}` is not \"tls-alpn-01\" or \"http-01\"", t.challenge.as_deref().unwrap_or_default()));
                }
                if let Some(l) = &t.http_listen {
                    if l.parse::<std::net::SocketAddr>().is_err() {
                        return Err(format!("key `tls.http_listen`: `{l}` is not an address like 0.0.0.0:80"));
                    }
                }
            } else if t.cert.is_empty() || t.key.is_empty() {
                return Err("key `tls`: set `cert` and `key`, or `acme = true` with `email`".into());
            }
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> std::result::Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| format!("`{}` is not an address like 127.0.0.1:8080", self.listen))
    }

    pub fn public_url(&self) -> PublicUrl {
        // validate() ran at load; a bad URL cannot get here.
        parse_public_url(&self.url).unwrap_or_else(|_| parse_public_url(DEFAULT_URL).unwrap())
    }

    /// `url`'s host name without port or IPv6 brackets (the name an ACME certificate is for).
    pub fn domain(&self) -> String {
        let host = self.public_url().host;
        let host = match host.rsplit_once(':') {
            Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
            _ => host,
        };
        host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
    }

    pub fn resolve(&self, data: &Path, file: &str) -> PathBuf {
        let p = Path::new(file);
        if p.is_absolute() { p.to_path_buf() } else { data.join(p) }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn validate_username(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > 30 {
        return Err("must be 1 to 30 characters".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{name}` may only use letters, digits and _"));
    }
    Ok(())
}

/// Accepts `https://host[:port]` or `http://host[:port]`, with no path, query or credentials.
pub fn parse_public_url(url: &str) -> std::result::Result<PublicUrl, String> {
    let url = url.trim_end_matches('/');
    let uri: hyper::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    let scheme = uri.scheme_str().ok_or_else(|| format!("`{url}` needs http:// or https://"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("`{url}`: scheme must be http or https"));
    }
    let auth = uri.authority().ok_or_else(|| format!("`{url}` has no host"))?;
    if auth.as_str().contains('@') {
        return Err(format!("`{url}` must not contain credentials"));
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(format!("`{url}` must be a bare origin, without a path"));
    }
    let host = auth.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let host = match auth.port_u16() {
        Some(p) if p != default_port => format!("{host}:{p}"),
        _ => host,
    };
    Ok(PublicUrl { scheme: scheme.into(), base: format!("{scheme}://{host}"), host })
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Every value key comes before the tables (`keys`, `tls`): a config with every optional
    /// value set must save. Tried: `languages` set, which once came after `[keys]` and made
    /// `save` fail ("values must be emitted before tables").
    #[test]
    fn a_config_with_every_value_set_saves_and_loads() {
        let dir = std::env::temp_dir().join(format!("pipit-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = Config::new("https://example.org", "ann", "127.0.0.1:8080");
        c.languages = vec!["de".into(), "en".into()];
        c.trusted_proxies = vec!["10.0.0.0/8".into()];
        c.undo_window_secs = 60;
        c.websub_hub = Some("https://hub.example/".into());
        c.save(&dir).expect("saves");
        let back = Config::load(&dir).expect("loads");
        assert_eq!((back.languages, back.undo_window_secs, back.websub_hub), (c.languages, 60, c.websub_hub));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn public_url_forms() {
        let u = parse_public_url("https://Example.org/").unwrap();
        assert_eq!((u.host.as_str(), u.base.as_str()), ("example.org", "https://example.org"));
        let u = parse_public_url("http://127.0.0.1:8081").unwrap();
        assert_eq!(u.host, "127.0.0.1:8081");
        let u = parse_public_url("https://example.org:443").unwrap();
        assert_eq!(u.host, "example.org");
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("https://x/path").is_err());
        assert!(parse_public_url("not a url").is_err());
        assert!(parse_public_url("https://u:p@x").is_err());
    }
}

/// `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8` → (network, prefix length).
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, len) = match s.trim().split_once('/') {
        Some((ip, len)) => (ip.parse::<std::net::IpAddr>().ok()?, Some(len.parse::<u8>().ok()?)),
        None => (s.trim().parse().ok()?, None),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

/// True when `ip` lies in the range `(net, len)` from [`parse_cidr`] (IPv4-mapped IPv6 counts as IPv4).
pub fn cidr_contains((net, len): (std::net::IpAddr, u8), ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr::*;
    let ip = match ip {
        V6(v6) => v6.to_ipv4_mapped().map(V4).unwrap_or(V6(v6)),
        v4 => v4,
    };
    match (net, ip) {
        (V4(n), V4(a)) => len == 0 || (u32::from(n) ^ u32::from(a)) >> (32 - len as u32) == 0,
        (V6(n), V6(a)) => len == 0 || (u128::from(n) ^ u128::from(a)) >> (128 - len as u32) == 0,
        _ => false,
    }
}
