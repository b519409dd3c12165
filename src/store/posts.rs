//! Posts and their indexes: `postid_post`, `posturi_postid`, `ownpostid`, `parenturi_childid`,
//! `tag_postid`, `uri_deletedms`. Pages are bounded range scans; nothing reads a table whole.

use super::{from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::Post;
use redb::ReadableTable;

/// One page of a newest-first listing. `next` is the cursor for the following (older) page.
#[derive(Debug, Default)]
pub struct PostPage {
    pub posts: Vec<Post>,
    pub next: Option<u64>,
}

/// How far one page may scan past posts a visitor is not allowed to see, so a page of a profile
/// full of followers-only posts stays bounded in work.
const MAX_SCAN: usize = 2000;

impl Read {
    pub fn post(&self, id: u64) -> Result<Option<Post>> {
        let t = self.table(POSTID_POST)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "post")).transpose()
    }

    pub fn post_id_by_uri(&self, uri: &str) -> Result<Option<u64>> {
        Ok(self.table(POSTURI_POSTID)?.get(uri)?.map(|v| v.value()))
    }

    pub fn post_by_uri(&self, uri: &str) -> Result<Option<Post>> {
        match self.post_id_by_uri(uri)? {
            Some(id) => self.post(id),
            None => Ok(None),
        }
    }

    pub fn deleted_at(&self, uri: &str) -> Result<Option<u64>> {
        Ok(self.tx.open_table(URI_DELETEDMS)?.get(uri)?.map(|v| v.value()))
    }

    /// The owner's posts, newest first, older than `before`, those passing `visible` only.
    pub fn own_posts(&self, before: Option<u64>, limit: usize, visible: impl Fn(&Post) -> bool) -> Result<PostPage> {
        let index = self.tx.open_table(OWNPOSTID)?;
        let posts = self.tx.open_table(POSTID_POST)?;
        let range = index.range(..before.unwrap_or(u64::MAX))?;
        let mut page = PostPage::default();
        for (scanned, entry) in range.rev().enumerate() {
            let id = entry?.0.value();
            if page.posts.len() == limit {
                page.next = page.posts.last().map(|p| p.id);
                break;
            }
            if scanned >= MAX_SCAN {
                page.next = Some(id + 1);
                break;
            }
            if let Some(v) = posts.get(id)? {
                let p: Post = from_json(v.value(), "post")?;
                if visible(&p) {
                    page.posts.push(p);
                }
            }
        }
        Ok(page)
    }

    /// Number of the owner's posts (index length; O(1) in redb).
    pub fn own_post_count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        Ok(self.tx.open_table(OWNPOSTID)?.len()?)
    }

    /// Direct replies to `uri`, oldest first, at most `limit`.
    pub fn replies(&self, uri: &str, limit: usize) -> Result<Vec<Post>> {
        let index = self.tx.open_table(PARENTURI_CHILDID)?;
        let posts = self.tx.open_table(POSTID_POST)?;
        let mut out = Vec::new();
        for entry in index.range((uri, 0u64)..=(uri, u64::MAX))?.take(limit) {
            let (k, _) = entry?;
            let id = k.value().1;
            if let Some(v) = posts.get(id)? {
                out.push(from_json(v.value(), "post")?);
            }
        }
        Ok(out)
    }

    /// Posts with a hashtag, newest first.
    pub fn tagged(&self, tag: &str, before: Option<u64>, limit: usize, visible: impl Fn(&Post) -> bool) -> Result<PostPage> {
        let index = self.tx.open_table(TAG_POSTID)?;
        let posts = self.tx.open_table(POSTID_POST)?;
        let mut page = PostPage::default();
        let range = index.range((tag, 0u64)..(tag, before.unwrap_or(u64::MAX)))?;
        for (scanned, entry) in range.rev().enumerate() {
            let id = entry?.0.value().1;
            if page.posts.len() == limit {
                page.next = page.posts.last().map(|p| p.id);
                break;
            }
            if scanned >= MAX_SCAN {
                page.next = Some(id + 1);
                break;
            }
            if let Some(v) = posts.get(id)? {
                let p: Post = from_json(v.value(), "post")?;
                if visible(&p) {
                    page.posts.push(p);
                }
            }
        }
        Ok(page)
    }
}

impl Write {
    pub fn post_id_by_uri(&self, uri: &str) -> Result<Option<u64>> {
        Ok(self.tx.open_table(POSTURI_POSTID)?.get(uri)?.map(|v| v.value()))
    }

