//! Every redb table pipit has, named `key_value` for what it maps (Conduit's convention), with the
//! key layout beside it. Values that are records are JSON bytes (see codec in mod.rs).
//!
//! Writing (issue 17): no write replaces a record it did not look up first.
//! - Tables keyed by a generated u64 id (posts, activities, jobs and dead letters,
//!   notifications, home entries, lists, filters, bookmarks) get their keys from
//!   `Write::new_id(IdSpace::…, at_ms)` (alloc.rs), which checks inside the transaction that
//!   the id is free, and insert with `insert_new`, which refuses an existing key. A new such
//!   table (OAuth apps and tokens, media attachments) adds an `IdSpace` variant and does the same.
//! - Tables keyed by a natural key (an actor or activity URI, a tag, a session hash) hold one
//!   record per thing: a write there is an update of that same thing after a lookup, or is
//!   skipped or refused when the key is taken (sessions, seen ids, key ids, interactions).
//! - Index tables with `()` values are sets; inserting an entry twice is a no-op.

use redb::TableDefinition;

/// Settings and singletons: `schema_version` (u32 LE), `profile` (JSON Profile),
/// `password_hash` (argon2 PHC string), `setup_token` (sha256 hex of the one-time token),
/// `secret` (32 random bytes for CSRF HMACs).
pub const META_VALUE: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_value");

/// Every post we keep, own and remote, by time-sortable id. Reverse range = newest first.
pub const POSTID_POST: TableDefinition<u64, &[u8]> = TableDefinition::new("postid_post");

/// ActivityPub id → post id: dedupe and lookup for Update/Delete/inReplyTo.
pub const POSTURI_POSTID: TableDefinition<&str, u64> = TableDefinition::new("posturi_postid");

/// The owner's posts (all visibilities), key = post id. The profile, outbox and feeds scan this.
pub const OWNPOSTID: TableDefinition<u64, ()> = TableDefinition::new("ownpostid");

/// Replies index: (parent AP id, child post id). Keyed by URI, not local id, so a reply that
/// arrives before its parent is still found once the parent shows up.
pub const PARENTURI_CHILDID: TableDefinition<(&str, u64), ()> = TableDefinition::new("parenturi_childid");

/// Hashtag index: (lower-case tag, post id).
pub const TAG_POSTID: TableDefinition<(&str, u64), ()> = TableDefinition::new("tag_postid");

/// Deleted objects: AP id → deletion time (ms). Served as 410 Gone / Tombstone.
pub const URI_DELETEDMS: TableDefinition<&str, u64> = TableDefinition::new("uri_deletedms");

/// Login sessions: sha256 hex of the cookie token → expiry (ms). The token itself is never stored.
pub const SESSIONHASH_EXPIRYMS: TableDefinition<&str, u64> = TableDefinition::new("sessionhash_expiryms");

// ---- federation ----

/// Remote actors we know: actor id → JSON `RemoteActor` (inbox, shared inbox, key, names, icon).
pub const ACTORURI_ACTOR: TableDefinition<&str, &[u8]> = TableDefinition::new("actoruri_actor");

/// Key ids → actor id: `keyId` of a signature to the actor whose key it is.
pub const KEYID_ACTORURI: TableDefinition<&str, &str> = TableDefinition::new("keyid_actoruri");

/// Accounts following the owner: actor id → JSON `Follower` (since, follow activity id).
pub const FOLLOWERURI_FOLLOWER: TableDefinition<&str, &[u8]> = TableDefinition::new("followeruri_follower");

/// Follow requests awaiting the owner's approval: actor id → JSON `Follower`.
pub const REQUESTERURI_REQUEST: TableDefinition<&str, &[u8]> = TableDefinition::new("requesteruri_request");

/// Accounts the owner follows (or asked to): actor id → JSON `Following` (state, follow id).
pub const FOLLOWINGURI_FOLLOWING: TableDefinition<&str, &[u8]> = TableDefinition::new("followinguri_following");

/// Activities the owner sent, by id (served at /users/NAME/activities/ID, referenced by jobs).
pub const ACTIVITYID_ACTIVITY: TableDefinition<u64, &[u8]> = TableDefinition::new("activityid_activity");

/// Incoming activity ids already applied → time seen: duplicate deliveries are no-ops.
pub const SEENURI_MS: TableDefinition<&str, u64> = TableDefinition::new("seenuri_ms");

/// Interactions with posts: (post AP id, kind "like"|"boost"|"react:EMOJI", actor id) → JSON
/// `Interaction` (activity id, time). A range over the post gives who liked/boosted.
pub const POSTURI_KIND_ACTOR: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("posturi_kind_actor");

