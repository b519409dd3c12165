//! Direct HTTPS with `[tls] cert/key`: a real TLS handshake (rustls client trusting the test's
//! self-signed certificate) gets the page; plain HTTP to the TLS port gets nothing; a missing
//! certificate file is a startup error naming `tls.cert`.
mod common;
use common::*;
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn self_signed(dir: &std::path::Path) -> bool {
    Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout").arg(dir.join("key.pem"))
        .arg("-out").arg(dir.join("cert.pem"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// An instance serving HTTPS with a fresh self-signed certificate (`cert.pem` in the returned
/// folder, which must live as long as the instance).
async fn https_instance(dir: &str) -> (Instance, TempDir) {
    let certs = TempDir::new(dir);
    assert!(self_signed(certs.path()), "openssl made a test certificate");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let (c2, k2) = (cert.to_str().unwrap().to_string(), key.to_str().unwrap().to_string());
    let a = Instance::start_with("alice", Box::new(move |c| c.tls = Some(pipit::config::Tls { cert: c2, key: k2, ..Default::default() }))).await;
    (a, certs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_configured_certificate() {
    let (a, certs) = https_instance("certs").await;
    let cert = certs.path().join("cert.pem");

    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tls.write_all(b"GET /about HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut resp = Vec::new();
    tls.read_to_end(&mut resp).await.ok();
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("Privacy policy"));

    // Plain HTTP to the TLS port does not get a page.
    let mut plain = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    plain.write_all(b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("Privacy policy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_certificate_is_a_startup_error() {
    let dir = TempDir::new("badtls");
    let mut cfg = pipit::cli::init(dir.path(), "https://localhost:1", "a", "127.0.0.1:0", true).unwrap();
    cfg.tls = Some(pipit::config::Tls { cert: "nope.pem".into(), key: "nope-key.pem".into(), ..Default::default() });
    cfg.save(dir.path()).unwrap();
    let app = pipit::App::open(dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = pipit::run(app, listener, std::future::pending()).await.expect_err("no certificate");
    assert!(err.to_string().contains("tls.cert"), "{err}");
}

/// Outbound HTTPS (federation fetches) builds its rustls config with the system roots on the
/// first HTTPS connection, not at startup (issue 15: an idle server held ~0.5 MiB of parsed
/// roots it never used). Two fetches race to build it; a server whose certificate is not in
/// the system's roots (the test's self-signed one) is refused with a certificate error, so the
/// roots really were loaded and used, and nothing panics. (Plain-HTTP fetches, which never
/// build it, are what every federation test does.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_https_loads_roots_on_first_use() {
    let (a, _certs) = https_instance("certs-out").await;
    let client = pipit::federation::client::HttpClient::new(true, None);
    let url = format!("https://127.0.0.1:{}/about", a.addr.port());
    let none = |_: &mut hyper::Request<http_body_util::Full<hyper::body::Bytes>>| {};
    let (r1, r2) = tokio::join!(client.get(&url, &[], &none), client.get(&url, &[], &none));
    for r in [r1, r2] {
        let e = r.err().expect("a self-signed certificate is not trusted").to_string();
        assert!(e.to_lowercase().contains("certificate"), "refused for its certificate: {e}");
    }
}
