//! The MCP tools: each validates its input, calls the Whop client, and shapes the answer as
//! `structuredContent` (typed, with an output schema) plus a compact text rendering.
//!
//! One file per toolset, each its own `#[tool_router]` combined in [`crate::server`].
//! Everything that goes wrong becomes a [`ToolError`]: a tool result with `isError: true`
//! and a sentence that names the cause and the next step (hosts hide protocol errors from
//! the model, so API failures are never turned into JSON-RPC errors).

pub mod account;
pub mod channels;
pub mod files;
pub mod messages;
pub mod reactions;
pub mod render;
mod schema;
pub mod support;
pub mod watch;

pub use schema::{schema, tighten_optional};

use std::{future::Future, time::Duration};

use rmcp::model::{CallToolResult, ContentBlock as Content, IntoContents};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::whop::{self, Kind};

/// Largest text answer a tool gives, in bytes (about 5,000 tokens). A list that would be
/// longer is cut at an item boundary, says so, and hands out a cursor to continue.
pub const TEXT_BUDGET: usize = 20_000;
/// Longest message text shown per message in a list; the full text is in structuredContent.
pub const LIST_CONTENT_CHARS: usize = 1_000;
/// Longest message `send_message` accepts (Whop accepts more; agents rarely need it and a
/// runaway generation should not flood a channel).
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// Largest page a list tool asks Whop for.
pub const MAX_LIMIT: u32 = 100;
pub const DEFAULT_LIMIT: u32 = 20;
/// Longest id we pass to Whop.
const MAX_ID_LEN: usize = 128;

/// A failed tool call, as the model reads it, and the Whop HTTP status behind it (if any).
#[derive(Debug)]
pub struct ToolError(pub String, pub Option<u16>);

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError(message.into(), None)
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<Content> {
        vec![Content::text(self.0)]
    }
}

pub type ToolResult = Result<CallToolResult, ToolError>;

/// A success: the text rendering for the model plus the structured value.
pub fn output<T: Serialize>(text: String, structured: &T) -> ToolResult {
    let value = serde_json::to_value(structured).map_err(|e| {
        ToolError::new(format!("internal error: could not encode the result ({e})"))
    })?;
    let mut result = CallToolResult::success(vec![Content::text(text)]);
    result.structured_content = Some(value);
    Ok(result)
}

/// Whether a failed call may already have changed something in Whop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    /// A write: when its outcome is unknown the model must check before trying again.
    Write,
}

/// The tool that lists valid ids of a kind, for "not found" errors.
fn lister(kind: Kind) -> &'static str {
    match kind {
        Kind::Channel => {
            "Call list_channels for chat channel ids (feed_… or exp_…) or list_support_channels for support chats."
        }
        Kind::SupportChannel => "Call list_support_channels for valid support chat ids.",
        Kind::Message => "Call list_messages on its channel for valid message ids.",
        Kind::File | Kind::Upload => "Upload the file again with upload_file.",
        Kind::Reaction => "Call list_messages to see the message's reactions.",
        Kind::Company | Kind::Account => {
            "Check the company id (biz_…) in WHOP_COMPANY_ID or the company_id argument."
        }
    }
}

/// A scope's counterpart for support chats, mentioned so the fix is complete.
fn scope_hint(scope: &str) -> &'static str {
    match scope {
        "chat:read" => " (support chats need `support_chat:read`)",
        "chat:message:create" => " (support chats need `support_chat:message:create`)",
        _ => "",
    }
}

fn seconds(d: Option<Duration>, default: u64) -> u64 {
    d.map(|d| d.as_secs_f64().ceil() as u64)
        .unwrap_or(default)
        .max(1)
}

