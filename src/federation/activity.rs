//! The typed boundary of the inbox (issue 9, "make the safe way the only way"): a verified
//! delivery's JSON is read here, once, into an [`Activity`], and the domain (domain/inbox.rs)
//! only ever sees that, never `serde_json::Value` nor a remote string it would have to check.
//!
//! Two steps, as Lemmy's activitypub-federation crate separates `verify` from `receive`:
//! - [`parse`] (no network): the type, the activity id on the actor's host, the object as a
//!   reference, an embedded activity (Undo/Accept/Reject) or the actor's own post/profile, each
//!   id an http(s) URL; the origin rules refuse (401) what cannot be the actor's.
//! - [`resolve`] (network, within a budget): what the activity only references: a Create/Update
//!   object by id (from its origin, or the delivery fails), the post an Announce boosts and its
//!   author (or nothing: a failed fetch is the boost's problem, not the sender's), a Move's new
//!   account.

use crate::app::App;
use crate::error::{Error, Result};
use crate::federation::fetch::{self, Budget};
use crate::federation::vocab::{self, id_of, str_of, types};
use crate::model::{HttpUrl, Post, RemoteActor};
use serde_json::Value;

/// The activity types pipit acts on (ActivityStreams 2.0 vocabulary §3, plus Misskey/Pleroma's
/// `EmojiReact`); anything else is `Other` and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Follow,
    Accept,
    Reject,
    Undo,
    Create,
    Update,
    Delete,
    Like,
    EmojiReact,
    Dislike,
    Announce,
    Move,
    Block,
    Add,
    Remove,
    Other,
}

impl Kind {
    /// The AS2 `type` name → Kind (exact, case-sensitive as JSON-LD terms are).
    pub fn from_type(t: &str) -> Kind {
        match t {
            "Follow" => Kind::Follow,
            "Accept" => Kind::Accept,
            "Reject" => Kind::Reject,
            "Undo" => Kind::Undo,
            "Create" => Kind::Create,
            "Update" => Kind::Update,
            "Delete" => Kind::Delete,
            "Like" => Kind::Like,
            "EmojiReact" => Kind::EmojiReact,
            "Dislike" => Kind::Dislike,
            "Announce" => Kind::Announce,
            "Move" => Kind::Move,
            "Block" => Kind::Block,
            "Add" => Kind::Add,
            "Remove" => Kind::Remove,
            _ => Kind::Other,
        }
    }
}

/// An incoming activity whose signature, actor and origin rules have been checked.
#[derive(Debug, Clone)]
pub struct Activity {
    pub kind: Kind,
    /// The activity's `type` as sent (for logs only).
    pub type_name: String,
    /// The activity id: an http(s) URL on the actor's host (None when the sender gave none).
    pub id: Option<HttpUrl>,
    /// The verified sender (the HTTP signature's or the integrity proof's actor).
    pub actor: RemoteActor,
    pub object: Object,
    /// `target`, http(s): for Move the new account; for Add/Remove the collection, only when it
    /// is on the actor's host (a pin to the sender's own featured collection).
    pub target: Option<HttpUrl>,
    /// Like/EmojiReact: the emoji (Misskey `_misskey_reaction`, Pleroma `content`), at most 64
    /// characters, not blank.
    pub reaction: Option<String>,
    /// A custom emoji reaction (`:code:`): the icon of its matching `Emoji` tag, http(s).
    pub reaction_emoji: Option<HttpUrl>,
}

