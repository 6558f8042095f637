//! `search_messages` against the sandbox, whose Trading Signals channel holds more history
//! than one scan budget: what each answer says it scanned, and that following the cursor
//! covers the channel exactly once, even while new messages arrive.

use std::collections::HashSet;

use crate::common::{self, call, command, connect, err, ok};
use serde_json::{Value, json};

async fn search(client: &common::Client, args: Value) -> (String, Value) {
    ok(&call(client, "search_messages", args).await)
}

#[tokio::test]
async fn a_search_says_per_channel_how_far_it_looked() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let (text, s) = search(&client, json!({"query": "zeppelin"})).await;
    let general = sb.channel_id("General");
    let signals = sb.channel_id("Trading Signals");
    let line = |id: &str| text.lines().find(|l| l.contains(id)).unwrap().to_owned();
    let g = line(&general);
    assert!(
        g.starts_with(&format!(
            "#General {general}: no match in the last 26 messages (back to "
        )) && g.ends_with(", the start of the channel)"),
        "{g}"
    );
    let t = line(&signals);
    assert!(
        t.starts_with(&format!(
            "#Trading Signals {signals}: 1 match in the last 200 messages (back to "
        )) && t.ends_with("); more to scan"),
        "{t}"
    );
    assert!(
        text.contains("@marcusl") && text.contains("ZEPPELIN Airlines gapped up"),
        "{text}"
    );
    assert!(!text.contains("not found"), "{text}");
    let scans = s["channels"].as_array().unwrap();
    assert_eq!(scans.len(), 4);
    let sig = scans
        .iter()
        .find(|c| c["channel_id"] == signals.as_str())
        .unwrap();
    assert_eq!(
        (sig["scanned"].as_u64(), sig["complete"].as_bool()),
        (Some(200), Some(false))
    );
    assert!(sig["oldest_seen"].is_string());
    assert_eq!(s["matches"].as_array().unwrap().len(), 1);
    // The cursor goes on where the budget ran out, 200 messages a call: the older zeppelins.
    let cursor = s["next_cursor"].as_str().unwrap();
    let (text, s) = search(&client, json!({"query": "zeppelin", "cursor": cursor})).await;
    assert!(
        text.contains("(3 channels finished in earlier calls.)")
            && text.contains("1 match in the last 200 messages"),
        "{text}"
    );
    let cursor = s["next_cursor"].as_str().unwrap();
    let (text, s) = search(&client, json!({"query": "zeppelin", "cursor": cursor})).await;
    assert_eq!(s["matches"].as_array().unwrap().len(), 1, "{text}");
    assert!(s["next_cursor"].is_null(), "{text}");
    assert!(
        text.contains(", the start of the channel)")
            && text.ends_with(
                "Scan complete: every channel was read back to its start (or to since)."
            ),
        "{text}"
    );
}

#[tokio::test]
async fn following_the_cursor_reads_a_long_channel_exactly_once_while_messages_arrive() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let signals = sb.channel_id("Trading Signals");
    // What the channel holds, newest first, read with list_messages.
    let mut expected = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = json!({"channel_id": signals, "limit": 100});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let (_, s) = ok(&call(&client, "list_messages", args).await);
        for m in s["messages"].as_array().unwrap() {
            if m["content"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .contains("note")
            {
                expected.push(m["id"].as_str().unwrap().to_owned());
            }
        }
        match s["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let total = sb.message_count(&signals);
    assert!(expected.len() > 400, "{}", expected.len());

    let mut found: Vec<String> = Vec::new();
    let mut scanned = 0;
    let mut cursor: Option<String> = None;
    for call_no in 0.. {
        assert!(call_no < 100, "the scan does not end");
        let mut args = json!({"query": "NOTE", "channel_ids": [signals], "max_scanned": 150});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let (text, s) = search(&client, args).await;
        let scan = &s["channels"][0];
        let n = scan["scanned"].as_u64().unwrap() as usize;
        assert!(n <= 150, "{text}");
        scanned += n;
        let hits = s["matches"].as_array().unwrap();
        assert!(hits.len() <= 20, "{text}");
        assert_eq!(scan["matches"].as_u64().unwrap() as usize, hits.len());
        found.extend(
            hits.iter()
                .map(|h| h["message"]["id"].as_str().unwrap().to_owned()),
        );
        if call_no == 0 {
            // Newer messages must neither be found nor shift where the scan continues.
            sb.post_as("danaw", &signals, "note: new message after the scan began");
            sb.post_as("kenji", &signals, "another note");
        }
        match s["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert_eq!(scan["complete"], true, "{text}");
                break;
            }
        }
    }
    assert_eq!(
        found.iter().collect::<HashSet<_>>().len(),
        found.len(),
        "no message twice"
    );
    assert_eq!(found, expected, "every match, newest first, none skipped");
    assert_eq!(scanned, total, "every message read exactly once");
}

