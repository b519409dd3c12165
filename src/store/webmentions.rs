//! Webmentions received (W3C Webmention): `postid_source_ms`, (the owner's post id, source
//! URL) → when it was last verified (ms). A post's mentions are a range over its id.

use super::{Read, Write};
use crate::error::Result;
use redb::TableDefinition;

pub const POSTID_SOURCE_MS: TableDefinition<(u64, &str), u64> = TableDefinition::new("postid_source_ms");

impl Write {
    pub(super) fn open_webmention_tables(&mut self) -> Result<()> {
        self.tx.open_table(POSTID_SOURCE_MS)?;
        Ok(())
    }
    /// Records (or refreshes) a verified webmention of post `post_id` from `source`.
    pub fn put_webmention(&mut self, post_id: u64, source: &str, at_ms: u64) -> Result<()> {
        self.tx.open_table(POSTID_SOURCE_MS)?.insert((post_id, source), at_ms)?;
        Ok(())
    }
    /// Forgets a webmention whose source no longer links (or is gone). True if there was one.
    pub fn remove_webmention(&mut self, post_id: u64, source: &str) -> Result<bool> {
        Ok(self.tx.open_table(POSTID_SOURCE_MS)?.remove((post_id, source))?.is_some())
    }
}

impl Read {
    /// Sources mentioning post `post_id`, with when each was verified, at most `limit`.
    pub fn webmentions(&self, post_id: u64, limit: usize) -> Result<Vec<(String, u64)>> {
        let t = self.tx.open_table(POSTID_SOURCE_MS)?;
        let mut out = Vec::new();
        for e in t.range((post_id, "")..(post_id + 1, ""))?.take(limit) {
            let (k, v) = e?;
            out.push((k.value().1.to_string(), v.value()));
        }
        Ok(out)
    }
}
