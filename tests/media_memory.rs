//! Issue 11: processing a 12-megapixel JPEG never needs a full-size RGB buffer (36 MB), nor a
//! 4096 × 4096 PNG its 64 MiB RGBA one. A counting allocator measures the pipeline's peak heap;
//! this binary holds only these tests, one at a time (`heap::turn`), so nothing else allocates
//! meanwhile. Bad input tried: a 4000×3000 photo with EXIF orientation 6, which must be turned and
//! scaled (the path that would decode at full size without DCT scaling, and that used to hold the
//! decoded picture and its turned copy at once); a 4096 × 4096 RGBA PNG larger than the stored
//! size (decoded whole by `image` before, then scaled).

#[path = "heap/mod.rs"]
mod heap;

/// A 4000×3000 photo-like picture generated row by row (no 36 MB source buffer in the test).
struct Photo;
impl jpeg_encoder::ImageBuffer for Photo {
    fn get_jpeg_color_type(&self) -> jpeg_encoder::JpegColorType {
        jpeg_encoder::JpegColorType::Ycbcr
    }
    fn width(&self) -> u16 {
        4000
    }
    fn height(&self) -> u16 {
        3000
    }
    fn fill_buffers(&self, y: u16, b: &mut [Vec<u8>; 4]) {
        for x in 0..4000u32 {
            let v = ((x * 7 + y as u32 * 3) % 251) as u8;
            b[0].push(v);
            b[1].push(128u8.wrapping_add((x / 50) as u8));
            b[2].push(128u8.wrapping_sub((y / 50) as u8));
        }
    }
}

fn with_orientation_6(jpeg: &[u8]) -> Vec<u8> {
    // APP1 Exif: big-endian TIFF, one IFD0 entry Orientation = 6.
    let mut tiff = b"MM\0*\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let body = [&b"Exif\0\0"[..], &tiff].concat();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn a_12_megapixel_jpeg_is_processed_without_a_full_size_buffer() {
    let _turn = heap::turn();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85).encode_image(Photo).unwrap();
    let jpeg = with_orientation_6(&jpeg);
    let (p, peak) = heap::peak_during(|| pipit::media::process(&jpeg, 2560).expect("processed"));
    assert_eq!((p.width, p.height), (1500, 2000), "turned upright and DCT-scaled to 1/2");
    assert!(p.preview.is_some());
    eprintln!("12 MP JPEG ({} KiB): peak heap {peak} bytes ({} KiB)", jpeg.len() / 1024, peak / 1024);
    // A full-size RGB buffer alone would be 4000 × 3000 × 3 = 36,000,000 bytes. The floor is
    // jpeg-decoder's own `decode()`: the 1/2-scale planes (Y 2000 × 1504, Cb and Cr 1000 × 752:
    // 4.5 MB) and its 9 MB RGB output are alive together (13.5 MB, measured 13,538,662 bytes).
    // Everything after stays below that: the turn happens while encoding (no turned copy), the
    // stripped copy is freed before the decode, the preview is averaged straight from the decoded
    // buffer. The old pipeline (a turned 9 MB copy, the stripped copy kept) peaked at ~21 MiB.
    assert!(peak < 14_000_000, "peak heap {peak} bytes: a second picture-sized buffer was alive next to the decoded one");
}

#[test]
fn a_large_png_is_scaled_while_it_decodes() {
    let _turn = heap::turn();
    // 2048 × 2048 RGBA (16 MiB decoded, above the JPEG line) stored at most 1280 px: kept small
    // so that the test stays fast in a debug build; the pipeline's memory does not grow with it.
    let (side, max_side) = (2048u32, 1280u32);
    // Red photo-like, green rising every 16 columns, blue every 16 rows; opaque in the top half
    // and half transparent below.
    let pixel = |x: u32, y: u32| [((x * 7 + y * 3) % 251) as u8, (x / 16) as u8, (y / 16) as u8, if y < side / 2 { 255 } else { 128 }];
    let mut png = Vec::new();
    {
        let mut e = png::Encoder::new(&mut png, side, side);
        e.set_color(png::ColorType::Rgba);
        e.set_depth(png::BitDepth::Eight);
        let mut w = e.write_header().unwrap();
        let mut s = w.stream_writer().unwrap();
        use std::io::Write;
        let mut row = vec![0u8; side as usize * 4];
        for y in 0..side {
            for x in 0..side {
                row[x as usize * 4..x as usize * 4 + 4].copy_from_slice(&pixel(x, y));
            }
            s.write_all(&row).unwrap();
        }
        s.finish().unwrap();
        w.finish().unwrap();
    }
    let (p, peak) = heap::peak_during(|| pipit::media::process(&png, max_side).expect("processed"));
    eprintln!("{side} × {side} RGBA PNG ({} KiB): peak heap {peak} bytes ({} KiB)", png.len() / 1024, peak / 1024);
    assert_eq!((p.width, p.height), (max_side, max_side), "scaled to the stored size");
    assert_eq!(p.original.kind, pipit::media::Kind::Png);
    // The full-size RGBA picture alone is 2048 × 2048 × 4 = 16,777,216 bytes (what `image`
    // decoded before scaling), the scaled one 1280 × 1280 × 4 = 6,553,600: neither may exist.
    // What is left is the file itself (in memory, as process() takes it, and its stripped copy),
    // the decoder's rows, a few rows of sums and the re-encoded file. The JPEG line is 14 MB.
    assert!(peak < 6_553_600, "peak heap {peak} bytes: a picture-sized buffer was alive");
    drop(png);
    // The stored picture is right, not merely small: area averages of the source, alpha kept.
    let d = png::Decoder::new(std::io::Cursor::new(&p.original.bytes[..]));
    let mut r = d.read_info().unwrap();
    let mut px = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut px).unwrap();
    assert_eq!((info.width, info.height, info.color_type, info.bit_depth), (max_side, max_side, png::ColorType::Rgba, png::BitDepth::Eight));
    let at = |x: usize, y: usize| &px[(y * 1280 + x) * 4..(y * 1280 + x) * 4 + 4];
    // Output column 500 covers source columns 800–801.6 (green 50), row 50 covers source rows
    // 80–81.6 (blue 5); row 1200 lies in the half-transparent half.
    assert_eq!((at(500, 50)[1], at(500, 50)[2], at(500, 50)[3]), (50, 5, 255), "{:?}", at(500, 50));
    assert_eq!(at(500, 1200)[3], 128, "{:?}", at(500, 1200));
    let preview = p.preview.expect("a preview");
    let r = png::Decoder::new(std::io::Cursor::new(&preview.bytes[..])).read_info().unwrap();
    assert_eq!(r.info().size(), (400, 400));
}
