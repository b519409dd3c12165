//! Import (issue 12): Mastodon's CSV exports (`pipit import KIND FILE [--overwrite]`) and a
//! Mastodon posts archive (`pipit import-archive FILE [--announce]`).
//!
//! A CSV is checked whole first (header, every row's syntax): a bad file is reported line by
//! line and nothing is applied. A good one is stored as an import (store/imports.rs) that the
//! delivery queue works through in the background (`JobKind::Import`, `run_job`): each row's
//! account or post is looked up and its change made in its own transaction, through the same
//! domain operation the pages use; a row whose server does not answer is retried with
//! backoff; an unknown account fails that row only, with its reason kept for the settings page
//! and `pipit import`. It survives a restart. Merging twice adds nothing twice; overwrite mode
//! removes what the file does not list once every row is settled.
//!
//! An archive is checked whole (a truncated or corrupt one is refused) and its posts go in with
//! one write transaction.

use crate::actions;
use crate::app::App;
use crate::error::{Error, Result};
use crate::export::CsvKind;
use crate::federation::vocab;
use crate::httpurl::HttpUrl;
use crate::model::{Post, RemoteActor};
use crate::store::{IdSpace, ImportJob, ImportRow, RowState};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use crate::progress::Reporter;

/// Rows in a file at most (a Mastodon export of a very busy account stays well under).
pub const MAX_ROWS: usize = 20_000;

/// One data row: its line number in the file and its fields.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub fields: Vec<String>,
}

fn header_of(kind: CsvKind) -> Option<&'static [&'static str]> {
    match kind {
        CsvKind::Following => Some(&["Account address", "Show boosts", "Notify on new posts", "Languages"]),
        CsvKind::MutedAccounts => Some(&["Account address", "Hide notifications"]),
        _ => None,
    }
}

/// Parses and checks a CSV of `kind`. Errors: one line per problem (wrong header, a row that is
/// not an account / domain / URL, too many rows), as one `BadRequest`.
pub fn parse_csv(kind: CsvKind, bytes: &[u8]) -> Result<Vec<Row>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {}: not CSV: {e}", i + 1));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(i as u64 + 1);
        let fields: Vec<String> = rec.iter().map(|f| f.trim().to_string()).collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        let first = fields[0].as_str();
        // Mastodon writes a header on some files only; an old one-column file has none.
        if i == 0 && (first.eq_ignore_ascii_case("Account address") || (header_of(kind).is_some() && !looks_like_account(first))) {
            match header_of(kind) {
                Some(h) if fields.iter().zip(h.iter()).all(|(a, b)| a.eq_ignore_ascii_case(b)) => {}
                Some(h) => errors.push(format!("line 1: wrong header for {}: expected `{}`", kind.file_name(), h.join(","))),
                None => errors.push(format!("line 1: a header `{}`: this is not a {} file", fields.join(","), kind.file_name())),
            }
            continue;
        }
        let bad = match kind {
            CsvKind::Following | CsvKind::BlockedAccounts | CsvKind::MutedAccounts => (!looks_like_account(first)).then(|| format!("`{first}` is not an account address (user@host)")),
            CsvKind::Lists => (fields.len() < 2 || fields[0].is_empty() || !looks_like_account(&fields[1])).then(|| "expected `list name,user@host`".to_string()),
            CsvKind::BlockedDomains => (first.contains('@') || first.contains('/') || !first.contains('.') || first.contains(' ')).then(|| format!("`{first}` is not a domain")),
            CsvKind::Bookmarks => (!first.starts_with("https://") && !first.starts_with("http://")).then(|| format!("`{first}` is not a post URL")),
        };
        match bad {
            Some(msg) => errors.push(format!("line {line}: {msg}")),
            None => rows.push(Row { line, fields }),
        }
        if rows.len() > MAX_ROWS {
            errors.push(format!("more than {MAX_ROWS} rows"));
            break;
        }
    }
    if !errors.is_empty() {
        return Err(Error::BadRequest(format!("nothing was imported:\n{}", errors.join("\n"))));
    }
    Ok(rows)
}

fn looks_like_account(s: &str) -> bool {
    let s = s.trim_start_matches('@');
    if s.starts_with("https://") || s.starts_with("http://") {
        return true;
    }
    matches!(s.split_once('@'), Some((u, h)) if !u.is_empty() && !h.is_empty() && !h.contains('@') && !s.contains(' '))
}

// ---------- CSV rows through the queue ----------

/// Rows tried per step of an import's queue job, and account lookups at once.
const BATCH: usize = 32;
const CONCURRENCY: usize = 8;
/// Tries for a row whose server does not answer, spaced like deliveries (attempt⁴ + 15 units
/// of `delivery_backoff_unit_ms` plus jitter: about 17 minutes over 6 tries by default).
pub const MAX_ATTEMPTS: u32 = 6;
/// Failed lines shown per import (the counters count them all).
const SHOWN_FAILURES: usize = 200;

