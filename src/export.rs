//! Export (issue 12): Mastodon's CSV files and a posts archive in Mastodon's archive layout.
//!
//! CSVs, exactly as Mastodon writes them (app/models/export.rb): `following_accounts.csv`
//! (`Account address,Show boosts,Notify on new posts,Languages`), `muted_accounts.csv`
//! (`Account address,Hide notifications`), and header-less `lists.csv` (list name, account),
//! `blocked_accounts.csv`, `blocked_domains.csv`, `bookmarks.csv` (post URL). Accounts are
//! `user@host`; one we have no actor document for is written as its actor id.
//!
//! The archive (tar.gz): `actor.json`, `outbox.json` (every own post as a Create activity, all
//! visibilities, as Mastodon's), `likes.json`, `bookmarks.json`, `media_attachments/files/NAME`
//! (attachment URLs in outbox.json point there) and the avatar/header at the top.
//!
//! Everything is written a bounded page of the store at a time. A tar entry needs its size up
//! front, so the JSON files are spooled to unlinked temporary files in the data folder first:
//! never built in memory.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::vocab;
use serde_json::{json, Value};
use std::io::{Seek, Write};
use std::path::Path;
use crate::progress::Reporter;

const PAGE: usize = 200;

/// One of Mastodon's CSV exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    Following,
    Lists,
    BlockedAccounts,
    MutedAccounts,
    BlockedDomains,
    Bookmarks,
}

impl CsvKind {
    pub const ALL: [CsvKind; 6] = [CsvKind::Following, CsvKind::Lists, CsvKind::BlockedAccounts, CsvKind::MutedAccounts, CsvKind::BlockedDomains, CsvKind::Bookmarks];

    /// Mastodon's file name for it.
    pub fn file_name(self) -> &'static str {
        match self {
            CsvKind::Following => "following_accounts.csv",
            CsvKind::Lists => "lists.csv",
            CsvKind::BlockedAccounts => "blocked_accounts.csv",
            CsvKind::MutedAccounts => "muted_accounts.csv",
            CsvKind::BlockedDomains => "blocked_domains.csv",
            CsvKind::Bookmarks => "bookmarks.csv",
        }
    }

    /// By file name, or by the short names `pipit import` takes (`following`, `lists`,
    /// `blocks`, `mutes`, `domain-blocks`, `bookmarks`).
    pub fn parse(s: &str) -> Option<CsvKind> {
        let s = s.trim();
        CsvKind::ALL.into_iter().find(|k| k.file_name() == s).or(match s {
            "following" | "follows" => Some(CsvKind::Following),
            "lists" => Some(CsvKind::Lists),
            "blocks" | "blocked-accounts" => Some(CsvKind::BlockedAccounts),
            "mutes" | "muted-accounts" => Some(CsvKind::MutedAccounts),
            "domain-blocks" | "blocked-domains" => Some(CsvKind::BlockedDomains),
            "bookmarks" => Some(CsvKind::Bookmarks),
            _ => None,
        })
    }
}

/// `user@host` for an actor id (from the actor cache), or the id itself.
pub fn account_address(app: &App, id: &str) -> Result<String> {
    Ok(match app.store.read(|r| r.actor(id))? {
        Some(a) if !a.preferred_username.is_empty() && !a.host.is_empty() => a.handle().trim_start_matches('@').to_string(),
        _ => id.to_string(),
    })
}

fn csv_err(e: csv::Error) -> Error {
    Error::Internal(format!("csv: {e}"))
}

/// Writes one CSV export to `out`; returns the number of rows.
pub fn write_csv<W: Write>(app: &App, kind: CsvKind, out: W) -> Result<u64> {
    write_csv_with(app, kind, out, &Reporter::none())
}

