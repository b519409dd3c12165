//! Suggestions while the owner types a post: `@handles` of accounts this server knows (people
//! followed, then followers) and `#tags` it has stored. Only what is already here: typing never
//! makes pipit fetch anything.

use crate::app::App;
use crate::error::Result;
use serde::Serialize;

/// How many suggestions of each kind at most.
pub const LIMIT: usize = 8;
/// How many entries of each relationship list are looked at for an account prefix: bounded, so
/// a large following list costs the same as a small one.
const SCAN: usize = 400;

/// One suggested account: `handle` is `@user@host`, what the compose box inserts.
#[derive(Serialize, Debug, PartialEq)]
pub struct AccountSuggestion {
    pub handle: String,
    pub name: String,
}

/// The suggestions for one query (`accounts` for "@…", `tags` for "#…", both empty otherwise).
#[derive(Serialize, Debug, Default)]
pub struct Suggestions {
    pub accounts: Vec<AccountSuggestion>,
    pub tags: Vec<String>,
}

/// Suggestions for `q`: "@ann" or "@ann@ho" → accounts whose handle starts with it (or whose
/// display name contains the part after '@'); "#ru" → stored tags starting with "ru". Case does
/// not matter. Errors: only the store's.
pub fn suggest(app: &App, q: &str) -> Result<Suggestions> {
    let q = q.trim();
    let mut out = Suggestions::default();
    if let Some(t) = q.strip_prefix('#') {
        let t = t.to_lowercase();
        if !t.is_empty() && t.chars().all(|c| c.is_alphanumeric() || c == '_') {
            out.tags = app.store.read(|r| r.tags_starting_with(&t, LIMIT))?;
        }
    } else if let Some(h) = q.strip_prefix('@') {
        let needle = h.to_lowercase();
        if needle.is_empty() || needle.contains(char::is_whitespace) {
            return Ok(out);
        }
        let wanted = |a: &crate::model::RemoteActor| {
            let handle = a.handle().to_lowercase();
            handle[1..].starts_with(&needle) || (!needle.contains('@') && a.display_name().to_lowercase().contains(&needle))
        };
        app.store.read(|r| {
            let following = r.following_page(None, SCAN)?.items.into_iter().map(|(id, _)| id);
            let followers = r.followers_page(None, SCAN)?.items.into_iter().map(|(id, _)| id);
            for id in following.chain(followers) {
                if out.accounts.len() == LIMIT {
                    break;
                }
                if let Some(a) = r.actor(&id)? {
                    let handle = a.handle();
                    if wanted(&a) && !out.accounts.iter().any(|s| s.handle == handle) {
                        out.accounts.push(AccountSuggestion { handle, name: a.display_name().to_string() });
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}
