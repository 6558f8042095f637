//! Resources: `whop://channels` (the company's chat channels) and the template
//! `whop://channels/{channel_id}/messages` (a channel's recent messages), both rendered as the
//! tools render them; plus subscriptions to a channel's messages.
//!
//! [`Watchers`] keeps one polling task per subscribed channel, however many subscribers it has
//! (legacy `resources/subscribe` sessions and 2026-07-28 `subscriptions/listen` streams alike),
//! and stops it when the last one leaves. A task polls every `WHOP_POLL_SECONDS`, slows down
//! when Whop rate-limits it, and announces new messages on a broadcast channel.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    tools::watch::{Baseline, baseline_now, newer},
    whop,
};

pub const CHANNELS_URI: &str = "whop://channels";
pub const MESSAGES_TEMPLATE: &str = "whop://channels/{channel_id}/messages";
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a `whop://` URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Channels,
    Messages(String),
}

/// Parses our resource URIs; anything else is `None`.
pub fn parse_uri(uri: &str) -> Option<Target> {
    if uri == CHANNELS_URI {
        return Some(Target::Channels);
    }
    let id = uri
        .strip_prefix("whop://channels/")?
        .strip_suffix("/messages")?;
    let valid = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| Target::Messages(id.to_owned()))
}

pub fn messages_uri(channel: &str) -> String {
    format!("whop://channels/{channel}/messages")
}

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
    let mut pause = Duration::ZERO;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = interval;
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
        if let Err(e) = step {
            if e.status() == Some(429) {
                pause = (interval * 4).min(MAX_BACKOFF);
            }
            tracing::debug!(channel, error = %e, "watcher poll failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(parse_uri("whop://channels"), Some(Target::Channels));
        assert_eq!(
            parse_uri("whop://channels/feed_7HgT/messages"),
            Some(Target::Messages("feed_7HgT".into()))
        );
        assert_eq!(
            parse_uri(&messages_uri("exp_1")),
            Some(Target::Messages("exp_1".into()))
        );
        for bad in [
            "whop://channels/",
            "whop://channels//messages",
            "whop://channels/a/b/messages",
            "file:///etc/passwd",
            "whop://channels/x%2F/messages",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }
}
