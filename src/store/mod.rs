//! The only module that imports redb. Everything else reads and writes through `Store::read` and
//! `Store::write`, whose closures get typed handles (`Read`, `Write`) with one method per thing
//! the server keeps. A write that changes several tables happens in one transaction.

mod tables;
mod alloc;
mod posts;
mod meta;
mod sessions;
mod queue;
mod actors;
mod social;
mod group;
pub use group::FLUSH_DELAY;
mod lists;
mod search;
mod backup;
mod export;
mod oauth;
mod imports;
mod publishing;
pub use publishing::{PollSpec, PostVersion, ScheduledParams, ScheduledPost};
mod conversations;
mod favourites;
mod live;
pub use live::{Change, Live, LiveEvent};
mod suggest;
mod community;
mod relays;
mod webmentions;
mod crosspost;
mod archive;
pub use crosspost::{Connection, Copy as CrosspostCopy, PendingConnect};
pub use relays::Relay;
pub use community::{reply_day, DAY_MS};
pub mod reactions;
mod status_facts;
pub use status_facts::StatusFacts;
pub use oauth::{OAuthApp, OAuthCode, OAuthToken, PendingMedia, Range};
pub use search::query_terms;
pub use alloc::IdSpace;
pub use imports::{ImportJob, ImportRow, RowState};

pub use actors::ActorPage;
pub use posts::PostPage;
pub use queue::QueueStats;

use crate::error::{Error, Result};
use redb::{Database, ReadableDatabase};
use std::path::Path;
use std::sync::Arc;
use tables::*;

/// Bumped when a table's layout changes; `migrate` walks old databases up the ladder.
pub const SCHEMA_VERSION: u32 = 3;
pub const DB_FILE: &str = "pipit.redb";

#[derive(Clone)]
pub struct Store {
    db: Arc<Slot>,
    /// Woken after a commit that enqueued deliveries (the delivery worker waits on it).
    pub queue_wake: Arc<tokio::sync::Notify>,
    /// What each commit changed (posts, home entries, notifications, filters): the deck's live
    /// column reload and the streaming API read it (store/live.rs).
    pub live: Arc<Live>,
    /// Bumped after every committed write: a cache of anything read from the store is valid
    /// while this is unchanged (server/cache.rs).
    pub generation: Arc<std::sync::atomic::AtomicU64>,
    /// Queue of the group-commit writer thread (store/group.rs).
    group: Arc<std::sync::Mutex<std::sync::mpsc::Sender<group::Item>>>,
    /// Read transactions begun so far (`read_count`).
    reads: Arc<std::sync::atomic::AtomicU64>,
}

/// The open database, and how to open it again. After an I/O error (a full disk) redb refuses
/// every later transaction ("Previous I/O error ... re-open the database"), so the store marks
/// itself failed and reopens the file (redb repairs it to the last commit) at the next use, at
/// most once a second, until that works: pipit recovers by itself once space returns, and until
/// then every store call fails fast with `Error::Unavailable` (HTTP 503).
pub(crate) struct Slot {
    db: std::sync::RwLock<Option<Arc<Database>>>,
    failed: std::sync::atomic::AtomicBool,
    /// A write failed for an I/O reason and none has succeeded since.
    write_failed: std::sync::atomic::AtomicBool,
    last_try: std::sync::Mutex<Option<std::time::Instant>>,
    path: std::path::PathBuf,
    cache_bytes: usize,
}

/// True for errors after which redb must be reopened, or that mean the disk is full.
fn is_io_failure(message: &str) -> bool {
    message.contains("Previous I/O error") || message.contains("No space left") || message.contains("Disk quota exceeded")
}

impl Slot {
    fn open_db(path: &Path, cache_bytes: usize) -> std::result::Result<Database, redb::DatabaseError> {
        Database::builder().set_cache_size(cache_bytes).create(path)
    }

