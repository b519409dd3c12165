//! Posts brought in from a Mastodon archive (issue 12): `archiveuri_postid` maps the archive's
//! original object id (`https://old.example/users/me/statuses/1`) to the local post id it
//! became, so importing the same archive again adds nothing (Mastodon's importer remembers the
//! same way). A mapping stays when its post is deleted later: a re-import does not bring back
//! what the owner removed.

use super::{Read, Write};
use crate::error::Result;
use redb::{ReadableTable, TableDefinition};

pub const ARCHIVEURI_POSTID: TableDefinition<&str, u64> = TableDefinition::new("archiveuri_postid");

impl Read {
    /// The local post id an archive's object id was imported as, if it was.
    pub fn archived_post(&self, original_id: &str) -> Result<Option<u64>> {
        Ok(self.tx.open_table(ARCHIVEURI_POSTID)?.get(original_id)?.map(|v| v.value()))
    }
}

impl Write {
    pub(super) fn open_archive_tables(&mut self) -> Result<()> {
        self.tx.open_table(ARCHIVEURI_POSTID)?;
        Ok(())
    }
    /// As [`Read::archived_post`], inside this transaction (it sees this import's own notes).
    pub fn archived_post(&self, original_id: &str) -> Result<Option<u64>> {
        Ok(self.tx.open_table(ARCHIVEURI_POSTID)?.get(original_id)?.map(|v| v.value()))
    }
    /// Notes that the archive's `original_id` became post `post_id`. A key already taken is
    /// left as it was (the caller checks [`Write::archived_post`] first).
    pub fn note_archived(&mut self, original_id: &str, post_id: u64) -> Result<()> {
        let mut t = self.tx.open_table(ARCHIVEURI_POSTID)?;
        if t.get(original_id)?.is_none() {
            t.insert(original_id, post_id)?;
        }
        Ok(())
    }
}
