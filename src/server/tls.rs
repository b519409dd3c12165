//! Direct HTTPS with rustls (ring provider), for setups without a reverse proxy.

use crate::config::{Config, Tls};
use crate::error::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The TLS acceptor, and with `acme = true` the renewal task to spawn beside the server.
pub fn acceptor(data: &Path, config: &Config, tls: &Tls) -> Result<(TlsAcceptor, Option<super::acme::Manager>)> {
    if tls.acme {
        let manager = super::acme::Manager::new(data, config, tls)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("tls: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(manager.resolver());
        cfg.alpn_protocols = vec![b"http/1.1".to_vec(), super::acme::ACME_TLS_ALPN.to_vec()];
        return Ok((TlsAcceptor::from(Arc::new(cfg)), Some(manager)));
    }
    let cert_path = config.resolve(data, &tls.cert);
    let key_path = config.resolve(data, &tls.key);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect())
        .map_err(|e| Error::Config(format!("key `tls.cert`: {}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!("key `tls.cert`: {} holds no certificate", cert_path.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| Error::Config(format!("key `tls.key`: {}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Config(format!("key `tls.key`: does not match `tls.cert`: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(cfg)), None))
}
