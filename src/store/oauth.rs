//! The Mastodon client API's records: OAuth apps (`appid_app`, `clientid_appid`), tokens
//! (`tokenhash_token`, `appid_tokenhash`), authorization codes (`codehash_code`), stable account
//! ids (`actoruri_accountid`, `accountid_actoruri`), and the cursor scans the API pages with
//! (`max_id` / `since_id` / `min_id`, Mastodon's paging).

use super::alloc::IdSpace;
use super::{from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// A registered client (`POST /api/v1/apps`). Every app is a confidential client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthApp {
    pub name: String,
    #[serde(default)]
    pub website: Option<String>,
    /// Registered redirect URIs, compared byte for byte.
    pub redirect_uris: Vec<String>,
    /// Scopes the app may ask for.
    pub scopes: Vec<String>,
    pub client_id: String,
    /// sha256 hex of the client secret.
    pub secret_hash: String,
    pub created_ms: u64,
}

/// An access or refresh token (stored under the sha256 of the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthToken {
    pub app_id: u64,
    pub scopes: Vec<String>,
    pub created_ms: u64,
    /// False for a client_credentials token: it acts for the app, not the owner.
    pub owner: bool,
    /// "access" or "refresh".
    pub kind: String,
    /// Hash of the other half of the pair (refresh ↔ access), revoked together.
    #[serde(default)]
    pub pair: Option<String>,
    /// Last time the token was used (ms), at most once a minute, for the settings page.
    #[serde(default)]
    pub used_ms: u64,
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthCode {
    pub app_id: u64,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// PKCE S256 challenge, when the client sent one.
    #[serde(default)]
    pub challenge: Option<String>,
    pub expires_ms: u64,
}

/// A Mastodon paging window over time-sortable ids: below `max_id`, above `since_id`, or the
/// items immediately above `min_id`. Results are always newest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub max_id: Option<u64>,
    pub since_id: Option<u64>,
    pub min_id: Option<u64>,
    pub limit: usize,
}

/// How many rows one page may skip over (filtered out) before it stops: bounded work per page.
const MAX_SCAN: usize = 2000;

impl Range {
    fn bounds(&self) -> (u64, u64) {
        let lo = self.since_id.max(self.min_id).map(|x| x.saturating_add(1)).unwrap_or(0);
        let hi = self.max_id.unwrap_or(u64::MAX);
        (lo, hi)
    }
    /// `min_id` without `since_id` pages upwards (the items just above the cursor).
    fn upwards(&self) -> bool {
        self.min_id.is_some() && self.since_id.is_none()
    }
}

fn collect(iter: impl Iterator<Item = Result<u64>>, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for (scanned, k) in iter.enumerate() {
        if out.len() >= r.limit || scanned >= MAX_SCAN {
            break;
        }
        let k = k?;
        if keep(k)? {
            out.push(k);
        }
    }
    Ok(out)
}

/// Keys of a u64-keyed table in the window, newest first, those passing `keep`.
fn scan<V: redb::Value + 'static>(t: &impl ReadableTable<u64, V>, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
    let (lo, hi) = r.bounds();
    if lo >= hi {
        return Ok(vec![]);
    }
    let range = t.range(lo..hi)?;
    let mut out = if r.upwards() {
        collect(range.map(|e| Ok(e?.0.value())), r, keep)?
    } else {
        collect(range.rev().map(|e| Ok(e?.0.value())), r, keep)?
    };
    if r.upwards() {
        out.reverse();
    }
    Ok(out)
}

