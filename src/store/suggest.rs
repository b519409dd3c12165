//! Prefix look-ups for the compose box's suggestions: hashtags from `tag_postid`, whose keys
//! are sorted by tag, so each distinct tag costs one range seek.

use super::{tables::*, Read};
use crate::error::Result;
use std::ops::Bound;

impl Read {
    /// Distinct hashtags stored here (lowercase, without '#') that start with `prefix`, in
    /// alphabetical order, at most `limit`. Reads `limit` + 1 keys, never the whole index.
    pub fn tags_starting_with(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let t = self.tx.open_table(TAG_POSTID)?;
        let mut out: Vec<String> = Vec::new();
        while out.len() < limit {
            // After the last tag found: skip all its posts in one seek.
            let next = match out.last() {
                None => t.range::<(&str, u64)>((Bound::Included((prefix, 0)), Bound::Unbounded))?.next(),
                Some(last) => t.range::<(&str, u64)>((Bound::Excluded((last.as_str(), u64::MAX)), Bound::Unbounded))?.next(),
            };
            let Some(e) = next else { break };
            let (k, _) = e?;
            let tag = k.value().0;
            if !tag.starts_with(prefix) {
                break;
            }
            out.push(tag.to_string());
        }
        Ok(out)
    }
}
