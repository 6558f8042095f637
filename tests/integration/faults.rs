//! Fault injection: the sandbox makes a route fail the way a real network or API can, and
//! each test counts the requests the sandbox saw and the messages that exist afterwards.
//!
//! Where timing matters the in-process `whop::Client` runs with a short retry policy
//! ([`common::fast_policy`]: 4 attempts, 20 ms first backoff, 300 ms per attempt); where the
//! tool's text matters the binary is driven over stdio with the default policy (or, when the
//! default backoff would make the test slow, the same server in-process with the short policy).
//!
//! Tests that differ only in the fault and what follows from it are rows of a table
//! ([`common::cases`]): one body per kind of call, one case per behaviour.

use std::{
    collections::HashSet,
    ops::Range,
    time::{Duration, Instant},
};

use crate::common::{self, call, cases, command, connect, err, fast_policy, ok, send, whop_client};
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

/// `action` on `method path` for the first `times` requests, or for every one (`None`).
fn fault(method: &str, path: &str, action: FaultAction, times: Option<u32>) -> Fault {
    let fault = Fault::on(method, path, action);
    match times {
        Some(n) => fault.times(n),
        None => fault,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
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

/// Asserts that every request carries one and the same Idempotency-Key.
fn one_key(requests: &[LoggedRequest]) {
    let keys: HashSet<_> = idempotency_keys(requests).into_iter().collect();
    assert_eq!(keys.len(), 1, "every attempt reuses the key: {keys:?}");
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

/// How a tool call reaches the server.
#[derive(Clone, Copy)]
enum Via {
    /// The binary over stdio, with the default retry policy.
    Binary,
    /// The same server in this process with the short policy, where the default backoff
    /// would make the test slow.
    InProcess,
}

async fn session(sb: &Sandbox, via: Via) -> common::Client {
    match via {
        Via::Binary => connect(command(sb, &[])).await,
        Via::InProcess => common::in_process(sb, fast_policy(), Vec::new()).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Reads (GET): retried on transient failures

/// A channel read by the in-process client whose first attempts meet a fault.
struct ReadRecovers {
    fault: FaultAction,
    /// How many attempts meet it.
    times: u32,
    /// The requests the sandbox sees, the one that succeeds included.
    requests: usize,
    /// How long the whole read takes, where that is the point.
    took: Option<Range<Duration>>,
    /// Why `requests` and `took` are what they are.
    why: String,
}

async fn a_read_recovers(case: ReadRecovers) {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    let why = &case.why;
    sb.add_fault(fault("GET", &path, case.fault, Some(case.times)));
    let started = Instant::now();
    let channel = c
        .get_chat_channel(&feed)
        .await
        .unwrap_or_else(|e| panic!("{why}: {e}"));
    let took = started.elapsed();
    assert_eq!(channel.id, feed, "{why}");
    assert_eq!(sb.requests_to("GET", &path).len(), case.requests, "{why}");
    if let Some(range) = case.took {
        assert!(range.contains(&took), "{why}: {took:?}");
    }
}

cases!(
    a_read_recovers,
    a_read_is_retried_after_the_connection_dropped_before_processing(ReadRecovers {
        fault: FaultAction::DropBeforeProcessing,
        times: 2,
        requests: 3,
        took: None,
        why: "2 dropped + 1 answered".into(),
    }),
    a_read_that_outlasts_the_attempt_timeout_is_retried_without_waiting_it_out(ReadRecovers {
        fault: FaultAction::Delay(Duration::from_secs(3)),
        times: 1,
        requests: 2,
        took: Some(ms(290)..ms(1500)),
        why: "the first attempt is abandoned after the 300 ms attempt timeout, not after the 3 s \
              delay"
            .into(),
    }),
    // Backoff alone would wait at most 20 ms: a longer wait can only come from the header.
    a_429_waits_as_long_as_retry_after_says(ReadRecovers {
        fault: FaultAction::rate_limited(1.0),
        times: 1,
        requests: 2,
        took: Some(ms(950)..ms(2500)),
        why: "Retry-After: 1 is honoured".into(),
    }),
    retry_after_ms_is_honoured(ReadRecovers {
        fault: retry_after_ms(503, 400),
        times: 1,
        requests: 2,
        took: Some(ms(390)..ms(1500)),
        why: "retry-after-ms: 400 is honoured".into(),
    }),
);

#[tokio::test]
async fn reads_are_retried_on_408_409_429_and_5xx_until_they_succeed() {
    for status in [408, 409, 429, 500, 502, 503, 504] {
        a_read_recovers(ReadRecovers {
            fault: FaultAction::status(status),
            times: 2,
            requests: 3,
            took: None,
            why: format!("HTTP {status} twice, then success"),
        })
        .await;
    }
}

/// A channel read by the in-process client that fails for good: Whop's status, after as many
/// attempts as the sandbox saw requests.
struct ReadFails {
    fault: FaultAction,
    /// How many attempts meet it; `None`: every one.
    times: Option<u32>,
    status: u16,
    attempts: u32,
    why: String,
}

async fn a_read_fails(case: ReadFails) {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let path = format!("/chat_channels/{feed}");
    let why = &case.why;
    sb.add_fault(fault("GET", &path, case.fault, case.times));
    match c.get_chat_channel(&feed).await.unwrap_err() {
        Error::Api {
            status, attempts, ..
        } => assert_eq!((status, attempts), (case.status, case.attempts), "{why}"),
        other => panic!("{why}: {other:?}"),
    }
    assert_eq!(
        sb.requests_to("GET", &path).len(),
        case.attempts as usize,
        "{why}"
    );
}

#[tokio::test]
async fn reads_are_not_retried_on_errors_a_retry_cannot_fix() {
    for status in [400, 401, 403, 404, 422] {
        a_read_fails(ReadFails {
            fault: FaultAction::status(status),
            times: Some(1),
            status,
            attempts: 1,
            why: format!("HTTP {status}"),
        })
        .await;
    }
}

cases!(
    a_read_fails,
    a_read_that_keeps_failing_gives_up_after_the_last_attempt(ReadFails {
        fault: FaultAction::status(502),
        times: None,
        status: 502,
        attempts: 4,
        why: "max_attempts = 4".into(),
    }),
);

/// A `list_messages` call that meets a fault on every attempt (or the first `times`): a tool
/// error that says what happened and what to do, and no unknown outcome, since a read changes
/// nothing. With the fault gone, the same call works.
struct ReadRefused {
    via: Via,
    fault: FaultAction,
    times: Option<u32>,
    /// Fragments of the error text.
    says: &'static [&'static str],
    /// The requests the sandbox sees.
    requests: usize,
    /// How long the call takes, where that is the point.
    took: Option<Range<Duration>>,
    /// Why `requests` and `took` are what they are.
    why: &'static str,
}

async fn a_read_is_refused(case: ReadRefused) {
    let sb = common::sandbox().await;
    let client = session(&sb, case.via).await;
    let why = case.why;
    let args = json!({"channel_id": sb.channel_id("General"), "limit": 5});
    sb.add_fault(fault("GET", "/messages", case.fault, case.times));
    let started = Instant::now();
    let e = err(&call(&client, "list_messages", args.clone()).await);
    let took = started.elapsed();
    for fragment in case.says {
        assert!(e.contains(fragment), "{fragment:?} missing: {e}");
    }
    assert!(
        !e.contains("did not confirm"),
        "a read changes nothing, so it has no unknown outcome: {e}"
    );
    assert_eq!(
        sb.requests_to("GET", "/messages").len(),
        case.requests,
        "{why}"
    );
    if let Some(range) = case.took {
        assert!(range.contains(&took), "{why}: {took:?}");
    }

    sb.clear_faults();
    let (_, s) = ok(&call(&client, "list_messages", args).await);
    assert_eq!(s["messages"].as_array().unwrap().len(), 5);
    assert_eq!(sb.requests_to("GET", "/messages").len(), case.requests + 1);
}

#[tokio::test]
async fn a_read_that_keeps_failing_says_what_happened_and_when_to_retry() {
    // 5xx: unavailable.
    a_read_is_refused(ReadRefused {
        via: Via::Binary,
        fault: retry_after_ms(503, 30),
        times: None,
        says: &[
            "temporarily unavailable",
            "HTTP 503; 5 attempts",
            "Retry after 1 s",
        ],
        requests: 5,
        took: None,
        why: "the default policy's 5 attempts",
    })
    .await;
    // 429: rate limited.
    a_read_is_refused(ReadRefused {
        via: Via::Binary,
        fault: FaultAction::rate_limited(0.03),
        times: None,
        says: &["rate limiting", "HTTP 429; 5 attempts", "Retry after 1 s"],
        requests: 5,
        took: None,
        why: "the default policy's 5 attempts",
    })
    .await;
}

cases!(
    a_read_is_refused,
    a_read_whose_connections_keep_dropping_says_whop_could_not_be_reached(ReadRefused {
        via: Via::InProcess,
        fault: FaultAction::DropBeforeProcessing,
        times: None,
        says: &[
            "Could not get an answer from Whop",
            "(4 attempts)",
            "retry in a few seconds",
        ],
        requests: 4,
        took: None,
        why: "the short policy's 4 attempts",
    }),
    a_read_that_keeps_timing_out_ends_within_15_seconds_with_the_default_policy(ReadRefused {
        via: Via::Binary,
        fault: FaultAction::Delay(Duration::from_secs(60)),
        times: None,
        says: &["timed out", "retry in a few seconds"],
        requests: 2,
        took: Some(Duration::from_secs(10)..Duration::from_secs(16)),
        why: "a 10 s attempt, then a second one cut short by the 15 s call deadline",
    }),
    a_retry_after_beyond_the_cap_is_not_waited_for(ReadRefused {
        via: Via::Binary,
        fault: FaultAction::rate_limited(30.0),
        times: None,
        says: &["Retry after 30 s", "HTTP 429; 1 attempt)"],
        requests: 1,
        took: Some(Duration::ZERO..Duration::from_secs(2)),
        why: "a 30 s Retry-After is over the 10 s cap: fail at once",
    }),
    a_malformed_answer_is_a_tool_error_and_the_next_call_works(ReadRefused {
        via: Via::Binary,
        fault: FaultAction::MalformedBody,
        times: Some(1),
        says: &["Whop sent an answer that could not be read", "retry"],
        requests: 1,
        took: None,
        why: "an answer that came is not asked for again",
    }),
);

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
    let distinct: HashSet<_> = keys.iter().collect();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "one key per logical call: {keys:?}"
    );
}

/// A `send_message` call that meets a fault on POST /messages on every attempt (or the first
/// `times`). All attempts carry one Idempotency-Key, so the message exists at most once.
struct Send {
    via: Via,
    fault: FaultAction,
    times: Option<u32>,
    /// `None`: the tool reports the message posted; otherwise fragments of its error text.
    refused: Option<&'static [&'static str]>,
    /// The POSTs the sandbox sees.
    posts: usize,
    /// How many messages with the text exist afterwards.
    lands: usize,
}

/// What a [`Send`] left behind, for checks of its own.
struct Sent {
    sb: Sandbox,
    feed: String,
    content: String,
    posts: Vec<LoggedRequest>,
}

async fn a_send(case: Send) -> Sent {
    let sb = common::sandbox().await;
    let client = session(&sb, case.via).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("sent through a fault");
    sb.add_fault(fault("POST", "/messages", case.fault, case.times));
    let result = send(&client, &feed, &content).await;
    match case.refused {
        None => {
            let (text, s) = ok(&result);
            // The answer the tool got is the message the first attempt created.
            let id = s["id"].as_str().unwrap();
            assert_eq!(sb.newest_message_id(&feed).as_deref(), Some(id));
            assert!(text.starts_with(&format!("Posted {id}")), "{text}");
        }
        Some(says) => {
            let e = err(&result);
            for fragment in says {
                assert!(e.contains(fragment), "{fragment:?} missing: {e}");
            }
        }
    }
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), case.posts);
    one_key(&posts);
    assert_eq!(sb.messages_with_content(&feed, &content), case.lands);
    assert_eq!(sb.message_count(&feed), before + case.lands);
    Sent {
        sb,
        feed,
        content,
        posts,
    }
}

