//! The one upload pipeline for images (compose page, settings avatar/header, later the client
//! API): a reader in (an upload's file, or bytes), a clean picture out to writers. Pure: no
//! store, no network; the caller opens the files.
//!
//! Steps, in order:
//! 1. Type sniffed from the bytes (never the file name or the client's Content-Type): PNG, JPEG,
//!    GIF or WebP. SVG, HTML and anything else is refused.
//! 2. Metadata stripped losslessly by walking the container (`strip`): EXIF, XMP, IPTC, comments,
//!    text chunks, trailers. The original bytes are never kept.
//! 3. Size read from the header and checked BEFORE any pixel is decoded (decompression bombs).
//! 4. Decoded small: JPEG through DCT scaling (1/2, 1/4, 1/8: a 12-megapixel photo becomes a
//!    500×375 buffer for the preview, never a 36 MB full-size one); other formats within a pixel cap.
//! 5. When the EXIF orientation is not 1, or the picture is larger than `max_side`, it is
//!    re-encoded with the orientation applied (upright, orientation tag gone) and scaled down;
//!    otherwise the stripped file is the original.
//! 6. A preview (longest side [`PREVIEW_SIDE`]) for timelines and a blurhash (4×3 components).

pub mod emoji;
mod strip;

use image::DynamicImage;
use std::io::{BufRead, Cursor, Read, Seek, SeekFrom, Write};

/// Longest side of the timeline preview, in pixels.
pub const PREVIEW_SIDE: u32 = 400;
/// Largest JPEG accepted, in pixels (decoded at most at 1/8 scale, so ≈ 1.6 MP in memory).
pub const MAX_JPEG_PIXELS: u64 = 100_000_000;
/// Largest PNG/GIF/WebP accepted, in pixels: these decode at full size (RGBA: 4 bytes a pixel).
pub const MAX_OTHER_PIXELS: u64 = 4096 * 4096;

/// Why an upload was refused; each is a clear message for the owner, and nothing was stored.
#[derive(Debug, PartialEq, Eq)]
pub enum MediaError {
    /// Not PNG, JPEG, GIF or WebP by its bytes (SVG, HTML, a renamed file, …).
    Unsupported,
    /// The file ends before its end marker.
    Truncated,
    /// The structure or pixel data is broken.
    Damaged,
    /// The header claims more pixels than we decode (decompression bomb guard): width, height.
    TooManyPixels(u32, u32),
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::Unsupported => write!(f, "This file is not a PNG, JPEG, GIF or WebP image"),
            MediaError::Truncated => write!(f, "The image is cut short (truncated); nothing was saved"),
            MediaError::Damaged => write!(f, "The image is damaged and cannot be read; nothing was saved"),
            MediaError::TooManyPixels(w, h) => write!(f, "The image is too large ({w} × {h} pixels); nothing was saved"),
        }
    }
}

impl From<MediaError> for crate::error::Error {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Unsupported => crate::error::Error::UnsupportedMediaType(e.to_string()),
            _ => crate::error::Error::BadRequest(e.to_string()),
        }
    }
}

/// Image formats accepted for upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl Kind {
    /// Sniffed from the first bytes (magic numbers); `None` for anything else.
    pub fn sniff(b: &[u8]) -> Option<Kind> {
        if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if b.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Kind::Jpeg)
        } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            Some(Kind::Gif)
        } else if b.len() > 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
            Some(Kind::Webp)
        } else {
            None
        }
    }
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
        }
    }
    pub fn ext(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Gif => "gif",
            Kind::Webp => "webp",
        }
    }
    fn format(self) -> image::ImageFormat {
        match self {
            Kind::Jpeg => image::ImageFormat::Jpeg,
            Kind::Png => image::ImageFormat::Png,
            Kind::Gif => image::ImageFormat::Gif,
            Kind::Webp => image::ImageFormat::WebP,
        }
    }
}

/// An encoded file and its type.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub kind: Kind,
}

/// What the pipeline made of an upload.
pub struct Processed {
    /// The picture to store and send: metadata-free, upright, at most `max_side` on its longest side.
    pub original: Encoded,
    /// Width and height of `original`, in pixels.
    pub width: u32,
    pub height: u32,
    /// The timeline preview; `None` when the original is already no larger than [`PREVIEW_SIDE`].
    pub preview: Option<Encoded>,
    /// BlurHash (https://blurha.sh), 4×3 components, of the upright picture.
    pub blurhash: String,
}

