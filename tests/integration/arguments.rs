//! Unknown arguments are refused on every tool, before anything reaches Whop: a misspelt
//! `reply_to` must not post a top-level message.

use serde_json::{Map, Value, json};

use crate::common::{self, Room, call, err, ok};

/// Required arguments for each tool, so that the unknown one is the only thing wrong.
fn required_args(tool: &str, feed: &str, message: &str) -> Value {
    match tool {
        "send_message" => json!({"channel_id": feed, "content": "hi"}),
        "list_messages" | "wait_for_messages" | "get_channel" => json!({"channel_id": feed}),
        "get_message" | "delete_message" | "edit_message" | "add_reaction" | "list_reactions" => {
            json!({"message_id": message})
        }
        "remove_reaction" => json!({"message_id": message, "emoji": ":fire:"}),
        "open_support_channel" => json!({"user": "marcusl"}),
        "open_dm_channel" => json!({"users": ["marcusl"]}),
        "find_users" | "search_messages" => json!({"query": "hi"}),
        "update_channel_settings" => json!({"channel_id": feed, "ban_urls": true}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn every_tool_refuses_an_unknown_argument_and_sends_nothing() {
    let Room {
        sb,
        client,
        feed,
        newest: message,
    } = common::room("General").await;
    let before = sb.message_count(&feed);
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), whop_chat_mcp::exposure::all_tool_names().len());
    sb.clear_requests();
    for tool in &tools {
        let name = tool.name.as_ref();
        let mut args = required_args(name, &feed, &message);
        args["bogus_flag"] = json!(true);
        let text = err(&call(&client, name, args).await);
        assert!(
            text.starts_with(&format!(
                "{name} has no argument `bogus_flag`; nothing was done."
            )),
            "{name}: {text}"
        );
        let valid: Map<String, Value> = tool
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for p in valid.keys() {
            assert!(text.contains(p.as_str()), "{name}: {p} not listed: {text}");
        }
        if valid.is_empty() {
            assert!(text.contains("takes no arguments"), "{text}");
        }
    }
    assert_eq!(sb.requests().len(), 0, "nothing reached Whop");
    assert_eq!(sb.message_count(&feed), before);
}

#[tokio::test]
async fn a_misspelt_reply_target_is_refused_with_the_right_name() {
    let Room {
        sb,
        client,
        feed,
        newest: target,
    } = common::room("General").await;
    let before = sb.message_count(&feed);
    let text = err(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": "Agreed!", "reply_to": target}),
    )
    .await);
    assert_eq!(
        text,
        "send_message has no argument `reply_to`; nothing was done. Did you mean replying_to_message_id? \
         Valid arguments: channel_id (required), content (required), allow_mass_mention, attachment_ids, \
         auto_detect_links, poll_options, replying_to_message_id. Call it again with those."
    );
    assert_eq!(sb.message_count(&feed), before, "nothing was posted");
    // The same call with the right name is a reply.
    let (_, s) = ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": "Agreed!", "replying_to_message_id": target}),
    )
    .await);
    assert_eq!(s["replying_to_message_id"], target);
    assert_eq!(sb.message_count(&feed), before + 1);
}