impl ToolError {
    /// Turns a Whop client error into a sentence with the cause and the next step.
    pub fn whop(e: whop::Error, effect: Effect) -> Self {
        let unknown_outcome = match effect {
            Effect::Write => {
                " Whop did not confirm the change: check (e.g. with list_messages) whether it happened before trying again."
            }
            Effect::Read => "",
        };
        let text = match &e {
            whop::Error::Api { status: 401, .. } => {
                "Whop rejected the API key (HTTP 401). Set WHOP_API_KEY to a valid, unrevoked key \
                 (Whop dashboard → Developer → API keys) and restart the server."
                    .to_owned()
            }
            whop::Error::Api {
                status: 403,
                body,
                target,
                ..
            } => format!(
                "Whop refused this (HTTP 403{}): the API key needs the `{}` permission{}. Add it to the key in the Whop \
                 dashboard (Developer → API keys → permissions) or use a key that has it.",
                body.message
                    .as_deref()
                    .map(|m| format!(": {}", render::inline(m)))
                    .unwrap_or_default(),
                target.scope,
                scope_hint(target.scope),
            ),
            whop::Error::Api {
                status: 404,
                target,
                ..
            } => format!(
                "{} {}was not found (HTTP 404). {}",
                capitalise(target.kind.noun()),
                target
                    .id
                    .as_deref()
                    .map(|id| format!("`{}` ", render::inline(id)))
                    .unwrap_or_default(),
                lister(target.kind),
            ),
            whop::Error::Api {
                status: 429,
                retry_after,
                attempts,
                ..
            } => format!(
                "Whop is rate limiting requests (HTTP 429; {attempts} attempt{}). Retry after {} s.{}",
                plural(*attempts),
                seconds(*retry_after, 10),
                unknown_outcome,
            ),
            whop::Error::Api {
                status,
                retry_after,
                attempts,
                ..
            } if *status >= 500 || *status == 408 || *status == 409 => format!(
                "Whop is temporarily unavailable (HTTP {status}; {attempts} attempt{}). Retry after {} s.{}",
                plural(*attempts),
                seconds(*retry_after, 5),
                unknown_outcome,
            ),
            whop::Error::Api { status, body, .. } => {
                let message = body
                    .message
                    .as_deref()
                    .map(render::inline)
                    .unwrap_or_else(|| "no reason given".into());
                let param = body
                    .param
                    .as_deref()
                    .map(|p| format!(" (parameter `{}`)", render::inline(p)))
                    .unwrap_or_default();
                format!("Whop rejected the request (HTTP {status}): {message}{param}")
            }
            whop::Error::Transport {
                message,
                timed_out,
                attempts,
                ..
            } => format!(
                "Could not get an answer from Whop: {message}{} ({attempts} attempt{}). Check the network and WHOP_BASE_URL, \
                 then retry in a few seconds.{}",
                if *timed_out {
                    " within the time limit"
                } else {
                    ""
                },
                plural(*attempts),
                unknown_outcome,
            ),
            whop::Error::Decode { message, .. } => format!(
                "Whop sent an answer that could not be read ({}). This is usually temporary: retry.{}",
                render::inline(message),
                unknown_outcome,
            ),
            whop::Error::Upload { message, .. } => message.clone(),
        };
        ToolError(text, e.status())
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Checks an id argument before it is sent anywhere.
pub fn check_id(name: &str, value: &str) -> Result<String, ToolError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ToolError::new(format!(
            "{name} is empty: pass an id such as one returned by a list tool."
        )));
    }
    if v.len() > MAX_ID_LEN
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(ToolError::new(format!(
            "{name} {:?} is not a Whop id (ids are short tokens like feed_XXXXXXXXXXXXXX, with no spaces or slashes).",
            render::inline(&v.chars().take(40).collect::<String>())
        )));
    }
    Ok(v.to_owned())
}

/// Checks a page size argument.
pub fn check_limit(limit: Option<u32>) -> Result<u32, ToolError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ToolError::new(format!(
            "limit must be between 1 and {MAX_LIMIT} (got {n})."
        ))),
    }
}

