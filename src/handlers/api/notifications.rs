//! `GET /api/v1/notifications` (`types[]`, `exclude_types[]`, `account_id`, paging),
//! `GET /api/v1/notifications/:id`, `POST …/:id/dismiss` and `POST …/clear`. Blocked and muted accounts do not notify (the same rule
//! as the /notifications page). Unknown types in a filter match nothing; they are not an error.

use super::entities::{notification_type, Ctx};
use super::{ok, ApiError, ApiResult, Call};
use crate::domain::timeline::{self, Viewer};
use crate::model::Notification;

pub fn list(c: &Call) -> ApiResult {
    let range = c.range(15, 80);
    let types: Vec<&str> = c.params.all("types");
    let exclude: Vec<&str> = c.params.all("exclude_types");
    let account_id = c.params.get("account_id").filter(|a| !a.is_empty());
    let now = crate::time::now_ms();
    // One read transaction for the token, the scan, the rules and every entity built (issue 15).
    let (items, first, last) = c.read_as(super::Need::User("read:notifications"), |r, _| {
        // An unknown account matches nothing (an empty actor).
        let account = match account_id {
            Some(a) => Some(a.parse::<u64>().ok().and_then(|id| r.account_actor(id).ok().flatten()).unwrap_or_default()),
            None => None,
        };
        let mut rows: Vec<(u64, Notification)> = Vec::new();
        r.notification_ids(&range, &mut |id| {
            let Some(n) = r.notification(id)? else { return Ok(false) };
            let t = notification_type(&n.kind);
            let ok = (types.is_empty() || types.contains(&t))
                && !exclude.contains(&t)
                && account.as_ref().map(|a| *a == n.actor).unwrap_or(true)
                && timeline::notification_shown_in(r, &n, now);
            if ok {
                rows.push((id, n));
            }
            Ok(ok)
        })?;
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        let ctx = Ctx::new_in(&c.app, r, Viewer::Owner)?;
        ctx.prepare([], rows.iter().map(|(_, n)| n.actor.clone()));
        let items: Vec<serde_json::Value> = rows.iter().map(|(id, n)| ctx.notification(*id, n)).collect();
        Ok((items, rows.first().map(|r| r.0), rows.last().map(|r| r.0)))
    })?;
    c.paged(items, first, last)
}

pub fn get(c: &Call) -> ApiResult {
    c.user("read:notifications")?;
    let id = c.id_seg(3)?;
    let n = c.app.store.read(|r| r.notification(id))?.ok_or_else(ApiError::not_found)?;
    let ctx = Ctx::new(&c.app, Viewer::Owner)?;
    ok(&ctx.notification(id, &n))
}

/// `POST /api/v1/notifications/:id/dismiss`: `{}`; 404 if there is no such notification.
pub fn dismiss(c: &Call) -> ApiResult {
    c.user("write:notifications")?;
    let id = c.id_seg(3)?;
    if !c.app.store.write(|w| w.remove_notification(id))? {
        return Err(ApiError::not_found());
    }
    ok(&serde_json::json!({}))
}

/// `POST /api/v1/notifications/clear`: `{}`.
pub fn clear(c: &Call) -> ApiResult {
    c.user("write:notifications")?;
    c.app.store.write(|w| w.clear_notifications())?;
    ok(&serde_json::json!({}))
}
