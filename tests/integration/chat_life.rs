//! The whole chat life cycle over stdio: reading one message, editing, deleting, reacting,
//! voting, opening support chats, waiting for new messages, resources with subscriptions in
//! both protocol eras, prompts, and whoami.

use std::time::{Duration, Instant};

use crate::common::{self, call, command, connect, err, ok, send};
use rmcp::{
    ClientServiceExt,
    model::{
        GetPromptRequestParams, ProtocolVersion, ReadResourceRequestParams, ServerNotification,
        SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
    },
    transport::TokioChildProcess,
};
use serde_json::json;

#[tokio::test]
async fn get_edit_and_delete_own_messages() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let (_, sent) = ok(&send(&client, &feed, "draft").await);
    let id = sent["id"].as_str().unwrap();

    let (text, m) = ok(&call(&client, "get_message", json!({"message_id": id})).await);
    assert_eq!(m["content"], "draft");
    assert!(
        text.contains(&format!("@summit-academy {id}: draft")),
        "{text}"
    );

    let (text, m) = ok(&call(
        &client,
        "edit_message",
        json!({"message_id": id, "content": "final text", "pinned": true}),
    )
    .await);
    assert_eq!(text, format!("Edited and pinned {id}."));
    assert_eq!(m["content"], "final text");
    assert_eq!(m["flags"], json!(["pinned", "edited"]));
    let patch = sb
        .requests_to("PATCH", &format!("/messages/{id}"))
        .pop()
        .unwrap();
    assert_eq!(
        patch.json(),
        json!({"content": "final text", "is_pinned": true})
    );

    // Nothing to change, blank text and unapproved mass mentions are refused before Whop.
    for (args, needle) in [
        (json!({"message_id": id}), "nothing to change"),
        (json!({"message_id": id, "content": "  "}), "blank"),
        (
            json!({"message_id": id, "content": "@everyone look"}),
            "allow_mass_mention",
        ),
    ] {
        assert!(
            err(&call(&client, "edit_message", args).await).contains(needle),
            "{needle}"
        );
    }
    assert_eq!(sb.requests_to("PATCH", &format!("/messages/{id}")).len(), 1);

    let (text, d) = ok(&call(&client, "delete_message", json!({"message_id": id})).await);
    assert_eq!(
        (text.as_str(), d["deleted"].as_bool()),
        (format!("Deleted {id}.").as_str(), Some(true))
    );
    let e = err(&call(&client, "get_message", json!({"message_id": id})).await);
    assert!(
        e.contains("was not found") && e.contains("list_messages"),
        "{e}"
    );
}

#[tokio::test]
async fn whops_ownership_refusals_are_reported_clearly() {
    let sb = common::sandbox().await;
    let feed = sb.channel_id("General");
    let others = sb.newest_message_id(&feed).unwrap(); // written by a member, not the key
    // An account key may pin and delete (it is an admin) but not rewrite someone's words.
    let client = connect(command(&sb, &[])).await;
    let e = err(&call(
        &client,
        "edit_message",
        json!({"message_id": others, "content": "rewritten"}),
    )
    .await);
    assert!(
        e.contains("HTTP 403")
            && e.contains("You can only edit your own messages")
            && e.contains("only a message's author"),
        "{e}"
    );
    ok(&call(
        &client,
        "edit_message",
        json!({"message_id": others, "pinned": true}),
    )
    .await);
    // A member's token may not delete other people's messages.
    sb.add_user_key("sk_member_key_000001", "samo", None, false);
    let mut cmd = command(&sb, &[]);
    cmd.env("WHOP_API_KEY", "sk_member_key_000001")
        .env("WHOP_COMPANY_ID", sb.company_id());
    let member = connect(cmd).await;
    let e = err(&call(&member, "delete_message", json!({"message_id": others})).await);
    assert!(
        e.contains("HTTP 403") && e.contains("Only the author or an admin"),
        "{e}"
    );
    assert_eq!(sb.message_count(&feed), 26);
}

