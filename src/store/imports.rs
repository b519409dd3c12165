//! CSV imports in progress (issue 12): `importid_import` (one record per import),
//! `importline_row` (one record per data row, by (import, line)) and `importdue_line` (the
//! pending rows by (import, due ms, line), so the worker reads only the rows due now and the
//! next due time without scanning the file). One `JobKind::Import` job in the delivery queue
//! works through them; all of it survives a restart.

use super::{alloc::IdSpace, from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// One CSV import: what file, how far along. Counters change in the same transaction as the
/// row they count.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportJob {
    pub id: u64,
    /// Mastodon's file name for the kind (`following_accounts.csv`, …): `CsvKind::parse` reads it.
    pub file: String,
    /// Remove what the file does not list, once every row is done or failed.
    pub overwrite: bool,
    /// Data rows in the file.
    pub total: u64,
    /// Rows applied (their change made, or already there).
    pub done: u64,
    /// Rows that failed for good; each row keeps its reason.
    pub failed: u64,
    /// Rows whose change was new (not already there).
    pub added: u64,
    /// Entries removed by overwrite mode.
    pub removed: u64,
    pub created_ms: u64,
    /// Set when every row is done or failed and overwrite (if asked) has run.
    pub finished_ms: Option<u64>,
    /// The delivery-queue job that works through it.
    pub queue_job: u64,
}

impl ImportJob {
    pub fn pending(&self) -> u64 {
        self.total.saturating_sub(self.done + self.failed)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    Pending,
    Done,
    Failed,
}

/// One data row of an import.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportRow {
    /// Line number in the file (1-based, the header counts).
    pub line: u64,
    /// The row's fields, trimmed.
    pub fields: Vec<String>,
    pub state: RowState,
    /// Lookups tried so far.
    pub attempts: u32,
    /// When a pending row is tried next (ms).
    pub due_ms: u64,
    /// Failed: why. Pending after a failed try: the last error.
    pub error: Option<String>,
    /// Done: what the row resolved to (actor id, domain, or post id), for overwrite mode.
    pub target: Option<String>,
}

impl Read {
    pub fn import(&self, id: u64) -> Result<Option<ImportJob>> {
        let t = self.tx.open_table(IMPORTID_IMPORT)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "import")).transpose()
    }
    /// The most recent import, if any.
    pub fn latest_import(&self) -> Result<Option<ImportJob>> {
        let t = self.tx.open_table(IMPORTID_IMPORT)?;
        let last = t.last()?;
        last.map(|(_, v)| from_json(v.value(), "import")).transpose()
    }
    /// The ids of the last `limit` imports, newest first.
    pub fn recent_imports(&self, limit: usize) -> Result<Vec<u64>> {
        let t = self.tx.open_table(IMPORTID_IMPORT)?;
        let mut out = Vec::new();
        for e in t.iter()?.rev().take(limit) {
            out.push(e?.0.value());
        }
        Ok(out)
    }
    /// Up to `limit` pending rows of `import` due at `now_ms`, earliest first.
    pub fn import_due_rows(&self, import: u64, now_ms: u64, limit: usize) -> Result<Vec<ImportRow>> {
        let due = self.tx.open_table(IMPORTDUE_LINE)?;
        let rows = self.tx.open_table(IMPORTLINE_ROW)?;
        let mut out = Vec::new();
        for e in due.range((import, 0u64, 0u64)..=(import, now_ms, u64::MAX))?.take(limit) {
            let line = e?.0.value().2;
            if let Some(v) = rows.get((import, line))? {
                out.push(from_json(v.value(), "import row")?);
            }
        }
        Ok(out)
    }
    /// When the next pending row of `import` is due (None: no row pending).
    pub fn import_next_due(&self, import: u64) -> Result<Option<u64>> {
        let due = self.tx.open_table(IMPORTDUE_LINE)?;
        let first = due.range((import, 0u64, 0u64)..=(import, u64::MAX, u64::MAX))?.next().transpose()?;
        Ok(first.map(|(k, _)| k.value().1))
    }
    /// Up to `limit` rows of `import` after line `after`, in line order, that `keep` accepts; at
    /// most `scan` rows are looked at. Returns them and the last line looked at (the cursor for
    /// the next page; None at the end).
    pub fn import_rows(&self, import: u64, after: u64, limit: usize, scan: usize, keep: &dyn Fn(&ImportRow) -> bool) -> Result<(Vec<ImportRow>, Option<u64>)> {
        let t = self.tx.open_table(IMPORTLINE_ROW)?;
        let mut out = Vec::new();
        let mut seen = 0;
        for e in t.range((import, after.saturating_add(1))..=(import, u64::MAX))? {
            let (k, v) = e?;
            seen += 1;
            let row: ImportRow = from_json(v.value(), "import row")?;
            if keep(&row) {
                out.push(row);
            }
            if out.len() >= limit || seen >= scan {
                return Ok((out, Some(k.value().1)));
            }
        }
        Ok((out, None))
    }
}

