//! An in-memory Whop REST v1 (the chat part) on a loopback port, for demos, tests and
//! benchmarks: Whop's contract as the official SDKs state it, written from the SDKs and the
//! docs — it shares no code with any client, so a client's wrong guess about Whop fails
//! against it instead of agreeing with itself. Its version rules and every undocumented
//! choice are in [`rules`].
//!
//! * tests start it on port 0 with [`Sandbox::start`] and inspect it through the control
//!   methods (requests seen, messages stored, faults to inject);
//! * `whop-chat-mcp sandbox --listen ADDR` serves it standalone;
//! * `whop-chat-mcp --demo` runs the MCP server against one started in-process;
//! * with a target set ([`Sandbox::deliver_webhooks`]) it delivers signed webhooks for every
//!   message created, as Whop does ([`webhooks`]).
//!
//! Connections are served by our own accept loop (not `axum::serve`) so that a fault can
//! drop a connection for real, before or after the request has taken effect.

mod faults;
mod routes;
pub mod rules;
mod seed;
pub mod state;
pub mod webhooks;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{
    Json,
    http::HeaderValue,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

pub use faults::{Fault, FaultAction};
use state::State;
pub use state::{Principal, UploadOutcome};
pub use webhooks::WebhookDelivery;

/// The key the demo company's account key is in the sandbox (not a secret: it opens nothing
/// but this in-memory fake).
pub const DEMO_API_KEY: &str = "whop_sandbox_demo_key";

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whop's timestamp format: RFC 3339, UTC, milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A Whop error answer: `{"error": {type, message, code, param}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
    pub code: Option<&'static str>,
    pub param: Option<&'static str>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            code: None,
            param: None,
            retry_after: None,
        }
    }
    pub fn missing(param: &'static str) -> Self {
        ApiError {
            code: Some("parameter_missing"),
            param: Some(param),
            ..Self::new(
                400,
                "invalid_request_error",
                format!("Missing required parameter: {param}."),
            )
        }
    }
    pub fn invalid(param: &'static str, message: String) -> Self {
        ApiError {
            code: Some("parameter_invalid"),
            param: Some(param),
            ..Self::new(400, "invalid_request_error", message)
        }
    }
    pub fn not_found() -> Self {
        Self::new(404, "not_found", "Resource not found")
    }
    pub fn forbidden() -> Self {
        Self::new(
            403,
            "forbidden",
            "You do not have permission to access this resource",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = axum::http::StatusCode::from_u16(self.status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {
            "type": self.kind, "message": self.message, "code": self.code, "param": self.param
        }});
        let mut resp = (status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

/// One request as the sandbox received it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// When it arrived (lets tests measure request rates).
    pub at: std::time::Instant,
}

impl LoggedRequest {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The requests received: the most recent [`RequestLog::KEPT`] in full (what tests look at),
/// and counts of every API request since the start or the last clear (what `/_sandbox/stats`
/// reports), so that a long `--demo` session does not keep every request it ever served.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    pub entries: std::collections::VecDeque<LoggedRequest>,
    pub api_total: u64,
    /// API requests per second of arrival, counted from the sandbox's start.
    pub per_second: std::collections::BTreeMap<u64, u64>,
}

impl RequestLog {
    pub const KEPT: usize = 20_000;

    pub fn push(&mut self, request: LoggedRequest, started: std::time::Instant) {
        if request.path.starts_with("/api/v1/") {
            self.api_total += 1;
            *self
                .per_second
                .entry(request.at.saturating_duration_since(started).as_secs())
                .or_default() += 1;
        }
        if self.entries.len() == Self::KEPT {
            self.entries.pop_front();
        }
        self.entries.push_back(request);
    }
}

/// What the sandbox remembers of an `Idempotency-Key`: the request it came with, when, and,
/// once the first request finished, its answer (status, `Retry-After`, body).
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyEntry {
    pub fingerprint: String,
    pub answer: Option<(u16, Option<HeaderValue>, Bytes)>,
    pub created_ms: i64,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub log: Mutex<RequestLog>,
    pub faults: Mutex<Vec<Fault>>,
    pub idempotency: Mutex<std::collections::HashMap<String, IdempotencyEntry>>,
    /// `http://127.0.0.1:PORT`, for presigned upload and media URLs.
    pub origin: String,
    /// Signalled when a message is created (lets waits in tests be prompt).
    pub posted: Notify,
    /// `GET /users/me` answers that computed balances (no `include_balance=false`).
    pub balance_reads: std::sync::atomic::AtomicU64,
    /// Where webhooks go, once a test or `--demo` sets it.
    pub webhook: Mutex<Option<Arc<webhooks::Target>>>,
    /// Every webhook delivery made, in order.
    pub deliveries: Mutex<Vec<WebhookDelivery>>,
    /// Added before answering every API request (a far-away Whop, for load runs).
    pub latency_ms: std::sync::atomic::AtomicU64,
    /// When the sandbox started (`/_sandbox/stats` counts seconds from here).
    pub started: std::time::Instant,
    /// The runtime the sandbox started on: deliveries run there, whoever created the message.
    pub runtime: tokio::runtime::Handle,
}

/// A webhook to send once the state lock is released.
pub(crate) struct PendingWebhook(Arc<webhooks::Target>, String, serde_json::Value);

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn deliveries(&self) -> MutexGuard<'_, Vec<WebhookDelivery>> {
        self.deliveries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `chat.message.created` delivery for a message just stored, if a target is set.
    pub(crate) fn webhook_for(&self, st: &State, message_id: &str) -> Option<PendingWebhook> {
        let target = self
            .webhook
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let (id, event) = webhooks::message_created(st, message_id)?;
        Some(PendingWebhook(target, id, event))
    }

    /// Sends it in the background (call after releasing the state lock).
    pub(crate) fn send_webhook(self: &Arc<Self>, pending: Option<PendingWebhook>) {
        if let Some(PendingWebhook(target, id, event)) = pending {
            webhooks::deliver(self, target, id, event);
        }
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    api_key: String,
    stop: CancellationToken,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Sandbox {
    /// Starts a sandbox seeded with the demo company, accepting `api_key` for its account.
    pub async fn start(addr: SocketAddr, api_key: &str) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let mut state = State::default();
        seed::seed(&mut state, api_key);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            log: Mutex::new(RequestLog::default()),
            faults: Mutex::new(Vec::new()),
            idempotency: Mutex::new(Default::default()),
            origin,
            posted: Notify::new(),
            balance_reads: Default::default(),
            webhook: Mutex::new(None),
            deliveries: Mutex::new(Vec::new()),
            runtime: tokio::runtime::Handle::current(),
            latency_ms: Default::default(),
            started: std::time::Instant::now(),
        });
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(
            listener,
            routes::router(shared.clone()),
            stop.clone(),
        ));
        tracing::debug!(%addr, "sandbox listening");
        Ok(Sandbox {
            shared,
            addr,
            api_key: api_key.to_owned(),
            stop,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What to put in `WHOP_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn company_id(&self) -> String {
        self.shared.state().company_id.clone()
    }

    /// The requests received so far, in order (the most recent 20,000).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let log = self.shared.log.lock().unwrap_or_else(|p| p.into_inner());
        log.entries.iter().cloned().collect()
    }

    /// Requests received with this method whose path (under `/api/v1`) is exactly `path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<LoggedRequest> {
        let full = format!("/api/v1{path}");
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == full)
            .collect()
    }

    pub fn clear_requests(&self) {
        *self.shared.log.lock().unwrap_or_else(|p| p.into_inner()) = RequestLog::default();
    }

    pub fn add_fault(&self, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault);
    }

    pub fn clear_faults(&self) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Adds a key acting as an existing user (by username), with the given permissions
    /// (`None` = all).
    pub fn add_user_key(&self, key: &str, username: &str, scopes: Option<&[&str]>, admin: bool) {
        let mut st = self.shared.state();
        let user_id = st
            .user_by_name_or_id(username)
            .expect("seeded user")
            .id
            .clone();
        st.keys.insert(
            key.to_owned(),
            Principal {
                user_id,
                is_account: false,
                is_app: false,
                is_admin: admin,
                scopes: scopes.map(|s| s.iter().map(|x| x.to_string()).collect()),
                pinned_version: rules::LATEST_VERSION.to_owned(),
            },
        );
    }

    /// Adds an account key for the demo company with only the given permissions.
    pub fn add_account_key(&self, key: &str, scopes: &[&str]) {
        let mut st = self.shared.state();
        let bot = st
            .keys
            .values()
            .find(|p| p.is_account)
            .expect("account key")
            .user_id
            .clone();
        st.keys.insert(
            key.to_owned(),
            Principal {
                user_id: bot,
                is_account: true,
                is_app: false,
                is_admin: true,
                scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
                pinned_version: rules::LATEST_VERSION.to_owned(),
            },
        );
    }

    /// Adds an app API key installed in the demo company: it may do what an account key
    /// does, given the company, but neither identity endpoint knows it.
    pub fn add_app_key(&self, key: &str) {
        self.add_account_key(key, &[]);
        let mut st = self.shared.state();
        let p = st.keys.get_mut(key).expect("just added");
        p.is_app = true;
        p.scopes = None;
    }

    /// How many `GET /users/me` answers computed live balances, i.e. came without
    /// `include_balance=false`.
    pub fn balance_reads(&self) -> u64 {
        self.shared
            .balance_reads
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes the sandbox want `name` (`company_id` or `account_id`) as the company parameter of
    /// `resource` at every version, as if Whop had renamed it at another version than
    /// [`rules`] says: lets tests see how a client copes with a wrong version table.
    pub fn force_company_param(&self, resource: rules::Resource, name: &'static str) {
        self.shared.state().company_param_override[resource as usize] = Some(name);
    }

    /// Number of messages stored in a channel (by feed or experience id).
    pub fn message_count(&self, channel: &str) -> usize {
        let st = self.shared.state();
        let feed = st.feed_id(channel).unwrap_or_default();
        st.messages
            .values()
            .filter(|m| m.channel_id == feed)
            .count()
    }

    /// Messages in a channel whose content equals `content`.
    pub fn messages_with_content(&self, channel: &str, content: &str) -> usize {
        let st = self.shared.state();
        let feed = st.feed_id(channel).unwrap_or_default();
        st.messages
            .values()
            .filter(|m| m.channel_id == feed && m.content.as_deref() == Some(content))
            .count()
    }

    /// Posts a message as another member (by username), as if they wrote it in Whop (so a
    /// webhook goes out for it too, when a target is set).
    pub fn post_as(&self, username: &str, channel: &str, content: &str) -> String {
        let (id, hook) = {
            let mut st = self.shared.state();
            let user = st
                .user_by_name_or_id(username)
                .expect("seeded user")
                .id
                .clone();
            let feed = st.feed_id(channel).expect("known channel");
            let id = routes::insert_message(&mut st, &feed, &user, content, None, None, Vec::new());
            let hook = self.shared.webhook_for(&st, &id);
            (id, hook)
        };
        self.shared.posted.notify_waiters();
        self.shared.send_webhook(hook);
        id
    }

    /// From now on, delivers a signed `chat.message.created` webhook to `url` (plain `http`)
    /// for every message created, signed with `secret` as Whop signs (see [`webhooks`]).
    pub fn deliver_webhooks(&self, url: &str, secret: &str) -> Result<(), String> {
        let target = webhooks::Target::new(url, secret)?;
        *self
            .shared
            .webhook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(target));
        Ok(())
    }

    /// Stops delivering webhooks (deliveries under way finish).
    /// Delays every answer under `/api/v1` by `latency` (0 for none), like a Whop that is a
    /// network round trip away; faults still apply on top.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.shared.latency_ms.store(
            latency.as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn stop_webhooks(&self) {
        *self
            .shared
            .webhook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Every webhook delivery made so far, in order, with its attempts and outcome.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.deliveries().clone()
    }

    /// The bytes stored for an uploaded file.
    pub fn file_bytes(&self, file_id: &str) -> Option<Bytes> {
        self.shared
            .state()
            .files
            .get(file_id)
            .and_then(|f| f.bytes.clone())
    }

    /// Sets what happens to uploads after their bytes arrive.
    pub fn set_upload_outcome(&self, outcome: UploadOutcome) {
        self.shared.state().upload_outcome = Some(outcome);
    }

    /// Ids of the seeded chat channels by name, e.g. `channel_id("General")`.
    pub fn channel_id(&self, name: &str) -> String {
        let st = self.shared.state();
        st.channels
            .iter()
            .find(|c| c.name == name)
            .expect("seeded channel")
            .id
            .clone()
    }

    pub fn experience_id(&self, name: &str) -> String {
        let st = self.shared.state();
        st.channels
            .iter()
            .find(|c| c.name == name)
            .expect("seeded channel")
            .experience_id
            .clone()
    }

    /// Id of the support chat with a customer (by username).
    pub fn support_channel_id(&self, username: &str) -> String {
        let st = self.shared.state();
        let user = st
            .user_by_name_or_id(username)
            .expect("seeded user")
            .id
            .clone();
        st.support
            .iter()
            .find(|s| s.customer_id == user)
            .expect("support chat")
            .id
            .clone()
    }

    /// Id of the DM channel named `name` (a group DM's custom name) or, for an unnamed one,
    /// the DM whose members include the user `name` (a username).
    pub fn dm_channel_id(&self, name: &str) -> String {
        let st = self.shared.state();
        let user = st.user_by_name_or_id(name).map(|u| u.id.clone());
        st.dms
            .iter()
            .find(|d| {
                d.name.as_deref() == Some(name)
                    || (d.name.is_none() && user.as_ref().is_some_and(|u| d.member(u).is_some()))
            })
            .expect("seeded DM")
            .id
            .clone()
    }

    /// A member's status in a DM channel (by username), e.g. `requested`.
    pub fn dm_member_status(&self, channel: &str, username: &str) -> Option<&'static str> {
        let st = self.shared.state();
        let user = st.user_by_name_or_id(username)?.id.clone();
        st.dm(channel)?.member(&user).map(|m| m.status)
    }

    /// A chat channel's moderation settings as Whop shows them to admins.
    pub fn channel_settings(&self, channel: &str) -> serde_json::Value {
        let st = self.shared.state();
        st.channel(channel).expect("known channel").json(true)
    }

    /// Id of the newest message in a channel.
    pub fn newest_message_id(&self, channel: &str) -> Option<String> {
        let st = self.shared.state();
        let feed = st.feed_id(channel)?;
        st.last_message_in(&feed).map(|m| m.id.clone())
    }
}