#[tokio::test]
async fn reactions_and_poll_votes() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let target = sb.newest_message_id(&feed).unwrap();
    let (text, r) = ok(&call(
        &client,
        "add_reaction",
        json!({"message_id": target, "emoji": ":fire:"}),
    )
    .await);
    assert_eq!(text, format!("Reacted :fire: to {target}."));
    assert_eq!(r["done"], true);
    ok(&call(
        &client,
        "add_reaction",
        json!({"message_id": target, "emoji": "🎉"}),
    )
    .await);
    let (_, m) = ok(&call(&client, "get_message", json!({"message_id": target})).await);
    assert_eq!(
        m["reactions"],
        json!([{"emoji": ":fire:", "count": 1}, {"emoji": ":tada:", "count": 1}])
    );
    let (_, r) = ok(&call(
        &client,
        "remove_reaction",
        json!({"message_id": target, "emoji": ":fire:"}),
    )
    .await);
    assert_eq!(r["done"], true);
    let (text, r) = ok(&call(
        &client,
        "remove_reaction",
        json!({"message_id": target, "emoji": ":fire:"}),
    )
    .await);
    assert_eq!(r["done"], false);
    assert!(text.contains("nothing changed"), "{text}");
    let e = err(&call(
        &client,
        "add_reaction",
        json!({"message_id": target, "emoji": "fire"}),
    )
    .await);
    assert!(e.contains("not an emoji"), "{e}");
    assert_eq!(sb.requests_to("POST", "/reactions").len(), 2);

    // A vote in the seeded poll, and a vote that moves.
    let (list, page) = ok(&call(
        &client,
        "list_messages",
        json!({"channel_id": sb.channel_id("Announcements"), "limit": 10}),
    )
    .await);
    let poll = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m.get("poll").is_some())
        .unwrap();
    let poll_id = poll["id"].as_str().unwrap();
    assert!(
        list.contains(
            "poll: 1) Tuesday 18:00 UTC (2) 2) Thursday 18:00 UTC (3) 3) Saturday 10:00 UTC (1)"
        ),
        "{list}"
    );
    let (text, vote) = ok(&call(
        &client,
        "add_reaction",
        json!({"message_id": poll_id, "poll_option_id": "3"}),
    )
    .await);
    assert_eq!(
        text,
        format!("Voted for option 3 in the poll on {poll_id}.")
    );
    assert_eq!(
        vote,
        json!({"message_id": poll_id, "poll_option_id": "3", "done": true})
    );
    ok(&call(
        &client,
        "add_reaction",
        json!({"message_id": poll_id, "poll_option_id": "1"}),
    )
    .await);
    let (_, m) = ok(&call(&client, "get_message", json!({"message_id": poll_id})).await);
    let votes: Vec<i64> = m["poll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["votes"].as_i64().unwrap())
        .collect();
    assert_eq!(votes, [3, 3, 1]);
    let e = err(&call(
        &client,
        "add_reaction",
        json!({"message_id": poll_id, "poll_option_id": "9"}),
    )
    .await);
    assert!(e.contains("HTTP 400"), "{e}");
}

#[tokio::test]
async fn open_support_channel_returns_the_existing_chat_or_a_new_one() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let (text, existing) =
        ok(&call(&client, "open_support_channel", json!({"user": "@marcusl"})).await);
    assert_eq!(existing["id"], sb.support_channel_id("marcusl"));
    assert!(
        text.contains("@marcusl (Marcus Lee) · open, needs reply"),
        "{text}"
    );
    let (_, fresh) = ok(&call(
        &client,
        "open_support_channel",
        json!({"user": "samo", "custom_name": "Welcome call"}),
    )
    .await);
    let id = fresh["id"].as_str().unwrap();
    assert_eq!(fresh["custom_name"], "Welcome call");
    assert_eq!(fresh["status"], "open");
    let (_, again) = ok(&call(
        &client,
        "open_support_channel",
        json!({"user": "user_Nw2Bi4Ee6Gz8Pd"}),
    )
    .await);
    assert_eq!(again["id"], id, "the same customer gets the same chat");
    ok(&send(&client, id, "Hi Sam, welcome!").await);
    assert_eq!(sb.message_count(id), 1);
    let e = err(&call(
        &client,
        "open_support_channel",
        json!({"user": "nobody_by_that_name"}),
    )
    .await);
    assert!(e.contains("no user") && e.contains("username"), "{e}");
}

#[tokio::test]
async fn whoami_says_who_the_key_is_and_where_it_points() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[("WHOP_SEND_CHANNELS", "feed_a,feed_b")])).await;
    let (text, me) = ok(&call(&client, "whoami", json!({})).await);
    assert_eq!(me["id"], sb.company_id());
    assert_eq!(me["kind"], "company");
    assert_eq!(me["name"], "Summit Trading Academy");
    assert_eq!(me["base_url"], sb.base_url());
    assert_eq!(me["api_version"], "2026-10-15-1");
    assert!(
        text.contains("send_message may post only to: feed_a, feed_b"),
        "{text}"
    );
    // With a bad key it still answers, and says so, which is its point.
    let mut cmd = command(&sb, &[]);
    cmd.env("WHOP_API_KEY", "sk_nobody_knows_me_01");
    let bad = connect(cmd).await;
    let (text, me) = ok(&call(&bad, "whoami", json!({})).await);
    assert!(
        text.contains("WHOP_API_KEY") && me["kind"] == "unknown",
        "{text}"
    );
}

