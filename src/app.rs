//! `App`: the one handle every part of the server is given (no globals, so tests can run several
//! instances in one process). Cheap to clone.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::render::Renderer;
use crate::store::Store;
use crate::urls::Urls;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone)]
pub struct App(Arc<Inner>);

pub struct Inner {
    pub data: PathBuf,
    pub config: Config,
    pub urls: Urls,
    pub store: Store,
    pub keys: KeyPairs,
    pub render: Renderer,
    /// Server secret for CSRF tokens (stored in the database, created on first start).
    pub secret: Vec<u8>,
    pub login_limiter: crate::handlers::auth::LoginLimiter,
}

/// The actor's private keys as PKCS#8 DER, checked to parse at startup.
pub struct KeyPairs {
    pub rsa_pkcs8: Vec<u8>,
    pub ed25519_pkcs8: Vec<u8>,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// Loads config, keys and store from a data folder that `init` (or first `serve`) prepared.
    pub fn open(data: &Path) -> Result<App> {
        let config = Config::load(data)?;
        App::open_with(data, config)
    }

    pub fn open_with(data: &Path, config: Config) -> Result<App> {
        let keys = KeyPairs::load(data, &config)?;
        std::fs::create_dir_all(data.join("media"))
            .map_err(|e| Error::Config(format!("cannot create {}: {e}", data.join("media").display())))?;
        let store = Store::open(data, config.cache_mib)?;
        let secret = store.write(|w| w.ensure_secret())?;
        let urls = Urls::new(&config.public_url(), &config.username);
        Ok(App(Arc::new(Inner {
            data: data.to_path_buf(),
            render: Renderer::new(urls.clone())?,
            urls,
            store,
            keys,
            secret,
            config,
            login_limiter: Default::default(),
        })))
    }

    pub fn media_dir(&self) -> PathBuf {
        self.data.join("media")
    }
}

impl KeyPairs {
    fn load(data: &Path, config: &Config) -> Result<KeyPairs> {
        let read = |key: &str, file: &str| -> Result<Vec<u8>> {
            let path = config.resolve(data, file);
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| Error::Config(format!("key `keys.{key}`: cannot read {}: {e}", path.display())))?;
            crate::keygen::pem_decode(&pem, "PRIVATE KEY")
                .ok_or_else(|| Error::Config(format!("key `keys.{key}`: {} is not a PKCS#8 PEM private key", path.display())))
        };
        let rsa_pkcs8 = read("rsa", &config.keys.rsa)?;
        let ed25519_pkcs8 = read("ed25519", &config.keys.ed25519)?;
        ring::signature::RsaKeyPair::from_pkcs8(&rsa_pkcs8)
            .map_err(|e| Error::Config(format!("key `keys.rsa`: not a usable RSA key: {e}")))?;
        ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&ed25519_pkcs8)
            .map_err(|e| Error::Config(format!("key `keys.ed25519`: not a usable Ed25519 key: {e}")))?;
        Ok(KeyPairs { rsa_pkcs8, ed25519_pkcs8 })
    }
}