/// Per-connection handle a fault uses to drop the connection without answering.
#[derive(Clone)]
pub(crate) struct ConnKiller(Arc<Notify>);

impl ConnKiller {
    pub async fn kill(&self) -> ! {
        self.0.notify_one();
        std::future::pending().await
    }
}

async fn accept_loop(listener: TcpListener, router: axum::Router, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let killer = ConnKiller(kill.clone());
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(killer.clone());
                    router.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping `conn` closes the socket at once, with no answer written.
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_latest_requests_and_counts_them_all() {
        let started = std::time::Instant::now();
        let request = |i: usize, path: &str| LoggedRequest {
            method: "GET".into(),
            path: path.into(),
            query: vec![("i".into(), i.to_string())],
            headers: Vec::new(),
            body: Bytes::new(),
            at: started,
        };
        let mut log = RequestLog::default();
        for i in 0..RequestLog::KEPT + 5 {
            log.push(request(i, "/api/v1/messages"), started);
        }
        log.push(request(0, "/_upload/x"), started);
        assert_eq!(log.entries.len(), RequestLog::KEPT);
        // The oldest went first; the newest (not an API request) is kept but not counted.
        assert_eq!(log.entries[0].query_param("i"), Some("6"));
        assert_eq!(log.entries.back().unwrap().path, "/_upload/x");
        assert_eq!(log.api_total, (RequestLog::KEPT + 5) as u64);
        assert_eq!(log.per_second.values().sum::<u64>(), log.api_total);
    }
}
