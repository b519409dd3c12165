//! What a client-API Status shows besides the post itself (counts, the owner's own marks,
//! emoji reactions), read through the snapshot's tables opened once per page (`Read::table`,
//! issue 15): a page of 20 statuses opened ~10 tables per status before.

use super::reactions::ReactionCount;
use super::Read;
use crate::error::Result;
use crate::model::Post;

/// The per-status facts of `Read::status_facts`. Counts are 0 and marks false when unknown.
#[derive(Debug, Default)]
pub struct StatusFacts {
    pub likes: u64,
    pub boosts: u64,
    /// Stored replies, capped at `Read::STATUS_REPLY_CAP`.
    pub replies: u64,
    /// The owner's own like, boost, bookmark and pin (false unless asked for the owner).
    pub liked: bool,
    pub boosted: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    /// Emoji reactions: (emoji as stored, its count, whether the owner reacted with it).
    pub reactions: Vec<(String, ReactionCount, bool)>,
}

impl Read {
    /// Replies counted at most (as `Read::reply_count(uri, 1000)`).
    pub const STATUS_REPLY_CAP: usize = 1000;

    /// The facts of post `p`; `owner` asks for the owner's (`me`, an actor id) marks too. The
    /// lookups are `interaction_count`, `reply_count`, `has_interaction`, `is_bookmarked`,
    /// `is_pinned` (own posts only) and `reaction_counts`, whose tables `Read::table` opens once
    /// per snapshot, so a page of statuses opens each table once.
    pub fn status_facts(&self, p: &Post, me: &str, owner: bool) -> Result<StatusFacts> {
        let uri = p.uri.as_str();
        let mine = |kind: &str| -> Result<bool> { Ok(owner && self.has_interaction(uri, kind, me)?) };
        let mut reactions = Vec::new();
        for (emoji, c) in self.reaction_counts(uri)? {
            let me_too = mine(&format!("{}{emoji}", super::reactions::REACT))?;
            reactions.push((emoji, c, me_too));
        }
        Ok(StatusFacts {
            likes: self.interaction_count(uri, "like")?,
            boosts: self.interaction_count(uri, "boost")?,
            replies: self.reply_count(uri, Self::STATUS_REPLY_CAP)?,
            liked: mine("like")?,
            boosted: mine("boost")?,
            bookmarked: owner && self.is_bookmarked(p.id)?,
            pinned: owner && p.local && self.is_pinned(p.id)?,
            reactions,
        })
    }
}