/// Same over a `(prefix, u64)` index.
fn scan_prefixed(t: &impl ReadableTable<(&'static str, u64), ()>, prefix: &str, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
    let (lo, hi) = r.bounds();
    if lo >= hi {
        return Ok(vec![]);
    }
    let range = t.range((prefix, lo)..(prefix, hi))?;
    let mut out = if r.upwards() {
        collect(range.map(|e| Ok(e?.0.value().1)), r, keep)?
    } else {
        collect(range.rev().map(|e| Ok(e?.0.value().1)), r, keep)?
    };
    if r.upwards() {
        out.reverse();
    }
    Ok(out)
}

impl Read {
    pub fn oauth_app(&self, id: u64) -> Result<Option<OAuthApp>> {
        let t = self.tx.open_table(APPID_APP)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "app")).transpose()
    }
    pub fn oauth_app_by_client_id(&self, client_id: &str) -> Result<Option<(u64, OAuthApp)>> {
        let Some(id) = self.tx.open_table(CLIENTID_APPID)?.get(client_id)?.map(|v| v.value()) else { return Ok(None) };
        Ok(self.oauth_app(id)?.map(|a| (id, a)))
    }
    pub fn oauth_token(&self, hash: &str) -> Result<Option<OAuthToken>> {
        let t = self.tx.open_table(TOKENHASH_TOKEN)?;
        let v = t.get(hash)?;
        v.map(|v| from_json(v.value(), "token")).transpose()
    }
    /// Apps that hold at least one token for the owner, newest first: (app id, app, last used ms).
    pub fn authorized_apps(&self, limit: usize) -> Result<Vec<(u64, OAuthApp, u64)>> {
        let idx = self.tx.open_table(APPID_TOKENHASH)?;
        let mut out: Vec<(u64, OAuthApp, u64)> = Vec::new();
        let mut seen_app = None;
        for e in idx.iter()?.rev() {
            let (k, _) = e?;
            let (app_id, hash) = k.value();
            let Some(tok) = self.oauth_token(hash)? else { continue };
            if !tok.owner {
                continue;
            }
            if seen_app == Some(app_id) {
                if let Some(last) = out.last_mut() {
                    last.2 = last.2.max(tok.used_ms.max(tok.created_ms));
                }
                continue;
            }
            if out.len() >= limit {
                break;
            }
            seen_app = Some(app_id);
            if let Some(app) = self.oauth_app(app_id)? {
                out.push((app_id, app, tok.used_ms.max(tok.created_ms)));
            }
        }
        Ok(out)
    }

    /// The account id given to an actor, if it has one yet.
    pub fn account_id(&self, actor: &str) -> Result<Option<u64>> {
        Ok(self.tx.open_table(ACTORURI_ACCOUNTID)?.get(actor)?.map(|v| v.value()))
    }
    pub fn account_actor(&self, id: u64) -> Result<Option<String>> {
        Ok(self.tx.open_table(ACCOUNTID_ACTORURI)?.get(id)?.map(|v| v.value().to_string()))
    }

    /// Home entry ids in a window (entries whose post is gone are skipped).
    pub fn home_ids(&self, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
        scan(&self.tx.open_table(HOMEID_ENTRY)?, r, keep)
    }
    pub fn home_entry(&self, id: u64) -> Result<Option<crate::model::HomeEntry>> {
        let t = self.tx.open_table(HOMEID_ENTRY)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "home entry")).transpose()
    }
    pub fn notification_ids(&self, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
        scan(&self.tx.open_table(NOTIFID_NOTIF)?, r, keep)
    }
    pub fn notification(&self, id: u64) -> Result<Option<crate::model::Notification>> {
        let t = self.tx.open_table(NOTIFID_NOTIF)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "notification")).transpose()
    }
    /// Every stored post in a window (the public timelines).
    pub fn post_ids(&self, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
        scan(&self.tx.open_table(POSTID_POST)?, r, keep)
    }
    pub fn own_post_ids(&self, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
        scan(&self.tx.open_table(OWNPOSTID)?, r, keep)
    }
    pub fn author_post_ids(&self, author: &str, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
        scan_prefixed(&self.tx.open_table(AUTHOR_POSTID)?, author, r, keep)
    }
    pub fn tag_post_ids(&self, tag: &str, r: &Range, keep: &mut dyn FnMut(u64) -> Result<bool>) -> Result<Vec<u64>> {
        scan_prefixed(&self.tx.open_table(TAG_POSTID)?, tag, r, keep)
    }
    /// Number of direct replies to a post, counted up to `cap`.
    pub fn reply_count(&self, uri: &str, cap: usize) -> Result<u64> {
        let t = self.table(PARENTURI_CHILDID)?;
        let mut n = 0;
        for e in t.range((uri, 0u64)..=(uri, u64::MAX))?.take(cap) {
            e?;
            n += 1;
        }
        Ok(n)
    }
}

