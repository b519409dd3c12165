//! HTTP message signatures, both dialects, and FEP-8b32 object integrity proofs.
//!
//! Outgoing: draft-cavage `rsa-sha256` over `(request-target) host date digest` (GET: no digest),
//! as Mastodon sends; RFC 9421 over `@method @target-uri content-digest` for the double-knock.
//! Incoming: either dialect, with Mastodon's rules (signed components, digest, time window).
//! Proofs: `DataIntegrityProof` / `eddsa-jcs-2022` with our Ed25519 key.

use super::jcs;
use super::keys::{base58_decode, base58_encode, ActorKeys, PublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::{json, Value};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Mastodon's window: `created` at most 1 h ahead; `expires` defaults to created + 5 min, is
/// capped at created + 12 h, and gets 1 h of clock-skew margin.
const MAX_FUTURE: u64 = 3600;
const DEFAULT_VALIDITY: u64 = 300;
const MAX_VALIDITY: u64 = 12 * 3600;
const SKEW: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    Missing(&'static str),
    Malformed(String),
    UnsupportedAlgorithm(String),
    /// A component Mastodon requires was not signed.
    NotCovered(&'static str),
    Digest(String),
    Expired,
    FromTheFuture,
    BadSignature,
}

impl fmt::Display for SigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigError::Missing(h) => write!(f, "missing {h}"),
            SigError::Malformed(m) => write!(f, "malformed signature: {m}"),
            SigError::UnsupportedAlgorithm(a) => write!(f, "unsupported algorithm {a}"),
            SigError::NotCovered(c) => write!(f, "the signature must cover {c}"),
            SigError::Digest(m) => write!(f, "digest: {m}"),
            SigError::Expired => f.write_str("signature expired (check the sender's clock)"),
            SigError::FromTheFuture => f.write_str("signature created in the future (check the sender's clock)"),
            SigError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

impl std::error::Error for SigError {}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", B64.encode(ring::digest::digest(&ring::digest::SHA256, body)))
}

pub fn content_digest_header(body: &[u8]) -> String {
    format!("sha-256=:{}:", B64.encode(ring::digest::digest(&ring::digest::SHA256, body)))
}

/// `host[:port]` as the Host header carries it.
fn authority(uri: &Uri) -> String {
    uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default()
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Signs a request draft-cavage style (what Mastodon sends and everyone accepts).
pub fn sign_cavage(method: &Method, uri: &Uri, headers: &mut HeaderMap, body: Option<&[u8]>, key_id: &str, keys: &ActorKeys, now: SystemTime) {
    let host = authority(uri);
    let date = httpdate::fmt_http_date(now);
    set(headers, "host", &host);
    set(headers, "date", &date);
    let mut lines = vec![format!("(request-target): {} {}", method.as_str().to_lowercase(), path_and_query(uri)), format!("host: {host}"), format!("date: {date}")];
    let mut names = "(request-target) host date".to_string();
    if let Some(b) = body {
        let d = digest_header(b);
        set(headers, "digest", &d);
        lines.push(format!("digest: {d}"));
        names.push_str(" digest");
    }
    let sig = B64.encode(keys.sign_rsa(lines.join("\n").as_bytes()));
    set(headers, "signature", &format!("keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{names}\",signature=\"{sig}\""));
}

/// Signs a request RFC 9421 style (label `sig1`, RSASSA-PKCS1-v1_5 SHA-256).
pub fn sign_rfc9421(method: &Method, uri: &Uri, headers: &mut HeaderMap, body: Option<&[u8]>, key_id: &str, keys: &ActorKeys, now: SystemTime) {
    let host = authority(uri);
    set(headers, "host", &host);
    set(headers, "date", &httpdate::fmt_http_date(now));
    let target = uri.to_string();
    let mut lines = vec![format!("\"@method\": {}", method.as_str()), format!("\"@target-uri\": {target}")];
    let mut comps = "\"@method\" \"@target-uri\"".to_string();
    if let Some(b) = body {
        let d = content_digest_header(b);
        set(headers, "content-digest", &d);
        lines.push(format!("\"content-digest\": {d}"));
        comps.push_str(" \"content-digest\"");
    }
    let params = format!("({comps});created={};keyid=\"{key_id}\";alg=\"rsa-v1_5-sha256\"", unix(now));
    lines.push(format!("\"@signature-params\": {params}"));
    let sig = B64.encode(keys.sign_rsa(lines.join("\n").as_bytes()));
    set(headers, "signature-input", &format!("sig1={params}"));
    set(headers, "signature", &format!("sig1=:{sig}:"));
}

/// A parsed incoming signature, ready to verify once the caller has fetched the key.
#[derive(Debug)]
pub struct Parsed {
    key_id: String,
    /// Candidate signing strings (cavage tries with and without the query string).
    bases: Vec<String>,
    signature: Vec<u8>,
    algorithm: Option<String>,
    created: u64,
    expires: Option<u64>,
    /// The body digest that was signed: (kind, value), checked against the body in verify().
    digest: Option<(DigestKind, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigestKind {
    Digest,
    ContentDigest,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<String> {
    let vals: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::trim).collect();
    if vals.is_empty() { None } else { Some(vals.join(", ")) }
}

/// Splits `k="v",k2=123` respecting quotes.
fn cavage_params(s: &str) -> Result<Vec<(String, String)>, SigError> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| SigError::Malformed("parameter without =".into()))?;
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').ok_or_else(|| SigError::Malformed("unterminated quote".into()))?;
            value = r[..end].to_string();
            rest = &r[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    Ok(out)
}

/// Parses whichever signature the request carries. `scheme` is the externally visible scheme
/// (`https` behind a TLS-terminating proxy) for RFC 9421's `@target-uri`.
pub fn parse(method: &Method, uri: &Uri, headers: &HeaderMap, scheme: &str) -> Result<Parsed, SigError> {
    if headers.contains_key("signature-input") {
        return parse_rfc9421(method, uri, headers, scheme);
    }
    let raw = header(headers, "signature")
        .or_else(|| header(headers, "authorization").and_then(|a| a.strip_prefix("Signature ").map(str::to_string)))
        .ok_or(SigError::Missing("Signature header"))?;
    let params = cavage_params(&raw)?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let key_id = get("keyid").ok_or(SigError::Missing("keyId"))?;
    let signature = B64.decode(get("signature").ok_or(SigError::Missing("signature"))?).map_err(|_| SigError::Malformed("signature is not base64".into()))?;
    let algorithm = get("algorithm").map(|a| a.to_ascii_lowercase());
    if let Some(a) = &algorithm {
        if !["rsa-sha256", "hs2019", "ed25519"].contains(&a.as_str()) {
            return Err(SigError::UnsupportedAlgorithm(a.clone()));
        }
    }
    let names: Vec<String> = get("headers").unwrap_or_else(|| "date".into()).split_whitespace().map(|s| s.to_ascii_lowercase()).collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    if !has("date") && !has("(created)") {
        return Err(SigError::NotCovered("date or (created)"));
    }
    if !has("(request-target)") && !has("digest") {
        return Err(SigError::NotCovered("(request-target) or digest"));
    }
    if (method == Method::GET || method == Method::HEAD) && !has("host") {
        return Err(SigError::NotCovered("host"));
    }
    if method == Method::POST && !has("digest") {
        return Err(SigError::NotCovered("digest"));
    }
    let num = |k: &str| -> Result<Option<u64>, SigError> {
        get(k).map(|v| v.split('.').next().unwrap_or("").parse::<u64>().map_err(|_| SigError::Malformed(format!("{k} is not a number")))).transpose()
    };
    let created_param = num("created")?;
    let expires = num("expires")?;
    let created = if has("(created)") {
        created_param.ok_or(SigError::Missing("created parameter"))?
    } else {
        let d = header(headers, "date").ok_or(SigError::Missing("Date header"))?;
        unix(httpdate::parse_http_date(&d).map_err(|_| SigError::Malformed("unreadable Date".into()))?)
    };
    let full = path_and_query(uri);
    let targets: Vec<String> = if uri.query().is_some() { vec![full.clone(), uri.path().to_string()] } else { vec![full] };
    let mut bases = Vec::new();
    for target in targets {
        let mut lines = Vec::new();
        for n in &names {
            let line = match n.as_str() {
                "(request-target)" => format!("(request-target): {} {target}", method.as_str().to_lowercase()),
                "(created)" => format!("(created): {}", created_param.unwrap_or(created)),
                "(expires)" => format!("(expires): {}", expires.ok_or(SigError::Missing("expires parameter"))?),
                "host" => format!("host: {}", header(headers, "host").unwrap_or_else(|| authority(uri))),
                h => format!("{h}: {}", header(headers, h).ok_or_else(|| SigError::Malformed(format!("signed header {h} is missing")))?),
            };
            lines.push(line);
        }
        bases.push(lines.join("\n"));
    }
    let digest = if has("digest") { Some((DigestKind::Digest, header(headers, "digest").ok_or(SigError::Missing("Digest header"))?)) } else { None };
    Ok(Parsed { key_id, bases, signature, algorithm, created, expires, digest })
}

/// Structured-field pieces of RFC 9421 we need: `label=(...);params` and `label=:b64:`.
fn parse_rfc9421(method: &Method, uri: &Uri, headers: &HeaderMap, scheme: &str) -> Result<Parsed, SigError> {
    let input = header(headers, "signature-input").ok_or(SigError::Missing("Signature-Input"))?;
    let sigs = header(headers, "signature").ok_or(SigError::Missing("Signature header"))?;
    // The first label only (Mastodon processes exactly one signature).
    let (label, rest) = input.split_once('=').ok_or_else(|| SigError::Malformed("Signature-Input".into()))?;
    let label = label.trim();
    let rest = rest.trim();
    let open = rest.strip_prefix('(').ok_or_else(|| SigError::Malformed("component list".into()))?;
    let close = open.find(')').ok_or_else(|| SigError::Malformed("component list".into()))?;
    let comps: Vec<String> = open[..close].split_whitespace().map(|c| c.trim_matches('"').to_ascii_lowercase()).collect();
    // This member's value runs to the first comma outside quotes after the component list
    // (further members are other signatures); it is signed verbatim as @signature-params.
    let after_list = rest.len() - open[close + 1..].len();
    let mut in_quotes = false;
    let mut end = rest.len();
    for (i, ch) in rest.char_indices().skip(after_list) {
        match ch {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let signature_params = rest[..end].trim();
    let params_str = &rest[after_list..end];
    let mut created = None;
    let mut expires = None;
    let mut key_id = None;
    let mut alg = None;
    for p in params_str.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let v = v.trim_matches('"').to_string();
        match k {
            "created" => created = v.parse::<u64>().ok(),
            "expires" => expires = v.parse::<u64>().ok(),
            "keyid" => key_id = Some(v),
            "alg" => alg = Some(v),
            _ => {}
        }
    }
    let created = created.ok_or(SigError::Missing("created parameter"))?;
    let key_id = key_id.ok_or(SigError::Missing("keyid parameter"))?;
    if let Some(a) = &alg {
        if a != "rsa-v1_5-sha256" && a != "ed25519" {
            return Err(SigError::UnsupportedAlgorithm(a.clone()));
        }
    }
    let has = |c: &str| comps.iter().any(|x| x == c);
    if !has("@method") {
        return Err(SigError::NotCovered("@method"));
    }
    if !has("@target-uri") && !(has("@authority") && has("@path")) {
        return Err(SigError::NotCovered("@target-uri"));
    }
    if method == Method::POST && !has("content-digest") {
        return Err(SigError::NotCovered("content-digest"));
    }
    let host = header(headers, "host").unwrap_or_else(|| authority(uri));
    let target = match uri.scheme_str() {
        Some(_) => uri.to_string(),
        None => format!("{scheme}://{host}{}", path_and_query(uri)),
    };
    let mut lines = Vec::new();
    for c in &comps {
        let v = match c.as_str() {
            "@method" => method.as_str().to_string(),
            "@target-uri" => target.clone(),
            "@authority" => host.to_ascii_lowercase(),
            "@scheme" => scheme.to_string(),
            "@path" => uri.path().to_string(),
            "@query" => format!("?{}", uri.query().unwrap_or("")),
            "@request-target" => path_and_query(uri),
            h if h.starts_with('@') => return Err(SigError::Malformed(format!("unsupported component {h}"))),
            h => header(headers, h).ok_or_else(|| SigError::Malformed(format!("signed header {h} is missing")))?,
        };
        lines.push(format!("\"{c}\": {v}"));
    }
    lines.push(format!("\"@signature-params\": {signature_params}"));
    let sig_b64 = sigs
        .split(',')
        .map(str::trim)
        .find_map(|s| s.strip_prefix(label).and_then(|r| r.trim_start().strip_prefix('=')).map(|r| r.trim().trim_matches(':').to_string()))
        .ok_or(SigError::Missing("signature for the label"))?;
    let signature = B64.decode(sig_b64).map_err(|_| SigError::Malformed("signature is not base64".into()))?;
    let digest = if has("content-digest") { Some((DigestKind::ContentDigest, header(headers, "content-digest").ok_or(SigError::Missing("Content-Digest header"))?)) } else { None };
    Ok(Parsed { key_id, bases: vec![lines.join("\n")], signature, algorithm: alg, created, expires, digest })
}

impl Parsed {
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Checks time window, body digest and the signature itself.
    pub fn verify(&self, key: &PublicKey, body: &[u8], now: SystemTime) -> Result<(), SigError> {
        let now = unix(now);
        if self.created > now + MAX_FUTURE {
            return Err(SigError::FromTheFuture);
        }
        let expires = self.expires.unwrap_or(self.created + DEFAULT_VALIDITY).min(self.created + MAX_VALIDITY);
        if now > expires + SKEW {
            return Err(SigError::Expired);
        }
        if let Some((kind, value)) = &self.digest {
            check_digest(*kind, value, body)?;
        }
        if let (Some(a), PublicKey::Rsa(_)) = (&self.algorithm, key) {
            if a == "ed25519" {
                return Err(SigError::UnsupportedAlgorithm("ed25519 with an RSA key".into()));
            }
        }
        if self.bases.iter().any(|b| key.verify(b.as_bytes(), &self.signature)) {
            Ok(())
        } else {
            Err(SigError::BadSignature)
        }
    }
}

fn check_digest(kind: DigestKind, value: &str, body: &[u8]) -> Result<(), SigError> {
    let actual = ring::digest::digest(&ring::digest::SHA256, body);
    let mut saw_sha256 = false;
    for part in value.split(',') {
        let (alg, v) = part.trim().split_once('=').ok_or_else(|| SigError::Digest("malformed".into()))?;
        if !alg.eq_ignore_ascii_case("sha-256") {
            continue;
        }
        saw_sha256 = true;
        let v = if kind == DigestKind::ContentDigest { v.trim().trim_matches(':') } else { v.trim() };
        let claimed = B64.decode(v).map_err(|_| SigError::Digest("not base64".into()))?;
        if claimed.as_slice() != actual.as_ref() {
            return Err(SigError::Digest("does not match the body".into()));
        }
    }
    if saw_sha256 { Ok(()) } else { Err(SigError::Digest("only SHA-256 is accepted".into())) }
}

// ---------- FEP-8b32 object integrity proofs (eddsa-jcs-2022) ----------

/// The `verificationMethod` of a document's proof, so the caller can fetch the key first.
pub fn proof_verification_method(doc: &Value) -> Option<&str> {
    let proof = doc.get("proof")?;
    let proof = if let Value::Array(a) = proof { a.first()? } else { proof };
    if proof.get("cryptosuite")?.as_str()? != "eddsa-jcs-2022" {
        return None;
    }
    proof.get("verificationMethod")?.as_str()
}

fn hash_data(doc_without_proof: &Value, proof_config: &Value) -> Vec<u8> {
    let mut out = ring::digest::digest(&ring::digest::SHA256, jcs::canonical(proof_config).as_bytes()).as_ref().to_vec();
    out.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, jcs::canonical(doc_without_proof).as_bytes()).as_ref());
    out
}

/// Adds a `proof` signed with our Ed25519 key.
pub fn add_proof(doc: &mut Value, keys: &ActorKeys, verification_method: &str, created: &str) {
    let Value::Object(obj) = doc else { return };
    obj.remove("proof");
    let mut config = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
        "created": created,
    });
    if let Some(ctx) = obj.get("@context") {
        config["@context"] = ctx.clone();
    }
    let data = hash_data(&Value::Object(obj.clone()), &config);
    let sig = keys.sign_ed25519(&data);
    if let Value::Object(c) = &mut config {
        c.remove("@context");
        c.insert("proofValue".into(), json!(format!("z{}", base58_encode(&sig))));
    }
    obj.insert("proof".into(), config);
}

