//! Memory after churn (issue 15): 50 owner logins (argon2 each) and 30 anonymous 10 MiB uploads
//! (refused on their headers) must leave pipit's RSS within 2 MiB of where it was.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request on a fresh connection: (status, Set-Cookie pairs, body).
async fn request(port: u16, method: &str, path: &str, cookie: &str, form: Option<String>) -> (u16, Vec<String>, String) {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path).header("host", format!("127.0.0.1:{port}"));
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    if form.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let r = tx.send_request(req.body(Full::new(Bytes::from(form.unwrap_or_default()))).unwrap()).await.unwrap();
    let status = r.status().as_u16();
    let cookies = r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).filter_map(|v| v.split(';').next()).map(str::to_string).collect();
    let body = String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).to_string();
    (status, cookies, body)
}

/// Logs in as the owner the way a browser does (login page, its CSRF cookie and field, POST).
pub async fn login(port: u16, password: &str) -> u16 {
    login_cookie(port, password).await.0
}

/// `login`, also returning the cookies the browser would then send ("name=value; ...").
pub async fn login_cookie(port: u16, password: &str) -> (u16, String) {
    let (_, cookies, page) = request(port, "GET", "/login", "", None).await;
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("login page has a csrf field") + marker.len();
    let csrf = page[start..start + page[start..].find('"').unwrap()].replace("&amp;", "&");
    let form = format!("csrf={}&password={}", pipit::server::request::percent_encode(&csrf), pipit::server::request::percent_encode(password));
    let (status, set, _) = request(port, "POST", "/login", &cookies.join("; "), Some(form)).await;
    // The session cookie replaces nothing the login page set, so send both.
    let mut jar: Vec<String> = cookies;
    for c in set {
        let name = c.split('=').next().unwrap_or("").to_string();
        jar.retain(|o| o.split('=').next() != Some(name.as_str()));
        jar.push(c);
    }
    (status, jar.join("; "))
}

/// A stranger's 10 MiB multipart upload to /compose; returns the status line (pipit answers
/// 401 on the headers and may close before the body is all sent).
pub async fn anonymous_upload(port: u16) -> String {
    const SIZE: usize = 10 * 1024 * 1024;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!("POST /compose HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {SIZE}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut body = b"--XYZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.resize(SIZE, b'A');
    let _ = s.write_all(&body).await;
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf)).await.ok().and_then(|r| r.ok()).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string()
}
