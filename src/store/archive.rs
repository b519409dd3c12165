//! Posts brought in from a Mastodon archive (issue 12): `archiveuri_postid` maps the archive's
//! original object id (`https://old.example/users/me/statuses/1`) to the local post id it
//! became, so importing the same archive again adds nothing (Mastodon's importer remembers the
//! same way). A mapping stays when its post is deleted later: a re-import does not bring back
//! what the owner removed.
//!
//! `pendingmedia_run` is the journal of media files saved for posts not committed yet (an
//! archive import saves its media one by one, then stores every post in one transaction):
//! (run, file name under DATA/media), noted durably BEFORE the file is moved into place, and
//! removed in the transaction that stores the post referencing the file. So an entry that
//! outlives its run names a file no post references: domain::media::sweep_pending removes it.

use super::{Read, Write};
use crate::error::Result;
use redb::{ReadableTable, TableDefinition};

pub const ARCHIVEURI_POSTID: TableDefinition<&str, u64> = TableDefinition::new("archiveuri_postid");

/// (run id, media file name) of files saved for posts not stored yet: a set.
pub const PENDINGMEDIA_RUN: TableDefinition<(u64, &str), ()> = TableDefinition::new("pendingmedia_run");

impl Read {
    /// The local post id an archive's object id was imported as, if it was.
    pub fn archived_post(&self, original_id: &str) -> Result<Option<u64>> {
        Ok(self.tx.open_table(ARCHIVEURI_POSTID)?.get(original_id)?.map(|v| v.value()))
    }
    /// Up to `limit` pending media entries `(run, file)` after `after` (None: from the start), in
    /// key order: a page of the journal, never the whole of it.
    pub fn pending_media_page(&self, after: Option<(u64, &str)>, limit: usize) -> Result<Vec<(u64, String)>> {
        let t = self.tx.open_table(PENDINGMEDIA_RUN)?;
        let mut out = Vec::new();
        let range = match after {
            Some(k) => t.range::<(u64, &str)>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))?,
            None => t.range::<(u64, &str)>(..)?,
        };
        for e in range.take(limit) {
            let (k, _) = e?;
            let (run, file) = k.value();
            out.push((run, file.to_string()));
        }
        Ok(out)
    }
}

impl Write {
    pub(super) fn open_archive_tables(&mut self) -> Result<()> {
        self.tx.open_table(ARCHIVEURI_POSTID)?;
        self.tx.open_table(PENDINGMEDIA_RUN)?;
        Ok(())
    }
    /// Notes media file `file` as saved by `run` for a post not stored yet.
    pub fn note_pending_media(&mut self, run: u64, file: &str) -> Result<()> {
        self.tx.open_table(PENDINGMEDIA_RUN)?.insert((run, file), ())?;
        Ok(())
    }
    /// `file` is no longer pending for `run` (its post is stored in this transaction, or the
    /// file was removed). Removing an entry that is not there is a no-op.
    pub fn clear_pending_media(&mut self, run: u64, file: &str) -> Result<()> {
        self.tx.open_table(PENDINGMEDIA_RUN)?.remove((run, file))?;
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
