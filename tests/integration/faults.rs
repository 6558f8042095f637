//! Fault injection: the sandbox makes a route fail the way a real network or API can, and
//! each test counts the requests the sandbox saw and the messages that exist afterwards.
//!
//! Where timing matters the in-process `whop::Client` runs with a short retry policy
//! ([`common::fast_policy`]: 4 attempts, 20 ms first backoff, 300 ms per attempt); where the
//! tool's text matters the binary is driven over stdio with the default policy (or, when the
//! default backoff would make the test slow, the same server in-process with the short policy).

use std::time::{Duration, Instant};

use crate::common::{self, call, command, connect, err, fast_policy, ok, whop_client};
use serde_json::{Value, json};
use whop_chat_mcp::{
    sandbox::{Fault, FaultAction, LoggedRequest, Sandbox, UploadOutcome},
    whop::{CreateMessage, CreateSupportChannel, Error, ListMessages, UpdateMessage, UploadSource},
};

fn retry_after_ms(status: u16, ms: u32) -> FaultAction {
    FaultAction::Status {
        status,
        headers: vec![("retry-after-ms".into(), ms.to_string())],
        body: format!(
            r#"{{"error":{{"type":"sandbox_fault","message":"injected HTTP {status}"}}}}"#
        ),
    }
}

fn idempotency_keys(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            r.header("idempotency-key")
                .unwrap_or_else(|| panic!("{} {} has no Idempotency-Key", r.method, r.path))
                .to_owned()
        })
        .collect()
}

fn unique(prefix: &str) -> String {
    format!("{prefix} {}", uuid::Uuid::new_v4().simple())
}

/// The PUTs to the presigned upload URLs.
fn upload_puts(sb: &Sandbox) -> Vec<LoggedRequest> {
    sb.requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/_uploads/"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reads (GET): retried on transient failures

#[tokio::test]
async fn a_read_is_retried_after_the_connection_dropped_before_processing() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    sb.add_fault(Fault::on("GET", &path, FaultAction::DropBeforeProcessing).times(2));
    let channel = c
        .get_chat_channel(&feed)
        .await
        .expect("the third attempt succeeds");
    assert_eq!(channel.id, feed);
    assert_eq!(
        sb.requests_to("GET", &path).len(),
        3,
        "2 dropped + 1 answered"
    );
}

#[tokio::test]
async fn a_read_that_outlasts_the_attempt_timeout_is_retried_without_waiting_it_out() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    sb.add_fault(Fault::on("GET", &path, FaultAction::Delay(Duration::from_secs(3))).times(1));
    let started = Instant::now();
    c.get_chat_channel(&feed)
        .await
        .expect("the second attempt succeeds");
    let took = started.elapsed();
    assert_eq!(sb.requests_to("GET", &path).len(), 2);
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "the first attempt is abandoned after the 300 ms attempt timeout, not after the 3 s delay: {took:?}"
    );
}

#[tokio::test]
async fn reads_are_retried_on_408_409_429_and_5xx_until_they_succeed() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    for status in [408, 409, 429, 500, 502, 503, 504] {
        sb.clear_requests();
        sb.add_fault(Fault::on("GET", &path, FaultAction::status(status)).times(2));
        let channel = c
            .get_chat_channel(&feed)
            .await
            .unwrap_or_else(|e| panic!("HTTP {status} twice, then success: {e}"));
        assert_eq!(channel.id, feed);
        assert_eq!(sb.requests_to("GET", &path).len(), 3, "HTTP {status}");
    }
}

#[tokio::test]
async fn reads_are_not_retried_on_errors_a_retry_cannot_fix() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    for status in [400, 401, 403, 404, 422] {
        sb.clear_requests();
        sb.add_fault(Fault::on("GET", &path, FaultAction::status(status)).times(1));
        let e = c.get_chat_channel(&feed).await.unwrap_err();
        assert_eq!(e.status(), Some(status));
        assert_eq!(sb.requests_to("GET", &path).len(), 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let sb = common::sandbox().await;
    // Backoff alone would wait at most 20 ms: a longer wait can only come from the header.
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    sb.add_fault(Fault::on("GET", &path, FaultAction::rate_limited(1.0)).times(1));
    let started = Instant::now();
    c.get_chat_channel(&feed)
        .await
        .expect("succeeds after the wait");
    let took = started.elapsed();
    assert_eq!(sb.requests_to("GET", &path).len(), 2);
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
        "Retry-After: 1 is honoured: {took:?}"
    );
}

