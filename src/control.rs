//! The control socket `DATA/pipit.sock`: how command-line verbs reach a running server (the store
//! is locked by it). One JSON request line in, one JSON reply line out. Only the user that can
//! open the data folder can connect (the socket file is 0600).
//!
//! Progress (issue 12): a request line with `"progress":true` beside its command (only clients
//! that read them ask) gets `{"progress":{"done":N,"total":M|null,"what":"posts"}}` lines,
//! at most ~10 a second, before the reply of a long command (`export`, `import_archive`). The
//! reply is always the last line.

use crate::actions;
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::Visibility;
use crate::progress::{Progress, Reporter};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

pub const SOCKET: &str = "pipit.sock";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    Password { password: String },
    Post {
        text: String,
        visibility: String,
        cw: String,
        reply_to: Option<String>,
        /// `--local-only`: keep it on this site (issue 14).
        #[serde(default)]
        local_only: bool,
        /// `--language TAG`
        #[serde(default)]
        language: Option<String>,
        /// `--poll OPTION` (repeated), `--poll-multiple`, `--poll-expires SECS`.
        #[serde(default)]
        poll: Vec<String>,
        #[serde(default)]
        poll_multiple: bool,
        #[serde(default)]
        poll_expires: Option<u64>,
        /// `--crosspost ACCT` (repeatable): also post a copy to these connected accounts.
        #[serde(default)]
        crosspost: Vec<String>,
    },
    Follow { account: String },
    Unfollow { account: String },
    Approve { account: String },
    Reject { account: String },
    Like { url: String },
    Boost { url: String },
    Delete { url: String },
    Queue,
    AliasAdd { account: String },
    AliasRemove { account: String },
    Move { target: String },
    /// `pipit relay add|remove URL`, and `pipit relay` (the list).
    RelayAdd { url: String },
    RelayRemove { url: String },
    Relays,
    /// Stages a consistent copy of the data folder in `staging` (a new folder inside the data
    /// folder) for `pipit backup` to pack (backup.rs).
    Backup { staging: String },
    /// `pipit export PATH` (absolute): export.rs `export_to`.
    Export {
        path: String,
        /// Replace files already there (`--force`); absent from older clients: never.
        #[serde(default)]
        force: bool,
    },
    /// `pipit import KIND FILE [--overwrite]` (FILE absolute): import.rs `start_import`; the
    /// reply is the new import's `ImportView` (JSON).
    Import { kind: String, file: String, overwrite: bool },
    /// How an import goes: its `ImportView` (JSON).
    ImportStatus { import: u64 },
    /// `pipit import-archive FILE [--announce]`: import.rs `import_archive`.
    ImportArchive { file: String, announce: bool },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    pub message: String,
}

/// A request line: the command, and whether the client reads progress lines. Older clients
/// send the bare command (`progress` then defaults to false); older servers ignore the field.
#[derive(Debug, Serialize, Deserialize)]
struct Request<C> {
    #[serde(flatten)]
    cmd: C,
    #[serde(default)]
    progress: bool,
}

/// One line from the server: a progress report, or the reply (the last line).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Line {
    Progress { progress: Progress },
    Reply(Reply),
}

pub fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET)
}

/// Runs one command against an open App (used by both the socket server and the offline path).
pub async fn execute(app: &App, cmd: Command) -> Result<String> {
    execute_with(app, cmd, Reporter::none()).await
}

