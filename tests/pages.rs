//! The owner-page defects of issue 13, over loopback with real pipit instances: who a reply
//! answers, the owner's own posts on Home, a deck that one bad column cannot break, clear
//! errors for accounts that cannot be found or reached, unresolvable mentions left as text,
//! counts in the singular, no empty lists with stray bullets, and an About page the owner edits.
//! (The phone layout lives in tests/browser/pages.test.mjs.)
mod common;
use common::*;
use pipit::federation::vocab::PUBLIC;
use serde_json::json;


/// Publishes through the compose form as the browser does; returns the 303 answer.
async fn compose(owner: &Client, fields: &[(&str, &str)]) -> Response {
    let csrf = owner.owner_csrf().await;
    let mut all = vec![("csrf", csrf.as_str()), ("visibility", "public")];
    all.extend_from_slice(fields);
    owner.post_multipart("/compose", &all, &[]).await
}

fn stored_id(inst: &Instance, uri: &str) -> Option<u64> {
    inst.app.store.read(|r| r.post_by_uri(uri)).unwrap().map(|p| p.id)
}

/// The text of the "Reply to …" line of the post card with id `id` in `html`.
fn reply_line(html: &str, id: u64) -> String {
    let card = &html[html.find(&format!("id=\"post-{id}\"")).expect("post card")..];
    let line = &card[card.find("class=\"reply-to\"").expect("a Reply to line")..];
    line[..line.find("</p>").unwrap()].to_string()
}

#[tokio::test]
async fn a_reply_names_the_parents_author_not_its_url() {
    let me = Instance::start("me").await;
    let peer = Instance::start("pea").await;
    let owner = me.owner_client().await;
    pipit::domain::owner::update_profile(&me.app, pipit::domain::owner::ProfileEdit { display_name: "Mia Example".into(), bio: String::new(), fields: vec![] }).unwrap();

    // The owner replies to her own post: the line names her, not https://…/users/me/statuses/N.
    let r = compose(&owner, &[("content", "the parent")]).await;
    assert_eq!(r.status, 303);
    let parent = me.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0);
    let r = compose(&owner, &[("content", "a reply to myself"), ("in_reply_to", &parent.uri)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let reply = me.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0);
    let page = owner.get(&format!("/@me/{}", reply.id)).await;
    let line = reply_line(&page.body, reply.id);
    assert!(line.contains("<bdi>Mia Example</bdi>"), "the parent's author by name: {line}");
    assert!(!line.contains(&format!(">{}<", parent.uri)), "not the raw URL: {line}");

    // A remote reply whose parent we do not hold: the URL's host, never the whole URL.
    let me_id = me.app.urls.actor();
    let note = json!({
        "id": format!("{}/objects/r1", peer.base), "type": "Note", "attributedTo": peer.app.urls.actor(),
        "to": [PUBLIC, me_id], "published": "2026-11-29T10:00:00Z", "content": "<p>answering elsewhere</p>",
        "inReplyTo": "https://elsewhere.example/notes/12345",
        "tag": [{"type": "Mention", "href": me_id, "name": me.app.urls.handle()}],
    });
    let create = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/objects/r1/activity", peer.base), "type": "Create",
        "actor": peer.app.urls.actor(), "to": note["to"], "object": note});
    assert_eq!(deliver(&me, &peer, &create).await.status, 202);
    let uri = format!("{}/objects/r1", peer.base);
    eventually("the remote reply is stored", 10, || stored_id(&me, &uri).is_some()).await;
    let id = stored_id(&me, &uri).unwrap();
    let page = owner.get(&format!("/posts/{id}")).await;
    let line = reply_line(&page.body, id);
    assert!(line.contains("<bdi>elsewhere.example</bdi>"), "the parent's host: {line}");
    assert!(!line.contains(">https://elsewhere.example/notes/12345<"), "not the raw URL: {line}");
}

