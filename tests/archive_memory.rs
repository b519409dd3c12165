//! Issue 12: importing a Mastodon archive never holds its posts or a media file in memory. A
//! counting allocator measures the import's peak heap; this binary holds this one test so
//! nothing else allocates meanwhile. Bad input tried: an archive with a 12 MB video and 300
//! posts of 4 KB each (the old import read the video whole with `std::fs::read` and kept every
//! built post in a `Vec<Post>` until the end: well over 12 MB at its peak).

#[path = "heap/mod.rs"]
mod heap;
use std::io::Read;

const VIDEO_BYTES: usize = 12 * 1024 * 1024;
const POSTS: usize = 300;

#[test]
fn a_big_archive_is_imported_without_holding_posts_or_media_in_memory() {
    let _turn = heap::turn();
    let dir = std::env::temp_dir().join(format!("pipit-test-{}-archive-memory", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    pipit::cli::init(&data, "http://127.0.0.1:9", "me", "127.0.0.1:0", true).unwrap();
    let app = pipit::App::open(&data).unwrap();

    // The archive, written straight to disk: one post with the video, then POSTS text posts.
    let archive = dir.join("archive.tar.gz");
    {
        let mut outbox = String::from(r#"{"type":"OrderedCollection","orderedItems":["#);
        let filler = "lorem ipsum ".repeat(4096 / 12);
        for i in 0..=POSTS {
            if i > 0 {
                outbox.push(',');
            }
            let attachment = if i == 0 { r#","attachment":[{"type":"Document","mediaType":"video/mp4","url":"/media_attachments/files/1/clip.mp4","name":"a clip"}]"# } else { "" };
            outbox.push_str(&format!(
                r#"{{"type":"Create","actor":"https://old.example/users/me","object":{{"id":"https://old.example/users/me/statuses/{i}","type":"Note","attributedTo":"https://old.example/users/me","content":"<p>post {i}: {filler}</p>","published":"2020-01-01T00:{:02}:{:02}Z","to":["https://www.w3.org/ns/activitystreams#Public"]{attachment}}}}}"#,
                (POSTS - i) / 60,
                (POSTS - i) % 60
            ));
        }
        outbox.push_str("]}");
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&archive).unwrap(), flate2::Compression::fast()));
        let mut h = tar::Header::new_gnu();
        h.set_size(outbox.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "outbox.json", outbox.as_bytes()).unwrap();
        // An MP4 (an `ftyp` box) of VIDEO_BYTES, streamed into the tar from a reader.
        let head: &[u8] = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2";
        let video = head.chain(std::io::repeat(7).take((VIDEO_BYTES - head.len()) as u64));
        let mut h = tar::Header::new_gnu();
        h.set_size(VIDEO_BYTES as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "media_attachments/files/1/clip.mp4", video).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }

    let (report, peak) = heap::peak_during(|| pipit::import::import_archive(&app, &archive, false).unwrap());
    eprintln!("{report}; peak heap {peak} bytes ({} KiB)", peak / 1024);
    assert!(report.starts_with(&format!("imported {} posts", POSTS + 1)), "{report}");
    let first = app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.pop().expect("the newest post, the first item");
    assert_eq!(first.attachments.len(), 1, "the video came along");
    assert_eq!(first.attachments[0].media_type, "video/mp4");
    let file = first.attachments[0].url.rsplit('/').next().unwrap().to_string();
    assert_eq!(std::fs::metadata(app.media_dir().join(file)).unwrap().len(), VIDEO_BYTES as u64);
    // The posts' text alone is 1.2 MB and the video 12 MB; what may be alive at once is one
    // post, copy buffers, and the write transaction's dirty pages of the posts and their indexes.
    assert!(peak < 8 * 1024 * 1024, "peak heap {peak} bytes: the video or every post was held in memory");
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
