//! What others do to posts and to the owner: interactions (likes, boosts, reactions), seen
//! activity ids, the home timeline and notifications.

use super::{alloc::IdSpace, from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::{HomeEntry, Interaction, Notification, Post};
use redb::{ReadableTable, ReadableTableMetadata};

/// How many seen activity ids to keep: older duplicates are rare and still idempotent.
const SEEN_KEEP_MS: u64 = 7 * 24 * 3600 * 1000;

impl Read {
    /// Actors who did `kind` ("like", "boost", "react:…") to a post, oldest first, at most `limit`.
    pub fn interactions(&self, post_uri: &str, kind: &str, limit: usize) -> Result<Vec<(String, Interaction)>> {
        let t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
        let mut out = Vec::new();
        for e in t.range((post_uri, kind, "")..(post_uri, kind, "\u{10FFFF}"))?.take(limit) {
            let (k, v) = e?;
            out.push((k.value().2.to_string(), from_json(v.value(), "interaction")?));
        }
        Ok(out)
    }

    /// Did `actor` do `kind` to the post? (A point lookup.)
    pub fn has_interaction(&self, post_uri: &str, kind: &str, actor: &str) -> Result<bool> {
        Ok(self.table(POSTURI_KIND_ACTOR)?.get((post_uri, kind, actor))?.is_some())
    }

    /// How many interactions of `kind` a post has: one lookup of the count kept on write.
    pub fn interaction_count(&self, post_uri: &str, kind: &str) -> Result<u64> {
        Ok(self.table(POSTURI_KIND_COUNT)?.get((post_uri, kind))?.map(|v| v.value()).unwrap_or(0))
    }

    /// Who reacted to a post: (emoji, actor, custom emoji image), by emoji then actor.
    pub fn reactions(&self, post_uri: &str, limit: usize) -> Result<Vec<(String, String, Option<String>)>> {
        let t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
        let mut out = Vec::new();
        for e in t.range((post_uri, "react:", "")..(post_uri, "react;", ""))?.take(limit) {
            let (k, v) = e?;
            let k = k.value();
            let i: Interaction = from_json(v.value(), "interaction")?;
            out.push((k.1.trim_start_matches("react:").to_string(), k.2.to_string(), i.emoji_url));
        }
        Ok(out)
    }

    pub fn seen(&self, activity_id: &str) -> Result<bool> {
        Ok(self.tx.open_table(SEENURI_MS)?.get(activity_id)?.is_some())
    }

    /// Home timeline entries, newest first.
    pub fn home(&self, before: Option<u64>, limit: usize) -> Result<(Vec<(u64, HomeEntry, Post)>, Option<u64>)> {
        let t = self.tx.open_table(HOMEID_ENTRY)?;
        let posts = self.tx.open_table(POSTID_POST)?;
        let mut out = Vec::new();
        let mut next = None;
        for e in t.range(..before.unwrap_or(u64::MAX))?.rev() {
            let (k, v) = e?;
            if out.len() == limit {
                next = Some(out.last().map(|(id, _, _): &(u64, HomeEntry, Post)| *id).unwrap_or(0));
                break;
            }
            let entry: HomeEntry = from_json(v.value(), "home entry")?;
            if let Some(p) = posts.get(entry.post_id)? {
                let p: Post = from_json(p.value(), "post")?;
                out.push((k.value(), entry, p));
            }
        }
        Ok((out, next))
    }

    pub fn notifications(&self, before: Option<u64>, limit: usize) -> Result<(Vec<(u64, Notification)>, Option<u64>)> {
        self.notifications_where(before, limit, &|_| true)
    }

    /// Newest first, those passing `keep`; scans at most a bounded number of rows per page.
    pub fn notifications_where(&self, before: Option<u64>, limit: usize, keep: &dyn Fn(&Notification) -> bool) -> Result<(Vec<(u64, Notification)>, Option<u64>)> {
        let t = self.tx.open_table(NOTIFID_NOTIF)?;
        let mut out = Vec::new();
        let mut next = None;
        for (scanned, e) in t.range(..before.unwrap_or(u64::MAX))?.rev().enumerate() {
            let (k, v) = e?;
            if out.len() == limit {
                next = out.last().map(|(id, _)| *id);
                break;
            }
            if scanned >= 2000 {
                next = Some(k.value() + 1);
                break;
            }
            let n: Notification = from_json(v.value(), "notification")?;
            if keep(&n) {
                out.push((k.value(), n));
            }
        }
        Ok((out, next))
    }

    pub fn notification_count(&self) -> Result<u64> {
        Ok(self.tx.open_table(NOTIFID_NOTIF)?.len()?)
    }

    /// Posts by one author, newest first.
    pub fn posts_by(&self, author: &str, before: Option<u64>, limit: usize) -> Result<Vec<Post>> {
        let idx = self.tx.open_table(AUTHOR_POSTID)?;
        let posts = self.tx.open_table(POSTID_POST)?;
        let mut out = Vec::new();
        for e in idx.range((author, 0u64)..(author, before.unwrap_or(u64::MAX)))?.rev().take(limit) {
            let id = e?.0.value().1;
            if let Some(v) = posts.get(id)? {
                out.push(from_json(v.value(), "post")?);
            }
        }
        Ok(out)
    }
}

impl Write {
    /// Records an interaction; false if it was already there (duplicate delivery, or the same
    /// like again under a new activity id). A stored interaction is kept as it was, never
    /// replaced; a new activity id for it is still indexed, so an Undo naming either finds it.
    pub fn put_interaction(&mut self, post_uri: &str, kind: &str, actor: &str, i: &Interaction) -> Result<bool> {
        let mut t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
        let fresh = t.get((post_uri, kind, actor))?.is_none();
        if fresh {
            t.insert((post_uri, kind, actor), to_json(i)?.as_slice())?;
        }
        drop(t);
        if fresh {
            super::reactions::bump(&self.tx, post_uri, kind, true, i.emoji_url.as_deref(), actor)?;
            count(&self.tx, post_uri, kind, true)?;
        }
        let key = serde_json::to_vec(&(post_uri, kind, actor))?;
        let mut by_activity = self.tx.open_table(INTERACTIONURI_KEY)?;
        // One activity id names one interaction: a reused id keeps pointing at the first.
        if by_activity.get(i.activity_id.as_str())?.is_none() {
            by_activity.insert(i.activity_id.as_str(), key.as_slice())?;
        }
        Ok(fresh)
    }

    /// Removes an interaction by its activity id (Undo); returns (post uri, kind, actor).
    /// Finds the interaction made by activity `activity_id` → (post uri, kind, actor), and removes
    /// it only when its actor is `actor` (an Undo counts only from whoever did the thing).
    pub fn remove_interaction_by_activity(&mut self, activity_id: &str, actor: &str) -> Result<Option<(String, String, String)>> {
        let key = {
            let t = self.tx.open_table(INTERACTIONURI_KEY)?;
            let v = t.get(activity_id)?;
            v.map(|v| v.value().to_vec())
        };
        let Some(key) = key else { return Ok(None) };
        let (p, k, a): (String, String, String) = from_json(&key, "interaction key")?;
        if a == actor {
            self.tx.open_table(INTERACTIONURI_KEY)?.remove(activity_id)?;
            let was = self.tx.open_table(POSTURI_KIND_ACTOR)?.remove((p.as_str(), k.as_str(), a.as_str()))?.is_some();
            if was {
                super::reactions::bump(&self.tx, &p, &k, false, None, &a)?;
                count(&self.tx, &p, &k, false)?;
            }
        }
        Ok(Some((p, k, a)))
    }

    /// Removes an interaction by its natural key (Undo that names the object, not the activity id).
    pub fn remove_interaction(&mut self, post_uri: &str, kind: &str, actor: &str) -> Result<Option<Interaction>> {
        let old: Option<Interaction> = {
            let mut t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
            let v = t.remove((post_uri, kind, actor))?;
            v.map(|v| from_json(v.value(), "interaction")).transpose()?
        };
        if let Some(i) = &old {
            self.tx.open_table(INTERACTIONURI_KEY)?.remove(i.activity_id.as_str())?;
            super::reactions::bump(&self.tx, post_uri, kind, false, None, actor)?;
            count(&self.tx, post_uri, kind, false)?;
        }
        Ok(old)
    }

    pub fn interaction(&self, post_uri: &str, kind: &str, actor: &str) -> Result<Option<Interaction>> {
        let t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
        let v = t.get((post_uri, kind, actor))?;
        v.map(|v| from_json(v.value(), "interaction")).transpose()
    }

    /// Marks an activity id as applied; false if it already was. Old marks are swept a few at a
    /// time so the table stays bounded without a full scan.
    pub fn mark_seen(&mut self, activity_id: &str, now_ms: u64) -> Result<bool> {
        let mut t = self.tx.open_table(SEENURI_MS)?;
        if t.get(activity_id)?.is_some() {
            return Ok(false); // keeps the first-seen time, which the sweep ages by
        }
        t.insert(activity_id, now_ms)?;
        Ok(true)
    }

    pub fn sweep_seen(&mut self, now_ms: u64, limit: usize) -> Result<()> {
        let mut t = self.tx.open_table(SEENURI_MS)?;
        let mut n = 0;
        t.retain(|_, ms| {
            if n < limit && ms + SEEN_KEEP_MS < now_ms {
                n += 1;
                false
            } else {
                true
            }
        })?;
        Ok(())
    }

    /// Adds a home timeline entry at `at_ms`; returns its new id (`IdSpace::Home`).
    pub fn add_home(&mut self, entry: &HomeEntry, at_ms: u64) -> Result<u64> {
        let id = self.new_id(IdSpace::Home, at_ms)?;
        self.insert_new(HOMEID_ENTRY, id, to_json(entry)?.as_slice())?;
        self.live.push(super::LiveEvent::Home(id));
        Ok(id)
    }

    /// Adds a notification; returns its new id (`IdSpace::Notifications`, time-sortable).
    pub fn add_notification(&mut self, n: &Notification) -> Result<u64> {
        let id = self.new_id(IdSpace::Notifications, crate::time::now_ms())?;
        self.insert_new(NOTIFID_NOTIF, id, to_json(n)?.as_slice())?;
        self.live.push(super::LiveEvent::Notification(id));
        Ok(id)
    }

    /// Ids of posts by an author (for Delete of an actor), at most `limit`.
    pub fn post_ids_by(&self, author: &str, limit: usize) -> Result<Vec<u64>> {
        let idx = self.tx.open_table(AUTHOR_POSTID)?;
        let mut out = Vec::new();
        for e in idx.range((author, 0u64)..=(author, u64::MAX))?.take(limit) {
            out.push(e?.0.value().1);
        }
        Ok(out)
    }
}

/// Moves the count of `kind` on `post_uri` (POSTURI_KIND_COUNT) by one, in the transaction that
/// stores or removes the interaction; a count that reaches zero is removed.
fn count(tx: &redb::WriteTransaction, post_uri: &str, kind: &str, up: bool) -> Result<()> {
    let mut t = tx.open_table(POSTURI_KIND_COUNT)?;
    let old = t.get((post_uri, kind))?.map(|v| v.value()).unwrap_or(0);
    let new = if up { old + 1 } else { old.saturating_sub(1) };
    if new == 0 {
        t.remove((post_uri, kind))?;
    } else {
        t.insert((post_uri, kind), new)?;
    }
    Ok(())
}

impl Write {
    /// Schema 3: counts every stored interaction into POSTURI_KIND_COUNT, 1,000 rows a batch
    /// (never the whole table in memory). The count table must be empty before.
    pub(super) fn fill_interaction_counts(&mut self) -> Result<()> {
        let mut from: Option<(String, String, String)> = None;
        loop {
            let keys: Vec<(String, String, String)> = {
                let t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
                let mut v = Vec::new();
                let range = match &from {
                    None => t.range::<(&str, &str, &str)>(..)?,
                    Some((p, k, a)) => t.range::<(&str, &str, &str)>((p.as_str(), k.as_str(), a.as_str())..)?,
                };
                for e in range.take(1001) {
                    let (k, _) = e?;
                    let (p, kind, a) = k.value();
                    v.push((p.to_string(), kind.to_string(), a.to_string()));
                }
                v
            };
            // The first key of a later batch is the last one of the batch before: skip it.
            let skip = usize::from(from.is_some());
            if keys.len() <= skip {
                break;
            }
            for (p, k, _) in &keys[skip..] {
                count(&self.tx, p, k, true)?;
            }
            from = keys.last().cloned();
        }
        Ok(())
    }
}
