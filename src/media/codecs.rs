//! PNG, GIF and WebP through the image-rs codec crates (`png`, `gif`, `image-webp`) directly,
//! without `image` on top (issue 15: its generic buffers and colour management cost ~1 MiB of
//! binary on the Pi). Pixels come out as 8-bit rows top to bottom ([`Rows`]); PNG and
//! non-interlaced GIF one row at a time from the decoder, so a large picture can be scaled down
//! while it is decoded without ever being whole in memory. Interlaced PNG/GIF and WebP are
//! decoded whole first (their formats give rows out of order), within [`MAX_OTHER_PIXELS`].

use super::pixels::Pixels;
use super::{Kind, MediaError, MAX_OTHER_PIXELS};
use std::io::{Cursor, Write};

/// Most a decoder may allocate: the full-size RGBA picture plus room for its own tables.
const DECODER_BYTES: u64 = MAX_OTHER_PIXELS * 4 + (16 << 20);

/// Width and height of a WebP from its headers alone (no pixels decoded).
pub fn webp_size(b: &[u8]) -> Result<(u32, u32), MediaError> {
    image_webp::WebPDecoder::new(Cursor::new(b)).map(|d| d.dimensions()).map_err(|_| MediaError::Damaged)
}

/// The decoded rows of a PNG, GIF or WebP (animated ones: the first frame), 8 bits a sample.
pub struct Rows<'a> {
    pub w: u32,
    pub h: u32,
    /// Samples a pixel: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
    pub channels: usize,
    src: Src<'a>,
    y: u32,
}

