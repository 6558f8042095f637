//! Streamable HTTP transport: the same server at `/mcp` (rmcp's `StreamableHttpService` on
//! axum), plus `GET /healthz` and, with OAuth, `GET /.well-known/oauth-protected-resource`.
//!
//! - Stateless: every request stands alone (no `Mcp-Session-Id`), so any number of instances
//!   can run behind a plain load balancer.
//! - Authentication: with `WHOP_MCP_HTTP_TOKEN` set, every `/mcp` request must carry
//!   `Authorization: Bearer <token>` (compared in constant time), else 401. With
//!   `WHOP_MCP_OAUTH_ISSUER` instead, the bearer is an OAuth access token whose scopes decide
//!   which tools the request reaches ([`crate::oauth`]). Without either the server only listens
//!   on a loopback address, and says so on stderr.
//! - DNS rebinding: `Host` must be a loopback name (or one listed in `WHOP_MCP_ALLOWED_HOSTS`),
//!   and a present `Origin` must be this server's own loopback origin or one listed in
//!   `WHOP_MCP_ALLOWED_ORIGINS`; otherwise 403. CORS headers are sent only for listed origins.
//! - Bodies over 4 MiB are refused; SIGTERM/SIGINT stop accepting and finish what is in flight.
//! - Slow or silent clients are cut off: headers within 10 s (also the idle keep-alive limit),
//!   bodies within 10 s, at most 512 connections at once (see [`serve`]).
//! - A refusal never reads the body it refuses; it says `Connection: close`, and the connection
//!   closes after it, so no client sends its next request on a connection about to close.
//! - The client's token is the MCP server's business only: it is never sent to Whop, which
//!   always sees the server's own `WHOP_API_KEY`.
//! - With `WHOP_WEBHOOK_SECRET` set, `POST /webhooks/whop` receives Whop's webhooks
//!   ([`crate::webhooks`]): authenticated by their signature, not by the bearer token, and
//!   answered whatever the `Host` (Whop calls the public name).

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use http_body_util::BodyExt as _;
use hyper::{
    body::{Body as _, Frame, SizeHint},
    server::conn::http1,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    oauth::{self, OAuthOptions, ResourceServer},
    server::WhopServer,
    webhooks::Verifier,
    whop::Secret,
};

/// Largest request body accepted on `/mcp`.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;
/// Longest a client may take to send a request's headers; also how long an idle keep-alive
/// connection stays open.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a client may take to send a request's body.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// Longest shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    pub(crate) token: Option<Secret>,
    /// OAuth access tokens instead of the shared token (never both: the configuration refuses).
    pub(crate) oauth: Option<OAuthOptions>,
    /// Extra `Host` values to accept (for a public name behind a proxy).
    pub(crate) allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the server (CORS and Origin validation).
    pub(crate) allowed_origins: Vec<String>,
    /// Receive Whop webhooks at `/webhooks/whop`, checked with this (`WHOP_WEBHOOK_SECRET`).
    pub webhooks: Option<Verifier>,
}

/// Compares in time that does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Clone)]
struct Gate {
    token: Option<Secret>,
    oauth: Option<Arc<ResourceServer>>,
    cors_origins: Vec<String>,
}

