//! The MCP tools: each validates its input, calls the Whop client, and shapes the answer as
//! `structuredContent` (typed, with an output schema) plus a compact text rendering.
//!
//! One file per toolset, each its own `#[tool_router]` on [`Toolbox`], combined by [`router`].
//! Everything that goes wrong becomes a [`ToolError`]: a tool result with `isError: true`
//! and a sentence that names the cause and the next step (hosts hide protocol errors from
//! the model, so API failures are never turned into JSON-RPC errors).
//!
//! Every tool has a human `title` and annotations. `openWorldHint` is left out: every tool talks
//! to Whop, which is what the hint's default (`true`) already says, and each explicit copy costs
//! 21 bytes of the 10 KB `tools/list` budget.

mod account;
mod allowlist;
mod arguments;
mod channels;
mod company;
mod dms;
mod files;
mod messages;
mod moderation;
mod people;
mod reactions;
mod schema;
mod search;
mod support;
mod watch;

pub(crate) use arguments::refuse_unknown as refuse_unknown_arguments;
pub(crate) use channels::ListChannelsArgs;
pub(crate) use messages::ListMessagesArgs;
pub(crate) use schema::{compact_tool, one_line, schema};

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use rmcp::{
    handler::server::router::tool::ToolRouter,
    model::{CallToolResult, ContentBlock as Content, IntoContents, Tool},
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{
    gate::Gate,
    output::{BadCursor, MAX_LIMIT, text as render},
    resources::Watchers,
    shared::Handle,
    whop::{self, Kind, Secret},
};

/// Longest message `send_message` accepts (Whop accepts more; agents rarely need it and a
/// runaway generation should not flood a channel).
pub(crate) const MAX_MESSAGE_CHARS: usize = 4_000;
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// Longest id we pass to Whop.
const MAX_ID_LEN: usize = 128;

/// Settings the tools read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default company for tools whose `company_id` is optional.
    pub company_id: Option<String>,
    /// Canonical folders `upload_file` may read from.
    pub upload_roots: Vec<PathBuf>,
    /// Removed from every result, should it ever appear.
    pub api_key: Option<Secret>,
    /// When set, send_message may post only to these channel or experience ids.
    pub send_channels: Option<Vec<String>>,
    /// Interval between polls while waiting for new messages (`WHOP_POLL_SECONDS`).
    pub poll_interval: Duration,
    /// Push mode: webhooks (or a shared state) announce new messages, so polling is only a
    /// safety net for missed deliveries, every [`Settings::safety_poll_interval`].
    pub push: bool,
    /// Interval between safety-net polls in push mode (`WHOP_SAFETY_POLL_SECONDS`).
    pub safety_poll_interval: Duration,
}

impl Settings {
    /// How often a channel's watcher polls: the poll interval, or in push mode the slower of
    /// it and the safety-net interval (push never polls more often than polling alone).
    pub fn watch_interval(&self) -> Duration {
        if self.push {
            self.poll_interval.max(self.safety_poll_interval)
        } else {
            self.poll_interval
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            company_id: None,
            upload_roots: Vec::new(),
            api_key: None,
            send_channels: None,
            poll_interval: crate::poll::DEFAULT_INTERVAL,
            push: false,
            safety_poll_interval: crate::poll::DEFAULT_SAFETY_INTERVAL,
        }
    }
}

/// What every tool works with: the Whop client, the settings, and the caches the tools
/// share. The tool routers are `impl Toolbox` blocks, one file per toolset.
pub(crate) struct Toolbox {
    pub(crate) client: whop::Client,
    pub(crate) settings: Settings,
    /// The key's own company, asked once (see [`Toolbox::company`]).
    own_company: tokio::sync::OnceCell<String>,
    /// Chat channel id or experience id → both ids of that channel, for the send allowlist.
    channel_ids: Mutex<HashMap<String, Vec<String>>>,
    /// User id → the user, as Whop last described them (names for DM members).
    users: Mutex<HashMap<String, whop::models::User>>,
    /// One watcher per channel that something waits on: `wait_for_messages` and resource
    /// subscriptions alike.
    pub(crate) watchers: Arc<Watchers>,
    /// The exit gate, which `structuredContent` passes as it is encoded.
    pub(crate) gate: Gate,
}

