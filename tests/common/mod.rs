//! Test harness: real pipit instances in this process on 127.0.0.1:0 with their own data folder,
//! and a small HTTP client with a cookie jar. No mocks: real store, real server, real sockets.
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use pipit::App;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("pipit-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Instance {
    pub app: App,
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub dir: Arc<TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Options a test may change before the instance starts.
pub type Tweak = Box<dyn FnOnce(&mut pipit::Config)>;

impl Instance {
    /// A fresh instance with username `name`, private addresses allowed (loopback peers).
    pub async fn start(name: &str) -> Instance {
        Instance::start_with(name, Box::new(|_| {})).await
    }

    pub async fn start_with(name: &str, tweak: Tweak) -> Instance {
        Instance::start_as(name, "127.0.0.1", tweak).await
    }

    /// Named `localhost` in its URL (peers that refuse IP-literal hosts need a domain).
    pub async fn start_localhost(name: &str) -> Instance {
        Instance::start_as(name, "localhost", Box::new(|_| {})).await
    }

    async fn start_as(name: &str, host: &str, tweak: Tweak) -> Instance {
        let dir = Arc::new(TempDir::new(name));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{host}:{}", addr.port());
        let mut cfg = pipit::cli::init(dir.path(), &base, name, &addr.to_string(), true).expect("init");
        tweak(&mut cfg);
        cfg.save(dir.path()).unwrap();
        Instance::serve(dir, listener).await
    }

    /// Starts (again) on an existing data folder, on the address its config names.
    pub async fn restart(dir: Arc<TempDir>) -> Instance {
        let cfg = pipit::Config::load(dir.path()).unwrap();
        let listener = tokio::net::TcpListener::bind(&cfg.listen).await.unwrap();
        Instance::serve(dir, listener).await
    }

    async fn serve(dir: Arc<TempDir>, listener: tokio::net::TcpListener) -> Instance {
        let addr = listener.local_addr().unwrap();
        // A stopped instance's last tasks may hold the database for a moment.
        let mut tries = 0;
        let app = loop {
            match App::open(dir.path()) {
                Err(pipit::error::Error::Config(m)) if m.contains("already running") && tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => break other.expect("open app"),
            }
        };
        pipit::domain::owner::ensure_profile(&app).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app2 = app.clone();
        let task = tokio::spawn(async move {
            pipit::run(app2, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Instance { base: app.urls.base.clone(), app, addr, dir, stop: Some(tx), task: Some(task) }
    }

    /// Stops the server and waits for it, releasing the database.
    pub async fn stop(mut self) -> Arc<TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        let dir = self.dir.clone();
        drop(self);
        dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// A client logged in as the owner (password set through the domain API).
    pub async fn owner_client(&self) -> Client {
        pipit::domain::owner::set_password(&self.app, "correct horse battery").unwrap();
        let c = self.client();
        c.login("correct horse battery").await;
        c
    }
}

pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }
    /// The value of `<input ... name="NAME" value="...">` in the page.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].replace("&amp;", "&"))
    }
    pub fn csrf(&self) -> String {
        self.input_value("csrf").expect("page has a csrf field")
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub cookies: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client { base: base.to_string(), cookies: Default::default() }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send("GET", path, vec![], Bytes::new()).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send("GET", path, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), Bytes::new()).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", pipit::server::request::percent_encode(k), pipit::server::request::percent_encode(v)))
            .collect();
        self.send(
            "POST",
            path,
            vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            Bytes::from(body.join("&")),
        )
        .await
    }

    /// multipart/form-data with text fields and (name, filename, content type, bytes) files.
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> Response {
        let boundary = "pipittestboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
        }
        for (name, filename, ct, data) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send("POST", path, vec![("content-type".into(), format!("multipart/form-data; boundary={boundary}"))], Bytes::from(body)).await
    }

    pub async fn send(&self, method: &str, path: &str, headers: Vec<(String, String)>, body: Bytes) -> Response {
        let url: hyper::Uri = if path.starts_with("http") { path.parse().unwrap() } else { format!("{}{path}", self.base).parse().unwrap() };
        let authority = url.authority().unwrap().to_string();
        let stream = tokio::net::TcpStream::connect(&authority).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let mut req = Request::builder().method(method).uri(url.path_and_query().map(|p| p.as_str()).unwrap_or("/")).header("host", &authority);
        let cookie = {
            let jar = self.cookies.lock().unwrap();
            jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
        };
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = sender.send_request(req.body(Full::new(body)).unwrap()).await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let pair = sc.split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                let mut jar = self.cookies.lock().unwrap();
                if sc.contains("Max-Age=0") {
                    jar.remove(k);
                } else {
                    jar.insert(k.to_string(), v.to_string());
                }
            }
        }
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    pub async fn login(&self, password: &str) -> Response {
        let page = self.get("/login").await;
        let csrf = page.csrf();
        let r = self.post_form("/login", &[("csrf", &csrf), ("password", password)]).await;
        r
    }

    /// The owner's CSRF token, read from the profile page.
    pub async fn owner_csrf(&self) -> String {
        let page = self.get("/settings").await;
        assert_eq!(page.status, 200, "not logged in: {}", page.body);
        page.csrf()
    }
}

/// Polls `check` until it is true or `secs` pass (deliveries are asynchronous).
pub async fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// POSTs `activity` to `to`'s inbox, signed (draft-cavage) by `from`'s actor key, as a peer's
/// delivery would arrive.
pub async fn deliver(to: &Instance, from: &Instance, activity: &serde_json::Value) -> Response {
    let inbox = to.url(&format!("/users/{}/inbox", to.app.urls.username));
    let body = activity.to_string();
    let uri: hyper::Uri = inbox.parse().unwrap();
    let mut headers = hyper::HeaderMap::new();
    pipit::federation::sign::sign_cavage(&hyper::Method::POST, &uri, &mut headers, Some(body.as_bytes()), &from.app.urls.key_id(), &from.app.actor_keys, std::time::SystemTime::now());
    let mut hs: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    hs.push(("content-type".into(), "application/activity+json".into()));
    hs.retain(|(k, _)| k != "host");
    Client::new("http://unused").send("POST", &inbox, hs, Bytes::from(body)).await
}

/// Starts `pipit serve --data DATA` as a process of its own (quiet: `PIPIT_LOG=warn`, output
/// discarded), under `ulimit -n NOFILE` when given, and waits (30 s at most) until `addr`
/// (`127.0.0.1:PORT`, the config's `listen`) accepts connections. For tests that must kill -9
/// a real server or limit its file descriptors.
pub async fn spawn_serve(data: &Path, addr: &str, nofile: Option<u32>) -> std::process::Child {
    let limit = nofile.map(|n| format!("ulimit -n {n}; ")).unwrap_or_default();
    let proc = std::process::Command::new("sh")
        .args(["-c", &format!("{limit}exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_pipit"), "serve", "--data"])
        .arg(data)
        .env("PIPIT_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn pipit serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "pipit serve did not start listening on {addr}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    proc
}

/// `w`×`h` 8-bit RGB pixels (`f(x, y)` each) as a PNG, written by the `png` crate.
pub fn rgb_png(w: u32, h: u32, mut f: impl FnMut(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let px: Vec<u8> = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).flat_map(|(x, y)| f(x, y)).collect();
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    e.write_header().unwrap().write_image_data(&px).unwrap();
    out
}