#[tokio::test]
async fn case_accents_since_and_budgets() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let signals = sb.channel_id("Trading Signals");
    let (text, s) = search(
        &client,
        json!({"query": "ENTRE nvda", "channel_ids": [signals], "max_scanned": 1000}),
    )
    .await;
    assert_eq!(
        s["matches"][0]["message"]["content"], "Entré en $NVDA a 420, stop en 405.",
        "{text}"
    );
    assert_eq!(s["channels"][0]["complete"], true);
    let (text, s) = search(
        &client,
        json!({"query": "zeppelin", "channel_ids": [signals], "max_scanned": 50}),
    )
    .await;
    assert!(
        text.contains(&format!(
            "{signals}: 1 match in the last 50 messages (back to "
        )),
        "{text}"
    );
    assert_eq!(s["channels"][0]["scanned"], 50);
    // since: the scan stops there and says so.
    let since = chrono::Utc::now() - chrono::Duration::hours(35);
    let (text, s) = search(
        &client,
        json!({"query": "zeppelin", "channel_ids": [signals], "since": since.to_rfc3339()}),
    )
    .await;
    assert_eq!(s["matches"], json!([]), "{text}");
    assert!(s["next_cursor"].is_null());
    assert!(
        text.contains(&format!(
            "{signals}: no match in the last 7 messages (back to "
        )) && text.contains(", since)"),
        "{text}"
    );
    // A DM is searched like any channel.
    let alpha = sb.dm_channel_id("Project Alpha");
    let (text, s) = search(&client, json!({"query": "resume", "channel_ids": [alpha]})).await;
    assert_eq!(s["matches"].as_array().unwrap().len(), 1, "{text}");
}

#[tokio::test]
async fn bad_arguments_and_foreign_cursors_are_refused() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let (_, s) = search(&client, json!({"query": "zeppelin"})).await;
    let cursor = s["next_cursor"].as_str().unwrap();
    let e = err(&call(
        &client,
        "search_messages",
        json!({"query": "other", "cursor": cursor}),
    )
    .await);
    assert!(e.contains("belongs to another search"), "{e}");
    let e = err(&call(
        &client,
        "search_messages",
        json!({"query": "x", "cursor": "abc"}),
    )
    .await);
    assert!(e.contains("not a search_messages cursor"), "{e}");
    let e = err(&call(&client, "search_messages", json!({"query": " "})).await);
    assert!(e.contains("blank"), "{e}");
    let e = err(&call(
        &client,
        "search_messages",
        json!({"query": "x", "max_scanned": 5000}),
    )
    .await);
    assert!(e.contains("between 1 and 1000"), "{e}");
    let e = err(&call(
        &client,
        "search_messages",
        json!({"query": "x", "since": "yesterday"}),
    )
    .await);
    assert!(e.contains("RFC 3339"), "{e}");
    // A channel that cannot be read is reported, the others are searched.
    let (text, s) = search(
        &client,
        json!({"query": "cpi", "channel_ids": ["feed_nope", sb.channel_id("General")]}),
    )
    .await;
    assert!(
        text.contains("feed_nope: not searched: Channel `feed_nope` was not found"),
        "{text}"
    );
    assert_eq!(s["matches"].as_array().unwrap().len(), 2, "{text}");
}
