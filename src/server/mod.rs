//! The HTTP server: accept loop, optional TLS, one hyper HTTP/1.1 connection task per client,
//! slow-client guards, graceful shutdown. `run` takes an already bound listener so tests can bind
//! port 0 and run several instances in one process.

mod conns;
pub mod request;
pub mod response;
pub mod routes;
pub mod upload;
pub mod acme;
pub mod cache;
mod tls;

use crate::app::App;
use crate::error::Result;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
/// (bounded by 10 s) and returns.
pub async fn run(app: App, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
    let (tls, acme, http01) = match &app.config.tls {
        Some(t) => {
            let (acceptor, manager) = tls::acceptor(&app.data, &app.config, t)?;
            // HTTP-01 (`challenge = "http-01"`): the CA validates on plain HTTP, port 80.
            let http01 = match manager.as_ref().and_then(|m| m.http01()) {
                Some(h) => {
                    let l = TcpListener::bind(h.listen).await.map_err(|e| {
                        crate::error::Error::Config(format!("key `tls.http_listen`: cannot listen on {} for ACME HTTP-01: {e} (port 80 needs CAP_NET_BIND_SERVICE)", h.listen))
                    })?;
                    Some(tokio::spawn(acme::serve_http01(l, h)))
                }
                None => None,
            };
            (Some(acceptor), manager.map(|m| tokio::spawn(m.run())), http01)
        }
        None => (None, None, None),
    };
    // Graceful shutdown by hand: hyper-util's GracefulShutdown has no impl for http1's
    // UpgradeableConnection (needed for the streaming API's WebSockets). `stop` tells every
    // connection to finish; `open` closes when the last connection task has ended.
    let (stop, _) = tokio::sync::watch::channel(false);
    let (open_tx, mut open) = tokio::sync::mpsc::channel::<()>(1);
    // The delivery worker lives as long as the server; queued jobs survive in the store.
    let worker = tokio::spawn(crate::federation::deliver::run(app.clone()));
    // Relay subscriptions from before the instance actor followed them move to it (once).
    if let Err(e) = crate::domain::relays::upgrade(&app) {
        tracing::warn!("relays: moving subscriptions to the instance actor: {e}");
    }
    let timeout = Duration::from_secs(app.config.request_timeout_secs);
    let conns = conns::Conns::new(app.config.max_connections as usize);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // At the cap, the idlest connection makes room (slow or idle clients cannot fill the
        // server and lock the owner out); if every connection is busy, the newcomer is dropped.
        let Some(conn) = conns.admit() else {
            tracing::debug!(%peer, "connection cap reached and none idle: dropped");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stopping = stop.subscribe();
        let open_tx = open_tx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(timeout).keep_alive(true).max_buf_size(64 * 1024);
            let activity = conn.clone();
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                let busy = activity.busy();
                async move {
                    let r = routes::handle(app, req, peer).await;
                    drop(busy);
                    Ok::<_, std::convert::Infallible>(r)
                }
            });
            let closed = conn.closed();
            let serve = async {
                match tls {
                    Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        // A TLS-ALPN-01 validation (RFC 8737): the handshake was the answer.
                        Ok(Ok(s)) if s.get_ref().1.alpn_protocol() == Some(acme::ACME_TLS_ALPN) => Ok(()),
                        Ok(Ok(s)) => graceful(builder.serve_connection(TokioIo::new(s), service).with_upgrades(), &mut stopping).await,
                        Ok(Err(e)) => Ok(tracing::debug!(%peer, "TLS handshake failed: {e}")),
                        Err(_) => Ok(tracing::debug!(%peer, "TLS handshake timed out")),
                    },
                    // with_upgrades: the streaming API's WebSockets (handlers/api/streaming.rs).
                    None => graceful(builder.serve_connection(TokioIo::new(stream), service).with_upgrades(), &mut stopping).await,
                }
            };
            let result = tokio::select! {
                r = serve => r,
                _ = closed => return tracing::debug!(%peer, "idle connection shed at the connection cap"),
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(open_tx);
        });
    }
    drop(listener);
    if let Some(acme) = acme {
        acme.abort();
    }
    if let Some(h) = http01 {
        h.abort();
    }
    worker.abort();
    let _ = worker.await; // its App handle is released before run() returns
    // Live streams (deck, streaming API) end, or their connections would never finish.
    app.store.live.shut_down();
    tokio::select! {
        _ = async { let _ = stop.send(true); drop(open_tx); open.recv().await } => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("shutdown: gave up waiting for open connections"),
    }
    Ok(())
}

/// Binds the configured address with a readable error (port in use, permission denied).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        crate::error::Error::Config(format!("key `listen`: cannot listen on {addr}: {e}"))
    })
}

/// Serves one connection until it ends; once `stopping` turns true, lets the request in flight
/// finish and closes (hyper's graceful_shutdown).
async fn graceful<I, S, B>(conn: hyper::server::conn::http1::UpgradeableConnection<I, S>, stopping: &mut tokio::sync::watch::Receiver<bool>) -> hyper::Result<()>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => return r,
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {}
    }
    conn.as_mut().graceful_shutdown();
    conn.await
}
