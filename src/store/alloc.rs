//! Key allocation for every table keyed by a generated id (issue 17), and the one way to add a
//! record under a new key.
//!
//! `Write::new_id(space, at_ms)` takes a time-sortable candidate from `ids::next_id_at` and
//! checks, inside the write transaction, that no record in that id space has it and that this
//! transaction has not handed it out already; if it is taken it probes upward (candidate + 1,
//! + 2, + 4, …: O(log n) point lookups even when a whole millisecond is full) and takes the
//! first free id. `insert_new` then refuses to write over an existing key. Together: no write
//! ever replaces a record it did not look up first.
//!
//! A new table keyed by a generated id (OAuth apps and tokens, media attachments, …) adds a
//! variant to `IdSpace`, its table(s) in `IdSpace::is_taken`, and inserts with
//! `new_id` + `insert_new`.

use super::{tables::*, Write};
use crate::error::{Error, Result};
use redb::{ReadableTable, TableDefinition, TableHandle};

/// Tables whose keys pipit generates. Ids are unique within a space, not across spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdSpace {
    /// `postid_post`: own and remote posts.
    Posts,
    /// `activityid_activity`: activities the owner sent.
    Activities,
    /// `jobid_job` and `deadid_job`: a dead letter keeps its job id, so both count.
    Jobs,
    /// `notifid_notif`.
    Notifications,
    /// `homeid_entry`.
    Home,
    /// `listid_list`.
    Lists,
    /// `filterid_filter`.
    Filters,
    /// `bookmarkid_postid`.
    Bookmarks,
    /// `appid_app`: client API (OAuth) apps.
    OAuthApps,
    /// `mediaid_media`: client API uploads before their post.
    PendingMedia,
    /// `accountid_actoruri`: client API account ids of actors.
    Accounts,
    /// `importid_import`: CSV imports.
    Imports,
    /// `scheduledid_scheduled`: scheduled posts and drafts.
    Scheduled,
    /// `favouriteid_postid`: the owner's likes, in the order liked.
    Favourites,
}

/// How far above a taken candidate the allocator looks: 2^32 ids, about 65 seconds of id
/// space. Reaching it means something is badly wrong (the error says so); it never wraps.
const MAX_PROBE_SHIFT: u32 = 32;

impl IdSpace {
    fn name(self) -> &'static str {
        match self {
            IdSpace::Posts => "postid_post",
            IdSpace::Activities => "activityid_activity",
            IdSpace::Jobs => "jobid_job",
            IdSpace::Notifications => "notifid_notif",
            IdSpace::Home => "homeid_entry",
            IdSpace::Lists => "listid_list",
            IdSpace::Filters => "filterid_filter",
            IdSpace::Bookmarks => "bookmarkid_postid",
            IdSpace::OAuthApps => "appid_app",
            IdSpace::PendingMedia => "mediaid_media",
            IdSpace::Accounts => "accountid_actoruri",
            IdSpace::Imports => "importid_import",
            IdSpace::Scheduled => "scheduledid_scheduled",
            IdSpace::Favourites => "favouriteid_postid",
        }
    }
}

impl Write {
    /// Is `id` used in `space`: stored, or already handed out by this transaction?
    fn is_taken(&self, space: IdSpace, id: u64) -> Result<bool> {
        if self.reserved.contains(&(space, id)) {
            return Ok(true);
        }
        Ok(match space {
            IdSpace::Posts => has(self, POSTID_POST, id)?,
            IdSpace::Activities => has(self, ACTIVITYID_ACTIVITY, id)?,
            IdSpace::Jobs => has(self, JOBID_JOB, id)? || has(self, DEADID_JOB, id)?,
            IdSpace::Notifications => has(self, NOTIFID_NOTIF, id)?,
            IdSpace::Home => has(self, HOMEID_ENTRY, id)?,
            IdSpace::Lists => has(self, LISTID_LIST, id)?,
            IdSpace::Filters => has(self, FILTERID_FILTER, id)?,
            IdSpace::Bookmarks => has(self, BOOKMARKID_POSTID, id)?,
            IdSpace::OAuthApps => has(self, APPID_APP, id)?,
            IdSpace::PendingMedia => has(self, MEDIAID_MEDIA, id)?,
            IdSpace::Accounts => has(self, ACCOUNTID_ACTORURI, id)?,
            IdSpace::Imports => has(self, IMPORTID_IMPORT, id)?,
            IdSpace::Scheduled => has(self, SCHEDULEDID_SCHEDULED, id)?,
            IdSpace::Favourites => has(self, FAVOURITEID_POSTID, id)?,
        })
    }

    /// A fresh key in `space` for a record made at `at_ms` (ms since the epoch; pass the
    /// current time for new things, `published` for remote posts). Time-sortable: the id's
    /// millisecond is `at_ms`, or slightly later when that millisecond's 65,536 ids are used.
    /// Guaranteed free in this transaction: not stored, and not returned by an earlier call on
    /// this `Write` (so allocate-then-insert, several times over, is safe). Errors only if no
    /// id is free within 2^32 above the candidate (`Error::Store`).
    pub fn new_id(&mut self, space: IdSpace, at_ms: u64) -> Result<u64> {
        let candidate = crate::ids::next_id_at(at_ms);
        let mut id = candidate;
        let mut shift = 0;
        while self.is_taken(space, id)? {
            if shift > MAX_PROBE_SHIFT {
                return Err(Error::Store(format!("no free id in {} near {candidate}", space.name())));
            }
            id = candidate.checked_add(1 << shift).ok_or_else(|| Error::Store(format!("id space of {} exhausted", space.name())))?;
            shift += 1;
        }
        self.reserved.insert((space, id));
        crate::ids::note_used(id);
        Ok(id)
    }

    /// Inserts `value` at `id` in `table`, which must not have that key: an existing record is
    /// a conflict (`Error::Store("conflict: …")`) and is left as it was. The one insert for
    /// tables keyed by generated ids.
    pub(super) fn insert_new<V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<u64, V>,
        id: u64,
        value: V::SelfType<'_>,
    ) -> Result<()> {
        let mut t = self.tx.open_table(table)?;
        if t.get(id)?.is_some() {
            return Err(conflict(table.name(), id));
        }
        t.insert(id, value)?;
        Ok(())
    }
}

fn has<V: redb::Value + 'static>(w: &Write, table: TableDefinition<u64, V>, id: u64) -> Result<bool> {
    Ok(w.tx.open_table(table)?.get(id)?.is_some())
}

/// The error for a write that would replace a record it did not look up.
pub(super) fn conflict(table: &str, key: impl std::fmt::Display) -> Error {
    Error::Store(format!("conflict: {table} already has a record at {key}; refusing to replace it"))
}