impl Toolbox {
    pub(crate) fn new(client: whop::Client, settings: Settings, state: Handle, gate: Gate) -> Self {
        Toolbox {
            gate,
            watchers: Arc::new(Watchers::with_state(
                client.clone(),
                settings.watch_interval(),
                state,
            )),
            client,
            settings,
            own_company: Default::default(),
            channel_ids: Default::default(),
            users: Default::default(),
        }
    }
}

/// Every tool, whatever the exposure.
pub(crate) fn router() -> ToolRouter<Toolbox> {
    Toolbox::message_router()
        + Toolbox::channel_router()
        + Toolbox::support_router()
        + Toolbox::file_router()
        + Toolbox::reaction_router()
        + Toolbox::watch_router()
        + Toolbox::account_router()
        + Toolbox::dm_router()
        + Toolbox::people_router()
        + Toolbox::moderation_router()
        + Toolbox::search_router()
}

/// Every tool's listing (compacted), built once.
pub(crate) fn catalog() -> &'static [Tool] {
    static CATALOG: OnceLock<Vec<Tool>> = OnceLock::new();
    CATALOG.get_or_init(|| router().list_all().into_iter().map(compact_tool).collect())
}

/// Whether a tool only reads: its `readOnlyHint`. Every other tool counts as a write.
pub(crate) fn is_read_only(tool: &Tool) -> bool {
    tool.annotations
        .as_ref()
        .and_then(|a| a.read_only_hint)
        .unwrap_or(false)
}

/// A failed tool call, as the model reads it.
#[derive(Debug)]
pub(crate) struct ToolError {
    /// The sentence the model reads: the cause and the next step.
    pub(crate) message: String,
    /// The Whop HTTP status behind it, if any.
    pub(crate) status: Option<u16>,
}

impl ToolError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ToolError {
            message: message.into(),
            status: None,
        }
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<Content> {
        vec![Content::text(self.message)]
    }
}

impl From<BadCursor> for ToolError {
    fn from(e: BadCursor) -> Self {
        ToolError::new(match e {
            BadCursor::Foreign => {
                "cursor is not one this server handed out: pass next_cursor from the previous answer unchanged."
            }
            BadCursor::Malformed => "cursor is malformed: pass next_cursor unchanged.",
        })
    }
}

pub(crate) type ToolResult = Result<CallToolResult, ToolError>;

/// A success: the text rendering for the model plus the structured value.
/// The structured value is encoded once, through the exit gate ([`Gate::structured`]).
pub(crate) fn output<T: Serialize>(gate: &Gate, text: String, structured: &T) -> ToolResult {
    success(text, gate.structured(structured))
}

/// [`output`] for a type with an encoder of its own (the same `structuredContent`, for less
/// CPU: see [`crate::json::Encode`]).
pub(crate) fn encoded_output<T: crate::json::Encode>(
    gate: &Gate,
    text: String,
    structured: &T,
) -> ToolResult {
    success(text, gate.structured_encoded(structured))
}

fn success(text: String, structured: serde_json::Result<serde_json::Value>) -> ToolResult {
    let value = structured.map_err(|e| {
        ToolError::new(format!("internal error: could not encode the result ({e})"))
    })?;
    let mut result = CallToolResult::success(vec![Content::text(text)]);
    result.structured_content = Some(value);
    Ok(result)
}

/// Whether a failed call may already have changed something in Whop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Read,
    /// A write: when its outcome is unknown the model must check before trying again.
    Write,
}

/// The tool that lists valid ids of a kind, for "not found" errors.
fn lister(kind: Kind) -> &'static str {
    match kind {
        Kind::Channel => {
            "Call list_channels for chat channel ids (feed_… or exp_…), list_support_channels for support chats, list_dm_channels for DMs."
        }
        Kind::DmChannel => "Call list_dm_channels for the DM channel ids of this key.",
        Kind::User => "Call find_users to look people up by name or username.",
        Kind::SupportChannel => "Call list_support_channels for valid support chat ids.",
        Kind::Message => "Call list_messages on its channel for valid message ids.",
        Kind::File | Kind::Upload => "Upload the file again with upload_file.",
        Kind::Company | Kind::Account => {
            "Check the company id (biz_…) in WHOP_COMPANY_ID or the company_id argument."
        }
    }
}

