//! The HTTP requests this server makes: Whop's API, presigned upload URLs and OAuth key sets.
//! One pooled HTTP/1.1 client on hyper, TLS by rustls with the webpki roots, proxies from the
//! environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, as curl reads them),
//! and no redirects followed: every URL must answer for itself.
//!
//! It replaced reqwest, which is built on the same crates. Its layers cost a sixth of a
//! `list_messages` call's instructions (bench/README.md): a redirect policy that parsed each
//! URL again, the response's URL parsed once more, default headers merged into every request.
//! The pool is this module's own, over hyper's connection API: a request takes an idle
//! connection to its host (or opens one), and gives it back once its answer is read whole;
//! connections idle past the timeout are closed.
//! hyper-util's pool, used before, spawned a task per request to give the connection back.
//! Timeouts are the caller's: one `tokio::time::timeout` around [`Outbound::exchange`] covers
//! the connection, the request and the whole answer.

use std::{
    error::Error as StdError,
    fmt, io,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::Stream;
use http::{
    HeaderMap, HeaderValue, Request, StatusCode, Uri, header,
    uri::{Authority, Scheme},
};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::{
    body::{Body, Frame, SizeHint},
    client::conn::http1,
};
use hyper_util::{
    client::{
        legacy::connect::{Connected, Connection, HttpConnector, proxy::Tunnel},
        proxy::matcher::Matcher,
    },
    rt::TokioIo,
};
use tokio::{io::AsyncRead, net::TcpStream};
use tower::ServiceExt as _;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What this server calls itself in every request.
pub(crate) const USER_AGENT: &str = concat!("whop-chat-mcp/", env!("CARGO_PKG_VERSION"));

/// Where a request to `url` goes: the URL without its fragment (never sent; a `Uri` has no
/// room for one). The error says why, without the URL (a presigned one carries a signature).
pub(crate) fn request_uri(url: Result<url::Url, url::ParseError>) -> Result<Uri, String> {
    let mut url = url.map_err(|e| e.to_string())?;
    url.set_fragment(None);
    Uri::try_from(url.as_str()).map_err(|e| e.to_string())
}

/// Settings for [`Outbound::new`].
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Longest wait for a TCP connection (a proxy's included).
    pub(crate) connect_timeout: Duration,
    /// How long an idle connection is kept for the next request.
    pub(crate) idle_timeout: Duration,
    /// Whether the proxy variables of the environment apply. Off for a server on this
    /// machine, which must never be reached through a proxy.
    pub(crate) proxies: bool,
}

/// The client. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub(crate) struct Outbound {
    inner: Arc<Inner>,
}

struct Inner {
    connector: hyper_rustls::HttpsConnector<Dial>,
    /// Connections waiting for their next request, the most recently used last.
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
    /// Whether a task is on its way to close the idle connections that outlive the timeout.
    reaping: AtomicBool,
    /// The proxy rules, when the environment names a proxy.
    proxies: Option<Arc<Matcher>>,
}

/// An open connection with no request on it.
struct Idle {
    to: Destination,
    sender: http1::SendRequest<OutBody>,
    since: Instant,
}

/// Where a connection goes: the scheme and authority of the URLs it serves, and whether it is
/// to an HTTP proxy (which then gets every request in absolute form).
struct Destination {
    https: bool,
    authority: Authority,
    proxied: bool,
}

/// Most idle connections kept (all hosts together); the oldest goes first.
const MAX_IDLE: usize = 32;

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("proxies", &self.inner.proxies.is_some())
            .finish_non_exhaustive()
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why an exchange failed. Its text never holds the URL (a presigned one carries a
/// signature) nor a header.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) stage: Stage,
    source: BoxError,
}

/// How far an exchange got before it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// No connection (or proxy tunnel) could be opened: the request was never sent.
    Connect,
    /// The connection broke before an answer arrived: the request may have been received.
    Send,
    /// The answer began but its body did not arrive whole.
    Body,
    /// The answer's body is longer than the caller's limit (not read further).
    TooLarge,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.stage {
            Stage::Connect => "the connection could not be opened",
            Stage::Send => "the connection was closed before an answer arrived",
            Stage::Body => "the connection broke while the answer was being received",
            Stage::TooLarge => return f.write_str("the answer is larger than allowed"),
        })?;
        // The innermost cause says what happened (refused, reset, certificate…); the layers
        // above it only say where.
        let mut cause: &(dyn StdError + 'static) = &*self.source;
        while let Some(next) = cause.source() {
            cause = next;
        }
        write!(f, " ({cause})")
    }
}

