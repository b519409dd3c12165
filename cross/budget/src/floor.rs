//! The floor: a bare hyper "hello" server (two tokio workers, as pipit), run as a child process
//! of the budget tool and measured exactly like pipit. Its CPU per request is the cost of HTTP
//! itself on this machine in this run; pipit's JSON endpoints are held to 3× it (issue 15).

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};

/// `pipit-budget --hello-floor PORT`: serves "hello" on 127.0.0.1:PORT until killed, on the
/// budget tool's own two-worker runtime.
pub async fn serve(port: u16) -> ! {
    {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        loop {
            let Ok((s, _)) = listener.accept().await else { continue };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req: hyper::Request<Incoming>| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"hello"))))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
            });
        }
    }
}