/// Checks the whole file (header, every row's syntax: bad lines are reported line by line and
/// nothing is queued), then stores it as an import whose rows the delivery queue looks up and
/// applies one by one (`run_job`). Errors: a bad or empty file; an import of the same kind
/// still running (its overwrite would race this one).
pub fn start_import(app: &App, kind: CsvKind, bytes: &[u8], overwrite: bool) -> Result<ImportJob> {
    let rows = parse_csv(kind, bytes)?;
    if rows.is_empty() {
        return Err(Error::BadRequest(format!("{}: no rows; nothing was imported", kind.file_name())));
    }
    let rows: Vec<(u64, Vec<String>)> = rows.into_iter().map(|r| (r.line, r.fields)).collect();
    let id = app.store.write(|w| {
        if let Some(running) = w.running_import(kind.file_name())? {
            return Err(Error::BadRequest(format!(
                "an import of {} is still running ({} of {} lines done); wait for it to finish",
                running.file,
                running.done + running.failed,
                running.total
            )));
        }
        w.create_import(kind.file_name(), overwrite, &rows)
    })?;
    app.store.read(|r| r.import(id))?.ok_or_else(|| Error::Internal("import vanished".into()))
}

/// Why a row did not go in: worth trying again later (a server that did not answer), or never.
enum Fail {
    Retry(String),
    Final(String),
}

fn classify(e: Error) -> Fail {
    match e {
        Error::NotFound | Error::Gone => Fail::Final("no such account or post".into()),
        Error::Remote(404, m) | Error::BadRequest(m) | Error::Forbidden(m) => Fail::Final(m),
        Error::Remote(_, m) => Fail::Retry(m),
        Error::Internal(m) => Fail::Retry(format!("cannot reach its server ({m})")),
        Error::Io(e) => Fail::Retry(format!("cannot reach its server ({e})")),
        e => Fail::Retry(e.public_message()),
    }
}

/// Looks up and applies one row through the same domain operation as the pages, in one
/// transaction. Returns what the row stands for (actor id, domain or post id) and whether it
/// was new. Applying a row twice finds it there and changes nothing, so a crash between this
/// and the row's bookkeeping only repeats a no-op.
async fn apply_row(app: &App, kind: CsvKind, row: &ImportRow) -> std::result::Result<(String, bool), Fail> {
    let me = app.urls.actor();
    let store = |e: Error| Fail::Retry(e.public_message());
    match kind {
        CsvKind::Following | CsvKind::BlockedAccounts | CsvKind::MutedAccounts => {
            let a = actions::account(app, &row.fields[0]).await.map_err(classify)?;
            if a.id == me {
                return Ok((me, false));
            }
            let now = crate::time::now_ms();
            let has = app
                .store
                .read(|r| match kind {
                    CsvKind::Following => r.following(&a.id).map(|f| f.is_some()),
                    CsvKind::BlockedAccounts => r.is_blocked(&a.id),
                    _ => r.is_muted(&a.id, now),
                })
                .map_err(store)?;
            if kind == CsvKind::Following {
                // A follow there already takes the file's options too (Mastodon's merge does).
                crate::domain::follows::follow_with(app, &a, &follow_options(row)).map_err(store)?;
            } else if !has {
                match kind {
                    CsvKind::BlockedAccounts => crate::domain::safety::block(app, &a.id),
                    _ => crate::domain::safety::mute(app, &a.id, None),
                }
                .map_err(store)?;
            }
            Ok((a.id.into_string(), !has))
        }
        CsvKind::Lists => {
            let a = actions::account(app, &row.fields[1]).await.map_err(classify)?;
            let name = list_name(row);
            let had = app
                .store
                .write(|w| {
                    let list = w.list_named(&name)?;
                    let had = w.is_list_member(list, &a.id)?;
                    if !had {
                        w.add_list_member(list, &a.id)?;
                    }
                    Ok(had)
                })
                .map_err(store)?;
            Ok((a.id.into_string(), !had))
        }
        CsvKind::BlockedDomains => {
            let d = row.fields[0].to_ascii_lowercase();
            let had = app.store.read(|r| r.is_domain_blocked(&d)).map_err(store)?;
            if !had {
                crate::domain::safety::block_domain(app, &d).map_err(store)?;
            }
            Ok((d, !had))
        }
        CsvKind::Bookmarks => {
            let p = actions::remote_post(app, &row.fields[0]).await.map_err(classify)?;
            let had = app.store.read(|r| r.is_bookmarked(p.id)).map_err(store)?;
            if !had {
                app.store.write(|w| w.toggle_bookmark(p.id).map(|_| ())).map_err(store)?;
            }
            Ok((p.id.to_string(), !had))
        }
    }
}

/// The options of a `following_accounts.csv` row: "Show boosts" and "Notify on new posts"
/// (`true`/`false`; empty or missing: Mastodon's defaults) and "Languages" (comma-separated;
/// empty: all).
fn follow_options(row: &ImportRow) -> crate::domain::follows::FollowUpdate {
    let field = |i: usize| row.fields.get(i).map(|f| f.trim().to_ascii_lowercase()).filter(|f| !f.is_empty());
    let flag = |i: usize| field(i).map(|f| matches!(f.as_str(), "true" | "1" | "yes"));
    crate::domain::follows::FollowUpdate {
        reblogs: flag(1),
        notify: flag(2),
        languages: Some(field(3).map(|l| l.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()).unwrap_or_default()),
    }
}

fn list_name(row: &ImportRow) -> String {
    row.fields[0].chars().take(100).collect()
}

