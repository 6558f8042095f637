//! End to end: the built binary over stdio, driven by rmcp's client, against a sandbox on a
//! loopback port. Every tool, paging a whole channel, an upload whose bytes arrive intact,
//! and each error class.

use std::collections::HashSet;

use crate::common::{self, call, command, connect, err, ok, send};
use serde_json::{Value, json};
use whop_chat_mcp::sandbox::{Fault, FaultAction};

const SNAPSHOT: &str = "tests/snapshots/tools_list.json";

#[tokio::test]
async fn tools_list_matches_the_checked_in_snapshot() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let tools = client.list_all_tools().await.unwrap();
    let current = serde_json::to_string_pretty(&tools).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &current).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == expected,
        "tools/list changed. Review the difference, then update the snapshot with:\n  UPDATE_SNAPSHOTS=1 cargo test --test integration tools_list\n\ncurrent:\n{current}"
    );
}

#[tokio::test]
async fn every_tool_is_described_annotated_and_has_an_object_output_schema() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: HashSet<_> = tools.iter().map(|t| t.name.to_string()).collect();
    let reads = [
        "list_messages",
        "list_channels",
        "get_channel",
        "list_support_channels",
        "get_message",
        "wait_for_messages",
        "whoami",
        "list_dm_channels",
        "find_users",
        "list_reactions",
        "search_messages",
    ];
    let writes = [
        "send_message",
        "upload_file",
        "edit_message",
        "delete_message",
        "add_reaction",
        "remove_reaction",
        "open_support_channel",
        "open_dm_channel",
        "update_channel_settings",
    ];
    let all: HashSet<_> = reads
        .iter()
        .chain(writes.iter())
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, all);
    for t in &tools {
        let name = t.name.as_ref();
        let desc = t.description.as_deref().unwrap_or("");
        assert!(desc.len() > 40, "{name}: description too thin: {desc}");
        let out = t
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no outputSchema"));
        assert_eq!(out.get("type"), Some(&json!("object")), "{name}");
        let ann = t
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no annotations"));
        // Left out, so the spec's default (true) applies: every tool talks to Whop.
        assert_ne!(ann.open_world_hint, Some(false), "{name}");
        if reads.contains(&name) {
            assert_eq!(ann.read_only_hint, Some(true), "{name}");
        } else {
            assert_ne!(ann.read_only_hint, Some(true), "{name} writes");
            assert_eq!(
                ann.destructive_hint,
                Some(matches!(name, "delete_message" | "update_channel_settings")),
                "{name}"
            );
        }
        let props = t
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap();
        for (p, schema) in props {
            let d = schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            assert!(d.len() >= 10, "{name}.{p} has no useful description");
        }
    }
}

#[tokio::test]
async fn list_channels_shows_names_ids_and_rules_for_the_keys_company() {
    let sb = common::sandbox().await;
    // No WHOP_COMPANY_ID: the company is the key's own, from /accounts/me.
    let client = connect(command(&sb, &[])).await;
    let (text, s) = ok(&call(&client, "list_channels", json!({})).await);
    assert_eq!(s["company_id"], sb.company_id());
    let channels = s["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4);
    let ann = channels
        .iter()
        .find(|c| c["name"] == "Announcements")
        .unwrap();
    assert_eq!(ann["rules"]["who_can_post"], "admins");
    assert_eq!(ann["experience_id"], sb.experience_id("Announcements"));
    assert!(
        text.contains(&format!(
            "#Announcements {} {} · admins only post",
            sb.channel_id("Announcements"),
            sb.experience_id("Announcements")
        )),
        "{text}"
    );
    assert!(
        text.contains("#Trading Signals") && text.contains("slow mode 10 s · no links"),
        "{text}"
    );
    assert!(text.contains("#Café International"), "{text}");
    assert_eq!(sb.requests_to("GET", "/accounts/me").len(), 1);
    // The company is remembered.
    ok(&call(&client, "list_channels", json!({"limit": 2})).await);
    assert_eq!(sb.requests_to("GET", "/accounts/me").len(), 1);
    let last = sb.requests_to("GET", "/chat_channels").pop().unwrap();
    assert_eq!(
        last.query_param("account_id"),
        Some(sb.company_id().as_str())
    );
    assert_eq!(last.query_param("first"), Some("2"));
}

#[tokio::test]
async fn get_channel_accepts_channel_and_experience_ids() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    for id in [
        sb.channel_id("Trading Signals"),
        sb.experience_id("Trading Signals"),
    ] {
        let (text, s) = ok(&call(&client, "get_channel", json!({"channel_id": id})).await);
        assert_eq!(s["id"], sb.channel_id("Trading Signals"));
        assert_eq!(s["name"], "Trading Signals");
        assert_eq!(s["rules"]["cooldown_seconds"], 10);
        assert_eq!(s["rules"]["ban_urls"], true);
        assert!(text.starts_with("#Trading Signals "), "{text}");
    }
}

