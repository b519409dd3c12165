//! Building responses: pages, JSON, redirects, files; and turning an Error into a page or JSON.

use crate::app::App;
use crate::error::Error;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use hyper::{Response, StatusCode};

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type Resp = Response<Body>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn with_type(status: u16, content_type: &str, bytes: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(full(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

pub fn html(body: String) -> Resp {
    html_status(200, body)
}

/// A page answered with HTTP `status` (a form shown again with its error: 400, 404, 502…).
pub fn html_status(status: u16, body: String) -> Resp {
    let mut r = with_type(status, "text/html; charset=utf-8", body);
    // Pages may carry the owner's CSRF token: never cache them in shared caches.
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    r
}

pub fn json(status: u16, content_type: &str, value: &serde_json::Value) -> Resp {
    with_type(status, content_type, serde_json::to_vec(value).unwrap_or_default())
}

/// 303 See Other: the answer to a form POST.
pub fn redirect(location: &str) -> Resp {
    let mut r = with_type(303, "text/plain; charset=utf-8", "");
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

pub fn moved(location: &str) -> Resp {
    let mut r = redirect(location);
    *r.status_mut() = StatusCode::FOUND;
    r
}

pub fn set_cookie(r: &mut Resp, name: &str, value: &str, max_age_secs: u64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(SET_COOKIE, v);
    }
}

/// An error as the client wants it: a small JSON object for API/ActivityPub clients, the custom
/// error page for browsers. Internal detail is logged, never sent.
pub fn error(app: &App, e: &Error, wants_json: bool, owner: Option<crate::render::views::OwnerView>) -> Resp {
    let status = e.status();
    if status >= 500 {
        tracing::warn!("error: {e}");
    }
    let message = e.public_message();
    if wants_json {
        return json(status, "application/json", &serde_json::json!({ "error": message }));
    }
    let page = app
        .render
        .render("error.html", minijinja::context! { status, message, owner })
        .unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><p>{}", crate::text::escape(&message)));
    let mut r = with_type(status, "text/html; charset=utf-8", page);
    if let Error::TooManyRequests = e {
        r.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("300"));
    }
    if let Error::Unavailable(_) = e {
        r.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    r
}

/// A body that reads a file in 32 KiB chunks as the client takes them.
pub fn file_body(file: tokio::fs::File) -> Body {
    FileBody { file, buf: vec![0u8; 32 * 1024], left: u64::MAX }.boxed()
}

/// [`file_body`] of at most `len` bytes from where the file is positioned (a Range answer).
pub fn file_body_len(file: tokio::fs::File, len: u64) -> Body {
    FileBody { file, buf: vec![0u8; 32 * 1024], left: len }.boxed()
}

struct FileBody {
    file: tokio::fs::File,
    buf: Vec<u8>,
    /// Bytes still to send.
    left: u64,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        use tokio::io::AsyncRead;
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = this.buf.len().min(this.left.min(usize::MAX as u64) as usize);
        let mut rb = tokio::io::ReadBuf::new(&mut this.buf[..want]);
        match std::pin::Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if rb.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => {
                this.left -= rb.filled().len() as u64;
                Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::copy_from_slice(rb.filled())))))
            }
        }
    }
}
