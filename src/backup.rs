//! `pipit backup FILE` and `pipit restore FILE --data DIR`.
//!
//! Backup happens in two steps so that a running server never stops serving:
//! 1. `stage` (in the process that holds the store: the server through the control socket, or
//!    the command itself offline) copies the database as ONE read transaction sees it into a new
//!    redb file (store/backup.rs), hard-links the media files (no extra disk space; media files
//!    are never rewritten in place) and copies the keys and config, all into a staging folder
//!    inside the data folder.
//! 2. `pack` (in the command's process, with a progress bar on a terminal) streams that folder
//!    into `FILE.partial-PID` as tar.gz, fsyncs it, moves it to FILE and removes the staging
//!    folder. A killed backup leaves no FILE, only a partial file and a staging folder that the
//!    next backup removes. An existing FILE is never replaced without `--force` (a mistyped
//!    name must not destroy the last good backup), and with it only once the new one is whole.
//!
//! Archive layout (tar.gz): `pipit-backup.json` first (format, instance, counts), then
//! `pipit.toml`, `keys/…`, `pipit.redb`, `media/…`, and `pipit-backup-end.json` last. Restore
//! checks the first and the last entry and the counts, so a truncated archive is refused even
//! where gzip alone would not notice.

use crate::app::App;
use crate::config::Config;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "pipit-backup.json";
pub const TRAILER: &str = "pipit-backup-end.json";
const STAGING_PREFIX: &str = "backup-staging-";
pub const FORMAT: u32 = 1;

/// What `stage` made: the instance it belongs to and the size of its database copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Staged {
    pub actor: String,
    pub url: String,
    pub username: String,
    pub rows: u64,
}

/// The first entry of a backup archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub pipit: String,
    pub actor: String,
    pub url: String,
    pub username: String,
    pub created_ms: u64,
    /// Files in the archive besides the manifest and the trailer.
    pub files: u64,
    /// Their bytes, uncompressed.
    pub bytes: u64,
}

/// The last entry: proof the archive was written to the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Trailer {
    files: u64,
    bytes: u64,
}

