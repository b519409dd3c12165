//! Uploaded images: every upload (compose, avatar/header, later the client API) goes through
//! [`crate::media::process`] — type sniffed from the bytes, metadata stripped, orientation applied,
//! oversized originals scaled down, preview and blurhash made — and only the result is written,
//! atomically, under DATA/media with an unguessable name. The bytes as uploaded are never stored.

use crate::app::App;
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What was written for one upload.
pub struct Saved {
    /// File name of the (clean) original under DATA/media.
    pub file: String,
    /// File name of the timeline preview, when the original is larger than the preview size.
    pub preview: Option<String>,
    pub media_type: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub blurhash: Option<String>,
}

/// Media type and extension from the first bytes, for PNG, JPEG, GIF and WebP.
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    crate::media::Kind::sniff(bytes).map(|k| (k.media_type(), k.ext()))
}

/// An upload's bytes, as the pipeline reads them: a received file (a multipart part streamed to
/// DATA/tmp by `server::upload`: read as it is processed, never loaded whole) or bytes already in
/// memory (an archive import). The caller owns the file and removes it.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a [u8]> for Input<'a> {
    fn from(b: &'a [u8]) -> Self {
        Input::Bytes(b)
    }
}

impl<'a> From<&'a Vec<u8>> for Input<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Input::Bytes(b)
    }
}

impl<'a> From<&'a Path> for Input<'a> {
    fn from(p: &'a Path) -> Self {
        Input::File(p)
    }
}

/// An owned [`Input`], for uploads that travel with a post being composed.
pub enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Source {
    pub fn input(&self) -> Input<'_> {
        match self {
            Source::File(p) => Input::File(p),
            Source::Bytes(b) => Input::Bytes(b),
        }
    }
}

impl Input<'_> {
    /// Size in bytes.
    pub fn len(&self) -> Result<u64> {
        Ok(match self {
            Input::File(p) => std::fs::metadata(p)?.len(),
            Input::Bytes(b) => b.len() as u64,
        })
    }
    /// The first `n` bytes at most (for sniffing the type).
    pub fn head(&self, n: usize) -> Result<Vec<u8>> {
        Ok(match self {
            Input::File(p) => {
                let mut v = Vec::with_capacity(n);
                std::fs::File::open(p)?.take(n as u64).read_to_end(&mut v)?;
                v
            }
            Input::Bytes(b) => b[..b.len().min(n)].to_vec(),
        })
    }
}

/// A file being written under DATA/media with a hidden name (`.TOKEN.part`: `valid_name` refuses
/// it, so it is never served); removed on drop unless [`Part::keep`] renamed it into place. An
/// error or a panic halfway leaves nothing behind.
struct Part {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Part {
    fn new(dir: &Path) -> Result<Part> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!(".{}.part", crate::secret::token()));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(Part { path, file: Some(file) })
    }
    fn file(&mut self) -> &mut std::fs::File {
        self.file.as_mut().expect("open until kept")
    }
    /// Flushed to disk and renamed to `to`.
    fn keep(mut self, to: &Path) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        std::fs::rename(&self.path, to)?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Runs the upload pipeline and stores the result. Errors: 413 above `max_upload_kib`, 415 when
/// the bytes are not an accepted image, 400 for truncated, damaged or oversized (bomb) images;
/// on any error nothing is left on disk. A file input is read from disk as it is processed and
/// the results are written straight to DATA/media ([`crate::media::process_into`]).
pub fn save_image<'a>(app: &App, input: impl Into<Input<'a>>) -> Result<Saved> {
    save_image_noting(app, input.into(), &mut |_| Ok(()))
}