#[tokio::test]
async fn the_owners_own_posts_are_on_home_and_posting_from_home_returns_there() {
    let me = Instance::start("me").await;
    let owner = me.owner_client().await;
    // The Home compose form carries back=/home (templates/home.html); the answer goes back there.
    let home = owner.get("/home").await;
    assert!(home.body.contains("name=\"back\" value=\"/home\""), "the Home form says where to return");
    let r = compose(&owner, &[("content", "my own words on home"), ("back", "/home")]).await;
    assert_eq!(r.status, 303);
    assert!(r.location().starts_with("/home?done=posted"), "back to Home, not the profile: {}", r.location());
    let home = owner.get(r.location()).await;
    assert!(home.body.contains("my own words on home"), "the owner's post is on Home");
    assert!(home.body.contains("Posted."), "with the notice, not the raw `posted`");
    let deck = owner.get("/deck").await;
    assert_eq!(deck.status, 200);
    let col0 = &deck.body[deck.body.find("id=\"col-0\"").unwrap()..deck.body.find("id=\"col-1\"").unwrap()];
    assert!(col0.contains("my own words on home"), "and in the deck's Home column");
    // A hostile back= (another site) falls back to the profile.
    let r = compose(&owner, &[("content", "second"), ("back", "//evil.example/x")]).await;
    assert!(r.location().starts_with(&format!("{}?done=posted", me.app.urls.profile())), "{}", r.location());
}

#[tokio::test]
async fn one_bad_deck_column_never_breaks_the_deck() {
    let me = Instance::start("me").await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    assert_eq!(owner.post_form("/lists", &[("csrf", &csrf), ("name", "Friends")]).await.status, 303);

    // A list column by its name, as the field invites: accepted and shown.
    let r = owner.post_form("/deck", &[("csrf", &csrf), ("action", "add"), ("kind", "list"), ("arg", "friends")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let deck = owner.get("/deck").await;
    assert_eq!(deck.status, 200, "the deck still opens: {}", deck.body);
    assert!(deck.body.contains("List: Friends"));

    // An unknown list: refused with a clear message, the deck unchanged.
    let r = owner.post_form("/deck", &[("csrf", &csrf), ("action", "add"), ("kind", "list"), ("arg", "Nope")]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("No list called “Nope”") && r.body.contains("“Friends”"), "{}", r.body);
    assert_eq!(owner.get("/deck").await.status, 200);

    // A column saved before this check (a list by name) and a list deleted later: each is an
    // error card with its remove button; the other columns still show.
    let cols = vec![
        pipit::model::Column { kind: "home".into(), arg: String::new() },
        pipit::model::Column { kind: "list".into(), arg: "Friends".into() },
        pipit::model::Column { kind: "list".into(), arg: "999".into() },
    ];
    me.app.store.write(|w| w.put_deck(&cols)).unwrap();
    let deck = owner.get("/deck").await;
    assert_eq!(deck.status, 200, "one bad column must not 404 the deck: {}", deck.body);
    assert_eq!(deck.body.matches("This column cannot be shown").count(), 2, "{}", deck.body);
    assert!(deck.body.contains("name=\"index\" value=\"2\"><input type=\"hidden\" name=\"action\" value=\"remove\""), "the broken column has its remove button");
    assert_eq!(owner.get("/deck/column/1").await.status, 200, "the live reload of a broken column works too");
    let r = owner.post_form("/deck", &[("csrf", &csrf), ("action", "remove"), ("index", "2")]).await;
    assert_eq!(r.status, 303);
    let r = owner.post_form("/deck", &[("csrf", &csrf), ("action", "remove"), ("index", "1")]).await;
    assert_eq!(r.status, 303);
    let deck = owner.get("/deck").await;
    assert_eq!(deck.status, 200);
    assert!(!deck.body.contains("cannot be shown"));
}

#[tokio::test]
async fn accounts_that_cannot_be_found_or_reached_get_a_clear_error() {
    let me = Instance::start("me").await;
    let peer = Instance::start("pea").await;
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let host = peer.app.urls.host.clone();
    let nobody = format!("@nobody@{host}");
    // A port where nothing listens: bound, then released.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unreachable = format!("@x@127.0.0.1:{dead}");

    let r = owner.post_form("/follow", &[("csrf", &csrf), ("account", &nobody)]).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains(&format!("{nobody} could not be found: the server said")), "{}", r.body);
    assert!(!r.body.contains("Internal server error"));

    let r = owner.post_form("/follow", &[("csrf", &csrf), ("account", &unreachable)]).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains(&format!("{unreachable} could not be reached")), "{}", r.body);
    assert!(!r.body.contains("Internal server error"));

    let r = owner.get(&format!("/search?q={}", pipit::server::request::percent_encode(&unreachable))).await;
    assert_eq!(r.status, 502);
    assert!(r.body.contains("could not be reached") && r.body.contains("name=\"q\""), "the reason on the search page: {}", r.body);
    let r = owner.get(&format!("/search?q={}", pipit::server::request::percent_encode(&nobody))).await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("could not be found"));
    let r = owner.get(&format!("/{nobody}")).await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains(&format!("{nobody} could not be found")), "{}", r.body);
}

