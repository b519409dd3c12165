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
    /// Outgoing HTTP (federation only), SSRF-guarded.
    pub http: crate::federation::client::HttpClient,
    /// The actor's keys, parsed once for ring.
    pub actor_keys: Arc<crate::federation::keys::ActorKeys>,
    /// The instance actor's own RSA key (`/actor#main-key`), which signs fetches.
    pub instance_keys: Arc<crate::federation::keys::ActorKeys>,
    /// Post id → when its thread was last refreshed from the network (rate limit).
    pub thread_refresh: std::sync::Mutex<std::collections::HashMap<u64, u64>>,
    /// Rendered public pages and JSON for anonymous readers (server/cache.rs).
    pub pages: crate::server::cache::PageCache,
}

/// The actor's private keys as PKCS#8 DER, parsed once at startup (`App::open_with`).
pub struct KeyPairs {
    pub rsa_pkcs8: Vec<u8>,
    pub ed25519_pkcs8: Vec<u8>,
    pub instance_rsa_pkcs8: Vec<u8>,
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
        crate::federation::content::set_owner_languages(&config.languages);
        std::fs::create_dir_all(data.join("media"))
            .map_err(|e| Error::Config(format!("cannot create {}: {e}", data.join("media").display())))?;
        let store = Store::open(data, config.cache_mib)?;
        // Uploads left behind by a crash (the store lock above says no other pipit runs here).
        let _ = std::fs::remove_dir_all(crate::server::upload::tmp_dir(data));
        crate::domain::media::sweep_parts(&data.join("media"));
        // Media of an archive import that crashed before its posts were stored.
        if let Err(e) = crate::domain::media::sweep_pending(&store, &data.join("media")) {
            tracing::warn!("removing media of an interrupted import: {e}");
        }
        let secret = store.write(|w| w.ensure_secret())?;
        let mut urls = Urls::new(&config.public_url(), &config.username);
        if config.media_cache_mib > 0 {
            std::fs::create_dir_all(data.join("cache"))
                .map_err(|e| Error::Config(format!("cannot create {}: {e}", data.join("cache").display())))?;
            // Derived from the server secret: cache URLs stay valid across restarts.
            urls.media_cache_key = Some(ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret), b"media-cache").as_ref().to_vec());
        }
        // Each key is parsed once, here (ring checks it); the instance actor has no Ed25519 key.
        let rsa = |key: &str, der: &[u8]| {
            ring::signature::RsaKeyPair::from_pkcs8(der).map_err(|e| Error::Config(format!("key `keys.{key}`: not a usable RSA key: {e}")))
        };
        let ed = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&keys.ed25519_pkcs8)
            .map_err(|e| Error::Config(format!("key `keys.ed25519`: not a usable Ed25519 key: {e}")))?;
        let actor_keys = crate::federation::keys::ActorKeys::new(rsa("rsa", &keys.rsa_pkcs8)?, Some(ed));
        let instance_keys = crate::federation::keys::ActorKeys::new(rsa("instance_rsa", &keys.instance_rsa_pkcs8)?, None);
        let override_addr = config.connect_override.as_deref().and_then(|a| a.parse().ok());
        Ok(App(Arc::new(Inner {
            http: crate::federation::client::HttpClient::new(config.allow_private_addresses, override_addr),
            actor_keys: Arc::new(actor_keys),
            instance_keys: Arc::new(instance_keys),
            thread_refresh: Default::default(),
            pages: Default::default(),
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

    /// DATA/cache: remote media fetched for pages (see `federation::media_cache`).
    pub fn cache_dir(&self) -> PathBuf {
        self.data.join("cache")
    }

    pub fn media_dir(&self) -> PathBuf {
        self.data.join("media")
    }

    /// Signs deliveries as the owner.
    pub fn owner_signer(&self) -> crate::federation::signer::Signer {
        crate::federation::signer::Signer { key_id: self.urls.key_id(), keys: self.actor_keys.clone() }
    }

    /// Signs fetches as the instance actor (`/actor`).
    pub fn instance_signer(&self) -> crate::federation::signer::Signer {
        crate::federation::signer::Signer { key_id: format!("{}/actor#main-key", self.urls.base), keys: self.instance_keys.clone() }
    }

    /// Adds an FEP-8b32 integrity proof (Ed25519, eddsa-jcs-2022) to an outgoing activity.
    pub fn sign_object(&self, activity: &mut serde_json::Value) {
        let vm = format!("{}#ed25519-key", self.urls.actor());
        crate::federation::sign::add_proof(activity, &self.actor_keys, &vm, &crate::time::rfc3339(crate::time::now_ms()));
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
        // Data folders from before the instance actor had its own key get one now.
        let instance_path = config.resolve(data, &config.keys.instance_rsa);
        if !instance_path.exists() {
            if let Some(dir) = instance_path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("key `keys.instance_rsa`: cannot create {}: {e}", dir.display())))?;
            }
            crate::fsutil::write_private(&instance_path, crate::keygen::rsa_pkcs8_pem()?.as_bytes())
                .map_err(|e| Error::Config(format!("key `keys.instance_rsa`: cannot write {}: {e}", instance_path.display())))?;
        }
        let instance_rsa_pkcs8 = read("instance_rsa", &config.keys.instance_rsa)?;
        let ed25519_pkcs8 = read("ed25519", &config.keys.ed25519)?;
        Ok(KeyPairs { rsa_pkcs8, ed25519_pkcs8, instance_rsa_pkcs8 })
    }
}
