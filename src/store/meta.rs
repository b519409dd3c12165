//! Singletons in `meta_value`: schema version, profile, password hash, one-time setup token, secret.

use super::{from_json, tables::META_VALUE, to_json, Read, Write};
use crate::error::Result;
use crate::model::Profile;
use redb::ReadableTable;

impl Read {
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let t = self.tx.open_table(META_VALUE)?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }
    pub fn profile(&self) -> Result<Profile> {
        match self.meta("profile")? {
            Some(b) => from_json(&b, "profile"),
            None => Ok(Profile::default()),
        }
    }
    pub fn password_hash(&self) -> Result<Option<String>> {
        Ok(self.meta("password_hash")?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
    pub fn setup_token_hash(&self) -> Result<Option<String>> {
        Ok(self.meta("setup_token")?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
    pub fn secret(&self) -> Result<Option<Vec<u8>>> {
        self.meta("secret")
    }
    /// One of the owner's texts for the About page (`about`, `rules`): plain text as typed in
    /// settings, empty when never set.
    pub fn site_text(&self, key: &str) -> Result<String> {
        Ok(self.meta(&format!("text:{key}"))?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default())
    }
    /// The deck's columns (JSON list), empty when never configured.
    pub fn deck(&self) -> Result<Vec<crate::model::Column>> {
        match self.meta("deck")? {
            Some(b) => from_json(&b, "deck"),
            None => Ok(vec![]),
        }
    }
}

impl Write {
    pub(super) fn meta_u32(&self, key: &str) -> Result<Option<u32>> {
        let t = self.tx.open_table(META_VALUE)?;
        let v = t.get(key)?;
        Ok(v.and_then(|v| v.value().try_into().ok().map(u32::from_le_bytes)))
    }
    pub(super) fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.tx.open_table(META_VALUE)?.insert(key, value)?;
        Ok(())
    }
    fn del_meta(&mut self, key: &str) -> Result<()> {
        self.tx.open_table(META_VALUE)?.remove(key)?;
        Ok(())
    }
    pub fn profile(&self) -> Result<Profile> {
        let t = self.tx.open_table(META_VALUE)?;
        let v = t.get("profile")?;
        match v {
            Some(b) => from_json(b.value(), "profile"),
            None => Ok(Profile::default()),
        }
    }
    pub fn put_profile(&mut self, p: &Profile) -> Result<()> {
        self.put_meta("profile", &to_json(p)?)
    }
    /// Sets one of the About page's texts (see `Read::site_text`).
    pub fn put_site_text(&mut self, key: &str, text: &str) -> Result<()> {
        self.put_meta(&format!("text:{key}"), text.as_bytes())
    }
    pub fn put_deck(&mut self, cols: &[crate::model::Column]) -> Result<()> {
        self.put_meta("deck", &to_json(&cols)?)
    }
    pub fn put_password_hash(&mut self, phc: &str) -> Result<()> {
        self.put_meta("password_hash", phc.as_bytes())
    }
    pub fn put_setup_token_hash(&mut self, hash: Option<&str>) -> Result<()> {
        match hash {
            Some(h) => self.put_meta("setup_token", h.as_bytes()),
            None => self.del_meta("setup_token"),
        }
    }
    /// Returns the server secret, creating it on first use.
    pub fn ensure_secret(&mut self) -> Result<Vec<u8>> {
        let existing = {
            let t = self.tx.open_table(META_VALUE)?;
            let v = t.get("secret")?;
            v.map(|v| v.value().to_vec())
        };
        if let Some(s) = existing {
            return Ok(s);
        }
        let mut s = vec![0u8; 32];
        crate::secret::fill(&mut s);
        self.put_meta("secret", &s)?;
        Ok(s)
    }
}
