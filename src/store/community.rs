//! The community indexes (issue 14, reply-and-elevate): replies other people wrote to the
//! owner's posts, kept up to date whenever a post is indexed or unindexed (posts.rs calls
//! `community_index`), so /community never scans the posts table.
//!
//! - `unanswered_replyid`: post id of a reply to one of the owner's posts that the owner has
//!   not answered yet → (). Newest first is a reverse range (ids sort by time).
//! - `replyday_actor_count`: (UTC day number of the reply, author actor id) → replies that
//!   day. Top repliers of the last N days are a range over N days, summed per author.
//! - `replier_replyid`: (author actor id, reply post id) → (): an author's replies to the
//!   owner, newest last, for the links to each conversation.

use super::{from_json, tables::*, Read, Write};
use crate::error::Result;
use crate::model::Post;
use redb::{ReadableTable, TableDefinition};

pub const UNANSWERED_REPLYID: TableDefinition<u64, ()> = TableDefinition::new("unanswered_replyid");
pub const REPLYDAY_ACTOR_COUNT: TableDefinition<(u64, &str), u64> = TableDefinition::new("replyday_actor_count");
pub const REPLIER_REPLYID: TableDefinition<(&str, u64), ()> = TableDefinition::new("replier_replyid");

pub const DAY_MS: u64 = 86_400_000;

/// The UTC day a post counts in: its id's time (when pipit stored it, or its `published` if
/// earlier), so the same post always lands in the same bucket on index and unindex.
pub fn reply_day(post_id: u64) -> u64 {
    (post_id >> 16) / DAY_MS
}

/// Most repliers one top-list sums over (a month of a busy account); beyond it the rest are
/// ignored rather than held in memory.
const MAX_BUCKETS: usize = 20_000;

impl Write {
    /// Creates the tables; on a database from before them, fills them once from the replies
    /// already stored (the owner's posts in batches of ids, each post's replies by index).
    pub(super) fn open_community_tables(&mut self) -> Result<()> {
        self.tx.open_table(UNANSWERED_REPLYID)?;
        self.tx.open_table(REPLYDAY_ACTOR_COUNT)?;
        self.tx.open_table(REPLIER_REPLYID)?;
        if self.meta_u32("community_index")?.is_some() {
            return Ok(());
        }
        let mut from = 0u64;
        loop {
            let own: Vec<u64> = {
                let t = self.tx.open_table(OWNPOSTID)?;
                let mut v = Vec::new();
                for e in t.range(from..)?.take(500) {
                    v.push(e?.0.value());
                }
                v
            };
            let Some(&last) = own.last() else { break };
            for id in own {
                let Some(p) = self.post(id)? else { continue };
                let children: Vec<u64> = {
                    let t = self.tx.open_table(PARENTURI_CHILDID)?;
                    let mut v = Vec::new();
                    for e in t.range((p.uri.as_str(), 0u64)..=(p.uri.as_str(), u64::MAX))?.take(10_000) {
                        v.push(e?.0.value().1);
                    }
                    v
                };
                for c in children {
                    if let Some(child) = self.post(c)? {
                        self.community_index(&child, true)?;
                    }
                }
            }
            from = last + 1;
        }
        self.put_meta("community_index", &1u32.to_le_bytes())
    }

    /// Is the post at `uri` one of the owner's own?
    fn is_own_uri(&self, uri: &str) -> Result<Option<u64>> {
        let Some(id) = self.post_id_by_uri(uri)? else { return Ok(None) };
        Ok(self.tx.open_table(OWNPOSTID)?.get(id)?.map(|_| id))
    }

