//! The retry policy: which failures are retried, how long to wait, and the per-call deadline.
//!
//! Kept apart from the request pipeline so the rules read in one place. A request is retried
//! only when repeating it cannot duplicate anything: reads, PUT/PATCH/DELETE (idempotent by
//! nature), and POSTs that carry an `Idempotency-Key` (Whop replays the first result). And it
//! is retried only when the retry can have another outcome: Whop keeps a keyed POST's 4xx
//! answer for 24 hours and replays it to every retry (docs "Idempotent requests"), so a keyed
//! POST is retried after a 4xx only while the first attempt is still in progress (409).

use std::time::Duration;

use http::{Method, StatusCode, header::HeaderMap};

/// Whop's `error.code` for a key whose first request has not finished.
pub(crate) const IN_PROGRESS: &str = "idempotency_request_in_progress";

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles on each retry.
    pub base_delay: Duration,
    /// Largest backoff between two attempts.
    pub max_delay: Duration,
    /// Largest server-directed wait (`Retry-After`) we are willing to honour inside one call.
    pub max_retry_after: Duration,
    /// Overall time one client call may take, every attempt and wait included.
    pub deadline: Duration,
    /// Time one attempt may take (connect, send, headers and body).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(10),
            deadline: Duration::from_secs(15),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// May this request be sent again without risk of doing its effect twice?
    pub(crate) fn is_replayable(method: &Method, has_idempotency_key: bool) -> bool {
        matches!(
            *method,
            Method::GET | Method::HEAD | Method::PUT | Method::PATCH | Method::DELETE
        ) || has_idempotency_key
    }

    /// Statuses that mean "try again later" rather than "this request is wrong".
    pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
        matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
    }

    /// Whether a retry with the same `Idempotency-Key` can only get this answer again: every
    /// 4xx is stored and replayed, except the 409 `idempotency_request_in_progress` Whop sends
    /// while the first attempt still runs (after which the retry gets that attempt's answer).
    pub(crate) fn replays_stored_answer(status: StatusCode, code: Option<&str>) -> bool {
        status.is_client_error() && !(status == StatusCode::CONFLICT && code == Some(IN_PROGRESS))
    }

    /// Backoff before retry number `retry` (0 = the first retry): capped exponential with up
    /// to 25 % jitter taken off, so many clients do not retry in lockstep.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        exp.mul_f64(1.0 - fastrand::f64() * 0.25)
    }
}

/// Reads the server-directed delay: `retry-after-ms` (float milliseconds) first, then
/// `Retry-After` as seconds. (An HTTP-date form is treated as absent: Whop sends seconds.)
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    get("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_requests_are_replayable() {
        assert!(RetryPolicy::is_replayable(&Method::GET, false));
        assert!(RetryPolicy::is_replayable(&Method::PATCH, false));
        assert!(RetryPolicy::is_replayable(&Method::DELETE, false));
        assert!(!RetryPolicy::is_replayable(&Method::POST, false));
        assert!(RetryPolicy::is_replayable(&Method::POST, true));
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(
                RetryPolicy::is_retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(
                !RetryPolicy::is_retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn a_keyed_post_is_retried_after_a_4xx_only_while_in_progress() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        for n in [400, 404, 408, 409, 422, 429] {
            assert!(RetryPolicy::replays_stored_answer(s(n), None), "{n}");
        }
        assert!(RetryPolicy::replays_stored_answer(s(409), Some("conflict")));
        assert!(!RetryPolicy::replays_stored_answer(
            s(409),
            Some(IN_PROGRESS)
        ));
        for n in [500, 502, 503] {
            assert!(!RetryPolicy::replays_stored_answer(s(n), None), "{n}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for retry in 0..10 {
            let d = p.backoff(retry);
            let nominal = (p.base_delay * 2u32.pow(retry)).min(p.max_delay);
            assert!(d <= nominal && d >= nominal.mul_f64(0.75), "{retry}: {d:?}");
        }
    }

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_micros(150_500)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