/// One step of an import's queue job (`JobKind::Import`): tries the rows due now (a bounded
/// number, a few at once), records each outcome with the import's counters, then moves the
/// job to the next due row; when no row is pending it runs overwrite mode's removals and marks
/// the import finished. A row whose server does not answer is tried again with backoff, up to
/// `MAX_ATTEMPTS`; an unknown account fails at once. Errors: store failures (the queue
/// retries the step).
pub async fn run_job(app: &App, job_id: u64, import: u64) -> Result<()> {
    let Some(imp) = app.store.read(|r| r.import(import))? else {
        return app.store.write(|w| w.finish_job(job_id));
    };
    if imp.finished_ms.is_some() {
        return app.store.write(|w| w.finish_job(job_id));
    }
    let kind = CsvKind::parse(&imp.file).ok_or_else(|| Error::Internal(format!("import {import}: unknown file {}", imp.file)))?;
    let now = crate::time::now_ms();
    let rows = app.store.read(|r| r.import_due_rows(import, now, BATCH))?;
    for chunk in rows.chunks(CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for row in chunk.iter().cloned() {
            let app = app.clone();
            set.spawn(async move {
                let outcome = apply_row(&app, kind, &row).await;
                record(&app, import, row, outcome)
            });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| Error::Internal(e.to_string()))??;
        }
    }
    match app.store.read(|r| r.import_next_due(import))? {
        Some(due) => app.store.write(|w| w.reschedule_job(job_id, due.max(now))),
        None => finish(app, kind, import, job_id).await,
    }
}

/// A row's outcome and the import's counters, in one transaction.
fn record(app: &App, import: u64, row: ImportRow, outcome: std::result::Result<(String, bool), Fail>) -> Result<()> {
    app.store.write(|w| {
        let Some(mut imp) = w.import(import)? else { return Ok(()) };
        // Read again inside the transaction: only a still-pending row is counted.
        let Some(mut r) = w.import_row(import, row.line)? else { return Ok(()) };
        if r.state != RowState::Pending {
            return Ok(());
        }
        let old_due = r.due_ms;
        r.attempts += 1;
        match outcome {
            Ok((target, new)) => {
                r.state = RowState::Done;
                r.target = Some(target);
                r.error = None;
                imp.done += 1;
                imp.added += new as u64;
            }
            Err(Fail::Final(why)) => {
                r.state = RowState::Failed;
                r.error = Some(why);
                imp.failed += 1;
            }
            Err(Fail::Retry(why)) if r.attempts >= MAX_ATTEMPTS => {
                r.state = RowState::Failed;
                r.error = Some(format!("{why} (gave up after {} tries)", r.attempts));
                imp.failed += 1;
            }
            Err(Fail::Retry(why)) => {
                r.due_ms = crate::time::now_ms() + crate::federation::deliver::backoff_ms(app, r.attempts);
                r.error = Some(why);
            }
        }
        w.put_import_row(import, old_due, &r)?;
        w.put_import(&imp)
    })
}