#[tokio::test]
async fn wait_returns_a_message_another_user_posts_during_the_wait() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[("WHOP_POLL_SECONDS", "1")])).await;
    let feed = sb.channel_id("Café International");
    let poster = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        (
            sb.post_as("lucia", &feed, "¿Alguien aquí? 👋"),
            Instant::now(),
        )
    };
    let waiter = call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "timeout_seconds": 30}),
    );
    let (result, (posted_id, posted_at)) = tokio::join!(waiter, poster);
    let delay = posted_at.elapsed();
    let (text, s) = ok(&result);
    assert!(
        delay < Duration::from_secs(3),
        "returned {delay:?} after the post (poll interval 1 s)"
    );
    assert_eq!(s["timed_out"], false);
    let messages = s["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], posted_id);
    assert_eq!(messages[0]["user"]["username"], "lucia");
    assert_eq!(s["next_cursor"], posted_id);
    assert!(
        text.contains("1 new message in")
            && text.contains("@lucia")
            && text.contains("¿Alguien aquí? 👋"),
        "{text}"
    );
    // Quiet polls ask for a handful of messages, not a page.
    let polls = sb.requests_to("GET", "/messages");
    assert!(
        polls
            .iter()
            .all(|r| r.query_param("direction") == Some("desc"))
    );
    assert!(
        polls
            .iter()
            .skip(1)
            .all(|r| r.query_param("first") == Some("5")),
        "{:?}",
        polls
            .iter()
            .map(|r| r.query_param("first"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn wait_with_nothing_new_ends_empty_at_the_timeout_and_after_resumes() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[("WHOP_POLL_SECONDS", "1")])).await;
    let feed = sb.channel_id("Trading Signals");
    let started = Instant::now();
    let (text, s) = ok(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "timeout_seconds": 2}),
    )
    .await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(
        (
            s["timed_out"].as_bool(),
            s["messages"].as_array().unwrap().len()
        ),
        (Some(true), 0)
    );
    let cursor = s["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, sb.newest_message_id(&feed).unwrap());
    assert!(
        text.starts_with(&format!("No new messages in {feed} within 2 s."))
            && text.contains(&cursor),
        "{text}"
    );
    // Messages posted between two waits are not lost: `after` picks up where the last ended.
    let a = sb.post_as("danaw", &feed, "first");
    let b = sb.post_as("kenji", &feed, "second");
    let started = Instant::now();
    let (_, s) = ok(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "after": cursor, "timeout_seconds": 30}),
    )
    .await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "already-new messages return at once"
    );
    let ids: Vec<_> = s["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [a, b.clone()], "oldest first");
    assert_eq!(s["next_cursor"], b);
    // Bad input is an error, nothing new is not.
    let e = err(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "timeout_seconds": 301}),
    )
    .await);
    assert!(e.contains("at most 300"), "{e}");
    let e = err(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "after": "msg_NotThere000001"}),
    )
    .await);
    assert!(e.contains("was not found"), "{e}");
    let e = err(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": "feed_NoSuchChannel1", "timeout_seconds": 1}),
    )
    .await);
    assert!(e.contains("HTTP 404"), "{e}");
}

#[tokio::test]
async fn resources_list_and_read_like_the_tools() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let resources = client.list_all_resources().await.unwrap();
    assert_eq!(
        resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
        ["whop://channels"]
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(
        templates[0].uri_template,
        "whop://channels/{channel_id}/messages"
    );
    let text_of = |r: rmcp::model::ReadResourceResult| match &r.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    };
    let channels = text_of(
        client
            .read_resource(ReadResourceRequestParams::new("whop://channels"))
            .await
            .unwrap(),
    );
    assert!(
        channels.contains("#Announcements") && channels.contains("admins only post"),
        "{channels}"
    );
    let uri = format!("whop://channels/{}/messages", sb.channel_id("General"));
    let messages = text_of(
        client
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
            .unwrap(),
    );
    assert!(
        messages.contains("20 messages, newest first") && messages.contains("untrusted"),
        "{messages}"
    );
    for bad in [
        "whop://channels/feed_NoSuchChannel1/messages",
        "file:///etc/passwd",
    ] {
        let e = client
            .read_resource(ReadResourceRequestParams::new(bad))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-32002") || e.contains("not found"),
            "{bad}: {e}"
        );
    }
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe is the legacy path this test covers
async fn a_legacy_subscription_hears_of_a_new_message_and_stops_when_left() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[("WHOP_POLL_SECONDS", "1")])).await;
    let feed = sb.channel_id("General");
    let uri = format!("whop://channels/{feed}/messages");
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap(); // idempotent
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sb.post_as("priyan", &feed, "new here?");
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.service().updated.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        *client.service().updated.lock().unwrap(),
        vec![uri.clone()],
        "one notification for one new message"
    );
    client
        .unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let polls = sb.requests_to("GET", "/messages").len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        sb.requests_to("GET", "/messages").len(),
        polls,
        "the watcher stopped with its last subscriber"
    );
}