/// Runs the pipeline on bytes in memory (archive imports, tests); see [`process_into`], which
/// uploads use to go from file to file.
pub fn process(bytes: &[u8], max_side: u32) -> Result<Processed, MediaError> {
    let (mut original, mut preview) = (Vec::new(), Vec::new());
    let w = process_into(Cursor::new(bytes), max_side, &mut original, &mut preview)?;
    Ok(Processed {
        original: Encoded { bytes: original, kind: w.kind },
        width: w.width,
        height: w.height,
        preview: w.preview.map(|kind| Encoded { bytes: preview, kind }),
        blurhash: w.blurhash,
    })
}

/// What [`process_into`] wrote.
pub struct Written {
    /// Type of the picture written to `original`.
    pub kind: Kind,
    /// Width and height of that picture, in pixels.
    pub width: u32,
    pub height: u32,
    /// Type of the preview written to `preview`; `None` (nothing written) when the original is
    /// already no larger than [`PREVIEW_SIDE`].
    pub preview: Option<Kind>,
    /// BlurHash (https://blurha.sh), 4×3 components, of the upright picture.
    pub blurhash: String,
}

/// Runs the pipeline from `src` (an upload's file) into `original` and `preview`. `max_side`:
/// longest side, in pixels, an original may keep (larger ones are scaled down). A JPEG is never
/// in memory as a whole: it is walked from `src` (twice when kept as is: once to check and
/// measure, once to write the stripped copy) and decoded from it at the smallest DCT scale that
/// gives the size needed; encoders write straight to the sinks. PNG/GIF/WebP files are read into
/// memory (the caller bounds them with `max_upload_kib`). Errors: [`MediaError`], each meaning
/// the sinks hold nothing usable.
pub fn process_into<R: Read + Seek>(mut src: R, max_side: u32, original: &mut impl Write, preview: &mut impl Write) -> Result<Written, MediaError> {
    let io = |_: std::io::Error| MediaError::Damaged;
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match src.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    let kind = Kind::sniff(&head[..n]).ok_or(MediaError::Unsupported)?;
    src.seek(SeekFrom::Start(0)).map_err(io)?;
    // Non-JPEG: the stripped file, in memory.
    let mut other: Option<Vec<u8>> = None;
    let (orientation, size) = match kind {
        Kind::Jpeg => strip::jpeg_stream(&mut src, &mut std::io::sink())?,
        _ => {
            let mut all = Vec::new();
            src.read_to_end(&mut all).map_err(io)?;
            let s = match kind {
                Kind::Png => strip::png(&all)?,
                Kind::Gif => strip::gif(&all)?,
                _ => strip::webp(&all)?,
            };
            drop(all);
            other = Some(s.bytes);
            (s.orientation, s.size)
        }
    };
    let (w, h) = match (size, &other) {
        (Some(s), _) => s,
        (None, Some(b)) => header_size(b, kind)?,
        (None, None) => return Err(MediaError::Damaged),
    };
    let cap = if kind == Kind::Jpeg { MAX_JPEG_PIXELS } else { MAX_OTHER_PIXELS };
    if w == 0 || h == 0 {
        return Err(MediaError::Damaged);
    }
    if w as u64 * h as u64 > cap {
        return Err(MediaError::TooManyPixels(w, h));
    }
    let max_side = max_side.max(PREVIEW_SIDE);
    let reencode = orientation != 1 || w.max(h) > max_side;
    // Decode only as large as needed: at most the re-encode size, or else the preview size.
    let scale = if reencode { Scale::Within(max_side) } else { Scale::Cover(PREVIEW_SIDE) };
    let img = match &other {
        Some(b) => {
            let img = decode(Cursor::new(b), kind, w, h, scale)?;
            if !reencode {
                original.write_all(b).map_err(io)?;
            }
            img
        }
        None => {
            if !reencode {
                // The stripped file is the original: walked again, straight into the sink.
                src.seek(SeekFrom::Start(0)).map_err(io)?;
                strip::jpeg_stream(&mut src, original)?;
            }
            // The upload itself is decoded: the segments strip drops carry no pixels.
            src.seek(SeekFrom::Start(0)).map_err(io)?;
            decode(std::io::BufReader::with_capacity(32 * 1024, &mut src), kind, w, h, scale)?
        }
    };
    drop(other);
    let turn = image::metadata::Orientation::from_exif(orientation).filter(|_| orientation != 1);
    // The preview from the decoded picture before any turn: `thumbnail` averages straight into
    // the small buffer (no full-size float copy as `resize` makes); only the small one is turned.
    let small = if img.width().max(img.height()) > PREVIEW_SIDE {
        let mut s = img.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE);
        if let Some(o) = turn {
            s.apply_orientation(o);
        }
        Some(s)
    } else {
        None
    };
    let tiny = match &small {
        Some(s) => s.thumbnail(32, 32),
        None => {
            let mut t = img.thumbnail(32, 32);
            if let Some(o) = turn {
                t.apply_orientation(o);
            }
            t
        }
    }
    .to_rgba8();
    let (out_kind, width, height) = if reencode {
        let big = if img.width().max(img.height()) > max_side {
            let b = fit(&img, max_side);
            drop(img);
            b
        } else {
            img
        };
        // The big picture is never turned in memory: the JPEG encoder reads it turned, so one
        // decoded buffer is all there is.
        let (width, height) = if (5..=8).contains(&orientation) { (big.height(), big.width()) } else { (big.width(), big.height()) };
        (encode(big, kind, orientation, original)?, width, height)
    } else {
        drop(img);
        (kind, w, h)
    };
    let preview = match small {
        Some(s) if width.max(height) > PREVIEW_SIDE => Some(encode(s, kind, 1, preview)?),
        _ => None,
    };
    let blurhash = blurhash::encode(4, 3, tiny.width(), tiny.height(), tiny.as_raw()).map_err(|_| MediaError::Damaged)?;
    Ok(Written { kind: out_kind, width, height, preview, blurhash })
}

