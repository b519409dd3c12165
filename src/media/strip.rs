//! Lossless metadata removal by walking the container: JPEG segments, PNG chunks, RIFF/WebP chunks
//! and GIF blocks. Each walker keeps a whitelist of what a picture needs to be drawn (pixels,
//! palette, transparency, colour profile, animation) and drops everything else: EXIF (GPS, camera,
//! serial numbers), XMP, IPTC/Photoshop, comments, text chunks, time stamps, vendor blocks and any
//! bytes after the end marker (phones append trailers there). A file that ends before its end
//! marker is refused as truncated.
//!
//! Why our own walkers and not `img-parts`: img-parts keeps everything after the first JPEG scan
//! header as one opaque "entropy" blob, so COM/APPn segments between progressive scans and trailers
//! after EOI (Samsung's SEFH, appended XMP) would survive. The walkers below are ~150 lines.

use super::MediaError;
use std::io::{Read, Write};

/// What a walker found: the stripped file, the EXIF orientation (1–8; 1 when absent) and, for
/// JPEG, the frame size from the SOFn header.
pub struct Stripped {
    pub bytes: Vec<u8>,
    pub orientation: u8,
    pub size: Option<(u32, u32)>,
}

/// Orientation tag 0x0112 of a TIFF-structured EXIF block (with or without the `Exif\0\0` prefix):
/// 1–8 (EXIF 2.32 §4.6.5); 1 when absent, out of range or the block is malformed. Reads the TIFF
/// header ("II*\0" little-endian or "MM\0*" big-endian), the offset of IFD0 and its 12-byte entries
/// (tag, type, count, value), wanting type SHORT (3) and count 1.
fn exif_orientation(tiff: &[u8]) -> u8 {
    let t = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let le = match t.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return 1,
    };
    let u16_at = |i: usize| t.get(i..i + 2).map(|b| if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) });
    let u32_at = |i: usize| t.get(i..i + 4).map(|b| if le { u32::from_le_bytes([b[0], b[1], b[2], b[3]]) } else { u32::from_be_bytes([b[0], b[1], b[2], b[3]]) });
    let found = (|| {
        let ifd = u32_at(4)? as usize;
        for k in 0..u16_at(ifd)? as usize {
            let e = ifd.checked_add(2 + 12 * k)?;
            if u16_at(e)? == 0x0112 && u16_at(e + 2)? == 3 && u32_at(e + 4)? == 1 {
                return u16_at(e + 8);
            }
        }
        None
    })();
    match found {
        Some(o @ 1..=8) => o as u8,
        _ => 1,
    }
}

/// JPEG (ITU T.81): keeps SOI, DQT, DHT, DAC, DRI, SOFn, SOS + entropy data, RSTn, EOI, and the
/// APP0 JFIF, APP2 ICC_PROFILE and APP14 Adobe segments (needed to draw colours right). Drops
/// APP1 (EXIF/XMP), APP13 (IPTC), every other APPn, COM, and anything after EOI.
///
/// Streams from a reader to a writer, in constant memory (one 64 KiB segment at most): a
/// 12 MP upload is walked straight from its file. Returns the EXIF orientation (1–8) and the
/// frame size. `out` receives the stripped file (pass `std::io::sink()` to only check and
/// measure); I/O errors of either side are [`MediaError::Damaged`].
pub fn jpeg_stream(r: impl Read, out: &mut impl Write) -> Result<(u8, Option<(u32, u32)>), MediaError> {
    let mut r = Bytes::new(r);
    let w = |out: &mut dyn Write, b: &[u8]| out.write_all(b).map_err(|_| MediaError::Damaged);
    if r.next()? != Some(0xff) || r.next()? != Some(0xd8) {
        return Err(MediaError::Unsupported);
    }
    w(out, &[0xff, 0xd8])?;
    let mut orientation = 1;
    let mut size = None;
    let mut body = Vec::new();
    loop {
        // Next marker: skip fill bytes (0xFF runs).
        if r.next()? != Some(0xff) {
            return Err(MediaError::Damaged);
        }
        let marker = loop {
            match r.next()? {
                Some(0xff) => continue,
                Some(m) => break m,
                None => return Err(MediaError::Truncated),
            }
        };
        match marker {
            0xd9 => {
                w(out, &[0xff, 0xd9])?;
                return Ok((orientation, size));
            }
            0xd0..=0xd7 | 0x01 => {
                w(out, &[0xff, marker])?;
                continue;
            }
            _ => {}
        }
        let (Some(hi), Some(lo)) = (r.next()?, r.next()?) else { return Err(MediaError::Truncated) };
        let len = u16::from_be_bytes([hi, lo]) as usize;
        if len < 2 {
            return Err(MediaError::Damaged);
        }
        body.clear();
        body.resize(len - 2, 0);
        r.read_exact(&mut body)?;
        let keep = match marker {
            0xe0 => body.starts_with(b"JFIF\0"),
            0xe2 => body.starts_with(b"ICC_PROFILE\0"),
            0xee => body.starts_with(b"Adobe"),
            0xe1 => {
                if body.starts_with(b"Exif\0\0") {
                    orientation = exif_orientation(&body);
                }
                false
            }
            0xe3..=0xef | 0xfe => false,
            _ => true,
        };
        if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) && body.len() >= 5 {
            let h = u16::from_be_bytes([body[1], body[2]]) as u32;
            let wd = u16::from_be_bytes([body[3], body[4]]) as u32;
            size = Some((wd, h));
        }
        if keep {
            w(out, &[0xff, marker, hi, lo])?;
            w(out, &body)?;
        }
        if marker == 0xda {
            // Entropy-coded data runs to the next marker that is not a stuffed 0x00 or RSTn; that
            // marker's two bytes are pushed back for the loop above.
            let mut chunk = Vec::with_capacity(8192);
            let mut cur = r.next()?.ok_or(MediaError::Truncated)?;
            loop {
                let nxt = r.next()?.ok_or(MediaError::Truncated)?;
                if cur == 0xff && nxt != 0x00 && !(0xd0..=0xd7).contains(&nxt) && nxt != 0xff {
                    r.push_back(nxt);
                    r.push_back(cur);
                    break;
                }
                chunk.push(cur);
                if chunk.len() == chunk.capacity() {
                    w(out, &chunk)?;
                    chunk.clear();
                }
                cur = nxt;
            }
            w(out, &chunk)?;
        }
    }
}