/// What an activity acts on, checked for what its kind needs.
#[derive(Debug, Clone)]
pub enum Object {
    /// Missing, or nothing pipit can use (an id that is not http(s), an object type it does not
    /// show): the activity is accepted and ignored.
    None,
    /// By id: a post, an account or an activity on any host (Follow, Like, Announce, Block,
    /// Delete, Add/Remove, Accept/Reject of our Follow). Delete's and Undo's are on the
    /// actor's host.
    Ref(HttpUrl),
    /// An embedded activity (Undo, Accept, Reject). For Undo its actor is the sender and its id
    /// on the sender's host.
    Activity(Box<Inner>),
    /// Create/Update: a post that is the actor's own (id on its host, `attributedTo` it).
    /// `addressed_to_owner`: the owner is in to/cc/bto/bcc/audience (a silent mention when the
    /// post has no Mention of the owner).
    Post { post: Box<Post>, addressed_to_owner: bool },
    /// Update of the actor's own profile (its inbox and endpoints on its own host).
    Actor(Box<RemoteActor>),
    /// Announce of a post pipit did not have: fetched from its origin, with its author.
    Boosted { id: HttpUrl, post: Box<Post>, author: Box<RemoteActor> },
    /// Move: the account moved to (fetched from `target`).
    MovedTo(Box<RemoteActor>),
    /// Create/Update by reference before [`resolve`] fetched it (never reaches the domain).
    Unresolved(HttpUrl),
    /// A vote in a poll (Mastodon): the actor's own Note with a `name` (the option chosen, at
    /// most 200 characters), `inReplyTo` the Question, and no content.
    Vote { id: HttpUrl, poll: HttpUrl, choice: String },
}

impl Object {
    /// The id the activity acts on, whatever form the object came in.
    pub fn id(&self) -> Option<&str> {
        match self {
            Object::None => None,
            Object::Ref(id) | Object::Unresolved(id) | Object::Boosted { id, .. } | Object::Vote { id, .. } => Some(id.as_str()),
            Object::Activity(inner) => inner.id.as_deref(),
            Object::Post { post, .. } => Some(post.uri.as_str()),
            Object::Actor(a) | Object::MovedTo(a) => Some(a.id.as_str()),
        }
    }
}

/// An activity embedded in another (Undo's, Accept's, Reject's object), its fields read once.
#[derive(Debug, Clone, Default)]
pub struct Inner {
    /// None when the embedded object has no type we know.
    pub kind: Option<Kind>,
    pub id: Option<HttpUrl>,
    pub actor: Option<HttpUrl>,
    /// The inner activity's object id (the liked post, the followed account).
    pub object: Option<HttpUrl>,
    pub reaction: Option<String>,
}

/// An http(s) reference: `"https://…"` or `{"id": "https://…"}`.
fn url_ref(v: Option<&Value>) -> Option<HttpUrl> {
    v.and_then(id_of).and_then(HttpUrl::parse)
}

fn reaction_of(v: &Value) -> Option<String> {
    str_of(v, "_misskey_reaction").or_else(|| str_of(v, "content")).filter(|s| !s.trim().is_empty() && s.chars().count() <= 64).map(str::to_string)
}

/// The image of a custom emoji reaction: `reaction` is `:code:` and the activity's `tag` has an
/// `Emoji` named so (media::emoji::from_tags checks the shortcode and the URL scheme).
fn custom_emoji_of(reaction: &str, v: &Value) -> Option<HttpUrl> {
    let code = reaction.strip_prefix(':')?.strip_suffix(':')?;
    crate::media::emoji::from_tags(v.get("tag")).into_iter().find(|e| e.shortcode == code).and_then(|e| HttpUrl::parse(&e.url))
}

fn unauthorized(msg: String) -> Error {
    Error::Unauthorized(msg)
}