/// Every row is done or failed: overwrite mode removes what the file does not list (keeping
/// what a failed row may have meant), then the import is marked finished and its job ends.
/// Running it again after a crash recomputes the same removals.
async fn finish(app: &App, kind: CsvKind, import: u64, job_id: u64) -> Result<()> {
    let imp = app.store.read(|r| r.import(import))?.ok_or(Error::NotFound)?;
    let mut removed = 0;
    if imp.overwrite {
        // Bounded by MAX_ROWS: what the file named (done rows' targets, failed rows' text).
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut lists: BTreeSet<String> = BTreeSet::new();
        let mut after = 0;
        loop {
            let (page, next) = app.store.read(|r| r.import_rows(import, after, 500, 500, &|_| true))?;
            for row in page {
                let (who, list) = match kind {
                    CsvKind::Lists => (row.fields[1].clone(), Some(list_name(&row))),
                    _ => (row.fields[0].clone(), None),
                };
                let key = |t: &str| match &list {
                    Some(l) => format!("{l}\n{t}"),
                    None => t.to_string(),
                };
                match row.state {
                    RowState::Done => {
                        wanted.insert(key(row.target.as_deref().unwrap_or_default()));
                    }
                    _ => {
                        failed.insert(key(&who.trim_start_matches('@').to_ascii_lowercase()));
                    }
                }
                lists.extend(list);
            }
            match next {
                Some(n) => after = n,
                None => break,
            }
        }
        // An account a failed row may have named (same user@host, or the same URL) stays.
        let spared = |list: Option<&str>, id: &str| -> Result<bool> {
            if failed.is_empty() {
                return Ok(false);
            }
            let key = |t: &str| match list {
                Some(l) => format!("{l}\n{t}"),
                None => t.to_string(),
            };
            if failed.contains(&key(&id.to_ascii_lowercase())) {
                return Ok(true);
            }
            let acct = app.store.read(|r| r.actor(id))?.map(|a| format!("{}@{}", a.preferred_username, a.host).to_ascii_lowercase());
            Ok(acct.map(|a| failed.contains(&key(&a))).unwrap_or(false))
        };
        match kind {
            CsvKind::Following | CsvKind::BlockedAccounts | CsvKind::MutedAccounts => {
                let page = |after: Option<&str>| -> Result<Vec<String>> {
                    Ok(match kind {
                        CsvKind::Following => app.store.read(|r| r.following_page(after, 500))?.items.into_iter().map(|(k, _)| k).collect(),
                        CsvKind::BlockedAccounts => app.store.read(|r| r.blocked_actors_page(after, 500))?.into_iter().map(|(k, _)| k).collect(),
                        _ => app.store.read(|r| r.muted_actors_page(after, 500))?.into_iter().map(|(k, _)| k).collect(),
                    })
                };
                each_key(page, |id| {
                    if !wanted.contains(id) && id != app.urls.actor() && !spared(None, id)? {
                        match kind {
                            CsvKind::Following => crate::domain::follows::unfollow(app, id)?,
                            CsvKind::BlockedAccounts => crate::domain::safety::unblock(app, id)?,
                            _ => crate::domain::safety::unmute(app, id)?,
                        }
                        removed += 1;
                    }
                    Ok(())
                })?;
            }
            CsvKind::BlockedDomains => {
                let page = |after: Option<&str>| -> Result<Vec<String>> { Ok(app.store.read(|r| r.blocked_domains_page(after, 500))?.into_iter().map(|(k, _)| k).collect()) };
                each_key(page, |d| {
                    if !wanted.contains(d) {
                        crate::domain::safety::unblock_domain(app, d)?;
                        removed += 1;
                    }
                    Ok(())
                })?;
            }
            CsvKind::Bookmarks => {
                // A failed row's post, if it is stored here, stays bookmarked.
                let mut keep = wanted.clone();
                for url in &failed {
                    if let Some(p) = app.store.read(|r| r.post_by_uri(url))? {
                        keep.insert(p.id.to_string());
                    }
                }
                // A page at a time; the cursor is a bookmark id, so removing what it passed is safe.
                let mut before = None;
                loop {
                    let (page, next) = app.store.read(|r| r.bookmarks(before, 500))?;
                    for id in page.iter().map(|p| p.id).filter(|id| !keep.contains(&id.to_string())) {
                        if app.store.read(|r| r.is_bookmarked(id))? {
                            app.store.write(|w| w.toggle_bookmark(id).map(|_| ()))?;
                            removed += 1;
                        }
                    }
                    match next {
                        Some(n) => before = Some(n),
                        None => break,
                    }
                }
            }
            CsvKind::Lists => {
                let existing = app.store.read(|r| r.lists())?;
                for (id, l) in existing.iter().filter(|(_, l)| lists.contains(&l.name)) {
                    let page = |after: Option<&str>| app.store.read(|r| r.list_members_page(*id, after, 500));
                    each_key(page, |m| {
                        if !wanted.contains(&format!("{}\n{m}", l.name)) && !spared(Some(&l.name), m)? {
                            app.store.write(|w| w.remove_list_member(*id, m))?;
                            removed += 1;
                        }
                        Ok(())
                    })?;
                }
            }
        }
    }
    app.store.write(|w| {
        if let Some(mut imp) = w.import(import)? {
            imp.removed = removed;
            imp.finished_ms = Some(crate::time::now_ms());
            w.put_import(&imp)?;
        }
        w.finish_job(job_id)
    })
}

/// Calls `f` on every key of a string-keyed paged read (`page(after)`, after exclusive), one
/// page in memory at a time. `f` may remove the key it is given: the cursor is the last key
/// seen, not a position.
fn each_key(mut page: impl FnMut(Option<&str>) -> Result<Vec<String>>, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut after: Option<String> = None;
    loop {
        let p = page(after.as_deref())?;
        if p.is_empty() {
            return Ok(());
        }
        for k in &p {
            f(k)?;
        }
        after = p.last().cloned();
    }
}

/// What the settings page and `pipit import` show of one import.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImportView {
    /// The stored import (file, counters); flattened, so the JSON and the templates read
    /// `done`, `total`, … directly.
    #[serde(flatten)]
    pub job: crate::store::ImportJob,
    /// Derived from `job` (rows neither done nor failed), for the page and the CLI.
    pub pending: u64,
    pub finished: bool,
    /// `line N: TEXT: reason` for each failed row (the first `SHOWN_FAILURES`).
    pub failures: Vec<String>,
    /// Pending rows that failed a try and wait for the next: `line N: TEXT: last error`.
    pub retrying: Vec<String>,
}

impl ImportView {
    /// One line: where it stands, or how it ended.
    pub fn summary(&self) -> String {
        let j = &self.job;
        let removed = if j.overwrite { format!(", {} removed", j.removed) } else { String::new() };
        if self.finished {
            format!("{}: {} of {} lines applied ({} new{removed}), {} failed", j.file, j.done, j.total, j.added, j.failed)
        } else {
            format!("{}: {} done, {} failed, {} pending of {} lines", j.file, j.done, j.failed, self.pending, j.total)
        }
    }
    /// The summary and every failed line shown.
    pub fn report(&self) -> String {
        let mut out = self.summary();
        if !self.failures.is_empty() {
            out.push_str(":\n");
            out.push_str(&self.failures.join("\n"));
            if self.job.failed as usize > self.failures.len() {
                out.push_str(&format!("\n… and {} more", self.job.failed as usize - self.failures.len()));
            }
        }
        out
    }
}