/// [`execute`], with long commands (`Export`, `ImportArchive`) reporting to `progress`.
pub async fn execute_with(app: &App, cmd: Command, progress: Reporter) -> Result<String> {
    match cmd {
        Command::Password { password } => {
            let app = app.clone();
            tokio::task::spawn_blocking(move || crate::domain::owner::set_password(&app, &password))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            Ok("password set; existing sessions were logged out".into())
        }
        Command::Post { text, visibility, cw, reply_to, local_only, language, poll, poll_multiple, poll_expires, crosspost } => {
            let visibility = match (visibility.as_str(), reply_to.as_deref().filter(|r| !r.trim().is_empty())) {
                // A reply without --visibility keeps its parent's: an answer to a direct
                // message must not go out publicly.
                ("", Some(parent)) => actions::remote_post(app, parent.trim()).await?.visibility,
                // Otherwise the default visibility from the settings.
                ("", None) => app.store.read(|r| r.profile())?.posting.visibility,
                (v, _) => Visibility::parse(v).ok_or_else(|| Error::BadRequest(format!("unknown visibility `{v}` (public, unlisted, followers, direct)")))?,
            };
            if poll.is_empty() && (poll_multiple || poll_expires.is_some()) {
                return Err(Error::BadRequest("--poll-multiple and --poll-expires need --poll OPTION (at least two)".into()));
            }
            let poll = (!poll.is_empty()).then(|| crate::store::PollSpec {
                options: poll,
                multiple: poll_multiple,
                expires_secs: poll_expires.unwrap_or(crate::domain::posts::DEFAULT_POLL_SECS),
            });
            let how = crate::domain::posts::Publishing { local_only: local_only.then_some(true), language, poll, scheduled: None };
            // Refused before anything is stored (a followers-only post, an unknown account).
            let targets = crate::domain::crosspost::check_targets(app, visibility, &crosspost)?;
            let compose = actions::Compose { text, cw, visibility, in_reply_to: reply_to, media: Vec::new(), quote: None };
            let p = actions::publish_with(app, compose, Vec::new(), how).await?;
            crate::domain::crosspost::queue(app, &p, &targets)?;
            let mut msg = p.url_or_uri().to_string();
            if !targets.is_empty() {
                msg.push_str(&format!(" (cross-posting to {})", targets.join(", ")));
            }
            if p.local_only {
                msg.push_str(" (only on this site: not sent to other servers)");
            } else if let Some(m) = crate::domain::posts::sending_in_minutes(&p, crate::time::now_ms()) {
                msg.push_str(&format!(" (sending in {m} min: `pipit delete` it before then and nothing is sent)"));
            }
            Ok(msg)
        }
        Command::Follow { account } => {
            let a = actions::follow(app, &account).await?;
            Ok(format!("follow request sent to {} ({})", a.handle(), a.id))
        }
        Command::Unfollow { account } => Ok(format!("unfollowed {}", actions::unfollow(app, &account).await?)),
        Command::Approve { account } => {
            let id = actions::known_account(app, &account).await?;
            crate::domain::follows::approve(app, &id)?;
            Ok(format!("{id} now follows you"))
        }
        Command::Reject { account } => {
            let id = actions::known_account(app, &account).await?;
            crate::domain::follows::reject(app, &id)?;
            Ok(format!("{id} does not follow you"))
        }
        Command::Like { url } => Ok(format!("liked {}", actions::like(app, &url).await?.uri)),
        Command::Boost { url } => Ok(format!("boosted {}", actions::boost(app, &url).await?.uri)),
        Command::Delete { url } => Ok(format!("deleted {}", actions::delete(app, &url)?.uri)),
        Command::Queue => queue_report(app),
        Command::AliasAdd { account } => {
            let id = actions::add_alias(app, &account).await?;
            Ok(format!("{id} is now an alias of this account (alsoKnownAs); followers were sent an Update"))
        }
        Command::AliasRemove { account } => Ok(format!("{} is no longer an alias of this account", actions::remove_alias(app, &account).await?)),
        Command::RelayAdd { url } => crate::federation::relay::add(app, &url).await,
        Command::RelayRemove { url } => crate::federation::relay::remove(app, &url),
        Command::Relays => {
            let relays = app.store.read(|r| r.relays())?;
            if relays.is_empty() {
                return Ok("no relays".into());
            }
            Ok(relays.iter().map(|(a, r)| format!("{a} {} {} (inbox {})", r.protocol, r.state, r.inbox)).collect::<Vec<_>>().join("\n"))
        }
        Command::Move { target } => {
            let a = actions::move_account(app, &target).await?;
            Ok(format!("moved to {} ({}): your followers were sent a Move", a.handle(), a.id))
        }
        Command::Export { path, force } => {
            let app = app.clone();
            tokio::task::spawn_blocking(move || crate::export::export_to_with(&app, std::path::Path::new(&path), force, &progress)).await.map_err(|e| Error::Internal(e.to_string()))?
        }
        Command::Import { kind, file, overwrite } => {
            let k = crate::export::CsvKind::parse(&kind).ok_or_else(|| Error::BadRequest(format!("unknown import `{kind}`: following, lists, blocks, mutes, domain-blocks or bookmarks")))?;
            let bytes = std::fs::read(&file).map_err(|e| Error::BadRequest(format!("{file}: {e}")))?;
            let job = crate::import::start_import(app, k, &bytes, overwrite)?;
            let view = crate::import::import_view(app, job.id)?.ok_or(Error::NotFound)?;
            Ok(serde_json::to_string(&view)?)
        }
        Command::ImportStatus { import } => {
            let view = crate::import::import_view(app, import)?.ok_or(Error::NotFound)?;
            Ok(serde_json::to_string(&view)?)
        }
        Command::ImportArchive { file, announce } => {
            let app = app.clone();
            tokio::task::spawn_blocking(move || crate::import::import_archive_with(&app, std::path::Path::new(&file), announce, &progress)).await.map_err(|e| Error::Internal(e.to_string()))?
        }
        Command::Backup { staging } => {
            let app = app.clone();
            let stats = tokio::task::spawn_blocking(move || crate::backup::stage(&app, std::path::Path::new(&staging)))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            Ok(serde_json::to_string(&stats)?)
        }
    }
}