impl Write {
    /// Stores a new app under a fresh id (insert-if-absent: an id already taken is never reused).
    pub fn put_new_oauth_app(&mut self, app: &OAuthApp) -> Result<u64> {
        let id = self.new_id(IdSpace::OAuthApps, crate::time::now_ms())?;
        self.insert_new(APPID_APP, id, to_json(app)?.as_slice())?;
        self.tx.open_table(CLIENTID_APPID)?.insert(app.client_id.as_str(), id)?;
        Ok(id)
    }
    pub fn oauth_app(&self, id: u64) -> Result<Option<OAuthApp>> {
        let t = self.tx.open_table(APPID_APP)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "app")).transpose()
    }
    pub fn put_oauth_token(&mut self, hash: &str, t: &OAuthToken) -> Result<()> {
        self.tx.open_table(TOKENHASH_TOKEN)?.insert(hash, to_json(t)?.as_slice())?;
        self.tx.open_table(APPID_TOKENHASH)?.insert((t.app_id, hash), ())?;
        Ok(())
    }
    pub fn oauth_token(&self, hash: &str) -> Result<Option<OAuthToken>> {
        let t = self.tx.open_table(TOKENHASH_TOKEN)?;
        let v = t.get(hash)?;
        v.map(|v| from_json(v.value(), "token")).transpose()
    }
    /// Removes a token and its pair; returns the removed token.
    pub fn remove_oauth_token(&mut self, hash: &str) -> Result<Option<OAuthToken>> {
        let old: Option<OAuthToken> = {
            let mut t = self.tx.open_table(TOKENHASH_TOKEN)?;
            let v = t.remove(hash)?;
            v.map(|v| from_json(v.value(), "token")).transpose()?
        };
        if let Some(tok) = &old {
            self.tx.open_table(APPID_TOKENHASH)?.remove((tok.app_id, hash))?;
            if let Some(pair) = &tok.pair {
                let mut t = self.tx.open_table(TOKENHASH_TOKEN)?;
                t.remove(pair.as_str())?;
                drop(t);
                self.tx.open_table(APPID_TOKENHASH)?.remove((tok.app_id, pair.as_str()))?;
            }
        }
        Ok(old)
    }
    /// Revokes every token of an app (the settings page's "revoke"); the registration stays.
    pub fn remove_app_tokens(&mut self, app_id: u64) -> Result<usize> {
        let hashes: Vec<String> = {
            let t = self.tx.open_table(APPID_TOKENHASH)?;
            let mut v = Vec::new();
            for e in t.range((app_id, "")..(app_id + 1, ""))? {
                v.push(e?.0.value().1.to_string());
            }
            v
        };
        for h in &hashes {
            self.tx.open_table(TOKENHASH_TOKEN)?.remove(h.as_str())?;
            self.tx.open_table(APPID_TOKENHASH)?.remove((app_id, h.as_str()))?;
        }
        Ok(hashes.len())
    }
    pub fn put_oauth_code(&mut self, hash: &str, c: &OAuthCode) -> Result<()> {
        self.tx.open_table(CODEHASH_CODE)?.insert(hash, to_json(c)?.as_slice())?;
        Ok(())
    }
    /// Takes a code out (single use: a second exchange finds nothing).
    pub fn take_oauth_code(&mut self, hash: &str) -> Result<Option<OAuthCode>> {
        let mut t = self.tx.open_table(CODEHASH_CODE)?;
        let v = t.remove(hash)?;
        v.map(|v| from_json(v.value(), "code")).transpose()
    }
    /// Removes up to `limit` expired codes, so abandoned consents do not pile up.
    pub fn sweep_oauth_codes(&mut self, now_ms: u64, limit: usize) -> Result<()> {
        let mut t = self.tx.open_table(CODEHASH_CODE)?;
        let mut n = 0;
        t.retain(|_, v| {
            let expired = serde_json::from_slice::<OAuthCode>(v).map(|c| c.expires_ms < now_ms).unwrap_or(true);
            if n < limit && expired {
                n += 1;
                false
            } else {
                true
            }
        })?;
        Ok(())
    }
    /// The account id of an actor, given one now if it has none (insert-if-absent).
    pub fn ensure_account_id(&mut self, actor: &str) -> Result<u64> {
        if let Some(id) = self.tx.open_table(ACTORURI_ACCOUNTID)?.get(actor)?.map(|v| v.value()) {
            return Ok(id);
        }
        let id = self.new_id(IdSpace::Accounts, crate::time::now_ms())?;
        self.insert_new(ACCOUNTID_ACTORURI, id, actor)?;
        self.tx.open_table(ACTORURI_ACCOUNTID)?.insert(actor, id)?;
        Ok(id)
    }
}