fn row_text(r: &ImportRow) -> String {
    format!("line {}: {}: {}", r.line, r.fields.join(","), r.error.as_deref().unwrap_or(""))
}

/// The view of import `id` (None: no such import).
pub fn import_view(app: &App, id: u64) -> Result<Option<ImportView>> {
    app.store.read(|r| {
        let Some(imp) = r.import(id)? else { return Ok(None) };
        let mut failures = Vec::new();
        let mut after = 0;
        while (failures.len() as u64) < imp.failed.min(SHOWN_FAILURES as u64) {
            let (page, next) = r.import_rows(id, after, SHOWN_FAILURES - failures.len(), 1000, &|row| row.state == RowState::Failed)?;
            failures.extend(page.iter().map(row_text));
            match next {
                Some(n) => after = n,
                None => break,
            }
        }
        // Rows never tried come first in due order; look past a few hundred of them.
        let retrying = r.import_due_rows(id, u64::MAX - 1, 500)?.iter().filter(|row| row.attempts > 0).take(50).map(row_text).collect();
        Ok(Some(ImportView { pending: imp.pending(), finished: imp.finished_ms.is_some(), job: imp, failures, retrying }))
    })
}

/// The last few imports, newest first, for the settings page.
pub fn recent_imports(app: &App) -> Result<Vec<ImportView>> {
    let ids = app.store.read(|r| r.recent_imports(5))?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(import_view(app, id)?);
    }
    Ok(out)
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    crate::progress::bar(total, "", "{msg:20} [{bar:30}] {pos}/{len} lines {eta}")
}

/// `pipit import KIND FILE [--overwrite]`: hands the file to the running server (or, with none
/// running, opens the data folder and works through the rows itself), then shows a bar until
/// every row is done or failed. A spinner runs while the server checks the file. Returns the
/// report; an Err carries it when some line failed (the others were applied).
pub async fn cli_import(data: &Path, kind: &str, file: &Path, overwrite: bool) -> Result<String> {
    use crate::control::{self, Command};
    let cmd = Command::Import { kind: kind.to_string(), file: file.to_string_lossy().into_owned(), overwrite };
    let sp = crate::backup::spinner("checking the file");
    let (local, started) = match control::send(data, &cmd).await {
        Ok(Some(reply)) if reply.ok => (None, reply.message),
        Ok(Some(reply)) => {
            sp.finish_and_clear();
            return Err(Error::BadRequest(reply.message));
        }
        Ok(None) => {
            let app = App::open(data)?;
            let out = control::execute(&app, cmd).await;
            match out {
                Ok(m) => (Some(app), m),
                Err(e) => {
                    sp.finish_and_clear();
                    return Err(e);
                }
            }
        }
        Err(e) => {
            sp.finish_and_clear();
            return Err(e);
        }
    };
    sp.finish_and_clear();
    let started: ImportView = serde_json::from_str(&started).map_err(|e| Error::Internal(format!("import reply: {e}")))?;
    let id = started.job.id;
    let pb = progress_bar(started.job.total);
    pb.set_message("looking up accounts");
    // Off a terminal the bar is hidden: plain lines, so that a log shows the retries.
    let lines = crate::progress::Lines::new("pipit import");
    let view = loop {
        let view = match &local {
            None => match control::send(data, &Command::ImportStatus { import: id }).await? {
                Some(r) if r.ok => serde_json::from_str::<ImportView>(&r.message).map_err(|e| Error::Internal(format!("import status: {e}")))?,
                Some(r) => return Err(Error::BadRequest(r.message)),
                None => {
                    pb.finish_and_clear();
                    return Err(Error::BadRequest(format!("the server stopped; the import goes on when it runs again (see Settings). {}", started.job.file)));
                }
            },
            Some(app) => {
                let job = app.store.read(|r| r.import(id))?.map(|i| i.queue_job).unwrap_or(0);
                run_job(app, job, id).await?;
                import_view(app, id)?.ok_or(Error::NotFound)?
            }
        };
        pb.set_position(view.job.done + view.job.failed);
        if !view.retrying.is_empty() {
            pb.set_message(format!("{} retrying", view.retrying.len()));
        }
        match view.retrying.first() {
            _ if view.finished => {}
            None => lines.show("looking up accounts", &view.summary()),
            Some(first) => {
                let more = if view.retrying.len() > 1 { format!(" (and {} more)", view.retrying.len() - 1) } else { String::new() };
                lines.show("retrying", &format!("{}; waiting to try again: {first}{more}", view.summary()));
            }
        }
        if view.finished {
            break view;
        }
        let wait = match &local {
            Some(app) => app.store.read(|r| r.import_next_due(id))?.map(|d| d.saturating_sub(crate::time::now_ms())).unwrap_or(0).min(1000),
            None => 200,
        };
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    };
    pb.finish_and_clear();
    if view.job.failed > 0 {
        Err(Error::BadRequest(view.report()))
    } else {
        Ok(view.report())
    }
}


