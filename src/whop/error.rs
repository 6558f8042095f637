//! Errors from the Whop client: typed, so the tool layer can turn each into a sentence that
//! names the cause and the next step. No variant ever holds the API key.

use std::time::Duration;

/// What a request was about, so an error can say which id or permission is involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The permission Whop requires for the operation, e.g. `chat:read`.
    pub(crate) scope: &'static str,
    /// The kind of object the path addresses, e.g. `channel`.
    pub(crate) kind: Kind,
    /// The id in the path or the main parameter, when there is one.
    pub(crate) id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    Channel,
    SupportChannel,
    File,
    Company,
    Account,
    Upload,
    DmChannel,
    User,
}

impl Kind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Channel => "channel",
            Kind::SupportChannel => "support channel",
            Kind::File => "file",
            Kind::Company => "company",
            Kind::Account => "account",
            Kind::Upload => "upload",
            Kind::DmChannel => "DM channel",
            Kind::User => "user",
        }
    }
}

/// The parsed `{"error": {type, message, code, param}}` body, or what could be read of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub message: Option<String>,
    pub(crate) code: Option<String>,
    pub param: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Whop answered with a non-2xx status (after any retries).
    #[error("Whop answered HTTP {status}{}", .body.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Api {
        status: u16,
        body: Box<ApiErrorBody>,
        /// Server-directed delay from `Retry-After` / `retry-after-ms`.
        retry_after: Option<Duration>,
        request_id: Option<String>,
        attempts: u32,
        target: Target,
    },
    /// No usable answer: connection refused or dropped, timeout, deadline reached.
    #[error("could not reach Whop: {message}")]
    Transport {
        message: String,
        timed_out: bool,
        attempts: u32,
        target: Target,
    },
    /// Whop answered 2xx but the body was not the JSON we expect.
    #[error("Whop sent a response that could not be read: {message}")]
    Decode { message: String, target: Target },
    /// The file upload flow failed after Whop accepted the file.
    #[error("{message}")]
    Upload { message: String },
    /// The rate budget (`WHOP_RATE_LIMIT`, or a pause after a 429) had no turn for this
    /// request before the call's deadline, so it was not sent.
    #[error("{}", budget_text(*.limit, *.paused, *.retry_after))]
    Budget {
        /// Requests per second of the budget, when one is set.
        limit: Option<f64>,
        /// Held back by a 429's `Retry-After` (seen by this or another replica).
        paused: bool,
        /// When a turn is expected.
        retry_after: Duration,
        /// Attempts sent before this one was held back.
        attempts: u32,
        target: Target,
    },
}

fn budget_text(limit: Option<f64>, paused: bool, wait: Duration) -> String {
    let wait = wait.as_secs_f64().ceil().max(1.0);
    match limit {
        _ if paused => format!(
            "Whop asked to pause requests with this API key (HTTP 429 Retry-After, seen by this or another replica) for {wait} s more"
        ),
        Some(n) => format!(
            "the Whop rate budget of {n} requests/s (WHOP_RATE_LIMIT) is exhausted; the next turn is in {wait} s"
        ),
        None => format!("no turn to call Whop for {wait} s"),
    }
}

impl Error {
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whop's own explanation, when it gave one.
    pub(crate) fn api_message(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => body.message.as_deref(),
            _ => None,
        }
    }

    /// How long Whop asked us to wait before trying again, when it said (or when the rate
    /// budget expects a turn).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            Error::Budget { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whop's 429, or the client's own rate budget holding a request back: either way,
    /// slow down.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429) || matches!(self, Error::Budget { .. })
    }
}

/// Parses an error body leniently: Whop's nested shape, a top-level `message` (legacy and
/// rate-limit bodies), `"error": null`, or plain text.
pub(crate) fn parse_error_body(bytes: &[u8]) -> ApiErrorBody {
    let text = String::from_utf8_lossy(bytes);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        let trimmed = text.trim();
        let looks_like_html = trimmed.starts_with('<');
        return ApiErrorBody {
            message: (!trimmed.is_empty() && !looks_like_html).then(|| truncate(trimmed, 300)),
            ..Default::default()
        };
    };
    let str_at = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).map(|s| truncate(s, 500))
    };
    match value.get("error") {
        Some(inner @ serde_json::Value::Object(_)) => ApiErrorBody {
            message: str_at(inner, "message"),
            code: str_at(inner, "code"),
            param: str_at(inner, "param"),
        },
        Some(serde_json::Value::String(s)) => ApiErrorBody {
            message: Some(truncate(s, 500)),
            ..Default::default()
        },
        _ => ApiErrorBody {
            message: str_at(&value, "message"),
            ..Default::default()
        },
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whop_error_shape() {
        let b = parse_error_body(
            br#"{"error":{"type":"invalid_request_error","code":"parameter_missing","message":"Missing required parameter: channel_id.","param":"channel_id"}}"#,
        );
        assert_eq!(b.code.as_deref(), Some("parameter_missing"));
        assert_eq!(b.param.as_deref(), Some("channel_id"));
        assert_eq!(
            b.message.as_deref(),
            Some("Missing required parameter: channel_id.")
        );
    }

    #[test]
    fn is_lenient_with_other_shapes() {
        assert_eq!(
            parse_error_body(br#"{"error":null}"#),
            ApiErrorBody::default()
        );
        assert_eq!(
            parse_error_body(br#"{"message":"You are being rate limited"}"#)
                .message
                .as_deref(),
            Some("You are being rate limited")
        );
        assert_eq!(
            parse_error_body(b"Bad Gateway").message.as_deref(),
            Some("Bad Gateway")
        );
        assert_eq!(
            parse_error_body(b"<html><body>502</body></html>").message,
            None
        );
        assert_eq!(parse_error_body(b"").message, None);
        assert_eq!(
            parse_error_body(br#"{"error":"nope"}"#).message.as_deref(),
            Some("nope")
        );
    }
}
