//! A consistent copy of the whole database while the server runs: every table, as ONE read
//! transaction sees it, streamed into a fresh redb file (redb has no online-backup call; its
//! file cannot be copied byte-wise while commits rewrite the header). Rows go over in bounded
//! batches, so neither side ever holds a table in memory.

use super::tables::*;
use super::community::{REPLIER_REPLYID, REPLYDAY_ACTOR_COUNT, UNANSWERED_REPLYID};
use super::relays::{RELAYED_POSTID, RELAYURI_RELAY};
use super::webmentions::POSTID_SOURCE_MS;
use super::crosspost::{XPACCT_CONNECTION, XPACCT_POSTID_COPY, XPSTATE_PENDING};
use super::archive::{ARCHIVEURI_POSTID, PENDINGMEDIA_RUN};
use super::Store;
use crate::error::{Error, Result};
use redb::{Database, Key, MultimapTableHandle, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, Value};
use std::path::Path;

/// Rows per write transaction in the copy (bounds the copy's dirty pages in memory).
const BATCH: usize = 2000;

impl Store {
    /// Copies every table into a new database at `dest` (which must not exist). `progress` is
    /// called with the rows copied so far. Returns the number of rows. Errors: a table this
    /// code does not know (a new table must be added to the list below, or backups would
    /// silently lose it), I/O and redb errors.
    pub fn snapshot_to(&self, dest: &Path, mut progress: impl FnMut(u64)) -> Result<u64> {
        if dest.exists() {
            return Err(Error::Internal(format!("{} exists already", dest.display())));
        }
        let db = self.db.get()?;
        let r = self.db.check(db.begin_read().map_err(Error::from))?;
        let out = Database::create(dest)?;
        let mut rows = 0u64;
        let mut names: Vec<String> = Vec::new();
        macro_rules! copy {
            ($($t:ident),* $(,)?) => {$(
                rows += copy_table(&r, &out, $t, rows, &mut progress)?;
                names.push($t.name().to_string());
            )*};
        }
        copy!(
            META_VALUE, POSTID_POST, POSTURI_POSTID, OWNPOSTID, PARENTURI_CHILDID, TAG_POSTID, URI_DELETEDMS,
            SESSIONHASH_EXPIRYMS, ACTORURI_ACTOR, KEYID_ACTORURI, FOLLOWERURI_FOLLOWER, REQUESTERURI_REQUEST,
            FOLLOWINGURI_FOLLOWING, ACTIVITYID_ACTIVITY, SEENURI_MS, POSTURI_KIND_ACTOR, INTERACTIONURI_KEY,
            AUTHOR_POSTID, HOMEID_ENTRY, NOTIFID_NOTIF, DUE_JOBID, JOBID_JOB, FANOUT_INBOX, DEADID_JOB,
            LISTID_LIST, LIST_MEMBER, MEMBER_LIST, FOLLOWEDTAG_MS, BOOKMARKID_POSTID, POSTID_BOOKMARKID,
            TERM_POSTID, BLOCKEDACTOR_MS, BLOCKEDDOMAIN_MS, MUTEDACTOR_UNTIL, FILTERID_FILTER, PINNED_POSTID_MS,
            // The client API (issue 9): apps, codes, tokens, account ids, media, idempotency keys.
            APPID_APP, CLIENTID_APPID, CODEHASH_CODE, TOKENHASH_TOKEN, APPID_TOKENHASH, ACCOUNTID_ACTORURI,
            ACTORURI_ACCOUNTID, MEDIAID_MEDIA, IDEMKEY_POST,
            // CSV imports (issue 12): an unfinished one goes on after a restore (its job is in JOBID_JOB).
            IMPORTID_IMPORT, IMPORTLINE_ROW, IMPORTDUE_LINE,
            // Publishing controls (issue 14): edit history, scheduled posts and drafts, poll votes.
            POSTID_EDITMS_VERSION, SCHEDULEDID_SCHEDULED, POSTID_VOTER_CHOICES,
            // Client API conversations, favourites and muted threads.
            CONVERSATION_READ_REMOVED, FAVOURITEID_POSTID, POSTID_FAVOURITEID, MUTEDTHREAD_MS,
            // Community tools (issue 14): reply indexes, relays, webmentions.
            UNANSWERED_REPLYID, REPLYDAY_ACTOR_COUNT, REPLIER_REPLYID, RELAYURI_RELAY, RELAYED_POSTID, POSTID_SOURCE_MS,
            // Emoji reactions (issue 11): counts kept on write.
            POSTURI_REACTION_COUNT,
            // Cross-posting (issue 14): connections (secrets sealed with keys/crosspost.key, which the backup carries too).
            XPACCT_CONNECTION, XPSTATE_PENDING, XPACCT_POSTID_COPY,
            // Interaction counts kept on write (issue 15).
            POSTURI_KIND_COUNT,
            // Posts imported from a Mastodon archive, by their original id (issue 12): no duplicates on a re-import.
            ARCHIVEURI_POSTID,
            // Media saved for posts not stored yet (their files are in the copy too): a restore sweeps them.
            PENDINGMEDIA_RUN,
        );
        for t in r.list_tables()? {
            if !names.iter().any(|n| n == t.name()) {
                return Err(Error::Internal(format!("table `{}` is not in the backup list (store/backup.rs): refusing an incomplete backup", t.name())));
            }
        }
        if let Some(t) = r.list_multimap_tables()?.next() {
            return Err(Error::Internal(format!("multimap table `{}` is not in the backup list (store/backup.rs)", t.name())));
        }
        Ok(rows)
    }
}

fn copy_table<K: Key + 'static, V: Value + 'static>(
    r: &redb::ReadTransaction,
    out: &Database,
    def: TableDefinition<K, V>,
    before: u64,
    progress: &mut impl FnMut(u64),
) -> Result<u64> {
    let src = r.open_table(def)?;
    let mut iter = src.iter()?;
    let mut n = 0u64;
    loop {
        let w = out.begin_write()?;
        let mut done = false;
        {
            let mut t = w.open_table(def)?; // created even when the source is empty
            for _ in 0..BATCH {
                match iter.next() {
                    Some(e) => {
                        let (k, v) = e?;
                        t.insert(k.value(), v.value())?;
                        n += 1;
                    }
                    None => {
                        done = true;
                        break;
                    }
                }
            }
        }
        w.commit()?;
        progress(before + n);
        if done {
            return Ok(n);
        }
    }
}
