//! Form bodies: `server::request::submitted`, urlencoded or multipart/form-data (uploads).
//! Input: first line is the Content-Type header value, the rest is the body.
#![no_main]
use hyper::body::Bytes;
use hyper::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"multipart/form-data; boundary=XX"[..], data),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = hyper::header::HeaderValue::from_bytes(ct.trim_ascii()) {
        headers.insert(hyper::header::CONTENT_TYPE, v);
    }
    let body = Bytes::copy_from_slice(body);
    if let Ok(s) = pipit::server::request::submitted(&headers, &body) {
        for f in &s.files {
            assert!(f.data.len() <= body.len());
        }
    }
});
