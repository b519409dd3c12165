//! Remote actors and follow relationships: `actoruri_actor`, `keyid_actoruri`,
//! `followeruri_follower`, `requesteruri_request`, `followinguri_following`.

use super::{from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::{Follower, Following, RemoteActor};
use redb::{ReadableTable, ReadableTableMetadata};

/// One page of a relationship list in actor-id order; `next` continues after it.
#[derive(Debug, Default)]
pub struct ActorPage<T> {
    pub items: Vec<(String, T)>,
    pub next: Option<String>,
}

fn page<T: serde::de::DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    after: Option<&str>,
    limit: usize,
    what: &str,
) -> Result<ActorPage<T>> {
    let range = match after {
        Some(c) => t.range::<&str>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))?,
        None => t.range::<&str>(..)?,
    };
    let mut p = ActorPage { items: Vec::new(), next: None };
    for e in range {
        let (k, v) = e?;
        if p.items.len() == limit {
            p.next = p.items.last().map(|(k, _)| k.clone());
            break;
        }
        p.items.push((k.value().to_string(), from_json(v.value(), what)?));
    }
    Ok(p)
}

impl Read {
    pub fn actor(&self, uri: &str) -> Result<Option<RemoteActor>> {
        let t = self.table(ACTORURI_ACTOR)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "actor")).transpose()
    }
    pub fn actor_by_key(&self, key_id: &str) -> Result<Option<RemoteActor>> {
        let uri = self.tx.open_table(KEYID_ACTORURI)?.get(key_id)?.map(|v| v.value().to_string());
        match uri {
            Some(u) => self.actor(&u),
            None => Ok(None),
        }
    }
    pub fn follower(&self, uri: &str) -> Result<Option<Follower>> {
        let t = self.tx.open_table(FOLLOWERURI_FOLLOWER)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "follower")).transpose()
    }
    pub fn following(&self, uri: &str) -> Result<Option<Following>> {
        let t = self.tx.open_table(FOLLOWINGURI_FOLLOWING)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "following")).transpose()
    }
    pub fn follow_request(&self, uri: &str) -> Result<Option<Follower>> {
        let t = self.tx.open_table(REQUESTERURI_REQUEST)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "request")).transpose()
    }
    pub fn followers_page(&self, after: Option<&str>, limit: usize) -> Result<ActorPage<Follower>> {
        page(&self.tx.open_table(FOLLOWERURI_FOLLOWER)?, after, limit, "follower")
    }
    pub fn following_page(&self, after: Option<&str>, limit: usize) -> Result<ActorPage<Following>> {
        page(&self.tx.open_table(FOLLOWINGURI_FOLLOWING)?, after, limit, "following")
    }
    pub fn requests_page(&self, after: Option<&str>, limit: usize) -> Result<ActorPage<Follower>> {
        page(&self.tx.open_table(REQUESTERURI_REQUEST)?, after, limit, "request")
    }
    pub fn follower_count(&self) -> Result<u64> {
        Ok(self.tx.open_table(FOLLOWERURI_FOLLOWER)?.len()?)
    }
    pub fn following_count(&self) -> Result<u64> {
        Ok(self.tx.open_table(FOLLOWINGURI_FOLLOWING)?.len()?)
    }
}

