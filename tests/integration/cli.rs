//! The binary as a process: flags, exit codes, and a stdout that carries nothing but JSON-RPC.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use crate::common::{self, bare};

#[test]
fn help_and_version_work() {
    let out = bare().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--demo",
        "--upload-root",
        "--company-id",
        "--base-url",
        "--api-version",
        "WHOP_API_KEY",
        "RUST_LOG",
        "sandbox",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let out = bare().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        concat!("whop-chat-mcp ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_missing_key_exits_non_zero_with_one_clear_line() {
    let stderr = common::refused_at_start(&mut bare());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("WHOP_API_KEY is not set") && stderr.contains("--demo"),
        "{stderr}"
    );
}

#[test]
fn stdin_closed_before_initialize_is_a_quiet_clean_exit() {
    // A host probing the binary, or a client that gives up before the handshake: like any EOF.
    for input in [Stdio::null(), Stdio::piped()] {
        let out = bare()
            .env("WHOP_API_KEY", "k_1234567890")
            .stdin(input)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(out.stdout.is_empty() && stderr.is_empty(), "{stderr}");
    }
}

#[test]
fn bad_configuration_is_refused_before_serving() {
    for (k, v, needle) in [
        ("WHOP_COMPANY_ID", "exp_123", "WHOP_COMPANY_ID"),
        ("WHOP_BASE_URL", "http://api.example.com/api/v1", "https"),
        ("WHOP_UPLOAD_ROOTS", "/no/such/dir", "upload root"),
    ] {
        let stderr = common::refused_at_start(bare().env("WHOP_API_KEY", "k_1234567890").env(k, v));
        assert!(stderr.contains(needle), "{k}: {stderr}");
    }
}

/// Runs `cmd` (the binary with `--demo`) for one request after the handshake: writes
/// initialize, initialized and `request`, reads the two answers (each must be JSON-RPC 2.0),
/// then closes stdin and asserts a clean exit. Returns the answers as written on stdout.
fn one_request(mut cmd: Command, request: &str) -> [String; 2] {
    let mut child = cmd
        .arg("--demo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        request,
    ] {
        writeln!(stdin, "{l}").unwrap();
    }
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let answers = [(); 2].map(|()| {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"));
        assert_eq!(v["jsonrpc"], "2.0");
        line
    });
    drop(stdin); // EOF ends the server
    let status = child.wait().unwrap();
    assert!(status.success(), "exit at EOF is clean: {status:?}");
    answers
}

#[test]
fn stdout_is_json_rpc_only_and_text_is_real_utf8() {
    let mut cmd = bare();
    cmd.env("RUST_LOG", "debug").stderr(Stdio::piped());
    let [_, answer] = one_request(
        cmd,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_messages","arguments":{"channel_id":"feed_Cf4Iu7Ol2Ea9Wr"}}}"#,
    );
    for s in [
        "Привет из Москвы!",
        "日本から参加しています",
        "Crème brûlée",
        "🍰",
    ] {
        assert!(answer.contains(s), "{s} not written as UTF-8:\n{answer}");
    }
    assert!(!answer.contains("\\u"), "no \\u escapes:\n{answer}");
}

/// `tools/list` on the wire with these toolsets (none: the default ones): tool names, bytes.
fn tools_list(toolsets: Option<&str>) -> (Vec<String>, usize) {
    let mut cmd = bare();
    cmd.stderr(Stdio::null());
    if let Some(sets) = toolsets {
        cmd.env("WHOP_TOOLSETS", sets);
    }
    let [_, line] = one_request(cmd, r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    let tools: serde_json::Value = serde_json::from_str(&line).unwrap();
    let names = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    (names, line.trim_end().len())
}

#[test]
fn tools_list_stays_within_its_10_kb_budget_on_the_wire() {
    let (names, bytes) = tools_list(None);
    let chat_and_dms: Vec<&str> = whop_chat_mcp::exposure::TOOLSETS
        .iter()
        .filter(|(set, _, _)| whop_chat_mcp::exposure::DEFAULT_TOOLSETS.contains(set))
        .flat_map(|(_, _, tools)| tools.iter().copied())
        .collect();
    assert_eq!(names.len(), chat_and_dms.len(), "{names:?}");
    assert!(
        bytes <= 10_000,
        "the default tools/list is {bytes} bytes on the wire; the budget is 10,000"
    );
}

#[test]
fn every_toolset_together_stays_within_16_kb_on_the_wire() {
    let (names, bytes) = tools_list(Some("all"));
    assert_eq!(names.len(), whop_chat_mcp::exposure::all_tool_names().len());
    assert!(
        bytes <= 16_000,
        "tools/list with every toolset is {bytes} bytes on the wire; the budget is 16,000"
    );
    for (set, _, tools) in whop_chat_mcp::exposure::TOOLSETS {
        let (names, _) = tools_list(Some(set));
        assert_eq!(names.len(), tools.len(), "{set}: {names:?}");
    }
}

#[tokio::test]
async fn the_standalone_sandbox_adds_latency_counts_requests_and_needs_a_secret_to_deliver() {
    use std::io::BufRead as _;
    let mut child = bare()
        .args(["sandbox", "--listen", "127.0.0.1:0", "--latency-ms", "300"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = out
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("WHOP_BASE_URL=")
        .expect("the first line is the base URL")
        .to_owned();
    let origin = base.trim_end_matches("/api/v1").to_owned();
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let me = http
        .get(format!("{base}/accounts/me"))
        .bearer_auth(whop_chat_mcp::sandbox::DEMO_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let stats: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{origin}/_sandbox/stats"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats["requests_total"], 1, "{stats}");
    let open = stats["chat_channels"].as_array().unwrap();
    assert!(
        !open.is_empty() && open.len() < 4,
        "the admins-only and slow channels are left out: {stats}"
    );
    let _ = child.kill();
    let _ = child.wait();
    // Deliveries are signed: no secret, no start.
    let refused = bare()
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--webhook-url",
            "http://127.0.0.1:9/webhooks/whop",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--webhook-url needs WHOP_WEBHOOK_SECRET"),
        "{stderr}"
    );
}