/// Verifies a document's eddsa-jcs-2022 proof (FEP-8b32) over the document without its LD
/// `signature` and `proof`; Ok(verificationMethod).
pub fn verify_proof(doc: &Value, key: &PublicKey) -> Result<String, SigError> {
    let Value::Object(obj) = doc else { return Err(SigError::Malformed("not an object".into())) };
    let proof = obj.get("proof").ok_or(SigError::Missing("proof"))?;
    let proof = if let Value::Array(a) = proof { a.first().ok_or(SigError::Missing("proof"))? } else { proof };
    let Value::Object(p) = proof else { return Err(SigError::Malformed("proof".into())) };
    if p.get("type").and_then(Value::as_str) != Some("DataIntegrityProof") || p.get("cryptosuite").and_then(Value::as_str) != Some("eddsa-jcs-2022") {
        return Err(SigError::UnsupportedAlgorithm("proof type".into()));
    }
    let vm = p.get("verificationMethod").and_then(Value::as_str).ok_or(SigError::Missing("verificationMethod"))?.to_string();
    let value = p.get("proofValue").and_then(Value::as_str).ok_or(SigError::Missing("proofValue"))?;
    let sig = value.strip_prefix('z').and_then(base58_decode).ok_or_else(|| SigError::Malformed("proofValue".into()))?;
    let mut config = p.clone();
    config.remove("proofValue");
    if let Some(ctx) = obj.get("@context") {
        config.insert("@context".into(), ctx.clone());
    }
    // An LD `signature` (RsaSignature2017) goes on top of the proof, as Fedify and Mastodon-era
    // servers add it: detach it first, as Fedify's own inbox does, then the proof.
    let mut unsecured = obj.clone();
    unsecured.remove("signature");
    unsecured.remove("proof");
    let data = hash_data(&Value::Object(unsecured), &Value::Object(config));
    if key.verify(&data, &sig) { Ok(vm) } else { Err(SigError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Test-only keys made once with `openssl genpkey` for these golden vectors. Not secrets.
    const RSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCTEHrgfnIwNJwO
V9qVPujrEKKDHvWvCfQdzsvSMLzYXsLdnWsqrr96MR/aQLJ+0iYXFAlGhuOPlqls
ZZ6nvYkl3qW9zx5Ppf8mBDPKqKLrRZRCeCnS0Slh2yOn66VRSp7ff21CHX7L06PO
2vX1BrddgWDsdmrbiWbCq8ERVW91SpVY0TNhyhEaWl6KOk9tHOrDC1UjRnYOviyE
L9T4uJzJS/xRUACvHK4o8bqmcgnMACue8O4h7d3INHaigX0eB0WMtyfHFFVFmYKO
QWrjPrw6BGWJrHswycjbb3SqwYUgbFMjHvMy+yvgxHw9Twv+KKXglSqpY48v+Jzi
iqVia5odAgMBAAECggEALivU4ClisUa7HfewHP44wyAgXXk5WiCOX1NfA1kg2O97
T3eOP0LIw9Srcuqv/4f7xHAab2WHCTwcafdHhdNIPTb3Iy3lDs2HWwijuAMUzzez
keDHBLR9QQc7XQtrBige0/1eMI0xE04ZVibBZJGcvQMTCnotF0q+k+y3ezku+owb
mp9Q97HI/BkbWIV8+f6ksrZc24z+ZNzDI/vmKj58aaNxcZqTMPc24ete9gB5QLl4
kQhTN9MXLQ1bzV1KRED8U0F+iauFRGXii0IjWvrLNpDYimuFpUY0e0NgOhS47WhS
XDVQvP3xjXnaKZOvfbSBIawoAoT/tPjNKopmXA+BcwKBgQDEJLaFn1RiuoZc3J5e
CL2pDybeoyfCI/A8D+jkLnaQBuMilGzU3Z5SCrIWGRBD1Ekx+z1l2oHxvygo/niL
aB4SnquODeSWxR120zpOM6X/1ly4Qgi8qxZhjwff/sDjwavq8cOGT8UDvVLCZoOm
lZ/1ZbIkcPKW01r675Jkymsy6wKBgQC/8ZJbZ+9WLLDCVZ2EUdUBUs6Qaw64xXho
JjQDtNGPV7pDfOXmBK/zAbKDznqsOps1DlyNtUMDRNsyU+0UJ9n5pnM+qJHLQYUf
ev4ry5U/7xKobi2J0hC4ro4R9PtGIz6lcCZOEjcQgxsI4kL+a9Ms4pyuaLQhEOsr
WQ4tJCZVFwKBgDiGuA9EPqaBSM2kSwOgk0AQfMw2yvN5NfepQh3YghS512WUztR9
1e2g5XfW20gg+sMru6MJ2N8ZjvJZe9X5OIl3Lsuul00YG4iuESSOX+2eEnSLm0b8
K2QMO2HDYkWBABGigQ3JGWcdfadGsfQlNMcc+rzjzBXJbXPZ7R+c8k3nAoGBAIs7
PXImk3sMEe/10Lvx7DP4kDQ8JEKto2jRBXwGxthWx5s61z0h+0un2Ik51sxl+r3i
vApjCMgvQ11feaLcQYaRUhmKh69LyLgMLKEyHQJydjNNMKU/hregjxfBgB/hYwj4
sCCDoAPPRmYMUpJhPp7ZhtQQyVEPB7e68siV52RjAoGAXaWsrmi7gDw4EsCuFoBb
3rrHF5VSCERnvsQgl4egAgd6KxAtLULaS/utb9vd2iJxqyQwuNKpJNYZ1U/czDLo
krcr5HYRorFpuEdN2gWeXTjBRi5cdqgl14AQRh3nf7zJAvnu4d/AvZbhoNpEmIY4
pDUBW0SHXHQt2jvjgAGBp3o=
-----END PRIVATE KEY-----";
    const ED_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJmJqlTMLZA/WBKfEYzWfm/4/8JtM/aa7up7tzscs32D
-----END PRIVATE KEY-----";
    const BODY: &[u8] = br#"{"type":"Follow","id":"https://pipit.example/activities/1"}"#;
    const KEY_ID: &str = "https://pipit.example/users/alice#main-key";
    /// 2026-11-22T12:00:00Z
    const T: u64 = 1_795_348_800;
    // Expected signatures computed independently with
    // `openssl dgst -sha256 -sign rsa.pem` over the same signing strings (RSA PKCS#1 v1.5 is
    // deterministic, so any change to our signing string breaks these).
    const CAVAGE_SIG: &str = "JlBRL7ITNFfw1wnII4BQtCXvwUBJ6sGajYOJRItUGoXdJLIepczftc+WvGzLrKXmZjEidzkSol+mLZLhWdJeTf/pBYj8zrBp8zYfk0YyaakDI3IcveQn3yDWqTY2qJO7CONA7SY1F1XMqdLFZpjQp32k9gwoxitguBXE8/jVghp3uv/4Tdu3PdXOcYHqEJ62jB4jilysLmVy8ZqOGI6a9lIrfVsxPb1RuvrXonKAF7TCeqs4IhB1mxXNrykFp9sEpxUfywxy37bzQEJ5AA+fvOHE3EcEAWiPAw0pCJwSslJhRcBAb/khoAWKVCW1ustbRHdZGTOS8YqxyNxyZA3c1w==";
    const RFC9421_SIG: &str = "Yr9/PMAFW+LH2CZxFetoiPt8uq3LJq2IuxyBb9Hd1nFvn5UK0AX8NAkZKwVc5mWp5VzGJoHz+rS52S+tdzMw4a/kB1VDCrhZFkphrNvga7fVPCNkentrqBtvqGF1r/1i8etIwoYVjA+UTu3fJ6wAqz9pZbIiQARoVNyCWbUKWgSj27TQWWSykDvbUQ+sr/mEyS1Z4Uj+sasvfIXqBvFe0/W7bGAYHKDI1ldZwNg30nDB6UedsS3TPoBwDb/hqFNcWB+aDHta4pLRDeVI8sVh+lDy+0jMLIj0/TtxrlUOfxhn5kjU5NmN7Uy2iXd8+cLSkZlo/Z4naIFpElPB9+3uCw==";

    fn keys() -> ActorKeys {
        let r = crate::keygen::pem_decode(RSA_PEM, "PRIVATE KEY").unwrap();
        let e = crate::keygen::pem_decode(ED_PEM, "PRIVATE KEY").unwrap();
        ActorKeys::from_pkcs8(&r, &e).unwrap()
    }
    fn at(t: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(t)
    }
    fn inbox() -> Uri {
        "https://remote.example/users/bob/inbox".parse().unwrap()
    }
    fn signed(t: u64, cavage: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        if cavage {
            sign_cavage(&Method::POST, &inbox(), &mut h, Some(BODY), KEY_ID, &keys(), at(t));
        } else {
            sign_rfc9421(&Method::POST, &inbox(), &mut h, Some(BODY), KEY_ID, &keys(), at(t));
        }
        h
    }
    /// The request as the receiving server sees it: origin-form URI.
    fn origin_uri() -> Uri {
        "/users/bob/inbox".parse().unwrap()
    }

    #[test]
    fn cavage_golden_vector() {
        let h = signed(T, true);
        assert_eq!(h["date"], "Sun, 22 Nov 2026 12:00:00 GMT");
        assert_eq!(h["digest"], "SHA-256=sfvQf+ksV924/aAAT/j5nARefQ4bd6BC+mFESfWI3PQ=");
        assert_eq!(
            h["signature"].to_str().unwrap(),
            format!("keyId=\"{KEY_ID}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest\",signature=\"{CAVAGE_SIG}\"")
        );
    }

    #[test]
    fn rfc9421_golden_vector() {
        let h = signed(T, false);
        assert_eq!(h["signature-input"].to_str().unwrap(), format!("sig1=(\"@method\" \"@target-uri\" \"content-digest\");created={T};keyid=\"{KEY_ID}\";alg=\"rsa-v1_5-sha256\""));
        assert_eq!(h["signature"].to_str().unwrap(), format!("sig1=:{RFC9421_SIG}:"));
    }

    #[test]
    fn round_trips_in_both_dialects() {
        for cavage in [true, false] {
            let h = signed(T, cavage);
            let p = parse(&Method::POST, &origin_uri(), &h, "https").unwrap();
            assert_eq!(p.key_id(), KEY_ID);
            p.verify(&keys().rsa_public(), BODY, at(T + 10)).unwrap();
        }
    }

    #[test]
    fn rejections_each_named() {
        let k = keys().rsa_public();
        for cavage in [true, false] {
            let h = signed(T, cavage);
            let p = parse(&Method::POST, &origin_uri(), &h, "https").unwrap();
            // Tampered body: digest mismatch.
            assert!(matches!(p.verify(&k, b"{}", at(T)), Err(SigError::Digest(_))), "tampered body");
            // Two hours old (replayed).
            assert_eq!(p.verify(&k, BODY, at(T + 7200)), Err(SigError::Expired), "old request");
            // Two hours in the future.
            assert_eq!(p.verify(&k, BODY, at(T - 7200)), Err(SigError::FromTheFuture), "future request");
            // Signed by someone else's key.
            let other = PublicKey::from_pem(&crate::keygen::rsa_pkcs8_pem().map(|pem| {
                let der = crate::keygen::pem_decode(&pem, "PRIVATE KEY").unwrap();
                let ed = crate::keygen::pem_decode(ED_PEM, "PRIVATE KEY").unwrap();
                ActorKeys::from_pkcs8(&der, &ed).unwrap().rsa_public_pem()
            }).unwrap()).unwrap();
            assert_eq!(p.verify(&other, BODY, at(T)), Err(SigError::BadSignature), "wrong key");
        }
        // Still within Mastodon's window: an hour old (5 min validity + 1 h skew).
        let p = parse(&Method::POST, &origin_uri(), &signed(T, true), "https").unwrap();
        assert!(p.verify(&k, BODY, at(T + 3600)).is_ok());
    }

    #[test]
    fn mastodon_rules_on_what_is_signed() {
        let mut h = signed(T, true);
        // POST without digest in the signed headers.
        let s = h["signature"].to_str().unwrap().replace(" digest\"", "\"");
        h.insert("signature", HeaderValue::from_str(&s).unwrap());
        assert_eq!(parse(&Method::POST, &origin_uri(), &h, "https").unwrap_err(), SigError::NotCovered("digest"));
        // Unknown algorithm.
        let mut h = signed(T, true);
        let s = h["signature"].to_str().unwrap().replace("rsa-sha256", "rsa-sha512");
        h.insert("signature", HeaderValue::from_str(&s).unwrap());
        assert!(matches!(parse(&Method::POST, &origin_uri(), &h, "https"), Err(SigError::UnsupportedAlgorithm(_))));
        // hs2019 and an absent algorithm verify as RSA-SHA256.
        for alg in ["algorithm=\"hs2019\",", ""] {
            let mut h = signed(T, true);
            let s = h["signature"].to_str().unwrap().replace("algorithm=\"rsa-sha256\",", alg);
            h.insert("signature", HeaderValue::from_str(&s).unwrap());
            parse(&Method::POST, &origin_uri(), &h, "https").unwrap().verify(&keys().rsa_public(), BODY, at(T)).unwrap();
        }
        // Garbage headers are errors, not panics.
        for g in ["", "garbage", "keyId=", "keyId=\"x\",signature=\"!!!\"", "keyId=\"x\",headers=\"date\",signature=\"AAAA\"", "\"\"\"===,,,"] {
            let mut h = HeaderMap::new();
            h.insert("signature", HeaderValue::from_str(g).unwrap());
            assert!(parse(&Method::POST, &origin_uri(), &h, "https").is_err(), "{g}");
        }
        let mut h = HeaderMap::new();
        h.insert("signature-input", HeaderValue::from_static("sig1=(\"@method\""));
        h.insert("signature", HeaderValue::from_static("sig1=:AAAA:"));
        assert!(parse(&Method::POST, &origin_uri(), &h, "https").is_err());
    }

    #[test]
    fn query_string_variant_and_get_with_created() {
        // A GET signed over the path without its query still verifies (Mastodon tries both).
        let k = keys();
        let uri: Uri = "https://pipit.example/users/alice/outbox?page=true".parse().unwrap();
        let bare: Uri = "https://pipit.example/users/alice/outbox".parse().unwrap();
        let mut h = HeaderMap::new();
        sign_cavage(&Method::GET, &bare, &mut h, None, KEY_ID, &k, at(T));
        let p = parse(&Method::GET, &"/users/alice/outbox?page=true".parse().unwrap(), &h, "https").unwrap();
        p.verify(&k.rsa_public(), b"", at(T)).unwrap();
        let _ = uri;
        // Lemmy style: (created)/(expires) pseudo-headers instead of Date.
        let base = format!("(request-target): get /users/alice\nhost: pipit.example\n(created): {T}\n(expires): {}", T + 3600);
        let sig = B64.encode(k.sign_rsa(base.as_bytes()));
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("pipit.example"));
        h.insert("signature", HeaderValue::from_str(&format!("keyId=\"{KEY_ID}\",algorithm=\"hs2019\",created={T},expires={},headers=\"(request-target) host (created) (expires)\",signature=\"{sig}\"", T + 3600)).unwrap());
        let p = parse(&Method::GET, &"/users/alice".parse().unwrap(), &h, "https").unwrap();
        p.verify(&k.rsa_public(), b"", at(T + 60)).unwrap();
        assert_eq!(p.verify(&k.rsa_public(), b"", at(T + 3600 + 3601)), Err(SigError::Expired));
    }

    #[test]
    fn object_proofs() {
        let k = keys();
        let mut doc = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": "https://pipit.example/activities/1", "type": "Create", "actor": "https://pipit.example/users/alice", "object": {"type": "Note", "content": "héllo"}});
        add_proof(&mut doc, &k, "https://pipit.example/users/alice#ed25519-key", "2026-11-22T12:00:00Z");
        assert_eq!(proof_verification_method(&doc), Some("https://pipit.example/users/alice#ed25519-key"));
        // Ed25519 is deterministic: a fixed key and document give a fixed proofValue.
        let pv = doc["proof"]["proofValue"].as_str().unwrap().to_string();
        assert!(pv.starts_with('z') && pv.len() > 80);
        verify_proof(&doc, &k.ed25519_public()).unwrap();
        // Reordering keys changes nothing (JCS); tampering breaks it.
        let reordered: Value = serde_json::from_str(&jcs::canonical(&doc)).unwrap();
        verify_proof(&reordered, &k.ed25519_public()).unwrap();
        let mut tampered = doc.clone();
        tampered["object"]["content"] = json!("hello");
        assert_eq!(verify_proof(&tampered, &k.ed25519_public()), Err(SigError::BadSignature));
        let mut wrong_created = doc.clone();
        wrong_created["proof"]["created"] = json!("2026-11-22T12:00:01Z");
        assert_eq!(verify_proof(&wrong_created, &k.ed25519_public()), Err(SigError::BadSignature));
    }
}