/// Width and height from the header alone (no pixels decoded).
fn header_size(b: &[u8], kind: Kind) -> Result<(u32, u32), MediaError> {
    image::ImageReader::with_format(Cursor::new(b), kind.format()).into_dimensions().map_err(|_| MediaError::Damaged)
}

/// How large a JPEG is decoded (DCT scaling: 1/1, 1/2, 1/4, 1/8 of its size).
#[derive(Clone, Copy)]
enum Scale {
    /// The smallest scale whose longest side is at least this (previews: sharp enough).
    Cover(u32),
    /// The largest scale whose longest side is at most this (or 1/8 if none is; scaled down later).
    Within(u32),
}

/// Decodes a JPEG at the DCT scale `scale` asks for; other formats at full size (already capped by
/// [`MAX_OTHER_PIXELS`]). Animated GIF/WebP/APNG: the first frame.
fn decode(b: impl BufRead + Seek, kind: Kind, w: u32, h: u32, scale: Scale) -> Result<DynamicImage, MediaError> {
    if kind != Kind::Jpeg {
        let mut r = image::ImageReader::with_format(b, kind.format());
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_OTHER_PIXELS * 4 + (16 << 20));
        r.limits(limits);
        return r.decode().map_err(|e| match e {
            image::ImageError::Limits(_) => MediaError::TooManyPixels(w, h),
            image::ImageError::IoError(_) => MediaError::Truncated,
            _ => MediaError::Damaged,
        });
    }
    let mut d = jpeg_decoder::Decoder::new(b);
    d.read_info().map_err(|_| MediaError::Damaged)?;
    let (sw, sh) = scaled_request(w, h, scale);
    d.scale(sw, sh).map_err(|_| MediaError::Damaged)?;
    let px = d.decode().map_err(|_| MediaError::Damaged)?;
    let info = d.info().ok_or(MediaError::Damaged)?;
    let (ow, oh) = (info.width as u32, info.height as u32);
    use jpeg_decoder::PixelFormat as P;
    let img = match info.pixel_format {
        P::RGB24 => image::RgbImage::from_raw(ow, oh, px).map(DynamicImage::ImageRgb8),
        P::L8 => image::GrayImage::from_raw(ow, oh, px).map(DynamicImage::ImageLuma8),
        P::L16 => {
            let v: Vec<u16> = px.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            image::ImageBuffer::from_raw(ow, oh, v).map(DynamicImage::ImageLuma16)
        }
        P::CMYK32 => {
            let rgb: Vec<u8> = px
                .chunks_exact(4)
                .flat_map(|c| {
                    let k = c[3] as u32;
                    [c[0], c[1], c[2]].map(|x| (x as u32 * k / 255) as u8)
                })
                .collect();
            image::RgbImage::from_raw(ow, oh, rgb).map(DynamicImage::ImageRgb8)
        }
    };
    img.ok_or(MediaError::Damaged)
}

