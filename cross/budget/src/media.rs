//! The 12-megapixel JPEG line (issue 11): the owner uploads a 4000 × 3000 photo (EXIF orientation
//! 6, so it is turned and re-encoded, the costly path) from the compose page of a running
//! `pipit serve`; measured are the request's wall time, the server's CPU time for it, and the
//! server's peak RSS (VmHWM) before and after. Run alone with `--media`.

use super::{cpu_us, prepare, row, start, status_kib, Row, MIB};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const PW: &str = "budget owner password";

/// A 4000×3000 photo-like picture generated row by row (no 36 MB source buffer here either).
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

/// The photo as a phone writes it: an APP1 Exif segment with Orientation = 6.
fn photo() -> Vec<u8> {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85).encode_image(Photo).unwrap();
    let mut tiff = b"MM\0*\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let body = [&b"Exif\0\0"[..], &tiff].concat();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&jpeg[2..]);
    out
}

struct Browser {
    port: u16,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    async fn send(&mut self, method: &str, path: &str, ctype: Option<String>, body: Vec<u8>) -> (u16, String) {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder().method(method).uri(path).header("host", format!("127.0.0.1:{}", self.port));
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        let r = tx.send_request(req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        for sc in r.headers().get_all("set-cookie") {
            if let Some((k, v)) = sc.to_str().unwrap_or("").split(';').next().and_then(|p| p.split_once('=')) {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = r.status().as_u16();
        (status, String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).into_owned())
    }
}

fn csrf(page: &str) -> String {
    let m = "name=\"csrf\" value=\"";
    let s = page.find(m).expect("a csrf field") + m.len();
    page[s..s + page[s..].find('"').unwrap()].to_string()
}

pub async fn media_bench(bin: &Path, rows: &mut Vec<Row>) {
    let (dir, port) = prepare(bin, "media", |app| pipit::domain::owner::set_password(app, PW).unwrap(), |_| {});
    let (mut child, _) = start(bin, &dir, port).await;
    let pid = child.id();
    let mut b = Browser { port, cookies: BTreeMap::new() };
    let (_, login) = b.send("GET", "/login", None, vec![]).await;
    let form = format!("csrf={}&password={}", pipit::server::request::percent_encode(&csrf(&login)), pipit::server::request::percent_encode(PW));
    let (st, _) = b.send("POST", "/login", Some("application/x-www-form-urlencoded".into()), form.into_bytes()).await;
    assert_eq!(st, 303, "logged in");
    let (_, settings) = b.send("GET", "/settings", None, vec![]).await;
    let token = csrf(&settings);
    let jpeg = photo();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Logging in (argon2, ~19 MiB) set the peak so far: reset VmHWM to the current RSS (Linux
    // clear_refs "5") so the peak below is the upload's own.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let before = status_kib(pid, if reset { "VmRSS:" } else { "VmHWM:" });
    let boundary = "pipitbudgetboundary0";
    let mut body = Vec::new();
    for (k, v) in [("csrf", token.as_str()), ("content", "a 12 MP photo"), ("visibility", "public"), ("alt", "a test pattern")] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"IMG_0001.JPG\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
    body.extend_from_slice(&jpeg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let cpu = cpu_us(pid);
    let t = Instant::now();
    let (st, page) = b.send("POST", "/compose", Some(format!("multipart/form-data; boundary={boundary}")), body).await;
    let took = t.elapsed();
    let cpu = cpu_us(pid) - cpu;
    assert!(st == 303 || st == 200, "upload answered {st}: {page}");
    let peak = status_kib(pid, "VmHWM:");
    row(
        rows,
        &format!("12 MP JPEG upload ({:.1} MiB, 4000 × 3000, EXIF orientation 6): time, server CPU, peak RSS", jpeg.len() as f64 / MIB),
        "peak RSS ≤ 24 MiB",
        format!("{} ms wall, {} ms CPU; RSS {:.1} MiB before, peak {:.1} MiB during{}", took.as_millis(), cpu / 1000, before as f64 / 1024.0, peak as f64 / 1024.0, if reset { "" } else { " (peak not reset: includes login)" }),
        Some(peak <= 24 * 1024),
    );
    child.kill().ok();
    child.wait().ok();
    let _ = std::fs::remove_dir_all(&dir);
}