impl Read {
    /// The client API's read markers (`home`, `notifications`): JSON object by timeline name.
    pub fn api_markers(&self) -> Result<serde_json::Value> {
        let t = self.tx.open_table(META_VALUE)?;
        let v = t.get("api_markers")?;
        Ok(v.and_then(|v| serde_json::from_slice(v.value()).ok()).unwrap_or_else(|| serde_json::json!({})))
    }
}

impl Write {
    /// Sets one marker, bumping its version; returns the whole marker object.
    pub fn put_api_marker(&mut self, timeline: &str, last_read_id: &str, now_ms: u64) -> Result<serde_json::Value> {
        let mut all: serde_json::Value = {
            let t = self.tx.open_table(META_VALUE)?;
            let v = t.get("api_markers")?;
            v.and_then(|v| serde_json::from_slice(v.value()).ok()).unwrap_or_else(|| serde_json::json!({}))
        };
        let version = all[timeline]["version"].as_u64().unwrap_or(0) + 1;
        all[timeline] = serde_json::json!({ "last_read_id": last_read_id, "version": version, "updated_ms": now_ms });
        self.put_meta("api_markers", &serde_json::to_vec(&all)?)?;
        Ok(all)
    }
}

impl Write {
    /// Adds a home entry under a chosen id (the owner's own post keeps its post id there, so
    /// the API's status id and paging cursor agree); another id if that one is taken.
    pub fn add_home_as(&mut self, id: u64, entry: &crate::model::HomeEntry, at_ms: u64) -> Result<u64> {
        // `id` is a post id from IdSpace::Posts: used only if free in IdSpace::Home (stored or
        // handed out in this transaction), else a fresh one.
        let taken = self.reserved.contains(&(IdSpace::Home, id)) || self.tx.open_table(HOMEID_ENTRY)?.get(id)?.is_some();
        if taken {
            return self.add_home(entry, at_ms);
        }
        self.reserved.insert((IdSpace::Home, id));
        self.insert_new(HOMEID_ENTRY, id, to_json(entry)?.as_slice())?;
        self.live.push(super::LiveEvent::Home(id));
        Ok(id)
    }
}

/// An image uploaded through the client API (`POST /api/v2/media`) before its post exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMedia {
    pub attachment: crate::model::Attachment,
    /// File name under DATA/media.
    pub file: String,
    pub created_ms: u64,
    /// The post it went into, once posted.
    #[serde(default)]
    pub post_id: Option<u64>,
}

impl Read {
    pub fn pending_media(&self, id: u64) -> Result<Option<PendingMedia>> {
        let t = self.tx.open_table(MEDIAID_MEDIA)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "media")).transpose()
    }
}