/// Reads a delivery, signed by (or proven for) `actor`, into an [`Activity`]. `me` is the owner's
/// actor id (for addressing). No network.
///
/// Errors: `BadRequest` for a document that is no activity (no object, no type, no actor) or a
/// Create/Update whose embedded object has no id; `Unauthorized` when the activity says it is
/// someone else's: its actor is not `actor`, its id (or a Create/Update/Delete object's id, or an
/// Undo's inner activity) is not on the actor's host or not http(s), an object is not attributed
/// to the actor, an Update targets another actor, an Undo undoes another actor's activity.
pub fn parse(v: &Value, actor: RemoteActor, me: &str) -> Result<Activity> {
    if !v.is_object() {
        return Err(Error::BadRequest("an activity must be a JSON object with a type".into()));
    }
    let type_name = types(v).first().map(|s| s.to_string()).ok_or_else(|| Error::BadRequest("an activity must be a JSON object with a type".into()))?;
    let kind = Kind::from_type(&type_name);
    let actor_id = v.get("actor").and_then(id_of).ok_or_else(|| Error::BadRequest("activity without actor".into()))?;
    if actor_id != actor.id.as_str() {
        return Err(unauthorized(format!("signed by {} but the actor is {actor_id}", actor.id)));
    }
    let id = match v.get("id") {
        None | Some(Value::Null) => None,
        Some(raw) => {
            let s = raw.as_str().unwrap_or_default();
            match HttpUrl::parse(s).filter(|u| vocab::same_origin(u, &actor.id)) {
                Some(u) => Some(u),
                None => return Err(unauthorized(format!("activity id {raw} is not on the actor's host"))),
            }
        }
    };
    let obj = v.get("object").filter(|o| !o.is_null());
    let object = match kind {
        Kind::Create | Kind::Update => match obj {
            None => Object::None,
            Some(o) if o.is_object() => {
                if str_of(o, "id").is_none() {
                    // Say what is wrong (not "another origin"): the id is missing, null or no string.
                    let what = types(o).first().copied().unwrap_or("object");
                    let got = match o.get("id") {
                        None => "no id".to_string(),
                        Some(v) => format!("\"id\": {v}"),
                    };
                    return Err(Error::BadRequest(format!("{type_name}: the embedded {what} has {got}; its id must be a URL string")));
                }
                own_object(o, &actor, me)?
            }
            Some(o) => {
                let oid = id_of(o).unwrap_or_default();
                match HttpUrl::parse(oid).filter(|u| vocab::same_origin(u, &actor.id)) {
                    Some(u) => Object::Unresolved(u),
                    None => return Err(unauthorized(format!("object {oid} is not on the actor's host"))),
                }
            }
        },
        Kind::Delete => match obj.and_then(id_of) {
            None => Object::None,
            Some(oid) => match HttpUrl::parse(oid).filter(|u| vocab::same_origin(u, &actor.id)) {
                Some(u) => Object::Ref(u),
                None => return Err(unauthorized(format!("{} cannot delete {oid}: not on its host", actor.id))),
            },
        },
        Kind::Undo | Kind::Accept | Kind::Reject => match obj {
            None => Object::None,
            Some(o) if o.is_object() => {
                let inner = Inner {
                    kind: types(o).first().map(|t| Kind::from_type(t)).filter(|k| *k != Kind::Other),
                    id: url_ref(o.get("id")),
                    actor: url_ref(o.get("actor")),
                    object: url_ref(o.get("object")),
                    reaction: reaction_of(o),
                };
                if kind == Kind::Undo {
                    // Only the actor of an activity may undo it.
                    let inner_actor = o.get("actor").and_then(id_of);
                    if inner_actor.is_some_and(|a| a != actor.id.as_str()) {
                        return Err(unauthorized(format!("{} cannot undo an activity of {}", actor.id, inner_actor.unwrap_or_default())));
                    }
                    if let Some(iid) = str_of(o, "id") {
                        if !vocab::same_origin(iid, &actor.id) {
                            return Err(unauthorized(format!("{} cannot undo {iid}: not on its host", actor.id)));
                        }
                    }
                }
                Object::Activity(Box::new(inner))
            }
            Some(o) => match (id_of(o).and_then(HttpUrl::parse), kind) {
                (Some(u), Kind::Undo) if !vocab::same_origin(&u, &actor.id) => return Err(unauthorized(format!("{} cannot undo {u}: not on its host", actor.id))),
                (Some(u), _) => Object::Ref(u),
                (None, _) => Object::None,
            },
        },
        _ => url_ref(obj).map(Object::Ref).unwrap_or(Object::None),
    };
    let target = match kind {
        Kind::Add | Kind::Remove => url_ref(v.get("target")).filter(|t| vocab::same_origin(t, &actor.id)),
        _ => url_ref(v.get("target")),
    };
    let reaction = matches!(kind, Kind::Like | Kind::EmojiReact).then(|| reaction_of(v)).flatten();
    let reaction_emoji = reaction.as_deref().and_then(|r| custom_emoji_of(r, v));
    Ok(Activity { kind, type_name, id, actor, object, target, reaction, reaction_emoji })
}