#[tokio::test]
async fn list_messages_pages_through_a_whole_channel() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"channel_id": sb.experience_id("General"), "limit": 7});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let (text, s) = ok(&call(&client, "list_messages", args).await);
        pages += 1;
        let batch = s["messages"].as_array().unwrap();
        assert!(batch.len() <= 7);
        for m in batch {
            assert!(
                text.contains(m["id"].as_str().unwrap()),
                "every message id is in the text"
            );
            ids.push(m["id"].as_str().unwrap().to_owned());
        }
        match s["next_cursor"].as_str() {
            Some(c) => {
                assert!(text.ends_with(&format!("more: cursor=\"{c}\"")), "{text}");
                cursor = Some(c.to_owned());
            }
            None => {
                assert!(s["next_cursor"].is_null());
                assert!(
                    text.ends_with("end of channel") || text.ends_with("no messages"),
                    "{text}"
                );
                break;
            }
        }
        assert!(pages < 20, "paging does not end");
    }
    assert_eq!(ids.len(), sb.message_count(&feed));
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no message twice"
    );
    for r in sb.requests_to("GET", "/messages") {
        assert_eq!(r.query_param("direction"), Some("desc"));
        assert_eq!(r.query_param("first"), Some("7"));
    }
}

#[tokio::test]
async fn list_messages_text_is_compact_utf8_and_marks_chat_as_untrusted() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let (text, s) = ok(&call(
        &client,
        "list_messages",
        json!({"channel_id": sb.channel_id("General"), "limit": 30}),
    )
    .await);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("untrusted user content"),
        "{text}"
    );
    // Real characters, not escapes.
    for needle in [
        "おはようございます",
        "Кто-нибудь",
        "مرحبا",
        "👨‍👩‍👧",
        "Café con leche y gráficos ☕📈",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // The bidi trick and zero-width characters are gone, in text and structured content.
    assert!(text.contains("reportfdp.exe (totally safe)"), "{text}");
    assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'));
    assert!(!s.to_string().contains('\u{202E}'));
    // A multi-line message cannot start a row of its own.
    let recap = text
        .lines()
        .position(|l| l.contains("Recap of my week:"))
        .unwrap();
    assert!(
        text.lines()
            .nth(recap + 1)
            .unwrap()
            .starts_with("  - entered SPY"),
        "{text}"
    );
    // Reply targets, reactions, pins, edits show in a few characters.
    assert!(
        text.contains(" [pinned] {:wave:4 :heart:2}: Welcome to **Summit Trading Academy**"),
        "{text}"
    );
    assert!(text.contains(" [edited]: Reminder"), "{text}");
    assert!(text.contains(" ↩msg_"), "{text}");
}

