//! Concurrency, cancellation and shutdown of the binary over stdio: a slow call does not hold
//! up others, `notifications/cancelled` stops the HTTP work behind a call, and EOF, SIGINT and
//! SIGTERM end the process cleanly and quickly, also with a call in flight.

use std::time::{Duration, Instant};

use crate::common::{self, RawServer, call, cases, command, connect, ok};
use rmcp::{
    model::{CallToolRequest, CallToolRequestParams, ClientRequest},
    service::PeerRequestOptions,
};
use serde_json::{Map, Value, json};
use whop_chat_mcp::sandbox::{Fault, FaultAction, Sandbox, UploadOutcome};

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("arguments must be an object"),
    }
}

fn tool_request(tool: &str, arguments: Value) -> ClientRequest {
    ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new(tool.to_owned()).with_arguments(args(arguments)),
    ))
}

/// Polls `cond` every 10 ms until it holds; panics after `limit`.
async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn file_polls(sb: &Sandbox) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/files/"))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[tokio::test]
async fn twenty_quick_calls_are_not_held_behind_one_slow_call() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let slow_id = sb.channel_id("Announcements");
    let slow_path = format!("/chat_channels/{slow_id}");
    sb.add_fault(
        Fault::on(
            "GET",
            &slow_path,
            FaultAction::Delay(Duration::from_secs(3)),
        )
        .times(1),
    );

    let started = Instant::now();
    let peer = client.peer().clone();
    let slow = tokio::spawn(async move {
        let r = peer
            .call_tool(
                CallToolRequestParams::new("get_channel")
                    .with_arguments(args(json!({"channel_id": slow_id}))),
            )
            .await;
        (r, started.elapsed())
    });
    wait_until(
        "the slow request to reach Whop",
        Duration::from_secs(5),
        || sb.requests_to("GET", &slow_path).len() == 1,
    )
    .await;

    let quick_started = started.elapsed();
    let mut quick = tokio::task::JoinSet::new();
    let feed = sb.channel_id("General");
    for i in 0..20 {
        let peer = client.peer().clone();
        let (tool, arguments) = if i % 2 == 0 {
            ("list_messages", json!({"channel_id": feed, "limit": 2}))
        } else {
            ("get_channel", json!({"channel_id": feed}))
        };
        quick.spawn(async move {
            let r = peer
                .call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
                .await;
            (r, started.elapsed())
        });
    }
    let mut last_quick = Duration::ZERO;
    while let Some(done) = quick.join_next().await {
        let (r, at) = done.unwrap();
        let r = r.expect("quick call answered");
        ok(&r);
        last_quick = last_quick.max(at);
    }
    let (slow_result, slow_at) = slow.await.unwrap();
    let (_, s) = ok(&slow_result.expect("slow call answered"));
    assert_eq!(s["name"], "Announcements");

    assert!(
        slow_at >= Duration::from_secs(3),
        "the slow call waited: {slow_at:?}"
    );
    assert!(
        last_quick < slow_at,
        "all 20 quick calls finish before the slow one ({last_quick:?} vs {slow_at:?})"
    );
    assert!(
        last_quick - quick_started < Duration::from_secs(2),
        "20 quick calls took {:?} while the slow one was pending",
        last_quick - quick_started
    );
    assert_eq!(
        sb.requests_to("GET", "/messages").len()
            + sb.requests_to("GET", &format!("/chat_channels/{feed}"))
                .len(),
        20
    );
}

// ---------------------------------------------------------------------------------------------
// Cancellation