/// A byte reader with its own buffer and a two-byte push-back, for the JPEG walker.
struct Bytes<R> {
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    back: Vec<u8>,
}

impl<R: Read> Bytes<R> {
    fn new(r: R) -> Self {
        Bytes { r, buf: vec![0; 64 * 1024].into_boxed_slice(), pos: 0, len: 0, back: Vec::with_capacity(2) }
    }
    /// The next byte, `None` at the end of the input.
    #[inline]
    fn next(&mut self) -> Result<Option<u8>, MediaError> {
        if let Some(b) = self.back.pop() {
            return Ok(Some(b));
        }
        if self.pos == self.len {
            self.len = loop {
                match self.r.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(MediaError::Damaged),
                }
            };
            self.pos = 0;
            if self.len == 0 {
                return Ok(None);
            }
        }
        self.pos += 1;
        Ok(Some(self.buf[self.pos - 1]))
    }
    fn push_back(&mut self, b: u8) {
        self.back.push(b);
    }
    /// Fills `out`; [`MediaError::Truncated`] when the input ends first.
    fn read_exact(&mut self, out: &mut [u8]) -> Result<(), MediaError> {
        for o in out.iter_mut() {
            *o = self.next()?.ok_or(MediaError::Truncated)?;
        }
        Ok(())
    }
}

/// PNG (ISO 15948 + APNG): keeps IHDR, PLTE, IDAT, IEND, tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, bKGD,
/// pHYs and the APNG chunks acTL/fcTL/fdAT. Drops tEXt, zTXt, iTXt, eXIf, tIME and everything else.
/// The CRC of each kept chunk is copied as is (the decoder checks it when drawing).
pub fn png(b: &[u8]) -> Result<Stripped, MediaError> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const KEEP: &[&[u8; 4]] = &[
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"acTL",
        b"fcTL", b"fdAT",
    ];
    if !b.starts_with(SIG) {
        return Err(MediaError::Unsupported);
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(SIG);
    let mut orientation = 1;
    let mut i = SIG.len();
    loop {
        if i + 8 > b.len() {
            return Err(MediaError::Truncated);
        }
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let kind: [u8; 4] = [b[i + 4], b[i + 5], b[i + 6], b[i + 7]];
        let end = (i + 12).checked_add(len).ok_or(MediaError::Damaged)?;
        if end > b.len() {
            return Err(MediaError::Truncated);
        }
        if &kind == b"eXIf" {
            orientation = exif_orientation(&b[i + 8..i + 8 + len]);
        }
        if KEEP.contains(&&kind) {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if &kind == b"IEND" {
            let size = (out.len() >= 24).then(|| {
                (u32::from_be_bytes([out[16], out[17], out[18], out[19]]), u32::from_be_bytes([out[20], out[21], out[22], out[23]]))
            });
            return Ok(Stripped { bytes: out, orientation, size });
        }
    }
}

/// WebP (RIFF): keeps VP8, VP8L, VP8X, ALPH, ANIM, ANMF and ICCP; drops EXIF, XMP and unknown
/// chunks, clears the EXIF/XMP flags in VP8X and rewrites the RIFF size.
pub fn webp(b: &[u8]) -> Result<Stripped, MediaError> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return Err(MediaError::Unsupported);
    }
    let riff_len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if riff_len + 8 > b.len() {
        return Err(MediaError::Truncated);
    }
    let body_end = riff_len + 8;
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    let mut orientation = 1;
    let mut i = 12;
    while i < body_end {
        if i + 8 > body_end {
            return Err(MediaError::Truncated);
        }
        let kind = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        let end = i + 8 + len + (len & 1);
        if i + 8 + len > body_end {
            return Err(MediaError::Truncated);
        }
        let end = end.min(body_end);
        match kind {
            b"EXIF" => orientation = exif_orientation(&b[i + 8..i + 8 + len]),
            b"VP8X" => {
                let start = out.len();
                out.extend_from_slice(&b[i..end]);
                if len >= 1 {
                    out[start + 8] &= !(0x08 | 0x04);
                }
            }
            b"VP8 " | b"VP8L" | b"ALPH" | b"ANIM" | b"ANMF" | b"ICCP" => out.extend_from_slice(&b[i..end]),
            _ => {}
        }
        i = end;
    }
    let size = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(Stripped { bytes: out, orientation, size: None })
}

