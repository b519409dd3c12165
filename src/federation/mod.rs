pub mod client;
pub mod vocab;
