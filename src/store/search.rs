//! Full-text search over stored posts (`term_postid`) and the safety tables (blocks, mutes,
//! filters). The index is kept by put_post/delete_post; a query walks the postings of its first
//! term, newest first, and checks the other terms by point lookups: bounded work per page.

use super::{from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::{Filter, Post};
use redb::{ReadableTable, TableDefinition};

/// Words of a post worth indexing: lower-case, 2–40 characters, at most 200 distinct.
pub fn terms(p: &Post) -> Vec<String> {
    let text = format!("{} {} {}", p.summary, crate::render::views::strip_tags(&p.content), p.attachments.iter().map(|a| a.alt.as_str()).collect::<Vec<_>>().join(" "));
    query_terms(&text, 200)
}

pub fn query_terms(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        let w = w.to_lowercase();
        let n = w.chars().count();
        if (2..=40).contains(&n) && !out.contains(&w) {
            out.push(w);
            if out.len() >= max {
                break;
            }
        }
    }
    out
}

const MAX_SCAN: usize = 5000;

impl Read {
    /// Posts containing every term, newest first, passing `keep`.
    pub fn search(&self, terms: &[String], before: Option<u64>, limit: usize, keep: &dyn Fn(&Post) -> bool) -> Result<(Vec<Post>, Option<u64>)> {
        let Some(first) = terms.first() else { return Ok((vec![], None)) };
        let idx = self.tx.open_table(TERM_POSTID)?;
        let mut out = Vec::new();
        let mut next = None;
        for (scanned, e) in idx.range((first.as_str(), 0u64)..(first.as_str(), before.unwrap_or(u64::MAX)))?.rev().enumerate() {
            let id = e?.0.value().1;
            if out.len() == limit {
                next = out.last().map(|p: &Post| p.id);
                break;
            }
            if scanned >= MAX_SCAN {
                next = Some(id + 1);
                break;
            }
            let mut all = true;
            for t in &terms[1..] {
                if idx.get((t.as_str(), id))?.is_none() {
                    all = false;
                    break;
                }
            }
            if all {
                if let Some(p) = self.post(id)? {
                    if keep(&p) {
                        out.push(p);
                    }
                }
            }
        }
        Ok((out, next))
    }

    pub fn is_blocked(&self, actor: &str) -> Result<bool> {
        if self.tx.open_table(BLOCKEDACTOR_MS)?.get(actor)?.is_some() {
            return Ok(true);
        }
        match crate::federation::vocab::host_of(actor) {
            Some(h) => Ok(self.tx.open_table(BLOCKEDDOMAIN_MS)?.get(h.as_str())?.is_some()),
            None => Ok(false),
        }
    }
    pub fn is_domain_blocked(&self, host: &str) -> Result<bool> {
        Ok(self.tx.open_table(BLOCKEDDOMAIN_MS)?.get(host)?.is_some())
    }
    pub fn is_muted(&self, actor: &str, now_ms: u64) -> Result<bool> {
        Ok(matches!(self.tx.open_table(MUTEDACTOR_UNTIL)?.get(actor)?.map(|v| v.value()), Some(until) if until == 0 || until > now_ms))
    }
    fn keys_of(&self, t: TableDefinition<&str, u64>) -> Result<Vec<(String, u64)>> {
        let t = self.tx.open_table(t)?;
        let mut out = Vec::new();
        for e in t.iter()?.take(2000) {
            let (k, v) = e?;
            out.push((k.value().to_string(), v.value()));
        }
        Ok(out)
    }
    pub fn blocked_actors(&self) -> Result<Vec<(String, u64)>> {
        self.keys_of(BLOCKEDACTOR_MS)
    }
    pub fn blocked_domains(&self) -> Result<Vec<(String, u64)>> {
        self.keys_of(BLOCKEDDOMAIN_MS)
    }
    pub fn muted_actors(&self) -> Result<Vec<(String, u64)>> {
        self.keys_of(MUTEDACTOR_UNTIL)
    }
    pub fn filters(&self) -> Result<Vec<(u64, Filter)>> {
        let t = self.tx.open_table(FILTERID_FILTER)?;
        let mut out = Vec::new();
        for e in t.iter()?.take(500) {
            let (k, v) = e?;
            out.push((k.value(), from_json(v.value(), "filter")?));
        }
        Ok(out)
    }
}