impl StdError for Failure {}

impl Outbound {
    pub(crate) fn new(options: Options) -> Result<Self, String> {
        let proxies = (options.proxies && proxy_configured()).then(Matcher::from_env);
        Self::with_proxies(options, proxies)
    }

    fn with_proxies(options: Options, proxies: Option<Matcher>) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        // Whop's URLs are https; the connector below adds TLS to those.
        http.enforce_http(false);
        http.set_connect_timeout(Some(options.connect_timeout));
        http.set_nodelay(true);
        let proxies = proxies.map(Arc::new);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(
                hyper_rustls::ConfigBuilderExt::with_webpki_roots(tls).with_no_client_auth(),
            )
            .https_or_http()
            .enable_http1()
            .wrap_connector(Dial {
                http,
                proxies: proxies.clone(),
            });
        Ok(Outbound {
            inner: Arc::new(Inner {
                connector,
                idle: Mutex::default(),
                idle_timeout: options.idle_timeout,
                reaping: AtomicBool::new(false),
                proxies,
            }),
        })
    }

    /// Sends `request` and reads the whole answer, up to `limit` bytes of body when given.
    /// Sets `Host` (from the URI), this server's `User-Agent` and, through an HTTP proxy,
    /// `Proxy-Authorization`.
    pub(crate) async fn exchange(
        &self,
        mut request: Request<OutBody>,
        limit: Option<usize>,
    ) -> Result<Answer, Failure> {
        request
            .headers_mut()
            .insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if let Some(proxies) = &self.inner.proxies
            && request.uri().scheme() == Some(&Scheme::HTTP)
            && let Some(auth) = proxies
                .intercept(request.uri())
                .and_then(|p| p.basic_auth().cloned())
        {
            // A plain-http request goes to the proxy itself (in absolute form): it carries
            // the proxy's credentials. An https one goes through a tunnel that was opened
            // with them (`Dial`).
            request
                .headers_mut()
                .insert(header::PROXY_AUTHORIZATION, auth);
        }
        let uri = request.uri().clone();
        let (https, authority) = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority))
                if *scheme == Scheme::HTTPS || *scheme == Scheme::HTTP =>
            {
                (*scheme == Scheme::HTTPS, authority.clone())
            }
            _ => {
                return Err(Failure {
                    stage: Stage::Connect,
                    source: "the URL has no http(s) scheme or no host".into(),
                });
            }
        };
        if !request.headers().contains_key(header::HOST) {
            request.headers_mut().insert(header::HOST, host(&uri));
        }
        let (mut to, mut sender, mut reused) = match self.checkout(https, &authority).await {
            Some((to, sender)) => (to, sender, true),
            None => {
                let (to, sender) = Box::pin(self.connect(&uri, https, &authority)).await?;
                (to, sender, false)
            }
        };
        let response = loop {
            request_target(request.uri_mut(), &uri, to.proxied);
            match sender.try_send_request(request).await {
                Ok(response) => break response,
                Err(mut e) => match e.take_message() {
                    // A kept connection that closed before it took the request (the server
                    // ended it while it was idle): the request was not sent, so it goes on a
                    // new connection.
                    Some(unsent) if reused => {
                        request = unsent;
                        (to, sender) = Box::pin(self.connect(&uri, https, &authority)).await?;
                        reused = false;
                    }
                    _ => {
                        return Err(Failure {
                            stage: Stage::Send,
                            source: e.into_error().into(),
                        });
                    }
                },
            }
        };
        let (parts, body) = response.into_parts();
        let too_large = |source| Failure {
            stage: Stage::TooLarge,
            source,
        };
        let body = match limit {
            Some(limit) => {
                if body.size_hint().lower() > limit as u64 {
                    return Err(too_large("Content-Length over the limit".into()));
                }
                Limited::new(body, limit).collect().await
            }
            None => body.collect().await.map_err(Into::into),
        }
        .map_err(|source| {
            if source.is::<LengthLimitError>() {
                too_large(source)
            } else {
                Failure {
                    stage: Stage::Body,
                    source,
                }
            }
        })?;
        // Read whole: the connection can take the next request (unless the answer closed it).
        self.checkin(to, sender);
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes(),
        })
    }
}

