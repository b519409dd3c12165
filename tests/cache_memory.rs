//! Memory the page cache keeps (src/server/cache.rs): a cached body costs what `MAX_BYTES` counts,
//! its length, not the capacity of the String it was rendered into. This binary holds only this
//! test (the counting allocator in tests/heap sees every allocation).

mod heap;

use hyper::body::Bytes;
use pipit::server::cache::PageCache;
use pipit::server::response::full;

/// Bad input tried: a 100 KiB page rendered into a String with 400 KiB of capacity (what a
/// template writing into a growing buffer leaves). The cache used to keep that whole allocation.
#[tokio::test]
async fn a_cached_page_keeps_its_length_not_its_buffer() {
    let _turn = heap::turn();
    let cache = PageCache::default();
    let before = heap::live();
    let mut page = String::with_capacity(400 * 1024);
    for _ in 0..100 * 1024 / 13 {
        page.push_str("<p>hello</p>\n");
    }
    let len = page.len();
    let resp = hyper::Response::builder().header("content-type", "text/html").body(full(Bytes::from(page))).unwrap();
    let served = cache.put("/@me\ntext/html".into(), 1, resp, None).await;
    drop(served); // the response went out; only the cache's copy stays
    let kept = heap::live() - before;
    assert!(kept >= len, "the body is kept ({kept} bytes alive, body {len})");
    assert!(kept < len + 16 * 1024, "the cache keeps {kept} bytes for a {len}-byte body: it holds the rendering buffer's spare capacity");
    // And it serves the same bytes.
    let again = cache.get("/@me\ntext/html", 1, None).expect("cached");
    use http_body_util::BodyExt;
    let body = again.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), len);
}