/// Where a list continues. Our `next_cursor` is Whop's cursor, except when an answer was cut
/// short by [`TEXT_BUDGET`]: then it is `~N~<whop cursor>` ("skip N items after that cursor"),
/// since Whop's cursors are opaque and cannot point inside a page. `~` never occurs in them
/// (they are base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub after: Option<String>,
    pub skip: usize,
}

impl Resume {
    pub fn parse(cursor: Option<&str>) -> Result<Self, ToolError> {
        let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(Resume {
                after: None,
                skip: 0,
            });
        };
        if c.len() > 2048 || c.chars().any(char::is_control) {
            return Err(ToolError::new(
                "cursor is not one this server handed out: pass next_cursor from the previous answer unchanged.",
            ));
        }
        if let Some(rest) = c.strip_prefix('~') {
            let (n, after) = rest.split_once('~').ok_or_else(|| {
                ToolError::new("cursor is malformed: pass next_cursor unchanged.")
            })?;
            let skip = n
                .parse::<usize>()
                .ok()
                .filter(|n| *n < MAX_LIMIT as usize)
                .ok_or_else(|| {
                    ToolError::new("cursor is malformed: pass next_cursor unchanged.")
                })?;
            return Ok(Resume {
                after: (!after.is_empty()).then(|| after.to_owned()),
                skip,
            });
        }
        Ok(Resume {
            after: Some(c.to_owned()),
            skip: 0,
        })
    }

    /// How many items to ask Whop for so that `limit` remain after skipping.
    pub fn fetch(&self, limit: u32) -> u32 {
        (limit + self.skip as u32).min(MAX_LIMIT)
    }

    /// The cursor for what follows once `shown` more items (after the skipped ones) were shown
    /// out of a fetched page of `fetched` items whose own next cursor is `page_next`.
    pub fn next(&self, shown: usize, fetched: usize, page_next: Option<String>) -> Option<String> {
        if self.skip + shown >= fetched {
            page_next
        } else {
            Some(format!(
                "~{}~{}",
                self.skip + shown,
                self.after.as_deref().unwrap_or("")
            ))
        }
    }
}

/// Calls Whop unless the client cancels first, turning a failure into the model's sentence.
pub async fn call_whop<T>(
    ct: &CancellationToken,
    effect: Effect,
    work: impl Future<Output = Result<T, whop::Error>>,
) -> Result<T, ToolError> {
    cancellable(ct, async {
        work.await.map_err(|e| ToolError::whop(e, effect))
    })
    .await
}

/// Rows of a listing that fit the text budget (leaving room for the header and footer), and
/// how many of them that is.
pub fn fit_rows(rows: &[String]) -> (String, usize) {
    let mut body = String::new();
    let kept = render::push_within(&mut body, rows, TEXT_BUDGET - 300);
    (body, kept)
}

/// The last line of a listing: the cursor to continue with, or `end`.
pub fn footer(next_cursor: Option<&str>, end: &str) -> String {
    match next_cursor {
        Some(c) => format!("more: cursor=\"{c}\""),
        None => end.to_owned(),
    }
}

