//! Decoded pictures and the two things the pipeline does to them: scaling down by area
//! averaging, one source row at a time (so a large picture never needs to be whole in memory),
//! and turning by the EXIF orientation. pipit's own code: ~150 lines instead of `image`'s generic
//! buffers, resizers and colour management (issue 15: binary size on the Pi).

use super::MediaError;

/// A decoded picture: 8 bits a sample, `channels` samples a pixel (1 grey, 2 grey + alpha, 3 RGB,
/// 4 RGBA), rows top to bottom with no padding (`px.len() == w * h * channels`).
pub struct Pixels {
    pub w: u32,
    pub h: u32,
    pub channels: usize,
    pub px: Vec<u8>,
}

impl Pixels {
    /// Row `y` (0-based, < `h`).
    pub fn row(&self, y: u32) -> &[u8] {
        let n = self.w as usize * self.channels;
        &self.px[y as usize * n..(y as usize + 1) * n]
    }

    /// The same picture as RGBA (what blurhash reads).
    pub fn to_rgba(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w as usize * self.h as usize * 4);
        for p in self.px.chunks_exact(self.channels) {
            out.extend_from_slice(&match *p {
                [l] => [l, l, l, 255],
                [l, a] => [l, l, l, a],
                [r, g, b] => [r, g, b, 255],
                [r, g, b, a] => [r, g, b, a],
                _ => [0, 0, 0, 0],
            });
        }
        out
    }

    /// Scaled down (never up) so the longest side is at most `side`; a copy when already small.
    pub fn fit(&self, side: u32) -> Pixels {
        let (tw, th) = fit_size(self.w, self.h, side);
        let mut s = Shrink::new(self.w, self.h, tw, th, self.channels);
        let mut out = Vec::with_capacity(tw as usize * th as usize * self.channels);
        for y in 0..self.h {
            s.push(self.row(y), |r| Ok(out.extend_from_slice(r))).expect("collecting into memory cannot fail");
        }
        Pixels { w: tw, h: th, channels: self.channels, px: out }
    }

    /// Turned upright by EXIF `orientation` (1–8; anything else is 1), as a new buffer.
    pub fn turned(&self, orientation: u8) -> Pixels {
        let (tw, th) = turned_size(orientation, self.w, self.h);
        let c = self.channels;
        let mut px = Vec::with_capacity(self.px.len());
        for y in 0..th {
            for x in 0..tw {
                let (sx, sy) = turned_source(orientation, self.w, self.h, x, y);
                let i = (sy as usize * self.w as usize + sx as usize) * c;
                px.extend_from_slice(&self.px[i..i + c]);
            }
        }
        Pixels { w: tw, h: th, channels: c, px }
    }
}

/// Width and height of a `w` × `h` picture scaled down (never up) so that its longest side is at
/// most `side`, keeping the aspect ratio (rounded, at least 1 pixel).
pub fn fit_size(w: u32, h: u32, side: u32) -> (u32, u32) {
    if w.max(h) <= side {
        return (w, h);
    }
    let ratio = side as f64 / w.max(h) as f64;
    let f = |x: u32| ((x as f64 * ratio).round() as u32).clamp(1, side);
    (f(w), f(h))
}

/// Width and height after turning by EXIF `orientation`: 5–8 swap them.
pub fn turned_size(orientation: u8, w: u32, h: u32) -> (u32, u32) {
    if (5..=8).contains(&orientation) { (h, w) } else { (w, h) }
}

