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
    let q = request::query(req);
    let filter = q.get("type").filter(|t| KINDS.iter().any(|(k, _)| k == t)).map(str::to_string);
    let before = q.get("before").and_then(|s| s.parse().ok());
    let now = crate::time::now_ms();
    // One read transaction for the whole page (issue 15).
    let got = app.store.read(|r| {
        let Some(o) = auth::owner_in(app, r, req.headers()) else { return Ok(None) };
        // Blocked and muted accounts do not notify.
        let (items, next) = r.notifications_where(before, 30, &|n| {
            filter.as_deref().map(|f| kind_name(&n.kind) == f).unwrap_or(true) && crate::domain::timeline::notification_shown_in(r, n, now)
        })?;
        let profile = r.profile()?;
        let views: Vec<_> = items
            .iter()
            .map(|(id, n)| {
                let post = n.post_uri.as_ref().and_then(|u| r.post_by_uri(u).ok().flatten()).map(|p| social::post_view_in(app, r, &p, &profile, false));
                let pending = n.kind == NotificationKind::FollowRequest && r.follow_request(&n.actor).ok().flatten().is_some();
                context! {
                    id => id.to_string(), kind => kind_name(&n.kind), who => social::author_in(app, r, &profile, &n.actor),
                    post, detail => n.detail, when => crate::time::human_date(n.at_ms), pending,
                    moved_to => n.detail.as_ref().filter(|_| n.kind == NotificationKind::Move).map(|d| social::author_in(app, r, &profile, d)),
                }
            })
            .collect();
        Ok(Some(context! { items => views, kinds => KINDS, filter, next => next.map(|n| n.to_string()), owner => o }))
    })?;
    let Some(ctx) = got else { return Ok(response::redirect("/login")) };
    Ok(response::html(app.render.render("notifications.html", ctx)?))
}
