//! Uploaded images: type sniffed from the bytes (never trusted from the client), size-limited,
//! written atomically under DATA/media with an unguessable name.

use crate::app::App;
use crate::error::{Error, Result};

pub struct Saved {
    pub file: String,
    pub media_type: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// Width and height from the header of a PNG or GIF (cheap; others left unknown).
fn dimensions(bytes: &[u8], media_type: &str) -> (Option<u32>, Option<u32>) {
    match media_type {
        "image/png" if bytes.len() >= 24 => (
            Some(u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]])),
            Some(u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]])),
        ),
        "image/gif" if bytes.len() >= 10 => (
            Some(u16::from_le_bytes([bytes[6], bytes[7]]) as u32),
            Some(u16::from_le_bytes([bytes[8], bytes[9]]) as u32),
        ),
        _ => (None, None),
    }
}

pub fn save_image(app: &App, bytes: &[u8]) -> Result<Saved> {
    let limit = app.config.max_upload_kib as usize * 1024;
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge(limit as u64));
    }
    let (media_type, ext) =
        sniff(bytes).ok_or_else(|| Error::UnsupportedMediaType("Only PNG, JPEG, GIF and WebP images can be uploaded".into()))?;
    let file = format!("{}.{ext}", crate::secret::token());
    crate::fsutil::write_atomic(&app.media_dir().join(&file), bytes)?;
    let (width, height) = dimensions(bytes, media_type);
    Ok(Saved { file, media_type, width, height })
}

/// A safe media file name: what save_image makes, nothing that could walk out of the folder.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.')
}