/// GIF (87a/89a): keeps the header, screen descriptor, colour tables, images, graphic control
/// extensions and the NETSCAPE2.0/ANIMEXTS1.0 loop extension; drops comments, plain-text
/// extensions and every other application extension (XMP, ICC, vendor data), and bytes after the
/// trailer.
pub fn gif(b: &[u8]) -> Result<Stripped, MediaError> {
    if b.len() < 13 || !(b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")) {
        return Err(MediaError::Unsupported);
    }
    let w = u16::from_le_bytes([b[6], b[7]]) as u32;
    let h = u16::from_le_bytes([b[8], b[9]]) as u32;
    let flags = b[10];
    let mut i = 13;
    if flags & 0x80 != 0 {
        i += 3 * (1 << ((flags & 7) + 1));
    }
    if i > b.len() {
        return Err(MediaError::Truncated);
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..i]);
    // Sub-blocks: length byte, data, … until a zero length. Returns the index after them.
    let sub_blocks = |mut j: usize| -> Result<usize, MediaError> {
        loop {
            let n = *b.get(j).ok_or(MediaError::Truncated)? as usize;
            j += 1 + n;
            if n == 0 {
                return Ok(j);
            }
            if j > b.len() {
                return Err(MediaError::Truncated);
            }
        }
    };
    loop {
        match *b.get(i).ok_or(MediaError::Truncated)? {
            0x3b => {
                out.push(0x3b);
                return Ok(Stripped { bytes: out, orientation: 1, size: Some((w, h)) });
            }
            0x2c => {
                if i + 10 > b.len() {
                    return Err(MediaError::Truncated);
                }
                let f = b[i + 9];
                let mut j = i + 10;
                if f & 0x80 != 0 {
                    j += 3 * (1 << ((f & 7) + 1));
                }
                j += 1; // LZW minimum code size
                if j > b.len() {
                    return Err(MediaError::Truncated);
                }
                let end = sub_blocks(j)?;
                out.extend_from_slice(&b[i..end]);
                i = end;
            }
            0x21 => {
                let label = *b.get(i + 1).ok_or(MediaError::Truncated)?;
                let end = sub_blocks(i + 2)?;
                let keep = match label {
                    0xf9 => true,
                    0xff => {
                        let id = b.get(i + 3..i + 14).unwrap_or(&[]);
                        id == b"NETSCAPE2.0" || id == b"ANIMEXTS1.0"
                    }
                    _ => false,
                };
                if keep {
                    out.extend_from_slice(&b[i..end]);
                }
                i = end;
            }
            _ => return Err(MediaError::Damaged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::exif_orientation;

    #[test]
    fn exif_orientation_in_both_byte_orders_and_broken_blocks() {
        // IFD0 with two entries (ImageWidth first, then Orientation), in each byte order.
        let block = |le: bool, typ: u16, value: u16| {
            let (u16b, u32b): (fn(u16) -> [u8; 2], fn(u32) -> [u8; 4]) =
                if le { (u16::to_le_bytes, u32::to_le_bytes) } else { (u16::to_be_bytes, u32::to_be_bytes) };
            let mut t = if le { b"II*\0".to_vec() } else { b"MM\0*".to_vec() };
            t.extend(u32b(8));
            t.extend(u16b(2));
            t.extend([u16b(0x0100), u16b(4)].concat());
            t.extend(u32b(1));
            t.extend(u32b(640));
            t.extend([u16b(0x0112), u16b(typ)].concat());
            t.extend(u32b(1));
            t.extend([u16b(value), [0, 0]].concat());
            t.extend(u32b(0));
            t
        };
        assert_eq!(exif_orientation(&block(true, 3, 6)), 6);
        assert_eq!(exif_orientation(&block(false, 3, 8)), 8);
        assert_eq!(exif_orientation(&[&b"Exif\0\0"[..], &block(false, 3, 3)].concat()), 3, "with the APP1 prefix");
        // Bad input: a value outside 1–8, a wrong type, a block cut inside IFD0, an IFD offset
        // past the end, a foreign header. Each reads as 1 (upright), never a panic.
        assert_eq!(exif_orientation(&block(true, 3, 9)), 1);
        assert_eq!(exif_orientation(&block(true, 4, 6)), 1);
        assert_eq!(exif_orientation(&block(true, 3, 6)[..24]), 1);
        let mut far = block(true, 3, 6);
        far[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(exif_orientation(&far), 1);
        assert_eq!(exif_orientation(b"JUNKJUNKJUNK"), 1);
    }
}
