//! Every redb table pipit has, named `key_value` for what it maps (Conduit's convention), with the
//! key layout beside it. Values that are records are JSON bytes (see codec in mod.rs).

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
