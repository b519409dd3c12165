//! `[tls] acme = true` against Debian's `pebble` (Let's Encrypt's ACME test server, installed by
//! tests/run) on loopback. pebble validates TLS-ALPN-01 on pipit's own port (its `tlsPort`) and
//! resolves the domain `localhost` with the system resolver (/etc/hosts: 127.0.0.1); validation
//! is real (no PEBBLE_VA_ALWAYS_VALID). pebble's own HTTPS certificate is made here with rcgen
//! and given to pipit as `tls.acme_ca`.

mod common;

use common::{Instance, TempDir};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PEBBLE: &str = "/usr/bin/pebble";

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);
impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
fn log() -> Log {
    LOG.get_or_init(|| {
        let log = Log::default();
        let sink = log.clone();
        tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_ansi(false).with_writer(move || sink.clone()).init();
        log
    })
    .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running pebble, killed on drop.
struct Pebble {
    child: Child,
    dir: TempDir,
    port: u16,
    mgmt: u16,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// pebble on loopback, validating TLS-ALPN-01 against `tls_port`; `extra` is spliced into
    /// its config object.
    async fn start(tls_port: u16, extra: &str) -> Pebble {
        Pebble::start_with_http(free_port(), tls_port, extra).await
    }

    /// As `start`, validating HTTP-01 against `http_port`.
    async fn start_with_http(http_port: u16, tls_port: u16, extra: &str) -> Pebble {
        assert!(Path::new(PEBBLE).exists(), "{PEBBLE} is missing: run tests/run (it installs Debian's pebble) or apt-get install pebble");
        let dir = TempDir::new("pebble");
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), ck.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
        let (port, mgmt) = (free_port(), free_port());
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{port}", "managementListenAddress": "127.0.0.1:{mgmt}",
              "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": {http}, "tlsPort": {tls_port},
              "ocspResponderURL": "" {extra} }}}}"#,
            d = dir.path().display(),
            http = http_port,
        );
        std::fs::write(dir.path().join("pebble.json"), config).unwrap();
        let child = Command::new(PEBBLE)
            .arg("-config")
            .arg(dir.path().join("pebble.json"))
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble");
        let p = Pebble { child, dir, port, mgmt };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", mgmt)).await.is_ok() && tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pebble did not start listening on {port}/{mgmt}");
    }

    fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    fn ca_file(&self) -> String {
        self.dir.path().join("cert.pem").display().to_string()
    }

    /// The root that signs pebble's issued certificates (its management endpoint /roots/0).
    async fn issuing_root(&self) -> CertificateDer<'static> {
        let own = CertificateDer::from_pem_file(self.dir.path().join("cert.pem")).unwrap();
        let (_, status, body) = https_get(self.mgmt, "127.0.0.1", own, "/roots/0").await.expect("pebble management");
        assert_eq!(status, 200);
        CertificateDer::from_pem_slice(&body).unwrap()
    }
}

/// A real TLS handshake to 127.0.0.1:`port` with SNI `name`, trusting only `root`, and one GET.
/// Returns the leaf certificate served, the status and the body.
async fn https_get(port: u16, name: &str, root: CertificateDer<'static>, path: &str) -> Result<(Vec<u8>, u16, Vec<u8>), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from(name.to_string()).unwrap(), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("host", name).body(Empty::<Bytes>::new()).unwrap();
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes().to_vec();
    Ok((leaf, status, body))
}

/// A data folder for `https://localhost:PORT` with `[tls] acme = true` against `pebble`.
fn acme_folder(name: &str, port: u16, pebble: &Pebble, renew_days: Option<u32>) -> Arc<TempDir> {
    let dir = Arc::new(TempDir::new(name));
    let mut cfg = pipit::cli::init(dir.path(), &format!("https://localhost:{port}"), name, &format!("127.0.0.1:{port}"), true).expect("init");
    cfg.tls = Some(pipit::config::Tls {
        cert: String::new(),
        key: String::new(),
        acme: true,
        email: Some("owner@localhost.example".into()),
        acme_directory: Some(pebble.directory()),
        acme_ca: Some(pebble.ca_file()),
        renew_days,
        ..Default::default()
    });
    cfg.save(dir.path()).unwrap();
    dir
}

