//! GET /notifications[?type=KIND&before=ID]: follows, requests (answered inline), mentions,
//! replies, likes, boosts, reactions, quotes, moves.

use crate::app::App;
use crate::error::Result;
use crate::handlers::{auth, social};
use crate::model::NotificationKind;
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use minijinja::context;

const KINDS: &[(&str, &str)] = &[
    ("follow", "Follows"),
    ("follow_request", "Requests"),
    ("mention", "Mentions"),
    ("reply", "Replies"),
    ("like", "Likes"),
    ("boost", "Boosts"),
    ("reaction", "Reactions"),
    ("quote", "Quotes"),
    ("move", "Moves"),
    ("status", "New posts"),
];

fn kind_name(k: &NotificationKind) -> &'static str {
    match k {
        NotificationKind::Follow => "follow",
        NotificationKind::FollowRequest => "follow_request",
        NotificationKind::Mention => "mention",
        NotificationKind::Reply => "reply",
        NotificationKind::Like => "like",
        NotificationKind::Boost => "boost",
        NotificationKind::Reaction => "reaction",
        NotificationKind::Quote => "quote",
        NotificationKind::Move => "move",
        NotificationKind::Status => "status",
    }
}

pub fn page(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let o = match auth::require_owner_page(app, req.headers()) {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let q = request::query(req);
    let filter = q.get("type").filter(|t| KINDS.iter().any(|(k, _)| k == t)).map(str::to_string);
    let before = q.get("before").and_then(|s| s.parse().ok());
    let now = crate::time::now_ms();
    // Blocked and muted accounts do not notify.
    let (items, next) = app.store.read(|r| {
        r.notifications_where(before, 30, &|n| {
            filter.as_deref().map(|f| kind_name(&n.kind) == f).unwrap_or(true) && crate::domain::timeline::notification_shown(app, n, now)
        })
    })?;
    let profile = app.store.read(|r| r.profile())?;
    let views: Vec<_> = items
        .iter()
        .map(|(id, n)| {
            let post = n.post_uri.as_ref().and_then(|u| app.store.read(|r| r.post_by_uri(u)).ok().flatten()).map(|p| social::post_view(app, &p, &profile, false));
            let pending = n.kind == NotificationKind::FollowRequest && app.store.read(|r| r.follow_request(&n.actor)).ok().flatten().is_some();
            context! {
                id => id.to_string(), kind => kind_name(&n.kind), who => social::author(app, &profile, &n.actor),
                post, detail => n.detail, when => crate::time::human_date(n.at_ms), pending,
                moved_to => n.detail.as_ref().filter(|_| n.kind == NotificationKind::Move).map(|d| social::author(app, &profile, d)),
            }
        })
        .collect();
    let body = app.render.render(
        "notifications.html",
        context! { items => views, kinds => KINDS, filter, next => next.map(|n| n.to_string()), owner => o },
    )?;
    Ok(response::html(body))
}