impl Write {
    pub fn is_domain_blocked(&self, host: &str) -> Result<bool> {
        Ok(self.tx.open_table(BLOCKEDDOMAIN_MS)?.get(host)?.is_some())
    }
    /// The account, or its whole server, is blocked (as Read::is_blocked).
    pub fn is_blocked(&self, actor: &str) -> Result<bool> {
        if self.tx.open_table(BLOCKEDACTOR_MS)?.get(actor)?.is_some() {
            return Ok(true);
        }
        match crate::federation::vocab::host_of(actor) {
            Some(h) => self.is_domain_blocked(&h),
            None => Ok(false),
        }
    }
    pub(super) fn index_terms(&mut self, p: &Post, add: bool) -> Result<()> {
        let mut idx = self.tx.open_table(TERM_POSTID)?;
        for t in terms(p) {
            if add {
                idx.insert((t.as_str(), p.id), ())?;
            } else {
                idx.remove((t.as_str(), p.id))?;
            }
        }
        Ok(())
    }
    pub fn set_blocked(&mut self, actor: &str, blocked: bool, now_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(BLOCKEDACTOR_MS)?;
        if blocked { t.insert(actor, now_ms)?; } else { t.remove(actor)?; }
        Ok(())
    }
    pub fn set_domain_blocked(&mut self, host: &str, blocked: bool, now_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(BLOCKEDDOMAIN_MS)?;
        if blocked { t.insert(host, now_ms)?; } else { t.remove(host)?; }
        Ok(())
    }
    pub fn set_muted(&mut self, actor: &str, until: Option<u64>) -> Result<()> {
        let mut t = self.tx.open_table(MUTEDACTOR_UNTIL)?;
        match until { Some(u) => { t.insert(actor, u)?; } None => { t.remove(actor)?; } }
        Ok(())
    }
    /// Stores a new keyword filter under a fresh id (`IdSpace::Filters`) and returns the id.
    pub fn add_filter(&mut self, f: &Filter) -> Result<u64> {
        let id = self.new_id(super::IdSpace::Filters, crate::time::now_ms())?;
        self.insert_new(FILTERID_FILTER, id, to_json(f)?.as_slice())?;
        self.live.push(super::LiveEvent::FiltersChanged);
        Ok(id)
    }
    /// Inserts a filter at `id` (from `new_id(IdSpace::Filters, …)`); an existing filter
    /// there is a conflict error, never replaced. Prefer `add_filter`.
    pub fn put_filter(&mut self, id: u64, f: &Filter) -> Result<()> {
        self.live.push(super::LiveEvent::FiltersChanged);
        self.insert_new(FILTERID_FILTER, id, to_json(f)?.as_slice())
    }
    pub fn delete_filter(&mut self, id: u64) -> Result<()> {
        self.live.push(super::LiveEvent::FiltersChanged);
        self.tx.open_table(FILTERID_FILTER)?.remove(id)?;
        Ok(())
    }
    /// Followers on a host (for a domain block), at most `limit`.
    pub fn followers_on(&self, host: &str, limit: usize) -> Result<Vec<String>> {
        self.actors_on(FOLLOWERURI_FOLLOWER, host, limit)
    }
    /// Accounts on a host the owner follows or asked to follow (for a domain block).
    pub fn following_on(&self, host: &str, limit: usize) -> Result<Vec<String>> {
        self.actors_on(FOLLOWINGURI_FOLLOWING, host, limit)
    }
    /// Held follow requests from a host (for a domain block).
    pub fn requests_on(&self, host: &str, limit: usize) -> Result<Vec<String>> {
        self.actors_on(REQUESTERURI_REQUEST, host, limit)
    }
    fn actors_on(&self, table: TableDefinition<'static, &'static str, &'static [u8]>, host: &str, limit: usize) -> Result<Vec<String>> {
        let t = self.tx.open_table(table)?;
        let mut out = Vec::new();
        // Actor ids start with the scheme and host, so one range per scheme covers the host.
        for scheme in ["https://", "http://"] {
            let lo = format!("{scheme}{host}/");
            let hi = format!("{scheme}{host}0");
            for e in t.range(lo.as_str()..hi.as_str())?.take(limit) {
                out.push(e?.0.value().to_string());
            }
        }
        Ok(out)
    }
}
