//! Key material: our actor's RSA (HTTP signatures) and Ed25519 (object proofs) keys, and remote
//! public keys read from PEM (SPKI or PKCS#1) or FEP-521a Multikey. ring does the cryptography;
//! the few DER and base58 pieces are parsed here, bounds-checked, never panicking on input.

use ring::signature::{self, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

pub struct ActorKeys {
    rsa: RsaKeyPair,
    /// None for the instance actor, which signs HTTP requests only.
    ed: Option<Ed25519KeyPair>,
    rsa_pem: String,
    ed_multibase: String,
}

impl ActorKeys {
    /// Parses both PKCS#8 DER documents (ring checks them). Errors name the key that failed.
    pub fn from_pkcs8(rsa_der: &[u8], ed_der: &[u8]) -> Result<ActorKeys, String> {
        let rsa = RsaKeyPair::from_pkcs8(rsa_der).map_err(|e| format!("RSA key: {e}"))?;
        let ed = Ed25519KeyPair::from_pkcs8_maybe_unchecked(ed_der).map_err(|e| format!("Ed25519 key: {e}"))?;
        Ok(ActorKeys::new(rsa, Some(ed)))
    }
    /// Keys already parsed (App::open_with parses each key once, with its own error message).
    pub fn new(rsa: RsaKeyPair, ed: Option<Ed25519KeyPair>) -> ActorKeys {
        let rsa_pem = crate::keygen::pem_encode("PUBLIC KEY", &rsa_spki(rsa.public().as_ref()));
        let ed_multibase = match &ed {
            Some(ed) => {
                let mut mk = vec![0xed, 0x01];
                mk.extend_from_slice(ed.public_key().as_ref());
                format!("z{}", base58_encode(&mk))
            }
            None => String::new(),
        };
        ActorKeys { rsa, ed, rsa_pem, ed_multibase }
    }
    /// An RSA key alone, for an actor that only signs HTTP requests (the instance actor): no
    /// Ed25519 half (there used to be a throwaway one, generated on every start for nothing).
    pub fn from_rsa_pkcs8(rsa_der: &[u8]) -> Result<ActorKeys, String> {
        let rsa = RsaKeyPair::from_pkcs8(rsa_der).map_err(|e| format!("RSA key: {e}"))?;
        Ok(ActorKeys::new(rsa, None))
    }
    fn ed(&self) -> &Ed25519KeyPair {
        // Only the owner's keys make proofs and publish an Ed25519 key; they always have one.
        self.ed.as_ref().expect("an Ed25519 key: the instance actor's keys (RSA only) never sign proofs")
    }
    /// `-----BEGIN PUBLIC KEY-----` (SPKI), as `publicKeyPem` wants it.
    pub fn rsa_public_pem(&self) -> String {
        self.rsa_pem.clone()
    }
    /// FEP-521a `publicKeyMultibase`: "z" + base58btc(0xed01 ‖ key); empty for RSA-only keys.
    pub fn ed25519_multibase(&self) -> String {
        self.ed_multibase.clone()
    }
    /// RSASSA-PKCS1-v1_5 with SHA-256 (deterministic).
    pub fn sign_rsa(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.rsa.public().modulus_len()];
        // Only fails on an output buffer of the wrong size, which modulus_len rules out.
        self.rsa
            .sign(&signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), msg, &mut sig)
            .expect("RSA signing with a correctly sized buffer");
        sig
    }
    /// Ed25519 signature (64 bytes). Panics on RSA-only keys (the instance actor's).
    pub fn sign_ed25519(&self, msg: &[u8]) -> Vec<u8> {
        self.ed().sign(msg).as_ref().to_vec()
    }
    pub fn rsa_public(&self) -> PublicKey {
        PublicKey::Rsa(self.rsa.public().as_ref().to_vec())
    }
    pub fn ed25519_public(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.ed().public_key().as_ref());
        PublicKey::Ed25519(k)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// PKCS#1 RSAPublicKey DER.
    Rsa(Vec<u8>),
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// `BEGIN PUBLIC KEY` (SPKI: RSA or Ed25519) or `BEGIN RSA PUBLIC KEY` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<PublicKey, String> {
        if let Some(der) = crate::keygen::pem_decode(pem, "PUBLIC KEY") {
            return PublicKey::from_spki(&der);
        }
        if let Some(der) = crate::keygen::pem_decode(pem, "RSA PUBLIC KEY") {
            return Ok(PublicKey::Rsa(der));
        }
        Err("not a PEM public key".into())
    }

    pub fn from_spki(der: &[u8]) -> Result<PublicKey, String> {
        let bad = || "malformed SubjectPublicKeyInfo".to_string();
        let (spki, _) = der_read(der, 0x30).ok_or_else(bad)?;
        let (alg, rest) = der_read(spki, 0x30).ok_or_else(bad)?;
        let (oid, _) = der_read(alg, 0x06).ok_or_else(bad)?;
        let (bits, _) = der_read(rest, 0x03).ok_or_else(bad)?;
        let (&unused, key) = bits.split_first().ok_or_else(bad)?;
        if unused != 0 {
            return Err(bad());
        }
        if oid == OID_RSA {
            Ok(PublicKey::Rsa(key.to_vec()))
        } else if oid == OID_ED25519 {
            let k: [u8; 32] = key.try_into().map_err(|_| bad())?;
            Ok(PublicKey::Ed25519(k))
        } else {
            Err("unsupported key algorithm".into())
        }
    }

    /// FEP-521a Multikey: "z" + base58btc(multicodec varint ‖ key). Two codecs are read:
    /// `ed25519-pub` (0xed, varint `ed 01`, then the 32-byte key) and `rsa-pub` (0x1205, varint
    /// `85 24`, then a PKCS#1 RSAPublicKey DER), which Fedify 1.x publishes for its RSA key.
    pub fn from_multibase(s: &str) -> Result<PublicKey, String> {
        let raw = s.strip_prefix('z').and_then(base58_decode).ok_or("not base58btc multibase")?;
        match raw.as_slice() {
            [0xed, 0x01, key @ ..] if key.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(key);
                Ok(PublicKey::Ed25519(k))
            }
            [0x85, 0x24, der @ ..] => {
                // The whole rest must be exactly one SEQUENCE { modulus, exponent }.
                match der_read(der, 0x30) {
                    Some((seq, [])) if der_read(seq, 0x02).and_then(|(_, r)| der_read(r, 0x02)).is_some() => Ok(PublicKey::Rsa(der.to_vec())),
                    _ => Err("rsa-pub multikey: malformed PKCS#1 RSAPublicKey".into()),
                }
            }
            _ => Err("multikey of an unsupported type (only ed25519-pub and rsa-pub)".into()),
        }
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Rsa(der) => UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der).verify(msg, sig).is_ok(),
            PublicKey::Ed25519(k) => UnparsedPublicKey::new(&signature::ED25519, k).verify(msg, sig).is_ok(),
        }
    }
}