impl Outbound {
    /// An idle connection to `authority` that can take a request, if there is one. Drops
    /// those that closed or waited longer than the idle timeout.
    async fn checkout(
        &self,
        https: bool,
        authority: &Authority,
    ) -> Option<(Destination, http1::SendRequest<OutBody>)> {
        loop {
            let mut idle = {
                let mut list = self.inner.lock_idle();
                let at = list
                    .iter()
                    .rposition(|c| c.to.https == https && c.to.authority == *authority)?;
                list.remove(at)
            };
            // Usually ready at once; a connection that closed meanwhile fails here instead
            // of failing the request.
            if idle.sender.ready().await.is_ok() {
                return Some((idle.to, idle.sender));
            }
        }
    }

    /// Keeps a connection whose answer was read whole for the next request, and makes sure a
    /// task will close it if it waits past the idle timeout.
    fn checkin(&self, to: Destination, sender: http1::SendRequest<OutBody>) {
        if sender.is_closed() {
            return;
        }
        let mut list = self.inner.lock_idle();
        if list.len() >= MAX_IDLE {
            list.remove(0);
        }
        list.push(Idle {
            to,
            sender,
            since: Instant::now(),
        });
        if !self.inner.reaping.swap(true, Ordering::AcqRel) {
            tokio::spawn(reap(Arc::downgrade(&self.inner), self.inner.idle_timeout));
        }
    }

    /// Opens a connection for `uri` (through a proxy when the rules say so) and starts the
    /// task that drives it; the task ends when the connection closes or is dropped from the
    /// pool. Callers box its future: it is the largest part of an exchange and rarely runs,
    /// and every future that holds an exchange (rmcp's per-request task among them, through
    /// the resource handlers) is copied whole when it moves.
    async fn connect(
        &self,
        uri: &Uri,
        https: bool,
        authority: &Authority,
    ) -> Result<(Destination, http1::SendRequest<OutBody>), Failure> {
        let failed = |source: BoxError| Failure {
            stage: Stage::Connect,
            source,
        };
        let io = self
            .inner
            .connector
            .clone()
            .oneshot(uri.clone())
            .await
            .map_err(failed)?;
        let proxied = io.connected().is_proxied();
        let (sender, connection) = http1::handshake(io).await.map_err(|e| failed(e.into()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "outbound connection ended");
            }
        });
        Ok((
            Destination {
                https,
                authority: authority.clone(),
                proxied,
            },
            sender,
        ))
    }
}

impl Inner {
    /// The idle list, without the connections that closed or waited past the timeout (dropped
    /// here, which closes them).
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        let mut list = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < self.idle_timeout);
        list
    }
}

/// Closes idle connections as they pass the timeout, until none is left (the next one kept
/// starts another) or the client is gone. One wake-up per timeout while connections wait.
async fn reap(inner: std::sync::Weak<Inner>, timeout: Duration) {
    loop {
        tokio::time::sleep(timeout).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let list = inner.lock_idle();
        if list.is_empty() {
            // Under the lock: a connection kept after this sees the flag down and starts
            // another task.
            inner.reaping.store(false, Ordering::Release);
            return;
        }
    }
}

