//! Import (issue 12): Mastodon's CSV exports (`pipit import KIND FILE [--overwrite]`) and a
//! Mastodon posts archive (`pipit import-archive FILE [--announce]`).
//!
//! Both check everything before changing anything: a CSV with the wrong header or malformed
//! rows, accounts that do not resolve (unknown handles, dead servers) or posts that cannot be
//! fetched are reported line by line and NOTHING is applied. Then the changes go in, each
//! through the same domain operation the pages use (so follows and blocks are delivered through
//! the queue as usual). An archive's posts go in with one write transaction.

use crate::actions;
use crate::app::App;
use crate::error::{Error, Result};
use crate::export::CsvKind;
use crate::federation::vocab;
use crate::httpurl::HttpUrl;
use crate::model::{Post, RemoteActor};
use crate::store::IdSpace;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Rows in a file at most (a Mastodon export of a very busy account stays well under).
pub const MAX_ROWS: usize = 20_000;
/// Account lookups at once.
const CONCURRENCY: usize = 8;

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

/// Called with (accounts looked up, of how many) as an import goes.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Send + Sync);

/// Resolves every account (a bounded number at once). Errors: the lines that failed.
async fn resolve_all(app: &App, items: Vec<(u64, String)>, progress: Progress<'_>) -> Result<Vec<(u64, RemoteActor)>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let total = items.len();
    for (n, chunk) in items.chunks(CONCURRENCY).enumerate() {
        progress((n * CONCURRENCY).min(total), total);
        let mut set = tokio::task::JoinSet::new();
        for (line, who) in chunk.iter().cloned() {
            let app = app.clone();
            set.spawn(async move { (line, who.clone(), actions::account(&app, &who).await) });
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok((line, _, Ok(a))) => out.push((line, a)),
                Ok((line, who, Err(e))) => errors.push((line, format!("line {line}: {who}: {}", describe(&e)))),
                Err(e) => errors.push((0, format!("lookup failed: {e}"))),
            }
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(Error::BadRequest(format!("nothing was imported:\n{}", errors.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("\n"))));
    }
    out.sort_by_key(|(l, _)| *l);
    Ok(out)
}

fn describe(e: &Error) -> String {
    match e {
        Error::NotFound => "no such account".into(),
        Error::BadRequest(m) | Error::Forbidden(m) => m.clone(),
        Error::Io(e) => format!("cannot reach its server ({e})"),
        other => format!("cannot reach its server ({other})"),
    }
}

