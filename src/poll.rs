//! Polling primitives shared by `wait_for_messages` and the resource watchers: what counts as
//! a new message, how to take the baseline, and how polling slows down when Whop rate-limits.
//! Without webhooks polling is how new messages are found (every `WHOP_POLL_SECONDS`); with
//! them ("push" mode) it is only a safety net (every `WHOP_SAFETY_POLL_SECONDS`).
//!
//! "New" is decided against a baseline message: everything listed above it (newest first) is
//! new. Its creation time is kept too, so a deleted baseline does not make old messages look
//! new. Each poll first asks for a handful of the newest messages, so a quiet channel costs
//! one small request per interval.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    output::text::parse_time,
    whop::{self, ListMessages, models::Message},
};

/// Default interval between polls (`WHOP_POLL_SECONDS`).
pub const DEFAULT_POLL_SECONDS: u64 = 3;
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(DEFAULT_POLL_SECONDS);
/// Default interval between safety-net polls in push mode (`WHOP_SAFETY_POLL_SECONDS`), when
/// webhooks announce new messages and polling only catches a delivery that went missing.
pub const DEFAULT_SAFETY_POLL_SECONDS: u64 = 30;
pub(crate) const DEFAULT_SAFETY_INTERVAL: Duration =
    Duration::from_secs(DEFAULT_SAFETY_POLL_SECONDS);
/// Most messages one check returns.
pub(crate) const MAX_NEW: usize = 100;
/// Longest pause between polls after rate limiting.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The point after which messages count as new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Baseline {
    pub(crate) id: Option<String>,
    pub(crate) created_at: Option<DateTime<Utc>>,
}

impl Baseline {
    pub(crate) fn of(m: &Message) -> Self {
        Baseline {
            id: Some(m.id.clone()),
            created_at: m.created_at.as_deref().and_then(parse_time),
        }
    }

    /// A baseline at a point in time (messages created after it are new).
    pub(crate) fn at(t: DateTime<Utc>) -> Self {
        Baseline {
            id: None,
            created_at: Some(t),
        }
    }

    pub(crate) fn covers(&self, m: &Message) -> bool {
        if self.id.as_deref() == Some(m.id.as_str()) {
            return true;
        }
        match (
            self.created_at,
            m.created_at.as_deref().and_then(parse_time),
        ) {
            (Some(base), Some(t)) => t <= base,
            _ => false,
        }
    }

    /// Whether everything `other` covers, this covers too (this baseline is at or after it),
    /// so what is new since this one is a part of what is new since `other`. Unknown times
    /// answer no.
    pub(crate) fn at_or_after(&self, other: &Baseline) -> bool {
        matches!((self.created_at, other.created_at), (Some(me), Some(it)) if it <= me)
    }

    /// What to pass as `after` to continue from here.
    pub(crate) fn cursor(&self) -> Option<String> {
        self.id.clone().or_else(|| {
            self.created_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        })
    }
}

/// The newest message in a channel now, as a baseline (empty channel: nothing, so any
/// message will be new).
pub(crate) async fn baseline_now(
    client: &whop::Client,
    channel: &str,
) -> Result<Baseline, whop::Error> {
    let page = client
        .list_messages(&ListMessages {
            channel_id: channel.to_owned(),
            first: 1,
            after: None,
            newest_first: true,
        })
        .await?;
    Ok(page.data.first().map(Baseline::of).unwrap_or_default())
}

/// Messages newer than `base`, newest first, at most [`MAX_NEW`].
pub(crate) async fn newer(
    client: &whop::Client,
    channel: &str,
    base: &Baseline,
) -> Result<Vec<Message>, whop::Error> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let first = if found.is_empty() { 5 } else { 50 };
        let page = client
            .list_messages(&ListMessages {
                channel_id: channel.to_owned(),
                first,
                after: after.clone(),
                newest_first: true,
            })
            .await?;
        let next = page.next_cursor(after.as_deref());
        for m in page.data {
            if base.covers(&m) || found.len() >= MAX_NEW {
                return Ok(found);
            }
            found.push(m);
        }
        match next {
            Some(c) => after = Some(c),
            None => return Ok(found),
        }
    }
}

