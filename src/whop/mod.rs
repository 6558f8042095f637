//! Internal client for Whop's REST v1 chat API. It knows nothing about MCP.
//!
//! One [`Client`] holds one pooled HTTP client ([`crate::outbound`]), the base URL, the key
//! and the pinned `Api-Version-Date`. Every call goes through [`Client::execute`], the one place that adds
//! headers, applies the retry policy, asks the rate budget ([`budget`]) for each attempt, and
//! turns non-2xx answers into [`Error`]s.
//! The resource files (`messages.rs`, `channels.rs`, …) only describe requests.

mod accounts;
pub mod budget;
mod channels;
mod decode;
mod dms;
pub(crate) mod error;
mod files;
mod messages;
pub(crate) mod models;
mod reactions;
pub(crate) mod retry;
mod support;
mod users;
pub mod versions;

use std::{fmt, sync::Arc, time::Instant};

use bytes::Bytes;
use http::{
    Method, StatusCode, Uri,
    header::{self, HeaderMap, HeaderName, HeaderValue},
};
use serde::de::DeserializeOwned;

use crate::outbound::{self, Answer, OutBody, Outbound, Stage, request_uri};

pub use budget::{Grant, LocalBudget, RateBudget};
pub use channels::{ListChatChannels, UpdateChatChannel};
pub use dms::CreateDmChannel;
pub use error::Error;
pub(crate) use error::{Kind, Target};
pub use files::{UploadContent, UploadProgress, UploadSource};
pub use messages::{CreateMessage, ListMessages, UpdateMessage};
pub use retry::RetryPolicy;
pub use support::{CreateSupportChannel, ListSupportChannels};
pub use versions::CompanyResource;

pub const DEFAULT_BASE_URL: &str = "https://api.whop.com/api/v1";
/// The API version this crate is written against (the Python SDK 2.6.0 pin).
pub const DEFAULT_API_VERSION: &str = "2026-10-15-1";

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: &str) -> Self {
        Secret(Arc::from(value))
    }
    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Settings for [`Client::new`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub base_url: String,
    pub api_key: Secret,
    pub api_version: String,
    pub policy: RetryPolicy,
}

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Consulted before every request to Whop (see [`Client::with_budget`]); none = send at
    /// will, as Whop's own 429s allow.
    budget: Option<Arc<dyn RateBudget>>,
}

struct Inner {
    http: Outbound,
    base_url: String,
    /// `base_url` parsed once: a request's URL is this with its path and query set, not a
    /// string parsed again on every call (a fifth of the client's CPU per request).
    api_base: Option<url::Url>,
    /// That base as text up to the end of its path, without a trailing `/`: a request to a
    /// path of plain characters is this text, the path and the query ([`Client::api_uri`]).
    api_prefix: Option<String>,
    auth: HeaderValue,
    key: Secret,
    /// A searcher for the key in answers, built once (building one per answer cost about as
    /// much as the search itself). None for a key too short to search for.
    key_finder: Option<KeyFinder>,
    api_version: String,
    version_header: HeaderValue,
    policy: RetryPolicy,
    /// The company parameter's name per resource once Whop has told us (a 400 naming it).
    company_names: std::sync::Mutex<[Option<&'static str>; CompanyResource::ALL.len()]>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_version", &self.inner.api_version)
            .field("auth", &"<redacted>")
            .finish()
    }
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// A path under the API base URL; carries the API key.
    Api(String),
    /// An absolute URL handed out by Whop (a presigned upload URL); never carries the API key.
    External(String),
}

/// What a request sends. A file is streamed from its open handle, from the start on every
/// attempt, so an upload never holds the whole file in memory.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Bytes(Bytes),
    File { file: Arc<std::fs::File>, len: u64 },
}

/// A fresh stream of the first `len` bytes of `file`.
fn file_body(file: &std::fs::File, len: u64) -> std::io::Result<OutBody> {
    use std::io::Seek as _;
    use tokio::io::AsyncReadExt as _;
    let mut handle = file.try_clone()?;
    handle.seek(std::io::SeekFrom::Start(0))?;
    Ok(OutBody::stream(
        tokio::fs::File::from_std(handle).take(len),
        len,
    ))
}