/// Imports one CSV: merges, or with `overwrite` also removes what the file does not list.
/// Returns a summary line.
pub async fn import_csv(app: &App, kind: CsvKind, bytes: &[u8], overwrite: bool, progress: Progress<'_>) -> Result<String> {
    let rows = parse_csv(kind, bytes)?;
    let me = app.urls.actor();
    match kind {
        CsvKind::Following | CsvKind::BlockedAccounts | CsvKind::MutedAccounts => {
            let actors = resolve_all(app, rows.iter().map(|r| (r.line, r.fields[0].clone())).collect(), progress).await?;
            let wanted: BTreeSet<String> = actors.iter().map(|(_, a)| a.id.to_string()).filter(|id| *id != me).collect();
            let mut added = 0;
            for (_, a) in actors.iter().filter(|(_, a)| a.id != me) {
                let has = app.store.read(|r| match kind {
                    CsvKind::Following => r.following(&a.id).map(|f| f.is_some()),
                    CsvKind::BlockedAccounts => r.is_blocked(&a.id),
                    _ => r.is_muted(&a.id, crate::time::now_ms()),
                })?;
                if has {
                    continue;
                }
                match kind {
                    CsvKind::Following => crate::domain::follows::follow(app, a).map(|_| ())?,
                    CsvKind::BlockedAccounts => crate::domain::safety::block(app, &a.id)?,
                    _ => crate::domain::safety::mute(app, &a.id, None)?,
                }
                added += 1;
            }
            let mut removed = 0;
            if overwrite {
                for id in current_accounts(app, kind)? {
                    if !wanted.contains(&id) {
                        match kind {
                            CsvKind::Following => crate::domain::follows::unfollow(app, &id)?,
                            CsvKind::BlockedAccounts => crate::domain::safety::unblock(app, &id)?,
                            _ => crate::domain::safety::unmute(app, &id)?,
                        }
                        removed += 1;
                    }
                }
            }
            Ok(format!("{}: {} accounts, {added} added, {removed} removed", kind.file_name(), wanted.len()))
        }
        CsvKind::BlockedDomains => {
            let wanted: BTreeSet<String> = rows.iter().map(|r| r.fields[0].to_ascii_lowercase()).collect();
            let mut added = 0;
            for d in &wanted {
                if !app.store.read(|r| r.is_domain_blocked(d))? {
                    crate::domain::safety::block_domain(app, d)?;
                    added += 1;
                }
            }
            let mut removed = 0;
            if overwrite {
                for d in paged_keys(|after| app.store.read(|r| r.blocked_domains_page(after, 500)))? {
                    if !wanted.contains(&d) {
                        crate::domain::safety::unblock_domain(app, &d)?;
                        removed += 1;
                    }
                }
            }
            Ok(format!("blocked_domains.csv: {} domains, {added} added, {removed} removed", wanted.len()))
        }
        CsvKind::Bookmarks => {
            let mut posts = Vec::new();
            let mut errors = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                progress(i, rows.len());
                match actions::remote_post(app, &r.fields[0]).await {
                    Ok(p) => posts.push(p),
                    Err(e) => errors.push(format!("line {}: {}: {}", r.line, r.fields[0], describe(&e))),
                }
            }
            if !errors.is_empty() {
                return Err(Error::BadRequest(format!("nothing was imported:\n{}", errors.join("\n"))));
            }
            let wanted: BTreeSet<u64> = posts.iter().map(|p| p.id).collect();
            let (mut added, mut removed) = (0, 0);
            for id in &wanted {
                if !app.store.read(|r| r.is_bookmarked(*id))? {
                    app.store.write(|w| w.toggle_bookmark(*id))?;
                    added += 1;
                }
            }
            if overwrite {
                let mut before = None;
                let mut drop_ids = Vec::new();
                loop {
                    let (page, next) = app.store.read(|r| r.bookmarks(before, 500))?;
                    drop_ids.extend(page.iter().map(|p| p.id).filter(|id| !wanted.contains(id)));
                    match next {
                        Some(n) => before = Some(n),
                        None => break,
                    }
                }
                for id in drop_ids {
                    app.store.write(|w| w.toggle_bookmark(id))?;
                    removed += 1;
                }
            }
            Ok(format!("bookmarks.csv: {} posts, {added} added, {removed} removed", wanted.len()))
        }
        CsvKind::Lists => {
            let actors = resolve_all(app, rows.iter().map(|r| (r.line, r.fields[1].clone())).collect(), progress).await?;
            let by_line: BTreeMap<u64, String> = actors.into_iter().map(|(l, a)| (l, a.id.into_string())).collect();
            let mut lists: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for r in &rows {
                if let Some(id) = by_line.get(&r.line) {
                    lists.entry(r.fields[0].chars().take(100).collect()).or_default().insert(id.clone());
                }
            }
            let existing = app.store.read(|r| r.lists())?;
            let mut added = 0;
            for (name, members) in &lists {
                let id = match existing.iter().find(|(_, l)| &l.name == name) {
                    Some((id, _)) => *id,
                    None => {
                        let list = crate::model::List { name: name.clone(), exclusive: false, public: false, created_ms: crate::time::now_ms() };
                        app.store.write(|w| w.create_list(&list))?
                    }
                };
                let current: BTreeSet<String> = paged_keys(|after| Ok(app.store.read(|r| r.list_members_page(id, after, 500))?.into_iter().map(|m| (m, 0)).collect()))?.into_iter().collect();
                app.store.write(|w| {
                    for m in members.difference(&current) {
                        w.add_list_member(id, m)?;
                    }
                    if overwrite {
                        for m in current.difference(members) {
                            w.remove_list_member(id, m)?;
                        }
                    }
                    Ok(())
                })?;
                added += members.difference(&current).count();
            }
            Ok(format!("lists.csv: {} lists, {added} members added", lists.len()))
        }
    }
}

