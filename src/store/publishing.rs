//! Publishing controls (issue 14): a post's earlier versions (`postid_editms_version`), the
//! owner's scheduled posts and drafts (`scheduledid_scheduled`), and who voted in the owner's
//! polls (`postid_voter_choices`). Every listing is a bounded range.

use super::{alloc::IdSpace, from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::{Attachment, Visibility};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// One earlier version of a post, as it was before an edit replaced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostVersion {
    /// Sanitised HTML.
    pub content: String,
    /// What the owner typed (own posts), else empty.
    #[serde(default)]
    pub source: String,
    /// Content warning; empty: none.
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When this version appeared (ms): the post's `published`, or the edit that made it.
    pub at_ms: u64,
}

/// A poll as the composer asks for it (before it is a `model::Poll`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSpec {
    /// Option titles, 2 to `domain::posts::MAX_POLL_OPTIONS`.
    pub options: Vec<String>,
    /// Several choices allowed (`anyOf`) rather than one (`oneOf`).
    #[serde(default)]
    pub multiple: bool,
    /// Seconds from publishing until voting ends.
    pub expires_secs: u64,
}

/// What a scheduled post or draft will publish (the parameters of `POST /api/v1/statuses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledParams {
    pub text: String,
    #[serde(default)]
    pub cw: String,
    pub visibility: Visibility,
    /// AP id of the post replied to.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub local_only: bool,
    #[serde(default)]
    pub poll: Option<PollSpec>,
    /// Media saved already (files under DATA/media).
    #[serde(default)]
    pub media: Vec<Attachment>,
}

/// A scheduled post (`scheduled_ms` set: published then by a queue job) or a draft (None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledPost {
    pub id: u64,
    /// When to publish (ms); None: a draft, published only when the owner says so.
    pub scheduled_ms: Option<u64>,
    pub created_ms: u64,
    pub params: ScheduledParams,
}

fn scheduled_page(t: &impl ReadableTable<u64, &'static [u8]>, limit: usize) -> Result<Vec<ScheduledPost>> {
    let mut out = Vec::new();
    for e in t.iter()?.rev().take(limit) {
        out.push(from_json(e?.1.value(), "scheduled post")?);
    }
    Ok(out)
}

impl Read {
    /// Earlier versions of post `id`, oldest first, at most `limit`.
    pub fn post_versions(&self, id: u64, limit: usize) -> Result<Vec<PostVersion>> {
        let t = self.tx.open_table(POSTID_EDITMS_VERSION)?;
        let mut out = Vec::new();
        for e in t.range((id, 0u64)..=(id, u64::MAX))?.take(limit) {
            out.push(from_json(e?.1.value(), "post version")?);
        }
        Ok(out)
    }

    pub fn scheduled(&self, id: u64) -> Result<Option<ScheduledPost>> {
        let t = self.tx.open_table(SCHEDULEDID_SCHEDULED)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "scheduled post")).transpose()
    }

    /// Scheduled posts and drafts, newest first, at most `limit`.
    pub fn scheduled_posts(&self, limit: usize) -> Result<Vec<ScheduledPost>> {
        scheduled_page(&self.tx.open_table(SCHEDULEDID_SCHEDULED)?, limit)
    }

    /// What `voter` chose in the owner's poll `post` (None: has not voted).
    pub fn poll_vote(&self, post: u64, voter: &str) -> Result<Option<Vec<String>>> {
        let t = self.tx.open_table(POSTID_VOTER_CHOICES)?;
        let v = t.get((post, voter))?;
        v.map(|v| from_json(v.value(), "poll vote")).transpose()
    }
}

impl Write {
    /// Keeps `v` as the version of post `id` that an edit at `edited_ms` replaced.
    pub fn add_post_version(&mut self, id: u64, edited_ms: u64, v: &PostVersion) -> Result<()> {
        let mut t = self.tx.open_table(POSTID_EDITMS_VERSION)?;
        let mut at = edited_ms;
        // Two edits in one millisecond keep both.
        while t.get((id, at))?.is_some() {
            at += 1;
        }
        t.insert((id, at), to_json(v)?.as_slice())?;
        Ok(())
    }

