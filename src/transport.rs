//! Guarded stdio transport: newline-delimited JSON-RPC on stdin/stdout, with an answer for
//! every broken request.
//!
//! rmcp's own stdio transport ignores input that is not JSON (its maintainers chose that to
//! avoid error storms with peers that echo errors back, rust-sdk#938) and answers malformed
//! requests with `-32600` but without their id. JSON-RPC 2.0 asks for `-32700 Parse error`
//! (id null) and for the id wherever it can be read, and a client that sent a broken request
//! deserves to learn why instead of waiting for a timeout. So this transport:
//! - answers non-JSON lines with `-32700`, and well-formed JSON that is not a valid message with
//!   `-32600` (or `-32602` when only the params are wrong), carrying the request's id;
//! - rate-limits those error answers (a burst of 20, then 10 per second), so a peer that echoes
//!   errors back cannot start a storm;
//! - ignores broken notifications and responses (JSON-RPC never answers those);
//! - bounds a line at 16 MiB (like rmcp) and reads without blocking on pipes
//!   ([`rmcp::transport::stdio_pipes`]);
//! - ends the session when stdout can no longer be written (the host went away), instead of
//!   serving requests whose answers nobody can read;
//! - hands rmcp at most [`MAX_OUTSTANDING`] unanswered requests at once and holds the rest
//!   as parsed messages (a few hundred bytes each), so a burst of thousands of calls, or a host
//!   that reads answers slowly, costs little memory instead of thousands of tasks and queued
//!   answers. Waits (`wait_for_messages`) are not counted (they have their own bound), and
//!   notifications, cancellations included, always pass at once.
//!
//! Everything else is rmcp's: a valid line is handed to the service loop unchanged.

use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
    time::Instant,
};

use rmcp::{
    RoleServer,
    model::{
        CallToolRequestParams, ClientNotification, ClientRequest, JsonRpcMessage, JsonRpcRequest,
        Request, RequestId,
    },
    service::{RxJsonRpcMessage, ServerInitializeError, TxJsonRpcMessage},
    transport::Transport,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::{Mutex, Notify},
};
use tokio_util::sync::CancellationToken;

/// Longest line accepted.
pub(crate) const MAX_LINE: usize = 16 * 1024 * 1024;
/// Most requests handed to rmcp and not yet answered (waits aside).
pub(crate) const MAX_OUTSTANDING: usize = 64;
/// Most requests held back beyond those; more are answered "busy" at once.
pub(crate) const MAX_HELD: usize = 20_000;
/// Methods whose params must be an object.
const NEEDS_PARAMS: &[&str] = &[
    "initialize",
    "tools/call",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
];

/// Whether a failed start is only the peer closing stdin before it initialised: a host probing
/// the binary, a client that gave up, `echo | whop-chat-mcp`. Like any EOF that ends the
/// session, it is a clean exit, not an error.
pub fn closed_before_initialize(e: &ServerInitializeError) -> bool {
    matches!(e, ServerInitializeError::ConnectionClosed(_))
}

pub struct GuardedStdio<R, W> {
    reader: BufReader<R>,
    line: Vec<u8>,
    discarding: bool,
    writer: Arc<Writer<W>>,
    errors: TokenBucket,
    /// Cancelled when a write fails: the peer stopped reading.
    closed: CancellationToken,
    outstanding: Arc<Outstanding>,
    /// Requests read but not yet handed on, oldest first.
    held: VecDeque<(String, RxJsonRpcMessage<RoleServer>)>,
}

/// The requests handed to rmcp that have no answer yet, by the JSON text of their id.
#[derive(Default)]
struct Outstanding {
    ids: std::sync::Mutex<HashSet<String>>,
    freed: Notify,
}

impl Outstanding {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_room(&self) -> bool {
        self.lock().len() < MAX_OUTSTANDING
    }

