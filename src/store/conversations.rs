//! The client API's conversation state: `conversation_read_removed` (conversation id → read-up-to
//! and removed-up-to home entry ids). Which posts make a conversation is decided in
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
}