/// A Create/Update object (embedded, or fetched from its origin) that must be `actor`'s own.
/// Refuses (401) an id not on the actor's host, a post not attributed to the actor, an actor
/// document other than the actor itself; what pipit does not show is `Object::None`.
pub fn own_object(o: &Value, actor: &RemoteActor, me: &str) -> Result<Object> {
    let oid = str_of(o, "id").unwrap_or_default();
    if HttpUrl::parse(oid).is_none() || !vocab::same_origin(oid, &actor.id) {
        return Err(unauthorized(format!("object {oid} is not on the actor's host")));
    }
    if types(o).iter().any(|t| vocab::ACTOR_TYPES.contains(t)) {
        if oid != actor.id.as_str() {
            return Err(unauthorized(format!("{} cannot update the actor {oid}", actor.id)));
        }
        return Ok(vocab::parse_actor(o, crate::time::now_ms()).map(|a| Object::Actor(Box::new(a))).unwrap_or(Object::None));
    }
    if !vocab::is_post_object(o) {
        return Ok(Object::None);
    }
    if !vocab::attributed_to(o, &actor.id) {
        return Err(unauthorized(format!("object {oid} is not attributed to {}", actor.id)));
    }
    let is_note = types(o).contains(&"Note");
    // A post with only a title and pictures is a post, not a vote.
    let no_content = str_of(o, "content").map(|c| c.trim().is_empty()).unwrap_or(true) && o.get("contentMap").is_none() && o.get("attachment").map(|a| a.is_null() || a.as_array().map(Vec::is_empty).unwrap_or(false)).unwrap_or(true);
    if let (true, true, Some(choice), Some(poll)) = (is_note, no_content, str_of(o, "name"), url_ref(o.get("inReplyTo"))) {
        let id = HttpUrl::parse(oid).ok_or_else(|| Error::BadRequest("vote without id".into()))?;
        return Ok(Object::Vote { id, poll, choice: choice.chars().take(200).collect() });
    }
    let addressed_to_owner = ["to", "cc", "bto", "bcc", "audience"].iter().any(|k| vocab::ids(o.get(*k)).iter().any(|x| x == me));
    Ok(match vocab::parse_post(o, actor) {
        Some(p) => Object::Post { post: Box::new(p), addressed_to_owner },
        None => Object::None,
    })
}

/// Fetches what [`parse`] left as a reference (see the module doc). A Create/Update object that
/// cannot be fetched fails the delivery with 400 (never the remote 404/410: that would read as
/// our inbox being gone); an Announce whose post cannot be fetched is kept as a bare reference.
pub async fn resolve(app: &App, mut act: Activity, budget: &Budget) -> Result<Activity> {
    match (&act.kind, &act.object) {
        (Kind::Create | Kind::Update, Object::Unresolved(oid)) => {
            let oid = oid.clone();
            // Not Gone/NotFound as such: that would read as our inbox being gone.
            let doc = fetch::get_object(app, &oid, budget).await.map_err(|e| Error::BadRequest(format!("object {oid} cannot be fetched from its origin: {e}")))?;
            act.object = own_object(&doc, &act.actor, &app.urls.actor())?;
        }
        (Kind::Announce, Object::Ref(target)) => {
            let target = target.clone();
            if let Some((post, author)) = boosted(app, &act.actor, &target, budget).await? {
                act.object = Object::Boosted { id: target, post: Box::new(post), author: Box::new(author) };
            }
        }
        (Kind::Move, _) => {
            act.object = match act.target.clone() {
                Some(t) => match fetch::actor(app, &t, true, budget).await {
                    Ok(a) => Object::MovedTo(Box::new(a)),
                    Err(e) => {
                        tracing::debug!("Move of {} to {t}: {e}", act.actor.id);
                        Object::None
                    }
                },
                None => Object::None,
            };
        }
        _ => {}
    }
    Ok(act)
}

