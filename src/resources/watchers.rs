//! One polling task per subscribed channel, however many subscribers it has (legacy
//! `resources/subscribe` sessions and 2026-07-28 `subscriptions/listen` streams alike),
//! stopped when the last one leaves. A task polls every `WHOP_POLL_SECONDS`, slows down when
//! Whop rate-limits it (the [`Backoff`] rule `wait_for_messages` follows too), and announces
//! new messages on a broadcast channel.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    poll::{Backoff, Baseline, baseline_now, newer},
    whop,
};

struct Watch {
    subscribers: usize,
    updates: broadcast::Sender<()>,
    stop: CancellationToken,
}

/// One watcher task per subscribed channel, shared by every subscriber.
pub struct Watchers {
    client: whop::Client,
    interval: Duration,
    watches: Mutex<HashMap<String, Watch>>,
}

impl Watchers {
    pub fn new(client: whop::Client, interval: Duration) -> Self {
        Watchers {
            client,
            interval,
            watches: Mutex::new(HashMap::new()),
        }
    }

    /// Joins (or starts) the channel's watcher; the receiver gets `()` whenever new messages
    /// appear. Pair every call with [`Watchers::unsubscribe`].
    pub fn subscribe(&self, channel: &str) -> broadcast::Receiver<()> {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = watches.get_mut(channel) {
            w.subscribers += 1;
            return w.updates.subscribe();
        }
        let (updates, receiver) = broadcast::channel(16);
        let stop = CancellationToken::new();
        tokio::spawn(watch(
            self.client.clone(),
            channel.to_owned(),
            self.interval,
            updates.clone(),
            stop.clone(),
        ));
        tracing::debug!(channel, "watcher started");
        watches.insert(
            channel.to_owned(),
            Watch {
                subscribers: 1,
                updates,
                stop,
            },
        );
        receiver
    }

    /// Leaves the channel's watcher, stopping it when nobody is left.
    pub fn unsubscribe(&self, channel: &str) {
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = watches.get_mut(channel) {
            w.subscribers -= 1;
            if w.subscribers == 0 {
                w.stop.cancel();
                watches.remove(channel);
                tracing::debug!(channel, "watcher stopped");
            }
        }
    }

    /// Channels watched now (for tests and logs).
    pub fn watched(&self) -> Vec<String> {
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

async fn watch(
    client: whop::Client,
    channel: String,
    interval: Duration,
    updates: broadcast::Sender<()>,
    stop: CancellationToken,
) {
    let mut base: Option<Baseline> = None;
    let mut backoff = Backoff::new(interval);
    let mut pause = Duration::ZERO;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let step = match &base {
            None => baseline_now(&client, &channel)
                .await
                .map(|b| base = Some(b)),
            Some(b) => match newer(&client, &channel, b).await {
                Ok(found) => {
                    if let Some(newest) = found.first() {
                        base = Some(Baseline::of(newest));
                        updates.send(()).ok();
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        pause = backoff.after(&step);
        if let Err(e) = step {
            tracing::debug!(channel, error = %e, "watcher poll failed");
        }
    }
}
