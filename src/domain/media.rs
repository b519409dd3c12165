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
    let input = input.into();
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
    let input = input.into();
    let Some((media_type, ext)) = crate::media::sniff_av(&input.head(64)?) else {
        return save_image(app, input);
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
    if !valid_name(file) {
        return;
    }
    let _ = std::fs::remove_file(app.media_dir().join(file));
    if let Some((stem, _)) = file.rsplit_once('.') {
        for ext in ["jpg", "png"] {
            let _ = std::fs::remove_file(app.media_dir().join(format!("{stem}-small.{ext}")));
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