/// The post an Announce by `booster` points at, from its origin, with its author: only for a
/// followed booster and a post not stored yet. Lemmy announces activities: their object is
/// fetched in turn. Ok(None) when there is nothing to keep, including every failed fetch (the
/// boosted server's 404/410 is not an answer about our inbox).
async fn boosted(app: &App, booster: &RemoteActor, target: &HttpUrl, budget: &Budget) -> Result<Option<(Post, RemoteActor)>> {
    let relay = app.store.read(|r| r.relay(&booster.id))?.is_some_and(|r| r.state == "accepted");
    if app.store.read(|r| r.post_id_by_uri(target))?.is_some() || (app.store.read(|r| r.following(&booster.id))?.is_none() && !relay) {
        return Ok(None);
    }
    let fetched = async {
        let mut doc = fetch::get_object(app, target, budget).await?;
        if !vocab::is_post_object(&doc) {
            if let Some(inner) = url_ref(doc.get("object")) {
                doc = fetch::get_object(app, &inner, budget).await?;
            }
        }
        post_with_author(app, &doc, budget).await
    };
    match fetched.await {
        Ok(x) => Ok(Some(x)),
        Err(e) => {
            tracing::debug!("Announce of {target} by {}: {e}", booster.id);
            Ok(None)
        }
    }
}

