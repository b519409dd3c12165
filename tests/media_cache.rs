//! Issue 11, remote media cache: remote media are fetched through the SSRF-guarded client into
//! DATA/cache and served from pipit's own origin (type sniffed, nosniff, never SVG/HTML); still
//! served after their origin goes down; the cache stays under its cap while 1,000 images arrive;
//! nothing cached for blocked accounts, and their files purged; `0` hot-links.
//! The origin is a small HTTP server in this test.

mod common;
use common::*;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};

/// A distinct, incompressible 40×40 PNG (≈ 5 KB) for each `n`.
fn noise_png(n: u32) -> Vec<u8> {
    let mut x = n.wrapping_mul(2_654_435_761).wrapping_add(1);
    rgb_png(40, 40, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        [x as u8, (x >> 8) as u8, (x >> 16) as u8]
    })
}

/// Serves /img/N.png, /evil.png (an SVG with a script, labelled image/png) and /page.png (HTML).
/// Returns its address and the accept loop's handle (abort it to take the origin down).
async fn origin() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| async move {
                    let path = req.uri().path().to_string();
                    let body: Vec<u8> = if let Some(n) = path.strip_prefix("/img/").and_then(|p| p.strip_suffix(".png")).and_then(|n| n.parse().ok()) {
                        noise_png(n)
                    } else if path == "/evil.png" {
                        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.domain)</script></svg>".to_vec()
                    } else if path == "/article" {
                        let html = format!("<!doctype html><html><head><title>fallback</title><meta property=\"og:title\" content=\"Big &amp; news\"><meta property=\"og:description\" content=\"What &lt;really&gt; happened\"><meta property=\"og:image\" content=\"/img/30.png\"></head><body>x</body></html>");
                        return Ok(hyper::Response::builder().header("content-type", "text/html; charset=utf-8").body(Full::new(Bytes::from(html))).unwrap());
                    } else if path == "/users/carol" || path == "/.well-known/webfinger" {
                        let doc = if path == "/users/carol" { carol_doc(addr) } else { serde_json::json!({"subject": format!("acct:carol@{addr}"), "links": [{"rel": "self", "type": "application/activity+json", "href": format!("http://{addr}/users/carol")}]}) };
                        return Ok(hyper::Response::builder().header("content-type", "application/activity+json").body(Full::new(Bytes::from(doc.to_string()))).unwrap());
                    } else if let Some(kind) = path.strip_prefix("/oembed-page/") {
                        // No OpenGraph; a <title> and an oEmbed link (kind: good, html, huge).
                        let html = format!("<!doctype html><html><head><title>Plain title {kind}</title><link rel=\"alternate\" type=\"application/json+oembed\" href=\"/oembed/{kind}?url=x\"></head><body>x</body></html>");
                        return Ok(hyper::Response::builder().header("content-type", "text/html").body(Full::new(Bytes::from(html))).unwrap());
                    } else if let Some(kind) = path.strip_prefix("/oembed/") {
                        let (ctype, body) = match kind {
                            "good" => ("application/json+oembed", serde_json::json!({"version": "1.0", "type": "video", "title": "A film &amp; more", "author_name": "Dana", "provider_name": "Tube", "thumbnail_url": format!("http://{addr}/img/31.png"), "html": "<iframe src=\"https://evil.example\"></iframe>"}).to_string()),
                            // Bad input: an oEmbed endpoint answering HTML, and one answering 10 MB of JSON.
                            "html" => ("text/html", "<html><body><script>alert(1)</script>{\"title\": \"html\"}</body></html>".to_string()),
                            _ => ("application/json", format!("{{\"title\": \"huge\", \"pad\": \"{}\"}}", "a".repeat(10 << 20))),
                        };
                        return Ok(hyper::Response::builder().header("content-type", ctype).body(Full::new(Bytes::from(body))).unwrap());
                    } else if path == "/page.png" {
                        b"<!doctype html><script>alert(1)</script>".to_vec()
                    } else {
                        return Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(404).body(Full::new(Bytes::new())).unwrap());
                    };
                    Ok(hyper::Response::builder().header("content-type", "image/png").body(Full::new(Bytes::from(body))).unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    (addr, task)
}

