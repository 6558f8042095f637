//! Fault injection: a test makes a route fail the way a real network or API can.

use std::time::Duration;

#[derive(Debug, Clone)]
pub enum FaultAction {
    /// Answer this status (with these headers and body) without processing the request.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Wait, then process the request normally.
    Delay(Duration),
    /// Close the connection before the request is processed: nothing happened.
    DropBeforeProcessing,
    /// Process the request (its effect commits), then close the connection: the answer is lost.
    DropAfterCommit,
    /// Process the request, then answer 200 with a body that is not valid JSON.
    MalformedBody,
    /// Process the request, then send only half of the answer and close the connection.
    TruncatedBody,
}

impl FaultAction {
    pub fn status(status: u16) -> Self {
        FaultAction::Status {
            status,
            headers: Vec::new(),
            body: format!(
                r#"{{"error":{{"type":"sandbox_fault","message":"injected HTTP {status}"}}}}"#
            ),
        }
    }

    /// A 429 with `Retry-After: seconds`.
    pub fn rate_limited(seconds: f64) -> Self {
        FaultAction::Status {
            status: 429,
            headers: vec![("retry-after".into(), seconds.to_string())],
            body: r#"{"error":null}"#.into(),
        }
    }
}

/// A fault on one route. Paths are under `/api/v1` (e.g. `/messages`) unless they start with
/// `/_` (the sandbox's upload and media routes); a trailing `*` matches any suffix.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<String>,
    pub path: String,
    /// How many matching requests it affects; `None` = all of them.
    pub remaining: Option<u32>,
    pub action: FaultAction,
}

impl Fault {
    pub fn on(method: &str, path: &str, action: FaultAction) -> Self {
        let path = if path.starts_with("/_") {
            path.to_owned()
        } else {
            format!("/api/v1{path}")
        };
        Fault {
            method: Some(method.to_ascii_uppercase()),
            path,
            remaining: None,
            action,
        }
    }

    /// Affect only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && match self.path.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == self.path,
            }
    }
}

/// Takes the action of the first live fault matching the request, using up one of its turns.
pub(crate) fn take(faults: &mut Vec<Fault>, method: &str, path: &str) -> Option<FaultAction> {
    let i = faults.iter().position(|f| f.matches(method, path))?;
    let action = faults[i].action.clone();
    if let Some(n) = &mut faults[i].remaining {
        *n -= 1;
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_and_run_out() {
        let mut f = vec![Fault::on("post", "/messages", FaultAction::status(503)).times(2)];
        assert!(take(&mut f, "GET", "/api/v1/messages").is_none());
        assert!(take(&mut f, "POST", "/api/v1/messages/x").is_none());
        assert!(take(&mut f, "POST", "/api/v1/messages").is_some());
        assert!(take(&mut f, "POST", "/api/v1/messages").is_some());
        assert!(take(&mut f, "POST", "/api/v1/messages").is_none());
        let mut f = vec![Fault::on(
            "PUT",
            "/_uploads/*",
            FaultAction::DropBeforeProcessing,
        )];
        assert!(take(&mut f, "PUT", "/_uploads/file_1").is_some());
        assert!(take(&mut f, "PUT", "/_uploads/file_1").is_some());
    }
}