/// Emoji reactions of a post, counted on write (store/reactions.rs): (post uri, emoji as sent,
/// e.g. "🎉" or ":blobcat:") → JSON `ReactionCount` (count, a custom emoji's image and whose it is).
pub const POSTURI_REACTION_COUNT: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("posturi_reaction_count");

/// Interactions of each kind with a post, counted on write (store/social.rs): (post uri, kind)
/// → how many rows POSTURI_KIND_ACTOR holds under that prefix. Pages read a count with one
/// lookup instead of scanning every liker (issue 15). Filled for older databases by schema 3.
pub const POSTURI_KIND_COUNT: TableDefinition<(&str, &str), u64> = TableDefinition::new("posturi_kind_count");

/// Activity id of an interaction → its key in POSTURI_KIND_ACTOR, so Undo finds it.
pub const INTERACTIONURI_KEY: TableDefinition<&str, &[u8]> = TableDefinition::new("interactionuri_key");

/// Posts by author: (author actor id, post id), for Delete of an actor and account pages.
pub const AUTHOR_POSTID: TableDefinition<(&str, u64), ()> = TableDefinition::new("author_postid");

/// The owner's home timeline: entry id (time-sortable) → JSON `HomeEntry` (post id, boosted by).
pub const HOMEID_ENTRY: TableDefinition<u64, &[u8]> = TableDefinition::new("homeid_entry");

/// Notifications: id (time-sortable) → JSON `Notification`.
pub const NOTIFID_NOTIF: TableDefinition<u64, &[u8]> = TableDefinition::new("notifid_notif");

/// Delivery queue, due order: (due ms, job id) → (). The worker scans from the front.
pub const DUE_JOBID: TableDefinition<(u64, u64), ()> = TableDefinition::new("due_jobid");

/// Delivery jobs: job id → JSON `Job` (what, attempts, due, last error).
pub const JOBID_JOB: TableDefinition<u64, &[u8]> = TableDefinition::new("jobid_job");

/// Fan-out dedupe: (fan-out job id, inbox URL) → () while that fan-out runs; one delivery per
/// shared inbox however many followers live behind it, without a set in memory.
pub const FANOUT_INBOX: TableDefinition<(u64, &str), ()> = TableDefinition::new("fanout_inbox");

/// Deliveries that gave up: job id → JSON `Job` with the last error, kept for `pipit queue`.
pub const DEADID_JOB: TableDefinition<u64, &[u8]> = TableDefinition::new("deadid_job");

// ---- the owner's reading tools (issue: lists, tags, bookmarks, safety) ----

/// Lists: list id → JSON `List` (name, exclusive, public).
pub const LISTID_LIST: TableDefinition<u64, &[u8]> = TableDefinition::new("listid_list");

/// List membership, both ways: (list id, actor id) and (actor id, list id).
pub const LIST_MEMBER: TableDefinition<(u64, &str), ()> = TableDefinition::new("list_member");
pub const MEMBER_LIST: TableDefinition<(&str, u64), ()> = TableDefinition::new("member_list");

/// Hashtags the owner follows: tag → since (ms).
pub const FOLLOWEDTAG_MS: TableDefinition<&str, u64> = TableDefinition::new("followedtag_ms");

/// Bookmarks: (bookmark time-id) → post id, and post id → bookmark id for toggling.
pub const BOOKMARKID_POSTID: TableDefinition<u64, u64> = TableDefinition::new("bookmarkid_postid");
pub const POSTID_BOOKMARKID: TableDefinition<u64, u64> = TableDefinition::new("postid_bookmarkid");

/// Full-text index: (term, post id) → (). Terms are lower-cased words of a post's text.
pub const TERM_POSTID: TableDefinition<(&str, u64), ()> = TableDefinition::new("term_postid");

/// Safety: blocked accounts and domains (→ since ms), muted accounts (→ until ms, 0 = forever),
/// keyword filters (id → JSON `Filter`).
pub const BLOCKEDACTOR_MS: TableDefinition<&str, u64> = TableDefinition::new("blockedactor_ms");
pub const BLOCKEDDOMAIN_MS: TableDefinition<&str, u64> = TableDefinition::new("blockeddomain_ms");
pub const MUTEDACTOR_UNTIL: TableDefinition<&str, u64> = TableDefinition::new("mutedactor_until");
pub const FILTERID_FILTER: TableDefinition<u64, &[u8]> = TableDefinition::new("filterid_filter");

