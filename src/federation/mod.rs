//! ActivityPub: signatures, fetching, the inbox, delivery. Produces and consumes AS2 JSON; never
//! renders HTML.

pub mod cards;
pub mod activity;
pub mod client;
pub mod collection;
pub mod content;
pub mod crosspost;
pub mod deliver;
pub mod fetch;
pub mod inbox;
pub mod jcs;
pub mod relay;
pub mod relme;
pub mod keys;
pub mod media_cache;
pub mod sign;
pub mod starter_pack;
pub mod signer;
pub mod thread;
pub mod vocab;
pub mod webmention;
pub mod websub;
