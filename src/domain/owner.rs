//! The owner: password (argon2), one-time setup link, login sessions, profile.

use crate::app::App;
use crate::error::{Error, Result};
use crate::domain::outbox;
use crate::federation::vocab;
use crate::model::{Audience, Profile, ProfileField};
use crate::store::Write;
use crate::secret;
use crate::time::now_ms;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::Mutex;

/// One password check at a time (argon2 takes 19 MiB at the default cost).
static ARGON2_GATE: Mutex<()> = Mutex::new(());
/// Stored hashes asking for more than this (KiB) are refused rather than allocated.
const MAX_M_COST_KIB: u32 = 64 * 1024;

/// argon2 of `password` with `salt` into `out`. The working memory (`m_cost` KiB, 19 MiB by
/// default) is allocated for this check and freed after it, so it is not part of the idle
/// server's RSS (it was kept in a static before: 19 MiB for good after the first login, more than
/// the 24 MiB budget leaves for a 12 MP upload). A block this large is mmapped and unmapped by
/// the allocator: musl always does so above ~128 KiB; glibc does since `main` fixes its mmap
/// threshold (its dynamic threshold once made every freed 19 MiB stay in a thread arena).
fn argon2_into(algorithm: Algorithm, version: Version, params: Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
    if params.m_cost() > MAX_M_COST_KIB {
        return Err(Error::Store(format!("password hash: memory cost {} KiB is above {MAX_M_COST_KIB}", params.m_cost())));
    }
    let _one = ARGON2_GATE.lock().unwrap_or_else(|e| e.into_inner());
    let mut memory = vec![Block::default(); params.block_count()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, &mut memory[..])
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

pub const MIN_PASSWORD: usize = 8;
pub const MAX_FIELDS: usize = 4;

pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::BadRequest(format!("The password must have at least {MIN_PASSWORD} characters")));
    }
    if password.len() > 1024 {
        return Err(Error::BadRequest("The password is too long".into()));
    }
    let mut salt = [0u8; 16];
    secret::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    let params = Params::DEFAULT;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(|e| Error::Internal(e.to_string()))?;
    argon2_into(Algorithm::Argon2id, Version::V0x13, params.clone(), password.as_bytes(), raw_salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e: argon2::password_hash::Error| Error::Internal(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| Error::Internal(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// Sets a new password and logs out every existing session.
pub fn set_password(app: &App, password: &str) -> Result<()> {
    let phc = hash_password(password)?;
    app.store.write(|w| {
        w.put_password_hash(&phc)?;
        w.put_setup_token_hash(None)?;
        w.delete_all_sessions()
    })
}

pub fn has_password(app: &App) -> Result<bool> {
    Ok(app.store.read(|r| r.password_hash())?.is_some())
}

pub fn check_password(app: &App, password: &str) -> Result<bool> {
    let Some(phc) = app.store.read(|r| r.password_hash())? else { return Ok(false) };
    if password.len() > 1024 {
        return Ok(false);
    }
    verify(&phc, password)
}

/// Checks `password` against a PHC-format argon2 hash, in the shared working memory.
pub fn verify(phc: &str, password: &str) -> Result<bool> {
    let parsed = PasswordHash::new(&phc).map_err(|e| Error::Store(format!("password hash: {e}")))?;
    let bad = |e: argon2::password_hash::Error| Error::Store(format!("password hash: {e}"));
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(bad)?;
    let version = parsed.version.map(Version::try_from).transpose().map_err(|e| Error::Store(format!("password hash: {e}")))?.unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return Err(Error::Store("password hash: no salt or hash".into())) };
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(bad)?;
    let params = Params::try_from(&parsed).map_err(bad)?;
    let params = argon2::ParamsBuilder::new()
        .m_cost(params.m_cost())
        .t_cost(params.t_cost())
        .p_cost(params.p_cost())
        .output_len(expected.len())
        .build()
        .map_err(|e| Error::Store(format!("password hash: {e}")))?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(algorithm, version, params, password.as_bytes(), raw_salt, &mut out)?;
    // Output's equality is constant-time.
    Ok(Output::new(&out).map_err(bad)? == expected)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_match_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let phc = super::hash_password("correct horse").unwrap();
        let parsed = argon2::password_hash::PasswordHash::new(&phc).unwrap();
        assert!(argon2::Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let salt = argon2::password_hash::SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = argon2::Argon2::default().hash_password(b"correct horse", &salt).unwrap().to_string();
        assert!(super::verify(&theirs, "correct horse").unwrap());
        assert!(!super::verify(&theirs, "correct horsf").unwrap());
    }
}

/// Makes a fresh one-time setup token (only its hash is kept) and returns the link to print.
pub fn new_setup_link(app: &App) -> Result<String> {
    let token = secret::token();
    let hash = secret::hash_token(&token);
    app.store.write(|w| w.put_setup_token_hash(Some(&hash)))?;
    Ok(format!("{}/setup?token={token}", app.urls.base))
}

pub fn setup_token_valid(app: &App, token: &str) -> Result<bool> {
    let stored = app.store.read(|r| r.setup_token_hash())?;
    Ok(matches!(stored, Some(h) if secret::constant_time_eq(&h, &secret::hash_token(token))))
}

/// Uses the one-time token to set the password; the token is gone afterwards.
pub fn setup_password(app: &App, token: &str, password: &str) -> Result<()> {
    if !setup_token_valid(app, token)? {
        return Err(Error::Forbidden("This setup link was already used or is not valid. Run `pipit password` to set a password.".into()));
    }
    set_password(app, password)
}

/// Starts a session; returns the cookie token (only its hash is stored).
pub fn new_session(app: &App) -> Result<String> {
    let token = secret::token();
    let hash = secret::hash_token(&token);
    let now = now_ms();
    let expiry = now + app.config.session_secs * 1000;
    app.store.write(|w| {
        w.sweep_sessions(now, 100)?;
        w.put_session(&hash, expiry)
    })?;
    Ok(token)
}

pub fn session_valid(app: &App, token: &str) -> Result<bool> {
    app.store.read(|r| session_valid_in(r, token))
}

/// `session_valid` in the request's read transaction `r`.
pub fn session_valid_in(r: &crate::store::Read, token: &str) -> Result<bool> {
    let hash = secret::hash_token(token);
    Ok(r.session_expiry(&hash, now_ms())?.is_some())
}

pub fn end_session(app: &App, token: &str) -> Result<()> {
    let hash = secret::hash_token(token);
    app.store.write(|w| w.delete_session(&hash))
}

pub fn profile(app: &App) -> Result<Profile> {
    app.store.read(|r| r.profile())
}

pub struct ProfileEdit {
    pub display_name: String,
    pub bio: String,
    pub fields: Vec<ProfileField>,
}

pub fn update_profile(app: &App, edit: ProfileEdit) -> Result<Profile> {
    if edit.display_name.chars().count() > 100 {
        return Err(Error::BadRequest("Display name: at most 100 characters".into()));
    }
    if edit.bio.chars().count() > 2000 {
        return Err(Error::BadRequest("Bio: at most 2000 characters".into()));
    }
    let fields: Vec<ProfileField> = edit
        .fields
        .into_iter()
        .map(|f| ProfileField { name: f.name.trim().to_string(), value: f.value.trim().to_string(), verified_ms: None })
        .filter(|f| !f.name.is_empty() || !f.value.is_empty())
        .collect();
    if fields.len() > MAX_FIELDS || fields.iter().any(|f| f.name.chars().count() > 255 || f.value.chars().count() > 255) {
        return Err(Error::BadRequest("Profile fields: at most 4, each up to 255 characters".into()));
    }
    app.store.write(|w| {
        let mut p = w.profile()?;
        let before = p.clone();
        p.display_name = edit.display_name.trim().to_string();
        p.bio = edit.bio.trim().to_string();
        // A field keeps its verification while its link stays the same.
        let fields = fields
            .into_iter()
            .map(|mut f| {
                f.verified_ms = p.fields.iter().find(|o| o.value == f.value).and_then(|o| o.verified_ms);
                f
            })
            .collect();
        p.fields = fields;
        save_profile(w, app, &before, &p)?;
        Ok(p)
    })
}

/// Stores the profile and, when something followers see changed, tells them with one
/// `Update(Person)` through the queue (Mastodon refreshes its cached copy from it).
/// Verification marks (rel="me") are ours alone and send nothing.
fn save_profile(w: &mut Write, app: &App, before: &Profile, after: &Profile) -> Result<()> {
    w.put_profile(after)?;
    let strip = |p: &Profile| Profile { fields: p.fields.iter().map(|f| ProfileField { verified_ms: None, ..f.clone() }).collect(), ..p.clone() };
    if strip(before) != strip(after) {
        send_profile_update(w, app, after)?;
    }
    Ok(())
}

/// Enqueues `Update(Person)` with the whole current actor document to every follower.
pub fn send_profile_update(w: &mut Write, app: &App, p: &Profile) -> Result<()> {
    let mut actor = vocab::actor_json(&app.urls, p, &app.actor_keys.rsa_public_pem(), &app.actor_keys.ed25519_multibase(), p.approve_followers);
    if let Some(o) = actor.as_object_mut() {
        o.remove("@context"); // the activity carries it
    }
    let followers = format!("{}/followers", app.urls.actor());
    let update = vocab::simple_json(&app.urls, "Update", &outbox::new_activity_id(app), actor, vec![vocab::PUBLIC.into()], vec![followers]);
    outbox::send(w, app, update, Audience { followers: true, inboxes: vec![] })?;
    Ok(())
}

/// Holds follow requests for approval (or not); followers learn it from an Update.
pub fn set_approve_followers(app: &App, on: bool) -> Result<Profile> {
    app.store.write(|w| {
        let before = w.profile()?;
        let p = Profile { approve_followers: on, ..before.clone() };
        save_profile(w, app, &before, &p)?;
        Ok(p)
    })
}

pub const MAX_ALIASES: usize = 10;

/// Sets the accounts this one was before (`alsoKnownAs`, actor ids the caller resolved): what
/// lets a Move from those accounts to this one be accepted by their followers' servers.
pub fn set_aliases(app: &App, aliases: Vec<String>) -> Result<Profile> {
    let mut clean: Vec<String> = Vec::new();
    for a in aliases {
        let a = a.trim().to_string();
        if a.is_empty() || clean.contains(&a) {
            continue;
        }
        if !matches!(crate::federation::vocab::host_of(&a), Some(_)) || a == app.urls.actor() {
            return Err(Error::BadRequest(format!("{a} is not another account's address")));
        }
        clean.push(a);
    }
    if clean.len() > MAX_ALIASES {
        return Err(Error::BadRequest(format!("At most {MAX_ALIASES} aliases")));
    }
    app.store.write(|w| {
        let before = w.profile()?;
        let p = Profile { also_known_as: clean, ..before.clone() };
        save_profile(w, app, &before, &p)?;
        Ok(p)
    })
}

/// Adds one alias (an actor id the caller resolved) to `alsoKnownAs`; followers get an Update.
/// Adding one that is listed already changes nothing.
pub fn add_alias(app: &App, actor_id: &str) -> Result<Profile> {
    let mut list = profile(app)?.also_known_as;
    if list.iter().any(|a| a == actor_id) {
        return profile(app);
    }
    list.push(actor_id.to_string());
    set_aliases(app, list)
}

/// Removes one alias (by actor id). Errors: `BadRequest` when it is not listed.
pub fn remove_alias(app: &App, actor_id: &str) -> Result<Profile> {
    let list = profile(app)?.also_known_as;
    if !list.iter().any(|a| a == actor_id) {
        return Err(Error::BadRequest(format!("{actor_id} is not one of your aliases")));
    }
    set_aliases(app, list.into_iter().filter(|a| a != actor_id).collect())
}

/// Moves the account out (Mastodon's account migration): `target` (the new account, fetched
/// fresh by the caller) must list this account in its `alsoKnownAs`. Sets `movedTo`, sends
/// Update(Person) and `Move{actor: me, object: me, target}` to every follower through the
/// queue, in one transaction. The account stays readable; its profile points at the new one.
/// Errors: `BadRequest` when the target does not name this account, or is this account.
pub fn move_to(app: &App, target: &crate::model::RemoteActor) -> Result<Profile> {
    let me = app.urls.actor();
    if target.id == me {
        return Err(Error::BadRequest("You cannot move to this same account".into()));
    }
    if !target.also_known_as.iter().any(|a| *a == me) {
        return Err(Error::BadRequest(format!(
            "{} does not list {me} as an alias (alsoKnownAs): add this account as an alias on the new account first",
            target.id
        )));
    }
    app.store.write(|w| {
        let before = w.profile()?;
        let p = Profile { moved_to: Some(target.id.to_string()), ..before.clone() };
        save_profile(w, app, &before, &p)?;
        let followers = format!("{me}/followers");
        let mut mv = vocab::simple_json(&app.urls, "Move", &outbox::new_activity_id(app), serde_json::json!(me), vec![followers], vec![]);
        mv["target"] = serde_json::json!(target.id);
        outbox::send(w, app, mv, Audience { followers: true, inboxes: vec![] })?;
        Ok(p)
    })
}

/// Account deletion, step one: `Delete{actor: me, object: me}` to every follower and to the
/// inbox (shared where there is one) of every server pipit knows an actor on, through the queue.
/// Returns the number of distinct inboxes addressed besides the followers'. The caller runs the
/// queue until it drains (bounded) and then wipes the data folder.
pub fn enqueue_account_delete(app: &App) -> Result<usize> {
    let me = app.urls.actor();
    // One inbox per server: the set is as large as the number of servers known, not actors.
    let mut inboxes = std::collections::BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = app.store.read(|r| r.actors_page(after.as_deref(), 500))?;
        let Some(last) = page.last().map(|a| a.id.to_string()) else { break };
        for a in &page {
            let inbox = a.delivery_inbox();
            if !inbox.is_empty() && (inbox.starts_with("https://") || inbox.starts_with("http://")) {
                inboxes.insert(inbox.to_string());
            }
        }
        after = Some(last);
    }
    let n = inboxes.len();
    app.store.write(|w| {
        let mut act = vocab::simple_json(&app.urls, "Delete", &outbox::new_activity_id(app), serde_json::json!(me), vec![vocab::PUBLIC.into()], vec![]);
        act["object"] = serde_json::json!(me);
        outbox::send(w, app, act, Audience { followers: true, inboxes: inboxes.into_iter().collect() })?;
        Ok(())
    })?;
    Ok(n)
}

pub enum ProfileImage {
    Avatar,
    Header,
}

/// Replaces the avatar or header with an uploaded image (saved first, then recorded, then the
/// old file removed: a failure at any step leaves the old picture in place).
pub fn set_image(app: &App, which: ProfileImage, input: crate::domain::media::Input) -> Result<Profile> {
    match which {
        ProfileImage::Avatar => set_images(app, Some(input), None),
        ProfileImage::Header => set_images(app, None, Some(input)),
    }
}

/// Replaces the avatar and/or the header in one save, so followers get one Update.
pub fn set_images(app: &App, avatar: Option<crate::domain::media::Input>, header: Option<crate::domain::media::Input>) -> Result<Profile> {
    let mut saved: Vec<(ProfileImage, String)> = Vec::new();
    for (which, bytes) in [(ProfileImage::Avatar, avatar), (ProfileImage::Header, header)] {
        let Some(bytes) = bytes else { continue };
        match crate::domain::media::save_image(app, bytes) {
            Ok(s) => saved.push((which, s.file)),
            Err(e) => {
                for (_, f) in &saved {
                    crate::domain::media::remove(app, f);
                }
                return Err(e);
            }
        }
    }
    if saved.is_empty() {
        return profile(app);
    }
    let result = app.store.write(|w| {
        let before = w.profile()?;
        let mut p = before.clone();
        let mut old = Vec::new();
        for (which, file) in &saved {
            let slot = match which {
                ProfileImage::Avatar => &mut p.avatar,
                ProfileImage::Header => &mut p.header,
            };
            old.extend(slot.replace(file.clone()));
        }
        save_profile(w, app, &before, &p)?;
        Ok((p, old))
    });
    match result {
        Ok((p, old)) => {
            for f in old {
                crate::domain::media::remove(app, &f);
            }
            Ok(p)
        }
        Err(e) => {
            for (_, f) in &saved {
                crate::domain::media::remove(app, f);
            }
            Err(e)
        }
    }
}

/// Marks which profile fields link to a page that links back (rel="me"); `checked` holds the
/// field values that were checked, with the result.
pub fn set_verified(app: &App, checked: &[(String, bool)]) -> Result<()> {
    app.store.write(|w| {
        let mut p = w.profile()?;
        for f in &mut p.fields {
            if let Some((_, ok)) = checked.iter().find(|(v, _)| *v == f.value) {
                f.verified_ms = if *ok { Some(now_ms()) } else { None };
            }
        }
        w.put_profile(&p)
    })
}

/// First-start profile: created_ms set once.
pub fn ensure_profile(app: &App) -> Result<()> {
    app.store.write(|w| {
        let mut p = w.profile()?;
        if p.created_ms == 0 {
            p.created_ms = now_ms();
            w.put_profile(&p)?;
        }
        Ok(())
    })
}

/// Longest About or rules text, in characters.
pub const MAX_SITE_TEXT: usize = 10_000;

/// The owner's texts for /about: `about` (who this is, what the server is for) and `rules`
/// (rules and privacy notes), plain text with blank lines between paragraphs. Empty texts
/// leave the page's built-in wording.
pub struct SiteTexts {
    pub about: String,
    pub rules: String,
}

pub fn site_texts(app: &App) -> Result<SiteTexts> {
    app.store.read(|r| Ok(SiteTexts { about: r.site_text("about")?, rules: r.site_text("rules")? }))
}

/// Saves both texts in one transaction. Errors: BadRequest when one is over MAX_SITE_TEXT.
pub fn set_site_texts(app: &App, t: SiteTexts) -> Result<()> {
    if t.about.chars().count() > MAX_SITE_TEXT || t.rules.chars().count() > MAX_SITE_TEXT {
        return Err(Error::BadRequest(format!("About and rules: at most {MAX_SITE_TEXT} characters each")));
    }
    app.store.write(|w| {
        w.put_site_text("about", t.about.trim())?;
        w.put_site_text("rules", t.rules.trim())
    })
}

/// Saves the publishing defaults (issue 14): the visibility and language new posts start with,
/// and whether public posts stay on this site unless a post says otherwise. Errors: a language
/// that is not a tag like `en` or `pt-BR`; a direct default (a post needs recipients).
pub fn set_posting_defaults(app: &App, mut d: crate::model::PostingDefaults) -> Result<()> {
    d.language = match d.language.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => Some(crate::domain::posts::check_language(l)?),
        None => None,
    };
    if d.visibility == crate::model::Visibility::Direct {
        return Err(Error::BadRequest("The default visibility can be public, unlisted or followers only".into()));
    }
    app.store.write(|w| {
        let mut p = w.profile()?;
        p.posting = d.clone();
        w.put_profile(&p)
    })
}
