//! Receiving forms that may carry files, without holding them in memory: the caller checks the
//! session before any byte of the body is read, the CSRF token is checked as soon as the text
//! fields before the first file have arrived (a file before the token is refused), and file
//! parts are streamed to temporary files in DATA/tmp (removed when the `Upload` is dropped).
//! Text fields are kept in memory, 64 KiB at most in total.

use crate::error::{Error, Result};
use crate::server::request::{content_type, Form};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_LENGTH};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Text fields of one form at most, in bytes.
const MAX_FIELDS_BYTES: usize = 64 * 1024;
/// Files in one form at most.
const MAX_FILES: usize = 4;

/// A received file: its form field name, the client's file name and content type, and where its
/// bytes are (a temporary file, deleted on drop).
pub struct Upload {
    pub name: String,
    pub filename: String,
    pub content_type: String,
    pub path: PathBuf,
    pub len: u64,
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A received form: text fields and files.
pub struct Received {
    pub form: Form,
    pub files: Vec<Upload>,
}

/// Where uploads wait while a request is handled; emptied at startup.
pub fn tmp_dir(data: &Path) -> PathBuf {
    data.join("tmp")
}

/// Reads a urlencoded or multipart form of at most `limit` bytes within `deadline`. `check` is
/// called with the text fields received so far before the first file's bytes are accepted (or
/// at the end when there is none); an error from it stops reading.
pub async fn receive(headers: &HeaderMap, body: Incoming, limit: usize, deadline: Duration, tmp: &Path, check: impl Fn(&Form) -> Result<()> + Sync) -> Result<Received> {
    if let Some(len) = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) {
        if len > limit as u64 {
            return Err(Error::PayloadTooLarge(limit as u64));
        }
    }
    let ct = content_type(headers).to_string();
    let work = async {
        if ct.starts_with("multipart/form-data") {
            let boundary = ct
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("boundary="))
                .next()
                .map(|b| b.trim_matches('"').to_string())
                .filter(|b| !b.is_empty() && b.len() <= 200)
                .ok_or_else(|| Error::BadRequest("multipart body without boundary".into()))?;
            multipart(body, &boundary, limit, tmp, &check).await
        } else if ct.starts_with("application/x-www-form-urlencoded") || ct.is_empty() {
            let bytes = http_body_util::Limited::new(body, limit.min(MAX_FIELDS_BYTES)).collect().await.map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    Error::PayloadTooLarge(limit.min(MAX_FIELDS_BYTES) as u64)
                } else {
                    Error::BadRequest(format!("could not read request body: {e}"))
                }
            })?;
            let text = std::str::from_utf8(&bytes.to_bytes()).map_err(|_| Error::BadRequest("form is not UTF-8".into()))?.to_string();
            let form = Form::parse(&text);
            check(&form)?;
            Ok(Received { form, files: Vec::new() })
        } else {
            Err(Error::UnsupportedMediaType(format!("expected a form, got `{ct}`")))
        }
    };
    tokio::time::timeout(deadline, work).await.map_err(|_| Error::Timeout)?
}

enum State {
    /// Before the first delimiter.
    Preamble,
    /// Reading a part's headers.
    Headers,
    /// A text field's bytes.
    Field { name: String, data: Vec<u8> },
    /// A file's bytes, going to disk.
    File { upload: Upload, file: std::fs::File },
    Done,
}

