//! What a client-API Status shows besides the post itself (counts, the owner's own marks,
//! emoji reactions), read through tables opened ONCE per page (issue 15): a page of 20
//! statuses asked for each fact by its own `open_table` before, ~10 table lookups per status.

use super::reactions::ReactionCount;
use super::{from_json, tables::*, Read};
use crate::error::Result;
use crate::model::Post;
use redb::ReadOnlyTable;

/// The per-status facts of `StatusReader::facts`. Counts are 0 and marks false when unknown.
#[derive(Debug, Default)]
pub struct StatusFacts {
    pub likes: u64,
    pub boosts: u64,
    /// Stored replies, capped at `StatusReader::REPLY_CAP`.
    pub replies: u64,
    /// The owner's own like, boost, bookmark and pin (false unless asked for the owner).
    pub liked: bool,
    pub boosted: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    /// Emoji reactions: (emoji as stored, its count, whether the owner reacted with it).
    pub reactions: Vec<(String, ReactionCount, bool)>,
}

/// The tables a Status reads, open in one read transaction.
pub struct StatusReader {
    counts: ReadOnlyTable<(&'static str, &'static str), u64>,
    children: ReadOnlyTable<(&'static str, u64), ()>,
    interactions: ReadOnlyTable<(&'static str, &'static str, &'static str), &'static [u8]>,
    bookmarks: ReadOnlyTable<u64, u64>,
    pinned: ReadOnlyTable<u64, u64>,
    reactions: ReadOnlyTable<(&'static str, &'static str), &'static [u8]>,
}

impl Read {
    /// Opens the tables `StatusReader::facts` reads, once for a whole page.
    pub fn status_reader(&self) -> Result<StatusReader> {
        Ok(StatusReader {
            counts: self.tx.open_table(POSTURI_KIND_COUNT)?,
            children: self.tx.open_table(PARENTURI_CHILDID)?,
            interactions: self.tx.open_table(POSTURI_KIND_ACTOR)?,
            bookmarks: self.tx.open_table(POSTID_BOOKMARKID)?,
            pinned: self.tx.open_table(PINNED_POSTID_MS)?,
            reactions: self.tx.open_table(POSTURI_REACTION_COUNT)?,
        })
    }
}

impl StatusReader {
    /// Replies counted at most (as `Read::reply_count(uri, 1000)`).
    pub const REPLY_CAP: usize = 1000;

    /// The facts of post `p`; `owner` asks for the owner's (`me`, an actor id) marks too.
    /// Same answers as `interaction_count`, `reply_count`, `has_interaction`, `is_bookmarked`,
    /// `is_pinned` (own posts only) and `reaction_counts`.
    pub fn facts(&self, p: &Post, me: &str, owner: bool) -> Result<StatusFacts> {
        let uri = p.uri.as_str();
        let count = |kind: &str| -> Result<u64> { Ok(self.counts.get((uri, kind))?.map(|v| v.value()).unwrap_or(0)) };
        let mine = |kind: &str| -> Result<bool> { Ok(owner && self.interactions.get((uri, kind, me))?.is_some()) };
        let mut replies = 0;
        for e in self.children.range((uri, 0u64)..=(uri, u64::MAX))?.take(Self::REPLY_CAP) {
            e?;
            replies += 1;
        }
        let mut reactions = Vec::new();
        for e in self.reactions.range((uri, "")..(uri, "\u{10FFFF}"))?.take(super::reactions::MAX_DISTINCT) {
            let (k, v) = e?;
            let emoji = k.value().1.to_string();
            let c: ReactionCount = from_json(v.value(), "reaction count")?;
            let me_too = mine(&format!("{}{emoji}", super::reactions::REACT))?;
            reactions.push((emoji, c, me_too));
        }
        Ok(StatusFacts {
            likes: count("like")?,
            boosts: count("boost")?,
            replies,
            liked: mine("like")?,
            boosted: mine("boost")?,
            bookmarked: owner && self.bookmarks.get(p.id)?.is_some(),
            pinned: owner && p.local && self.pinned.get(p.id)?.is_some(),
            reactions,
        })
    }
}