#[tokio::test]
async fn retry_after_ms_is_honoured() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    sb.add_fault(Fault::on("GET", &path, retry_after_ms(503, 400)).times(1));
    let started = Instant::now();
    c.get_chat_channel(&feed)
        .await
        .expect("succeeds after the wait");
    let took = started.elapsed();
    assert_eq!(sb.requests_to("GET", &path).len(), 2);
    assert!(
        took >= Duration::from_millis(390) && took < Duration::from_millis(1500),
        "retry-after-ms: 400 is honoured: {took:?}"
    );
}

#[tokio::test]
async fn a_read_that_keeps_failing_gives_up_after_the_last_attempt() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    sb.add_fault(Fault::on("GET", &path, FaultAction::status(502)));
    match c.get_chat_channel(&feed).await.unwrap_err() {
        Error::Api {
            status, attempts, ..
        } => assert_eq!((status, attempts), (502, 4)),
        other => panic!("{other:?}"),
    }
    assert_eq!(sb.requests_to("GET", &path).len(), 4, "max_attempts = 4");
}

#[tokio::test]
async fn a_read_that_keeps_failing_says_what_happened_and_when_to_retry() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let args = json!({"channel_id": feed, "limit": 5});

    // 5xx: unavailable, after the default policy's 5 attempts.
    sb.add_fault(Fault::on("GET", "/messages", retry_after_ms(503, 30)));
    let e = err(&call(&client, "list_messages", args.clone()).await);
    assert!(
        e.contains("temporarily unavailable")
            && e.contains("HTTP 503; 5 attempts")
            && e.contains("Retry after 1 s"),
        "{e}"
    );
    assert!(
        !e.contains("did not confirm"),
        "a read changes nothing, so it has no unknown outcome: {e}"
    );
    assert_eq!(sb.requests_to("GET", "/messages").len(), 5);

    // 429: rate limited.
    sb.clear_faults();
    sb.clear_requests();
    sb.add_fault(Fault::on(
        "GET",
        "/messages",
        FaultAction::rate_limited(0.03),
    ));
    let e = err(&call(&client, "list_messages", args.clone()).await);
    assert!(
        e.contains("rate limiting")
            && e.contains("HTTP 429; 5 attempts")
            && e.contains("Retry after 1 s"),
        "{e}"
    );
    assert_eq!(sb.requests_to("GET", "/messages").len(), 5);

    // The faults gone, the same call works.
    sb.clear_faults();
    let (_, s) = ok(&call(&client, "list_messages", args).await);
    assert_eq!(s["messages"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_read_whose_connections_keep_dropping_says_whop_could_not_be_reached() {
    let sb = common::sandbox().await;
    let client = common::in_process(&sb, fast_policy(), Vec::new()).await;
    let feed = sb.channel_id("General");
    sb.add_fault(Fault::on(
        "GET",
        "/messages",
        FaultAction::DropBeforeProcessing,
    ));
    let e = err(&call(&client, "list_messages", json!({"channel_id": feed})).await);
    assert!(
        e.contains("Could not get an answer from Whop")
            && e.contains("(4 attempts)")
            && e.contains("retry in a few seconds"),
        "{e}"
    );
    assert_eq!(sb.requests_to("GET", "/messages").len(), 4);
}

#[tokio::test]
async fn a_read_that_keeps_timing_out_ends_within_15_seconds_with_the_default_policy() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    sb.add_fault(Fault::on(
        "GET",
        "/messages",
        FaultAction::Delay(Duration::from_secs(60)),
    ));
    let started = Instant::now();
    let e = err(&call(&client, "list_messages", json!({"channel_id": feed})).await);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(16),
        "the call deadline is 15 s: {took:?}"
    );
    assert!(
        took >= Duration::from_secs(10),
        "the first attempt may take its full 10 s: {took:?}"
    );
    assert!(
        e.contains("timed out") && e.contains("retry in a few seconds"),
        "{e}"
    );
    assert_eq!(
        sb.requests_to("GET", "/messages").len(),
        2,
        "a 10 s attempt, then a second one cut short by the deadline"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_not_waited_for() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    sb.add_fault(Fault::on(
        "GET",
        "/messages",
        FaultAction::rate_limited(30.0),
    ));
    let started = Instant::now();
    let e = err(&call(&client, "list_messages", json!({"channel_id": feed})).await);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "a 30 s Retry-After is over the 10 s cap: fail at once ({took:?})"
    );
    assert!(
        e.contains("Retry after 30 s") && e.contains("HTTP 429; 1 attempt)"),
        "{e}"
    );
    assert_eq!(sb.requests_to("GET", "/messages").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Writes (POST): one Idempotency-Key per logical call, reused on every retry

#[tokio::test]
async fn every_post_carries_a_fresh_idempotency_key() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let m = c
        .create_message(&CreateMessage {
            channel_id: feed.clone(),
            content: unique("keyed"),
            ..Default::default()
        })
        .await
        .unwrap();
    c.create_reaction(&m.id, Some(":fire:"), None)
        .await
        .unwrap();
    c.create_support_channel(&CreateSupportChannel {
        company_id: sb.company_id(),
        user: "marcusl".into(),
        custom_name: None,
    })
    .await
    .unwrap();
    c.create_file("notes.txt", "public").await.unwrap();
    let posts: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let paths: Vec<_> = posts.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/messages",
            "/api/v1/reactions",
            "/api/v1/support_channels",
            "/api/v1/files"
        ]
    );
    let keys = idempotency_keys(&posts);
    for k in &keys {
        assert!(uuid::Uuid::parse_str(k).is_ok(), "{k}");
    }
    let distinct: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "one key per logical call: {keys:?}"
    );
}

