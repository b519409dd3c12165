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
//!    500×375 buffer for the preview, never a 36 MB full-size one); PNG and plain GIF row by
//!    row, area-averaged to the size needed while they decode (`pixels::Shrink`), so a 4096²
//!    PNG never needs its 64 MiB RGBA buffer; interlaced PNG/GIF and WebP within a pixel cap.
//! 5. When the EXIF orientation is not 1, or the picture is larger than `max_side`, it is
//!    re-encoded with the orientation applied (upright, orientation tag gone) and scaled down;
//!    otherwise the stripped file is the original.
//! 6. A preview (longest side [`PREVIEW_SIDE`]) for timelines and a blurhash (4×3 components).

mod codecs;
pub mod emoji;
mod pixels;
mod strip;

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom, Write};

/// Longest side of the timeline preview, in pixels.
pub const PREVIEW_SIDE: u32 = 400;
/// Largest JPEG accepted, in pixels (decoded at most at 1/8 scale, so ≈ 1.6 MP in memory).
pub const MAX_JPEG_PIXELS: u64 = 100_000_000;
/// Largest PNG/GIF/WebP accepted, in pixels. PNG and plain GIF are scaled while they decode, one
/// row at a time; interlaced PNG/GIF and WebP decode at full size (RGBA: 4 bytes a pixel).
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
        (None, Some(b)) if kind == Kind::Webp => codecs::webp_size(b)?,
        (None, Some(_)) => return Err(MediaError::Damaged),
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
    // `small`: the picture at preview size, not yet turned.
    let (out_kind, width, height, small) = match other {
        Some(b) => {
            let mut rows = codecs::Rows::new(&b, kind, w, h)?;
            let ch = rows.channels;
            if !reencode {
                // Kept as is: decoded only to make the preview, scaled while decoding.
                let small = shrink_rows(&mut rows, PREVIEW_SIDE)?;
                drop(rows);
                original.write_all(&b).map_err(io)?;
                (kind, w, h, small)
            } else if orientation == 1 {
                // Only too large: scaled while decoding, each scaled row straight into the PNG
                // encoder and into the preview's scaler. No picture-sized buffer at all.
                let (bw, bh) = pixels::fit_size(w, h, max_side);
                let (pw, ph) = pixels::fit_size(bw, bh, PREVIEW_SIDE);
                let mut big = pixels::Shrink::new(w, h, bw, bh, ch);
                let mut prev = pixels::Shrink::new(bw, bh, pw, ph, ch);
                let mut small = Vec::with_capacity(pw as usize * ph as usize * ch);
                let mut png = codecs::png_writer(&mut *original, bw, bh, ch)?;
                let mut enc = png.stream_writer().map_err(|_| MediaError::Damaged)?;
                while let Some(row) = rows.next()? {
                    big.push(row, |o| {
                        enc.write_all(o).map_err(|_| MediaError::Damaged)?;
                        prev.push(o, |p| Ok(small.extend_from_slice(p)))
                    })?;
                }
                enc.finish().and_then(|_| png.finish()).map_err(|_| MediaError::Damaged)?;
                (Kind::Png, bw, bh, pixels::Pixels { w: pw, h: ph, channels: ch, px: small })
            } else {
                // Turned: the scaled picture in memory (at most `max_side` square), turned
                // row by row while encoding.
                let big = shrink_rows(&mut rows, max_side)?;
                drop(rows);
                drop(b);
                codecs::write_png(&big, orientation, original)?;
                let (tw, th) = pixels::turned_size(orientation, big.w, big.h);
                (Kind::Png, tw, th, big.fit(PREVIEW_SIDE))
            }
        }
        None => {
            // Decode only as large as needed: at most the re-encode size, or else the preview size.
            let scale = if reencode { Scale::Within(max_side) } else { Scale::Cover(PREVIEW_SIDE) };
            if !reencode {
                // The stripped file is the original: walked again, straight into the sink.
                src.seek(SeekFrom::Start(0)).map_err(io)?;
                strip::jpeg_stream(&mut src, original)?;
            }
            // The upload itself is decoded: the segments strip drops carry no pixels.
            src.seek(SeekFrom::Start(0)).map_err(io)?;
            let img = decode_jpeg(std::io::BufReader::with_capacity(32 * 1024, &mut src), w, h, scale)?;
            // The preview averaged straight from the decoded picture, before any turn.
            let small = img.fit(PREVIEW_SIDE);
            if reencode {
                let big = if img.w.max(img.h) > max_side {
                    let b = img.fit(max_side);
                    drop(img);
                    b
                } else {
                    img
                };
                // The big picture is never turned in memory: the JPEG encoder reads it turned,
                // so one decoded buffer is all there is.
                let (tw, th) = pixels::turned_size(orientation, big.w, big.h);
                write_jpeg(&big, orientation, original)?;
                (Kind::Jpeg, tw, th, small)
            } else {
                (Kind::Jpeg, w, h, small)
            }
        }
    };
    let small = if orientation != 1 { small.turned(orientation) } else { small };
    let preview = if width.max(height) > PREVIEW_SIDE {
        // JPEG sources get a JPEG preview (quality 85); the others a PNG (lossless, transparency).
        if out_kind == Kind::Jpeg {
            write_jpeg(&small, 1, preview)?;
            Some(Kind::Jpeg)
        } else {
            codecs::write_png(&small, 1, preview)?;
            Some(Kind::Png)
        }
    } else {
        None
    };
    let tiny = small.fit(32);
    let blurhash = blurhash::encode(4, 3, tiny.w, tiny.h, &tiny.to_rgba()).map_err(|_| MediaError::Damaged)?;
    Ok(Written { kind: out_kind, width, height, preview, blurhash })
}