    pub fn post(&self, id: u64) -> Result<Option<Post>> {
        let t = self.tx.open_table(POSTID_POST)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "post")).transpose()
    }

    /// Stores a new post under `p.id` (from `new_id(IdSpace::Posts, …)`) with all its indexes.
    /// Errors with a conflict (`Error::Store("conflict: …")`) and writes nothing if a post
    /// already has that id or that URI: a new post never replaces another (issue 17).
    pub fn insert_post(&mut self, p: &Post) -> Result<()> {
        if let Some(other) = self.post_id_by_uri(&p.uri)? {
            return Err(super::alloc::conflict("posturi_postid", format!("{} (post {other})", p.uri)));
        }
        self.insert_new(POSTID_POST, p.id, to_json(p)?.as_slice())?;
        self.live.push(super::LiveEvent::PostNew(p.id));
        self.index(p)
    }

    /// Replaces a stored post with a new version of the *same* post (edit, remote Update, poll
    /// counts): same id, same URI, which the caller got by looking it up. `NotFound` if there
    /// is no post at `p.id`; a conflict error if the post there has another URI.
    pub fn update_post(&mut self, p: &Post) -> Result<()> {
        let old = self.post(p.id)?.ok_or(crate::error::Error::NotFound)?;
        if old.uri != p.uri {
            return Err(super::alloc::conflict("postid_post", format!("{} (holds {}, not {})", p.id, old.uri, p.uri)));
        }
        self.unindex(&old)?;
        self.tx.open_table(POSTID_POST)?.insert(p.id, to_json(p)?.as_slice())?;
        self.live.push(if old.edited_ms != p.edited_ms { super::LiveEvent::PostEdited(p.id) } else { super::LiveEvent::PostTouched(p.id) });
        self.index(p)
    }

    /// `update_post` if a post is stored at `p.id`, else `insert_post`: either way it never
    /// replaces a *different* post (another URI at that id, or that URI at another id), which
    /// is a conflict error. New code should say which it means.
    pub fn put_post(&mut self, p: &Post) -> Result<()> {
        if self.post(p.id)?.is_some() {
            self.update_post(p)
        } else {
            self.insert_post(p)
        }
    }

    fn index(&mut self, p: &Post) -> Result<()> {
        {
            let mut uris = self.tx.open_table(POSTURI_POSTID)?;
            // insert_post/update_post checked the URI is free or this post's own.
            uris.insert(p.uri.as_str(), p.id)?;
        }
        if p.local {
            self.tx.open_table(OWNPOSTID)?.insert(p.id, ())?;
        }
        self.tx.open_table(AUTHOR_POSTID)?.insert((p.author.as_str(), p.id), ())?;
        if let Some(parent) = &p.in_reply_to {
            self.tx.open_table(PARENTURI_CHILDID)?.insert((parent.as_str(), p.id), ())?;
        }
        let mut tags = self.tx.open_table(TAG_POSTID)?;
        for t in &p.tags {
            tags.insert((t.as_str(), p.id), ())?;
        }
        drop(tags);
        self.index_terms(p, true)?;
        self.community_index(p, true)
    }

    fn unindex(&mut self, p: &Post) -> Result<()> {
        self.community_index(p, false)?;
        self.tx.open_table(POSTURI_POSTID)?.remove(p.uri.as_str())?;
        self.tx.open_table(OWNPOSTID)?.remove(p.id)?;
        self.tx.open_table(AUTHOR_POSTID)?.remove((p.author.as_str(), p.id))?;
        if let Some(parent) = &p.in_reply_to {
            self.tx.open_table(PARENTURI_CHILDID)?.remove((parent.as_str(), p.id))?;
        }
        let mut tags = self.tx.open_table(TAG_POSTID)?;
        for t in &p.tags {
            tags.remove((t.as_str(), p.id))?;
        }
        drop(tags);
        self.index_terms(p, false)
    }

    /// Removes a post and its indexes and leaves a tombstone for its URI.
    pub fn delete_post(&mut self, id: u64, now_ms: u64) -> Result<Option<Post>> {
        let Some(p) = self.post(id)? else { return Ok(None) };
        self.unindex(&p)?;
        self.tx.open_table(POSTID_POST)?.remove(id)?;
        self.tx.open_table(PINNED_POSTID_MS)?.remove(id)?;
        let public = p.visibility == crate::model::Visibility::Public;
        self.live.push(super::LiveEvent::PostDeleted { id, public, local: p.local, direct: p.visibility == crate::model::Visibility::Direct });
        // A tombstone keeps the first deletion time (a URI is only ever deleted once anyway).
        let mut gone = self.tx.open_table(URI_DELETEDMS)?;
        if gone.get(p.uri.as_str())?.is_none() {
            gone.insert(p.uri.as_str(), now_ms)?;
        }
        Ok(Some(p))
    }
}