#[tokio::test]
async fn a_send_whose_response_was_lost_lands_exactly_once() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("answer lost");
    sb.add_fault(Fault::on("POST", "/messages", FaultAction::DropAfterCommit).times(1));
    let (text, s) = ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": content}),
    )
    .await);
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2, "the lost answer is retried once");
    let keys = idempotency_keys(&posts);
    assert_eq!(keys[0], keys[1], "the retry reuses the key");
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
    assert_eq!(sb.message_count(&feed), before + 1);
    // The answer the tool got is the message the first attempt created.
    let id = s["id"].as_str().unwrap();
    assert_eq!(sb.newest_message_id(&feed).as_deref(), Some(id));
    assert!(text.starts_with(&format!("Posted {id}")), "{text}");

    // The sandbox answered the retry by replaying: the same key once more gives the same
    // message, marked as a replay, and creates nothing.
    let replay = reqwest::Client::new()
        .post(format!("{}/messages", sb.base_url()))
        .bearer_auth(sb.api_key())
        .header("Idempotency-Key", &keys[0])
        .header("Content-Type", "application/json")
        .body(posts[0].body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let body: Value = serde_json::from_slice(&replay.bytes().await.unwrap()).unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
}

#[tokio::test]
async fn a_send_that_met_a_503_is_retried_and_lands_once() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("after a 503");
    sb.add_fault(Fault::on("POST", "/messages", FaultAction::status(503)).times(1));
    ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": content}),
    )
    .await);
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    let keys = idempotency_keys(&posts);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
    assert_eq!(sb.message_count(&feed), before + 1);
}

#[tokio::test]
async fn a_send_whose_connection_dropped_before_processing_lands_once() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("connection dropped");
    sb.add_fault(Fault::on("POST", "/messages", FaultAction::DropBeforeProcessing).times(1));
    ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": content}),
    )
    .await);
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    let keys = idempotency_keys(&posts);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
    assert_eq!(sb.message_count(&feed), before + 1);
}

