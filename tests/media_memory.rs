//! Issue 11: processing a 12-megapixel JPEG never needs a full-size RGB buffer (36 MB). A counting
//! allocator measures the pipeline's peak heap; this binary holds this one test so nothing else
//! allocates meanwhile. Bad input tried: a 4000×3000 photo with EXIF orientation 6, which must be
//! turned and scaled (the path that would decode at full size without DCT scaling, and that used
//! to hold the decoded picture and its turned copy at once).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let n = NOW.fetch_add(l.size(), Ordering::SeqCst) + l.size();
            PEAK.fetch_max(n, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static A: Counting = Counting;

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
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85).encode_image(Photo).unwrap();
    let jpeg = with_orientation_6(&jpeg);
    let base = NOW.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let p = pipit::media::process(&jpeg, 2560).expect("processed");
    let peak = PEAK.load(Ordering::SeqCst) - base;
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