    fn done(&self, id: &str) {
        if self.lock().remove(id) {
            self.freed.notify_one();
        }
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> GuardedStdio<R, W> {
    pub fn new(read: R, write: W) -> Self {
        GuardedStdio {
            reader: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            discarding: false,
            writer: Arc::new(Writer {
                pending: std::sync::Mutex::default(),
                out: Mutex::new(Out {
                    write,
                    buf: Vec::new(),
                }),
            }),
            errors: TokenBucket::new(20.0, 10.0),
            closed: CancellationToken::new(),
            outstanding: Arc::default(),
            held: VecDeque::new(),
        }
    }
}

enum Read {
    Line,
    Oversized,
    Eof,
}

impl<R: AsyncRead + Unpin, W> GuardedStdio<R, W> {
    /// Reads one line into `self.line`. Cancel-safe: bytes are only consumed once copied, so a
    /// read dropped by the service loop's `select!` resumes where it stopped.
    async fn read_line(&mut self) -> std::io::Result<Read> {
        loop {
            let buf = self.reader.fill_buf().await?;
            if buf.is_empty() {
                return Ok(Read::Eof);
            }
            let (take, complete) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if self.discarding {
                self.reader.consume(take);
                if complete {
                    self.discarding = false;
                    return Ok(Read::Oversized);
                }
                continue;
            }
            if self.line.len() + take > MAX_LINE {
                self.line.clear();
                self.reader.consume(take);
                if complete {
                    return Ok(Read::Oversized);
                }
                self.discarding = true;
                continue;
            }
            self.line.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if complete {
                return Ok(Read::Line);
            }
        }
    }
}

/// What to do with a line.
#[derive(Debug)]
enum Verdict {
    Deliver(Box<RxJsonRpcMessage<RoleServer>>, Flow),
    Answer(Value),
    Ignore,
}

/// How a delivered message counts towards [`MAX_OUTSTANDING`].
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    /// A request that waits its turn; its id as JSON text.
    Counted(String),
    /// Passes at once: notifications, responses, waits.
    Free,
    /// A cancellation of the request with this id.
    Cancels(String),
}

/// How a valid message counts. Ids are keyed by the JSON text of rmcp's `RequestId`, which is
/// what the answer's id serialises to (a request sent with id `1.0` is answered as `1`).
fn flow(message: &RxJsonRpcMessage<RoleServer>) -> Flow {
    let text = |id: &RequestId| serde_json::to_string(id).unwrap_or_default();
    match message {
        JsonRpcMessage::Request(r) => match &r.request {
            ClientRequest::CallToolRequest(call) if call.params.name == "wait_for_messages" => {
                Flow::Free
            }
            _ => Flow::Counted(text(&r.id)),
        },
        JsonRpcMessage::Notification(n) => match &n.notification {
            ClientNotification::CancelledNotification(c) => match &c.params.request_id {
                Some(id) => Flow::Cancels(text(id)),
                None => Flow::Free,
            },
            _ => Flow::Free,
        },
        _ => Flow::Free,
    }
}

/// The common message, a `tools/call` request with a name and arguments and nothing else,
/// read straight into rmcp's types. rmcp's own reading of a message (an untagged enum over
/// flattened, method-tagged requests) buffers it and tries each shape in turn, which was most
/// of the cost of receiving a call. Anything else (other methods, `_meta`, ids that are not
/// integers or strings, escapes in `jsonrpc` or `method`, repeated or unknown members) gives
/// `None` and takes the general path; a test checks that both give the same message.
fn fast_call(line: &[u8]) -> Option<RxJsonRpcMessage<RoleServer>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Call<'a> {
        jsonrpc: &'a str,
        id: Value,
        method: &'a str,
        params: Params,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Params {
        name: String,
        #[serde(default)]
        arguments: Option<serde_json::Map<String, Value>>,
    }
    let call: Call = serde_json::from_slice(line).ok()?;
    if call.jsonrpc != "2.0" || call.method != "tools/call" {
        return None;
    }
    let id = match call.id {
        Value::Number(n) => RequestId::Number(n.as_i64()?),
        Value::String(s) => RequestId::String(s.into()),
        _ => return None,
    };
    let mut params = CallToolRequestParams::new(call.params.name);
    if let Some(arguments) = call.params.arguments {
        params = params.with_arguments(arguments);
    }
    Some(JsonRpcMessage::Request(JsonRpcRequest::new(
        id,
        ClientRequest::CallToolRequest(Request::new(params)),
    )))
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn short(e: &serde_json::Error) -> String {
    let s = e.to_string();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

/// What a known method's params must hold: member name, and whether it is a string (else an
/// object). Absent members are checked by rmcp (which answers with a useful message).
const PARAM_MEMBERS: &[(&str, &[(&str, bool)])] = &[
    ("tools/call", &[("name", true), ("arguments", false)]),
    ("prompts/get", &[("name", true), ("arguments", false)]),
    ("resources/read", &[("uri", true)]),
    ("resources/subscribe", &[("uri", true)]),
    ("resources/unsubscribe", &[("uri", true)]),
];

/// Why a request's params are unusable, if they are.
fn bad_params(method: &str, params: Option<&Value>) -> Option<String> {
    if !NEEDS_PARAMS.contains(&method) {
        return None;
    }
    let Some(Value::Object(params)) = params else {
        return Some(format!("Invalid params: {method} needs a params object"));
    };
    let members = PARAM_MEMBERS
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, m)| *m)
        .unwrap_or_default();
    for (name, is_string) in members {
        match (params.get(*name), is_string) {
            (None, true) => return Some(format!("Invalid params: {method} needs params.{name}")),
            (None | Some(Value::Null), false) => {}
            (Some(Value::String(_)), true) | (Some(Value::Object(_)), false) => {}
            (Some(_), true) => {
                return Some(format!(
                    "Invalid params: params.{name} of {method} must be a string"
                ));
            }
            (Some(_), false) => {
                return Some(format!(
                    "Invalid params: params.{name} of {method} must be an object"
                ));
            }
        }
    }
    None
}