#[tokio::test]
async fn a_send_that_outlasted_the_attempt_timeout_lands_exactly_once() {
    let sb = common::sandbox().await;
    // Whop is slow once: the first attempt is abandoned after 300 ms while Whop still holds
    // it (and may yet process it); the retry carries the same key.
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let content = unique("slow whop");
    sb.add_fault(
        Fault::on(
            "POST",
            "/messages",
            FaultAction::Delay(Duration::from_secs(1)),
        )
        .times(1),
    );
    let m = c
        .create_message(&CreateMessage {
            channel_id: feed.clone(),
            content: content.clone(),
            ..Default::default()
        })
        .await
        .expect("the retry succeeds");
    // Let the abandoned first attempt finish inside the sandbox.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    let keys = idempotency_keys(&posts);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
    assert_eq!(sb.newest_message_id(&feed), Some(m.id));
}

#[tokio::test]
async fn two_deliberate_sends_of_the_same_text_post_twice() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("said twice");
    let args = json!({"channel_id": feed, "content": content});
    let (_, first) = ok(&call(&client, "send_message", args.clone()).await);
    let (_, second) = ok(&call(&client, "send_message", args).await);
    assert_ne!(first["id"], second["id"]);
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    let keys = idempotency_keys(&posts);
    assert_ne!(keys[0], keys[1], "each call has its own key");
    assert_eq!(sb.messages_with_content(&feed, &content), 2);
    assert_eq!(sb.message_count(&feed), before + 2);
}

#[tokio::test]
async fn a_send_that_keeps_failing_says_the_outcome_is_unknown_and_posted_nothing() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("never lands");
    sb.add_fault(Fault::on("POST", "/messages", retry_after_ms(503, 30)));
    let e = err(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": content}),
    )
    .await);
    assert!(
        e.contains("HTTP 503; 5 attempts") && e.contains("Whop did not confirm the change"),
        "{e}"
    );
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 5);
    let keys: std::collections::HashSet<_> = idempotency_keys(&posts).into_iter().collect();
    assert_eq!(keys.len(), 1, "all five attempts share one key");
    assert_eq!(sb.messages_with_content(&feed, &content), 0);
    assert_eq!(sb.message_count(&feed), before);
}

#[tokio::test]
async fn a_send_whose_answers_are_always_lost_posts_once_and_says_the_outcome_is_unknown() {
    let sb = common::sandbox().await;
    let client = common::in_process(&sb, fast_policy(), Vec::new()).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("never answered");
    sb.add_fault(Fault::on("POST", "/messages", FaultAction::DropAfterCommit));
    let e = err(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": content}),
    )
    .await);
    assert!(
        e.contains("Could not get an answer from Whop")
            && e.contains("(4 attempts)")
            && e.contains("Whop did not confirm the change")
            && e.contains("list_messages"),
        "{e}"
    );
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 4);
    let keys: std::collections::HashSet<_> = idempotency_keys(&posts).into_iter().collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        sb.messages_with_content(&feed, &content),
        1,
        "posted exactly once"
    );
    assert_eq!(sb.message_count(&feed), before + 1);
}

#[tokio::test]
async fn a_send_whose_answer_was_cut_off_is_retried_and_lands_once() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let content = unique("cut off");
    sb.add_fault(Fault::on("POST", "/messages", FaultAction::TruncatedBody).times(1));
    let m = c
        .create_message(&CreateMessage {
            channel_id: feed.clone(),
            content: content.clone(),
            ..Default::default()
        })
        .await
        .expect("the retry gets the replayed answer");
    assert_eq!(m.content.as_deref(), Some(content.as_str()));
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    let keys = idempotency_keys(&posts);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
}