/// Makes the staging folder `staging` (`DATA/backup-staging-PID`, refused otherwise): a
/// consistent database copy, media hard links, keys, config. Removes stale staging folders
/// of backups that were killed. Blocking.
pub fn stage(app: &App, staging: &Path) -> Result<Staged> {
    let data = std::fs::canonicalize(&app.data)?;
    let name = staging.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if staging.parent() != Some(data.as_path()) || !name.starts_with(STAGING_PREFIX) {
        return Err(Error::BadRequest(format!("backup staging folder must be {}/{STAGING_PREFIX}PID", data.display())));
    }
    remove_stale_staging(&data);
    std::fs::create_dir(staging)?;
    let result = (|| {
        let rows = app.store.snapshot_to(&staging.join(crate::store::DB_FILE), |_| {})?;
        let media = app.media_dir();
        let to = staging.join("media");
        std::fs::create_dir(&to)?;
        for e in std::fs::read_dir(&media)? {
            let e = e?;
            // Hidden `.TOKEN.part` files are uploads being written (domain::media): not media yet.
            if !e.file_type()?.is_file() || e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let dest = to.join(e.file_name());
            if std::fs::hard_link(e.path(), &dest).is_err() {
                std::fs::copy(e.path(), &dest)?;
            }
        }
        // Keys go in as keys/NAME and the config copy points there, wherever they live now.
        let mut cfg = app.config.clone();
        std::fs::create_dir(staging.join("keys"))?;
        for slot in [&mut cfg.keys.rsa, &mut cfg.keys.ed25519, &mut cfg.keys.instance_rsa] {
            let src = app.config.resolve(&app.data, slot);
            let file = src.file_name().and_then(|n| n.to_str()).unwrap_or("key.pem").to_string();
            let bytes = std::fs::read(&src)?;
            crate::fsutil::write_private(&staging.join("keys").join(&file), &bytes)?;
            *slot = format!("keys/{file}");
        }
        // The key that seals cross-posting tokens (domain::crosspost): without it a restored
        // server's connections would not open.
        let crosspost_key = crate::domain::crosspost::key_path(app);
        if crosspost_key.exists() {
            crate::fsutil::write_private(&staging.join("keys").join(crate::domain::crosspost::KEY_FILE), &std::fs::read(&crosspost_key)?)?;
        }
        cfg.save(staging)?;
        Ok(Staged { actor: app.urls.actor(), url: app.config.url.clone(), username: app.config.username.clone(), rows })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(staging);
    }
    result
}

/// Staging folders whose backup process is gone (killed, crashed).
fn remove_stale_staging(data: &Path) {
    let Ok(entries) = std::fs::read_dir(data) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(STAGING_PREFIX).and_then(|p| p.parse::<i32>().ok()) else { continue };
        // kill(pid, 0) fails with ESRCH when no such process exists.
        if !crate::fsutil::process_alive(pid) || pid as u32 == std::process::id() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A bar on standard error when it is a terminal, hidden otherwise (logs, pipes, tests).
fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    crate::progress::bar(len, what, "{msg:12} [{bar:30}] {bytes}/{total_bytes} {eta}")
}

/// A spinner on standard error while long work runs (hidden off a terminal).
pub fn spinner(what: &str) -> indicatif::ProgressBar {
    crate::progress::spinner(what)
}

/// The refusal of an existing FILE (backup, export): names it and says how to replace it.
pub fn exists_error(file: &Path) -> Error {
    Error::BadRequest(format!("{} exists already: nothing was written; choose another name, or add --force to replace it", file.display()))
}

/// Writes `file` whole or not at all (backup, export): `write` fills `NAME.partial-PID` (made new
/// beside it) and hands the file back; it is fsynced and moved to `file`, over an existing one
/// only with `force`. Partial files of killed writers are removed first. Errors name `file`:
/// [`exists_error`], a folder that cannot be written, a write that failed half-way (a full
/// disk: "nothing was written"); no partial file is left behind.
pub fn write_whole<T>(file: &Path, force: bool, write: impl FnOnce(std::fs::File) -> Result<(std::fs::File, T)>) -> Result<T> {
    crate::fsutil::remove_stale_partials(file);
    let name = file.file_name().ok_or_else(|| Error::BadRequest(format!("{}: not a file name", file.display())))?;
    let partial = file.with_file_name(format!("{}.partial-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let f = std::fs::OpenOptions::new().write(true).create_new(true).open(&partial).map_err(|e| Error::BadRequest(format!("{}: {e}", file.display())))?;
        let (f, out) = write(f)?;
        f.sync_all()?;
        crate::fsutil::finish_file(&partial, file, force).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => exists_error(file),
            _ => Error::BadRequest(format!("{}: {e}", file.display())),
        })?;
        Ok(out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.map_err(|e| match e {
        Error::Io(e) => Error::BadRequest(format!("{}: {e}; nothing was written", file.display())),
        e => e,
    })
}

/// `pipit backup FILE [--force]`: stage through the running server (or offline), then pack.
/// Errors: FILE exists and `force` is not given ([`exists_error`], checked before any work and
/// again, atomically, when the finished file is moved into place); FILE cannot be written (its
/// name in the error; no partial file is left).
pub async fn backup(data: &Path, file: &Path, force: bool) -> Result<Manifest> {
    let data = std::fs::canonicalize(data).map_err(|e| Error::Config(format!("{}: {e}", data.display())))?;
    if !Config::path(&data).exists() {
        return Err(Error::Config(format!("{} is not a pipit data folder", data.display())));
    }
    if !force && std::fs::symlink_metadata(file).is_ok() {
        return Err(exists_error(file));
    }
    let staging = data.join(format!("{STAGING_PREFIX}{}", std::process::id()));
    let sp = spinner("copying the database");
    let staged = crate::control::run(&data, crate::control::Command::Backup { staging: staging.to_string_lossy().into_owned() }).await;
    sp.finish_and_clear();
    let staged: Staged = serde_json::from_str(&staged?).map_err(|e| Error::Internal(format!("backup: unexpected reply: {e}")))?;
    let file = file.to_path_buf();
    let staging2 = staging.clone();
    let out = tokio::task::spawn_blocking(move || pack(&staging2, &staged, &file, force)).await.map_err(|e| Error::Internal(e.to_string()));
    let _ = std::fs::remove_dir_all(&staging);
    out?
}

/// Every file under `dir` as (path relative to it, size), sorted, the database first.
fn files_under(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(dir.join(&rel))? {
            let e = e?;
            let t = e.file_type()?;
            let r = rel.join(e.file_name());
            if t.is_dir() {
                stack.push(r);
            } else if t.is_file() {
                out.push((r, e.metadata()?.len()));
            }
        }
    }
    out.sort_by_key(|(p, _)| (!p.starts_with("pipit.toml"), !p.starts_with("keys"), !p.starts_with(crate::store::DB_FILE), p.clone()));
    Ok(out)
}

fn json_entry<W: Write>(b: &mut tar::Builder<W>, name: &str, v: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v)?;
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(crate::time::now_ms() / 1000);
    b.append_data(&mut h, name, &bytes[..])?;
    Ok(())
}