/// Judges one line (without its newline).
fn judge(line: &[u8]) -> Verdict {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Ignore;
    }
    if let Some(message) = fast_call(line) {
        let flow = flow(&message);
        return Verdict::Deliver(Box::new(message), flow);
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Verdict::Answer(error(
                Value::Null,
                -32700,
                format!("Parse error: the line is not valid JSON ({})", short(&e)),
            ));
        }
    };
    let Value::Object(object) = &value else {
        return Verdict::Answer(error(
            Value::Null,
            -32600,
            "Invalid Request: a message must be a JSON object".into(),
        ));
    };
    let method = object
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let method = method.as_deref();
    let is_response = object.contains_key("result") || object.contains_key("error");
    let is_notification = method.is_some() && !object.contains_key("id");
    let id = object
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned();
    // A request is a method with an id; its id must be a string or a number.
    if let (Some(method), Some(raw_id)) = (method, object.get("id")) {
        let Some(id) = id.clone() else {
            return Verdict::Answer(error(
                Value::Null,
                -32600,
                format!(
                    "Invalid Request: the id of {method} must be a string or a number, got {raw_id}"
                ),
            ));
        };
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Verdict::Answer(error(
                id,
                -32600,
                "Invalid Request: \"jsonrpc\" must be \"2.0\"".into(),
            ));
        }
        if let Some(why) = bad_params(method, object.get("params")) {
            return Verdict::Answer(error(id, -32602, why));
        }
    }
    match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(value) {
        Ok(message) => {
            let flow = flow(&message);
            Verdict::Deliver(Box::new(message), flow)
        }
        // Notifications and responses are never answered (JSON-RPC 2.0).
        Err(_) if is_response || is_notification => Verdict::Ignore,
        Err(e) if method.is_some() => Verdict::Answer(error(
            id.unwrap_or_default(),
            -32602,
            format!("Invalid params for {}: {}", method.unwrap_or_default(), short(&e)),
        )),
        Err(_) => Verdict::Answer(error(
            id.unwrap_or(Value::Null),
            -32600,
            "Invalid Request: expected a JSON-RPC 2.0 object with \"jsonrpc\": \"2.0\", \"method\" and, for requests, an \"id\"".into(),
        )),
    }
}

