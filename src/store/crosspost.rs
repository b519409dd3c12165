//! Cross-posting to Mastodon-API accounts (issue 14): the connected accounts
//! (`xpacct_connection`), connection attempts waiting for the remote server's OAuth callback
//! (`xpstate_pending`), and the copies made of the owner's posts (`xpacct_postid_copy`).
//! Secrets in these records (tokens, client secrets, PKCE verifiers) are sealed by
//! domain::crosspost before they get here: this module never sees them in the clear.

use super::{from_json, to_json, Read, Write};
use crate::error::Result;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// Connected accounts: lower-case `user@host` → JSON [`Connection`].
pub const XPACCT_CONNECTION: TableDefinition<&str, &[u8]> = TableDefinition::new("xpacct_connection");
/// Connect attempts: sha256 hex of the OAuth `state` → JSON [`PendingConnect`]; removed when
/// the callback comes (used or not), or after [`PENDING_MAX_AGE_MS`].
pub const XPSTATE_PENDING: TableDefinition<&str, &[u8]> = TableDefinition::new("xpstate_pending");
/// Copies made: (lower-case `user@host`, the owner's post id) → JSON [`Copy`].
pub const XPACCT_POSTID_COPY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("xpacct_postid_copy");

/// How long a connect attempt waits for its callback (an hour).
pub const PENDING_MAX_AGE_MS: u64 = 3600 * 1000;
/// Most connected accounts (the composer shows one checkbox each).
pub const MAX_CONNECTIONS: usize = 20;

/// A connected account on a Mastodon-API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// `user@host` as verify_credentials named it (host: the server's).
    pub acct: String,
    /// The server's origin, `https://host[:port]`.
    pub server: String,
    /// The account's id there and its profile URL.
    pub account_id: String,
    #[serde(default)]
    pub account_url: String,
    pub client_id: String,
    /// Sealed (domain::crosspost::seal): the app's client secret and the access token.
    pub client_secret: String,
    pub token: String,
    /// The server's `configuration.statuses.max_characters` and `characters_reserved_per_url`.
    pub max_characters: usize,
    pub url_chars: usize,
    /// Ticked by default in the composer.
    #[serde(default)]
    pub default_on: bool,
    /// Set when the server refused the token (401/403): the reason; cross-posts to this
    /// account stop until the owner connects again.
    #[serde(default)]
    pub needs_reconnect: Option<String>,
    pub connected_ms: u64,
}

/// A connect attempt between the redirect to the server's consent page and its callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConnect {
    pub server: String,
    pub client_id: String,
    /// Sealed: the client secret and the PKCE code verifier.
    pub client_secret: String,
    pub verifier: String,
    pub max_characters: usize,
    pub url_chars: usize,
    pub created_ms: u64,
}

/// The copy of one of the owner's posts on a connected account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    /// The status id there, and its URL.
    pub remote_id: String,
    #[serde(default)]
    pub url: String,
    /// The media ids it was posted with (an edit must send them again to keep them).
    #[serde(default)]
    pub media_ids: Vec<String>,
    pub at_ms: u64,
}

impl Write {
    pub(super) fn open_crosspost_tables(&mut self) -> Result<()> {
        self.tx.open_table(XPACCT_CONNECTION)?;
        self.tx.open_table(XPSTATE_PENDING)?;
        self.tx.open_table(XPACCT_POSTID_COPY)?;
        Ok(())
    }

    /// Stores a connection: a new one, or the same account connected again (replacing the
    /// record it looks up first, e.g. after "needs reconnecting").
    pub fn put_connection(&mut self, c: &Connection) -> Result<()> {
        let key = c.acct.to_lowercase();
        let mut t = self.tx.open_table(XPACCT_CONNECTION)?;
        let exists = t.get(key.as_str())?.is_some();
        if !exists && t.iter()?.take(MAX_CONNECTIONS).count() >= MAX_CONNECTIONS {
            return Err(crate::error::Error::BadRequest(format!("At most {MAX_CONNECTIONS} accounts can be connected")));
        }
        t.insert(key.as_str(), to_json(c)?.as_slice())?;
        Ok(())
    }

    /// Changes a stored connection with `f`; false when there is none.
    pub fn update_connection(&mut self, acct: &str, f: impl FnOnce(&mut Connection)) -> Result<bool> {
        let key = acct.to_lowercase();
        let mut t = self.tx.open_table(XPACCT_CONNECTION)?;
        let Some(mut c) = t.get(key.as_str())?.map(|v| from_json::<Connection>(v.value(), "connection")).transpose()? else { return Ok(false) };
        f(&mut c);
        t.insert(key.as_str(), to_json(&c)?.as_slice())?;
        Ok(true)
    }

    /// Forgets a connection (its sealed secrets with it) and the copies made there. Returns it.
    pub fn remove_connection(&mut self, acct: &str) -> Result<Option<Connection>> {
        let key = acct.to_lowercase();
        let c = self.tx.open_table(XPACCT_CONNECTION)?.remove(key.as_str())?.map(|v| from_json::<Connection>(v.value(), "connection")).transpose()?;
        let mut copies = self.tx.open_table(XPACCT_POSTID_COPY)?;
        // In batches: an account may have many copies.
        loop {
            let keys: Vec<u64> = copies.range((key.as_str(), 0u64)..=(key.as_str(), u64::MAX))?.take(1000).map(|e| e.map(|(k, _)| k.value().1)).collect::<std::result::Result<_, _>>()?;
            if keys.is_empty() {
                break;
            }
            for id in keys {
                copies.remove((key.as_str(), id))?;
            }
        }
        Ok(c)
    }