impl Write {
    /// Stores a new upload under a fresh id (`IdSpace::PendingMedia`, insert-if-absent).
    pub fn insert_pending_media(&mut self, m: &PendingMedia) -> Result<u64> {
        let id = self.new_id(IdSpace::PendingMedia, m.created_ms)?;
        self.insert_new(MEDIAID_MEDIA, id, to_json(m)?.as_slice())?;
        Ok(id)
    }
    /// Saves a changed upload the caller read from `id`.
    pub fn put_pending_media(&mut self, id: u64, m: &PendingMedia) -> Result<()> {
        self.tx.open_table(MEDIAID_MEDIA)?.insert(id, to_json(m)?.as_slice())?;
        Ok(())
    }
    pub fn pending_media(&self, id: u64) -> Result<Option<PendingMedia>> {
        let t = self.tx.open_table(MEDIAID_MEDIA)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "media")).transpose()
    }
    /// Removes up to `limit` uploads older than `before_ms` that never went into a post, and
    /// records of attached ones that old (the post keeps the file); returns the files to delete.
    pub fn sweep_pending_media(&mut self, before_ms: u64, limit: usize) -> Result<Vec<String>> {
        let old: Vec<(u64, PendingMedia)> = {
            let t = self.tx.open_table(MEDIAID_MEDIA)?;
            let mut v = Vec::new();
            for e in t.range(..(before_ms << 16))?.take(limit) {
                let (k, val) = e?;
                v.push((k.value(), from_json(val.value(), "media")?));
            }
            v
        };
        let mut files = Vec::new();
        let mut t = self.tx.open_table(MEDIAID_MEDIA)?;
        for (id, m) in old {
            t.remove(id)?;
            if m.post_id.is_none() {
                files.push(m.file);
            }
        }
        Ok(files)
    }
}

impl Write {
    /// Dismisses one notification; false if there was none.
    pub fn remove_notification(&mut self, id: u64) -> Result<bool> {
        Ok(self.tx.open_table(NOTIFID_NOTIF)?.remove(id)?.is_some())
    }
    /// Clears every notification (streamed by redb, never held in memory).
    pub fn clear_notifications(&mut self) -> Result<()> {
        self.tx.open_table(NOTIFID_NOTIF)?.retain(|_, _| false)?;
        Ok(())
    }
}

impl Read {
    /// The post an `Idempotency-Key` made, if it made one since `since_ms`.
    pub fn idempotent_post(&self, key_hash: &str, since_ms: u64) -> Result<Option<u64>> {
        let t = self.tx.open_table(IDEMKEY_POST)?;
        Ok(t.get(key_hash)?.map(|v| v.value()).filter(|(_, at)| *at >= since_ms).map(|(id, _)| id))
    }
}

impl Write {
    /// Remembers the post a key made; forgets up to 50 keys older than `forget_before_ms`.
    pub fn put_idempotent_post(&mut self, key_hash: &str, post_id: u64, now_ms: u64, forget_before_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(IDEMKEY_POST)?;
        let mut n = 0;
        t.retain(|_, (_, at)| {
            if n < 50 && at < forget_before_ms {
                n += 1;
                false
            } else {
                true
            }
        })?;
        t.insert(key_hash, (post_id, now_ms))?;
        Ok(())
    }
}

impl Write {
    /// Registered apps (O(1) in redb).
    pub fn oauth_app_count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        Ok(self.tx.open_table(APPID_APP)?.len()?)
    }
    /// Forgets up to `limit` apps registered before `before_ms` that hold no token (a client
    /// that registered and never finished logging in); oldest first.
    pub fn sweep_unused_apps(&mut self, before_ms: u64, limit: usize) -> Result<usize> {
        let candidates: Vec<(u64, String)> = {
            let t = self.tx.open_table(APPID_APP)?;
            let idx = self.tx.open_table(APPID_TOKENHASH)?;
            let mut v = Vec::new();
            for e in t.range(..(before_ms << 16))?.take(limit * 4) {
                let (k, val) = e?;
                let id = k.value();
                if idx.range((id, "")..(id + 1, ""))?.next().is_none() {
                    let a: OAuthApp = from_json(val.value(), "app")?;
                    v.push((id, a.client_id));
                    if v.len() >= limit {
                        break;
                    }
                }
            }
            v
        };
        for (id, client_id) in &candidates {
            self.tx.open_table(APPID_APP)?.remove(*id)?;
            self.tx.open_table(CLIENTID_APPID)?.remove(client_id.as_str())?;
        }
        Ok(candidates.len())
    }
}
