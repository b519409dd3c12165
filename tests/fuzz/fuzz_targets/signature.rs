//! HTTP signature headers (draft-cavage `Signature`/`Authorization: Signature`, RFC 9421
//! `Signature-Input` + `Signature`), the Digest/Content-Digest check, and the key material an
//! actor document carries (PEM/SPKI, Multikey multibase, base58).
//!
//! Input: a request head. First line `METHOD TARGET`, then `Name: value` header lines, an empty
//! line, and the body. Lines that are not valid HTTP are skipped, as hyper would refuse them.
#![no_main]
use hyper::{HeaderMap, Method, Uri};
use libfuzzer_sys::fuzz_target;
use pipit::federation::{keys, sign};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

fn fixed_key() -> &'static keys::PublicKey {
    static KEY: OnceLock<keys::PublicKey> = OnceLock::new();
    KEY.get_or_init(|| {
        // An Ed25519 Multikey: 0xed01 prefix + 32 bytes, base58btc with the `z` multibase tag.
        let mut raw = vec![0xed, 0x01];
        raw.extend_from_slice(&[7u8; 32]);
        keys::PublicKey::from_multibase(&format!("z{}", keys::base58_encode(&raw))).expect("fixed key")
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let mut parts = first.splitn(2, ' ');
    let method = Method::from_bytes(parts.next().unwrap_or("POST").as_bytes()).unwrap_or(Method::POST);
    let uri: Uri = parts.next().unwrap_or("/inbox").trim().parse().unwrap_or_else(|_| Uri::from_static("/inbox"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(&line[..colon]),
            hyper::header::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    for scheme in ["https", "http"] {
        if let Ok(parsed) = sign::parse(&method, &uri, &headers, scheme) {
            let _ = parsed.key_id();
            // A made-up signature must never verify against a key that did not make it.
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
            assert!(parsed.verify(fixed_key(), body, now).is_err(), "a fuzzed signature verified");
        }
    }
    // The key material of actor documents and proofs.
    let text = String::from_utf8_lossy(data);
    let _ = keys::PublicKey::from_pem(&text);
    let _ = keys::PublicKey::from_spki(data);
    let _ = keys::PublicKey::from_multibase(&text);
    if let Some(decoded) = keys::base58_decode(&text) {
        assert_eq!(keys::base58_decode(&keys::base58_encode(&decoded)), Some(decoded), "base58 round trip");
    }
});
