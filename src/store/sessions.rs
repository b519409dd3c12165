//! Login sessions in `sessionhash_expiryms`. Expired rows are removed when touched and swept
//! in bounded batches, never by loading the table.

use super::{tables::SESSIONHASH_EXPIRYMS, Read, Write};
use redb::ReadableTable;
use crate::error::Result;

impl Read {
    /// Expiry of a live session, None if unknown or expired.
    pub fn session_expiry(&self, hash: &str, now_ms: u64) -> Result<Option<u64>> {
        let t = self.tx.open_table(SESSIONHASH_EXPIRYMS)?;
        Ok(t.get(hash)?.map(|v| v.value()).filter(|&exp| exp > now_ms))
    }
}

impl Write {
    /// Records a new session (sha256 hex of its token). A session already stored under that
    /// hash is a conflict error, never extended or replaced.
    pub fn put_session(&mut self, hash: &str, expiry_ms: u64) -> Result<()> {
        let mut t = self.tx.open_table(SESSIONHASH_EXPIRYMS)?;
        if t.get(hash)?.is_some() {
            return Err(super::alloc::conflict("sessionhash_expiryms", "that token hash"));
        }
        t.insert(hash, expiry_ms)?;
        Ok(())
    }
    pub fn delete_session(&mut self, hash: &str) -> Result<()> {
        self.tx.open_table(SESSIONHASH_EXPIRYMS)?.remove(hash)?;
        Ok(())
    }
    /// Removes up to `limit` expired sessions (called at login, so the table stays small).
    pub fn sweep_sessions(&mut self, now_ms: u64, limit: usize) -> Result<usize> {
        let mut t = self.tx.open_table(SESSIONHASH_EXPIRYMS)?;
        let mut n = 0;
        t.retain(|_, exp| {
            if n < limit && exp <= now_ms {
                n += 1;
                false
            } else {
                true
            }
        })?;
        Ok(n)
    }
    /// Logs out everywhere (password change).
    pub fn delete_all_sessions(&mut self) -> Result<()> {
        let mut t = self.tx.open_table(SESSIONHASH_EXPIRYMS)?;
        t.retain(|_, _| false)?;
        Ok(())
    }
}
