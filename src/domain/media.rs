//! Uploaded images: every upload (compose, avatar/header, later the client API) goes through
//! [`crate::media::process`] — type sniffed from the bytes, metadata stripped, orientation applied,
//! oversized originals scaled down, preview and blurhash made — and only the result is written,
//! atomically, under DATA/media with an unguessable name. The bytes as uploaded are never stored.

use crate::app::App;
use crate::error::{Error, Result};

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

/// Runs the upload pipeline and stores the result. Errors: 413 above `max_upload_kib`, 415 when
/// the bytes are not an accepted image, 400 for truncated, damaged or oversized (bomb) images;
/// on any error nothing is left on disk.
pub fn save_image(app: &App, bytes: &[u8]) -> Result<Saved> {
    let limit = app.config.max_upload_kib as usize * 1024;
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge(limit as u64));
    }
    let p = crate::media::process(bytes, app.config.max_image_side)?;
    let token = crate::secret::token();
    let file = format!("{token}.{}", p.original.kind.ext());
    crate::fsutil::write_atomic(&app.media_dir().join(&file), &p.original.bytes)?;
    let preview = match &p.preview {
        Some(pv) => {
            let name = format!("{token}-small.{}", pv.kind.ext());
            if let Err(e) = crate::fsutil::write_atomic(&app.media_dir().join(&name), &pv.bytes) {
                let _ = std::fs::remove_file(app.media_dir().join(&file));
                return Err(e.into());
            }
            Some(name)
        }
        None => None,
    };
    Ok(Saved {
        file,
        preview,
        media_type: p.original.kind.media_type(),
        width: Some(p.width),
        height: Some(p.height),
        blurhash: Some(p.blurhash),
    })
}

/// A post attachment: an image through [`save_image`], or a video/audio file (sniffed by
/// [`crate::media::sniff_av`]) stored unchanged up to `max_media_kib`. Errors as `save_image`.
pub fn save_upload(app: &App, bytes: &[u8]) -> Result<Saved> {
    let Some((media_type, ext)) = crate::media::sniff_av(bytes) else {
        return save_image(app, bytes);
    };
    let limit = app.config.max_media_kib as usize * 1024;
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge(limit as u64));
    }
    let file = format!("{}.{ext}", crate::secret::token());
    crate::fsutil::write_atomic(&app.media_dir().join(&file), bytes)?;
    Ok(Saved { file, preview: None, media_type, width: None, height: None, blurhash: None })
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
