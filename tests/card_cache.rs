//! Issue 13: post cards are kept rendered (render/cards.rs) and must never show stale content.
//! Every step below first draws the card (so it is cached), then changes what the card shows,
//! then checks the owner's uncached page shows the new state at once.
mod common;
use common::*;

async fn compose(owner: &Client, fields: &[(&str, &str)]) {
    let csrf = owner.owner_csrf().await;
    let mut f = vec![("csrf", csrf.as_str()), ("visibility", "public")];
    f.extend_from_slice(fields);
    let r = owner.post_multipart("/compose", &f, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

/// The `<article>` of post `id` on `page`.
fn card<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page.find(&format!("\" id=\"post-{id}\"")).unwrap_or_else(|| panic!("card {id} on the page"));
    let start = page[..at].rfind("<article").unwrap();
    let end = page[start..].find("</article>").map(|e| start + e).unwrap();
    &page[start..end]
}

/// Bad inputs tried: a card drawn for a visitor then asked for by the owner (and back), then
/// a like, a boost, a bookmark, a reply, an edit and a delete of a post whose card was
/// drawn just before each: each must show its new state on the next page.
#[tokio::test]
async fn cached_cards_never_show_stale_state() {
    let me = Instance::start("me").await;
    let owner = me.owner_client().await;
    compose(&owner, &[("content", "the cached words")]).await;
    let page = owner.get("/@me").await.body;
    let id = page.split("id=\"post-").nth(1).and_then(|s| s.split('"').next()).expect("a post card").to_string();
    let url = format!("{}/@me/{id}", me.base);
    let like = format!("action=\"/posts/{id}/like\"");

    // Visitor first: no buttons. Then the owner: forms. Then a visitor again: still none.
    let anon = me.client();
    let v = anon.get("/@me").await.body;
    assert!(card(&v, &id).contains("the cached words") && !card(&v, &id).contains(&like), "a visitor's card has no forms");
    let o = owner.get("/@me").await.body;
    assert!(card(&o, &id).contains(&like), "the owner's card has the like form, not the visitor's cached card");
    let csrf = owner.owner_csrf().await;
    assert!(card(&o, &id).contains(&format!("value=\"{csrf}\"")), "the owner's own CSRF token in the card's forms");
    // Another visitor URL (the page cache never saw it) so the card comes from the card cache.
    let v2 = anon.get(&format!("/@me/{id}")).await.body;
    assert!(!v2.contains(&like), "a visitor after the owner gets no forms");
    let before = me.app.render.card_stats();
    let again = owner.get("/@me").await.body;
    let after = me.app.render.card_stats();
    assert!(after.hits > before.hits, "the owner's second view is drawn from the card cache: {before:?} → {after:?}");
    assert_eq!(card(&again, &id), card(&o, &id), "a cached card is the rendered one, byte for byte");

    let act = |a: &'static str| {
        let (owner, id, csrf) = (&owner, id.clone(), csrf.clone());
        async move {
            let r = owner.post_form(&format!("/posts/{id}/{a}"), &[("csrf", &csrf), ("back", "/@me")]).await;
            assert_eq!(r.status, 303, "{a}: {}", r.body);
        }
    };
    act("like").await;
    let o = owner.get("/@me").await.body;
    let c = card(&o, &id);
    assert!(c.contains(&format!("action=\"/posts/{id}/unlike\"")) && c.contains("title=\"Undo like\"") && c.contains("<span class=\"n\">1</span><span class=\"sr-only\"> like</span>"), "liked: {c}");

    act("boost").await;
    let o = owner.get("/@me").await.body;
    let c = card(&o, &id);
    assert!(c.contains("title=\"Undo boost\"") && c.contains("<span class=\"n\">1</span><span class=\"sr-only\"> boost</span>"), "boosted: {c}");

    act("bookmark").await;
    let o = owner.get("/@me").await.body;
    assert!(card(&o, &id).contains("title=\"Remove bookmark\""), "bookmarked");

    compose(&owner, &[("content", "a reply to it"), ("in_reply_to", &url)]).await;
    let o = owner.get("/@me").await.body;
    assert!(card(&o, &id).contains("<span class=\"n\">1</span><span class=\"sr-only\"> reply</span>"), "one reply: {}", card(&o, &id));

    let r = owner.post_form(&format!("/@me/{id}/edit"), &[("csrf", &csrf), ("content", "the edited words")]).await;
    assert_eq!(r.status, 303, "edit: {}", r.body);
    let o = owner.get("/@me").await.body;
    let c = card(&o, &id);
    assert!(c.contains("the edited words") && !c.contains("the cached words") && c.contains("class=\"edited\""), "edited: {c}");
    // The visitor's card changed too (a different cache entry).
    let v = anon.get(&format!("/@me/{id}")).await.body;
    // The post's own page lists earlier versions below the card's text: look above them.
    let shown = card(&v, &id).split("class=\"history\"").next().unwrap();
    assert!(shown.contains("the edited words") && !shown.contains("the cached words"), "the visitor sees the edit: {shown}");

    let r = owner.post_form(&format!("/@me/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303, "delete: {}", r.body);
    let o = owner.get("/@me").await.body;
    assert!(!o.contains(&format!("id=\"post-{id}\"")) && !o.contains("the edited words"), "deleted");
    assert!(me.app.render.card_stats().bytes <= pipit::render::cards::BUDGET);
}