#[tokio::test]
async fn send_message_posts_replies_and_polls_once() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let before = sb.message_count(&feed);
    let target = sb.newest_message_id(&feed).unwrap();
    let (text, s) = ok(&call(&client, "send_message", json!({
        "channel_id": feed, "content": "Morning or evening? ☀️🌙", "replying_to_message_id": target,
        "poll_options": ["Morning", "Evening"]
    })).await);
    let id = s["id"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("Posted {id} in {feed}")),
        "{text}"
    );
    assert_eq!(s["replying_to_message_id"], target);
    assert_eq!(
        s["poll"],
        json!([{"id": "1", "text": "Morning", "votes": 0}, {"id": "2", "text": "Evening", "votes": 0}])
    );
    assert_eq!(s["user"]["username"], "summit-academy");
    assert_eq!(sb.message_count(&feed), before + 1);
    assert_eq!(sb.requests_to("POST", "/messages").len(), 1);
    // It shows up when reading the channel.
    let (list, _) = ok(&call(
        &client,
        "list_messages",
        json!({"channel_id": feed, "limit": 1}),
    )
    .await);
    assert!(
        list.contains(&format!("@summit-academy {id} ↩{target}")),
        "{list}"
    );
    assert!(
        list.contains("poll: 1) Morning (0) 2) Evening (0)"),
        "{list}"
    );
}

#[tokio::test]
async fn bad_send_arguments_are_refused_before_whop_is_called() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    let cases = [
        (
            json!({"channel_id": feed, "content": "  \n "}),
            "content is blank",
        ),
        (
            json!({"channel_id": feed, "content": "x".repeat(4001)}),
            "the limit is 4000",
        ),
        (
            json!({"channel_id": "", "content": "hi"}),
            "channel_id is empty",
        ),
        (
            json!({"channel_id": "feed/../../x", "content": "hi"}),
            "not a Whop id",
        ),
        (
            json!({"channel_id": feed, "content": "hi", "poll_options": ["only one"]}),
            "2 to 10 options",
        ),
        (
            json!({"channel_id": feed, "content": "hi", "attachment_ids": vec!["file_x"; 11]}),
            "at most 10 attachments",
        ),
    ];
    for (args, needle) in cases {
        let e = err(&call(&client, "send_message", args).await);
        assert!(e.contains(needle), "{needle}: {e}");
    }
    assert!(
        sb.requests_to("POST", "/messages").is_empty(),
        "nothing reached Whop"
    );
    // Wrong types are a clear tool error too.
    let e = err(&call(
        &client,
        "send_message",
        json!({"channel_id": 5, "content": "hi"}),
    )
    .await);
    assert!(
        e.contains("channel_id") || e.contains("invalid type"),
        "{e}"
    );
}

#[tokio::test]
async fn list_support_channels_shows_the_inbox() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[("WHOP_COMPANY_ID", &sb.company_id())])).await;
    let (text, s) = ok(&call(&client, "list_support_channels", json!({"open": true})).await);
    let chats = s["support_channels"].as_array().unwrap();
    assert_eq!(chats.len(), 3);
    assert!(chats.iter().all(|c| c["status"] == "open"));
    let marcus = chats
        .iter()
        .find(|c| c["customer"]["username"] == "marcusl")
        .unwrap();
    assert_eq!(marcus["needs_reply"], true);
    assert_eq!(marcus["id"], sb.support_channel_id("marcusl"));
    assert!(
        text.contains("@marcusl (Marcus Lee) · open, needs reply · last "),
        "{text}"
    );
    assert!(
        text.contains("\"Any update? I'd like a refund of the difference.\""),
        "{text}"
    );
    let r = sb.requests_to("GET", "/support_channels").pop().unwrap();
    assert_eq!(r.query_param("account_id"), Some(sb.company_id().as_str()));
    let (_, all) = ok(&call(&client, "list_support_channels", json!({})).await);
    assert_eq!(all["support_channels"].as_array().unwrap().len(), 4);
    let (_, resolved) = ok(&call(&client, "list_support_channels", json!({"open": false})).await);
    assert_eq!(resolved["support_channels"][0]["status"], "resolved");
    // The chat can be read and answered like any channel.
    let id = sb.support_channel_id("marcusl");
    let (msgs, _) = ok(&call(&client, "list_messages", json!({"channel_id": id})).await);
    assert!(msgs.contains("November invoice"), "{msgs}");
    ok(&send(&client, &id, "Refund issued, sorry about that!").await);
    assert_eq!(
        sb.messages_with_content(&id, "Refund issued, sorry about that!"),
        1
    );
}