#[tokio::test]
async fn an_unresolvable_mention_stays_plain_text_and_the_owner_is_told() {
    let me = Instance::start("me").await;
    let peer = Instance::start("pea").await;
    let owner = me.owner_client().await;
    let host = peer.app.urls.host.clone();
    let text = format!("hello @pea@{host} and @ghost@{host}");
    let r = compose(&owner, &[("content", &text)]).await;
    assert_eq!(r.status, 303);
    assert!(r.location().contains("unresolved="), "{}", r.location());
    let post = me.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.remove(0);
    assert!(post.content.contains(&format!("href=\"{}\"", peer.app.urls.actor())), "the real account is linked: {}", post.content);
    assert!(!post.content.contains("/@ghost"), "no link to a guessed address: {}", post.content);
    assert!(post.content.contains(&format!("@ghost@{host}")), "the text stays: {}", post.content);
    assert_eq!(post.mentions.len(), 1);
    let page = owner.get(r.location().trim_start_matches(&me.base)).await;
    assert!(page.body.contains(&format!("No account was found for @ghost@{host}")), "{}", page.body);
}

/// Every `<ul>`/`<ol>` in `html` has at least one item, and none is an "empty" placeholder.
fn no_empty_lists(path: &str, html: &str) {
    for tag in ["<ul", "<ol"] {
        let close = if tag == "<ul" { "</ul>" } else { "</ol>" };
        let mut at = 0;
        while let Some(i) = html[at..].find(tag) {
            let start = at + i;
            let end = start + html[start..].find(close).expect("closed list");
            let inner = &html[start..end];
            assert!(inner.contains("<li"), "{path}: an empty {tag}>: {inner}");
            assert!(!inner.contains("<li class=\"empty\""), "{path}: a bullet for the empty state: {inner}");
            at = end;
        }
    }
}

#[tokio::test]
async fn counts_are_singular_and_empty_lists_have_no_bullets() {
    let me = Instance::start("me").await;
    let owner = me.owner_client().await;
    assert_eq!(compose(&owner, &[("content", "only one")]).await.status, 303);
    let profile = me.client().get("/@me").await;
    assert!(profile.body.contains("<span>1 post</span>"), "singular: {}", profile.body);
    assert!(!profile.body.contains("1 posts"));
    let csrf = owner.owner_csrf().await;
    assert_eq!(owner.post_form("/lists", &[("csrf", &csrf), ("name", "Empty")]).await.status, 303);
    let list_id = me.app.store.read(|r| r.lists()).unwrap()[0].0;
    for path in ["/lists", "/notifications", "/following", "/followers", "/requests", "/settings/safety", &format!("/lists/{list_id}"), "/@me", "/home", "/bookmarks", "/deck"] {
        let r = owner.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        no_empty_lists(path, &r.body);
        // Pages with nothing to list say so in a sentence (the profile and Home hold the post).
        assert!(r.body.contains("<p class=\"empty\">") || ["/@me", "/home"].contains(&path), "{path}: an empty-state sentence instead");
    }
}