/// Streams the staging folder into FILE (via a partial file moved into place at the end: over
/// an existing FILE only when `force`).
fn pack(staging: &Path, staged: &Staged, file: &Path, force: bool) -> Result<Manifest> {
    let files = files_under(staging)?;
    let bytes: u64 = files.iter().map(|(_, n)| n).sum();
    let manifest = Manifest {
        format: FORMAT,
        pipit: env!("CARGO_PKG_VERSION").into(),
        actor: staged.actor.clone(),
        url: staged.url.clone(),
        username: staged.username.clone(),
        created_ms: crate::time::now_ms(),
        files: files.len() as u64,
        bytes,
    };
    let pb = bar(bytes, "packing");
    let result = write_whole(file, force, |f| {
        {
            use std::os::unix::fs::PermissionsExt;
            // It holds the private keys.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::default());
        let mut b = tar::Builder::new(gz);
        json_entry(&mut b, MANIFEST, &manifest)?;
        for (rel, _) in &files {
            let path = staging.join(rel);
            let f = std::fs::File::open(&path)?;
            let meta = f.metadata()?;
            let mut h = tar::Header::new_gnu();
            h.set_metadata(&meta);
            h.set_size(meta.len());
            b.append_data(&mut h, rel, pb.wrap_read(f).take(meta.len()))?;
        }
        json_entry(&mut b, TRAILER, &Trailer { files: manifest.files, bytes })?;
        let gz = b.into_inner()?;
        let out = gz.finish()?;
        Ok((out.into_inner().map_err(|e| e.into_error())?, ()))
    });
    pb.finish_and_clear();
    result?;
    Ok(manifest)
}

fn corrupt(file: &Path, e: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("{} is truncated or corrupt: {e}", file.display()))
}

/// True when the folder is missing or has nothing in it.
fn is_empty_dir(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut it) => Ok(it.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// `pipit restore FILE --data DIR [--force]`: unpacks into a temporary folder beside DIR,
/// checks everything (manifest, counts, trailer, the database opens, the keys parse), and only
/// then swaps it in with renames. Refuses: a non-empty DIR without `force`, a DIR holding
/// another instance (even with `force`), a DIR a server is running on, a file that is not a
/// pipit backup, a truncated or corrupt one. Nothing is changed in DIR when it refuses.
pub fn restore(file: &Path, dir: &Path, force: bool) -> Result<Manifest> {
    let f = std::fs::File::open(file).map_err(|e| Error::BadRequest(format!("{}: {e}", file.display())))?;
    let len = f.metadata()?.len();
    let pb = bar(len, "restoring");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(pb.wrap_read(f))));
    let mut entries = archive.entries().map_err(|e| corrupt(file, e))?;
    // 1. The manifest, before anything is written.
    let manifest: Manifest = {
        let mut first = entries
            .next()
            .ok_or_else(|| Error::BadRequest(format!("{} is not a pipit backup (empty)", file.display())))?
            .map_err(|e| Error::BadRequest(format!("{} is not a pipit backup: {e}", file.display())))?;
        if first.path().ok().as_deref() != Some(Path::new(MANIFEST)) {
            return Err(Error::BadRequest(format!("{} is not a pipit backup (no {MANIFEST} first)", file.display())));
        }
        let mut text = String::new();
        first.by_ref().take(64 * 1024).read_to_string(&mut text).map_err(|e| corrupt(file, e))?;
        serde_json::from_str(&text).map_err(|e| Error::BadRequest(format!("{}: unreadable {MANIFEST}: {e}", file.display())))?
    };
    if manifest.format != FORMAT {
        return Err(Error::BadRequest(format!("{} has backup format {}; this pipit reads format {FORMAT}", file.display(), manifest.format)));
    }
    // 2. The target folder.
    if crate::control::socket_path(dir).exists() && std::os::unix::net::UnixStream::connect(crate::control::socket_path(dir)).is_ok() {
        return Err(Error::BadRequest(format!("pipit is running on {}: stop it first", dir.display())));
    }
    if !is_empty_dir(dir)? {
        if Config::path(dir).exists() {
            let there = Config::load(dir)?;
            if there.url.trim_end_matches('/') != manifest.url.trim_end_matches('/') || there.username != manifest.username {
                return Err(Error::BadRequest(format!(
                    "{} holds another instance ({} as {}); this backup is of {} as {}: restore it into an empty folder",
                    dir.display(), there.url, there.username, manifest.url, manifest.username
                )));
            }
        }
        if !Config::path(dir).exists() && !dir.join(crate::store::DB_FILE).exists() {
            // --force replaces a data folder, never some other folder given by mistake (a home directory).
            return Err(Error::BadRequest(format!("{} is not empty and is not a pipit data folder: restore into an empty or new folder", dir.display())));
        }
        if !force {
            return Err(Error::BadRequest(format!("{} is not empty: add --force to replace what is there with the backup", dir.display())));
        }
    }
    // 3. Unpack beside it, so the final step is a rename on one filesystem.
    let dir_name = dir.file_name().ok_or_else(|| Error::BadRequest(format!("{}: not a folder name", dir.display())))?.to_string_lossy().into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let tmp = parent.join(format!(".{dir_name}.restoring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700))?;
    }
    let result = (|| -> Result<()> {
        let (mut files, mut bytes, mut trailer) = (0u64, 0u64, None);
        for e in entries {
            let mut e = e.map_err(|e| corrupt(file, e))?;
            let path = e.path().map_err(|e| corrupt(file, e))?.into_owned();
            if trailer.is_some() {
                return Err(corrupt(file, "data after the end marker"));
            }
            if path == Path::new(TRAILER) {
                let mut text = String::new();
                e.by_ref().take(64 * 1024).read_to_string(&mut text).map_err(|e| corrupt(file, e))?;
                trailer = Some(serde_json::from_str::<Trailer>(&text).map_err(|e| corrupt(file, e))?);
                continue;
            }
            let allowed = path == Path::new(crate::store::DB_FILE)
                || path == Path::new(crate::config::CONFIG_FILE)
                || ((path.starts_with("keys") || path.starts_with("media")) && path.components().count() == 2);
            if !allowed || !path.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
                return Err(corrupt(file, format!("unexpected entry {}", path.display())));
            }
            if e.header().entry_type() != tar::EntryType::Regular {
                return Err(corrupt(file, format!("{} is not a regular file", path.display())));
            }
            bytes += e.size();
            files += 1;
            if !e.unpack_in(&tmp).map_err(|e| corrupt(file, e))? {
                return Err(corrupt(file, format!("unsafe path {}", path.display())));
            }
        }
        let t = trailer.ok_or_else(|| corrupt(file, "the end marker is missing"))?;
        if (t.files, t.bytes) != (manifest.files, manifest.bytes) || (files, bytes) != (manifest.files, manifest.bytes) {
            return Err(corrupt(file, format!("{files} files / {bytes} bytes read, the manifest says {} / {}", manifest.files, manifest.bytes)));
        }
        Ok(())
    })();
    // tar stops at its end blocks; reading the gzip stream to its end checks its CRC-32 and
    // length, which is what catches a flipped byte inside a file.
    let result = result.and_then(|()| {
        let mut rest = archive.into_inner();
        std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| corrupt(file, e))?;
        Ok(())
    });
    let result = result.and_then(|()| {
        // It must open as the instance it claims to be: config, keys, database.
        let cfg = Config::load(&tmp)?;
        if cfg.url.trim_end_matches('/') != manifest.url.trim_end_matches('/') || cfg.username != manifest.username {
            return Err(corrupt(file, "the config does not match the manifest"));
        }
        let app = App::open(&tmp)?;
        app.store.read(|r| r.profile())?;
        drop(app);
        Ok(())
    });
    pb.finish_and_clear();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // 4. Swap.
    if dir.exists() {
        let old = parent.join(format!(".{dir_name}.replaced-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old)?;
        if let Err(e) = std::fs::rename(&tmp, dir) {
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e.into());
        }
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&tmp, dir)?;
    }
    Ok(manifest)
}