async fn multipart(mut body: Incoming, boundary: &str, limit: usize, tmp: &Path, check: &(dyn Fn(&Form) -> Result<()> + Sync)) -> Result<Received> {
    let bad = || Error::BadRequest("malformed multipart body".into());
    let first = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut state = State::Preamble;
    let mut form = Form::default();
    let mut files: Vec<Upload> = Vec::new();
    let mut field_bytes = 0usize;
    let mut checked = false;
    let mut ended = false;
    loop {
        // Move as far as the buffered bytes allow.
        loop {
            match &mut state {
                State::Done => break,
                State::Preamble => {
                    let Some(at) = find(&buf, first.as_bytes()) else { break };
                    buf.drain(..at + first.len());
                    state = State::Headers;
                }
                State::Headers => {
                    if buf.len() >= 2 && &buf[..2] == b"--" {
                        state = State::Done;
                        continue;
                    }
                    let Some(end) = find(&buf, b"\r\n\r\n") else {
                        if buf.len() > 8 * 1024 {
                            return Err(bad());
                        }
                        break;
                    };
                    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad())?.trim_start_matches("\r\n").to_string();
                    buf.drain(..end + 4);
                    let (name, filename, ctype) = part_headers(&head);
                    state = match filename {
                        Some(filename) => {
                            if !checked {
                                // The token must come before any file: nothing is written for a stranger.
                                check(&form)?;
                                checked = true;
                            }
                            if files.len() >= MAX_FILES {
                                return Err(Error::BadRequest("too many files in one form".into()));
                            }
                            std::fs::create_dir_all(tmp)?;
                            let path = tmp.join(format!("upload-{}", crate::secret::token()));
                            let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
                            State::File { upload: Upload { name, filename, content_type: ctype, path, len: 0 }, file }
                        }
                        None => State::Field { name, data: Vec::new() },
                    };
                }
                State::Field { .. } | State::File { .. } => {
                    let found = find(&buf, delim.as_bytes());
                    // Bytes that surely belong to this part: all before the delimiter, or all
                    // but a delimiter's length that might be its start.
                    let take = match found {
                        Some(at) => at,
                        None => buf.len().saturating_sub(delim.len()),
                    };
                    match &mut state {
                        State::Field { data, .. } => {
                            field_bytes += take;
                            if field_bytes > MAX_FIELDS_BYTES {
                                return Err(Error::PayloadTooLarge(MAX_FIELDS_BYTES as u64));
                            }
                            data.extend_from_slice(&buf[..take]);
                        }
                        State::File { upload, file } => {
                            file.write_all(&buf[..take])?;
                            upload.len += take as u64;
                        }
                        _ => unreachable!(),
                    }
                    buf.drain(..take);
                    let Some(_) = found else { break };
                    buf.drain(..delim.len());
                    match std::mem::replace(&mut state, State::Headers) {
                        State::Field { name, data } => form.0.push((name, String::from_utf8_lossy(&data).into_owned())),
                        State::File { upload, file } => {
                            file.sync_all().ok();
                            if upload.len > 0 {
                                files.push(upload);
                            }
                        }
                        _ => unreachable!(),
                    }
                }
            }
        }
        if matches!(state, State::Done) || ended {
            break;
        }
        match body.frame().await {
            None => ended = true,
            Some(Err(e)) => return Err(Error::BadRequest(format!("could not read request body: {e}"))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    total += data.len();
                    if total > limit {
                        return Err(Error::PayloadTooLarge(limit as u64));
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    if !matches!(state, State::Done) {
        return Err(bad());
    }
    if !checked {
        check(&form)?;
    }
    Ok(Received { form, files })
}

/// (field name, file name if a file, content type) from a multipart part's headers (RFC 7578);
/// the one multipart parser (pages and client API). Public for the fuzz target (tests/fuzz).
pub fn part_headers(head: &str) -> (String, Option<String>, String) {
    let (mut name, mut filename, mut ctype) = (String::new(), None, String::from("text/plain"));
    for line in head.split("\r\n") {
        let Some((k, v)) = line.split_once(':') else { continue };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-disposition" => {
                for param in v.split(';').skip(1) {
                    if let Some((pk, pv)) = param.trim().split_once('=') {
                        let pv = pv.trim_matches('"').to_string();
                        match pk.trim() {
                            "name" => name = pv,
                            "filename" => filename = Some(pv),
                            _ => {}
                        }
                    }
                }
            }
            // An empty `Content-Type:` line means no type given: keep RFC 7578's text/plain
            // default rather than an empty string (found by the multipart fuzz target).
            "content-type" if !v.trim().is_empty() => ctype = v.trim().to_string(),
            _ => {}
        }
    }
    (name, filename, ctype)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::part_headers;

    /// Bad input tried: an empty `Content-Type:` line (the fuzz crash of stop 19), a header
    /// without a colon, unquoted and quoted parameters.
    #[test]
    fn part_headers_defaults_and_empty_type() {
        let (name, file, ctype) = part_headers("Content-Disposition: form-data; name=\"a\"\r\nContent-Type:");
        assert_eq!((name.as_str(), file, ctype.as_str()), ("a", None, "text/plain"));
        let (name, file, ctype) =
            part_headers("garbage\r\ncontent-disposition: form-data; name=file; filename=\"p.jpg\"\r\nContent-Type:  image/jpeg ");
        assert_eq!((name.as_str(), file.as_deref(), ctype.as_str()), ("file", Some("p.jpg"), "image/jpeg"));
    }
}