/// Runs a tool body unless the client cancels the request first; dropping the future aborts
/// the HTTP request in flight.
pub async fn cancellable<T>(
    ct: &CancellationToken,
    work: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    tokio::select! {
        _ = ct.cancelled() => Err(ToolError::new("cancelled by the client")),
        r = work => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whop::{ApiErrorBody, Target};

    fn api(status: u16, kind: Kind, id: Option<&str>, scope: &'static str) -> whop::Error {
        whop::Error::Api {
            status,
            body: Box::new(ApiErrorBody {
                message: Some("You do not have permission to access this resource".into()),
                ..Default::default()
            }),
            retry_after: Some(Duration::from_millis(2500)),
            request_id: None,
            attempts: 3,
            target: Target {
                scope,
                kind,
                id: id.map(str::to_owned),
            },
        }
    }

    #[test]
    fn error_sentences_name_cause_and_next_step() {
        let t = |e, effect| ToolError::whop(e, effect).0;
        let s = t(api(401, Kind::Channel, None, "chat:read"), Effect::Read);
        assert!(s.contains("WHOP_API_KEY") && s.contains("401"), "{s}");
        let s = t(
            api(403, Kind::Channel, Some("feed_x"), "chat:message:create"),
            Effect::Write,
        );
        assert!(
            s.contains("`chat:message:create`") && s.contains("support_chat:message:create"),
            "{s}"
        );
        let s = t(
            api(404, Kind::Channel, Some("feed_nope"), "chat:read"),
            Effect::Read,
        );
        assert!(
            s.contains("`feed_nope`") && s.contains("list_channels"),
            "{s}"
        );
        let s = t(
            api(404, Kind::Message, Some("msg_x"), "chat:read"),
            Effect::Read,
        );
        assert!(
            s.starts_with("Message `msg_x` was not found") && s.contains("list_messages"),
            "{s}"
        );
        let s = t(api(429, Kind::Channel, None, "chat:read"), Effect::Read);
        assert!(
            s.contains("Retry after 3 s") && s.contains("3 attempts"),
            "{s}"
        );
        let s = t(
            api(503, Kind::Channel, None, "chat:message:create"),
            Effect::Write,
        );
        assert!(
            s.contains("HTTP 503") && s.contains("before trying again"),
            "{s}"
        );
        let bad = whop::Error::Api {
            status: 400,
            body: Box::new(ApiErrorBody {
                message: Some("Missing required parameter: channel_id.".into()),
                param: Some("channel_id".into()),
                ..Default::default()
            }),
            retry_after: None,
            request_id: None,
            attempts: 1,
            target: Target {
                scope: "chat:read",
                kind: Kind::Channel,
                id: None,
            },
        };
        let s = t(bad, Effect::Read);
        assert_eq!(
            s,
            "Whop rejected the request (HTTP 400): Missing required parameter: channel_id. (parameter `channel_id`)"
        );
    }

    #[test]
    fn ids_and_limits_are_checked() {
        assert_eq!(check_id("channel_id", " feed_abc ").unwrap(), "feed_abc");
        assert!(check_id("channel_id", "").unwrap_err().0.contains("empty"));
        assert!(
            check_id("channel_id", "../accounts")
                .unwrap_err()
                .0
                .contains("not a Whop id")
        );
        assert!(check_id("channel_id", "a b").is_err());
        assert_eq!(check_limit(None).unwrap(), 20);
        assert_eq!(check_limit(Some(100)).unwrap(), 100);
        assert!(
            check_limit(Some(0))
                .unwrap_err()
                .0
                .contains("between 1 and 100 (got 0)")
        );
        assert!(check_limit(Some(101)).is_err());
    }

    #[test]
    fn resume_cursors_round_trip() {
        let r = Resume::parse(None).unwrap();
        assert_eq!(
            r,
            Resume {
                after: None,
                skip: 0
            }
        );
        assert_eq!(r.next(20, 20, Some("c1".into())).as_deref(), Some("c1"));
        assert_eq!(r.next(5, 20, Some("c1".into())).as_deref(), Some("~5~"));
        let r = Resume::parse(Some("~5~")).unwrap();
        assert_eq!(
            r,
            Resume {
                after: None,
                skip: 5
            }
        );
        assert_eq!(r.fetch(20), 25);
        assert_eq!(r.next(3, 25, Some("c1".into())).as_deref(), Some("~8~"));
        let r = Resume::parse(Some("~8~abc=")).unwrap();
        assert_eq!((r.after.as_deref(), r.skip), (Some("abc="), 8));
        assert_eq!(
            Resume::parse(Some("abc=")).unwrap().after.as_deref(),
            Some("abc=")
        );
        assert!(Resume::parse(Some("~x~")).is_err());
        assert!(Resume::parse(Some("~500~a")).is_err());
    }
}
