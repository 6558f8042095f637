//! One polling task per subscribed channel, however many subscribers it has (legacy
//! `resources/subscribe` sessions and 2026-07-28 `subscriptions/listen` streams alike),
//! stopped when the last one leaves. A task polls every `WHOP_POLL_SECONDS`, slows down when
//! Whop rate-limits it (the [`Backoff`] rule `wait_for_messages` follows too), and announces
//! new messages on a broadcast channel.
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
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    poll::{Backoff, Baseline, newer},
    whop,
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

struct Watch {
    /// Tells this watch apart from a later one on the same channel.
    generation: u64,
    subscribers: usize,
    updates: broadcast::Sender<Update>,
    stop: CancellationToken,
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
}

/// One subscriber's place in a channel's watcher; leaving is dropping it.
pub struct Subscription {
    updates: broadcast::Receiver<Update>,
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

fn lock(table: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}

impl Watchers {
    pub fn new(client: whop::Client, interval: Duration) -> Self {
        Watchers {
            client,
            interval,
            table: Arc::default(),
        }
    }

    /// Joins (or starts) the channel's watcher. Call it at the subscribe moment: a watcher it
    /// starts counts every message from then on (see [`CLOCK_MARGIN`]) as new.
    pub fn subscribe(&self, channel: &str) -> Subscription {
        let mut table = lock(&self.table);
        if let Some(w) = table.watches.get_mut(channel) {
            w.subscribers += 1;
            return Subscription {
                updates: w.updates.subscribe(),
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
        tokio::spawn(watch(
            Poller {
                client: self.client.clone(),
                channel: channel.to_owned(),
                interval: self.interval,
                updates: updates.clone(),
                stop: stop.clone(),
                table: self.table.clone(),
                generation,
            },
            since,
        ));
        tracing::debug!(channel, "watcher started");
        table.watches.insert(
            channel.to_owned(),
            Watch {
                generation,
                subscribers: 1,
                updates,
                stop,
            },
        );
        Subscription {
            updates: receiver,
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
    table: Arc<Mutex<Table>>,
    generation: u64,
}

async fn watch(p: Poller, mut base: Baseline) {
    let mut backoff = Backoff::new(p.interval);
    let mut pause = p.interval;
    loop {
        tokio::select! {
            _ = p.stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let step = newer(&p.client, &p.channel, &base).await;
        pause = backoff.after(&step);
        match step {
            Ok(found) => {
                if let Some(newest) = found.first() {
                    base = Baseline::of(newest);
                    p.updates.send(Update::New).ok();
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
