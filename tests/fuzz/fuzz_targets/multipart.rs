//! Form bodies: `server::request::submitted` (urlencoded; a multipart body is refused there) and
//! `server::upload::part_headers`, the header reader of the one multipart parser (the streaming
//! body splitter in `upload::receive` needs a live hyper connection and is covered by the Rust
//! tests instead). Input: first line is the Content-Type header value, the rest is the body; the
//! body is also read as a part's header block.
#![no_main]
use hyper::body::Bytes;
use hyper::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ct, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"application/x-www-form-urlencoded"[..], data),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = hyper::header::HeaderValue::from_bytes(ct.trim_ascii()) {
        headers.insert(hyper::header::CONTENT_TYPE, v);
    }
    let bytes = Bytes::copy_from_slice(body);
    if let Ok(s) = pipit::server::request::submitted(&headers, &bytes) {
        for (k, v) in &s.form.0 {
            assert!(k.len() <= body.len() && v.len() <= body.len());
        }
    }
    if let Ok(head) = std::str::from_utf8(body) {
        let (name, filename, ctype) = pipit::server::upload::part_headers(head);
        assert!(name.len() <= head.len() && filename.map_or(0, |f| f.len()) <= head.len());
        assert!(!ctype.is_empty());
    }
});
