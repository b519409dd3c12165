mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_posts_and_visitor_sees_it() {
    let a = Instance::start("alice").await;
    let owner = a.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "hello #world"), ("visibility", "public")], &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = a.client().get("/@alice").await;
    assert!(page.body.contains("hello"), "{}", page.body);
}