    /// The database for one transaction, reopening it first if an I/O error broke it.
    fn get(&self) -> Result<Arc<Database>> {
        if self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            self.recover()?;
        }
        self.db.read().unwrap_or_else(|e| e.into_inner()).clone().ok_or_else(|| Error::Unavailable("the database is being reopened".into()))
    }

    fn fail(&self, why: &str) {
        self.write_failed.store(true, std::sync::atomic::Ordering::SeqCst);
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            tracing::error!("store: {why}; refusing writes until the database can be reopened");
        }
    }

    fn recover(&self) -> Result<()> {
        let unavailable = || Error::Unavailable("the disk is full or failing; nothing was saved".into());
        {
            let mut last = self.last_try.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
                return Err(unavailable());
            }
            *last = Some(std::time::Instant::now());
        }
        let mut slot = self.db.write().unwrap_or_else(|e| e.into_inner());
        if !self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(()); // another caller just did it
        }
        // redb holds a file lock: the old handle must be gone before the file opens again.
        if let Some(old) = slot.take() {
            match Arc::try_unwrap(old) {
                Ok(db) => drop(db),
                Err(still_used) => {
                    *slot = Some(still_used); // a transaction is still running: next time
                    return Err(unavailable());
                }
            }
        }
        match Slot::open_db(&self.path, self.cache_bytes) {
            Ok(db) => {
                *slot = Some(Arc::new(db));
                self.failed.store(false, std::sync::atomic::Ordering::SeqCst);
                tracing::warn!("store: the database was reopened after an I/O error; writes work again");
                Ok(())
            }
            Err(e) => {
                tracing::warn!("store: reopening the database failed: {e}");
                Err(unavailable())
            }
        }
    }

    /// Passes `r` through, noting an I/O failure (and turning it into `Error::Unavailable`).
    fn check<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(Error::Store(m)) if is_io_failure(&m) => {
                self.fail(&m);
                Err(Error::Unavailable(m))
            }
            Err(Error::Io(e)) if is_io_failure(&e.to_string()) => {
                self.fail(&e.to_string());
                Err(Error::Unavailable(e.to_string()))
            }
            other => other,
        }
    }
}

/// A read snapshot.
pub struct Read {
    tx: redb::ReadTransaction,
    /// Tables `table` opened in this snapshot, by name, for its later lookups: a page of 20
    /// post cards asks the same ~8 tables ~200 times, and each `open_table` walks the table
    /// tree (~15 % of an uncached page, issue 13). A handful of entries; dropped with the
    /// snapshot.
    opened: std::sync::Mutex<Vec<(String, Arc<dyn std::any::Any + Send + Sync>)>>,
}

impl Read {
    /// `tx.open_table(def)`, opened once per snapshot (see `opened`). Same errors.
    pub(crate) fn table<K: redb::Key + Send + Sync + 'static, V: redb::Value + Send + Sync + 'static>(&self, def: redb::TableDefinition<K, V>) -> std::result::Result<Arc<redb::ReadOnlyTable<K, V>>, redb::TableError> {
        use redb::TableHandle;
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = opened.iter().find(|(n, _)| n == def.name()) {
            if let Ok(t) = t.clone().downcast::<redb::ReadOnlyTable<K, V>>() {
                return Ok(t);
            }
        }
        let t = Arc::new(self.tx.open_table(def)?);
        opened.push((def.name().to_string(), t.clone()));
        Ok(t)
    }
}

/// An open write transaction; committed when the `write` closure returns Ok.
pub struct Write {
    tx: redb::WriteTransaction,
    wake_queue: bool,
    /// Events published on `Store::live` once this transaction commits.
    live: Vec<LiveEvent>,
    /// Ids `new_id` handed out in this transaction (alloc.rs), so two allocations before their
    /// inserts never get the same key.
    reserved: std::collections::HashSet<(IdSpace, u64)>,
}