/// `pipit import-archive FILE`: the posts of a Mastodon archive (`outbox.json` Create(Note)
/// activities and their `media_attachments/…` files) become the owner's posts with their
/// original dates, sent to nobody unless `announce`. Checks the whole archive first (a
/// truncated or corrupt one is refused); boosts and media pipit cannot keep are skipped and
/// counted. Posts imported before (by the archive's original object id, store/archive.rs) are
/// skipped and counted as "already imported", and so are this account's own posts (its own
/// export imported back): importing the same archive twice adds nothing.
/// Works from files in a temporary folder under DATA, never holding the posts or a media file
/// in memory; the posts go in with one write transaction (nothing half-applied) and media saved
/// for an import that fails are removed.
pub fn import_archive(app: &App, file: &Path, announce: bool) -> Result<String> {
    import_archive_with(app, file, announce, &Reporter::none())
}

/// [`import_archive`], reporting its phases to `progress`: `reading the archive` (bytes of the
/// file read, out of its size), `items checked` (outbox.json items, a count), `posts stored`
/// (out of the posts to store).
pub fn import_archive_with(app: &App, file: &Path, announce: bool, progress: &Reporter) -> Result<String> {
    // Under DATA/tmp, which every start empties and backups leave out: a crash mid-import
    // leaves nothing behind for good.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = crate::server::upload::tmp_dir(&app.data).join(format!("import-archive-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    // What an earlier import that crashed (in this long-running process's store) left.
    crate::domain::media::sweep_pending(&app.store, &app.media_dir())?;
    let out = import_archive_via(app, file, announce, &tmp, progress);
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

/// One built post between the passes of an archive import: one JSON line of the spool file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Spooled {
    /// The archive's id of the object (the key of store/archive.rs).
    origin: String,
    /// Ready to store but for its id, URI and URL; its attachments are saved under DATA/media.
    post: Post,
}

/// The file an archive's `media_attachments/…` entry is extracted to in the temporary folder:
/// named by the SHA-256 of its path (archive names are never used as paths here, and no map
/// from names to files is kept in memory).
fn extracted(tmp: &Path, archive_path: &str) -> std::path::PathBuf {
    let d = ring::digest::digest(&ring::digest::SHA256, archive_path.trim_start_matches("./").trim_start_matches('/').as_bytes());
    tmp.join(d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Counts the bytes read through it, for the `reading the archive` phase.
struct Counted<'a, R> {
    inner: R,
    read: u64,
    size: u64,
    progress: &'a Reporter,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.progress.report(READING, self.read, Some(self.size));
        Ok(n)
    }
}

const READING: &str = "reading the archive";
const CHECKED: &str = "items checked";
const STORED: &str = "posts stored";