/// carol's actor document: a custom emoji in her display name (and a hostile one whose icon is
/// `javascript:`, which must stay text).
fn carol_doc(addr: std::net::SocketAddr) -> serde_json::Value {
    let actor = format!("http://{addr}/users/carol");
    serde_json::json!({
        "id": actor, "type": "Person", "preferredUsername": "carol", "name": "Carol :blobcat: :evil:",
        "inbox": format!("{actor}/inbox"), "icon": {"type": "Image", "url": format!("http://{addr}/img/11.png")},
        "tag": [{"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "mediaType": "image/png", "url": format!("http://{addr}/img/12.png")}},
                {"type": "Emoji", "name": ":evil:", "icon": {"type": "Image", "url": "javascript:alert(1)"}}],
        "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----"}
    })
}

fn cache_files(i: &Instance) -> Vec<(String, u64)> {
    std::fs::read_dir(i.app.cache_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

fn path_of(i: &Instance, url: &str) -> String {
    url.strip_prefix(&i.base).expect("served from our own origin").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_media_are_cached_served_safely_and_outlive_their_origin() {
    let b = Instance::start_with("bob", Box::new(|c| c.media_cache_mib = 1)).await;
    let (addr, task) = origin().await;
    let actor = format!("http://{addr}/users/carol");
    let img = format!("http://{addr}/img/1.png");
    let link = b.app.urls.remote_media(&img, &actor);
    assert!(link.starts_with(&format!("{}/cache/", b.base)), "rendered through our origin: {link}");
    let visitor = b.client();
    let r = visitor.get(&path_of(&b, &link)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-length"), Some(noise_png(1).len().to_string().as_str()));
    let files = cache_files(&b);
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read(b.app.cache_dir().join(&files[0].0)).unwrap(), noise_png(1));

    // Not an open proxy: a URL we did not sign, or a tampered signature, is not fetched.
    let other = b.app.urls.remote_media(&format!("http://{addr}/img/2.png"), &actor);
    let tampered = path_of(&b, &other).replacen("/cache/", "/cache/0", 1);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let sig = path_of(&b, &other).split('/').nth(2).unwrap().to_string();
    let swapped = format!("/cache/{sig}/{}/{}", b64.encode(&actor), b64.encode(format!("http://{addr}/img/3.png")));
    // Bad inputs: a signature with a digit more, and a valid signature with another URL swapped in.
    for p in [tampered, swapped] {
        assert_eq!(visitor.get(&p).await.status, 404, "{p}");
    }
    // SVG with a script and HTML, both labelled image/png by the origin: refused, nothing stored.
    for bad in ["evil.png", "page.png"] {
        let l = b.app.urls.remote_media(&format!("http://{addr}/{bad}"), &actor);
        let r = visitor.get(&path_of(&b, &l)).await;
        assert_eq!(r.status, 404, "{bad} refused");
        assert!(!r.body.contains("alert("), "{bad} never served");
    }
    assert_eq!(cache_files(&b).len(), 1, "nothing stored for the refused files");

    // The origin goes down: the cached picture is still served; an uncached one is not.
    task.abort();
    let _ = task.await;
    let r = visitor.get(&path_of(&b, &link)).await;
    assert_eq!(r.status, 200, "served from the cache after the origin went down");
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(visitor.get(&path_of(&b, &b.app.urls.remote_media(&format!("http://{addr}/img/9.png"), &actor))).await.status, 404);

    // Blocking the account purges its files and stops serving them.
    pipit::domain::safety::block(&b.app, &actor).unwrap();
    assert!(cache_files(&b).is_empty(), "purged on block");
    assert_eq!(visitor.get(&path_of(&b, &link)).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_under_its_cap_while_1000_images_arrive() {
    let b = Instance::start_with("bob", Box::new(|c| c.media_cache_mib = 1)).await;
    let cap = 1024 * 1024u64;
    let (addr, _task) = origin().await;
    let actor = format!("http://{addr}/users/carol");
    let visitor = b.client();
    let mut total_fetched = 0u64;
    for n in 0..1000u32 {
        let link = b.app.urls.remote_media(&format!("http://{addr}/img/{n}.png"), &actor);
        let r = visitor.get(&path_of(&b, &link)).await;
        assert_eq!(r.status, 200, "image {n}");
        total_fetched += noise_png(n).len() as u64;
        if n % 50 == 49 {
            let size: u64 = cache_files(&b).iter().map(|f| f.1).sum();
            assert!(size <= cap, "after {} images the cache holds {size} bytes (cap {cap})", n + 1);
        }
    }
    assert!(total_fetched > 4 * cap, "the test really overflows the cap ({total_fetched} bytes)");
    let files = cache_files(&b);
    let size: u64 = files.iter().map(|f| f.1).sum();
    assert!(size <= cap && size > cap / 2, "cache size {size}");
    // Least recently used went first: the last image is there, the first is not.
    let name_of = |n: u32| {
        let l = b.app.urls.remote_media(&format!("http://{addr}/img/{n}.png"), &actor);
        l.split('/').nth_back(2).unwrap().to_string()
    };
    assert!(files.iter().any(|(f, _)| f.contains(&name_of(999))), "newest kept");
    assert!(!files.iter().any(|(f, _)| f.contains(&name_of(0))), "oldest evicted");
}

#[tokio::test]
async fn zero_means_hot_link_and_blocked_accounts_are_never_fetched() {
    let a = Instance::start_with("alice", Box::new(|c| c.media_cache_mib = 0)).await;
    assert_eq!(a.app.urls.remote_media("https://far.example/a.png", "https://far.example/users/x"), "https://far.example/a.png");
    let b = Instance::start("bob").await;
    let (addr, _task) = origin().await;
    let actor = format!("http://{addr}/users/mallory");
    pipit::domain::safety::block(&b.app, &actor).unwrap();
    let link = b.app.urls.remote_media(&format!("http://{addr}/img/5.png"), &actor);
    assert_eq!(b.client().get(&path_of(&b, &link)).await.status, 404);
    let host = addr.to_string();
    let other = format!("http://{host}/users/eve");
    pipit::domain::safety::block_domain(&b.app, "far.example").unwrap();
    let far = b.app.urls.remote_media(&format!("http://{addr}/img/6.png"), "https://far.example/users/eve");
    assert_eq!(b.client().get(&path_of(&b, &far)).await.status, 404, "domain-blocked account");
    assert!(cache_files(&b).is_empty(), "nothing cached for blocked accounts");
    let ok = b.app.urls.remote_media(&format!("http://{addr}/img/7.png"), &other);
    assert_eq!(b.client().get(&path_of(&b, &ok)).await.status, 200, "others still cached");
    assert_eq!(cache_files(&b).len(), 1);
    // Purged by a domain block of the account's server.
    pipit::domain::safety::block_domain(&b.app, &host).unwrap();
    assert!(cache_files(&b).is_empty(), "purged on domain block");
    assert_eq!(b.client().get(&path_of(&b, &ok)).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_emoji_and_remote_avatars_are_drawn_through_the_cache() {
    let b = Instance::start("bob").await;
    let (addr, _task) = origin().await;
    let actor = format!("http://{addr}/users/carol");
    let doc = serde_json::json!({
        "id": actor, "type": "Person", "preferredUsername": "carol", "name": "Carol",
        "inbox": format!("{actor}/inbox"), "icon": {"type": "Image", "url": format!("http://{addr}/img/11.png")},
        "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----"}
    });
    let author = pipit::federation::fetch::store_actor_doc(&b.app, &doc).expect("actor stored");
    let note = serde_json::json!({
        "id": format!("http://{addr}/notes/1"), "type": "Note", "attributedTo": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "published": "2026-11-29T10:00:00Z",
        "content": "<p>hello :blobcat: and <a href=\"https://x.example/:blobcat:\">link</a></p>",
        "tag": [{"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "mediaType": "image/png", "url": format!("http://{addr}/img/12.png")}}]
    });
    let post = pipit::federation::vocab::parse_post(&note, &author).expect("parsed");
    assert_eq!(post.emojis.len(), 1);
    b.app.store.write(|w| w.put_post(&post)).unwrap();
    let stored = b.app.store.read(|r| r.post_by_uri(&post.uri)).unwrap().unwrap();
    let page = b.client().get(&format!("/posts/{}", stored.id)).await;
    assert_eq!(page.status, 200);
    let emoji = page.body.split("<img class=\"emoji\" src=\"").nth(1).expect("emoji drawn as an image").split('"').next().unwrap().to_string();
    assert!(emoji.starts_with(&format!("{}/cache/", b.base)), "through the cache: {emoji}");
    assert!(page.body.contains("alt=\":blobcat:\""), "shortcode as alt text");
    assert!(page.body.contains("href=\"https://x.example/:blobcat:\""), "attribute values untouched");
    assert!(!page.body.contains(&format!("http://{addr}/img/")), "nothing hot-linked from the origin (avatar included)");
    let r = b.client().get(&path_of(&b, &emoji.replace("&#x2F;", "/").replace("&#47;", "/"))).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/png")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_preview_cards_are_fetched_once_and_shown() {
    let b = Instance::start("bob").await;
    let (addr, task) = origin().await;
    let article = format!("http://{addr}/article");
    // The owner's post: the card is fetched in the background after publishing.
    let p = pipit::actions::publish(
        &b.app,
        pipit::actions::Compose { text: format!("#news read {article} now"), cw: String::new(), visibility: pipit::model::Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None },
    )
    .await
    .unwrap();
    eventually("the card is stored", 10, || b.app.store.read(|r| r.post(p.id)).unwrap().unwrap().card.is_some()).await;
    let card = b.app.store.read(|r| r.post(p.id)).unwrap().unwrap().card.unwrap();
    assert_eq!((card.title.as_str(), card.description.as_str()), ("Big & news", "What <really> happened"));
    assert_eq!(card.image.as_deref(), Some(format!("http://{addr}/img/30.png").as_str()));
    let page = b.client().get(&format!("/@bob/{}", p.id)).await;
    assert!(page.body.contains("class=\"card\"") && page.body.contains("Big &amp; news") && page.body.contains("What &lt;really&gt; happened"), "card shown, escaped");
    let img = page.body.split("<a class=\"card\"").nth(1).unwrap().split("<img src=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(img.starts_with(&format!("{}/cache/", b.base)), "card image through the cache: {img}");
    assert_eq!(b.client().get(&path_of(&b, &img)).await.status, 200);
    // Fetched once: with the origin down, the card stays and nothing is refetched or lost.
    task.abort();
    let _ = task.await;
    pipit::federation::cards::fetch_for(&b.app, p.id).await;
    assert_eq!(b.app.store.read(|r| r.post(p.id)).unwrap().unwrap().card, Some(card));
    assert!(b.client().get(&format!("/@bob/{}", p.id)).await.body.contains("Big &amp; news"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_emoji_in_display_names_on_pages_and_in_the_api() {
    let b = Instance::start("bob").await;
    let (addr, _task) = origin().await;
    let author = pipit::federation::fetch::store_actor_doc(&b.app, &carol_doc(addr)).expect("actor stored");
    assert_eq!(author.emojis.len(), 1, "the javascript: emoji is dropped");
    let note = serde_json::json!({
        "id": format!("http://{addr}/notes/2"), "type": "Note", "attributedTo": author.id.as_str(),
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "published": "2026-11-29T10:00:00Z", "content": "<p>plain</p>",
    });
    let post = pipit::federation::vocab::parse_post(&note, &author).expect("parsed");
    b.app.store.write(|w| w.put_post(&post)).unwrap();
    let stored = b.app.store.read(|r| r.post_by_uri(&post.uri)).unwrap().unwrap();
    b.app
        .store
        .write(|w| {
            w.add_notification(&pipit::model::Notification { kind: pipit::model::NotificationKind::Follow, actor: author.id.to_string(), post_uri: None, detail: None, at_ms: 1 })?;
            Ok(())
        })
        .unwrap();
    let owner = b.owner_client().await;
    let name_in = |body: &str, marker: &str| -> String {
        let at = body.find(marker).unwrap_or_else(|| panic!("{marker} missing"));
        body[at..].split("</bdi>").next().unwrap().to_string()
    };
    let post_page = owner.get(&format!("/posts/{}", stored.id)).await;
    let account_page = owner.get(&format!("/@carol@{addr}")).await;
    assert_eq!(account_page.status, 200, "{}", account_page.body);
    let notifications = owner.get("/notifications").await;
    for (page, marker) in [(&post_page.body, "class=\"p-author h-card name\""), (&account_page.body, "<h1>"), (&notifications.body, "class=\"name\"")] {
        let name = name_in(page, marker);
        assert!(name.contains("Carol <img class=\"emoji\" src=\""), "emoji drawn in the name: {name}");
        assert!(name.contains("alt=\":blobcat:\""), "shortcode as alt text: {name}");
        let src = name.split("src=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(src.starts_with(&format!("{}/cache/", b.base)), "through the cache: {src}");
        assert!(name.contains(":evil:") && !name.contains("javascript"), "the hostile emoji stays text: {name}");
    }
    // The API Account: display_name as sent, `emojis` with our cache's URL.
    let ctx = pipit::handlers::api::entities::Ctx::new(&b.app, pipit::domain::timeline::Viewer::Owner).unwrap();
    let acct = ctx.account(&author.id);
    assert_eq!(acct["display_name"], "Carol :blobcat: :evil:");
    let emojis = acct["emojis"].as_array().unwrap();
    assert_eq!(emojis.len(), 1);
    assert_eq!(emojis[0]["shortcode"], "blobcat");
    assert!(emojis[0]["url"].as_str().unwrap().starts_with(&format!("{}/cache/", b.base)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oembed_is_the_fallback_when_opengraph_is_missing() {
    let b = Instance::start("bob").await;
    let (addr, _task) = origin().await;
    let mut posts = Vec::new();
    for kind in ["good", "html", "huge"] {
        let text = format!("see http://{addr}/oembed-page/{kind}");
        let c = pipit::actions::Compose { text, cw: String::new(), visibility: pipit::model::Visibility::Public, in_reply_to: None, media: Vec::new(), quote: None };
        posts.push(pipit::actions::publish(&b.app, c).await.unwrap());
    }
    let card = |i: usize| b.app.store.read(|r| r.post(posts[i].id)).unwrap().unwrap().card;
    eventually("all three cards", 15, || (0..3).all(|i| card(i).is_some())).await;
    let good = card(0).unwrap();
    assert_eq!((good.title.as_str(), good.description.as_str()), ("A film &amp; more", "Dana · Tube"), "oEmbed title and author (plain text, escaped when drawn)");
    assert_eq!(good.image.as_deref(), Some(format!("http://{addr}/img/31.png").as_str()));
    // Bad input: HTML and a 10 MB answer from the oEmbed endpoint are refused; the page's own
    // <title> is the card.
    assert_eq!(card(1).unwrap().title, "Plain title html");
    assert_eq!(card(2).unwrap().title, "Plain title huge");
    assert!(card(1).unwrap().image.is_none());
    let page = b.client().get(&format!("/@bob/{}", posts[0].id)).await;
    assert!(page.body.contains("A film &amp;amp; more") && !page.body.contains("evil.example"), "drawn escaped, the oEmbed html never used");
    // The API Status `card`.
    let ctx = pipit::handlers::api::entities::Ctx::new(&b.app, pipit::domain::timeline::Viewer::Owner).unwrap();
    let status = ctx.status(&b.app.store.read(|r| r.post(posts[0].id)).unwrap().unwrap(), None);
    assert_eq!(status["card"]["title"], "A film &amp; more");
    assert_eq!(status["card"]["url"], format!("http://{addr}/oembed-page/good"));
    assert!(status["card"]["image"].as_str().unwrap().starts_with(&format!("{}/cache/", b.base)), "card image through the cache");
}

/// An MP4-looking file (`ftyp` box first) of `n` bytes, its bytes varying so ranges are checkable.
fn mp4(n: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2".to_vec();
    v.extend((v.len()..n).map(|i| (i % 251) as u8));
    v
}

/// A raw origin that lies: /declares-huge (Content-Length over the cap, a few bytes sent),
/// /cut-short (declares 100,000 bytes, sends 20,000 and closes), /chunked-huge (no length,
/// 2 MiB in chunks), anything else a 300,000-byte MP4 with its true length.
async fn liar() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let path = String::from_utf8_lossy(&req).split_whitespace().nth(1).unwrap_or("/").to_string();
                let head = |len: &str| format!("HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n{len}\r\nConnection: close\r\n\r\n");
                let _ = match path.as_str() {
                    "/declares-huge" => s.write_all(format!("{}{}", head("Content-Length: 50000000"), "x".repeat(100)).as_bytes()).await,
                    "/cut-short" => {
                        let _ = s.write_all(head("Content-Length: 100000").as_bytes()).await;
                        s.write_all(&mp4(20_000)).await
                    }
                    "/chunked-huge" => {
                        let _ = s.write_all(head("Transfer-Encoding: chunked").as_bytes()).await;
                        let chunk = mp4(64 * 1024);
                        let mut r = Ok(());
                        for _ in 0..32 {
                            r = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.and(s.write_all(&chunk).await).and(s.write_all(b"\r\n").await);
                            if r.is_err() {
                                break;
                            }
                        }
                        r.and(s.write_all(b"0\r\n\r\n").await)
                    }
                    _ => {
                        let body = mp4(300_000);
                        let _ = s.write_all(head(&format!("Content-Length: {}", body.len())).as_bytes()).await;
                        s.write_all(&body).await
                    }
                };
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_video_is_streamed_to_the_cache_capped_and_served_with_ranges() {
    // Images capped at 64 KiB, video/audio at 1 MiB: the 300 KB video must take the video path.
    let b = Instance::start_with("bob", Box::new(|c| {
        c.max_upload_kib = 64;
        c.max_media_kib = 1024;
    }))
    .await;
    let addr = liar().await;
    let actor = format!("http://{addr}/users/dana");
    let doc = serde_json::json!({"id": actor, "type": "Person", "preferredUsername": "dana", "inbox": format!("{actor}/inbox"),
        "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----"}});
    let author = pipit::federation::fetch::store_actor_doc(&b.app, &doc).unwrap();
    let note = serde_json::json!({
        "id": format!("http://{addr}/notes/v"), "type": "Note", "attributedTo": actor, "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "published": "2026-11-29T10:00:00Z", "content": "<p>a film</p>",
        "attachment": [{"type": "Document", "mediaType": "video/mp4", "url": format!("http://{addr}/film.mp4"), "name": "the film"}]
    });
    let post = pipit::federation::vocab::parse_post(&note, &author).unwrap();
    b.app.store.write(|w| w.put_post(&post)).unwrap();
    let stored = b.app.store.read(|r| r.post_by_uri(&post.uri)).unwrap().unwrap();
    let page = b.client().get(&format!("/posts/{}", stored.id)).await;
    let src = page.body.split("<video src=\"").nth(1).expect("embedded as <video>").split('"').next().unwrap().replace("&#x2F;", "/");
    assert!(src.starts_with(&format!("{}/cache/", b.base)), "through the cache: {src}");
    assert!(!page.body.contains(&format!("http://{addr}/film.mp4")), "not hot-linked");

    let v = b.client();
    let full = v.get(&path_of(&b, &src)).await;
    assert_eq!((full.status, full.header("content-type"), full.header("accept-ranges")), (200, Some("video/mp4"), Some("bytes")));
    assert_eq!(full.header("content-length"), Some("300000"));
    let on_disk = cache_files(&b);
    assert_eq!(on_disk.len(), 1);
    assert_eq!(std::fs::read(b.app.cache_dir().join(&on_disk[0].0)).unwrap(), mp4(300_000), "stored byte for byte");

    // Seeking: one range; then bad input, a range past the end.
    let r = v.get_with(&path_of(&b, &src), &[("range", "bytes=1000-1099")]).await;
    assert_eq!((r.status, r.header("content-range"), r.header("content-length")), (206, Some("bytes 1000-1099/300000"), Some("100")));
    let want: String = String::from_utf8_lossy(&mp4(300_000)[1000..1100]).into_owned();
    assert_eq!(r.body, want);
    let r = v.get_with(&path_of(&b, &src), &[("range", "bytes=-10")]).await;
    assert_eq!((r.status, r.header("content-range")), (206, Some("bytes 299990-299999/300000")));
    let r = v.get_with(&path_of(&b, &src), &[("range", "bytes=300000-")]).await;
    assert_eq!((r.status, r.header("content-range")), (416, Some("bytes */300000")), "Range out of bounds");
    let r = v.get_with(&path_of(&b, &src), &[("range", "bytes=5000000-5000010")]).await;
    assert_eq!(r.status, 416);

    // Origins that lie about the length, or send more than the cap: refused, nothing kept
    // (no partial file either).
    for bad in ["declares-huge", "cut-short", "chunked-huge"] {
        let l = b.app.urls.remote_media(&format!("http://{addr}/{bad}"), &actor);
        assert_eq!(v.get(&path_of(&b, &l)).await.status, 404, "{bad} refused");
    }
    let all: Vec<String> = std::fs::read_dir(b.app.cache_dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(all.len(), 1, "only the good video on disk, no partial files: {all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_cached_media_are_purged_when_it_is_deleted() {
    let b = Instance::start("bob").await;
    let c = Instance::start("carol").await;
    let (addr, _task) = origin().await;
    let carol = c.app.urls.actor();
    let other = format!("http://{addr}/users/erin");
    // Something of carol's and something of erin's in bob's cache.
    for (n, who) in [(40, carol.as_str()), (41, other.as_str())] {
        let l = b.app.urls.remote_media(&format!("http://{addr}/img/{n}.png"), who);
        assert_eq!(b.client().get(&path_of(&b, &l)).await.status, 200);
    }
    assert_eq!(cache_files(&b).len(), 2);
    // carol's server says her account is gone (a signed Delete of the actor itself).
    let delete = serde_json::json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{carol}#delete"), "type": "Delete", "actor": carol, "object": carol, "to": ["https://www.w3.org/ns/activitystreams#Public"]});
    let r = deliver(&b, &c, &delete).await;
    assert!(r.status < 300, "{} {}", r.status, r.body);
    eventually("carol's cached media purged", 10, || cache_files(&b).len() == 1).await;
    let left = &cache_files(&b)[0].0;
    let erin_name = b.app.urls.remote_media(&format!("http://{addr}/img/41.png"), &other);
    assert!(left.contains(erin_name.split('/').nth_back(2).unwrap()), "erin's file kept: {left}");
}