/// One logical request. Retries resend it unchanged, `Idempotency-Key` included.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) endpoint: Endpoint,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<Body>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) target: Target,
    pub(crate) policy: Option<RetryPolicy>,
}

impl Request {
    pub(crate) fn new(method: Method, path: impl Into<String>, target: Target) -> Self {
        Request {
            method,
            endpoint: Endpoint::Api(path.into()),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            idempotency_key: None,
            target,
            policy: None,
        }
    }

    pub(crate) fn get(path: impl Into<String>, target: Target) -> Self {
        Self::new(Method::GET, path, target)
    }

    /// A POST with a JSON body and a fresh `Idempotency-Key`, so that retries of this one
    /// logical call can never create a second object.
    pub(crate) fn post_json(
        path: impl Into<String>,
        body: &impl serde::Serialize,
        target: Target,
    ) -> Self {
        let mut r = Self::new(Method::POST, path, target).json(body);
        r.idempotency_key = Some(uuid::Uuid::new_v4().to_string());
        r
    }

    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Self {
        // Serialising our own request types cannot fail (string keys, no maps of non-strings).
        let bytes = serde_json::to_vec(body).expect("request body serialises");
        self.body = Some(Body::Bytes(Bytes::from(bytes)));
        self.headers.push((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        self
    }

    pub(crate) fn param(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub(crate) fn opt_param(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.param(name, v),
            None => self,
        }
    }
}

/// A successful answer.
pub(crate) struct Response {
    pub(crate) body: Bytes,
}

pub(crate) fn target(scope: &'static str, kind: Kind, id: Option<&str>) -> Target {
    Target {
        scope,
        kind,
        id: id.map(str::to_owned),
    }
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Self, Error> {
        let setup_error = |message: String| Error::Transport {
            message,
            timed_out: false,
            attempts: 0,
            target: target("", Kind::Account, None),
        };
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", options.api_key.expose()))
            .map_err(|_| {
                setup_error("the API key contains characters not allowed in a header".into())
            })?;
        // Marked sensitive so that hyper/reqwest never print it, even at trace level.
        auth.set_sensitive(true);
        let version_header = HeaderValue::from_str(&options.api_version)
            .map_err(|_| setup_error("the API version is not a valid header value".into()))?;
        let http = Outbound::new(outbound::Options {
            connect_timeout: std::time::Duration::from_secs(5),
            idle_timeout: std::time::Duration::from_secs(60),
            // The sandbox on this machine must never be reached through a proxy.
            proxies: !is_loopback_url(&options.base_url),
        })
        .map_err(|e| setup_error(format!("cannot build the HTTP client: {e}")))?;
        let api_base = url::Url::parse(options.base_url.trim_end_matches('/'))
            .ok()
            .filter(|u| !u.cannot_be_a_base() && u.query().is_none() && u.fragment().is_none());
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_prefix: api_base.as_ref().map(|base| {
                    let text = base.as_str();
                    let origin = &text[..text.len() - base.path().len()];
                    format!("{origin}{}", base.path().trim_end_matches('/'))
                }),
                api_base,
                base_url: options.base_url.trim_end_matches('/').to_owned(),
                auth,
                key_finder: (options.api_key.expose().len() >= 8).then(|| {
                    KeyFinder(memchr::memmem::Finder::new(options.api_key.expose()).into_owned())
                }),
                key: options.api_key,
                api_version: options.api_version,
                version_header,
                policy: options.policy,
                company_names: Default::default(),
            }),
            budget: None,
        })
    }

    /// This client, asking `budget` for a turn before every request to Whop (each retry
    /// too) and telling it about every 429 that carries a `Retry-After`. Waiting for a turn
    /// counts against the call's deadline. Presigned upload URLs are not Whop's API and do
    /// not spend the budget.
    pub fn with_budget(mut self, budget: Arc<dyn RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Waits for the budget's turn, or fails when it would come after `deadline`.
    async fn wait_for_turn(
        &self,
        deadline: Instant,
        attempts: u32,
        target: &Target,
    ) -> Result<(), Error> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        loop {
            match budget.take().await {
                Grant::Go => return Ok(()),
                Grant::Wait { after, paused } => {
                    if Instant::now() + after >= deadline {
                        return Err(Error::Budget {
                            limit: budget.limit(),
                            paused,
                            retry_after: after,
                            attempts,
                            target: target.clone(),
                        });
                    }
                    tracing::debug!(
                        wait_ms = after.as_millis() as u64,
                        paused,
                        "waiting for the Whop rate budget"
                    );
                    tokio::time::sleep(after).await;
                }
            }
        }
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(crate) fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// The company parameter's name for `resource` at the pinned version: what Whop said if
    /// it corrected us before, else the version table's rule.
    pub(crate) fn company_param(&self, resource: CompanyResource) -> &'static str {
        let learned = self
            .inner
            .company_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())[resource.index()];
        learned.unwrap_or_else(|| versions::company_param(resource, &self.inner.api_version))
    }

    /// Sends a request that names the company, built by `build` with the parameter's name.
    /// If Whop answers 400 naming the company parameter (the table guessed wrong for this
    /// version), the request is built again with the other name (a POST thus gets a fresh
    /// `Idempotency-Key`: the first one is spent on that 400) and sent once more; the name
    /// that worked is remembered for this client.
    pub(crate) async fn json_naming_company<T: DeserializeOwned>(
        &self,
        resource: CompanyResource,
        build: impl Fn(&'static str) -> Request,
    ) -> Result<T, Error> {
        let name = self.company_param(resource);
        let first = self.json(build(name)).await;
        let Err(e) = &first else {
            return first;
        };
        if !names_company_param(e) {
            return first;
        }
        let other = versions::other_name(name);
        tracing::info!(?resource, from = name, to = other, api_version = %self.inner.api_version,
            "Whop refused the company parameter's name; retrying with the other one");
        let second = self.json(build(other)).await;
        if second
            .as_ref()
            .err()
            .is_none_or(|e| !names_company_param(e))
        {
            self.inner
                .company_names
                .lock()
                .unwrap_or_else(|p| p.into_inner())[resource.index()] = Some(other);
        }
        second
    }

    /// Sends a request, retrying what the policy allows, and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: Request) -> Result<T, Error> {
        self.json_with(request, |body| {
            // Checking the UTF-8 once up front is cheaper than checking every string as it is
            // read (`from_slice`); a body that is not UTF-8 still gets `from_slice`'s result.
            match std::str::from_utf8(body) {
                Ok(text) => serde_json::from_str(text),
                Err(_) => serde_json::from_slice(body),
            }
        })
        .await
    }

    /// [`Client::json`] with a decoder of its own (one that gives serde_json's results, such
    /// as [`decode::page_of_messages`]).
    pub(crate) async fn json_with<T: DeserializeOwned>(
        &self,
        request: Request,
        decode: fn(&[u8]) -> serde_json::Result<T>,
    ) -> Result<T, Error> {
        let target = request.target.clone();
        let response = self.execute(request).await?;
        decode(&response.body).map_err(|e| Error::Decode {
            message: format!("{e} (body starts {:?})", preview(&response.body)),
            target,
        })
    }

    /// Where an API request goes: the base with `path` appended and `query` added. The base
    /// was parsed once (setting a clone's path costs less than parsing the text again); a
    /// path that brings its own query or fragment is parsed with the base as text.
    fn api_url(
        &self,
        path: &str,
        query: &[(&'static str, String)],
    ) -> Result<url::Url, url::ParseError> {
        let mut url = match self
            .inner
            .api_base
            .as_ref()
            .filter(|_| !path.contains(['?', '#']))
        {
            Some(base) => {
                let mut url = base.clone();
                let base_path = base.path().trim_end_matches('/');
                let mut full = String::with_capacity(base_path.len() + path.len());
                full.push_str(base_path);
                full.push_str(path);
                url.set_path(&full);
                url
            }
            None => url::Url::parse(&format!("{}{}", self.inner.base_url, path))?,
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// The `Uri` of an API request: [`Client::api_url`]'s, sent as [`request_uri`] sends it.
    /// A path of letters, digits, `_`, `-` and `/` (every path the resource files build from
    /// checked ids) is one that `Url::set_path` leaves as it is: the text is put together
    /// directly, the query encoded as `query_pairs_mut` encodes it. The tests compare the two.
    fn api_uri(&self, path: &str, query: &[(&'static str, String)]) -> Result<Uri, String> {
        let plain = path.starts_with('/')
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'));
        let Some(prefix) = self.inner.api_prefix.as_ref().filter(|_| plain) else {
            return request_uri(self.api_url(path, query));
        };
        let mut text = String::with_capacity(prefix.len() + path.len() + 64);
        text.push_str(prefix);
        text.push_str(path);
        if !query.is_empty() {
            text.push('?');
            let start = text.len();
            text = url::form_urlencoded::Serializer::for_suffix(text, start)
                .extend_pairs(query)
                .finish();
        }
        Uri::try_from(text).map_err(|e| e.to_string())
    }

    /// The request pipeline: headers, attempts, backoff, deadline, error mapping.
    pub(crate) async fn execute(&self, request: Request) -> Result<Response, Error> {
        let policy = request.policy.as_ref().unwrap_or(&self.inner.policy);
        let replayable =
            RetryPolicy::is_replayable(&request.method, request.idempotency_key.is_some());
        let started = Instant::now();
        let deadline = started + policy.deadline;
        let (uri, authenticated) = match &request.endpoint {
            Endpoint::Api(path) => (self.api_uri(path, &request.query), true),
            Endpoint::External(url) => (request_uri(url::Url::parse(url)), false),
        };
        let uri = uri.map_err(|e| Error::Transport {
            // The reason only: a presigned URL carries a signature.
            message: format!("the request's URL is not valid ({e})"),
            timed_out: false,
            attempts: 0,
            target: request.target.clone(),
        })?;
        let mut attempt: u32 = 0;
        // Set once an attempt may have reached Whop without its answer reaching us.
        let mut maybe_applied = false;
        loop {
            if authenticated {
                self.wait_for_turn(deadline, attempt, &request.target)
                    .await?;
            }
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut headers = HeaderMap::with_capacity(8);
            if authenticated {
                headers.insert(header::AUTHORIZATION, self.inner.auth.clone());
                headers.insert("api-version-date", self.inner.version_header.clone());
                headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
            }
            for (name, value) in &request.headers {
                headers.append(name.clone(), value.clone());
            }
            if let Some(key) = &request.idempotency_key {
                let key = HeaderValue::from_str(key).map_err(|_| Error::Transport {
                    message: "the idempotency key is not a valid header value".into(),
                    timed_out: false,
                    attempts: 0,
                    target: request.target.clone(),
                })?;
                headers.append("idempotency-key", key);
            }
            let body = match &request.body {
                None => OutBody::empty(),
                Some(Body::Bytes(bytes)) => OutBody::from(bytes.clone()),
                Some(Body::File { file, len }) => {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(*len));
                    file_body(file, *len).map_err(|e| Error::Upload {
                        message: format!("cannot read the file to upload: {e}"),
                    })?
                }
            };
            let mut http_request = http::Request::new(body);
            *http_request.method_mut() = request.method.clone();
            *http_request.uri_mut() = uri.clone();
            *http_request.headers_mut() = headers;

            let timeout = policy.attempt_timeout.min(remaining);
            let outcome =
                match tokio::time::timeout(timeout, self.inner.http.exchange(http_request, None))
                    .await
                {
                    Ok(Ok(answer)) => Ok(Answer {
                        body: scrub(answer.body, &self.inner.key, self.inner.key_finder.as_ref()),
                        ..answer
                    }),
                    Ok(Err(failure)) => Err(Some(failure)),
                    // Timed out: no telling how far it got.
                    Err(_) => Err(None),
                };

            let (failure, wait) = match outcome {
                Ok(Answer { status, body, .. }) if status.is_success() => {
                    tracing::debug!(method = %request.method, path = %log_path(&request.endpoint),
                        status = status.as_u16(), attempt, elapsed_ms = started.elapsed().as_millis() as u64, "whop request");
                    return Ok(Response { body });
                }
                // A DELETE retried after an answer was lost finds nothing left to delete: the
                // first attempt did it, so report what Whop would have answered then.
                Ok(Answer { status, .. })
                    if status == StatusCode::NOT_FOUND
                        && maybe_applied
                        && request.method == Method::DELETE =>
                {
                    tracing::debug!(path = %log_path(&request.endpoint), "delete already applied by an earlier attempt");
                    return Ok(Response {
                        body: Bytes::from_static(b"true"),
                    });
                }
                Ok(Answer {
                    status,
                    headers,
                    body,
                }) => {
                    let retry_after = retry::retry_after(&headers);
                    // Every request sharing the budget (other replicas too) holds back now.
                    if let (Some(budget), true, Some(wait)) = (
                        &self.budget,
                        authenticated && status == StatusCode::TOO_MANY_REQUESTS,
                        retry_after,
                    ) {
                        budget.pause(wait).await;
                    }
                    let body = error::parse_error_body(&body);
                    // With an Idempotency-Key, Whop answers a retry with the stored 4xx.
                    let only_replays = request.idempotency_key.is_some()
                        && RetryPolicy::replays_stored_answer(status, body.code.as_deref());
                    let error = Error::Api {
                        status: status.as_u16(),
                        body: Box::new(body),
                        retry_after,
                        request_id: headers
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                        attempts: attempt,
                        target: request.target.clone(),
                    };
                    tracing::debug!(method = %request.method, path = %log_path(&request.endpoint),
                        status = status.as_u16(), attempt, "whop request failed");
                    if !(replayable && RetryPolicy::is_retryable_status(status)) || only_replays {
                        return Err(error);
                    }
                    let wait = match retry_after {
                        Some(d) if d > policy.max_retry_after => return Err(error),
                        Some(d) => d,
                        None => policy.backoff(attempt - 1),
                    };
                    (error, wait)
                }
                Err(failure) => {
                    let timed_out = failure.is_none();
                    // A refused connection never carried the request; anything else might have.
                    maybe_applied |= failure.as_ref().is_none_or(|f| f.stage != Stage::Connect);
                    let error = Error::Transport {
                        message: failure
                            .map_or_else(|| "the request timed out".to_owned(), |f| f.to_string()),
                        timed_out,
                        attempts: attempt,
                        target: request.target.clone(),
                    };
                    tracing::debug!(method = %request.method, path = %log_path(&request.endpoint),
                        attempt, error = %error, "whop request failed");
                    if !replayable {
                        return Err(error);
                    }
                    (error, policy.backoff(attempt - 1))
                }
            };

            let now = Instant::now();
            if attempt >= policy.max_attempts || now + wait >= deadline {
                return Err(finalise(failure, attempt, now >= deadline));
            }
            tracing::info!(method = %request.method, path = %log_path(&request.endpoint),
                attempt, wait_ms = wait.as_millis() as u64, "retrying whop request");
            tokio::time::sleep(wait).await;
        }
    }
}

/// [`memchr::memmem::Finder`] for the key, without its `Debug` (which would print the key).
struct KeyFinder(memchr::memmem::Finder<'static>);

/// Removes the API key from an answer before anything reads it: should Whop (or anything on
/// the way) ever echo it, no later step (parsing, cutting a long text, rendering) can show it,
/// not even in part.
fn scrub(body: Bytes, key: &Secret, finder: Option<&KeyFinder>) -> Bytes {
    // A byte search first (the answer is read on every call; it is rarely there).
    if finder.is_none_or(|f| f.0.find(&body).is_none()) {
        return body;
    }
    let key = key.expose();
    match std::str::from_utf8(&body) {
        Ok(text) => Bytes::from(text.replace(key, "[redacted]")),
        Err(_) => Bytes::from(String::from_utf8_lossy(&body).replace(key, "[redacted]")),
    }
}

fn finalise(error: Error, attempts: u32, deadline_hit: bool) -> Error {
    match error {
        Error::Transport {
            message,
            timed_out,
            target,
            ..
        } => Error::Transport {
            message,
            timed_out: timed_out || deadline_hit,
            attempts,
            target,
        },
        Error::Api {
            status,
            body,
            retry_after,
            request_id,
            target,
            ..
        } => Error::Api {
            status,
            body,
            retry_after,
            request_id,
            attempts,
            target,
        },
        other => other,
    }
}

fn log_path(endpoint: &Endpoint) -> &str {
    match endpoint {
        Endpoint::Api(path) => path,
        Endpoint::External(_) => "<upload url>",
    }
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned()
}

fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| crate::net::is_loopback(&u))
}

/// A 400 whose `param` is one of the company parameter's names.
fn names_company_param(e: &Error) -> bool {
    matches!(e, Error::Api { status: 400, body, .. }
        if matches!(body.param.as_deref(), Some(versions::COMPANY_ID | versions::ACCOUNT_ID)))
}

/// Status codes the tool layer treats specially.
pub(crate) fn is_not_found(e: &Error) -> bool {
    e.status() == Some(StatusCode::NOT_FOUND.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_the_ones_reqwest_sends_for_the_text() {
        let http = reqwest::Client::new();
        for base in [
            "http://127.0.0.1:1/api/v1",
            "http://127.0.0.1:1/api/v1/",
            "https://api.whop.com",
            "http://[::1]:8080/x y/",
            "HTTP://LocalHost:80/Api/V1//",
            "https://api.whop.com:8443",
            "not a url",
        ] {
            let c = Client::new(ClientOptions {
                base_url: base.into(),
                api_key: Secret::new("apik_x"),
                api_version: DEFAULT_API_VERSION.into(),
                policy: RetryPolicy::default(),
            })
            .unwrap();
            for path in [
                "/messages",
                "/chat_channels/feed_XyZ-09/",
                "//twice//",
                "/",
                "/messages/msg_%2F..%20x",
                "/a b/é/%zz",
                "",
                "/q?x=1",
                "/f#g",
            ] {
                for query in [
                    vec![],
                    vec![("channel_id", "feed_1".to_owned()), ("first", "20".into())],
                    vec![("q", "a b&c=d+é/%?#".into()), ("empty", String::new())],
                ] {
                    let text = format!("{}{}", c.inner.base_url, path);
                    let want = http
                        .get(text.as_str())
                        .query(&query)
                        .build()
                        .map(|r| r.url().to_string());
                    let got = request_uri(c.api_url(path, &query))
                        .ok()
                        .map(|u| u.to_string());
                    let direct = c.api_uri(path, &query).ok().map(|u| u.to_string());
                    assert_eq!(direct, got, "{base} + {path} + {query:?}: the direct text");
                    // What reqwest sends: its URL without the fragment.
                    let want = want
                        .ok()
                        .map(|url| url.split('#').next().unwrap().to_owned());
                    assert_eq!(got, want, "{base} + {path} + {query:?}");
                }
            }
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("apik_topsecret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let c = Client::new(ClientOptions {
            base_url: "http://127.0.0.1:1/api/v1".into(),
            api_key: s,
            api_version: DEFAULT_API_VERSION.into(),
            policy: RetryPolicy::default(),
        })
        .unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
        assert!(c.inner.auth.is_sensitive());
        assert!(!format!("{:?}", c.inner.auth).contains("topsecret"));
    }

    #[test]
    fn answers_are_scrubbed_of_the_key() {
        let key = Secret::new("sk_live_abcdef123456");
        let finder = KeyFinder(memchr::memmem::Finder::new(key.expose()).into_owned());
        let scrub = |body: Bytes, _: &str| super::scrub(body, &key, Some(&finder));
        let body = Bytes::from_static(br#"{"content":"my key is sk_live_abcdef123456, oops"}"#);
        assert_eq!(
            scrub(body, "sk_live_abcdef123456").as_ref(),
            br#"{"content":"my key is [redacted], oops"}"#
        );
        let plain = Bytes::from_static(b"nothing here");
        assert_eq!(scrub(plain.clone(), "sk_live_abcdef123456"), plain);
        // Not UTF-8: still scrubbed (the broken bytes become U+FFFD).
        let broken = Bytes::from_static(b"\xFF key sk_live_abcdef123456");
        assert_eq!(
            scrub(broken, "sk_live_abcdef123456").as_ref(),
            "\u{FFFD} key [redacted]".as_bytes()
        );
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_url("http://127.0.0.1:8080/api/v1"));
        assert!(is_loopback_url("http://localhost/api/v1"));
        assert!(is_loopback_url("http://[::1]:9/"));
        assert!(!is_loopback_url("https://api.whop.com/api/v1"));
    }
}
