//! Lists, followed hashtags and bookmarks: `listid_list`, `list_member`, `member_list`,
//! `followedtag_ms`, `bookmarkid_postid`, `postid_bookmarkid`.

use super::{alloc::IdSpace, from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::{List, Post};
use redb::ReadableTable;

impl Read {
    /// All lists (a person has a handful; bounded to 500).
    pub fn lists(&self) -> Result<Vec<(u64, List)>> {
        let t = self.tx.open_table(LISTID_LIST)?;
        let mut out = Vec::new();
        for e in t.iter()?.take(500) {
            let (k, v) = e?;
            out.push((k.value(), from_json(v.value(), "list")?));
        }
        Ok(out)
    }
    pub fn list(&self, id: u64) -> Result<Option<List>> {
        let t = self.tx.open_table(LISTID_LIST)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "list")).transpose()
    }
    pub fn list_members(&self, id: u64, limit: usize) -> Result<Vec<String>> {
        let t = self.tx.open_table(LIST_MEMBER)?;
        let mut out = Vec::new();
        for e in t.range((id, "")..(id + 1, ""))?.take(limit) {
            out.push(e?.0.value().1.to_string());
        }
        Ok(out)
    }
    /// Lists an account is in.
    pub fn lists_of(&self, actor: &str) -> Result<Vec<u64>> {
        let t = self.tx.open_table(MEMBER_LIST)?;
        let mut out = Vec::new();
        for e in t.range((actor, 0u64)..=(actor, u64::MAX))?.take(500) {
            out.push(e?.0.value().1);
        }
        Ok(out)
    }
    /// Is the account in any exclusive list (then its posts stay off /home)?
    pub fn in_exclusive_list(&self, actor: &str) -> Result<bool> {
        for id in self.lists_of(actor)? {
            if self.list(id)?.map(|l| l.exclusive).unwrap_or(false) {
                return Ok(true);
            }
        }
        Ok(false)
    }
    /// A list's timeline: members' posts, newest first, merged from each member's index.
    pub fn list_posts(&self, id: u64, before: Option<u64>, limit: usize) -> Result<(Vec<Post>, Option<u64>)> {
        let members = self.list_members(id, 1000)?;
        let idx = self.tx.open_table(AUTHOR_POSTID)?;
        // Take up to `limit` newest ids per member below the cursor, then the newest overall.
        let mut ids: Vec<u64> = Vec::new();
        for m in &members {
            for e in idx.range((m.as_str(), 0u64)..(m.as_str(), before.unwrap_or(u64::MAX)))?.rev().take(limit + 1) {
                ids.push(e?.0.value().1);
            }
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let more = ids.len() > limit;
        ids.truncate(limit);
        let mut posts = Vec::new();
        for id in &ids {
            if let Some(p) = self.post(*id)? {
                posts.push(p);
            }
        }
        let next = if more { ids.last().copied() } else { None };
        Ok((posts, next))
    }
    pub fn followed_tags(&self) -> Result<Vec<String>> {
        let t = self.tx.open_table(FOLLOWEDTAG_MS)?;
        let mut out = Vec::new();
        for e in t.iter()?.take(1000) {
            out.push(e?.0.value().to_string());
        }
        Ok(out)
    }
    pub fn follows_tag(&self, tag: &str) -> Result<bool> {
        Ok(self.tx.open_table(FOLLOWEDTAG_MS)?.get(tag)?.is_some())
    }
    /// The owner's pinned posts, at most `limit`, most recently pinned first.
    pub fn pinned(&self, limit: usize) -> Result<Vec<Post>> {
        let t = self.tx.open_table(PINNED_POSTID_MS)?;
        let mut pins: Vec<(u64, u64)> = Vec::new();
        for e in t.iter()?.take(100) {
            let (k, v) = e?;
            pins.push((v.value(), k.value()));
        }
        pins.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::new();
        for (_, id) in pins.into_iter().take(limit) {
            if let Some(p) = self.post(id)? {
                out.push(p);
            }
        }
        Ok(out)
    }
    pub fn is_pinned(&self, post_id: u64) -> Result<bool> {
        Ok(self.table(PINNED_POSTID_MS)?.get(post_id)?.is_some())
    }
    pub fn is_bookmarked(&self, post_id: u64) -> Result<bool> {
        Ok(self.table(POSTID_BOOKMARKID)?.get(post_id)?.is_some())
    }
    /// Bookmarked posts, most recently bookmarked first.
    pub fn bookmarks(&self, before: Option<u64>, limit: usize) -> Result<(Vec<Post>, Option<u64>)> {
        self.posts_by_index(BOOKMARKID_POSTID, before, limit)
    }

    /// A page of posts from an index `(id in the order added) → post id` (bookmarks, favourites),
    /// newest first below `before`; returns the cursor of the next page when there is more.
    pub(super) fn posts_by_index(&self, index: redb::TableDefinition<u64, u64>, before: Option<u64>, limit: usize) -> Result<(Vec<Post>, Option<u64>)> {
        let t = self.tx.open_table(index)?;
        let mut out = Vec::new();
        let mut last = None;
        let mut next = None;
        for e in t.range(..before.unwrap_or(u64::MAX))?.rev() {
            let (k, v) = e?;
            if out.len() == limit {
                next = last;
                break;
            }
            last = Some(k.value());
            if let Some(p) = self.post(v.value())? {
                out.push(p);
            }
        }
        Ok((out, next))
    }
}

