//! Thin HTTP handlers: parse the request, call one domain operation, render or serialise.

pub mod ap;
pub mod api;
pub mod assets;
pub mod auth;
pub mod community;
pub mod crosspost;
pub mod portability;
pub mod publishing;
pub mod deck;
pub mod interact;
pub mod lists;
pub mod notifications;
pub mod relays;
pub mod safety;
pub mod search;
pub mod social;
pub mod starter_pack;
pub mod web;
pub mod webmention;
pub mod wellknown;
