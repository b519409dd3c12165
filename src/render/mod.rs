//! Server-rendered pages and feeds with minijinja. Templates live in templates/ and are compiled
//! into the binary. This module sees view structs only: no store, no network, no federation.

pub mod cards;
pub mod views;

use crate::error::Result;
use crate::urls::Urls;
use minijinja::{AutoEscape, Environment};
use std::sync::{Arc, OnceLock};

/// Every template, embedded at build time (the single binary carries its pages).
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("profile.html", include_str!("../../templates/profile.html")),
    ("post.html", include_str!("../../templates/post.html")),
    ("scheduled.html", include_str!("../../templates/scheduled.html")),
    ("edit.html", include_str!("../../templates/edit.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("setup.html", include_str!("../../templates/setup.html")),
    ("settings.html", include_str!("../../templates/settings.html")),
    ("about.html", include_str!("../../templates/about.html")),
    ("community.html", include_str!("../../templates/community.html")),
    ("starter_pack.html", include_str!("../../templates/starter_pack.html")),
    ("relays.html", include_str!("../../templates/relays.html")),
    ("crosspost.html", include_str!("../../templates/crosspost.html")),
    ("tag.html", include_str!("../../templates/tag.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("people.html", include_str!("../../templates/people.html")),
    ("notifications.html", include_str!("../../templates/notifications.html")),
    ("lists.html", include_str!("../../templates/lists.html")),
    ("list.html", include_str!("../../templates/list.html")),
    ("bookmarks.html", include_str!("../../templates/bookmarks.html")),
    ("safety.html", include_str!("../../templates/safety.html")),
    ("search.html", include_str!("../../templates/search.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("deck.html", include_str!("../../templates/deck.html")),
    ("compose.html", include_str!("../../templates/compose.html")),
    ("deck_column.html", include_str!("../../templates/deck_column.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("interact.html", include_str!("../../templates/interact.html")),
    ("oauth_authorize.html", include_str!("../../templates/oauth_authorize.html")),
    ("oauth_code.html", include_str!("../../templates/oauth_code.html")),
    ("oauth_apps.html", include_str!("../../templates/oauth_apps.html")),
    ("feed.atom", include_str!("../../templates/feed.atom")),
    ("feed.rss", include_str!("../../templates/feed.rss")),
    ("tag_feed.atom", include_str!("../../templates/tag_feed.atom")),
    ("tag_feed.rss", include_str!("../../templates/tag_feed.rss")),
];

/// The interface's icons (static/icons/*.svg, 24×24 strokes in `currentColor`). Each page carries
/// them once, as `<symbol>`s in `{{ icon_sprite() }}` (base.html), and `{{ icon("name") }}` writes a
/// 70-byte `<svg><use href="#i-name"/></svg>`: no extra request, the theme's colours, no CSP
/// exception, and a timeline of 20 cards does not repeat the paths 120 times. Icons are
/// aria-hidden: the button or link around each one is named in text.
const ICONS: &[(&str, &str)] = &[
    ("bell", include_str!("../../static/icons/bell.svg")),
    ("bookmark", include_str!("../../static/icons/bookmark.svg")),
    ("boost", include_str!("../../static/icons/boost.svg")),
    ("deck", include_str!("../../static/icons/deck.svg")),
    ("delete", include_str!("../../static/icons/delete.svg")),
    ("edit", include_str!("../../static/icons/edit.svg")),
    ("external", include_str!("../../static/icons/external.svg")),
    ("home", include_str!("../../static/icons/home.svg")),
    ("info", include_str!("../../static/icons/info.svg")),
    ("like", include_str!("../../static/icons/like.svg")),
    ("list", include_str!("../../static/icons/list.svg")),
    ("login", include_str!("../../static/icons/login.svg")),
    ("logout", include_str!("../../static/icons/logout.svg")),
    ("more", include_str!("../../static/icons/more.svg")),
    ("people", include_str!("../../static/icons/people.svg")),
    ("pin", include_str!("../../static/icons/pin.svg")),
    ("quote", include_str!("../../static/icons/quote.svg")),
    ("reply", include_str!("../../static/icons/reply.svg")),
    ("search", include_str!("../../static/icons/search.svg")),
    ("settings", include_str!("../../static/icons/settings.svg")),
    ("user", include_str!("../../static/icons/user.svg")),
    ("write", include_str!("../../static/icons/write.svg")),
];

/// Every icon as a `<symbol id="i-NAME">` in one hidden `<svg>`, for `<use href="#i-NAME">`.
fn icon_sprite() -> String {
    let mut out = String::from(r#"<svg xmlns="http://www.w3.org/2000/svg" class="sprite" aria-hidden="true" focusable="false">"#);
    for (name, svg) in ICONS {
        // The paths between the file's <svg …> and </svg>.
        let inner = svg.split_once('>').map(|(_, rest)| rest).unwrap_or("").trim_end().trim_end_matches("</svg>");
        out.push_str(&format!(r#"<symbol id="i-{name}" viewBox="0 0 24 24">{inner}</symbol>"#));
    }
    out.push_str("</svg>");
    out
}

pub struct Renderer {
    env: Environment<'static>,
    cards: Arc<cards::Cards>,
}

impl Renderer {
    pub fn new(urls: Urls) -> Result<Renderer> {
        let mut env = Environment::new();
        // Feeds are XML: HTML escaping is also correct XML escaping for text and attributes.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") || name.ends_with(".atom") || name.ends_with(".rss") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        // minijinja's HTML escaping also escapes '/', which turns every URL in a feed into
        // `http:&#x2f;&#x2f;…`: valid, but noisy. Escape the five characters that matter.
        env.set_formatter(|out, state, value| {
            if state.auto_escape() != AutoEscape::None && !value.is_safe() {
                if let Some(s) = value.as_str() {
                    return crate::text::escape_into(out, s).map_err(minijinja::Error::from);
                }
                if value.is_undefined() || value.is_none() {
                    return Ok(());
                }
                return crate::text::escape_into(out, &value.to_string()).map_err(minijinja::Error::from);
            }
            minijinja::escape_formatter(out, state, value)
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        // Compiled on first use, not at start: an idle server that has rendered no page holds
        // no template ASTs (issue 15, idle memory). `every_template_compiles` below keeps the
        // build-time check that they all parse.
        env.set_loader(|name| Ok(TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, source)| source.to_string())));
        // Built on first use (the first page that draws an icon), once: each call hands out a
        // shared string (a reference count), not a new one. Not at start: an idle server has
        // not read the icon names or held the 22 strings (issue 15, idle memory).
        static USES: OnceLock<Vec<(&'static str, minijinja::Value)>> = OnceLock::new();
        env.add_function("icon", move |name: &str| -> std::result::Result<minijinja::Value, minijinja::Error> {
            let uses = USES.get_or_init(|| {
                ICONS
                    .iter()
                    .map(|(n, _)| (*n, minijinja::Value::from_safe_string(format!(r##"<svg class="icon" width="20" height="20" aria-hidden="true" focusable="false"><use href="#i-{n}"/></svg>"##))))
                    .collect()
            });
            uses.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("no icon named {name:?} in static/icons")))
        });
        // `{{ post_card(p, owner, full) }}`: the `post_card` macro of macros.html through the
        // card cache (cards.rs). Output is the macro's, byte for byte.
        let cards = Arc::new(cards::Cards::default());
        let held = cards.clone();
        env.add_function("post_card", move |state: &minijinja::State, p: minijinja::Value, owner: Option<minijinja::Value>, full: Option<bool>| -> std::result::Result<minijinja::Value, minijinja::Error> {
            let owner = owner.unwrap_or(minijinja::Value::UNDEFINED);
            let full = full.unwrap_or(false);
            // Imported macros see the page's context: the card's forms carry the page's `back`
            // (the community page sets one), so it is part of the key and of the render.
            let back = state.lookup("back").unwrap_or(minijinja::Value::UNDEFINED);
            let key = held.key(&p, &owner, full, &back);
            if let Some(html) = held.get(key) {
                return Ok(html);
            }
            // The macro as macros.html defines it, with the one page variable it reads, given
            // the views as plain serialised values (a `Keyed` view becomes one only here).
            let template = state.env().get_template("macros.html")?;
            let macros = template.render_captured(minijinja::context! { back })?;
            let html = macros.state().call_macro("post_card", &[cards::plain(p), cards::plain(owner), minijinja::Value::from(full)])?;
            let html = minijinja::Value::from_safe_string(html);
            held.put(key, html.clone());
            Ok(html)
        });
        // `{{ icon_sprite() }}` (base.html): built by the first page, not at start, so an idle
        // server has not read the SVGs out of the binary nor holds the sprite (issue 15).
        static SPRITE: OnceLock<minijinja::Value> = OnceLock::new();
        env.add_function("icon_sprite", || SPRITE.get_or_init(|| minijinja::Value::from_safe_string(icon_sprite())).clone());
        env.add_global("site_base", urls.base.clone());
        env.add_global("site_handle", urls.handle());
        env.add_global("site_profile", urls.profile());
        env.add_global("version", env!("CARGO_PKG_VERSION"));
        Ok(Renderer { env, cards })
    }

    pub fn render(&self, template: &str, ctx: impl serde::Serialize) -> Result<String> {
        Ok(self.env.get_template(template)?.render(ctx)?)
    }

    /// Hits, misses and size of the post card cache (cards.rs).
    pub fn card_stats(&self) -> cards::CardStats {
        self.cards.stats()
    }
}

#[cfg(test)]
mod tests {
    /// Templates load lazily, so a syntax error would only show on first render: parse them all.
    #[test]
    fn every_template_compiles() {
        let cfg = crate::config::Config::new("https://pipit.example", "me", "127.0.0.1:8080");
        let r = super::Renderer::new(crate::urls::Urls::new(&cfg.public_url(), "me")).unwrap();
        for (name, _) in super::TEMPLATES {
            r.env.get_template(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    /// The sprite and the icon uses are built on first use (not at start, issue 15): the first
    /// page a fresh Renderer draws must carry every icon's `<symbol>` once and `icon()` must
    /// point at one of them, on the first call and the next. Bad input tried: an icon name that
    /// does not exist (an error, not an empty string).
    #[test]
    fn lazy_icon_sprite_and_uses_are_whole_on_the_first_page() {
        use minijinja::context;
        let cfg = crate::config::Config::new("https://pipit.example", "me", "127.0.0.1:8080");
        let r = super::Renderer::new(crate::urls::Urls::new(&cfg.public_url(), "me")).unwrap();
        let page = r.render("error.html", context! { title => "t", message => "m" }).unwrap();
        assert_eq!(page.matches("<symbol id=\"i-").count(), super::ICONS.len(), "{page}");
        for (name, _) in super::ICONS {
            assert_eq!(page.matches(&format!("<symbol id=\"i-{name}\" viewBox=\"0 0 24 24\"><")).count(), 1, "{name} in {page}");
        }
        assert!(page.contains("class=\"sprite\"") && !page.contains("&lt;symbol"), "the sprite is written unescaped: {page}");
        for _ in 0..2 {
            let like = r.env.render_str("{{ icon('like') }}", ()).unwrap();
            assert!(like.contains("<use href=\"#i-like\"/>") && like.starts_with("<svg class=\"icon\""), "{like}");
        }
        assert!(r.env.render_str("{{ icon('no-such-icon') }}", ()).is_err(), "an unknown icon is an error");
    }

    /// Bad inputs tried: one post handed to the card as a `Keyed` Rust view (cards.rs) and as
    /// the plain serialised value, and the viewer likewise: the cards must be the same bytes,
    /// from the macro and from the cache, and the page around them must read the keyed views
    /// as it reads plain ones (fields, truthiness, length). Then fields deep inside the view
    /// (a poll option's share, the owner's CSRF token, the relative time) are changed one at
    /// a time: each must draw a new card, never the cached one, since the key is the Rust
    /// view's derive(Hash) and a field missing from it would show the old card.
    #[test]
    fn keyed_views_draw_the_same_cards_and_every_field_is_in_the_key() {
        use crate::render::cards::keyed;
        use crate::render::views::{AuthorView, OwnerView, PostView};
        use minijinja::{context, Value};
        let cfg = crate::config::Config::new("https://pipit.example", "me", "127.0.0.1:8080");
        let urls = crate::urls::Urls::new(&cfg.public_url(), "me");
        let post: crate::model::Post = serde_json::from_value(serde_json::json!({
            "id": 7, "uri": "https://elsewhere.example/notes/7", "author": "https://elsewhere.example/users/them", "local": false,
            "content": "<p>a question</p>", "visibility": "public", "published_ms": 1_700_000_000_000u64,
            "poll": { "options": [["yes", 1], ["no", 2]], "multiple": false, "closed": true },
        }))
        .unwrap();
        let view = || PostView::new(&post, &AuthorView::unknown("https://elsewhere.example/users/them", &urls), &urls);
        let owner = || OwnerView { csrf: "tok".into(), posting: Default::default(), crosspost: vec![("me@other.example".into(), true)] };
        let t = "{% if owner %}[{{ owner.csrf }} {{ p.id }} {{ p|length }} {{ owner.crosspost[0][0] }}]{% endif %}{{ post_card(p, owner) }}";
        let plain = |p: &PostView, o: &OwnerView| {
            let r = super::Renderer::new(urls.clone()).unwrap();
            r.env.render_str(t, context! { p => Value::from_serialize(p), owner => Value::from_serialize(o) }).unwrap()
        };
        let r = super::Renderer::new(urls.clone()).unwrap();
        let with_keyed = |p: PostView, o: OwnerView| r.env.render_str(t, context! { p => keyed(p), owner => keyed(o) }).unwrap();

        let fresh = plain(&view(), &owner());
        assert!(fresh.starts_with("[tok 7 ") && fresh.contains(" me@other.example]") && fresh.contains("id=\"post-7\""), "{fresh}");
        assert_eq!(with_keyed(view(), owner()), fresh, "drawn by the macro from a keyed view");
        let hits = r.card_stats().hits;
        assert_eq!(with_keyed(view(), owner()), fresh, "drawn from the cache");
        assert_eq!(r.card_stats().hits, hits + 1, "the second card is a hit");

        let changed = || {
            let mut v = view();
            v.poll.as_mut().unwrap().options[1].percent = 90;
            v
        };
        let drawn = with_keyed(changed(), owner());
        assert!(drawn != fresh && drawn.contains("data-pct=\"90\""), "a poll option's share: {drawn}");
        assert_eq!(drawn, plain(&changed(), &owner()));
        let mut o = owner();
        o.csrf = "other".into();
        let other = with_keyed(view(), o);
        assert!(other.contains("value=\"other\"") && !other.contains("value=\"tok\""), "the owner's CSRF token: {other}");
        let mut v = view();
        v.published_ago = "1m".into();
        assert!(with_keyed(v, owner()).contains(">1m<"), "the relative time");
    }

    /// Bad input tried: the same card on a page with a `back` path (the community page) and on
    /// one without: the cached card must not carry the other page's path.
    #[test]
    fn a_card_carries_its_pages_back_path() {
        use minijinja::context;
        let cfg = crate::config::Config::new("https://pipit.example", "me", "127.0.0.1:8080");
        let r = super::Renderer::new(crate::urls::Urls::new(&cfg.public_url(), "me")).unwrap();
        let p = context! { id => "1", page => "https://pipit.example/@me/1", url => "https://pipit.example/@me/1", visibility => "public", local => true, social => context! { likes => 0 } };
        let owner = context! { csrf => "tok" };
        let t = "{{ post_card(p, owner) }}";
        let a = r.env.render_str(t, context! { p => p.clone(), owner => owner.clone(), back => "/community?days=7" }).unwrap();
        assert!(a.contains("name=\"back\" value=\"/community?days=7\""), "{a}");
        let b = r.env.render_str(t, context! { p, owner }).unwrap();
        assert!(b.contains("name=\"back\" value=\"\"") && !b.contains("/community"), "{b}");
    }
}