fn import_archive_via(app: &App, file: &Path, announce: bool, tmp: &Path, progress: &Reporter) -> Result<String> {
    use std::io::{BufRead, Read, Seek, SeekFrom, Write};
    let corrupt = |e: &dyn std::fmt::Display| Error::BadRequest(format!("{} is truncated or corrupt: {e}; nothing was imported", file.display()));
    let f = std::fs::File::open(file).map_err(|e| Error::BadRequest(format!("{}: {e}", file.display())))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let counted = Counted { inner: f, read: 0, size, progress };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(counted)));
    // Pass 1: outbox.json to a spool file, media files to the temporary folder.
    let mut outbox: Option<std::fs::File> = None;
    let max_media = app.config.max_upload_kib.max(app.config.max_media_kib) as u64 * 1024;
    for e in archive.entries().map_err(|e| corrupt(&e))? {
        let mut e = e.map_err(|e| corrupt(&e))?;
        let path = e.path().map_err(|e| corrupt(&e))?.to_string_lossy().trim_start_matches("./").to_string();
        if path == "outbox.json" {
            let mut spool = crate::export::spool(&app.data)?;
            std::io::copy(&mut e, &mut spool).map_err(|e| corrupt(&e))?;
            std::io::Seek::rewind(&mut spool)?;
            outbox = Some(spool);
        } else if path.starts_with("media_attachments/") && e.size() <= max_media {
            let mut out = std::fs::File::create(extracted(tmp, &path))?;
            std::io::copy(&mut e, &mut out).map_err(|e| corrupt(&e))?;
        }
    }
    // gzip's CRC is only checked at the very end of the stream.
    let mut gz = archive.into_inner();
    std::io::copy(&mut gz, &mut std::io::sink()).map_err(|e| corrupt(&e))?;
    progress.finish(READING, gz.get_ref().get_ref().read);
    let outbox = outbox.ok_or_else(|| Error::BadRequest(format!("{}: no outbox.json: not a Mastodon archive; nothing was imported", file.display())))?;
    // Pass 2: outbox.json, read one item at a time (a big archive's outbox would not fit a Pi's
    // memory as a tree): each new post is built (its media saved through the upload pipeline,
    // from their files) and spooled as one JSON line; a second file keeps each line's offset
    // (8 bytes, little-endian) so that pass 3 can read them back oldest first.
    let me = app.urls.actor();
    // Every media file is journaled before it appears and cleared when its post is stored;
    // when this ends (dropped) the files still pending are removed, and if the process dies
    // the next start removes them (domain::media::PendingMedia).
    let pending = crate::domain::media::PendingMedia::begin(app);
    let spool_path = tmp.join("posts.jsonl");
    let offsets_path = tmp.join("posts.offsets");
    let mut spool = std::io::BufWriter::new(std::fs::File::create(&spool_path)?);
    let mut offsets = std::io::BufWriter::new(std::fs::File::create(&offsets_path)?);
    let (mut spooled, mut at) = (0u64, 0u64);
    let (mut skipped, mut skipped_media, mut already) = (0u64, 0u64, 0u64);
    let mut i = 0usize;
    // Bad items are all listed (the first SHOWN_FAILURES), like a CSV's bad lines; after the
    // first one the rest are only checked, nothing more is saved.
    let (mut bad, mut bad_count) = (Vec::<String>::new(), 0usize);
    let mut refuse = |bad: &mut Vec<String>, why: String| {
        bad_count += 1;
        if bad.len() < SHOWN_FAILURES {
            bad.push(why);
        }
    };
    let build = for_each_item(std::io::BufReader::new(outbox), &mut |item: Value| -> Result<()> {
        i += 1;
        progress.report(CHECKED, i as u64, None);
        let obj = item.get("object").filter(|o| o.is_object());
        let Some(obj) = obj.filter(|_| vocab::has_type(&item, "Create")).filter(|o| vocab::is_post_object(o)) else {
            skipped += 1; // Announce (boosts), or a bare id
            return Ok(());
        };
        let author_id = obj.get("attributedTo").and_then(vocab::id_of).or_else(|| item.get("actor").and_then(vocab::id_of)).unwrap_or_default();
        if vocab::str_of(obj, "published").and_then(crate::time::parse_rfc3339).is_none() {
            refuse(&mut bad, format!("outbox.json item {i}: no `published` date"));
            return Ok(());
        }
        let Some(origin) = vocab::str_of(obj, "id").filter(|s| !s.is_empty()).map(str::to_string) else {
            refuse(&mut bad, format!("outbox.json item {i}: the post has no `id`"));
            return Ok(());
        };
        // Imported before, or one of this account's own posts (its own export imported back).
        let there = app.store.read(|r| {
            if r.archived_post(&origin)?.is_some() {
                return Ok(true);
            }
            Ok(match r.post_id_by_uri(&origin)? {
                Some(id) => r.post(id)?.is_some_and(|p| p.local),
                None => false,
            })
        })?;
        if there {
            already += 1;
            return Ok(());
        }
        // The archive's author as an actor record, only to read its posts (never stored).
        let old: Option<RemoteActor> = vocab::parse_actor(&serde_json::json!({"id": author_id, "type": "Person", "inbox": format!("{author_id}/inbox"), "followers": format!("{author_id}/followers")}), 0);
        let Some(old) = old else {
            refuse(&mut bad, format!("outbox.json item {i}: its author {author_id:?} is not an http(s) actor id"));
            return Ok(());
        };
        let Some(mut p) = vocab::parse_post(obj, &old) else {
            refuse(&mut bad, format!("outbox.json item {i}: not a post"));
            return Ok(());
        };
        if !bad.is_empty() {
            return Ok(());
        }
        // The archive names its files by paths (`/media_attachments/files/…`), which the
        // federation parser drops as non-http URLs: read them from the object itself.
        let mut attachments = Vec::new();
        for a in vocab::one_or_many(obj.get("attachment")) {
            let url = match a {
                Value::String(s) => Some(s.as_str()),
                o => vocab::one_or_many(o.get("url")).into_iter().find_map(vocab::id_of).or_else(|| vocab::str_of(o, "href")),
            };
            let Some(path) = url.filter(|u| u.trim_start_matches('/').starts_with("media_attachments/")).map(|u| extracted(tmp, u)).filter(|p| p.is_file()) else {
                skipped_media += 1;
                continue;
            };
            let (_, focus) = crate::media::remote_extras(a);
            let alt = vocab::str_of(a, "name").or_else(|| vocab::str_of(a, "summary")).unwrap_or_default();
            let upload = crate::domain::posts::Upload {
                source: crate::domain::media::Source::File(path),
                alt: alt.trim().chars().take(crate::domain::posts::MAX_ALT).collect(),
                focus,
            };
            // The compose pipeline, from the extracted file: an image is cleaned and gets its
            // preview and blurhash; a video or audio file is kept as it is; anything else is
            // skipped and counted.
            match crate::domain::posts::save_uploads_with(app, std::slice::from_ref(&upload), Some(&pending)) {
                Ok(saved) => attachments.extend(saved),
                Err(_) => skipped_media += 1,
            }
        }
        // Ids, URIs and URLs are allocated when the posts are stored, below.
        p.published_ms = p.published_ms.min(crate::time::now_ms());
        p.author = me.clone();
        p.local = true;
        p.source = crate::render::views::strip_tags(&p.content).trim().to_string();
        p.attachments = attachments;
        p.poll = None;
        let line = Spooled { origin, post: p };
        let written = (|| -> Result<u64> {
            let bytes = serde_json::to_vec(&line).map_err(|e| Error::Internal(format!("spooling a post: {e}")))?;
            offsets.write_all(&at.to_le_bytes())?;
            spool.write_all(&bytes)?;
            spool.write_all(b"\n")?;
            Ok(bytes.len() as u64 + 1)
        })();
        match written {
            Ok(len) => {
                at += len;
                spooled += 1;
                Ok(())
            }
            Err(e) => {
                // Not in the spool, so the clean-up below would not see its files.
                crate::domain::posts::remove_attachment_files(app, &line.post.attachments);
                Err(e)
            }
        }
    })
    .and_then(|found| if found { Ok(()) } else { Err(Error::BadRequest("outbox.json has no orderedItems; nothing was imported".into())) });
    progress.finish(CHECKED, i as u64);
    let build = build.and_then(|()| {
        if bad.is_empty() {
            return Ok(());
        }
        let more = if bad_count > bad.len() { format!("\n… and {} more", bad_count - bad.len()) } else { String::new() };
        Err(Error::BadRequest(format!("{}: nothing was imported:\n{}{more}", file.display(), bad.join("\n"))))
    });
    let flushed = build.and_then(|()| {
        spool.flush()?;
        offsets.flush()?;
        Ok(())
    });
    drop((spool, offsets));
    // Pass 3: every spooled post in one write transaction, read back one line at a time.
    let stored = flushed.and_then(|()| {
        let mut spool = std::io::BufReader::new(std::fs::File::open(&spool_path)?);
        let mut offsets = std::fs::File::open(&offsets_path)?;
        let mut line = String::new();
        app.store.write(|w| {
            let (mut added, mut twice) = (0u64, Vec::new());
            // Items came newest first; storing oldest first lets ids allocated within one
            // millisecond (archives keep whole seconds) keep the posts' order.
            for (n, k) in (0..spooled).rev().enumerate() {
                progress.report(STORED, n as u64, Some(spooled));
                let mut off = [0u8; 8];
                offsets.seek(SeekFrom::Start(k * 8))?;
                offsets.read_exact(&mut off)?;
                spool.seek(SeekFrom::Start(u64::from_le_bytes(off)))?;
                line.clear();
                spool.read_line(&mut line)?;
                let Spooled { origin, post: mut p } = serde_json::from_str(&line).map_err(|e| Error::Internal(format!("the import's spool file: {e}")))?;
                if w.archived_post(&origin)?.is_some() {
                    // The same post twice in one archive, or imported meanwhile by another run.
                    twice.push(p.attachments);
                    continue;
                }
                let id = w.new_id(IdSpace::Posts, p.published_ms)?;
                p.id = id;
                p.uri = app.urls.post_id_url(id);
                p.url = HttpUrl::parse(&app.urls.post_url(id));
                w.insert_post(&p)?;
                w.note_archived(&origin, id)?;
                pending.stored(w, &p.attachments)?;
                added += 1;
                if announce {
                    let audience = crate::domain::outbox::post_audience(w, app, &p)?;
                    let create = vocab::create_json(&app.urls, &p, "Create", &format!("{}/activity", p.uri));
                    crate::domain::outbox::send(w, app, create, audience)?;
                }
            }
            progress.finish(STORED, spooled);
            Ok((added, twice))
        })
    });
    let (added, twice) = match stored {
        Ok(out) => out,
        Err(e) => {
            // Nothing was stored: remove every file saved for the spooled posts.
            if let Ok(f) = std::fs::File::open(&spool_path) {
                for l in std::io::BufReader::new(f).lines().map_while(std::result::Result::ok) {
                    if let Ok(s) = serde_json::from_str::<Spooled>(&l) {
                        crate::domain::posts::remove_attachment_files(app, &s.post.attachments);
                    }
                }
            }
            return Err(e);
        }
    };
    already += twice.len() as u64;
    for a in twice {
        crate::domain::posts::remove_attachment_files(app, &a);
    }
    Ok(format!(
        "imported {added} posts{}, {already} already imported ({skipped} boosts or other items skipped, {skipped_media} media files skipped)",
        if announce { " and announced them to your followers" } else { " (not announced)" }
    ))
}

