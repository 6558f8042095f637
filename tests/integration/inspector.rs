//! The MCP Inspector's CLI (`@modelcontextprotocol/inspector@2.12.0`, on Node 22 from npm, see
//! [`common::node_tools`]) against the binary over stdio, in both protocol eras: `--strict`
//! finds nothing unportable in the tool schemas, calls validate against the output schemas
//! (the Inspector exits 1 on a mismatch), and a misspelt argument is a tool error (exit 5)
//! that sends nothing.

use std::process::Output;

use serde_json::{Value, json};
use whop_chat_mcp::sandbox::Sandbox;

use crate::common::{self, BIN};

const ERAS: [&str; 2] = ["legacy", "modern"];

/// Runs the Inspector CLI with `args` against the binary (every toolset), which talks to
/// `sandbox`.
async fn inspector(sandbox: &Sandbox, era: &str, args: &[&str]) -> Output {
    // It keeps a catalog in ~/.mcp-inspector: give it a home of its own.
    let home = common::tempdir();
    tokio::process::Command::new(common::node22())
        .arg(
            common::node_tools().join(
                "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
            ),
        )
        .args(["--cli", "--format", "json", "--protocol-era", era])
        .args(["-e", &format!("WHOP_BASE_URL={}", sandbox.base_url())])
        .args(["-e", &format!("WHOP_API_KEY={}", sandbox.api_key())])
        .args(["-e", "WHOP_TOOLSETS=all"])
        .args(args)
        .arg(BIN)
        .env("HOME", home.path())
        .output()
        .await
        .expect("node runs")
}

/// The JSON result the Inspector printed, after asserting it exited with `code`.
fn answer(out: &Output, code: i32, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{what}:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{what}: {e}: {stdout}"))
}

async fn call(sandbox: &Sandbox, era: &str, tool: &str, args: Value) -> Value {
    let args = args.to_string();
    let out = inspector(
        sandbox,
        era,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            tool,
            "--tool-args-json",
            &args,
        ],
    )
    .await;
    answer(&out, 0, &format!("{era} {tool} {args}"))["result"].clone()
}

#[tokio::test]
async fn strict_mode_finds_no_unportable_schema_in_either_era() {
    let sb = common::sandbox().await;
    for era in ERAS {
        let out = inspector(&sb, era, &["--strict", "--method", "tools/list"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let result = answer(&out, 0, era);
        for finding in ["Warning:", "Error:", "Schema portability"] {
            assert!(!stderr.contains(finding), "{era}: {stderr}");
        }
        assert!(result.get("schemaFindings").is_none(), "{era}: {result}");
        let tools = result["result"]["tools"].as_array().unwrap();
        assert_eq!(
            tools.len(),
            whop_chat_mcp::exposure::all_tool_names().len(),
            "{era}"
        );
        assert!(tools.iter().all(|t| t["title"].is_string()), "{era}");
    }
}

#[tokio::test]
async fn answers_match_their_output_schemas_in_either_era() {
    let sb = common::sandbox().await;
    let feed = sb.channel_id("Announcements");
    for era in ERAS {
        let last = call(
            &sb,
            era,
            "list_messages",
            json!({"channel_id": feed, "limit": 100}),
        )
        .await;
        let messages = last["structuredContent"]["messages"].as_array().unwrap();
        assert!(
            last["structuredContent"].get("next_cursor").is_none(),
            "{last}"
        );
        let poll = messages.iter().find(|m| m.get("poll").is_some()).unwrap();
        let vote = call(
            &sb,
            era,
            "add_reaction",
            json!({"message_id": poll["id"], "poll_option_id": "2"}),
        )
        .await;
        assert_eq!(vote["structuredContent"]["poll_option_id"], "2", "{vote}");
        let file = call(
            &sb,
            era,
            "upload_file",
            json!({"content_base64": "aGVsbG8=", "filename": "hi.txt", "visibility": "private"}),
        )
        .await;
        assert_eq!(file["structuredContent"]["visibility"], "private", "{file}");
        let waited = call(
            &sb,
            era,
            "wait_for_messages",
            json!({"channel_id": feed, "timeout_seconds": 0}),
        )
        .await;
        assert_eq!(waited["structuredContent"]["timed_out"], true, "{waited}");
        call(&sb, era, "whoami", json!({})).await;
    }
}

#[tokio::test]
async fn a_misspelt_argument_is_a_tool_error_and_nothing_is_sent() {
    let sb = common::sandbox().await;
    let feed = sb.channel_id("General");
    let target = sb.newest_message_id(&feed).unwrap();
    let before = sb.message_count(&feed);
    for era in ERAS {
        let args = json!({"channel_id": feed, "content": "hi", "reply_to": target}).to_string();
        let out = inspector(
            &sb,
            era,
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "send_message",
                "--tool-args-json",
                &args,
            ],
        )
        .await;
        let result = answer(&out, 5, era)["result"].clone();
        assert_eq!(result["isError"], true, "{result}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("send_message has no argument `reply_to`; nothing was done.")
                && text.contains("replying_to_message_id"),
            "{text}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("tool_is_error"),
            "{era}"
        );
    }
    assert_eq!(sb.message_count(&feed), before, "nothing was posted");
}
