//! Hostile or broken input on stdin: the server answers every broken request with a JSON-RPC
//! error (never anything but JSON-RPC on stdout), keeps serving, and exits 0 at EOF. Then a
//! property test throws arbitrary argument objects at every tool of one long-lived server.

use std::{collections::HashMap, time::Duration};

use crate::common::{self, RawServer};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use rmcp::{
    ServiceError, ServiceExt,
    model::{CallToolRequestParams, ClientRequest, PingRequest},
};
use serde_json::{Map, Value, json};

fn demo() -> RawServer {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.env_clear().arg("--demo");
    RawServer::spawn(cmd)
}

/// What a broken line must get back.
#[derive(Debug)]
enum Expect {
    /// A JSON-RPC error with this code and id.
    Error(i64, Value),
    /// A JSON-RPC error with this id, whatever the code.
    AnyError(Value),
    /// An answer to this id that is either a JSON-RPC error or a tool result with
    /// `isError: true`, whose text contains the needle.
    Refused(Value, &'static str),
}

fn call(id: i64, params: Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}),
    )
    .unwrap()
}

const DEMO_GENERAL: &str = "feed_7HgT2kLp9QmXcV";

fn broken_lines() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let huge = "x".repeat(2 * 1024 * 1024);
    vec![
        (
            "not JSON",
            b"this is not json".to_vec(),
            Expect::Error(-32700, Value::Null),
        ),
        (
            "binary bytes",
            b"\x00\x01\x02\xff\xfe\x80garbage\x7f\x1b[31m".to_vec(),
            Expect::Error(-32700, Value::Null),
        ),
        (
            "cut-off JSON",
            br#"{"jsonrpc":"2.0","id":11,"method":"ping""#.to_vec(),
            Expect::Error(-32700, Value::Null),
        ),
        (
            "invalid UTF-8 inside a string",
            b"{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\",\"x\":\"\xff\xfe\"}".to_vec(),
            Expect::Error(-32700, Value::Null),
        ),
        (
            "unknown method",
            br#"{"jsonrpc":"2.0","id":"u1","method":"no/such/method"}"#.to_vec(),
            Expect::Error(-32601, json!("u1")),
        ),
        (
            "params a string",
            br#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":"oops"}"#.to_vec(),
            Expect::Error(-32602, json!(13)),
        ),
        (
            "params an array",
            br#"{"jsonrpc":"2.0","id":14,"method":"tools/call","params":[1,2]}"#.to_vec(),
            Expect::Error(-32602, json!(14)),
        ),
        (
            "tools/call without params",
            br#"{"jsonrpc":"2.0","id":15,"method":"tools/call"}"#.to_vec(),
            Expect::Error(-32602, json!(15)),
        ),
        (
            "unknown tool",
            call(16, json!({"name": "no_such_tool", "arguments": {}})),
            Expect::AnyError(json!(16)),
        ),
        (
            "wrong argument types",
            call(
                17,
                json!({"name": "list_messages", "arguments": {"channel_id": 5, "limit": "ten"}}),
            ),
            Expect::Refused(json!(17), ""),
        ),
        (
            "arguments not an object",
            call(18, json!({"name": "list_messages", "arguments": "feed_x"})),
            Expect::Refused(json!(18), ""),
        ),
        (
            "a 2 MB message",
            call(
                19,
                json!({"name": "send_message", "arguments": {"channel_id": DEMO_GENERAL, "content": huge}}),
            ),
            Expect::Refused(json!(19), "the limit is 4000"),
        ),
        (
            "a 2 MB id",
            call(
                20,
                json!({"name": "list_messages", "arguments": {"channel_id": huge}}),
            ),
            Expect::Refused(json!(20), "not a Whop id"),
        ),
        (
            "a JSON array",
            b"[1,2,3]".to_vec(),
            Expect::Error(-32600, Value::Null),
        ),
        (
            "a JSON number",
            b"42".to_vec(),
            Expect::Error(-32600, Value::Null),
        ),
        (
            "JSON-RPC 1.0",
            br#"{"jsonrpc":"1.0","id":22,"method":"ping"}"#.to_vec(),
            Expect::Error(-32600, json!(22)),
        ),
        (
            "no jsonrpc member",
            br#"{"id":23,"method":"ping"}"#.to_vec(),
            Expect::Error(-32600, json!(23)),
        ),
        (
            "method not a string",
            br#"{"jsonrpc":"2.0","id":24,"method":5}"#.to_vec(),
            Expect::Error(-32600, json!(24)),
        ),
    ]
}

