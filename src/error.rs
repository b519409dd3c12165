//! One error type for the whole server. Each variant knows its HTTP status and a message that is
//! safe to show a visitor; the internal detail goes to the log only (GoToSocial's WithCode idea).

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
pub enum Error {
    /// The request was malformed; the message says what was wrong and is shown as is.
    BadRequest(String),
    /// Not logged in as the owner, or a signature did not verify.
    Unauthorized(String),
    /// Logged in but the action is refused (bad CSRF token, not allowed).
    Forbidden(String),
    NotFound,
    /// The object existed and was deleted (ActivityPub Tombstone semantics).
    Gone,
    PayloadTooLarge(u64),
    TooManyRequests,
    UnsupportedMediaType(String),
    /// The client took too long to send its request.
    Timeout,
    /// Config file problems: the message names the key or file.
    Config(String),
    /// Storage failures (redb, disk full, corrupt record): detail is logged, never shown.
    Store(String),
    Io(std::io::Error),
    /// The store cannot write now (disk full, reopening after an I/O error): 503, try later.
    Unavailable(String),
    /// Anything else that is our fault.
    Internal(String),
    /// Another server could not give what the owner asked for (an account lookup): 404 when it
    /// said there is no such thing, 502 when it failed or could not be reached. The message
    /// names the account and what the server said, and is shown as is (owner pages only).
    Remote(u16, String),
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound => 404,
            Error::Gone => 410,
            Error::PayloadTooLarge(_) => 413,
            Error::TooManyRequests => 429,
            Error::UnsupportedMediaType(_) => 415,
            Error::Timeout => 408,
            Error::Config(_) | Error::Store(_) | Error::Io(_) | Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
            Error::Remote(status, _) => *status,
        }
    }

    /// What a visitor may see. Internal detail is deliberately left out.
    pub fn public_message(&self) -> String {
        match self {
            Error::BadRequest(m) | Error::Unauthorized(m) | Error::Forbidden(m) | Error::Remote(_, m) => m.clone(),
            Error::UnsupportedMediaType(m) => m.clone(),
            Error::NotFound => "Not found".into(),
            Error::Gone => "This was deleted".into(),
            Error::PayloadTooLarge(limit) => format!("Request body too large (limit {limit} bytes)"),
            Error::TooManyRequests => "Too many attempts; wait a few minutes and try again".into(),
            Error::Timeout => "Request took too long to arrive".into(),
            Error::Unavailable(_) => "The server's disk is full or failing; nothing was saved. Try again later".into(),
            Error::Io(e) if is_disk_full(e) => "The server's disk is full; nothing was saved".into(),
            Error::Store(m) if m.contains("No space left") => {
                "The server's disk is full; nothing was saved".into()
            }
            _ => "Internal server error".into(),
        }
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) | Error::Store(m) | Error::Internal(m) | Error::Unavailable(m) => f.write_str(m),
            Error::Io(e) => write!(f, "{e}"),
            other => f.write_str(&other.public_message()),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

impl From<minijinja::Error> for Error {
    fn from(e: minijinja::Error) -> Self {
        Error::Internal(format!("template: {e:#}"))
    }
}

macro_rules! store_error {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self { Error::Store(e.to_string()) }
        }
    )*};
}
store_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
