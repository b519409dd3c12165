//! pipit: one person's home in the fediverse, in one binary.
//!
//! Module map (data flows one way: server → handlers → domain → store):
//! - `config`   DATA/pipit.toml, validated, every key documented in README
//! - `app`      the `App` handle passed everywhere (no globals)
//! - `server`   hyper accept loop, TLS (PEM files or ACME, `server::acme`), routing table, request/response helpers
//! - `handlers` thin HTTP handlers: pages, forms, auth, static/media files
//! - `domain`   the rules: owner, posts, timelines, media
//! - `store`    redb behind typed tables (the only module that touches redb)
//! - `render`   minijinja templates and view structs (no store, no network)
//! - `control`  the command-line ↔ running-server socket
//! - `model`, `ids`, `urls`, `text`, `time`, `secret`: shared vocabulary and helpers

pub mod actions;
pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod control;
pub mod domain;
pub mod error;
pub mod export;
pub mod import;
pub mod federation;
pub mod fsutil;
pub mod handlers;
pub mod httpurl;
pub mod ids;
pub mod keygen;
pub mod media;
pub mod model;
pub mod progress;
pub mod render;
pub mod secret;
pub mod server;
pub mod store;
pub mod text;
pub mod time;
pub mod urls;

pub use app::App;
pub use config::Config;
pub use server::run;