/// A post document fetched from its origin → the Post and its author: the author is the
/// `attributedTo` on the post's host, fetched (or from the cache) in turn, and `parse_post`
/// checks the rest. `BadRequest` for what is not a post or has no author on its host.
pub async fn post_with_author(app: &App, doc: &Value, budget: &Budget) -> Result<(Post, RemoteActor)> {
    let doc_id = str_of(doc, "id").unwrap_or_default();
    if !vocab::is_post_object(doc) {
        return Err(Error::BadRequest(format!("{doc_id} is not a post")));
    }
    let author_id = vocab::one_or_many(doc.get("attributedTo"))
        .into_iter()
        .filter_map(id_of)
        .find(|a| vocab::same_origin(a, doc_id))
        .ok_or_else(|| Error::BadRequest(format!("{doc_id}: author on another host")))?
        .to_string();
    let author = fetch::actor(app, &author_id, false, budget).await?;
    let post = vocab::parse_post(doc, &author).ok_or_else(|| Error::BadRequest(format!("{doc_id}: unreadable post")))?;
    Ok((post, author))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "https://pipit.example/users/alice";

    fn bob() -> RemoteActor {
        vocab::parse_actor(&json!({"id": "https://b.example/users/bob", "type": "Person", "preferredUsername": "bob", "inbox": "https://b.example/users/bob/inbox"}), 1).unwrap()
    }

    fn note(id: &str, by: &str) -> Value {
        json!({"id": id, "type": "Note", "attributedTo": by, "content": "hi", "to": [vocab::PUBLIC, ME]})
    }

    fn create(id: &str, object: Value) -> Value {
        json!({"id": id, "type": "Create", "actor": "https://b.example/users/bob", "object": object})
    }

    fn refused(v: &Value) -> String {
        match parse(v, bob(), ME) {
            Err(Error::Unauthorized(m)) => m,
            other => panic!("not refused: {v}: {other:?}"),
        }
    }

    #[test]
    fn own_post_is_typed() {
        let a = parse(&create("https://b.example/c/1", note("https://b.example/n/1", "https://b.example/users/bob")), bob(), ME).unwrap();
        assert_eq!(a.kind, Kind::Create);
        assert_eq!(a.id.as_deref(), Some("https://b.example/c/1"));
        match a.object {
            Object::Post { post, addressed_to_owner } => {
                assert_eq!((post.uri.as_str(), post.author.as_str(), addressed_to_owner), ("https://b.example/n/1", "https://b.example/users/bob", true));
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn ids_on_another_host_are_refused() {
        // Bad input: the object (embedded or by reference) on another host.
        refused(&create("https://b.example/c/1", note("https://c.example/n/1", "https://b.example/users/bob")));
        refused(&create("https://b.example/c/1", json!("https://c.example/n/1")));
        // Bad input: the activity's own id on another host.
        refused(&create("https://c.example/c/1", note("https://b.example/n/1", "https://b.example/users/bob")));
        // Bad input: an Update of another actor (same host).
        let other = json!({"id": "https://b.example/users/carol", "type": "Person", "inbox": "https://b.example/users/carol/inbox"});
        refused(&json!({"id": "https://b.example/u/1", "type": "Update", "actor": "https://b.example/users/bob", "object": other}));
        // Bad input: a Delete of a post on another host, an Undo of an activity on another host
        // or of another actor's.
        refused(&json!({"id": "https://b.example/d/1", "type": "Delete", "actor": "https://b.example/users/bob", "object": "https://c.example/n/1"}));
        refused(&json!({"id": "https://b.example/x/1", "type": "Undo", "actor": "https://b.example/users/bob", "object": "https://c.example/likes/1"}));
        let like = json!({"id": "https://c.example/likes/1", "type": "Like", "actor": "https://c.example/users/carol", "object": ME});
        refused(&json!({"id": "https://b.example/x/2", "type": "Undo", "actor": "https://b.example/users/bob", "object": like}));
        // Bad input: the activity's actor is not the signer.
        refused(&json!({"id": "https://b.example/l/1", "type": "Like", "actor": "https://c.example/users/carol", "object": ME}));
        // Add to a collection on another host: kept, without the target.
        let add = parse(&json!({"id": "https://b.example/a/1", "type": "Add", "actor": "https://b.example/users/bob", "object": "https://b.example/n/1", "target": "https://c.example/featured"}), bob(), ME).unwrap();
        assert!(add.target.is_none());
    }

    #[test]
    fn non_http_schemes_are_refused_or_dropped() {
        // Bad input: javascript:/data:/urn: ids where an http(s) id is needed.
        for bad in ["javascript:alert(1)", "data:text/html,x", "urn:uuid:1234"] {
            refused(&create(bad, note("https://b.example/n/1", "https://b.example/users/bob")));
            refused(&create("https://b.example/c/1", note(bad, "https://b.example/users/bob")));
            refused(&create("https://b.example/c/1", json!(bad)));
            // A Like of a script URL: nothing to act on (accepted, ignored).
            let like = parse(&json!({"id": "https://b.example/l/1", "type": "Like", "actor": "https://b.example/users/bob", "object": bad}), bob(), ME).unwrap();
            assert!(matches!(like.object, Object::None), "{bad}");
        }
    }

    #[test]
    fn missing_attribution_is_refused() {
        // Bad input: no attributedTo, null, and someone else on the same host.
        let mut n = note("https://b.example/n/1", "https://b.example/users/bob");
        n.as_object_mut().unwrap().remove("attributedTo");
        refused(&create("https://b.example/c/1", n));
        refused(&create("https://b.example/c/1", note("https://b.example/n/1", "https://b.example/users/mallory")));
        let mut n = note("https://b.example/n/1", "https://b.example/users/bob");
        n["attributedTo"] = Value::Null;
        refused(&create("https://b.example/c/1", n));
        // An embedded object without an id is a 400 that says so.
        let mut n = note("https://b.example/n/1", "https://b.example/users/bob");
        n["id"] = Value::Null;
        assert!(matches!(parse(&create("https://b.example/c/1", n), bob(), ME), Err(Error::BadRequest(m)) if m.contains("null")));
    }

    #[test]
    fn undo_and_reactions_read_once() {
        let like = json!({"id": "https://b.example/likes/1", "type": "Like", "actor": "https://b.example/users/bob", "object": ME, "content": "🐦"});
        let a = parse(&json!({"id": "https://b.example/x/1", "type": "Undo", "actor": "https://b.example/users/bob", "object": like}), bob(), ME).unwrap();
        match a.object {
            Object::Activity(i) => {
                assert_eq!((i.kind, i.id.as_deref(), i.object.as_deref(), i.reaction.as_deref()), (Some(Kind::Like), Some("https://b.example/likes/1"), Some(ME), Some("🐦")));
            }
            o => panic!("{o:?}"),
        }
    }
}
