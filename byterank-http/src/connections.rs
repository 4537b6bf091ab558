//! Serving connections: a cap on how many are open, a deadline for a request's
//! headers and one for its body, and a graceful stop (connections finish the
//! requests they have begun, then close).
//!
//! Slow clients are dropped: a connection that has not sent a request's
//! headers within the header deadline is closed, and a body that stalls past
//! the body deadline is refused (408). Past the cap, a new connection waits to
//! be accepted until one closes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How connections are served.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// From a connection's start (or its last request's end) to a request's
    /// complete headers.
    pub header_timeout: Duration,
    /// A request's body, whole.
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(300),
        }
    }
}

/// Serves `router` on `listener` until `stop` completes, then stops accepting,
/// lets open connections finish the requests they have begun (at most `grace`),
/// and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    grace: Duration,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_timeout))
        .layer(axum::middleware::from_fn(crate::error::json_errors));
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then accept again.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(axum::body::Body::new)
        });
        let io = TokioIo::new(JsonRefusals::new(stream));
        let conn = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("connections still open after {grace:?}: closing them"),
    }
    Ok(())
}

/// A connection whose HTTP/1 parse refusals are answered as JSON. hyper answers a
/// request it cannot parse itself (414 for a path longer than `http` can hold,
/// 431 for headers past its buffer, 400 for a malformed request line) with an
/// empty body, before any route sees it. Such an answer is the only `4xx`
/// with `content-length: 0` this service writes (the routes' errors are JSON),
/// so it is recognised as it is written and replaced by an
/// [`ApiError`](crate::error::ApiError) with the same status, after which hyper
/// closes the connection.
pub struct JsonRefusals<S> {
    inner: S,
    /// A replacement being written: its bytes, how many are out, and the length
    /// of what hyper asked to write (reported once the replacement is out).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<S> JsonRefusals<S> {
    /// Wraps a connection.
    pub fn new(inner: S) -> Self {
        JsonRefusals { inner, pending: None }
    }
}

/// The JSON answer for hyper's empty refusal `head`, if it is one.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    if !head.starts_with(b"HTTP/1.1 4") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    if !text.lines().any(|l| l.eq_ignore_ascii_case("content-length: 0")) {
        return None;
    }
    let status: u16 = text.get(9..12)?.parse().ok()?;
    let message = match status {
        414 => "the request's path and query are too long (at most 65534 bytes): shorten them",
        431 => "the request's headers are too large: send fewer or shorter headers",
        400 => "the request does not read as HTTP/1.1: check its request line and headers",
        _ => return None,
    };
    let code = match status {
        414 => "uri_too_long",
        431 => "headers_too_large",
        _ => "bad_request",
    };
    let body = serde_json::json!({ "status": status, "code": code, "message": message }).to_string();
    let reason = text.lines().next()?.get(13..).unwrap_or("");
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for JsonRefusals<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> JsonRefusals<S> {
    /// Writes the pending replacement out; ready with the length hyper asked for.
    fn drain(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        while let Some((bytes, done, _)) = &mut self.pending {
            if *done == bytes.len() {
                let (_, _, asked) = self.pending.take().expect("pending");
                return Poll::Ready(Ok(asked));
            }
            match std::pin::Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                other => return other,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for JsonRefusals<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.pending.is_none() {
            match replacement(buf) {
                Some(r) => self.pending = Some((r, 0, buf.len())),
                None => return std::pin::Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        self.drain(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.pending.is_none() {
            let first = bufs.iter().find(|b| !b.is_empty());
            match first.and_then(|b| replacement(b)) {
                Some(r) => self.pending = Some((r, 0, first.map_or(0, |b| b.len()))),
                None => return std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
            }
        }
        self.drain(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn hypers_empty_refusals_become_json_and_nothing_else_does() {
        let head = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let r = String::from_utf8(replacement(head).unwrap()).unwrap();
        assert!(r.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{r}");
        let body: serde_json::Value = serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(414), Some("uri_too_long")));
        let len: usize = r.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
        assert_eq!(len, r.split("\r\n\r\n").nth(1).unwrap().len());
        // The routes' own answers, and successes, pass untouched.
        assert!(replacement(b"HTTP/1.1 404 Not Found\r\ncontent-length: 78\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"{\"status\":414}").is_none());
    }
}
