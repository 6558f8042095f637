//! [`Shared`] and the Whop [`RateBudget`] on Redis or Valkey, for replicas of one deployment.
//!
//! - Wake-ups: `PUBLISH` on one channel, `whop-chat-mcp:{fingerprint}:wake`, payload
//!   `"<replica id> <channel id>"`. A replica delivers its own wake-ups to its listeners at
//!   once and skips their echo from Redis, so each arrives exactly once, and without waiting
//!   for a round trip.
//! - Delivery ids: `SET … NX PX ttl`. Poll leases: one Lua script that takes a free lease
//!   (`SET NX PX` with this replica's random id) or renews its own (compare, then `PEXPIRE`).
//! - Rate budget: a token bucket in a Lua script on Redis's own clock (`TIME`), so replicas'
//!   clocks do not matter; a 429's `Retry-After` becomes a "paused until" key the script
//!   honours before handing out any token.
//!
//! Keys live under `whop-chat-mcp:{fingerprint}:` (the braces are a Redis Cluster hash tag:
//! every key of a deployment is in one slot). Every Redis call is bounded
//! ([`OP_TIMEOUT`]). When one fails, or the subscription's connection closes, the replica
//! falls back to local behaviour with one warning and no further Redis calls from requests;
//! a background task reconnects (backing off up to [`RETRY_MAX`]) and logs one line when
//! wake-ups are re-subscribed. During the fallback: wake-ups local only, de-duplication
//! local, every lease granted (each replica polls for itself), and the rate budget local at
//! `WHOP_RATE_LIMIT` divided by the number of replicas last seen alive in Redis (so the
//! replicas together stay within the budget; a replica that never reached Redis assumes it
//! is alone).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt as _;
use redis::{
    AsyncConnectionConfig, Script,
    aio::{MultiplexedConnection, PubSubSink, PubSubStream},
};
use tokio::sync::{Notify, broadcast};

use super::{StateUrl, scrub};
use crate::{
    shared::{BoxFut, Local, Shared},
    whop::{
        Grant, LocalBudget, RateBudget,
        budget::{BudgetFuture, MAX_PAUSE, burst},
    },
};

/// The longest any one Redis call may take before this replica falls back to local state.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_millis(250);
/// The longest a connection attempt (TCP, TLS, `AUTH`, `SUBSCRIBE`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// First and longest wait between reconnection attempts.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often a replica says it is alive (for the fallback's share of the budget), and how
/// long an entry counts.
const HEARTBEAT: Duration = Duration::from_secs(5);
const ALIVE_FOR: Duration = Duration::from_secs(16);

const STARTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// Makes a script that reads `TIME` and then writes work on Redis 5 and 6 too (7 and Valkey
/// replicate effects anyway and keep the call as a no-op).
const PRELUDE: &str = "if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// KEYS: lease. ARGV: replica id, ttl ms. 1 when this replica holds the lease afterwards.
const LEASE: &str = "local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

/// KEYS: bucket, paused-until. ARGV: rate per second (0 = none), burst.
/// Returns {wait ms (0 = go, a token was spent), 1 if paused by a 429}.
const TAKE: &str = "local paused = tonumber(redis.call('GET', KEYS[2]))
if paused and paused > now then return {paused - now, 1} end
local rate = tonumber(ARGV[1])
if rate <= 0 then return {0, 0} end
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {wait, 0}";

/// KEYS: paused-until. ARGV: pause ms. Keeps a later pause already set.
const PAUSE: &str = "local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur == nil or cur < untl then
  redis.call('SET', KEYS[1], tostring(untl), 'PX', ARGV[1])
end
return 1";

/// KEYS: replicas (sorted set). ARGV: replica id, alive-for ms. Returns how many are alive.
const HEARTBEAT_SCRIPT: &str = "redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])";

struct Scripts {
    lease: Script,
    take: Script,
    pause: Script,
    heartbeat: Script,
}

impl Scripts {
    fn new() -> Self {
        let timed = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            lease: Script::new(LEASE),
            take: timed(TAKE),
            pause: timed(PAUSE),
            heartbeat: timed(HEARTBEAT_SCRIPT),
        }
    }
}