#[tokio::test]
async fn every_broken_request_gets_a_json_rpc_error_and_the_server_keeps_answering() {
    let mut server = demo();
    server.initialize().await;
    for (n, (what, line, expect)) in broken_lines().into_iter().enumerate() {
        server.write_line(&line).await;
        match &expect {
            Expect::Error(code, Value::Null) => {
                let answer = loop {
                    let v = server
                        .next_line(Duration::from_secs(10))
                        .await
                        .unwrap_or_else(|| panic!("{what}: no answer"));
                    if v["id"].is_null() {
                        break v;
                    }
                };
                assert_eq!(answer["error"]["code"], *code, "{what}: {answer}");
            }
            Expect::Error(code, id) => {
                let answer = server.response(id).await;
                assert_eq!(answer["error"]["code"], *code, "{what}: {answer}");
            }
            Expect::AnyError(id) => {
                let answer = server.response(id).await;
                assert!(answer.get("error").is_some(), "{what}: {answer}");
            }
            Expect::Refused(id, needle) => {
                let answer = server.response(id).await;
                let refused = match (answer.get("error"), answer.get("result")) {
                    (Some(e), _) => e["message"].as_str().unwrap().to_owned(),
                    (None, Some(r)) => {
                        assert_eq!(r["isError"], true, "{what}: {answer}");
                        r["content"][0]["text"].as_str().unwrap().to_owned()
                    }
                    _ => unreachable!("checked by json_rpc"),
                };
                assert!(
                    !refused.is_empty() && refused.contains(needle),
                    "{what}: {refused}"
                );
            }
        }
        // Still serving.
        server.ping(&format!("alive-{n}")).await;
    }

    // Nothing but answers to what was sent ever appeared: one line per request.
    let broken = broken_lines().len();
    let pings = broken;
    assert_eq!(
        server.seen.len(),
        1 + broken + pings,
        "exactly one stdout line per request: {:#?}",
        server.seen
    );

    server.close_stdin();
    server.exits_cleanly(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_request_whose_id_has_the_wrong_type_gets_invalid_request() {
    let mut server = demo();
    server.initialize().await;
    for (n, line) in [
        &br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#[..],
        br#"{"jsonrpc":"2.0","id":[7],"method":"tools/list"}"#,
        br#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
    ]
    .into_iter()
    .enumerate()
    {
        server.write_line(line).await;
        let answer = server
            .next_line(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no answer to {}", String::from_utf8_lossy(line)));
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        assert!(answer["id"].is_null(), "{answer}");
        server.ping(&format!("alive-{n}")).await;
    }
}

#[tokio::test]
async fn a_tools_call_with_malformed_params_members_gets_invalid_params() {
    let mut server = demo();
    server.initialize().await;
    for (id, params) in [
        (31, json!({"name": "list_messages", "arguments": "feed_x"})),
        (32, json!({"name": "list_messages", "arguments": [1, 2]})),
        (33, json!({"name": 5, "arguments": {}})),
        (34, json!({"arguments": {}})),
    ] {
        server.write_line(&call(id, params.clone())).await;
        let answer = server.response(&json!(id)).await;
        assert_eq!(
            answer["error"]["code"], -32602,
            "tools/call with params {params}: {answer}"
        );
    }
}

#[tokio::test]
async fn garbage_before_initialize_is_answered_and_the_session_still_starts() {
    let mut server = demo();
    server.write_line(b"GET / HTTP/1.1").await;
    let answer = server.next_line(Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    assert!(answer["id"].is_null());
    server.write_line(b"\x00\x00\x00").await;
    let answer = server.next_line(Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    server.initialize().await;
    server.ping("after-garbage").await;
    server.close_stdin();
    server.exits_cleanly(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn broken_notifications_blank_lines_and_stray_responses_get_no_answer() {
    let mut server = demo();
    server.initialize().await;
    for line in [
        &br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":7}"#[..],
        b"   ",
        b"",
        b"\r",
        br#"{"jsonrpc":"2.0","id":"nobody-asked","result":{}}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/no_such_thing"}"#,
    ] {
        server.write_line(line).await;
    }
    server
        .send(&json!({"jsonrpc": "2.0", "id": "after", "method": "ping"}))
        .await;
    let next = server.next_line(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        next["id"], "after",
        "the first line after them answers the ping: {next}"
    );
    server.close_stdin();
    server.exits_cleanly(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_flood_of_garbage_is_answered_at_a_bounded_rate_and_the_server_survives() {
    let mut server = demo();
    server.initialize().await;
    let started = std::time::Instant::now();
    for i in 0..300 {
        server.write_line(format!("garbage {i}").as_bytes()).await;
    }
    server
        .send(&json!({"jsonrpc": "2.0", "id": "after-flood", "method": "ping"}))
        .await;
    let mut parse_errors = 0;
    loop {
        let v = server
            .next_line(Duration::from_secs(10))
            .await
            .expect("the ping is answered after the flood");
        if v["id"] == "after-flood" {
            assert!(v.get("result").is_some(), "{v}");
            break;
        }
        assert_eq!(v["error"]["code"], -32700, "{v}");
        parse_errors += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    // A burst of 20, then 10 per second: an echoing peer cannot start a storm.
    assert!(parse_errors >= 20, "the burst is answered: {parse_errors}");
    assert!(
        (parse_errors as f64) <= 20.0 + 10.0 * secs + 2.0,
        "{parse_errors} answers to 300 garbage lines in {secs:.2} s"
    );
    server.ping("still-here").await;
    server.close_stdin();
    server.exits_cleanly(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_line_over_16_mib_is_refused_and_the_server_goes_on() {
    let mut server = demo();
    server.initialize().await;
    let mut line = br#"{"jsonrpc":"2.0","id":99,"method":"ping","params":{"pad":""#.to_vec();
    line.resize(17 * 1024 * 1024, b'a');
    line.extend_from_slice(br#""}}"#);
    server.write_line(&line).await;
    let answer = server.next_line(Duration::from_secs(20)).await.unwrap();
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    assert!(answer["id"].is_null());
    server.ping("after-oversized").await;
    server.close_stdin();
    server.exits_cleanly(Duration::from_secs(5)).await;
}

// ---------------------------------------------------------------------------------------------
// Property: arbitrary argument objects never crash a tool

/// Any JSON value, with a bias towards what breaks parsers: unicode, control and bidi
/// characters, ids that look real, path tricks, huge strings, deep nesting.
fn json_value(interesting: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        any::<String>().prop_map(Value::from),
        "[\\u{0}-\\u{1f}\\u{202a}-\\u{202e}\\u{200b}-\\u{200f}a-z ]{0,40}".prop_map(Value::from),
        (0usize..400_000).prop_map(|n| Value::from("é".repeat(n / 2))),
        proptest::sample::select(interesting).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A tool name (rarely an unknown one) and an argument object whose keys are mostly that
/// tool's real parameters.
fn tool_call(
    params: HashMap<String, Vec<String>>,
    interesting: Vec<String>,
) -> impl Strategy<Value = (String, Map<String, Value>)> {
    let mut names: Vec<String> = params.keys().cloned().collect();
    names.sort();
    names.push("no_such_tool".into());
    proptest::sample::select(names).prop_flat_map(move |tool| {
        let mut keys = params.get(&tool).cloned().unwrap_or_default();
        keys.push("extra".into());
        let key = prop_oneof![
            4 => proptest::sample::select(keys),
            1 => any::<String>(),
        ];
        (
            Just(tool),
            proptest::collection::vec((key, json_value(interesting.clone())), 0..7)
                .prop_map(|kv| kv.into_iter().collect::<Map<_, _>>()),
        )
    })
}

#[test]
fn arbitrary_arguments_to_any_tool_never_crash_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sb, client, mut child, stderr, root) = rt.block_on(async {
        let sb = common::sandbox().await;
        let root = common::tempdir();
        std::fs::write(root.path().join("ok.txt"), "fine").unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub").join("note.md"), "# note").unwrap();
        let mut cmd = common::command(&sb, &[("WHOP_UPLOAD_ROOTS", root.path().to_str().unwrap())]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stderr = common::drain(child.stderr.take().unwrap());
        let client = common::Recorder::default()
            .serve((child.stdout.take().unwrap(), child.stdin.take().unwrap()))
            .await
            .unwrap();
        (sb, client, child, stderr, root)
    });
    let tools = rt.block_on(client.list_all_tools()).unwrap();
    let params: HashMap<String, Vec<String>> = tools
        .iter()
        .map(|t| {
            let props = t
                .input_schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            (t.name.to_string(), props)
        })
        .collect();
    assert_eq!(params.len(), 20, "{params:?}");
    // wait_for_messages may rightly wait up to 300 s on valid arguments; its bounds and
    // errors have their own tests (chat_life.rs).
    let params: HashMap<String, Vec<String>> = params
        .into_iter()
        .filter(|(name, _)| name != "wait_for_messages")
        .collect();
    let interesting: Vec<String> = [
        sb.channel_id("General"),
        sb.experience_id("General"),
        sb.channel_id("Announcements"),
        sb.support_channel_id("marcusl"),
        sb.company_id(),
        sb.newest_message_id(&sb.channel_id("General")).unwrap(),
        "ok.txt".into(),
        "sub/note.md".into(),
        root.path().join("ok.txt").display().to_string(),
        "../../../etc/passwd".into(),
        "/etc/passwd".into(),
        "/dev/zero".into(),
        ".env".into(),
        "aGVsbG8gd2hvcA==".into(),
        "data:text/plain;base64,aGk=".into(),
        "chart.png".into(),
        "public".into(),
        "private".into(),
        "~5~".into(),
        "~99~bWVzc2FnZXM6Nw==".into(),
        "bWVzc2FnZXM6Nw==".into(),
        "feed_\u{202E}evil".into(),
        "msg_\u{0}".into(),
        "👨‍👩‍👧".into(),
        String::new(),
        " ".into(),
    ]
    .into_iter()
    .collect();

    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let outcomes = std::sync::Mutex::new(HashMap::<&'static str, usize>::new());
    let result = runner.run(&tool_call(params, interesting), |(tool, args)| {
        let kind = rt.block_on(async {
            let call = client
                .call_tool(CallToolRequestParams::new(tool.clone()).with_arguments(args.clone()));
            let outcome = tokio::time::timeout(Duration::from_secs(30), call)
                .await
                .map_err(|_| TestCaseError::fail(format!("{tool} hung: {args:?}")))?;
            let kind = match outcome {
                Ok(r) if r.is_error == Some(true) => {
                    let text = common::text(&r);
                    prop_assert!(!text.trim().is_empty(), "{tool}: empty error text");
                    "tool error"
                }
                Ok(r) => {
                    prop_assert!(
                        r.structured_content.is_some(),
                        "{tool}: success without structuredContent"
                    );
                    "success"
                }
                Err(ServiceError::McpError(e)) => {
                    prop_assert!(!e.message.is_empty(), "{tool}: empty JSON-RPC error");
                    "JSON-RPC error"
                }
                Err(other) => {
                    return Err(TestCaseError::fail(format!(
                        "{tool} failed at the transport: {other} (args {args:?})"
                    )));
                }
            };
            // The server still answers.
            let ping = client.send_request(ClientRequest::PingRequest(PingRequest {
                method: Default::default(),
                extensions: Default::default(),
            }));
            tokio::time::timeout(Duration::from_secs(10), ping)
                .await
                .map_err(|_| TestCaseError::fail("ping hung"))?
                .map_err(|e| TestCaseError::fail(format!("ping failed: {e}")))?;
            Ok::<_, TestCaseError>(kind)
        })?;
        *outcomes.lock().unwrap().entry(kind).or_default() += 1;
        Ok(())
    });
    let stderr_text = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    if let Err(e) = result {
        panic!("{e}\nserver stderr (tail): {}", tail(&stderr_text));
    }
    let outcomes = outcomes.into_inner().unwrap();
    eprintln!("outcomes: {outcomes:?}");
    // The generator reaches all three kinds of outcome, so the property is not vacuous.
    for kind in ["tool error", "JSON-RPC error"] {
        assert!(outcomes.get(kind).copied().unwrap_or(0) > 0, "{outcomes:?}");
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    assert!(!stderr_text.contains("panicked"), "{}", tail(&stderr_text));
    rt.block_on(async {
        let _ = client.cancel().await;
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("exits at EOF")
            .unwrap();
        assert_eq!(status.code(), Some(0));
    });
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(3000);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}
