//! The API key never leaves the process except in the `Authorization` header: not on stdout
//! (the protocol), not on stderr (logs, even at `RUST_LOG=trace`), not base64-encoded, not in
//! `Debug` output, and not when Whop itself echoes it back.

use crate::common::{self, Captured, call, command, connect_captured, err, ok, random_key, send};
use base64::Engine as _;
use serde_json::json;
use whop_chat_mcp::{
    config::{Config, ServeArgs},
    sandbox::{Fault, FaultAction, UploadOutcome},
    whop,
};

/// Every way `secret` could show up: as is, and base64-encoded (standard and URL-safe) at any
/// byte alignment, e.g. inside `base64("Bearer " + key)` or `base64("user:" + key)`. For an
/// encoding the characters that also depend on neighbouring bytes are left out.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ] {
        for shift in 0..3 {
            let mut bytes = vec![b'@'; shift];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = if shift == 0 { 0 } else { 4 };
            out.push(encoded[start..encoded.len() - 4].to_owned());
        }
    }
    out
}

/// The first form of any secret found in `haystack`.
fn leak(haystack: &[u8], secrets: &[&str]) -> Option<String> {
    let text = String::from_utf8_lossy(haystack);
    secrets
        .iter()
        .flat_map(|s| forms(s))
        .find(|form| text.contains(form.as_str()))
}

#[test]
fn the_leak_detector_finds_plain_and_base64_keys() {
    let key = random_key();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for haystack in [
        format!("log line {key} end"),
        format!("auth={}", b64(&format!("Bearer {key}"))),
        format!("basic {}", b64(&format!("user:{key}"))),
        format!("x {}", b64(&format!("ab{key}"))),
        base64::engine::general_purpose::URL_SAFE.encode(format!("?{key}")),
    ] {
        assert!(leak(haystack.as_bytes(), &[&key]).is_some(), "{haystack}");
    }
    let other = random_key();
    assert_eq!(
        leak(format!("{other} {}", b64(&other)).as_bytes(), &[&key]),
        None
    );
}