/// Where output pixel (x, y) of a picture turned by EXIF `orientation` comes from in the unturned
/// `w` × `h` source. EXIF 2.32 §4.6.5 "Orientation": 2 mirrored left–right, 3 turned 180°, 4
/// mirrored top–bottom, 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 turned 90°
/// anticlockwise.
pub fn turned_source(orientation: u8, w: u32, h: u32, x: u32, y: u32) -> (u32, u32) {
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

/// Area-averaging downscaler fed one source row at a time, top to bottom. Each output pixel is
/// the mean of the source area it covers (edge pixels counted by the fraction that falls inside),
/// so nothing is skipped and nothing aliases. Memory: two output rows of f32 sums, whatever the
/// source size. Each output row is handed on as soon as the source rows under it are all in.
pub struct Shrink {
    sh: u64,
    th: u64,
    channels: usize,
    /// Per source column: the first output column it falls in and its weights there and in the
    /// next column (0 when it falls in one only); the weights of one output column sum to 1.
    cols: Vec<(usize, f32, f32)>,
    /// The source row being added, scaled horizontally.
    line: Vec<f32>,
    /// Sums of the output row being filled and of the next one.
    acc: [Vec<f32>; 2],
    out: Vec<u8>,
    /// Next source row expected, next output row to hand on.
    sy: u64,
    ty: u64,
}

impl Shrink {
    /// From `sw` × `sh` to `tw` × `th` (each at most the source's and at least 1), `channels`
    /// samples a pixel.
    pub fn new(sw: u32, sh: u32, tw: u32, th: u32, channels: usize) -> Shrink {
        assert!(tw >= 1 && th >= 1 && tw <= sw && th <= sh, "Shrink never scales up");
        let (sw64, tw64) = (sw as u64, tw as u64);
        // In units of 1/sw of an output column: source column x spans [x·tw, (x+1)·tw).
        let cols = (0..sw64)
            .map(|x| {
                let (a, b) = (x * tw64, (x + 1) * tw64);
                let t = a / sw64;
                let split = ((t + 1) * sw64).min(b);
                ((t as usize), (split - a) as f32 / sw as f32, (b - split) as f32 / sw as f32)
            })
            .collect();
        let n = tw as usize * channels;
        Shrink { sh: sh as u64, th: th as u64, channels, cols, line: vec![0.0; n], acc: [vec![0.0; n], vec![0.0; n]], out: vec![0; n], sy: 0, ty: 0 }
    }

    /// Adds the next source row (`sw × channels` samples); calls `emit` with each output row
    /// completed by it (at most one). Rows past the source's height are ignored.
    pub fn push(&mut self, row: &[u8], mut emit: impl FnMut(&[u8]) -> Result<(), MediaError>) -> Result<(), MediaError> {
        if self.sy >= self.sh {
            return Ok(());
        }
        // Plain index loops over slices: they stay fast in unoptimised (test) builds too, where
        // iterator adaptors cost a call a sample.
        let c = self.channels;
        let cols: &[(usize, f32, f32)] = &self.cols;
        let line: &mut [f32] = &mut self.line;
        if row.len() < cols.len() * c {
            return Err(MediaError::Damaged);
        }
        // Horizontally first, into `line` (as wide as the output), then into the row sums.
        let mut i = 0;
        while i < line.len() {
            line[i] = 0.0;
            i += 1;
        }
        let mut x = 0;
        while x < cols.len() {
            let (t, w0, w1) = cols[x];
            let (s, at) = (x * c, t * c);
            let mut k = 0;
            while k < c {
                let v = row[s + k] as f32;
                line[at + k] += v * w0;
                if w1 != 0.0 {
                    line[at + c + k] += v * w1;
                }
                k += 1;
            }
            x += 1;
        }
        // In units of 1/sh of an output row: this source row spans [sy·th, (sy+1)·th).
        let (a, b) = (self.sy * self.th, (self.sy + 1) * self.th);
        let split = ((self.ty + 1) * self.sh).min(b);
        let wy = [(split - a) as f32 / self.sh as f32, (b - split) as f32 / self.sh as f32];
        for (acc, &w) in self.acc.iter_mut().zip(&wy) {
            if w != 0.0 {
                let acc: &mut [f32] = acc;
                let mut i = 0;
                while i < acc.len() {
                    acc[i] += line[i] * w;
                    i += 1;
                }
            }
        }
        self.sy += 1;
        if b >= (self.ty + 1) * self.sh {
            let (out, acc): (&mut [u8], &mut [f32]) = (&mut self.out, &mut self.acc[0]);
            let mut i = 0;
            while i < out.len() {
                // Sums are ≥ 0; `as u8` saturates at 255: rounded half up, clamped.
                out[i] = (acc[i] + 0.5) as u8;
                acc[i] = 0.0;
                i += 1;
            }
            self.acc.swap(0, 1);
            self.ty += 1;
            emit(&self.out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, channels: usize, f: impl Fn(u32, u32, usize) -> u8) -> Pixels {
        let mut px = Vec::new();
        for y in 0..h {
            for x in 0..w {
                for c in 0..channels {
                    px.push(f(x, y, c));
                }
            }
        }
        Pixels { w, h, channels, px }
    }

    #[test]
    fn every_exif_orientation_turns_as_the_standard_says() {
        // A 3 × 2 picture with a distinct letter a pixel; the expected layouts are written out
        // from EXIF's definitions, so a wrong mapping (e.g. 6 and 8 swapped) fails here.
        let src = picture(3, 2, 1, |x, y, _| b"abcdef"[(y * 3 + x) as usize]);
        let want: [(u8, &str); 8] = [
            (1, "abc/def"),
            (2, "cba/fed"),
            (3, "fed/cba"),
            (4, "def/abc"),
            (5, "ad/be/cf"),
            (6, "da/eb/fc"),
            (7, "fc/eb/da"),
            (8, "cf/be/ad"),
        ];
        for (o, layout) in want {
            let t = src.turned(o);
            let got: Vec<String> = (0..t.h).map(|y| String::from_utf8(t.row(y).to_vec()).unwrap()).collect();
            assert_eq!(got.join("/"), layout, "orientation {o}");
        }
        assert_eq!(src.turned(0).px, src.px, "an invalid orientation (0) leaves the picture as is");
    }

    #[test]
    fn shrinking_averages_areas_and_keeps_exact_copies() {
        // Same size: an exact copy (no rounding drift), for each channel count.
        for c in 1..=4 {
            let p = picture(7, 5, c, |x, y, k| (x * 31 + y * 17 + k as u32 * 5) as u8);
            let s = p.fit(7);
            assert_eq!((s.w, s.h, s.px.clone()), (7, 5, p.px.clone()), "{c} channels");
        }
        // 4 × 4 to 2 × 2: each output pixel the mean of its 2 × 2 block.
        let p = picture(4, 4, 1, |x, y, _| [[0, 100, 200, 40], [20, 40, 60, 80], [255, 255, 0, 0], [255, 255, 0, 10]][y as usize][x as usize]);
        let s = p.fit(2);
        assert_eq!(s.px, vec![40, 95, 255, 3]);
        // 3 × 1 to 2 × 1: the middle source pixel is split half and half.
        let p = picture(3, 1, 1, |x, _, _| [0, 100, 200][x as usize]);
        assert_eq!(p.fit(2).px, vec![33, 167]);
        // A flat colour stays flat at an awkward ratio (weights sum to 1 in both directions).
        let p = picture(1000, 777, 3, |_, _, k| [10, 128, 250][k]);
        let s = p.fit(333);
        assert_eq!((s.w, s.h), (333, 259));
        assert!(s.px.chunks_exact(3).all(|q| q == [10, 128, 250]));
    }

    #[test]
    fn fit_size_keeps_the_aspect_ratio_and_never_scales_up() {
        assert_eq!(fit_size(4096, 4096, 2560), (2560, 2560));
        assert_eq!(fit_size(4000, 3000, 400), (400, 300));
        assert_eq!(fit_size(30, 20, 400), (30, 20));
        assert_eq!(fit_size(10_000, 3, 400), (400, 1));
    }
}
