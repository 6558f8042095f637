//! Shared state on a real Redis (`--state` / `WHOP_MCP_STATE_URL`): two replicas, in this
//! process (two `State`s) or as two server processes pointed at one sandbox. Wake-ups,
//! delivery ids and poll leases cross replicas; the Whop rate budget and a 429's pause hold
//! for both; Redis stopped and restarted mid-test leaves the servers answering, with one
//! warning each and one line when they recover.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{ServiceExt as _, transport::TokioChildProcess};
use serde_json::json;
use tokio::{io::AsyncBufReadExt as _, sync::broadcast::error::TryRecvError};
use whop_chat_mcp::{
    sandbox::{Fault, FaultAction, Sandbox},
    state::{State, StateOptions, StateUrl},
    whop::Secret,
};

use crate::common::{self, Recorder, RedisServer, call, command, ok, random_key};

fn options(redis: &RedisServer, rate_limit: Option<f64>) -> StateOptions {
    StateOptions {
        url: Some(StateUrl::parse(&redis.url()).unwrap()),
        rate_limit,
    }
}

/// Two replicas sharing `redis` under one API key, in this process.
async fn two_states(redis: &RedisServer) -> (State, State) {
    let key = Secret::new(&random_key());
    let opts = options(redis, None);
    (
        State::connect(&opts, &key).await,
        State::connect(&opts, &key).await,
    )
}

async fn next_wake(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<str>>,
    within: Duration,
) -> Option<String> {
    tokio::time::timeout(within, rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|c| c.to_string())
}