impl<R, W> Transport<RoleServer> for GuardedStdio<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writer = self.writer.clone();
        let closed = self.closed.clone();
        let answered = match &item {
            rmcp::model::JsonRpcMessage::Response(r) => serde_json::to_string(&r.id).ok(),
            rmcp::model::JsonRpcMessage::Error(e) => serde_json::to_string(&e.id).ok(),
            _ => None,
        };
        let outstanding = self.outstanding.clone();
        // Encoded now, in the order rmcp sends, and written by the next flush (this one's, or
        // an earlier one still waiting for stdout).
        let queued = writer.queue(&item);
        drop(item);
        async move {
            let written = match queued {
                Ok(()) => writer.flush().await,
                Err(e) => Err(e),
            };
            if let Some(id) = answered {
                outstanding.done(&id);
            }
            if let Err(e) = &written {
                tracing::warn!(error = %e, "stdout is closed; ending the session");
                closed.cancel();
            }
            written
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if !self.held.is_empty() && self.outstanding.has_room() {
                let (id, message) = self.held.pop_front()?;
                self.outstanding.lock().insert(id);
                return Some(message);
            }
            let closed = self.closed.clone();
            let outstanding = self.outstanding.clone();
            let waiting = !self.held.is_empty();
            let read = tokio::select! {
                _ = closed.cancelled() => return None,
                _ = outstanding.freed.notified(), if waiting => continue,
                read = self.read_line() => read,
            };
            let verdict = match read {
                Ok(Read::Eof) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "stdin read failed; ending the session");
                    return None;
                }
                Ok(Read::Oversized) => Verdict::Answer(error(
                    Value::Null,
                    -32600,
                    format!(
                        "Invalid Request: the message is longer than {MAX_LINE} bytes and was discarded"
                    ),
                )),
                Ok(Read::Line) => {
                    let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
                    let verdict = judge(line);
                    self.line.clear();
                    verdict
                }
            };
            match verdict {
                Verdict::Deliver(message, Flow::Counted(id)) => {
                    if self.held.is_empty() && self.outstanding.has_room() {
                        self.outstanding.lock().insert(id);
                        return Some(*message);
                    }
                    if self.held.len() < MAX_HELD {
                        self.held.push_back((id, *message));
                        continue;
                    }
                    let busy = error(
                        serde_json::from_str(&id).unwrap_or_default(),
                        -32000,
                        format!("Server busy: {MAX_HELD} requests are waiting; retry later"),
                    );
                    if write_line(&self.writer, &busy).await.is_err() {
                        return None;
                    }
                }
                Verdict::Deliver(message, Flow::Cancels(id)) => {
                    // A request still held back is simply dropped: cancelled requests get no
                    // answer (MCP), and rmcp never saw it.
                    let before = self.held.len();
                    self.held.retain(|(held, _)| *held != id);
                    if self.held.len() == before {
                        self.outstanding.done(&id);
                        return Some(*message);
                    }
                }
                Verdict::Deliver(message, Flow::Free) => return Some(*message),
                Verdict::Ignore => {}
                Verdict::Answer(answer) => {
                    if self.errors.take() {
                        tracing::debug!(?answer, "answering a broken message");
                        if write_line(&self.writer, &answer).await.is_err() {
                            return None;
                        }
                    } else {
                        tracing::warn!("too many broken messages; dropping this one unanswered");
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.flush().await
    }
}

/// Stdout. Each message is encoded into `pending` when it is sent, and whichever flush holds
/// `out` next writes everything pending at once: answers that finish in the same turn of the
/// runtime (several requests in flight) leave in one write, one system call and one wake-up
/// of the host, instead of one each. Lines keep the order they were sent in.
struct Writer<W> {
    pending: std::sync::Mutex<Vec<u8>>,
    out: Mutex<Out<W>>,
}

/// Stdout and the buffer being written (swapped with `pending`, so both keep their capacity
/// between lines).
struct Out<W> {
    write: W,
    buf: Vec<u8>,
}

/// Largest buffer kept between writes; a longer one is freed after it is written.
const KEPT_BUF: usize = 256 * 1024;

impl<W: AsyncWrite + Unpin> Writer<W> {
    /// Encodes one message as a line of JSON at the end of `pending`.
    fn queue(&self, message: &impl serde::Serialize) -> std::io::Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let start = pending.len();
        match crate::json::to_vec_into(&mut pending, message) {
            Ok(()) => {
                pending.push(b'\n');
                Ok(())
            }
            Err(e) => {
                pending.truncate(start);
                Err(std::io::Error::other(e))
            }
        }
    }

    /// Writes what is pending, if an earlier flush has not already.
    async fn flush(&self) -> std::io::Result<()> {
        let mut out = self.out.lock().await;
        let Out { write, buf } = &mut *out;
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.is_empty() {
                return Ok(());
            }
            std::mem::swap(buf, &mut *pending);
        }
        let written = async {
            write.write_all(buf).await?;
            write.flush().await
        }
        .await;
        buf.clear();
        if buf.capacity() > KEPT_BUF {
            *buf = Vec::new();
        }
        written
    }
}