/// The deployment's key names.
struct Keys {
    prefix: String,
    wake: String,
    bucket: String,
    paused: String,
    replicas: String,
}

impl Keys {
    fn new(fingerprint: &str) -> Self {
        let prefix = format!("whop-chat-mcp:{{{fingerprint}}}:");
        Keys {
            wake: format!("{prefix}wake"),
            bucket: format!("{prefix}budget"),
            paused: format!("{prefix}paused-until"),
            replicas: format!("{prefix}replicas"),
            prefix,
        }
    }
}

/// A command connection, numbered, so that a call failing on one that has already been
/// replaced (after a reconnection) does not take the new one down.
#[derive(Clone)]
struct Conn {
    generation: u64,
    inner: MultiplexedConnection,
}

pub(crate) struct Redis {
    client: redis::Client,
    url: StateUrl,
    keys: Keys,
    /// This replica's random id: the lease holder's name and the wake-up sender's.
    replica: String,
    /// Wake-up listeners of this replica, and the fallback's de-duplication.
    local: Local,
    /// The command connection while Redis is up; `None` during the fallback.
    conn: Mutex<Option<Conn>>,
    /// Connections made so far (numbers each one, see [`Conn`]).
    connections: AtomicU64,
    phase: AtomicU8,
    /// Signalled when a call fails, so the subscription task reconnects.
    lost: Notify,
    rate: Option<f64>,
    /// The fallback's budget (its pause is honoured even while Redis is up).
    fallback: LocalBudget,
    /// Replicas last seen alive (at least 1).
    replicas: AtomicU32,
    scripts: Scripts,
}

impl Redis {
    /// Connects once (bounded by [`CONNECT_TIMEOUT`]), then keeps the subscription and the
    /// reconnection going in a background task. Never fails: unreachable means fallback.
    pub(crate) async fn start(url: &StateUrl, fingerprint: String, rate: Option<f64>) -> Arc<Self> {
        // StateUrl::parse checked this very parse.
        let client = redis::Client::open(url.expose()).expect("a validated Redis URL opens");
        let redis = Arc::new(Redis {
            client,
            url: url.clone(),
            keys: Keys::new(&fingerprint),
            replica: uuid::Uuid::new_v4().simple().to_string(),
            local: Local::new(),
            conn: Mutex::new(None),
            connections: AtomicU64::new(0),
            phase: AtomicU8::new(STARTING),
            lost: Notify::new(),
            rate,
            fallback: LocalBudget::new(rate),
            replicas: AtomicU32::new(1),
            scripts: Scripts::new(),
        });
        let first = match redis.open().await {
            Ok((conn, subscription)) => {
                redis.came_up(conn);
                Some(subscription)
            }
            Err(why) => {
                redis.went_down(&why);
                None
            }
        };
        tokio::spawn(redis.clone().supervise(first));
        redis
    }

