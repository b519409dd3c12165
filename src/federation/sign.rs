//! PLACEHOLDER until the signatures module lands (being written in parallel): same API.
#![allow(dead_code, unused_variables)]
use super::keys::{ActorKeys, PublicKey};
use std::time::SystemTime;

#[derive(Debug)]
pub struct SigError(pub String);
impl std::fmt::Display for SigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn sign_cavage(method: &http::Method, uri: &http::Uri, headers: &mut http::HeaderMap, body: Option<&[u8]>, key_id: &str, keys: &ActorKeys, now: SystemTime) {}
pub fn sign_rfc9421(method: &http::Method, uri: &http::Uri, headers: &mut http::HeaderMap, body: Option<&[u8]>, key_id: &str, keys: &ActorKeys, now: SystemTime) {}

pub struct Parsed {
    key_id: String,
}
impl Parsed {
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    pub fn verify(&self, key: &PublicKey, body: &[u8], now: SystemTime) -> Result<(), SigError> {
        Err(SigError("placeholder".into()))
    }
}
pub fn parse(method: &http::Method, uri: &http::Uri, headers: &http::HeaderMap, scheme: &str) -> Result<Parsed, SigError> {
    Err(SigError("placeholder".into()))
}
pub fn add_proof(doc: &mut serde_json::Value, keys: &ActorKeys, verification_method: &str, created: &str) {}
pub fn proof_verification_method(doc: &serde_json::Value) -> Option<&str> {
    None
}
pub fn verify_proof(doc: &serde_json::Value, key: &PublicKey) -> Result<String, SigError> {
    Err(SigError("placeholder".into()))
}
