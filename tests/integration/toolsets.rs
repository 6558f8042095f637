//! One exposure decision shapes everything the server offers: tools, prompts, resources and
//! the instructions, through the built binary; and an exposure that leaves nothing is refused.

use crate::common::{self, command, connect};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::json;

/// What a server started with `env` offers.
struct Offer {
    tools: Vec<String>,
    prompts: Vec<String>,
    resources: usize,
    templates: usize,
    instructions: String,
    client: common::Client,
    sb: whop_chat_mcp::sandbox::Sandbox,
}

async fn offer(env: &[(&str, &str)]) -> Offer {
    let sb = common::sandbox().await;
    let client = connect(command(&sb, env)).await;
    let tools = common::tool_names(&client).await;
    let prompts = client.list_all_prompts().await.unwrap();
    let prompts = prompts.iter().map(|p| p.name.to_string()).collect();
    let resources = client.list_all_resources().await.unwrap().len();
    let templates = client.list_all_resource_templates().await.unwrap().len();
    let instructions = client
        .peer_info()
        .and_then(|i| i.instructions.clone())
        .unwrap_or_default();
    Offer {
        tools,
        prompts,
        resources,
        templates,
        instructions,
        client,
        sb,
    }
}

#[tokio::test]
async fn the_default_toolsets_are_chat_support_and_files() {
    let Offer {
        tools,
        prompts,
        resources,
        templates,
        instructions,
        ..
    } = offer(&[("WHOP_TOOLSETS", "")]).await;
    for present in ["send_message", "upload_file", "list_support_channels"] {
        assert!(tools.contains(&present.to_owned()), "{present}");
    }
    assert_eq!(tools.len(), 14, "today's tools, nothing lost: {tools:?}");
    for absent in ["search_messages", "list_dm_channels", "find_users"] {
        assert!(!tools.contains(&absent.to_owned()), "{absent}");
    }
    assert_eq!(
        prompts,
        ["summarize_channel", "triage_support_inbox", "draft_reply"]
    );
    assert_eq!((resources, templates), (1, 1));
    assert!(
        instructions.contains("upload_file")
            && instructions.contains("list_support_channels")
            && !instructions.contains("list_dm_channels"),
        "{instructions}"
    );
}

#[tokio::test]
async fn read_only_prompts_and_instructions_never_ask_to_post() {
    let Offer {
        tools,
        prompts,
        instructions,
        client,
        ..
    } = offer(&[("WHOP_READ_ONLY", "1")]).await;
    assert!(!tools.contains(&"send_message".into()));
    assert!(prompts.contains(&"draft_reply".into()));
    assert!(
        !instructions.contains("send_message") && instructions.contains("only reads"),
        "{instructions}"
    );
    let args = json!({"channel_id": "feed_a", "message_id": "msg_b"});
    let prompt = client
        .get_prompt(
            GetPromptRequestParams::new("draft_reply")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let text = serde_json::to_string(&prompt).unwrap();
    assert!(
        !text.contains("send_message") && text.contains("this server cannot post"),
        "{text}"
    );
}

#[tokio::test]
async fn tools_limit_resources_and_prompts_to_what_they_could_read() {
    let Offer {
        tools,
        prompts,
        resources,
        templates,
        instructions,
        client,
        sb,
    } = offer(&[("WHOP_TOOLSETS", ""), ("WHOP_TOOLS", "list_channels")]).await;
    assert_eq!(tools, ["list_channels"]);
    assert!(prompts.is_empty(), "{prompts:?}");
    assert_eq!((resources, templates), (1, 0));
    assert!(
        instructions.contains("list_channels") && !instructions.contains("list_messages"),
        "{instructions}"
    );
    for channel in [sb.channel_id("General"), sb.support_channel_id("marcusl")] {
        let e = client
            .read_resource(ReadResourceRequestParams::new(format!(
                "whop://channels/{channel}/messages"
            )))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("unknown resource"), "{e}");
    }
    assert!(sb.requests_to("GET", "/messages").is_empty());
    let read = client
        .read_resource(ReadResourceRequestParams::new("whop://channels"))
        .await
        .unwrap();
    assert!(serde_json::to_string(&read).unwrap().contains("#General"));
}

#[test]
fn an_exposure_that_leaves_nothing_is_refused_with_the_reason() {
    let stderr = common::refused_at_start(common::bare().args([
        "--demo",
        "--read-only",
        "--tools",
        "send_message",
    ]));
    assert!(
        stderr.contains("no tool would be exposed")
            && stderr
                .contains("send_message changes Whop, and WHOP_READ_ONLY/--read-only removes it"),
        "{stderr}"
    );
    let stderr = common::refused_at_start(common::bare().args([
        "--demo",
        "--toolsets",
        "chat",
        "--tools",
        "search_messages",
    ]));
    assert!(
        stderr.contains("search_messages is in the toolset search"),
        "{stderr}"
    );
    let stderr = common::refused_at_start(
        common::bare()
            .args(["--demo"])
            .env("WHOP_TOOLSETS", "chat,gossip"),
    );
    assert!(
        stderr.contains("unknown toolset \"gossip\"") && stderr.contains("moderation, search, all"),
        "{stderr}"
    );
}
