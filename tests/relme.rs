//! Profile fields with rel="me" verification: a field linking to a page that links back with
//! rel="me" shows as verified; one whose page does not link back does not; pipit's own profile
//! carries rel="me" on its field links.
mod common;
use common::*;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rel_me_fields_are_verified() {
    let a = Instance::start("alice").await;
    let profile = a.app.urls.profile();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else { return };
            let profile = profile.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let body = match req.uri().path() {
                        "/good" => format!("<html><body><a rel=\"me\" href=\"{profile}\">me on the fediverse</a></body></html>"),
                        _ => format!("<html><body><a href=\"{profile}\">no rel</a></body></html>"),
                    };
                    async move { Ok::<_, std::convert::Infallible>(hyper::Response::builder().header("content-type", "text/html").body(Full::new(Bytes::from(body))).unwrap()) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    });
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let good = format!("http://{site}/good");
    let bad = format!("http://{site}/bad");
    owner.post_form("/settings", &[("csrf", &csrf), ("display_name", "Alice"), ("bio", ""), ("field_name_0", "Site"), ("field_value_0", &good), ("field_name_1", "Other"), ("field_value_1", &bad)]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = a.app.store.read(|r| r.profile()).unwrap();
        if p.fields[0].verified_ms.is_some() {
            assert!(p.fields[1].verified_ms.is_none(), "a page without rel=me is not verified");
            break;
        }
        assert!(Instant::now() < deadline, "the rel=me field was never verified");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = a.client().get("/@alice").await;
    assert!(page.body.contains("class=\"verified\"") && page.body.contains("title=\"Verified"), "shown as verified");
    assert!(page.body.contains(&format!("<link rel=\"me\" href=\"{good}\">")), "our profile links back with rel=me");
    assert!(page.body.contains("rel=\"me nofollow"), "field links carry rel=me");
    let actor = a.client().get_with("/users/alice", &[("accept", "application/activity+json")]).await;
    assert!(actor.body.contains("rel=\\\"me nofollow"), "and so do the actor's PropertyValues");
}