#[tokio::test]
async fn a_send_whose_answer_was_malformed_tells_the_model_to_check_before_retrying() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let content = unique("garbled answer");
    sb.add_fault(Fault::on("POST", "/messages", FaultAction::MalformedBody).times(1));
    let e = err(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": content}),
    )
    .await);
    assert!(
        e.contains("could not be read") && e.contains("Whop did not confirm the change"),
        "{e}"
    );
    assert_eq!(sb.requests_to("POST", "/messages").len(), 1);
    assert_eq!(
        sb.messages_with_content(&feed, &content),
        1,
        "the message was created although its answer was unreadable"
    );
}

// ---------------------------------------------------------------------------------------------
// PATCH and DELETE: idempotent by nature, retried

async fn own_message(sb: &Sandbox, c: &whop_chat_mcp::whop::Client) -> String {
    c.create_message(&CreateMessage {
        channel_id: sb.channel_id("General"),
        content: unique("draft"),
        ..Default::default()
    })
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn an_edit_that_met_a_503_is_retried_and_applied() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let id = own_message(&sb, &c).await;
    let path = format!("/messages/{id}");
    sb.add_fault(Fault::on("PATCH", &path, FaultAction::status(503)).times(1));
    let edited = c
        .update_message(
            &id,
            &UpdateMessage {
                content: Some("final".into()),
                is_pinned: None,
            },
        )
        .await
        .expect("the retry succeeds");
    assert_eq!(edited.content.as_deref(), Some("final"));
    assert_eq!(sb.requests_to("PATCH", &path).len(), 2);
    assert_eq!(
        sb.messages_with_content(&sb.channel_id("General"), "final"),
        1
    );
}

#[tokio::test]
async fn an_edit_whose_response_was_lost_is_retried_and_applied_once() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let id = own_message(&sb, &c).await;
    let path = format!("/messages/{id}");
    sb.add_fault(Fault::on("PATCH", &path, FaultAction::DropAfterCommit).times(1));
    let edited = c
        .update_message(
            &id,
            &UpdateMessage {
                content: Some("edited once".into()),
                is_pinned: None,
            },
        )
        .await
        .expect("the retry succeeds");
    assert_eq!(edited.content.as_deref(), Some("edited once"));
    assert_eq!(sb.requests_to("PATCH", &path).len(), 2);
    assert_eq!(
        sb.messages_with_content(&sb.channel_id("General"), "edited once"),
        1
    );
}

