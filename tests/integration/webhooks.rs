//! Push from Whop webhooks, through the real binary over real HTTP: the receiver's refusals
//! (signature, timestamp, size, repeats), waits and subscriptions woken at once by a delivery
//! (with polling slowed so far that only push can explain an answer), the sandbox's own
//! signed deliveries, `--demo --http`, and the standalone `webhooks --listen` receiver.

use std::{
    io::{Read as _, Write as _},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use whop_chat_mcp::sandbox::Sandbox;

use crate::common::{self, HttpServer, http_server};

/// A secret shaped like Whop's (`ws_…`), signed with its literal bytes.
const SECRET: &str = "ws_test_9d1f3b5a7c2e4f6081a3c5e7";

/// Polling so slow that any answer within seconds came from push.
const NO_POLLING: &[(&str, &str)] = &[
    ("WHOP_POLL_SECONDS", "60"),
    ("WHOP_SAFETY_POLL_SECONDS", "3600"),
];

/// The binary over HTTP against `sb`, receiving webhooks signed with [`SECRET`].
fn server(sb: &Sandbox) -> HttpServer {
    let mut env = vec![
        ("WHOP_BASE_URL", sb.base_url()),
        ("WHOP_API_KEY", sb.api_key().to_owned()),
        ("WHOP_WEBHOOK_SECRET", SECRET.to_owned()),
    ];
    env.extend(NO_POLLING.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http_server(&[], &env)
}

fn webhook_url(server: &HttpServer) -> String {
    server.url.replace("/mcp", "/webhooks/whop")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`, keyed with the secret's bytes.
fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    format!(
        "v1,{}",
        STANDARD.encode(ring::hmac::sign(&key, &content).as_ref())
    )
}

/// A `chat.message.created` event as §6 shapes it.
fn message_event(id: &str, channel: &str, experience: &str, message_id: &str) -> Vec<u8> {
    json!({
        "id": id, "api_version": "v1", "api_version_date": null,
        "type": "chat.message.created", "timestamp": "2026-12-01T10:00:00.000Z",
        "company_id": "biz_x", "account_id": "biz_x",
        "data": {
            "reason": "channel_message",
            "audience": {"type": "channel", "user_ids": null},
            "channel": {"id": channel, "type": "chat", "experience_id": experience},
            "message": {"id": message_id, "content": "hi"}
        }
    })
    .to_string()
    .into_bytes()
}

/// One HTTP client for every request of this module (a client per request would time its own
/// start-up, not the server).
/// Per thread: each test runs on a thread of its own with its own runtime, and a client's
/// connections belong to the runtime that opened them.
fn http() -> reqwest::Client {
    thread_local! {
        static CLIENT: reqwest::Client = reqwest::Client::new();
    }
    CLIENT.with(Clone::clone)
}

fn delivery_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// POSTs a delivery with these headers; returns the status and the answer's text.
async fn post_delivery(url: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, String) {
    let mut req = http()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A correctly signed delivery of `body` as `id`, timestamped now.
async fn deliver(url: &str, id: &str, body: Vec<u8>) -> (u16, String) {
    let ts = now();
    let headers = [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", sign(SECRET, id, ts, &body)),
    ];
    post_delivery(url, &headers, body).await
}

/// A stateless `tools/call` to the server; the parsed JSON-RPC answer.
async fn call_tool(mcp: &str, tool: &str, args: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": args}});
    let resp = http()
        .post(mcp)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

/// Starts a `wait_for_messages` on `feed` from its newest message and gives it time to join
/// the channel's watcher.
async fn start_wait(
    mcp: &str,
    sb: &Sandbox,
    feed: &str,
) -> tokio::task::JoinHandle<(Value, Instant)> {
    let args = json!({"channel_id": feed, "after": sb.newest_message_id(feed).unwrap(),
                      "timeout_seconds": 30});
    let mcp = mcp.to_owned();
    let wait = tokio::spawn(async move {
        let answer = call_tool(&mcp, "wait_for_messages", args).await;
        (answer, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!wait.is_finished(), "the wait is waiting");
    wait
}

/// The ids of the messages a wait answered with.
fn waited_ids(answer: &Value) -> Vec<String> {
    let s = &answer["result"]["structuredContent"];
    assert_eq!(s["timed_out"], false, "{answer}");
    s["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn deliveries_without_a_valid_fresh_signature_are_refused() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let url = webhook_url(&server);
    let feed = sb.channel_id("General");
    let id = delivery_id();
    let body = message_event(&id, &feed, "exp_1", "post_1");
    let ts = now();
    let good = sign(SECRET, &id, ts, &body);
    let wrong = sign("ws_not_the_secret", &id, ts, &body);
    let headers = |sig: &str, ts: i64| {
        vec![
            ("webhook-id", id.clone()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig.to_owned()),
        ]
    };
    // Missing headers, one at a time.
    for skip in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let h: Vec<_> = headers(&good, ts)
            .into_iter()
            .filter(|(k, _)| *k != skip)
            .collect();
        let (status, text) = post_delivery(&url, &h, body.clone()).await;
        assert_eq!(status, 401, "{skip}: {text}");
        assert!(text.contains(&format!("missing {skip}")), "{text}");
    }
    // An id that is no token: refused before it is remembered anywhere.
    let mut h = headers(&good, ts);
    h[0].1 = "x".repeat(300);
    let (status, text) = post_delivery(&url, &h, body.clone()).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("webhook-id must be"), "{text}");
    // A wrong signature, and one of the right form for another body.
    let other = sign(SECRET, &id, ts, b"{}");
    for sig in [
        wrong.as_str(),
        other.as_str(),
        "v1,bm90IGEgc2lnbmF0dXJl",
        "garbage",
    ] {
        let (status, text) = post_delivery(&url, &headers(sig, ts), body.clone()).await;
        assert_eq!(status, 401, "{text}");
        assert!(
            text.contains("no webhook-signature matches") && text.contains("WHOP_WEBHOOK_SECRET"),
            "{text}"
        );
        assert!(
            !text.contains(SECRET) && !text.contains(&good[3..]) && !text.contains(sig),
            "the answer repeats nothing it was given: {text}"
        );
    }
    // Stale and future timestamps, each correctly signed for its own timestamp.
    for (ts, needle) in [(ts - 301, "s old"), (ts + 400, "in the future")] {
        let sig = sign(SECRET, &id, ts, &body);
        let (status, text) = post_delivery(&url, &headers(&sig, ts), body.clone()).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains(needle) && text.contains("300 s"), "{text}");
    }
    // Several signatures, one of them valid (key rotation): accepted.
    let several = format!("v1,{} {wrong} {good}", &other[3..]);
    let (status, text) = post_delivery(&url, &headers(&several, ts), body.clone()).await;
    assert_eq!((status, text.as_str()), (200, "ok\n"));
    // Signed but not JSON, or JSON of the wrong shape: 400; another event type: acknowledged.
    for (bad, needle) in [
        (&b"not json"[..], "not JSON"),
        (
            br#"{"type":"chat.message.created","data":{}}"#,
            "data.channel.id",
        ),
    ] {
        let (status, text) = deliver(&url, &delivery_id(), bad.to_vec()).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(needle), "{text}");
    }
    let reaction = br#"{"type":"chat.reaction.created","data":{"channel":{"id":"feed_1"}}}"#;
    let (status, text) = deliver(&url, &delivery_id(), reaction.to_vec()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("chat.message.created only"), "{text}");
    // The MCP endpoint's guard does not apply here, nor does this route open /mcp.
    let (status, _) = post_delivery(&server.url, &headers(&good, ts), body).await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn an_oversized_delivery_is_refused_before_its_body_is_read() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let addr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let ts = now();
    let id = delivery_id();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    // Announces 10 MiB, sends 1 byte: the answer must come without the rest.
    write!(
        s,
        "POST /webhooks/whop HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         webhook-id: {id}\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: v1,AAAA\r\n\
         Content-Length: {}\r\n\r\n{{",
        10 * 1024 * 1024
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    // A body over the limit without a Content-Length is cut off as it streams.
    let big = vec![b' '; 300 * 1024];
    let stream = futures_util::stream::iter(
        big.chunks(16 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = http()
        .post(webhook_url(&server))
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", "v1,AAAA")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
}

#[tokio::test]
async fn a_repeated_delivery_is_acknowledged_and_wakes_only_once() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let url = webhook_url(&server);
    let feed = sb.channel_id("General");
    let wait = start_wait(&server.url, &sb, &feed).await;
    sb.clear_requests();
    // No new message: a wake-up costs one fetch by the channel's watcher, and answers nothing.
    let id = delivery_id();
    let body = message_event(&id, &feed, "exp_none", "post_none");
    let (status, text) = deliver(&url, &id, body.clone()).await;
    assert_eq!((status, text.as_str()), (200, "ok\n"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fetches = sb.requests_to("GET", "/messages").len();
    assert_eq!(fetches, 1, "one wake-up, one fetch");
    // The same delivery again (a sender's retry: fresh timestamp and signature).
    let (status, text) = deliver(&url, &id, body).await;
    assert_eq!(status, 200);
    assert!(text.contains("repeated delivery"), "{text}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        sb.requests_to("GET", "/messages").len(),
        fetches,
        "a repeat wakes nobody"
    );
    assert!(!wait.is_finished(), "nothing new, so the wait goes on");
    wait.abort();
}

// Two worker threads: the in-process sandbox answers the server while the test's own client
// waits, so the figure is the server's, not this runtime's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_wakes_a_waiting_wait_at_once() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let url = webhook_url(&server);
    let feed = sb.channel_id("Café International");
    let experience = sb.experience_id("Café International");
    let mut latencies = Vec::new();
    for round in 0..20 {
        let wait = start_wait(&server.url, &sb, &feed).await;
        let posted = sb.post_as("lucia", &feed, &format!("round {round}"));
        let sent = Instant::now();
        let id = delivery_id();
        let (status, _) = deliver(&url, &id, message_event(&id, &feed, &experience, &posted)).await;
        assert_eq!(status, 200);
        let (answer, answered) = tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("the wait answers after the webhook")
            .unwrap();
        assert_eq!(waited_ids(&answer), [posted]);
        latencies.push(answered - sent);
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "webhook -> wait_for_messages answer over {} rounds: p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies.len(),
        latencies.last().unwrap()
    );
    // Polling is an hour away: only push can answer this fast. (The figure to report is the
    // printed p50; the bound only catches push being broken.)
    assert!(p50 < Duration::from_secs(2), "p50 {p50:?}");
}

#[tokio::test]
async fn a_woken_wait_answers_from_its_watchers_check_without_asking_whop_again() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let feed = sb.channel_id("General");
    let waits = [
        start_wait(&server.url, &sb, &feed).await,
        start_wait(&server.url, &sb, &feed).await,
    ];
    let posted = sb.post_as("chloe", &feed, "one check for all");
    sb.clear_requests();
    let id = delivery_id();
    let (status, _) = deliver(
        &webhook_url(&server),
        &id,
        message_event(&id, &feed, &sb.experience_id("General"), &posted),
    )
    .await;
    assert_eq!(status, 200);
    for wait in waits {
        let (answer, _) = tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("the wait answers after the webhook")
            .unwrap();
        assert_eq!(waited_ids(&answer), std::slice::from_ref(&posted));
    }
    // The watcher's one check answered both waits.
    assert_eq!(sb.requests_to("GET", "/messages").len(), 1);
}

#[tokio::test]
async fn a_wait_on_the_experience_id_wakes_too() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let feed = sb.channel_id("General");
    let experience = sb.experience_id("General");
    let args = json!({"channel_id": experience, "timeout_seconds": 30});
    let mcp = server.url.clone();
    let wait = tokio::spawn(async move { call_tool(&mcp, "wait_for_messages", args).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let posted = sb.post_as("chloe", &feed, "by experience");
    let id = delivery_id();
    deliver(
        &webhook_url(&server),
        &id,
        message_event(&id, &feed, &experience, &posted),
    )
    .await;
    let answer = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("woken through the experience id")
        .unwrap();
    assert_eq!(waited_ids(&answer), [posted]);
}

/// What a test receiver got: each request's headers and body.
type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>>;

/// A loopback receiver that answers 500 to the first `fail_first` requests, then 200.
async fn capture(fail_first: usize) -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let sink = sink.clone();
            async move {
                let mut all = sink.lock().unwrap();
                all.push((headers, body));
                if all.len() <= fail_first {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn the_sandbox_signs_and_shapes_deliveries_as_whop_does_and_retries() {
    let sb = common::sandbox().await;
    let (url, got) = capture(1).await;
    sb.deliver_webhooks(&url, SECRET).unwrap();
    let feed = sb.channel_id("General");
    let posted = sb.post_as("chloe", &feed, "hello hooks");
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "a failed attempt is tried again");
    let header = |h: &axum::http::HeaderMap, k: &str| h[k].to_str().unwrap().to_owned();
    let (first, second) = (&got[0], &got[1]);
    assert_eq!(
        header(&first.0, "webhook-id"),
        header(&second.0, "webhook-id")
    );
    for (headers, body) in &got {
        let id = header(headers, "webhook-id");
        let ts: i64 = header(headers, "webhook-timestamp").parse().unwrap();
        assert!((now() - ts).abs() < 10);
        assert_eq!(
            header(headers, "webhook-signature"),
            sign(SECRET, &id, ts, body)
        );
        assert_eq!(header(headers, "content-type"), "application/json");
    }
    let event: Value = serde_json::from_slice(&second.1).unwrap();
    assert_eq!(event["id"], header(&second.0, "webhook-id"));
    assert!(event["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(event["api_version"], "v1");
    assert_eq!(event["type"], "chat.message.created");
    assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(event["company_id"], sb.company_id());
    assert_eq!(event["account_id"], sb.company_id());
    let data = &event["data"];
    assert_eq!(data["reason"], "channel_message");
    assert_eq!(data["audience"]["type"], "channel");
    assert_eq!(
        data["channel"],
        json!({"id": feed, "type": "chat", "experience_id": sb.experience_id("General")})
    );
    assert_eq!(data["message"]["id"], posted);
    assert_eq!(data["message"]["content"], "hello hooks");
    let deliveries = sb.webhook_deliveries();
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].delivered && deliveries[0].attempts == 2);
    assert_eq!(deliveries[0].message_id, posted);
    // A DM's delivery names its members.
    let dm = sb.dm_channel_id("mallory");
    sb.post_as("mallory", &dm, "psst");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sb.webhook_deliveries().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sb.webhook_deliveries()[1].channel_id, dm);
    sb.stop_webhooks();
    sb.post_as("chloe", &feed, "unheard");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sb.webhook_deliveries().len(), 2, "stopped");
}

#[tokio::test]
async fn a_message_sent_through_the_server_wakes_a_wait_in_another_session() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    sb.deliver_webhooks(&webhook_url(&server), SECRET).unwrap();
    let feed = sb.channel_id("General");
    let wait = start_wait(&server.url, &sb, &feed).await;
    let sent = Instant::now();
    let answer = call_tool(
        &server.url,
        "send_message",
        json!({"channel_id": feed, "content": "pushed, not polled"}),
    )
    .await;
    let posted = answer["result"]["structuredContent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let (answer, answered) = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("the sandbox's webhook wakes the wait")
        .unwrap();
    assert_eq!(waited_ids(&answer), std::slice::from_ref(&posted));
    eprintln!(
        "send_message -> sandbox webhook -> wait answer: {:?}",
        answered - sent
    );
    let deliveries = sb.webhook_deliveries();
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].delivered && deliveries[0].message_id == posted);
}

/// Opens a 2026-07-28 `subscriptions/listen` stream for `uri`; its SSE lines arrive on the
/// channel returned.
async fn listen(mcp: &str, uri: &str) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen", "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "webhook-test", "version": "0"}
        },
        "notifications": {"resourceSubscriptions": [uri]}
    }});
    let resp = http()
        .post(mcp)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find('\n') {
                let line = buf[..end].trim().to_owned();
                buf.drain(..=end);
                if let Some(data) = line.strip_prefix("data:")
                    && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        }
    });
    rx
}

#[tokio::test]
async fn a_subscription_hears_of_a_webhook_at_once() {
    let sb = common::sandbox().await;
    let server = server(&sb);
    let feed = sb.channel_id("Trading Signals");
    let uri = format!("whop://channels/{feed}/messages");
    let mut stream = listen(&server.url, &uri).await;
    let ack = tokio::time::timeout(Duration::from_secs(5), stream.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let posted = sb.post_as("kenji", &feed, "signal");
    let sent = Instant::now();
    let id = delivery_id();
    deliver(
        &webhook_url(&server),
        &id,
        message_event(&id, &feed, "exp_x", &posted),
    )
    .await;
    let update = tokio::time::timeout(Duration::from_secs(5), stream.recv())
        .await
        .expect("resources/updated arrives by push")
        .unwrap();
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(update["params"]["uri"], uri);
    eprintln!("webhook -> resources/updated: {:?}", sent.elapsed());
}

#[tokio::test]
async fn the_demo_over_http_runs_the_whole_push_path() {
    // The demo sandbox inside the server delivers to the server's own receiver.
    let server = http_server(&["--demo"], NO_POLLING);
    let feed = "feed_7HgT2kLp9QmXcV"; // the demo's #General
    let newest = call_tool(
        &server.url,
        "list_messages",
        json!({"channel_id": feed, "limit": 1}),
    )
    .await;
    let after = newest["result"]["structuredContent"]["messages"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{newest}"))
        .to_owned();
    let mcp = server.url.clone();
    let wait = tokio::spawn(async move {
        call_tool(
            &mcp,
            "wait_for_messages",
            json!({"channel_id": feed, "after": after, "timeout_seconds": 30}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = call_tool(
        &server.url,
        "send_message",
        json!({"channel_id": feed, "content": "demo push"}),
    )
    .await;
    let posted = sent["result"]["structuredContent"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("woken by the demo sandbox's webhook")
        .unwrap();
    assert_eq!(waited_ids(&answer), [posted]);
}

/// `whop-chat-mcp webhooks --listen 127.0.0.1:0`, its receiver URL and its stderr so far.
fn standalone(env: &[(&str, &str)]) -> (std::process::Child, String, Arc<Mutex<String>>) {
    let mut cmd = common::bare();
    cmd.args(["webhooks", "--listen", "127.0.0.1:0"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::spawn_until(cmd, "receiving Whop webhooks at ")
}

#[tokio::test]
async fn the_standalone_receiver_acknowledges_good_deliveries_and_refuses_bad_ones() {
    let (mut child, url, said) =
        standalone(&[("WHOP_WEBHOOK_SECRET", SECRET), ("RUST_LOG", "warn")]);
    let id = delivery_id();
    let (status, text) = deliver(&url, &id, message_event(&id, "feed_1", "exp_1", "post_1")).await;
    assert_eq!((status, text.as_str()), (200, "ok\n"));
    let ts = now();
    let bad = [
        ("webhook-id", delivery_id()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", sign("ws_wrong", &id, ts, b"{}")),
    ];
    let (status, _) = post_delivery(&url, &bad, b"{}".to_vec()).await;
    assert_eq!(status, 401);
    let health = reqwest::get(url.replace("/webhooks/whop", "/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(health, "ok\n");
    assert!(
        said.lock().unwrap().contains("wake nobody"),
        "it warns that alone it wakes nobody: {}",
        said.lock().unwrap()
    );
    let _ = child.kill();
    let _ = child.wait();
    // Without a secret it refuses to start, naming the variable.
    let stderr =
        common::refused_at_start(common::bare().args(["webhooks", "--listen", "127.0.0.1:0"]));
    assert!(
        stderr.contains("WHOP_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET));
}

#[tokio::test]
async fn waits_on_one_channel_share_one_poller() {
    let sb = common::sandbox().await;
    let client = common::connect(common::command(&sb, &[("WHOP_POLL_SECONDS", "1")])).await;
    let feed = sb.channel_id("General");
    let wait = || {
        common::call(
            &client,
            "wait_for_messages",
            json!({"channel_id": feed, "timeout_seconds": 4}),
        )
    };
    let count = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sb.clear_requests();
        tokio::time::sleep(Duration::from_secs(3)).await;
        sb.requests_to("GET", "/messages").len()
    };
    let (a, b, c, polls) = tokio::join!(wait(), wait(), wait(), count);
    for r in [a, b, c] {
        assert_eq!(common::ok(&r).1["timed_out"], true);
    }
    // One watcher polling each second, not one poller per wait (which would make about 9).
    assert!(
        (2..=4).contains(&polls),
        "{polls} polls in 3 s for three waits"
    );
}

// ---------------------------------------------------------------------------------------------
// Across replicas, through a real Redis.

/// The binary over HTTP against `sb`, sharing `redis` and receiving webhooks, polling never.
fn replica(sb: &Sandbox, redis: &common::RedisServer) -> HttpServer {
    let state = redis.url();
    let mut env = vec![
        ("WHOP_BASE_URL", sb.base_url()),
        ("WHOP_API_KEY", sb.api_key().to_owned()),
        ("WHOP_WEBHOOK_SECRET", SECRET.to_owned()),
        ("WHOP_MCP_STATE_URL", state),
    ];
    env.extend(NO_POLLING.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http_server(&[], &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_to_one_replica_wakes_a_wait_on_the_other() {
    let redis = common::RedisServer::start();
    let sb = common::sandbox().await;
    let (a, b) = (replica(&sb, &redis), replica(&sb, &redis));
    let feed = sb.channel_id("General");
    let experience = sb.experience_id("General");
    // Each replica has joined Redis before the wake is published.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let wait = start_wait(&b.url, &sb, &feed).await;
    let posted = sb.post_as("chloe", &feed, "across replicas");
    let id = delivery_id();
    let started = Instant::now();
    let (status, _) = deliver(
        &webhook_url(&a),
        &id,
        message_event(&id, &feed, &experience, &posted),
    )
    .await;
    assert_eq!(status, 200);
    let (answer, at) = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the wait on the other replica answered (polling is off: only push can wake it)")
        .unwrap();
    assert_eq!(waited_ids(&answer), std::slice::from_ref(&posted));
    eprintln!(
        "webhook to replica A -> wait on replica B answered in {:?}",
        at - started
    );
    // The same delivery again, now to B: seen across replicas, acknowledged and dropped.
    let (status, _) = deliver(
        &webhook_url(&b),
        &id,
        message_event(&id, &feed, &experience, &posted),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standalone_receiver_wakes_a_stdio_server_through_redis() {
    let redis = common::RedisServer::start();
    let sb = common::sandbox().await;
    let state = redis.url();
    let (mut receiver, url, _said) = standalone(&[
        ("WHOP_WEBHOOK_SECRET", SECRET),
        ("WHOP_API_KEY", sb.api_key()),
        ("WHOP_MCP_STATE_URL", &state),
        ("RUST_LOG", "warn"),
    ]);
    // A stdio server of the same deployment: it has the secret (so push is on) and the state.
    let mut env = vec![
        ("WHOP_WEBHOOK_SECRET", SECRET),
        ("WHOP_MCP_STATE_URL", state.as_str()),
    ];
    env.extend(NO_POLLING.iter().copied());
    let client = common::connect(common::command(&sb, &env)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let feed = sb.channel_id("General");
    let after = sb.newest_message_id(&feed).unwrap();
    let wait = {
        let feed = feed.clone();
        tokio::spawn(async move {
            let r = common::call(
                &client,
                "wait_for_messages",
                json!({"channel_id": feed, "after": after, "timeout_seconds": 30}),
            )
            .await;
            common::ok(&r).0
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posted = sb.post_as("chloe", &feed, "from the receiver");
    let id = delivery_id();
    let (status, _) = deliver(
        &url,
        &id,
        message_event(&id, &feed, &sb.experience_id("General"), &posted),
    )
    .await;
    assert_eq!(status, 200);
    let answer = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the stdio server's wait answered (polling is off: only push can wake it)")
        .unwrap();
    assert!(answer.contains("from the receiver"), "{answer}");
    let _ = receiver.kill();
    let _ = receiver.wait();
}