/// Every key of a string-keyed paged read.
fn paged_keys(mut page: impl FnMut(Option<&str>) -> Result<Vec<(String, u64)>>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    loop {
        let p = page(out.last().map(String::as_str))?;
        if p.is_empty() {
            return Ok(out);
        }
        out.extend(p.into_iter().map(|(k, _)| k));
    }
}

fn current_accounts(app: &App, kind: CsvKind) -> Result<Vec<String>> {
    match kind {
        CsvKind::Following => {
            let mut out: Vec<String> = Vec::new();
            loop {
                let p = app.store.read(|r| r.following_page(out.last().map(String::as_str), 500))?;
                if p.items.is_empty() {
                    return Ok(out);
                }
                out.extend(p.items.into_iter().map(|(k, _)| k));
            }
        }
        CsvKind::BlockedAccounts => paged_keys(|after| app.store.read(|r| r.blocked_actors_page(after, 500))),
        _ => paged_keys(|after| app.store.read(|r| r.muted_actors_page(after, 500))),
    }
}

/// `pipit import-archive FILE`: the posts of a Mastodon archive (`outbox.json` Create(Note)
/// activities and their `media_attachments/…` images) become the owner's posts with their
/// original dates, sent to nobody unless `announce`. Checks the whole archive first (a
/// truncated or corrupt one is refused); boosts and non-image media are skipped and counted.
pub fn import_archive(app: &App, file: &Path, announce: bool) -> Result<String> {
    let tmp = app.data.join(format!("import-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp)?;
    let out = import_archive_via(app, file, announce, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

fn import_archive_via(app: &App, file: &Path, announce: bool, tmp: &Path) -> Result<String> {
    let corrupt = |e: &dyn std::fmt::Display| Error::BadRequest(format!("{} is truncated or corrupt: {e}; nothing was imported", file.display()));
    let f = std::fs::File::open(file).map_err(|e| Error::BadRequest(format!("{}: {e}", file.display())))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
    // One pass: outbox.json to a spool file, images into memory-bounded spool files by path.
    let mut outbox: Option<std::fs::File> = None;
    let mut media: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    let max_media = app.config.max_upload_kib as u64 * 1024;
    for e in archive.entries().map_err(|e| corrupt(&e))? {
        let mut e = e.map_err(|e| corrupt(&e))?;
        let path = e.path().map_err(|e| corrupt(&e))?.to_string_lossy().trim_start_matches("./").to_string();
        if path == "outbox.json" {
            let mut spool = crate::export::spool(&app.data)?;
            std::io::copy(&mut e, &mut spool).map_err(|e| corrupt(&e))?;
            std::io::Seek::rewind(&mut spool)?;
            outbox = Some(spool);
        } else if path.starts_with("media_attachments/") && e.size() <= max_media {
            // Numbered files in the temporary folder: names from the archive are never paths here.
            let dest = tmp.join(format!("m{}", media.len()));
            let mut out = std::fs::File::create(&dest)?;
            std::io::copy(&mut e, &mut out).map_err(|e| corrupt(&e))?;
            media.insert(path, dest);
        }
    }
    // gzip's CRC is only checked at the very end of the stream.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(|e| corrupt(&e))?;
    let outbox = outbox.ok_or_else(|| Error::BadRequest(format!("{}: no outbox.json: not a Mastodon archive; nothing was imported", file.display())))?;
    // Build every post first (saving images); store them all in one transaction. outbox.json is
    // read one item at a time (a big archive's outbox would not fit a Pi's memory as a tree).
    let me = app.urls.actor();
    let mut posts: Vec<Post> = Vec::new();
    let mut saved_files: Vec<String> = Vec::new();
    let (mut skipped, mut skipped_media) = (0, 0);
    let mut i = 0usize;
    let build = for_each_item(std::io::BufReader::new(outbox), &mut |item: Value| -> Result<()> {
        i += 1;
        {
            let obj = item.get("object").filter(|o| o.is_object());
            let Some(obj) = obj.filter(|_| vocab::has_type(&item, "Create")).filter(|o| vocab::is_post_object(o)) else {
                skipped += 1; // Announce (boosts), or a bare id
                return Ok(());
            };
            let author_id = obj.get("attributedTo").and_then(vocab::id_of).or_else(|| item.get("actor").and_then(vocab::id_of)).unwrap_or_default();
            if vocab::str_of(obj, "published").and_then(crate::time::parse_rfc3339).is_none() {
                return Err(Error::BadRequest(format!("outbox.json item {i}: no `published` date; nothing was imported")));
            }
            // The archive's author as an actor record, only to read its posts (never stored).
            let old: RemoteActor = vocab::parse_actor(&serde_json::json!({"id": author_id, "type": "Person", "inbox": format!("{author_id}/inbox"), "followers": format!("{author_id}/followers")}), 0)
                .ok_or_else(|| Error::BadRequest(format!("outbox.json item {i}: its author {author_id:?} is not an http(s) actor id; nothing was imported")))?;
            let mut p = vocab::parse_post(obj, &old).ok_or_else(|| Error::BadRequest(format!("outbox.json item {i}: not a post; nothing was imported")))?;
            // The archive names its files by paths (`/media_attachments/files/…`), which the
            // federation parser drops as non-http URLs: read them from the object itself.
            let mut attachments = Vec::new();
            for a in vocab::one_or_many(obj.get("attachment")) {
                let url = match a {
                    Value::String(s) => Some(s.as_str()),
                    o => vocab::one_or_many(o.get("url")).into_iter().find_map(vocab::id_of).or_else(|| vocab::str_of(o, "href")),
                };
                let Some(path) = url.and_then(|u| media.get(u.trim_start_matches('/'))) else {
                    skipped_media += 1;
                    continue;
                };
                let bytes = std::fs::read(path)?;
                match crate::domain::media::save_image(app, &bytes) {
                    Ok(s) => {
                        saved_files.push(s.file.clone());
                        saved_files.extend(s.preview.clone());
                        let (_, focal_point) = crate::media::remote_extras(a);
                        attachments.push(crate::model::Attachment {
                            url: HttpUrl::parse(&app.urls.media(&s.file)).ok_or_else(|| Error::Internal("media URL is not http(s)".into()))?,
                            media_type: s.media_type.into(),
                            alt: vocab::str_of(a, "name").or_else(|| vocab::str_of(a, "summary")).unwrap_or_default().chars().take(1500).collect(),
                            width: s.width,
                            height: s.height,
                            blurhash: s.blurhash,
                            preview_url: s.preview.as_deref().map(|f| app.urls.media(f)),
                            focal_point,
                        });
                    }
                    Err(_) => skipped_media += 1, // video, audio: pipit keeps images only
                }
            }
            // Ids, URIs and URLs are allocated when the posts are stored, below.
            p.published_ms = p.published_ms.min(crate::time::now_ms());
            p.author = me.clone();
            p.local = true;
            p.source = crate::render::views::strip_tags(&p.content).trim().to_string();
            p.attachments = attachments;
            p.poll = None;
            posts.push(p);
        }
        Ok(())
    })
    .and_then(|found| if found { Ok(()) } else { Err(Error::BadRequest("outbox.json has no orderedItems; nothing was imported".into())) });
    let stored = build.and_then(|()| {
        app.store.write(|w| {
            // Items came newest first; storing oldest first lets ids allocated within one
            // millisecond (archives keep whole seconds) keep the posts' order.
            for p in posts.iter_mut().rev() {
                let id = w.new_id(IdSpace::Posts, p.published_ms)?;
                p.id = id;
                p.uri = app.urls.post_id_url(id);
                p.url = HttpUrl::parse(&app.urls.post_url(id));
                w.insert_post(p)?;
                let p = &*p;
                if announce {
                    let audience = crate::domain::outbox::post_audience(w, app, p)?;
                    let create = vocab::create_json(&app.urls, p, "Create", &format!("{}/activity", p.uri));
                    crate::domain::outbox::send(w, app, create, audience)?;
                }
            }
            Ok(())
        })
    });
    if let Err(e) = stored {
        for f in saved_files {
            let _ = std::fs::remove_file(app.media_dir().join(f));
        }
        return Err(e);
    }
    Ok(format!(
        "imported {} posts{} ({skipped} boosts or other items skipped, {skipped_media} media files skipped)",
        posts.len(),
        if announce { " and announced them to your followers" } else { " (not announced)" }
    ))
}

/// The settings page's view of its last import.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct ImportStatus {
    pub file: String,
    pub running: bool,
    pub done: usize,
    pub total: usize,
    /// The summary, or the line-by-line report of why nothing was imported.
    pub result: String,
    pub ok: bool,
    /// The server process that runs it: a status left "running" by a process that died is stale.
    #[serde(default)]
    pub pid: u32,
}

pub fn import_status(app: &App) -> Result<Option<ImportStatus>> {
    let s: Option<ImportStatus> = app.store.read(|r| r.import_status())?.and_then(|b| serde_json::from_slice(&b).ok());
    Ok(s.map(|mut s| {
        if s.running && s.pid != std::process::id() {
            s.running = false;
            s.result = "interrupted (pipit stopped): nothing or only part was applied; import the file again".into();
        }
        s
    }))
}

fn put_status(app: &App, s: &ImportStatus) {
    if let Ok(json) = serde_json::to_vec(s) {
        let _ = app.store.write(|w| w.put_import_status(&json));
    }
}

/// The settings form's import: the file is checked at once (bad lines come back to the form);
/// the accounts are then looked up and the import applied in the background, its progress and
/// result kept for the settings page. Errors: a bad file, or an import already running.
pub fn start_background_import(app: &App, kind: CsvKind, bytes: Vec<u8>, overwrite: bool) -> Result<()> {
    let rows = parse_csv(kind, &bytes)?;
    if import_status(app)?.map(|s| s.running && s.pid == std::process::id()).unwrap_or(false) {
        return Err(Error::BadRequest("An import is already running; wait for it to finish".into()));
    }
    let status = ImportStatus { file: kind.file_name().into(), running: true, done: 0, total: rows.len(), pid: std::process::id(), ..Default::default() };
    put_status(app, &status);
    let app = app.clone();
    tokio::spawn(async move {
        let last = std::sync::Mutex::new(0usize);
        let progress = |done: usize, total: usize| {
            // A store write per step of 8 lookups at most; skip the rest.
            let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
            if done > *l || done == 0 {
                *l = done;
                put_status(&app, &ImportStatus { file: kind.file_name().into(), running: true, done, total, pid: std::process::id(), ..Default::default() });
            }
        };
        let out = import_csv(&app, kind, &bytes, overwrite, &progress).await;
        let (ok, result) = match out {
            Ok(s) => (true, s),
            Err(e) => (false, e.public_message()),
        };
        put_status(&app, &ImportStatus { file: kind.file_name().into(), running: false, done: status.total, total: status.total, result, ok, pid: 0 });
    });
    Ok(())
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
