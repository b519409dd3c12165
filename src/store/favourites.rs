//! The owner's favourites (liked posts) in the order liked: `favouriteid_postid` and
//! `postid_favouriteid`, for `GET /api/v1/favourites`. Likes made before these tables existed
//! are not listed (the interactions table is keyed by post, not by liker).

use super::{tables::*, Read, Write};
use crate::error::Result;
use crate::model::Post;
use redb::ReadableTable;

impl Read {
    /// Liked posts, most recently liked first, below favourite id `before`; returns the cursor
    /// of the next page when there is more.
    pub fn favourites(&self, before: Option<u64>, limit: usize) -> Result<(Vec<Post>, Option<u64>)> {
        self.posts_by_index(FAVOURITEID_POSTID, before, limit)
    }
}

impl Write {
    /// Records that the owner liked `post_id` now (once).
    pub fn add_favourite(&mut self, post_id: u64) -> Result<()> {
        if self.tx.open_table(POSTID_FAVOURITEID)?.get(post_id)?.is_some() {
            return Ok(());
        }
        let id = self.new_id(super::IdSpace::Favourites, crate::time::now_ms())?;
        self.insert_new(FAVOURITEID_POSTID, id, post_id)?;
        self.tx.open_table(POSTID_FAVOURITEID)?.insert(post_id, id)?;
        Ok(())
    }
    /// Forgets the owner's like of `post_id`.
    pub fn remove_favourite(&mut self, post_id: u64) -> Result<()> {
        if let Some(id) = self.tx.open_table(POSTID_FAVOURITEID)?.remove(post_id)?.map(|v| v.value()) {
            self.tx.open_table(FAVOURITEID_POSTID)?.remove(id)?;
        }
        Ok(())
    }
}
