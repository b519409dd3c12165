//! Relays (issue 14): `relayuri_relay` (relay actor id → JSON `Relay`) and `relayed_postid`
//! (post id → (): posts stored only because a relay sent them, swept after the retention).

use super::{from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

pub const RELAYURI_RELAY: TableDefinition<&str, &[u8]> = TableDefinition::new("relayuri_relay");
pub const RELAYED_POSTID: TableDefinition<u64, ()> = TableDefinition::new("relayed_postid");

/// A relay the owner subscribed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    /// Where the Follow (and its Undo) go.
    pub inbox: String,
    /// "mastodon": Follow of `as:Public` to the relay's inbox; "litepub": Follow of the relay actor.
    pub protocol: String,
    /// Our Follow activity id (Accept/Reject and Undo refer to it).
    pub follow_id: String,
    /// "pending" until the relay's Accept, then "accepted".
    pub state: String,
    pub since_ms: u64,
}

impl Write {
    pub(super) fn open_relay_tables(&mut self) -> Result<()> {
        self.tx.open_table(RELAYURI_RELAY)?;
        self.tx.open_table(RELAYED_POSTID)?;
        Ok(())
    }
    pub fn relay(&self, actor: &str) -> Result<Option<Relay>> {
        let t = self.tx.open_table(RELAYURI_RELAY)?;
        let v = t.get(actor)?;
        v.map(|v| from_json(v.value(), "relay")).transpose()
    }
    pub fn put_relay(&mut self, actor: &str, r: &Relay) -> Result<()> {
        self.tx.open_table(RELAYURI_RELAY)?.insert(actor, to_json(r)?.as_slice())?;
        Ok(())
    }
    pub fn remove_relay(&mut self, actor: &str) -> Result<Option<Relay>> {
        let mut t = self.tx.open_table(RELAYURI_RELAY)?;
        let old = t.remove(actor)?;
        old.map(|v| from_json(v.value(), "relay")).transpose()
    }
    /// Notes that post `id` is kept only because a relay sent it.
    pub fn mark_relayed(&mut self, id: u64) -> Result<()> {
        self.tx.open_table(RELAYED_POSTID)?.insert(id, ())?;
        Ok(())
    }
    /// The post arrived another way too (a followed author, a mention): keep it like any other.
    pub fn unmark_relayed(&mut self, id: u64) -> Result<()> {
        self.tx.open_table(RELAYED_POSTID)?.remove(id)?;
        Ok(())
    }
    /// Relayed post ids older than `before_id`, oldest first, at most `limit` (for the sweep).
    pub fn relayed_before(&self, before_id: u64, limit: usize) -> Result<Vec<u64>> {
        let t = self.tx.open_table(RELAYED_POSTID)?;
        let mut out = Vec::new();
        for e in t.range(..before_id)?.take(limit) {
            out.push(e?.0.value());
        }
        Ok(out)
    }
    /// Did `actor` like/boost/… the post at `post_uri`?
    pub fn has_interaction(&self, post_uri: &str, kind: &str, actor: &str) -> Result<bool> {
        Ok(self.tx.open_table(POSTURI_KIND_ACTOR)?.get((post_uri, kind, actor))?.is_some())
    }
    /// Did the owner reply to the post at `uri`?
    pub fn has_own_reply(&self, uri: &str) -> Result<bool> {
        self.owner_answered(uri, 0)
    }
    /// Is post `id` one the owner bookmarked?
    pub fn is_bookmarked(&self, id: u64) -> Result<bool> {
        Ok(self.tx.open_table(POSTID_BOOKMARKID)?.get(id)?.is_some())
    }
}

impl Read {
    /// Every relay (a handful; bounded to 100).
    pub fn relays(&self) -> Result<Vec<(String, Relay)>> {
        let t = self.tx.open_table(RELAYURI_RELAY)?;
        let mut out = Vec::new();
        for e in t.iter()?.take(100) {
            let (k, v) = e?;
            out.push((k.value().to_string(), from_json(v.value(), "relay")?));
        }
        Ok(out)
    }
    pub fn relay(&self, actor: &str) -> Result<Option<Relay>> {
        let t = self.tx.open_table(RELAYURI_RELAY)?;
        let v = t.get(actor)?;
        v.map(|v| from_json(v.value(), "relay")).transpose()
    }
    pub fn is_relayed(&self, id: u64) -> Result<bool> {
        Ok(self.tx.open_table(RELAYED_POSTID)?.get(id)?.is_some())
    }
}
