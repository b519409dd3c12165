//! Paged reads for exports (issue 12): every list the owner keeps, a bounded page at a time
//! from a cursor, so an export never holds a table in memory.

use super::tables::*;
use super::{from_json, Read};
use crate::error::Result;
use crate::model::Interaction;
use redb::TableDefinition;
use std::ops::Bound;

impl Read {
    fn str_keys_page(&self, def: TableDefinition<&'static str, u64>, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>> {
        let t = self.tx.open_table(def)?;
        let range = match after {
            Some(c) => t.range::<&str>((Bound::Excluded(c), Bound::Unbounded))?,
            None => t.range::<&str>(..)?,
        };
        let mut out = Vec::new();
        for e in range.take(limit) {
            let (k, v) = e?;
            out.push((k.value().to_string(), v.value()));
        }
        Ok(out)
    }
    /// Blocked accounts after `after` (actor ids, sorted), with when (ms).
    pub fn blocked_actors_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>> {
        self.str_keys_page(BLOCKEDACTOR_MS, after, limit)
    }
    /// Blocked domains after `after`, with when (ms).
    pub fn blocked_domains_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>> {
        self.str_keys_page(BLOCKEDDOMAIN_MS, after, limit)
    }
    /// Muted accounts after `after`, with until (ms; 0 = forever).
    pub fn muted_actors_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>> {
        self.str_keys_page(MUTEDACTOR_UNTIL, after, limit)
    }
    /// Members of list `id` after `after` (actor ids, sorted).
    pub fn list_members_page(&self, id: u64, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let t = self.tx.open_table(LIST_MEMBER)?;
        let range = match after {
            Some(c) => t.range::<(u64, &str)>((Bound::Excluded((id, c)), Bound::Included((id, "\u{10FFFF}"))))?,
            None => t.range::<(u64, &str)>((id, "")..=(id, "\u{10FFFF}"))?,
        };
        let mut out = Vec::new();
        for e in range.take(limit) {
            out.push(e?.0.value().1.to_string());
        }
        Ok(out)
    }
    /// Known remote actors after `after` (actor ids, sorted): "every known server" for
    /// Delete(actor) when the account is deleted.
    pub fn actors_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<crate::model::RemoteActor>> {
        let t = self.tx.open_table(ACTORURI_ACTOR)?;
        let range = match after {
            Some(c) => t.range::<&str>((Bound::Excluded(c), Bound::Unbounded))?,
            None => t.range::<&str>(..)?,
        };
        let mut out = Vec::new();
        for e in range.take(limit) {
            out.push(from_json(e?.1.value(), "actor")?);
        }
        Ok(out)
    }
    /// Interactions of `kind` by `actor` (e.g. the owner's likes), scanning at most `scan` rows
    /// after the cursor `after` (post uri, kind, actor). Returns the matches and the cursor to
    /// go on from (None at the end).
    #[allow(clippy::type_complexity)]
    pub fn interactions_by(
        &self,
        actor: &str,
        kind: &str,
        after: Option<&(String, String, String)>,
        scan: usize,
    ) -> Result<(Vec<(String, Interaction)>, Option<(String, String, String)>)> {
        let t = self.tx.open_table(POSTURI_KIND_ACTOR)?;
        let range = match after {
            Some((p, k, a)) => t.range::<(&str, &str, &str)>((Bound::Excluded((p.as_str(), k.as_str(), a.as_str())), Bound::Unbounded))?,
            None => t.range::<(&str, &str, &str)>(..)?,
        };
        let mut out = Vec::new();
        for (n, e) in range.enumerate() {
            let (k, v) = e?;
            let (p, kd, a) = k.value();
            if kd == kind && a == actor {
                out.push((p.to_string(), from_json(v.value(), "interaction")?));
            }
            if n + 1 == scan {
                return Ok((out, Some((p.to_string(), kd.to_string(), a.to_string()))));
            }
        }
        Ok((out, None))
    }
}