/// Reads one DER TLV with the expected tag: (contents, rest).
fn der_read(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut l = 0usize;
        for &b in &rest[..n] {
            l = (l << 8) | b as usize;
        }
        rest = &rest[n..];
        l
    };
    if rest.len() < len {
        return None;
    }
    Some((&rest[..len], &rest[len..]))
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

fn der_tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(contents.len(), &mut out);
    out.extend_from_slice(contents);
    out
}

/// SPKI DER for an RSA PKCS#1 public key: SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING }.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut alg = der_tlv(0x06, OID_RSA);
    alg.extend_from_slice(&[0x05, 0x00]);
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    let mut body = der_tlv(0x30, &alg);
    body.extend(der_tlv(0x03, &bits));
    der_tlv(0x30, &body)
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

pub fn base58_encode(data: &[u8]) -> String {
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    let mut digits: Vec<u8> = Vec::with_capacity(data.len() * 138 / 100 + 1);
    for &byte in &data[zeros..] {
        let mut carry = byte as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut s = String::with_capacity(zeros + digits.len());
    s.extend(std::iter::repeat('1').take(zeros));
    s.extend(digits.iter().rev().map(|&d| B58[d as usize] as char));
    s
}

pub fn base58_decode(s: &str) -> Option<Vec<u8>> {
    // An rsa-pub multikey is about 740 characters for RSA-4096 (Fedify), 1430 for RSA-8192.
    if s.len() > 1500 {
        return None;
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut bytes: Vec<u8> = Vec::new();
    for c in s.bytes().skip(zeros) {
        let mut carry = B58.iter().position(|&x| x == c)? as u32;
        for b in bytes.iter_mut() {
            carry += (*b as u32) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn base58_round_trip_and_known_value() {
        // "Hello World!" in base58btc (draft-msporny-base58 test vector).
        assert_eq!(base58_encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(base58_decode("2NEpo7TZRRrLZSi2U").unwrap(), b"Hello World!");
        assert_eq!(base58_encode(&[0, 0, 1]), "112");
        assert_eq!(base58_decode("112").unwrap(), vec![0, 0, 1]);
        assert!(base58_decode("0OIl").is_none(), "characters outside the alphabet");
    }
    #[test]
    fn garbage_keys_are_errors_not_panics() {
        for g in ["", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----", "hello"] {
            assert!(PublicKey::from_pem(g).is_err(), "{g}");
        }
        for d in [&[][..], &[0x30], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0x30, 0x03, 0x30, 0x01, 0x06]] {
            assert!(PublicKey::from_spki(d).is_err());
        }
        assert!(PublicKey::from_multibase("z").is_err());
        assert!(PublicKey::from_multibase("zzzz").is_err());
        assert!(PublicKey::from_multibase("abc").is_err());
    }
    #[test]
    fn rsa_pub_multikey_of_fedify_1_is_its_pem_key() {
        // Fedify 1.5.9's actor (captured from the real server): its RSA-4096 key as `publicKey`
        // PEM and as an `rsa-pub` Multikey (varint 85 24, then PKCS#1 DER) under the same id.
        let actor: serde_json::Value = serde_json::from_str(include_str!("../../tests/fedify/fixtures/fedify-1.5.9-actor.json")).unwrap();
        let mb = actor["assertionMethod"][0]["publicKeyMultibase"].as_str().unwrap();
        assert_eq!(actor["assertionMethod"][0]["id"], actor["publicKey"]["id"]);
        let from_mb = PublicKey::from_multibase(mb).expect("rsa-pub multikey");
        assert_eq!(from_mb, PublicKey::from_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap());
        // And our own RSA key as an rsa-pub multikey round-trips.
        let rsa = crate::keygen::pem_decode(&crate::keygen::rsa_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let ed = crate::keygen::pem_decode(&crate::keygen::ed25519_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let k = ActorKeys::from_pkcs8(&rsa, &ed).unwrap();
        let PublicKey::Rsa(der) = k.rsa_public() else { unreachable!() };
        let mut raw = vec![0x85, 0x24];
        raw.extend_from_slice(&der);
        let key = PublicKey::from_multibase(&format!("z{}", base58_encode(&raw))).unwrap();
        assert!(key.verify(b"msg", &k.sign_rsa(b"msg")));
        // Truncated or trailing bytes after the DER are refused, not read.
        raw.push(0);
        assert!(PublicKey::from_multibase(&format!("z{}", base58_encode(&raw))).is_err(), "trailing byte");
        assert!(PublicKey::from_multibase(&format!("z{}", base58_encode(&raw[..40]))).is_err(), "truncated");
        assert!(PublicKey::from_multibase(&format!("z{}", base58_encode(&[0x85, 0x24]))).is_err(), "empty");
    }

    #[test]
    fn own_keys_round_trip_through_their_public_forms() {
        let rsa = crate::keygen::pem_decode(&crate::keygen::rsa_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let ed = crate::keygen::pem_decode(&crate::keygen::ed25519_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let k = ActorKeys::from_pkcs8(&rsa, &ed).unwrap();
        let from_pem = PublicKey::from_pem(&k.rsa_public_pem()).unwrap();
        assert_eq!(from_pem, k.rsa_public());
        assert!(from_pem.verify(b"msg", &k.sign_rsa(b"msg")));
        assert!(!from_pem.verify(b"msh", &k.sign_rsa(b"msg")));
        let from_mb = PublicKey::from_multibase(&k.ed25519_multibase()).unwrap();
        assert_eq!(from_mb, k.ed25519_public());
        assert!(from_mb.verify(b"msg", &k.sign_ed25519(b"msg")));
    }

    /// Issue 15: the instance actor's keys used to carry an Ed25519 key generated on every start
    /// (an x25519 scalar multiplication and its code paged in at startup, for a key nobody used).
    /// Bad input tried: an RSA-only key asked for its Ed25519 form gives nothing, not a fresh key.
    #[test]
    fn instance_keys_are_rsa_only() {
        let rsa = crate::keygen::pem_decode(&crate::keygen::rsa_pkcs8_pem().unwrap(), "PRIVATE KEY").unwrap();
        let k = ActorKeys::from_rsa_pkcs8(&rsa).unwrap();
        assert_eq!(k.ed25519_multibase(), "", "no throwaway Ed25519 key");
        assert!(k.ed.is_none());
        assert!(PublicKey::from_pem(&k.rsa_public_pem()).unwrap().verify(b"msg", &k.sign_rsa(b"msg")));
        assert!(ActorKeys::from_rsa_pkcs8(b"garbage").is_err());
    }
}