/// The one rule for how often to poll: every `interval` while Whop answers; after a 429,
/// (or the rate budget holding it back) twice the previous pause (at least what Whop's `Retry-After` asked, at most a minute);
/// back to `interval` after the next answer that is not a 429.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    interval: Duration,
    pause: Duration,
}

impl Backoff {
    pub(crate) fn new(interval: Duration) -> Self {
        Backoff {
            interval,
            pause: interval,
        }
    }

    /// The pause before the next poll, given how the last one went.
    pub(crate) fn after<T>(&mut self, outcome: &Result<T, whop::Error>) -> Duration {
        self.pause = match outcome {
            Err(e) if e.is_rate_limited() => (self.pause * 2)
                .max(e.retry_after().unwrap_or_default())
                .min(MAX_BACKOFF),
            _ => self.interval,
        };
        self.pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, at: &str) -> Message {
        serde_json::from_value(serde_json::json!({"id": id, "created_at": at, "content": id, "user": {"id": "u", "username": "p"}})).unwrap()
    }

    #[test]
    fn a_later_baseline_is_at_or_after_an_earlier_one() {
        let early = Baseline::of(&msg("msg_1", "2026-01-01T10:00:00.000Z"));
        let late = Baseline::of(&msg("msg_2", "2026-01-01T10:00:01.000Z"));
        assert!(late.at_or_after(&early) && early.at_or_after(&early));
        assert!(!early.at_or_after(&late));
        assert!(
            !Baseline::default().at_or_after(&early) && !late.at_or_after(&Baseline::default())
        );
    }

    #[test]
    fn the_baseline_covers_itself_and_everything_older() {
        let base = Baseline::of(&msg("m2", "2026-11-25T10:00:00.000Z"));
        assert!(base.covers(&msg("m2", "2026-11-25T10:00:00.000Z")));
        assert!(base.covers(&msg("m1", "2026-11-25T09:59:59.000Z")));
        assert!(!base.covers(&msg("m3", "2026-11-25T10:00:01.000Z")));
        // An empty baseline covers nothing: every message is new.
        assert!(!Baseline::default().covers(&msg("m1", "2026-11-25T09:00:00.000Z")));
        assert_eq!(base.cursor().as_deref(), Some("m2"));
        let t = Baseline::at(parse_time("2026-11-25T10:00:00Z").unwrap());
        assert_eq!(t.cursor().as_deref(), Some("2026-11-25T10:00:00.000Z"));
    }

    #[test]
    fn polling_slows_down_on_429_and_recovers() {
        let limited = || -> Result<(), whop::Error> {
            Err(whop::Error::Api {
                status: 429,
                body: Box::default(),
                retry_after: Some(Duration::from_secs(5)),
                request_id: None,
                attempts: 1,
                target: whop::Target {
                    scope: "chat:read",
                    kind: whop::Kind::Channel,
                    id: None,
                },
            })
        };
        let mut b = Backoff::new(Duration::from_secs(3));
        assert_eq!(b.after(&Ok(())), Duration::from_secs(3));
        assert_eq!(b.after(&limited()), Duration::from_secs(6));
        assert_eq!(b.after(&limited()), Duration::from_secs(12));
        for _ in 0..5 {
            b.after(&limited());
        }
        assert_eq!(b.after(&limited()), MAX_BACKOFF);
        assert_eq!(b.after(&Ok(())), Duration::from_secs(3));
        let mut b = Backoff::new(Duration::from_secs(1));
        // Retry-After is honoured when it asks for more than doubling would.
        assert_eq!(b.after(&limited()), Duration::from_secs(5));
    }
}