/// A scope's counterpart for support chats, mentioned so the fix is complete.
fn scope_hint(scope: &str) -> &'static str {
    match scope {
        "chat:read" => " (support chats need `support_chat:read`, DMs `dms:read`)",
        "chat:message:create" => {
            " (support chats need `support_chat:message:create`, DMs `dms:message:manage`)"
        }
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
    pub(crate) fn whop(e: whop::Error, effect: Effect) -> Self {
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
                "Whop refused this (HTTP 403{}): the API key needs {}{}. Add it to the key in the Whop \
                 dashboard (Developer → API keys → permissions) or use a key that has it.",
                body.message
                    .as_deref()
                    .map(|m| format!(": {}", render::inline(m)))
                    .unwrap_or_default(),
                match target.scope {
                    "" => "a permission it lacks".to_owned(),
                    scope => format!("the `{scope}` permission"),
                },
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
                let fix = match body.param.as_deref() {
                    Some("company_id" | "account_id") => {
                        " Pass company_id (biz_…) or set WHOP_COMPANY_ID to the company to work on."
                    }
                    _ => "",
                };
                format!("Whop rejected the request (HTTP {status}): {message}{param}{fix}")
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
            whop::Error::Budget {
                limit,
                paused,
                retry_after,
                attempts,
                ..
            } => {
                let wait = seconds(Some(*retry_after), 1);
                let why = match limit {
                    _ if *paused => "Whop is rate limiting this API key (HTTP 429 seen by this server or another replica sharing the key), and every request is paused".to_owned(),
                    Some(n) => format!(
                        "The Whop rate budget of {n} requests/s (WHOP_RATE_LIMIT, shared by every replica using this API key) is exhausted"
                    ),
                    None => "The Whop rate budget is exhausted".to_owned(),
                };
                let fix = if *paused || limit.is_none() {
                    ""
                } else {
                    ", or raise WHOP_RATE_LIMIT if the key allows more"
                };
                // Held back before its first attempt, the call changed nothing.
                let outcome = if *attempts == 0 {
                    " Nothing was sent to Whop."
                } else {
                    unknown_outcome
                };
                format!(
                    "{why}: this call got no turn within its time limit. Retry after {wait} s{fix}.{outcome}"
                )
            }
        };
        // Whop's request id lets its support find the call; worth a few bytes on a failure.
        let text = match &e {
            whop::Error::Api {
                request_id: Some(id),
                status,
                ..
            } if *status != 404 => format!("{text} (Whop request id: {})", render::inline(id)),
            _ => text,
        };
        ToolError {
            message: text,
            status: e.status(),
        }
    }
}

fn plural(n: u32) -> &'static str {
    crate::output::plural(n as usize)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Checks an id argument before it is sent anywhere.
pub(crate) fn check_id(name: &str, value: &str) -> Result<String, ToolError> {
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
pub(crate) fn check_limit(limit: Option<u32>) -> Result<u32, ToolError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ToolError::new(format!(
            "limit must be between 1 and {MAX_LIMIT} (got {n})."
        ))),
    }
}

/// Calls Whop unless the client cancels first, turning a failure into the model's sentence.
pub(crate) fn call_whop<T>(
    ct: &CancellationToken,
    effect: Effect,
    work: impl Future<Output = Result<T, whop::Error>>,
) -> impl Future<Output = Result<T, ToolError>> {
    cancellable(ct, async move {
        work.await.map_err(|e| ToolError::whop(e, effect))
    })
}

