//! Issue 11, uploads: metadata stripped (checked with exiftool, an independent reader), orientation
//! kept by applying it, dimensions + blurhash + preview, and bad inputs refused with nothing stored.
//! Test images are made here (jpeg-encoder / image), with the metadata written by hand.

mod common;
use common::*;
use std::path::Path;

/// A JPEG of `w`×`h` (a gradient with a red left edge, so orientation can be checked).
fn plain_jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut px = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            if x < w / 8 {
                px.extend_from_slice(&[255, 0, 0]);
            } else {
                px.extend_from_slice(&[(x % 256) as u8, (y % 256) as u8, 128]);
            }
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90).encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// A little-endian TIFF/EXIF block: Make "Acme", Model "Phone9", Orientation, and a GPS IFD with
/// GPSLatitudeRef "N" and GPSLatitude 52/1 31/1 0/1.
fn exif_tiff(orientation: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&typ.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    t.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut t, 0x010f, 2, 5, 62); // Make → "Acme\0" at 62
    entry(&mut t, 0x0110, 2, 7, 67); // Model → "Phone9\0" at 67
    entry(&mut t, 0x0112, 3, 1, orientation as u32);
    entry(&mut t, 0x8825, 4, 1, 74); // GPS IFD at 74
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), 62);
    t.extend_from_slice(b"Acme\0Phone9\0");
    assert_eq!(t.len(), 74);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    entry(&mut t, 0x0002, 5, 3, 104);
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), 104);
    for (n, d) in [(52u32, 1u32), (31, 1), (0, 1)] {
        t.extend_from_slice(&n.to_le_bytes());
        t.extend_from_slice(&d.to_le_bytes());
    }
    t
}

