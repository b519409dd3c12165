//! Issue 12, portability: `pipit alias add|remove` (offline and through a running server's
//! control socket), Move out (`pipit move`, the settings form) with pipit followers that end up
//! following the new account, and `pipit backup` / `pipit restore` with the server and the
//! backup killed -9 mid-way, truncated, corrupt and foreign backups.
mod common;
use common::*;
use pipit::model::{FollowState, Visibility};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pipit"))
}

/// Runs the binary off the async workers (it may talk to a server in this process).
async fn pipit(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || bin().args(&args).output().unwrap()).await.unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Serves the control socket of an in-process instance, as `pipit serve` does.
fn with_control(i: &Instance) -> tokio::task::JoinHandle<pipit::error::Result<()>> {
    tokio::spawn(pipit::control::listen(i.app.clone()))
}

async fn wait_socket(i: &Instance) {
    let p = pipit::control::socket_path(i.dir.path());
    eventually("control socket", 10, || p.exists()).await;
}

async fn follow_accepted(from: &Instance, to: &Instance) {
    pipit::actions::follow(&from.app, &to.app.urls.handle()).await.expect("follow");
    let target = to.app.urls.actor();
    eventually("follow accepted", 10, || matches!(from.app.store.read(|r| r.following(&target)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

async fn queue_drained(i: &Instance) {
    eventually("the delivery queue drains", 20, || i.app.store.read(|r| r.queue_stats()).map(|s| s.pending == 0).unwrap_or(false)).await;
}

// ---------- 1. aliases from the command line ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_add_and_remove_work_offline_and_through_the_running_server() {
    let old = Instance::start("old").await;
    let old_id = old.app.urls.actor();
    // Offline: a data folder no server runs on.
    let dir = TempDir::new("alias");
    let data = dir.path().join("data");
    let ds = data.to_str().unwrap();
    let o = pipit(&["init", "--data", ds, "--url", "http://127.0.0.1:9", "--username", "me", "--allow-private-addresses"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = pipit(&["alias", "add", &old.app.urls.handle(), "--data", ds]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&old_id), "names the resolved id: {}", text(&o));
    let aliases = || pipit::App::open(&data).unwrap().store.read(|r| r.profile()).unwrap().also_known_as;
    assert_eq!(aliases(), vec![old_id.clone()]);
    // Adding it twice keeps one.
    let o = pipit(&["alias", "add", &old_id, "--data", ds]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(aliases(), vec![old_id.clone()]);
    // Bad input: an account that does not exist, one that is not an alias, a missing operation.
    let o = pipit(&["alias", "add", "@nobody@127.0.0.1:1", "--data", ds]).await;
    assert!(!o.status.success(), "unknown account refused");
    let o = pipit(&["alias", "remove", "http://127.0.0.1:1/users/nobody", "--data", ds]).await;
    assert!(!o.status.success() && text(&o).contains("not one of your aliases"), "{}", text(&o));
    let o = pipit(&["alias", &old_id, "--data", ds]).await;
    assert_eq!(o.status.code(), Some(2), "usage error: {}", text(&o));
    assert_eq!(aliases(), vec![old_id.clone()], "nothing changed by bad input");
    let o = pipit(&["alias", "remove", &old_id, "--data", ds]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(aliases().is_empty());

    // Through the control socket of a running instance; its follower sees the new alsoKnownAs.
    let me = Instance::start("me").await;
    let fan = Instance::start("fan").await;
    follow_accepted(&fan, &me).await;
    with_control(&me);
    wait_socket(&me).await;
    let o = pipit(&["alias", "add", &old.app.urls.handle(), "--data", me.dir.path().to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(me.app.store.read(|r| r.profile()).unwrap().also_known_as, vec![old_id.clone()]);
    let me_id = me.app.urls.actor();
    eventually("the follower's copy of the actor has the alias (Update(Person))", 10, || {
        fan.app.store.read(|r| r.actor(&me_id)).unwrap().map(|a| a.also_known_as.contains(&old_id)).unwrap_or(false)
    })
    .await;
    let o = pipit(&["alias", "remove", &old.app.urls.handle(), "--data", me.dir.path().to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(me.app.store.read(|r| r.profile()).unwrap().also_known_as.is_empty());
}

// ---------- 2. moving out ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_sends_followers_to_the_new_account_and_the_old_one_stays_readable() {
    let old = Instance::start("old").await;
    let new = Instance::start("new").await;
    let fan = Instance::start("fan").await;
    let (old_id, new_id, fan_id) = (old.app.urls.actor(), new.app.urls.actor(), fan.app.urls.actor());
    let post = pipit::actions::publish(&old.app, pipit::actions::Compose { text: "still here after the move".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    follow_accepted(&fan, &old).await;
    with_control(&old);
    wait_socket(&old).await;
    let od = old.dir.path().to_str().unwrap().to_string();

    // Bad input: the new account does not list the old one yet (CLI and settings form).
    let o = pipit(&["move", &new.app.urls.handle(), "--data", &od]).await;
    assert!(!o.status.success(), "refused");
    assert!(text(&o).contains("alias"), "says what is missing: {}", text(&o));
    let owner = old.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_form("/settings/move", &[("csrf", &csrf), ("target", &new.app.urls.handle())]).await;
    assert_eq!(r.status, 400, "form refuses too: {}", r.body);
    assert!(r.body.contains("alias"), "{}", r.body);
    // Bad input: moving to itself, and to nobody.
    let o = pipit(&["move", &old_id, "--data", &od]).await;
    assert!(!o.status.success(), "moving to itself refused: {}", text(&o));
    let r = owner.post_form("/settings/move", &[("csrf", &csrf), ("target", "")]).await;
    assert_eq!(r.status, 400);
    assert!(old.app.store.read(|r| r.profile()).unwrap().moved_to.is_none(), "nothing set by refused moves");
    queue_drained(&old).await;
    assert!(fan.app.store.read(|r| r.following(&old_id)).unwrap().is_some(), "fan still follows old");
    assert!(fan.app.store.read(|r| r.following(&new_id)).unwrap().is_none());

    // The new account names the old one; then the move goes through.
    pipit::actions::add_alias(&new.app, &old.app.urls.handle()).await.unwrap();
    let o = pipit(&["move", &new.app.urls.handle(), "--data", &od]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(old.app.store.read(|r| r.profile()).unwrap().moved_to.as_deref(), Some(new_id.as_str()));
    eventually("fan follows new", 15, || matches!(fan.app.store.read(|r| r.following(&new_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    assert!(fan.app.store.read(|r| r.following(&old_id)).unwrap().is_none(), "fan no longer follows old");
    eventually("new has fan as follower", 10, || new.app.store.read(|r| r.follower(&fan_id)).unwrap().is_some()).await;

    // The old account: movedTo in its actor, a notice on its profile, its posts still there.
    let actor = old.client().get_with(&old_id, &[("accept", "application/activity+json")]).await;
    let v: Value = serde_json::from_str(&actor.body).unwrap();
    assert_eq!(v["movedTo"], new_id.as_str());
    let page = old.client().get(&old.app.urls.profile()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("has moved to") && page.body.contains(&new_id), "notice on the profile");
    assert!(page.body.contains("still here after the move"));
    let p = old.client().get(&post.url_or_uri()).await;
    assert_eq!(p.status, 200, "the post stays readable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_form_moves_too() {
    let old = Instance::start("old").await;
    let new = Instance::start("new").await;
    let fan = Instance::start("fan").await;
    let new_id = new.app.urls.actor();
    follow_accepted(&fan, &old).await;
    new.app.store.write(|w| {
        let mut p = w.profile()?;
        p.also_known_as = vec![old.app.urls.actor()];
        w.put_profile(&p)
    })
    .unwrap();
    let owner = old.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_form("/settings/move", &[("csrf", &csrf), ("target", &new.app.urls.handle())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = owner.get("/settings?done=moved").await;
    assert!(page.body.contains("has moved to"), "settings show the move");
    eventually("fan follows new", 15, || matches!(fan.app.store.read(|r| r.following(&new_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
}

// ---------- 3. backup and restore ----------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(data: &Path, port: u16) -> Server {
    let child = bin().args(["serve", "--data", data.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let s = Server(child);
    eventually("server listens", 20, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()).await;
    eventually("control socket", 10, || pipit::control::socket_path(data).exists()).await;
    s
}

/// Bytes that do not compress, so packing them takes a while (xorshift).
fn noise(n: usize, mut x: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

fn no_leftovers(parent: &Path) {
    for e in std::fs::read_dir(parent).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".restoring-") && !n.contains(".replaced-"), "leftover {n}");
    }
}

/// No `NAME.partial-…` file under `dir`.
fn no_partials(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".partial-"), "a partial file was left: {n}");
    }
}

/// `pipit backup` never replaces an existing file without --force (a mistyped name used to
/// destroy the last good backup), and a backup whose write fails half-way leaves neither a
/// partial file nor a damaged FILE. `b1` is a complete backup of the running server at `ds`.
async fn never_replaced_without_force(root: &Path, b1: &Path, ds: &str) {
    let good = std::fs::read(b1).unwrap();
    let b1s = b1.to_str().unwrap();
    // Bad input: the name of an existing backup, without --force.
    let o = pipit(&["backup", b1s, "--data", ds]).await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(b1s) && text(&o).contains("exists already") && text(&o).contains("--force"), "names the file and the way out: {}", text(&o));
    assert_eq!(std::fs::read(b1).unwrap(), good, "the existing backup is byte-identical");
    // Bad input: a write that fails half-way (the file size limit, as a full disk would: the
    // server stages, this process packs until the kernel refuses past 64 KiB), with --force.
    let limited = {
        use std::os::unix::process::CommandExt;
        let mut c = bin();
        c.args(["backup", b1s, "--data", ds, "--force"]);
        unsafe {
            c.pre_exec(|| {
                // A write past the limit then fails with EFBIG instead of killing the process.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit { rlim_cur: 64 * 1024, rlim_max: 64 * 1024 };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
    };
    assert!(!limited.status.success(), "{}", text(&limited));
    assert!(text(&limited).contains(b1s) && text(&limited).contains("nothing was written"), "{}", text(&limited));
    assert_eq!(std::fs::read(b1).unwrap(), good, "a failed --force backup leaves the old one as it was");
    no_partials(root);
    // Bad input: FILE is a folder (with --force): everything is packed, the last step fails.
    let folder = root.join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("kept.txt"), b"kept").unwrap();
    let o = pipit(&["backup", folder.to_str().unwrap(), "--data", ds]).await;
    assert!(!o.status.success() && text(&o).contains("exists already"), "{}", text(&o));
    let o = pipit(&["backup", folder.to_str().unwrap(), "--data", ds, "--force"]).await;
    assert!(!o.status.success() && text(&o).contains(folder.to_str().unwrap()), "{}", text(&o));
    assert_eq!(std::fs::read(folder.join("kept.txt")).unwrap(), b"kept", "the folder is untouched");
    std::fs::remove_dir_all(&folder).unwrap();
    no_partials(root);
    // A partial file a killed backup left (its process is gone) is removed by the next backup
    // to that name; --force replaces the file with a complete new backup.
    let stale = root.join("b1.tar.gz.partial-2147483646");
    std::fs::write(&stale, b"half").unwrap();
    let o = pipit(&["backup", b1s, "--data", ds, "--force"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(!stale.exists(), "the dead backup's partial file is gone");
    no_partials(root);
    let new = std::fs::read(b1).unwrap();
    assert_ne!(new, good, "replaced");
    let entries = untar(&new);
    assert_eq!(entries.first().map(|e| e.0.as_str()), Some(pipit::backup::MANIFEST));
    assert_eq!(entries.last().map(|e| e.0.as_str()), Some(pipit::backup::TRAILER), "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_survives_kill_9_and_restore_refuses_bad_input() {
    let dir = TempDir::new("backup");
    let root = dir.path();
    let data = root.join("data");
    let ds = data.to_str().unwrap().to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let o = pipit(&["init", "--data", &ds, "--url", &base, "--username", "keeper", "--listen", &format!("127.0.0.1:{port}")]).await;
    assert!(o.status.success(), "{}", text(&o));
    let server = serve(&data, port).await;
    let o = pipit(&["post", "--data", &ds, "first words"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let photo = noise(300_000, 7);
    std::fs::write(data.join("media/photo.bin"), &photo).unwrap();
    let client = Client::new(&base);
    let actor_of = |body: &str| -> String { serde_json::from_str::<Value>(body).unwrap()["publicKey"]["publicKeyPem"].as_str().unwrap().to_string() };
    let key_before = actor_of(&client.get_with("/users/keeper", &[("accept", "application/activity+json")]).await.body);

    // A complete backup while the server runs.
    let b1 = root.join("b1.tar.gz");
    let o = pipit(&["backup", b1.to_str().unwrap(), "--data", &ds]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(b1.exists());
    never_replaced_without_force(root, &b1, &ds).await;

    // A second one, killed -9 (the backup and the server) while it packs.
    let o = pipit(&["post", "--data", &ds, "second words"]).await;
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(data.join("media/big.bin"), noise(40_000_000, 11)).unwrap();
    let b2 = root.join("b2.tar.gz");
    let mut backup = bin().args(["backup", b2.to_str().unwrap(), "--data", &ds]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let partial = std::fs::read_dir(root).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with("b2.tar.gz.partial-"));
        if partial {
            break;
        }
        assert!(backup.try_wait().unwrap().is_none(), "the backup ended before it could be killed");
        assert!(Instant::now() < deadline, "no partial file appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    backup.kill().unwrap(); // SIGKILL
    backup.wait().unwrap();
    drop(server); // SIGKILL too
    assert!(!b2.exists(), "a killed backup leaves no file under the final name");

    // Bad input: a non-empty folder without --force (the original one).
    let o = pipit(&["restore", b1.to_str().unwrap(), "--data", &ds]).await;
    assert!(!o.status.success() && text(&o).contains("--force"), "{}", text(&o));
    // Bad input: a truncated backup.
    let bytes = std::fs::read(&b1).unwrap();
    let cut = root.join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let target = root.join("r-cut");
    let o = pipit(&["restore", cut.to_str().unwrap(), "--data", target.to_str().unwrap()]).await;
    assert!(!o.status.success() && text(&o).contains("truncated or corrupt"), "{}", text(&o));
    assert!(!target.exists(), "nothing half-applied");
    // Bad input: the last bytes cut (the end marker may survive in a tar, gzip's check not).
    std::fs::write(&cut, &bytes[..bytes.len() - 6]).unwrap();
    let o = pipit(&["restore", cut.to_str().unwrap(), "--data", target.to_str().unwrap()]).await;
    assert!(!o.status.success() && text(&o).contains("truncated or corrupt"), "{}", text(&o));
    assert!(!target.exists());
    // Bad input: one byte flipped in the middle.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    std::fs::write(&cut, &flipped).unwrap();
    let o = pipit(&["restore", cut.to_str().unwrap(), "--data", target.to_str().unwrap()]).await;
    assert!(!o.status.success() && text(&o).contains("corrupt"), "corrupt gzip refused, and said so: {}", text(&o));
    assert!(!target.exists());
    // Bad input: not a backup at all.
    std::fs::write(&cut, noise(5000, 3)).unwrap();
    let o = pipit(&["restore", cut.to_str().unwrap(), "--data", target.to_str().unwrap()]).await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(!target.exists());
    // Bad input: a folder holding another instance, even with --force.
    let other = root.join("other");
    let o = pipit(&["init", "--data", other.to_str().unwrap(), "--url", "http://127.0.0.1:9", "--username", "stranger"]).await;
    assert!(o.status.success());
    let o = pipit(&["restore", b1.to_str().unwrap(), "--data", other.to_str().unwrap(), "--force"]).await;
    assert!(!o.status.success() && text(&o).contains("another instance"), "{}", text(&o));
    assert!(pipit::Config::load(&other).unwrap().username == "stranger", "untouched");
    // Bad input: a non-empty folder that is not a pipit data folder, even with --force (the old
    // code replaced it, deleting whatever was there).
    let stray = root.join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("notes.txt"), b"mine").unwrap();
    let o = pipit(&["restore", b1.to_str().unwrap(), "--data", stray.to_str().unwrap(), "--force"]).await;
    assert!(!o.status.success() && text(&o).contains("not a pipit data folder"), "{}", text(&o));
    assert_eq!(std::fs::read(stray.join("notes.txt")).unwrap(), b"mine", "untouched");
    std::fs::remove_dir_all(&stray).unwrap();
    no_leftovers(root);

    // The last complete backup restores, into a fresh folder, and serves the same posts and keys.
    let restored = root.join("restored");
    let o = pipit(&["restore", b1.to_str().unwrap(), "--data", restored.to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", text(&o));
    no_leftovers(root);
    assert_eq!(std::fs::read(restored.join("media/photo.bin")).unwrap(), photo, "media restored");
    assert!(!restored.join("media/big.bin").exists(), "the backup is of its moment");
    {
        let server = serve(&restored, port).await;
        let page = client.get("/@keeper").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("first words"), "the post is served");
        assert!(!page.body.contains("second words"), "later posts are not in that backup");
        let key_after = actor_of(&client.get_with("/users/keeper", &[("accept", "application/activity+json")]).await.body);
        assert_eq!(key_before, key_after, "same keys");
        // Bad input: restoring onto a folder a server runs on.
        let o = pipit(&["restore", b1.to_str().unwrap(), "--data", restored.to_str().unwrap(), "--force"]).await;
        assert!(!o.status.success() && text(&o).contains("running"), "{}", text(&o));
        drop(server);
    }
    // --force replaces the same instance's folder (here: the original, rolled back to b1).
    let o = pipit(&["restore", b1.to_str().unwrap(), "--data", &ds, "--force"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(!data.join("media/big.bin").exists(), "the whole folder was replaced");
    no_leftovers(root);
    let app = pipit::App::open(&data).unwrap();
    let posts = app.store.read(|r| r.own_posts(None, 10, |_| true)).unwrap().posts;
    assert_eq!(posts.iter().map(|p| p.source.as_str()).collect::<Vec<_>>(), vec!["first words"]);
}

// ---------- 4. export ----------

// A valid 1×1 PNG (CRCs right): uploads are decoded now.
const PNG: &[u8] = b"\x89PNG\x0d\x0a\x1a\x0a\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0dIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82";

/// Every entry of a tar.gz as (name, bytes).
fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), b)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_mastodons_csvs_and_archive_from_the_cli_and_the_settings_page() {
    let me = Instance::start("me").await;
    let bob = Instance::start("bob").await;
    let carol = Instance::start("carol").await;
    follow_accepted(&me, &bob).await;
    let bob_id = bob.app.urls.actor();
    let carol_actor = pipit::actions::account(&me.app, &carol.app.urls.handle()).await.unwrap();
    let bob_post = pipit::actions::publish(&bob.app, pipit::actions::Compose { text: "bob says hi".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    let liked = pipit::actions::like(&me.app, &bob_post.url_or_uri()).await.unwrap();
    me.app.store.write(|w| w.toggle_bookmark(liked.id).map(|_| ())).unwrap();
    let list_id = pipit::ids::next_id();
    me.app.store.write(|w| {
        w.put_list(list_id, &pipit::model::List { name: "Friends, close".into(), exclusive: false, public: false, created_ms: 1 })?;
        w.add_list_member(list_id, &bob_id)
    })
    .unwrap();
    pipit::domain::safety::block(&me.app, &carol_actor.id).unwrap();
    pipit::domain::safety::mute(&me.app, &bob_id, None).unwrap();
    pipit::domain::safety::block_domain(&me.app, "spam.example").unwrap();
    let mine = pipit::actions::publish(&me.app, pipit::actions::Compose { text: "a picture".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![pipit::domain::posts::Upload { source: pipit::domain::media::Source::Bytes(PNG.to_vec()), alt: "a dot".into(), focus: None }], quote: None }).await.unwrap();
    let private = pipit::actions::publish(&me.app, pipit::actions::Compose { text: "for followers".into(), cw: String::new(), visibility: Visibility::Followers, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    let bob_acct = bob.app.urls.handle().trim_start_matches('@').to_string();
    let carol_acct = carol.app.urls.handle().trim_start_matches('@').to_string();

    with_control(&me);
    wait_socket(&me).await;
    let out = TempDir::new("export");
    let dest = out.path().join("exported");
    let o = pipit(&["export", dest.to_str().unwrap(), "--data", me.dir.path().to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", text(&o));
    let read = |name: &str| std::fs::read_to_string(dest.join(name)).unwrap();
    assert_eq!(read("following_accounts.csv"), format!("Account address,Show boosts,Notify on new posts,Languages\n{bob_acct},true,false,\n"));
    assert_eq!(read("lists.csv"), format!("\"Friends, close\",{bob_acct}\n"), "quoted as CSV");
    assert_eq!(read("blocked_accounts.csv"), format!("{carol_acct}\n"));
    assert_eq!(read("muted_accounts.csv"), format!("Account address,Hide notifications\n{bob_acct},true\n"));
    assert_eq!(read("blocked_domains.csv"), "spam.example\n");
    assert_eq!(read("bookmarks.csv"), format!("{}\n", bob_post.uri));

    let entries = untar(&std::fs::read(dest.join("archive.tar.gz")).unwrap());
    let get = |name: &str| -> Value { serde_json::from_slice(&entries.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} in archive")).1).unwrap() };
    assert_eq!(get("actor.json")["id"], me.app.urls.actor().as_str());
    let outbox = get("outbox.json");
    let items = outbox["orderedItems"].as_array().unwrap();
    assert_eq!(outbox["totalItems"], 2);
    let ids: Vec<&str> = items.iter().map(|i| i["object"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![private.uri.as_str(), mine.uri.as_str()], "all own posts, newest first, followers-only too");
    assert_eq!(items[1]["object"]["published"], pipit::time::rfc3339(mine.published_ms).as_str());
    let media_url = items[1]["object"]["attachment"][0]["url"].as_str().unwrap();
    assert!(media_url.starts_with("/media_attachments/files/"), "{media_url}");
    let media = entries.iter().find(|(n, _)| format!("/{n}") == media_url).expect("the media file is in the archive");
    assert!(media.1.starts_with(b"\x89PNG"));
    assert_eq!(get("likes.json")["orderedItems"], serde_json::json!([bob_post.uri]));
    assert_eq!(get("bookmarks.json")["orderedItems"], serde_json::json!([bob_post.uri]));

    // The settings page offers the same files, to the owner only.
    let anon = me.client().get("/settings/export/following_accounts.csv").await;
    assert_ne!(anon.status, 200, "bad input: not logged in");
    let owner = me.owner_client().await;
    let page = owner.get("/settings").await;
    assert!(page.body.contains("/settings/export/archive.tar.gz"));
    let r = owner.get("/settings/export/following_accounts.csv").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-disposition").unwrap_or_default().contains("following_accounts.csv"));
    assert_eq!(r.body, read("following_accounts.csv"));
    let r = owner.get("/settings/export/passwords.csv").await;
    assert_eq!(r.status, 404, "bad input: an unknown export");
    // The archive download (binary: checked through a fresh export file instead of the body text).
    let o = pipit(&["export", out.path().join("only.tar.gz").to_str().unwrap(), "--data", me.dir.path().to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(untar(&std::fs::read(out.path().join("only.tar.gz")).unwrap()).iter().any(|(n, _)| n == "outbox.json"));
    let r = owner.get("/settings/export/archive.tar.gz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/gzip"));

    // Bad input: exporting again over files already there, without --force: refused before
    // anything is written (the old code replaced them), each file byte-identical.
    let md = me.dir.path().to_str().unwrap();
    let only = out.path().join("only.tar.gz");
    let before_only = std::fs::read(&only).unwrap();
    std::fs::write(dest.join("lists.csv"), b"my own edits\n").unwrap();
    let files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(d).unwrap().flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())).collect();
        v.sort();
        v
    };
    let before = files(&dest);
    let o = pipit(&["export", only.to_str().unwrap(), "--data", md]).await;
    assert!(!o.status.success() && text(&o).contains(only.to_str().unwrap()) && text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(std::fs::read(&only).unwrap(), before_only);
    let o = pipit(&["export", dest.to_str().unwrap(), "--data", md]).await;
    assert!(!o.status.success() && text(&o).contains("exists already") && text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(files(&dest), before, "nothing in the folder changed, nothing added");
    // --force replaces them with whole new files, and leaves no partial file.
    let o = pipit(&["export", dest.to_str().unwrap(), "--data", md, "--force"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(read("lists.csv"), format!("\"Friends, close\",{bob_acct}\n"), "replaced");
    no_partials(&dest);
    // Bad input: FILE.tar.gz is a folder, with --force: the export fails naming it, no partial left.
    let folder = out.path().join("folder.tar.gz");
    std::fs::create_dir(&folder).unwrap();
    let o = pipit(&["export", folder.to_str().unwrap(), "--data", md, "--force"]).await;
    assert!(!o.status.success() && text(&o).contains(folder.to_str().unwrap()), "{}", text(&o));
    assert!(folder.is_dir());
    no_partials(out.path());
}

// ---------- 5. import ----------

/// Retries of a row whose server does not answer come fast in these tests (the real schedule,
/// in units of a few milliseconds).
fn quick_retries(c: &mut pipit::Config) {
    c.delivery_backoff_unit_ms = 2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_checks_the_file_whole_then_applies_each_row_through_the_queue() {
    let me = Instance::start_with("me", Box::new(quick_retries)).await;
    let bob = Instance::start("bob").await;
    let carol = Instance::start("carol").await;
    let (bob_id, carol_id) = (bob.app.urls.actor(), carol.app.urls.actor());
    let bob_acct = bob.app.urls.handle().trim_start_matches('@').to_string();
    let carol_acct = carol.app.urls.handle().trim_start_matches('@').to_string();
    with_control(&me);
    wait_socket(&me).await;
    let md = me.dir.path().to_str().unwrap().to_string();
    let dir = TempDir::new("import");
    let file = |name: &str, body: &str| -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let following = |id: &str| me.app.store.read(|r| r.following(id)).unwrap().is_some();
    const HEADER: &str = "Account address,Show boosts,Notify on new posts,Languages\n";

    // Bad input: a wrong header.
    let f = file("wrong.csv", &format!("Address,Boosts\n{bob_acct},true\n"));
    let o = pipit(&["import", "following", &f, "--data", &md]).await;
    assert!(!o.status.success() && text(&o).contains("line 1: wrong header"), "{}", text(&o));
    // Bad input: a good row next to two that are not accounts: the file is checked whole,
    // each bad line reported, and nothing is applied (not even the good row).
    let f2 = file("bad2.csv", &format!("{HEADER}{bob_acct},true,false,\nnot an account,true,false,\n@,true,false,\n"));
    let o = pipit(&["import", "following", &f2, "--data", &md]).await;
    let t = text(&o);
    assert!(!o.status.success() && t.contains("line 3: `not an account` is not an account address") && t.contains("line 4: `@`"), "{t}");
    // Bad input: an unknown kind.
    let o = pipit(&["import", "passwords", &f, "--data", &md]).await;
    assert!(!o.status.success() && text(&o).contains("unknown import"), "{}", text(&o));
    assert!(!following(&bob_id), "nothing applied from bad files");
    assert!(me.app.store.read(|r| r.latest_import()).unwrap().is_none(), "nothing queued from bad files");

    // Bad input: an unknown handle on a live server, and a handle on a dead server, next to a
    // good row. The good row is applied; the unknown one fails at once; the dead one is tried
    // again with backoff, then fails; each is reported by line with its reason.
    let host = bob_acct.split('@').nth(1).unwrap();
    let f = file("bad.csv", &format!("{HEADER}{bob_acct},true,false,\nnobody@{host},true,false,\nsomeone@127.0.0.1:1,true,false,\n"));
    let o = pipit(&["import", "following", &f, "--data", &md]).await;
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("1 of 3 lines applied") && t.contains("2 failed"), "counts: {t}");
    assert!(t.contains("line 3: nobody@") && t.contains("could not be found"), "unknown handle: {t}");
    assert!(t.contains("line 4: someone@127.0.0.1:1") && t.contains(&format!("gave up after {} tries", pipit::import::MAX_ATTEMPTS)), "dead server, retried: {t}");
    assert!(!t.contains("line 2"), "the good line is not an error: {t}");
    assert!(following(&bob_id), "the good row was applied");
    let imp = me.app.store.read(|r| r.latest_import()).unwrap().unwrap();
    let dead = me.app.store.read(|r| r.import_rows(imp.id, 0, 10, 10, &|row| row.line == 4)).unwrap().0;
    assert_eq!(dead[0].attempts, pipit::import::MAX_ATTEMPTS, "the dead server's row was tried {} times", pipit::import::MAX_ATTEMPTS);
    let unknown = me.app.store.read(|r| r.import_rows(imp.id, 0, 10, 10, &|row| row.line == 3)).unwrap().0;
    assert_eq!(unknown[0].attempts, 1, "an unknown account is not retried");

    // Merge: both followed, through the delivery queue as usual.
    let f = file("good.csv", &format!("{HEADER}{bob_acct},true,false,\n@{carol_acct},false,false,en\n"));
    let o = pipit(&["import", "following", &f, "--data", &md]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 of 2 lines applied (1 new)"), "bob was there already: {}", text(&o));
    let me_id = me.app.urls.actor();
    eventually("bob and carol have me as follower", 15, || {
        bob.app.store.read(|r| r.follower(&me_id)).unwrap().is_some() && carol.app.store.read(|r| r.follower(&me_id)).unwrap().is_some()
    })
    .await;
    // The same file again: nothing new, no second Follow.
    queue_drained(&me).await;
    let follow_ids = || (me.app.store.read(|r| r.following(&bob_id)).unwrap().unwrap().follow_id, me.app.store.read(|r| r.following(&carol_id)).unwrap().unwrap().follow_id);
    let before = follow_ids();
    let o = pipit(&["import", "following", &f, "--data", &md]).await;
    assert!(o.status.success() && text(&o).contains("(0 new)"), "{}", text(&o));
    assert_eq!(follow_ids(), before, "no new Follow for accounts already followed");
    assert_eq!(me.app.store.read(|r| r.queue_stats()).unwrap().pending, 0, "nothing sent");
    // Overwrite: only carol stays.
    let f = file("carol.csv", &format!("{HEADER}{carol_acct},true,false,\n"));
    let o = pipit(&["import", "following", &f, "--data", &md, "--overwrite"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 removed"), "{}", text(&o));
    assert!(!following(&bob_id) && following(&carol_id));
    eventually("bob got the Undo", 15, || bob.app.store.read(|r| r.follower(&me_id)).unwrap().is_none()).await;

    // Header-less kinds: domain blocks with a bad line, then good ones (twice, then overwrite).
    let f = file("domains.csv", "spam.example\nnot a domain\n");
    let o = pipit(&["import", "domain-blocks", &f, "--data", &md]).await;
    assert!(!o.status.success() && text(&o).contains("line 2"), "{}", text(&o));
    assert!(!me.app.store.read(|r| r.is_domain_blocked("spam.example")).unwrap());
    let f = file("domains.csv", "spam.example\nnoise.example\n");
    for _ in 0..2 {
        let o = pipit(&["import", "blocked_domains.csv", &f, "--data", &md]).await;
        assert!(o.status.success(), "{}", text(&o));
    }
    let domains = || me.app.store.read(|r| r.blocked_domains_page(None, 10)).unwrap().into_iter().map(|(d, _)| d).collect::<Vec<_>>();
    assert_eq!(domains(), vec!["noise.example".to_string(), "spam.example".to_string()]);
    let f = file("domains2.csv", "noise.example\n");
    let o = pipit(&["import", "blocked_domains.csv", &f, "--data", &md, "--overwrite"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(domains(), vec!["noise.example".to_string()], "overwrite removed the domain not in the file");

    // Lists: imported twice, one list with two members; overwrite drops the member not listed.
    let f = file("lists.csv", &format!("Close friends,{carol_acct}\nClose friends,{bob_acct}\n"));
    for _ in 0..2 {
        let o = pipit(&["import", "lists", &f, "--data", &md]).await;
        assert!(o.status.success(), "{}", text(&o));
    }
    let lists = me.app.store.read(|r| r.lists()).unwrap();
    let named: Vec<_> = lists.iter().filter(|(_, l)| l.name == "Close friends").collect();
    assert_eq!(named.len(), 1, "one list, not one per import or per row");
    let lid = named[0].0;
    assert_eq!(me.app.store.read(|r| r.list_members(lid, 10)).unwrap().len(), 2);
    let f = file("lists2.csv", &format!("Close friends,{carol_acct}\n"));
    let o = pipit(&["import", "lists", &f, "--data", &md, "--overwrite"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(me.app.store.read(|r| r.list_members(lid, 10)).unwrap(), vec![carol_id.clone()]);

    // Bookmarks: twice (a toggle would undo it), then overwrite with another post.
    let bp = pipit::actions::publish(&bob.app, pipit::actions::Compose { text: "keep this".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    let bp2 = pipit::actions::publish(&bob.app, pipit::actions::Compose { text: "and this".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    let f = file("bookmarks.csv", &format!("{}\n", bp.uri));
    for _ in 0..2 {
        let o = pipit(&["import", "bookmarks", &f, "--data", &md]).await;
        assert!(o.status.success(), "{}", text(&o));
    }
    let stored = me.app.store.read(|r| r.post_by_uri(&bp.uri)).unwrap().expect("fetched");
    assert!(me.app.store.read(|r| r.is_bookmarked(stored.id)).unwrap(), "still bookmarked after the second import");
    let f = file("bookmarks2.csv", &format!("{}\n", bp2.uri));
    let o = pipit(&["import", "bookmarks", &f, "--data", &md, "--overwrite"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let stored2 = me.app.store.read(|r| r.post_by_uri(&bp2.uri)).unwrap().expect("fetched");
    assert!(!me.app.store.read(|r| r.is_bookmarked(stored.id)).unwrap() && me.app.store.read(|r| r.is_bookmarked(stored2.id)).unwrap());

    // Blocks, merged twice.
    let f = file("blocks.csv", &format!("{carol_acct}\n"));
    for _ in 0..2 {
        let o = pipit(&["import", "blocks", &f, "--data", &md]).await;
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(me.app.store.read(|r| r.blocked_actors_page(None, 10)).unwrap().len(), 1);

    // With no server running, `pipit import` opens the data folder and works through the rows
    // itself (the Follow then waits in the queue for `pipit serve`).
    let off = TempDir::new("offline");
    let od = off.path().join("data");
    let ods = od.to_str().unwrap();
    let o = pipit(&["init", "--data", ods, "--url", "http://127.0.0.1:9", "--username", "me", "--allow-private-addresses"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let f = file("offline.csv", &format!("{HEADER}{bob_acct},true,false,\nnobody@{host},true,false,\n"));
    let o = pipit(&["import", "following", &f, "--data", ods]).await;
    let t = text(&o);
    assert!(!o.status.success() && t.contains("1 of 2 lines applied") && t.contains("line 3: nobody@"), "{t}");
    {
        let app = pipit::App::open(&od).unwrap();
        assert!(app.store.read(|r| r.following(&bob_id)).unwrap().is_some(), "applied offline");
        let imp = app.store.read(|r| r.latest_import()).unwrap().unwrap();
        assert!(imp.finished_ms.is_some() && imp.done == 1 && imp.failed == 1, "{imp:?}");
    }

    // The settings form: a malformed file is refused at once; a file with an unknown account
    // is queued, its good row applied, and the page shows the counts and the failed line.
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let r = owner.post_multipart("/settings/import", &[("csrf", &csrf), ("kind", "muted_accounts.csv")], &[("file", "muted_accounts.csv", "text/csv", b"Account,Hide\nx,y\n")]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("line 1: wrong header"), "{}", r.body);
    let bad = format!("Account address,Hide notifications\n{bob_acct},true\nnobody@{host},true\n");
    let r = owner.post_multipart("/settings/import", &[("csrf", &csrf), ("kind", "muted_accounts.csv")], &[("file", "muted_accounts.csv", "text/csv", bad.as_bytes())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let latest = || pipit::import::import_view(&me.app, me.app.store.read(|r| r.latest_import()).unwrap().unwrap().id).unwrap().unwrap();
    eventually("the background import ends", 15, || latest().finished).await;
    let page = owner.get("/settings").await;
    assert!(page.body.contains("Import of muted_accounts.csv: done."), "{}", page.body);
    assert!(page.body.contains("1 done</span>, <span class=\"import-failed\">1 failed</span>, <span class=\"import-pending\">0 pending"), "counts: {}", page.body);
    assert!(page.body.contains("line 3: nobody@"), "the failed line with its reason: {}", page.body);
    assert!(me.app.store.read(|r| r.is_muted(&bob_id, pipit::time::now_ms())).unwrap(), "the good row applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_off_a_terminal_prints_plain_lines_while_it_retries_a_dead_server() {
    // Retries slow enough (about a minute in all) that the row is still waiting when seen.
    let me = Instance::start_with("me", Box::new(|c| c.delivery_backoff_unit_ms = 50)).await;
    with_control(&me);
    wait_socket(&me).await;
    let dir = TempDir::new("import-lines");
    let f = dir.path().join("dead.csv");
    // Bad input: an account on a server that does not answer (nothing listens on port 1).
    std::fs::write(&f, "Account address,Show boosts,Notify on new posts,Languages\nsomeone@127.0.0.1:1,true,false,\n").unwrap();
    // Standard error is a pipe, not a terminal: the old code's bar was hidden there and the
    // command printed nothing at all until the last try, many minutes later by default.
    let mut child = bin().args(["import", "following", f.to_str().unwrap(), "--data", me.dir.path().to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
            let found = line.contains("retrying") && line.contains("line 2: someone@127.0.0.1:1");
            seen.push(line);
            if found {
                return (true, seen);
            }
        }
        (false, seen)
    });
    let got = tokio::time::timeout(Duration::from_secs(40), reader).await;
    let _ = child.kill();
    let _ = child.wait();
    let (found, seen) = got.expect("no retry line within 40 s").unwrap();
    assert!(found, "a plain line names the retried row: {seen:?}");
    let line = seen.last().unwrap();
    assert!(line.starts_with("pipit import: retrying: following_accounts.csv: 0 done, 0 failed, 1 pending of 1 lines; waiting to try again: line 2: someone@127.0.0.1:1"), "{line}");
    assert!(seen.iter().all(|l| !l.contains('\r') && !l.contains('\x1b')), "plain text, no terminal control: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_waits_for_a_dead_server_and_survives_a_restart() {
    // Retries a little slower here, so the row is still pending across the restart.
    let me = Instance::start_with("me", Box::new(|c| c.delivery_backoff_unit_ms = 50)).await;
    let bob = Instance::start("bob").await;
    let late = Instance::start("late").await;
    let (bob_acct, late_acct, late_id) = (bob.app.urls.handle(), late.app.urls.handle(), late.app.urls.actor());
    let late_dir = late.stop().await; // a dead server for now
    let owner = me.owner_client().await;
    let csrf = owner.owner_csrf().await;
    let csv = format!("Account address,Show boosts,Notify on new posts,Languages\n{bob_acct},true,false,\n{late_acct},true,false,\n");
    let r = owner.post_multipart("/settings/import", &[("csrf", &csrf), ("kind", "following_accounts.csv")], &[("file", "following_accounts.csv", "text/csv", csv.as_bytes())]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id = me.app.store.read(|r| r.latest_import()).unwrap().unwrap().id;
    let view = |app: &pipit::App| pipit::import::import_view(app, id).unwrap().unwrap();
    eventually("bob's row done, the dead server's row waiting for its next try", 15, || {
        let v = view(&me.app);
        v.job.done == 1 && v.pending == 1 && v.retrying.len() == 1
    })
    .await;
    let page = owner.get("/settings").await;
    assert!(page.body.contains("Importing following_accounts.csv") && page.body.contains("1 pending"), "{}", page.body);
    assert!(page.body.contains("Waiting to try again") && page.body.contains("line 3:"), "the retried line and why: {}", page.body);
    // pipit stops (its queue with it), the dead server comes back, pipit starts again.
    let me_dir = me.stop().await;
    let late = Instance::restart(late_dir).await;
    let me = Instance::restart(me_dir).await;
    let v = view(&me.app);
    assert_eq!((v.job.done, v.pending, v.finished), (1, 1, false), "the import was kept across the restart");
    eventually("the import finishes after the restart", 30, || view(&me.app).finished).await;
    let v = view(&me.app);
    assert_eq!((v.job.done, v.job.failed, v.job.added), (2, 0, 2), "each row counted once: {v:?}");
    let me_id = me.app.urls.actor();
    eventually("the late server has me as follower", 15, || late.app.store.read(|r| r.follower(&me_id)).unwrap().is_some()).await;
    assert!(me.app.store.read(|r| r.following(&late_id)).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mastodon_archive_becomes_history_with_dates_and_media_not_announced() {
    let media_files = |i: &Instance| std::fs::read_dir(i.app.media_dir()).map(|d| d.count()).unwrap_or(0);
    let source = Instance::start("source").await;
    let first = pipit::actions::publish(&source.app, pipit::actions::Compose { text: "my first post #hello".into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![pipit::domain::posts::Upload { source: pipit::domain::media::Source::Bytes(PNG.to_vec()), alt: "a dot".into(), focus: None }], quote: None }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = pipit::actions::publish(&source.app, pipit::actions::Compose { text: "quiet one".into(), cw: String::new(), visibility: Visibility::Unlisted, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    let dir = TempDir::new("archive");
    let archive = dir.path().join("archive.tar.gz");
    pipit::export::export_to(&source.app, &archive).unwrap();

    let me = Instance::start("me").await;
    let fan = Instance::start("fan").await;
    follow_accepted(&fan, &me).await;
    queue_drained(&me).await;
    with_control(&me);
    wait_socket(&me).await;
    let md = me.dir.path().to_str().unwrap().to_string();
    // Bad input: truncated, and not an archive at all.
    let bytes = std::fs::read(&archive).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = pipit(&["import-archive", cut.to_str().unwrap(), "--data", &md]).await;
    assert!(!o.status.success() && text(&o).contains("truncated or corrupt"), "{}", text(&o));
    let o = pipit(&["import-archive", dir.path().join("missing.tar.gz").to_str().unwrap(), "--data", &md]).await;
    assert!(!o.status.success());
    // Bad input: a corrupt gzip (one byte flipped mid-stream: caught by its CRC at the latest),
    // and a file that is not gzip at all.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    std::fs::write(&cut, &flipped).unwrap();
    let o = pipit(&["import-archive", cut.to_str().unwrap(), "--data", &md]).await;
    assert!(!o.status.success() && text(&o).contains("truncated or corrupt"), "{}", text(&o));
    std::fs::write(&cut, b"Account address\nnot,an,archive\n").unwrap();
    let o = pipit(&["import-archive", cut.to_str().unwrap(), "--data", &md]).await;
    assert!(!o.status.success() && text(&o).contains("truncated or corrupt"), "{}", text(&o));
    // Bad input: archives whose outbox.json has no items, is cut off, or has a post without a date.
    let make = |outbox: &str| -> String {
        let p = dir.path().join(format!("made-{}.tar.gz", outbox.len()));
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast()));
        let mut h = tar::Header::new_gnu();
        h.set_size(outbox.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "outbox.json", outbox.as_bytes()).unwrap();
        b.into_inner().unwrap().finish().unwrap();
        p.to_str().unwrap().to_string()
    };
    let good_item = r#"{"type":"Create","actor":"https://old.example/users/me","object":{"id":"https://old.example/users/me/statuses/1","type":"Note","attributedTo":"https://old.example/users/me","content":"<p>early</p>","published":"2019-01-02T03:04:05Z","to":["https://www.w3.org/ns/activitystreams#Public"]}}"#;
    for (outbox, needle) in [
        (r#"{"type":"OrderedCollection","totalItems":0}"#.to_string(), "no orderedItems"),
        (format!(r#"{{"type":"OrderedCollection","orderedItems":[{good_item},{{"type":"Create""#), "outbox.json"),
        (format!(r#"{{"orderedItems":[{good_item},{{"type":"Create","object":{{"id":"https://old.example/2","type":"Note","content":"x"}}}}]}}"#), "no `published` date"),
    ] {
        let f = make(&outbox);
        let o = pipit(&["import-archive", &f, "--data", &md]).await;
        assert!(!o.status.success() && text(&o).contains(needle), "{needle}: {}", text(&o));
    }
    assert_eq!(me.app.store.read(|r| r.own_post_count()).unwrap(), 0, "nothing half-applied");
    // Bad input: a good post with an image, then a post without a date and one whose author is
    // not an http(s) id: both bad items are listed (the old code stopped at the first), and the
    // image saved for the first post is removed again.
    let made_with_media = |name: &str, outbox: &str, files: &[(&str, &[u8])]| -> String {
        let p = dir.path().join(name);
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast()));
        for (path, bytes) in [("outbox.json", outbox.as_bytes())].into_iter().chain(files.iter().copied()) {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, path, bytes).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        p.to_str().unwrap().to_string()
    };
    let with_image = r#"{"type":"Create","actor":"https://old.example/users/me","object":{"id":"https://old.example/users/me/statuses/7","type":"Note","attributedTo":"https://old.example/users/me","content":"<p>a picture</p>","published":"2019-01-02T03:04:05Z","to":["https://www.w3.org/ns/activitystreams#Public"],"attachment":[{"type":"Document","mediaType":"image/png","url":"/media_attachments/files/1/dot.png","name":"dot"}]}}"#;
    let no_date = r#"{"type":"Create","object":{"id":"https://old.example/users/me/statuses/8","type":"Note","content":"x"}}"#;
    let before = media_files(&me);
    let bad_author = r#"{"type":"Create","object":{"id":"https://old.example/users/me/statuses/9","type":"Note","attributedTo":"ftp://old.example/me","content":"x","published":"2019-01-02T03:04:05Z"}}"#;
    let f = made_with_media("image-then-bad.tar.gz", &format!(r#"{{"orderedItems":[{with_image},{no_date},{bad_author}]}}"#), &[("media_attachments/files/1/dot.png", PNG)]);
    let o = pipit(&["import-archive", &f, "--data", &md]).await;
    let t = text(&o);
    assert!(!o.status.success() && t.contains("nothing was imported"), "{t}");
    assert!(t.contains("item 2: no `published` date") && t.contains("item 3: its author"), "every bad item listed: {t}");
    assert_eq!(media_files(&me), before, "the image saved for the first post was removed");
    assert_eq!(me.app.store.read(|r| r.own_post_count()).unwrap(), 0, "nothing half-applied");

    let o = pipit(&["import-archive", archive.to_str().unwrap(), "--data", &md]).await;
    assert!(o.status.success(), "{}", text(&o));
    let posts = me.app.store.read(|r| r.own_posts(None, 10, |_| true)).unwrap().posts;
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].published_ms / 1000, second.published_ms / 1000, "original date");
    assert_eq!(posts[1].published_ms / 1000, first.published_ms / 1000);
    assert_eq!(posts[0].visibility, Visibility::Unlisted);
    assert!(posts[1].content.contains("my first post"));
    assert_eq!(posts[1].tags, vec!["hello".to_string()]);
    assert_eq!(posts[1].attachments.len(), 1, "the image came along");
    assert_eq!(posts[1].attachments[0].alt, "a dot");
    let media = me.client().get(&posts[1].attachments[0].url).await;
    assert_eq!(media.status, 200, "served from this instance");
    assert!(posts[1].uri.starts_with(&me.app.urls.base), "they are this account's posts now");
    let page = me.client().get(&me.app.urls.profile()).await;
    assert!(page.body.contains("my first post"), "on the profile");
    queue_drained(&me).await;
    let me_id = me.app.urls.actor();
    assert_eq!(fan.app.store.read(|r| r.posts_by(&me_id, None, 10)).unwrap().len(), 0, "not announced");

    // Bad input: the same archive again (the old code imported every post a second time), also
    // with --announce: nothing is added, announced or left behind in the media folder.
    let files = media_files(&me);
    for extra in [None, Some("--announce")] {
        let mut args = vec!["import-archive", archive.to_str().unwrap(), "--data", &md];
        args.extend(extra);
        let o = pipit(&args).await;
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("imported 0 posts") && text(&o).contains("2 already imported"), "{}", text(&o));
        assert_eq!(me.app.store.read(|r| r.own_post_count()).unwrap(), 2, "no duplicates");
        assert_eq!(media_files(&me), files, "no media saved for posts already there");
    }
    // Bad input: this instance's own export imported back: its posts are there already.
    let own = dir.path().join("own.tar.gz");
    pipit::export::export_to(&me.app, &own).unwrap();
    let o = pipit(&["import-archive", own.to_str().unwrap(), "--data", &md]).await;
    assert!(o.status.success() && text(&o).contains("imported 0 posts") && text(&o).contains("2 already imported"), "{}", text(&o));
    assert_eq!(me.app.store.read(|r| r.own_post_count()).unwrap(), 2, "no copies of its own posts");
    // The same post twice in one archive goes in once.
    let twice = made_with_media("twice.tar.gz", &format!(r#"{{"orderedItems":[{with_image},{with_image}]}}"#), &[("media_attachments/files/1/dot.png", PNG)]);
    let o = pipit(&["import-archive", &twice, "--data", &md]).await;
    assert!(o.status.success() && text(&o).contains("imported 1 posts") && text(&o).contains("1 already imported"), "{}", text(&o));
    assert_eq!(me.app.store.read(|r| r.own_post_count()).unwrap(), 3);
    assert_eq!(media_files(&me), files + 1, "one image kept (no preview for a 1-pixel PNG), the duplicate's removed");
    queue_drained(&me).await;
    assert_eq!(fan.app.store.read(|r| r.posts_by(&me_id, None, 10)).unwrap().len(), 0, "nothing announced so far");

    // --announce sends what is new.
    let f = made_with_media("new.tar.gz", &format!(r#"{{"orderedItems":[{good_item}]}}"#), &[]);
    let o = pipit(&["import-archive", &f, "--data", &md, "--announce"]).await;
    assert!(o.status.success() && text(&o).contains("imported 1 posts and announced"), "{}", text(&o));
    eventually("the follower got the announced post", 15, || fan.app.store.read(|r| r.posts_by(&me_id, None, 10)).unwrap().len() == 1).await;
    // The archive's original ids are in a backup: the restored instance skips them too.
    let snap = dir.path().join("snap.redb");
    me.app.store.snapshot_to(&snap, |_| {}).unwrap();
    let db = redb::Database::open(&snap).unwrap();
    let t = redb::ReadableDatabase::begin_read(&db).unwrap().open_table(redb::TableDefinition::<&str, u64>::new("archiveuri_postid")).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&t).unwrap(), 4, "the archive's original ids are in the backup");
}

/// The media files under DATA/media (not the hidden `.TOKEN.part` files being written).
fn media_names(data: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(data.join("media")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_import_killed_after_saving_media_leaves_no_orphans_after_the_next_start() {
    let dir = TempDir::new("orphans");
    let image = rgb_png(48, 48, |x, y| [(x * 5) as u8, (y * 5) as u8, 90]);
    let item = |n: usize| format!(r#"{{"type":"Create","actor":"https://old.example/users/me","object":{{"id":"https://old.example/users/me/statuses/{n}","type":"Note","attributedTo":"https://old.example/users/me","content":"<p>picture {n}</p>","published":"2019-01-02T03:04:05Z","to":["https://www.w3.org/ns/activitystreams#Public"],"attachment":[{{"type":"Document","mediaType":"image/png","url":"/media_attachments/files/1/p.png","name":"p"}}]}}}}"#);
    let archive = |name: &str, items: std::ops::Range<usize>| -> std::path::PathBuf {
        let outbox = format!(r#"{{"orderedItems":[{}]}}"#, items.map(item).collect::<Vec<_>>().join(","));
        let p = dir.path().join(name);
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast()));
        for (path, bytes) in [("outbox.json", outbox.as_bytes()), ("media_attachments/files/1/p.png", &image[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, path, bytes).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        p
    };
    // Committed posts with media first: these files must survive everything below.
    let me = Instance::start("me").await;
    let o = pipit::import::import_archive(&me.app, &archive("small.tar.gz", 0..2), false).unwrap();
    assert!(o.contains("imported 2 posts"), "{o}");
    let data = me.dir.path().to_path_buf();
    let committed = media_names(&data);
    assert!(!committed.is_empty());
    let dir_arc = me.stop().await;

    // Bad input: a big import killed -9 (no server runs: the command does the import itself)
    // once it has saved media and before its posts are stored.
    let big = archive("big.tar.gz", 100..600);
    let mut child = bin().args(["import-archive", big.to_str().unwrap(), "--data", data.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if media_names(&data).len() > committed.len() + 3 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the import ended ({status}) before it could be killed: {err}");
        }
        assert!(Instant::now() < deadline, "no media file appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = media_names(&data);
    let orphans: Vec<&String> = left.difference(&committed).collect();
    assert!(orphans.len() > 3, "the killed import left media files no post references: {orphans:?}");
    assert!(committed.is_subset(&left));

    // The next start removes them, and only them.
    let me = Instance::restart(dir_arc).await;
    assert_eq!(me.app.store.read(|r| r.own_post_count()).unwrap(), 2, "none of the killed import's posts were stored");
    assert_eq!(media_names(&data), committed, "the orphans are gone, the committed posts' media untouched");
    let posts = me.app.store.read(|r| r.own_posts(None, 10, |_| true)).unwrap().posts;
    for p in &posts {
        let r = me.client().get(&p.attachments[0].url).await;
        assert_eq!(r.status, 200, "{} still served", p.attachments[0].url);
    }
    // An import after that works and keeps its media (nothing of it is swept as pending).
    let o = pipit::import::import_archive(&me.app, &archive("third.tar.gz", 700..703), false).unwrap();
    assert!(o.contains("imported 3 posts"), "{o}");
    pipit::domain::media::sweep_pending(&me.app.store, &me.app.media_dir()).unwrap();
    assert_eq!(media_names(&data).len(), committed.len() + 3, "the new posts' media are kept");
}

// ---------- 6. deleting the account ----------

async fn pipit_stdin(args: &[&str], input: &str) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let input = input.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut c = bin().args(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_account_tells_followers_and_known_servers_then_wipes_after_typed_confirmation() {
    let me = Instance::start("me").await;
    let fan = Instance::start("fan").await;
    let bob = Instance::start("bob").await;
    follow_accepted(&fan, &me).await;
    follow_accepted(&me, &bob).await;
    let me_id = me.app.urls.actor();
    let handle = me.app.urls.handle();
    let control = with_control(&me);
    wait_socket(&me).await;
    let data = me.dir.path().to_path_buf();
    let ds = data.to_str().unwrap().to_string();
    // Bad input: the server still runs.
    let o = pipit_stdin(&["delete-account", "--data", &ds], &format!("{handle}\n")).await;
    assert!(!o.status.success() && text(&o).contains("stop it first"), "{}", text(&o));
    control.abort();
    let dir = me.stop().await;
    let _ = std::fs::remove_file(pipit::control::socket_path(&data));
    eventually("the database is released", 10, || pipit::App::open(&data).is_ok()).await;
    // Bad input: a wrong confirmation, and none at all.
    for input in ["@someone@else\n", ""] {
        let o = pipit_stdin(&["delete-account", "--data", &ds], input).await;
        assert!(!o.status.success() && text(&o).contains("not confirmed"), "{}", text(&o));
        assert!(data.join("pipit.toml").exists(), "nothing deleted");
    }
    assert!(fan.app.store.read(|r| r.following(&me_id)).unwrap().is_some(), "nothing sent");
    // Confirmed: followers and known servers get Delete(actor), then the folder is gone.
    let o = pipit_stdin(&["delete-account", "--data", &ds, "--wait", "30"], &format!("{handle}\n")).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is deleted"), "{}", text(&o));
    assert!(!data.exists(), "the data folder is wiped");
    eventually("the follower forgot the account", 10, || fan.app.store.read(|r| r.following(&me_id)).unwrap().is_none()).await;
    eventually("the followed server forgot it too", 10, || bob.app.store.read(|r| r.follower(&me_id)).unwrap().is_none()).await;
    drop(dir);
}

/// Per-follow options from `following_accounts.csv` (issue 12): a row with Show boosts=false,
/// Notify on new posts=true, Languages=de. Bob (a second pipit) then posts in German and in
/// English and boosts his German post: on the importer's Home only the German post shows (the
/// English one is stored but not on Home; the old code ignored the columns and showed both),
/// the boost makes no Home entry, a `status` notification comes for the post, and the export
/// writes the options back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_keeps_show_boosts_notify_and_languages() {
    use pipit::domain::posts::{publish_with, NewPost, Publishing};
    use pipit::model::NotificationKind;
    let me = Instance::start("me").await;
    let bob = Instance::start("bob").await;
    let bob_id = bob.app.urls.actor();
    let bob_acct = bob.app.urls.handle().trim_start_matches('@').to_string();
    let csv = format!("Account address,Show boosts,Notify on new posts,Languages\n{bob_acct},false,true,de\n");
    pipit::import::start_import(&me.app, pipit::export::CsvKind::Following, csv.as_bytes(), false).unwrap();
    eventually("bob accepted the imported follow", 15, || matches!(me.app.store.read(|r| r.following(&bob_id)).unwrap(), Some(f) if f.state == FollowState::Accepted)).await;
    let o = me.app.store.read(|r| r.following(&bob_id)).unwrap().unwrap().options;
    assert_eq!((o.reblogs, o.notify, o.languages.clone()), (false, true, vec!["de".to_string()]));

    let post = |text: &str, lang: &str| {
        let new = NewPost { text: text.into(), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], resolved: vec![], quote: None };
        publish_with(&bob.app, new, vec![], Publishing { language: Some(lang.into()), ..Default::default() }).unwrap()
    };
    let de = post("Guten Morgen", "de");
    let en = post("Good morning", "en");
    let stored = |uri: &str| me.app.store.read(|r| r.post_id_by_uri(uri)).unwrap().is_some();
    eventually("both posts arrive", 15, || stored(&de.uri) && stored(&en.uri)).await;
    pipit::actions::boost(&bob.app, &de.uri).await.unwrap();
    eventually("the boost arrives", 15, || me.app.store.read(|r| r.interactions(&de.uri, "boost", 10)).unwrap().iter().any(|(who, _)| *who == bob_id)).await;

    let home = me.app.store.read(|r| r.home(None, 50)).unwrap().0;
    let on_home: Vec<(String, Option<String>)> = home.iter().map(|(_, e, p)| (p.uri.to_string(), e.boosted_by.clone())).collect();
    assert_eq!(on_home, vec![(de.uri.to_string(), None)], "only the German post, not the English one nor the boost");
    let notes = me.app.store.read(|r| r.notifications(None, 50)).unwrap().0;
    assert!(notes.iter().any(|(_, n)| n.kind == NotificationKind::Status && n.actor == bob_id && n.post_uri.as_deref() == Some(de.uri.as_str())), "{notes:?}");

    let mut out = Vec::new();
    pipit::export::write_csv(&me.app, pipit::export::CsvKind::Following, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), format!("Account address,Show boosts,Notify on new posts,Languages\n{bob_acct},false,true,de\n"));
}

// ---------- 6. progress of long commands over the control socket ----------

/// Sends one raw request line to a data folder's control socket; every line of the answer.
async fn raw_lines(data: &Path, request: &Value) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut s = tokio::net::UnixStream::connect(pipit::control::socket_path(data)).await.unwrap();
    s.write_all(format!("{request}\n").as_bytes()).await.unwrap();
    let mut lines = tokio::io::BufReader::new(s).lines();
    let mut out = Vec::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        out.push(l);
    }
    out
}

/// Checks a run's progress reports: each phase's done never passes its total (when one is
/// given) nor goes back, and ends at its total. Returns each phase's last report, in order.
fn phases(reports: &[pipit::progress::Progress]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    let mut last: Option<&pipit::progress::Progress> = None;
    for p in reports {
        if let Some(t) = p.total {
            assert!(p.done <= t, "done ≤ total: {p:?}");
        }
        match last {
            Some(l) if l.what == p.what => assert!(p.done >= l.done, "never goes back: {l:?} then {p:?}"),
            Some(l) => {
                assert_eq!(l.total, Some(l.done), "phase {} ends at its total: {l:?}", l.what);
                out.push((l.what.clone(), l.done));
            }
            None => {}
        }
        last = Some(p);
    }
    let l = last.expect("some progress");
    assert_eq!(l.total, Some(l.done), "the last phase ends at its total: {l:?}");
    out.push((l.what.clone(), l.done));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_archive_report_progress_before_the_same_reply() {
    let me = Instance::start("me").await;
    let other = Instance::start("other").await;
    for n in 0..3 {
        pipit::actions::publish(&me.app, pipit::actions::Compose { text: format!("post {n}"), cw: String::new(), visibility: Visibility::Public, in_reply_to: None, media: vec![], quote: None }).await.unwrap();
    }
    with_control(&me);
    with_control(&other);
    wait_socket(&me).await;
    wait_socket(&other).await;
    let dir = TempDir::new("progress");

    // Export, raw: progress lines first, the reply last and as before.
    let archive = dir.path().join("a.tar.gz");
    let lines = raw_lines(me.dir.path(), &serde_json::json!({"cmd": "export", "path": archive, "progress": true})).await;
    let (reply, reports) = lines.split_last().expect("lines");
    let reply: pipit::control::Reply = serde_json::from_str(reply).unwrap();
    assert!(reply.ok, "{}", reply.message);
    assert_eq!(reply.message, format!("wrote {} (3 posts)", archive.display()));
    let reports: Vec<pipit::progress::Progress> = reports.iter().map(|l| serde_json::from_value(serde_json::from_str::<Value>(l).unwrap()["progress"].take()).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    assert_eq!(phases(&reports), vec![("posts".into(), 3), ("likes".into(), 0), ("bookmarks".into(), 0), ("media".into(), 3)]);
    assert_eq!(reports[0], pipit::progress::Progress { done: 0, total: Some(3), what: "posts".into() }, "the total comes from the store's count up front");
    // An older client (no "progress" in its request) gets exactly one line, the same reply.
    let again = dir.path().join("b.tar.gz");
    let lines = raw_lines(me.dir.path(), &serde_json::json!({"cmd": "export", "path": again})).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let old: pipit::control::Reply = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!((old.ok, old.message), (true, format!("wrote {} (3 posts)", again.display())));
    // A folder export: each CSV is a phase too.
    let folder = dir.path().join("folder");
    let mut seen = Vec::new();
    let reply = pipit::control::send_with(me.dir.path(), &pipit::control::Command::Export { path: folder.to_string_lossy().into_owned(), force: false }, |p| seen.push(p.clone())).await.unwrap().expect("a server");
    assert!(reply.ok && reply.message.contains("archive.tar.gz (3 posts)"), "{}", reply.message);
    let names: Vec<String> = phases(&seen).into_iter().map(|(w, _)| w).collect();
    assert_eq!(names[..2], ["following_accounts.csv".to_string(), "lists.csv".to_string()]);
    assert!(names.ends_with(&["posts".into(), "likes".into(), "bookmarks".into(), "media".into()]), "{names:?}");

    // Import the archive elsewhere through the client library (what the command line uses).
    let mut seen = Vec::new();
    let cmd = pipit::control::Command::ImportArchive { file: archive.to_string_lossy().into_owned(), announce: false };
    let reply = pipit::control::send_with(other.dir.path(), &cmd, |p| seen.push(p.clone())).await.unwrap().expect("a server");
    assert!(reply.ok && reply.message.starts_with("imported 3 posts (not announced), 0 already imported"), "{}", reply.message);
    let size = std::fs::metadata(&archive).unwrap().len();
    assert_eq!(phases(&seen), vec![("reading the archive".into(), size), ("items checked".into(), 3), ("posts stored".into(), 3)]);
    // The command line (a pipe: no bar drawn) prints the reply as before.
    let o = pipit(&["import-archive", archive.to_str().unwrap(), "--data", other.dir.path().to_str().unwrap()]).await;
    assert!(o.status.success(), "{}", text(&o));
    let out: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
    assert!(out.len() == 1 && out[0].starts_with("imported 0 posts") && out[0].contains("3 already imported"), "only the reply: {out:?}");
}

/// A fake server on `data`'s control socket: answers one request with `answer` (raw), then
/// closes. Returns the request line it got.
async fn fake_server(data: &Path, answer: &'static str) -> tokio::task::JoinHandle<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let path = pipit::control::socket_path(data);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut line = String::new();
        tokio::io::BufReader::new(r).read_line(&mut line).await.unwrap();
        w.write_all(answer.as_bytes()).await.unwrap();
        line
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_progress_line_or_a_server_that_closes_early_is_a_clear_error_not_a_hang() {
    let dir = TempDir::new("fake-server");
    let cmd = pipit::control::Command::Export { path: "/nowhere/x.tar.gz".into(), force: false };
    let first = r#"{"progress":{"done":1,"total":2,"what":"posts"}}"#;
    // Bad input: a progress line of the wrong shape after a good one.
    let server = fake_server(dir.path(), Box::leak(format!("{first}\n{{\"progress\":\"half\"}}\n").into_boxed_str())).await;
    let mut seen = Vec::new();
    let err = pipit::control::send_with(dir.path(), &cmd, |p| seen.push(p.clone())).await.expect_err("malformed line");
    assert!(err.to_string().contains("neither progress nor a reply") && err.to_string().contains("half"), "{err}");
    assert_eq!(seen, vec![pipit::progress::Progress { done: 1, total: Some(2), what: "posts".into() }]);
    let request: Value = serde_json::from_str(&server.await.unwrap()).unwrap();
    assert_eq!((request["cmd"].as_str(), request["progress"].as_bool()), (Some("export"), Some(true)), "asks for progress: {request}");
    // Bad input: not JSON at all.
    fake_server(dir.path(), "garbage\n").await;
    let err = pipit::control::send_with(dir.path(), &cmd, |_| {}).await.expect_err("not JSON");
    assert!(err.to_string().contains("neither progress nor a reply"), "{err}");
    // Bad input: the server closes after some progress, and mid-line.
    for answer in [Box::leak(format!("{first}\n").into_boxed_str()) as &'static str, r#"{"ok":true,"mess"#] {
        fake_server(dir.path(), answer).await;
        let err = pipit::control::send_with(dir.path(), &cmd, |_| {}).await.expect_err("closed early");
        assert!(err.to_string().contains("closed the control socket without a reply"), "{answer}: {err}");
    }
    // The command line says so too, and fails.
    fake_server(dir.path(), Box::leak(format!("{first}\n").into_boxed_str())).await;
    let o = pipit(&["export", dir.path().join("x.tar.gz").to_str().unwrap(), "--data", dir.path().to_str().unwrap()]).await;
    assert!(!o.status.success() && text(&o).contains("closed the control socket without a reply"), "{}", text(&o));
}
