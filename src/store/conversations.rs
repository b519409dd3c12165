//! Conversation state: `conversation_read_removed` (the client API's conversation id → read-up-to
//! and removed-up-to home entry ids) and `mutedthread_ms` (muted threads, by root post uri). Which posts make a conversation is decided in
//! handlers/api/conversations.rs from the home timeline; only the owner's marks are kept here.

use super::{tables::*, Read, Write};
use crate::error::Result;
use redb::ReadableTable;

impl Read {
    /// (read up to, removed up to) home entry ids of a conversation; (0, 0) when never marked.
    pub fn conversation_marks(&self, id: u64) -> Result<(u64, u64)> {
        let t = self.tx.open_table(CONVERSATION_READ_REMOVED)?;
        let v = t.get(id)?.map(|v| v.value()).unwrap_or((0, 0));
        Ok(v)
    }
    /// Whether the thread whose root post is `root_uri` is muted.
    pub fn is_thread_muted(&self, root_uri: &str) -> Result<bool> {
        Ok(self.tx.open_table(MUTEDTHREAD_MS)?.get(root_uri)?.is_some())
    }
    /// The root of `uri`'s thread as far as stored: `in_reply_to` followed up at most `max_hops`.
    pub fn thread_root(&self, uri: &str, max_hops: usize) -> Result<String> {
        let mut root = uri.to_string();
        for _ in 0..max_hops {
            let Some(p) = self.post_by_uri(&root)? else { break };
            match p.in_reply_to {
                Some(parent) => root = parent.into_string(),
                None => break,
            }
        }
        Ok(root)
    }
}

impl Write {
    /// Marks a conversation read up to home entry `upto` (never moves back).
    pub fn mark_conversation_read(&mut self, id: u64, upto: u64) -> Result<()> {
        let mut t = self.tx.open_table(CONVERSATION_READ_REMOVED)?;
        let (read, removed) = t.get(id)?.map(|v| v.value()).unwrap_or((0, 0));
        t.insert(id, (read.max(upto), removed))?;
        Ok(())
    }
    /// Hides a conversation until an entry newer than `upto` arrives (Mastodon's remove).
    pub fn remove_conversation(&mut self, id: u64, upto: u64) -> Result<()> {
        let mut t = self.tx.open_table(CONVERSATION_READ_REMOVED)?;
        let (read, removed) = t.get(id)?.map(|v| v.value()).unwrap_or((0, 0));
        t.insert(id, (read.max(upto), removed.max(upto)))?;
        Ok(())
    }
    /// Mutes (or unmutes) the thread whose root post is `root_uri`.
    pub fn mute_thread(&mut self, root_uri: &str, mute: bool, now_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(MUTEDTHREAD_MS)?;
        if mute {
            t.insert(root_uri, now_ms)?;
        } else {
            t.remove(root_uri)?;
        }
        Ok(())
    }
}
