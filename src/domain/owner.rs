//! The owner: password (argon2), one-time setup link, login sessions, profile.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{Profile, ProfileField};
use crate::secret;
use crate::time::now_ms;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

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
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| Error::Internal(e.to_string()))?.to_string())
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
    let parsed = PasswordHash::new(&phc).map_err(|e| Error::Store(format!("password hash: {e}")))?;
    Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
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
    let hash = secret::hash_token(token);
    Ok(app.store.read(|r| r.session_expiry(&hash, now_ms()))?.is_some())
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
        w.put_profile(&p)?;
        Ok(p)
    })
}

pub enum ProfileImage {
    Avatar,
    Header,
}

/// Replaces the avatar or header with an uploaded image (saved first, then recorded, then the
/// old file removed: a failure at any step leaves the old picture in place).
pub fn set_image(app: &App, which: ProfileImage, bytes: &[u8]) -> Result<Profile> {
    let file = crate::domain::media::save_image(app, bytes)?.file;
    let (p, old) = app.store.write(|w| {
        let mut p = w.profile()?;
        let old = match which {
            ProfileImage::Avatar => p.avatar.replace(file.clone()),
            ProfileImage::Header => p.header.replace(file.clone()),
        };
        w.put_profile(&p)?;
        Ok((p, old))
    })?;
    if let Some(old) = old {
        crate::domain::media::remove(app, &old);
    }
    Ok(p)
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
