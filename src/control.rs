//! The control socket `DATA/pipit.sock`: how command-line verbs reach a running server (the store
//! is locked by it). One JSON request line in, one JSON reply line out. Only the user that can
//! open the data folder can connect (the socket file is 0600).

use crate::app::App;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

pub const SOCKET: &str = "pipit.sock";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    Password { password: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    pub message: String,
}

pub fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET)
}

/// Runs one command against an open App (used by both the socket server and the offline path).
pub async fn execute(app: &App, cmd: Command) -> Result<String> {
    match cmd {
        Command::Password { password } => {
            let app = app.clone();
            tokio::task::spawn_blocking(move || crate::domain::owner::set_password(&app, &password))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            Ok("password set; existing sessions were logged out".into())
        }
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
            let mut reader = BufReader::new(read).take(1024 * 1024);
            let reply = match reader.read_line(&mut line).await {
                Ok(_) => match serde_json::from_str::<Command>(&line) {
                    Ok(cmd) => match execute(&app, cmd).await {
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

use tokio::io::AsyncReadExt;

/// Sends a command to a running server; Ok(None) if none is listening.
pub async fn send(data: &Path, cmd: &Command) -> Result<Option<Reply>> {
    let stream = match UnixStream::connect(socket_path(data)).await {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(cmd)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut reply = String::new();
    BufReader::new(read).read_line(&mut reply).await?;
    Ok(Some(serde_json::from_str(&reply)?))
}

/// Runs a command through the running server if there is one, otherwise directly on the store.
pub async fn run(data: &Path, cmd: Command) -> Result<String> {
    if let Some(reply) = send(data, &cmd).await? {
        return if reply.ok { Ok(reply.message) } else { Err(Error::BadRequest(reply.message)) };
    }
    let app = App::open(data)?;
    execute(&app, cmd).await
}
