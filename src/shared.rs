//! State that replicas of one deployment share: wake-ups per channel, webhook delivery ids
//! seen, and who polls a channel. The embedded default, [`Local`], keeps all of it in this
//! process (one replica, nothing to install); `--state redis://…` swaps in a Redis-backed
//! implementation of the same trait.
//!
//! The trait is object-safe (boxed futures) so the server holds one `Arc<dyn Shared>` and
//! never knows which engine is behind it.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::broadcast;

/// A boxed future, so [`Shared`] can be used as a trait object.
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How many wake-ups a slow listener may fall behind before it misses some (it then re-checks
/// every channel it waits on, so a lag costs one extra fetch, never a lost message).
pub(crate) const WAKE_BACKLOG: usize = 1024;

/// How many delivery ids the local de-duplication remembers (oldest forgotten first).
const LOCAL_SEEN_MAX: usize = 10_000;

/// Cross-replica state; see the module header.
pub(crate) trait Shared: Send + Sync + 'static {
    /// Tells every replica (this one included) that `channel_id` has news: a webhook arrived,
    /// or the replica polling it saw a new message. Best effort: never fails, never blocks long.
    fn publish_wake<'a>(&'a self, channel_id: &'a str) -> BoxFut<'a, ()>;

    /// Wake-ups published by any replica, as channel ids. Each call is a new listener.
    fn wakes(&self) -> broadcast::Receiver<Arc<str>>;

    /// True the first time delivery `id` is seen (across replicas) within `ttl`; false for a
    /// repeat, which the receiver acknowledges and drops.
    fn first_delivery<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFut<'a, bool>;

    /// Asks to be the one poller of `channel_id` for the next `ttl` (renewing when this replica
    /// already holds it). False when another replica holds the lease: it publishes what it
    /// sees, so this replica waits for wake-ups instead of polling.
    fn poll_lease<'a>(&'a self, channel_id: &'a str, ttl: Duration) -> BoxFut<'a, bool>;
}

/// The embedded default: one process, no engine.
pub(crate) struct Local {
    wakes: broadcast::Sender<Arc<str>>,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    at: HashMap<String, Instant>,
    order: VecDeque<String>,
}

impl Local {
    pub(crate) fn new() -> Self {
        Local {
            wakes: broadcast::channel(WAKE_BACKLOG).0,
            seen: Mutex::new(Seen::default()),
        }
    }
}

impl Default for Local {
    fn default() -> Self {
        Self::new()
    }
}

impl Shared for Local {
    fn publish_wake<'a>(&'a self, channel_id: &'a str) -> BoxFut<'a, ()> {
        // No listener yet is fine: nobody waits on anything.
        let _ = self.wakes.send(Arc::from(channel_id));
        Box::pin(std::future::ready(()))
    }

    fn wakes(&self) -> broadcast::Receiver<Arc<str>> {
        self.wakes.subscribe()
    }

    fn first_delivery<'a>(&'a self, id: &'a str, ttl: Duration) -> BoxFut<'a, bool> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let first = match seen.at.get(id) {
            Some(at) if now.duration_since(*at) < ttl => false,
            _ => {
                seen.at.insert(id.to_owned(), now);
                seen.order.push_back(id.to_owned());
                true
            }
        };
        while seen.order.len() > LOCAL_SEEN_MAX {
            if let Some(old) = seen.order.pop_front() {
                seen.at.remove(&old);
            }
        }
        Box::pin(std::future::ready(first))
    }

    fn poll_lease<'a>(&'a self, _channel_id: &'a str, _ttl: Duration) -> BoxFut<'a, bool> {
        // One process: it is always the poller.
        Box::pin(std::future::ready(true))
    }
}

/// The shared state as the server, the watchers and the webhook receiver hold it: cheap to
/// clone, and opaque outside the crate (made by [`crate::state::State::handle`], or [`Handle::local`]).
#[derive(Clone)]
pub struct Handle {
    pub(crate) engine: Arc<dyn Shared>,
    /// Whether the engine reaches other processes. A poller publishes what it finds only then:
    /// with the embedded state the only listener would be the poller itself.
    replicated: bool,
}

impl Handle {
    /// The embedded state: this process only.
    pub fn local() -> Self {
        Self::with_engine(Arc::new(Local::new()), false)
    }

    /// A handle on `engine`; `replicated` says whether it reaches other processes.
    pub(crate) fn with_engine(engine: Arc<dyn Shared>, replicated: bool) -> Self {
        Handle { engine, replicated }
    }

    /// Whether wake-ups published here reach other processes (replicas, stdio servers).
    pub fn reaches_other_processes(&self) -> bool {
        self.replicated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_id_counts_once_within_its_ttl() {
        let l = Local::new();
        assert!(l.first_delivery("msg_1", Duration::from_secs(60)).await);
        assert!(!l.first_delivery("msg_1", Duration::from_secs(60)).await);
        assert!(l.first_delivery("msg_2", Duration::from_secs(60)).await);
        // An expired entry counts as new again.
        assert!(l.first_delivery("msg_3", Duration::ZERO).await);
        assert!(l.first_delivery("msg_3", Duration::ZERO).await);
    }

    #[tokio::test]
    async fn wakes_reach_every_listener() {
        let l = Local::new();
        let mut a = l.wakes();
        let mut b = l.wakes();
        l.publish_wake("feed_1").await;
        assert_eq!(&*a.recv().await.unwrap(), "feed_1");
        assert_eq!(&*b.recv().await.unwrap(), "feed_1");
        assert!(l.poll_lease("feed_1", Duration::from_secs(5)).await);
    }
}