/// The `Host` header for `uri`: its host, and its port unless it is the scheme's default.
fn host(uri: &Uri) -> HeaderValue {
    let host = uri.host().unwrap_or_default();
    let default = if uri.scheme() == Some(&Scheme::HTTPS) {
        443
    } else {
        80
    };
    let value = match uri.port_u16() {
        Some(port) if port != default => HeaderValue::try_from(format!("{host}:{port}")),
        _ => HeaderValue::from_str(host),
    };
    // A host that parsed as part of a `Uri` is a valid header value.
    value.unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request-target for `uri` on a connection: the path and query (origin form), or the
/// whole URL to an HTTP proxy (absolute form).
fn request_target(target: &mut Uri, uri: &Uri, proxied: bool) {
    *target = if proxied {
        uri.clone()
    } else {
        match uri.path_and_query() {
            Some(path) if path.as_str() != "/" => {
                let mut parts = http::uri::Parts::default();
                parts.path_and_query = Some(path.clone());
                Uri::from_parts(parts).unwrap_or_default()
            }
            _ => Uri::default(),
        }
    };
}

/// Whether the environment names a proxy (the rules are only consulted then).
fn proxy_configured() -> bool {
    [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// A request body: nothing, bytes, or a file streamed from its open handle.
pub(crate) enum OutBody {
    Bytes(Option<Bytes>),
    File {
        stream: tokio_util::io::ReaderStream<Pin<Box<dyn AsyncRead + Send + Sync>>>,
        len: u64,
    },
}

impl OutBody {
    pub(crate) fn empty() -> Self {
        OutBody::Bytes(None)
    }

    /// The first `len` bytes of `reader`, read 64 KiB at a time.
    pub(crate) fn stream(reader: impl AsyncRead + Send + Sync + 'static, len: u64) -> Self {
        use tokio::io::AsyncReadExt as _;
        OutBody::File {
            stream: tokio_util::io::ReaderStream::with_capacity(
                Box::pin(reader.take(len)),
                64 * 1024,
            ),
            len,
        }
    }
}

impl From<Bytes> for OutBody {
    fn from(bytes: Bytes) -> Self {
        OutBody::Bytes((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut *self {
            OutBody::Bytes(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            OutBody::File { stream, .. } => Pin::new(stream)
                .poll_next(cx)
                .map(|chunk| chunk.map(|c| c.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, OutBody::Bytes(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutBody::Bytes(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            OutBody::File { len, .. } => SizeHint::with_exact(*len),
        }
    }
}

/// Opens the TCP connection for a URL: straight to its host, through a proxy's `CONNECT`
/// tunnel (https, then TLS inside it), or to an HTTP proxy that takes the request itself.
#[derive(Clone)]
struct Dial {
    http: HttpConnector,
    proxies: Option<Arc<Matcher>>,
}

impl tower::Service<Uri> for Dial {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let http = self.http.clone();
        let proxy = self.proxies.as_ref().and_then(|m| m.intercept(&dst));
        Box::pin(async move {
            let Some(proxy) = proxy else {
                return Ok(Conn {
                    io: http.oneshot(dst).await?,
                    proxied: false,
                });
            };
            if dst.scheme() == Some(&Scheme::HTTPS) {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Ok(Conn {
                    io: tunnel.oneshot(dst).await?,
                    proxied: false,
                })
            } else {
                Ok(Conn {
                    io: http.oneshot(proxy.uri().clone()).await?,
                    proxied: true,
                })
            }
        })
    }
}

/// A TCP connection, and whether it goes to an HTTP proxy (which then gets every request in
/// absolute form).
struct Conn {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::{
        io::{AsyncReadExt as _, AsyncWriteExt as _},
        net::TcpListener,
    };

    fn options() -> Options {
        Options {
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            proxies: false,
        }
    }

    fn get(uri: &str) -> Request<OutBody> {
        let mut r = Request::new(OutBody::empty());
        *r.uri_mut() = uri.parse().unwrap();
        r
    }

    /// Reads one request head (through the blank line) and the `Content-Length` bytes after.
    async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let len = header(&head, "content-length").map_or(0, |n| n.parse().unwrap());
        let mut body = vec![0; len];
        socket.read_exact(&mut body).await.ok()?;
        Some((head, body))
    }

    /// A server that answers the requests it reads with `answers`, in order, on as many
    /// connections as the client opens: an empty answer closes the connection instead, one
    /// with `Connection: close` closes it after. Gives its address, and once the answers are
    /// spent, how many connections it took and the requests it read.
    async fn serve(
        answers: Vec<&'static str>,
    ) -> (
        String,
        tokio::task::JoinHandle<(usize, Vec<(String, Vec<u8>)>)>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut answers = answers.into_iter().peekable();
            let mut seen = Vec::new();
            let mut connections = 0;
            while answers.peek().is_some() {
                let (mut socket, _) = listener.accept().await.unwrap();
                connections += 1;
                while answers.peek().is_some() {
                    let Some(request) = read_request(&mut socket).await else {
                        break;
                    };
                    seen.push(request);
                    let answer = answers.next().unwrap();
                    if answer.is_empty() {
                        break;
                    }
                    socket.write_all(answer.as_bytes()).await.unwrap();
                    if answer.contains("Connection: close") {
                        break;
                    }
                }
            }
            (connections, seen)
        });
        (address, task)
    }

    #[tokio::test]
    async fn answers_are_read_whole_on_one_kept_connection() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Request-Id: req_1\r\n\r\nhello";
        let (address, server) = serve(vec![ok, ok]).await;
        let client = Outbound::new(options()).unwrap();
        for _ in 0..2 {
            let answer = client
                .exchange(get(&format!("{address}/a?b=c")), None)
                .await
                .unwrap();
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.body, "hello");
            assert_eq!(answer.headers["x-request-id"], "req_1");
        }
        let (connections, seen) = server.await.unwrap();
        assert_eq!(connections, 1, "the second request reuses the connection");
        let host = address.trim_start_matches("http://");
        assert!(
            seen[0].0.starts_with("GET /a?b=c HTTP/1.1\r\n"),
            "{}",
            seen[0].0
        );
        assert_eq!(header(&seen[0].0, "host"), Some(host), "{}", seen[0].0);
        assert_eq!(
            header(&seen[0].0, "user-agent"),
            Some(USER_AGENT),
            "{}",
            seen[0].0
        );
    }

    #[tokio::test]
    async fn a_file_body_is_streamed_with_its_length() {
        let (address, server) =
            serve(vec!["HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"]).await;
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &data).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let mut r = Request::new(OutBody::stream(tokio::fs::File::from_std(file), 150_000));
        *r.method_mut() = http::Method::PUT;
        *r.uri_mut() = format!("{address}/upload").parse().unwrap();
        let answer = Outbound::new(options())
            .unwrap()
            .exchange(r, None)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::CREATED);
        let (_, seen) = server.await.unwrap();
        assert_eq!(
            header(&seen[0].0, "content-length"),
            Some("150000"),
            "{}",
            seen[0].0
        );
        assert_eq!(seen[0].1, data[..150_000]);
    }

    #[tokio::test]
    async fn kept_connections_end_when_the_server_closes_them_or_they_wait_too_long() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        // Each connection answers one request, then the server closes it: the client, which
        // kept it, must notice and open another.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut socket, _) = listener.accept().await.unwrap();
                read_request(&mut socket).await.unwrap();
                socket.write_all(ok.as_bytes()).await.unwrap();
                // Closed after the client has put it back in its pool.
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        });
        let client = Outbound::new(options()).unwrap();
        for _ in 0..2 {
            let answer = client.exchange(get(&address), None).await.unwrap();
            assert_eq!(answer.body, "ok");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.await.unwrap();

        // Past the idle timeout a kept connection is closed, not used.
        let (address, server) = serve(vec![ok, ok]).await;
        let client = Outbound::new(Options {
            idle_timeout: Duration::ZERO,
            ..options()
        })
        .unwrap();
        for _ in 0..2 {
            client.exchange(get(&address), None).await.unwrap();
        }
        assert_eq!(server.await.unwrap().0, 2);

        // An idle connection is closed once it passes the timeout, with no request to notice.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            read_request(&mut socket).await.unwrap();
            socket.write_all(ok.as_bytes()).await.unwrap();
            let mut rest = [0u8; 1];
            tokio::time::timeout(Duration::from_secs(5), socket.read(&mut rest)).await
        });
        let client = Outbound::new(Options {
            idle_timeout: Duration::from_millis(100),
            ..options()
        })
        .unwrap();
        client.exchange(get(&address), None).await.unwrap();
        let closed = server.await.unwrap();
        assert!(
            matches!(closed, Ok(Ok(0))),
            "the idle connection was not closed: {closed:?}"
        );
    }

    #[tokio::test]
    async fn failures_say_how_far_the_exchange_got() {
        let client = Outbound::new(options()).unwrap();
        // Nothing listens: never sent.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let e = client.exchange(get(&address), None).await.unwrap_err();
        assert_eq!(e.stage, Stage::Connect);
        assert!(
            e.to_string()
                .starts_with("the connection could not be opened ("),
            "{e}"
        );
        assert!(!e.to_string().contains("127.0.0.1"), "{e}");

        // Read, then closed without an answer: it may have been received.
        let (address, _server) = serve(vec![""]).await;
        let e = client.exchange(get(&address), None).await.unwrap_err();
        assert_eq!(e.stage, Stage::Send, "{e}");

        // The answer stops short of its length.
        let (address, _server) = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort",
        ])
        .await;
        let e = client.exchange(get(&address), None).await.unwrap_err();
        assert_eq!(e.stage, Stage::Body, "{e}");
    }

    #[tokio::test]
    async fn a_limit_stops_a_long_answer() {
        let client = Outbound::new(options()).unwrap();
        let (address, _server) = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789",
        ])
        .await;
        let e = client.exchange(get(&address), Some(10)).await.unwrap_err();
        assert_eq!(e.stage, Stage::TooLarge);
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n";
        let (address, _server) = serve(vec![chunked]).await;
        let e = client.exchange(get(&address), Some(10)).await.unwrap_err();
        assert_eq!(e.stage, Stage::TooLarge);
        let (address, _server) = serve(vec![chunked]).await;
        let answer = client.exchange(get(&address), Some(16)).await.unwrap();
        assert_eq!(answer.body, "0123456701234567");
    }

    fn proxied(proxy: &str, https: bool) -> Outbound {
        let proxy = proxy.replace("http://", "http://user:p%40ss@");
        let matcher = if https {
            Matcher::builder().https(proxy)
        } else {
            Matcher::builder().http(proxy)
        }
        .build();
        Outbound::with_proxies(options(), Some(matcher)).unwrap()
    }

    /// `user:p@ss`, as a proxy reads it.
    const CREDENTIALS: &str = "Basic dXNlcjpwQHNz";

    /// The value of header `name` in a request head.
    fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
        head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    #[tokio::test]
    async fn an_http_proxy_gets_the_request_in_absolute_form_with_its_credentials() {
        let (proxy, server) = serve(vec!["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
        let client = proxied(&proxy, false);
        let answer = client
            .exchange(get("http://api.example.invalid/v1/x?y=1"), None)
            .await
            .unwrap();
        assert_eq!(answer.body, "ok");
        let (_, seen) = server.await.unwrap();
        let head = &seen[0].0;
        assert!(
            head.starts_with("GET http://api.example.invalid/v1/x?y=1 HTTP/1.1\r\n"),
            "{head}"
        );
        assert_eq!(
            header(head, "proxy-authorization"),
            Some(CREDENTIALS),
            "{head}"
        );
    }

    #[tokio::test]
    async fn https_goes_through_a_connect_tunnel_then_tls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (head, _) = read_request(&mut socket).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .unwrap();
            // What comes through the tunnel: the client's TLS hello for the target.
            let mut record = [0u8; 5];
            socket.read_exact(&mut record).await.unwrap();
            let mut hello = vec![0u8; usize::from(u16::from_be_bytes([record[3], record[4]]))];
            socket.read_exact(&mut hello).await.unwrap();
            (head, record[0], hello)
        });
        let client = proxied(&proxy, true);
        // The tunnel's far end is no TLS server: the handshake fails once the hello is out.
        let e = client
            .exchange(get("https://api.example.invalid/v1/x"), None)
            .await
            .unwrap_err();
        assert_eq!(e.stage, Stage::Connect, "{e}");
        let (head, kind, hello) = server.await.unwrap();
        assert!(
            head.starts_with("CONNECT api.example.invalid:443 HTTP/1.1\r\n"),
            "{head}"
        );
        assert_eq!(
            header(&head, "proxy-authorization"),
            Some(CREDENTIALS),
            "{head}"
        );
        assert_eq!(kind, 0x16, "a TLS handshake record");
        assert!(
            hello.windows(19).any(|w| w == b"api.example.invalid"),
            "the hello names the target (SNI), not the proxy"
        );
    }
}