#[tokio::test]
async fn the_owner_edits_the_about_page_and_it_is_shown_sanitised() {
    let me = Instance::start("me").await;
    let owner = me.owner_client().await;
    let settings = owner.get("/settings").await;
    assert!(settings.body.contains("action=\"/settings/about\""), "settings has the About form");
    let csrf = settings.csrf();
    let about = "I am Mia <b>bold?</b>\n\nSecond paragraph, see https://example.org/more";
    let rules = "Be kind. <script>alert(1)</script> Logs are kept 7 days.";
    let r = owner.post_form("/settings/about", &[("csrf", &csrf), ("about", about), ("rules", rules)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = me.client().get("/about").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("I am Mia &lt;b&gt;bold?&lt;&#x2f;b&gt;") || page.body.contains("I am Mia &lt;b&gt;bold?&lt;/b&gt;"), "escaped: {}", page.body);
    assert!(page.body.contains("href=\"https://example.org/more\""), "links become links");
    assert!(page.body.contains("Be kind.") && page.body.contains("Logs are kept 7 days."));
    assert!(!page.body.contains("<script>alert(1)"), "no markup from the text runs");
    assert!(!page.body.contains("No spam, no harassment"), "the owner's rules replace the built-in ones");
    let settings = owner.get("/settings").await;
    assert!(settings.body.contains("Second paragraph"), "the form shows the saved text");
    // Only the owner may change it.
    let r = me.client().post_form("/settings/about", &[("csrf", &csrf), ("about", "defaced"), ("rules", "")]).await;
    assert!(r.status == 401 || r.status == 403, "{}", r.status);
    assert!(!me.client().get("/about").await.body.contains("defaced"));
}

/// GET /search/suggest, behind the compose box's suggestions: handles of accounts this server
/// knows (here: one the owner follows, found by handle and by display name) and stored tags by
/// prefix, for the owner only. Bad inputs tried: logged out, a bare "@" or "#", a tag with markup,
/// a query with a space, a prefix no tag has.
#[tokio::test]
async fn the_compose_box_suggests_known_handles_and_stored_tags() {
    let me = Instance::start("me").await;
    let peer = Instance::start("pea").await;
    pipit::domain::owner::update_profile(&peer.app, pipit::domain::owner::ProfileEdit { display_name: "Green Pod".into(), bio: String::new(), fields: vec![] }).unwrap();
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    assert_eq!(me.client().get("/search/suggest?q=%23ru").await.status, 401, "logged out: nothing");

    let handle = peer.app.urls.handle();
    let r = owner.post_form("/follow", &[("csrf", &csrf), ("account", &handle)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(compose(&owner, &[("content", "about #rustlang, #rust and #ruby")]).await.status, 303);

    let ask = |q: &'static str| {
        let owner = &owner;
        async move {
            let r = owner.get(&format!("/search/suggest?q={q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
        }
    };
    let by_handle = ask("%40pe").await;
    assert_eq!(by_handle["accounts"][0]["handle"], handle.as_str(), "{by_handle}");
    assert_eq!(by_handle["accounts"][0]["name"], "Green Pod");
    assert_eq!(ask("%40green").await["accounts"][0]["handle"], handle.as_str(), "by display name");
    assert_eq!(ask("%40zz").await["accounts"], json!([]));
    assert_eq!(ask("%23ru").await["tags"], json!(["ruby", "rust", "rustlang"]), "stored tags by prefix, in order");
    assert_eq!(ask("%23RUST").await["tags"], json!(["rust", "rustlang"]), "case does not matter");
    assert_eq!(ask("%23rusty").await["tags"], json!([]));
    for bad in ["%40", "%23", "%23%3Cscript%3E", "%40pe%20a", "plain"] {
        let v = ask(bad).await;
        assert_eq!((&v["accounts"], &v["tags"]), (&json!([]), &json!([])), "{bad}: {v}");
    }
}