impl Store {
    /// Opens (or creates) `DATA/pipit.redb`. A second process on the same folder gets a clear error:
    /// redb holds an exclusive lock on the file.
    pub fn open(data: &Path, cache_mib: u32) -> Result<Store> {
        let path = data.join(DB_FILE);
        let cache_bytes = cache_mib as usize * 1024 * 1024;
        let db = Slot::open_db(&path, cache_bytes)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => Error::Config(format!(
                    "{} is in use: pipit is already running on this data folder",
                    path.display()
                )),
                e => Error::Store(format!("{}: {e}", path.display())),
            })?;
        let db = Arc::new(Slot { db: std::sync::RwLock::new(Some(Arc::new(db))), failed: Default::default(), write_failed: Default::default(), last_try: Default::default(), path, cache_bytes });
        let queue_wake: Arc<tokio::sync::Notify> = Default::default();
        let live: Arc<Live> = Default::default();
        let generation: Arc<std::sync::atomic::AtomicU64> = Default::default();
        let group = group::start(Arc::downgrade(&db), queue_wake.clone(), live.clone(), generation.clone());
        let store = Store { db, queue_wake, live, generation, group: Arc::new(std::sync::Mutex::new(group)), reads: Default::default() };
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
            w.tx.open_table(POSTURI_REACTION_COUNT)?;
            w.tx.open_table(POSTURI_KIND_COUNT)?;
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
            w.tx.open_table(APPID_APP)?;
            w.tx.open_table(TOKENHASH_TOKEN)?;
            w.tx.open_table(CODEHASH_CODE)?;
            w.tx.open_table(CLIENTID_APPID)?;
            w.tx.open_table(APPID_TOKENHASH)?;
            w.tx.open_table(ACTORURI_ACCOUNTID)?;
            w.tx.open_table(ACCOUNTID_ACTORURI)?;
            w.tx.open_table(MEDIAID_MEDIA)?;
            w.tx.open_table(IDEMKEY_POST)?;
            w.tx.open_table(IMPORTID_IMPORT)?;
            w.tx.open_table(IMPORTLINE_ROW)?;
            w.tx.open_table(IMPORTDUE_LINE)?;
            w.tx.open_table(POSTID_EDITMS_VERSION)?;
            w.tx.open_table(SCHEDULEDID_SCHEDULED)?;
            w.tx.open_table(POSTID_VOTER_CHOICES)?;
            w.tx.open_table(CONVERSATION_READ_REMOVED)?;
            w.tx.open_table(FAVOURITEID_POSTID)?;
            w.tx.open_table(POSTID_FAVOURITEID)?;
            w.tx.open_table(MUTEDTHREAD_MS)?;
            w.open_community_tables()?;
            w.open_relay_tables()?;
            w.open_webmention_tables()?;
            w.open_crosspost_tables()?;
            w.open_archive_tables()?;
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
            if version >= 1 && version < 3 {
                // 3: interaction counts kept on write; count what is already stored.
                w.fill_interaction_counts()?;
            }
            if version < SCHEMA_VERSION {
                w.put_meta("schema_version", &SCHEMA_VERSION.to_le_bytes())?;
            }
            Ok(())
        })
    }

    /// Runs `f` on one read snapshot. A request reads everything it shows through one of these
    /// (issue 15): helpers take `&Read` instead of opening their own.
    pub fn read<T>(&self, f: impl FnOnce(&Read) -> Result<T>) -> Result<T> {
        // A thin generic shell over one non-generic body (issue 15: ~160 call sites each had
        // their own copy of begin/check).
        let (mut f, mut out) = (Some(f), None);
        self.read_dyn(&mut |r| {
            out = Some(f.take().expect("read_dyn calls f once")(r)?);
            Ok(())
        })?;
        Ok(out.expect("read_dyn returned Ok, so f ran"))
    }

    fn read_dyn(&self, f: &mut dyn FnMut(&Read) -> Result<()>) -> Result<()> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let db = self.db.get()?;
        let r = self.db.check(db.begin_read().map_err(Error::from))?;
        let r = Read { tx: r, opened: Default::default() };
        self.db.check(f(&r))
    }

    /// How many read transactions this store has begun since it opened (every `read` call):
    /// tests compare it before and after a request to hold pages to one transaction each.
    pub fn read_count(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// False after a write failed for an I/O reason (a full disk) while the data folder's disk
    /// still has less than 1 MiB free, or the database could not be reopened yet: the inbox
    /// answers 503 then, so senders retry later and nothing is lost.
    pub fn available(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if !self.db.write_failed.load(SeqCst) {
            return true;
        }
        let free = self.db.path.parent().and_then(free_bytes);
        free.is_some_and(|f| f >= 1024 * 1024) && self.db.get().is_ok()
    }

    /// Runs `f` in one write transaction, committed durably if it returns Ok, aborted otherwise.
    /// On a multi-threaded runtime the (blocking, fsyncing) commit moves off the async workers.
    pub fn write<T>(&self, f: impl FnOnce(&mut Write) -> Result<T>) -> Result<T> {
        // A thin generic shell over one non-generic body (issue 15: the body below was copied
        // into each of ~120 callers' instances, ~1.1 KiB each on x86_64).
        let (mut f, mut out) = (Some(f), None);
        self.write_dyn(&mut |w| {
            out = Some(f.take().expect("write_dyn calls f once")(w)?);
            Ok(())
        })?;
        Ok(out.expect("write_dyn returned Ok, so f ran"))
    }

    fn write_dyn(&self, f: &mut dyn FnMut(&mut Write) -> Result<()>) -> Result<()> {
        let mut run = || {
            let db = self.db.get()?;
            let mut w = Write { tx: db.begin_write()?, wake_queue: false, live: Vec::new(), reserved: Default::default() };
            let out = f(&mut w)?;
            let (wake, live) = (w.wake_queue, std::mem::take(&mut w.live));
            w.tx.commit()?;
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if wake {
                self.queue_wake.notify_one();
            }
            self.live.publish(live);
            Ok(out)
        };
        let r = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        };
        if r.is_ok() {
            self.db.write_failed.store(false, std::sync::atomic::Ordering::SeqCst);
        }
        self.db.check(r)
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Store(format!("corrupt {what} record: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}