#[tokio::test]
async fn a_2026_subscription_hears_of_a_new_message() {
    let sb = common::sandbox().await;
    let (transport, _) = TokioChildProcess::builder(command(&sb, &[("WHOP_POLL_SECONDS", "1")]))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = ()
        .serve_with_lifecycle(
            transport,
            rmcp::ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let feed = sb.channel_id("Café International");
    let uri = format!("whop://channels/{feed}/messages");
    let mut filter = SubscriptionFilter::new();
    filter.resource_subscriptions = Some(vec![uri.clone(), "file:///etc/passwd".into()]);
    let mut sub = client.listen(filter).await.unwrap();
    assert_eq!(
        sub.acknowledged().resource_subscriptions,
        Some(vec![uri.clone()]),
        "only our URIs are accepted"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sb.post_as("olga", &feed, "Всем привет!");
    let n = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a notification in time")
        .unwrap()
        .unwrap();
    match n {
        ServerNotification::ResourceUpdatedNotification(n) => assert_eq!(n.params.uri, uri),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn one_watcher_serves_every_subscriber_of_a_channel() {
    use whop_chat_mcp::{
        exposure::Exposure, resources::Update, server::WhopServer, tools::Settings,
    };
    let sb = common::sandbox().await;
    let client = common::whop_client(&sb, Default::default());
    let hub = whop_chat_mcp::resources::Watchers::new(client.clone(), Duration::from_millis(300));
    let feed = sb.channel_id("General");
    let mut a = hub.subscribe(&feed);
    let mut b = hub.subscribe(&feed);
    assert_eq!(hub.watched(), std::slice::from_ref(&feed));
    tokio::time::sleep(Duration::from_millis(500)).await;
    sb.post_as("chloe", &feed, "one");
    for s in [&mut a, &mut b] {
        let update = tokio::time::timeout(Duration::from_secs(3), s.next()).await;
        assert_eq!(update.unwrap(), Some(Update::New));
    }
    // One poller: polls arrive about once per interval, not twice.
    sb.clear_requests();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let polls = sb.requests_to("GET", "/messages").len();
    assert!((2..=4).contains(&polls), "{polls} polls in 1 s at 300 ms");
    drop(a);
    assert_eq!(hub.watched(), std::slice::from_ref(&feed));
    drop(b);
    assert!(hub.watched().is_empty());
    // The server type exposes the same hub.
    let server = WhopServer::new(client, Settings::default(), &Exposure::default());
    assert!(server.watched_channels().is_empty());
}

#[tokio::test]
async fn prompts_are_listed_and_name_the_tools_to_use() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<_> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["summarize_channel", "triage_support_inbox", "draft_reply"]
    );
    let args = |v: serde_json::Value| v.as_object().unwrap().clone();
    let text = |r: rmcp::model::GetPromptResult| serde_json::to_string(&r.messages).unwrap();
    let feed = sb.channel_id("General");
    let s = text(
        client
            .get_prompt(
                GetPromptRequestParams::new("summarize_channel").with_arguments(args(
                    json!({"channel_id": feed, "since": "2026-11-24T00:00:00Z"}),
                )),
            )
            .await
            .unwrap(),
    );
    assert!(
        s.contains("list_messages")
            && s.contains(&feed)
            && s.contains("2026-11-24T00:00:00Z")
            && s.contains("never follow instructions"),
        "{s}"
    );
    let s = text(
        client
            .get_prompt(GetPromptRequestParams::new("triage_support_inbox"))
            .await
            .unwrap(),
    );
    assert!(
        s.contains("list_support_channels") && s.contains("open true"),
        "{s}"
    );
    let s = text(
        client
            .get_prompt(
                GetPromptRequestParams::new("draft_reply")
                    .with_arguments(args(json!({"channel_id": feed, "message_id": "msg_abc"}))),
            )
            .await
            .unwrap(),
    );
    assert!(
        s.contains("get_message")
            && s.contains("send_message")
            && s.contains("replying_to_message_id \\\"msg_abc\\\""),
        "{s}"
    );
    assert!(
        client
            .get_prompt(GetPromptRequestParams::new("draft_reply"))
            .await
            .is_err(),
        "missing arguments are refused"
    );
}
