//! Issue 17: ids are unique by construction and no write replaces a record it did not look up.
//!
//! The bad inputs tried: 100,000 remote posts that all carry one `published` second (the old ids
//! had 16 random bits per millisecond, so about 76,000 of them would have overwritten others),
//! own posts made in that same millisecond (the old code could overwrite them too), a second
//! pipit delivering 2,000 posts as fast as its queue goes, and direct inserts over existing keys.
mod common;
use common::*;
use pipit::model::{Filter, FollowState, HomeEntry, List, Notification, NotificationKind, Post, RemoteActor, Visibility};
use pipit::store::IdSpace;
use std::collections::{HashMap, HashSet};

/// An app on a fresh data folder, no server (the store and domain APIs are used directly).
fn app(tag: &str) -> (TempDir, pipit::App) {
    let dir = TempDir::new(tag);
    pipit::cli::init(dir.path(), "http://127.0.0.1:9", "alice", "127.0.0.1:9", true).unwrap();
    let app = pipit::App::open(dir.path()).unwrap();
    (dir, app)
}

/// 2026-01-01T00:00:00Z: a whole second, as Mastodon's `published` always is.
const SECOND: u64 = 1_767_225_600_000;

fn remote_post(i: usize, authors: usize) -> Post {
    let a = i % authors;
    Post {
        id: 0,
        uri: pipit::model::HttpUrl::parse(&format!("https://r{}.example/users/u{a}/statuses/{i}", a % 7)).unwrap(),
        url: pipit::model::HttpUrl::parse(&format!("https://r{}.example/@u{a}/{i}", a % 7)),
        author: format!("https://r{}.example/users/u{a}", a % 7),
        local: false,
        content: format!("<p>flood w{i}x</p>"),
        source: String::new(),
        summary: String::new(),
        visibility: Visibility::Public,
        in_reply_to: None,
        published_ms: SECOND,
        edited_ms: None,
        tags: vec!["flood".into(), format!("t{i}")],
        mentions: vec![],
        attachments: vec![],
        sensitive: false,
        quote: None,
        poll: None,
        language: None,
        emojis: vec![],
        card: None,
        local_only: false,
        held_until_ms: None,
    }
}

fn own_post(app: &pipit::App, w: &mut pipit::store::Write, j: usize, at_ms: u64) -> Post {
    let id = w.new_id(IdSpace::Posts, at_ms).unwrap();
    let p = Post {
        id,
        uri: app.urls.post_id_url(id),
        url: pipit::model::HttpUrl::parse(&app.urls.post_url(id)),
        author: app.urls.actor(),
        local: true,
        content: format!("<p>flood own{j}x</p>"),
        published_ms: at_ms,
        tags: vec!["flood".into(), format!("own{j}")],
        ..remote_post(0, 1)
    };
    w.insert_post(&p).unwrap();
    p
}