/// [`write_csv`], reporting the rows written as `progress` phase `kind.file_name()` (out of the
/// following count for `following_accounts.csv`, the only one the store counts cheaply).
pub fn write_csv_with<W: Write>(app: &App, kind: CsvKind, out: W, progress: &Reporter) -> Result<u64> {
    let what = kind.file_name();
    let total = match kind {
        CsvKind::Following => Some(app.store.read(|r| r.following_count())?),
        _ => None,
    };
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut n = 0u64;
    match kind {
        CsvKind::Following => {
            w.write_record(["Account address", "Show boosts", "Notify on new posts", "Languages"]).map_err(csv_err)?;
            let mut after: Option<String> = None;
            loop {
                let page = app.store.read(|r| r.following_page(after.as_deref(), PAGE))?;
                for (id, f) in &page.items {
                    let o = &f.options;
                    w.write_record([account_address(app, id)?.as_str(), if o.reblogs { "true" } else { "false" }, if o.notify { "true" } else { "false" }, o.languages.join(", ").as_str()]).map_err(csv_err)?;
                    n += 1;
                    progress.report(what, n, total);
                }
                match page.next.or_else(|| if page.items.len() == PAGE { page.items.last().map(|(k, _)| k.clone()) } else { None }) {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        CsvKind::Lists => {
            for (id, list) in app.store.read(|r| r.lists())? {
                let mut after: Option<String> = None;
                loop {
                    let members = app.store.read(|r| r.list_members_page(id, after.as_deref(), PAGE))?;
                    for m in &members {
                        w.write_record([list.name.as_str(), account_address(app, m)?.as_str()]).map_err(csv_err)?;
                        n += 1;
                        progress.report(what, n, total);
                    }
                    if members.len() < PAGE {
                        break;
                    }
                    after = members.last().cloned();
                }
            }
        }
        CsvKind::BlockedAccounts | CsvKind::MutedAccounts | CsvKind::BlockedDomains => {
            if kind == CsvKind::MutedAccounts {
                w.write_record(["Account address", "Hide notifications"]).map_err(csv_err)?;
            }
            let mut after: Option<String> = None;
            loop {
                let page = app.store.read(|r| match kind {
                    CsvKind::BlockedAccounts => r.blocked_actors_page(after.as_deref(), PAGE),
                    CsvKind::MutedAccounts => r.muted_actors_page(after.as_deref(), PAGE),
                    _ => r.blocked_domains_page(after.as_deref(), PAGE),
                })?;
                for (k, _) in &page {
                    match kind {
                        CsvKind::BlockedDomains => w.write_record([k.as_str()]),
                        CsvKind::MutedAccounts => w.write_record([account_address(app, k)?.as_str(), "true"]),
                        _ => w.write_record([account_address(app, k)?.as_str()]),
                    }
                    .map_err(csv_err)?;
                    n += 1;
                    progress.report(what, n, total);
                }
                if page.len() < PAGE {
                    break;
                }
                after = page.last().map(|(k, _)| k.clone());
            }
        }
        CsvKind::Bookmarks => {
            let mut before = None;
            loop {
                let (posts, next) = app.store.read(|r| r.bookmarks(before, PAGE))?;
                for p in &posts {
                    w.write_record([p.uri.as_str()]).map_err(csv_err)?;
                    n += 1;
                    progress.report(what, n, total);
                }
                match next {
                    Some(b) => before = Some(b),
                    None => break,
                }
            }
        }
    }
    w.flush()?;
    progress.finish(what, n);
    Ok(n)
}

/// A read-write temporary file in `dir`, already unlinked: gone however the process ends.
pub fn spool(dir: &Path) -> Result<std::fs::File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!("export-spool-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let f = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

/// Writes `{"@context":…, "id": id, "type": "OrderedCollection", "orderedItems": [items…],
/// "totalItems": n}` to a spool file, items from `next_page` until it returns an empty page.
fn spool_collection(app: &App, id: &str, mut next_page: impl FnMut() -> Result<Vec<Value>>) -> Result<(std::fs::File, u64)> {
    let f = spool(&app.data)?;
    let mut w = std::io::BufWriter::new(f);
    write!(w, "{{\"@context\":\"{}\",\"id\":\"{id}\",\"type\":\"OrderedCollection\",\"orderedItems\":[", vocab::AS_CONTEXT)?;
    let mut n = 0u64;
    loop {
        let page = next_page()?;
        if page.is_empty() {
            break;
        }
        for item in page {
            if n > 0 {
                w.write_all(b",")?;
            }
            serde_json::to_writer(&mut w, &item)?;
            n += 1;
        }
    }
    write!(w, "],\"totalItems\":{n}}}")?;
    let mut f = w.into_inner().map_err(|e| e.into_error())?;
    let len = f.stream_position()?;
    f.rewind()?;
    Ok((f, len))
}

fn append_file<W: Write>(b: &mut tar::Builder<W>, name: &str, f: impl std::io::Read, len: u64) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(crate::time::now_ms() / 1000);
    b.append_data(&mut h, name, f)?;
    Ok(())
}

/// The file name under DATA/media of one of our media URLs.
fn local_media_name(app: &App, url: &str) -> Option<String> {
    let name = url.strip_prefix(&app.urls.media(""))?;
    crate::domain::media::valid_name(name).then(|| name.to_string())
}

/// Writes the posts archive as tar.gz to `out`. Returns the number of posts.
pub fn write_archive<W: Write>(app: &App, out: W) -> Result<u64> {
    write_archive_with(app, out, &Reporter::none())
}

/// [`write_archive`], reporting its phases to `progress`: `posts` (written to outbox.json, out
/// of the store's count of own posts), `likes` and `bookmarks` (counts), `media` (posts whose
/// files were packed, out of the posts written).
pub fn write_archive_with<W: Write>(app: &App, out: W, progress: &Reporter) -> Result<u64> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    // actor.json, with the pictures beside it as Mastodon's archive has them.
    let profile = app.store.read(|r| r.profile())?;
    let mut actor = vocab::actor_json(&app.urls, &profile, &app.actor_keys.rsa_public_pem(), &app.actor_keys.ed25519_multibase(), profile.approve_followers);
    let mut pictures = Vec::new();
    for (key, file) in [("icon", &profile.avatar), ("image", &profile.header)] {
        if let Some(name) = file.as_ref().filter(|n| crate::domain::media::valid_name(n)) {
            if actor.get(key).is_some() {
                actor[key]["url"] = json!(name);
            }
            pictures.push(name.clone());
        }
    }
    let bytes = serde_json::to_vec_pretty(&actor)?;
    append_file(&mut b, "actor.json", &bytes[..], bytes.len() as u64)?;
    for name in pictures {
        let path = app.media_dir().join(&name);
        if let Ok(f) = std::fs::File::open(&path) {
            let len = f.metadata()?.len();
            append_file(&mut b, &name, f, len)?;
        }
    }
    // outbox.json: every own post, newest first, media URLs pointing into the archive.
    let mut before = None;
    let mut done = false;
    let mut posts = 0u64;
    let own = app.store.read(|r| r.own_post_count())?;
    progress.report("posts", 0, Some(own));
    let (f, len) = spool_collection(app, "outbox.json", || loop {
        if done {
            return Ok(vec![]);
        }
        let page = app.store.read(|r| r.own_posts(before, PAGE, |_| true))?;
        before = page.next;
        done = page.next.is_none();
        posts += page.posts.len() as u64;
        progress.report("posts", posts, Some(own));
        // A page may come back empty without being the last (store/posts.rs MAX_SCAN).
        if page.posts.is_empty() {
            continue;
        }
        return Ok(page
            .posts
            .iter()
            .map(|p| {
                let mut c = vocab::create_json(&app.urls, p, "Create", &format!("{}/activity", p.uri));
                if let Some(o) = c.as_object_mut() {
                    o.remove("@context");
                }
                if let Some(list) = c["object"]["attachment"].as_array_mut() {
                    for a in list {
                        if let Some(name) = a.get("url").and_then(Value::as_str).and_then(|u| local_media_name(app, u)) {
                            a["url"] = json!(format!("/media_attachments/files/{name}"));
                        }
                    }
                }
                c
            })
            .collect());
    })?;
    progress.finish("posts", posts);
    append_file(&mut b, "outbox.json", f, len)?;
    // likes.json: the posts the owner liked.
    let me = app.urls.actor();
    let mut cursor: Option<(String, String, String)> = None;
    let mut likes_done = false;
    let mut likes = 0u64;
    let (f, len) = spool_collection(app, "likes.json", || loop {
        if likes_done {
            return Ok(vec![]);
        }
        let (found, next) = app.store.read(|r| r.interactions_by(&me, "like", cursor.as_ref(), 2000))?;
        likes_done = next.is_none();
        cursor = next;
        likes += found.len() as u64;
        progress.report("likes", likes, None);
        if !found.is_empty() || likes_done {
            return Ok(found.into_iter().map(|(uri, _)| json!(uri)).collect());
        }
    })?;
    progress.finish("likes", likes);
    append_file(&mut b, "likes.json", f, len)?;
    // bookmarks.json
    let mut bm_before = None;
    let mut bm_done = false;
    let mut bookmarks = 0u64;
    let (f, len) = spool_collection(app, "bookmarks.json", || loop {
        if bm_done {
            return Ok(vec![]);
        }
        let (page, next) = app.store.read(|r| r.bookmarks(bm_before, PAGE))?;
        bm_before = next;
        bm_done = next.is_none();
        bookmarks += page.len() as u64;
        progress.report("bookmarks", bookmarks, None);
        if page.is_empty() && !bm_done {
            continue;
        }
        return Ok(page.into_iter().map(|p| json!(p.uri)).collect());
    })?;
    progress.finish("bookmarks", bookmarks);
    append_file(&mut b, "bookmarks.json", f, len)?;
    // media_attachments/files/NAME for every own post's local media (a second pass).
    let mut before = None;
    let mut scanned = 0u64;
    loop {
        let page = app.store.read(|r| r.own_posts(before, PAGE, |_| true))?;
        scanned += page.posts.len() as u64;
        progress.report("media", scanned, Some(posts));
        for p in &page.posts {
            for a in &p.attachments {
                let Some(name) = local_media_name(app, &a.url) else { continue };
                if let Ok(f) = std::fs::File::open(app.media_dir().join(&name)) {
                    let len = f.metadata()?.len();
                    append_file(&mut b, &format!("media_attachments/files/{name}"), f, len)?;
                }
            }
        }
        match page.next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    progress.finish("media", scanned);
    let gz = b.into_inner()?;
    let mut out = gz.finish()?;
    out.flush()?;
    Ok(posts)
}

/// `pipit export PATH`: a `.tar.gz` path gets the archive; anything else is a folder that gets
/// the six CSVs and `archive.tar.gz`. Files appear complete or not at all (written to
/// `NAME.partial-PID`, then moved into place). A file already there is never replaced: the
/// export is refused before anything is written ([`crate::backup::exists_error`]). Returns a
/// summary line.
pub fn export_to(app: &App, path: &Path) -> Result<String> {
    export_to_with(app, path, false, &Reporter::none())
}

/// [`export_to`], replacing files already there when `force` (each only once its new version
/// is whole), and reporting each file's rows or posts to `progress` ([`write_csv_with`],
/// [`write_archive_with`]).
pub fn export_to_with(app: &App, path: &Path, force: bool, progress: &Reporter) -> Result<String> {
    let write_file = |dest: &Path, f: &mut dyn FnMut(&mut std::io::BufWriter<std::fs::File>) -> Result<u64>| -> Result<u64> {
        crate::backup::write_whole(dest, force, |file| {
            let mut w = std::io::BufWriter::new(file);
            let n = f(&mut w)?;
            Ok((w.into_inner().map_err(|e| e.into_error())?, n))
        })
    };
    // Refused before anything is written: not five new CSVs and one old one.
    if !force {
        let archive_only = path.to_string_lossy().ends_with(".tar.gz");
        let names: Vec<&str> = if archive_only { vec![""] } else { CsvKind::ALL.iter().map(|k| k.file_name()).chain(["archive.tar.gz"]).collect() };
        for n in names {
            let dest = if n.is_empty() { path.to_path_buf() } else { path.join(n) };
            if std::fs::symlink_metadata(&dest).is_ok() {
                return Err(crate::backup::exists_error(&dest));
            }
        }
    }
    if path.to_string_lossy().ends_with(".tar.gz") {
        let n = write_file(path, &mut |w| write_archive_with(app, w, progress))?;
        return Ok(format!("wrote {} ({n} posts)", path.display()));
    }
    std::fs::create_dir_all(path).map_err(|e| Error::BadRequest(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for kind in CsvKind::ALL {
        let n = write_file(&path.join(kind.file_name()), &mut |w| write_csv_with(app, kind, w, progress))?;
        out.push(format!("{} ({n})", kind.file_name()));
    }
    let n = write_file(&path.join("archive.tar.gz"), &mut |w| write_archive_with(app, w, progress))?;
    out.push(format!("archive.tar.gz ({n} posts)"));
    Ok(format!("wrote into {}: {}", path.display(), out.join(", ")))
}
