//! Discovery: WebFinger, host-meta, NodeInfo 2.0/2.1.

use crate::app::App;
use crate::error::{Error, Result};
use crate::server::request;
use crate::server::response::{self, Resp};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::json;

/// GET /.well-known/webfinger?resource=acct:NAME@HOST | actor URL | profile URL
pub fn webfinger(app: &App, req: &Request<Incoming>) -> Result<Resp> {
    let q = request::query(req);
    let resource = q.get("resource").ok_or_else(|| Error::BadRequest("missing ?resource=".into()))?;
    let u = &app.urls;
    let acct = format!("acct:{}@{}", u.username, u.host);
    if !is_own_resource(u, resource) {
        return Err(Error::NotFound);
    }
    let jrd = json!({
        "subject": acct,
        "aliases": [u.actor(), u.profile()],
        "links": [
            { "rel": "self", "type": "application/activity+json", "href": u.actor() },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": u.profile() },
            { "rel": "http://ostatus.org/schema/1.0/subscribe", "template": format!("{}/authorize_interaction?uri={{uri}}", u.base) },
            { "rel": "http://webfinger.net/rel/avatar", "href": crate::render::views::avatar_url(&app.store.read(|r| r.profile())?, u) },
        ]
    });
    let mut r = response::json(200, "application/jrd+json; charset=utf-8", &jrd);
    r.headers_mut().insert("access-control-allow-origin", hyper::header::HeaderValue::from_static("*"));
    Ok(r)
}

/// Does a WebFinger `resource` (already percent-decoded) name the owner? `acct:NAME@HOST`,
/// `NAME@HOST` or `@NAME@HOST` (ASCII case-insensitive), or exactly the actor or profile URL
/// (RFC 7033 §4.1; Mastodon sends `acct:`). Pure, for the fuzz target in tests/fuzz.
pub fn is_own_resource(u: &crate::urls::Urls, resource: &str) -> bool {
    let acct = format!("acct:{}@{}", u.username, u.host);
    resource.eq_ignore_ascii_case(&acct)
        || resource.eq_ignore_ascii_case(&format!("{}@{}", u.username, u.host))
        || resource.eq_ignore_ascii_case(&format!("@{}@{}", u.username, u.host))
        || resource == u.actor()
        || resource == u.profile()
}

/// GET /.well-known/host-meta
pub fn host_meta(app: &App) -> Resp {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  <Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
        app.urls.base
    );
    response::with_type(200, "application/xrd+xml; charset=utf-8", xml)
}

/// GET /.well-known/nodeinfo
pub fn nodeinfo_links(app: &App) -> Resp {
    response::json(200, "application/json", &json!({ "links": [
        { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{}/nodeinfo/2.0", app.urls.base) },
        { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{}/nodeinfo/2.1", app.urls.base) },
    ]}))
}

/// GET /nodeinfo/2.0 and /nodeinfo/2.1
pub fn nodeinfo(app: &App, version: &str) -> Result<Resp> {
    let posts = app.store.read(|r| r.own_post_count())?;
    let software = json!({ "name": "pipit", "version": env!("CARGO_PKG_VERSION") });
    let v = json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
        "openRegistrations": false,
        "usage": { "users": { "total": 1, "activeMonth": 1, "activeHalfyear": 1 }, "localPosts": posts },
        // megalodon and other client libraries pick their API dialect from `upstream`.
        "metadata": { "nodeName": app.urls.host, "singleUser": true, "upstream": { "name": "mastodon", "version": "4.2.0" } },
    });
    let ct = format!("application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\"");
    Ok(response::json(200, &ct, &v))
}