/// `pipit queue`: pending (with failing ones marked) and dead deliveries.
fn queue_report(app: &App) -> Result<String> {
    app.store.read(|r| {
        let stats = r.queue_stats()?;
        let mut out = format!("pending: {}  dead: {}\n", stats.pending, stats.dead);
        let now = crate::time::now_ms();
        for j in r.pending_jobs(50)? {
            let state = if j.attempts > 0 { "failing" } else { "pending" };
            let due = if j.due_ms > now { format!("in {}s", (j.due_ms - now) / 1000) } else { "now".into() };
            out.push_str(&format!("{state:8} {:>3} tries  due {due:>8}  {}  {}\n", j.attempts, describe(&j.what), j.last_error.as_deref().unwrap_or("")));
        }
        for j in r.dead_jobs(50)? {
            out.push_str(&format!("dead     {:>3} tries  {}  {}\n", j.attempts, describe(&j.what), j.last_error.as_deref().unwrap_or("")));
        }
        Ok(out.trim_end().to_string())
    })
}

fn describe(k: &crate::model::JobKind) -> String {
    match k {
        crate::model::JobKind::Fanout { activity, .. } => format!("fan-out of activity {activity}"),
        crate::model::JobKind::Deliver { activity, inbox } => format!("activity {activity} → {inbox}"),
        crate::model::JobKind::Import { import } => format!("CSV import {import}"),
        crate::model::JobKind::Publish { post } => format!("post {post}: sent when its undo window ends"),
        crate::model::JobKind::PublishScheduled { scheduled } => format!("scheduled post {scheduled}"),
        crate::model::JobKind::Webmention { target, .. } => format!("webmention → {target}"),
        crate::model::JobKind::WebSub { topics } => format!("WebSub ping: {} feeds", topics.len()),
        crate::model::JobKind::PollUpdate { post } => format!("poll {post}: Update with its counts"),
        crate::model::JobKind::Crosspost { post, account, op } => format!("cross-post ({op}) of post {post} → {account}"),
    }
}

/// Serves the control socket until the task is dropped.
pub async fn listen(app: App) -> Result<()> {
    let path = socket_path(&app.data);
    let _ = std::fs::remove_file(&path); // a stale socket from a crash; the redb lock proves we own the folder
    let listener = UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            // One line, bounded: the socket is local but still input.
            let mut reader = BufReader::new(read.take(1024 * 1024));
            let reply = match reader.read_line(&mut line).await {
                Ok(_) => match serde_json::from_str::<Request<Command>>(&line) {
                    Ok(Request { cmd, progress: false }) => match execute(&app, cmd).await {
                        Ok(message) => Reply { ok: true, message },
                        Err(e) => Reply { ok: false, message: e.to_string() },
                    },
                    Ok(Request { cmd, progress: true }) => match execute_reporting(&app, cmd, &mut write).await {
                        Ok(message) => Reply { ok: true, message },
                        Err(e) => Reply { ok: false, message: e.to_string() },
                    },
                    Err(e) => Reply { ok: false, message: format!("bad command: {e}") },
                },
                Err(e) => Reply { ok: false, message: e.to_string() },
            };
            let mut out = serde_json::to_vec(&reply).unwrap_or_default();
            out.push(b'\n');
            let _ = write.write_all(&out).await;
        });
    }
}