#[tokio::test]
async fn a_wake_published_by_one_replica_reaches_the_other_and_itself_once() {
    let redis = RedisServer::start();
    let (a, b) = two_states(&redis).await;
    let mut at_a = a.wakes();
    let mut at_b = b.wakes();
    a.publish_wake("feed_1").await;
    assert_eq!(
        next_wake(&mut at_b, Duration::from_secs(2))
            .await
            .as_deref(),
        Some("feed_1")
    );
    assert_eq!(
        next_wake(&mut at_a, Duration::from_secs(2))
            .await
            .as_deref(),
        Some("feed_1")
    );
    // The echo of A's own wake-up from Redis is not delivered a second time.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(at_a.try_recv(), Err(TryRecvError::Empty)));
    assert!(matches!(at_b.try_recv(), Err(TryRecvError::Empty)));

    // A deployment with another API key shares nothing.
    let other = State::connect(&options(&redis, None), &Secret::new(&random_key())).await;
    let mut at_other = other.wakes();
    a.publish_wake("feed_2").await;
    assert_eq!(
        next_wake(&mut at_b, Duration::from_secs(2))
            .await
            .as_deref(),
        Some("feed_2")
    );
    assert_eq!(
        next_wake(&mut at_other, Duration::from_millis(300)).await,
        None
    );
    assert!(other.poll_lease("feed_2", Duration::from_secs(5)).await);
    assert!(a.poll_lease("feed_2", Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_delivery_id_counts_once_across_replicas() {
    let redis = RedisServer::start();
    let (a, b) = two_states(&redis).await;
    let ttl = Duration::from_secs(60);
    assert!(a.first_delivery("msg_wh_1", ttl).await);
    assert!(!b.first_delivery("msg_wh_1", ttl).await);
    assert!(!a.first_delivery("msg_wh_1", ttl).await);
    assert!(b.first_delivery("msg_wh_2", ttl).await);
    // After its ttl an id counts as new again.
    assert!(
        a.first_delivery("msg_wh_3", Duration::from_millis(100))
            .await
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(b.first_delivery("msg_wh_3", ttl).await);
}

#[tokio::test]
async fn one_replica_holds_a_poll_lease_and_the_other_takes_over_when_it_lapses() {
    let redis = RedisServer::start();
    let (a, b) = two_states(&redis).await;
    let ttl = Duration::from_millis(600);
    assert!(a.poll_lease("feed_1", ttl).await);
    assert!(!b.poll_lease("feed_1", ttl).await);
    // Renewing keeps it past its first ttl.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(a.poll_lease("feed_1", ttl).await, "the holder renews");
        assert!(!b.poll_lease("feed_1", ttl).await, "held by the other");
    }
    // Other channels are leased independently.
    assert!(b.poll_lease("feed_2", ttl).await);
    // The holder stops renewing: after the ttl the other replica takes over.
    tokio::time::sleep(Duration::from_millis(750)).await;
    assert!(b.poll_lease("feed_1", ttl).await);
    assert!(!a.poll_lease("feed_1", ttl).await);
}

/// A server process whose stderr is kept.
struct Replica {
    client: common::Client,
    stderr: Arc<Mutex<String>>,
}

impl Replica {
    async fn start(sb: &Sandbox, env: &[(&str, &str)]) -> Replica {
        let (transport, stderr) = TokioChildProcess::builder(command(sb, env))
            .stderr(Stdio::piped())
            .spawn()
            .expect("server spawns");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let mut lines = tokio::io::BufReader::new(stderr.unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let client = Recorder::default()
            .serve(transport)
            .await
            .expect("initialize succeeds");
        Replica {
            client,
            stderr: log,
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until stderr has a line with `needle`.
    async fn wait_for(&self, needle: &str, within: Duration) {
        let started = Instant::now();
        while self.count(needle) == 0 {
            assert!(
                started.elapsed() < within,
                "no {needle:?} line within {within:?}; stderr:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whop requests the sandbox received (its API, not uploads).
fn api_requests(sb: &Sandbox) -> Vec<Instant> {
    sb.requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
        .map(|r| r.at)
        .collect()
}

#[tokio::test]
async fn the_rate_budget_holds_across_two_replicas() {
    const RATE: f64 = 5.0;
    let redis = RedisServer::start();
    let sb = common::sandbox().await;
    let url = redis.url();
    let env = [
        ("WHOP_MCP_STATE_URL", url.as_str()),
        ("WHOP_RATE_LIMIT", "5"),
    ];
    let a = Replica::start(&sb, &env).await;
    let b = Replica::start(&sb, &env).await;
    let feed = sb.channel_id("General");
    sb.clear_requests();

    // Four callers per replica, as fast as answers come, for three seconds.
    let until = Instant::now() + Duration::from_secs(3);
    let mut callers = Vec::new();
    for replica in [&a, &b] {
        for _ in 0..4 {
            let peer = replica.client.peer().clone();
            let feed = feed.clone();
            callers.push(tokio::spawn(async move {
                let mut answered = 0;
                while Instant::now() < until {
                    let args = json!({"channel_id": feed, "limit": 1});
                    let r = peer
                        .call_tool(
                            rmcp::model::CallToolRequestParams::new("list_messages")
                                .with_arguments(args.as_object().unwrap().clone()),
                        )
                        .await
                        .unwrap();
                    if r.is_error != Some(true) {
                        answered += 1;
                    }
                }
                answered
            }));
        }
    }
    let mut answered = Vec::new();
    for c in callers {
        answered.push(c.await.unwrap());
    }
    let times = api_requests(&sb);
    let (first, last) = (times[0], *times.last().unwrap());
    let span = last.duration_since(first).as_secs_f64();
    // A token bucket of RATE per second holding a burst of RATE: over any span of t seconds
    // at most RATE + RATE × t requests. Half a second more allows for the time between taking
    // a turn (on Redis's clock) and the request reaching the sandbox on a busy machine; a
    // budget each replica kept alone would still exceed it by far (about 2 × RATE × t).
    let bound = (RATE + RATE * (span + 0.5)).floor() as usize;
    assert!(
        times.len() <= bound,
        "{} requests in {span:.2} s exceed the shared budget ({bound})",
        times.len()
    );
    for (i, t) in times.iter().enumerate() {
        let in_a_second = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        assert!(
            in_a_second <= 2 * RATE as usize + 1,
            "{in_a_second} requests within one second"
        );
    }
    // The budget was used, not starved, and both replicas got turns.
    assert!(
        times.len() as f64 >= RATE * span * 0.6,
        "{} requests in {span:.2} s",
        times.len()
    );
    assert!(answered[..4].iter().sum::<i32>() > 0 && answered[4..].iter().sum::<i32>() > 0);
}

#[tokio::test]
async fn a_429_seen_by_one_replica_pauses_the_other() {
    let redis = RedisServer::start();
    let sb = common::sandbox().await;
    let url = redis.url();
    let env = [("WHOP_MCP_STATE_URL", url.as_str())];
    let a = Replica::start(&sb, &env).await;
    let b = Replica::start(&sb, &env).await;
    sb.clear_requests();
    sb.add_fault(Fault::on("GET", "/chat_channels", FaultAction::rate_limited(2.0)).times(1));

    let peer_a = a.client.peer().clone();
    let at_a = tokio::spawn(async move {
        peer_a
            .call_tool(rmcp::model::CallToolRequestParams::new("list_channels"))
            .await
            .unwrap()
    });
    // Once A has its 429 (and has told Redis), B calls.
    a.wait_for("Whop answered 429", Duration::from_secs(5))
        .await;
    let limited_at = sb.requests_to("GET", "/chat_channels")[0].at;
    let r = call(&b.client, "list_channels", json!({})).await;
    ok(&r);
    ok(&at_a.await.unwrap());
    let later: Vec<Duration> = sb
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.at > limited_at)
        .map(|r| r.at.duration_since(limited_at))
        .collect();
    assert!(later.len() >= 2, "A's retry and B's call: {later:?}");
    assert!(
        later.iter().all(|d| *d >= Duration::from_millis(1900)),
        "no request may go out during the 2 s pause: {later:?}"
    );
}

#[tokio::test]
async fn redis_stopped_and_restarted_leaves_replicas_serving_with_one_warning() {
    let mut redis = RedisServer::start();
    let sb = common::sandbox().await;
    let url = redis.url();
    let env = [
        ("WHOP_MCP_STATE_URL", url.as_str()),
        ("WHOP_RATE_LIMIT", "50"),
    ];
    let a = Replica::start(&sb, &env).await;
    let b = Replica::start(&sb, &env).await;
    let (sa, sb_state) = two_states(&redis).await;
    let mut wakes_b = sb_state.wakes();
    for r in [&a, &b] {
        ok(&call(&r.client, "list_channels", json!({})).await);
        r.wait_for("shared state on Redis", Duration::from_secs(2))
            .await;
    }

    redis.stop();
    let warning = "shared state: Redis is unavailable";
    for r in [&a, &b] {
        // Noticed without any request: the subscription's connection closes.
        r.wait_for(warning, Duration::from_secs(3)).await;
        for _ in 0..5 {
            let started = Instant::now();
            ok(&call(&r.client, "list_channels", json!({})).await);
            assert!(started.elapsed() < Duration::from_secs(2));
        }
    }
    // Wake-ups stay local during the outage.
    sa.publish_wake("feed_9").await;
    assert_eq!(
        next_wake(&mut wakes_b, Duration::from_millis(300)).await,
        None
    );

    redis.restart();
    for r in [&a, &b] {
        r.wait_for("Redis is reachable again", Duration::from_secs(12))
            .await;
        ok(&call(&r.client, "list_channels", json!({})).await);
        let log = r.log();
        assert_eq!(r.count(warning), 1, "one warning per outage:\n{log}");
        assert_eq!(r.count(" WARN "), 1, "no other warning:\n{log}");
        assert_eq!(r.count("reachable again"), 1, "{log}");
        assert!(!log.contains(sb.api_key()), "the key never shows");
    }
    // Wake-ups flow across replicas again once both have re-subscribed.
    let started = Instant::now();
    loop {
        sa.publish_wake("feed_10").await;
        if next_wake(&mut wakes_b, Duration::from_millis(200))
            .await
            .as_deref()
            == Some("feed_10")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "wake-ups did not cross replicas after Redis returned"
        );
    }
}

#[tokio::test]
async fn a_replica_that_cannot_reach_redis_at_start_serves_alone_then_joins() {
    let mut redis = RedisServer::start();
    redis.stop();
    let sb = common::sandbox().await;
    let url = redis.url();
    let a = Replica::start(&sb, &[("WHOP_MCP_STATE_URL", url.as_str())]).await;
    ok(&call(&a.client, "list_channels", json!({})).await);
    a.wait_for("shared state: Redis is unavailable", Duration::from_secs(2))
        .await;
    redis.restart();
    a.wait_for("Redis is reachable again", Duration::from_secs(8))
        .await;
    ok(&call(&a.client, "list_channels", json!({})).await);
    assert_eq!(a.count(" WARN "), 1, "{}", a.log());
}

// The budget in one process (no Redis): the client's seam itself.

fn channels_query(sb: &Sandbox) -> whop_chat_mcp::whop::ListChatChannels {
    whop_chat_mcp::whop::ListChatChannels {
        company_id: sb.company_id(),
        product_id: None,
        first: 5,
        after: None,
    }
}

#[tokio::test]
async fn a_call_that_cannot_get_budget_in_time_fails_at_once_and_says_why() {
    // What the model reads for this error is checked in tools' unit tests.
    use whop_chat_mcp::whop::{Error, LocalBudget};
    let sb = common::sandbox().await;
    // A turn every 5 s, and calls that may take 3 s.
    let client = common::whop_client(&sb, common::fast_policy())
        .with_budget(Arc::new(LocalBudget::new(Some(0.2))));
    client
        .list_chat_channels(&channels_query(&sb))
        .await
        .unwrap();
    let started = Instant::now();
    let e = client
        .list_chat_channels(&channels_query(&sb))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no waiting for a turn that comes too late"
    );
    assert!(
        matches!(e, Error::Budget { attempts: 0, paused: false, limit: Some(l), .. } if l == 0.2),
        "{e:?}"
    );
    assert_eq!(sb.requests_to("GET", "/chat_channels").len(), 1);
}

#[tokio::test]
async fn retries_wait_for_the_budget_too() {
    let sb = common::sandbox().await;
    sb.add_fault(Fault::on("GET", "/chat_channels", FaultAction::status(503)).times(2));
    // Two at once, then one every 500 ms; the policy's own backoff is 20-40 ms.
    let client = common::whop_client(&sb, common::fast_policy())
        .with_budget(Arc::new(whop_chat_mcp::whop::LocalBudget::new(Some(2.0))));
    client
        .list_chat_channels(&channels_query(&sb))
        .await
        .unwrap();
    let at: Vec<Instant> = sb
        .requests_to("GET", "/chat_channels")
        .iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(at.len(), 3);
    assert!(at[1].duration_since(at[0]) < Duration::from_millis(200));
    assert!(
        at[2].duration_since(at[1]) >= Duration::from_millis(400),
        "the third attempt waited for a token: {:?}",
        at[2].duration_since(at[1])
    );
}
