//! The rules of a one-person server. No hyper, no minijinja, no redb here: handlers call these,
//! these call the store (and, for federation, enqueue deliveries in the same transaction).

pub mod community;
pub mod conversations;
pub mod crosspost;
pub mod follows;
pub mod oauth;
pub mod inbox;
pub mod lists;
pub mod media;
pub mod outbox;
pub mod owner;
pub mod polls;
pub mod posts;
pub mod relays;
pub mod reactions;
pub mod safety;
pub mod scheduled;
pub mod suggest;
pub mod timeline;
