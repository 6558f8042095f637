//! Shared test harness: an in-process sandbox on a loopback port, the built binary as a child
//! process, and rmcp's client talking to it over stdio.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
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

/// The server binary pointed at `sandbox`, with a clean environment plus `env`.
pub fn command(sandbox: &Sandbox, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WHOP_BASE_URL", sandbox.base_url())
        .env("WHOP_API_KEY", sandbox.api_key());
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

/// Like [`connect`] but keeps the server's stderr for inspection.
pub async fn connect_with_stderr(
    cmd: tokio::process::Command,
) -> (Client, tokio::process::ChildStderr) {
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("server spawns");
    (
        Recorder::default()
            .serve(transport)
            .await
            .expect("initialize succeeds"),
        stderr.expect("piped"),
    )
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

/// A Python with the official MCP SDK (mcp==2.3.0): WHOP_MCP_TEST_PYTHON, or a virtualenv
/// under target/ made on first use (about 20 s; needs python3 and PyPI).
pub fn python_with_mcp() -> std::path::PathBuf {
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
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["--http", "127.0.0.1:0"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(rest) = line.split("serving MCP at ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    HttpServer { child, url }
}