/// What to ask jpeg-decoder's `scale()` for; it picks the smallest 1/n (n = 1, 2, 4, 8) at least
/// as large as the request.
fn scaled_request(w: u32, h: u32, scale: Scale) -> (u16, u16) {
    let long = w.max(h) as u64;
    let n: u64 = match scale {
        Scale::Cover(t) => [8, 4, 2, 1].into_iter().find(|n| long.div_ceil(*n) >= t as u64).unwrap_or(1),
        Scale::Within(t) => [1, 2, 4, 8].into_iter().find(|n| long.div_ceil(*n) <= t as u64).unwrap_or(8),
    };
    let f = |x: u32| (x as u64).div_ceil(n).clamp(1, u16::MAX as u64) as u16;
    (f(w), f(h))
}

/// Scaled down (never up) so the longest side is at most `side`, keeping the aspect ratio.
/// `thumbnail` averages the source pixels of each output pixel in integers, straight into the
/// output buffer; `resize` (a separable filter) made a float copy of (new width × old height)
/// RGBA first: 167 MB for a 4096 × 4096 PNG brought to 2560.
fn fit(img: &DynamicImage, side: u32) -> DynamicImage {
    img.thumbnail(side, side)
}

/// JPEG sources become JPEG (quality 85); others PNG (lossless, keeps transparency). Metadata-free
/// by construction: the encoders write pixels only. `orientation` (EXIF 1–8) is applied: for JPEG
/// while encoding, row by row from the unturned buffer (no turned copy); for PNG in memory.
fn encode(mut img: DynamicImage, from: Kind, orientation: u8, out: &mut impl Write) -> Result<Kind, MediaError> {
    if from == Kind::Jpeg {
        if !matches!(img, DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_)) {
            img = DynamicImage::ImageRgb8(img.to_rgb8());
        }
        let channels = if matches!(img, DynamicImage::ImageLuma8(_)) { 1 } else { 3 };
        let src = Turned { px: img.as_bytes(), w: img.width(), h: img.height(), channels, orientation };
        if src.w == 0 || src.h == 0 || src.w > u16::MAX as u32 || src.h > u16::MAX as u32 {
            return Err(MediaError::Damaged);
        }
        jpeg_encoder::Encoder::new(out, 85).encode_image(src).map_err(|_| MediaError::Damaged)?;
        Ok(Kind::Jpeg)
    } else {
        if let Some(o) = image::metadata::Orientation::from_exif(orientation) {
            img.apply_orientation(o);
        }
        img.write_with_encoder(image::codecs::png::PngEncoder::new(out)).map_err(|_| MediaError::Damaged)?;
        Ok(Kind::Png)
    }
}

/// A decoded picture (8-bit gray or RGB, rows top to bottom) as the JPEG encoder sees it, turned
/// by its EXIF `orientation` (1–8; anything else is 1): each output row is gathered from the
/// source, so the turned picture never exists in memory.
struct Turned<'a> {
    px: &'a [u8],
    w: u32,
    h: u32,
    channels: usize,
    orientation: u8,
}

/// Where output pixel (x, y) of a picture turned by EXIF `orientation` comes from in the unturned
/// `w` × `h` source (the same turns as `image`'s `apply_orientation`).
fn turned_source(orientation: u8, w: u32, h: u32, x: u32, y: u32) -> (u32, u32) {
    match orientation {
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (y, h - 1 - x),
        7 => (w - 1 - y, h - 1 - x),
        8 => (w - 1 - y, x),
        _ => (x, y),
    }
}

impl jpeg_encoder::ImageBuffer for Turned<'_> {
    fn get_jpeg_color_type(&self) -> jpeg_encoder::JpegColorType {
        if self.channels == 1 { jpeg_encoder::JpegColorType::Luma } else { jpeg_encoder::JpegColorType::Ycbcr }
    }
    fn width(&self) -> u16 {
        (if (5..=8).contains(&self.orientation) { self.h } else { self.w }) as u16
    }
    fn height(&self) -> u16 {
        (if (5..=8).contains(&self.orientation) { self.w } else { self.h }) as u16
    }
    fn fill_buffers(&self, y: u16, b: &mut [Vec<u8>; 4]) {
        for x in 0..self.width() as u32 {
            let (sx, sy) = turned_source(self.orientation, self.w, self.h, x, y as u32);
            let i = (sy as usize * self.w as usize + sx as usize) * self.channels;
            if self.channels == 1 {
                b[0].push(self.px[i]);
            } else {
                let (l, cb, cr) = jpeg_encoder::rgb_to_ycbcr(self.px[i], self.px[i + 1], self.px[i + 2]);
                b[0].push(l);
                b[1].push(cb);
                b[2].push(cr);
            }
        }
    }
}

