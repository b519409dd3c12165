//! Randomness and secret comparison, all from ring.

use ring::rand::{SecureRandom, SystemRandom};

pub fn fill(buf: &mut [u8]) {
    // SystemRandom only fails if the OS has no randomness at all; nothing safe can go on then.
    SystemRandom::new().fill(buf).expect("operating system random source failed");
}

/// A URL-safe random token with 256 bits of entropy.
pub fn token() -> String {
    let mut b = [0u8; 32];
    fill(&mut b);
    b64url(&b)
}

pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex: what we store instead of the token itself.
pub fn hash_token(token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256(key, msg) as base64url: CSRF tokens derived from the session, nothing stored.
pub fn hmac(key: &[u8], msg: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    b64url(ring::hmac::sign(&k, msg.as_bytes()).as_ref())
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    // No early exit on the first differing byte: timing tells nothing about where they differ.
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