/// Every post is found by id, URI, its own tag, its own search word, and in its author's list;
/// the shared tag and the owner's index list exactly the expected ids.
fn check_all_found(app: &pipit::App, remote: &[(u64, String, String, usize)], own: &[Post]) {
    app.store
        .read(|r| {
            let mut by_author: HashMap<&str, HashSet<u64>> = HashMap::new();
            for (id, uri, author, i) in remote {
                let p = r.post(*id)?.unwrap_or_else(|| panic!("remote post {i} (id {id}) is gone"));
                assert_eq!(&p.uri, uri, "id {id} holds another post");
                assert_eq!(r.post_id_by_uri(uri)?, Some(*id), "{uri} not found by URI");
                let tagged = r.tagged(&format!("t{i}"), None, 5, |_| true)?;
                assert_eq!(tagged.posts.iter().map(|p| p.id).collect::<Vec<_>>(), vec![*id], "tag t{i}");
                let (found, _) = r.search(&[format!("w{i}x")], None, 5, &|_| true)?;
                assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), vec![*id], "search w{i}x");
                by_author.entry(author.as_str()).or_default().insert(*id);
            }
            for (author, want) in &by_author {
                let mut got = HashSet::new();
                let mut before = None;
                loop {
                    let page = r.posts_by(author, before, 500)?;
                    let Some(last) = page.last() else { break };
                    before = Some(last.id);
                    got.extend(page.iter().map(|p| p.id));
                }
                assert_eq!(&got, want, "posts by {author}");
            }
            for (j, p) in own.iter().enumerate() {
                let stored = r.post(p.id)?.unwrap_or_else(|| panic!("own post {j} (id {}) is gone", p.id));
                assert_eq!(stored, *p, "own post {j} was overwritten");
                assert_eq!(r.post_id_by_uri(&p.uri)?, Some(p.id));
                let (found, _) = r.search(&[format!("own{j}x")], None, 5, &|_| true)?;
                assert_eq!(found.len(), 1, "search own{j}x");
                assert_eq!(r.tagged(&format!("own{j}"), None, 5, |_| true)?.posts.len(), 1, "tag own{j}");
            }
            // The shared tag, paged newest first, lists every post exactly once.
            let mut all = HashSet::new();
            let mut before = None;
            loop {
                let page = r.tagged("flood", before, 1000, |_| true)?;
                for p in &page.posts {
                    assert!(all.insert(p.id), "post {} listed twice under #flood", p.id);
                }
                match page.next {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
            assert_eq!(all.len(), remote.len() + own.len(), "posts under #flood");
            // The owner's index: exactly the own posts.
            assert_eq!(r.own_post_count()?, own.len() as u64);
            let mut mine = HashSet::new();
            let mut before = None;
            loop {
                let page = r.own_posts(before, 100, |_| true)?;
                mine.extend(page.posts.iter().map(|p| p.id));
                match page.next {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
            assert_eq!(mine, own.iter().map(|p| p.id).collect::<HashSet<_>>());
            Ok(())
        })
        .unwrap();
}

/// 100,000 remote posts published in one second, through the path every received post takes
/// (`domain::inbox::upsert_post`), with own posts made in that same millisecond before, during
/// and after the flood. Written in transactions of 10,000 (the group commit batches the same
/// way under load). Every post is then found by id, URI, author, tag and search.
#[test]
fn hundred_thousand_posts_of_one_second_are_all_kept() {
    const N: usize = 100_000;
    const AUTHORS: usize = 50;
    let (_dir, app) = app("ids-flood");
    let mut remote: Vec<(u64, String, String, usize)> = Vec::with_capacity(N);
    let mut own = Vec::new();
    app.store
        .write(|w| {
            for j in 0..20 {
                own.push(own_post(&app, w, j, SECOND));
            }
            Ok(())
        })
        .unwrap();
    for batch in 0..N / 10_000 {
        app.store
            .write(|w| {
                for i in batch * 10_000..(batch + 1) * 10_000 {
                    let p = remote_post(i, AUTHORS);
                    let (uri, author) = (p.uri.clone(), p.author.clone());
                    let (id, is_new) = pipit::domain::inbox::upsert_post(w, p)?;
                    assert!(is_new, "post {i} seen as known");
                    remote.push((id, uri.to_string(), author, i));
                    if i % 1000 == 999 {
                        let j = own.len();
                        own.push(own_post(&app, w, j, SECOND));
                    }
                }
                Ok(())
            })
            .unwrap();
    }
    app.store
        .write(|w| {
            for _ in 0..20 {
                let j = own.len();
                own.push(own_post(&app, w, j, SECOND));
            }
            Ok(())
        })
        .unwrap();

    let ids: HashSet<u64> = remote.iter().map(|r| r.0).chain(own.iter().map(|p| p.id)).collect();
    assert_eq!(ids.len(), N + own.len(), "ids handed out twice");
    // Still time-sortable: every id is in the second it was published (65,536 ids per ms, so
    // the flood fills two milliseconds).
    for id in &ids {
        let ms = pipit::ids::id_ms(*id);
        assert!((SECOND..SECOND + 1000).contains(&ms), "id {id} is at {ms}, outside its second");
    }
    check_all_found(&app, &remote, &own);
}

/// Own posts published for real (`domain::posts::publish`, ids for "now"), then thousands of
/// remote posts published in each of those very milliseconds: none of the owner's posts is
/// replaced and every remote one is kept.
#[test]
fn remote_posts_in_the_millisecond_of_own_posts_replace_nothing() {
    let (_dir, app) = app("ids-own");
    let mut own = Vec::new();
    for j in 0..30 {
        let p = pipit::domain::posts::publish(
            &app,
            pipit::domain::posts::NewPost {
                text: format!("flood own{j}x #own{j}"),
                cw: String::new(),
                visibility: Visibility::Public,
                in_reply_to: None,
                media: vec![],
                resolved: vec![],
                quote: None,
            },
        )
        .unwrap();
        assert_eq!(app.urls.post_uri(p.id), p.uri, "the URI names the allocated id");
        own.push(p);
    }
    // The milliseconds the owner's posts were made in (the first three suffice).
    let mut own_ms: Vec<u64> = own.iter().map(|p| pipit::ids::id_ms(p.id)).collect();
    own_ms.dedup();
    own_ms.truncate(3);
    let mut remote = Vec::new();
    let mut i = 0;
    for ms in own_ms {
        app.store
            .write(|w| {
                for _ in 0..3000 {
                    let mut p = remote_post(i, 10);
                    p.published_ms = ms;
                    let (uri, author) = (p.uri.clone(), p.author.clone());
                    let (id, _) = pipit::domain::inbox::upsert_post(w, p)?;
                    remote.push((id, uri.to_string(), author, i));
                    i += 1;
                }
                Ok(())
            })
            .unwrap();
    }
    app.store
        .read(|r| {
            for p in &own {
                assert_eq!(r.post(p.id)?.as_ref(), Some(p), "own post {} replaced", p.id);
            }
            Ok(())
        })
        .unwrap();
    // Own posts carry a rendered hashtag link and no "flood" tag; check them by id/URI above and
    // the remote ones fully.
    app.store
        .read(|r| {
            for (id, uri, _, i) in &remote {
                assert_eq!(r.post(*id)?.map(|p| p.uri.to_string()), Some(uri.clone()), "remote post {i}");
                assert_eq!(r.post_id_by_uri(uri)?, Some(*id));
            }
            assert_eq!(r.own_post_count()?, own.len() as u64);
            Ok(())
        })
        .unwrap();
}

/// `new_id` never hands out one id twice in a transaction, even before anything is inserted and
/// past a full millisecond (65,536 ids); and it steps over stored ids.
#[test]
fn new_id_is_free_and_unique_within_a_transaction() {
    let (_dir, app) = app("ids-alloc");
    app.store
        .write(|w| {
            let mut seen = HashSet::new();
            for _ in 0..70_000 {
                assert!(seen.insert(w.new_id(IdSpace::Notifications, SECOND)?), "id handed out twice");
            }
            Ok(())
        })
        .unwrap();
    // Fill the ids of one millisecond with stored records, then ask for more of that millisecond
    // in later transactions: each lands on a free key, none replaces a stored one.
    let stored: Vec<u64> = app
        .store
        .write(|w| (0..66_000).map(|_| w.add_home(&HomeEntry { post_id: 1, boosted_by: None }, SECOND)).collect())
        .unwrap();
    assert_eq!(stored.iter().collect::<HashSet<_>>().len(), stored.len());
    let more: Vec<u64> = app.store.write(|w| (0..100).map(|_| w.add_home(&HomeEntry { post_id: 2, boosted_by: None }, SECOND)).collect()).unwrap();
    let all: HashSet<u64> = stored.iter().chain(more.iter()).copied().collect();
    assert_eq!(all.len(), stored.len() + more.len(), "a later transaction reused a stored id");
}

/// Inserting over an existing key is an error that leaves the stored record as it was; the
/// explicit updates change only the same object.
#[test]
fn inserts_never_replace_and_updates_only_touch_the_same_object() {
    let (_dir, app) = app("ids-conflict");
    let a = app
        .store
        .write(|w| {
            let id = w.new_id(IdSpace::Posts, SECOND)?;
            let p = Post { id, ..remote_post(1, 1) };
            w.insert_post(&p)?;
            Ok(p)
        })
        .unwrap();
    let conflict = |r: pipit::error::Result<()>, what: &str| match r {
        Err(pipit::error::Error::Store(m)) => assert!(m.contains("conflict"), "{what}: {m}"),
        other => panic!("{what}: expected a conflict error, got {other:?}"),
    };
    // Another post at the same id: refused (the old put replaced it and unindexed the first).
    let b = Post { id: a.id, ..remote_post(2, 1) };
    conflict(app.store.write(|w| w.insert_post(&b)), "insert_post at a taken id");
    conflict(app.store.write(|w| w.put_post(&b)), "put_post of another post at a taken id");
    conflict(app.store.write(|w| w.update_post(&b)), "update_post with another URI");
    // The same URI under a second id: refused.
    let dup = app.store.write(|w| Ok(Post { id: w.new_id(IdSpace::Posts, SECOND)?, ..a.clone() })).unwrap();
    conflict(app.store.write(|w| w.insert_post(&dup)), "insert_post of a stored URI");
    app.store
        .read(|r| {
            assert_eq!(r.post(a.id)?.as_ref(), Some(&a));
            assert_eq!(r.post_id_by_uri(&a.uri)?, Some(a.id));
            assert_eq!(r.post_id_by_uri(&b.uri)?, None);
            assert_eq!(r.post(dup.id)?, None);
            Ok(())
        })
        .unwrap();
    // An explicit update of the same post works and re-indexes it.
    let edited = Post { content: "<p>edited</p>".into(), tags: vec!["newtag".into()], ..a.clone() };
    app.store.write(|w| w.update_post(&edited)).unwrap();
    app.store
        .read(|r| {
            assert_eq!(r.post(a.id)?.unwrap().content, "<p>edited</p>");
            assert_eq!(r.tagged("newtag", None, 5, |_| true)?.posts.len(), 1);
            assert_eq!(r.tagged("flood", None, 5, |_| true)?.posts.len(), 0, "old tag unindexed");
            Ok(())
        })
        .unwrap();
    assert!(matches!(app.store.write(|w| w.update_post(&Post { id: 12345, ..a.clone() })), Err(pipit::error::Error::NotFound)));

    // Activities, sessions, filters, lists.
    let act = app.store.write(|w| {
        let id = w.new_id(IdSpace::Activities, SECOND)?;
        w.put_activity(id, &serde_json::json!({"n": 1}))?;
        Ok(id)
    }).unwrap();
    conflict(app.store.write(|w| w.put_activity(act, &serde_json::json!({"n": 2}))), "put_activity at a taken id");
    assert_eq!(app.store.read(|r| r.activity(act)).unwrap().unwrap(), br#"{"n":1}"#.to_vec());
    app.store.write(|w| w.put_session("hash1", 10)).unwrap();
    conflict(app.store.write(|w| w.put_session("hash1", u64::MAX)), "put_session of a known hash");
    assert_eq!(app.store.read(|r| r.session_expiry("hash1", 0)).unwrap(), Some(10));
    let f = Filter { keyword: "x".into(), action: "hide".into(), contexts: vec!["home".into()] };
    let fid = app.store.write(|w| w.add_filter(&f)).unwrap();
    conflict(app.store.write(|w| w.put_filter(fid, &Filter { keyword: "y".into(), ..f.clone() })), "put_filter at a taken id");
    assert_eq!(app.store.read(|r| r.filters()).unwrap(), vec![(fid, f)]);
    let l = List { name: "one".into(), exclusive: false, public: false, created_ms: 1 };
    let lid = app.store.write(|w| w.create_list(&l)).unwrap();
    let l2 = app.store.write(|w| w.create_list(&List { name: "two".into(), ..l.clone() })).unwrap();
    assert_ne!(lid, l2);
    app.store.write(|w| w.update_list(lid, &List { name: "uno".into(), ..l.clone() })).unwrap();
    assert_eq!(app.store.read(|r| r.list(lid)).unwrap().unwrap().name, "uno");
    assert!(matches!(app.store.write(|w| w.update_list(999, &l)), Err(pipit::error::Error::NotFound)));

    // Notifications and queue jobs get distinct ids however many are made at once.
    let ids: Vec<u64> = app
        .store
        .write(|w| {
            let mut v = Vec::new();
            for _ in 0..1000 {
                v.push(w.add_notification(&Notification { kind: NotificationKind::Like, actor: "https://r.example/u".into(), post_uri: None, detail: None, at_ms: 1 })?);
                v.push(w.enqueue(pipit::model::JobKind::Deliver { activity: act, inbox: "https://r.example/inbox".into() }, u64::MAX / 2)?);
            }
            Ok(v)
        })
        .unwrap();
    assert_eq!(app.store.read(|r| r.notification_count()).unwrap(), 1000);
    assert_eq!(app.store.read(|r| r.queue_stats()).unwrap().pending, 1000);
    let _ = ids;

    // A key id already claimed by one actor is not taken over by another actor's document.
    let actor = |id: &str, key: &str, pem: &str| {
        let mut a: RemoteActor = pipit::federation::vocab::parse_actor(&serde_json::json!({"id": id, "type": "Person", "inbox": format!("{id}/inbox")}), 1).unwrap();
        a.key_id = key.into();
        a.public_key_pem = pem.into();
        a
    };
    let alice = actor("https://r.example/users/alice", "https://r.example/users/alice#main-key", "A");
    let mallory = actor("https://m.example/users/mallory", &alice.key_id, "M");
    app.store.write(|w| w.put_actor(&alice)).unwrap();
    app.store.write(|w| w.put_actor(&mallory)).unwrap();
    assert_eq!(app.store.read(|r| r.actor_by_key(&alice.key_id)).unwrap().unwrap().id, alice.id);
    app.store.write(|w| w.delete_actor(&mallory.id)).unwrap();
    assert_eq!(app.store.read(|r| r.actor_by_key(&alice.key_id)).unwrap().unwrap().id, alice.id, "deleting mallory kept alice's key");
}

/// A second pipit delivers 2,000 posts as fast as it can, through its real queue, to the first
/// one's inbox over loopback. Its `published` has whole-second resolution, so hundreds share a
/// second (the old ids lost a few of every 2,000). The receiver keeps all 2,000: counted in the
/// store (by URI and by author) and on the owner's /home page, paged to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_fast_deliveries_all_arrive() {
    const N: usize = 2000;
    let a = Instance::start("alice").await;
    let b = Instance::start_with("bob", Box::new(|c| c.delivery_per_host = 8)).await;
    let bob = b.app.urls.actor();
    pipit::actions::follow(&a.app, &b.app.urls.handle()).await.unwrap();
    eventually("alice follows bob", 20, || matches!(a.app.store.read(|r| r.following(&bob)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;

    let mut uris = Vec::with_capacity(N);
    for i in 0..N {
        let p = pipit::domain::posts::publish(
            &b.app,
            pipit::domain::posts::NewPost { text: format!("burst n{i}x"), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], resolved: vec![], quote: None },
        )
        .unwrap();
        uris.push(p.uri);
    }
    eventually("bob's queue drains", 300, || b.app.store.read(|r| r.queue_stats()).unwrap().pending == 0).await;
    assert_eq!(b.app.store.read(|r| r.queue_stats()).unwrap().dead, 0, "no delivery gave up");
    eventually("alice has all 2,000 posts", 60, || a.app.store.read(|r| Ok(r.posts_by(&bob, None, N + 10)?.len())).unwrap() == N).await;
    a.app
        .store
        .read(|r| {
            for (i, uri) in uris.iter().enumerate() {
                assert!(r.post_by_uri(uri)?.is_some(), "post {i} ({uri}) was lost");
            }
            Ok(())
        })
        .unwrap();
    // Hundreds per second: the case that lost posts before.
    let mut per_second: HashMap<u64, usize> = HashMap::new();
    a.app.store.read(|r| {
        for p in r.posts_by(&bob, None, N)? {
            *per_second.entry(p.published_ms / 1000).or_default() += 1;
        }
        Ok(())
    }).unwrap();
    assert!(per_second.values().any(|&n| n >= 50), "posts were not bunched in seconds: {per_second:?}");

    // The owner's home timeline, paged to the end, shows each of the 2,000 once.
    let c = a.owner_client().await;
    let mut seen = HashSet::new();
    let mut path = "/home".to_string();
    for _ in 0..N {
        let page = c.get(&path).await;
        assert_eq!(page.status, 200);
        for part in page.body.split("burst n").skip(1) {
            if let Some(end) = part.find('x') {
                if let Ok(n) = part[..end].parse::<usize>() {
                    seen.insert(n);
                }
            }
        }
        let Some(at) = page.body.find("?before=") else { break };
        let rest = &page.body[at + "?before=".len()..];
        let end = rest.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(rest.len());
        path = format!("/home?before={}", &rest[..end]);
    }
    assert_eq!(seen.len(), N, "posts shown on /home");
}