#[tokio::test]
async fn a_send_whose_response_was_lost_lands_exactly_once() {
    let Sent {
        sb,
        feed,
        content,
        posts,
    } = a_send(Send {
        via: Via::Binary,
        fault: FaultAction::DropAfterCommit,
        times: Some(1),
        refused: None,
        posts: 2,
        lands: 1,
    })
    .await;
    let id = sb.newest_message_id(&feed).unwrap();
    let key = idempotency_keys(&posts).remove(0);

    // The sandbox answered the retry by replaying: the same key once more gives the same
    // message, marked as a replay, and creates nothing.
    let replay = reqwest::Client::new()
        .post(format!("{}/messages", sb.base_url()))
        .bearer_auth(sb.api_key())
        .header("Idempotency-Key", &key)
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

cases!(
    a_send,
    a_send_that_met_a_503_is_retried_and_lands_once(Send {
        via: Via::Binary,
        fault: FaultAction::status(503),
        times: Some(1),
        refused: None,
        posts: 2,
        lands: 1,
    }),
    a_send_whose_connection_dropped_before_processing_lands_once(Send {
        via: Via::Binary,
        fault: FaultAction::DropBeforeProcessing,
        times: Some(1),
        refused: None,
        posts: 2,
        lands: 1,
    }),
    a_send_that_keeps_failing_says_the_outcome_is_unknown_and_posted_nothing(Send {
        via: Via::Binary,
        fault: retry_after_ms(503, 30),
        times: None,
        refused: Some(&["HTTP 503; 5 attempts", "Whop did not confirm the change"]),
        posts: 5,
        lands: 0,
    }),
    a_send_whose_answers_are_always_lost_posts_once_and_says_the_outcome_is_unknown(Send {
        via: Via::InProcess,
        fault: FaultAction::DropAfterCommit,
        times: None,
        refused: Some(&[
            "Could not get an answer from Whop",
            "(4 attempts)",
            "Whop did not confirm the change",
            "list_messages",
        ]),
        posts: 4,
        lands: 1,
    }),
    // The message was created although its answer was unreadable, and an answer that came is
    // not asked for again: the model is told to check.
    a_send_whose_answer_was_malformed_tells_the_model_to_check_before_retrying(Send {
        via: Via::Binary,
        fault: FaultAction::MalformedBody,
        times: Some(1),
        refused: Some(&["could not be read", "Whop did not confirm the change"]),
        posts: 1,
        lands: 1,
    }),
);

/// A message created by the in-process client whose first attempt meets a fault: the retry
/// succeeds with the same key and the message exists once. `settle` lets an abandoned first
/// attempt finish inside the sandbox before anything is counted.
struct CreateRetried {
    fault: FaultAction,
    settle: Duration,
}

async fn a_created_message_lands_once(case: CreateRetried) {
    let sb = common::sandbox().await;
    let c = whop_client(&sb, fast_policy());
    let feed = sb.channel_id("General");
    let content = unique("created through a fault");
    sb.add_fault(Fault::on("POST", "/messages", case.fault).times(1));
    let m = c
        .create_message(&CreateMessage {
            channel_id: feed.clone(),
            content: content.clone(),
            ..Default::default()
        })
        .await
        .expect("the retry succeeds");
    tokio::time::sleep(case.settle).await;
    assert_eq!(m.content.as_deref(), Some(content.as_str()));
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    one_key(&posts);
    assert_eq!(sb.messages_with_content(&feed, &content), 1);
    assert_eq!(sb.newest_message_id(&feed), Some(m.id));
}

cases!(
    a_created_message_lands_once,
    // Whop is slow once: the first attempt is abandoned after 300 ms while Whop still holds
    // it (and may yet process it); the retry carries the same key.
    a_send_that_outlasted_the_attempt_timeout_lands_exactly_once(CreateRetried {
        fault: FaultAction::Delay(Duration::from_secs(1)),
        settle: ms(1300),
    }),
    // The retry gets the replayed answer.
    a_send_whose_answer_was_cut_off_is_retried_and_lands_once(CreateRetried {
        fault: FaultAction::TruncatedBody,
        settle: Duration::ZERO,
    }),
);

#[tokio::test]
async fn two_deliberate_sends_of_the_same_text_post_twice() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let content = unique("said twice");
    let (_, first) = ok(&send(&client, &feed, &content).await);
    let (_, second) = ok(&send(&client, &feed, &content).await);
    assert_ne!(first["id"], second["id"]);
    let posts = sb.requests_to("POST", "/messages");
    assert_eq!(posts.len(), 2);
    let keys = idempotency_keys(&posts);
    assert_ne!(keys[0], keys[1], "each call has its own key");
    assert_eq!(sb.messages_with_content(&feed, &content), 2);
    assert_eq!(sb.message_count(&feed), before + 2);
}