    /// Does the owner have a reply to `uri` (other than post `except`)?
    pub(super) fn owner_answered(&self, uri: &str, except: u64) -> Result<bool> {
        let children = self.tx.open_table(PARENTURI_CHILDID)?;
        let own = self.tx.open_table(OWNPOSTID)?;
        for e in children.range((uri, 0u64)..=(uri, u64::MAX))?.take(1000) {
            let id = e?.0.value().1;
            if id != except && own.get(id)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Keeps the community indexes right for `p` being stored (`add`) or removed. Called by
    /// posts.rs after the post's other indexes are written, and before they are removed.
    pub(super) fn community_index(&mut self, p: &Post, add: bool) -> Result<()> {
        let Some(parent) = p.in_reply_to.as_deref() else { return Ok(()) };
        if p.local {
            // The owner answers a reply: it leaves (or, deleted, may return to) the unanswered list.
            let Some(pid) = self.post_id_by_uri(parent)? else { return Ok(()) };
            let Some(pp) = self.post(pid)? else { return Ok(()) };
            let is_reply_to_owner = self.tx.open_table(REPLIER_REPLYID)?.get((pp.author.as_str(), pid))?.is_some();
            if !is_reply_to_owner {
                return Ok(());
            }
            let mut un = self.tx.open_table(UNANSWERED_REPLYID)?;
            if add {
                un.remove(pid)?;
            } else {
                drop(un);
                if !self.owner_answered(&pp.uri, p.id)? {
                    self.tx.open_table(UNANSWERED_REPLYID)?.insert(pid, ())?;
                }
            }
            return Ok(());
        }
        if self.is_own_uri(parent)?.is_none() {
            return Ok(());
        }
        let key = (p.author.as_str(), p.id);
        let day_key = (reply_day(p.id), p.author.as_str());
        if add {
            let fresh = self.tx.open_table(REPLIER_REPLYID)?.insert(key, ())?.is_none();
            if fresh {
                let mut days = self.tx.open_table(REPLYDAY_ACTOR_COUNT)?;
                let n = days.get(day_key)?.map(|v| v.value()).unwrap_or(0);
                days.insert(day_key, n + 1)?;
            }
            if !self.owner_answered(&p.uri, 0)? {
                self.tx.open_table(UNANSWERED_REPLYID)?.insert(p.id, ())?;
            }
        } else {
            let was = self.tx.open_table(REPLIER_REPLYID)?.remove(key)?.is_some();
            if was {
                let mut days = self.tx.open_table(REPLYDAY_ACTOR_COUNT)?;
                let n = days.get(day_key)?.map(|v| v.value()).unwrap_or(0);
                if n <= 1 {
                    days.remove(day_key)?;
                } else {
                    days.insert(day_key, n - 1)?;
                }
            }
            self.tx.open_table(UNANSWERED_REPLYID)?.remove(p.id)?;
        }
        Ok(())
    }

    /// Takes a reply off the unanswered list without answering it ("dismiss").
    pub fn dismiss_reply(&mut self, id: u64) -> Result<bool> {
        Ok(self.tx.open_table(UNANSWERED_REPLYID)?.remove(id)?.is_some())
    }
}

impl Read {
    /// Replies to the owner's posts not answered yet, newest first, with ids below `before`;
    /// returns the page and the cursor of the next one.
    pub fn unanswered_replies(&self, before: Option<u64>, limit: usize) -> Result<(Vec<Post>, Option<u64>)> {
        let idx = self.tx.open_table(UNANSWERED_REPLYID)?;
        let posts = self.tx.open_table(POSTID_POST)?;
        let mut out: Vec<Post> = Vec::new();
        let mut next = None;
        for e in idx.range(..before.unwrap_or(u64::MAX))?.rev() {
            let id = e?.0.value();
            if out.len() == limit {
                next = out.last().map(|p| p.id);
                break;
            }
            if let Some(v) = posts.get(id)? {
                out.push(from_json(v.value(), "post")?);
            }
        }
        Ok((out, next))
    }

    /// Number of replies waiting for an answer (index length).
    pub fn unanswered_count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        Ok(self.tx.open_table(UNANSWERED_REPLYID)?.len()?)
    }

    /// The accounts that replied most to the owner from UTC day `since_day` on: (actor id,
    /// replies), most first (ties: the actor id), at most `limit`.
    pub fn top_repliers(&self, since_day: u64, limit: usize) -> Result<Vec<(String, u64)>> {
        let t = self.tx.open_table(REPLYDAY_ACTOR_COUNT)?;
        let mut sums: std::collections::HashMap<String, u64> = Default::default();
        for e in t.range((since_day, "")..)?.take(MAX_BUCKETS) {
            let (k, v) = e?;
            *sums.entry(k.value().1.to_string()).or_default() += v.value();
        }
        let mut v: Vec<(String, u64)> = sums.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(limit);
        Ok(v)
    }

    /// An account's replies to the owner with ids from `since_id` on, newest first, at most `limit`.
    pub fn replies_by(&self, actor: &str, since_id: u64, limit: usize) -> Result<Vec<Post>> {
        let t = self.tx.open_table(REPLIER_REPLYID)?;
        let mut out = Vec::new();
        for e in t.range((actor, since_id)..=(actor, u64::MAX))?.rev().take(limit) {
            if let Some(p) = self.post(e?.0.value().1)? {
                out.push(p);
            }
        }
        Ok(out)
    }
}
