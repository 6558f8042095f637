//! Where the state replicas share lives: in this process (`Local`, the embedded default) or
//! in Redis/Valkey (`--state redis://…`, see `redis.rs`). [`State::connect`] builds the one
//! `Shared` the server uses and the Whop rate budget its client consults.
//!
//! Every Redis key is namespaced by a fingerprint of the Whop API key (a SHA-256 prefix,
//! never the key), so deployments with different keys never share wake-ups or budgets.

mod redis;

use std::{fmt, sync::Arc, time::Duration};

use tokio::sync::broadcast;

use crate::{
    shared::{Handle, Local, Shared},
    whop::{LocalBudget, RateBudget, Secret},
};

/// Largest accepted `WHOP_RATE_LIMIT` (requests per second across replicas).
pub const MAX_RATE_LIMIT: f64 = 10_000.0;

/// The shared-state settings, validated by `crate::config`.
#[derive(Debug, Clone, Default)]
pub struct StateOptions {
    /// `--state` / `WHOP_MCP_STATE_URL`; `None` keeps everything in this process.
    pub url: Option<StateUrl>,
    /// `--rate-limit` / `WHOP_RATE_LIMIT`: Whop requests per second for every replica using
    /// this API key together (in this process alone without a URL). `None`: no budget.
    pub rate_limit: Option<f64>,
}

/// A Redis URL whose password never shows: `Debug` and [`StateUrl::shown`] print it with
/// the user information replaced.
#[derive(Clone)]
pub struct StateUrl {
    url: String,
    shown: String,
}

impl StateUrl {
    /// Checks that `raw` is a `redis://`, `rediss://` or `unix://` URL the Redis client
    /// accepts. The error never repeats the password.
    pub fn parse(raw: &str) -> Result<StateUrl, String> {
        let shown = redact(raw);
        let scheme = raw.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let expected = "must be a redis://HOST[:PORT][/DB], rediss://… (TLS) or unix:///PATH URL of a Redis or Valkey server";
        match scheme.as_deref() {
            Some("redis" | "rediss" | "unix") => {}
            _ => return Err(format!("{expected}, got {shown:?}")),
        }
        let parsed =
            url::Url::parse(raw).map_err(|e| format!("{expected} ({e}), got {shown:?}"))?;
        match parsed.scheme() {
            "unix" if parsed.path().is_empty() || parsed.path() == "/" => {
                return Err(format!(
                    "{expected}: the socket path is missing in {shown:?}"
                ));
            }
            "redis" | "rediss" if parsed.host_str().is_none_or(str::is_empty) => {
                return Err(format!("{expected}: the host is missing in {shown:?}"));
            }
            _ => {}
        }
        // The client's own parser decides the rest (port, database number, parameters).
        ::redis::Client::open(raw).map_err(|e| {
            let detail = scrub(&e.to_string(), raw);
            format!("is not a usable Redis URL ({detail}): {shown:?}")
        })?;
        Ok(StateUrl {
            url: raw.to_owned(),
            shown,
        })
    }

    /// The URL with any user name and password replaced by `***`, for logs and errors.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn expose(&self) -> &str {
        &self.url
    }
}

impl fmt::Debug for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateUrl({})", self.shown)
    }
}

/// `raw` with the user information of its authority (`user:password@`) replaced by `***@`;
/// works on text that is not a valid URL too.
pub fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}{tail}", &authority[at + 1..]),
        None => raw.to_owned(),
    }
}

/// `text` with the URL's password (and the whole URL) taken out, should a Redis error repeat
/// either.
fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact(url));
    if let Ok(u) = url::Url::parse(url)
        && let Some(pw) = u.password()
        && !pw.is_empty()
    {
        out = out.replace(pw, "***");
        if let Ok(decoded) = percent_decode(pw) {
            out = out.replace(&decoded, "***");
        }
    }
    out
}

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) if hex.iter().all(u8::is_ascii_hexdigit) => {
                let h = std::str::from_utf8(hex).unwrap_or("00");
                out.push(u8::from_str_radix(h, 16).unwrap_or(0));
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

/// The first 16 hex digits of the key's SHA-256: enough to keep deployments apart, useless
/// for recovering the key.
pub(crate) fn fingerprint(key: &Secret) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.expose().as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the server shares with other replicas, and the Whop client's rate budget.
#[derive(Clone)]
pub struct State {
    shared: Arc<dyn Shared>,
    budget: Option<Arc<dyn RateBudget>>,
    /// Whether `shared` reaches other processes (Redis), or is this process alone.
    replicated: bool,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("budget", &self.budget.as_ref().map(|b| b.limit()))
            .finish_non_exhaustive()
    }
}