async fn check_session(name: &str, session: Captured, secrets: &[&str]) -> (String, String) {
    let (stdout, stderr) = session.finish().await;
    if let Some(form) = leak(&stdout, secrets) {
        panic!("{name}: a key appears on stdout as {form:?}");
    }
    if let Some(form) = leak(&stderr, secrets) {
        panic!("{name}: a key appears on stderr as {form:?}");
    }
    (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[tokio::test]
async fn no_key_appears_in_any_output_even_at_trace_level() {
    let sb = common::sandbox().await;
    let key = sb.api_key().to_owned();
    let wrong = random_key();
    let readonly = random_key();
    sb.add_account_key(&readonly, &["chat:read"]);
    let secrets = [key.as_str(), wrong.as_str(), readonly.as_str()];
    let tmp = common::tempdir();
    let root = tmp.path();
    std::fs::write(root.join("report.txt"), "quarterly numbers").unwrap();
    let root_s = root.to_str().unwrap();
    let feed = sb.channel_id("General");

    // The right key: every tool, successes and failures.
    let main = connect_captured(command(
        &sb,
        &[("RUST_LOG", "trace"), ("WHOP_UPLOAD_ROOTS", root_s)],
    ))
    .await;
    let c = &main.client;
    ok(&call(c, "list_channels", json!({})).await);
    ok(&call(c, "get_channel", json!({"channel_id": feed})).await);
    ok(&call(c, "list_messages", json!({"channel_id": feed, "limit": 5})).await);
    ok(&call(c, "list_support_channels", json!({"open": true})).await);
    let (_, file) = ok(&call(c, "upload_file", json!({"path": "report.txt"})).await);
    ok(&call(
        c,
        "upload_file",
        json!({"content_base64": "aGVsbG8=", "filename": "hi.txt"}),
    )
    .await);
    ok(&call(
        c,
        "send_message",
        json!({"channel_id": feed, "content": "see attached", "attachment_ids": [file["id"]]}),
    )
    .await);
    // 404 and 400.
    err(&call(
        c,
        "get_channel",
        json!({"channel_id": "feed_NoSuchChannel1"}),
    )
    .await);
    err(&call(
        c,
        "send_message",
        json!({"channel_id": feed, "content": "x", "replying_to_message_id": "msg_elsewhere0001"}),
    )
    .await);
    // 5xx after retries, a dropped connection, a malformed body, a failed PUT and a failed
    // processing.
    sb.add_fault(Fault::on(
        "GET",
        "/chat_channels/*",
        FaultAction::Status {
            status: 503,
            headers: vec![("retry-after-ms".into(), "10".into())],
            body: "upstream down".into(),
        },
    ));
    err(&call(c, "get_channel", json!({"channel_id": feed})).await);
    sb.clear_faults();
    sb.add_fault(Fault::on("GET", "/messages", FaultAction::DropBeforeProcessing).times(1));
    ok(&call(c, "list_messages", json!({"channel_id": feed})).await);
    sb.add_fault(Fault::on("GET", "/messages", FaultAction::MalformedBody).times(1));
    err(&call(c, "list_messages", json!({"channel_id": feed})).await);
    sb.add_fault(Fault::on("PUT", "/_uploads/*", FaultAction::status(503)).times(1));
    ok(&call(c, "upload_file", json!({"path": "report.txt"})).await);
    sb.set_upload_outcome(UploadOutcome::Fail);
    err(&call(c, "upload_file", json!({"path": "report.txt"})).await);
    sb.set_upload_outcome(UploadOutcome::ReadyAfterMs(50));
    // Whop echoing the key back in an error: the result is scrubbed.
    sb.add_fault(
        Fault::on(
            "GET",
            &format!("/chat_channels/{feed}"),
            FaultAction::Status {
                status: 400,
                headers: vec![],
                body: format!(
                    r#"{{"error":{{"type":"invalid_request_error","message":"key {key} is not allowed here"}}}}"#
                ),
            },
        )
        .times(1),
    );
    let echoed = err(&call(c, "get_channel", json!({"channel_id": feed})).await);
    assert!(
        echoed.contains("HTTP 400") && echoed.contains("[redacted]"),
        "{echoed}"
    );
    // Protocol-level failures.
    assert!(
        c.call_tool(rmcp::model::CallToolRequestParams::new("no_such_tool"))
            .await
            .is_err()
    );
    let (stdout, stderr) = check_session("right key", main, &secrets).await;
    // The checks above saw real traffic and real logs, so an absent key means something.
    assert!(stdout.contains("HTTP 503") && stdout.contains("could not process file"));
    assert!(
        stderr.contains("TRACE") && stderr.contains("retrying whop request"),
        "RUST_LOG=trace took effect: {}",
        &stderr[..stderr.len().min(2000)]
    );
    // The presigned upload URLs' signatures are credentials too.
    let signatures: Vec<String> = sb
        .requests()
        .iter()
        .filter_map(|r| r.query_param("X-Sandbox-Signature").map(str::to_owned))
        .collect();
    assert!(!signatures.is_empty(), "uploads were signed");
    for sig in &signatures {
        assert!(
            !stdout.contains(sig.as_str()) && !stderr.contains(sig.as_str()),
            "an upload signature leaked"
        );
    }
    let authorised = sb
        .requests()
        .iter()
        .filter(|r| r.header("authorization") == Some(format!("Bearer {key}").as_str()))
        .count();
    assert!(authorised > 10, "the key was in use: {authorised} requests");

    // A wrong key: 401.
    let mut cmd = command(&sb, &[("RUST_LOG", "trace")]);
    cmd.env("WHOP_API_KEY", &wrong);
    let bad = connect_captured(cmd).await;
    let e = err(&call(&bad.client, "list_messages", json!({"channel_id": feed})).await);
    assert!(e.contains("HTTP 401"), "{e}");
    err(&call(&bad.client, "list_channels", json!({})).await);
    let (stdout, _) = check_session("wrong key", bad, &secrets).await;
    assert!(stdout.contains("HTTP 401"));

    // A key without the permission: 403. Given with a "Bearer " prefix, which is accepted.
    let mut cmd = command(&sb, &[("RUST_LOG", "trace")]);
    cmd.env("WHOP_API_KEY", format!("Bearer {readonly}"));
    let ro = connect_captured(cmd).await;
    let e = err(&send(&ro.client, &feed, "hi").await);
    assert!(e.contains("HTTP 403"), "{e}");
    ok(&call(&ro.client, "list_messages", json!({"channel_id": feed})).await);
    let (stdout, _) = check_session("read-only key", ro, &secrets).await;
    assert!(stdout.contains("HTTP 403"));
}

#[tokio::test]
async fn debug_output_of_config_client_and_errors_never_shows_the_key() {
    let sb = common::sandbox().await;
    let key = random_key();
    let config = Config::from_sources(&ServeArgs::default(), |name| match name {
        "WHOP_API_KEY" => Some(format!("Bearer {key}")),
        "WHOP_BASE_URL" => Some(sb.base_url()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        config.whop.api_key.expose(),
        key.as_str(),
        "the key is in the config"
    );
    let options = config.whop.clone();
    let client = whop::Client::new(options.clone()).unwrap();
    // Whop rejects this key: the error, too, must not carry it.
    let error = client.me().await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    for (what, shown) in [
        ("Config", format!("{config:?} {config:#?}")),
        ("ClientOptions", format!("{options:?} {options:#?}")),
        ("Client", format!("{client:?} {client:#?}")),
        ("Secret", format!("{:?}", options.api_key)),
        ("Error", format!("{error:?} {error:#?} {error}")),
    ] {
        assert_eq!(leak(shown.as_bytes(), &[&key]), None, "{what}: {shown}");
    }
}

/// The longest piece of `secret` (at least `min` characters) found in `haystack`.
fn longest_piece(haystack: &str, secret: &str, min: usize) -> Option<String> {
    (min..=secret.len())
        .rev()
        .flat_map(|len| (0..=secret.len() - len).map(move |start| &secret[start..start + len]))
        .find(|piece| haystack.contains(piece))
        .map(str::to_owned)
}

#[tokio::test]
async fn a_key_posted_in_chat_is_redacted_from_what_the_model_reads() {
    let sb = common::sandbox().await;
    let key = sb.api_key().to_owned();
    let feed = sb.channel_id("General");
    sb.post_as(
        "olga",
        &feed,
        &format!("oops, our key: {key} please rotate"),
    );
    let session = connect_captured(command(&sb, &[])).await;
    let (text, s) = ok(&call(
        &session.client,
        "list_messages",
        json!({"channel_id": feed, "limit": 3}),
    )
    .await);
    assert!(
        text.contains("oops, our key: [redacted] please rotate"),
        "{text}"
    );
    assert!(!s.to_string().contains(&key));
    check_session("key in chat", session, &[&key]).await;
}

#[tokio::test]
async fn a_key_cut_by_the_list_limit_does_not_show_in_part() {
    let sb = common::sandbox().await;
    let key = sb.api_key().to_owned();
    let feed = sb.channel_id("General");
    // The list shows the first 1,000 characters of a message: put the key across that cut.
    let padding = "y".repeat(1000 - key.len() / 2);
    sb.post_as("olga", &feed, &format!("{padding}{key} end"));
    let session = connect_captured(command(&sb, &[])).await;
    let (text, s) = ok(&call(
        &session.client,
        "list_messages",
        json!({"channel_id": feed, "limit": 1}),
    )
    .await);
    assert!(
        !s.to_string().contains(&key),
        "structuredContent is redacted"
    );
    let (stdout, _) = session.finish().await;
    let stdout = String::from_utf8_lossy(&stdout);
    assert_eq!(
        longest_piece(&text, &key, 12),
        None,
        "part of the key is in the text the model reads"
    );
    assert_eq!(
        longest_piece(&stdout, &key, 12),
        None,
        "part of the key is on stdout"
    );
}