/// Runs a tool body unless the client cancels the request first; dropping the future aborts
/// the HTTP request in flight.
///
/// The body is boxed before anything waits on it: its future (the Whop client's, with the
/// HTTP exchange in it) is most of a tool's, and rmcp moves a tool's future several times
/// before it runs (into its router's box, into the task). A tool's future holds the box
/// instead; the body is moved once. A copy of several kilobytes per call, measured with
/// callgrind (bench/README.md).
pub(crate) fn cancellable<T>(
    ct: &CancellationToken,
    work: impl Future<Output = Result<T, ToolError>>,
) -> impl Future<Output = Result<T, ToolError>> {
    let work = Box::pin(work);
    async move {
        tokio::select! {
            _ = ct.cancelled() => Err(ToolError::new("cancelled by the client")),
            r = work => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whop::{Target, error::ApiErrorBody};

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
    fn a_budget_refusal_says_which_budget_and_whether_anything_was_sent() {
        let budget = |paused, attempts| whop::Error::Budget {
            limit: Some(5.0),
            paused,
            retry_after: Duration::from_millis(1200),
            attempts,
            target: Target {
                scope: "chat:read",
                kind: Kind::Channel,
                id: None,
            },
        };
        let s = ToolError::whop(budget(false, 0), Effect::Write).message;
        assert!(
            s.starts_with("The Whop rate budget of 5 requests/s (WHOP_RATE_LIMIT")
                && s.contains("Retry after 2 s, or raise WHOP_RATE_LIMIT")
                && s.ends_with("Nothing was sent to Whop."),
            "{s}"
        );
        let s = ToolError::whop(budget(true, 2), Effect::Write).message;
        assert!(
            s.starts_with("Whop is rate limiting this API key (HTTP 429")
                && !s.contains("raise WHOP_RATE_LIMIT")
                && s.contains("check (e.g. with list_messages)"),
            "{s}"
        );
        assert!(budget(true, 0).is_rate_limited());
    }

    #[test]
    fn error_sentences_name_cause_and_next_step() {
        let t = |e, effect| ToolError::whop(e, effect).message;
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
        let with_id = whop::Error::Api {
            status: 502,
            body: Box::default(),
            retry_after: None,
            request_id: Some("req_7f3a".into()),
            attempts: 5,
            target: Target {
                scope: "chat:read",
                kind: Kind::Channel,
                id: None,
            },
        };
        let s = t(with_id, Effect::Read);
        assert!(s.ends_with("(Whop request id: req_7f3a)"), "{s}");
        let s = t(bad, Effect::Read);
        assert_eq!(
            s,
            "Whop rejected the request (HTTP 400): Missing required parameter: channel_id. (parameter `channel_id`)"
        );
    }

    #[test]
    fn an_exhausted_rate_budget_says_so_and_that_nothing_was_sent() {
        let e = whop::Error::Budget {
            limit: Some(0.2),
            paused: false,
            retry_after: std::time::Duration::from_secs(5),
            attempts: 0,
            target: Target {
                scope: "chat:read",
                kind: Kind::Channel,
                id: None,
            },
        };
        let text = ToolError::whop(e, Effect::Write).message;
        assert!(
            text.starts_with("The Whop rate budget of 0.2 requests/s (WHOP_RATE_LIMIT")
                && text.contains("Retry after 5 s")
                && text.contains("raise WHOP_RATE_LIMIT")
                && text.contains("Nothing was sent to Whop."),
            "{text}"
        );
    }

    #[test]
    fn ids_and_limits_are_checked() {
        assert_eq!(check_id("channel_id", " feed_abc ").unwrap(), "feed_abc");
        assert!(
            check_id("channel_id", "")
                .unwrap_err()
                .message
                .contains("empty")
        );
        assert!(
            check_id("channel_id", "../accounts")
                .unwrap_err()
                .message
                .contains("not a Whop id")
        );
        assert!(check_id("channel_id", "a b").is_err());
        assert_eq!(check_limit(None).unwrap(), 20);
        assert_eq!(check_limit(Some(100)).unwrap(), 100);
        assert!(
            check_limit(Some(0))
                .unwrap_err()
                .message
                .contains("between 1 and 100 (got 0)")
        );
        assert!(check_limit(Some(101)).is_err());
    }
}
