//! The owner's lists: create, rename or re-flag, delete, add and remove members. The web's
//! /lists pages and the client API's /api/v1/lists both call these.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::List;

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::BadRequest("A list needs a name of up to 100 characters".into()));
    }
    Ok(name.to_string())
}

/// A new list; returns its id.
pub fn create(app: &App, name: &str, exclusive: bool, public: bool) -> Result<u64> {
    let list = List { name: check_name(name)?, exclusive, public, created_ms: crate::time::now_ms() };
    app.store.write(|w| w.create_list(&list))
}

/// Renames a list and sets its flags (`None` keeps a flag as it is).
pub fn update(app: &App, id: u64, name: &str, exclusive: Option<bool>, public: Option<bool>) -> Result<List> {
    let name = check_name(name)?;
    app.store.write(|w| {
        let mut l = w.list(id)?.ok_or(Error::NotFound)?;
        l.name = name.clone();
        if let Some(e) = exclusive {
            l.exclusive = e;
        }
        if let Some(p) = public {
            l.public = p;
        }
        w.update_list(id, &l)?;
        Ok(l)
    })
}

pub fn delete(app: &App, id: u64) -> Result<()> {
    app.store.write(|w| w.delete_list(id))
}

/// Adds or removes a member (an actor id the caller resolved).
pub fn set_member(app: &App, id: u64, actor: &str, add: bool) -> Result<()> {
    app.store.write(|w| {
        w.list(id)?.ok_or(Error::NotFound)?;
        if add { w.add_list_member(id, actor) } else { w.remove_list_member(id, actor) }
    })
}
