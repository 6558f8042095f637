//! One watcher task per channel that something waits on, however many do (legacy
//! `resources/subscribe` sessions, 2026-07-28 `subscriptions/listen` streams and
//! `wait_for_messages` calls alike), stopped when the last one leaves. A task announces new
//! messages on a broadcast channel; each listener then checks against its own baseline.
//!
//! - A wake-up for its channel ([`crate::shared`]: a webhook, or another replica's poller)
//!   makes the task fetch at once. Between wake-ups it polls every `WHOP_POLL_SECONDS`, or in
//!   push mode only every `WHOP_SAFETY_POLL_SECONDS`, and slows down when Whop rate-limits it
//!   (the [`Backoff`] rule; wake-ups wait for the pause too).
//! - Before each poll (not a fetch after a wake-up) it asks for the channel's poll lease: when
//!   another replica holds it, that one polls and publishes what it finds, so this one skips.
//!   What a poll finds is published as a wake-up for the other replicas (with a state that
//!   reaches them; with the embedded one the only listener would be this task itself).
//!
//! - A new watcher starts from the moment its first subscriber subscribed (less a margin for
//!   clock skew), not from its own first poll, so a message posted right after the
//!   acknowledgement is never absorbed into the baseline. At worst, a message from the few
//!   seconds before subscribing is announced once too.
//! - A channel that answers 401, 403 or 404 is gone for this key: its watcher tells every
//!   subscriber ([`Update::Gone`]) and stops, instead of polling it forever.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use futures_util::FutureExt as _;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::{
    poll::{Backoff, Baseline, MAX_NEW, newer},
    shared::Handle,
    whop::{self, models::Message},
};

/// How far before the subscribe moment a new watcher's baseline lies: covers a Whop clock
/// that runs behind ours.
pub(crate) const CLOCK_MARGIN: Duration = Duration::from_secs(5);

/// What a watcher tells its subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The channel has new messages.
    New,
    /// Whop refused the channel with this status (401, 403, 404); the watcher has stopped.
    Gone(u16),
}

/// What a watcher's last check found: the messages newer than `since`, newest first.
struct Batch {
    since: Baseline,
    messages: Vec<Message>,
}

/// The watcher's last batch, which its subscribers may read instead of asking Whop again.
type Latest = Arc<Mutex<Option<Arc<Batch>>>>;

struct Watch {
    /// Tells this watch apart from a later one on the same channel.
    generation: u64,
    latest: Latest,
    subscribers: usize,
    updates: broadcast::Sender<Update>,
    stop: CancellationToken,
    /// Poked when a wake-up names this channel (a permit is kept if the task is busy).
    poke: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next_generation: u64,
    watches: HashMap<String, Watch>,
}

/// One watcher task per subscribed channel, shared by every subscriber.
pub struct Watchers {
    client: whop::Client,
    interval: Duration,
    table: Arc<Mutex<Table>>,
    state: Handle,
    /// Stops the task that routes wake-ups to watchers (started with the first subscriber).
    router: std::sync::OnceLock<CancellationToken>,
}

impl Drop for Watchers {
    fn drop(&mut self) {
        if let Some(stop) = self.router.get() {
            stop.cancel();
        }
    }
}

/// One subscriber's place in a channel's watcher; leaving is dropping it.
pub struct Subscription {
    updates: broadcast::Receiver<Update>,
    latest: Latest,
    table: Arc<Mutex<Table>>,
    channel: String,
    generation: u64,
}