enum Src<'a> {
    /// Non-interlaced PNG, straight from the decoder.
    Png(Box<png::Reader<Cursor<&'a [u8]>>>),
    /// The first GIF frame, put on the logical screen (transparent outside it, as `image` did).
    /// `frame` holds the whole frame when it is interlaced; otherwise lines come from the decoder.
    Gif { d: Box<gif::Decoder<Cursor<&'a [u8]>>>, left: u32, top: u32, fw: u32, fh: u32, frame: Option<Vec<u8>>, line: Vec<u8>, canvas: Vec<u8> },
    /// Decoded whole (interlaced PNG, WebP).
    Whole(Pixels),
}

impl<'a> Rows<'a> {
    /// Starts decoding `b`, whose header said `w` × `h` (already checked against the pixel cap).
    /// Errors: `Truncated` when the data ends early, `TooManyPixels` when a decoder's memory
    /// limit is hit, `Damaged` for anything else that is wrong.
    pub fn new(b: &'a [u8], kind: Kind, w: u32, h: u32) -> Result<Rows<'a>, MediaError> {
        let too_many = MediaError::TooManyPixels(w, h);
        match kind {
            Kind::Png => {
                let png_err = |e: png::DecodingError| match e {
                    png::DecodingError::IoError(_) => MediaError::Truncated,
                    png::DecodingError::LimitsExceeded => MediaError::TooManyPixels(w, h),
                    _ => MediaError::Damaged,
                };
                let mut d = png::Decoder::new_with_limits(Cursor::new(b), png::Limits { bytes: DECODER_BYTES as usize });
                // Palette and low bit depths expanded, tRNS as alpha, 16 bits cut to 8.
                d.set_transformations(png::Transformations::normalize_to_color8());
                let mut r = d.read_info().map_err(png_err)?;
                let (colour, _) = r.output_color_type();
                let channels = colour.samples();
                let (pw, ph) = r.info().size();
                if (pw, ph) != (w, h) {
                    return Err(MediaError::Damaged);
                }
                let src = if r.info().interlaced {
                    let mut px = vec![0; r.output_buffer_size().ok_or(too_many)?];
                    r.next_frame(&mut px).map_err(png_err)?;
                    Src::Whole(Pixels { w, h, channels, px })
                } else {
                    Src::Png(Box::new(r))
                };
                Ok(Rows { w, h, channels, src, y: 0 })
            }
            Kind::Gif => {
                let gif_err = |e: gif::DecodingError| match e {
                    gif::DecodingError::Io(_) => MediaError::Truncated,
                    gif::DecodingError::MemoryLimit | gif::DecodingError::OutOfMemory => MediaError::TooManyPixels(w, h),
                    _ => MediaError::Damaged,
                };
                let mut o = gif::DecodeOptions::new();
                o.set_color_output(gif::ColorOutput::RGBA);
                o.set_memory_limit(gif::MemoryLimit::Bytes(std::num::NonZeroU64::new(DECODER_BYTES).expect("non-zero")));
                let mut d = o.read_info(Cursor::new(b)).map_err(gif_err)?;
                let f = d.next_frame_info().map_err(gif_err)?.ok_or(MediaError::Damaged)?;
                let (left, top, fw, fh, interlaced) = (f.left as u32, f.top as u32, f.width as u32, f.height as u32, f.interlaced);
                if fw as u64 * fh as u64 > MAX_OTHER_PIXELS {
                    return Err(MediaError::TooManyPixels(fw, fh));
                }
                let frame = if interlaced {
                    let mut px = vec![0; d.buffer_size()];
                    d.read_into_buffer(&mut px).map_err(gif_err)?;
                    Some(px)
                } else {
                    None
                };
                let line = if interlaced { Vec::new() } else { vec![0; fw as usize * 4] };
                Ok(Rows { w, h, channels: 4, src: Src::Gif { d: Box::new(d), left, top, fw, fh, frame, line, canvas: vec![0; w as usize * 4] }, y: 0 })
            }
            Kind::Webp => {
                let webp_err = |e: image_webp::DecodingError| match e {
                    image_webp::DecodingError::IoError(_) => MediaError::Truncated,
                    image_webp::DecodingError::MemoryLimitExceeded | image_webp::DecodingError::ImageTooLarge => MediaError::TooManyPixels(w, h),
                    _ => MediaError::Damaged,
                };
                let mut d = image_webp::WebPDecoder::new(Cursor::new(b)).map_err(webp_err)?;
                d.set_memory_limit(DECODER_BYTES as usize);
                if d.dimensions() != (w, h) {
                    return Err(MediaError::Damaged);
                }
                let channels = if d.has_alpha() { 4 } else { 3 };
                let mut px = vec![0; d.output_buffer_size().ok_or(too_many)?];
                d.read_image(&mut px).map_err(webp_err)?;
                Ok(Rows { w, h, channels, src: Src::Whole(Pixels { w, h, channels, px }), y: 0 })
            }
            Kind::Jpeg => Err(MediaError::Unsupported),
        }
    }

    /// The next row (`w × channels` samples), or `None` after the last.
    pub fn next(&mut self) -> Result<Option<&[u8]>, MediaError> {
        if self.y >= self.h {
            return Ok(None);
        }
        let y = self.y;
        self.y += 1;
        let (w, h) = (self.w, self.h);
        match &mut self.src {
            Src::Whole(p) => Ok(Some(p.row(y))),
            Src::Png(r) => match r.next_row() {
                Ok(Some(row)) => Ok(Some(row.data())),
                Ok(None) => Err(MediaError::Truncated),
                Err(png::DecodingError::IoError(_)) => Err(MediaError::Truncated),
                Err(png::DecodingError::LimitsExceeded) => Err(MediaError::TooManyPixels(w, h)),
                Err(_) => Err(MediaError::Damaged),
            },
            Src::Gif { d, left, top, fw, fh, frame, line, canvas } => {
                canvas.fill(0);
                // An empty frame (0 wide) has no data to read: the row stays transparent.
                if y >= *top && y - *top < *fh && *fw > 0 {
                    let fy = (y - *top) as usize;
                    let fline = match frame {
                        Some(px) => &px[fy * *fw as usize * 4..(fy + 1) * *fw as usize * 4],
                        None => {
                            match d.fill_buffer(line) {
                                Ok(true) => {}
                                Ok(false) | Err(gif::DecodingError::Io(_)) => return Err(MediaError::Truncated),
                                Err(_) => return Err(MediaError::Damaged),
                            }
                            &line[..]
                        }
                    };
                    // The part of the frame's line that lies on the screen.
                    if *left < w {
                        let n = (*fw).min(w - *left) as usize * 4;
                        canvas[*left as usize * 4..*left as usize * 4 + n].copy_from_slice(&fline[..n]);
                    }
                }
                Ok(Some(&canvas[..]))
            }
        }
    }
}

/// A PNG encoder for `w` × `h` pixels, 8 bits a sample, 1–4 channels, header written to `out`.
/// Rows go through its `stream_writer()` (`w × channels` samples each); finish that, then this
/// (IEND). The file holds IHDR, IDAT and IEND only: no metadata by construction.
pub fn png_writer<W: Write>(out: W, w: u32, h: u32, channels: usize) -> Result<png::Writer<W>, MediaError> {
    let mut e = png::Encoder::new(out, w, h);
    e.set_color(match channels {
        1 => png::ColorType::Grayscale,
        2 => png::ColorType::GrayscaleAlpha,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    });
    e.set_depth(png::BitDepth::Eight);
    e.write_header().map_err(|_| MediaError::Damaged)
}

/// A whole picture as PNG into `out`, turned by EXIF `orientation` (1–8) row by row while
/// encoding: the turned picture never exists in memory.
pub fn write_png(p: &Pixels, orientation: u8, out: &mut impl Write) -> Result<(), MediaError> {
    let (tw, th) = super::pixels::turned_size(orientation, p.w, p.h);
    let mut w = png_writer(out, tw, th, p.channels)?;
    let mut s = w.stream_writer().map_err(|_| MediaError::Damaged)?;
    let c = p.channels;
    let mut row = Vec::with_capacity(tw as usize * c);
    for y in 0..th {
        if orientation <= 1 || orientation > 8 {
            s.write_all(p.row(y)).map_err(|_| MediaError::Damaged)?;
            continue;
        }
        row.clear();
        for x in 0..tw {
            let (sx, sy) = super::pixels::turned_source(orientation, p.w, p.h, x, y);
            let i = (sy as usize * p.w as usize + sx as usize) * c;
            row.extend_from_slice(&p.px[i..i + c]);
        }
        s.write_all(&row).map_err(|_| MediaError::Damaged)?;
    }
    s.finish().and_then(|_| w.finish()).map_err(|_| MediaError::Damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{process, Kind};

    /// All rows of `b` as decoded, with the channel count.
    fn rows(b: &[u8], kind: Kind, w: u32, h: u32) -> (usize, Vec<u8>) {
        let mut r = Rows::new(b, kind, w, h).unwrap();
        let mut px = Vec::new();
        while let Some(row) = r.next().unwrap() {
            px.extend_from_slice(row);
        }
        (r.channels, px)
    }

    fn png(w: u32, h: u32, colour: png::ColorType, depth: png::BitDepth, palette: Option<(&[u8], &[u8])>, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(colour);
        e.set_depth(depth);
        if let Some((plte, trns)) = palette {
            e.set_palette(plte.to_vec());
            e.set_trns(trns.to_vec());
        }
        e.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    #[test]
    fn every_png_colour_type_comes_out_as_8_bit_samples() {
        use png::{BitDepth as D, ColorType as C};
        // Bad input for a decoder that passes samples through: 16-bit samples (the high byte
        // must be kept), a palette with a transparent entry (must become RGBA), 1-bit grey.
        let cases: Vec<(&str, Vec<u8>, usize, Vec<u8>)> = vec![
            ("grey 8", png(2, 1, C::Grayscale, D::Eight, None, &[10, 200]), 1, vec![10, 200]),
            ("grey + alpha 8", png(2, 1, C::GrayscaleAlpha, D::Eight, None, &[10, 0, 200, 255]), 2, vec![10, 0, 200, 255]),
            ("grey 1-bit", png(2, 1, C::Grayscale, D::One, None, &[0b1000_0000]), 1, vec![255, 0]),
            ("RGB 16", png(1, 1, C::Rgb, D::Sixteen, None, &[0x12, 0x34, 0xab, 0xcd, 0xff, 0x00]), 3, vec![0x12, 0xab, 0xff]),
            ("RGBA 16", png(1, 1, C::Rgba, D::Sixteen, None, &[1, 2, 3, 4, 5, 6, 0x80, 0]), 4, vec![1, 3, 5, 0x80]),
            (
                "palette + tRNS",
                png(2, 1, C::Indexed, D::Eight, Some((&[255, 0, 0, 0, 0, 255], &[0])), &[0, 1]),
                4,
                vec![255, 0, 0, 0, 0, 0, 255, 255],
            ),
        ];
        for (what, file, channels, want) in cases {
            let (w, h) = (want.len() as u32 / channels as u32, 1);
            assert_eq!(rows(&file, Kind::Png, w, h), (channels, want), "{what}");
        }
    }

    fn gif(frames: &[(u16, u16, u16, u16, bool, Vec<u8>)]) -> Vec<u8> {
        // Palette: 0 red, 1 green, 2 blue, 3 (transparent in the first frame) black.
        let mut out = Vec::new();
        {
            let mut e = gif::Encoder::new(&mut out, 4, 4, &[255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0]).unwrap();
            for (i, (left, top, width, height, interlaced, buffer)) in frames.iter().enumerate() {
                let f = gif::Frame {
                    left: *left,
                    top: *top,
                    width: *width,
                    height: *height,
                    interlaced: *interlaced,
                    transparent: (i == 0).then_some(3),
                    buffer: buffer.into(),
                    ..Default::default()
                };
                e.write_frame(&f).unwrap();
            }
        }
        out
    }

    #[test]
    fn gif_first_frame_on_the_logical_screen() {
        const R: [u8; 4] = [255, 0, 0, 255];
        const G: [u8; 4] = [0, 255, 0, 255];
        const B: [u8; 4] = [0, 0, 255, 255];
        const T: [u8; 4] = [0, 0, 0, 0];
        // Animated, 4 × 4 screen: a 2 × 3 first frame at (1, 1) with a transparent pixel, then a
        // full green frame that must not show. Outside the first frame: transparent.
        let anim = gif(&[(1, 1, 2, 3, false, vec![0, 1, 2, 3, 0, 0]), (0, 0, 4, 4, false, vec![1; 16])]);
        let want: Vec<u8> = [[T, T, T, T], [T, R, G, T], [T, B, T, T], [T, R, R, T]].concat().concat();
        assert_eq!(rows(&anim, Kind::Gif, 4, 4), (4, want));
        // Interlaced: rows stored in pass order 0, 2, 1, 3 come out top to bottom.
        let inter = gif(&[(0, 0, 4, 4, true, [[0; 4], [2; 4], [1; 4], [3; 4]].concat())]);
        let want: Vec<u8> = [[R; 4], [G; 4], [B; 4], [T; 4]].concat().concat();
        assert_eq!(rows(&inter, Kind::Gif, 4, 4), (4, want));
        // A frame reaching past the screen is cut at its edge, not wrapped into the next row.
        let wide = gif(&[(2, 0, 4, 1, false, vec![0, 1, 2, 0])]);
        let want: Vec<u8> = [[T, T, R, G], [T; 4], [T; 4], [T; 4]].concat().concat();
        assert_eq!(rows(&wide, Kind::Gif, 4, 4), (4, want));
        // Cut inside the first frame's data: refused, never a picture with missing rows.
        let cut = &anim[..anim.len() / 2];
        let mut r = Rows::new(cut, Kind::Gif, 4, 4);
        let err = loop {
            match r.as_mut().map_err(|e| std::mem::replace(e, MediaError::Damaged)).and_then(|r| r.next().map(|o| o.is_some())) {
                Ok(true) => continue,
                Ok(false) => panic!("a cut GIF decoded"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, MediaError::Truncated | MediaError::Damaged), "{err:?}");
    }

    #[test]
    fn webp_decodes_with_and_without_alpha() {
        let rgba: Vec<u8> = (0..12u8).flat_map(|i| [i * 20, 255 - i * 20, i, if i % 3 == 0 { 0 } else { 255 }]).collect();
        let mut file = Vec::new();
        image_webp::WebPEncoder::new(&mut file).encode(&rgba, 4, 3, image_webp::ColorType::Rgba8).unwrap();
        assert_eq!(webp_size(&file).unwrap(), (4, 3));
        assert_eq!(rows(&file, Kind::Webp, 4, 3), (4, rgba.clone()), "lossless RGBA, exactly");
        let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        let mut file = Vec::new();
        image_webp::WebPEncoder::new(&mut file).encode(&rgb, 4, 3, image_webp::ColorType::Rgb8).unwrap();
        assert_eq!(rows(&file, Kind::Webp, 4, 3), (3, rgb));
        // A header that lies about the size is refused.
        assert!(Rows::new(&file, Kind::Webp, 5, 3).is_err());
    }

    #[test]
    fn animated_gif_within_the_size_is_kept_with_its_frames() {
        // 500 × 20, two frames: the original is the (stripped) GIF itself, still animated; the
        // preview is a PNG of the first frame, 400 × 16.
        let mut out = Vec::new();
        {
            let mut e = gif::Encoder::new(&mut out, 500, 20, &[255, 0, 0, 0, 0, 255]).unwrap();
            for i in 0..2u8 {
                let f = gif::Frame { width: 500, height: 20, buffer: vec![i; 500 * 20].into(), ..Default::default() };
                e.write_frame(&f).unwrap();
            }
        }
        let p = process(&out, 2048).unwrap();
        assert_eq!((p.original.kind, p.width, p.height), (Kind::Gif, 500, 20));
        let mut d = gif::DecodeOptions::new().read_info(&p.original.bytes[..]).unwrap();
        let mut frames = 0;
        while d.read_next_frame().unwrap().is_some() {
            frames += 1;
        }
        assert_eq!(frames, 2, "both frames kept");
        let pv = p.preview.expect("a preview");
        assert_eq!(pv.kind, Kind::Png);
        let (colour, w, h, px) = {
            let mut r = png::Decoder::new(std::io::Cursor::new(&pv.bytes[..])).read_info().unwrap();
            let mut px = vec![0; r.output_buffer_size().unwrap()];
            let info = r.next_frame(&mut px).unwrap();
            (info.color_type, info.width, info.height, px)
        };
        assert_eq!((colour, w, h), (png::ColorType::Rgba, 400, 16));
        assert!(px.chunks_exact(4).all(|p| p == [255, 0, 0, 255]), "the first frame (red), not the second (blue)");
    }

    #[test]
    fn a_turned_16_bit_png_is_stored_upright_in_8_bits() {
        // 600 × 300 RGBA, 16 bits, left half opaque red, right half transparent blue; EXIF
        // orientation 6 (turned 90° clockwise): stored as 300 × 600 8-bit RGBA, red on top.
        let mut px = Vec::new();
        for _ in 0..300 {
            for x in 0..600 {
                px.extend_from_slice(if x < 300 { &[255, 255, 0, 0, 0, 0, 255, 255] } else { &[0, 0, 0, 0, 255, 255, 0, 0] });
            }
        }
        let plain = png(600, 300, png::ColorType::Rgba, png::BitDepth::Sixteen, None, &px);
        let mut exif = b"MM\0*\0\0\0\x08\0\x01".to_vec();
        exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
        let mut file = plain[..33].to_vec();
        file.extend_from_slice(&(exif.len() as u32).to_be_bytes());
        file.extend_from_slice(b"eXIf");
        file.extend_from_slice(&exif);
        file.extend_from_slice(&[0; 4]);
        file.extend_from_slice(&plain[33..]);
        let p = process(&file, 2048).unwrap();
        assert_eq!((p.original.kind, p.width, p.height), (Kind::Png, 300, 600));
        let mut r = png::Decoder::new(std::io::Cursor::new(&p.original.bytes[..])).read_info().unwrap();
        let mut out = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut out).unwrap();
        assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgba, png::BitDepth::Eight));
        assert_eq!(&out[..4], &[255, 0, 0, 255], "top: the opaque red half");
        assert_eq!(&out[out.len() - 4..], &[0, 0, 255, 0], "bottom: the transparent blue half");
        assert!(p.preview.is_some());
    }
}