    /// A command connection and a subscription to the wake-up channel.
    async fn open(&self) -> Result<(MultiplexedConnection, (PubSubSink, PubSubStream)), String> {
        let work = async {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(OP_TIMEOUT));
            let conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.keys.wake).await?;
            Ok::<_, redis::RedisError>((conn, pubsub.split()))
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, work).await {
            Ok(Ok(pair)) => Ok(pair),
            Ok(Err(e)) => Err(self.describe(&e)),
            Err(_) => Err(format!(
                "no answer within {} ms",
                CONNECT_TIMEOUT.as_millis()
            )),
        }
    }

    /// Holds the subscription while Redis is up; reconnects, backing off, while it is not.
    async fn supervise(self: Arc<Self>, mut subscription: Option<(PubSubSink, PubSubStream)>) {
        let mut delay = RETRY_MIN;
        loop {
            if let Some((sink, stream)) = subscription.take() {
                self.serve(stream).await;
                drop(sink);
                delay = RETRY_MIN;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
            match self.open().await {
                Ok((conn, pair)) => {
                    self.came_up(conn);
                    subscription = Some(pair);
                }
                Err(why) => self.went_down(&why),
            }
        }
    }

    /// Delivers wake-ups from other replicas and beats the heart, until the connection is
    /// lost (the subscription ends, the heartbeat or another call fails).
    async fn serve(&self, mut stream: PubSubStream) {
        let mut beat = tokio::time::interval(HEARTBEAT);
        let mut first = true;
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => self.deliver(msg.get_payload_bytes()),
                    None => {
                        self.went_down("the connection closed");
                        return;
                    }
                },
                _ = beat.tick() => {
                    if self.heartbeat(first).await.is_none() {
                        return;
                    }
                    first = false;
                }
                // A stale signal from an earlier outage is ignored while up.
                _ = self.lost.notified() => if self.phase.load(Ordering::SeqCst) == DOWN {
                    return;
                },
            }
        }
    }

    fn deliver(&self, payload: &[u8]) {
        let Some((from, channel)) = std::str::from_utf8(payload)
            .ok()
            .and_then(|p| p.split_once(' '))
        else {
            return;
        };
        if from != self.replica && !channel.is_empty() {
            // Local's publish only sends on its in-process broadcast.
            drop(self.local.publish_wake(channel));
        }
    }

    /// Says this replica is alive and learns how many are. Right after a reconnection the
    /// others may not have said so yet (a restarted Redis forgot them): the count then only
    /// grows, until the next beat.
    async fn heartbeat(&self, first: bool) -> Option<()> {
        let mut conn = self.conn()?;
        let alive: u32 = self
            .op(
                conn.generation,
                self.scripts
                    .heartbeat
                    .key(&self.keys.replicas)
                    .arg(&self.replica)
                    .arg(ALIVE_FOR.as_millis() as u64)
                    .invoke_async(&mut conn.inner),
            )
            .await?;
        if first {
            self.replicas.fetch_max(alive.max(1), Ordering::Relaxed);
        } else {
            self.replicas.store(alive.max(1), Ordering::Relaxed);
        }
        Some(())
    }

    fn came_up(&self, inner: MultiplexedConnection) {
        let generation = self.connections.fetch_add(1, Ordering::SeqCst) + 1;
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(Conn { generation, inner });
        match self.phase.swap(UP, Ordering::SeqCst) {
            DOWN => tracing::info!(
                redis = %self.url.shown(),
                "shared state: Redis is reachable again; wake-ups re-subscribed, shared \
                 de-duplication, poll leases and rate budget resumed"
            ),
            STARTING => tracing::info!(
                redis = %self.url.shown(),
                keys = %format!("{}*", self.keys.prefix),
                "shared state on Redis: wake-ups, delivery ids, poll leases and the Whop rate budget are shared with every replica using this API key"
            ),
            _ => {}
        }
    }

    /// Switches to the fallback; warns once per outage.
    fn went_down(&self, why: &str) {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if self.phase.swap(DOWN, Ordering::SeqCst) != DOWN {
            let replicas = self.replicas.load(Ordering::Relaxed);
            let budget = match self.rate {
                Some(r) => format!(
                    "a local rate budget of {} requests/s ({r}/s shared by {replicas} replica{})",
                    r / f64::from(replicas),
                    if replicas == 1 { "" } else { "s" }
                ),
                None => "no rate budget".to_owned(),
            };
            tracing::warn!(
                redis = %self.url.shown(),
                "shared state: Redis is unavailable ({why}); this replica carries on alone until it \
                 returns: local wake-ups and de-duplication, it polls every channel itself, {budget}"
            );
        }
        self.lost.notify_one();
    }

    /// The command connection, unless in fallback.
    fn conn(&self) -> Option<Conn> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs one Redis call on connection `generation` within [`OP_TIMEOUT`]; on failure
    /// falls back and answers `None`.
    async fn op<T>(
        &self,
        generation: u64,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        let why = match tokio::time::timeout(OP_TIMEOUT, call).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => self.describe(&e),
            Err(_) => format!("no answer within {} ms", OP_TIMEOUT.as_millis()),
        };
        // A call on a connection already replaced says nothing about the new one.
        let current = self
            .conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| c.generation);
        if current.is_none_or(|g| g == generation) {
            self.went_down(&why);
        }
        None
    }

    /// A Redis error in words, without the URL's password.
    fn describe(&self, e: &redis::RedisError) -> String {
        scrub(&e.to_string(), self.url.expose())
    }

    fn ms(d: Duration) -> u64 {
        (d.as_millis() as u64).max(1)
    }
}