#[tokio::test]
async fn upload_from_a_root_arrives_intact_reports_progress_and_attaches() {
    let sb = common::sandbox().await;
    let tmp = common::tempdir();
    let dir = tmp.path();
    let bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(31) % 256) as u8)
        .collect();
    std::fs::write(dir.join("chart.png"), &bytes).unwrap();
    let root = dir.to_str().unwrap();
    let client = connect(command(&sb, &[("WHOP_UPLOAD_ROOTS", root)])).await;
    let (text, s) = ok(&call(&client, "upload_file", json!({"path": "chart.png"})).await);
    let id = s["id"].as_str().unwrap();
    assert_eq!(
        sb.file_bytes(id).unwrap().as_ref(),
        bytes.as_slice(),
        "bytes arrive intact"
    );
    assert_eq!(s["status"], "ready");
    assert_eq!(s["size"], bytes.len());
    assert_eq!(s["content_type"], "image/png");
    assert_eq!(s["filename"], "chart.png");
    assert_eq!(s["visibility"], "public");
    assert!(s["url"].as_str().unwrap().contains(id));
    assert!(
        text.contains(&format!("attachment_ids: [\"{id}\"]")),
        "{text}"
    );
    let progress = client.service().progress.lock().unwrap().clone();
    let steps: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert!(
        steps.len() >= 3 && steps.first() == Some(&1.0) && steps.last() == Some(&3.0),
        "{steps:?}"
    );
    assert!(
        steps.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {steps:?}"
    );
    // Absolute paths inside the root work too, and the file can be attached.
    let abs = dir.join("chart.png");
    let (_, s2) = ok(&call(
        &client,
        "upload_file",
        json!({"path": abs, "visibility": "private"}),
    )
    .await);
    assert_eq!(s2["visibility"], "private");
    let feed = sb.channel_id("General");
    let (_, m) = ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": "Chart attached", "attachment_ids": [id]}),
    )
    .await);
    let body = sb.requests_to("POST", "/messages").pop().unwrap().json();
    assert_eq!(body["attachments"], json!([{"id": id}]));
    assert!(m["id"].as_str().unwrap().starts_with("msg_"));
}

#[tokio::test]
async fn upload_from_base64() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let (_, s) = ok(&call(
        &client,
        "upload_file",
        json!({"content_base64": "aGVsbG8gd2hvcCDwn5GL", "filename": "hello.txt"}),
    )
    .await);
    assert_eq!(
        sb.file_bytes(s["id"].as_str().unwrap()).unwrap().as_ref(),
        "hello whop 👋".as_bytes()
    );
    assert_eq!(s["content_type"], "text/plain");
    let e = err(&call(
        &client,
        "upload_file",
        json!({"content_base64": "aGVsbG8="}),
    )
    .await);
    assert!(e.contains("needs filename"), "{e}");
}

#[tokio::test]
async fn local_paths_need_an_upload_root_and_stay_inside_it() {
    let sb = common::sandbox().await;
    let tmp = common::tempdir();
    let dir = tmp.path();
    std::fs::write(dir.join("ok.txt"), "fine").unwrap();
    let none = connect(command(&sb, &[])).await;
    let e = err(&call(&none, "upload_file", json!({"path": dir.join("ok.txt")})).await);
    assert!(
        e.contains("--upload-root") && e.contains("WHOP_UPLOAD_ROOTS"),
        "{e}"
    );
    let client = connect(command(
        &sb,
        &[("WHOP_UPLOAD_ROOTS", dir.to_str().unwrap())],
    ))
    .await;
    for (path, needle) in [
        ("/etc/hostname", "outside the upload roots"),
        ("../x", "`..`"),
        ("missing.txt", "no file at"),
    ] {
        let e = err(&call(&client, "upload_file", json!({"path": path})).await);
        assert!(e.contains(needle), "{path}: {e}");
    }
    assert!(
        sb.requests_to("POST", "/files").is_empty(),
        "nothing refused reached Whop"
    );
}