/// `jpeg` with an EXIF APP1 (GPS, camera, orientation), an XMP APP1, an IPTC APP13 and a COM
/// segment inserted after SOI, and a trailer after EOI.
fn jpeg_with_metadata(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let seg = |marker: u8, body: &[u8]| {
        let mut s = vec![0xff, marker];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    };
    let mut out = jpeg[..2].to_vec();
    out.extend(seg(0xe1, &[&b"Exif\0\0"[..], &exif_tiff(orientation)].concat()));
    out.extend(seg(0xe1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/' dc:creator='Secret Person'/></rdf:RDF></x:xmpmeta>"));
    out.extend(seg(0xed, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0f\x1c\x02\x78\0\x0bSecretPlace"));
    out.extend(seg(0xfe, b"secret comment"));
    out.extend_from_slice(&jpeg[2..]);
    out.extend_from_slice(b"SEFHtrailer Secret Person");
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc32(&[&kind[..], data].concat()).to_be_bytes());
    c
}

/// A `w`×`h` PNG with tEXt, iTXt, eXIf (GPS, camera, `orientation`) and tIME chunks after IHDR.
fn png_with_metadata(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let plain = rgb_png(w, h, |x, _| if x < w / 8 { [255, 0, 0] } else { [0, 90, 200] });
    let ihdr_end = 8 + 8 + 13 + 4;
    let mut out = plain[..ihdr_end].to_vec();
    out.extend(png_chunk(b"tEXt", b"Comment\0secret place"));
    out.extend(png_chunk(b"iTXt", b"Author\0\0\0\0\0Secret Person"));
    out.extend(png_chunk(b"eXIf", &exif_tiff(orientation)));
    out.extend(png_chunk(b"tIME", &[7, 234, 1, 2, 3, 4, 5]));
    out.extend_from_slice(&plain[ihdr_end..]);
    out
}

/// A PNG's pixels as 8-bit samples, with their colour type and size.
fn png_pixels(b: &[u8]) -> (png::ColorType, u32, u32, Vec<u8>) {
    let mut d = png::Decoder::new(std::io::Cursor::new(b));
    d.set_transformations(png::Transformations::normalize_to_color8());
    let mut r = d.read_info().unwrap();
    let mut px = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut px).unwrap();
    px.truncate(info.buffer_size());
    (info.color_type, info.width, info.height, px)
}

/// exiftool's view of a file: every tag it finds, as JSON (`-a -G1 -j`).
fn exiftool(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let out = std::process::Command::new("exiftool").args(["-a", "-G1", "-j", "-n"]).arg(path).output().expect("exiftool is installed by tests/run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("exiftool JSON");
    v[0].as_object().unwrap().clone()
}

/// Tags that must never survive: anything from EXIF/GPS/XMP/IPTC/Photoshop/comments/text chunks.
fn leaks(tags: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    tags.keys()
        .filter(|k| {
            let g = k.split(':').next().unwrap_or("");
            // System/File/ExifTool: what exiftool says about the file on disk, not in it.
            !matches!(g, "System" | "File" | "ExifTool") && (g.starts_with("IFD") || g.starts_with("GPS") || g.starts_with("XMP") || g.starts_with("IPTC") || g == "Photoshop" || g == "ExifIFD"
                || k.ends_with(":Comment") || k.ends_with(":Author") || k.contains("ModifyDate") || k.contains("Trailer"))
        })
        .cloned()
        .collect()
}

fn media_files(a: &Instance) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(a.app.media_dir()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect();
    v.sort();
    v
}

fn file_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[tokio::test]
async fn uploads_lose_their_metadata_and_keep_their_orientation() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;

    // A phone photo: 800×400 pixels stored sideways, EXIF orientation 6 (rotate 90° clockwise).
    let jpeg = jpeg_with_metadata(&plain_jpeg(800, 400), 6);
    let tmp = TempDir::new("exif-in");
    std::fs::write(tmp.path().join("in.jpg"), &jpeg).unwrap();
    let before = exiftool(&tmp.path().join("in.jpg"));
    assert!(before.contains_key("GPS:GPSLatitude") && before.contains_key("IFD0:Make"), "the input really has GPS EXIF: {before:?}");
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "holiday"), ("alt", "a beach")], &[("image", "IMG_0001.JPG", "image/jpeg", &jpeg)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let post = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.into_iter().next().expect("posted");
    let att = &post.attachments[0];
    assert_eq!(att.media_type, "image/jpeg");
    assert_eq!((att.width, att.height), (Some(400), Some(800)), "orientation applied: the picture stands upright");
    assert!(att.blurhash.as_deref().is_some_and(|b| b.len() >= 20), "blurhash: {:?}", att.blurhash);
    let path = a.app.media_dir().join(file_of(&att.url));
    let stored = std::fs::read(&path).unwrap();
    for secret in [&b"Acme"[..], b"Phone9", b"Secret Person", b"SecretPlace", b"secret comment", b"SEFH"] {
        assert!(!stored.windows(secret.len()).any(|w| w == secret), "{} survived", String::from_utf8_lossy(secret));
    }
    let tags = exiftool(&path);
    assert!(leaks(&tags).is_empty(), "metadata left in the JPEG: {:?}", leaks(&tags));
    assert!(!tags.contains_key("IFD0:Orientation"), "no orientation tag left to rotate it twice");
    assert_eq!(tags["File:ImageWidth"], 400);
    assert_eq!(tags["File:ImageHeight"], 800);
    // The red edge was on the left of the sideways picture; upright (rotated clockwise) it is on top.
    let mut dec = jpeg_decoder::Decoder::new(&stored[..]);
    let px = dec.decode().unwrap();
    let pixel = |x: usize, y: usize| &px[(y * 400 + x) * 3..(y * 400 + x) * 3 + 3];
    let (top, bottom) = (pixel(200, 20), pixel(200, 780));
    assert!(top[0] > 200 && top[1] < 60, "top row is red: {top:?}");
    assert!(bottom[0] < 200 || bottom[1] > 60, "bottom row is not red: {bottom:?}");
    // The preview: made once, 400 px on its longest side, metadata-free too.
    let preview = att.preview_url.as_deref().expect("a preview for a picture larger than 400 px");
    let pv = a.app.media_dir().join(file_of(preview));
    let pv_tags = exiftool(&pv);
    assert_eq!((pv_tags["File:ImageWidth"].as_u64(), pv_tags["File:ImageHeight"].as_u64()), (Some(200), Some(400)));
    assert!(leaks(&pv_tags).is_empty());
    // Served from our origin with its type and nosniff.
    let r = owner.get(&format!("/media/{}", file_of(&att.url))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // What followers' servers get: Mastodon's attachment fields.
    let ap = owner.get_with(&format!("/@alice/{}", post.id), &[("accept", "application/activity+json")]).await;
    let note: serde_json::Value = serde_json::from_str(&ap.body).unwrap();
    let d = &note["attachment"][0];
    assert_eq!((d["width"].as_u64(), d["height"].as_u64()), (Some(400), Some(800)), "{d}");
    assert_eq!(d["blurhash"].as_str(), att.blurhash.as_deref());
    assert_eq!(d["name"], "a beach");

    // A PNG with tEXt, iTXt, eXIf (GPS, camera) and tIME chunks, as the avatar; orientation 1.
    let png = png_with_metadata(64, 48, 1);
    std::fs::write(tmp.path().join("in.png"), &png).unwrap();
    let before = exiftool(&tmp.path().join("in.png"));
    assert!(before.keys().any(|k| k.contains("GPS")) && before.contains_key("PNG:Comment"), "the input PNG has the chunks: {before:?}");
    let r = owner.post_multipart("/settings/images", &[("csrf", &csrf)], &[("avatar", "me.png", "image/png", &png)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let avatar = a.app.store.read(|r| r.profile()).unwrap().avatar.expect("avatar set");
    let path = a.app.media_dir().join(&avatar);
    let tags = exiftool(&path);
    assert!(leaks(&tags).is_empty(), "metadata left in the PNG: {:?}", leaks(&tags));
    assert!(!tags.keys().any(|k| k.contains("GPS") || k.contains("Make") || k.contains("Comment")), "{tags:?}");
    assert_eq!((tags["PNG:ImageWidth"].as_u64(), tags["PNG:ImageHeight"].as_u64()), (Some(64), Some(48)));
    // Lossless: the pixels are exactly the input's.
    assert_eq!(png_pixels(&std::fs::read(&path).unwrap()), png_pixels(&png));

    // A PNG whose eXIf says orientation 8 (rotate 270° clockwise): re-encoded upright, 48×64.
    let png = png_with_metadata(64, 48, 8);
    let r = owner.post_multipart("/settings/images", &[("csrf", &csrf)], &[("header", "h.png", "image/png", &png)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let header = a.app.store.read(|r| r.profile()).unwrap().header.expect("header set");
    let tags = exiftool(&a.app.media_dir().join(&header));
    assert!(leaks(&tags).is_empty(), "{:?}", leaks(&tags));
    assert_eq!((tags["PNG:ImageWidth"].as_u64(), tags["PNG:ImageHeight"].as_u64()), (Some(48), Some(64)));
}

#[tokio::test]
async fn bad_images_are_refused_and_nothing_is_stored() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let before = media_files(&a);
    let jpeg = plain_jpeg(300, 200);
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    bomb.extend(png_chunk(b"IHDR", &[&100_000u32.to_be_bytes()[..], &100_000u32.to_be_bytes(), &[8, 2, 0, 0, 0]].concat()));
    bomb.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    bomb.extend(png_chunk(b"IEND", &[]));
    let png = png_with_metadata(40, 30, 1);
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("truncated JPEG (cut in half)", "cut.jpg", jpeg[..jpeg.len() / 2].to_vec(), 400, "cut short"),
        ("truncated PNG (IDAT cut)", "cut.png", png[..png.len() - 30].to_vec(), 400, "cut short"),
        ("PNG bomb: 100,000 × 100,000 px in 70 bytes", "bomb.png", bomb, 400, "too large"),
        ("SVG with script named .png", "x.png", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(), 415, "not a PNG"),
        ("HTML named .jpg", "cat.jpg", b"<!doctype html><html><script>alert(document.cookie)</script>".to_vec(), 415, "not a PNG"),
        ("JPEG header then garbage", "g.jpg", [&jpeg[..200], &[0x55; 500][..]].concat(), 400, "image"),
    ];
    for (what, name, bytes, status, msg) in &cases {
        let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "pic")], &[("image", name, "image/jpeg", bytes)]).await;
        assert_eq!(r.status, *status, "{what}: {}", r.body);
        assert!(r.body.contains(msg), "{what}: clear message, got {}", r.body);
        let r = owner.post_multipart("/settings/images", &[("csrf", &csrf)], &[("avatar", name, "image/png", bytes)]).await;
        assert_eq!(r.status, *status, "avatar {what}");
    }
    // A good image with a bad quote URL: refused, and the image is not left behind (the quote
    // used to be checked after the files were written).
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "pic"), ("quote", "javascript:alert(1)")], &[("image", "ok.jpg", "image/jpeg", &jpeg)]).await;
    assert_eq!(r.status, 400, "bad quote URL: {}", r.body);
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), 0, "no post stored");
    assert!(a.app.store.read(|r| r.profile()).unwrap().avatar.is_none(), "no avatar stored");
    assert_eq!(media_files(&a), before, "no file left in DATA/media");

    // A real PNG with a wrong extension and a wrong Content-Type: the bytes decide, it is a PNG.
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "renamed")], &[("image", "photo.jpg", "image/jpeg", &png)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let post = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.into_iter().next().unwrap();
    assert_eq!(post.attachments[0].media_type, "image/png");
    assert!(post.attachments[0].url.ends_with(".png"));
    // Compose journals its uploads until the post is stored (a crash in between leaves nothing
    // behind); the stored post's file is no longer journaled, so the sweep at the next start keeps it.
    assert!(a.app.store.read(|r| r.pending_media_page(None, 10)).unwrap().is_empty(), "the stored post's media are not pending");
    assert_eq!(pipit::domain::media::sweep_pending(&a.app.store, &a.app.media_dir()).unwrap(), 0);
    assert!(media_files(&a).contains(&file_of(&post.attachments[0].url).to_string()), "the post's image is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_images_with_alt_text_reach_another_pipit() {
    let a = Instance::start("alice").await;
    let b = Instance::start("bob").await;
    pipit::actions::follow(&b.app, &a.app.urls.handle()).await.expect("follow");
    let bob = b.app.urls.actor();
    eventually("alice has bob as follower", 10, || a.app.store.read(|r| r.follower(&bob)).unwrap().is_some()).await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;

    // Five images are one too many; a video goes alone.
    let imgs: Vec<Vec<u8>> = (0..5).map(|i| plain_jpeg(500 + i * 10, 300)).collect();
    let five: Vec<(String, String)> = (1..=5).map(|i| (if i == 1 { "image".to_string() } else { format!("image{i}") }, format!("p{i}.jpg"))).collect();
    let files: Vec<(&str, &str, &str, &[u8])> = five.iter().zip(&imgs).map(|((n, f), b)| (n.as_str(), f.as_str(), "image/jpeg", b.as_slice())).collect();
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "five")], &files).await;
    assert_eq!(r.status, 400, "five attachments refused: {}", r.body);
    let mp4 = [&[0, 0, 0, 0x18][..], b"ftypisom\0\0\x02\0isomiso2", &[0u8; 64]].concat();
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "mixed")], &[("image", "v.mp4", "video/mp4", &mp4), ("image2", "p.jpg", "image/jpeg", &imgs[0])]).await;
    assert_eq!(r.status, 400, "video with an image refused: {}", r.body);
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), 0);
    assert_eq!(media_files(&a), Vec::<String>::new(), "nothing left on disk by refused posts");

    // Four images, alt text on three, a focal point on the first.
    let r = owner
        .post_multipart(
            "/compose",
            &[("csrf", &csrf), ("content", "four pictures"), ("alt", "first <b>cat</b>"), ("focus", "0.5,-0.5"), ("alt2", "second"), ("alt3", "third")],
            &files[..4],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.into_iter().next().unwrap();
    assert_eq!(p.attachments.len(), 4);
    assert_eq!(p.attachments[0].focal_point, Some((50, -50)));

    // The owner is reminded that image 4 has no description; visitors are not.
    let page = owner.get(&format!("/@alice/{}", p.id)).await;
    assert_eq!(page.body.matches("has no description").count(), 1, "one reminder for the one image without alt");
    assert!(!a.client().get(&format!("/@alice/{}", p.id)).await.body.contains("has no description"));

    eventually("bob stores alice's post", 10, || b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().is_some()).await;
    let got = b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().unwrap();
    assert_eq!(got.attachments.len(), 4);
    for (mine, theirs) in p.attachments.iter().zip(&got.attachments) {
        assert_eq!(theirs.alt, mine.alt);
        assert_eq!((theirs.width, theirs.height), (mine.width, mine.height));
        assert!(theirs.width.is_some());
        assert_eq!(theirs.blurhash, mine.blurhash);
        assert!(theirs.blurhash.is_some());
        assert_eq!(theirs.media_type, "image/jpeg");
    }
    assert_eq!(got.attachments[0].focal_point, Some((50, -50)));
    // Bob's page for the post shows them with alt text (escaped), dimensions and blurhash.
    let bob_owner = b.owner_client().await;
    let page = bob_owner.get(&format!("/posts/{}", got.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("alt=\"first &lt;b&gt;cat&lt;/b&gt;\""), "{}", page.body);
    assert!(page.body.contains("alt=\"third\""));
    assert!(page.body.contains(&format!("width=\"{}\" height=\"300\"", got.attachments[1].width.unwrap())));
    assert!(page.body.contains(&format!("data-blurhash=\"{}\"", got.attachments[2].blurhash.as_deref().unwrap())));
    // Bob's page shows them from bob's own origin (the media cache), never hot-linked from alice.
    assert!(!page.body.contains(&format!("{}/media/", a.base)), "no hot-linked remote media");
    let cached = page.body.split(&format!("<a href=\"{}/cache/", b.base)).nth(1).expect("an image through bob's cache").split('"').next().unwrap();
    let r = bob_owner.get(&format!("/cache/{cached}")).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/jpeg")));

    // Alt text edited after posting reaches bob too.
    let edit = owner.get(&format!("/@alice/{}/edit", p.id)).await;
    let csrf = edit.csrf();
    let r = owner
        .post_form(&format!("/@alice/{}/edit", p.id), &[("csrf", &csrf), ("content", "four pictures"), ("cw", ""), ("alt_0", "first cat"), ("alt_1", "second"), ("alt_2", "third"), ("alt_3", "a fourth, described later")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    eventually("bob sees the new alt text", 10, || {
        b.app.store.read(|r| r.post_by_uri(&p.uri)).unwrap().map(|x| x.attachments[3].alt == "a fourth, described later").unwrap_or(false)
    })
    .await;

    // One video, passed through byte for byte.
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "a clip"), ("alt", "waves")], &[("image", "clip.mov", "application/octet-stream", &mp4)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let v = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.into_iter().next().unwrap();
    assert_eq!(v.attachments[0].media_type, "video/mp4");
    assert_eq!(std::fs::read(a.app.media_dir().join(file_of(&v.attachments[0].url))).unwrap(), mp4);
    eventually("bob stores the video post", 10, || b.app.store.read(|r| r.post_by_uri(&v.uri)).unwrap().is_some_and(|x| x.attachments.first().is_some_and(|a| a.media_type == "video/mp4" && a.alt == "waves"))).await;
}

#[test]
fn incoming_attachments_are_read_like_mastodon_sends_them() {
    // Mastodon's shape, and one without mediaType (type sniffed from the URL and the AS type).
    let a = serde_json::json!({"type":"Document","mediaType":"image/png","url":"https://m.example/a.png","name":"alt","blurhash":"UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH","width":640,"height":480,"focalPoint":[-0.25,1.5]});
    let (blurhash, focal_point) = pipit::media::remote_extras(&a);
    assert_eq!(blurhash.as_deref(), Some("UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"));
    assert_eq!(focal_point, Some((-25, 100)), "clamped to 1.0");
    let bad = serde_json::json!({"blurhash":"<script>alert(1)</script>","focalPoint":["x",1]});
    let (blurhash, focal_point) = pipit::media::remote_extras(&bad);
    assert!(blurhash.is_none() && focal_point.is_none(), "hostile values dropped");
    assert_eq!(pipit::federation::content::guess_media_type("https://x.example/p/photo.webp?size=large", Some("Image")), "image/webp");
    assert_eq!(pipit::federation::content::guess_media_type("https://x.example/p/photo", Some("Image")), "image/jpeg");
    assert_eq!(pipit::federation::content::guess_media_type("https://x.example/p/file", Some("Document")), "application/octet-stream");
}

/// Every file in DATA/tmp (where multipart parts are streamed) and every hidden file in
/// DATA/media (`.TOKEN.part`, what the pipeline writes before renaming into place).
fn leftovers(a: &Instance) -> Vec<String> {
    let tmp = pipit::server::upload::tmp_dir(&a.app.data);
    let mut v: Vec<String> = std::fs::read_dir(&tmp).into_iter().flatten().flatten().map(|e| format!("tmp/{}", e.file_name().to_string_lossy())).collect();
    v.extend(
        std::fs::read_dir(a.app.media_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .map(|n| format!("media/{n}")),
    );
    v
}

/// An upload is processed from its file and leaves no temporary file behind: after a large photo
/// is posted, after a damaged one is refused, and when the upload is cut off. Bad input tried: a
/// multipart body that ends mid-file (no closing delimiter), a client that sends half of the
/// bytes its Content-Length announces and hangs up, and a JPEG cut in half.
#[tokio::test]
async fn uploads_leave_no_temporary_file_behind() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;

    // A large photo (2000 × 1500, EXIF orientation 6: turned, re-encoded, a preview made).
    let big = jpeg_with_metadata(&plain_jpeg(2000, 1500), 6);
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "big"), ("alt", "a big one")], &[("image", "IMG_0002.JPG", "image/jpeg", &big)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let post = a.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.into_iter().next().expect("posted");
    assert_eq!((post.attachments[0].width, post.attachments[0].height), (Some(1500), Some(2000)));
    assert_eq!(media_files(&a).len(), 2, "the picture and its preview: {:?}", media_files(&a));
    assert_eq!(leftovers(&a), Vec::<String>::new(), "nothing left after a successful upload");
    let stored = media_files(&a);

    // A JPEG cut in half: refused by the pipeline after the whole body arrived.
    let damaged = &big[..big.len() / 2];
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "damaged")], &[("image", "bad.jpg", "image/jpeg", damaged)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(leftovers(&a), Vec::<String>::new(), "nothing left after a refused upload");

    // A multipart body that stops in the middle of the file (the client's Content-Length matches).
    let boundary = "cutboundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").into_bytes();
    body.extend_from_slice(&big[..big.len() / 2]);
    let r = owner.send("POST", "/compose", vec![("content-type".into(), format!("multipart/form-data; boundary={boundary}"))], body.clone().into()).await;
    assert_eq!(r.status, 400, "a cut multipart body: {}", r.body);
    assert_eq!(leftovers(&a), Vec::<String>::new(), "nothing left after a cut multipart body");

    // The client announces the whole body, sends half of it and disconnects.
    use tokio::io::AsyncWriteExt;
    let cookie = owner.cookies.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let mut s = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let head = format!(
        "POST /compose HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        a.addr,
        body.len() * 2
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    s.flush().await.unwrap();
    // The part is on its way to DATA/tmp before the client goes away.
    eventually("the cut upload is being received", 10, || !leftovers(&a).is_empty()).await;
    drop(s);
    eventually("the cut upload's temporary file is removed", 10, || leftovers(&a).is_empty()).await;
    assert_eq!(media_files(&a), stored, "no new file in DATA/media");
    assert_eq!(a.app.store.read(|r| r.own_post_count()).unwrap(), 1, "only the first post");
}