#[tokio::test]
async fn a_cancelled_upload_stops_polling_whop() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    sb.set_upload_outcome(UploadOutcome::Never);
    let handle = client
        .send_cancellable_request(
            tool_request(
                "upload_file",
                json!({"content_base64": "aGVsbG8gd2hvcA==", "filename": "hello.txt"}),
            ),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    // Polls come at about 0.1, 0.35, 0.85 s, then every second.
    wait_until("three status polls", Duration::from_secs(5), || {
        file_polls(&sb) >= 3
    })
    .await;
    handle
        .cancel(Some("the user gave up".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_cancel = file_polls(&sb);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        file_polls(&sb),
        at_cancel,
        "GET /files/{{id}} polling goes on after the cancel"
    );
    // The session is fine.
    ok(&call(
        &client,
        "get_channel",
        json!({"channel_id": sb.channel_id("General")}),
    )
    .await);
}

#[tokio::test]
async fn a_cancelled_read_stops_retrying() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    // Every attempt fails and asks for a 500 ms wait: five attempts would take 2 s.
    sb.add_fault(Fault::on(
        "GET",
        "/messages",
        FaultAction::Status {
            status: 503,
            headers: vec![("retry-after-ms".into(), "500".into())],
            body: "{}".into(),
        },
    ));
    let handle = client
        .send_cancellable_request(
            tool_request(
                "list_messages",
                json!({"channel_id": sb.channel_id("General")}),
            ),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    wait_until("the first attempt", Duration::from_secs(5), || {
        !sb.requests_to("GET", "/messages").is_empty()
    })
    .await;
    handle.cancel(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let attempts = sb.requests_to("GET", "/messages").len();
    assert!(
        attempts <= 2,
        "the retry loop stops at the cancel, but {attempts} attempts were made"
    );
}

#[tokio::test]
async fn after_cancelling_a_stuck_read_the_server_answers_the_next_call_at_once() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    sb.add_fault(
        Fault::on(
            "GET",
            "/messages",
            FaultAction::Delay(Duration::from_secs(60)),
        )
        .times(1),
    );
    let handle = client
        .send_cancellable_request(
            tool_request("list_messages", json!({"channel_id": feed})),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    wait_until("the stuck request", Duration::from_secs(5), || {
        sb.requests_to("GET", "/messages").len() == 1
    })
    .await;
    handle.cancel(Some("too slow".into())).await.unwrap();
    let started = Instant::now();
    let (_, s) = ok(&call(
        &client,
        "list_messages",
        json!({"channel_id": feed, "limit": 1}),
    )
    .await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s["messages"].as_array().unwrap().len(), 1);
    assert_eq!(sb.requests_to("GET", "/messages").len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Shutdown

async fn raw(sb: &Sandbox) -> RawServer {
    let mut server = RawServer::spawn(command(sb, &[]));
    server.initialize().await;
    server
}

/// Starts a list_messages call that hangs on a 60 s delay and waits until Whop has it.
async fn call_in_flight(sb: &Sandbox, server: &mut RawServer) {
    sb.add_fault(Fault::on(
        "GET",
        "/messages",
        FaultAction::Delay(Duration::from_secs(60)),
    ));
    server
        .send(&json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
            "params": {"name": "list_messages", "arguments": {"channel_id": sb.channel_id("General")}}}))
        .await;
    wait_until("the call to reach Whop", Duration::from_secs(5), || {
        sb.requests_to("GET", "/messages").len() == 1
    })
    .await;
}

#[tokio::test]
async fn a_host_that_closes_stdout_ends_the_session() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.env_clear()
        .arg("--demo")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).await.unwrap();
    assert!(line.contains("\"result\""), "{line}");
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();
    drop(stdout);
    for i in 1..=3 {
        let ping = json!({"jsonrpc": "2.0", "id": i, "method": "ping"});
        // The write may fail once the server is gone; that is the point.
        let _ = stdin.write_all(format!("{ping}\n").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(3), child.wait())
        .await
        .expect("the server ends once it cannot write answers")
        .unwrap();
    assert!(status.code().is_some(), "{status}");
}

/// How the host ends a session.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Closes the server's stdin.
    Eof,
    /// Sends the server this signal.
    Signal(i32),
}

/// A session ended by the host, idle or with a `list_messages` call stuck in flight: the
/// process exits with code 0, without a panic, within `within`.
struct Shutdown {
    end: End,
    in_flight: bool,
    within: Duration,
}

async fn the_process_ends_cleanly(case: Shutdown) {
    let Shutdown {
        end,
        in_flight,
        within,
    } = case;
    let sb = common::sandbox().await;
    let mut server = raw(&sb).await;
    if in_flight {
        call_in_flight(&sb, &mut server).await;
    } else {
        server.ping("idle").await;
    }
    match end {
        End::Eof => server.close_stdin(),
        End::Signal(signal) => server.signal(signal),
    }
    let took = server.exits_cleanly(Duration::from_secs(10)).await;
    assert!(
        took < within,
        "{end:?}, in flight {in_flight}: took {took:?}"
    );
}

cases!(
    the_process_ends_cleanly,
    stdin_eof_ends_the_process_with_exit_code_0_within_2_seconds(Shutdown {
        end: End::Eof,
        in_flight: false,
        within: Duration::from_secs(2),
    }),
    // At EOF rmcp keeps the session up to 5 s so answers still in flight reach a client that
    // is still reading (what makes `printf '<requests>' | whop-chat-mcp` print its answers);
    // a call stuck longer than that is abandoned and the process still ends cleanly.
    stdin_eof_with_a_call_in_flight_ends_the_process_after_at_most_the_drain_time(Shutdown {
        end: End::Eof,
        in_flight: true,
        within: Duration::from_secs(6),
    }),
    sigint_ends_an_idle_server_cleanly(Shutdown {
        end: End::Signal(libc::SIGINT),
        in_flight: false,
        within: Duration::from_secs(2),
    }),
    sigterm_ends_an_idle_server_cleanly(Shutdown {
        end: End::Signal(libc::SIGTERM),
        in_flight: false,
        within: Duration::from_secs(2),
    }),
    sigint_ends_the_server_cleanly_while_a_call_is_in_flight(Shutdown {
        end: End::Signal(libc::SIGINT),
        in_flight: true,
        within: Duration::from_secs(2),
    }),
    sigterm_ends_the_server_cleanly_while_a_call_is_in_flight(Shutdown {
        end: End::Signal(libc::SIGTERM),
        in_flight: true,
        within: Duration::from_secs(2),
    }),
);