#[tokio::test]
async fn error_classes_name_cause_and_next_step() {
    let sb = common::sandbox().await;
    let feed = sb.channel_id("General");
    // 401: the key is wrong; the key itself is never echoed.
    let wrong = "sk_wrong_5f2a9c1e77d04b18";
    let mut cmd = command(&sb, &[]);
    cmd.env("WHOP_API_KEY", wrong);
    let bad = connect(cmd).await;
    let e = err(&call(&bad, "list_messages", json!({"channel_id": feed})).await);
    assert!(
        e.contains("HTTP 401") && e.contains("WHOP_API_KEY") && !e.contains(wrong),
        "{e}"
    );

    // 403: names the missing permission.
    sb.add_account_key("sk_readonly_key_0001", &["chat:read"]);
    let mut cmd = command(&sb, &[]);
    cmd.env("WHOP_API_KEY", "sk_readonly_key_0001");
    let ro = connect(cmd).await;
    let e = err(&send(&ro, &feed, "hi").await);
    assert!(
        e.contains("HTTP 403") && e.contains("`chat:message:create`"),
        "{e}"
    );

    let client = connect(command(&sb, &[])).await;
    // 404: which id, and which tool lists valid ones.
    let e = err(&call(
        &client,
        "list_messages",
        json!({"channel_id": "feed_NoSuchChannel1"}),
    )
    .await);
    assert!(
        e.contains("`feed_NoSuchChannel1` was not found") && e.contains("list_channels"),
        "{e}"
    );
    // 400: Whop's own message.
    let e = err(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": "hi", "replying_to_message_id": "msg_elsewhere0001"}),
    )
    .await);
    assert!(
        e.contains("HTTP 400") && e.contains("msg_elsewhere0001 is not in this channel"),
        "{e}"
    );
    // 5xx after retries: unavailable, retry later.
    sb.add_fault(Fault::on(
        "GET",
        "/chat_channels/*",
        FaultAction::Status {
            status: 503,
            headers: vec![("retry-after-ms".into(), "20".into())],
            body: "upstream down".into(),
        },
    ));
    let e = err(&call(&client, "get_channel", json!({"channel_id": feed})).await);
    assert!(
        e.contains("HTTP 503") && e.contains("5 attempts") && e.contains("Retry after"),
        "{e}"
    );
    assert_eq!(
        sb.requests_to("GET", &format!("/chat_channels/{feed}"))
            .len(),
        5
    );
    sb.clear_faults();
    ok(&call(&client, "get_channel", json!({"channel_id": feed})).await);
    // Out-of-range limit: refused with the rule.
    let e = err(&call(
        &client,
        "list_messages",
        json!({"channel_id": feed, "limit": 500}),
    )
    .await);
    assert!(e.contains("between 1 and 100 (got 500)"), "{e}");
}

#[tokio::test]
async fn an_unreachable_whop_is_reported_not_crashed_on() {
    // A port that is bound but not listening refuses every connection. Holding it to the end
    // of the test keeps it from being handed to a server another test starts meanwhile, which
    // a port merely found free and let go could be.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let sb = common::sandbox().await;
    let mut cmd = command(&sb, &[]);
    cmd.env("WHOP_BASE_URL", format!("http://127.0.0.1:{port}/api/v1"));
    let client = connect(cmd).await;
    let e = err(&call(&client, "get_channel", json!({"channel_id": "feed_x"})).await);
    assert!(
        e.contains("Could not get an answer from Whop") && e.contains("WHOP_BASE_URL"),
        "{e}"
    );
    // The server still answers.
    assert!(!client.list_all_tools().await.unwrap().is_empty());
}

#[tokio::test]
async fn demo_mode_needs_no_key() {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.env_clear().arg("--demo");
    let client = connect(cmd).await;
    let (text, _) = ok(&call(&client, "list_channels", json!({})).await);
    assert!(text.contains("#General"), "{text}");
}