/// Runs `cmd` while writing its progress reports to the client as `{"progress":…}` lines. A
/// client that went away does not stop the work (its result is still stored).
async fn execute_reporting(app: &App, cmd: Command, write: &mut tokio::net::unix::OwnedWriteHalf) -> Result<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let work = execute_with(app, cmd, Reporter::new(move |p| {
        let _ = tx.send(p);
    }));
    tokio::pin!(work);
    let mut gone = false;
    let mut write_one = async |p: Progress, gone: &mut bool| {
        if *gone {
            return;
        }
        let mut out = serde_json::to_vec(&serde_json::json!({ "progress": p })).unwrap_or_default();
        out.push(b'\n');
        *gone = write.write_all(&out).await.is_err();
    };
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            Some(p) = rx.recv() => write_one(p, &mut gone).await,
        }
    };
    // The reports sent just before the work ended (the reporter is dropped with it).
    while let Ok(p) = rx.try_recv() {
        write_one(p, &mut gone).await;
    }
    result
}

/// Sends a command to a running server; Ok(None) if none is listening.
pub async fn send(data: &Path, cmd: &Command) -> Result<Option<Reply>> {
    send_with(data, cmd, |_| {}).await
}

/// [`send`], asking for progress lines and handing each to `on_progress` until the reply.
/// Errors: the server closing the socket before its reply, or a line that is neither progress
/// nor a reply (not valid JSON, or another shape), each said in plain words.
pub async fn send_with(data: &Path, cmd: &Command, mut on_progress: impl FnMut(&Progress)) -> Result<Option<Reply>> {
    let stream = match UnixStream::connect(socket_path(data)).await {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(&Request { cmd, progress: true })?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        // One line, bounded: a reply lists at most a few bad items.
        if (&mut reader).take(16 * 1024 * 1024).read_line(&mut line).await? == 0 || !line.ends_with('\n') {
            return Err(Error::Internal("the running server closed the control socket without a reply: the command may or may not have been done (see the server's log)".into()));
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(Line::Progress { progress }) => on_progress(&progress),
            Ok(Line::Reply(reply)) => return Ok(Some(reply)),
            Err(e) => {
                let shown: String = line.trim_end().chars().take(200).collect();
                return Err(Error::Internal(format!("the running server sent a line that is neither progress nor a reply ({e}): {shown}")));
            }
        }
    }
}

/// Runs a command through the running server if there is one, otherwise directly on the store
/// (deliveries then wait in the queue until `pipit serve` runs).
pub async fn run(data: &Path, cmd: Command) -> Result<String> {
    run_with(data, cmd, |_| {}).await
}

/// [`run`], handing progress reports to `on_progress`: the server's, or (with no server
/// running) the work's own, through the same [`Reporter`].
pub async fn run_with(data: &Path, cmd: Command, on_progress: impl Fn(&Progress) + Send + Sync + 'static) -> Result<String> {
    if let Some(reply) = send_with(data, &cmd, &on_progress).await? {
        return if reply.ok { Ok(reply.message) } else { Err(Error::BadRequest(reply.message)) };
    }
    let app = App::open(data)?;
    execute_with(&app, cmd, Reporter::new(move |p| on_progress(&p))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_asking_for_progress_still_reads_as_a_bare_command_and_back() {
        // An older server reads the new request line as the bare command (the field ignored).
        for cmd in [Command::Queue, Command::Export { path: "/tmp/x".into(), force: true }] {
            let line = serde_json::to_string(&Request { cmd: &cmd, progress: true }).unwrap();
            let old: Command = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(format!("{old:?}"), format!("{cmd:?}"));
        }
        // A newer server reads an older client's bare command as asking for no progress.
        let r: Request<Command> = serde_json::from_str(r#"{"cmd":"export","path":"/tmp/x"}"#).unwrap();
        assert!(!r.progress && matches!(r.cmd, Command::Export { .. }));
        // Bad input: an unknown command is still refused.
        assert!(serde_json::from_str::<Request<Command>>(r#"{"cmd":"format_disk","progress":true}"#).is_err());
    }
}
