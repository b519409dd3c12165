//! Who signs our outgoing requests: the owner's actor (deliveries) or the instance actor
//! (fetches). Wraps sign.rs for hyper requests; `double-knock` picks the other format on 401.

use crate::federation::{keys::ActorKeys, sign};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::Request;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Clone)]
pub struct Signer {
    pub key_id: String,
    pub keys: Arc<ActorKeys>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// draft-cavage-http-signatures (what Mastodon sends; most servers accept it).
    Cavage,
    /// RFC 9421 HTTP Message Signatures.
    Rfc9421,
}

impl Signer {
    pub fn sign_get(&self, req: &mut Request<Full<Bytes>>) {
        self.sign(req, None, Format::Cavage)
    }

    pub fn sign(&self, req: &mut Request<Full<Bytes>>, body: Option<&[u8]>, format: Format) {
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let now = SystemTime::now();
        match format {
            Format::Cavage => sign::sign_cavage(&method, &uri, req.headers_mut(), body, &self.key_id, &self.keys, now),
            Format::Rfc9421 => sign::sign_rfc9421(&method, &uri, req.headers_mut(), body, &self.key_id, &self.keys, now),
        }
    }
}