impl Write {
    /// Stores a new list under a fresh id (`IdSpace::Lists`) and returns the id.
    pub fn create_list(&mut self, l: &List) -> Result<u64> {
        let id = self.new_id(IdSpace::Lists, crate::time::now_ms())?;
        self.insert_new(LISTID_LIST, id, to_json(l)?.as_slice())?;
        Ok(id)
    }
    /// Saves a changed list the caller read from `id`; `NotFound` if there is none.
    pub fn update_list(&mut self, id: u64, l: &List) -> Result<()> {
        let mut t = self.tx.open_table(LISTID_LIST)?;
        if t.get(id)?.is_none() {
            return Err(crate::error::Error::NotFound);
        }
        t.insert(id, to_json(l)?.as_slice())?;
        Ok(())
    }
    /// `update_list` if list `id` exists, else inserts it at `id` (which must come from
    /// `new_id(IdSpace::Lists, …)`). Prefer `create_list` / `update_list`.
    pub fn put_list(&mut self, id: u64, l: &List) -> Result<()> {
        if self.list(id)?.is_some() {
            self.update_list(id, l)
        } else {
            self.insert_new(LISTID_LIST, id, to_json(l)?.as_slice())
        }
    }
    pub fn list(&self, id: u64) -> Result<Option<List>> {
        let t = self.tx.open_table(LISTID_LIST)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "list")).transpose()
    }
    pub fn delete_list(&mut self, id: u64) -> Result<()> {
        let members: Vec<String> = {
            let t = self.tx.open_table(LIST_MEMBER)?;
            let mut out = Vec::new();
            for e in t.range((id, "")..(id + 1, ""))? {
                out.push(e?.0.value().1.to_string());
            }
            out
        };
        for m in members {
            self.remove_list_member(id, &m)?;
        }
        self.tx.open_table(LISTID_LIST)?.remove(id)?;
        Ok(())
    }
    pub fn add_list_member(&mut self, id: u64, actor: &str) -> Result<()> {
        self.tx.open_table(LIST_MEMBER)?.insert((id, actor), ())?;
        self.tx.open_table(MEMBER_LIST)?.insert((actor, id), ())?;
        Ok(())
    }
    pub fn remove_list_member(&mut self, id: u64, actor: &str) -> Result<()> {
        self.tx.open_table(LIST_MEMBER)?.remove((id, actor))?;
        self.tx.open_table(MEMBER_LIST)?.remove((actor, id))?;
        Ok(())
    }
    pub fn follow_tag(&mut self, tag: &str, follow: bool, now_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(FOLLOWEDTAG_MS)?;
        if follow {
            if t.get(tag)?.is_none() {
                t.insert(tag, now_ms)?; // following again keeps the first "since"
            }
        } else {
            t.remove(tag)?;
        }
        Ok(())
    }
    pub fn follows_tag(&self, tag: &str) -> Result<bool> {
        Ok(self.tx.open_table(FOLLOWEDTAG_MS)?.get(tag)?.is_some())
    }
    /// Toggles a pin; returns whether the post is now pinned.
    pub fn toggle_pin(&mut self, post_id: u64, now_ms: u64) -> Result<bool> {
        let mut t = self.tx.open_table(PINNED_POSTID_MS)?;
        if t.remove(post_id)?.is_some() {
            return Ok(false);
        }
        t.insert(post_id, now_ms)?;
        Ok(true)
    }
    /// Toggles a bookmark; returns whether the post is now bookmarked.
    pub fn toggle_bookmark(&mut self, post_id: u64) -> Result<bool> {
        let existing = self.tx.open_table(POSTID_BOOKMARKID)?.remove(post_id)?.map(|v| v.value());
        match existing {
            Some(b) => {
                self.tx.open_table(BOOKMARKID_POSTID)?.remove(b)?;
                Ok(false)
            }
            None => {
                let b = self.new_id(IdSpace::Bookmarks, crate::time::now_ms())?;
                self.insert_new(BOOKMARKID_POSTID, b, post_id)?;
                self.tx.open_table(POSTID_BOOKMARKID)?.insert(post_id, b)?;
                Ok(true)
            }
        }
    }
}