fn set_renew_days(dir: &Path, days: u32) {
    let mut cfg = pipit::Config::load(dir).unwrap();
    cfg.tls.as_mut().unwrap().renew_days = Some(days);
    cfg.save(dir).unwrap();
}

async fn eventually_served(port: u16, root: &CertificateDer<'static>, not: Option<&[u8]>) -> Vec<u8> {
    let mut last = String::new();
    for _ in 0..600 {
        match https_get(port, "localhost", root.clone(), "/").await {
            Ok((leaf, status, _)) if Some(leaf.as_slice()) != not => {
                assert!(status < 500, "status {status}");
                return leaf;
            }
            Ok(_) => last = "still the old certificate".into(),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no (new) certificate from pebble served within 60 s: {last}\nlog:\n{}", log().text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obtains_serves_renews_without_restart_and_keeps_the_old_certificate_when_the_ca_is_unreachable() {
    let log = log();
    let port = free_port();
    let pebble = Pebble::start(port, "").await;
    let root = pebble.issuing_root().await;

    // 1. First start: no certificate; pipit orders one, answers pebble's TLS-ALPN-01 validation
    //    on its own port and serves the issued chain (verified against pebble's issuing root).
    let dir = acme_folder("acme", port, &pebble, None);
    let a = Instance::restart(dir.clone()).await;
    let first = eventually_served(port, &root, None).await;
    let keys = dir.path().join("keys");
    for f in ["acme-account.json", "acme-cert.pem", "acme-key.pem"] {
        let meta = std::fs::metadata(keys.join(f)).unwrap_or_else(|e| panic!("keys/{f}: {e}"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o077, 0, "keys/{f} is private");
    }
    let stored = std::fs::read(keys.join("acme-cert.pem")).unwrap();
    let stored_leaf = CertificateDer::pem_slice_iter(&stored).next().unwrap().unwrap();
    assert_eq!(stored_leaf.as_ref(), first.as_slice(), "the served certificate is the stored one");
    let expiry = pipit::server::acme::not_after(&first).expect("notAfter");
    assert!(expiry > pipit::time::now_ms() + 31 * 86_400_000, "pebble's certificate lasts beyond the 30-day window");
    let dir = a.stop().await;

    // 2. Told the certificate expires soon (renew window wider than its lifetime): on start it
    //    serves the stored certificate at once, then swaps in a new one without a restart.
    set_renew_days(dir.path(), 100_000);
    let a = Instance::restart(dir.clone()).await;
    let second = eventually_served(port, &root, Some(&first)).await;
    assert_ne!(first, second);
    assert!(log.text().contains("ACME: new certificate in use"), "{}", log.text());
    let dir = a.stop().await;

    // 3. Bad input: the CA is unreachable (pebble stopped). The renewal fails with a clear log
    //    line and a backoff, and the current certificate keeps being served.
    drop(pebble);
    let a = Instance::restart(dir.clone()).await;
    let mut logged = false;
    for _ in 0..300 {
        if log.text().lines().any(|l| l.contains(&format!("https://127.0.0.1:")) && l.contains("failed") && l.contains("keeping the current certificate, retrying in 300 s")) {
            logged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logged, "no backoff log line for the unreachable CA:\n{}", log.text());
    let (leaf, status, _) = https_get(port, "localhost", root.clone(), "/").await.expect("still serving HTTPS");
    assert_eq!(leaf, second, "the old certificate is still served");
    assert!(status < 500);
    a.stop().await;
}

/// Issue 15: HTTP-01 on a plain-HTTP listener (port 80 in production) instead of TLS-ALPN-01.
/// pebble validates over real HTTP on `http_listen`; pipit must answer there with the key
/// authorization. Bad inputs tried on that port: an unknown token (404, nothing leaked) and an
/// ordinary page request (a redirect to HTTPS, never the page itself over plain HTTP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_01_on_a_plain_http_port_obtains_and_serves_a_certificate() {
    let log = log();
    let (port, http_port) = (free_port(), free_port());
    let pebble = Pebble::start_with_http(http_port, port, "").await;
    let root = pebble.issuing_root().await;
    let dir = acme_folder("acmehttp", port, &pebble, None);
    let mut cfg = pipit::Config::load(dir.path()).unwrap();
    let tls = cfg.tls.as_mut().unwrap();
    tls.challenge = Some("http-01".into());
    tls.http_listen = Some(format!("127.0.0.1:{http_port}"));
    cfg.save(dir.path()).unwrap();
    let a = Instance::restart(dir.clone()).await;
    let leaf = eventually_served(port, &root, None).await;
    let stored = std::fs::read(dir.path().join("keys/acme-cert.pem")).unwrap();
    assert_eq!(CertificateDer::pem_slice_iter(&stored).next().unwrap().unwrap().as_ref(), leaf.as_slice(), "the served certificate is the stored one");
    assert!(log.text().contains(&format!("answering the http-01 challenge on http://127.0.0.1:{http_port}")), "validated by http-01, not tls-alpn-01:\n{}", log.text());

    let plain = |path: &'static str| async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", http_port)).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        let req = hyper::Request::get(path).header("host", "localhost").body(Empty::<Bytes>::new()).unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, location, body)
    };
    let (status, _, body) = plain("/.well-known/acme-challenge/not-a-pending-token").await;
    assert_eq!(status, 404, "an unknown token");
    assert!(body.is_empty());
    let (status, location, _) = plain("/@acmehttp?page=2").await;
    assert_eq!(status, 301, "plain HTTP is redirected");
    assert_eq!(location.as_deref(), Some(format!("https://localhost:{port}/@acmehttp?page=2").as_str()));
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_ca_gets_a_clear_log_line() {
    // Bad input: pebble demands external account binding, which pipit does not have: the
    // account request is refused with an ACME problem, which the log line names.
    let log = log();
    let port = free_port();
    let pebble = Pebble::start(port, r#", "externalAccountBindingRequired": true, "externalAccountMACKeys": {"kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"}"#).await;
    let dir = acme_folder("refused", port, &pebble, None);
    let a = Instance::restart(dir.clone()).await;
    let mut line = None;
    for _ in 0..300 {
        line = log.text().lines().find(|l| l.contains(&pebble.directory()) && l.contains("failed")).map(String::from);
        if line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = line.unwrap_or_else(|| panic!("no refusal logged:\n{}", log.text()));
    eprintln!("refusal logged: {line}");
    assert!(line.contains("new account") && line.to_lowercase().contains("external"), "{line}");
    assert!(https_get(port, "localhost", pebble.issuing_root().await, "/").await.is_err(), "no certificate, no HTTPS");
    a.stop().await;
}

#[test]
fn acme_without_an_email_is_a_config_error() {
    // Bad input: `acme = true` without `email`; and with both `acme` and PEM files.
    let dir = TempDir::new("acme-config");
    pipit::cli::init(dir.path(), "https://pipit.example", "owner", "127.0.0.1:8443", false).unwrap();
    let path = pipit::Config::path(dir.path());
    let base = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{base}\n[tls]\nacme = true\n")).unwrap();
    let e = pipit::Config::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tls.email") && e.contains("required"), "{e}");
    std::fs::write(&path, format!("{base}\n[tls]\nacme = true\nemail = \"me@pipit.example\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n")).unwrap();
    let e = pipit::Config::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not both"), "{e}");
    std::fs::write(&path, format!("{base}\n[tls]\nacme = true\nemail = \"me@pipit.example\"\n")).unwrap();
    let cfg = pipit::Config::load(dir.path()).expect("acme with email loads");
    assert_eq!(cfg.domain(), "pipit.example");
    // Bad input: a challenge type pipit does not speak, and a malformed port-80 address.
    std::fs::write(&path, format!("{base}\n[tls]\nacme = true\nemail = \"me@pipit.example\"\nchallenge = \"dns-01\"\n")).unwrap();
    let e = pipit::Config::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tls.challenge") && e.contains("dns-01"), "{e}");
    std::fs::write(&path, format!("{base}\n[tls]\nacme = true\nemail = \"me@pipit.example\"\nchallenge = \"http-01\"\nhttp_listen = \"port eighty\"\n")).unwrap();
    let e = pipit::Config::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tls.http_listen"), "{e}");
    std::fs::write(&path, format!("{base}\n[tls]\nacme = true\nemail = \"me@pipit.example\"\nchallenge = \"http-01\"\n")).unwrap();
    assert!(pipit::Config::load(dir.path()).unwrap().tls.unwrap().http01());
}
