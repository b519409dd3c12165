//! Actor key generation, done once by `pipit init`. ring cannot generate RSA keys, so the `rsa`
//! crate does that one job; ring does every signature afterwards.

use crate::error::{Error, Result};
use ring::rand::SecureRandom;

/// Adapter so the `rsa` crate draws from ring's system randomness.
struct RingRng(ring::rand::SystemRandom);

impl rsa::rand_core::RngCore for RingRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest).expect("operating system random source failed");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rsa::rand_core::CryptoRng for RingRng {}

/// RSA-2048 private key, PKCS#8 PEM.
pub fn rsa_pkcs8_pem() -> Result<String> {
    use rsa::pkcs8::EncodePrivateKey;
    let mut rng = RingRng(ring::rand::SystemRandom::new());
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| Error::Internal(format!("rsa keygen: {e}")))?;
    let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).map_err(|e| Error::Internal(format!("rsa pem: {e}")))?;
    Ok(pem.to_string())
}

/// Ed25519 private key, PKCS#8 (v2, with public key) PEM.
pub fn ed25519_pkcs8_pem() -> Result<String> {
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
        .map_err(|_| Error::Internal("ed25519 keygen failed".into()))?;
    Ok(pem_encode("PRIVATE KEY", doc.as_ref()))
}

pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub fn pem_decode(pem: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let b64: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}