// ---------------------------------------------------------------------------------------------
// PATCH and DELETE: idempotent by nature, retried

/// A message of the key's own in General, and the in-process client that wrote it.
async fn own_message(sb: &Sandbox) -> (whop_chat_mcp::whop::Client, String) {
    let c = whop_client(sb, fast_policy());
    let id = c
        .create_message(&CreateMessage {
            channel_id: sb.channel_id("General"),
            content: unique("draft"),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    (c, id)
}

/// An edit whose first attempt meets `action`: retried, and applied once.
async fn an_edit_is_retried_and_applied(action: FaultAction) {
    let sb = common::sandbox().await;
    let (c, id) = own_message(&sb).await;
    let text = unique("edited");
    let path = format!("/messages/{id}");
    sb.add_fault(Fault::on("PATCH", &path, action).times(1));
    let edited = c
        .update_message(
            &id,
            &UpdateMessage {
                content: Some(text.clone()),
                is_pinned: None,
            },
        )
        .await
        .expect("the retry succeeds");
    assert_eq!(edited.content.as_deref(), Some(text.as_str()));
    assert_eq!(sb.requests_to("PATCH", &path).len(), 2);
    assert_eq!(
        sb.messages_with_content(&sb.channel_id("General"), &text),
        1
    );
}

cases!(
    an_edit_is_retried_and_applied,
    an_edit_that_met_a_503_is_retried_and_applied(FaultAction::status(503)),
    an_edit_whose_response_was_lost_is_retried_and_applied_once(FaultAction::DropAfterCommit),
);

/// A delete whose first attempt meets `action`: retried once, the message is gone, and the
/// caller is told so.
async fn a_delete_is_retried_and_reported_done(action: FaultAction) {
    let sb = common::sandbox().await;
    let feed = sb.channel_id("General");
    let (c, id) = own_message(&sb).await;
    let before = sb.message_count(&feed);
    let path = format!("/messages/{id}");
    sb.add_fault(Fault::on("DELETE", &path, action).times(1));
    let outcome = c.delete_message(&id).await;
    assert_eq!(sb.requests_to("DELETE", &path).len(), 2, "retried once");
    assert_eq!(sb.message_count(&feed), before - 1, "the message is gone");
    assert!(
        matches!(outcome, Ok(true)),
        "the caller is told the delete happened, got {outcome:?}"
    );
    assert_eq!(c.get_message(&id).await.unwrap_err().status(), Some(404));
}

cases!(
    a_delete_is_retried_and_reported_done,
    a_delete_that_met_a_503_is_retried_and_applied(FaultAction::status(503)),
    a_delete_whose_response_was_lost_is_reported_as_done(FaultAction::DropAfterCommit),
);

// ---------------------------------------------------------------------------------------------
// Uploads

/// An `upload_file` call over stdio whose first request to one step of the flow (`on`: method
/// and path) meets a 503: the step is retried, there is one file object, and the bytes arrive
/// intact.
struct UploadRetried {
    on: (&'static str, &'static str),
    /// The POST /files requests the sandbox sees; they all carry one Idempotency-Key.
    creates: usize,
    /// The PUTs of the bytes to the presigned URL.
    puts: usize,
}

async fn an_upload_is_retried(case: UploadRetried) {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    };
    let (method, path) = case.on;
    sb.add_fault(Fault::on(method, path, FaultAction::status(503)).times(1));
    let (_, s) = ok(&call(
        &client,
        "upload_file",
        json!({"content_base64": encoded, "filename": "data.bin"}),
    )
    .await);
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["status"], "ready");
    let creates = sb.requests_to("POST", "/files");
    assert_eq!(
        creates.len(),
        case.creates,
        "{method} {path} met a 503 once"
    );
    one_key(&creates);
    let puts = upload_puts(&sb);
    assert_eq!(puts.len(), case.puts, "{method} {path} met a 503 once");
    assert!(puts.iter().all(|p| p.path == format!("/_uploads/{id}")));
    assert!(puts.iter().all(|p| p.body.as_ref() == bytes.as_slice()));
    assert_eq!(sb.file_bytes(id).unwrap().as_ref(), bytes.as_slice());
}

cases!(
    an_upload_is_retried,
    an_upload_put_that_met_a_503_is_retried_and_the_bytes_arrive_intact(UploadRetried {
        on: ("PUT", "/_uploads/*"),
        creates: 1,
        puts: 2,
    }),
    an_upload_whose_create_met_a_503_creates_one_file(UploadRetried {
        on: ("POST", "/files"),
        creates: 2,
        puts: 1,
    }),
);

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
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    // Streamed from an open file: the retry must send it again from its first byte.
    let dir = common::tempdir();
    std::fs::write(dir.path().join("chart.png"), &bytes).unwrap();
    let open = std::fs::File::open(dir.path().join("chart.png")).unwrap();
    let file = c
        .upload(
            UploadSource {
                filename: "chart.png".into(),
                content: whop_chat_mcp::whop::UploadContent::File {
                    file: std::sync::Arc::new(open),
                    len: bytes.len() as u64,
                },
                visibility: "public".into(),
            },
            &|_| {},
        )
        .await
        .expect("the PUT is retried");
    assert_eq!(upload_puts(&sb).len(), 2);
    assert_eq!(sb.file_bytes(&file.id).unwrap().as_ref(), bytes.as_slice());
}