async fn guard(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cors = origin.filter(|o| gate.cors_origins.iter().any(|a| a == o));
    if request.method() == Method::OPTIONS {
        // A preflight: answered here for listed origins only.
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(origin) = &cors {
            add_cors(&mut response, origin, true);
        } else {
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
        return response;
    }
    if let Some(resource) = &gate.oauth {
        match resource.authorize(request.headers()).await {
            Ok(access) => {
                request.extensions_mut().insert(access);
                // The client's token is ours alone: nothing below can pass it on.
                request.headers_mut().remove(header::AUTHORIZATION);
            }
            Err(refusal) => {
                let mut response = resource.refuse(refusal);
                if let Some(origin) = &cors {
                    add_cors(&mut response, origin, false);
                }
                return response;
            }
        }
    } else if let Some(token) = &gate.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) {
            let mut response =
                (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let request = match read_body(request).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let mut response = next.run(request).await;
    if let Some(origin) = &cors {
        add_cors(&mut response, origin, false);
    }
    response
}

fn add_cors(response: &mut Response, origin: &str, preflight: bool) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("mcp-session-id, mcp-protocol-version, www-authenticate"),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
}

/// The router: `/mcp` behind the guard, `/healthz` open (it says nothing but "ok"), with
/// OAuth the protected-resource metadata, open too, and the webhook receiver when a secret is
/// configured (authenticated by its signature, so outside the guard).
pub(crate) fn router(
    server: WhopServer,
    options: &HttpOptions,
    resource: Option<Arc<ResourceServer>>,
    stop: CancellationToken,
) -> Router {
    let state = server.shared_state();
    let port = options.addr.port();
    let mut hosts: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        "[::1]".into(),
    ];
    if !options.addr.ip().is_unspecified() {
        hosts.push(options.addr.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .map(|h| format!("http://{h}:{port}"))
        .collect();
    origins.extend(options.allowed_origins.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(MAX_BODY)
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .with_cancellation_token(stop);
    let service = |server: WhopServer| {
        let server = server.stateless();
        StreamableHttpService::new(
            move || Ok(server.new_session()),
            LocalSessionManager::default().into(),
            config.clone(),
        )
    };
    // With OAuth, one more service, built once, for tokens that may only read.
    let reads = resource.as_ref().and_then(|_| server.reads_only());
    let read_names = reads
        .as_ref()
        .map(|r| r.exposure().tool_names())
        .unwrap_or_default();
    let writes: Arc<[String]> = server
        .exposure()
        .tool_names()
        .into_iter()
        .filter(|t| !read_names.contains(t))
        .collect();
    let endpoint = oauth::endpoint(
        resource.clone(),
        service(server),
        reads.map(service),
        writes,
    );
    let gate = Gate {
        token: options.token.clone(),
        oauth: resource.clone(),
        cors_origins: options.allowed_origins.clone(),
    };
    let mut router = Router::new()
        .nest_service("/mcp", endpoint)
        .layer(middleware::from_fn_with_state(gate, guard))
        .route("/healthz", get(|| async { "ok\n" }));
    if let Some(resource) = &resource {
        router = router.merge(resource.metadata_routes());
    }
    if let Some(verifier) = &options.webhooks {
        router = router.merge(crate::webhooks::routes(verifier.clone(), state));
    }
    router
}

/// Binds the HTTP address (port 0 picks a free one), so the caller knows the address before
/// serving.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves MCP on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (see [`serve_app`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: WhopServer,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let resource = match &options.oauth {
        Some(o) => {
            let writes = crate::tools::catalog()
                .iter()
                .any(|t| server.exposure().exposes(t) && !crate::tools::is_read_only(t));
            let resource = Arc::new(ResourceServer::new(o, writes).map_err(std::io::Error::other)?);
            let warm = resource.clone();
            tokio::spawn(async move { warm.warm_up().await });
            tracing::info!(issuer = %o.issuer, resource = %o.resource, metadata = %o.metadata_url(), "OAuth: /mcp needs access tokens from this issuer");
            Some(resource)
        }
        None => None,
    };
    if options.token.is_none() && resource.is_none() {
        tracing::warn!(addr = %local, "serving MCP over HTTP without authentication (loopback only); set WHOP_MCP_HTTP_TOKEN to require a bearer token");
    }
    let webhooks = if options.webhooks.is_some() {
        format!(", Whop webhooks: {}", crate::webhooks::ROUTE)
    } else {
        String::new()
    };
    eprintln!("whop-chat-mcp: serving MCP at http://{local}/mcp (health: /healthz{webhooks})");
    let stop = CancellationToken::new();
    let app = router(
        server,
        &HttpOptions {
            addr: local,
            ..options
        },
        resource,
        stop.child_token(),
    );
    serve_app(listener, app, stop, shutdown).await;
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` resolves, then cancels `stop` and lets requests
/// in flight finish (for at most [`DRAIN`]).
///
/// Each connection is served by hyper with a header deadline ([`HEADER_TIMEOUT`], which also
/// ends a keep-alive connection idle that long), at most [`MAX_CONNECTIONS`] at once (more
/// wait in the kernel's backlog, costing us nothing), and every body must arrive within
/// [`BODY_TIMEOUT`] (the routes read them so): sockets that send nothing, or send slowly, are
/// closed, so they cannot starve legitimate clients of file descriptors or memory. An answer
/// given before the request's body was read whole says `Connection: close` ([`close_if_unread`]).
pub(crate) async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = app.layer(middleware::from_fn(close_if_unread));
    let slots = Arc::new(Semaphore::new(connection_cap()));
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: not fatal.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        stream.set_nodelay(true).ok();
        let service = TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    stop.cancel();
    connections.close();
    if tokio::time::timeout(DRAIN, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s; stopping anyway",
            DRAIN.as_secs()
        );
    }
}

/// How many connections to serve at once: [`MAX_CONNECTIONS`], or fewer if the process may not
/// open that many descriptors (after raising its soft limit as far as allowed).
fn connection_cap() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                if limit.rlim_cur < limit.rlim_max {
                    let raised = libc::rlimit {
                        rlim_cur: limit.rlim_max,
                        rlim_max: limit.rlim_max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        limit = raised;
                    }
                }
                // Room for the Whop client's connections, stdio and files.
                let usable = (limit.rlim_cur as usize).saturating_sub(128).max(16);
                return MAX_CONNECTIONS.min(usable);
            }
        }
    }
    MAX_CONNECTIONS
}

/// Adds `Connection: close` to an answer given before the request's body was read to its end:
/// a refusal (401, 403, 404, 413, a webhook's bad signature), which by design reads nothing it
/// need not read. hyper then closes the connection after the answer, since the rest of the body
/// is still on it; without the header the client would take the connection as kept alive,
/// send its next request on it and get no answer ("server disconnected") when the close lands.
/// Requests without a body, and those whose body was read, keep their connection.
async fn close_if_unread(request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let read = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(Watched {
            body,
            read: read.clone(),
        })
    });
    let mut response = next.run(request).await;
    if !read.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that records whether it was read to its end.
struct Watched {
    body: Body,
    read: Arc<AtomicBool>,
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.body.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if ended {
            this.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Reads a `/mcp` body within [`BODY_TIMEOUT`] and [`MAX_BODY`], so a client trickling bytes
/// cannot hold a connection and a handler open.
async fn read_body(request: Request) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(
            parts,
            axum::body::Body::from(collected.to_bytes()),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {MAX_BODY} bytes\n"),
        )
            .into_response()),
        Ok(Err(_)) => {
            Err((StatusCode::BAD_REQUEST, "request body could not be read\n").into_response())
        }
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {} s\n",
                BODY_TIMEOUT.as_secs()
            ),
        )
            .into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