/// Calls `f` on each element of the top-level object's `orderedItems` array, reading `r` as a
/// stream (serde visitors: only one item is ever held). Returns whether the array was there.
fn for_each_item<R: std::io::Read>(r: R, f: &mut dyn FnMut(Value) -> Result<()>) -> Result<bool> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Doc<'a>(&'a mut dyn FnMut(Value) -> Result<()>, &'a mut Option<Error>);
    struct Items<'a>(&'a mut dyn FnMut(Value) -> Result<()>, &'a mut Option<Error>);
    impl<'de> DeserializeSeed<'de> for Doc<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Doc<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an OrderedCollection")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<bool, A::Error> {
            let mut found = false;
            while let Some(key) = map.next_key::<String>()? {
                if key == "orderedItems" && !found {
                    map.next_value_seed(Items(&mut *self.0, &mut *self.1))?;
                    found = true;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    impl<'de> DeserializeSeed<'de> for Items<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Items<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of activities")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            while let Some(v) = seq.next_element::<Value>()? {
                if let Err(e) = (self.0)(v) {
                    *self.1 = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_reader(r);
    let out = Doc(f, &mut failed).deserialize(&mut de);
    if let Some(e) = failed {
        return Err(e);
    }
    let found = out.map_err(|e| Error::BadRequest(format!("outbox.json: {e}; nothing was imported")))?;
    de.end().map_err(|e| Error::BadRequest(format!("outbox.json: {e}; nothing was imported")))?;
    Ok(found)
}
