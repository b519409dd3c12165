//! The records pipit keeps: what a post and the owner's profile are. Stored as JSON in redb
//! (store/), turned into pages by render/ and into ActivityPub by federation/.

use serde::{Deserialize, Serialize};

pub use crate::httpurl::HttpUrl;
use crate::httpurl::{lenient_opt, lenient_vec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone, listed on the profile and in feeds.
    #[default]
    Public,
    /// Everyone with the link; kept off feeds and public timelines.
    Unlisted,
    /// Followers only.
    Followers,
    /// Mentioned people only.
    Direct,
}

impl Visibility {
    pub fn parse(s: &str) -> Option<Visibility> {
        Some(match s {
            "public" => Visibility::Public,
            "unlisted" => Visibility::Unlisted,
            "followers" | "private" => Visibility::Followers,
            "direct" => Visibility::Direct,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Followers => "followers",
            Visibility::Direct => "direct",
        }
    }
    /// Anyone may open it by URL (public and unlisted).
    pub fn is_world_readable(self) -> bool {
        matches!(self, Visibility::Public | Visibility::Unlisted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// `@user@host`
    pub name: String,
    /// Actor URL (or profile URL until it is resolved), http(s) only (vocab::parse_post drops
    /// others). Not shown as a link (the sanitised content carries the visible one).
    pub href: HttpUrl,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Public URL of the file.
    pub url: HttpUrl,
    pub media_type: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// BlurHash of the picture (https://blurha.sh), drawn while it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
    /// Smaller copy for timelines (own uploads: ~400 px); `None`: use `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// Mastodon's focal point in hundredths: x and y in −100…100 (−1.0…1.0; centre 0,0; y up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal_point: Option<(i16, i16)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Time-sortable local id (ids.rs); the store key.
    pub id: u64,
    /// ActivityPub id, an http(s) URL: for the owner's posts minted by urls.rs, for remote ones
    /// checked by vocab::parse_post to be on the author's host.
    pub uri: HttpUrl,
    /// HTML page of the post (None: a remote post whose `url` was not http(s); link its page here).
    #[serde(default, deserialize_with = "lenient_opt", skip_serializing_if = "Option::is_none")]
    pub url: Option<HttpUrl>,
    /// Actor id of the author.
    pub author: String,
    /// True for the owner's own posts.
    pub local: bool,
    /// Sanitised HTML in Mastodon's allowed subset.
    pub content: String,
    /// What the owner typed (own posts), for editing.
    #[serde(default)]
    pub source: String,
    /// Content warning; empty means none.
    #[serde(default)]
    pub summary: String,
    pub visibility: Visibility,
    #[serde(default, deserialize_with = "lenient_opt", skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<HttpUrl>,
    pub published_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_ms: Option<u64>,
    /// Lower-case hashtag names without '#'.
    #[serde(default)]
    pub tags: Vec<String>,
    /// A stored mention whose href is not http(s) (written before HttpUrl) loads without it.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub mentions: Vec<Mention>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub attachments: Vec<Attachment>,
    /// Media hidden until asked for (remote `sensitive`, or a content warning).
    #[serde(default)]
    pub sensitive: bool,
    /// The post this one quotes (FEP-044f `quote`, or Misskey's `_misskey_quote`/`quoteUri`).
    #[serde(default, deserialize_with = "lenient_opt", skip_serializing_if = "Option::is_none")]
    pub quote: Option<HttpUrl>,
    /// A poll (ActivityPub `Question`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// BCP 47 language of `content` (the `contentMap` key it came from), for `lang` on pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Custom emoji used in the content (remote `Emoji` tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emojis: Vec<Emoji>,
    /// Link preview of the first link (federation::cards), fetched once after storing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// Own posts only: kept on this site and its feeds, never delivered nor served as
    /// ActivityPub (issue 14, opt-in federation).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_only: bool,
    /// Own posts in the undo window: the Create goes to the queue at this time (ms), not before;
    /// until then the post is not served as ActivityPub (domain::posts::release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until_ms: Option<u64>,
}

/// A link preview card from a page's OpenGraph data (plain text, escaped when drawn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The page linked.
    pub url: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// `og:image`, http(s) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A custom emoji: `:shortcode:` in text drawn as the image at `url` (Mastodon's `Emoji` tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emoji {
    /// Without colons; letters, digits and `_` only.
    pub shortcode: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// (option text, votes)
    pub options: Vec<(String, u64)>,
    /// anyOf (several choices) rather than oneOf.
    pub multiple: bool,
    #[serde(default)]
    pub ends_ms: Option<u64>,
    #[serde(default)]
    pub closed: bool,
    /// What the owner voted for, once they did.
    #[serde(default)]
    pub voted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProfileField {
    pub name: String,
    pub value: String,
    /// When the linked page was seen linking back with rel="me" (None: not verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_ms: Option<u64>,
}

/// The owner's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Profile {
    pub display_name: String,
    /// Plain text as typed; rendered to HTML when shown.
    pub bio: String,
    #[serde(default)]
    pub fields: Vec<ProfileField>,
    /// File name under DATA/media.
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    /// When the account was created (ms).
    #[serde(default)]
    pub created_ms: u64,
    /// Accounts this one was before (migration in): `alsoKnownAs`.
    #[serde(default)]
    pub also_known_as: Vec<String>,
    /// The account this one moved to (migration out): `movedTo`.
    #[serde(default)]
    pub moved_to: Option<String>,
    /// Hold follow requests for approval instead of accepting them.
    #[serde(default)]
    pub approve_followers: bool,
    /// Publishing defaults (settings page; the API's `posting:default:*` preferences).
    #[serde(default)]
    pub posting: PostingDefaults,
}

/// What a new post starts with when the composer, CLI or API does not say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct PostingDefaults {
    /// Public and unlisted posts stay on this site unless the post says to federate.
    #[serde(default)]
    pub local_only: bool,
    #[serde(default)]
    pub visibility: Visibility,
    /// BCP 47 language tag (e.g. `en`, `pt-BR`); None: no `contentMap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A remote account as we cached it from its actor document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteActor {
    /// The actor id. It and the endpoints below are http(s) URLs, and the endpoints are on the
    /// id's host (vocab::parse_actor drops or refuses others).
    pub id: HttpUrl,
    /// Person, Service, Group, Application, Organization.
    #[serde(default)]
    pub kind: String,
    pub inbox: HttpUrl,
    #[serde(default, deserialize_with = "lenient_opt")]
    pub shared_inbox: Option<HttpUrl>,
    #[serde(default, deserialize_with = "lenient_opt")]
    pub outbox: Option<HttpUrl>,
    #[serde(default, deserialize_with = "lenient_opt")]
    pub followers: Option<HttpUrl>,
    pub preferred_username: String,
    /// Host of the actor id (with port): `@preferred_username@host`.
    pub host: String,
    #[serde(default)]
    pub name: String,
    /// Sanitised HTML.
    #[serde(default)]
    pub summary: String,
    /// Profile page, avatar and header: http(s) only (a bad stored one loads as None).
    #[serde(default, deserialize_with = "lenient_opt")]
    pub url: Option<HttpUrl>,
    #[serde(default, deserialize_with = "lenient_opt")]
    pub icon: Option<HttpUrl>,
    #[serde(default, deserialize_with = "lenient_opt")]
    pub image: Option<HttpUrl>,
    #[serde(default)]
    pub key_id: String,
    #[serde(default)]
    pub public_key_pem: String,
    /// FEP-521a Multikeys (`ed25519-pub`, or `rsa-pub` as Fedify publishes): (id, publicKeyMultibase).
    /// An id may also be `key_id` (Fedify 1.x): `federation::inbox::keys_of` tries each.
    #[serde(default)]
    pub multikeys: Vec<(String, String)>,
    #[serde(default)]
    pub also_known_as: Vec<String>,
    #[serde(default)]
    pub moved_to: Option<String>,
    #[serde(default)]
    pub manually_approves_followers: bool,
    pub fetched_ms: u64,
    /// Custom emoji of the display name and bio (the actor's `Emoji` tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emojis: Vec<Emoji>,
}

impl Post {
    /// The post's page on its home server: `url`, else its id.
    pub fn url_or_uri(&self) -> &str {
        self.url.as_deref().unwrap_or(&self.uri)
    }
}

impl RemoteActor {
    pub fn handle(&self) -> String {
        format!("@{}@{}", self.preferred_username, self.host)
    }
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() { &self.preferred_username } else { &self.name }
    }
    /// Where to deliver: the shared inbox when the server has one.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follower {
    pub since_ms: u64,
    /// The Follow activity id, echoed in Accept/Reject.
    pub follow_id: String,
    /// Delivery target, kept here so fan-out reads one table.
    pub inbox: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowState {
    Pending,
    Accepted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Following {
    pub state: FollowState,
    pub since_ms: u64,
    /// Our Follow activity id (Accept/Reject and Undo refer to it).
    pub follow_id: String,
    /// Per-follow options (Mastodon's `reblogs`, `notify`, `languages`); absent in old records.
    #[serde(flatten)]
    pub options: FollowOptions,
}

/// What the owner wants from one followed account, as Mastodon has it: `reblogs` (its boosts on
/// Home; default true), `notify` (a `status` notification when it posts; default false),
/// `languages` (ISO 639 / BCP 47 tags; only its posts in these on Home; empty = all). The
/// rule using them is `domain::follows::{home_takes_post, home_takes_boost}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowOptions {
    #[serde(default = "yes")]
    pub reblogs: bool,
    #[serde(default)]
    pub notify: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions { reblogs: true, notify: false, languages: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub activity_id: String,
    pub at_ms: u64,
    /// A custom emoji reaction (`react::code:`): the image of its `Emoji` tag, http(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeEntry {
    pub post_id: u64,
    /// Actor id of the booster when this entry is a boost.
    #[serde(default)]
    pub boosted_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Follow,
    FollowRequest,
    Mention,
    Reply,
    Like,
    Boost,
    Reaction,
    Quote,
    Move,
    /// A followed account with `notify` on posted (Mastodon's `status`).
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub kind: NotificationKind,
    pub actor: String,
    #[serde(default)]
    pub post_uri: Option<String>,
    /// Emoji for reactions, new account for moves.
    #[serde(default)]
    pub detail: Option<String>,
    pub at_ms: u64,
}

/// Who a fan-out goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Every follower (their shared inboxes, deduplicated).
    pub followers: bool,
    /// Extra actor inboxes (mentions, the author replied to, the account followed).
    pub inboxes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Expands into one Deliver per unique inbox, in batches (`cursor` = last follower done).
    Fanout { activity: u64, audience: Audience, #[serde(default)] cursor: Option<String> },
    /// POST one stored activity to one inbox.
    Deliver { activity: u64, inbox: String },
    /// Works through the pending rows of a CSV import (import.rs `run_job`), then finishes it.
    Import { import: u64 },
    /// The end of a post's undo window: send its Create (domain::posts::release).
    Publish { post: u64 },
    /// A scheduled post's time: publish it (actions::publish_scheduled_due).
    PublishScheduled { scheduled: u64 },
    /// Send a Webmention: `source` (the owner's post page) links to `target` (federation::webmention).
    Webmention { source: String, target: String },
    /// Tell the WebSub hub the feeds `topics` (their URLs) changed (federation::websub).
    WebSub { topics: Vec<String> },
    /// Send followers an Update of the owner's poll `post` with its counts (domain::polls).
    PollUpdate { post: u64 },
    /// Cross-posting to connected account `account` (`user@host`, federation::crosspost):
    /// `op` "create" posts a copy of the owner's post `post`, "edit" updates it, "delete"
    /// deletes it.
    Crosspost { post: u64, account: String, op: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub what: JobKind,
    pub attempts: u32,
    pub due_ms: u64,
    pub created_ms: u64,
    #[serde(default)]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    pub name: String,
    /// Members' posts show only in this list, not on /home.
    #[serde(default)]
    pub exclusive: bool,
    /// Anyone may see the member list at /lists/ID (a starter pack).
    #[serde(default)]
    pub public: bool,
    pub created_ms: u64,
}

/// A keyword filter: hide matching posts, or show them behind a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub keyword: String,
    /// "hide" or "warn".
    pub action: String,
    /// Where it applies: "home", "notifications", "public" (profiles, tags, lists), "thread".
    pub contexts: Vec<String>,
}

/// One column of the deck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// "home", "notifications", "list", "tag", "search".
    pub kind: String,
    /// List id, hashtag or search words.
    #[serde(default)]
    pub arg: String,
}
