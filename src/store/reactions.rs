//! Emoji reactions counted on write: every `react:EMOJI` interaction stored or removed
//! (store/social.rs) moves the post's count for that emoji in `POSTURI_REACTION_COUNT`, in the
//! same transaction. Pages read a post's few distinct emoji, never the reactors, for counts.

use super::{from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// Prefix of reaction kinds in `POSTURI_KIND_ACTOR` ("react:🎉", "react::blobcat:").
pub const REACT: &str = "react:";

/// How many reacted with one emoji to one post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReactionCount {
    pub count: u64,
    /// A custom emoji (`:code:`): its image (http(s)) as the first reactor's server sent it,
    /// and that reactor (whose cached media it is, for purging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub by: String,
}

/// Most distinct emoji read for one post.
pub const MAX_DISTINCT: usize = 40;

impl Read {
    /// A post's reactions: (emoji, count), in key order, at most [`MAX_DISTINCT`].
    pub fn reaction_counts(&self, post_uri: &str) -> Result<Vec<(String, ReactionCount)>> {
        let t = self.table(POSTURI_REACTION_COUNT)?;
        let mut out = Vec::new();
        for e in t.range((post_uri, "")..(post_uri, "\u{10FFFF}"))?.take(MAX_DISTINCT) {
            let (k, v) = e?;
            out.push((k.value().1.to_string(), from_json(v.value(), "reaction count")?));
        }
        Ok(out)
    }
}

impl Write {
    /// One emoji's count on a post (a point lookup).
    pub fn reaction_count(&self, post_uri: &str, emoji: &str) -> Result<Option<ReactionCount>> {
        let t = self.tx.open_table(POSTURI_REACTION_COUNT)?;
        let v = t.get((post_uri, emoji))?;
        v.map(|v| from_json(v.value(), "reaction count")).transpose()
    }
}

/// Moves the count of `kind` (when it is a reaction) on `post_uri` by one up or down; a count
/// that reaches zero is removed. `url`/`by`: the custom emoji's image and reactor, kept from
/// the first one.
pub(super) fn bump(tx: &redb::WriteTransaction, post_uri: &str, kind: &str, up: bool, url: Option<&str>, by: &str) -> Result<()> {
    let Some(emoji) = kind.strip_prefix(REACT) else { return Ok(()) };
    let mut t = tx.open_table(POSTURI_REACTION_COUNT)?;
    let old: Option<ReactionCount> = t.get((post_uri, emoji))?.map(|v| from_json(v.value(), "reaction count")).transpose()?;
    let mut c = old.unwrap_or_default();
    if up {
        c.count += 1;
        if c.url.is_none() {
            if let Some(u) = url {
                c.url = Some(u.to_string());
                c.by = by.to_string();
            }
        }
    } else {
        c.count = c.count.saturating_sub(1);
    }
    if c.count == 0 {
        t.remove((post_uri, emoji))?;
    } else {
        t.insert((post_uri, emoji), to_json(&c)?.as_slice())?;
    }
    Ok(())
}
