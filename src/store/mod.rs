//! The only module that imports redb. Everything else reads and writes through `Store::read` and
//! `Store::write`, whose closures get typed handles (`Read`, `Write`) with one method per thing
//! the server keeps. A write that changes several tables happens in one transaction.

mod tables;
mod posts;
mod meta;
mod sessions;
mod queue;
mod actors;
mod social;
mod group;
mod lists;
mod search;
mod backup;
mod export;
pub use search::query_terms;

pub use actors::ActorPage;
pub use posts::PostPage;
pub use queue::QueueStats;

use crate::error::{Error, Result};
use redb::{Database, ReadableDatabase};
use std::path::Path;
use std::sync::Arc;
use tables::*;

/// Bumped when a table's layout changes; `migrate` walks old databases up the ladder.
pub const SCHEMA_VERSION: u32 = 2;
pub const DB_FILE: &str = "pipit.redb";

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// Woken after a commit that enqueued deliveries (the delivery worker waits on it).
    pub queue_wake: Arc<tokio::sync::Notify>,
    /// Bumped after a commit that added home entries or notifications (live pages wait on it).
    pub live: Arc<tokio::sync::watch::Sender<u64>>,
    /// Queue of the group-commit writer thread (store/group.rs).
    group: Arc<std::sync::Mutex<std::sync::mpsc::Sender<group::Item>>>,
}

/// A read snapshot.
pub struct Read {
    tx: redb::ReadTransaction,
}

/// An open write transaction; committed when the `write` closure returns Ok.
pub struct Write {
    tx: redb::WriteTransaction,
    wake_queue: bool,
    notify_live: bool,
}

impl Store {
    /// Opens (or creates) `DATA/pipit.redb`. A second process on the same folder gets a clear error:
    /// redb holds an exclusive lock on the file.
    pub fn open(data: &Path, cache_mib: u32) -> Result<Store> {
        let path = data.join(DB_FILE);
        let db = Database::builder()
            .set_cache_size(cache_mib as usize * 1024 * 1024)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => Error::Config(format!(
                    "{} is in use: pipit is already running on this data folder",
                    path.display()
                )),
                e => Error::Store(format!("{}: {e}", path.display())),
            })?;
        let db = Arc::new(db);
        let queue_wake: Arc<tokio::sync::Notify> = Default::default();
        let live = Arc::new(tokio::sync::watch::channel(0).0);
        let group = group::start(Arc::downgrade(&db), queue_wake.clone(), live.clone());
        let store = Store { db, queue_wake, live, group: Arc::new(std::sync::Mutex::new(group)) };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        self.write(|w| {
            // Creating every table up front lets read transactions open them without checks.
            w.tx.open_table(META_VALUE)?;
            w.tx.open_table(POSTID_POST)?;
            w.tx.open_table(POSTURI_POSTID)?;
            w.tx.open_table(OWNPOSTID)?;
            w.tx.open_table(PARENTURI_CHILDID)?;
            w.tx.open_table(TAG_POSTID)?;
            w.tx.open_table(URI_DELETEDMS)?;
            w.tx.open_table(SESSIONHASH_EXPIRYMS)?;
            w.tx.open_table(ACTORURI_ACTOR)?;
            w.tx.open_table(KEYID_ACTORURI)?;
            w.tx.open_table(FOLLOWERURI_FOLLOWER)?;
            w.tx.open_table(REQUESTERURI_REQUEST)?;
            w.tx.open_table(FOLLOWINGURI_FOLLOWING)?;
            w.tx.open_table(ACTIVITYID_ACTIVITY)?;
            w.tx.open_table(SEENURI_MS)?;
            w.tx.open_table(POSTURI_KIND_ACTOR)?;
            w.tx.open_table(INTERACTIONURI_KEY)?;
            w.tx.open_table(AUTHOR_POSTID)?;
            w.tx.open_table(HOMEID_ENTRY)?;
            w.tx.open_table(NOTIFID_NOTIF)?;
            w.tx.open_table(DUE_JOBID)?;
            w.tx.open_table(JOBID_JOB)?;
            w.tx.open_table(FANOUT_INBOX)?;
            w.tx.open_table(DEADID_JOB)?;
            w.tx.open_table(LISTID_LIST)?;
            w.tx.open_table(LIST_MEMBER)?;
            w.tx.open_table(MEMBER_LIST)?;
            w.tx.open_table(FOLLOWEDTAG_MS)?;
            w.tx.open_table(BOOKMARKID_POSTID)?;
            w.tx.open_table(POSTID_BOOKMARKID)?;
            w.tx.open_table(TERM_POSTID)?;
            w.tx.open_table(BLOCKEDACTOR_MS)?;
            w.tx.open_table(BLOCKEDDOMAIN_MS)?;
            w.tx.open_table(MUTEDACTOR_UNTIL)?;
            w.tx.open_table(FILTERID_FILTER)?;
            w.tx.open_table(PINNED_POSTID_MS)?;
            let version = w.meta_u32("schema_version")?.unwrap_or(0);
            if version > SCHEMA_VERSION {
                return Err(Error::Config(format!(
                    "the database has schema {version}, newer than this pipit ({SCHEMA_VERSION}): upgrade pipit"
                )));
            }
            // The ladder: one step per layout change.
            if version >= 1 && version < 2 {
                // 2: the full-text index; fill it for posts stored before it existed.
                // In batches of ids, so the table is never held in memory.
                let mut from = 0u64;
                loop {
                    let ids: Vec<u64> = {
                        use redb::ReadableTable;
                        let t = w.tx.open_table(POSTID_POST)?;
                        let mut v = Vec::new();
                        for e in t.range(from..)?.take(1000) {
                            v.push(e?.0.value());
                        }
                        v
                    };
                    let Some(&last) = ids.last() else { break };
                    for id in ids {
                        if let Some(p) = w.post(id)? {
                            w.index_terms(&p, true)?;
                        }
                    }
                    from = last + 1;
                }
            }
            if version < SCHEMA_VERSION {
                w.put_meta("schema_version", &SCHEMA_VERSION.to_le_bytes())?;
            }
            Ok(())
        })
    }

    pub fn read<T>(&self, f: impl FnOnce(&Read) -> Result<T>) -> Result<T> {
        let r = Read { tx: self.db.begin_read()? };
        f(&r)
    }

    /// Runs `f` in one write transaction, committed durably if it returns Ok, aborted otherwise.
    /// On a multi-threaded runtime the (blocking, fsyncing) commit moves off the async workers.
    pub fn write<T>(&self, f: impl FnOnce(&mut Write) -> Result<T>) -> Result<T> {
        let run = || {
            let mut w = Write { tx: self.db.begin_write()?, wake_queue: false, notify_live: false };
            let out = f(&mut w)?;
            let (wake, live) = (w.wake_queue, w.notify_live);
            w.tx.commit()?;
            if wake {
                self.queue_wake.notify_one();
            }
            if live {
                self.live.send_modify(|n| *n += 1);
            }
            Ok(out)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Store(format!("corrupt {what} record: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}