impl Subscription {
    /// The next update; `None` once the watcher is gone for good.
    pub async fn next(&mut self) -> Option<Update> {
        match self.updates.recv().await {
            Ok(u) => Some(u),
            // Missed some: one "new" says as much.
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Update::New),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The messages newer than `base` (newest first), when the watcher's last check answers
    /// that already: nothing newer than `base` existed up to `known` (a point at or after
    /// `base`, e.g. when the subscriber's own empty check started, less [`CLOCK_MARGIN`]),
    /// `known` is at or after where the watcher's check started, and that check was not cut at
    /// [`MAX_NEW`]. `None`: ask Whop.
    pub(crate) fn news_since(&self, base: &Baseline, known: &Baseline) -> Option<Vec<Message>> {
        let batch = lock_latest(&self.latest).clone()?;
        if !known.at_or_after(&batch.since) || batch.messages.len() >= MAX_NEW {
            return None;
        }
        Some(
            batch
                .messages
                .iter()
                .take_while(|m| !base.covers(m))
                .cloned()
                .collect(),
        )
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut table = lock(&self.table);
        let Some(w) = table.watches.get_mut(&self.channel) else {
            return;
        };
        if w.generation != self.generation {
            return;
        }
        w.subscribers -= 1;
        if w.subscribers == 0 {
            w.stop.cancel();
            table.watches.remove(&self.channel);
            tracing::debug!(channel = self.channel, "watcher stopped");
        }
    }
}

fn lock_latest(latest: &Latest) -> std::sync::MutexGuard<'_, Option<Arc<Batch>>> {
    latest.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock(table: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a poll lease lasts: two intervals, so the holder renews it at every poll with
/// room for one late poll before another replica takes over.
fn lease_ttl(interval: Duration) -> Duration {
    interval * 2
}

impl Watchers {
    /// Watchers polling every `interval`, with the embedded state.
    pub fn new(client: whop::Client, interval: Duration) -> Self {
        Self::with_state(client, interval, Handle::local())
    }

    /// Watchers polling every `interval` and woken through `state`.
    pub fn with_state(client: whop::Client, interval: Duration, state: Handle) -> Self {
        Watchers {
            client,
            interval,
            table: Arc::default(),
            state,
            router: std::sync::OnceLock::new(),
        }
    }

    /// Starts routing wake-ups to watchers, once.
    fn route_wakes(&self) {
        self.router.get_or_init(|| {
            let stop = CancellationToken::new();
            tokio::spawn(route(
                self.state.engine.wakes(),
                self.table.clone(),
                stop.clone(),
            ));
            stop
        });
    }

    /// Joins (or starts) the channel's watcher. Call it at the subscribe moment: a watcher it
    /// starts counts every message from then on (see [`CLOCK_MARGIN`]) as new.
    pub fn subscribe(&self, channel: &str) -> Subscription {
        self.route_wakes();
        let mut table = lock(&self.table);
        if let Some(w) = table.watches.get_mut(channel) {
            w.subscribers += 1;
            return Subscription {
                updates: w.updates.subscribe(),
                latest: w.latest.clone(),
                table: self.table.clone(),
                channel: channel.to_owned(),
                generation: w.generation,
            };
        }
        table.next_generation += 1;
        let generation = table.next_generation;
        let (updates, receiver) = broadcast::channel(16);
        let stop = CancellationToken::new();
        let since = Baseline::at(Utc::now() - CLOCK_MARGIN);
        let poke = Arc::new(Notify::new());
        let latest = Latest::default();
        tokio::spawn(watch(
            Poller {
                client: self.client.clone(),
                channel: channel.to_owned(),
                interval: self.interval,
                updates: updates.clone(),
                stop: stop.clone(),
                poke: poke.clone(),
                state: self.state.clone(),
                table: self.table.clone(),
                generation,
                latest: latest.clone(),
            },
            since,
        ));
        tracing::debug!(channel, "watcher started");
        table.watches.insert(
            channel.to_owned(),
            Watch {
                generation,
                latest: latest.clone(),
                subscribers: 1,
                updates,
                stop,
                poke,
            },
        );
        Subscription {
            updates: receiver,
            latest,
            table: self.table.clone(),
            channel: channel.to_owned(),
            generation,
        }
    }

    /// Channels watched now (for tests and logs).
    pub fn watched(&self) -> Vec<String> {
        lock(&self.table).watches.keys().cloned().collect()
    }
}

/// What one watcher task owns.
struct Poller {
    client: whop::Client,
    channel: String,
    interval: Duration,
    updates: broadcast::Sender<Update>,
    stop: CancellationToken,
    poke: Arc<Notify>,
    state: Handle,
    table: Arc<Mutex<Table>>,
    generation: u64,
    latest: Latest,
}

/// Pokes the watcher of each channel a wake-up names, until `stop`.
async fn route(
    mut wakes: broadcast::Receiver<Arc<str>>,
    table: Arc<Mutex<Table>>,
    stop: CancellationToken,
) {
    loop {
        let wake = tokio::select! {
            _ = stop.cancelled() => return,
            wake = wakes.recv() => wake,
        };
        match wake {
            Ok(channel) => {
                if let Some(w) = lock(&table).watches.get(&*channel) {
                    w.poke.notify_one();
                }
            }
            // Missed some: every watcher checks once, so none is lost.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                for w in lock(&table).watches.values() {
                    w.poke.notify_one();
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn watch(p: Poller, mut base: Baseline) {
    let mut backoff = Backoff::new(p.interval);
    let mut pause = p.interval;
    let mut limited = false;
    loop {
        let woken = if limited {
            // Rate limited: a wake-up waits for the pause too, then fetches at once.
            tokio::select! {
                _ = p.stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            p.poke.notified().now_or_never().is_some()
        } else {
            tokio::select! {
                _ = p.stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => false,
                _ = p.poke.notified() => true,
            }
        };
        if !woken
            && !p
                .state
                .engine
                .poll_lease(&p.channel, lease_ttl(p.interval))
                .await
        {
            // Another replica polls this channel and publishes what it finds.
            pause = p.interval;
            continue;
        }
        let step = newer(&p.client, &p.channel, &base).await;
        pause = backoff.after(&step);
        limited = matches!(&step, Err(e) if e.status() == Some(429));
        match step {
            Ok(found) => {
                if let Some(newest) = found.first() {
                    let since = std::mem::replace(&mut base, Baseline::of(newest));
                    *lock_latest(&p.latest) = Some(Arc::new(Batch {
                        since,
                        messages: found,
                    }));
                    p.updates.send(Update::New).ok();
                    if !woken && p.state.reaches_other_processes() {
                        p.state.engine.publish_wake(&p.channel).await;
                    }
                }
            }
            Err(e) if matches!(e.status(), Some(401 | 403 | 404)) => {
                let status = e.status().unwrap_or_default();
                tracing::info!(
                    channel = p.channel,
                    status,
                    "watched channel refused by Whop; watcher stopped"
                );
                let mut table = lock(&p.table);
                if table
                    .watches
                    .get(&p.channel)
                    .is_some_and(|w| w.generation == p.generation)
                {
                    table.watches.remove(&p.channel);
                }
                p.updates.send(Update::Gone(status)).ok();
                return;
            }
            Err(e) => tracing::debug!(channel = p.channel, error = %e, "watcher poll failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::{BoxFut, Local, Shared};

    /// The embedded state, except that this replica holds no poll lease unless `lease`, and
    /// every publish is recorded.
    struct Replica {
        local: Local,
        lease: bool,
        published: Mutex<Vec<String>>,
    }

    impl Shared for Replica {
        fn publish_wake<'a>(&'a self, channel_id: &'a str) -> BoxFut<'a, ()> {
            self.published.lock().unwrap().push(channel_id.to_owned());
            self.local.publish_wake(channel_id)
        }
        fn wakes(&self) -> broadcast::Receiver<Arc<str>> {
            self.local.wakes()
        }
        fn first_delivery<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFut<'a, bool> {
            self.local.first_delivery(id, ttl)
        }
        fn poll_lease<'a>(&'a self, _: &'a str, _: Duration) -> BoxFut<'a, bool> {
            Box::pin(std::future::ready(self.lease))
        }
    }

    async fn setup(
        lease: bool,
        interval: Duration,
    ) -> (whop_sandbox::Sandbox, Watchers, Arc<Replica>, String) {
        let sb = whop_sandbox::Sandbox::start(([127, 0, 0, 1], 0).into(), "k_watch_test")
            .await
            .unwrap();
        let client = whop::Client::new(whop::ClientOptions {
            base_url: sb.base_url(),
            api_key: whop::Secret::new("k_watch_test"),
            api_version: whop::DEFAULT_API_VERSION.into(),
            policy: whop::RetryPolicy::default(),
        })
        .unwrap();
        let replica = Arc::new(Replica {
            local: Local::new(),
            lease,
            published: Mutex::default(),
        });
        let state = Handle::with_engine(replica.clone(), true);
        let feed = sb.channel_id("General");
        (
            sb,
            Watchers::with_state(client, interval, state),
            replica,
            feed,
        )
    }

    #[tokio::test]
    async fn a_wake_up_makes_the_watcher_fetch_at_once() {
        let (sb, hub, replica, feed) = setup(true, Duration::from_secs(3600)).await;
        let mut sub = hub.subscribe(&feed);
        sb.post_as("chloe", &feed, "pushed");
        let started = std::time::Instant::now();
        replica.local.publish_wake(&feed).await;
        let update = tokio::time::timeout(Duration::from_secs(2), sub.next()).await;
        assert_eq!(update.unwrap(), Some(Update::New));
        assert!(started.elapsed() < Duration::from_secs(1));
        // Found through a wake-up: nothing to tell the other replicas.
        assert!(replica.published.lock().unwrap().is_empty());
        // A wake-up for another channel wakes nobody here.
        sb.clear_requests();
        replica.local.publish_wake("feed_other").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sb.requests_to("GET", "/messages").is_empty());
    }

    #[tokio::test]
    async fn without_the_lease_a_watcher_skips_its_polls_but_not_wake_ups() {
        let (sb, hub, replica, feed) = setup(false, Duration::from_millis(100)).await;
        let mut sub = hub.subscribe(&feed);
        sb.post_as("chloe", &feed, "polled by another replica");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            sb.requests_to("GET", "/messages").is_empty(),
            "another replica holds the lease and polls"
        );
        replica.local.publish_wake(&feed).await;
        let update = tokio::time::timeout(Duration::from_secs(2), sub.next()).await;
        assert_eq!(update.unwrap(), Some(Update::New));
    }

    #[tokio::test]
    async fn what_a_poll_finds_is_published_for_the_other_replicas() {
        let (sb, hub, replica, feed) = setup(true, Duration::from_millis(100)).await;
        let mut sub = hub.subscribe(&feed);
        sb.post_as("chloe", &feed, "found by polling");
        let update = tokio::time::timeout(Duration::from_secs(2), sub.next()).await;
        assert_eq!(update.unwrap(), Some(Update::New));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*replica.published.lock().unwrap(), [feed]);
    }
}