impl State {
    /// Everything in this process, no rate budget (the embedded default).
    pub fn local() -> State {
        State {
            shared: Arc::new(Local::new()),
            budget: None,
            replicated: false,
        }
    }

    /// The state `options` ask for. Without a URL: `Local`, and a local token bucket when
    /// a rate limit is set. With one: Redis, tried once within a short timeout; if it cannot
    /// be reached this replica serves alone (one warning) and keeps reconnecting in the
    /// background. Never fails.
    pub async fn connect(options: &StateOptions, api_key: &Secret) -> State {
        let Some(url) = &options.url else {
            return State {
                shared: Arc::new(Local::new()),
                budget: options
                    .rate_limit
                    .map(|r| Arc::new(LocalBudget::new(Some(r))) as Arc<dyn RateBudget>),
                replicated: false,
            };
        };
        let redis = redis::Redis::start(url, fingerprint(api_key), options.rate_limit).await;
        State {
            shared: redis.clone(),
            budget: Some(redis),
            replicated: true,
        }
    }

    /// The rate budget for [`crate::whop::Client::with_budget`], when there is one.
    pub fn budget(&self) -> Option<Arc<dyn RateBudget>> {
        self.budget.clone()
    }

    /// The handle the server's parts hold (watchers, waits, the webhook receiver).
    pub fn handle(&self) -> Handle {
        Handle::with_engine(self.shared.clone(), self.replicated)
    }

    /// Tells every replica that `channel_id` has news (see `Shared::publish_wake`).
    pub async fn publish_wake(&self, channel_id: &str) {
        self.shared.publish_wake(channel_id).await
    }

    /// Wake-ups published by any replica, as channel ids.
    pub fn wakes(&self) -> broadcast::Receiver<Arc<str>> {
        self.shared.wakes()
    }

    /// True the first time delivery `id` is seen across replicas within `ttl`.
    pub async fn first_delivery(&self, id: &str, ttl: Duration) -> bool {
        self.shared.first_delivery(id, ttl).await
    }

    /// Asks to be the one poller of `channel_id` for `ttl` (renewed when already held).
    pub async fn poll_lease(&self, channel_id: &str, ttl: Duration) -> bool {
        self.shared.poll_lease(channel_id, ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_show_a_password() {
        for good in [
            "redis://127.0.0.1:6379",
            "redis://:s3cret@cache.internal:6380/2",
            "rediss://user:s3cret@cache.example.com",
            "unix:///run/redis/redis.sock",
        ] {
            let u = StateUrl::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert!(!format!("{u:?}").contains("s3cret"), "{u:?}");
            assert!(!u.shown().contains("s3cret"));
        }
        assert_eq!(
            StateUrl::parse("redis://:s3cret@cache:6380/2")
                .unwrap()
                .shown(),
            "redis://***@cache:6380/2"
        );
        for bad in [
            "http://user:s3cret@cache:6379",
            "cache:6379",
            "redis://:s3cret@",
            "redis://:s3cret@cache:notaport",
            "unix://",
            "redis://:s3cret@cache:6379/notadb",
        ] {
            let e = StateUrl::parse(bad).expect_err(bad);
            assert!(!e.contains("s3cret"), "{bad}: {e}");
            assert!(e.contains("redis://") || e.contains("Redis URL"), "{e}");
        }
    }

    #[test]
    fn redaction_handles_odd_text() {
        assert_eq!(redact("redis://a:b@h/0"), "redis://***@h/0");
        assert_eq!(redact("redis://a:b@c@h"), "redis://***@h");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        assert_eq!(redact("no scheme"), "no scheme");
        assert_eq!(
            scrub("cannot auth with p%40ss and p@ss", "redis://:p%40ss@h"),
            "cannot auth with *** and ***"
        );
    }

    #[test]
    fn the_fingerprint_is_a_hash_prefix_not_the_key() {
        let a = fingerprint(&Secret::new("sk_live_one"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("sk_live"));
        assert_eq!(a, fingerprint(&Secret::new("sk_live_one")));
        assert_ne!(a, fingerprint(&Secret::new("sk_live_two")));
    }
}
