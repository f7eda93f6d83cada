//! What both listeners share below the request handlers: when each request began (for the
//! whole-request deadline), the panic counter and the test hook, serving a connection until
//! shutdown, and closing the connections still open when the drain deadline passes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

/// Counters of the running server, reported by the admin `GET /health`.
#[derive(Debug, Default)]
pub struct Counters {
    panics_caught: AtomicU64,
}

impl Counters {
    /// Panics caught since the start: in request handlers of both listeners (each answered
    /// with an error) and anywhere else in a connection's task (that connection is closed).
    pub fn panics_caught(&self) -> u64 {
        self.panics_caught.load(Ordering::Relaxed)
    }

    pub(crate) fn panic_caught(&self) {
        self.panics_caught.fetch_add(1, Ordering::Relaxed);
    }
}

/// The listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The mutual-TLS PFS endpoint.
    Pfs,
    /// The admin API.
    Admin,
}

/// For tests only (see [`crate::ServeOptions::request_hook`]): called with the listener and the
/// request's headers at the start of every request, inside the handler's panic guard.
#[doc(hidden)]
pub type RequestHook = Arc<dyn Fn(Listener, &http::HeaderMap) + Send + Sync>;

/// When the request being read on one connection began: the first byte read after the
/// previous response was written (or after the connection opened).
///
/// hyper times the headers itself (from the moment it waits for a request, so an idle
/// keep-alive connection is closed by the same timer); this is what the whole-request
/// deadline counts from, so that time spent idle between requests is not counted.
#[derive(Debug)]
pub(crate) struct RequestStart(Mutex<StartState>);

#[derive(Debug)]
struct StartState {
    /// A response was written since the last stamp: the next byte read starts a request.
    armed: bool,
    at: Option<Instant>,
}

impl RequestStart {
    pub(crate) fn new() -> Arc<RequestStart> {
        Arc::new(RequestStart(Mutex::new(StartState {
            armed: true,
            at: None,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StartState> {
        // Nothing can panic while the lock is held; recover the state all the same.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_read(&self) {
        let mut s = self.state();
        if s.armed {
            s.armed = false;
            s.at = Some(Instant::now());
        }
    }

    fn on_write(&self) {
        self.state().armed = true;
    }

    /// When the request whose head was just read began. A request that arrived together with
    /// an earlier one (pipelined) has no stamp of its own and counts from now.
    pub(crate) fn take(&self) -> Instant {
        self.state().at.take().unwrap_or_else(Instant::now)
    }
}

/// A connection's I/O that stamps [`RequestStart`] as bytes come and go.
pub(crate) struct Stamped<T> {
    inner: T,
    start: Arc<RequestStart>,
}

impl<T> Stamped<T> {
    pub(crate) fn new(inner: T, start: Arc<RequestStart>) -> Self {
        Stamped { inner, start }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stamped<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.start.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stamped<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.start.on_write();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.start.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Why a request body was not read.
pub(crate) enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// Not complete by the deadline.
    TimedOut,
    /// The connection failed or the framing was invalid.
    Unreadable,
}

/// Reads a whole request body of at most `max` bytes, giving up at `deadline`. The frames are
/// appended to one buffer, sized up front by `expected` (the `Content-Length`, when it is within
/// `max`), so that a large body (a `MessageCreate` with attachments) is held once rather than
/// as its frames and then a copy of them.
pub(crate) async fn read_body(
    body: Incoming,
    max: usize,
    expected: Option<usize>,
    deadline: Instant,
) -> Result<Bytes, BodyError> {
    let read = async {
        let mut body = Limited::new(body, max);
        let mut buf = Vec::with_capacity(expected.unwrap_or(0).min(max));
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                buf.extend_from_slice(&data);
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Bytes::from(buf))
    };
    match tokio::time::timeout_at(deadline, read).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Unreadable),
    }
}

/// A request body that fails once its deadline passes, and says so in `fired`; for handlers
/// that read the body themselves, after their own checks (the admin API's token comes first).
pub(crate) struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    fired: Arc<AtomicBool>,
}

impl DeadlineBody {
    pub(crate) fn new(inner: Incoming, deadline: Instant, fired: Arc<AtomicBool>) -> Self {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            fired,
        }
    }
}

/// The error a [`DeadlineBody`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimedOut;

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.fired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Resolves once the server is stopping (or its handle is gone).
pub(crate) async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves one HTTP/1.1 connection; when the server starts stopping, lets the request in
/// progress finish and then closes (an idle connection closes at once). Whatever is still
/// open when the drain deadline passes is aborted by [`drain`].
pub(crate) async fn serve_until_stopped<I, S, B>(
    conn: hyper::server::conn::http1::Connection<I, S>,
    mut shutdown: watch::Receiver<bool>,
) -> hyper::Result<()>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => return ended,
        _ = stopping(&mut shutdown) => {}
    }
    conn.as_mut().graceful_shutdown();
    conn.await
}

/// Takes note of a connection task that ended: one that panicked outside a request handler
/// (TLS, HTTP framing) is counted; its connection is already gone.
pub(crate) fn reap(ended: Result<(), JoinError>, counters: &Counters, listener: &str) {
    if let Err(e) = ended
        && e.is_panic()
    {
        counters.panic_caught();
        tracing::error!(
            listener,
            "a connection task panicked; its connection was closed"
        );
    }
}

/// After a listener stopped accepting: waits up to `deadline` for its connections to finish
/// the requests they are serving, then closes every connection still open (half-sent requests
/// included).
pub(crate) async fn drain(
    conns: &mut JoinSet<()>,
    deadline: Duration,
    counters: &Counters,
    listener: &str,
) {
    let finished = tokio::time::timeout(deadline, async {
        while let Some(ended) = conns.join_next().await {
            reap(ended, counters, listener);
        }
    })
    .await;
    if finished.is_err() {
        tracing::info!(
            listener,
            open = conns.len(),
            "closing the connections still open at the drain deadline"
        );
        conns.shutdown().await;
    }
}