impl Write {
    pub fn actor(&self, uri: &str) -> Result<Option<RemoteActor>> {
        let t = self.tx.open_table(ACTORURI_ACTOR)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "actor")).transpose()
    }
    /// Caches a remote actor, replacing the older copy of the *same* actor (keyed by its id:
    /// a refresh). Its key ids point at it, except a key id already claimed by another actor:
    /// that mapping is kept (logged), so one actor's document cannot take over another's key.
    pub fn put_actor(&mut self, a: &RemoteActor) -> Result<()> {
        self.tx.open_table(ACTORURI_ACTOR)?.insert(a.id.as_str(), to_json(a)?.as_slice())?;
        let mut keys = self.tx.open_table(KEYID_ACTORURI)?;
        let key_ids = Some(a.key_id.as_str()).filter(|k| !k.is_empty()).into_iter().chain(a.multikeys.iter().map(|(id, _)| id.as_str()));
        for key_id in key_ids {
            let owner = keys.get(key_id)?.map(|v| v.value().to_string());
            match owner {
                None => {
                    keys.insert(key_id, a.id.as_str())?;
                }
                Some(o) if o == a.id => {}
                Some(o) => tracing::warn!("{}: key {key_id} already belongs to {o}; not remapped", a.id),
            }
        }
        Ok(())
    }
    pub fn delete_actor(&mut self, uri: &str) -> Result<()> {
        if let Some(a) = self.actor(uri)? {
            let mut keys = self.tx.open_table(KEYID_ACTORURI)?;
            // Only this actor's own mappings (put_actor leaves another actor's key alone).
            for key_id in Some(a.key_id.as_str()).into_iter().chain(a.multikeys.iter().map(|(id, _)| id.as_str())) {
                let mine = keys.get(key_id)?.map(|v| v.value() == uri).unwrap_or(false);
                if mine {
                    keys.remove(key_id)?;
                }
            }
        }
        self.tx.open_table(ACTORURI_ACTOR)?.remove(uri)?;
        Ok(())
    }
    pub fn follower(&self, uri: &str) -> Result<Option<Follower>> {
        let t = self.tx.open_table(FOLLOWERURI_FOLLOWER)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "follower")).transpose()
    }
    /// The shared inbox of the server behind a personal inbox, if we know that actor. Looked up
    /// through the actor whose id is the inbox's parent (`…/users/x/inbox` → `…/users/x`).
    pub fn actor_by_inbox_shared(&self, inbox: &str) -> Result<Option<String>> {
        let Some(actor_id) = inbox.strip_suffix("/inbox") else { return Ok(None) };
        Ok(self.actor(actor_id)?.and_then(|a| a.shared_inbox.map(String::from)))
    }
    pub fn put_follower(&mut self, uri: &str, f: &Follower) -> Result<()> {
        self.tx.open_table(FOLLOWERURI_FOLLOWER)?.insert(uri, to_json(f)?.as_slice())?;
        Ok(())
    }
    pub fn remove_follower(&mut self, uri: &str) -> Result<Option<Follower>> {
        let mut t = self.tx.open_table(FOLLOWERURI_FOLLOWER)?;
        let old = t.remove(uri)?;
        old.map(|v| from_json(v.value(), "follower")).transpose()
    }
    pub fn follow_request(&self, uri: &str) -> Result<Option<Follower>> {
        let t = self.tx.open_table(REQUESTERURI_REQUEST)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "request")).transpose()
    }
    pub fn put_follow_request(&mut self, uri: &str, f: &Follower) -> Result<()> {
        self.tx.open_table(REQUESTERURI_REQUEST)?.insert(uri, to_json(f)?.as_slice())?;
        Ok(())
    }
    pub fn remove_follow_request(&mut self, uri: &str) -> Result<Option<Follower>> {
        let mut t = self.tx.open_table(REQUESTERURI_REQUEST)?;
        let old = t.remove(uri)?;
        old.map(|v| from_json(v.value(), "request")).transpose()
    }
    pub fn following(&self, uri: &str) -> Result<Option<Following>> {
        let t = self.tx.open_table(FOLLOWINGURI_FOLLOWING)?;
        let v = t.get(uri)?;
        v.map(|v| from_json(v.value(), "following")).transpose()
    }
    pub fn put_following(&mut self, uri: &str, f: &Following) -> Result<()> {
        self.tx.open_table(FOLLOWINGURI_FOLLOWING)?.insert(uri, to_json(f)?.as_slice())?;
        Ok(())
    }
    pub fn remove_following(&mut self, uri: &str) -> Result<Option<Following>> {
        let mut t = self.tx.open_table(FOLLOWINGURI_FOLLOWING)?;
        let old = t.remove(uri)?;
        old.map(|v| from_json(v.value(), "following")).transpose()
    }
}