/// [`save_image`], calling `note` with the original's final file name after the bytes are
/// processed and before any file is moved into place under that name (an error from `note`
/// leaves nothing behind): what [`PendingMedia`] journals.
fn save_image_noting(app: &App, input: Input<'_>, note: &mut dyn FnMut(&str) -> Result<()>) -> Result<Saved> {
    let limit = app.config.max_upload_kib as u64 * 1024;
    if input.len()? > limit {
        return Err(Error::PayloadTooLarge(limit));
    }
    let dir = app.media_dir();
    let (mut original, mut preview) = (Part::new(&dir)?, Part::new(&dir)?);
    let written = {
        let mut o = std::io::BufWriter::new(original.file());
        let mut p = std::io::BufWriter::new(preview.file.as_mut().expect("open"));
        let w = match input {
            Input::File(path) => crate::media::process_into(std::fs::File::open(path)?, app.config.max_image_side, &mut o, &mut p)?,
            Input::Bytes(b) => crate::media::process_into(std::io::Cursor::new(b), app.config.max_image_side, &mut o, &mut p)?,
        };
        o.flush()?;
        p.flush()?;
        w
    };
    let token = crate::secret::token();
    let file = format!("{token}.{}", written.kind.ext());
    note(&file)?;
    let preview_name = match written.preview {
        Some(kind) => {
            let name = format!("{token}-small.{}", kind.ext());
            preview.keep(&dir.join(&name))?;
            Some(name)
        }
        None => None,
    };
    if let Err(e) = original.keep(&dir.join(&file)) {
        if let Some(p) = &preview_name {
            let _ = std::fs::remove_file(dir.join(p));
        }
        return Err(e);
    }
    Ok(Saved {
        file,
        preview: preview_name,
        media_type: written.kind.media_type(),
        width: Some(written.width),
        height: Some(written.height),
        blurhash: Some(written.blurhash),
    })
}

/// A post attachment: an image through [`save_image`], or a video/audio file (sniffed by
/// [`crate::media::sniff_av`]) stored unchanged up to `max_media_kib` (copied from its file in
/// constant memory). Errors as `save_image`.
pub fn save_upload<'a>(app: &App, input: impl Into<Input<'a>>) -> Result<Saved> {
    save_upload_noting(app, input.into(), &mut |_| Ok(()))
}

/// [`save_upload`], with `note` called as in [`save_image_noting`].
pub fn save_upload_noting(app: &App, input: Input<'_>, note: &mut dyn FnMut(&str) -> Result<()>) -> Result<Saved> {
    let Some((media_type, ext)) = crate::media::sniff_av(&input.head(64)?) else {
        return save_image_noting(app, input, note);
    };
    let limit = app.config.max_media_kib as u64 * 1024;
    if input.len()? > limit {
        return Err(Error::PayloadTooLarge(limit));
    }
    let dir = app.media_dir();
    let mut part = Part::new(&dir)?;
    match input {
        Input::File(path) => {
            std::io::copy(&mut std::fs::File::open(path)?, part.file())?;
        }
        Input::Bytes(b) => part.file().write_all(b)?,
    }
    let file = format!("{}.{ext}", crate::secret::token());
    note(&file)?;
    part.keep(&dir.join(&file))?;
    Ok(Saved { file, preview: None, media_type, width: None, height: None, blurhash: None })
}

/// Removes the half-written `.TOKEN.part` files a crash left in `dir` (DATA/media) at startup.
pub fn sweep_parts(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".part") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Removes an upload and its preview (`NAME.ext` and `NAME-small.*`).
pub fn remove(app: &App, file: &str) {
    remove_in(&app.media_dir(), file)
}

/// [`remove`] in the media folder `dir`.
fn remove_in(dir: &Path, file: &str) {
    if !valid_name(file) {
        return;
    }
    let _ = std::fs::remove_file(dir.join(file));
    if let Some((stem, _)) = file.rsplit_once('.') {
        for ext in ["jpg", "png"] {
            let _ = std::fs::remove_file(dir.join(format!("{stem}-small.{ext}")));
        }
    }
}

/// Runs of [`PendingMedia`] alive in this process (the store's lock keeps other processes out
/// of the data folder): their entries are not swept.
static LIVE_RUNS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

fn is_live(run: u64) -> bool {
    LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).contains(&run)
}

