//! Issue 14, cross-posting, end to end between two pipit instances on loopback: A's owner
//! connects an account on B through the real OAuth flow (A's settings → B's consent page, logged
//! in as B's owner → A's callback), then A's posts are copied to B through A's queue (text with
//! a link back, content warning, image with its alt text), edited and deleted there; the
//! connection survives a restart and a backup; disconnecting revokes the token at B. Bad input:
//! a server that is not Mastodon-API, a callback with a wrong state, a refusal at the consent
//! page, B down when the job runs, a token B revoked, a followers-only post.
mod common;
use common::*;
use pipit::control::{self, Command};
use pipit::model::JobKind;

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/").replace("&#x27;", "'").replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A's owner asks to connect `server`; returns the redirect A answered (B's authorize URL).
async fn start_connect(a_owner: &Client, server: &str) -> Response {
    let page = a_owner.get("/settings/crosspost").await;
    assert_eq!(page.status, 200, "{}", page.body);
    a_owner.post_form("/settings/crosspost", &[("csrf", &page.csrf()), ("op", "connect"), ("server", server)]).await
}

/// On B's consent page (as B's owner), answers `decision`; returns B's redirect to A's callback.
async fn consent(b_owner: &Client, authorize: &str, decision: &str) -> String {
    let page = b_owner.get(authorize).await;
    assert_eq!(page.status, 200, "B's consent page: {}", page.body);
    assert!(page.body.contains("write:statuses") && page.body.contains("read:accounts"), "{}", page.body);
    let mut fields: Vec<(String, String)> = Vec::new();
    for name in ["csrf", "client_id", "redirect_uri", "scope", "state", "response_type", "code_challenge", "code_challenge_method"] {
        fields.push((name.to_string(), unescape(&page.input_value(name).unwrap_or_default())));
    }
    assert_eq!(fields[7].1, "S256", "pipit asks with PKCE");
    fields.push(("decision".into(), decision.into()));
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b_owner.post_form("/oauth/authorize", &f).await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location().to_string()
}

/// The whole connect flow; returns the connected `user@host`.
async fn connect(a: &Instance, a_owner: &Client, b: &Instance, b_owner: &Client) -> String {
    let r = start_connect(a_owner, &b.base).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().starts_with(&format!("{}/oauth/authorize?", b.base)), "{}", r.location());
    assert!(r.location().contains("code_challenge_method=S256") && r.location().contains("state="), "{}", r.location());
    let callback = consent(b_owner, r.location(), "allow").await;
    assert!(callback.starts_with(&format!("{}/settings/crosspost/callback?code=", a.base)), "{callback}");
    let r = a_owner.get(&callback).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().starts_with("/settings/crosspost?done=Connected"), "{}", r.location());
    let conns = a.app.store.read(|r| r.connections()).unwrap();
    let host = b.base.trim_start_matches("http://");
    let c = conns.iter().find(|c| c.acct == format!("{}@{host}", b.app.urls.username)).expect("connection stored");
    assert_eq!(c.max_characters, 5000, "B's limit read from /api/v2/instance");
    c.acct.clone()
}

fn newest_own(i: &Instance) -> Option<pipit::model::Post> {
    i.app.store.read(|r| r.own_posts(None, 1, |_| true)).unwrap().posts.into_iter().next()
}

fn own_count(i: &Instance) -> usize {
    i.app.store.read(|r| r.own_posts(None, 100, |_| true)).unwrap().posts.len()
}

fn crosspost_jobs(i: &Instance) -> Vec<pipit::model::Job> {
    i.app.store.read(|r| r.pending_jobs(1000)).unwrap().into_iter().filter(|j| matches!(j.what, JobKind::Crosspost { .. })).collect()
}

fn cli_post(text: &str, visibility: &str, crosspost: &[&str]) -> Command {
    Command::Post {
        text: text.into(),
        visibility: visibility.into(),
        cw: String::new(),
        reply_to: None,
        local_only: false,
        language: None,
        poll: vec![],
        poll_multiple: false,
        poll_expires: None,
        crosspost: crosspost.iter().map(|s| s.to_string()).collect(),
    }
}

fn red_png() -> Vec<u8> {
    rgb_png(8, 8, |_, _| [200, 0, 0])
}