#[tokio::test]
async fn a_delete_that_met_a_503_is_retried_and_applied() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let id = own_message(&sb, &c).await;
    let before = sb.message_count(&feed);
    let path = format!("/messages/{id}");
    sb.add_fault(Fault::on("DELETE", &path, FaultAction::status(503)).times(1));
    assert!(c.delete_message(&id).await.expect("the retry succeeds"));
    assert_eq!(sb.requests_to("DELETE", &path).len(), 2);
    assert_eq!(sb.message_count(&feed), before - 1);
    assert_eq!(c.get_message(&id).await.unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn a_delete_whose_response_was_lost_is_reported_as_done() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let id = own_message(&sb, &c).await;
    let before = sb.message_count(&feed);
    let path = format!("/messages/{id}");
    sb.add_fault(Fault::on("DELETE", &path, FaultAction::DropAfterCommit).times(1));
    let outcome = c.delete_message(&id).await;
    assert_eq!(sb.requests_to("DELETE", &path).len(), 2, "retried once");
    assert_eq!(sb.message_count(&feed), before - 1, "the message is gone");
    assert!(
        matches!(outcome, Ok(true)),
        "the caller is told the delete happened, got {outcome:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Broken answers

#[tokio::test]
async fn a_malformed_answer_is_a_tool_error_and_the_next_call_works() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let args = json!({"channel_id": feed, "limit": 3});
    sb.add_fault(Fault::on("GET", "/messages", FaultAction::MalformedBody).times(1));
    let e = err(&call(&client, "list_messages", args.clone()).await);
    assert!(
        e.contains("Whop sent an answer that could not be read") && e.contains("retry"),
        "{e}"
    );
    assert_eq!(sb.requests_to("GET", "/messages").len(), 1);
    let (_, s) = ok(&call(&client, "list_messages", args).await);
    assert_eq!(s["messages"].as_array().unwrap().len(), 3);
    assert_eq!(sb.requests_to("GET", "/messages").len(), 2);
}

#[tokio::test]
async fn a_truncated_answer_to_a_read_is_retried() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    sb.add_fault(Fault::on("GET", "/messages", FaultAction::TruncatedBody).times(1));
    let page = c
        .list_messages(&ListMessages {
            channel_id: feed.clone(),
            first: 10,
            after: None,
            newest_first: true,
        })
        .await
        .expect("the retry gets the whole answer");
    assert_eq!(page.data.len(), 10);
    assert_eq!(sb.requests_to("GET", "/messages").len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Uploads

#[tokio::test]
async fn an_upload_put_that_met_a_503_is_retried_and_the_bytes_arrive_intact() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    };
    sb.add_fault(Fault::on("PUT", "/_uploads/*", FaultAction::status(503)).times(1));
    let (_, s) = ok(&call(
        &client,
        "upload_file",
        json!({"content_base64": encoded, "filename": "data.bin"}),
    )
    .await);
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["status"], "ready");
    let puts = upload_puts(&sb);
    assert_eq!(puts.len(), 2, "the PUT is retried once");
    assert!(puts.iter().all(|p| p.path == format!("/_uploads/{id}")));
    assert!(puts.iter().all(|p| p.body.as_ref() == bytes.as_slice()));
    assert_eq!(sb.requests_to("POST", "/files").len(), 1, "one file object");
    assert_eq!(sb.file_bytes(id).unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn an_upload_whose_create_met_a_503_creates_one_file() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    sb.add_fault(Fault::on("POST", "/files", FaultAction::status(503)).times(1));
    let (_, s) = ok(&call(
        &client,
        "upload_file",
        json!({"content_base64": "aGVsbG8gd2hvcA==", "filename": "hello.txt"}),
    )
    .await);
    let creates = sb.requests_to("POST", "/files");
    assert_eq!(creates.len(), 2);
    let keys = idempotency_keys(&creates);
    assert_eq!(keys[0], keys[1]);
    let puts = upload_puts(&sb);
    assert_eq!(puts.len(), 1, "one file object, uploaded once");
    assert_eq!(
        puts[0].path,
        format!("/_uploads/{}", s["id"].as_str().unwrap())
    );
    assert_eq!(
        sb.file_bytes(s["id"].as_str().unwrap()).as_deref(),
        Some(&b"hello whop"[..])
    );
}

#[tokio::test]
async fn a_file_whose_processing_fails_is_a_clear_tool_error() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    sb.set_upload_outcome(UploadOutcome::Fail);
    let e = err(&call(
        &client,
        "upload_file",
        json!({"content_base64": "aGVsbG8gd2hvcA==", "filename": "hello.txt"}),
    )
    .await);
    let put = upload_puts(&sb).pop().expect("the bytes were sent");
    let file_id = put.path.trim_start_matches("/_uploads/");
    assert!(
        e.contains(&format!("could not process file {file_id}"))
            && e.contains("status failed")
            && e.contains("upload again"),
        "{e}"
    );
    assert_eq!(sb.requests_to("POST", "/files").len(), 1);
    assert_eq!(
        sb.requests_to("GET", &format!("/files/{file_id}")).len(),
        1,
        "polling stops at the first failed status"
    );
}

#[tokio::test]
async fn the_in_process_client_streams_an_upload_through_a_dropped_put() {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    sb.add_fault(Fault::on("PUT", "/_uploads/*", FaultAction::DropBeforeProcessing).times(1));
    let bytes: Vec<u8> = (0..64_000u32).map(|i| (i % 251) as u8).collect();
    let file = c
        .upload(
            UploadSource {
                filename: "chart.png".into(),
                bytes: bytes.clone().into(),
                visibility: "public".into(),
            },
            &|_| {},
        )
        .await
        .expect("the PUT is retried");
    assert_eq!(upload_puts(&sb).len(), 2);
    assert_eq!(sb.file_bytes(&file.id).unwrap().as_ref(), bytes.as_slice());
}
