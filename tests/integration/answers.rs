//! What tools say back in text: a message's poll, everything a post carries, and waits whose
//! rows and hint lines start where they should.

use serde_json::json;

use crate::common::{self, Room, call, ok};

#[tokio::test]
async fn get_message_shows_the_poll_with_its_option_ids() {
    // The sandbox must outlive the calls: bind it, or it is dropped here.
    let Room {
        sb: _sb,
        client,
        feed,
        ..
    } = common::room("Announcements").await;
    let (_, page) = ok(&call(
        &client,
        "list_messages",
        json!({"channel_id": feed, "limit": 100}),
    )
    .await);
    let poll = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m.get("poll").is_some())
        .expect("the demo has a poll");
    let id = poll["id"].as_str().unwrap();
    let (text, _) = ok(&call(&client, "get_message", json!({"message_id": id})).await);
    assert!(
        text.ends_with(
            "\n  poll: 1) Tuesday 18:00 UTC (2) 2) Thursday 18:00 UTC (3) 3) Saturday 10:00 UTC (1)"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn send_message_confirms_the_reply_target_attachments_and_poll_options() {
    let Room {
        sb: _sb,
        client,
        feed,
        newest: target,
    } = common::room("General").await;
    let (_, file) = ok(&call(
        &client,
        "upload_file",
        json!({"content_base64": "aGVsbG8=", "filename": "notes.txt"}),
    )
    .await);
    let file_id = file["id"].as_str().unwrap();
    let (text, s) = ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": "Which day?", "replying_to_message_id": target,
               "attachment_ids": [file_id], "poll_options": ["Monday", "Friday"]}),
    )
    .await);
    let id = s["id"].as_str().unwrap();
    let (date, time) = {
        let at = s["created_at"].as_str().unwrap();
        (at[..10].to_owned(), at[11..16].to_owned())
    };
    assert_eq!(
        text,
        format!(
            "Posted {id} in {feed} at {date} {time} UTC, replying to {target}, with 1 attachment ({file_id}). \
             Poll options (vote with add_reaction poll_option_id): 1) Monday, 2) Friday."
        )
    );
    let (plain, _) = ok(&common::send(&client, &feed, "Just text").await);
    assert!(
        plain.ends_with(" UTC.") && !plain.contains("replying") && !plain.contains("Poll"),
        "{plain}"
    );
}

#[tokio::test]
async fn wait_for_messages_puts_its_hint_on_a_line_of_its_own() {
    let Room {
        sb,
        client,
        feed,
        newest: before,
    } = common::room("General").await;
    let posted = sb.post_as("chloe", &feed, "Anyone here?");
    let (text, _) = ok(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "after": before, "timeout_seconds": 5}),
    )
    .await);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("1 new message in "), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&posted) && l.contains(" @chloe ")),
        "{text}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &format!("Wait again with after=\"{posted}\".")
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with(' ') || l.starts_with("  ")),
        "no stray leading space: {text:?}"
    );
    let (text, _) = ok(&call(
        &client,
        "wait_for_messages",
        json!({"channel_id": feed, "after": posted, "timeout_seconds": 0}),
    )
    .await);
    assert_eq!(
        text,
        format!("No new messages in {feed} within 0 s. Wait again with after=\"{posted}\".")
    );
}
