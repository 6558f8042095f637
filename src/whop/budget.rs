//! The client's rate budget: what [`super::Client`] consults before every request to Whop
//! (retries included) and tells when Whop answers 429 with a `Retry-After`.
//!
//! The client only knows the [`RateBudget`] trait. [`LocalBudget`] is the in-process token
//! bucket (one replica, `WHOP_RATE_LIMIT` without `--state`); the shared one, enforced in
//! Redis for every replica using the same API key, lives in `crate::state` and implements the
//! same trait, so this module stays free of any storage engine.

use std::{
    future::Future,
    pin::Pin,
    sync::Mutex,
    time::{Duration, Instant},
};

/// A boxed future, so [`RateBudget`] can be a trait object.
pub type BudgetFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The longest pause one 429 may impose on every request (Whop's Python SDK caps its own wait
/// at 60 s too): a bogus `Retry-After` must not stop a deployment for hours.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);

/// The answer to "may I send a request now?".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grant {
    /// Yes: one unit of the budget is spent.
    Go,
    /// Not before `after`; nothing was spent. `paused` when Whop asked (a 429) rather than
    /// the budget being used up.
    Wait { after: Duration, paused: bool },
}

/// A budget of requests to Whop, shared by everything that sends with one API key.
pub trait RateBudget: Send + Sync + 'static {
    /// Asks for one request now. Must answer promptly (the shared implementation bounds its
    /// round trip); the client does the waiting, within the call's deadline.
    fn take(&self) -> BudgetFuture<'_, Grant>;

    /// Whop answered 429 and asked to wait `wait`: hold back every request sharing this
    /// budget until then (at most [`MAX_PAUSE`]).
    fn pause(&self, wait: Duration) -> BudgetFuture<'_, ()>;

    /// The budget in requests per second, when there is one (`None`: only 429 pauses).
    fn limit(&self) -> Option<f64>;
}

/// How many requests may go at once after a quiet spell: one second's worth of the rate (at
/// least one). Over any span of `t` seconds at most `burst(rate) + rate × t` requests go out.
pub fn burst(rate: f64) -> f64 {
    rate.max(1.0)
}

/// The in-process token bucket, plus the pause a 429 sets.
#[derive(Debug)]
pub struct LocalBudget {
    rate: Option<f64>,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    paused_until: Option<Instant>,
}

impl LocalBudget {
    /// A bucket of `rate` requests per second (`None`: no limit, only 429 pauses), full.
    pub fn new(rate: Option<f64>) -> Self {
        LocalBudget {
            rate,
            state: Mutex::new(Bucket {
                tokens: rate.map(burst).unwrap_or_default(),
                at: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// The decision, synchronously (the trait's future just wraps it).
    pub fn take_now(&self, rate: Option<f64>) -> Grant {
        let now = Instant::now();
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = b.paused_until {
            if until > now {
                return Grant::Wait {
                    after: until - now,
                    paused: true,
                };
            }
            b.paused_until = None;
        }
        let Some(rate) = rate else {
            return Grant::Go;
        };
        let cap = burst(rate);
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Grant::Go
        } else {
            Grant::Wait {
                after: Duration::from_secs_f64((1.0 - b.tokens) / rate),
                paused: false,
            }
        }
    }

    /// Records a pause of `wait` (capped), keeping a longer one already set.
    pub fn pause_now(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_PAUSE);
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if b.paused_until.is_none_or(|u| u < until) {
            b.paused_until = Some(until);
        }
    }
}

impl RateBudget for LocalBudget {
    fn take(&self) -> BudgetFuture<'_, Grant> {
        Box::pin(std::future::ready(self.take_now(self.rate)))
    }

    fn pause(&self, wait: Duration) -> BudgetFuture<'_, ()> {
        self.pause_now(wait);
        Box::pin(std::future::ready(()))
    }

    fn limit(&self) -> Option<f64> {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_one_burst_through_then_spaces_requests() {
        let b = LocalBudget::new(Some(5.0));
        for _ in 0..5 {
            assert_eq!(b.take_now(Some(5.0)), Grant::Go);
        }
        match b.take_now(Some(5.0)) {
            Grant::Wait { after, paused } => {
                assert!(!paused);
                assert!(after <= Duration::from_millis(200), "{after:?}");
                assert!(after >= Duration::from_millis(150), "{after:?}");
            }
            Grant::Go => panic!("the sixth request in an instant must wait"),
        }
    }

    #[test]
    fn a_pause_holds_every_request_and_keeps_the_longest() {
        let b = LocalBudget::new(None);
        assert_eq!(b.take_now(None), Grant::Go);
        b.pause_now(Duration::from_secs(2));
        b.pause_now(Duration::from_millis(10));
        match b.take_now(None) {
            Grant::Wait { after, paused } => {
                assert!(paused);
                assert!(after > Duration::from_secs(1), "{after:?}");
            }
            Grant::Go => panic!("paused"),
        }
        // A Retry-After of a day is capped.
        b.pause_now(Duration::from_secs(86_400));
        let Grant::Wait { after, .. } = b.take_now(None) else {
            panic!("paused")
        };
        assert!(after <= MAX_PAUSE);
    }

    #[test]
    fn the_burst_is_one_second_of_the_rate_and_at_least_one() {
        assert_eq!(burst(5.0), 5.0);
        assert_eq!(burst(0.2), 1.0);
        let b = LocalBudget::new(Some(0.5));
        assert_eq!(b.take_now(Some(0.5)), Grant::Go);
        assert!(
            matches!(b.take_now(Some(0.5)), Grant::Wait { after, .. } if after > Duration::from_secs(1))
        );
    }
}