/// The owner's pinned posts: post id → when pinned (ms). Served as the `featured` collection.
pub const PINNED_POSTID_MS: TableDefinition<u64, u64> = TableDefinition::new("pinned_postid_ms");

// ---- Mastodon client API (issue 10): OAuth apps, tokens, codes; stable account ids ----

/// Registered OAuth clients: app id → JSON `OAuthApp` (name, redirect URIs, scopes, secret hash).
pub const APPID_APP: TableDefinition<u64, &[u8]> = TableDefinition::new("appid_app");
/// client_id → app id.
pub const CLIENTID_APPID: TableDefinition<&str, u64> = TableDefinition::new("clientid_appid");
/// Tokens (access and refresh), by sha256 hex of the token → JSON `OAuthToken`. Never the token.
pub const TOKENHASH_TOKEN: TableDefinition<&str, &[u8]> = TableDefinition::new("tokenhash_token");
/// (app id, token hash) → (): an app's tokens, for the settings page and revoking an app.
pub const APPID_TOKENHASH: TableDefinition<(u64, &str), ()> = TableDefinition::new("appid_tokenhash");
/// Authorization codes: sha256 hex of the code → JSON `OAuthCode`; removed when used.
pub const CODEHASH_CODE: TableDefinition<&str, &[u8]> = TableDefinition::new("codehash_code");
/// Stable Mastodon account ids for actors (the owner included): actor id → u64, and back.
pub const ACTORURI_ACCOUNTID: TableDefinition<&str, u64> = TableDefinition::new("actoruri_accountid");
pub const ACCOUNTID_ACTORURI: TableDefinition<u64, &str> = TableDefinition::new("accountid_actoruri");

/// Media uploaded through the client API, waiting for (or attached to) a post: id → JSON
/// `PendingMedia` (file, type, size, alt text). Unattached ones are swept after a day.
pub const MEDIAID_MEDIA: TableDefinition<u64, &[u8]> = TableDefinition::new("mediaid_media");
/// `Idempotency-Key` of `POST /api/v1/statuses` (sha256 hex) → (post id, when ms): a retried
/// request gets the post it already made. Kept an hour.
pub const IDEMKEY_POST: TableDefinition<&str, (u64, u64)> = TableDefinition::new("idemkey_post");

// ---- CSV imports (issue 12): store/imports.rs ----

/// Imports: import id → JSON `ImportJob` (file, counters, when finished).
pub const IMPORTID_IMPORT: TableDefinition<u64, &[u8]> = TableDefinition::new("importid_import");
/// Their rows: (import id, line) → JSON `ImportRow` (fields, state, attempts, reason).
pub const IMPORTLINE_ROW: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("importline_row");
/// Pending rows by when they are tried next: (import id, due ms, line) → ().
pub const IMPORTDUE_LINE: TableDefinition<(u64, u64, u64), ()> = TableDefinition::new("importdue_line");
// ---- Publishing controls (issue 14): edit history, scheduled posts and drafts, poll votes ----

/// Earlier versions of a post: (post id, when that version was replaced, ms) → JSON
/// `PostVersion`. Oldest first in key order.
pub const POSTID_EDITMS_VERSION: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("postid_editms_version");
/// The owner's scheduled posts and drafts: id → JSON `ScheduledPost`.
pub const SCHEDULEDID_SCHEDULED: TableDefinition<u64, &[u8]> = TableDefinition::new("scheduledid_scheduled");
/// Votes in the owner's polls: (post id, voter actor id) → JSON list of chosen option names.
pub const POSTID_VOTER_CHOICES: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("postid_voter_choices");
/// Client API conversations (direct posts and silent mentions): conversation id (its thread's
/// root post id) → (read up to, removed up to), both home entry ids (arrival order). A
/// conversation is unread while its newest entry is above the first, hidden while at or below the second.
pub const CONVERSATION_READ_REMOVED: TableDefinition<u64, (u64, u64)> = TableDefinition::new("conversation_read_removed");
/// Posts the owner liked, for `GET /api/v1/favourites`: favourite id (ids::next_id at the like)
/// → post id, and its reverse. Written by domain::follows (like, unlike).
pub const FAVOURITEID_POSTID: TableDefinition<u64, u64> = TableDefinition::new("favouriteid_postid");
pub const POSTID_FAVOURITEID: TableDefinition<u64, u64> = TableDefinition::new("postid_favouriteid");
/// Conversations the owner muted (`POST /api/v1/statuses/:id/mute`): thread root post uri → when
/// (ms). Notifications about posts in a muted thread are not shown.
pub const MUTEDTHREAD_MS: TableDefinition<&str, u64> = TableDefinition::new("mutedthread_ms");