/// Media saved for posts that are not stored yet, journaled in the store
/// (`pendingmedia_run`, store/archive.rs) so that a crash between saving the files and
/// storing the posts (an archive import killed half-way, a crash mid-compose) leaves no
/// orphaned files for good.
/// Each file is noted, in its own committed transaction, before it is moved into place
/// ([`PendingMedia::save`]); the transaction that stores a post clears its files
/// ([`PendingMedia::stored`]). Whatever is still noted when the run ends (dropped: its
/// posts failed, or were duplicates) is removed then, and what a crashed run left is removed
/// by [`sweep_pending`] at the next start or run.
pub struct PendingMedia {
    app: App,
    /// Random, so that runs of a crashed process never look alive.
    pub run: u64,
}

impl PendingMedia {
    /// A new run, alive until dropped.
    pub fn begin(app: &App) -> PendingMedia {
        let mut b = [0u8; 8];
        crate::secret::fill(&mut b);
        let run = u64::from_le_bytes(b);
        LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).push(run);
        PendingMedia { app: app.clone(), run }
    }

    /// [`save_upload`], the file noted as pending for this run before it appears.
    pub fn save(&self, input: Input<'_>) -> Result<Saved> {
        let (app, run) = (&self.app, self.run);
        save_upload_noting(app, input, &mut |file| app.store.write(|w| w.note_pending_media(run, file)))
    }

    /// Inside the write transaction `w` that stores a post: its `attachments` saved by this run
    /// are no longer pending (a stored post references them from this commit on). Attachments
    /// that are not this instance's media files are skipped.
    pub fn stored(&self, w: &mut crate::store::Write, attachments: &[crate::model::Attachment]) -> Result<()> {
        let prefix = self.app.urls.media("");
        for a in attachments {
            if let Some(file) = a.url.strip_prefix(&prefix) {
                w.clear_pending_media(self.run, file)?;
            }
        }
        Ok(())
    }
}

impl Drop for PendingMedia {
    /// Removes the files still pending for this run (no stored post references them).
    fn drop(&mut self) {
        if let Err(e) = sweep(&self.app.store, &self.app.media_dir(), Some(self.run)) {
            tracing::warn!("removing the media of an unfinished import: {e}");
        }
        LIVE_RUNS.lock().unwrap_or_else(|e| e.into_inner()).retain(|r| *r != self.run);
    }
}

/// Removes the media files (and their previews) of pending entries whose run is not alive in
/// this process: what a crash left between saving media and storing their posts. Called when
/// the data folder is opened and before each archive import. A page of the journal at a time.
/// Returns the number of files removed.
pub fn sweep_pending(store: &crate::store::Store, dir: &Path) -> Result<u64> {
    sweep(store, dir, None)
}

/// Entries of `only` (one run, alive or not), or of every run not alive.
fn sweep(store: &crate::store::Store, dir: &Path, only: Option<u64>) -> Result<u64> {
    const PAGE: usize = 200;
    let mut after: Option<(u64, String)> = only.map(|r| (r, String::new()));
    let mut removed = 0u64;
    loop {
        let page = store.read(|r| r.pending_media_page(after.as_ref().map(|(r, f)| (*r, f.as_str())), PAGE))?;
        let full = page.len() == PAGE;
        let gone: Vec<&(u64, String)> = page.iter().take_while(|(r, _)| only.is_none_or(|o| o == *r)).filter(|(r, _)| only.is_some() || !is_live(*r)).collect();
        // The file first: a crash in between leaves an entry naming nothing, which is harmless.
        for (_, file) in &gone {
            remove_in(dir, file);
        }
        if !gone.is_empty() {
            store.write(|w| gone.iter().try_for_each(|(r, f)| w.clear_pending_media(*r, f)))?;
            removed += gone.len() as u64;
        }
        let ended = only.is_some_and(|o| page.last().is_some_and(|(r, _)| *r != o));
        match page.last() {
            Some(last) if full && !ended => after = Some(last.clone()),
            _ => return Ok(removed),
        }
    }
}

/// A safe media file name: what save_image makes, nothing that could walk out of the folder.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.')
}