/// Decodes all rows, scaled down (never up) so the longest side is at most `side`.
fn shrink_rows(rows: &mut codecs::Rows, side: u32) -> Result<pixels::Pixels, MediaError> {
    let (tw, th) = pixels::fit_size(rows.w, rows.h, side);
    let ch = rows.channels;
    let mut s = pixels::Shrink::new(rows.w, rows.h, tw, th, ch);
    let mut px = Vec::with_capacity(tw as usize * th as usize * ch);
    while let Some(row) = rows.next()? {
        s.push(row, |o| Ok(px.extend_from_slice(o)))?;
    }
    Ok(pixels::Pixels { w: tw, h: th, channels: ch, px })
}

/// How large a JPEG is decoded (DCT scaling: 1/1, 1/2, 1/4, 1/8 of its size).
#[derive(Clone, Copy)]
enum Scale {
    /// The smallest scale whose longest side is at least this (previews: sharp enough).
    Cover(u32),
    /// The largest scale whose longest side is at most this (or 1/8 if none is; scaled down later).
    Within(u32),
}

/// Decodes a JPEG at the DCT scale `scale` asks for, as 8-bit grey or RGB (16-bit grey keeps its
/// high byte, CMYK is mixed down to RGB).
fn decode_jpeg(b: impl BufRead, w: u32, h: u32, scale: Scale) -> Result<pixels::Pixels, MediaError> {
    let mut d = jpeg_decoder::Decoder::new(b);
    d.read_info().map_err(|_| MediaError::Damaged)?;
    let (sw, sh) = scaled_request(w, h, scale);
    d.scale(sw, sh).map_err(|_| MediaError::Damaged)?;
    let px = d.decode().map_err(|_| MediaError::Damaged)?;
    let info = d.info().ok_or(MediaError::Damaged)?;
    let (ow, oh) = (info.width as u32, info.height as u32);
    use jpeg_decoder::PixelFormat as P;
    let (channels, px) = match info.pixel_format {
        P::RGB24 => (3, px),
        P::L8 => (1, px),
        P::L16 => (1, px.chunks_exact(2).map(|c| c[0]).collect()),
        P::CMYK32 => (
            3,
            px.chunks_exact(4)
                .flat_map(|c| {
                    let k = c[3] as u32;
                    [c[0], c[1], c[2]].map(|x| (x as u32 * k / 255) as u8)
                })
                .collect(),
        ),
    };
    if ow == 0 || oh == 0 || px.len() != ow as usize * oh as usize * channels {
        return Err(MediaError::Damaged);
    }
    Ok(pixels::Pixels { w: ow, h: oh, channels, px })
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

/// A picture as JPEG (quality 85) into `out`, turned by EXIF `orientation` (1–8) while encoding,
/// row by row from the unturned buffer (no turned copy). Metadata-free by construction: the
/// encoder writes pixels only. `p` is grey or RGB (what [`decode_jpeg`] gives).
fn write_jpeg(p: &pixels::Pixels, orientation: u8, out: &mut impl Write) -> Result<(), MediaError> {
    let src = Turned { px: &p.px, w: p.w, h: p.h, channels: p.channels, orientation };
    if src.w == 0 || src.h == 0 || src.w > u16::MAX as u32 || src.h > u16::MAX as u32 || !matches!(p.channels, 1 | 3) {
        return Err(MediaError::Damaged);
    }
    jpeg_encoder::Encoder::new(out, 85).encode_image(src).map_err(|_| MediaError::Damaged)
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
            let (sx, sy) = pixels::turned_source(self.orientation, self.w, self.h, x, y as u32);
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
    fn jpeg_rows_are_gathered_turned() {
        // Every EXIF orientation on a 3 × 2 RGB picture with distinct pixels: the JPEG encoder's
        // row-by-row gathering must give the same picture as turning in memory (whose layouts
        // pixels.rs checks against the EXIF definitions); a wrong size or mapping fails here.
        let px: Vec<u8> = (0..6u8).flat_map(|i| [i * 40, 255 - i * 40, i]).collect();
        let src = pixels::Pixels { w: 3, h: 2, channels: 3, px: px.clone() };
        use jpeg_encoder::ImageBuffer;
        for o in 1..=8u8 {
            let want = src.turned(o);
            let t = Turned { px: &px, w: 3, h: 2, channels: 3, orientation: o };
            assert_eq!((t.width() as u32, t.height() as u32), (want.w, want.h), "orientation {o}");
            for y in 0..want.h {
                let mut b: [Vec<u8>; 4] = Default::default();
                t.fill_buffers(y as u16, &mut b);
                let ycc: Vec<u8> = want.row(y).chunks_exact(3).map(|p| jpeg_encoder::rgb_to_ycbcr(p[0], p[1], p[2]).0).collect();
                assert_eq!(b[0], ycc, "orientation {o}, row {y}");
            }
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
