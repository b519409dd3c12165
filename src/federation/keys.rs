//! PLACEHOLDER until the signatures module lands (being written in parallel): same API.
#![allow(dead_code, unused_variables)]

pub struct ActorKeys {
    rsa: ring::signature::RsaKeyPair,
    ed: ring::signature::Ed25519KeyPair,
}

impl ActorKeys {
    pub fn from_pkcs8(rsa_der: &[u8], ed_der: &[u8]) -> Result<ActorKeys, String> {
        Ok(ActorKeys {
            rsa: ring::signature::RsaKeyPair::from_pkcs8(rsa_der).map_err(|e| e.to_string())?,
            ed: ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(ed_der).map_err(|e| e.to_string())?,
        })
    }
    pub fn rsa_public_pem(&self) -> String {
        String::new()
    }
    pub fn ed25519_multibase(&self) -> String {
        String::new()
    }
}

pub enum PublicKey {
    Rsa(Vec<u8>),
    Ed25519([u8; 32]),
}

impl PublicKey {
    pub fn from_pem(pem: &str) -> Result<PublicKey, String> {
        Err("placeholder".into())
    }
    pub fn from_multibase(s: &str) -> Result<PublicKey, String> {
        Err("placeholder".into())
    }
}