    /// Stores a connect attempt under `state_hash`; attempts older than [`PENDING_MAX_AGE_MS`]
    /// are dropped on the way (the table holds only a handful).
    pub fn put_pending_connect(&mut self, state_hash: &str, p: &PendingConnect, now_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(XPSTATE_PENDING)?;
        let mut stale = Vec::new();
        for e in t.iter()?.take(1000) {
            let (k, v) = e?;
            if from_json::<PendingConnect>(v.value(), "pending connect").map(|p| p.created_ms + PENDING_MAX_AGE_MS < now_ms).unwrap_or(true) {
                stale.push(k.value().to_string());
            }
        }
        for k in stale {
            t.remove(k.as_str())?;
        }
        if t.get(state_hash)?.is_some() {
            return Err(crate::error::Error::Internal("state collision".into()));
        }
        t.insert(state_hash, to_json(p)?.as_slice())?;
        Ok(())
    }

    /// Takes (removes and returns) the connect attempt of `state_hash`, if any and not expired.
    pub fn take_pending_connect(&mut self, state_hash: &str, now_ms: u64) -> Result<Option<PendingConnect>> {
        let p = self.tx.open_table(XPSTATE_PENDING)?.remove(state_hash)?.map(|v| from_json::<PendingConnect>(v.value(), "pending connect")).transpose()?;
        Ok(p.filter(|p| p.created_ms + PENDING_MAX_AGE_MS >= now_ms))
    }

    /// Records the copy of post `post_id` on `acct`.
    pub fn put_copy(&mut self, acct: &str, post_id: u64, c: &Copy) -> Result<()> {
        let key = acct.to_lowercase();
        self.tx.open_table(XPACCT_POSTID_COPY)?.insert((key.as_str(), post_id), to_json(c)?.as_slice())?;
        Ok(())
    }

    /// Forgets the copy of post `post_id` on `acct` (deleted there).
    pub fn remove_copy(&mut self, acct: &str, post_id: u64) -> Result<()> {
        let key = acct.to_lowercase();
        self.tx.open_table(XPACCT_POSTID_COPY)?.remove((key.as_str(), post_id))?;
        Ok(())
    }
}

// The readers below serve both transactions (a page reads in its `Read`; the job that makes a
// copy checks them inside its `Write`): one body each, over the table handle either opens.

/// The connected accounts, in `acct` order (at most [`MAX_CONNECTIONS`]).
fn connections_in(t: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Vec<Connection>> {
    let mut out = Vec::new();
    for e in t.iter()?.take(MAX_CONNECTIONS) {
        out.push(from_json(e?.1.value(), "connection")?);
    }
    Ok(out)
}

fn connection_in(t: &impl ReadableTable<&'static str, &'static [u8]>, acct: &str) -> Result<Option<Connection>> {
    let v = t.get(acct.to_lowercase().as_str())?;
    v.map(|v| from_json(v.value(), "connection")).transpose()
}

fn copy_in(t: &impl ReadableTable<(&'static str, u64), &'static [u8]>, acct: &str, post_id: u64) -> Result<Option<Copy>> {
    let v = t.get((acct.to_lowercase().as_str(), post_id))?;
    v.map(|v| from_json(v.value(), "copy")).transpose()
}

impl Read {
    /// The connected accounts, in `acct` order (at most [`MAX_CONNECTIONS`]).
    pub fn connections(&self) -> Result<Vec<Connection>> {
        connections_in(&self.tx.open_table(XPACCT_CONNECTION)?)
    }

    /// The connection to `acct` (`user@host`, any case).
    pub fn connection(&self, acct: &str) -> Result<Option<Connection>> {
        connection_in(&self.tx.open_table(XPACCT_CONNECTION)?, acct)
    }

    /// Connect attempts waiting for their callback (expired ones included until the next
    /// attempt sweeps them), counted up to 1000.
    pub fn pending_connects(&self) -> Result<usize> {
        Ok(self.tx.open_table(XPSTATE_PENDING)?.iter()?.take(1000).count())
    }

    /// The copy of post `post_id` on `acct`, if one was made.
    pub fn copy_of(&self, acct: &str, post_id: u64) -> Result<Option<Copy>> {
        copy_in(&self.tx.open_table(XPACCT_POSTID_COPY)?, acct, post_id)
    }
}

impl Write {
    /// As [`Read::connections`], inside this write.
    pub fn connections(&self) -> Result<Vec<Connection>> {
        connections_in(&self.tx.open_table(XPACCT_CONNECTION)?)
    }

    /// As [`Read::connection`], inside this write.
    pub fn connection(&self, acct: &str) -> Result<Option<Connection>> {
        connection_in(&self.tx.open_table(XPACCT_CONNECTION)?, acct)
    }

    /// As [`Read::copy_of`], inside this write.
    pub fn copy_of(&self, acct: &str, post_id: u64) -> Result<Option<Copy>> {
        copy_in(&self.tx.open_table(XPACCT_POSTID_COPY)?, acct, post_id)
    }
}
