//! The Streamable HTTP transport: authentication, DNS-rebinding protection, CORS, limits,
//! shutdown, and the official Python SDK as a client.

use std::time::Duration;

use crate::common::{self, http_server};
use serde_json::{Value, json};

const TOKEN: &str = "tok_test_5b2c7e9a1f3d4c6b";

fn post(
    url: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (u16, String, reqwest::header::HeaderMap) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, resp.text().await.unwrap(), headers)
    })
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
           "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
}

#[test]
fn the_python_sdk_works_over_http_with_the_token_and_is_refused_without() {
    let server = http_server(&["--demo"], &[("WHOP_MCP_HTTP_TOKEN", TOKEN)]);
    let report = common::python_report("python_http.py", &[&server.url, TOKEN]);
    assert_eq!(
        report["tools"], 14,
        "the default toolsets: chat, support, files"
    );
    assert_eq!(
        (
            report["none_token"].as_u64(),
            report["wrong_token"].as_u64()
        ),
        (Some(401), Some(401))
    );
}

#[test]
fn a_stateless_request_answers_without_a_session_and_health_is_open() {
    let server = http_server(&["--demo"], &[("WHOP_MCP_HTTP_TOKEN", TOKEN)]);
    let auth = format!("Bearer {TOKEN}");
    let (status, body, headers) = post(&server.url, &initialize(), &[("authorization", &auth)]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"serverInfo\"") && body.contains("whop-chat-mcp"),
        "{body}"
    );
    assert!(
        headers.get("mcp-session-id").is_none(),
        "stateless: no session id"
    );
    // A tool call needs no earlier initialize on this "connection".
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_channels", "arguments": {}}});
    let (status, body, _) = post(
        &server.url,
        &call,
        &[
            ("authorization", &auth),
            ("mcp-protocol-version", "2025-11-25"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("#General"), "{body}");
    let health = server.url.replace("/mcp", "/healthz");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = rt.block_on(async { reqwest::get(&health).await.unwrap().text().await.unwrap() });
    assert_eq!(text, "ok\n");
}

#[test]
fn foreign_origins_and_hosts_are_refused_and_cors_is_off_unless_configured() {
    let server = http_server(
        &["--demo", "--allowed-origin", "https://app.example.com"],
        &[],
    );
    let (status, _, _) = post(
        &server.url,
        &initialize(),
        &[("origin", "http://evil.example")],
    );
    assert_eq!(status, 403, "foreign Origin");
    let (status, _, _) = post(&server.url, &initialize(), &[("host", "evil.example")]);
    assert_eq!(status, 403, "foreign Host (DNS rebinding)");
    let (status, _, headers) = post(&server.url, &initialize(), &[]);
    assert_eq!(status, 200);
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "no CORS for non-browser clients"
    );
    let (status, _, headers) = post(
        &server.url,
        &initialize(),
        &[("origin", "https://app.example.com")],
    );
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    // Preflight: allowed for the configured origin only.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let preflight = |origin: &'static str| {
        let url = server.url.clone();
        rt.block_on(async move {
            let r = reqwest::Client::new()
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("access-control-allow-methods").cloned(),
            )
        })
    };
    let (status, methods) = preflight("https://app.example.com");
    assert_eq!(status, 204);
    assert!(methods.unwrap().to_str().unwrap().contains("POST"));
    assert_eq!(preflight("http://evil.example").0, 403);
}

#[test]
fn oversized_bodies_are_refused() {
    let server = http_server(&["--demo"], &[]);
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(5 * 1024 * 1024)}});
    let (status, _, _) = post(&server.url, &big, &[]);
    assert_eq!(status, 413);
}

#[tokio::test]
async fn the_clients_token_is_never_sent_to_whop() {
    let sb = common::sandbox().await;
    let server = http_server(
        &[],
        &[
            ("WHOP_MCP_HTTP_TOKEN", TOKEN),
            ("WHOP_BASE_URL", &sb.base_url()),
            ("WHOP_API_KEY", sb.api_key()),
        ],
    );
    let auth = format!("Bearer {TOKEN}");
    let url = server.url.clone();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_channel", "arguments": {"channel_id": sb.channel_id("General")}}});
    let (status, body, _) = tokio::task::spawn_blocking(move || {
        post(
            &url,
            &call,
            &[
                ("authorization", &auth),
                ("mcp-protocol-version", "2025-11-25"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let seen = sb.requests();
    assert!(!seen.is_empty());
    for r in seen {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {}", sb.api_key()).as_str())
        );
        assert!(
            !format!("{r:?}").contains(TOKEN),
            "the MCP token reached Whop"
        );
    }
}

#[test]
fn listening_beyond_loopback_needs_a_token() {
    let stderr = common::refused_at_start(common::bare().args(["--demo", "--http", "0.0.0.0:0"]));
    assert!(
        stderr.contains("WHOP_MCP_HTTP_TOKEN") && stderr.contains("refusing"),
        "{stderr}"
    );
    // A weak token is refused.
    common::refused_at_start(
        common::bare()
            .args(["--demo", "--http", "127.0.0.1:0"])
            .env("WHOP_MCP_HTTP_TOKEN", "short"),
    );
}

#[test]
fn sigterm_stops_the_http_server_cleanly() {
    let mut server = http_server(&["--demo"], &[]);
    std::thread::sleep(Duration::from_millis(200));
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
