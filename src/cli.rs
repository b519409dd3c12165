//! The command line: `serve`, `init`, `password`, `--version`, `--help`. Each verb parses its
//! flags, builds what it needs and calls one function. Verbs that change data go through the
//! running server's control socket when it is up (control.rs), or open the store directly.

use crate::app::App;
use crate::config::{self, Config};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub const HELP: &str = "pipit — one person's home in the fediverse

USAGE:
  pipit serve [--data DIR]          run the server (creates DIR with defaults on first start)
  pipit init --data DIR --url URL --username NAME [--listen ADDR] [--allow-private-addresses]
                                    create a data folder non-interactively
  pipit password [--data DIR]       set the owner's password (read from standard input)
  pipit post TEXT [--visibility public|unlisted|followers|direct] [--cw TEXT] [--reply-to URL]
             [--local-only] [--language TAG] [--crosspost user@host ...]
             [--poll OPTION --poll OPTION ... [--poll-multiple] [--poll-expires SECS]]
                                    (a reply keeps its parent's visibility unless --visibility is given)
  pipit follow|unfollow @user@host|URL
  pipit approve|reject @user@host|URL   answer a follow request (reject also removes a follower)
  pipit like|boost URL              like or boost a post
  pipit delete URL                  delete one of your posts
  pipit queue                       pending, failing and dead deliveries
  pipit alias add|remove @user@host|URL
                                    list (or unlist) an account you move from (alsoKnownAs)
  pipit relay [add|remove URL]      subscribe to a relay (its inbox URL: Mastodon protocol; its
                                    actor URL: LitePub), unsubscribe, or list them
  pipit move @user@host|URL         move to a new account that lists this one as an alias:
                                    followers are sent a Move, the profile points there
  pipit export DIR|FILE.tar.gz [--force]
                                    Mastodon's CSVs and posts archive into DIR, or the archive only
                                    (files already there are kept unless --force)
  pipit import following|lists|blocks|mutes|domain-blocks|bookmarks FILE.csv [--overwrite]
                                    Mastodon's CSV exports: merged, or replacing (--overwrite);
                                    a malformed file imports nothing; then each line is looked
                                    up in the background (a bar shows it), failures listed
  pipit import-archive FILE [--announce]
                                    posts of a Mastodon archive, with their dates and media
                                    (sent to followers only with --announce); posts imported
                                    before are skipped
  pipit backup FILE [--force]       a consistent copy (database, media, keys, config) as tar.gz,
                                    also while the server runs (an existing FILE is kept
                                    unless --force)
                                    (these talk to a running `pipit serve`, or work offline)
  pipit restore FILE [--data DIR] [--force]
                                    unpack a backup into DIR (stopped; --force replaces a
                                    non-empty DIR of the same instance)
  pipit delete-account [--data DIR] [--wait SECS]
                                    with the server stopped: after you type the account's handle,
                                    send Delete to every follower and known server (waiting up to
                                    SECS, default 120, for the queue) and erase DIR
  pipit --version | --help

DIR defaults to ./pipit-data. Configuration: DIR/pipit.toml (see README.md).
";

/// Flags of the form `--name value` and `--switch`.
pub struct Args {
    pub verb: String,
    pub flags: Vec<(String, Option<String>)>,
    pub positional: Vec<String>,
}

const SWITCHES: &[&str] = &["allow-private-addresses", "force", "overwrite", "announce", "local-only", "poll-multiple"];

impl Args {
    pub fn parse(argv: impl Iterator<Item = String>) -> std::result::Result<Args, String> {
        let mut it = argv.skip(1).peekable();
        let verb = it.next().unwrap_or_else(|| "--help".into());
        let mut flags = Vec::new();
        let mut positional = Vec::new();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                if let Some((n, v)) = name.split_once('=') {
                    flags.push((n.to_string(), Some(v.to_string())));
                } else if SWITCHES.contains(&name) {
                    flags.push((name.to_string(), None));
                } else {
                    let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    flags.push((name.to_string(), Some(v)));
                }
            } else {
                positional.push(a);
            }
        }
        Ok(Args { verb, flags, positional })
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.flags.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }
    /// Every value of a repeated flag (`--poll A --poll B`), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.flags.iter().filter(|(n, _)| n == name).filter_map(|(_, v)| v.clone()).collect()
    }
    pub fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }
    pub fn data(&self) -> PathBuf {
        PathBuf::from(self.get("data").unwrap_or("pipit-data"))
    }
    /// Refuses flags the verb does not know (a typo must not be ignored).
    pub fn only(&self, allowed: &[&str]) -> std::result::Result<(), String> {
        match self.flags.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
            Some((n, _)) => Err(format!("unknown option --{n} for `pipit {}`", self.verb)),
            None => Ok(()),
        }
    }
}

/// Creates a data folder: keys, config, database. Fails if one is already there.
pub fn init(data: &Path, url: &str, username: &str, listen: &str, allow_private: bool) -> Result<Config> {
    if Config::path(data).exists() {
        return Err(Error::Config(format!("{} already exists: this data folder is initialised", Config::path(data).display())));
    }
    config::parse_public_url(url).map_err(|e| Error::Config(format!("--url: {e}")))?;
    config::validate_username(username).map_err(|e| Error::Config(format!("--username: {e}")))?;
    let mut cfg = Config::new(url.trim_end_matches('/'), username, listen);
    cfg.listen_addr().map_err(|e| Error::Config(format!("--listen: {e}")))?;
    cfg.allow_private_addresses = allow_private;
    let keys = data.join("keys");
    std::fs::create_dir_all(&keys).map_err(|e| Error::Config(format!("cannot create {}: {e}", keys.display())))?;
    crate::fsutil::write_private(&cfg.resolve(data, &cfg.keys.rsa), crate::keygen::rsa_pkcs8_pem()?.as_bytes())?;
    crate::fsutil::write_private(&cfg.resolve(data, &cfg.keys.ed25519), crate::keygen::ed25519_pkcs8_pem()?.as_bytes())?;
    crate::fsutil::write_private(&cfg.resolve(data, &cfg.keys.instance_rsa), crate::keygen::rsa_pkcs8_pem()?.as_bytes())?;
    cfg.save(data)?;
    let app = App::open_with(data, cfg.clone())?;
    crate::domain::owner::ensure_profile(&app)?;
    Ok(cfg)
}

/// `pipit serve` on a folder without config: the embedded defaults.
pub fn init_default(data: &Path) -> Result<Config> {
    init(data, config::DEFAULT_URL, config::DEFAULT_USERNAME, config::DEFAULT_LISTEN, false)
}