/// Video and audio accepted as attachments, sniffed from the bytes: `(media type, extension)`.
/// MP4/M4A (ISO BMFF `ftyp`), WebM (EBML with DocType "webm"), MP3 (ID3 tag or an MPEG audio
/// frame sync) and Ogg (`OggS`). These are passed through unchanged (no transcoding on a Pi).
pub fn sniff_av(b: &[u8]) -> Option<(&'static str, &'static str)> {
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        let brand = &b[8..12];
        return Some(if brand == b"M4A " || brand == b"M4B " { ("audio/mp4", "m4a") } else { ("video/mp4", "mp4") });
    }
    if b.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) && b[..b.len().min(64)].windows(4).any(|w| w == b"webm") {
        return Some(("video/webm", "webm"));
    }
    if b.starts_with(b"OggS") {
        return Some(("audio/ogg", "ogg"));
    }
    if b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xff && b[1] & 0xe6 == 0xe2) {
        return Some(("audio/mpeg", "mp3"));
    }
    None
}

/// The Mastodon extensions of a remote attachment (`blurhash`, `focalPoint` as `[x, y]` in
/// −1.0…1.0), checked: a blurhash is at most 100 characters of its base-83 alphabet, a focal point
/// is clamped and returned in hundredths (−100…100).
pub fn remote_extras(a: &serde_json::Value) -> (Option<String>, Option<(i16, i16)>) {
    let blurhash = a
        .get("blurhash")
        .and_then(serde_json::Value::as_str)
        .filter(|b| b.len() >= 6 && b.len() <= 100 && b.bytes().all(|c| c.is_ascii_alphanumeric() || b"#$%*+,-.:;=?@[]^_{|}~".contains(&c)))
        .map(str::to_string);
    let focal_point = a.get("focalPoint").and_then(serde_json::Value::as_array).and_then(|v| {
        let f = |i: usize| v.get(i).and_then(serde_json::Value::as_f64).filter(|x| x.is_finite()).map(|x| (x.clamp(-1.0, 1.0) * 100.0).round() as i16);
        Some((f(0)?, f(1)?))
    });
    (blurhash, focal_point)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_request_covers_target() {
        assert_eq!(scaled_request(4000, 3000, Scale::Cover(400)), (500, 375));
        assert_eq!(scaled_request(4000, 3000, Scale::Within(2560)), (2000, 1500));
        assert_eq!(scaled_request(300, 200, Scale::Cover(400)), (300, 200));
    }

    #[test]
    fn turned_source_matches_apply_orientation() {
        // Every EXIF orientation on a 3 × 2 picture with distinct pixels: the encoder's row-by-row
        // turn must give what `image` gives when turning in memory (a wrong mapping fails here).
        let src = image::RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8, y as u8, 0]));
        for o in 1..=8u8 {
            let mut want = DynamicImage::ImageRgb8(src.clone());
            want.apply_orientation(image::metadata::Orientation::from_exif(o).unwrap());
            let want = want.to_rgb8();
            for y in 0..want.height() {
                for x in 0..want.width() {
                    let (sx, sy) = turned_source(o, 3, 2, x, y);
                    assert_eq!(src.get_pixel(sx, sy), want.get_pixel(x, y), "orientation {o} at ({x}, {y})");
                }
            }
            let t = Turned { px: src.as_raw(), w: 3, h: 2, channels: 3, orientation: o };
            use jpeg_encoder::ImageBuffer;
            assert_eq!((t.width() as u32, t.height() as u32), want.dimensions(), "orientation {o}");
        }
    }

    #[test]
    fn refuses_svg_and_html() {
        assert_eq!(process(b"<svg xmlns='http://www.w3.org/2000/svg'/>", 2048).err(), Some(MediaError::Unsupported));
        assert_eq!(process(b"<!doctype html><script>alert(1)</script>", 2048).err(), Some(MediaError::Unsupported));
    }

    #[test]
    fn refuses_png_bomb_from_header() {
        // IHDR claiming 100,000 × 100,000 pixels, one tiny IDAT: refused before any decode.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&[0, 0, 0, 0]);
        };
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00]);
        chunk(&mut png, b"IEND", &[]);
        assert_eq!(process(&png, 2048).err(), Some(MediaError::TooManyPixels(100_000, 100_000)));
    }
}
