//! `pipit` command line. Parsing and wiring only; the work is in the library.

use pipit::cli::{self, Args};
use pipit::config::Config;
use pipit::control::{self, Command};
use pipit::error::{Error, Result};
use pipit::App;
use std::io::Read;
use std::process::ExitCode;

mod alloc;

fn main() -> ExitCode {
    alloc::init();
    let args = match Args::parse(std::env::args()) {
        Ok(a) => a,
        Err(e) => return usage(&e),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // A Pi has 1–4 cores and little memory: two workers are plenty for one person.
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => return fail(&Error::Internal(format!("cannot start runtime: {e}"))),
    };
    let result = match args.verb.as_str() {
        "--version" | "-V" | "version" => {
            println!("pipit {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "--help" | "-h" | "help" => {
            print!("{}", cli::HELP);
            Ok(())
        }
        "serve" => match args.only(&["data"]) {
            Ok(()) => block_on(&runtime, serve(&args)),
            Err(e) => return usage(&e),
        },
        "init" => match args.only(&["data", "url", "username", "listen", "allow-private-addresses"]) {
            Ok(()) => init(&args),
            Err(e) => return usage(&e),
        },
        "password" => match args.only(&["data"]) {
            Ok(()) => block_on(&runtime, password(&args)),
            Err(e) => return usage(&e),
        },
        "post" | "follow" | "unfollow" | "approve" | "reject" | "like" | "boost" | "delete" | "queue" => {
            let allowed: &[&str] = if args.verb == "post" { &["data", "visibility", "cw", "reply-to", "local-only", "language", "poll", "poll-multiple", "poll-expires", "crosspost"] } else { &["data"] };
            match args.only(allowed).and_then(|_| command(&args)) {
                Ok(cmd) => block_on(&runtime, async {
                    let msg = control::run(&args.data(), cmd).await?;
                    println!("{msg}");
                    Ok(())
                }),
                Err(e) => return usage(&e),
            }
        }
        "alias" => match (args.only(&["data"]), args.positional.as_slice()) {
            (Ok(()), [op, who]) if op == "add" || op == "remove" => {
                let cmd = if op == "add" { Command::AliasAdd { account: who.clone() } } else { Command::AliasRemove { account: who.clone() } };
                block_on(&runtime, async {
                    println!("{}", control::run(&args.data(), cmd).await?);
                    Ok(())
                })
            }
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit alias` takes `add` or `remove` and one @user@host or URL"),
        },
        "relay" => match (args.only(&["data"]), args.positional.as_slice()) {
            (Ok(()), rest) if matches!(rest, [] | [_, _]) && (rest.is_empty() || rest[0] == "add" || rest[0] == "remove") => {
                let cmd = match rest {
                    [op, url] if op == "add" => Command::RelayAdd { url: url.clone() },
                    [_, url] => Command::RelayRemove { url: url.clone() },
                    _ => Command::Relays,
                };
                block_on(&runtime, async {
                    println!("{}", control::run(&args.data(), cmd).await?);
                    Ok(())
                })
            }
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit relay` takes `add URL` or `remove URL` (a relay's inbox URL for the Mastodon protocol, its actor URL for LitePub), or nothing to list them"),
        },
        "move" => match (args.only(&["data"]), args.positional.as_slice()) {
            (Ok(()), [target]) => block_on(&runtime, async {
                println!("{}", control::run(&args.data(), Command::Move { target: target.clone() }).await?);
                Ok(())
            }),
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit move` takes the new account: @user@host or URL"),
        },
        "backup" => match (args.only(&["data", "force"]), args.positional.as_slice()) {
            (Ok(()), [file]) => block_on(&runtime, async {
                let m = pipit::backup::backup(&args.data(), std::path::Path::new(file), args.has("force")).await?;
                println!("backed up {} ({} files, {} bytes) to {file}", m.actor, m.files, m.bytes);
                Ok(())
            }),
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit backup` takes the file to write"),
        },
        "export" => match (args.only(&["data", "force"]), args.positional.as_slice()) {
            (Ok(()), [path]) => block_on(&runtime, async {
                // The server may run in another folder: hand it an absolute path.
                let path = std::path::absolute(path).map_err(|e| Error::BadRequest(format!("{path}: {e}")))?;
                let bar = pipit::progress::Bar::new("exporting");
                let b = bar.clone();
                let out = control::run_with(&args.data(), Command::Export { path: path.to_string_lossy().into_owned(), force: args.has("force") }, move |p| b.show(p)).await;
                bar.finish();
                println!("{}", out?);
                Ok(())
            }),
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit export` takes a folder (CSVs and archive) or a FILE.tar.gz (archive)"),
        },
        "import" => match (args.only(&["data", "overwrite"]), args.positional.as_slice()) {
            (Ok(()), [kind, file]) => block_on(&runtime, async {
                let file = std::path::absolute(file).map_err(|e| Error::BadRequest(format!("{file}: {e}")))?;
                println!("{}", pipit::import::cli_import(&args.data(), kind, &file, args.has("overwrite")).await?);
                Ok(())
            }),
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit import` takes a KIND (following, lists, blocks, mutes, domain-blocks, bookmarks) and a CSV FILE"),
        },
        "import-archive" => match (args.only(&["data", "announce"]), args.positional.as_slice()) {
            (Ok(()), [file]) => block_on(&runtime, async {
                let file = std::path::absolute(file).map_err(|e| Error::BadRequest(format!("{file}: {e}")))?;
                let cmd = Command::ImportArchive { file: file.to_string_lossy().into_owned(), announce: args.has("announce") };
                let bar = pipit::progress::Bar::new("importing posts");
                let b = bar.clone();
                let out = control::run_with(&args.data(), cmd, move |p| b.show(p)).await;
                bar.finish();
                println!("{}", out?);
                Ok(())
            }),
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit import-archive` takes a Mastodon archive (.tar.gz)"),
        },
        "delete-account" => match (args.only(&["data", "wait"]), args.positional.as_slice()) {
            (Ok(()), []) => {
                let wait = match args.get("wait").map(str::parse::<u64>) {
                    None => 120,
                    Some(Ok(s)) => s,
                    Some(Err(_)) => return usage("--wait takes seconds"),
                };
                block_on(&runtime, async {
                    let msg = pipit::backup::delete_account(&args.data(), std::time::Duration::from_secs(wait), |handle| {
                        eprint!("This sends Delete to every follower and known server and erases {} for good.\nType {handle} to confirm: ", args.data().display());
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line).is_ok() && line.trim() == handle
                    })
                    .await?;
                    println!("{msg}");
                    Ok(())
                })
            }
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit delete-account` takes no arguments"),
        },
        "restore" => match (args.only(&["data", "force"]), args.positional.as_slice()) {
            (Ok(()), [file]) => pipit::backup::restore(std::path::Path::new(file), &args.data(), args.has("force")).map(|m| {
                println!("restored {} into {}; start it with: pipit serve --data {}", m.actor, args.data().display(), args.data().display());
            }),
            (Err(e), _) => return usage(&e),
            _ => return usage("`pipit restore` takes the backup file"),
        },
        other => return usage(&format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// `runtime.block_on(f)` through one boxed future type, so tokio's `block_on` machinery is
/// compiled once instead of once per command's future (issue 15: 11 copies, ~4.5 KiB each on
/// x86_64). One allocation per command run; nothing per request.
fn block_on<'a>(runtime: &tokio::runtime::Runtime, f: impl std::future::Future<Output = Result<()>> + 'a) -> Result<()> {
    let f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> = Box::pin(f);
    runtime.block_on(f)
}

/// Builds the control command for a verb from its arguments.
fn command(args: &Args) -> std::result::Result<Command, String> {
    let one = |what: &str| -> std::result::Result<String, String> {
        match args.positional.as_slice() {
            [x] => Ok(x.clone()),
            _ => Err(format!("`pipit {}` takes one {what}", args.verb)),
        }
    };
    Ok(match args.verb.as_str() {
        "post" => Command::Post {
            text: args.positional.join(" "),
            // Empty: public, or the parent's visibility for a reply (control.rs).
            visibility: args.get("visibility").unwrap_or_default().to_string(),
            cw: args.get("cw").unwrap_or_default().to_string(),
            reply_to: args.get("reply-to").map(str::to_string),
            local_only: args.has("local-only"),
            language: args.get("language").map(str::to_string),
            poll: args.all("poll"),
            poll_multiple: args.has("poll-multiple"),
            poll_expires: match args.get("poll-expires") {
                None => None,
                Some(s) => Some(s.parse().map_err(|_| format!("--poll-expires takes seconds, not `{s}`"))?),
            },
            crosspost: args.all("crosspost"),
        },
        "follow" => Command::Follow { account: one("@user@host or URL")? },
        "unfollow" => Command::Unfollow { account: one("@user@host or URL")? },
        "approve" => Command::Approve { account: one("@user@host or URL")? },
        "reject" => Command::Reject { account: one("@user@host or URL")? },
        "like" => Command::Like { url: one("post URL")? },
        "boost" => Command::Boost { url: one("post URL")? },
        "delete" => Command::Delete { url: one("post URL")? },
        _ => Command::Queue,
    })
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("pipit: {msg}\n\n{}", cli::HELP);
    ExitCode::from(2)
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("pipit: {e}");
    ExitCode::FAILURE
}

fn init(args: &Args) -> Result<()> {
    let (Some(url), Some(username)) = (args.get("url"), args.get("username")) else {
        return Err(Error::Config("init needs --url URL and --username NAME".into()));
    };
    let data = args.data();
    let cfg = cli::init(&data, url, username, args.get("listen").unwrap_or(pipit::config::DEFAULT_LISTEN), args.has("allow-private-addresses"))?;
    let urls = pipit::urls::Urls::new(&cfg.public_url(), &cfg.username);
    println!("Created {} for {}.", data.display(), urls.handle());
    println!("Start it with: pipit serve --data {}", data.display());
    Ok(())
}

async fn serve(args: &Args) -> Result<()> {
    let data = args.data();
    if !Config::path(&data).exists() {
        cli::init_default(&data)?;
        println!("First start: created {} with the default settings ({}).", data.display(), pipit::config::DEFAULT_URL);
    }
    let app = open_waiting(&data).await?;
    init_logging(&app.config.log);
    pipit::domain::owner::ensure_profile(&app)?;
    let addr = app.config.listen_addr().map_err(|e| Error::Config(format!("key `listen`: {e}")))?;
    let listener = pipit::server::bind(addr).await?;
    println!("pipit {} serving {} as {} on {}", env!("CARGO_PKG_VERSION"), app.urls.base, app.urls.handle(), addr);
    if !pipit::domain::owner::has_password(&app)? {
        let link = pipit::domain::owner::new_setup_link(&app)?;
        println!("No password is set yet. Open this one-time link to choose one:\n\n    {link}\n");
    }
    let control = tokio::spawn(control::listen(app.clone()));
    pipit::run(app.clone(), listener, shutdown_signal()).await?;
    // An empty durable commit writes out inbox deliveries still inside their bounded delay
    // (store/group.rs) before the process ends.
    app.store.write(|_| Ok(()))?;
    control.abort();
    let _ = std::fs::remove_file(control::socket_path(&data));
    tracing::info!("stopped");
    Ok(())
}

/// Opens the data folder; if a short command-line verb holds it right now, waits for it a few
/// seconds before concluding that another server is running.
async fn open_waiting(data: &std::path::Path) -> Result<App> {
    let mut tries = 0;
    loop {
        match App::open(data) {
            Err(Error::Config(msg)) if msg.contains("already running") && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    tracing::info!("shutting down");
}

async fn password(args: &Args) -> Result<()> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.lines().next().unwrap_or_default().to_string();
    let msg = control::run(&args.data(), Command::Password { password }).await?;
    println!("{msg}");
    Ok(())
}

fn init_logging(level: &str) {
    let level = std::env::var("PIPIT_LOG").unwrap_or_else(|_| level.to_string());
    let filter = level.parse::<tracing::Level>().unwrap_or(tracing::Level::INFO);
    // Colour only on a terminal: a file or the journal would keep the escape codes as noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt().with_max_level(filter).with_target(false).with_ansi(ansi).try_init();
}