fn fast_retries() -> Tweak {
    Box::new(|c: &mut pipit::Config| c.delivery_backoff_unit_ms = 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_copy_edit_delete_restart_backup_disconnect() {
    let a = Instance::start_with("alice", fast_retries()).await;
    let b = Instance::start("bob").await;
    let a_owner = a.owner_client().await;
    let b_owner = b.owner_client().await;
    let acct = connect(&a, &a_owner, &b, &b_owner).await;

    // Sealed at rest: the token is nowhere in the database file; the key file is 0600.
    let token = pipit::federation::crosspost::access_token(&a.app, &acct).unwrap();
    assert!(token.len() >= 32);
    let db = std::fs::read(a.dir.path().join(pipit::store::DB_FILE)).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()), "the access token is stored in the clear");
    let key = a.dir.path().join("keys").join(pipit::domain::crosspost::KEY_FILE);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    // The composer offers it (unticked by default); settings can tick it by default.
    let home = a_owner.get("/home").await;
    assert!(home.body.contains(&format!("name=\"crosspost\" value=\"{acct}\">")), "composer checkbox: {}", home.body);
    let csrf = a_owner.owner_csrf().await;
    let r = a_owner.post_form("/settings/crosspost", &[("csrf", &csrf), ("op", "default"), ("account", &acct), ("on", "1")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(a_owner.get("/home").await.body.contains(&format!("name=\"crosspost\" value=\"{acct}\" checked>")));

    // Bad input: a followers-only post with cross-posting is refused, and nothing is published.
    let before = own_count(&a);
    let r = a_owner.post_multipart("/compose", &[("csrf", &csrf), ("content", "secret"), ("visibility", "followers"), ("crosspost", &acct)], &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Only public and unlisted posts can be cross-posted"), "{}", r.body);
    let e = control::execute(&a.app, cli_post("secret", "direct", &[&acct])).await.unwrap_err().to_string();
    assert!(e.contains("Only public and unlisted"), "{e}");
    let e = control::execute(&a.app, cli_post("who?", "public", &["nobody@nowhere.example"])).await.unwrap_err().to_string();
    assert!(e.contains("not a connected account"), "{e}");
    assert_eq!(own_count(&a), before);

    // A restart keeps the connection (the token opens with the key file).
    let a_dir = a.stop().await;
    let a = Instance::restart(a_dir).await;
    assert_eq!(pipit::federation::crosspost::access_token(&a.app, &acct).unwrap(), token);

    // Post with an image, alt text and a content warning, cross-posted through the queue.
    let b_before = own_count(&b);
    let text = "Hello from pipit\nsecond line https://example.com/x";
    let r = a_owner
        .post_multipart("/compose", &[("csrf", &csrf), ("content", text), ("cw", "a spoiler"), ("visibility", "public"), ("language", "en"), ("alt", "A red square"), ("crosspost", &acct)], &[("image", "red.png", "image/png", &red_png())])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let original = newest_own(&a).unwrap();
    let link = original.url_or_uri().to_string();
    eventually("the copy is recorded on A", 20, || a.app.store.read(|r| r.copy_of(&acct, original.id)).unwrap().is_some()).await;
    let copy_rec = a.app.store.read(|r| r.copy_of(&acct, original.id)).unwrap().unwrap();
    assert_eq!(own_count(&b), b_before + 1);
    let copy = newest_own(&b).unwrap();
    assert_eq!(copy.id.to_string(), copy_rec.remote_id);
    assert_eq!(copy.source, format!("{text}\n\n{link}"), "the copy's text, line breaks kept, ending with the link back");
    assert_eq!(copy.summary, "a spoiler");
    assert_eq!(copy.language.as_deref(), Some("en"));
    assert_eq!(copy.attachments.len(), 1);
    assert_eq!(copy.attachments[0].alt, "A red square", "the image keeps its description");
    // B's public profile shows it with the link back.
    let profile = b.client().get(&format!("/@{}", b.app.urls.username)).await;
    assert!(profile.body.contains(&format!("href=\"{link}\"")), "B's profile links back: {}", profile.body);

    // A retry after a lost answer (same Idempotency-Key) gets the same copy, not a second one.
    a.app.store.write(|w| {
        w.remove_copy(&acct, original.id)?;
        w.enqueue(JobKind::Crosspost { post: original.id, account: acct.clone(), op: "create".into() }, 0)?;
        Ok(())
    })
    .unwrap();
    eventually("the retried copy is recorded", 20, || a.app.store.read(|r| r.copy_of(&acct, original.id)).unwrap().is_some()).await;
    assert_eq!(a.app.store.read(|r| r.copy_of(&acct, original.id)).unwrap().unwrap().remote_id, copy_rec.remote_id);
    assert_eq!(own_count(&b), b_before + 1, "a retry never double-posts");

    // Editing the original edits the copy.
    pipit::domain::posts::edit(&a.app, original.id, "Edited on pipit".into(), String::new()).unwrap();
    eventually("the copy is edited on B", 20, || b.app.store.read(|r| r.post(copy.id)).unwrap().is_some_and(|p| p.source.starts_with("Edited on pipit\n\n"))).await;
    assert_eq!(b.app.store.read(|r| r.post(copy.id)).unwrap().unwrap().attachments.len(), 1, "the edit keeps the image");

    // A backup carries the key: the staged copy opens the connection's token.
    let staging = std::fs::canonicalize(a.dir.path()).unwrap().join(format!("backup-staging-{}", std::process::id()));
    pipit::backup::stage(&a.app, &staging).unwrap();
    assert!(staging.join("keys").join(pipit::domain::crosspost::KEY_FILE).exists(), "the backup has the sealing key");
    {
        let restored = pipit::App::open(&staging).unwrap();
        assert_eq!(pipit::federation::crosspost::access_token(&restored, &acct).unwrap(), token, "a restored backup keeps the connection");
    }
    let _ = std::fs::remove_dir_all(&staging);

    // Deleting the original deletes the copy.
    pipit::domain::posts::delete(&a.app, original.id).unwrap();
    eventually("the copy is deleted on B", 20, || b.app.store.read(|r| r.post(copy.id)).unwrap().is_none()).await;
    eventually("A forgets the copy", 20, || a.app.store.read(|r| r.copy_of(&acct, original.id)).unwrap().is_none()).await;

    // Disconnecting revokes the token at B and forgets the connection.
    let b_api = |t: String| {
        let b = b.client();
        async move { b.send("GET", "/api/v1/accounts/verify_credentials", vec![("authorization".into(), format!("Bearer {t}"))], Default::default()).await.status }
    };
    assert_eq!(b_api(token.clone()).await, 200);
    let r = a_owner.post_form("/settings/crosspost", &[("csrf", &csrf), ("op", "disconnect"), ("account", &acct)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(unescape(&pipit::server::request::percent_decode(r.location())).contains("revoked"), "{}", r.location());
    assert_eq!(b_api(token).await, 401, "B's token is revoked");
    assert!(a.app.store.read(|r| r.connections()).unwrap().is_empty());
    assert!(!a_owner.get("/home").await.body.contains("name=\"crosspost\""));
    assert!(crosspost_jobs(&a).is_empty());
}

/// Serves the same garbage to every request: `200 OK`, JSON content type, not JSON.
async fn garbage_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 16 * 1024];
                let _ = s.read(&mut buf).await;
                let body = "{\"client_id\": [garbage";
                let _ = s.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_servers_states_refusals_outages_and_revoked_tokens() {
    // A one-second undo window: a post deleted within it is never cross-posted.
    let a = Instance::start_with(
        "alice",
        Box::new(|c: &mut pipit::Config| {
            c.delivery_backoff_unit_ms = 2;
            c.undo_window_secs = 1;
        }),
    )
    .await;
    let b = Instance::start("bob").await;
    let a_owner = a.owner_client().await;
    let b_owner = b.owner_client().await;
    let nothing_stored = |why: &str| {
        let (conns, pending) = a.app.store.read(|r| Ok((r.connections()?, r.pending_connects()?))).unwrap();
        assert!(conns.is_empty(), "{why}: a connection was stored");
        assert_eq!(pending, 0, "{why}: a connect attempt was kept");
    };

    // Bad input: a server whose /api/v1/apps answers garbage JSON.
    let (garbage, task) = garbage_server().await;
    let r = start_connect(&a_owner, &garbage).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(unescape(&r.body).contains("does not answer like a Mastodon-API server"), "{}", r.body);
    nothing_stored("garbage server");
    task.abort();
    // Bad input: not a server address at all.
    let r = start_connect(&a_owner, "ftp://example.org").await;
    assert_eq!(r.status, 400, "{}", r.body);
    nothing_stored("bad address");

    // Bad input: a callback whose state A never handed out.
    let r = a_owner.get("/settings/crosspost/callback?code=abc&state=not-ours").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(unescape(&r.body).contains("unknown or expired state"), "{}", r.body);
    nothing_stored("wrong state");
    // Nor without a session: a stranger cannot finish a connection.
    assert_eq!(a.client().get("/settings/crosspost/callback?code=abc&state=x").await.status, 303);

    // Bad input: B's owner denies at the consent page → error=access_denied at A's callback.
    let r = start_connect(&a_owner, &b.base).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let callback = consent(&b_owner, r.location(), "deny").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let r = a_owner.get(&callback).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(unescape(&r.body).contains("you did not allow pipit there"), "{}", r.body);
    nothing_stored("access denied");
    // The same state cannot be used twice.
    let state = callback.split("state=").nth(1).unwrap().to_string();
    let r = a_owner.get(&format!("/settings/crosspost/callback?code=abc&state={state}")).await;
    assert_eq!(r.status, 400);

    let acct = connect(&a, &a_owner, &b, &b_owner).await;

    // Deleted within the undo window: the copy is never made.
    let b_before = own_count(&b);
    control::execute(&a.app, cli_post("Regretted at once", "public", &[&acct])).await.unwrap();
    let regretted = newest_own(&a).unwrap();
    let held_until = regretted.held_until_ms.expect("held for the undo window");
    let jobs = crosspost_jobs(&a);
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].due_ms >= held_until, "the cross-post waits for the window");
    pipit::domain::posts::delete(&a.app, regretted.id).unwrap();
    eventually("the cross-post job ends", 20, || crosspost_jobs(&a).is_empty()).await;
    assert!(a.app.store.read(|r| r.copy_of(&acct, regretted.id)).unwrap().is_none());
    assert_eq!(own_count(&b), b_before, "nothing was cross-posted");

    // Bad input: B is down when the job runs: retried, then delivered once B is back.
    let b_before = own_count(&b);
    let b_dir = b.stop().await;
    control::execute(&a.app, cli_post("Posted while bob was down", "unlisted", &[&acct])).await.unwrap();
    let original = newest_own(&a).unwrap();
    eventually("the cross-post failed and waits for a retry", 20, || crosspost_jobs(&a).iter().any(|j| j.attempts >= 1 && j.last_error.is_some())).await;
    let b = Instance::restart(b_dir).await;
    eventually("the copy arrives once B is back", 30, || a.app.store.read(|r| r.copy_of(&acct, original.id)).unwrap().is_some()).await;
    assert_eq!(own_count(&b), b_before + 1);
    let copy = newest_own(&b).unwrap();
    assert!(copy.source.starts_with("Posted while bob was down\n\n"), "{}", copy.source);
    assert_eq!(copy.visibility, pipit::model::Visibility::Unlisted);

    // Bad input: B revokes pipit's access; the next cross-post marks the connection and stops.
    let apps = b.app.store.read(|r| r.authorized_apps(10)).unwrap();
    assert_eq!(apps.len(), 1);
    pipit::domain::oauth::revoke_app(&b.app, apps[0].0).unwrap();
    control::execute(&a.app, cli_post("After the revocation", "public", &[&acct])).await.unwrap();
    eventually("the connection is marked", 20, || a.app.store.read(|r| r.connection(&acct)).unwrap().is_some_and(|c| c.needs_reconnect.is_some())).await;
    eventually("the job is dead, not retried", 20, || crosspost_jobs(&a).is_empty()).await;
    let dead = a.app.store.read(|r| r.dead_jobs(10)).unwrap();
    assert_eq!(dead.iter().filter(|j| matches!(j.what, JobKind::Crosspost { .. })).count(), 1, "one attempt, no retry storm");
    assert_eq!(own_count(&b), b_before + 1, "nothing posted with the revoked token");
    let page = a_owner.get("/settings/crosspost").await;
    assert!(page.body.contains("Needs reconnecting"), "{}", page.body);
    let e = control::execute(&a.app, cli_post("Again", "public", &[&acct])).await.unwrap_err().to_string();
    assert!(e.contains("needs reconnecting"), "{e}");
    assert!(!a_owner.get("/home").await.body.contains("name=\"crosspost\""), "a marked account is not offered");
    // Connecting again clears the mark.
    let again = connect(&a, &a_owner, &b, &b_owner).await;
    assert_eq!(again, acct);
    assert!(a.app.store.read(|r| r.connection(&acct)).unwrap().unwrap().needs_reconnect.is_none());
}
