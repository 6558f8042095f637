//! Write gates: read-only mode, the send allowlist, mass mentions, and tool selection.

use crate::common::{self, call, command, connect, err, ok, send};
use serde_json::json;

async fn tool_names(client: &common::Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect()
}

#[tokio::test]
async fn read_only_registers_no_write_tool() {
    let sb = common::sandbox().await;
    for env in [("WHOP_READ_ONLY", "1"), ("WHOP_READ_ONLY", "true")] {
        let client = connect(command(&sb, &[env])).await;
        let names = tool_names(&client).await;
        assert!(
            !names
                .iter()
                .any(|n| n == "send_message" || n == "upload_file"),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n == "list_messages"), "{names:?}");
        let refused = client
            .call_tool(
                rmcp::model::CallToolRequestParams::new("send_message").with_arguments(
                    json!({"channel_id": sb.channel_id("General"), "content": "hi"})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await;
        assert!(refused.is_err(), "an unregistered tool cannot be called");
        ok(&call(&client, "list_channels", json!({})).await);
    }
    let mut cmd = command(&sb, &[]);
    cmd.arg("--read-only");
    let client = connect(cmd).await;
    assert!(
        !tool_names(&client)
            .await
            .iter()
            .any(|n| n == "send_message")
    );
    assert!(sb.requests_to("POST", "/messages").is_empty());
}

#[tokio::test]
async fn the_send_allowlist_accepts_either_id_of_a_listed_channel_and_refuses_the_rest() {
    let sb = common::sandbox().await;
    let general = sb.channel_id("General");
    let general_exp = sb.experience_id("General");
    let support = sb.support_channel_id("marcusl");
    let allow = format!("{general_exp},{support}");
    let client = connect(command(&sb, &[("WHOP_SEND_CHANNELS", &allow)])).await;
    // Listed by experience id, posted by channel id and by experience id.
    ok(&send(&client, &general, "one").await);
    ok(&send(&client, &general_exp, "two").await);
    ok(&send(&client, &support, "three").await);
    assert_eq!(sb.requests_to("POST", "/messages").len(), 3);
    // Everything else is refused, naming the setting, and nothing is sent.
    for other in [
        sb.channel_id("Café International"),
        sb.experience_id("Trading Signals"),
        sb.support_channel_id("lucia"),
    ] {
        let e = err(&send(&client, &other, "nope").await);
        assert!(
            e.contains("WHOP_SEND_CHANNELS") && e.contains("Nothing was sent"),
            "{e}"
        );
    }
    assert_eq!(sb.requests_to("POST", "/messages").len(), 3);
    // Lookups are remembered: one per distinct id not listed verbatim.
    ok(&send(&client, &general, "four").await);
    assert_eq!(
        sb.requests_to("GET", &format!("/chat_channels/{general}"))
            .len(),
        1
    );
}

#[tokio::test]
async fn mass_mentions_need_explicit_permission() {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, &[])).await;
    let feed = sb.channel_id("General");
    for content in [
        "@everyone the live session starts now",
        "Heads up @here!",
        "@EVERYONE caps",
    ] {
        let e = err(&send(&client, &feed, content).await);
        assert!(
            e.contains("allow_mass_mention: true") && e.contains("Nothing was sent"),
            "{e}"
        );
    }
    assert!(sb.requests_to("POST", "/messages").is_empty());
    let (_, m) = ok(&call(
        &client,
        "send_message",
        json!({"channel_id": feed, "content": "@everyone live now", "allow_mass_mention": true}),
    )
    .await);
    assert_eq!(m["flags"], json!(["@everyone"]));
    // An ordinary mention is not a mass mention.
    ok(&send(&client, &feed, "thanks @chloe").await);
    assert_eq!(sb.requests_to("POST", "/messages").len(), 2);
}

#[tokio::test]
async fn tool_selection_exposes_only_the_named_tools() {
    let sb = common::sandbox().await;
    let client = connect(command(
        &sb,
        &[("WHOP_TOOLS", "list_messages,send_message")],
    ))
    .await;
    let mut names = tool_names(&client).await;
    names.sort();
    assert_eq!(names, ["list_messages", "send_message"]);
    // Read-only still applies to a selection.
    let client = connect(command(
        &sb,
        &[
            ("WHOP_TOOLS", "list_messages,send_message"),
            ("WHOP_READ_ONLY", "1"),
        ],
    ))
    .await;
    assert_eq!(tool_names(&client).await, ["list_messages"]);
}

#[test]
fn an_unknown_tool_name_fails_at_start_up_with_the_valid_names() {
    let stderr = common::refused_at_start(common::bare().args([
        "--demo",
        "--tools",
        "list_messages,post_everywhere",
    ]));
    assert!(
        stderr.contains("unknown tool \"post_everywhere\"")
            && stderr.contains("list_channels, list_dm_channels, list_messages"),
        "{stderr}"
    );
}
