//! Bounds on work in flight, so a burst of calls (3,000 `list_messages` at once, twenty 25 MiB
//! uploads) queues instead of growing memory without limit. A call waits up to
//! [`QUEUE_WAIT`] for its turn, then gets a "busy, retry" error; it is never dropped silently.
//!
//! - every call but `wait_for_messages`: [`MAX_CALLS`] per server, [`MAX_SESSION_CALLS`] per
//!   session (a stdio host is one session; each stateless HTTP request is its own);
//! - `wait_for_messages` mostly sleeps, so it has its own, larger bound ([`MAX_WAITS`]) and does
//!   not hold up other calls;
//! - `upload_file` also takes one of [`MAX_UPLOADS`] upload slots (a file is in memory while it
//!   is sent).

use std::{sync::Arc, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) const MAX_CALLS: usize = 32;
pub(crate) const MAX_SESSION_CALLS: usize = 16;
pub(crate) const MAX_WAITS: usize = 64;
pub(crate) const MAX_UPLOADS: usize = 2;
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// The permits a call holds while it runs.
#[derive(Debug)]
pub(crate) struct Admission {
    _permits: Vec<OwnedSemaphorePermit>,
}

#[derive(Debug, Clone)]
pub(crate) struct Limits {
    calls: Arc<Semaphore>,
    session: Arc<Semaphore>,
    waits: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    queue_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(MAX_CALLS, MAX_SESSION_CALLS, QUEUE_WAIT)
    }
}

impl Limits {
    pub(crate) fn new(calls: usize, session: usize, queue_wait: Duration) -> Self {
        Limits {
            calls: Arc::new(Semaphore::new(calls)),
            session: Arc::new(Semaphore::new(session)),
            waits: Arc::new(Semaphore::new(MAX_WAITS)),
            uploads: Arc::new(Semaphore::new(MAX_UPLOADS)),
            queue_wait,
        }
    }

    /// The same server-wide bounds, with a session bound of its own.
    pub(crate) fn new_session(&self) -> Self {
        Limits {
            session: Arc::new(Semaphore::new(MAX_SESSION_CALLS)),
            ..self.clone()
        }
    }

    /// Waits for `tool`'s turn, or says the server is busy.
    pub(crate) async fn admit(&self, tool: &str) -> Result<Admission, String> {
        let mut wanted = vec![&self.session];
        wanted.push(if tool == "wait_for_messages" {
            &self.waits
        } else {
            &self.calls
        });
        if tool == "upload_file" {
            wanted.push(&self.uploads);
        }
        let take = async {
            let mut permits = Vec::with_capacity(wanted.len());
            for s in wanted {
                permits.push(s.clone().acquire_owned().await.expect("never closed"));
            }
            permits
        };
        match tokio::time::timeout(self.queue_wait, take).await {
            Ok(permits) => Ok(Admission { _permits: permits }),
            Err(_) => Err(format!(
                "The server is busy: too many calls are in flight, and this one waited {} s for its turn. \
                 Nothing was done. Retry in a few seconds, with fewer calls at once.",
                self.queue_wait.as_secs()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn excess_calls_wait_then_hear_that_the_server_is_busy() {
        let limits = Limits::new(2, 2, Duration::from_millis(100));
        let a = limits.admit("list_messages").await.unwrap();
        let _b = limits.admit("list_messages").await.unwrap();
        // Waits do not compete with other calls.
        let _w = limits
            .new_session()
            .admit("wait_for_messages")
            .await
            .unwrap();
        let e = limits.admit("list_messages").await.unwrap_err();
        assert!(e.contains("busy") && e.contains("Nothing was done"), "{e}");
        // A freed slot goes to the next call in line.
        let next = tokio::spawn({
            let limits = limits.clone();
            async move { limits.admit("get_message").await.map(|_| ()) }
        });
        drop(a);
        next.await.unwrap().unwrap();
        // A new session has its own session bound but shares the server's.
        let other = Limits::new(1, 1, Duration::from_millis(50));
        let _x = other.admit("whoami").await.unwrap();
        assert!(other.new_session().admit("whoami").await.is_err());
    }
}