/// `pipit delete-account`: with the server stopped, asks `confirmed` (given the account's
/// handle, which the owner must type), then sends Delete(actor) to every follower and every
/// known server through the queue, runs the queue here until it drains or `wait` passes, and
/// wipes the data folder. Refuses while a server runs on it. Returns a summary line.
pub async fn delete_account(data: &Path, wait: std::time::Duration, confirmed: impl FnOnce(&str) -> bool) -> Result<String> {
    if std::os::unix::net::UnixStream::connect(crate::control::socket_path(data)).is_ok() {
        return Err(Error::BadRequest(format!("pipit is running on {}: stop it first (delete-account delivers the Deletes itself)", data.display())));
    }
    let app = App::open(data)?;
    let handle = app.urls.handle();
    if !confirmed(&handle) {
        return Err(Error::BadRequest("not confirmed: nothing was sent or deleted".into()));
    }
    let servers = crate::domain::owner::enqueue_account_delete(&app)?;
    let worker = tokio::spawn(crate::federation::deliver::run(app.clone()));
    let deadline = std::time::Instant::now() + wait;
    let sp = spinner("delivering Delete to your followers and known servers");
    let left = loop {
        let pending = app.store.read(|r| r.queue_stats())?.pending;
        if pending == 0 || std::time::Instant::now() >= deadline {
            break pending;
        }
        sp.set_message(format!("{pending} deliveries left"));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    sp.finish_and_clear();
    worker.abort();
    drop(app);
    std::fs::remove_dir_all(data)?;
    Ok(if left == 0 {
        format!("{handle} is deleted: {servers} servers and every follower were told, and {} is gone", data.display())
    } else {
        format!("{handle} is deleted and {} is gone; {left} deliveries of the Delete were still pending after {}s", data.display(), wait.as_secs())
    })
}