impl Shared for Redis {
    fn publish_wake<'a>(&'a self, channel_id: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            self.local.publish_wake(channel_id).await;
            if let Some(mut conn) = self.conn() {
                let payload = format!("{} {channel_id}", self.replica);
                let _: Option<i64> = self
                    .op(
                        conn.generation,
                        redis::cmd("PUBLISH")
                            .arg(&self.keys.wake)
                            .arg(payload)
                            .query_async(&mut conn.inner),
                    )
                    .await;
            }
        })
    }

    fn wakes(&self) -> broadcast::Receiver<Arc<str>> {
        self.local.wakes()
    }

    fn first_delivery<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFut<'a, bool> {
        Box::pin(async move {
            // Remembered here too, so a repeat during a later outage is still caught.
            let local = self.local.first_delivery(id, ttl).await;
            let Some(mut conn) = self.conn() else {
                return local;
            };
            let set: Option<Option<String>> = self
                .op(
                    conn.generation,
                    redis::cmd("SET")
                        .arg(format!("{}delivery:{id}", self.keys.prefix))
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(Self::ms(ttl))
                        .query_async(&mut conn.inner),
                )
                .await;
            match set {
                Some(answer) => answer.is_some(),
                None => local,
            }
        })
    }

    fn poll_lease<'a>(&'a self, channel_id: &'a str, ttl: Duration) -> BoxFut<'a, bool> {
        Box::pin(async move {
            let Some(mut conn) = self.conn() else {
                return true;
            };
            let held: Option<i64> = self
                .op(
                    conn.generation,
                    self.scripts
                        .lease
                        .key(format!("{}lease:{channel_id}", self.keys.prefix))
                        .arg(&self.replica)
                        .arg(Self::ms(ttl))
                        .invoke_async(&mut conn.inner),
                )
                .await;
            held.is_none_or(|h| h == 1)
        })
    }
}

impl RateBudget for Redis {
    fn take(&self) -> BudgetFuture<'_, Grant> {
        Box::pin(async move {
            // This replica's own 429 holds it back even if telling Redis failed.
            if let paused @ Grant::Wait { .. } = self.fallback.take_now(None) {
                return paused;
            }
            let Some(mut conn) = self.conn() else {
                let share = self
                    .rate
                    .map(|r| r / f64::from(self.replicas.load(Ordering::Relaxed)));
                return self.fallback.take_now(share);
            };
            let rate = self.rate.unwrap_or(0.0);
            let answer: Option<(u64, u8)> = self
                .op(
                    conn.generation,
                    self.scripts
                        .take
                        .key(&self.keys.bucket)
                        .key(&self.keys.paused)
                        .arg(rate)
                        .arg(burst(rate))
                        .invoke_async(&mut conn.inner),
                )
                .await;
            match answer {
                Some((0, _)) => Grant::Go,
                Some((ms, paused)) => Grant::Wait {
                    after: Duration::from_millis(ms),
                    paused: paused == 1,
                },
                None => {
                    let share = self
                        .rate
                        .map(|r| r / f64::from(self.replicas.load(Ordering::Relaxed)));
                    self.fallback.take_now(share)
                }
            }
        })
    }

    fn pause(&self, wait: Duration) -> BudgetFuture<'_, ()> {
        Box::pin(async move {
            let wait = wait.min(MAX_PAUSE);
            self.fallback.pause_now(wait);
            if let Some(mut conn) = self.conn() {
                let _: Option<i64> = self
                    .op(
                        conn.generation,
                        self.scripts
                            .pause
                            .key(&self.keys.paused)
                            .arg(Self::ms(wait))
                            .invoke_async(&mut conn.inner),
                    )
                    .await;
            }
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "Whop answered 429: requests with this API key pause (every replica sharing the budget)"
            );
        })
    }

    fn limit(&self) -> Option<f64> {
        self.rate
    }
}