impl Write {
    /// Stores a new import with its rows (all pending, due now) and the queue job that works
    /// through them. Returns the import's id.
    pub fn create_import(&mut self, file: &str, overwrite: bool, rows: &[(u64, Vec<String>)]) -> Result<u64> {
        let now = crate::time::now_ms();
        let id = self.new_id(IdSpace::Imports, now)?;
        let queue_job = self.enqueue(crate::model::JobKind::Import { import: id }, now)?;
        let job = ImportJob { id, file: file.into(), overwrite, total: rows.len() as u64, done: 0, failed: 0, added: 0, removed: 0, created_ms: now, finished_ms: None, queue_job };
        self.insert_new(IMPORTID_IMPORT, id, to_json(&job)?.as_slice())?;
        let mut t = self.tx.open_table(IMPORTLINE_ROW)?;
        let mut due = self.tx.open_table(IMPORTDUE_LINE)?;
        for (line, fields) in rows {
            let row = ImportRow { line: *line, fields: fields.clone(), state: RowState::Pending, attempts: 0, due_ms: now, error: None, target: None };
            t.insert((id, *line), to_json(&row)?.as_slice())?;
            due.insert((id, now, *line), ())?;
        }
        Ok(id)
    }
    /// Saves a changed import record (read from the store).
    pub fn put_import(&mut self, job: &ImportJob) -> Result<()> {
        self.tx.open_table(IMPORTID_IMPORT)?.insert(job.id, to_json(job)?.as_slice())?;
        Ok(())
    }
    /// Saves a changed row of `import`, keeping the due index right (a row leaves it when it
    /// is no longer pending). `old_due_ms` is the due time the row had when read.
    pub fn put_import_row(&mut self, import: u64, old_due_ms: u64, row: &ImportRow) -> Result<()> {
        let mut due = self.tx.open_table(IMPORTDUE_LINE)?;
        due.remove((import, old_due_ms, row.line))?;
        if row.state == RowState::Pending {
            due.insert((import, row.due_ms, row.line), ())?;
        }
        self.tx.open_table(IMPORTLINE_ROW)?.insert((import, row.line), to_json(row)?.as_slice())?;
        Ok(())
    }
    pub fn import(&self, id: u64) -> Result<Option<ImportJob>> {
        let t = self.tx.open_table(IMPORTID_IMPORT)?;
        let v = t.get(id)?;
        v.map(|v| from_json(v.value(), "import")).transpose()
    }
    /// An unfinished import of `file` among the last few, if any.
    pub fn running_import(&self, file: &str) -> Result<Option<ImportJob>> {
        let t = self.tx.open_table(IMPORTID_IMPORT)?;
        for e in t.iter()?.rev().take(20) {
            let job: ImportJob = from_json(e?.1.value(), "import")?;
            if job.finished_ms.is_none() && job.file == file {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }
    pub fn import_row(&self, import: u64, line: u64) -> Result<Option<ImportRow>> {
        let t = self.tx.open_table(IMPORTLINE_ROW)?;
        let v = t.get((import, line))?;
        v.map(|v| from_json(v.value(), "import row")).transpose()
    }
    /// The id of the list called `name`, made if there is none (inside this transaction, so
    /// two rows naming a new list make one list).
    pub fn list_named(&mut self, name: &str) -> Result<u64> {
        let found = {
            let t = self.tx.open_table(LISTID_LIST)?;
            let mut found = None;
            for e in t.iter()? {
                let (k, v) = e?;
                let l: crate::model::List = from_json(v.value(), "list")?;
                if l.name == name {
                    found = Some(k.value());
                    break;
                }
            }
            found
        };
        match found {
            Some(id) => Ok(id),
            None => self.create_list(&crate::model::List { name: name.into(), exclusive: false, public: false, created_ms: crate::time::now_ms() }),
        }
    }
    pub fn is_list_member(&self, list: u64, actor: &str) -> Result<bool> {
        Ok(self.tx.open_table(LIST_MEMBER)?.get((list, actor))?.is_some())
    }
}