    /// Forgets a deleted post's earlier versions.
    pub fn remove_post_versions(&mut self, id: u64) -> Result<()> {
        let mut t = self.tx.open_table(POSTID_EDITMS_VERSION)?;
        t.retain_in((id, 0u64)..=(id, u64::MAX), |_, _| false)?;
        let mut votes = self.tx.open_table(POSTID_VOTER_CHOICES)?;
        votes.retain_in((id, "")..(id + 1, ""), |_, _| false)?;
        Ok(())
    }

    pub fn scheduled(&self, id: u64) -> Result<Option<ScheduledPost>> {
        let t = self.tx.open_table(SCHEDULEDID_SCHEDULED)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "scheduled post")).transpose()
    }

    /// Number of scheduled posts and drafts (O(1)).
    pub fn scheduled_count(&self) -> Result<usize> {
        use redb::ReadableTableMetadata;
        Ok(self.tx.open_table(SCHEDULEDID_SCHEDULED)?.len()? as usize)
    }

    /// Stores a new scheduled post or draft under a fresh id (set in the record and returned).
    pub fn insert_scheduled(&mut self, s: &mut ScheduledPost) -> Result<u64> {
        s.id = self.new_id(IdSpace::Scheduled, s.created_ms)?;
        self.insert_new(SCHEDULEDID_SCHEDULED, s.id, to_json(s)?.as_slice())?;
        Ok(s.id)
    }

    /// Replaces a stored scheduled post (same id); `NotFound` if there is none.
    pub fn update_scheduled(&mut self, s: &ScheduledPost) -> Result<()> {
        let mut t = self.tx.open_table(SCHEDULEDID_SCHEDULED)?;
        if t.get(s.id)?.is_none() {
            return Err(crate::error::Error::NotFound);
        }
        t.insert(s.id, to_json(s)?.as_slice())?;
        Ok(())
    }

    /// Removes and returns a scheduled post.
    pub fn take_scheduled(&mut self, id: u64) -> Result<Option<ScheduledPost>> {
        let mut t = self.tx.open_table(SCHEDULEDID_SCHEDULED)?;
        let v = t.remove(id)?;
        v.map(|v| from_json(v.value(), "scheduled post")).transpose()
    }

    pub fn poll_vote(&self, post: u64, voter: &str) -> Result<Option<Vec<String>>> {
        let t = self.tx.open_table(POSTID_VOTER_CHOICES)?;
        let v = t.get((post, voter))?;
        v.map(|v| from_json(v.value(), "poll vote")).transpose()
    }

    pub fn put_poll_vote(&mut self, post: u64, voter: &str, choices: &[String]) -> Result<()> {
        self.tx.open_table(POSTID_VOTER_CHOICES)?.insert((post, voter), to_json(&choices)?.as_slice())?;
        Ok(())
    }
}

/// The debounced `PollUpdate` of issue 14: a marker per poll in `meta_value` (key
/// `poll_update:ID`) while one is queued, so a burst of votes queues one Update, not one each.
impl Write {
    /// Is an Update of poll `post` queued already (by a vote)?
    pub fn poll_update_pending(&self, post: u64) -> Result<bool> {
        let t = self.tx.open_table(META_VALUE)?;
        let pending = t.get(format!("poll_update:{post}").as_str())?.is_some();
        Ok(pending)
    }
    /// Notes (`true`) or clears (`false`) that an Update of poll `post` is queued.
    pub fn set_poll_update_pending(&mut self, post: u64, pending: bool) -> Result<()> {
        let key = format!("poll_update:{post}");
        let mut t = self.tx.open_table(META_VALUE)?;
        if pending {
            t.insert(key.as_str(), [1u8].as_slice())?;
        } else {
            t.remove(key.as_str())?;
        }
        Ok(())
    }
}