/// Writes one message as a line of JSON (after any still pending).
async fn write_line<W: AsyncWrite + Unpin>(
    writer: &Writer<W>,
    message: &impl serde::Serialize,
) -> std::io::Result<()> {
    writer.queue(message)?;
    writer.flush().await
}

/// A token bucket: `burst` tokens, refilled at `rate` per second.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    rate: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(burst: f64, rate: f64) -> Self {
        TokenBucket {
            tokens: burst,
            burst,
            rate,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match judge(line.as_bytes()) {
            Verdict::Answer(v) => v,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn broken_lines_get_the_right_json_rpc_error() {
        let a = answer("this is not json");
        assert_eq!(
            (a["id"].clone(), a["error"]["code"].clone()),
            (Value::Null, json!(-32700))
        );
        assert_eq!(answer("\u{0}\u{1} binary")["error"]["code"], -32700);
        assert_eq!(
            answer("{\"jsonrpc\":\"2.0\",\"id\":1,")["error"]["code"],
            -32700
        );
        let a = answer(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":"oops"}"#);
        assert_eq!(
            (a["id"].clone(), a["error"]["code"].clone()),
            (json!(4), json!(-32602))
        );
        let a = answer(r#"{"jsonrpc":"2.0","id":"x8","method":"tools/call"}"#);
        assert_eq!(
            (a["id"].clone(), a["error"]["code"].clone()),
            (json!("x8"), json!(-32602))
        );
        let a = answer("[1,2,3]");
        assert_eq!(
            (a["id"].clone(), a["error"]["code"].clone()),
            (Value::Null, json!(-32600))
        );
        let a = answer(r#"{"id":5}"#);
        assert_eq!(
            (a["id"].clone(), a["error"]["code"].clone()),
            (json!(5), json!(-32600))
        );
        let a = answer(r#"{"jsonrpc":"1.0","id":9,"method":"ping"}"#);
        assert_eq!(
            (a["id"].clone(), a["error"]["code"].clone()),
            (json!(9), json!(-32600))
        );
    }

    #[test]
    fn requests_count_towards_the_bound_but_waits_and_notifications_do_not() {
        let flow_of = |line: &[u8]| match judge(line) {
            Verdict::Deliver(_, flow) => flow,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            flow_of(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_messages","arguments":{}}}"#),
            Flow::Counted("7".into())
        );
        assert_eq!(
            flow_of(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#),
            Flow::Counted("\"a\"".into())
        );
        assert_eq!(
            flow_of(br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"wait_for_messages","arguments":{"channel_id":"feed_x"}}}"#),
            Flow::Free
        );
        assert_eq!(
            flow_of(
                br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}"#
            ),
            Flow::Cancels("7".into())
        );
        assert_eq!(
            flow_of(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Flow::Free
        );
        // The id text matches what an answer's id serialises to.
        assert_eq!(
            serde_json::to_string(&rmcp::model::RequestId::Number(7)).unwrap(),
            "7"
        );
    }

    #[test]
    fn valid_messages_pass_and_broken_notifications_are_ignored() {
        assert!(matches!(
            judge(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Verdict::Deliver(..)
        ));
        assert!(matches!(
            judge(b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r"),
            Verdict::Deliver(..)
        ));
        assert!(matches!(
            judge(br#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#),
            Verdict::Deliver(..)
        ));
        assert!(matches!(
            judge(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":7}"#),
            Verdict::Ignore
        ));
        // Responses are never answered (rmcp drops unsolicited ones).
        assert!(!matches!(
            judge(br#"{"jsonrpc":"2.0","id":10,"result":{}}"#),
            Verdict::Answer(_)
        ));
        assert!(!matches!(
            judge(br#"{"jsonrpc":"2.0","id":11,"error":"x"}"#),
            Verdict::Answer(_)
        ));
        assert!(matches!(judge(b"   "), Verdict::Ignore));
    }

    /// rmcp's own reading of a line, the reference for [`fast_call`].
    fn general(line: &str) -> RxJsonRpcMessage<RoleServer> {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn only_plain_calls_take_the_fast_path() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_messages","arguments":{"channel_id":"feed_x","limit":20}}}"#,
            r#"{"params":{"arguments":{},"name":"x"},"method":"tools/call","id":"a\"b","jsonrpc":"2.0"}"#,
            r#"{"jsonrpc":"2.0","id":-3,"method":"tools/call","params":{"name":"n\u00e9","arguments":null}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}"#,
        ] {
            let fast = fast_call(line.as_bytes()).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(
                format!("{fast:?}"),
                format!("{:?}", general(line)),
                "{line}"
            );
        }
        for line in [
            // _meta (progress tokens) and unknown members are rmcp's to read.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","task":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"extra":1}"#,
            r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","name":"y"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
        ] {
            assert!(fast_call(line.as_bytes()).is_none(), "{line}");
        }
        // The general path still reads them, and counts ids as their answers will carry them.
        let flow_of = |line: &str| match judge(line.as_bytes()) {
            Verdict::Deliver(m, flow) => {
                assert_eq!(format!("{m:?}"), format!("{:?}", general(line)));
                flow
            }
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            flow_of(r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"x"}}"#),
            Flow::Counted("1".into())
        );
        assert_eq!(
            flow_of(
                r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1}}}"#
            ),
            Flow::Counted("5".into())
        );
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_fast_path_reads_calls_as_rmcp_does(
            id in prop_oneof![
                proptest::num::i64::ANY.prop_map(Value::from),
                "\\PC{0,12}".prop_map(Value::from),
            ],
            name in "\\PC{0,16}",
            arguments in proptest::option::of(proptest::collection::btree_map(
                "[a-z_\"\\\\]{0,8}",
                prop_oneof![
                    proptest::num::i64::ANY.prop_map(Value::from),
                    proptest::num::f64::NORMAL.prop_map(Value::from),
                    "\\PC{0,12}".prop_map(Value::from),
                    proptest::bool::ANY.prop_map(Value::from),
                    Just(Value::Null),
                    Just(json!({"a": [1, "b", {"c": null}]})),
                ],
                0..5,
            )),
        ) {
            let mut params = json!({"name": name});
            if let Some(a) = arguments {
                params["arguments"] = Value::Object(a.into_iter().collect());
            }
            let line = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
                .to_string();
            let fast = fast_call(line.as_bytes());
            prop_assert!(fast.is_some(), "{}", line);
            prop_assert_eq!(format!("{:?}", fast.unwrap()), format!("{:?}", general(&line)));
        }
    }

    /// Stdout for tests: each write call, as it came.
    #[derive(Clone, Default)]
    struct Writes(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.0.lock().unwrap().push(buf.to_vec());
            std::task::Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn answers_sent_together_leave_in_one_write_in_the_order_sent() {
        let writes = Writes::default();
        let writer = Writer {
            pending: std::sync::Mutex::default(),
            out: Mutex::new(Out {
                write: writes.clone(),
                buf: Vec::new(),
            }),
        };
        let answer = |id| {
            rmcp::service::TxJsonRpcMessage::<RoleServer>::response(
                rmcp::model::ServerResult::empty(()),
                RequestId::Number(id),
            )
        };
        let ids = |write: &[u8]| -> Vec<i64> {
            std::str::from_utf8(write)
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).unwrap()["id"]
                        .as_i64()
                        .unwrap()
                })
                .collect()
        };
        // Three answers sent before any of their flushes runs (as rmcp sends answers that
        // finished together): the first flush writes all three, the others find nothing.
        for id in 1..=3 {
            writer.queue(&answer(id)).unwrap();
        }
        for _ in 1..=3 {
            writer.flush().await.unwrap();
        }
        let seen = writes.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "one write for three answers");
        assert_eq!(ids(&seen[0]), [1, 2, 3]);
        assert!(seen[0].ends_with(b"}\n"));

        // A later answer gets a write of its own, without the earlier lines again.
        write_line(&writer, &answer(4)).await.unwrap();
        let seen = writes.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(ids(&seen[1]), [4]);

        // And through the transport: the answer is written by the time its send is done.
        let mut stdio = GuardedStdio::new(tokio::io::empty(), writes.clone());
        stdio.send(answer(5)).await.unwrap();
        stdio.close().await.unwrap();
        let seen = writes.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(ids(&seen[2]), [5]);
    }

    #[test]
    fn error_answers_are_rate_limited() {
        let mut b = TokenBucket::new(20.0, 10.0);
        assert_eq!((0..100).filter(|_| b.take()).count(), 20);
    }
}
